/*
 * sasl_cyrus.c - SASL server back end on the Cyrus SASL library
 *
 * Used by: sasl_server.c (smtpd_sasl_type = cyrus).
 * Interface: sasl_cyrus_backend.
 * Errors: library failures are logged and end the exchange with the
 *         library's own error text (sasl_errstring()), which is also what
 *         the client sees after "535 5.7.8 Error: authentication failed:".
 * Notes: the library is set up once per process, before chroot and the
 *        privilege drop: the application name is smtpd_sasl_path (so the
 *        library reads smtpd.conf), cyrus_sasl_config_path is where that
 *        file lives, and the plugins are loaded there and then. Password
 *        back ends (sasldb, saslauthd) are consulted at each exchange with
 *        the daemon's reduced privileges. A connection object is not reused
 *        after an exchange: each AUTH gets a fresh one. No security layer is
 *        ever negotiated (max_ssf 0); success data is sent as a last 334
 *        challenge, as RFC 4954 requires. With sasl_client.c (the smtp client)
 *        the only file that includes <sasl/sasl.h>.
 */
#include "sasl_priv.h"
#include "alloc.h"
#include "log.h"
#include <sasl/sasl.h>
#include <sasl/saslutil.h>

struct sasl_cyrus {
    sasl_conn_t *conn;
    bool used;                  /* an exchange ran on conn */
    char *service, *fqdn, *realm, *local, *remote;
    int security;
};

/* Library log lines, in the wording admins grep for. */
static int sasl_cyrus_log(void *ctx, int level, const char *message)
{
    (void)ctx;
    switch (level) {
    case SASL_LOG_ERR:
    case SASL_LOG_WARN:
        log_warn("SASL authentication problem: %s", message);
        break;
    case SASL_LOG_NOTE:
        log_info("SASL authentication info: %s", message);
        break;
    case SASL_LOG_FAIL:
        log_warn("SASL authentication failure: %s", message);
        break;
    case SASL_LOG_DEBUG:
        log_debug(1, "SASL authentication debug: %s", message);
        break;
    case SASL_LOG_TRACE:
        log_debug(2, "SASL authentication trace: %s", message);
        break;
    case SASL_LOG_PASS:
        log_debug(3, "SASL authentication pass: %s", message);
        break;
    default:
        break;
    }
    return SASL_OK;
}

/* The library stores this pointer; it must live as long as the process. */
static sasl_callback_t sasl_cyrus_callbacks[2];

static int sasl_cyrus_init(const char *path, const char *config_path)
{
    if (config_path && *config_path
        && sasl_set_path(SASL_PATH_TYPE_CONFIG, (char *)config_path) != SASL_OK) {
        log_warn("failed to set Cyrus SASL configuration path: \"%s\"", config_path);
        return -1;
    }
    sasl_cyrus_callbacks[0].id = SASL_CB_LOG;
    /* The library's callback slot is a generic function pointer. */
    sasl_cyrus_callbacks[0].proc = (int (*)(void))(void (*)(void))sasl_cyrus_log;
    sasl_cyrus_callbacks[0].context = NULL;
    sasl_cyrus_callbacks[1].id = SASL_CB_LIST_END;
    int r = sasl_server_init(sasl_cyrus_callbacks, path && *path ? path : "smtpd");
    if (r != SASL_OK) {
        log_warn("SASL per-process initialization failed: %s", sasl_errstring(r, NULL, NULL));
        return -1;
    }
    log_debug(1, "SASL config file is %s.conf", path);
    return 0;
}

static char *sasl_cyrus_addr_port(const char *addr, int port)
{
    if (addr == NULL || *addr == 0)
        return NULL;
    struct sbuf *b = sbuf_new(64);
    sbuf_printf(b, "%s;%d", addr, port);
    return sbuf_detach(b);
}

