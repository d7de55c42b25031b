/*
 * cleanup_clnt.h - client side of the cleanup protocol (message injection)
 *
 * Used by: smtpd, pickup, bounce, local (forwarding), sendmail -bs paths.
 * Interface: cleanup_input_flags(), cleanup_dkim_flags(), cleanup_keep_connections(),
 *            cleanup_release(), cleanup_kept_due(), cleanup_kept_idle(),
 *            cleanup_open(), cleanup_open_async(),
 *            cleanup_greeting(), cleanup_queue_id(), cleanup_rec(), cleanup_recf(),
 *            cleanup_line(), cleanup_finish(), cleanup_abort(),
 *            cleanup_spool_begin(), cleanup_spool_end(), cleanup_spooling().
 * Errors: cleanup_open() returns NULL after logging; record writes are
 *         buffered and their errors surface in cleanup_finish().
 * Notes: records are queue-file records (qfile.h) sent over the socket; see
 *        docs/ipc.md. A message is safely queued only when cleanup_finish()
 *        returns CLEANUP_STAT_OK.
 */
#ifndef POSTERN_CLEANUP_CLNT_H
#define POSTERN_CLEANUP_CLNT_H
#include "sys_compat.h"
#include "cleanup_proto.h"
#include "sbuf.h"

struct cleanup_clnt;

/* flags without the CLEANUP_FLAG_* bits that this process's
 * receive_override_options turn off (no_address_mappings: MAP_OK and
 * BCC_OK; no_header_body_checks: HEADER_CHECKS). An unknown value is
 * logged. Clients (smtpd, pickup) pass their flags through it, so that a
 * master.cf -o for one service applies to the mail it receives. */
int cleanup_input_flags(int flags);
/* CLEANUP_FLAG_DKIM when postern_dkim_enable is set and
 * postern_dkim_sign_clients allows mail from a client in mynetworks, a
 * SASL-authenticated client or a local submission (as given); else 0. */
int cleanup_dkim_flags(bool mynetworks, bool sasl, bool local);

/* receive_override_has - is NAME (e.g. "no_milters") among this service's
 * receive_override_options? (Read on every call; services call it once.) */
bool receive_override_has(const char *name);
/* Keeping the connection (docs/ipc.md "cleanup"): from on = true, this
 * process asks cleanup to keep each connection for its next message, and
 * the next cleanup_open*() takes a kept one (if kept less than
 * CLEANUP_KEEP_CLIENT_IDLE seconds ago) before it connects. Should cleanup
 * have closed it meanwhile, the message is sent again on a new connection
 * before its greeting is read: nothing is lost and the caller sees nothing
 * (up to CLEANUP_RESEND_MAX bytes sent before the greeting; beyond, the
 * message fails as on a broken connection). smtpd and pickup use it. */
void cleanup_keep_connections(bool on);
#define CLEANUP_RESEND_MAX 65536
/* Closes the kept connection, if any. */
void cleanup_release(void);
/* Seconds until the kept connection is too old to use (0: now), or -1
 * when none is kept; and the call that closes it then (a SINGLE server's
 * idle_due and idle: server.h). */
double cleanup_kept_due(void);
void cleanup_kept_idle(void);
/* Connects to cleanup, sends flags and reads its greeting (the queue ID).
 * Returns new, or NULL (logged). */
struct cleanup_clnt *cleanup_open(int flags);
/* The same without reading the greeting: records may be sent at once, and
 * cleanup_greeting() reads it when the queue ID is wanted (smtpd: when the
 * client's content arrives, so that it does not wait for cleanup to create
 * the queue file). cleanup_finish() reads it at the latest. A failure there
 * fails the message like a broken connection. Returns new, or NULL. */
struct cleanup_clnt *cleanup_open_async(int flags);
/* Reads the greeting if not done yet. 0, or -1 (logged; c failed). */
int cleanup_greeting(struct cleanup_clnt *c);
/* The queue ID cleanup assigned (borrowed; "" before cleanup_greeting()). */
const char *cleanup_queue_id(const struct cleanup_clnt *c);
int cleanup_rec(struct cleanup_clnt *c, int type, const void *data, size_t len);
int cleanup_recs(struct cleanup_clnt *c, int type, const char *str);
int cleanup_recf(struct cleanup_clnt *c, int type, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Sends one content line (no LF), split into L/N records as needed. */
int cleanup_line(struct cleanup_clnt *c, const char *line, size_t len);
/* Sends X and E (unless already sent), waits for the verdict, closes.
 * Returns the CLEANUP_STAT_* bits; reason (if not NULL) gets cleanup's text
 * (on a broken connection: "4.3.0 queue file write error"). Frees c. */
int cleanup_finish(struct cleanup_clnt *c, struct sbuf *reason);
/* Milters (docs/milter.md): from cleanup_spool_begin() on, records are
 * kept in an anonymous memory file instead of being sent; cleanup_spool_end()
 * stops that and returns the file (the caller closes it; -1 on error), so
 * that the milter code can send the edited records with cleanup_rec(). */
int cleanup_spool_begin(struct cleanup_clnt *c);
int cleanup_spool_end(struct cleanup_clnt *c);
bool cleanup_spooling(const struct cleanup_clnt *c);
/* Drops the message (cleanup removes the file). Frees c. */
void cleanup_abort(struct cleanup_clnt *c);

#endif
