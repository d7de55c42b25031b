/*
 * delivery_log.h - the one delivery log line every program writes
 *
 * Used by: delivery agents (through deliver_request), qmgr (deferrals it
 *          decides itself), cleanup (recipients it bounces at once).
 * Interface: delivery_log(), delivery_log_format_delay(),
 *            delivery_log_format_tv().
 * Errors: none; impossible time stamps (a clock that went back) count as 0.
 * Notes: the shape is Postfix's, which log tools parse:
 *          ID: to=<a>, [orig_to=<o>, ]relay=R, delay=D, delays=a/b/c/d,
 *          dsn=X.Y.Z, status=S (reason)
 *        delay is arrival to now; a = arrival to qmgr (or to now when qmgr
 *        never saw the message), b = in qmgr (to now when no agent got it),
 *        c = connection set-up, d = transmission. Times are written as
 *        Postfix's format_tv() writes them: whole seconds from 10 s up,
 *        otherwise at most two significant digits and at most
 *        $delay_logging_resolution_limit decimals, trailing zeros dropped
 *        (120 -> "120", 1.26 -> "1.3", 0.034 -> "0.03", 0.001 -> "0").
 */
#ifndef POSTERN_DELIVERY_LOG_H
#define POSTERN_DELIVERY_LOG_H
#include "sys_compat.h"
#include "sbuf.h"

/* Time stamps in seconds since the epoch; 0 means "did not happen". */
struct delivery_times {
    double arrival;     /* the message entered the queue (T record) */
    double active;      /* qmgr moved it to active */
    double handoff;     /* a delivery agent got the request */
    double conn_setup;  /* the agent's connection was up (smtp, lmtp) */
    double done;        /* 0: now */
};

/* Appends seconds (split into sec and usec, both >= 0) with sig_dig
 * significant digits (1..6) and at most max_dig decimals (0..6). */
void delivery_log_format_tv(struct sbuf *out, long sec, long usec, int sig_dig, int max_dig);

/* Replaces out with seconds formatted for the log line (two significant
 * digits, $delay_logging_resolution_limit decimals). Negative counts as 0. */
void delivery_log_format_delay(struct sbuf *out, double seconds);

/* Logs the line. orig is shown only when non-empty and different from rcpt
 * (ignoring case); reason may be "". */
void delivery_log(const char *id, const char *rcpt, const char *orig, const char *relay,
                  const struct delivery_times *t, const char *dsn, const char *status,
                  const char *reason);

#endif
