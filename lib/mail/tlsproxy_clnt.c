/*
 * tlsproxy_clnt.c - the tlsproxy request protocol: codec and client
 *
 * Used by: smtp/lmtp (smtp_proto.c), postscreen (postscreen_starttls.c),
 *          tlsproxy, unit tests.
 * Interface: see tlsproxy_clnt.h.
 * Errors: returned with a reason; nothing is logged here.
 * Notes: lists travel as one attribute each: "match" holds blank-separated
 *        names, "tlsa" comma-separated "usage selector mtype HEX" records.
 *        Every field is bounded (TLSPROXY_*_MAX) and a text field may not
 *        hold control characters, so a request is small and printable.
 */
#include "tlsproxy_clnt.h"
#include "alloc.h"
#include "mail_proto.h"
#include "sock.h"
#include "stream.h"
#include "tlsmgr_clnt.h"

#define TLSPROXY_REQ_CLIENT "tls_client"
#define TLSPROXY_REQ_SERVER "tls_server"

static const char *tlsproxy_s(const char *v)
{
    return v ? v : "";
}

void tlsproxy_req_encode(const struct tlsproxy_req *r, struct attr_list *l)
{
    attr_list_reset(l);
    attr_add(l, "request", r->server_role ? TLSPROXY_REQ_SERVER : TLSPROXY_REQ_CLIENT);
    attr_add(l, "peer", tlsproxy_s(r->peer));
    attr_add_long(l, "timeout", r->timeout);
    if (r->server_role) {
        attr_add_long(l, "ask_ccert", r->ask_ccert ? 1 : 0);
        return;
    }
    attr_add(l, "ca_file", tlsproxy_s(r->ca_file));
    attr_add(l, "ca_path", tlsproxy_s(r->ca_path));
    attr_add(l, "cert_file", tlsproxy_s(r->cert_file));
    attr_add(l, "key_file", tlsproxy_s(r->key_file));
    attr_add(l, "eccert_file", tlsproxy_s(r->eccert_file));
    attr_add(l, "eckey_file", tlsproxy_s(r->eckey_file));
    attr_add(l, "dcert_file", tlsproxy_s(r->dcert_file));
    attr_add(l, "dkey_file", tlsproxy_s(r->dkey_file));
    attr_add(l, "chain_files", tlsproxy_s(r->chain_files));
    attr_add(l, "fingerprint_digest", tlsproxy_s(r->fingerprint_digest));
    attr_add(l, "dane_digests", tlsproxy_s(r->dane_digests));
    attr_add(l, "cache_type", tlsproxy_s(r->cache_type));
    attr_add_long(l, "verify_depth", r->verify_depth);
    attr_add(l, "servername", tlsproxy_s(r->servername));
    attr_add(l, "cache_id", tlsproxy_s(r->cache_id));
    attr_add_long(l, "protocols", (long)r->protocols);
    attr_add(l, "ciphers", tlsproxy_s(r->ciphers));
    attr_add(l, "host", tlsproxy_s(r->host));
    struct sbuf *b = sbuf_new(128);
    for (size_t i = 0; i < r->nmatch; i++)
        sbuf_catf(b, "%s%s", i ? " " : "", r->match[i]);
    attr_add(l, "match", sbuf_str(b));
    sbuf_set(b, "");
    struct sbuf *hex = sbuf_new(128);
    for (size_t i = 0; i < r->ntlsa; i++) {
        const struct tls_client_tlsa *t = &r->tlsa[i];
        sbuf_reset(hex);
        tlsmgr_hex_encode(hex, t->data, t->len);
        sbuf_catf(b, "%s%u %u %u %s", i ? "," : "", t->usage, t->selector, t->mtype,
                  sbuf_str(hex));
    }
    attr_add(l, "tlsa", sbuf_str(b));
    attr_add(l, "dane_base", tlsproxy_s(r->dane_base));
    attr_add(l, "dane_name2", tlsproxy_s(r->dane_name2));
    sbuf_free(hex);
    sbuf_free(b);
}

/* A bounded, printable text field (absent = ""). */
static char *tlsproxy_get_str(const struct attr_list *l, const char *name, size_t max,
                              struct sbuf *why, bool *bad)
{
    const char *v = attr_get_def(l, name, "");
    size_t len = strlen(v);
    bool ok = len <= max;
    for (size_t i = 0; ok && i < len; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f)
            ok = false;
    if (!ok) {
        if (!*bad)
            sbuf_printf(why, "malformed or oversized attribute \"%s\"", name);
        *bad = true;
        return xstrdup("");
    }
    return xstrdup(v);
}

