/*
 * dict.c - open and query lookup tables named "type:name"
 *
 * Used by: maps.c, postmap, postalias, and any program that needs one table.
 * Interface: dict_open(), dict_lookup(), dict_error(), dict_name(),
 *            dict_flags(), dict_close(), dict_types(), dict_sequence(),
 *            dict_split_spec(), dict_reader_*(), dict_parse_entry(), dict_fold().
 * Errors: an unknown type or a table that cannot be opened is logged as
 *         "type:name: reason" and dict_open() returns NULL.
 * Notes: "proxy:TYPE:NAME" is a client of the proxymap service
 *        (dict_proxy.c); TYPE:NAME is opened there. Fixed-string tables see keys
 *        folded to lower case when DICT_F_FOLD is set; pattern tables see the
 *        key as given (their patterns are case-insensitive by default).
 */
#include "dict.h"
#include "dict_priv.h"
#include "dict_proxy.h"
#include "dynlib.h"
#include "alloc.h"
#include "lline.h"
#include "log.h"
#include "sbuf.h"

#include <ctype.h>

static const struct dict_type *const dict_type_list[] = {
    &dict_type_btree,  &dict_type_cidr,   &dict_type_fail,  &dict_type_hash,
    &dict_type_inline, &dict_type_mysql,  &dict_type_pcre,  &dict_type_regexp,
    &dict_type_static, &dict_type_texthash, &dict_type_unix,
};

/* Longest key we pass to a table; longer keys are simply not found. */
#define DICT_KEY_MAX 4096

const struct dict_type *dict_type_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(dict_type_list); i++)
        if (strcmp(dict_type_list[i]->name, name) == 0)
            return dict_type_list[i];
    return NULL;
}

const char *dict_types(void)
{
    return "btree cidr fail hash inline mysql pcre proxy regexp static texthash unix";
}

