/*
 * tls_common.c - OpenSSL pieces shared by the TLS server and client
 *
 * Used by: tls_server.c, tls_client.c.
 * Interface: see tls_common.h.
 * Errors: returned with a reason; nothing is logged here.
 * Notes: the handshake polls the non-blocking descriptor with one overall
 *        deadline, so a client that stalls mid-handshake cannot hold a
 *        process longer than the caller's timeout.
 */
#include "tls_common.h"
#include "log.h"
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include "tls_dl.h"
#include <ctype.h>
#include <errno.h>
#include "alloc.h"
#include <poll.h>
#include <strings.h>
#include <time.h>

static const struct tls_proto_def {
    const char *name;
    unsigned bit;
} tls_proto_defs[] = {
    { "SSLv2", TLS_PROTO_SSLV2 },     { "SSLv3", TLS_PROTO_SSLV3 },
    { "TLSv1", TLS_PROTO_TLSV1 },     { "TLSv1.1", TLS_PROTO_TLSV1_1 },
    { "TLSv1.2", TLS_PROTO_TLSV1_2 }, { "TLSv1.3", TLS_PROTO_TLSV1_3 },
};

static unsigned tls_proto_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(tls_proto_defs); i++)
        if (strlen(tls_proto_defs[i].name) == len
            && strncasecmp(tls_proto_defs[i].name, name, len) == 0)
            return tls_proto_defs[i].bit;
    return 0;
}

const char *tls_proto_name(unsigned bit)
{
    for (size_t i = 0; i < ARRAY_LEN(tls_proto_defs); i++)
        if (tls_proto_defs[i].bit == bit)
            return tls_proto_defs[i].name;
    return "?";
}

int tls_proto_parse(const char *spec, unsigned *mask, struct sbuf *why)
{
    unsigned include = 0, exclude = 0, at_least = 0, at_most = 0;
    const char *p = spec ? spec : "";
    const char *sep = " \t\r\n,:";
    for (;;) {
        p += strspn(p, sep);
        if (*p == 0)
            break;
        size_t n = strcspn(p, sep);
        const char *tok = p;
        p += n;
        int kind = 0;       /* 0 include, 1 exclude, 2 >=, 3 <= */
        if (n > 1 && tok[0] == '!')
            kind = 1, tok++, n--;
        else if (n > 2 && tok[0] == '>' && tok[1] == '=')
            kind = 2, tok += 2, n -= 2;
        else if (n > 2 && tok[0] == '<' && tok[1] == '=')
            kind = 3, tok += 2, n -= 2;
        unsigned bit = tls_proto_lookup(tok, n);
        if (bit == 0) {
            sbuf_printf(why, "unknown TLS protocol name: \"%.*s\"", (int)(n > 64 ? 64 : n), tok);
            return -1;
        }
        switch (kind) {
        case 0: include |= bit; break;
        case 1: exclude |= bit; break;
        case 2: at_least = bit; break;
        default: at_most = bit; break;
        }
    }
    unsigned m = include ? include : TLS_PROTO_ALL;
    m &= ~exclude;
    if (at_least)
        m &= ~(at_least - 1);           /* clear every lower version */
    if (at_most)
        m &= (at_most << 1) - 1;        /* clear every higher version */
    *mask = m & TLS_PROTO_ALL;
    return 0;
}

int tls_common_verify_cb(int ok, X509_STORE_CTX *store)
{
    SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
    int max = ssl ? SSL_get_verify_depth(ssl) - 1 : -1;
    if (ok && max >= 0 && X509_STORE_CTX_get_error_depth(store) > max) {
        X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_CHAIN_TOO_LONG);
        ok = 0;
    }
    return ok;
}

void tls_common_verify_depth(SSL_CTX *c, int mode, int (*cb)(int, X509_STORE_CTX *), int depth)
{
    if (depth > 0) {
        SSL_CTX_set_verify(c, mode, cb ? cb : tls_common_verify_cb);
        SSL_CTX_set_verify_depth(c, depth + 1);
    } else
        SSL_CTX_set_verify(c, mode, cb);
}