static long tlsproxy_get_num(const struct attr_list *l, const char *name, long max,
                             struct sbuf *why, bool *bad)
{
    long n = 0;
    if (attr_get(l, name) == NULL)
        return 0;
    if (attr_get_long(l, name, &n) < 0 || n < 0 || n > max) {
        if (!*bad)
            sbuf_printf(why, "malformed attribute \"%s\"", name);
        *bad = true;
        return 0;
    }
    return n;
}

/* "u s m HEX,u s m HEX" into r->tlsa; false on any malformed record. */
static bool tlsproxy_tlsa_parse(const char *text, struct tlsproxy_req *r)
{
    if (*text == 0)
        return true;
    r->tlsa = xcalloc(TLSPROXY_TLSA_MAX, sizeof(*r->tlsa));
    struct sbuf *bin = sbuf_new(64);
    const char *p = text;
    bool ok = true;
    while (ok && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char rec[2 * TLSPROXY_TLSA_DATA_MAX + 32];
        unsigned u, s, m;
        int used = 0;
        if (r->ntlsa >= TLSPROXY_TLSA_MAX || len >= sizeof(rec)) {
            ok = false;
            break;
        }
        memcpy(rec, p, len);
        rec[len] = 0;
        if (sscanf(rec, "%u %u %u %n", &u, &s, &m, &used) != 3 || used <= 0 || u > 3 || s > 1
            || m > 255 || tlsmgr_hex_decode(bin, rec + used, TLSPROXY_TLSA_DATA_MAX) < 0
            || sbuf_len(bin) == 0) {
            ok = false;
            break;
        }
        unsigned char *data = xmalloc(sbuf_len(bin));
        memcpy(data, sbuf_str(bin), sbuf_len(bin));
        r->tlsa[r->ntlsa++] = (struct tls_client_tlsa){ .usage = (unsigned char)u,
                                                        .selector = (unsigned char)s,
                                                        .mtype = (unsigned char)m,
                                                        .data = data,
                                                        .len = sbuf_len(bin) };
        p = end ? end + 1 : p + len;
    }
    sbuf_free(bin);
    return ok;
}

int tlsproxy_req_decode(const struct attr_list *l, bool server_role, struct tlsproxy_req *r,
                        struct sbuf *why)
{
    memset(r, 0, sizeof(*r));
    bool bad = false;
    const char *req = attr_get_def(l, "request", "");
    if (strcmp(req, server_role ? TLSPROXY_REQ_SERVER : TLSPROXY_REQ_CLIENT) != 0) {
        sbuf_printf(why, "unexpected request \"%.64s\"", req);
        return -1;
    }
    r->server_role = server_role;
    r->peer = tlsproxy_get_str(l, "peer", TLSPROXY_STR_MAX, why, &bad);
    r->timeout = tlsproxy_get_num(l, "timeout", 86400, why, &bad);
    r->ask_ccert = tlsproxy_get_num(l, "ask_ccert", 1, why, &bad) == 1;
#define TLSPROXY_STR(f) r->f = tlsproxy_get_str(l, #f, TLSPROXY_STR_MAX, why, &bad)
    TLSPROXY_STR(ca_file);
    TLSPROXY_STR(ca_path);
    TLSPROXY_STR(cert_file);
    TLSPROXY_STR(key_file);
    TLSPROXY_STR(eccert_file);
    TLSPROXY_STR(eckey_file);
    TLSPROXY_STR(dcert_file);
    TLSPROXY_STR(dkey_file);
    TLSPROXY_STR(chain_files);
    TLSPROXY_STR(fingerprint_digest);
    TLSPROXY_STR(dane_digests);
    TLSPROXY_STR(cache_type);
    TLSPROXY_STR(servername);
    TLSPROXY_STR(cache_id);
    TLSPROXY_STR(ciphers);
    TLSPROXY_STR(host);
    TLSPROXY_STR(dane_base);
    TLSPROXY_STR(dane_name2);
#undef TLSPROXY_STR
    r->protocols = (unsigned)tlsproxy_get_num(l, "protocols", 0xffff, why, &bad);
    r->verify_depth = tlsproxy_get_num(l, "verify_depth", 100, why, &bad);
    char *match = tlsproxy_get_str(l, "match", TLSPROXY_STR_MAX, why, &bad);
    r->match = xcalloc(TLSPROXY_MATCH_MAX + 1, sizeof(char *));
    for (char *p = match; !bad && *p;) {
        while (*p == ' ')
            p++;
        if (*p == 0)
            break;
        char *e = p;
        while (*e && *e != ' ')
            e++;
        if (r->nmatch >= TLSPROXY_MATCH_MAX) {
            sbuf_set(why, "too many names in attribute \"match\"");
            bad = true;
            break;
        }
        r->match[r->nmatch++] = xstrndup(p, (size_t)(e - p));
        p = e;
    }
    xfree(match);
    const char *tlsa = attr_get_def(l, "tlsa", "");
    if (!bad && (strlen(tlsa) > TLSPROXY_TLSA_MAX * (2 * TLSPROXY_TLSA_DATA_MAX + 16)
                 || !tlsproxy_tlsa_parse(tlsa, r))) {
        sbuf_set(why, "malformed or oversized attribute \"tlsa\"");
        bad = true;
    }
    if (bad) {
        tlsproxy_req_free(r);
        return -1;
    }
    return 0;
}

