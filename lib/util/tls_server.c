/*
 * tls_server.c - TLS server sessions on a stream (OpenSSL wrapper)
 *
 * Used by: smtpd.
 * Interface: see tls_server.h.
 * Errors: returned with a reason; nothing is logged here.
 * Notes: safe defaults that do not depend on the caller: no compression,
 *        no renegotiation, no SSLv2/SSLv3 ever, ephemeral (EC)DH only as
 *        OpenSSL's security level allows, DH parameters chosen by OpenSSL
 *        to match the certificate strength. Client certificates are
 *        recorded, not enforced (the verify callback accepts): the caller
 *        applies smtpd_tls_req_ccert after the handshake, so that it can
 *        answer in SMTP rather than with a TLS alert.
 */
#include "tls_server.h"
#include "alloc.h"
#include "tls_common.h"
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "tls_dl.h"
#include <ctype.h>

/* Ticket keys this process knows: the current one (encrypts) and a few
 * older ones (still decrypt tickets issued under them). */
#define TLS_SERVER_OLD_KEYS 3
#define TLS_SERVER_SESSION_MAX 16384

struct tls_server_ctx {
    SSL_CTX *ssl_ctx;
    const EVP_MD *digest;
    struct tls_cache_ops cache;
    const EVP_CIPHER *tkt_cipher;
    struct tls_tktkey tkt_cur;
    bool have_cur;
    struct tls_tktkey tkt_old[TLS_SERVER_OLD_KEYS];
    size_t nold;
    struct tls_sni_ops sni;     /* find == NULL: no SNI maps */
};

/* Per-session SNI outcome, the SSL's app data (server sessions only). */
struct tls_server_sni_seen {
    enum tls_sni_status status;
    char name[256];
};

/* ---- sessions shared through tlsmgr ---------------------------------- */

static struct tls_server_ctx *tls_server_ctx_of(SSL *ssl)
{
    return SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
}

static void tls_server_sess_key(struct sbuf *key, const unsigned char *id, unsigned int len)
{
    static const char hex[] = "0123456789abcdef";
    sbuf_reset(key);
    for (unsigned int i = 0; i < len; i++) {
        sbuf_addch(key, hex[id[i] >> 4]);
        sbuf_addch(key, hex[id[i] & 0xf]);
    }
}

/* OpenSSL made a session: store it (we keep no reference: return 0). */
static int tls_server_new_cb(SSL *ssl, SSL_SESSION *sess)
{
    struct tls_server_ctx *ctx = tls_server_ctx_of(ssl);
    unsigned int idlen = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &idlen);
    int n = i2d_SSL_SESSION(sess, NULL);
    if (ctx == NULL || ctx->cache.put == NULL || idlen == 0 || n <= 0
        || n > TLS_SERVER_SESSION_MAX)
        return 0;
    unsigned char *der = xmalloc((size_t)n), *p = der;
    struct sbuf *key = sbuf_new(2 * idlen + 1);
    tls_server_sess_key(key, id, idlen);
    if (i2d_SSL_SESSION(sess, &p) == n)
        ctx->cache.put(ctx->cache.ctx, sbuf_str(key), der, (size_t)n);
    sbuf_free(key);
    OPENSSL_cleanse(der, (size_t)n);
    xfree(der);
    return 0;
}

/* A client offers a session id this process does not have: ask the cache. */
static SSL_SESSION *tls_server_get_cb(SSL *ssl, const unsigned char *id, int len, int *copy)
{
    struct tls_server_ctx *ctx = tls_server_ctx_of(ssl);
    *copy = 0;
    if (ctx == NULL || ctx->cache.get == NULL || len <= 0)
        return NULL;
    struct sbuf *key = sbuf_new(2 * (size_t)len + 1), *der = sbuf_new(256);
    tls_server_sess_key(key, id, (unsigned int)len);
    SSL_SESSION *sess = NULL;
    if (ctx->cache.get(ctx->cache.ctx, sbuf_str(key), der) == 0) {
        const unsigned char *p = (const unsigned char *)sbuf_str(der);
        sess = d2i_SSL_SESSION(NULL, &p, (long)sbuf_len(der));
        ERR_clear_error();
    }
    OPENSSL_cleanse(sbuf_data(der), sbuf_len(der));
    sbuf_free(der);
    sbuf_free(key);
    return sess;
}

