/*
 * cleanup_bounce.c - return a message to its sender from inside cleanup
 *
 * Used by: cleanup_main.c, for clients that asked for bounces instead of
 *          rejections (CLEANUP_FLAG_BOUNCE: pickup, i.e. sendmail). Postfix
 *          does the same: a locally submitted message with too many hops is
 *          not refused to the (long gone) submitter but bounced.
 * Interface: cleanup_bounce().
 * Errors: a failed status log write or bounce request removes what was
 *         written and returns -1; the caller then answers with a temporary
 *         error so that the client keeps the message and tries again.
 * Notes: the bounce service reads the queue file in incoming/ while it is
 *        still incomplete (mode 0600), so qmgr never sees it. The per-
 *        recipient log lines have the shape of a delivery agent's
 *        ("relay=none, ... status=bounced (why)").
 */
#include "cleanup.h"
#include "alloc.h"
#include "attr.h"
#include "delivery_log.h"
#include "dsn_log.h"
#include "log.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "qfile.h"
#include <sys/time.h>

/* Asks the bounce service for a non-delivery notice. Returns 0 when sent. */
static int cleanup_bounce_flush(const char *id)
{
    struct stream *s = mail_connect(MAIL_CLASS_PRIVATE, MAIL_SERVICE_BOUNCE, MAIL_PROTO_BOUNCE);
    if (s == NULL)
        return -1;
    long status = -1;
    if (attr_send(s, "request", "flush", "queue_id", id, "queue_name", MAIL_QUEUE_INCOMING,
                  (char *)NULL) == 0) {
        struct attr_list *l = attr_list_new();
        if (attr_read(s, l) == 0)
            attr_get_long(l, "status", &status);
        attr_list_free(l);
    }
    stream_close(s);
    return status == 0 ? 0 : -1;
}

int cleanup_bounce(struct cleanup_state *st, const char *dsn, const char *why)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);

    for (size_t i = 0; i < st->written.n; i++) {
        const struct cleanup_rcpt *r = &st->written.v[i];
        struct dsn_entry e = {
            .recipient = r->addr,
            .orig_rcpt = r->orig ? r->orig : "",
            .dsn_orcpt = r->dsn_orcpt ? r->dsn_orcpt : "",
            .notify = r->notify,
            .offset = r->offset,
            .status = (char *)dsn,
            .action = "failed",
            .reason = (char *)why,
            .mta = "",
            .diag_type = "",
            .diag_text = "",
            .time = (long)tv.tv_sec,
        };
        if (dsn_log_append(MAIL_QUEUE_BOUNCE, st->queue_id, &e) < 0) {
            dsn_log_remove(MAIL_QUEUE_BOUNCE, st->queue_id);
            return -1;
        }
    }
    if (cleanup_bounce_flush(st->queue_id) < 0) {
        log_warn("%s: bounce service request failed: message not returned", st->queue_id);
        dsn_log_remove(MAIL_QUEUE_BOUNCE, st->queue_id);
        return -1;
    }
    struct delivery_times t = { .arrival = (double)st->arrival };
    for (size_t i = 0; i < st->written.n; i++) {
        const struct cleanup_rcpt *r = &st->written.v[i];
        delivery_log(st->queue_id, r->addr, r->orig, "none", &t, dsn, "bounced", why);
    }
    return 0;
}
