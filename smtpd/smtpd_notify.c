/*
 * smtpd_notify.c - the session transcript, and the postmaster notice that
 *                  notify_classes asks for
 *
 * Used by: smtpd.c (commands in, replies out, session end), smtpd_cmd.c
 *          (flush points: EHLO, RSET, end of DATA).
 * Interface: smtpd_notify_init(), smtpd_history_in(), smtpd_history_out(),
 *            smtpd_notify_flush(), smtpd_notify_free().
 * Errors: a notice that cannot be queued is logged; the session is not
 *         affected.
 * Notes: as Postfix, smtpd keeps the session's commands and replies and,
 *        when the session had an error in one of the classes that
 *        notify_classes names (policy, protocol, resource, software, data),
 *        mails the transcript to error_notice_recipient when the session
 *        ends, or earlier at EHLO, RSET or the end of DATA once the
 *        transcript is longer than smtpd_history_flush_threshold lines.
 *        The class of an error reply comes from its enhanced status code
 *        (see smtpd_history_out()). AUTH lines are recorded without their
 *        argument after the mechanism, and message content never is.
 *        The notice's sender is double_bounce_sender, so a notice that
 *        cannot be delivered is discarded rather than bounced.
 */
#include "alloc.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "config.h"
#include "dsn_notify.h"
#include "log.h"
#include "qfile.h"
#include "smtpd.h"
#include <strings.h>

#define SMTPD_HISTORY_LINE_MAX 512      /* longer lines are cut in the transcript */
#define SMTPD_HISTORY_HARD_MAX 1000     /* lines kept at most between flushes */

#define SMTPD_NOTIFY_MINE (NOTIFY_CLASS_POLICY | NOTIFY_CLASS_PROTOCOL | NOTIFY_CLASS_RESOURCE \
                           | NOTIFY_CLASS_SOFTWARE | NOTIFY_CLASS_DATA)

static struct {
    int classes;                /* notify_classes & SMTPD_NOTIFY_MINE */
    const char *recipient;      /* error_notice_recipient */
    int threshold;              /* smtpd_history_flush_threshold */
} smtpd_notify;

void smtpd_notify_init(void)
{
    smtpd_notify.classes = notify_class_parse(cfg_str(P_NOTIFY_CLASSES), NULL) & SMTPD_NOTIFY_MINE;
    smtpd_notify.recipient = cfg_str(P_ERROR_NOTICE_RECIPIENT);
    smtpd_notify.threshold = cfg_int(P_SMTPD_HISTORY_FLUSH_THRESHOLD);
}

static void smtpd_history_add(struct smtpd_state *st, const char *dir, const char *text,
                              size_t len)
{
    if (smtpd_notify.classes == 0 || st->history_lines >= SMTPD_HISTORY_HARD_MAX)
        return;
    if (st->history == NULL)
        st->history = sbuf_new(1024);
    if (len > SMTPD_HISTORY_LINE_MAX)
        len = SMTPD_HISTORY_LINE_MAX;
    sbuf_cat(st->history, dir);
    size_t at = sbuf_len(st->history);
    sbuf_append(st->history, text, len);
    char *p = sbuf_data(st->history);
    for (size_t i = at; i < at + len; i++)
        if ((unsigned char)p[i] < 32)
            p[i] = '?';     /* NUL, CR, LF...: a transcript line stays one line */
    sbuf_addch(st->history, '\n');
    st->history_lines++;
}

void smtpd_history_in(struct smtpd_state *st, const char *line, size_t len)
{
    /* AUTH: the mechanism, never the credentials that may follow it. */
    if (len >= 5 && strncasecmp(line, "AUTH ", 5) == 0) {
        size_t mech = 5 + strcspn(line + 5, " ");
        if (mech < len) {
            char cut[SMTPD_HISTORY_LINE_MAX + 8];
            if (mech > SMTPD_HISTORY_LINE_MAX)
                mech = SMTPD_HISTORY_LINE_MAX;
            memcpy(cut, line, mech);
            memcpy(cut + mech, " ...", 4);
            smtpd_history_add(st, " In:  ", cut, mech + 4);
            return;
        }
    }
    smtpd_history_add(st, " In:  ", line, len);
}

/* The notify class of an error reply ("550 5.7.1 ...", "451 4.3.0 ..."):
 * 5.5.x and x.5.x command errors are protocol, 4.3.0 lookup failures data,
 * x.3.1 (no room) resource, other x.3.x software, the rest policy. */
