/*
 * sasl_client.c - SASL client on the Cyrus SASL library (smtp/lmtp AUTH)
 *
 * Used by: smtp (smtp_sasl.c).
 * Interface: see sasl_client.h.
 * Errors: library failures come back as -1 with sasl_errstring()'s text
 *         (or the detail of sasl_errdetail()) in the caller's buffer.
 * Notes: sasl_client_init() runs once per process, before chroot, so the
 *        mechanism plugins are loaded while the files are reachable. Each
 *        login gets its own connection object, disposed of afterwards. The
 *        library asks for the user name and password through callbacks
 *        whose context is the connection's own struct; the password is
 *        copied into a sasl_secret_t that is wiped when freed.
 */
#include "sasl_client.h"
#include "alloc.h"
#include "log.h"
#include "sasl_server.h"
#include <sasl/sasl.h>
#include <sasl/saslutil.h>

struct sasl_clt {
    sasl_conn_t *conn;
    char *username;
    sasl_secret_t *secret;
    size_t secret_size;
    sasl_callback_t cb[4];
    char mech[64];
};

static bool sasl_clt_ready;

static int sasl_clt_log(void *ctx, int level, const char *message)
{
    (void)ctx;
    if (level <= SASL_LOG_WARN)
        log_warn("SASL authentication problem: %s", message);
    else if (level == SASL_LOG_NOTE)
        log_info("SASL authentication info: %s", message);
    else if (level == SASL_LOG_FAIL)
        log_info("SASL authentication failure: %s", message);
    else
        log_debug(2, "SASL authentication debug: %s", message);
    return SASL_OK;
}

static sasl_callback_t sasl_clt_global_cb[2];

int sasl_clt_init(const char *type)
{
    if (strcasecmp(type, "cyrus") != 0) {
        log_warn("unsupported SASL client implementation: %s", type);
        return -1;
    }
    if (sasl_clt_ready)
        return 0;
    sasl_clt_global_cb[0].id = SASL_CB_LOG;
    /* The library's callback slot is a generic function pointer. */
    sasl_clt_global_cb[0].proc = (int (*)(void))(void (*)(void))sasl_clt_log;
    sasl_clt_global_cb[1].id = SASL_CB_LIST_END;
    int r = sasl_client_init(sasl_clt_global_cb);
    if (r != SASL_OK) {
        log_warn("SASL library initialization: %s", sasl_errstring(r, NULL, NULL));
        return -1;
    }
    sasl_clt_ready = true;
    return 0;
}

/* SASL_CB_AUTHNAME and SASL_CB_USER (the authorization id: none). */
static int sasl_clt_get_name(void *ctx, int id, const char **result, unsigned *len)
{
    struct sasl_clt *c = ctx;
    const char *v = id == SASL_CB_AUTHNAME ? c->username : "";
    *result = v;
    if (len)
        *len = (unsigned)strlen(v);
    return SASL_OK;
}

static int sasl_clt_get_pass(sasl_conn_t *conn, void *ctx, int id, sasl_secret_t **psecret)
{
    (void)conn;
    (void)id;
    struct sasl_clt *c = ctx;
    *psecret = c->secret;
    return SASL_OK;
}

struct sasl_clt *sasl_clt_new(const struct sasl_clt_args *a, struct sbuf *why)
{
    if (!sasl_clt_ready) {
        sbuf_set(why, "SASL library not initialized");
        return NULL;
    }
    struct sasl_clt *c = xcalloc(1, sizeof(*c));
    c->username = xstrdup(a->username);
    size_t plen = strlen(a->password);
    c->secret_size = sizeof(sasl_secret_t) + plen + 1;
    c->secret = xcalloc(1, c->secret_size);
    c->secret->len = (unsigned long)plen;
    memcpy(c->secret->data, a->password, plen);
    c->cb[0].id = SASL_CB_USER;
    c->cb[0].proc = (int (*)(void))(void (*)(void))sasl_clt_get_name;
    c->cb[0].context = c;
    c->cb[1].id = SASL_CB_AUTHNAME;
    c->cb[1].proc = (int (*)(void))(void (*)(void))sasl_clt_get_name;
    c->cb[1].context = c;
    c->cb[2].id = SASL_CB_PASS;
    c->cb[2].proc = (int (*)(void))(void (*)(void))sasl_clt_get_pass;
    c->cb[2].context = c;
    c->cb[3].id = SASL_CB_LIST_END;
    int r = sasl_client_new(a->service && *a->service ? a->service : "smtp", a->server_name, NULL,
                            NULL, c->cb, 0, &c->conn);
    if (r != SASL_OK) {
        sbuf_set(why, sasl_errstring(r, NULL, NULL));
        c->conn = NULL;
        sasl_clt_free(c);
        return NULL;
    }
    sasl_security_properties_t props;
    memset(&props, 0, sizeof(props));
    props.max_ssf = 0;          /* no security layer: TLS does that job */
    if (a->security & SASL_SRV_SEC_NOPLAINTEXT)
        props.security_flags |= SASL_SEC_NOPLAINTEXT;
    if (a->security & SASL_SRV_SEC_NOACTIVE)
        props.security_flags |= SASL_SEC_NOACTIVE;
    if (a->security & SASL_SRV_SEC_NODICTIONARY)
        props.security_flags |= SASL_SEC_NODICTIONARY;
    if (a->security & SASL_SRV_SEC_NOANONYMOUS)
        props.security_flags |= SASL_SEC_NOANONYMOUS;
    if (a->security & SASL_SRV_SEC_FORWARD_SECRECY)
        props.security_flags |= SASL_SEC_FORWARD_SECRECY;
    if (a->security & SASL_SRV_SEC_MUTUAL_AUTH)
        props.security_flags |= SASL_SEC_MUTUAL_AUTH;
    r = sasl_setprop(c->conn, SASL_SEC_PROPS, &props);
    if (r != SASL_OK) {
        sbuf_set(why, sasl_errstring(r, NULL, NULL));
        sasl_clt_free(c);
        return NULL;
    }
    return c;
}

