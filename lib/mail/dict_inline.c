/*
 * dict_inline.c - inline:{ key=value, { key = value with spaces } }
 *
 * Used by: dict.c (type table); small tables written straight into main.cf.
 * Interface: dict_type_inline.
 * Errors: missing braces, an item without '=', or an empty table fail the
 *         open with "inline:{...}: what is wrong".
 * Notes: items are separated by white space or commas; an item in braces
 *        may hold both. Keys are folded when DICT_F_FOLD is set; the first
 *        of duplicate keys wins.
 */
#include "dict.h"
#include "dict_priv.h"
#include "dict_db.h"
#include "dict_file.h"
#include "alloc.h"
#include "log.h"

#include <ctype.h>

/* Trims white space from both ends of [*p, *e). */
static void inline_trim(const char **p, const char **e)
{
    while (*p < *e && isspace((unsigned char)**p))
        (*p)++;
    while (*e > *p && isspace((unsigned char)(*e)[-1]))
        (*e)--;
}

/* DICT_F_RHS_FILE: *val names files; replace it with their base64. */
static int inline_files(struct dict *d, char **val)
{
    struct sbuf *b64 = sbuf_new(4096), *why = sbuf_new(128);
    int rc = dict_file_to_b64(*val, b64, why);
    if (rc < 0)
        log_warn("%s: %s", d->spec, sbuf_str(why));
    else {
        xfree(*val);
        *val = sbuf_detach(b64);
        b64 = NULL;
    }
    if (b64)
        sbuf_free(b64);
    sbuf_free(why);
    return rc;
}

static int dict_inline_open(struct dict *d, const char *name)
{
    size_t n = strlen(name);
    const char *p, *end;
    struct dict_db_builder *b;

    if (n < 2 || name[0] != '{' || name[n - 1] != '}') {
        log_warn("%s: expected inline:{ key=value, ... }", d->spec);
        return -1;
    }
    p = name + 1;
    end = name + n - 1;
    b = dict_db_builder_new();
    while (p < end) {
        const char *is, *ie;
        while (p < end && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (p >= end)
            break;
        if (*p == '{') {
            int depth = 0;
            is = p + 1;
            for (; p < end; p++) {
                if (*p == '{')
                    depth++;
                else if (*p == '}' && --depth == 0)
                    break;
            }
            if (p >= end) {
                log_warn("%s: missing '}' in an item", d->spec);
                goto bad;
            }
            ie = p++;
        } else {
            is = p;
            while (p < end && !isspace((unsigned char)*p) && *p != ',')
                p++;
            ie = p;
        }
        const char *eq = memchr(is, '=', (size_t)(ie - is));
        if (eq == NULL) {
            log_warn("%s: item \"%.*s\" is not key=value", d->spec, (int)(ie - is), is);
            goto bad;
        }
        const char *ks = is, *ke = eq, *vs = eq + 1, *ve = ie;
        inline_trim(&ks, &ke);
        inline_trim(&vs, &ve);
        if (ks == ke) {
            log_warn("%s: item \"%.*s\" has an empty key", d->spec, (int)(ie - is), is);
            goto bad;
        }
        char *key = xstrndup(ks, (size_t)(ke - ks));
        char *val = xstrndup(vs, (size_t)(ve - vs));
        if (d->flags & DICT_F_FOLD)
            dict_fold(key);
        if ((d->flags & DICT_F_RHS_FILE) && inline_files(d, &val) < 0) {
            xfree(key);
            xfree(val);
            goto bad;
        }
        dict_db_builder_add(b, key, val, false);
        xfree(key);
        xfree(val);
    }
    if (dict_db_builder_count(b) == 0) {
        log_warn("%s: empty table", d->spec);
        goto bad;
    }
    d->impl = b;
    return 0;
bad:
    dict_db_builder_free(b);
    return -1;
}

static const char *dict_inline_lookup(struct dict *d, const char *key)
{
    return dict_db_builder_get(d->impl, key);
}

static int dict_inline_sequence(struct dict *d, dict_walk_fn fn, void *ctx)
{
    dict_db_builder_walk(d->impl, fn, ctx);
    return 0;
}

static void dict_inline_close(struct dict *d)
{
    dict_db_builder_free(d->impl);
}

const struct dict_type dict_type_inline = {
    "inline", DICT_F_FIXED, dict_inline_open, dict_inline_lookup, dict_inline_sequence,
    dict_inline_close,
};
