/*
 * tls_client.c - TLS client sessions on a stream (OpenSSL wrapper)
 *
 * Used by: smtp/lmtp.
 * Interface: see tls_client.h.
 * Errors: returned with a reason; nothing is logged here.
 * Notes: the handshake polls the non-blocking descriptor with a deadline.
 *        Peer verification is recorded, not enforced (SSL_VERIFY_NONE
 *        still runs the chain check): the caller applies its policy
 *        (smtp_tls_security_level) and logs the outcome. The system's
 *        default trust store is not loaded, like Postfix's default
 *        (tls_append_default_CAfile = no).
 */
#include "tls_client.h"
#include "alloc.h"
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <time.h>

struct tls_client_ctx {
    SSL_CTX *ssl_ctx;
};

struct tls_client_conn {
    SSL *ssl;
};

/* Appends OpenSSL's queued error text (and clears the queue). */
static void tls_client_errors(struct sbuf *why)
{
    unsigned long e;
    char buf[256];
    bool first = true;
    while ((e = ERR_get_error()) != 0) {
        ERR_error_string_n(e, buf, sizeof(buf));
        sbuf_catf(why, "%s%s", first ? ": " : "; ", buf);
        first = false;
    }
}

struct tls_client_ctx *tls_client_ctx_new(const struct tls_client_opts *o, struct sbuf *why)
{
    ERR_clear_error();
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (c == NULL) {
        sbuf_set(why, "cannot create TLS context");
        tls_client_errors(why);
        return NULL;
    }
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, NULL);
    const char *caf = o->ca_file && *o->ca_file ? o->ca_file : NULL;
    const char *cap = o->ca_path && *o->ca_path ? o->ca_path : NULL;
    if ((caf || cap) && SSL_CTX_load_verify_locations(c, caf, cap) != 1) {
        sbuf_printf(why, "cannot load CA file/path %s%s%s", caf ? caf : "", caf && cap ? " " : "",
                    cap ? cap : "");
        tls_client_errors(why);
        SSL_CTX_free(c);
        return NULL;
    }
    if (o->cert_file && *o->cert_file) {
        const char *key = o->key_file && *o->key_file ? o->key_file : o->cert_file;
        if (SSL_CTX_use_certificate_chain_file(c, o->cert_file) != 1
            || SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1
            || SSL_CTX_check_private_key(c) != 1) {
            sbuf_printf(why, "cannot load client certificate %s / key %s", o->cert_file, key);
            tls_client_errors(why);
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

/* errno-style result of an SSL call for the stream layer. */
static ssize_t tls_client_io_result(SSL *ssl, int n, bool *want_other, bool reading)
{
    int err = SSL_get_error(ssl, n);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        *want_other = !reading ? true : false;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *want_other = reading ? true : false;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        if (reading)
            return 0;
        errno = EPIPE;
        return -1;
    case SSL_ERROR_SYSCALL:
        if (reading && ERR_peek_error() == 0 && (errno == 0 || errno == ECONNRESET))
            return 0;   /* peer closed without close_notify: EOF */
        if (errno == 0)
            errno = EIO;
        ERR_clear_error();
        return -1;
    default:
        ERR_clear_error();
        errno = EIO;
        return -1;
    }
}

static ssize_t tls_client_read(void *ctx, int fd, void *buf, size_t len, bool *want_write)
{
    (void)fd;
    struct tls_client_conn *c = ctx;
    *want_write = false;
    if (len > INT32_MAX)
        len = INT32_MAX;
    ERR_clear_error();
    errno = 0;
    int n = SSL_read(c->ssl, buf, (int)len);
    if (n > 0)
        return n;
    return tls_client_io_result(c->ssl, n, want_write, true);
}

static ssize_t tls_client_write(void *ctx, int fd, const void *buf, size_t len, bool *want_read)
{
    (void)fd;
    struct tls_client_conn *c = ctx;
    *want_read = false;
    if (len > INT32_MAX)
        len = INT32_MAX;
    ERR_clear_error();
    errno = 0;
    int n = SSL_write(c->ssl, buf, (int)len);
    if (n > 0)
        return n;
    return tls_client_io_result(c->ssl, n, want_read, false);
}

static double tls_client_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool tls_client_is_hostname(const char *s)
{
    unsigned char buf[16];
    return s && *s && strchr(s, '.') != NULL && inet_pton(AF_INET, s, buf) != 1
           && inet_pton(AF_INET6, s, buf) != 1 && strlen(s) < 256;
}

struct tls_client_conn *tls_client_start(struct tls_client_ctx *ctx, struct stream *s,
                                         const char *servername, int timeout, struct sbuf *why)
{
    if (stream_pending(s) != 0) {
        /* Bytes sent before the handshake would be trusted as if protected. */
        sbuf_set(why, "unexpected plaintext data before TLS handshake");
        return NULL;
    }
    ERR_clear_error();
    SSL *ssl = SSL_new(ctx->ssl_ctx);
    if (ssl == NULL || SSL_set_fd(ssl, stream_fd(s)) != 1) {
        sbuf_set(why, "cannot create TLS session");
        tls_client_errors(why);
        SSL_free(ssl);
        return NULL;
    }
    if (tls_client_is_hostname(servername))
        SSL_set_tlsext_host_name(ssl, servername);
    double deadline = tls_client_now() + (timeout > 0 ? timeout : 86400 * 365);
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int n = SSL_connect(ssl);
        if (n == 1)
            break;
        int err = SSL_get_error(ssl, n);
        short ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) {
            if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                sbuf_printf(why, "TLS handshake failed: %s",
                            errno ? strerror(errno) : "lost connection");
            else {
                sbuf_set(why, "TLS handshake failed");
                tls_client_errors(why);
            }
            SSL_free(ssl);
            return NULL;
        }
        double left = deadline - tls_client_now();
        struct pollfd pfd = { .fd = stream_fd(s), .events = ev };
        int pn = left > 0 ? poll(&pfd, 1, (int)(left * 1000) + 1) : 0;
        if (pn == 0) {
            sbuf_set(why, "TLS handshake timed out");
            SSL_free(ssl);
            return NULL;
        }
        if (pn < 0 && errno != EINTR) {
            sbuf_printf(why, "TLS handshake failed: %s", strerror(errno));
            SSL_free(ssl);
            return NULL;
        }
    }
    struct tls_client_conn *c = xcalloc(1, sizeof(*c));
    c->ssl = ssl;
    stream_set_io(s, tls_client_read, tls_client_write, c);
    return c;
}

