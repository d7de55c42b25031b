/*
 * config_unused.c - report main.cf and master.cf settings that nothing uses
 *
 * Used by: postfix check, postconf.
 * Interface: see config_unused.h.
 * Errors: none (warnings only).
 */
#include "config_unused.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "param_table.h"
#include "params.h"

/* Names that count as used although no table knows them. */
struct config_unused_names {
    char **v;
    size_t n;
};

static void cu_add(struct config_unused_names *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return;
    l->v = xreallocarray(l->v, l->n + 1, sizeof(*l->v));
    l->v[l->n++] = xstrdup(name);
}

static bool cu_has(const struct config_unused_names *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return true;
    return false;
}

static void cu_add_ref(const char *name, void *ctx)
{
    cu_add(ctx, name);
}

/* Collects references in value, and the class names when name is
 * smtpd_restriction_classes. */
static void cu_scan(struct config_unused_names *used, const char *name, const char *value)
{
    config_scan_refs(value, cu_add_ref, used);
    if (strcmp(name, P_SMTPD_RESTRICTION_CLASSES) == 0) {
        char **list = cfg_list(value);
        for (char **p = list; *p; p++)
            if (**p != '$')     /* a $name item is a reference, scanned above */
                cu_add(used, *p);
        cfg_list_free(list);
    }
}

static void cu_scan_entry(const struct config_entry *e, void *ctx)
{
    cu_scan(ctx, e->name, e->value);
}

static void cu_scan_override(const char *name, const char *value, void *ctx)
{
    cu_scan(ctx, name, value);
}

struct cu_report {
    const struct config_unused_names *used;
    bool (*known)(const char *name);
    const char *file;
    int count;
};

static bool cu_unused(const struct cu_report *r, const char *name)
{
    return !r->known(name) && !cu_has(r->used, name);
}

static void cu_report_entry(const struct config_entry *e, void *ctx)
{
    struct cu_report *r = ctx;
    if (cu_unused(r, e->name)) {
        log_warn("%s: unused parameter: %s=%s", e->file, e->name, e->value);
        r->count++;
    }
}

static void cu_report_override(const char *name, const char *value, void *ctx)
{
    struct cu_report *r = ctx;
    if (cu_unused(r, name)) {
        log_warn("%s: unused parameter: %s=%s", r->file, name, value);
        r->count++;
    }
}

int config_unused_report(const struct mastercf *m, int what, bool (*known)(const char *name))
{
    struct config_unused_names used = { NULL, 0 };
    struct cu_report r = { &used, known ? known : config_known, NULL, 0 };

    config_foreach(cu_scan_entry, &used);
    /* A name that a built-in default refers to is used too: the old
     * smtpd_per_record_deadline, for one, is how Postfix 3.7 still reads
     * ${smtpd_per_record_deadline?...} in smtpd_per_request_deadline. */
    for (size_t i = 0; i < param_table_count; i++)
        config_scan_refs(param_table[i].dflt, cu_add_ref, &used);
    for (const struct mastercf_service *s = m ? m->head : NULL; s; s = s->next)
        mastercf_overrides_quiet(s, cu_scan_override, &used);
    if (what & CONFIG_UNUSED_MAIN)
        config_foreach(cu_report_entry, &r);
    if (what & CONFIG_UNUSED_MASTER) {
        for (const struct mastercf_service *s = m ? m->head : NULL; s; s = s->next) {
            r.file = s->file;
            mastercf_overrides_quiet(s, cu_report_override, &r);
        }
    }
    for (size_t i = 0; i < used.n; i++)
        xfree(used.v[i]);
    xfree(used.v);
    return r.count;
}
