/*
 * pickup_milter.c - non_smtpd_milters for mail from sendmail/postdrop
 *
 * Used by: pickup.c (pickup_copy()).
 * Interface: pickup_milter_init(), pickup_milter_active(),
 *            pickup_milter_run().
 * Errors: a milter tempfail (or an unreachable milter with default_action
 *         tempfail) leaves the file in maildrop/ for the next scan; a
 *         reject returns the message to its sender (cleanup bounces it,
 *         CLEANUP_REC_REJECT); quarantine sends it to the hold queue.
 * Notes: Postfix runs non_smtpd_milters inside cleanup; Postern runs them
 *        in pickup, the one door for local submissions, with the same
 *        mechanism as smtpd (docs/milter.md): the records for cleanup are
 *        spooled, the milters see an emulated SMTP session (connect from
 *        "localhost" [127.0.0.1], HELO localhost, MAIL, one RCPT per
 *        envelope recipient, DATA, the message) and the edited records
 *        then go to cleanup. Mail that bounce or local forwarding inject
 *        is not filtered (Postfix does not either).
 *        receive_override_options = no_milters on this service turns the
 *        milters off.
 */
#include "alloc.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "log.h"
#include "milter.h"
#include "pickup.h"
#include "qfile.h"
#include <strings.h>

static struct milters *pickup_milters;

struct pickup_milter_ctx {
    const char *queue_id, *sender, *rcpt;
};

void pickup_milter_init(void)
{
    if (receive_override_has("no_milters"))
        return;
    pickup_milters = milters_new(P_NON_SMTPD_MILTERS, cfg_str(P_NON_SMTPD_MILTERS));
}

bool pickup_milter_active(void)
{
    return pickup_milters != NULL;
}

static const char *pickup_milter_macro(void *vctx, const char *name)
{
    struct pickup_milter_ctx *ctx = vctx;
    if (strcmp(name, "i") == 0)
        return ctx->queue_id;
    if (strcmp(name, "_") == 0)
        return "localhost [127.0.0.1]";
    if (strcmp(name, "{client_addr}") == 0)
        return "127.0.0.1";
    if (strcmp(name, "{client_name}") == 0 || strcmp(name, "{client_ptr}") == 0)
        return "localhost";
    if (strcmp(name, "{mail_addr}") == 0)
        return ctx->sender;
    if (strcmp(name, "{rcpt_addr}") == 0)
        return ctx->rcpt;
    return NULL;
}

/* Sends the spooled records to cleanup unchanged, then the rejection. */
/* Sends the spooled message on with a REJECT record (returned to the
 * sender). False when the spool cannot be read back in full: the caller
 * then leaves the maildrop file for the next scan rather than return a
 * truncated copy. */
static bool pickup_milter_reject(int fd, struct cleanup_clnt *c, const char *reply)
{
    struct qfile_reader *r = qfile_from_fd(fd);
    struct sbuf *data = sbuf_new(256);
    bool xtra = false;
    qfile_seek(r, 0);
    int type;
    while ((type = qfile_get(r, data, NULL)) >= 0 && type != REC_END) {
        if (type == REC_XTRA)
            xtra = true;
        cleanup_rec(c, type, sbuf_str(data), sbuf_len(data));
    }
    if (type != REC_END) {
        log_warn("%s: cannot read back the message for the milter reject", cleanup_queue_id(c));
        sbuf_free(data);
        qfile_close(r);
        return false;
    }
    if (!xtra)
        cleanup_rec(c, REC_XTRA, "", 0);
    struct sbuf *one = sbuf_new(64);
    sbuf_append(one, reply, strcspn(reply, "\n"));
    cleanup_recs(c, CLEANUP_REC_REJECT, sbuf_str(one));
    cleanup_rec(c, REC_END, "", 0);
    sbuf_free(one);
    sbuf_free(data);
    qfile_close(r);     /* closes fd */
    return true;
}

int pickup_milter_run(struct cleanup_clnt *c, const char *sender, char **rcpts,
                      struct sbuf *reason)
{
    struct pickup_milter_ctx ctx = { cleanup_queue_id(c), sender, NULL };
    struct milters *ms = pickup_milters;
    milters_set_macros(ms, pickup_milter_macro, &ctx);
    const char *r = milters_connect(ms, "localhost", "127.0.0.1", 0);
    if (r == NULL)
        r = milters_helo(ms, "localhost");
    if (r == NULL)
        r = milters_mail(ms, sender, NULL);
    for (size_t i = 0; rcpts && rcpts[i] && (r == NULL || r[0] == 'D'); i++) {
        ctx.rcpt = rcpts[i];
        const char *rr = milters_rcpt(ms, rcpts[i], NULL);
        if (rr)
            r = rr;
    }
    ctx.rcpt = NULL;
    if (r == NULL || r[0] == 'D') {
        const char *rr = milters_data(ms);
        if (rr)
            r = rr;
    }
    int fd = cleanup_spool_end(c);
    int status = CLEANUP_STAT_OK;
    if (fd < 0) {
        sbuf_set(reason, "4.3.0 milter spool error");
        status = CLEANUP_STAT_WRITE;
    } else if (r && r[0] == '4') {
        close(fd);
        log_info("%s: milter-reject: %s", ctx.queue_id, r);
        sbuf_set(reason, r + (strlen(r) > 4 ? 4 : 0));
        status = CLEANUP_STAT_DEFER;
    } else if (r && r[0] == '5') {
        log_info("%s: milter-reject: %s", ctx.queue_id, r);
        if (!pickup_milter_reject(fd, c, r)) {
            sbuf_set(reason, "4.3.0 milter spool error");
            status = CLEANUP_STAT_WRITE;
        }
    } else {
        if (r)
            log_info("%s: milter-discard: milter triggers DISCARD action", ctx.queue_id);
        const char *m = milters_message(ms, fd, c, cfg_long(P_MESSAGE_SIZE_LIMIT));
        const char *why = NULL;
        if (m && m[0] == '4') {
            log_info("%s: milter-reject: END-OF-MESSAGE: %s", ctx.queue_id, m);
            sbuf_set(reason, m + (strlen(m) > 4 ? 4 : 0));
            status = CLEANUP_STAT_DEFER;
        } else if (m && m[0] == '5') {
            if (!pickup_milter_reject(fd, c, m)) {      /* returned to the sender */
                sbuf_set(reason, "4.3.0 milter spool error");
                status = CLEANUP_STAT_WRITE;
            }
            fd = -1;
        } else if (m && m[0] == 'D') {
            log_info("%s: milter-discard: END-OF-MESSAGE: milter triggers DISCARD action",
                     ctx.queue_id);
        } else if (milters_hold(ms, &why)) {
            log_info("%s: milter-hold: END-OF-MESSAGE: %s", ctx.queue_id,
                     why && *why ? why : "milter triggers HOLD action");
        }
        if (fd >= 0)
            close(fd);
    }
    milters_disconnect(ms);
    return status;
}