void tls_common_errors(struct sbuf *why)
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

int tls_common_proto_range(unsigned mask, int *min_version, int *max_version, uint64_t *holes,
                           struct sbuf *why)
{
    static const struct {
        unsigned bit;
        int version;
        uint64_t no_op;
    } v[] = {
        { TLS_PROTO_TLSV1, TLS1_VERSION, SSL_OP_NO_TLSv1 },
        { TLS_PROTO_TLSV1_1, TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 },
        { TLS_PROTO_TLSV1_2, TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
        { TLS_PROTO_TLSV1_3, TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 },
    };
    int lo = -1, hi = -1;
    for (int i = 0; i < (int)ARRAY_LEN(v); i++)
        if (mask & v[i].bit) {
            if (lo < 0)
                lo = i;
            hi = i;
        }
    if (lo < 0) {
        sbuf_set(why, "no TLS protocol version is enabled");
        return -1;
    }
    *min_version = v[lo].version;
    *max_version = v[hi].version;
    *holes = 0;
    for (int i = lo; i <= hi; i++)
        if (!(mask & v[i].bit))
            *holes |= v[i].no_op;
    return 0;
}

/* The options tls_ssl_options may name: they switch behaviour on, never
 * off (Postfix's list). */
static const struct {
    const char *name;
    uint64_t bits;
} tls_ssl_option_names[] = {
    { "ENABLE_MIDDLEBOX_COMPAT", SSL_OP_ENABLE_MIDDLEBOX_COMPAT },
    { "LEGACY_SERVER_CONNECT", SSL_OP_LEGACY_SERVER_CONNECT },
    { "NO_COMPRESSION", SSL_OP_NO_COMPRESSION },
    { "NO_RENEGOTIATION", SSL_OP_NO_RENEGOTIATION },
    { "NO_SESSION_RESUMPTION_ON_RENEGOTIATION", SSL_OP_NO_SESSION_RESUMPTION_ON_RENEGOTIATION },
    { "NO_TICKET", SSL_OP_NO_TICKET },
    { "PRIORITIZE_CHACHA", SSL_OP_PRIORITIZE_CHACHA },
};

uint64_t tls_ssl_options_parse(const char *spec, struct sbuf *bad)
{
    uint64_t bits = 0;
    const char *sep = " \t\r\n,";

    for (const char *p = spec ? spec : ""; *p;) {
        p += strspn(p, sep);
        if (*p == 0)
            break;
        size_t n = strcspn(p, sep);
        char *word = xstrndup(p, n);
        p += n;
        bool known = false;
        for (size_t i = 0; i < ARRAY_LEN(tls_ssl_option_names) && !known; i++)
            if (strcasecmp(word, tls_ssl_option_names[i].name) == 0) {
                bits |= tls_ssl_option_names[i].bits;
                known = true;
            }
        if (!known && isdigit((unsigned char) word[0])) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(word, &end, 0);
            if (errno == 0 && *end == 0) {
                bits |= (uint64_t) v;
                known = true;
            }
        }
        if (!known)
            sbuf_catf(bad, "%s%s", sbuf_len(bad) ? " " : "", word);
        xfree(word);
    }
    return bits;
}

