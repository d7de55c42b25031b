/*
 * milter.h - a list of milters (smtpd_milters, non_smtpd_milters) and the
 *            per-stage driver: connect, HELO, MAIL, RCPT, DATA, unknown
 *            command, and the message (headers, body, end of message with
 *            the milters' edits applied)
 *
 * Used by: smtpd (smtpd_milter.c), pickup (pickup_milter.c).
 * Interface: milters_new(), milters_free(), milters_set_macros(),
 *            milters_connect(), milters_helo(), milters_mail(),
 *            milters_rcpt(), milters_data(), milters_unknown(),
 *            milters_message(), milters_abort(), milters_disconnect(),
 *            milters_hold(), milters_reset(). milter_header_checks is applied
 *            to milter-added headers inside milters_message().
 * Errors: a bad milter list or setting is fatal at start (milters_new);
 *         a milter that cannot be reached, times out or breaks the
 *         protocol is logged and its default_action applies from then on
 *         for the session: accept (ignored), reject ("550 5.7.1 Command
 *         rejected"), tempfail ("451 4.7.1 Service unavailable - try again
 *         later"), quarantine (the message goes to the hold queue).
 * Notes: stage functions return NULL (go on), "D" (discard the message:
 *        accept it and throw it away), or an SMTP reply, possibly several
 *        lines separated by '\n' ("550 5.7.1 ...", "451 ...", "421 ..."),
 *        borrowed until the next call. See docs/milter.md for how the
 *        message stage reads the spooled cleanup records and replays them
 *        to cleanup with the edits.
 */
#ifndef POSTERN_MILTER_H
#define POSTERN_MILTER_H
#include "sys_compat.h"
#include "sbuf.h"

struct milters;
struct cleanup_clnt;

/* Looks up a macro value for the current stage ("i", "{auth_authen}");
 * NULL when it has none. j, v and {daemon_name} are answered by the
 * milter module itself when this returns NULL. */
typedef const char *(*milter_macro_fn)(void *ctx, const char *name);

/* Builds the list from a smtpd_milters / non_smtpd_milters value and the
 * milter_* parameters. NULL when the value is empty. A bad entry is
 * fatal (log_fatal). Nothing is connected yet. */
struct milters *milters_new(const char *param, const char *value);
void milters_free(struct milters *ms);
void milters_set_macros(struct milters *ms, milter_macro_fn fn, void *ctx);

/* Session start: connects every milter, negotiates, sends the connect
 * event (client name, address, port; addr NULL or not an IP address:
 * unknown family). */
const char *milters_connect(struct milters *ms, const char *name, const char *addr, int port);
const char *milters_helo(struct milters *ms, const char *helo);
/* sender/rcpt in internal form; args the ESMTP parameters (may be NULL). */
const char *milters_mail(struct milters *ms, const char *sender, const char *args);
const char *milters_rcpt(struct milters *ms, const char *rcpt, const char *args);
const char *milters_data(struct milters *ms);
const char *milters_unknown(struct milters *ms, const char *command);

/* The message: spool_fd holds the cleanup records spooled since
 * cleanup_spool_begin() (envelope, content, extracted segment); they are
 * sent to the milters (headers, body, end of message), the edits are
 * applied (headers, body, sender, recipients, quarantine) and the result
 * is written to c. size_limit (0: none) bounds a replaced body. On a
 * reject/tempfail nothing is written to c; on discard the message is
 * written with the discard flag. spool_fd stays open (the caller's). */
const char *milters_message(struct milters *ms, int spool_fd, struct cleanup_clnt *c,
                            long size_limit);
/* The transaction ends without a message (RSET, reject, lost client). */
void milters_abort(struct milters *ms);
/* Session end: QUIT and close. */
void milters_disconnect(struct milters *ms);
/* Quarantine asked for in this transaction (by a milter or by a default
 * action); reason (borrowed) for the log. */
bool milters_hold(const struct milters *ms, const char **reason);
/* Forgets the transaction's hold/discard state (after the message). */
void milters_reset(struct milters *ms);

#endif
