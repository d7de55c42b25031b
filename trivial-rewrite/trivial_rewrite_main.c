/*
 * trivial_rewrite_main.c - the rewrite service: rewrite and resolve
 *                          requests on private/rewrite
 *
 * Used by: master (`rewrite unix - - n - - trivial-rewrite`); clients are
 *          cleanup, qmgr and smtpd through lib/mail/rewrite_clnt.c.
 * Interface: main(); tr_serve_request() handles one request.
 * Errors: a malformed request closes that client's connection; a failed
 *         table lookup is answered with TR_FLAG_FAIL.
 * Notes: protocol in docs/ipc.md "rewrite". Tables are opened once per
 *        process before the privilege drop; nothing is cached across
 *        reloads because master retires the process (max_idle, max_use).
 *        It is a SERVER_MULTI daemon: one process serves every client
 *        (cleanup, smtpd, qmgr keep a connection each) on the event loop.
 */
#include "trivial-rewrite.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"
#include "server.h"

static struct tr_config tr_cfg;
static struct attr_list *tr_req;

static void tr_pre_jail(void)
{
    tr_config_load(&tr_cfg);
    tr_req = attr_list_new();
}

static int tr_reply_rewrite(struct stream *s, const char *rule, const char *addr)
{
    struct sbuf *out = sbuf_new(128);
    if (tr_rewrite(&tr_cfg, rule, addr, out) < 0)
        log_warn("unknown rewrite context: %s", rule);
    log_debug(1, "`%s' `%s' -> `%s'", rule, addr, sbuf_str(out));
    int r = attr_send(s, "flags", "0", "address", sbuf_str(out), (char *)NULL);
    sbuf_free(out);
    return r < 0 ? -1 : 0;
}

static int tr_reply_resolve(struct stream *s, const char *sender, const char *addr)
{
    struct tr_result res;
    char flags[16];
    tr_result_init(&res);
    tr_resolve(&tr_cfg, sender, addr, &res);
    snprintf(flags, sizeof(flags), "%d", res.flags);
    log_debug(1, "`%s' -> `%s' `%s' `%s' `%s' `%d'", addr, res.class_, sbuf_str(res.transport),
              sbuf_str(res.nexthop), sbuf_str(res.recipient), res.flags);
    int r = attr_send(s, "flags", flags, "class", res.class_, "transport", sbuf_str(res.transport),
                      "nexthop", sbuf_str(res.nexthop), "recipient", sbuf_str(res.recipient),
                      (char *)NULL);
    tr_result_free(&res);
    return r < 0 ? -1 : 0;
}

/* Reads and answers one request. Returns 0, or -1 to close the connection. */
static int tr_serve_request(struct stream *s)
{
    int r = attr_read(s, tr_req);
    if (r < 0) {
        if (r != STREAM_E_EOF)
            log_warn("rewrite request: %s", r <= ATTR_E_FORMAT ? "malformed request"
                                                              : stream_strerror(r));
        return -1;
    }
    const char *req = attr_get(tr_req, "request");
    const char *addr = attr_get(tr_req, "address");
    if (req == NULL || addr == NULL) {
        log_warn("rewrite request without request or address");
        return -1;
    }
    if (strcmp(req, "rewrite") == 0)
        return tr_reply_rewrite(s, attr_get_def(tr_req, "rule", "local"), addr);
    if (strcmp(req, "resolve") == 0 || strcmp(req, "verify") == 0)
        return tr_reply_resolve(s, attr_get_def(tr_req, "sender", ""), addr);
    log_warn("bad command %.30s", req);
    return -1;
}

static int tr_greet(struct stream *s)
{
    return attr_send_proto(s, MAIL_PROTO_REWRITE) < 0 ? -1 : 0;
}

static void tr_exit(void)
{
    tr_config_free(&tr_cfg);
    attr_list_free(tr_req);
}

static const struct server_ops tr_ops = {
    .model = SERVER_MULTI,
    .pre_jail = tr_pre_jail,
    .connect = tr_greet,
    .request = tr_serve_request,
    .on_exit = tr_exit,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &tr_ops);
}
