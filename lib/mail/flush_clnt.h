/*
 * flush_clnt.h - client of the fast flush service (ETRN, postqueue -s)
 *
 * Used by: qmgr (add), postqueue (-s, -i), smtpd (ETRN).
 * Interface: flush_add(), flush_send_site(), flush_send_file(),
 *            flush_refresh(), flush_purge().
 * Errors: return FLUSH_STAT_* codes; FLUSH_STAT_FAIL when the service cannot
 *         be reached (logged once by mail_connect()).
 * Notes: see docs/ipc.md "flush". Only domains in $fast_flush_domains have a
 *        per-site log; other sites answer FLUSH_STAT_DENY.
 */
#ifndef POSTERN_FLUSH_CLNT_H
#define POSTERN_FLUSH_CLNT_H
#include "sys_compat.h"

#define FLUSH_STAT_OK 0
#define FLUSH_STAT_FAIL 1       /* service unavailable or I/O error */
#define FLUSH_STAT_DENY 2       /* site is not eligible for fast flush */
#define FLUSH_STAT_BAD 3        /* malformed request */

int flush_add(const char *site, const char *queue_id);
int flush_send_site(const char *site);
int flush_send_file(const char *queue_id);
int flush_refresh(void);
int flush_purge(void);

#endif
