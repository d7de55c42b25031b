/*
 * error.c - the error and retry delivery agents
 *
 * Used by: master (master.cf "error unix - - n - - error" and
 *          "retry unix - - n - - error").
 * Interface: main().
 * Errors: a bad request is logged and the connection closed (qmgr defers).
 * Notes: the next-hop field carries the reason, optionally led by an
 *        enhanced status code ("5.1.1 User unknown"). Under the service name
 *        "retry" every recipient is deferred (code class forced to 4);
 *        otherwise a 4.X.X code defers and anything else bounces (default
 *        5.0.0). The log shows relay=none and the reason without its code.
 */
#include "deliver_request.h"
#include "log.h"
#include "server.h"

static void error_service(struct stream *client)
{
    struct deliver_request *r = deliver_request_read(client, "none", NULL);
    if (r == NULL)
        return;
    bool retry = strcmp(server_service_name(), "retry") == 0;
    struct sbuf *dsn = sbuf_new(16);
    const char *text = deliver_split_dsn(r->nexthop, retry ? "4.0.0" : "5.0.0", dsn);
    if (*text == 0)
        text = retry ? "delivery temporarily suspended" : "delivery failed";
    if (retry && sbuf_str(dsn)[0] != '4')
        sbuf_data(dsn)[0] = '4';
    for (size_t i = 0; i < r->nrcpt; i++) {
        if (sbuf_str(dsn)[0] == '4')
            deliver_defer(r, &r->rcpts[i], sbuf_str(dsn), "%s", text);
        else
            deliver_bounce(r, &r->rcpts[i], sbuf_str(dsn), "%s", text);
    }
    sbuf_free(dsn);
    deliver_request_done(client, r);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .model = SERVER_SINGLE,
        .service = error_service,
        .delivery = true,
    };
    return server_main(argc, argv, &ops);
}