static void tls_server_remove_cb(SSL_CTX *c, SSL_SESSION *sess)
{
    struct tls_server_ctx *ctx = SSL_CTX_get_app_data(c);
    unsigned int idlen = 0;
    const unsigned char *id = SSL_SESSION_get_id(sess, &idlen);
    if (ctx == NULL || ctx->cache.del == NULL || idlen == 0)
        return;
    struct sbuf *key = sbuf_new(2 * idlen + 1);
    tls_server_sess_key(key, id, idlen);
    ctx->cache.del(ctx->cache.ctx, sbuf_str(key));
    sbuf_free(key);
}

/* The ticket key named name (NULL: the current one), from what this
 * process knows or else from tlsmgr. 0, or -1 (none). */
static int tls_server_find_key(struct tls_server_ctx *ctx, const unsigned char *name,
                               struct tls_tktkey *k)
{
    time_t now = time(NULL);
    if (name == NULL && ctx->have_cur && now < ctx->tkt_cur.expires) {
        *k = ctx->tkt_cur;
        return 0;
    }
    if (name) {
        if (ctx->have_cur && memcmp(ctx->tkt_cur.name, name, TLS_TKT_NAME_LEN) == 0) {
            *k = ctx->tkt_cur;
            return 0;
        }
        for (size_t i = 0; i < ctx->nold; i++)
            if (memcmp(ctx->tkt_old[i].name, name, TLS_TKT_NAME_LEN) == 0) {
                *k = ctx->tkt_old[i];
                return 0;
            }
    }
    if (ctx->cache.tktkey(ctx->cache.ctx, name, k) < 0
        || k->key_len < (size_t)EVP_CIPHER_get_key_length(ctx->tkt_cipher))
        return -1;
    if (name && memcmp(k->name, name, TLS_TKT_NAME_LEN) != 0)
        return -1;
    /* Remember it: the current key moves to the old ones when replaced. */
    if (ctx->have_cur && memcmp(ctx->tkt_cur.name, k->name, TLS_TKT_NAME_LEN) != 0) {
        if (name == NULL) {
            memmove(ctx->tkt_old + 1, ctx->tkt_old,
                    sizeof(ctx->tkt_old[0]) * (TLS_SERVER_OLD_KEYS - 1));
            ctx->tkt_old[0] = ctx->tkt_cur;
            if (ctx->nold < TLS_SERVER_OLD_KEYS)
                ctx->nold++;
            ctx->tkt_cur = *k;
        } else {
            memmove(ctx->tkt_old + 1, ctx->tkt_old,
                    sizeof(ctx->tkt_old[0]) * (TLS_SERVER_OLD_KEYS - 1));
            ctx->tkt_old[0] = *k;
            if (ctx->nold < TLS_SERVER_OLD_KEYS)
                ctx->nold++;
        }
    } else if (!ctx->have_cur && name == NULL) {
        ctx->tkt_cur = *k;
        ctx->have_cur = true;
    }
    return 0;
}

static int tls_server_mac_init(EVP_MAC_CTX *hctx, unsigned char *hmac)
{
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, hmac, TLS_TKT_HMAC_LEN);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    return EVP_MAC_CTX_set_params(hctx, params) == 1 ? 0 : -1;
}

/* OpenSSL seals (enc = 1) or opens a session ticket: keys from tlsmgr.
 * Returns 1 (done), 2 (opened with an older key: issue a new ticket), 0
 * (no ticket / unknown key: full handshake) or -1 (error). */
