/*
 * tls_server.h - TLS server sessions on a stream (OpenSSL wrapper)
 *
 * Used by: smtpd (STARTTLS and smtps wrapper mode).
 * Interface: tls_server_ctx_new(), tls_server_ctx_free(), tls_server_start(),
 *            tls_server_info(), tls_server_stop(), and for event loops
 *            tls_server_prepare(), tls_server_handshake_step(),
 *            tls_server_read(), tls_server_write().
 * Errors: functions that can fail return NULL with a one-line reason in why
 *         (OpenSSL's error text included); they do not log.
 * Notes: build the context before the chroot and privilege drop: it reads
 *        the keys. Session resumption: with opts->cache (tlsmgr) session-ID
 *        sessions live in a cache shared by all processes and session
 *        tickets are sealed with keys that tlsmgr hands out (cipher
 *        tls_session_ticket_cipher, HMAC-SHA256), so any smtpd process
 *        resumes a session another one made; without it both stay inside
 *        one process. With opts->sni, a client's SNI name can select other
 *        keys and certificates (tls_server_sni_maps).
 */
#ifndef POSTERN_TLS_SERVER_H
#define POSTERN_TLS_SERVER_H
#include "sys_compat.h"
#include "sbuf.h"
#include "stream.h"

/* tls_server_sni_maps: the keys and certificates to present for a name a
 * client sends in the TLS SNI extension. The name (syntax already checked)
 * is looked up as sent, then as each parent domain with a leading dot
 * (a.b.example.org, .b.example.org, .example.org, .org); find() gets one
 * key at a time. It fills pem with PEM text (private keys, each followed by
 * its certificate chain, leaf first) and returns 1; 0 when the key has
 * nothing; -1 on a lookup error, which fails the handshake with an
 * internal-error alert (Postfix's choice: never fall back to a certificate
 * the administrator did not mean for that name). */
struct tls_sni_ops {
    int (*find)(void *arg, const char *key, struct sbuf *pem);
    /* The PEM text find() gave for key cannot be used (why says how); the
     * handshake then fails with an internal-error alert. May be NULL. */
    void (*unusable)(void *arg, const char *key, const char *why);
    void *arg;
};

/* What became of the SNI name a client sent (tls_server_info.sni_status). */
enum tls_sni_status {
    TLS_SNI_NONE,       /* no name sent, or SNI not configured */
    TLS_SNI_MATCHED,    /* the name's own keys were presented */
    TLS_SNI_UNMATCHED,  /* nothing for the name: the default keys */
    TLS_SNI_INVALID,    /* not a host name: ignored, the default keys */
};

struct tls_server_opts {
    const char *cert_file;      /* certificate and chain (PEM), any key type */
    const char *key_file;       /* its private key; "" or NULL = in cert_file */
    const char *eccert_file;    /* a second (ECDSA) certificate, or "" */
    const char *eckey_file;     /* its key; "" = in eccert_file */
    const char *dcert_file;     /* a third (DSA) certificate, or "" */
    const char *dkey_file;
    /* Files that each hold a private key and its certificate chain; when
     * not empty the *_file settings above are ignored (Postfix rule).
     * Separated by blanks or commas. */
    const char *chain_files;
    const char *ca_file;        /* trust anchors for client certificates */
    bool append_default_ca;     /* tls_append_default_CA: the system's anchors too */
    const char *ca_path;
    bool ask_ccert;             /* request a client certificate */
    int verify_depth;           /* client chain depth limit (0 = OpenSSL's) */
    unsigned protocols;         /* TLS_PROTO_* bits (tls_common.h) */
    const char *ciphers;        /* OpenSSL cipher list for TLS <= 1.2 */
    const char *groups;         /* key-exchange groups "X25519 prime256v1 ..." */
    bool server_cipher_order;   /* prefer our cipher order (tls_preempt_cipherlist) */
    long session_timeout;       /* resumption lifetime in seconds; 0 = off */
    /* *_tls_always_issue_session_ids = no: without a shared session cache
     * (cache->get NULL) no session ID is issued at all, instead of one for
     * this process's own cache. */
    bool no_local_session_ids;
    const char *session_context;    /* sessions resume only within this name */
    const char *fingerprint_digest; /* "sha256", "md5", ... */
    uint64_t ssl_options;       /* SSL_OP_* bits to add (tls_ssl_options) */
    /* PEM file with DH parameters for DHE suites (smtpd_tls_dh1024_param_file);
     * "" or "auto": OpenSSL's choice, by the certificate's strength. A file
     * that cannot be used is warned about through *dh_warning, and the
     * automatic parameters stay. */
    const char *dh_file;
    struct sbuf *dh_warning;    /* may be NULL */
    /* Sharing sessions between processes (tlsmgr): cache->get/put/del
     * keep session-ID sessions (TLS 1.2, and TLS 1.3 without tickets)
     * outside the process; cache->tktkey hands out the session ticket
     * keys, so that a ticket issued by one process is accepted by
     * another. NULL or unset members: that part stays per process. The
     * ops are copied. */
    const struct tls_cache_ops *cache;
    const char *ticket_cipher;  /* tls_session_ticket_cipher; "" = no tickets */
    const struct tls_sni_ops *sni;  /* NULL: SNI names are ignored; copied */
};

