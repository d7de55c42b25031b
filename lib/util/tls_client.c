/*
 * tls_client.c - TLS client sessions on a stream (OpenSSL wrapper)
 *
 * Used by: smtp/lmtp.
 * Interface: see tls_client.h.
 * Errors: returned with a reason; nothing is logged here.
 * Notes: the handshake, session I/O and error text come from tls_common.c.
 *        Peer verification is recorded, not enforced (SSL_VERIFY_NONE
 *        still runs the chain check): the caller applies its policy
 *        (smtp_tls_security_level) and logs the outcome. The system's
 *        default trust store is not loaded, like Postfix's default
 *        (tls_append_default_CAfile = no). DANE (RFC 7672) is OpenSSL's
 *        own: SSL_CTX_dane_enable() on every context with the digests of
 *        tls_dane_digests, SSL_dane_enable()/SSL_dane_tlsa_add() per
 *        session when the caller passes TLSA records; the match (or its
 *        absence) is in the verify result, read by tls_client_info().
 *        tls_client_info() also gives the peer's certificate and public
 *        key fingerprints (the "fingerprint" level compares them).
 *        Local trust anchors (tafile) use the same machinery, as Postfix
 *        does: each certificate or public key becomes a DANE-TA(2) and a
 *        DANE-EE(3) record with matching type 0 (OpenSSL's DANE-TA never
 *        matches the leaf; the EE twin lets an anchor be the peer's own
 *        certificate or key). With TLSA records OpenSSL ignores the CA
 *        store and the validity dates of the matched anchor (checked with
 *        OpenSSL 3.0: an expired intermediate anchor still verifies).
 *        SSL_dane_enable() gets no base domain, so OpenSSL checks no names:
 *        the caller's tls_client_matches() does, as for CA trust.
 */
#include "tls_client.h"
#include "alloc.h"
#include "tls_common.h"
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "tls_dl.h"

struct tls_client_ctx {
    SSL_CTX *ssl_ctx;
    const EVP_MD *digest;       /* fingerprints (*_tls_fingerprint_digest) */
    uint32_t dane_mtypes;       /* bit N: TLSA matching type N is usable */
    struct tls_cache_ops cache;
    unsigned host_flags;        /* X509_check_host() flags for name matches */
};

#define TLS_CLIENT_SESSION_MAX 16384

/* OpenSSL has a session (after the handshake, or a TLS 1.3 ticket that
 * arrived later): save it under the cache id the session was started
 * with (the SSL's app data). We keep no reference: return 0. */
static int tls_client_new_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_client_ctx *ctx = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    const char *id = SSL_get_app_data(ssl);
    int n = i2d_SSL_SESSION(sess, NULL);
    if (ctx == NULL || ctx->cache.put == NULL || id == NULL || n <= 0
        || n > TLS_CLIENT_SESSION_MAX || !SSL_SESSION_is_resumable(sess))
        return 0;
    unsigned char *der = xmalloc((size_t)n), *p = der;
    if (i2d_SSL_SESSION(sess, &p) == n)
        ctx->cache.put(ctx->cache.ctx, id, der, (size_t)n);
    OPENSSL_cleanse(der, (size_t)n);
    xfree(der);
    return 0;
}

/* Frees ssl and the cache id it carries. */
static void tls_client_ssl_free(SSL *ssl)
{
    char *id = SSL_get_app_data(ssl);
    SSL_free(ssl);
    xfree(id);
}

/* Offers the cached session of id on ssl, when there is a usable one. */
static void tls_client_offer_session(struct tls_client_ctx *ctx, SSL *ssl, const char *id)
{
    struct sbuf *der = sbuf_new(256);
    if (ctx->cache.get(ctx->cache.ctx, id, der) == 0) {
        const unsigned char *p = (const unsigned char *)sbuf_str(der);
        SSL_SESSION *sess = d2i_SSL_SESSION(NULL, &p, (long)sbuf_len(der));
        if (sess && SSL_SESSION_is_resumable(sess))
            SSL_set_session(ssl, sess);
        SSL_SESSION_free(sess);
        ERR_clear_error();
    }
    OPENSSL_cleanse(sbuf_data(der), sbuf_len(der));
    sbuf_free(der);
}

