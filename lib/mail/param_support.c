/*
 * param_support.c - settings Postern does not implement: report or refuse
 *
 * Used by: postfix, master, the server skeleton, cleanup.
 * Interface: see param_support.h.
 * Errors: warnings only; callers decide what a refusal means.
 * Notes: a value is "the default" when it equals the table default after
 *        runs of white space and commas are squeezed (so "a, b" and "a b"
 *        count as the same list), before or after $name expansion of both.
 */
#include "param_support.h"

#include <ctype.h>

#include "alloc.h"
#include "config.h"
#include "log.h"
#include "mastercf.h"
#include "param_table.h"
#include "sbuf.h"
#include "transport_param.h"

/* Settings whose absence would let mail through unchecked: refuse to run
 * while they are unimplemented (each leaves this list's effect by itself
 * when it leaves docs/unimplemented-parameters.txt). header_checks and its
 * kin, message_reject_characters, the strict_* MIME checks and
 * smtpd_milter_maps were here until they were implemented; today every one
 * is, so nothing is refused, and the list waits for the next such setting. */
static const char *const ps_refused_builtin[] = {
    P_HEADER_CHECKS, P_BODY_CHECKS, P_MIME_HEADER_CHECKS, P_NESTED_HEADER_CHECKS,
    P_STRICT_7BIT_HEADERS, P_STRICT_8BITMIME, P_STRICT_8BITMIME_BODY,
    P_STRICT_MIME_ENCODING_DOMAIN, P_MILTER_HEADER_CHECKS, P_SMTPD_MILTER_MAPS, NULL,
};
static const char *const *ps_refused = ps_refused_builtin;

void param_support_set_refused(const char *const *list)
{
    ps_refused = list ? list : ps_refused_builtin;
}

const char *param_unsupported(const char *name)
{
    const struct param_def *def = param_find(name);
    size_t tlen;
    int id;

    if (def)
        return def->unsupported;
    if ((id = transport_param_parse(name, &tlen)) >= 0) {
        def = param_find(transport_param_fallback((enum transport_param) id));
        return def ? def->unsupported : NULL;
    }
    return NULL;
}

/* Value with list separators squeezed to one space, ends trimmed. */
static void ps_squeeze(struct sbuf *out, const char *v)
{
    bool sep = false;

    sbuf_reset(out);
    for (; *v; v++) {
        if (isspace((unsigned char) *v) || *v == ',') {
            sep = true;
            continue;
        }
        if (sep && sbuf_len(out))
            sbuf_addch(out, ' ');
        sep = false;
        sbuf_addch(out, *v);
    }
}

static bool ps_is_default(const char *name, const char *value)
{
    const struct param_def *def = param_find(name);

    if (def == NULL)
        return false;       /* per-transport: any setting counts */
    struct sbuf *a = sbuf_new(64), *b = sbuf_new(64);

    ps_squeeze(a, value);
    ps_squeeze(b, def->dflt);
    bool same = strcmp(sbuf_str(a), sbuf_str(b)) == 0;

    /* The value the default expands to is the default too: Fedora's and
     * RHEL's stock main.cf says "meta_directory = /etc/postfix", which is
     * what "$config_directory" gives there. */
    if (!same && (strchr(value, '$') || strchr(def->dflt, '$'))) {
        char *ev = cfg_expand(value), *ed = cfg_expand(def->dflt);

        ps_squeeze(a, ev);
        ps_squeeze(b, ed);
        same = strcmp(sbuf_str(a), sbuf_str(b)) == 0;
        free(ev);
        free(ed);
    }
    sbuf_free(a);
    sbuf_free(b);
    return same;
}

struct ps_ctx {
    int count;
    const char *file;
    int line;
};

static void ps_check(struct ps_ctx *c, const char *file, int line, const char *name,
                     const char *value)
{
    const char *what = param_unsupported(name);

    if (what == NULL || ps_is_default(name, value))
        return;
    log_warn("%s:%d: %s is not supported by Postern: %s", file, line, name, what);
    c->count++;
}

static void ps_main_entry(const struct config_entry *e, void *ctx)
{
    ps_check(ctx, e->file, e->line, e->name, e->value);
}

static void ps_override(const char *name, const char *value, void *ctx)
{
    struct ps_ctx *c = ctx;

    ps_check(c, c->file, c->line, name, value);
}

static bool ps_service_match(const struct mastercf_service *s, const char *service,
                             const char *type)
{
    return service == NULL
           || (strcmp(s->name, service) == 0 && (type == NULL || strcmp(s->type, type) == 0));
}

int param_support_report(const struct mastercf *m, const char *service, const char *type)
{
    struct ps_ctx c = { 0, NULL, 0 };

    config_foreach(ps_main_entry, &c);
    for (const struct mastercf_service *s = m ? m->head : NULL; s; s = s->next) {
        if (!ps_service_match(s, service, type))
            continue;
        c.file = s->file;
        c.line = s->line;
        /* Bad -o syntax is reported by the master.cf checks, not here. */
        mastercf_overrides_quiet(s, ps_override, &c);
    }
    return c.count;
}

struct ps_refuse {
    const char *name;
    struct sbuf *where;
    const char *file;
    int line;
};

static bool ps_is_refused(const char *name)
{
    for (const char *const *r = ps_refused; *r; r++)
        if (strcmp(*r, name) == 0)
            return true;
    return false;
}

static void ps_refuse_main(const struct config_entry *e, void *ctx)
{
    struct ps_refuse *r = ctx;

    if (r->name == NULL && ps_is_refused(e->name) && !ps_is_default(e->name, e->value)
        && param_unsupported(e->name)) {
        r->name = param_find(e->name)->name;
        sbuf_printf(r->where, "%s:%d", e->file, e->line);
    }
}

static void ps_refuse_override(const char *name, const char *value, void *ctx)
{
    struct ps_refuse *r = ctx;

    if (r->name == NULL && ps_is_refused(name) && !ps_is_default(name, value)
        && param_unsupported(name)) {
        r->name = param_find(name)->name;
        sbuf_printf(r->where, "%s:%d", r->file, r->line);
    }
}

const char *param_support_refused(const struct mastercf *m, struct sbuf *where)
{
    struct ps_refuse r = { NULL, where, NULL, 0 };

    if (m == NULL) {
        /* A daemon: its effective values (main.cf and its own -o). */
        for (const char *const *p = ps_refused; *p; p++) {
            const char *file;
            int line;

            if (param_unsupported(*p) == NULL || *cfg_str(*p) == 0
                || ps_is_default(*p, cfg_str(*p)))
                continue;
            if (cfg_in_main_cf(*p, &file, &line) && !cfg_is_overridden(*p))
                sbuf_printf(where, "%s:%d", file, line);
            else
                sbuf_printf(where, "master.cf -o");
            return *p;
        }
        return NULL;
    }

    config_foreach(ps_refuse_main, &r);
    for (const struct mastercf_service *s = m ? m->head : NULL; s && !r.name; s = s->next) {
        r.file = s->file;
        r.line = s->line;
        mastercf_overrides_quiet(s, ps_refuse_override, &r);
    }
    return r.name;
}
