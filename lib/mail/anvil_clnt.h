/*
 * anvil_clnt.h - client of the anvil connection and rate counting service
 *
 * Used by: smtpd (client connection count and rate limits, message,
 *          recipient, new TLS session and AUTH rate limits).
 * Interface: anvil_clnt_new(), anvil_clnt_free(), anvil_clnt_connect(),
 *            anvil_clnt_disconnect(), anvil_clnt_message(),
 *            anvil_clnt_recipient(), anvil_clnt_newtls(), anvil_clnt_auth(),
 *            anvil_clnt_lookup().
 * Errors: every call returns ANVIL_STAT_OK or ANVIL_STAT_FAIL. A failure
 *         is logged once per outage; callers then simply do not enforce the
 *         limit (a missing anvil never blocks mail).
 * Notes: the protocol is in docs/ipc.md "anvil": the server greets with
 *        proto=anvil_v1, each request is "request=NAME ident=SERVICE:ADDR"
 *        and each reply carries status plus the counter values. The client
 *        keeps one connection; anvil forgets the concurrent connections of
 *        a client whose connection closes.
 */
#ifndef POSTERN_ANVIL_CLNT_H
#define POSTERN_ANVIL_CLNT_H
#include "sys_compat.h"

#define ANVIL_PROTO "anvil_v1"
#define ANVIL_STAT_OK 0
#define ANVIL_STAT_FAIL -1

/* Request names on the wire. */
#define ANVIL_REQ_CONNECT "connect"
#define ANVIL_REQ_DISCONNECT "disconnect"
#define ANVIL_REQ_MESSAGE "message"
#define ANVIL_REQ_RECIPIENT "recipient"
#define ANVIL_REQ_NEWTLS "newtls"
#define ANVIL_REQ_NEWTLS_REPORT "newtls_report"
#define ANVIL_REQ_AUTH "auth"
#define ANVIL_REQ_LOOKUP "lookup"

/* Counter values reported by a lookup. */
struct anvil_counts {
    long count;         /* concurrent connections */
    long rate;          /* connections in the current time unit */
    long message;       /* MAIL FROM requests */
    long recipient;     /* RCPT TO requests */
    long newtls;        /* new TLS sessions */
    long auth;          /* AUTH requests */
};

struct anvil_clnt;

/* Returns a new client (not connected yet; it connects on first use to
 * private/anvil relative to the current directory, $queue_directory). */
struct anvil_clnt *anvil_clnt_new(void);
/* Closes the connection (anvil then drops its connection counts). */
void anvil_clnt_free(struct anvil_clnt *a);
/* Registers a new connection from service/addr; fills the concurrent
 * count (including this one) and the connection rate. */
int anvil_clnt_connect(struct anvil_clnt *a, const char *service, const char *addr, long *count,
                       long *rate);
/* Unregisters one connection from service/addr. */
int anvil_clnt_disconnect(struct anvil_clnt *a, const char *service, const char *addr);
/* Counts one event and fills its rate in the current time unit. */
int anvil_clnt_message(struct anvil_clnt *a, const char *service, const char *addr, long *rate);
int anvil_clnt_recipient(struct anvil_clnt *a, const char *service, const char *addr, long *rate);
int anvil_clnt_newtls(struct anvil_clnt *a, const char *service, const char *addr, long *rate);
int anvil_clnt_auth(struct anvil_clnt *a, const char *service, const char *addr, long *rate);
/* Reads the current rate of new TLS sessions without counting one. */
int anvil_clnt_newtls_report(struct anvil_clnt *a, const char *service, const char *addr,
                             long *rate);
/* Fills every counter of service/addr without changing any. */
int anvil_clnt_lookup(struct anvil_clnt *a, const char *service, const char *addr,
                      struct anvil_counts *out);

#endif