void tlsproxy_req_free(struct tlsproxy_req *r)
{
    xfree(r->peer);
    xfree(r->ca_file);
    xfree(r->ca_path);
    xfree(r->cert_file);
    xfree(r->key_file);
    xfree(r->eccert_file);
    xfree(r->eckey_file);
    xfree(r->dcert_file);
    xfree(r->dkey_file);
    xfree(r->chain_files);
    xfree(r->fingerprint_digest);
    xfree(r->dane_digests);
    xfree(r->cache_type);
    xfree(r->servername);
    xfree(r->cache_id);
    xfree(r->ciphers);
    xfree(r->host);
    xfree(r->dane_base);
    xfree(r->dane_name2);
    for (size_t i = 0; i < r->nmatch; i++)
        xfree(r->match[i]);
    xfree(r->match);
    for (size_t i = 0; i < r->ntlsa; i++)
        xfree((void *)r->tlsa[i].data);
    xfree(r->tlsa);
    memset(r, 0, sizeof(*r));
}

void tlsproxy_res_encode(const struct tlsproxy_res *r, struct attr_list *l)
{
    const struct tls_client_info *i = &r->info;
    attr_list_reset(l);
    attr_add_long(l, "status", r->status);
    attr_add(l, "reason", r->reason);
    if (r->status != 0)
        return;
    attr_add(l, "protocol", i->protocol);
    attr_add(l, "cipher", i->cipher);
    attr_add_long(l, "bits", i->bits);
    attr_add_long(l, "alg_bits", i->alg_bits);
    attr_add(l, "peer_cn", i->peer_cn);
    attr_add(l, "verify_error", i->verify_error);
    attr_add(l, "fingerprint", i->fingerprint);
    attr_add(l, "pkey_fingerprint", i->pkey_fingerprint);
    attr_addf(l, "flags", "%s%s%s%s%s%s", i->trusted ? "t" : "", i->name_matched ? "n" : "",
              i->have_cert ? "c" : "", i->reused ? "r" : "", i->dane ? "d" : "",
              i->dane_matched ? "m" : "");
    attr_add_long(l, "dane_usage", i->dane_usage);
    attr_add_long(l, "matched", (long)r->matched);
}

/* Copies the text of name into out (size bytes with the NUL); -1 when it
 * does not fit or holds control characters. */