struct tls_client_conn {
    SSL *ssl;
    const EVP_MD *digest;       /* the context's fingerprint digest */
    unsigned host_flags;        /* the context's name matching flags */
    bool anchors;               /* verified against local trust anchors */
};

/* ---- local trust anchors (tafile) ---- */

struct tls_client_anchors {
    struct tls_client_tlsa *rec;    /* two records per anchor (TA and EE) */
    size_t nrec;
};

/* The files read so far (one process reads each once). */
struct tls_client_anchor_file {
    char *path;
    struct tls_client_anchors *a;
    struct tls_client_anchor_file *next;
};
static struct tls_client_anchor_file *tls_client_anchor_files;

static void tls_client_anchors_free(struct tls_client_anchors *a)
{
    for (size_t i = 0; i < a->nrec; i += 2)
        xfree((void *)a->rec[i].data);
    xfree(a->rec);
    xfree(a);
}

/* Appends the DANE-TA(2) and DANE-EE(3) records of one anchor (DER of a
 * certificate, selector 0, or of a SubjectPublicKeyInfo, selector 1). */
static void tls_client_anchor_add(struct tls_client_anchors *a, unsigned char selector,
                                  const unsigned char *der, size_t len)
{
    unsigned char *copy = xmalloc(len);
    memcpy(copy, der, len);
    a->rec = xrealloc(a->rec, (a->nrec + 2) * sizeof(*a->rec));
    a->rec[a->nrec++] = (struct tls_client_tlsa){ 2, selector, 0, copy, len };
    a->rec[a->nrec++] = (struct tls_client_tlsa){ 3, selector, 0, copy, len };
}

/* Reads path into a new anchor set; NULL with why filled. */
static struct tls_client_anchors *tls_client_anchors_read(const char *path, struct sbuf *why)
{
    ERR_clear_error();
    BIO *bp = BIO_new_file(path, "r");
    if (bp == NULL) {
        int err = errno;
        sbuf_printf(why, "cannot open trust anchor file %s: %s", path, strerror(err));
        ERR_clear_error();
        return NULL;
    }
    struct tls_client_anchors *a = xcalloc(1, sizeof(*a));
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long len = 0;
    bool bad = false;
    while (!bad && PEM_read_bio(bp, &name, &header, &data, &len)) {
        const unsigned char *p = data;
        if (strcmp(name, PEM_STRING_X509) == 0 || strcmp(name, PEM_STRING_X509_OLD) == 0) {
            X509 *x = d2i_X509(NULL, &p, len);
            if (x == NULL || p - data != len) {
                sbuf_printf(why, "malformed certificate in trust anchor file %s", path);
                bad = true;
            } else
                tls_client_anchor_add(a, 0, data, (size_t)len);
            X509_free(x);
        } else if (strcmp(name, PEM_STRING_PUBLIC) == 0) {
            EVP_PKEY *k = d2i_PUBKEY(NULL, &p, len);
            if (k == NULL || p - data != len) {
                sbuf_printf(why, "malformed public key in trust anchor file %s", path);
                bad = true;
            } else
                tls_client_anchor_add(a, 1, data, (size_t)len);
            EVP_PKEY_free(k);
        }
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
    }
    BIO_free(bp);
    /* The loop ends at the end of the file (no further PEM start line) or
     * at a read error. */
    if (!bad && ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE) {
        sbuf_printf(why, "cannot read trust anchor file %s", path);
        tls_common_errors(why);
        bad = true;
    } else if (!bad && a->nrec == 0) {
        sbuf_printf(why, "no certificate or public key in trust anchor file %s", path);
        bad = true;
    }
    ERR_clear_error();
    if (bad) {
        tls_client_anchors_free(a);
        return NULL;
    }
    return a;
}

const struct tls_client_anchors *tls_client_anchors_load(const char *path, struct sbuf *why)
{
    for (struct tls_client_anchor_file *f = tls_client_anchor_files; f; f = f->next)
        if (strcmp(f->path, path) == 0)
            return f->a;
    if (tls_dl_load(why) < 0)
        return NULL;
    struct tls_client_anchors *a = tls_client_anchors_read(path, why);
    if (a == NULL)
        return NULL;
    struct tls_client_anchor_file *f = xcalloc(1, sizeof(*f));
    f->path = xstrdup(path);
    f->a = a;
    f->next = tls_client_anchor_files;
    tls_client_anchor_files = f;
    return a;
}

