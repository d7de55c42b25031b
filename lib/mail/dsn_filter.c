/*
 * dsn_filter.c - delivery status filters (*_delivery_status_filter)
 *
 * Used by: deliver_request.c.
 * Interface: see dsn_filter.h.
 * Errors: see dsn_filter.h; nothing here is fatal.
 * Notes: the code part of a result is parsed by deliver_split_dsn(), the
 *        one parser of "X.Y.Z text" that every agent already uses.
 */
#include "dsn_filter.h"
#include "alloc.h"
#include "deliver_request.h"
#include "log.h"
#include "maps.h"

struct dsn_filter {
    struct maps *maps;
    struct sbuf *key; /* "X.Y.Z text", reused */
};

struct dsn_filter *dsn_filter_new(const char *title, const char *value)
{
    struct maps *m = maps_create(title, value ? value : "", 0);
    if (maps_count(m) == 0) {
        maps_free(m);
        return NULL;
    }
    struct dsn_filter *f = xcalloc(1, sizeof(*f));
    f->maps = m;
    f->key = sbuf_new(256);
    return f;
}

void dsn_filter_free(struct dsn_filter *f)
{
    if (f == NULL)
        return;
    maps_free(f->maps);
    sbuf_free(f->key);
    xfree(f);
}

const char *dsn_filter_title(const struct dsn_filter *f)
{
    return maps_title(f->maps);
}

const char *dsn_filter_check(const char *orig_dsn, const char *result, struct sbuf *dsn,
                             struct sbuf *text)
{
    const char *rest = deliver_split_dsn(result, "", dsn);
    if (sbuf_len(dsn) == 0)
        return "it does not start with an enhanced status code";
    if (*rest == 0)
        return "it has no explanatory text";
    bool was_success = orig_dsn[0] == '2';
    bool is_success = sbuf_str(dsn)[0] == '2';
    if (was_success && !is_success)
        return "a successful status can only be replaced with another successful status";
    if (!was_success && is_success)
        return "an unsuccessful status cannot be replaced with a successful status";
    sbuf_set(text, rest);
    return NULL;
}

int dsn_filter_apply(struct dsn_filter *f, const char *id, const char *dsn, const char *text,
                     struct sbuf *out_dsn, struct sbuf *out_text)
{
    if (f == NULL)
        return DSN_FILTER_KEEP;
    sbuf_printf(f->key, "%s %s", dsn, text);
    const char *result = maps_find(f->maps, sbuf_str(f->key), 0);
    if (result == NULL) {
        if (maps_error(f->maps) == DICT_ERR_NONE)
            return DSN_FILTER_KEEP;
        log_warn("%s%s%s: lookup error for \"%.200s\"", id ? id : "", id ? ": " : "",
                 maps_title(f->maps), sbuf_str(f->key));
        return DSN_FILTER_ERROR;
    }
    struct sbuf *new_dsn = sbuf_new(16), *new_text = sbuf_new(128);
    const char *why = dsn_filter_check(dsn, result, new_dsn, new_text);
    int res = DSN_FILTER_KEEP;
    if (why != NULL) {
        log_warn("%s%s%s: ignoring result \"%.200s\" for \"%.200s\": %s", id ? id : "",
                 id ? ": " : "", maps_title(f->maps), result, sbuf_str(f->key), why);
    } else {
        log_debug(1, "%s: \"%s\" -> \"%s %s\"", maps_title(f->maps), sbuf_str(f->key),
                  sbuf_str(new_dsn), sbuf_str(new_text));
        sbuf_set(out_dsn, sbuf_str(new_dsn));
        sbuf_set(out_text, sbuf_str(new_text));
        res = DSN_FILTER_REPLACED;
    }
    sbuf_free(new_dsn);
    sbuf_free(new_text);
    return res;
}