struct ssl_ctx_st *tls_common_ctx_new(bool server, struct sbuf *why)
{
    /* libssl is mapped with the first context, not at exec (tls_dl.h). */
    if (tls_dl_load(why) < 0)
        return NULL;
    ERR_clear_error();
    SSL_CTX *c = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
    if (c == NULL) {
        sbuf_set(why, "cannot create TLS context");
        tls_common_errors(why);
        return NULL;
    }
    SSL_CTX_set_options(c, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_mode(c, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return c;
}

int tls_common_load_ca(struct ssl_ctx_st *c, const char *ca_file, const char *ca_path,
                       bool append_default, struct sbuf *why)
{
    const char *caf = ca_file && *ca_file ? ca_file : NULL;
    const char *cap = ca_path && *ca_path ? ca_path : NULL;
    if ((caf || cap) && SSL_CTX_load_verify_locations(c, caf, cap) != 1) {
        sbuf_printf(why, "cannot load CA file/path %s%s%s", caf ? caf : "", caf && cap ? " " : "",
                    cap ? cap : "");
        tls_common_errors(why);
        return -1;
    }
    /* tls_append_default_CA: the system's trust anchors too (OpenSSL's
     * default file and directory, or $SSL_CERT_FILE / $SSL_CERT_DIR). */
    if (append_default && SSL_CTX_set_default_verify_paths(c) != 1) {
        sbuf_set(why, "cannot load the system's default CA certificates");
        tls_common_errors(why);
        return -1;
    }
    return 0;
}

/* Loads one certificate (with its chain) and its key into the context
 * slot for that key type. */
static int tls_common_load_pair(SSL_CTX *c, const char *cert, const char *key, struct sbuf *why)
{
    if (key == NULL || *key == 0)
        key = cert;
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(c, cert) != 1) {
        sbuf_printf(why, "cannot load certificate chain from file %s", cert);
        tls_common_errors(why);
        return -1;
    }
    if (SSL_CTX_use_PrivateKey_file(c, key, SSL_FILETYPE_PEM) != 1) {
        sbuf_printf(why, "cannot load private key from file %s", key);
        tls_common_errors(why);
        return -1;
    }
    if (SSL_CTX_check_private_key(c) != 1) {
        sbuf_printf(why, "private key in %s does not match the certificate in %s", key, cert);
        tls_common_errors(why);
        return -1;
    }
    return 0;
}

int tls_common_load_keys(struct ssl_ctx_st *c, const struct tls_keyfiles *k, struct sbuf *why)
{
    int loaded = 0;
    if (k->chain_files && *k->chain_files) {
        static const char sep[] = " \t\r\n,";
        for (const char *p = k->chain_files + strspn(k->chain_files, sep); *p;
             p += strspn(p, sep)) {
            size_t n = strcspn(p, sep);
            char *file = xstrndup(p, n);
            p += n;
            int r = tls_common_load_pair(c, file, file, why);
            xfree(file);
            if (r < 0)
                return -1;
            loaded++;
        }
        return loaded;
    }
    const char *pairs[3][2] = { { k->cert_file, k->key_file },
                                { k->eccert_file, k->eckey_file },
                                { k->dcert_file, k->dkey_file } };
    for (size_t i = 0; i < 3; i++) {
        if (pairs[i][0] == NULL || *pairs[i][0] == 0)
            continue;
        if (tls_common_load_pair(c, pairs[i][0], pairs[i][1], why) < 0)
            return -1;
        loaded++;
    }
    return loaded;
}

struct ssl_st *tls_common_session(struct ssl_ctx_st *c, int fd, struct sbuf *why)
{
    ERR_clear_error();
    SSL *ssl = SSL_new(c);
    if (ssl == NULL || SSL_set_fd(ssl, fd) != 1) {
        sbuf_set(why, "cannot create TLS session");
        tls_common_errors(why);
        SSL_free(ssl);
        return NULL;
    }
    return ssl;
}

static double tls_common_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int tls_common_handshake_step(struct ssl_st *ssl, bool server, bool *want_write, struct sbuf *why)
{
    ERR_clear_error();
    errno = 0;
    *want_write = false;
    int n = server ? SSL_accept(ssl) : SSL_connect(ssl);
    if (n == 1)
        return 1;
    int err = SSL_get_error(ssl, n);
    if (err == SSL_ERROR_WANT_READ)
        return 0;
    if (err == SSL_ERROR_WANT_WRITE) {
        *want_write = true;
        return 0;
    }
    if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
        sbuf_printf(why, "TLS handshake failed: %s", errno ? strerror(errno) : "lost connection");
    else {
        sbuf_set(why, "TLS handshake failed");
        tls_common_errors(why);
    }
    return -1;
}

size_t tls_common_pending(struct ssl_st *ssl)
{
    int n = SSL_pending(ssl);
    return n > 0 ? (size_t)n : 0;
}

int tls_common_handshake(struct ssl_st *ssl, int fd, bool server, int timeout, struct sbuf *why)
{
    double deadline = tls_common_now() + (timeout > 0 ? timeout : 86400.0 * 365);
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int n = server ? SSL_accept(ssl) : SSL_connect(ssl);
        if (n == 1)
            return 0;
        int err = SSL_get_error(ssl, n);
        short ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) {
            if (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0)
                sbuf_printf(why, "TLS handshake failed: %s",
                            errno ? strerror(errno) : "lost connection");
            else {
                sbuf_set(why, "TLS handshake failed");
                tls_common_errors(why);
            }
            return -1;
        }
        double left = deadline - tls_common_now();
        struct pollfd pfd = { .fd = fd, .events = ev };
        int pn = left > 0 ? log_poll(&pfd, 1, (int)(left * 1000) + 1) : 0;
        if (pn == 0) {
            sbuf_set(why, "TLS handshake timed out");
            return -1;
        }
        if (pn < 0 && errno != EINTR) {
            sbuf_printf(why, "TLS handshake failed: %s", strerror(errno));
            return -1;
        }
    }
}

