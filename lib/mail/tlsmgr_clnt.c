/*
 * tlsmgr_clnt.c - client of the tlsmgr service
 *
 * Used by: smtpd, smtp/lmtp (through the TLS wrappers' cache callbacks).
 * Interface: see tlsmgr_clnt.h.
 * Errors: see tlsmgr_clnt.h: logged once per outage, then quiet for
 *         TLSMGR_CLNT_RETRY seconds; callers see "not found".
 * Notes: one connection per process, reopened once when an old one turns
 *        out to be dead (tlsmgr restarted). Every reply is checked against
 *        the limits in tlsmgr_clnt.h before it is used.
 */
#include "tlsmgr_clnt.h"
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"
#include "params.h"
#include "sock.h"
#include "stream.h"

#define TLSMGR_CLNT_RETRY 10        /* seconds between reconnect attempts */
#define TLSMGR_CLNT_TIMEOUT 10      /* seconds for one request */

struct tlsmgr_clnt {
    const char *type;
    bool seeded;
    struct stream *s;
    time_t retry_after;
    bool warned;
    struct attr_list *reply;
};

struct tlsmgr_clnt *tlsmgr_clnt_new(const char *cache_type)
{
    struct tlsmgr_clnt *t = xcalloc(1, sizeof(*t));
    t->type = cache_type;
    t->reply = attr_list_new();
    t->reply->max_count = 8;        /* no reply has more attributes */
    return t;
}

void tlsmgr_clnt_free(struct tlsmgr_clnt *t)
{
    if (t == NULL)
        return;
    stream_close(t->s);
    attr_list_free(t->reply);
    xfree(t);
}

void tlsmgr_hex_encode(struct sbuf *out, const unsigned char *buf, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        sbuf_addch(out, hex[buf[i] >> 4]);
        sbuf_addch(out, hex[buf[i] & 0xf]);
    }
}

static int tlsmgr_hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int tlsmgr_hex_decode(struct sbuf *out, const char *in, size_t max)
{
    size_t n = strlen(in);
    sbuf_reset(out);
    if (n % 2 != 0 || n / 2 > max)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = tlsmgr_hex_digit(in[i]), lo = tlsmgr_hex_digit(in[i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        sbuf_addch(out, (char)(hi << 4 | lo));
    }
    return 0;
}

static void tlsmgr_clnt_trouble(struct tlsmgr_clnt *t, const char *what)
{
    if (!t->warned)
        log_warn("problem talking to service private/%s: %s", cfg_str(P_TLSMGR_SERVICE_NAME),
                 what);
    t->warned = true;
    stream_close(t->s);
    t->s = NULL;
    t->retry_after = time(NULL) + TLSMGR_CLNT_RETRY;
}

static bool tlsmgr_clnt_open(struct tlsmgr_clnt *t)
{
    if (t->s)
        return true;
    if (time(NULL) < t->retry_after)
        return false;
    struct sbuf *path = sbuf_new(64);
    mail_service_path(path, MAIL_CLASS_PRIVATE, cfg_str(P_TLSMGR_SERVICE_NAME), false);
    int fd = sock_unix_connect(sbuf_str(path), TLSMGR_CLNT_TIMEOUT);
    sbuf_free(path);
    if (fd < 0) {
        tlsmgr_clnt_trouble(t, strerror(errno));
        return false;
    }
    t->s = stream_open(fd);
    stream_set_timeout(t->s, TLSMGR_CLNT_TIMEOUT);
    int r = attr_expect_proto(t->s, TLSMGR_PROTO);
    if (r < 0) {
        tlsmgr_clnt_trouble(t, r == ATTR_E_PROTO ? "protocol mismatch" : stream_strerror(r));
        return false;
    }
    return true;
}

/* Sends req (an attribute list) and reads the reply into t->reply.
 * Returns the reply's status (0 found/done, 1 not found), or -1. */
static int tlsmgr_clnt_call(struct tlsmgr_clnt *t, const struct attr_list *req)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = t->s != NULL;
        if (!tlsmgr_clnt_open(t))
            return -1;
        if (attr_write(t->s, req) == 0 && attr_read(t->s, t->reply) == 0) {
            long status = -1;
            if (attr_get_long(t->reply, "status", &status) < 0 || status < 0 || status > 1) {
                tlsmgr_clnt_trouble(t, "malformed reply");
                return -1;
            }
            t->warned = false;
            return (int)status;
        }
        stream_close(t->s);
        t->s = NULL;
        if (!reused) {
            tlsmgr_clnt_trouble(t, "lost connection");
            return -1;
        }
    }
    return -1;
}

static int tlsmgr_clnt_get(void *ctx, const char *id, struct sbuf *out)
{
    struct tlsmgr_clnt *t = ctx;
    if (strlen(id) > TLSMGR_ID_MAX)
        return -1;
    struct attr_list *req = attr_list_new();
    attr_add(req, "request", TLSMGR_REQ_LOOKUP);
    attr_add(req, "cache_type", t->type);
    attr_add(req, "cache_id", id);
    int rc = tlsmgr_clnt_call(t, req);
    attr_list_free(req);
    if (rc != 0)
        return -1;
    const char *hex = attr_get(t->reply, "session");
    if (hex == NULL || tlsmgr_hex_decode(out, hex, TLSMGR_SESSION_MAX) < 0 || sbuf_len(out) == 0)
        return -1;
    return 0;
}