static int tls_server_ticket_cb(SSL *ssl, unsigned char *key_name, unsigned char *iv,
                                EVP_CIPHER_CTX *cctx, EVP_MAC_CTX *hctx, int enc)
{
    struct tls_server_ctx *ctx = tls_server_ctx_of(ssl);
    struct tls_tktkey k;
    int rc = 0;
    if (ctx == NULL || ctx->cache.tktkey == NULL)
        return 0;
    if (enc) {
        int ivlen = EVP_CIPHER_get_iv_length(ctx->tkt_cipher);
        if (tls_server_find_key(ctx, NULL, &k) < 0)
            return 0;
        memcpy(key_name, k.name, TLS_TKT_NAME_LEN);
        if (ivlen > 0 && RAND_bytes(iv, ivlen) <= 0)
            rc = -1;
        else if (EVP_EncryptInit_ex(cctx, ctx->tkt_cipher, NULL, k.key, ivlen > 0 ? iv : NULL) != 1
                 || tls_server_mac_init(hctx, k.hmac) < 0)
            rc = -1;
        else
            rc = 1;
    } else {
        if (tls_server_find_key(ctx, key_name, &k) < 0)
            return 0;
        int ivlen = EVP_CIPHER_get_iv_length(ctx->tkt_cipher);
        if (EVP_DecryptInit_ex(cctx, ctx->tkt_cipher, NULL, k.key, ivlen > 0 ? iv : NULL) != 1
            || tls_server_mac_init(hctx, k.hmac) < 0)
            rc = -1;
        else
            rc = time(NULL) < k.expires ? 1 : 2;
    }
    OPENSSL_cleanse(&k, sizeof(k));
    return rc;
}

struct tls_server_conn {
    SSL *ssl;
    const EVP_MD *digest;
};

/* Keep the handshake going whatever the client's chain looks like; the
 * outcome is read back with SSL_get_verify_result(). */
/* A client certificate that does not verify (or whose chain is deeper
 * than *_tls_ccert_verifydepth) is recorded, never a reason to refuse the
 * handshake: the restrictions decide. */
static int tls_server_verify_cb(int ok, X509_STORE_CTX *store)
{
    (void)tls_common_verify_cb(ok, store);
    return 1;
}

static bool tls_server_empty(const char *s)
{
    return s == NULL || *s == 0;
}

static int tls_server_load_keys(SSL_CTX *c, const struct tls_server_opts *o, struct sbuf *why)
{
    const struct tls_keyfiles k = { o->cert_file,   o->key_file,  o->eccert_file, o->eckey_file,
                                    o->dcert_file,  o->dkey_file, o->chain_files };
    int loaded = tls_common_load_keys(c, &k, why);
    if (loaded == 0)
        sbuf_set(why, "no server certificate or key configured");
    return loaded > 0 ? 0 : -1;
}

/* ---- tls_server_sni_maps ----------------------------------------------- */

/* Postfix's host name rule: labels of letters, digits, '_' and inner '-'
 * (at most 63 each) joined by single dots, no trailing dot, not all
 * digits, at most 255 in all. */
static bool tls_server_sni_valid(const char *name)
{
    size_t label = 0, n = 0;
    bool letter = false;
    for (const char *p = name; *p; p++, n++) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '.') {
            if (label == 0 || p[1] == 0 || p[-1] == '-')
                return false;
            label = 0;
        } else if (isalnum(ch) || ch == '_' || ch == '-') {
            if ((ch == '-' && label == 0) || ++label > 63)
                return false;
            letter |= !isdigit(ch);
        } else
            return false;
    }
    return n > 0 && n <= 255 && name[n - 1] != '-' && letter;
}

/* Presents the keys and chains in pem instead of the context's: each
 * private key followed by its certificate chain, leaf first, as in
 * smtpd_tls_chain_files (a leaf just before its key is taken too). 0, or -1
 * when a block does not parse, a key does not match its certificate, a
 * key or leaf has no partner, or there is no pair at all. */