static int tlsproxy_res_str(const struct attr_list *l, const char *name, char *out, size_t size)
{
    const char *v = attr_get_def(l, name, "");
    for (const char *p = v; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return -1;
    return strlcpy(out, v, size) < size ? 0 : -1;
}

int tlsproxy_res_decode(const struct attr_list *l, struct tlsproxy_res *r, struct sbuf *why)
{
    memset(r, 0, sizeof(*r));
    struct tls_client_info *i = &r->info;
    long status = -1, n = 0;
    if (attr_get_long(l, "status", &status) < 0 || (status != 0 && status != -1)) {
        sbuf_set(why, "malformed tlsproxy reply (status)");
        return -1;
    }
    r->status = (int)status;
    if (tlsproxy_res_str(l, "reason", r->reason, sizeof(r->reason)) < 0) {
        sbuf_set(why, "malformed tlsproxy reply (reason)");
        return -1;
    }
    if (r->status != 0)
        return 0;
    if (tlsproxy_res_str(l, "protocol", i->protocol, sizeof(i->protocol)) < 0
        || tlsproxy_res_str(l, "cipher", i->cipher, sizeof(i->cipher)) < 0
        || tlsproxy_res_str(l, "peer_cn", i->peer_cn, sizeof(i->peer_cn)) < 0
        || tlsproxy_res_str(l, "verify_error", i->verify_error, sizeof(i->verify_error)) < 0
        || tlsproxy_res_str(l, "fingerprint", i->fingerprint, sizeof(i->fingerprint)) < 0
        || tlsproxy_res_str(l, "pkey_fingerprint", i->pkey_fingerprint,
                            sizeof(i->pkey_fingerprint)) < 0) {
        sbuf_set(why, "malformed tlsproxy reply (text field)");
        return -1;
    }
    if (attr_get_long(l, "bits", &n) == 0 && n >= 0 && n <= 65536)
        i->bits = (int)n;
    if (attr_get_long(l, "alg_bits", &n) == 0 && n >= 0 && n <= 65536)
        i->alg_bits = (int)n;
    if (attr_get_long(l, "dane_usage", &n) == 0 && n >= 0 && n <= 3)
        i->dane_usage = (int)n;
    if (attr_get_long(l, "matched", &n) == 0 && n >= 0 && n < (1L << TLSPROXY_MATCH_MAX))
        r->matched = (unsigned)n;
    const char *f = attr_get_def(l, "flags", "");
    i->trusted = strchr(f, 't') != NULL;
    i->name_matched = strchr(f, 'n') != NULL;
    i->have_cert = strchr(f, 'c') != NULL;
    i->reused = strchr(f, 'r') != NULL;
    i->dane = strchr(f, 'd') != NULL;
    i->dane_matched = strchr(f, 'm') != NULL;
    return 0;
}

int tlsproxy_clnt_request(const char *service, int fd, const struct tlsproxy_req *req,
                          int timeout, struct sbuf *why)
{
    struct sbuf *path = sbuf_new(64);
    mail_service_path(path, MAIL_CLASS_PRIVATE, service, false);
    int sock = sock_unix_connect(sbuf_str(path), timeout);
    if (sock < 0) {
        sbuf_printf(why, "tlsproxy service unavailable: connect to %s: %m", sbuf_str(path));
        sbuf_free(path);
        return -1;
    }
    sbuf_free(path);
    if (sock_send_fd(sock, fd, req->server_role ? TLSPROXY_BYTE_SERVER : TLSPROXY_BYTE_CLIENT,
                     timeout) < 0) {
        sbuf_printf(why, "tlsproxy service unavailable: send connection: %m");
        close(sock);
        return -1;
    }
    struct stream *s = stream_open(sock);
    stream_set_timeout(s, timeout);
    struct attr_list *l = attr_list_new();
    tlsproxy_req_encode(req, l);
    int r = attr_write(s, l);
    attr_list_free(l);
    if (r < 0) {
        sbuf_printf(why, "tlsproxy service unavailable: %s", stream_strerror(r));
        stream_close(s);
        return -1;
    }
    stream_free_keep_fd(s);
    return sock;
}

int tlsproxy_clnt_reply(const char *buf, size_t len, size_t *used, struct tlsproxy_res *res,
                        struct sbuf *why)
{
    memset(res, 0, sizeof(*res));
    res->status = -1;
    struct attr_list *l = attr_list_new();
    int r = attr_decode(buf, len, l, used);
    if (r == 1 && tlsproxy_res_decode(l, res, why) < 0)
        r = -1;
    else if (r == 1 && res->status != 0) {
        sbuf_set(why, res->reason[0] ? res->reason : "TLS handshake failed");
        r = -1;
    } else if (r < 0) {
        sbuf_set(why, "malformed tlsproxy reply");
        r = -1;
    }
    attr_list_free(l);
    return r;
}

struct stream *tlsproxy_clnt_start(const char *service, int fd, const struct tlsproxy_req *req,
                                   int timeout, struct tlsproxy_res *res, struct sbuf *why)
{
    memset(res, 0, sizeof(*res));
    res->status = -1;
    int sock = tlsproxy_clnt_request(service, fd, req, timeout, why);
    if (sock < 0)
        return NULL;
    struct stream *s = stream_open(sock);
    /* The handshake runs while we wait: its own limit, plus ours. */
    stream_set_timeout(s, (int)(req->timeout + timeout));
    struct attr_list *l = attr_list_new();
    int r = attr_read(s, l);
    if (r < 0) {
        sbuf_printf(why, "tlsproxy service unavailable: %s",
                    r == STREAM_E_EOF ? "lost connection" : stream_strerror(r));
        goto fail;
    }
    if (tlsproxy_res_decode(l, res, why) < 0)
        goto fail;
    if (res->status != 0) {
        sbuf_set(why, res->reason[0] ? res->reason : "TLS handshake failed");
        goto fail;
    }
    attr_list_free(l);
    return s;
fail:
    attr_list_free(l);
    stream_close(s);
    return NULL;
}
