/*
 * tls_client.h - TLS client sessions on a stream (OpenSSL wrapper)
 *
 * Used by: smtp and lmtp (STARTTLS); later any client that needs TLS.
 * Interface: tls_client_ctx_new(), tls_client_ctx_free(), tls_client_start(),
 *            tls_client_start_opts(), tls_client_dane_mtype_ok(),
 *            tls_client_anchors_load(), tls_client_info(),
 *            tls_client_matches(), tls_client_stop(),
 *            and for event loops tls_client_prepare(), tls_client_handshake_step(),
 *            tls_client_read(), tls_client_write(), tls_client_pending().
 * Errors: functions that can fail return NULL or -1 and fill a why buffer
 *         with a one-line reason that includes OpenSSL's error text; they do
 *         not log.
 * Notes: the only client module that includes OpenSSL headers (STYLE.md);
 *        smtpd's server side can sit beside it in lib/util/tls_server.c and
 *        share the context options. After tls_client_start() the stream's
 *        reads and writes go through the TLS session (stream_set_io), so
 *        the caller keeps using stream_getline()/stream_write().
 */
#ifndef POSTERN_TLS_CLIENT_H
#define POSTERN_TLS_CLIENT_H
#include "sys_compat.h"
#include "sbuf.h"
#include "stream.h"
#include "tls_common.h"

struct tls_client_opts {
    const char *ca_file;        /* trust anchors (PEM file), or NULL/"" */
    bool append_default_ca;     /* tls_append_default_CA: the system's anchors too */
    const char *ca_path;        /* hashed directory of trust anchors, or NULL/"" */
    const char *cert_file;      /* client certificate (PEM), or NULL/"" */
    const char *key_file;       /* its private key; "" = in cert_file */
    const char *eccert_file, *eckey_file;   /* a second (ECDSA) one, or "" */
    const char *dcert_file, *dkey_file;     /* a third (DSA) one, or "" */
    const char *chain_files;    /* key+chain files; when set, the above are ignored */
    /* tls_dane_digests: the digests TLSA matching types name, in order of
     * preference ("sha512 sha256", "sha256", "sha512 sha256 sha384=3");
     * NULL/"" = sha512 (2) and sha256 (1). */
    const char *dane_digests;
    /* A session cache shared between processes (tlsmgr: get and put are
     * used), or NULL: sessions are not reused. Copied. */
    const struct tls_cache_ops *cache;
    /* The digest of the peer fingerprints tls_client_info() gives
     * ("sha256", "md5", ...; NULL/"" = sha256); an unknown name fails
     * tls_client_ctx_new(). */
    const char *fingerprint_digest;
    uint64_t ssl_options;       /* SSL_OP_* bits to add (tls_ssl_options) */
    int verify_depth;           /* *_tls_scert_verifydepth: levels of the server's
                                 * chain, trust anchor included (0 = OpenSSL's) */
    bool wildcard_multi_label;  /* tls_wildcard_matches_multiple_labels: "*.d"
                                 * also matches a.b.d (else only a.d) */
};

/* One DANE TLSA record (RFC 6698): usage 2 (DANE-TA) or 3 (DANE-EE),
 * selector 0 (certificate) or 1 (SubjectPublicKeyInfo), matching type 0
 * (full) or a digest number; data is borrowed. */
struct tls_client_tlsa {
    unsigned char usage, selector, mtype;
    const unsigned char *data;
    size_t len;
};

struct tls_client_ctx;
struct tls_client_conn;

/* The trust anchors of one PEM file (*_tls_trust_anchor_file, tafile=):
 * its certificates and public keys. */
struct tls_client_anchors;

/* Loads the certificates ("CERTIFICATE", "X509 CERTIFICATE") and public
 * keys ("PUBLIC KEY") of the PEM file path; other PEM objects are
 * skipped. A file is read once per process: later calls return the same
 * anchors (borrowed, never freed). Returns NULL with why filled when the
 * file cannot be opened, holds a malformed object or no anchor at all;
 * a failure is not remembered (the next call reads the file again). */
const struct tls_client_anchors *tls_client_anchors_load(const char *path, struct sbuf *why);

/* Settings of one session (a destination's TLS policy). */
struct tls_client_sess_opts {
    unsigned protocols;         /* TLS_PROTO_* mask (tls_common.h); 0 = default */
    const char *ciphers;        /* OpenSSL cipher list; NULL/"" = default */
    /* DANE (RFC 7672): when ntlsa > 0 the peer must match one of the
     * records; dane_base is the TLSA base domain (the server's name), the
     * reference identifier of DANE-TA(2) certificates, dane_name2 and
     * dane_name3 other acceptable names (the next-hop domain, the server
     * name before CNAME expansion) or NULL. DANE-EE(3) matches
     * ignore names and validity dates, as RFC 7672 says. */
    const struct tls_client_tlsa *tlsa;
    size_t ntlsa;
    const char *dane_base, *dane_name2, *dane_name3;
    /* Local trust anchors (tls_client_anchors_load), used when ntlsa is 0
     * and nanchors > 0: the peer's chain must reach one of them (an
     * intermediate or root certificate, its public key, or the peer's own
     * certificate or key); the CA file and directory no longer count and
     * anchors are not checked for expiry. Names are left to the caller
     * (tls_client_matches() after the handshake). */
    const struct tls_client_anchors *const *anchors;
    size_t nanchors;
    /* The session cache key of this server and policy (NULL: do not
     * offer or save a session). Never used with TLSA records: DANE
     * sessions always do a full handshake. */
    const char *cache_id;
};

