/*
 * delivery_log.c - format and write the Postfix-shaped delivery log line
 *
 * Used by: deliver_request (agents), qmgr, cleanup.
 * Interface: see delivery_log.h.
 * Errors: none.
 * Notes: the number format follows Postfix's format_tv(): the resolution is
 *        chosen from the magnitude (whole seconds from 10 s up, tenths from
 *        1 s, finer below but never past max_dig decimals), the value is
 *        rounded to it, and digits below it are not printed.
 */
#include "delivery_log.h"
#include "log_addr.h"
#include "config.h"
#include "log.h"
#include <sys/time.h>

#define DL_MILLION 1000000L
#define DL_SIG_DIGITS 2

void delivery_log_format_tv(struct sbuf *out, long sec, long usec, int sig_dig, int max_dig)
{
    static const long pow10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };
    if (sig_dig < 1)
        sig_dig = 1;
    if (sig_dig > 6)
        sig_dig = 6;
    if (max_dig < 0)
        max_dig = 0;
    if (max_dig > 6)
        max_dig = 6;
    if (sec < 0 || usec < 0)
        sec = usec = 0;
    if (usec >= DL_MILLION) {
        sec += usec / DL_MILLION;
        usec %= DL_MILLION;
    }
    /* res: the smallest step printed, in microseconds. */
    long res = DL_MILLION / pow10[max_dig];
    long width = pow10[sig_dig];
    if (res < DL_MILLION) {
        if (sec > 0) {
            /* Integer digits use up significant digits. */
            long n = 1;
            while (sec >= n && n <= width / 10)
                n *= 10;
            res = (DL_MILLION / width) * n;
        } else {
            while (usec >= width * res)
                res *= 10;
        }
    }
    if (res > 1) {
        usec += res / 2;
        if (usec >= DL_MILLION) {
            sec += 1;
            usec -= DL_MILLION;
        }
    }
    sbuf_catf(out, "%ld", sec);
    if (usec >= res) {
        sbuf_addch(out, '.');
        long rem = usec;
        for (long n = DL_MILLION / 10; rem >= res && n > 0; n /= 10) {
            sbuf_addch(out, (int)('0' + rem / n));
            rem %= n;
        }
    }
}

/* $delay_logging_resolution_limit, read once. */
static int delivery_log_max_dig(void)
{
    static int max_dig = -1;
    if (max_dig < 0) {
        int v = cfg_int(P_DELAY_LOGGING_RESOLUTION_LIMIT);
        if (v < 0 || v > 6) {
            log_warn("%s = %d: out of range 0..6, using 2", P_DELAY_LOGGING_RESOLUTION_LIMIT, v);
            v = 2;
        }
        max_dig = v;
    }
    return max_dig;
}

void delivery_log_format_delay(struct sbuf *out, double seconds)
{
    sbuf_reset(out);
    if (!(seconds > 0))
        seconds = 0;
    long sec = (long)seconds;
    long usec = (long)((seconds - (double)sec) * 1e6 + 0.5);
    delivery_log_format_tv(out, sec, usec, DL_SIG_DIGITS, delivery_log_max_dig());
}

/* Appends "text" and the formatted difference to - from (0 when negative). */
static void delivery_log_delta(struct sbuf *b, struct sbuf *tmp, const char *text, double to,
                               double from)
{
    delivery_log_format_delay(tmp, to - from);
    sbuf_cat(b, text);
    sbuf_cat(b, sbuf_str(tmp));
}

void delivery_log(const char *id, const char *rcpt, const char *orig, const char *relay,
                  const struct delivery_times *t, const char *dsn, const char *status,
                  const char *reason)
{
    double now = t->done;
    if (now <= 0) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        now = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
    }
    double arrival = t->arrival > 0 ? t->arrival : now;
    struct sbuf *b = sbuf_new(256), *tmp = sbuf_new(64);
    sbuf_printf(b, "%s: to=<%s>", id, log_addr(tmp, rcpt));
    if (orig && *orig && strcasecmp(orig, rcpt) != 0)
        sbuf_catf(b, ", orig_to=<%s>", log_addr(tmp, orig));
    sbuf_catf(b, ", relay=%s", relay);
    delivery_log_delta(b, tmp, ", delay=", now, arrival);
    if (t->active > 0) {
        delivery_log_delta(b, tmp, ", delays=", t->active, arrival);
        if (t->handoff > 0) {
            delivery_log_delta(b, tmp, "/", t->handoff, t->active);
            if (t->conn_setup > 0) {
                delivery_log_delta(b, tmp, "/", t->conn_setup, t->handoff);
                delivery_log_delta(b, tmp, "/", now, t->conn_setup);
            } else {
                delivery_log_delta(b, tmp, "/0/", now, t->handoff);
            }
        } else {
            delivery_log_delta(b, tmp, "/", now, t->active);
            sbuf_cat(b, "/0/0");
        }
    } else {
        delivery_log_delta(b, tmp, ", delays=", now, arrival);
        sbuf_cat(b, "/0/0/0");
    }
    sbuf_catf(b, ", dsn=%s, status=%s (%s)", dsn, status, reason ? reason : "");
    log_info("%s", sbuf_str(b));
    sbuf_free(b);
    sbuf_free(tmp);
}
