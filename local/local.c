/*
 * local.c - the local delivery agent: main() and one request
 *
 * Used by: master (master.cf "local unix - n n - - local": runs as root).
 * Interface: main().
 * Errors: a bad request is logged and the connection closed (qmgr defers).
 * Notes: for each recipient: resolve aliases, .forward and the mailbox
 *        (local_resolve.c), deliver (local_deliver.c), then mark the queue
 *        recipient done unless some part of it was deferred, in which case
 *        the whole recipient is retried later (already delivered parts may
 *        then be delivered twice, as with Postfix). Unlike other services
 *        this one forks (to run commands); the child never returns here.
 */
#include "local.h"
#include "alloc.h"
#include "config.h"
#include "deliver_common.h"
#include "dsn_filter.h"
#include "log.h"
#include "qfile.h"
#include "server.h"

/* local_delivery_status_filter, opened before the privileges drop. */
static struct dsn_filter *local_status_filter;

static void local_service(struct stream *client)
{
    struct deliver_request *r = deliver_request_read(client, "local", local_status_filter);
    if (r == NULL)
        return;
    local_req = r;
    local_delivered_hdrs = deliver_delivered_to(r);
    for (size_t i = 0; i < r->nrcpt; i++) {
        struct deliver_rcpt *rc = &r->rcpts[i];
        struct local_outcome out = { 0 };
        struct local_state st = {
            .req = r,
            .rc = rc,
            .address = rc->address,
            .delivered = rc->address,
            .sender = r->sender,
            .extension = "",
            .out = &out,
        };
        local_resolve(&st, &local_real_ops, &local_cfg);
        if (!out.deferred) {
            if (qfile_mark_done(r->fd, (off_t)rc->offset) < 0) {
                log_warn("%s: mark recipient %s done: %m", r->queue_id, rc->address);
                r->deferred = true;
            }
        } else
            r->deferred = true;
        local_outcome_free(&out);
    }
    deliver_strv_free(local_delivered_hdrs);
    local_delivered_hdrs = NULL;
    local_req = NULL;
    deliver_request_done(client, r);
}

static void local_pre_jail(void)
{
    local_status_filter =
        dsn_filter_new(P_LOCAL_DELIVERY_STATUS_FILTER, cfg_str(P_LOCAL_DELIVERY_STATUS_FILTER));
    local_deliver_init();
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .model = SERVER_SINGLE,
        .pre_jail = local_pre_jail,
        .service = local_service,
        .delivery = true,
    };
    return server_main(argc, argv, &ops);
}