/* Enables OpenSSL's DANE support on c with the digests of a
 * tls_dane_digests list: "name" (sha256 = matching type 1, sha512 = 2) or
 * "name=number"; earlier names are preferred. The standard types left out
 * are switched off. 0 with *mtypes set, or -1 with why filled. */
static int tls_client_dane_setup(SSL_CTX *c, const char *list, uint32_t *mtypes, struct sbuf *why)
{
    if (SSL_CTX_dane_enable(c) <= 0) {
        sbuf_set(why, "cannot enable DANE support");
        tls_common_errors(why);
        return -1;
    }
    if (list == NULL || *list == 0)
        list = "sha512 sha256";
    char name[64];
    size_t count = 0;
    *mtypes = 1u;       /* matching type 0: the full value */
    for (const char *q = list;; count++) {
        q += strspn(q, " \t,:");
        if (*q == 0)
            break;
        size_t n = strcspn(q, " \t,:");
        if (n >= sizeof(name)) {
            sbuf_set(why, "tls_dane_digests: name too long");
            return -1;
        }
        memcpy(name, q, n);
        name[n] = 0;
        q += n;
        unsigned long num = 0;
        char *eq = strchr(name, '=');
        if (eq) {
            *eq = 0;
            char *end;
            num = strtoul(eq + 1, &end, 10);
            if (*end != 0 || eq[1] == 0 || num == 0 || num > 255) {
                sbuf_printf(why, "tls_dane_digests: bad matching type in \"%s=%s\"", name, eq + 1);
                return -1;
            }
        } else if (strcasecmp(name, "sha256") == 0)
            num = 1;
        else if (strcasecmp(name, "sha512") == 0)
            num = 2;
        else {
            sbuf_printf(why, "tls_dane_digests: \"%s\" needs a matching type (name=number)", name);
            return -1;
        }
        const EVP_MD *md = EVP_get_digestbyname(name);
        if (md == NULL) {
            sbuf_printf(why, "tls_dane_digests: unknown digest \"%s\"", name);
            return -1;
        }
        /* Preference: the first name gets the highest ordinal. */
        if (SSL_CTX_dane_mtype_set(c, md, (uint8_t)num, (uint8_t)(255 - (count & 0xff))) <= 0) {
            sbuf_printf(why, "tls_dane_digests: cannot use \"%s\"", name);
            tls_common_errors(why);
            return -1;
        }
        if (num < 32)
            *mtypes |= 1u << num;
    }
    for (uint8_t std = 1; std <= 2; std++)
        if (!(*mtypes & (1u << std)))
            SSL_CTX_dane_mtype_set(c, NULL, std, 0);
    return 0;
}