static int tls_server_sni_load(SSL *ssl, const char *pem, size_t len, struct sbuf *why)
{
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    char *name = NULL, *header = NULL;
    unsigned char *data = NULL;
    long dlen;
    int pairs = 0, rc = 0;
    EVP_PKEY *pending = NULL;   /* a key whose leaf comes next */
    bool leaf = false;          /* the current pair has its certificate */
    bool keyed = false;         /* ... and its key */
    if (bio == NULL)
        return -1;
    SSL_certs_clear(ssl);
    while (rc == 0 && PEM_read_bio(bio, &name, &header, &data, &dlen) == 1) {
        const unsigned char *p = data;
        size_t nl = strlen(name);
        if (nl >= 11 && strcmp(name + nl - 11, "PRIVATE KEY") == 0) {
            EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, dlen);
            if (k == NULL || pending != NULL)
                rc = -1;
            else if (leaf && !keyed) {
                rc = SSL_use_PrivateKey(ssl, k) == 1 ? 0 : -1;     /* leaf, then key */
                keyed = rc == 0;
                pairs += keyed;
            } else {
                pending = k;    /* a new pair starts */
                k = NULL;
                leaf = keyed = false;
            }
            EVP_PKEY_free(k);
        } else if (strcmp(name, "CERTIFICATE") == 0) {
            X509 *x = d2i_X509(NULL, &p, dlen);
            if (x == NULL)
                rc = -1;
            else if (!leaf) {
                /* The leaf picks the slot of its key type; the key must match. */
                leaf = true;
                rc = SSL_use_certificate(ssl, x) == 1 ? 0 : -1;
                if (rc == 0 && pending != NULL) {
                    rc = SSL_use_PrivateKey(ssl, pending) == 1 ? 0 : -1;
                    keyed = rc == 0;
                    pairs += keyed;
                    EVP_PKEY_free(pending);
                    pending = NULL;
                }
            } else if (SSL_add1_chain_cert(ssl, x) != 1)
                rc = -1;
            X509_free(x);
        }
        /* Other blocks (parameters, CRLs) are not for us. */
        OPENSSL_free(name);
        OPENSSL_free(header);
        OPENSSL_free(data);
        name = header = NULL;
        data = NULL;
    }
    if (rc < 0)
        sbuf_set(why, "a PEM block does not parse, or a key does not match its certificate");
    else if (pending != NULL)
        sbuf_set(why, "a private key without a certificate after it");
    else if (leaf && !keyed)
        sbuf_set(why, "a certificate without its private key");
    else if (pairs == 0)
        sbuf_set(why, "no private key and certificate");
    if (rc < 0)
        tls_common_errors(why);
    rc = rc == 0 && pending == NULL && !(leaf && !keyed) && pairs > 0 ? 0 : -1;
    EVP_PKEY_free(pending);
    BIO_free(bio);
    ERR_clear_error();
    return rc;
}

/* The servername callback: look the name up, name by parent domain. */
static int tls_server_sni_cb(SSL *ssl, int *alert, void *arg)
{
    struct tls_server_ctx *ctx = arg;
    const char *name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
    if (name == NULL || *name == 0 || ctx->sni.find == NULL)
        return SSL_TLSEXT_ERR_NOACK;
    struct tls_server_sni_seen *seen = SSL_get_app_data(ssl);
    if (seen == NULL) {
        seen = xcalloc(1, sizeof(*seen));
        SSL_set_app_data(ssl, seen);
    }
    /* Printable for the log, whatever the client sent. */
    size_t i = 0;
    for (const char *p = name; *p && i + 1 < sizeof(seen->name); p++)
        seen->name[i++] = isprint((unsigned char)*p) ? *p : '?';
    seen->name[i] = 0;
    if (!tls_server_sni_valid(name)) {
        seen->status = TLS_SNI_INVALID;
        return SSL_TLSEXT_ERR_NOACK;
    }
    struct sbuf *pem = sbuf_new(4096);
    int found = 0;
    for (const char *key = name; key != NULL && found == 0; key = strchr(key + 1, '.')) {
        sbuf_reset(pem);
        found = ctx->sni.find(ctx->sni.arg, key, pem);
    }
    int ret = SSL_TLSEXT_ERR_OK;
    struct sbuf *why = sbuf_new(64);
    if (found > 0 && tls_server_sni_load(ssl, sbuf_str(pem), sbuf_len(pem), why) < 0) {
        if (ctx->sni.unusable)
            ctx->sni.unusable(ctx->sni.arg, name, sbuf_str(why));
        found = -1;
    }
    sbuf_free(why);
    if (found < 0) {
        *alert = SSL_AD_INTERNAL_ERROR;
        ret = SSL_TLSEXT_ERR_ALERT_FATAL;
    } else if (found == 0) {
        seen->status = TLS_SNI_UNMATCHED;
        ret = SSL_TLSEXT_ERR_NOACK;
    } else
        seen->status = TLS_SNI_MATCHED;
    OPENSSL_cleanse(sbuf_data(pem), sbuf_len(pem));     /* private keys */
    sbuf_free(pem);
    return ret;
}

