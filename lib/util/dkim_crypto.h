/*
 * dkim_crypto.h - the cryptography DKIM signing needs: SHA-256, base64,
 *                 RSA-SHA256 and Ed25519-SHA256 signatures
 *
 * Used by: lib/mail/dkim_sign.c.
 * Interface: dkim_sha256_new/update/final/free(), dkim_base64(),
 *            dkim_key_load(), dkim_key_sign(), dkim_key_free().
 * Errors: dkim_key_load() and dkim_key_sign() return NULL / -1 with a
 *         reason in err; the caller logs it.
 * Notes: the only DKIM module that includes OpenSSL and libsodium headers.
 *        RSA keys are PEM files OpenSSL reads (PKCS#1 or PKCS#8); Ed25519
 *        keys are files holding the base64 of the 32-byte seed (the form
 *        dkimpy's dknewkey writes), RFC 8463.
 */
#ifndef POSTERN_DKIM_CRYPTO_H
#define POSTERN_DKIM_CRYPTO_H
#include "sys_compat.h"
#include "sbuf.h"

#define DKIM_SHA256_LEN 32

#define DKIM_ALG_RSA 1          /* rsa-sha256 */
#define DKIM_ALG_ED25519 2      /* ed25519-sha256 */

struct dkim_sha256;
/* Streaming SHA-256. new returns new; final writes 32 bytes and may be
 * called once; free accepts NULL. */
struct dkim_sha256 *dkim_sha256_new(void);
void dkim_sha256_update(struct dkim_sha256 *h, const void *p, size_t n);
void dkim_sha256_final(struct dkim_sha256 *h, unsigned char out[DKIM_SHA256_LEN]);
void dkim_sha256_free(struct dkim_sha256 *h);

/* Appends the base64 (RFC 4648, padded, no line breaks) of p to out. */
void dkim_base64(struct sbuf *out, const unsigned char *p, size_t n);

struct dkim_key;
/* Loads the private key in path for alg (DKIM_ALG_*). Returns new, or NULL
 * with the reason in err. */
struct dkim_key *dkim_key_load(const char *path, int alg, struct sbuf *err);
/* Signs the SHA-256 digest of the header hash input: RSASSA-PKCS1-v1_5
 * with SHA-256 (RSA), or Ed25519 over the 32 digest bytes (RFC 8463).
 * Appends the base64 signature to out. Returns 0, or -1 with err. */
int dkim_key_sign(struct dkim_key *k, const unsigned char digest[DKIM_SHA256_LEN],
                  struct sbuf *out, struct sbuf *err);
/* Clears and frees the key; accepts NULL. */
void dkim_key_free(struct dkim_key *k);

#endif
