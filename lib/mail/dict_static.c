/*
 * dict_static.c - static:value, every key answers the same value
 *
 * Used by: dict.c (type table).
 * Interface: dict_type_static.
 * Errors: "static:{ ..." without the closing brace fails the open.
 * Notes: "static:{ text with spaces }" returns the text between the braces
 *        with the surrounding white space removed.
 */
#include "dict.h"
#include "dict_priv.h"
#include "alloc.h"
#include "log.h"

static int dict_static_open(struct dict *d, const char *name)
{
    size_t n = strlen(name);

    if (name[0] == '{') {
        if (n < 2 || name[n - 1] != '}') {
            log_warn("%s: missing '}' at the end of the value", d->spec);
            return -1;
        }
        const char *p = name + 1;
        const char *e = name + n - 1;
        while (p < e && (*p == ' ' || *p == '\t'))
            p++;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        d->impl = xstrndup(p, (size_t)(e - p));
    } else {
        d->impl = xstrdup(name);
    }
    return 0;
}

static const char *dict_static_lookup(struct dict *d, const char *key)
{
    UNUSED(key);
    return d->impl;
}

static void dict_static_close(struct dict *d)
{
    xfree(d->impl);
}

const struct dict_type dict_type_static = {
    "static", DICT_F_FIXED, dict_static_open, dict_static_lookup, NULL, dict_static_close,
};
