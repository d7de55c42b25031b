/*
 * discard.c - the discard delivery agent
 *
 * Used by: master (master.cf "discard unix - - n - - discard").
 * Interface: main().
 * Errors: a bad request is logged and the connection closed (qmgr defers).
 * Notes: every recipient is reported delivered and marked done; nothing is
 *        written anywhere. The next-hop text is the reason shown in the log
 *        ("status=sent (TEXT)"), after an optional leading 2.X.X code;
 *        "discarded" when it is empty. The log shows relay=none.
 */
#include "deliver_request.h"
#include "log.h"
#include "server.h"

static void discard_service(struct stream *client)
{
    struct deliver_request *r = deliver_request_read(client, "none", NULL);
    if (r == NULL)
        return;
    struct sbuf *dsn = sbuf_new(16);
    const char *text = deliver_split_dsn(r->nexthop, "2.0.0", dsn);
    if (sbuf_str(dsn)[0] != '2')
        sbuf_set(dsn, "2.0.0");
    if (*text == 0)
        text = "discarded";
    for (size_t i = 0; i < r->nrcpt; i++)
        deliver_sent(r, &r->rcpts[i], sbuf_str(dsn), "%s", text);
    sbuf_free(dsn);
    deliver_request_done(client, r);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .model = SERVER_SINGLE,
        .service = discard_service,
        .delivery = true,
    };
    return server_main(argc, argv, &ops);
}