/* Frees a server session with its SNI record. */
static void tls_server_ssl_free(SSL *ssl)
{
    xfree(SSL_get_app_data(ssl));
    SSL_set_app_data(ssl, NULL);
    SSL_free(ssl);
}

static int tls_server_set_protocols(SSL_CTX *c, unsigned mask, struct sbuf *why)
{
    int lo, hi;
    uint64_t holes;
    if (tls_common_proto_range(mask, &lo, &hi, &holes, why) < 0)
        return -1;
    SSL_CTX_set_options(c, SSL_OP_NO_SSLv2 | SSL_OP_NO_SSLv3);
    if (SSL_CTX_set_min_proto_version(c, lo) != 1 || SSL_CTX_set_max_proto_version(c, hi) != 1) {
        sbuf_set(why, "cannot set the TLS protocol range");
        tls_common_errors(why);
        return -1;
    }
    if (holes)
        SSL_CTX_set_options(c, holes);
    return 0;
}

/* Keeps the names OpenSSL knows; an unknown curve name is not fatal
 * (Postfix skips it too), an empty result leaves OpenSSL's defaults. */
static void tls_server_set_groups(SSL_CTX *c, const char *groups)
{
    if (tls_server_empty(groups))
        return;
    struct sbuf *ok = sbuf_new(64);
    const char *sep = " \t\r\n,:";
    const char *p = groups;
    for (;;) {
        p += strspn(p, sep);
        if (*p == 0)
            break;
        size_t n = strcspn(p, sep);
        char *name = xstrndup(p, n);
        p += n;
        ERR_clear_error();
        if (SSL_CTX_set1_groups_list(c, name) == 1)
            sbuf_catf(ok, "%s%s", sbuf_len(ok) ? ":" : "", name);
        xfree(name);
    }
    ERR_clear_error();
    if (sbuf_len(ok) == 0 || SSL_CTX_set1_groups_list(c, sbuf_str(ok)) != 1)
        SSL_CTX_set1_groups_list(c, "X25519:P-256:X448:P-521:P-384");
    ERR_clear_error();
    sbuf_free(ok);
}

/* Uses the DH parameters of o->dh_file instead of OpenSSL's automatic ones;
 * when they cannot be read, says why in o->dh_warning and keeps those. */
static void tls_server_load_dh(SSL_CTX *c, const struct tls_server_opts *o)
{
    if (tls_server_empty(o->dh_file) || strcmp(o->dh_file, "auto") == 0)
        return;
    ERR_clear_error();
    BIO *bio = BIO_new_file(o->dh_file, "r");
    EVP_PKEY *dh = bio ? PEM_read_bio_Parameters(bio, NULL) : NULL;
    if (bio)
        BIO_free(bio);
    if (dh && EVP_PKEY_is_a(dh, "DH")) {
        SSL_CTX_set_dh_auto(c, 0);
        if (SSL_CTX_set0_tmp_dh_pkey(c, dh) == 1)
            return;             /* the context owns dh now */
        SSL_CTX_set_dh_auto(c, 1);
    }
    if (o->dh_warning) {
        sbuf_printf(o->dh_warning, "cannot use DH parameters from %s", o->dh_file);
        if (dh && !EVP_PKEY_is_a(dh, "DH"))
            sbuf_cat(o->dh_warning, ": not DH parameters");
        tls_common_errors(o->dh_warning);
        sbuf_cat(o->dh_warning, "; using the built-in ones");
    }
    EVP_PKEY_free(dh);
    ERR_clear_error();
}