/* (Re)creates the connection object and refreshes the offered list. */
static int sasl_cyrus_connect(struct sasl_srv *s)
{
    struct sasl_cyrus *c = s->priv;
    if (c->conn)
        sasl_dispose(&c->conn);
    c->used = false;
    int r = sasl_server_new(c->service, c->fqdn, c->realm, c->local, c->remote, NULL, 0, &c->conn);
    if (r != SASL_OK) {
        log_warn("SASL per-connection server initialization: %s", sasl_errstring(r, NULL, NULL));
        c->conn = NULL;
        return -1;
    }
    sasl_security_properties_t props;
    memset(&props, 0, sizeof(props));
    props.min_ssf = 0;
    props.max_ssf = 0;          /* no security layer: TLS does that job */
    props.maxbufsize = 0;
    if (c->security & SASL_SRV_SEC_NOPLAINTEXT)
        props.security_flags |= SASL_SEC_NOPLAINTEXT;
    if (c->security & SASL_SRV_SEC_NOACTIVE)
        props.security_flags |= SASL_SEC_NOACTIVE;
    if (c->security & SASL_SRV_SEC_NODICTIONARY)
        props.security_flags |= SASL_SEC_NODICTIONARY;
    if (c->security & SASL_SRV_SEC_NOANONYMOUS)
        props.security_flags |= SASL_SEC_NOANONYMOUS;
    if (c->security & SASL_SRV_SEC_FORWARD_SECRECY)
        props.security_flags |= SASL_SEC_FORWARD_SECRECY;
    if (c->security & SASL_SRV_SEC_MUTUAL_AUTH)
        props.security_flags |= SASL_SEC_MUTUAL_AUTH;
    r = sasl_setprop(c->conn, SASL_SEC_PROPS, &props);
    if (r != SASL_OK) {
        log_warn("SASL per-connection security setup; %s", sasl_errstring(r, NULL, NULL));
        sasl_dispose(&c->conn);
        return -1;
    }
    return 0;
}

static int sasl_cyrus_create(struct sasl_srv *s, const struct sasl_srv_args *a)
{
    struct sasl_cyrus *c = xcalloc(1, sizeof(*c));
    s->priv = c;
    c->service = xstrdup(a->service && *a->service ? a->service : "smtp");
    c->fqdn = a->server_fqdn && *a->server_fqdn ? xstrdup(a->server_fqdn) : NULL;
    c->realm = a->realm && *a->realm ? xstrdup(a->realm) : NULL;
    c->local = sasl_cyrus_addr_port(a->server_addr, a->server_port);
    c->remote = sasl_cyrus_addr_port(a->client_addr, a->client_port);
    c->security = a->security;
    log_debug(1, "SASL service=%s, realm=%s", c->service, c->realm ? c->realm : "(null)");
    if (sasl_cyrus_connect(s) < 0)
        return -1;
    const char *list = NULL;
    unsigned len = 0;
    int count = 0;
    int r = sasl_listmech(c->conn, NULL, "", " ", "", &list, &len, &count);
    if (r != SASL_OK || list == NULL) {
        log_warn("cannot lookup SASL authentication mechanisms: %s", sasl_errstring(r, NULL, NULL));
        return -1;
    }
    if (count == 0 || *list == 0) {
        log_warn("no SASL authentication mechanisms");
        return -1;
    }
    sbuf_set(s->mechs, list);
    return 0;
}

static void sasl_cyrus_destroy(struct sasl_srv *s)
{
    struct sasl_cyrus *c = s->priv;
    if (c->conn)
        sasl_dispose(&c->conn);
    xfree(c->service);
    xfree(c->fqdn);
    xfree(c->realm);
    xfree(c->local);
    xfree(c->remote);
    xfree(c);
    s->priv = NULL;
}

/* Turns the library's answer into our status; out/outlen is the server data. */
static enum sasl_srv_status sasl_cyrus_result(struct sasl_srv *s, int r, const char *out,
                                              unsigned outlen, struct sbuf *reply)
{
    struct sasl_cyrus *c = s->priv;
    if (r == SASL_CONTINUE) {
        /* The challenge goes out in base64. */
        unsigned enc_max = 4 * ((outlen + 2) / 3) + 1, enc_len = 0;
        char *enc = xmalloc(enc_max);
        int e = sasl_encode64(out ? out : "", outlen, enc, enc_max, &enc_len);
        if (e != SASL_OK) {
            xfree(enc);
            log_warn("sasl_encode64 botch: %s", sasl_errstring(e, NULL, NULL));
            sbuf_set(reply, sasl_errstring(e, NULL, NULL));
            return SASL_SRV_FAIL;
        }
        sbuf_set(reply, enc);
        xfree(enc);
        return SASL_SRV_MORE;
    }
    if (r == SASL_OK) {
        const void *name = NULL;
        int g = sasl_getprop(c->conn, SASL_USERNAME, &name);
        if (g != SASL_OK || name == NULL) {
            log_warn("cannot look up the authenticated SASL username: %s",
                     sasl_errstring(g, NULL, NULL));
            sbuf_set(reply, sasl_errstring(g, NULL, NULL));
            return SASL_SRV_FAIL;
        }
        xfree(s->username);
        s->username = xstrdup(name);
        sbuf_reset(reply);
        return SASL_SRV_DONE;
    }
    /* The name the client tried, for the log, when the library knows it. */
    const void *tried = NULL;
    if (c->conn && sasl_getprop(c->conn, SASL_USERNAME, &tried) == SASL_OK && tried) {
        xfree(s->username);
        s->username = xstrdup(tried);
    }
    sbuf_set(reply, sasl_errstring(r, NULL, NULL));
    return r == SASL_TRYAGAIN || r == SASL_UNAVAIL ? SASL_SRV_TEMP : SASL_SRV_FAIL;
}

