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
 *        (tls_append_default_CAfile = no).
 */
#include "tls_client.h"
#include "alloc.h"
#include "tls_common.h"
#include <arpa/inet.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "tls_dl.h"

struct tls_client_ctx {
    SSL_CTX *ssl_ctx;
};

struct tls_client_conn {
    SSL *ssl;
};

struct tls_client_ctx *tls_client_ctx_new(const struct tls_client_opts *o, struct sbuf *why)
{
    SSL_CTX *c = tls_common_ctx_new(false, why);
    if (c == NULL)
        return NULL;
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    if (tls_common_load_ca(c, o->ca_file, o->ca_path, why) < 0) {
        SSL_CTX_free(c);
        return NULL;
    }
    if (o->cert_file && *o->cert_file) {
        const char *key = o->key_file && *o->key_file ? o->key_file : o->cert_file;
        if (SSL_CTX_use_certificate_chain_file(c, o->cert_file) != 1
            || SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(c) != 1) {
            sbuf_printf(why, "cannot load client certificate %s / key %s", o->cert_file, key);
            tls_common_errors(why);
            SSL_CTX_free(c);
            return NULL;
        }
    }
    struct tls_client_ctx *ctx = xcalloc(1, sizeof(*ctx));
    ctx->ssl_ctx = c;
    return ctx;
}

void tls_client_ctx_free(struct tls_client_ctx *ctx)
{
    if (ctx == NULL)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    xfree(ctx);
}

static bool tls_client_is_hostname(const char *s)
{
    unsigned char buf[16];
    return s && *s && strchr(s, '.') != NULL && inet_pton(AF_INET, s, buf) != 1
           && inet_pton(AF_INET6, s, buf) != 1 && strlen(s) < 256;
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

struct tls_client_conn *tls_client_start(struct tls_client_ctx *ctx, struct stream *s,
                                         const char *servername, int timeout, struct sbuf *why)
{
    return tls_client_start_opts(ctx, s, servername, timeout, NULL, why);
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
    SSL *ssl = tls_common_session(ctx->ssl_ctx, stream_fd(s), why);
    if (ssl == NULL)
        return NULL;
    if (o && o->protocols && tls_client_set_protocols(ssl, o->protocols, why) < 0) {
        SSL_free(ssl);
        return NULL;
    }
    if (o && o->ciphers && *o->ciphers && SSL_set_cipher_list(ssl, o->ciphers) != 1) {
        sbuf_printf(why, "invalid cipher list \"%s\"", o->ciphers);
        tls_common_errors(why);
        SSL_free(ssl);
        return NULL;
    }
    if (tls_client_is_hostname(servername))
        SSL_set_tlsext_host_name(ssl, servername);
    if (tls_common_handshake(ssl, stream_fd(s), false, timeout, why) < 0) {
        SSL_free(ssl);
        return NULL;
    }
    struct tls_client_conn *c = xcalloc(1, sizeof(*c));
    c->ssl = ssl;
    stream_set_io(s, tls_common_read, tls_common_write, ssl);
    return c;
}

void tls_client_info(struct tls_client_conn *c, const char *match_name,
                     struct tls_client_info *info)
{
    memset(info, 0, sizeof(*info));
    tls_common_cipher(c->ssl, info->protocol, sizeof(info->protocol), info->cipher,
                      sizeof(info->cipher), &info->bits, &info->alg_bits);
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (peer == NULL)
        return;
    info->have_cert = true;
    tls_common_cn(X509_get_subject_name(peer), info->peer_cn, sizeof(info->peer_cn));
    long vr = SSL_get_verify_result(c->ssl);
    if (vr == X509_V_OK) {
        info->trusted = true;
        if (match_name && *match_name)
            info->name_matched = X509_check_host(peer, match_name, 0, 0, NULL) == 1;
    } else
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
    bool ok = X509_check_host(peer, name, 0, 0, NULL) == 1;
    X509_free(peer);
    return ok;
}

void tls_client_stop(struct tls_client_conn *c, struct stream *s)
{
    if (c == NULL)
        return;
    tls_common_stop(c->ssl, s);
    xfree(c);
}
