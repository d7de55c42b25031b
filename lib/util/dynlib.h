/*
 * dynlib.h - load a shared library the first time a feature needs it
 *
 * Used by: lib/mail/dict_mysql.c (libmariadb), lib/util/dkim_crypto.c and
 *          lib/util/tls_*.c (libcrypto, libssl), lib/util/sodium_dl.c
 *          (libsodium), lib/mail/dict_pcre.c (libpcre2-8), lib/server
 *          (before chroot).
 * Interface: dynlib_load(), dynlib_chroot_preload().
 * Errors: dynlib_load() returns -1 with the reason in err (no library of
 *         the listed names, or a listed symbol missing); nothing is logged.
 * Notes: every process used to map libmariadb, libssl and libcrypto at
 *        exec time, and their relocated data (about half a MiB, private to
 *        each process) was most of a daemon's memory although most daemons
 *        never open a mysql: table, sign with RSA or start TLS. A wrapper
 *        module lists the functions it calls; the first use resolves them
 *        all at once (RTLD_NOW), so a missing symbol is an error at that
 *        point, never a crash later. A library stays loaded for the life of
 *        the process.
 */
#ifndef POSTERN_DYNLIB_H
#define POSTERN_DYNLIB_H
#include "sys_compat.h"
#include "sbuf.h"

struct dynlib {
    const char *const *files;   /* NULL-terminated list of sonames to try */
    const char *const *syms;    /* NULL-terminated list of function names */
    void **ptrs;                /* one slot per name in syms */
    bool loaded;
};

/*
 * A module's list of functions, as an X-macro API(X) naming each function
 * once, becomes with DYNLIB_DEFINE(name, API, "libfoo.so.N", ...): a type
 * f_fn and an index f_i per function, and a static struct dynlib called
 * name; DYNLIB_FN(name, f) is then the function pointer to call (after
 * dynlib_load(&name, ...)). A list shared by several files declares its
 * pointer array itself with DYNLIB_TYPE/DYNLIB_INDEX/DYNLIB_NAME.
 */
#define DYNLIB_TYPE(f) typedef __typeof__(f) f##_fn;
#define DYNLIB_INDEX(f) f##_i,
#define DYNLIB_NAME(f) #f,
#define DYNLIB_DEFINE(name, API, ...)                                       \
    API(DYNLIB_TYPE)                                                        \
    enum { API(DYNLIB_INDEX) name##_count };                                \
    static const char *const name##_syms[] = { API(DYNLIB_NAME) NULL };    \
    static const char *const name##_files[] = { __VA_ARGS__, NULL };       \
    static void *name##_ptrs[name##_count];                                 \
    static struct dynlib name = { name##_files, name##_syms, name##_ptrs, false }
#define DYNLIB_FN(name, f) ((f##_fn *)name##_ptrs[f##_i])

/* Loads the first of lib->files that opens and fills lib->ptrs from
 * lib->syms. Returns 0 (also when already loaded) or -1 with the reason
 * written to err (err may be NULL). */
int dynlib_load(struct dynlib *lib, struct sbuf *err);

/* Maps, without resolving anything, the libraries the lazily loading
 * modules may need later, for a process about to chroot (where the files
 * are out of reach afterwards). Missing files are ignored: the module
 * reports the failure when it is used. */
void dynlib_chroot_preload(void);

#endif