/* Decodes client base64 into a new buffer; -1 with reply filled on error. */
static int sasl_cyrus_decode(const char *b64, char **out, unsigned *outlen, struct sbuf *reply)
{
    size_t n = strlen(b64);
    if (n > SASL_SRV_MAX_RESPONSE * 4 / 3 + 4) {
        sbuf_set(reply, sasl_errstring(SASL_BUFOVER, NULL, NULL));
        return -1;
    }
    unsigned max = (unsigned)(n / 4 * 3 + 4);
    *out = xmalloc(max);
    *outlen = 0;
    if (n == 0) {
        (*out)[0] = 0;
        return 0;
    }
    int r = sasl_decode64(b64, (unsigned)n, *out, max, outlen);
    if (r != SASL_OK) {
        xfree(*out);
        *out = NULL;
        sbuf_set(reply, sasl_errstring(r, NULL, NULL));
        return -1;
    }
    return 0;
}

static enum sasl_srv_status sasl_cyrus_start(struct sasl_srv *s, const char *mech,
                                             const char *init_b64, struct sbuf *reply)
{
    struct sasl_cyrus *c = s->priv;
    if ((c->used || c->conn == NULL) && sasl_cyrus_connect(s) < 0) {
        sbuf_set(reply, sasl_errstring(SASL_FAIL, NULL, NULL));
        return SASL_SRV_TEMP;
    }
    c->used = true;
    char *in = NULL;
    unsigned inlen = 0;
    if (init_b64 && strcmp(init_b64, "=") != 0
        && sasl_cyrus_decode(init_b64, &in, &inlen, reply) < 0)
        return SASL_SRV_FAIL;
    const char *out = NULL;
    unsigned outlen = 0;
    /* "=" is an empty initial response: a zero-length, non-NULL buffer. */
    const char *arg = init_b64 == NULL ? NULL : in ? in : "";
    int r = sasl_server_start(c->conn, mech, arg, inlen, &out, &outlen);
    enum sasl_srv_status st = sasl_cyrus_result(s, r, out, outlen, reply);
    if (in) {
        explicit_bzero(in, inlen);
        xfree(in);
    }
    return st;
}

static enum sasl_srv_status sasl_cyrus_step(struct sasl_srv *s, const char *resp_b64,
                                            struct sbuf *reply)
{
    struct sasl_cyrus *c = s->priv;
    char *in = NULL;
    unsigned inlen = 0;
    if (c->conn == NULL) {
        sbuf_set(reply, sasl_errstring(SASL_NOTINIT, NULL, NULL));
        return SASL_SRV_FAIL;
    }
    if (sasl_cyrus_decode(resp_b64, &in, &inlen, reply) < 0)
        return SASL_SRV_FAIL;
    const char *out = NULL;
    unsigned outlen = 0;
    int r = sasl_server_step(c->conn, in, inlen, &out, &outlen);
    enum sasl_srv_status st = sasl_cyrus_result(s, r, out, outlen, reply);
    explicit_bzero(in, inlen);
    xfree(in);
    return st;
}

const struct sasl_srv_backend sasl_cyrus_backend = {
    .name = "cyrus",
    .init = sasl_cyrus_init,
    .create = sasl_cyrus_create,
    .start = sasl_cyrus_start,
    .step = sasl_cyrus_step,
    .destroy = sasl_cyrus_destroy,
    .nomech_text = "no mechanism available",
};
