/*
 * dkim_crypto.c - SHA-256, base64 and the two DKIM signature algorithms
 *
 * Used by: lib/mail/dkim_sign.c.
 * Interface: see dkim_crypto.h.
 * Errors: key and signing failures return NULL/-1 with the reason in err.
 * Notes: thin wrapper over libsodium (hash, base64, Ed25519) and OpenSSL
 *        (RSA from PEM). Both are loaded on first use (dynlib.h): libsodium
 *        with the first key or hash (a process that cannot load it then
 *        stops: the package depends on it), libcrypto with the first RSA
 *        key. Secrets are cleared with sodium_memzero().
 */
#include "dkim_crypto.h"
#include "alloc.h"
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sodium.h>
#include "sodium_dl.h"
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "dynlib.h"
#include "log.h"

/*
 * libcrypto is loaded with the first RSA key, not at exec time (dynlib.h
 * says why); the calls below go through the pointers dynlib_load() set.
 */
#define DC_API(X) X(ERR_clear_error) X(EVP_PKEY_CTX_free) X(EVP_PKEY_CTX_new) \
    X(EVP_PKEY_CTX_set_rsa_padding) X(EVP_PKEY_CTX_set_signature_md) X(EVP_PKEY_free) \
    X(EVP_PKEY_get_base_id) X(EVP_PKEY_sign) X(EVP_PKEY_sign_init) X(EVP_sha256) \
    X(PEM_read_PrivateKey)
DYNLIB_DEFINE(dc_api, DC_API, "libcrypto.so.3", "libcrypto.so");
#define DC_FN(f) DYNLIB_FN(dc_api, f)
#define ERR_clear_error DC_FN(ERR_clear_error)
#define EVP_PKEY_CTX_free DC_FN(EVP_PKEY_CTX_free)
#define EVP_PKEY_CTX_new DC_FN(EVP_PKEY_CTX_new)
#define EVP_PKEY_CTX_set_rsa_padding DC_FN(EVP_PKEY_CTX_set_rsa_padding)
#define EVP_PKEY_CTX_set_signature_md DC_FN(EVP_PKEY_CTX_set_signature_md)
#define EVP_PKEY_free DC_FN(EVP_PKEY_free)
#define EVP_PKEY_get_base_id DC_FN(EVP_PKEY_get_base_id)
#define EVP_PKEY_sign DC_FN(EVP_PKEY_sign)
#define EVP_PKEY_sign_init DC_FN(EVP_PKEY_sign_init)
#define EVP_sha256 DC_FN(EVP_sha256)
#define PEM_read_PrivateKey DC_FN(PEM_read_PrivateKey)

struct dkim_sha256 {
    crypto_hash_sha256_state st;
};

struct dkim_key {
    int alg;
    EVP_PKEY *pkey;                                 /* RSA */
    unsigned char sk[crypto_sign_SECRETKEYBYTES];   /* Ed25519 */
};

struct dkim_sha256 *dkim_sha256_new(void)
{
    sodium_dl_need();
    struct dkim_sha256 *h = xcalloc(1, sizeof(*h));
    crypto_hash_sha256_init(&h->st);
    return h;
}

void dkim_sha256_update(struct dkim_sha256 *h, const void *p, size_t n)
{
    crypto_hash_sha256_update(&h->st, p, n);
}

void dkim_sha256_final(struct dkim_sha256 *h, unsigned char out[DKIM_SHA256_LEN])
{
    crypto_hash_sha256_final(&h->st, out);
}

void dkim_sha256_free(struct dkim_sha256 *h)
{
    xfree(h);
}

void dkim_base64(struct sbuf *out, const unsigned char *p, size_t n)
{
    sodium_dl_need();
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL);
    char *tmp = xmalloc(need);
    sodium_bin2base64(tmp, need, p, n, sodium_base64_VARIANT_ORIGINAL);
    sbuf_cat(out, tmp);
    xfree(tmp);
}