struct tls_client_ctx *tls_client_ctx_new(const struct tls_client_opts *o, struct sbuf *why)
{
    SSL_CTX *c = tls_common_ctx_new(false, why);
    if (c == NULL)
        return NULL;
    /* The handshake never stops for the server's certificate: the caller
     * judges the verify result by its security level. */
    tls_common_verify_depth(c, SSL_VERIFY_NONE, NULL, o->verify_depth);
    uint32_t mtypes = 0;
    if (tls_client_dane_setup(c, o->dane_digests, &mtypes, why) < 0) {
        SSL_CTX_free(c);
        return NULL;
    }
    if (tls_common_load_ca(c, o->ca_file, o->ca_path, o->append_default_ca, why) < 0) {
        SSL_CTX_free(c);
        return NULL;
    }
    /* Client certificates: none is fine (most servers ask for none). */
    const struct tls_keyfiles k = { o->cert_file,  o->key_file,  o->eccert_file, o->eckey_file,
                                    o->dcert_file, o->dkey_file, o->chain_files };
    struct sbuf *kwhy = sbuf_new(128);
    if (tls_common_load_keys(c, &k, kwhy) < 0) {
        sbuf_printf(why, "cannot load client certificate: %s", sbuf_str(kwhy));
        sbuf_free(kwhy);
        SSL_CTX_free(c);
        return NULL;
    }
    sbuf_free(kwhy);
    const char *dname = o->fingerprint_digest && *o->fingerprint_digest ? o->fingerprint_digest
                                                                        : "sha256";
    const EVP_MD *md = EVP_get_digestbyname(dname);
    if (md == NULL) {
        sbuf_printf(why, "unknown fingerprint digest \"%s\"", dname);
        SSL_CTX_free(c);
        return NULL;
    }
    if (o->ssl_options)
        SSL_CTX_set_options(c, o->ssl_options);     /* tls_ssl_options */
    struct tls_client_ctx *ctx = xcalloc(1, sizeof(*ctx));
    ctx->ssl_ctx = c;
    ctx->digest = md;
    /* Postfix's name matching: "*" only as a whole leftmost label, and
     * (tls_wildcard_matches_multiple_labels) standing for one label or
     * several. */
    ctx->host_flags = X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS
                      | (o->wildcard_multi_label ? X509_CHECK_FLAG_MULTI_LABEL_WILDCARDS : 0);
    ctx->dane_mtypes = mtypes;
    if (o->cache && o->cache->get && o->cache->put) {
        ctx->cache = *o->cache;
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
        SSL_CTX_sess_set_new_cb(c, tls_client_new_cb);
    }
    SSL_CTX_set_app_data(c, ctx);
    return ctx;
}

bool tls_client_dane_mtype_ok(const struct tls_client_ctx *ctx, unsigned mtype)
{
    return mtype < 32 && (ctx->dane_mtypes & (1u << mtype)) != 0;
}

void tls_client_ctx_free(struct tls_client_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    xfree(ctx);
}

/* May s go in the SNI extension? A host name (RFC 6066: letters, digits,
 * '-', '_' and dots, no address literal), not too long. */
static bool tls_client_is_hostname(const char *s)
{
    unsigned char buf[16];
    if (s == NULL || *s == 0 || *s == '.' || strlen(s) >= 256 || inet_pton(AF_INET, s, buf) == 1
        || inet_pton(AF_INET6, s, buf) == 1)
        return false;
    return strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.")
           == strlen(s);
}

/* The protocol versions of mask on one session: the range from the lowest
 * to the highest, with the holes inside it switched off. */
static int tls_client_set_protocols(SSL *ssl, unsigned mask, struct sbuf *why)
{
    int lo, hi;
    uint64_t holes;
    if (tls_common_proto_range(mask, &lo, &hi, &holes, why) < 0)
        return -1;
    if (SSL_set_min_proto_version(ssl, lo) != 1 || SSL_set_max_proto_version(ssl, hi) != 1) {
        sbuf_set(why, "cannot set the TLS protocol range");
        tls_common_errors(why);
        return -1;
    }
    if (holes)
        SSL_set_options(ssl, holes);
    return 0;
}

/* Arms DANE verification on ssl with o's TLSA records. At least one
 * record must be accepted by OpenSSL; 0, or -1 with why filled. */
static int tls_client_dane_start(SSL *ssl, const struct tls_client_sess_opts *o, struct sbuf *why)
{
    if (SSL_dane_enable(ssl, o->dane_base) <= 0) {
        sbuf_printf(why, "cannot enable DANE for %s", o->dane_base ? o->dane_base : "?");
        tls_common_errors(why);
        return -1;
    }
    if (o->dane_name2 && *o->dane_name2)
        SSL_add1_host(ssl, o->dane_name2);
    if (o->dane_name3 && *o->dane_name3)
        SSL_add1_host(ssl, o->dane_name3);
    /* RFC 7672 section 3.1.1: DANE-EE(3) binds the key, not a name. */
    SSL_dane_set_flags(ssl, DANE_FLAG_NO_DANE_EE_NAMECHECKS);
    size_t added = 0;
    for (size_t i = 0; i < o->ntlsa; i++) {
        const struct tls_client_tlsa *t = &o->tlsa[i];
        if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
            added++;
        else
            ERR_clear_error();      /* unusable or malformed: skipped */
    }
    if (added == 0) {
        sbuf_set(why, "no usable TLSA records");
        return -1;
    }
    return 0;
}