/* What a finished handshake established (filled by tls_client_info). */
struct tls_client_info {
    bool trusted;           /* the peer's chain verified against the CAs */
    bool name_matched;      /* ... and its certificate names the expected host */
    bool have_cert;         /* the peer sent a certificate at all */
    char protocol[32];      /* "TLSv1.3" */
    char cipher[80];        /* "TLS_AES_256_GCM_SHA384" */
    int bits, alg_bits;
    char peer_cn[256];      /* subject CommonName ("" when none) */
    char verify_error[128]; /* why the chain did not verify ("" when it did) */
    bool reused;            /* an abbreviated handshake (a cached session) */
    bool dane;              /* the session had TLSA records to match */
    bool dane_matched;      /* ... and one of them matched (usage in dane_usage) */
    int dane_usage;
    /* With local trust anchors: the chain depth of the one that matched
     * (0: the peer's own certificate or key), else -1. */
    int anchor_depth;
    /* Digests of the peer's certificate and of its public key (DER
     * SubjectPublicKeyInfo), "AB:CD:..." ("" when there is no certificate). */
    char fingerprint[200];
    char pkey_fingerprint[200];
};

/* Is TLSA matching type mtype usable with ctx's tls_dane_digests (0, the
 * full value, always is)? */
bool tls_client_dane_mtype_ok(const struct tls_client_ctx *ctx, unsigned mtype);

/* Builds a client context. Returns new, or NULL with why filled (bad CA
 * file, unreadable certificate or key). */
struct tls_client_ctx *tls_client_ctx_new(const struct tls_client_opts *o, struct sbuf *why);
void tls_client_ctx_free(struct tls_client_ctx *ctx);

/* Runs the handshake on s's descriptor (SNI = servername when it is a host
 * name) within timeout seconds, then routes s's I/O through TLS. The read
 * buffer of s must be empty. Returns new (free with tls_client_stop()
 * before closing s), or NULL with why filled. A peer whose chain does not
 * verify still completes: the caller decides with tls_client_info(). */
struct tls_client_conn *tls_client_start(struct tls_client_ctx *ctx, struct stream *s,
                                         const char *servername, int timeout, struct sbuf *why);
/* tls_client_start() with per-session protocols and ciphers (o may be
 * NULL). An empty protocol range or a cipher list OpenSSL rejects fails
 * before the handshake. */
struct tls_client_conn *tls_client_start_opts(struct tls_client_ctx *ctx, struct stream *s,
                                              const char *servername, int timeout,
                                              const struct tls_client_sess_opts *o,
                                              struct sbuf *why);
/* For event loops (tlsproxy): a session on the non-blocking fd, set up as
 * tls_client_start_opts() would but without the handshake. Returns new
 * (free with tls_client_stop(c, NULL); the fd stays the caller's), or
 * NULL with why filled. */
struct tls_client_conn *tls_client_prepare(struct tls_client_ctx *ctx, int fd,
                                          const char *servername,
                                          const struct tls_client_sess_opts *o, struct sbuf *why);
/* One handshake step: 1 done, 0 call again when the fd is readable (or
 * writable when *want_write), -1 with why filled. */
int tls_client_handshake_step(struct tls_client_conn *c, bool *want_write, struct sbuf *why);
/* Session I/O after the handshake, like read(2)/write(2): -1 with errno
 * EAGAIN means wait for the fd to be readable, or writable when
 * *want_write / *want_read is set. Read returns 0 at the peer's end. */
ssize_t tls_client_read(struct tls_client_conn *c, void *buf, size_t len, bool *want_write);
ssize_t tls_client_write(struct tls_client_conn *c, const void *buf, size_t len,
                         bool *want_read);
/* Decrypted bytes waiting inside the session (no socket event will come
 * for them). */
size_t tls_client_pending(struct tls_client_conn *c);
/* Fills info; match_name is the host name the certificate should name
 * (DNS SANs, else the CN; "*.example.com" matches one label). */
void tls_client_info(struct tls_client_conn *c, const char *match_name,
                     struct tls_client_info *info);
/* True when the peer's chain verified and its certificate names name
 * (DNS SANs, else the CN; "*.example.com" matches one label). A name with
 * a leading '.' (".example.com") matches any subdomain of example.com but
 * not example.com itself. */
bool tls_client_matches(struct tls_client_conn *c, const char *name);
/* Sends close_notify without waiting for the peer's, detaches from the
 * stream (plain I/O again) and frees c; accepts NULL. */
void tls_client_stop(struct tls_client_conn *c, struct stream *s);

#endif
