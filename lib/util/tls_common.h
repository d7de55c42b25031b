/*
 * tls_common.h - pieces of the OpenSSL wrapper shared by TLS servers and
 *                clients: protocol lists, handshakes with a deadline,
 *                stream I/O through a TLS session, error text
 *
 * Used by: lib/util/tls_server.c, lib/util/tls_client.c.
 * Interface: tls_proto_parse(), tls_proto_name(), tls_ssl_options_parse(),
 *            and, for the wrapper
 *            modules only, tls_common_errors(), tls_common_proto_range(),
 *            tls_common_ctx_new(),
 *            tls_common_load_ca(), tls_common_session(),
 *            tls_common_handshake(), tls_common_handshake_step(),
 *            tls_common_pending(), tls_common_read(), tls_common_write(),
 *            tls_common_cipher(), tls_common_cn(), tls_common_hex(), tls_common_stop(),
 *            tls_prng_add().
 * Errors: parsers return -1 with a reason in why; nothing is logged here.
 * Notes: the header does not include OpenSSL: sessions are passed as
 *        struct ssl_st pointers (OpenSSL's SSL type), contexts as struct
 *        ssl_ctx_st (SSL_CTX) and names as struct X509_name_st (X509_NAME),
 *        so only tls_*.c files that include <openssl/ssl.h> can call those
 *        functions.
 */
#ifndef POSTERN_TLS_COMMON_H
#define POSTERN_TLS_COMMON_H
#include "sys_compat.h"
#include "sbuf.h"
#include "stream.h"

/* Protocol versions, one bit each. */
#define TLS_PROTO_SSLV2 (1u << 0)
#define TLS_PROTO_SSLV3 (1u << 1)
#define TLS_PROTO_TLSV1 (1u << 2)
#define TLS_PROTO_TLSV1_1 (1u << 3)
#define TLS_PROTO_TLSV1_2 (1u << 4)
#define TLS_PROTO_TLSV1_3 (1u << 5)
#define TLS_PROTO_ALL 0x3fu

/* Parses a Postfix protocol list into the set of enabled versions:
 * ">=TLSv1.2", "<=TLSv1.2", "!SSLv2, !SSLv3, !TLSv1", "TLSv1.2 TLSv1.3"
 * (separators: blank, comma, colon). Exclusions and bounds combine; a
 * list of plain names enables only those. Empty = all. Returns 0 with
 * *mask set, or -1 with why filled (unknown protocol name). */
int tls_proto_parse(const char *spec, unsigned *mask, struct sbuf *why);
/* "TLSv1.2" for TLS_PROTO_TLSV1_2 (borrowed static text), "?" otherwise. */
const char *tls_proto_name(unsigned bit);

/* Parses tls_ssl_options: OpenSSL option names without the SSL_OP_ prefix
 * (any case: ENABLE_MIDDLEBOX_COMPAT, LEGACY_SERVER_CONNECT, NO_COMPRESSION,
 * NO_RENEGOTIATION, NO_SESSION_RESUMPTION_ON_RENEGOTIATION, NO_TICKET,
 * PRIORITIZE_CHACHA) or numbers (decimal, or hex with 0x), separated by
 * blanks or commas. Returns the bits; each word it does not know is added
 * to bad (blank-separated) and left out. */
uint64_t tls_ssl_options_parse(const char *spec, struct sbuf *bad);

/* A session ticket key (RFC 5077 style, as OpenSSL's ticket callback
 * wants it): a 16-byte name, a cipher key and an HMAC-SHA256 key. */
#define TLS_TKT_NAME_LEN 16
#define TLS_TKT_KEY_MAX 64      /* longest cipher key */
#define TLS_TKT_HMAC_LEN 32
struct tls_tktkey {
    unsigned char name[TLS_TKT_NAME_LEN];
    unsigned char key[TLS_TKT_KEY_MAX];
    size_t key_len;             /* the cipher's key length */
    unsigned char hmac[TLS_TKT_HMAC_LEN];
    long expires;               /* time() after which it no longer encrypts */
};

/* An external TLS session cache (tlsmgr), as callbacks so that the
 * OpenSSL wrappers need nothing from lib/mail. Any member may be NULL.
 * get: fills out with a serialized session (i2d_SSL_SESSION form) and
 *      returns 0, or -1 when there is none.
 * put, del: store or forget one; failures are the callee's to log.
 * tktkey: a ticket key: the current one (name NULL) or the one named;
 *      0 with *k filled, or -1 (none: no ticket, or a full handshake). */
struct tls_cache_ops {
    void *ctx;
    int (*get)(void *ctx, const char *id, struct sbuf *out);
    void (*put)(void *ctx, const char *id, const unsigned char *der, size_t len);
    void (*del)(void *ctx, const char *id);
    int (*tktkey)(void *ctx, const unsigned char *name, struct tls_tktkey *k);
};

/* Mixes len bytes of outside randomness (tlsmgr's seed) into OpenSSL's
 * generator. */
void tls_prng_add(const unsigned char *buf, size_t len);