void tls_client_info(struct tls_client_conn *c, const char *match_name,
                     struct tls_client_info *info)
{
    memset(info, 0, sizeof(*info));
    strlcpy(info->protocol, SSL_get_version(c->ssl), sizeof(info->protocol));
    const SSL_CIPHER *ci = SSL_get_current_cipher(c->ssl);
    if (ci) {
        strlcpy(info->cipher, SSL_CIPHER_get_name(ci), sizeof(info->cipher));
        info->bits = SSL_CIPHER_get_bits(ci, &info->alg_bits);
    }
    X509 *peer = SSL_get1_peer_certificate(c->ssl);
    if (peer == NULL)
        return;
    info->have_cert = true;
    X509_NAME *subj = X509_get_subject_name(peer);
    if (subj)
        X509_NAME_get_text_by_NID(subj, NID_commonName, info->peer_cn, sizeof(info->peer_cn));
    for (char *p = info->peer_cn; *p; p++)
        if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
            *p = '?';
    long vr = SSL_get_verify_result(c->ssl);
    if (vr == X509_V_OK) {
        info->trusted = true;
        if (match_name && *match_name)
            info->name_matched = X509_check_host(peer, match_name, 0, 0, NULL) == 1;
    } else
        strlcpy(info->verify_error, X509_verify_cert_error_string(vr), sizeof(info->verify_error));
    X509_free(peer);
}

void tls_client_stop(struct tls_client_conn *c, struct stream *s)
{
    if (c == NULL)
        return;
    ERR_clear_error();
    (void)SSL_shutdown(c->ssl);     /* one try: never wait for the peer */
    ERR_clear_error();
    if (s)
        stream_set_io(s, NULL, NULL, NULL);
    SSL_free(c->ssl);
    xfree(c);
}
