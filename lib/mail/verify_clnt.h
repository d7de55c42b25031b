/*
 * verify_clnt.h - client of the address verification service (verify(8))
 *
 * Used by: smtpd (reject_unverified_recipient / _sender), the delivery
 *          agents through deliver_request.c (probe results), qmgr (probes it
 *          defers itself), the verify daemon (shared names).
 * Interface: verify_clnt_query(), verify_clnt_update(); the status values
 *            VERIFY_ADDR_*; the wire names VERIFY_PROTO, VERIFY_REQ_*.
 * Errors: both calls return VERIFY_CLNT_OK or VERIFY_CLNT_FAIL (the service
 *         could not be reached or answered badly; logged as a warning).
 * Notes: protocol in docs/ipc.md "verify". One connection per call: callers
 *        ask at most a few times per SMTP command or per delivery, and the
 *        service name is $address_verify_service_name in private/.
 */
#ifndef POSTERN_VERIFY_CLNT_H
#define POSTERN_VERIFY_CLNT_H
#include "sys_compat.h"
#include "sbuf.h"

#define VERIFY_PROTO "verify_v1"
#define VERIFY_REQ_QUERY "query"
#define VERIFY_REQ_UPDATE "update"

/* What is known about an address (the addr_status attribute). */
#define VERIFY_ADDR_OK 0        /* deliverable */
#define VERIFY_ADDR_DEFER 1     /* the last probe failed temporarily */
#define VERIFY_ADDR_BOUNCE 2    /* undeliverable */
#define VERIFY_ADDR_TODO 3      /* a probe is on its way; nothing known yet */

/* The status attribute of a reply. */
#define VERIFY_STAT_OK 0
#define VERIFY_STAT_BAD 1       /* malformed request */
#define VERIFY_STAT_FAIL 2      /* the service could not do it */

#define VERIFY_CLNT_OK 0
#define VERIFY_CLNT_FAIL -1

/* The longest address and reason text the service accepts. */
#define VERIFY_ADDR_MAX 1024
#define VERIFY_TEXT_MAX 2000

/* Asks what is known about addr (a probe is sent when needed). Fills
 * *status with a VERIFY_ADDR_* value and why with the reason text.
 * Returns VERIFY_CLNT_OK, or VERIFY_CLNT_FAIL (logged). */
int verify_clnt_query(const char *addr, int *status, struct sbuf *why);

/* Records the result of a probe for addr (status VERIFY_ADDR_OK, _DEFER or
 * _BOUNCE, why the agent's reason). Returns VERIFY_CLNT_OK, or
 * VERIFY_CLNT_FAIL (logged). */
int verify_clnt_update(const char *addr, int status, const char *why);

#endif
