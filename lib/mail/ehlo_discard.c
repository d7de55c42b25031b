/*
 * ehlo_discard.c - EHLO keywords to act as if they were not there
 *
 * Used by: smtpd (smtpd_limits.c: ehlo_discard_has()), smtp/lmtp
 *          (smtp.c, smtp_proto.c), postscreen (postscreen_smtpd.c).
 * Interface: ehlo_discard_new(), ehlo_discard_lookup(), ehlo_discard_has(),
 *            ehlo_discard_free().
 * Errors: see ehlo_discard.h: a failed map lookup falls back to the list.
 * Notes: the server-side and client-side settings have the same shape: a
 *        keyword list and maps indexed by the peer's address.
 */
#include "ehlo_discard.h"
#include "alloc.h"
#include "config.h"
#include "maps.h"
#include <strings.h>

struct ehlo_discard {
    char *list;        /* keyword list value, split per lookup */
    struct maps *maps; /* by peer address; NULL = none */
};

struct ehlo_discard *ehlo_discard_new(const char *list, const char *maps_name,
                                      const char *maps_value)
{
    struct ehlo_discard *d = xcalloc(1, sizeof(*d));
    d->list = xstrdup(list ? list : "");
    if (maps_value && *maps_value)
        d->maps = maps_create(maps_name, maps_value, 0);
    return d;
}

char **ehlo_discard_lookup(const struct ehlo_discard *d, const char *addr)
{
    if (d == NULL)
        return cfg_list("");
    if (d->maps && addr && *addr) {
        const char *v = maps_find(d->maps, addr, 0);
        if (v)
            return cfg_list(v);
        /* A failed lookup (logged by the maps layer) is no answer. */
    }
    return cfg_list(d->list);
}

bool ehlo_discard_has(char *const *words, const char *kw)
{
    for (char *const *p = words; p && *p; p++)
        if (strcasecmp(*p, kw) == 0)
            return true;
    return false;
}

void ehlo_discard_free(struct ehlo_discard *d)
{
    if (d == NULL)
        return;
    maps_free(d->maps);
    xfree(d->list);
    xfree(d);
}
