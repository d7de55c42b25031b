/*
 * sodium_dl.h - libsodium, loaded the first time something needs it
 *
 * Used by: lib/util/dkim_crypto.c (hash, base64, Ed25519),
 *          lib/mail/mail_queue.c (the random part of queue IDs).
 * Interface: sodium_dl_load(), sodium_dl_need(); after this header the
 *            libsodium functions listed in SODIUM_DL_API are calls through
 *            the pointers sodium_dl_load() filled.
 * Errors: sodium_dl_load() returns -1 with the reason in err;
 *         sodium_dl_need() stops the process (the package depends on
 *         libsodium: a process that cannot load it is a broken install).
 * Notes: most processes never make a queue ID or sign a message, and a
 *        library mapped at exec costs every process start its relocation
 *        and page faults (dynlib.h). Include after <sodium.h>, never before.
 */
#ifndef POSTERN_SODIUM_DL_H
#define POSTERN_SODIUM_DL_H
#include "sys_compat.h"
#include "sbuf.h"
#include "dynlib.h"
#include <sodium.h>

#define SODIUM_DL_API(X) X(sodium_init) X(sodium_memzero) X(sodium_bin2base64) \
    X(sodium_base642bin) X(crypto_sign_seed_keypair) X(crypto_sign_detached) \
    X(crypto_hash_sha256_init) X(crypto_hash_sha256_update) X(crypto_hash_sha256_final) \
    X(randombytes_uniform)
SODIUM_DL_API(DYNLIB_TYPE)
enum { SODIUM_DL_API(DYNLIB_INDEX) SODIUM_DL_COUNT };
extern void *sodium_dl_ptrs[SODIUM_DL_COUNT];
#define SODIUM_DL_FN(f) ((f##_fn *)sodium_dl_ptrs[f##_i])

/* Loads libsodium and runs sodium_init() once. 0, or -1 (reason in err,
 * which may be NULL). */
int sodium_dl_load(struct sbuf *err);
/* The same for callers that cannot fail: logs and exits on failure. */
void sodium_dl_need(void);

#define sodium_init SODIUM_DL_FN(sodium_init)
#define sodium_memzero SODIUM_DL_FN(sodium_memzero)
#define sodium_bin2base64 SODIUM_DL_FN(sodium_bin2base64)
#define sodium_base642bin SODIUM_DL_FN(sodium_base642bin)
#define crypto_sign_seed_keypair SODIUM_DL_FN(crypto_sign_seed_keypair)
#define crypto_sign_detached SODIUM_DL_FN(crypto_sign_detached)
#define crypto_hash_sha256_init SODIUM_DL_FN(crypto_hash_sha256_init)
#define crypto_hash_sha256_update SODIUM_DL_FN(crypto_hash_sha256_update)
#define crypto_hash_sha256_final SODIUM_DL_FN(crypto_hash_sha256_final)
#define randombytes_uniform SODIUM_DL_FN(randombytes_uniform)

#endif
