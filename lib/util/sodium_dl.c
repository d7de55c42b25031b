/*
 * sodium_dl.c - libsodium, loaded the first time something needs it
 *
 * Used by: dkim_crypto.c, mail_queue.c.
 * Interface: see sodium_dl.h.
 * Errors: see sodium_dl.h.
 */
#include "sodium_dl.h"
#include "log.h"

static const char *const sodium_dl_syms[] = { SODIUM_DL_API(DYNLIB_NAME) NULL };
static const char *const sodium_dl_files[] = { "libsodium.so.23", "libsodium.so", NULL };
void *sodium_dl_ptrs[SODIUM_DL_COUNT];
static struct dynlib sodium_dl = { sodium_dl_files, sodium_dl_syms, sodium_dl_ptrs, false };

int sodium_dl_load(struct sbuf *err)
{
    static bool ready;
    if (ready)
        return 0;
    if (dynlib_load(&sodium_dl, err) < 0)
        return -1;
    if (sodium_init() < 0) {
        if (err)
            sbuf_printf(err, "libsodium initialisation failed");
        return -1;
    }
    ready = true;
    return 0;
}

void sodium_dl_need(void)
{
    struct sbuf *err = sbuf_new(128);
    if (sodium_dl_load(err) < 0)
        log_fatal("%s", sbuf_str(err));
    sbuf_free(err);
}