struct tls_server_ctx *tls_server_ctx_new(const struct tls_server_opts *o, struct sbuf *why)
{
    SSL_CTX *c = tls_common_ctx_new(true, why);
    if (c == NULL)
        return NULL;
    SSL_CTX_set_options(c, SSL_OP_SINGLE_DH_USE | SSL_OP_SINGLE_ECDH_USE);
    if (o->server_cipher_order)
        SSL_CTX_set_options(c, SSL_OP_CIPHER_SERVER_PREFERENCE);
    SSL_CTX_set_dh_auto(c, 1);
    tls_server_load_dh(c, o);
    tls_server_set_groups(c, o->groups);
    if (tls_server_set_protocols(c, o->protocols, why) < 0)
        goto fail;
    if (!tls_server_empty(o->ciphers) && SSL_CTX_set_cipher_list(c, o->ciphers) != 1) {
        sbuf_printf(why, "invalid cipher list \"%s\"", o->ciphers);
        tls_common_errors(why);
        goto fail;
    }
    if (tls_server_load_keys(c, o, why) < 0)
        goto fail;

    if (tls_common_load_ca(c, o->ca_file, o->ca_path, o->append_default_ca, why) < 0)
        goto fail;
    if (o->ask_ccert) {
        /* Tell the client which CAs we trust, so it can pick a certificate. */
        if (!tls_server_empty(o->ca_file)) {
            STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(o->ca_file);
            if (names)
                SSL_CTX_set_client_CA_list(c, names);
        }
        tls_common_verify_depth(c, SSL_VERIFY_PEER | SSL_VERIFY_CLIENT_ONCE, tls_server_verify_cb,
                                o->verify_depth);
    } else
        SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);

    /* Resumption. The id context keeps one service's sessions (and client
     * certificate verdicts) from being resumed by another. */
    const char *sctx = tls_server_empty(o->session_context) ? "postern" : o->session_context;
    unsigned char idctx[SSL_MAX_SID_CTX_LENGTH];
    size_t idlen = strlen(sctx);
    if (idlen > sizeof(idctx)) {
        unsigned int mdlen = 0;
        unsigned char md[EVP_MAX_MD_SIZE];
        EVP_Digest(sctx, idlen, md, &mdlen, EVP_sha256(), NULL);
        idlen = mdlen < sizeof(idctx) ? mdlen : sizeof(idctx);
        memcpy(idctx, md, idlen);
    } else
        memcpy(idctx, sctx, idlen);
    SSL_CTX_set_session_id_context(c, idctx, (unsigned int)idlen);
    const EVP_CIPHER *tkt_cipher = NULL;
    bool tickets = o->session_timeout > 0 && o->cache && o->cache->tktkey
                   && !tls_server_empty(o->ticket_cipher);
    if (tickets && (tkt_cipher = EVP_get_cipherbyname(o->ticket_cipher)) == NULL) {
        sbuf_printf(why, "invalid tls_session_ticket_cipher \"%s\"", o->ticket_cipher);
        goto fail;
    }
    if (tkt_cipher && (EVP_CIPHER_get_key_length(tkt_cipher) > TLS_TKT_KEY_MAX
                       || EVP_CIPHER_get_iv_length(tkt_cipher) > EVP_MAX_IV_LENGTH)) {
        sbuf_printf(why, "tls_session_ticket_cipher \"%s\": key too long", o->ticket_cipher);
        goto fail;
    }
    if (o->session_timeout > 0) {
        bool shared = o->cache && o->cache->get;
        SSL_CTX_set_session_cache_mode(c, shared || !o->no_local_session_ids
                                              ? SSL_SESS_CACHE_SERVER : SSL_SESS_CACHE_OFF);
        SSL_CTX_sess_set_cache_size(c, 1000);
        SSL_CTX_set_timeout(c, o->session_timeout > 86400 * 7 ? 86400 * 7 : o->session_timeout);
        if (o->cache && o->cache->get) {
            SSL_CTX_sess_set_new_cb(c, tls_server_new_cb);
            SSL_CTX_sess_set_get_cb(c, tls_server_get_cb);
            SSL_CTX_sess_set_remove_cb(c, tls_server_remove_cb);
        }
        if (tkt_cipher)
            SSL_CTX_set_tlsext_ticket_key_evp_cb(c, tls_server_ticket_cb);
        else if (o->cache && tls_server_empty(o->ticket_cipher))
            /* Postfix: no ticket cipher, no tickets (TLS 1.3 then resumes
             * with stateful tickets from the session cache). */
            SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
    } else {
        SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
        SSL_CTX_set_num_tickets(c, 0);
    }

    const char *dname = tls_server_empty(o->fingerprint_digest) ? "sha256" : o->fingerprint_digest;
    const EVP_MD *md = EVP_get_digestbyname(dname);
    if (md == NULL) {
        sbuf_printf(why, "unknown fingerprint digest \"%s\"", dname);
        goto fail;
    }
    /* tls_ssl_options last: it only adds (NO_TICKET wins over tickets). */
    if (o->ssl_options)
        SSL_CTX_set_options(c, o->ssl_options);
    struct tls_server_ctx *ctx = xcalloc(1, sizeof(*ctx));
    ctx->ssl_ctx = c;
    ctx->digest = md;
    if (o->cache)
        ctx->cache = *o->cache;
    ctx->tkt_cipher = tkt_cipher;
    SSL_CTX_set_app_data(c, ctx);
    if (o->sni && o->sni->find) {
        ctx->sni = *o->sni;
        SSL_CTX_set_tlsext_servername_callback(c, tls_server_sni_cb);
        SSL_CTX_set_tlsext_servername_arg(c, ctx);
    }
    ERR_clear_error();
    return ctx;

