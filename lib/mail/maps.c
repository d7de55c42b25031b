/*
 * maps.c - search a list of lookup tables, including the address order
 *
 * Used by: every program that reads a *_maps parameter.
 * Interface: see maps.h.
 * Errors: see maps.h; nothing here is fatal.
 * Notes: tables are opened per maps list (no sharing between lists yet).
 */
#include "maps.h"
#include "alloc.h"
#include "log.h"
#include "sbuf.h"

#include <ctype.h>

struct maps {
    char *title;
    struct dict **dicts;        /* NULL entry: the table failed to open */
    char **specs;
    size_t n;
    int error;
    struct sbuf *key;
};

/* Splits value into table specs, keeping {...} groups whole. Returns new. */
static char **maps_split(const char *value, size_t *np)
{
    size_t n = 0, cap = 4;
    char **v = xcalloc(cap, sizeof(*v));
    const char *p = value;

    while (*p) {
        while (*p && (isspace((unsigned char)*p) || *p == ','))
            p++;
        if (*p == 0)
            break;
        const char *s = p;
        int depth = 0;
        while (*p && (depth > 0 || (!isspace((unsigned char)*p) && *p != ','))) {
            if (*p == '{')
                depth++;
            else if (*p == '}' && depth > 0)
                depth--;
            p++;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            v = xreallocarray(v, cap, sizeof(*v));
        }
        v[n++] = xstrndup(s, (size_t)(p - s));
    }
    *np = n;
    return v;
}

struct maps *maps_create(const char *title, const char *value, int flags)
{
    struct maps *m = xcalloc(1, sizeof(*m));

    m->title = xstrdup(title);
    m->key = sbuf_new(128);
    m->specs = maps_split(value ? value : "", &m->n);
    m->dicts = xcalloc(m->n ? m->n : 1, sizeof(*m->dicts));
    for (size_t i = 0; i < m->n; i++) {
        m->dicts[i] = dict_open(m->specs[i], flags);
        if (m->dicts[i] == NULL)
            log_warn("%s: table %s is unavailable; its lookups will fail temporarily", title,
                     m->specs[i]);
    }
    return m;
}

const char *maps_find(struct maps *m, const char *key, int flags)
{
    m->error = DICT_ERR_NONE;
    for (size_t i = 0; i < m->n; i++) {
        struct dict *d = m->dicts[i];
        if (d == NULL) {
            m->error = DICT_ERR_RETRY;
            return NULL;
        }
        if (flags != 0 && (dict_flags(d) & flags) == 0)
            continue;
        const char *v = dict_lookup(d, key);
        if (v != NULL) {
            log_debug(2, "%s: %s: %s = %s", m->title, dict_name(d), key, v);
            return v;
        }
        if (dict_error(d) != DICT_ERR_NONE) {
            log_warn("%s: %s: table lookup problem for \"%s\"", m->title, dict_name(d), key);
            m->error = dict_error(d);
            return NULL;
        }
    }
    return NULL;
}

size_t maps_ext_split(const char *lp, size_t len, const char *delims)
{
    if (delims == NULL || *delims == 0 || len == 0)
        return len;
    /* Mailing-list conventions are not extensions. */
    if (strchr(delims, '-') != NULL &&
        ((len > 6 && strncasecmp(lp, "owner-", 6) == 0) ||
         (len > 8 && strncasecmp(lp + len - 8, "-request", 8) == 0)))
        return len;
    for (size_t i = 1; i < len; i++)
        if (strchr(delims, lp[i]) != NULL)
            return i;
    return len;
}

const char *maps_find_addr(struct maps *m, const char *address, const char *delims, int flags,
                           char **ext_out)
{
    const char *at = strrchr(address, '@');
    size_t lplen = at ? (size_t)(at - address) : strlen(address);
    size_t base = maps_ext_split(address, lplen, delims);
    bool has_ext = base < lplen;
    const char *v;

    if (ext_out)
        *ext_out = NULL;
    m->error = DICT_ERR_NONE;

    /* 1. the address as given: every table */
    if ((v = maps_find(m, address, 0)) != NULL || m->error)
        return v;

    if (at != NULL) {
        /* 2. user@domain without the extension */
        if (has_ext) {
            sbuf_reset(m->key);
            sbuf_append(m->key, address, base);
            sbuf_cat(m->key, at);
            if ((v = maps_find(m, sbuf_str(m->key), DICT_F_FIXED)) != NULL)
                goto found_noext;
            if (m->error)
                return NULL;
        }
        if (flags & MAPS_ADDR_LOCAL) {
            /* 3. user+ext */
            sbuf_reset(m->key);
            sbuf_append(m->key, address, lplen);
            if (lplen > 0 && ((v = maps_find(m, sbuf_str(m->key), DICT_F_FIXED)) != NULL))
                return v;
            if (m->error)
                return NULL;
        }
    }
    /* 4. user (local domain, or no domain at all) */
    if (has_ext && (at == NULL || (flags & MAPS_ADDR_LOCAL))) {
        sbuf_reset(m->key);
        sbuf_append(m->key, address, base);
        if ((v = maps_find(m, sbuf_str(m->key), DICT_F_FIXED)) != NULL)
            goto found_noext;
        if (m->error)
            return NULL;
    }
    /* 5. @domain */
    if (at != NULL && !(flags & MAPS_ADDR_NO_DOMAIN))
        return maps_find(m, at, DICT_F_FIXED);
    return NULL;

found_noext:
    if (ext_out)
        *ext_out = xstrndup(address + base, lplen - base);
    return v;
}

int maps_error(const struct maps *m)
{
    return m->error;
}

const char *maps_title(const struct maps *m)
{
    return m->title;
}

size_t maps_count(const struct maps *m)
{
    return m->n;
}

void maps_free(struct maps *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        dict_close(m->dicts[i]);
        xfree(m->specs[i]);
    }
    xfree(m->dicts);
    xfree(m->specs);
    sbuf_free(m->key);
    xfree(m->title);
    xfree(m);
}
