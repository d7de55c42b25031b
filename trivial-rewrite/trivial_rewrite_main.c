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
 *        request=verify resolves an address probe (qmgr, for messages from
 *        verify(8)): the same rules with the address_verify_* routing
 *        overrides (each defaults to the parameter it overrides).
 */
#include "trivial-rewrite.h"
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "maps.h"
#include "log.h"
#include "mail_proto.h"
#include "server.h"

static struct tr_config tr_cfg;
static struct tr_config tr_vcfg;    /* request=verify: address probes */
static struct attr_list *tr_req;

static void tr_override(char **field, const char *param)
{
    xfree(*field);
    *field = xstrdup(cfg_str(param));
}

/* tr_cfg with the address_verify_* routing parameters in place of the
 * ones they override. */
static void tr_verify_config_load(struct tr_config *v)
{
    tr_config_load(v);
    tr_override(&v->local_transport, P_ADDRESS_VERIFY_LOCAL_TRANSPORT);
    tr_override(&v->virtual_transport, P_ADDRESS_VERIFY_VIRTUAL_TRANSPORT);
    tr_override(&v->relay_transport, P_ADDRESS_VERIFY_RELAY_TRANSPORT);
    tr_override(&v->default_transport, P_ADDRESS_VERIFY_DEFAULT_TRANSPORT);
    tr_override(&v->relayhost, P_ADDRESS_VERIFY_RELAYHOST);
    maps_free(v->transport_maps);
    v->transport_maps = maps_create(P_ADDRESS_VERIFY_TRANSPORT_MAPS,
                                    cfg_str(P_ADDRESS_VERIFY_TRANSPORT_MAPS), DICT_F_FOLD);
    maps_free(v->sender_default_transport);
    v->sender_default_transport = NULL;
    const char *sdt = cfg_str(P_ADDRESS_VERIFY_SENDER_DEPENDENT_DEFAULT_TRANSPORT_MAPS);
    if (*sdt)
        v->sender_default_transport = maps_create(
            P_ADDRESS_VERIFY_SENDER_DEPENDENT_DEFAULT_TRANSPORT_MAPS, sdt, DICT_F_FOLD);
    maps_free(v->sender_relayhost);
    v->sender_relayhost = NULL;
    const char *sdr = cfg_str(P_ADDRESS_VERIFY_SENDER_DEPENDENT_RELAYHOST_MAPS);
    if (*sdr)
        v->sender_relayhost = maps_create(P_ADDRESS_VERIFY_SENDER_DEPENDENT_RELAYHOST_MAPS, sdr,
                                          DICT_F_FOLD);
}

static void tr_pre_jail(void)
{
    tr_verify_config_load(&tr_vcfg);
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

static int tr_reply_resolve(struct stream *s, const struct tr_config *cfg, const char *sender,
                            const char *addr)
{
    struct tr_result res;
    char flags[16];
    tr_result_init(&res);
    tr_resolve(cfg, sender, addr, &res);
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
    if (strcmp(req, "resolve") == 0)
        return tr_reply_resolve(s, &tr_cfg, attr_get_def(tr_req, "sender", ""), addr);
    if (strcmp(req, "verify") == 0)
        return tr_reply_resolve(s, &tr_vcfg, attr_get_def(tr_req, "sender", ""), addr);
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
    tr_config_free(&tr_vcfg);
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
