/*
 * tls_dl.c - load libssl/libcrypto for the TLS wrapper on first use
 *
 * Used by: tls_common_ctx_new().
 * Interface: tls_dl_load(), tls_dl_ptrs (through the tls_dl.h macros).
 * Errors: -1 with the reason in why.
 * Notes: see tls_dl.h and dynlib.h.
 */
#include "tls_dl.h"
#include "dynlib.h"

void *tls_dl_ptrs[TLS_DL_COUNT];

#define TLS_DL_NAME(f) #f,
static const char *const tls_dl_syms[] = { TLS_DL_API(TLS_DL_NAME) NULL };
/* libssl needs libcrypto and pulls it in; both resolve from libssl's handle. */
static const char *const tls_dl_files[] = { "libssl.so.3", "libssl.so", NULL };
static struct dynlib tls_dl = { tls_dl_files, tls_dl_syms, tls_dl_ptrs, false };

int tls_dl_load(struct sbuf *why)
{
    return dynlib_load(&tls_dl, why);
}