/* Arms verification against local trust anchors on ssl: DANE without a
 * base domain (no SNI change, no OpenSSL name checks). 0, or -1 with why
 * filled. */
static int tls_client_anchors_start(SSL *ssl, const struct tls_client_sess_opts *o,
                                    struct sbuf *why)
{
    if (SSL_dane_enable(ssl, NULL) <= 0) {
        sbuf_set(why, "cannot enable trust anchor verification");
        tls_common_errors(why);
        return -1;
    }
    size_t added = 0;
    for (size_t i = 0; i < o->nanchors; i++) {
        const struct tls_client_anchors *a = o->anchors[i];
        for (size_t k = 0; a && k < a->nrec; k++) {
            const struct tls_client_tlsa *t = &a->rec[k];
            if (SSL_dane_tlsa_add(ssl, t->usage, t->selector, t->mtype, t->data, t->len) > 0)
                added++;
            else
                ERR_clear_error();
        }
    }
    if (added == 0) {
        sbuf_set(why, "no usable trust anchors");
        return -1;
    }
    return 0;
}

struct tls_client_conn *tls_client_start(struct tls_client_ctx *ctx, struct stream *s,
                                         const char *servername, int timeout, struct sbuf *why)
{
    return tls_client_start_opts(ctx, s, servername, timeout, NULL, why);
}

struct tls_client_conn *tls_client_prepare(struct tls_client_ctx *ctx, int fd,
                                          const char *servername,
                                          const struct tls_client_sess_opts *o, struct sbuf *why)
{
    SSL *ssl = tls_common_session(ctx->ssl_ctx, fd, why);
    if (ssl == NULL)
        return NULL;
    if (o && o->protocols && tls_client_set_protocols(ssl, o->protocols, why) < 0) {
        tls_client_ssl_free(ssl);
        return NULL;
    }
    if (o && o->ciphers && *o->ciphers && SSL_set_cipher_list(ssl, o->ciphers) != 1) {
        sbuf_printf(why, "invalid cipher list \"%s\"", o->ciphers);
        tls_common_errors(why);
        tls_client_ssl_free(ssl);
        return NULL;
    }
    if (tls_client_is_hostname(servername))
        SSL_set_tlsext_host_name(ssl, servername);
    bool anchors = o && o->ntlsa == 0 && o->nanchors > 0;
    if (o && o->cache_id && o->ntlsa == 0 && !anchors && ctx->cache.get) {
        SSL_set_app_data(ssl, xstrdup(o->cache_id));
        tls_client_offer_session(ctx, ssl, o->cache_id);
    }
    if (o && o->ntlsa > 0 && tls_client_dane_start(ssl, o, why) < 0) {
        tls_client_ssl_free(ssl);
        return NULL;
    }
    if (anchors && tls_client_anchors_start(ssl, o, why) < 0) {
        tls_client_ssl_free(ssl);
        return NULL;
    }
    struct tls_client_conn *c = xcalloc(1, sizeof(*c));
    c->ssl = ssl;
    c->digest = ctx->digest;
    c->host_flags = ctx->host_flags;
    c->anchors = anchors;
    return c;
}

int tls_client_handshake_step(struct tls_client_conn *c, bool *want_write, struct sbuf *why)
{
    return tls_common_handshake_step(c->ssl, false, want_write, why);
}

ssize_t tls_client_read(struct tls_client_conn *c, void *buf, size_t len, bool *want_write)
{
    return tls_common_read(c->ssl, -1, buf, len, want_write);
}

ssize_t tls_client_write(struct tls_client_conn *c, const void *buf, size_t len, bool *want_read)
{
    return tls_common_write(c->ssl, -1, buf, len, want_read);
}

size_t tls_client_pending(struct tls_client_conn *c)
{
    return tls_common_pending(c->ssl);
}