static struct dkim_key *dkim_key_rsa(const char *path, struct sbuf *err)
{
    if (dynlib_load(&dc_api, err) < 0)
        return NULL;
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        sbuf_printf(err, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    EVP_PKEY *pk = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
    fclose(fp);
    if (pk == NULL || EVP_PKEY_base_id(pk) != EVP_PKEY_RSA) {
        sbuf_printf(err, "%s: not a PEM RSA private key", path);
        EVP_PKEY_free(pk);
        ERR_clear_error();
        return NULL;
    }
    struct dkim_key *k = xcalloc(1, sizeof(*k));
    k->alg = DKIM_ALG_RSA;
    k->pkey = pk;
    return k;
}

static struct dkim_key *dkim_key_ed25519(const char *path, struct sbuf *err)
{
    char text[256];
    unsigned char seed[64], pk[crypto_sign_PUBLICKEYBYTES];
    size_t seed_len = 0;
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        sbuf_printf(err, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    size_t n = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[n] = 0;
    if (sodium_base642bin(seed, sizeof(seed), text, n, " \t\r\n", &seed_len, NULL,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        seed_len != crypto_sign_SEEDBYTES) {
        sodium_memzero(text, sizeof(text));
        sodium_memzero(seed, sizeof(seed));
        sbuf_printf(err, "%s: not the base64 of a 32-byte Ed25519 seed", path);
        return NULL;
    }
    struct dkim_key *k = xcalloc(1, sizeof(*k));
    k->alg = DKIM_ALG_ED25519;
    crypto_sign_seed_keypair(pk, k->sk, seed);
    sodium_memzero(text, sizeof(text));
    sodium_memzero(seed, sizeof(seed));
    return k;
}

struct dkim_key *dkim_key_load(const char *path, int alg, struct sbuf *err)
{
    if (sodium_dl_load(err) < 0)
        return NULL;
    if (alg == DKIM_ALG_RSA)
        return dkim_key_rsa(path, err);
    if (alg == DKIM_ALG_ED25519)
        return dkim_key_ed25519(path, err);
    sbuf_printf(err, "unknown key algorithm %d", alg);
    return NULL;
}

static int dkim_sign_rsa(struct dkim_key *k, const unsigned char *digest, struct sbuf *out,
                         struct sbuf *err)
{
    int res = -1;
    size_t len = 0;
    unsigned char *sig = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
    if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0 ||
        EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
        EVP_PKEY_sign(ctx, NULL, &len, digest, DKIM_SHA256_LEN) <= 0)
        goto done;
    sig = xmalloc(len);
    if (EVP_PKEY_sign(ctx, sig, &len, digest, DKIM_SHA256_LEN) <= 0)
        goto done;
    dkim_base64(out, sig, len);
    res = 0;
done:
    if (res < 0) {
        sbuf_printf(err, "RSA signing failed");
        ERR_clear_error();
    }
    xfree(sig);
    EVP_PKEY_CTX_free(ctx);
    return res;
}

int dkim_key_sign(struct dkim_key *k, const unsigned char digest[DKIM_SHA256_LEN],
                  struct sbuf *out, struct sbuf *err)
{
    if (k->alg == DKIM_ALG_RSA)
        return dkim_sign_rsa(k, digest, out, err);
    unsigned char sig[crypto_sign_BYTES];
    if (crypto_sign_detached(sig, NULL, digest, DKIM_SHA256_LEN, k->sk) != 0) {
        sbuf_printf(err, "Ed25519 signing failed");
        return -1;
    }
    dkim_base64(out, sig, sizeof(sig));
    return 0;
}

void dkim_key_free(struct dkim_key *k)
{
    if (k == NULL)
        return;
    if (k->pkey != NULL)            /* only RSA keys loaded libcrypto */
        EVP_PKEY_free(k->pkey);
    sodium_memzero(k->sk, sizeof(k->sk));
    xfree(k);
}