/* out/outlen into b64 (reset first). */
static int sasl_clt_encode(const char *out, unsigned outlen, struct sbuf *b64, struct sbuf *why)
{
    sbuf_reset(b64);
    if (outlen == 0)
        return 0;
    unsigned max = 4 * ((outlen + 2) / 3) + 1, len = 0;
    char *enc = xmalloc(max);
    int r = sasl_encode64(out, outlen, enc, max, &len);
    if (r != SASL_OK) {
        xfree(enc);
        sbuf_set(why, sasl_errstring(r, NULL, NULL));
        return -1;
    }
    sbuf_append(b64, enc, len);
    xfree(enc);
    return 0;
}

/* The library's reason for failure r: the detailed one when it has it. */
static void sasl_clt_reason(struct sasl_clt *c, int r, struct sbuf *why)
{
    if (r == SASL_NOMECH) {
        sbuf_set(why, "no mechanism available");
        return;
    }
    const char *d = c->conn ? sasl_errdetail(c->conn) : NULL;
    sbuf_set(why, d && *d ? d : sasl_errstring(r, NULL, NULL));
}

int sasl_clt_start(struct sasl_clt *c, const char *mechs, const char **mech, struct sbuf *init_b64,
                   bool *has_init, struct sbuf *why)
{
    const char *out = NULL, *chosen = NULL;
    unsigned outlen = 0;
    sasl_interact_t *interact = NULL;
    *has_init = false;
    sbuf_reset(init_b64);
    int r = sasl_client_start(c->conn, mechs, &interact, &out, &outlen, &chosen);
    if (r != SASL_OK && r != SASL_CONTINUE) {
        sasl_clt_reason(c, r, why);
        return -1;
    }
    snprintf(c->mech, sizeof(c->mech), "%s", chosen ? chosen : "");
    *mech = c->mech;
    if (out != NULL && outlen > 0) {
        if (sasl_clt_encode(out, outlen, init_b64, why) < 0)
            return -1;
        *has_init = true;
    }
    return 0;
}

int sasl_clt_step(struct sasl_clt *c, const char *challenge_b64, struct sbuf *resp_b64,
                  struct sbuf *why)
{
    size_t n = strlen(challenge_b64);
    unsigned max = (unsigned)(n / 4 * 3 + 4), inlen = 0;
    char *in = xmalloc(max);
    in[0] = 0;
    int r = n ? sasl_decode64(challenge_b64, (unsigned)n, in, max, &inlen) : SASL_OK;
    if (r != SASL_OK) {
        xfree(in);
        sbuf_set(why, "malformed SASL challenge from server");
        return -1;
    }
    const char *out = NULL;
    unsigned outlen = 0;
    sasl_interact_t *interact = NULL;
    r = sasl_client_step(c->conn, in, inlen, &interact, &out, &outlen);
    xfree(in);
    if (r != SASL_OK && r != SASL_CONTINUE) {
        sasl_clt_reason(c, r, why);
        return -1;
    }
    return sasl_clt_encode(out ? out : "", out ? outlen : 0, resp_b64, why);
}

void sasl_clt_free(struct sasl_clt *c)
{
    if (c == NULL)
        return;
    if (c->conn)
        sasl_dispose(&c->conn);
    if (c->secret) {
        explicit_bzero(c->secret, c->secret_size);
        xfree(c->secret);
    }
    xfree(c->username);
    xfree(c);
}