static int smtpd_reply_class(const char *r)
{
    const char *d = r + 4;
    if ((d[0] != '4' && d[0] != '5') || d[1] != '.')
        return strncmp(r, "50", 2) == 0 ? NOTIFY_CLASS_PROTOCOL : NOTIFY_CLASS_POLICY;
    char *end;
    long subject = strtol(d + 2, &end, 10);
    long detail = *end == '.' ? strtol(end + 1, NULL, 10) : 0;
    if (subject == 5)
        return NOTIFY_CLASS_PROTOCOL;
    if (subject == 3 && detail == 0 && strstr(r, "Temporary lookup failure"))
        return NOTIFY_CLASS_DATA;
    if (subject == 3 && detail == 1)
        return NOTIFY_CLASS_RESOURCE;
    if (subject == 3 && detail != 4)    /* x.3.4: message too big, policy */
        return NOTIFY_CLASS_SOFTWARE;
    return NOTIFY_CLASS_POLICY;
}

void smtpd_history_out(struct smtpd_state *st, const char *line, size_t len)
{
    smtpd_history_add(st, " Out: ", line, len);
    if ((line[0] == '4' || line[0] == '5') && len >= 3)
        st->error_mask |= smtpd_reply_class(line);
}

/* Mails the transcript to error_notice_recipient. */
static void smtpd_notify_send(struct smtpd_state *st)
{
    struct cleanup_clnt *c = cleanup_open(CLEANUP_FLAG_MASK_INTERNAL);
    if (c == NULL) {
        log_warn("cannot send the transcript of %s to %s: cleanup is not reachable", st->namaddr,
                 smtpd_notify.recipient);
        return;
    }
    char *id = xstrdup(cleanup_queue_id(c));
    cleanup_recs(c, REC_SENDER, cfg_str(P_DOUBLE_BOUNCE_SENDER));
    cleanup_recs(c, REC_ATTR, "rewrite_context=local");
    cleanup_recs(c, REC_ATTR, "log_message_origin=smtpd");
    cleanup_recs(c, REC_RCPT, smtpd_notify.recipient);
    cleanup_rec(c, REC_MESG, "", 0);
    struct sbuf *l = sbuf_new(256);
    /* MAILER-DAEMON: cleanup qualifies it (rewrite context local). */
    sbuf_set(l, "From: Mail Delivery System <MAILER-DAEMON>");
    cleanup_line(c, sbuf_str(l), sbuf_len(l));
    sbuf_printf(l, "To: Postmaster <%s>", smtpd_notify.recipient);
    cleanup_line(c, sbuf_str(l), sbuf_len(l));
    sbuf_printf(l, "Subject: %s SMTP server: errors from %s", cfg_str(P_MAIL_NAME), st->namaddr);
    cleanup_line(c, sbuf_str(l), sbuf_len(l));
    cleanup_line(c, "", 0);
    sbuf_set(l, "Transcript of session follows.");
    cleanup_line(c, sbuf_str(l), sbuf_len(l));
    cleanup_line(c, "", 0);
    const char *p = sbuf_str(st->history), *end = p + sbuf_len(st->history);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        cleanup_line(c, p, n);
        p += n + 1;
    }
    cleanup_line(c, "", 0);
    sbuf_set(l, "For other details, see the local mail logfile");
    cleanup_line(c, sbuf_str(l), sbuf_len(l));
    sbuf_reset(l);
    int status = cleanup_finish(c, l);
    if (status == CLEANUP_STAT_OK)
        log_info("%s: transcript of the session with %s sent to %s", id, st->namaddr,
                 smtpd_notify.recipient);
    else
        log_warn("transcript of the session with %s not sent: %s", st->namaddr,
                 sbuf_len(l) ? sbuf_str(l) : "cleanup error");
    sbuf_free(l);
    xfree(id);
}

void smtpd_notify_flush(struct smtpd_state *st, bool end)
{
    if (st->history == NULL)
        return;
    if (!end && st->history_lines <= smtpd_notify.threshold)
        return;
    if (st->error_mask & smtpd_notify.classes)
        smtpd_notify_send(st);
    sbuf_reset(st->history);
    st->history_lines = 0;
    st->error_mask = 0;
}

void smtpd_notify_free(struct smtpd_state *st)
{
    if (st->history)
        sbuf_free(st->history);
    st->history = NULL;
    st->history_lines = 0;
    st->error_mask = 0;
}
