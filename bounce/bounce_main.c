/*
 * bounce_main.c - the bounce daemon: delivery status notifications
 *
 * Used by: master (services bounce, defer and trace in master.cf).
 * Interface: main(); the bounce_v1 protocol in docs/ipc.md.
 * Errors: a malformed request gets status -1; the connection then ends.
 * Notes: one client at a time (SERVER_SINGLE); a client may send several
 *        requests on one connection, each answered with status=N.
 */
#include "bounce.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"
#include "server.h"

static void bounce_service(struct stream *client)
{
    struct attr_list *req = attr_list_new();
    char buf[32];
    if (attr_send_proto(client, MAIL_PROTO_BOUNCE) < 0) {
        attr_list_free(req);
        return;
    }
    for (;;) {
        int r = attr_read(client, req);
        if (r == STREAM_E_EOF)
            break;
        if (r != 0) {
            log_warn("read request: %s", r <= ATTR_E_FORMAT ? "malformed request"
                                                             : stream_strerror(r));
            break;
        }
        int status = bounce_request(req);
        snprintf(buf, sizeof(buf), "%d", status);
        if (attr_send(client, "status", buf, (char *)NULL) < 0)
            break;
    }
    attr_list_free(req);
}

/* bounce_template_file may be outside a chroot jail: read it first. */
static void bounce_pre_jail(void)
{
    bounce_template_load(cfg_str(P_BOUNCE_TEMPLATE_FILE));
    bounce_threaded = cfg_bool(P_ENABLE_THREADED_BOUNCES);
}

static const struct server_ops bounce_ops = {
    .model = SERVER_SINGLE,
    .pre_jail = bounce_pre_jail,
    .service = bounce_service,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &bounce_ops);
}