fail:
    SSL_CTX_free(c);
    return NULL;
}

void tls_server_ctx_free(struct tls_server_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    OPENSSL_cleanse(ctx, sizeof(*ctx));
    xfree(ctx);
}

struct tls_server_conn *tls_server_start(struct tls_server_ctx *ctx, struct stream *s, int timeout,
                                         size_t *discarded, struct sbuf *why)
{
    /* Plaintext the client sent after STARTTLS was buffered before any
     * encryption: throw it away (the STARTTLS command-injection attack). */
    size_t thrown = 0, pending;
    char junk[512];
    while ((pending = stream_pending(s)) > 0) {
        size_t n = pending < sizeof(junk) ? pending : sizeof(junk);
        if (stream_read(s, junk, n) != (ssize_t)n)
            break;
        thrown += n;
    }
    if (discarded)
        *discarded = thrown;
    SSL *ssl = tls_common_session(ctx->ssl_ctx, stream_fd(s), why);
    if (ssl == NULL)
        return NULL;
    if (tls_common_handshake(ssl, stream_fd(s), true, timeout, why) < 0) {
        tls_server_ssl_free(ssl);
        return NULL;
    }
    struct tls_server_conn *c = xcalloc(1, sizeof(*c));
    c->ssl = ssl;
    c->digest = ctx->digest;
    stream_set_io(s, tls_common_read, tls_common_write, ssl);
    return c;
}

struct tls_server_conn *tls_server_prepare(struct tls_server_ctx *ctx, int fd, struct sbuf *why)
{
    SSL *ssl = tls_common_session(ctx->ssl_ctx, fd, why);
    if (ssl == NULL)
        return NULL;
    struct tls_server_conn *c = xcalloc(1, sizeof(*c));
    c->ssl = ssl;
    c->digest = ctx->digest;
    return c;
}

int tls_server_handshake_step(struct tls_server_conn *c, bool *want_write, struct sbuf *why)
{
    return tls_common_handshake_step(c->ssl, true, want_write, why);
}

ssize_t tls_server_read(struct tls_server_conn *c, void *buf, size_t len, bool *want_write)
{
    return tls_common_read(c->ssl, -1, buf, len, want_write);
}

ssize_t tls_server_write(struct tls_server_conn *c, const void *buf, size_t len, bool *want_read)
{
    return tls_common_write(c->ssl, -1, buf, len, want_read);
}

static void tls_server_upper(char *s)
{
    for (; *s; s++)
        *s = (char)toupper((unsigned char)*s);
}