static void tlsmgr_clnt_put(void *ctx, const char *id, const unsigned char *der, size_t len)
{
    struct tlsmgr_clnt *t = ctx;
    if (strlen(id) > TLSMGR_ID_MAX || len == 0 || len > TLSMGR_SESSION_MAX)
        return;
    struct sbuf *hex = sbuf_new(2 * len + 1);
    tlsmgr_hex_encode(hex, der, len);
    struct attr_list *req = attr_list_new();
    attr_add(req, "request", TLSMGR_REQ_UPDATE);
    attr_add(req, "cache_type", t->type);
    attr_add(req, "cache_id", id);
    attr_add(req, "session", sbuf_str(hex));
    (void)tlsmgr_clnt_call(t, req);
    attr_list_free(req);
    sbuf_free(hex);
}

static void tlsmgr_clnt_del(void *ctx, const char *id)
{
    struct tlsmgr_clnt *t = ctx;
    if (strlen(id) > TLSMGR_ID_MAX)
        return;
    struct attr_list *req = attr_list_new();
    attr_add(req, "request", TLSMGR_REQ_DELETE);
    attr_add(req, "cache_type", t->type);
    attr_add(req, "cache_id", id);
    (void)tlsmgr_clnt_call(t, req);
    attr_list_free(req);
}

static int tlsmgr_clnt_tktkey(void *ctx, const unsigned char *name, struct tls_tktkey *k)
{
    struct tlsmgr_clnt *t = ctx;
    struct attr_list *req = attr_list_new();
    struct sbuf *b = sbuf_new(2 * TLS_TKT_NAME_LEN + 1);
    if (name)
        tlsmgr_hex_encode(b, name, TLS_TKT_NAME_LEN);
    attr_add(req, "request", TLSMGR_REQ_TKTKEY);
    attr_add(req, "keyname", sbuf_str(b));
    int rc = tlsmgr_clnt_call(t, req);
    attr_list_free(req);
    const char *kn = attr_get(t->reply, "keyname"), *ck = attr_get(t->reply, "cipher_key");
    const char *hk = attr_get(t->reply, "hmac_key");
    long expires = 0;
    int result = -1;
    memset(k, 0, sizeof(*k));
    if (rc == 0 && kn && ck && hk && attr_get_long(t->reply, "expires", &expires) == 0) {
        if (tlsmgr_hex_decode(b, kn, TLS_TKT_NAME_LEN) == 0 && sbuf_len(b) == TLS_TKT_NAME_LEN) {
            memcpy(k->name, sbuf_str(b), TLS_TKT_NAME_LEN);
            if (tlsmgr_hex_decode(b, ck, TLS_TKT_KEY_MAX) == 0 && sbuf_len(b) >= 16) {
                memcpy(k->key, sbuf_str(b), sbuf_len(b));
                k->key_len = sbuf_len(b);
                if (tlsmgr_hex_decode(b, hk, TLS_TKT_HMAC_LEN) == 0
                    && sbuf_len(b) == TLS_TKT_HMAC_LEN) {
                    memcpy(k->hmac, sbuf_str(b), TLS_TKT_HMAC_LEN);
                    k->expires = expires;
                    result = 0;
                }
            }
        }
        if (result < 0)
            log_warn("tlsmgr: malformed ticket key in reply; ignored");
    }
    explicit_bzero(sbuf_data(b), sbuf_len(b));     /* not optimised away */
    sbuf_free(b);
    return result;
}

void tlsmgr_clnt_ops(struct tlsmgr_clnt *t, bool sessions, bool tickets,
                     struct tls_cache_ops *ops)
{
    memset(ops, 0, sizeof(*ops));
    ops->ctx = t;
    if (sessions) {
        ops->get = tlsmgr_clnt_get;
        ops->put = tlsmgr_clnt_put;
        ops->del = tlsmgr_clnt_del;
    }
    if (tickets)
        ops->tktkey = tlsmgr_clnt_tktkey;
}

int tlsmgr_clnt_seed(struct tlsmgr_clnt *t, unsigned char *buf, size_t len)
{
    if (len == 0 || len > TLSMGR_SEED_MAX)
        return -1;
    struct attr_list *req = attr_list_new();
    attr_add(req, "request", TLSMGR_REQ_SEED);
    attr_add_long(req, "size", (long)len);
    int rc = tlsmgr_clnt_call(t, req);
    attr_list_free(req);
    const char *hex = attr_get(t->reply, "seed");
    struct sbuf *b = sbuf_new(len + 1);
    int result = -1;
    if (rc == 0 && hex && tlsmgr_hex_decode(b, hex, len) == 0 && sbuf_len(b) == len) {
        memcpy(buf, sbuf_str(b), len);
        result = 0;
    }
    sbuf_free(b);
    return result;
}

void tlsmgr_clnt_seed_prng(struct tlsmgr_clnt *t)
{
    if (t->seeded)
        return;
    t->seeded = true;
    long n = cfg_long(P_TLS_RANDOM_BYTES);
    if (n <= 0)
        return;
    if (n > TLSMGR_SEED_MAX)
        n = TLSMGR_SEED_MAX;
    unsigned char buf[TLSMGR_SEED_MAX];
    if (tlsmgr_clnt_seed(t, buf, (size_t)n) == 0)
        tls_prng_add(buf, (size_t)n);
    explicit_bzero(buf, sizeof(buf));
}