struct tls_client_conn *tls_client_start_opts(struct tls_client_ctx *ctx, struct stream *s,
                                              const char *servername, int timeout,
                                              const struct tls_client_sess_opts *o,
                                              struct sbuf *why)
{
    if (stream_pending(s) != 0) {
        /* Bytes sent before the handshake would be trusted as if protected. */
        sbuf_set(why, "unexpected plaintext data before TLS handshake");
        return NULL;
    }
    struct tls_client_conn *c = tls_client_prepare(ctx, stream_fd(s), servername, o, why);
    if (c == NULL)
        return NULL;
    if (tls_common_handshake(c->ssl, stream_fd(s), false, timeout, why) < 0) {
        tls_client_ssl_free(c->ssl);
        xfree(c);
        return NULL;
    }
    stream_set_io(s, tls_common_read, tls_common_write, c->ssl);
    return c;
}

void tls_client_info(struct tls_client_conn *c, const char *match_name,
                     struct tls_client_info *info)
{
    memset(info, 0, sizeof(*info));
    tls_common_cipher(c->ssl, info->protocol, sizeof(info->protocol), info->cipher,
                      sizeof(info->cipher), &info->bits, &info->alg_bits);
    info->reused = SSL_session_reused(c->ssl) == 1;
    info->anchor_depth = -1;
    if (c->anchors) {
        /* Local trust anchors: not DANE as far as the caller is concerned. */
        if (SSL_get_verify_result(c->ssl) == X509_V_OK)
            info->anchor_depth = SSL_get0_dane_authority(c->ssl, NULL, NULL);
    } else
        info->dane = SSL_get0_dane(c->ssl) != NULL;
    if (info->dane) {
        uint8_t usage = 0;
        /* A match is also a verified chain (the verify result is OK). */
        if (SSL_get_verify_result(c->ssl) == X509_V_OK
            && SSL_get0_dane_tlsa(c->ssl, &usage, NULL, NULL, NULL, NULL) >= 0) {
            info->dane_matched = true;
            info->dane_usage = usage;
        }
    }
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (peer == NULL)
        return;
    info->have_cert = true;
    tls_common_cn(X509_get_subject_name(peer), info->peer_cn, sizeof(info->peer_cn));
    /* Fingerprints of the certificate and of its public key (the DER
     * SubjectPublicKeyInfo), with the context's digest. */
    const EVP_MD *dg = c->digest;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(peer, dg, md, &mdlen) == 1)
        tls_common_hex(md, mdlen, info->fingerprint, sizeof(info->fingerprint));
    unsigned char *der = NULL;
    int dlen = i2d_PUBKEY(X509_get0_pubkey(peer), &der);
    if (dlen > 0 && EVP_Digest(der, (size_t)dlen, md, &mdlen, dg, NULL) == 1)
        tls_common_hex(md, mdlen, info->pkey_fingerprint, sizeof(info->pkey_fingerprint));
    OPENSSL_free(der);
    ERR_clear_error();
    long vr = SSL_get_verify_result(c->ssl);
    if (vr == X509_V_OK) {
        info->trusted = true;
        if (match_name && *match_name)
            info->name_matched = X509_check_host(peer, match_name, 0, c->host_flags, NULL) == 1;
    } else if (c->anchors && vr == X509_V_ERR_DANE_NO_MATCH)
        strlcpy(info->verify_error, "no trust anchor matches the certificate chain",
                sizeof(info->verify_error));
    else
        strlcpy(info->verify_error, X509_verify_cert_error_string(vr), sizeof(info->verify_error));
    X509_free(peer);
}

bool tls_client_matches(struct tls_client_conn *c, const char *name)
{
    if (name == NULL || *name == 0 || (name[0] == '.' && name[1] == 0)
        || SSL_get_verify_result(c->ssl) != X509_V_OK)
        return false;
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (peer == NULL)
        return false;
    /* OpenSSL reads a leading '.' as "any subdomain of" */
    bool ok = X509_check_host(peer, name, 0, c->host_flags, NULL) == 1;
    X509_free(peer);
    return ok;
}

void tls_client_stop(struct tls_client_conn *c, struct stream *s)
{
    if (c == NULL)
        return;
    char *id = SSL_get_app_data(c->ssl);
    tls_common_stop(c->ssl, s);
    xfree(id);
    xfree(c);
}