void dict_fold(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

const char *dict_split_spec(const char *spec, struct sbuf *type_out)
{
    const char *colon = strchr(spec, ':');
    const char *slash = strchr(spec, '/');

    /* "/path/with:colon" has no type; a type name is letters and digits. */
    if (colon == NULL || colon == spec || (slash != NULL && slash < colon))
        return NULL;
    for (const char *p = spec; p < colon; p++)
        if (!isalnum((unsigned char)*p) && *p != '_' && *p != '-')
            return NULL;
    sbuf_reset(type_out);
    sbuf_append(type_out, spec, (size_t)(colon - spec));
    return colon + 1;
}

/* daemon_table_open_error_is_fatal, set by the daemon skeleton. */
static bool dict_open_fatal;

void dict_set_open_fatal(bool on)
{
    dict_open_fatal = on;
}

static struct dict *dict_open_spec(const char *spec, int flags);

struct dict *dict_open(const char *spec, int flags)
{
    struct dict *d = dict_open_spec(spec, flags);
    if (d == NULL && dict_open_fatal)
        log_fatal("%s: cannot open the table (daemon_table_open_error_is_fatal = yes)", spec);
    return d;
}

static struct dict *dict_open_spec(const char *spec, int flags)
{
    struct sbuf *type = sbuf_new(16);
    const char *name = spec;
    const struct dict_type *dt = NULL;

    name = dict_split_spec(name, type);
    if (name == NULL) {
        log_warn("%s: table name has no type: prefix (expected type:name)", spec);
        sbuf_free(type);
        return NULL;
    }
    /* Agents that act on table contents as root (local's aliases, virtual's
     * uid/gid maps) open the table themselves, as Postfix does: proxymap is
     * not trusted with data that decides whom we become. */
    if (strcmp(sbuf_str(type), "proxy") == 0 && (flags & DICT_F_NO_PROXY)) {
        sbuf_free(type);
        return dict_open_spec(name, flags & ~DICT_F_NO_PROXY);
    }
    /* proxy:TYPE:NAME: the proxy type checks TYPE and talks to proxymap. */
    if (strcmp(sbuf_str(type), "proxy") == 0)
        dt = &dict_type_proxy;
    else
        dt = dict_type_find(sbuf_str(type));
    if (dt == NULL) {
        log_warn("%s: unsupported dictionary type: %s", spec, sbuf_str(type));
        sbuf_free(type);
        return NULL;
    }
    sbuf_free(type);

    struct dict *d = xcalloc(1, sizeof(*d));
    d->spec = xstrdup(spec);
    d->type = dt;
    d->flags = (flags & ~(DICT_F_FIXED | DICT_F_PATTERN)) | dt->flags;
    d->keybuf = sbuf_new(64);
    d->result = sbuf_new(64);
    if (dt->open(d, name) < 0) {
        sbuf_free(d->keybuf);
        sbuf_free(d->result);
        xfree(d->spec);
        xfree(d);
        return NULL;
    }
    return d;
}

const char *dict_lookup(struct dict *d, const char *key)
{
    d->error = DICT_ERR_NONE;
    if (key == NULL || strlen(key) > DICT_KEY_MAX)
        return NULL;
    if ((d->flags & DICT_F_FOLD) && (d->flags & DICT_F_FIXED)) {
        sbuf_set(d->keybuf, key);
        dict_fold(sbuf_data(d->keybuf));
        key = sbuf_str(d->keybuf);
    }
    const char *v = d->type->lookup(d, key);
    if (d->error != DICT_ERR_NONE)
        return NULL;
    return v;
}

int dict_error(const struct dict *d)
{
    return d->error;
}

const char *dict_name(const struct dict *d)
{
    return d->spec;
}

int dict_flags(const struct dict *d)
{
    return d->flags;
}

int dict_sequence(struct dict *d, dict_walk_fn fn, void *ctx)
{
    if (d->type->sequence == NULL) {
        log_warn("%s: table type %s cannot list its entries", d->spec, d->type->name);
        return -1;
    }
    return d->type->sequence(d, fn, ctx);
}

void dict_close(struct dict *d)
{
    if (d == NULL)
        return;
    if (d->type->close)
        d->type->close(d);
    sbuf_free(d->keybuf);
    sbuf_free(d->result);
    xfree(d->spec);
    xfree(d);
}

/* ---- source file reader ---- */

struct dict_reader {
    FILE *fp;
    bool is_stdin;
    struct lline_reader *lr;
};

struct dict_reader *dict_reader_open(const char *path)
{
    FILE *fp;
    bool is_stdin = strcmp(path, "-") == 0;

    if (is_stdin)
        fp = stdin;
    else if ((fp = fopen(path, "re")) == NULL)
        return NULL;
    struct dict_reader *r = xcalloc(1, sizeof(*r));
    r->fp = fp;
    r->is_stdin = is_stdin;
    /* A table source has no "must not start with white space" rule: such a
     * first line is taken as it is (postmap accepts it). */
    r->lr = lline_open(fp, path, DICT_LINE_MAX, LLINE_F_LEAD_OK);
    return r;
}

int dict_reader_next(struct dict_reader *r, struct sbuf *line, int *lineno)
{
    return lline_next(r->lr, line, lineno);
}

void dict_reader_close(struct dict_reader *r)
{
    if (r == NULL)
        return;
    lline_close(r->lr);
    if (!r->is_stdin)
        fclose(r->fp);
    xfree(r);
}

int dict_parse_entry(const char *line, bool alias, struct sbuf *key, struct sbuf *value,
                     const char **why)
{
    const char *p = line;
    const char *kend;

    p += strspn(p, " \t");
    if (!alias) {
        kend = p + strcspn(p, " \t");
        if (kend == p) {
            *why = "expected format: key whitespace value";
            return -1;
        }
        sbuf_reset(key);
        sbuf_append(key, p, (size_t)(kend - p));
        p = kend + strspn(kend, " \t");
        if (*p == 0) {
            *why = "expected format: key whitespace value";
            return -1;
        }
    } else {
        sbuf_reset(key);
        if (*p == '"') {
            /* "quoted name": stored without its quotes, a backslash
             * taking the next character literally, as postalias does
             * ("a b" -> a b, "x\"y" -> x"y, "p\q" -> pq), so that
             * local(8) finds the name as it appears in an address. */
            for (p++; *p != '"'; p++) {
                if (*p == '\\' && p[1] != 0)
                    p++;
                if (*p == 0) {
                    *why = "unbalanced quote in name";
                    return -1;
                }
                sbuf_addch(key, *p);
            }
            if (sbuf_len(key) == 0) {
                *why = "empty name";
                return -1;
            }
            p++;
            p += strspn(p, " \t");
            if (*p != ':') {
                *why = "need name:value pair";
                return -1;
            }
        } else {
            kend = strchr(p, ':');
            if (kend == NULL || kend == p) {
                *why = "need name:value pair";
                return -1;
            }
            sbuf_append(key, p, (size_t)(kend - p));
            sbuf_trim(key);
            p = kend;
            if (strpbrk(sbuf_str(key), " \t") != NULL) {
                *why = "white space in name; quote the name";
                return -1;
            }
        }
        p++;                    /* the colon */
        p += strspn(p, " \t");
        if (*p == 0) {
            *why = "need name:value pair";
            return -1;
        }
    }
    sbuf_set(value, p);
    sbuf_trim(value);
    return 0;
}

int dict_dynlib_load(struct dict *d, struct dynlib *lib)
{
    struct sbuf *why = sbuf_new(128);
    int r = dynlib_load(lib, why);
    if (r < 0)
        log_warn("%s: %s", d->spec, sbuf_str(why));
    sbuf_free(why);
    return r;
}