void tls_server_info(struct tls_server_conn *c, struct tls_server_info *info)
{
    SSL *ssl = c->ssl;
    memset(info, 0, sizeof(*info));
    tls_common_cipher(ssl, info->protocol, sizeof(info->protocol), info->cipher,
                      sizeof(info->cipher), &info->bits, &info->alg_bits);
    info->reused = SSL_session_reused(ssl) == 1;

    /* Key exchange: the client's ephemeral key says which group was used. */
    EVP_PKEY *kx = NULL;
    if (SSL_get_peer_tmp_key(ssl, &kx) == 1 && kx) {
        char group[64] = "";
        size_t glen = 0;
        if (EVP_PKEY_is_a(kx, "DH"))
            snprintf(info->kex, sizeof(info->kex), "DHE (%d bits)", EVP_PKEY_get_bits(kx));
        else if (EVP_PKEY_get_utf8_string_param(kx, OSSL_PKEY_PARAM_GROUP_NAME, group,
                                                sizeof(group), &glen) == 1)
            strlcpy(info->kex, group, sizeof(info->kex));
        else
            strlcpy(info->kex, EVP_PKEY_get0_type_name(kx) ? EVP_PKEY_get0_type_name(kx) : "",
                    sizeof(info->kex));
        EVP_PKEY_free(kx);
    }
    if (info->kex[0] == 0) {
        /* TLS 1.2 servers do not keep the client's key share. */
        int gnid = SSL_get_negotiated_group(ssl);
        const char *gname = gnid > 0 ? OBJ_nid2sn(gnid) : NULL;
        if (gname)
            strlcpy(info->kex, gname, sizeof(info->kex));
    }
    /* Our signature: key type and size of the certificate used, digest. */
    EVP_PKEY *own = SSL_get_privatekey(ssl);
    if (own) {
        info->sig_bits = EVP_PKEY_get_bits(own);
        if (EVP_PKEY_is_a(own, "RSA"))
            strlcpy(info->sig, SSL_version(ssl) >= TLS1_3_VERSION ? "RSA-PSS" : "RSA",
                    sizeof(info->sig));
        else if (EVP_PKEY_is_a(own, "EC"))
            strlcpy(info->sig, "ECDSA", sizeof(info->sig));
        else if (EVP_PKEY_get0_type_name(own))
            strlcpy(info->sig, EVP_PKEY_get0_type_name(own), sizeof(info->sig));
        tls_server_upper(info->sig);
        int dnid = NID_undef;
        if (SSL_get_signature_nid(ssl, &dnid) == 1 && dnid != NID_undef && OBJ_nid2sn(dnid)) {
            strlcpy(info->sig_digest, OBJ_nid2sn(dnid), sizeof(info->sig_digest));
            tls_server_upper(info->sig_digest);
        }
        if (strcmp(info->sig, "RSA-PSS") != 0 && strcmp(info->sig, "RSA") != 0
            && strcmp(info->sig, "ECDSA") != 0)
            info->sig_digest[0] = 0;    /* Ed25519 and friends have no separate digest */
    }

    const struct tls_server_sni_seen *seen = SSL_get_app_data(ssl);
    if (seen) {
        info->sni_status = seen->status;
        strlcpy(info->sni, seen->name, sizeof(info->sni));
    }

    X509 *peer = SSL_get1_peer_certificate(ssl);
    if (peer == NULL)
        return;
    info->have_cert = true;
    tls_common_cn(X509_get_subject_name(peer), info->peer_cn, sizeof(info->peer_cn));
    tls_common_cn(X509_get_issuer_name(peer), info->issuer_cn, sizeof(info->issuer_cn));
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (X509_digest(peer, c->digest, md, &mdlen) == 1)
        tls_common_hex(md, mdlen, info->fingerprint, sizeof(info->fingerprint));
    unsigned char *der = NULL;
    int dlen = i2d_PUBKEY(X509_get0_pubkey(peer), &der);
    if (dlen > 0 && EVP_Digest(der, (size_t)dlen, md, &mdlen, c->digest, NULL) == 1)
        tls_common_hex(md, mdlen, info->pkey_fingerprint, sizeof(info->pkey_fingerprint));
    OPENSSL_free(der);
    long vr = SSL_get_verify_result(ssl);
    if (vr == X509_V_OK)
        info->trusted = true;
    else
        strlcpy(info->verify_error, X509_verify_cert_error_string(vr), sizeof(info->verify_error));
    X509_free(peer);
    ERR_clear_error();
}

void tls_server_stop(struct tls_server_conn *c, struct stream *s)
{
    if (c == NULL)
        return;
    xfree(SSL_get_app_data(c->ssl));
    SSL_set_app_data(c->ssl, NULL);
    tls_common_stop(c->ssl, s);
    xfree(c);
}
