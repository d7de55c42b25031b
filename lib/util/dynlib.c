/*
 * dynlib.c - load a shared library the first time a feature needs it
 *
 * Used by: dict_mysql.c, dkim_crypto.c, tls_*.c; server.c before chroot.
 * Interface: dynlib_load(), dynlib_chroot_preload().
 * Errors: dynlib_load() returns -1 and says why in err.
 * Notes: see dynlib.h. dlopen() of a soname that is already mapped finds
 *        it without looking at the file system, which is what makes the
 *        preload before chroot() sufficient.
 */
#include "dynlib.h"

#include <dlfcn.h>

int dynlib_load(struct dynlib *lib, struct sbuf *err)
{
    if (lib->loaded)
        return 0;
    void *h = NULL;
    const char *why = NULL;
    for (const char *const *f = lib->files; *f != NULL && h == NULL; f++) {
        h = dlopen(*f, RTLD_NOW | RTLD_LOCAL);
        if (h == NULL && why == NULL)
            why = dlerror();
    }
    if (h == NULL) {
        if (err)
            sbuf_printf(err, "cannot load %s: %s", lib->files[0], why ? why : "not found");
        return -1;
    }
    for (size_t i = 0; lib->syms[i] != NULL; i++) {
        lib->ptrs[i] = dlsym(h, lib->syms[i]);
        if (lib->ptrs[i] == NULL) {
            if (err)
                sbuf_printf(err, "%s: no symbol %s", lib->files[0], lib->syms[i]);
            return -1;
        }
    }
    lib->loaded = true;
    return 0;
}

void dynlib_chroot_preload(void)
{
    static const char *const files[] = {
        "libmariadb.so.3", "libcrypto.so.3", "libssl.so.3", "libsodium.so.23", "libpcre2-8.so.0",
        NULL
    };
    for (const char *const *f = files; *f != NULL; f++)
        (void)dlopen(*f, RTLD_LAZY | RTLD_LOCAL);
}