/* What a finished handshake established. */
struct tls_server_info {
    char protocol[32];          /* "TLSv1.3" */
    char cipher[80];            /* "TLS_AES_256_GCM_SHA384" */
    int bits, alg_bits;
    char kex[48];               /* key-exchange group ("X25519"), or "" */
    char sig[32];               /* our signature algorithm ("RSA-PSS"), or "" */
    int sig_bits;               /* our key size */
    char sig_digest[32];        /* our signature digest ("SHA256"), or "" */
    bool reused;                /* an abbreviated (resumed) handshake */
    bool have_cert;             /* the client sent a certificate */
    bool trusted;               /* ... and it verified against the CAs */
    char peer_cn[256];          /* its subject CommonName, "" if none */
    char issuer_cn[256];        /* its issuer's CommonName, "" if none */
    char fingerprint[160];      /* certificate digest, "AB:CD:..." */
    char pkey_fingerprint[160]; /* public key (SubjectPublicKeyInfo) digest */
    char verify_error[128];     /* why the chain did not verify */
    enum tls_sni_status sni_status;
    char sni[256];              /* the SNI name the client sent (printable), or "" */
};

struct tls_server_ctx;
struct tls_server_conn;

/* Builds a server context: loads keys and certificates, trust anchors,
 * protocol and cipher settings. Returns new, or NULL with why filled. */
struct tls_server_ctx *tls_server_ctx_new(const struct tls_server_opts *o, struct sbuf *why);
void tls_server_ctx_free(struct tls_server_ctx *ctx);

/* Discards plaintext already buffered in s (bytes pipelined behind
 * STARTTLS must never be read as if they came over TLS), runs the server
 * handshake on s's descriptor within timeout seconds and then routes s's
 * I/O through TLS. Returns new (tls_server_stop() before closing s), or
 * NULL with why filled; *discarded (when not NULL) gets the number of
 * plaintext bytes thrown away. */
struct tls_server_conn *tls_server_start(struct tls_server_ctx *ctx, struct stream *s, int timeout,
                                         size_t *discarded, struct sbuf *why);
/* For event loops (tlsproxy): a session on the non-blocking fd without
 * the handshake; NULL with why. Free with tls_server_stop(c, NULL). */
struct tls_server_conn *tls_server_prepare(struct tls_server_ctx *ctx, int fd, struct sbuf *why);
/* One handshake step: 1 done, 0 again when the fd is readable (writable
 * when *want_write), -1 with why filled. */
int tls_server_handshake_step(struct tls_server_conn *c, bool *want_write, struct sbuf *why);
/* Session I/O like read(2)/write(2); -1 with errno EAGAIN: wait for the
 * fd to be readable, or writable when *want_write / *want_read. */
ssize_t tls_server_read(struct tls_server_conn *c, void *buf, size_t len, bool *want_write);
ssize_t tls_server_write(struct tls_server_conn *c, const void *buf, size_t len,
                         bool *want_read);
/* Fills info for a started session. */
void tls_server_info(struct tls_server_conn *c, struct tls_server_info *info);
/* Sends close_notify without waiting for the peer's, detaches from s (plain
 * I/O again) and frees c; accepts NULL. */
void tls_server_stop(struct tls_server_conn *c, struct stream *s);

#endif