struct ssl_st;
struct ssl_ctx_st;
struct X509_name_st;
struct x509_store_ctx_st;

/* Appends OpenSSL's queued errors to why (": a; b") and clears the queue. */
void tls_common_errors(struct sbuf *why);
/* The OpenSSL version range of mask (its lowest and highest TLS version)
 * and the SSL_OP_NO_* options that switch off the holes inside it
 * ("!TLSv1.1" with TLSv1 allowed). 0, or -1 with why filled when no
 * version is enabled. */
int tls_common_proto_range(unsigned mask, int *min_version, int *max_version, uint64_t *holes,
                           struct sbuf *why);
/* A verify callback (the client's; the server's calls it and goes on
 * regardless): the certificate chain may reach at most level D (0 the
 * peer, D the trust anchor included) when the context was given
 * SSL_CTX_set_verify_depth(D + 1) (tls_common_verify_depth); anything
 * deeper is "certificate chain too long", as in Postfix. Returns ok, or 0
 * for a chain too long. */
int tls_common_verify_cb(int ok, struct x509_store_ctx_st *store);
/* *_tls_[cs]cert_verifydepth D on c: verify mode, callback cb (NULL:
 * tls_common_verify_cb) and depth D + 1; D <= 0 leaves OpenSSL's limit
 * (and cb as given). */
void tls_common_verify_depth(struct ssl_ctx_st *c, int mode,
                             int (*cb)(int, struct x509_store_ctx_st *), int depth);

/* New server or client context with the options both sides always want
 * (no compression, no renegotiation, partial and moving-buffer writes).
 * Returns new, or NULL with why filled. */
struct ssl_ctx_st *tls_common_ctx_new(bool server, struct sbuf *why);
/* Loads trust anchors from ca_file and/or ca_path (NULL or "" = unset;
 * nothing to do when both are unset), and with append_default OpenSSL's
 * default ones as well (tls_append_default_CA). 0, or -1 with why filled. */
int tls_common_load_ca(struct ssl_ctx_st *c, const char *ca_file, const char *ca_path,
                       bool append_default, struct sbuf *why);

/* The certificates and keys a TLS end presents ("" or NULL = unset). */
struct tls_keyfiles {
    const char *cert_file, *key_file;       /* any key type; key "" = in cert_file */
    const char *eccert_file, *eckey_file;   /* a second (ECDSA) one */
    const char *dcert_file, *dkey_file;     /* a third (DSA) one */
    /* Files that each hold a private key and its certificate chain; when
     * set, the pairs above are ignored (Postfix rule). Blanks or commas. */
    const char *chain_files;
};
/* Loads k into c, each pair into the slot of its key type. Returns the
 * number of pairs loaded, or -1 with why filled (a file that does not load,
 * a key that does not match its certificate). */
int tls_common_load_keys(struct ssl_ctx_st *c, const struct tls_keyfiles *k, struct sbuf *why);
/* New session of c bound to fd. Returns new, or NULL with why filled. */
struct ssl_st *tls_common_session(struct ssl_ctx_st *c, int fd, struct sbuf *why);
/* Runs SSL_accept (server) or SSL_connect on the non-blocking fd until
 * done or timeout seconds (0 = no limit) pass. 0, or -1 with why filled
 * ("TLS handshake failed: ..."). */
int tls_common_handshake(struct ssl_st *ssl, int fd, bool server, int timeout, struct sbuf *why);
/* One non-blocking step of SSL_accept (server) or SSL_connect, for
 * callers on an event loop (tlsproxy): 1 done, 0 call again when the fd
 * is readable (or writable when *want_write), -1 with why filled. */
int tls_common_handshake_step(struct ssl_st *ssl, bool server, bool *want_write,
                              struct sbuf *why);
/* Decrypted bytes ssl holds that a read would return without touching
 * the socket (SSL_pending). */
size_t tls_common_pending(struct ssl_st *ssl);
/* stream_set_io() hooks; ctx is the struct ssl_st pointer. */
ssize_t tls_common_read(void *ctx, int fd, void *buf, size_t len, bool *want_write);
ssize_t tls_common_write(void *ctx, int fd, const void *buf, size_t len, bool *want_read);
/* Fills the negotiated protocol ("TLSv1.3") and cipher name with their
 * strength; the cipher fields are left alone when there is no cipher. */
void tls_common_cipher(struct ssl_st *ssl, char *protocol, size_t protocol_size, char *cipher,
                       size_t cipher_size, int *bits, int *alg_bits);
/* Printable CommonName of name (control and 8-bit bytes become '?'); ""
 * when name is NULL or has none. */
void tls_common_cn(struct X509_name_st *name, char *out, size_t size);
/* A digest as Postfix prints fingerprints: upper-case hex, a colon between
 * bytes ("AB:CD:..."); truncated to fit size (a whole byte at a time). */
void tls_common_hex(const unsigned char *md, size_t len, char *out, size_t size);
/* Sends close_notify once (never waits for the peer's), puts s (may be
 * NULL) back on plain I/O and frees ssl. */
void tls_common_stop(struct ssl_st *ssl, struct stream *s);

#endif