/* errno-style result of an SSL call for the stream layer. */
static ssize_t tls_common_io_result(SSL *ssl, int n, bool *want_other, bool reading)
{
    int err = SSL_get_error(ssl, n);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        *want_other = !reading;
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_WANT_WRITE:
        *want_other = reading;
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

ssize_t tls_common_read(void *ctx, int fd, void *buf, size_t len, bool *want_write)
{
    (void)fd;
    SSL *ssl = ctx;
    *want_write = false;
    if (len > INT32_MAX)
        len = INT32_MAX;
    ERR_clear_error();
    errno = 0;
    int n = SSL_read(ssl, buf, (int)len);
    if (n > 0)
        return n;
    return tls_common_io_result(ssl, n, want_write, true);
}

ssize_t tls_common_write(void *ctx, int fd, const void *buf, size_t len, bool *want_read)
{
    (void)fd;
    SSL *ssl = ctx;
    *want_read = false;
    if (len > INT32_MAX)
        len = INT32_MAX;
    ERR_clear_error();
    errno = 0;
    int n = SSL_write(ssl, buf, (int)len);
    if (n > 0)
        return n;
    return tls_common_io_result(ssl, n, want_read, false);
}

void tls_common_cipher(struct ssl_st *ssl, char *protocol, size_t protocol_size, char *cipher,
                       size_t cipher_size, int *bits, int *alg_bits)
{
    strlcpy(protocol, SSL_get_version(ssl), protocol_size);
    const SSL_CIPHER *ci = SSL_get_current_cipher(ssl);
    if (ci) {
        strlcpy(cipher, SSL_CIPHER_get_name(ci), cipher_size);
        *bits = SSL_CIPHER_get_bits(ci, alg_bits);
    }
}

void tls_common_cn(struct X509_name_st *name, char *out, size_t size)
{
    out[0] = 0;
    if (name == NULL || X509_NAME_get_text_by_NID(name, NID_commonName, out, (int)size) < 0) {
        out[0] = 0;
        return;
    }
    for (char *p = out; *p; p++)
        if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
            *p = '?';
}

void tls_common_hex(const unsigned char *md, size_t len, char *out, size_t size)
{
    size_t o = 0;
    out[0] = 0;
    for (size_t i = 0; i < len && o + 3 < size; i++) {
        snprintf(out + o, size - o, "%s%02X", i ? ":" : "", md[i]);
        o += i ? 3 : 2;
    }
}

void tls_common_stop(struct ssl_st *ssl, struct stream *s)
{
    ERR_clear_error();
    (void)SSL_shutdown(ssl);        /* one try: never wait for the peer */
    ERR_clear_error();
    if (s)
        stream_set_io(s, NULL, NULL, NULL);
    SSL_free(ssl);
}

void tls_prng_add(const unsigned char *buf, size_t len)
{
    /* OpenSSL seeds itself from the kernel; this only adds entropy. */
    if (buf && len > 0 && len <= INT32_MAX && tls_dl_load(NULL) == 0)
        RAND_add(buf, (int)len, (double)len);
}
