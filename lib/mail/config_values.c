/*
 * config_values.c - values that a daemon would refuse, found before it runs
 *
 * Interface: see config_values.h.
 */
#include "config_values.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "mastercf.h"
#include "param_table.h"
#include "params.h"
#include "sbuf.h"
#include "transport_param.h"
#include <limits.h>

/* The table entry whose rules apply to name: its own, or for
 * TRANSPORT_suffix the fallback's. NULL for a parameter not checked here. */
static const struct param_def *cv_rules(const char *name)
{
    const struct param_def *def = param_find(name);

    if (def == NULL) {
        size_t tlen;
        int p = transport_param_parse(name, &tlen);

        if (p < 0)
            return NULL;
        def = param_find(transport_param_fallback((enum transport_param) p));
    }
    if (def == NULL || def->unsupported || (def->flags & PARAM_F_RDONLY))
        return NULL;
    return def;
}

/* mail_sched_check() reports these two itself (master refuses to start
 * with them); config_values_check() leaves them alone. */
static bool cv_reported_elsewhere(const char *name)
{
    return strcmp(name, P_POSTERN_BATCH_SCHEDULING) == 0
           || strcmp(name, P_POSTERN_DELIVERY_PRIORITY) == 0;
}

/* Appends the bounds of def to why: " from 0 to 20", " of at least 1",
 * each number followed by unit. A minimum near INT_MIN is no bound. */
static void cv_bounds_text(const struct param_def *def, const char *unit, struct sbuf *why)
{
    bool low = def->min > INT_MIN + 1L;

    if (def->max && low)
        sbuf_catf(why, " from %ld%s to %ld%s", def->min, unit, def->max, unit);
    else if (def->max)
        sbuf_catf(why, " of at most %ld%s", def->max, unit);
    else if (low)
        sbuf_catf(why, " of at least %ld%s", def->min, unit);
}

const char *config_value_problem(const char *name, const char *value, struct sbuf *why)
{
    const struct param_def *def = cv_rules(name);
    long v;
    bool b;

    if (def == NULL)
        return NULL;
    sbuf_reset(why);
    switch (def->type) {
    case PARAM_BOOL:
        if (config_parse_bool(value, &b))
            return NULL;
        sbuf_set(why, "yes or no");
        return "boolean";
    case PARAM_INT:
    case PARAM_LONG:
        if (config_parse_long(value, &v) && v >= def->min && (def->max == 0 || v <= def->max)
            && (def->type == PARAM_LONG || (v >= INT_MIN && v <= INT_MAX)))
            return NULL;
        sbuf_set(why, "a whole number");
        cv_bounds_text(def, "", why);
        return "numerical";
    case PARAM_TIME:
        if (config_parse_time(value, def->unit ? def->unit : 's', &v) && v >= def->min
            && (def->max == 0 || v <= def->max))
            return NULL;
        sbuf_set(why, "a number and an optional unit (s, m, h, d or w)");
        if (def->min != 0 || def->max != 0)
            cv_bounds_text(def, "s", why);
        if (def->unit && def->unit != 's')
            sbuf_catf(why, "; a number alone counts in %c", def->unit);
        return "time";
    default:
        return NULL;
    }
}

/*
 * Expanding a value that has a $name loop, or nests too deep, is fatal in
 * config.c, which must not happen to master at reload. So the references
 * are followed first, without expanding: a value whose expansion could
 * loop (conservatively: both branches of ${name?...:...} count) or nest
 * more than CV_MAX_DEPTH names deep is not checked here; a daemon that
 * expands it says what is wrong.
 */
#define CV_MAX_DEPTH 64     /* config.c gives up past 100 levels */

struct cv_walk {
    const char *path[CV_MAX_DEPTH];     /* names being followed */
    int depth;
    bool unsafe;
    char **safe;                        /* names already followed to the end */
    size_t nsafe, cap;
};

static void cv_walk_name(const char *name, void *vw)
{
    struct cv_walk *w = vw;

    if (w->unsafe)
        return;
    for (int i = 0; i < w->depth; i++)
        if (strcmp(w->path[i], name) == 0) {
            w->unsafe = true;
            return;
        }
    for (size_t i = 0; i < w->nsafe; i++)
        if (strcmp(w->safe[i], name) == 0)
            return;
    if (w->depth == CV_MAX_DEPTH) {
        w->unsafe = true;
        return;
    }
    const struct param_def *def = param_find(name);
    const char *raw = cfg_raw(name);

    if (raw && !(def && (def->flags & PARAM_F_RAW))) {
        w->path[w->depth++] = name;
        config_scan_refs(raw, cv_walk_name, w);
        w->depth--;
    }
    if (w->unsafe)
        return;
    if (w->nsafe == w->cap) {
        w->cap = w->cap ? 2 * w->cap : 64;
        w->safe = xreallocarray(w->safe, w->cap, sizeof(*w->safe));
    }
    w->safe[w->nsafe++] = xstrdup(name);
}

struct cv_ctx {
    const struct mastercf_service *s;   /* NULL: main.cf */
    struct sbuf *why;
    int bad;
    struct cv_walk walk;
};

static void cv_main_entry(const struct config_entry *e, void *vctx)
{
    struct cv_ctx *ctx = vctx;
    const char *file = e->file;
    int line = e->line;

    /* The line in effect (a name set twice counts once, at its last line). */
    if (cv_rules(e->name) == NULL || cv_reported_elsewhere(e->name)
        || !cfg_in_main_cf(e->name, &file, &line)
        || line != e->line || strcmp(file, e->file) != 0)
        return;
    ctx->walk.unsafe = false;
    cv_walk_name(e->name, &ctx->walk);
    if (ctx->walk.unsafe)
        return;
    const char *value = cfg_str(e->name);
    const char *kind = config_value_problem(e->name, value, ctx->why);

    if (kind == NULL)
        return;
    if (strcmp(value, e->value) == 0)
        log_warn("%s:%d: bad %s value: %s = %s (%s)", file, line, kind, e->name, value,
                 sbuf_str(ctx->why));
    else
        log_warn("%s:%d: bad %s value: %s = %s, which gives \"%s\" (%s)", file, line, kind,
                 e->name, e->value, value, sbuf_str(ctx->why));
    ctx->bad++;
}

static void cv_override(const char *name, const char *value, void *vctx)
{
    struct cv_ctx *ctx = vctx;

    /* A $name value is expanded only in the daemon, among its other -o. */
    if (strchr(value, '$') || cv_reported_elsewhere(name))
        return;
    const char *kind = config_value_problem(name, value, ctx->why);

    if (kind == NULL)
        return;
    log_warn("%s:%d: service %s: bad %s value: -o %s=%s (%s)", ctx->s->file, ctx->s->line,
             ctx->s->name, kind, name, value, sbuf_str(ctx->why));
    ctx->bad++;
}

int config_values_check(const struct mastercf *m)
{
    struct cv_ctx ctx = { .why = sbuf_new(64) };

    config_foreach(cv_main_entry, &ctx);
    for (const struct mastercf_service *s = m ? m->head : NULL; s; s = s->next) {
        ctx.s = s;
        mastercf_overrides_quiet(s, cv_override, &ctx);
    }
    sbuf_free(ctx.why);
    for (size_t i = 0; i < ctx.walk.nsafe; i++)
        xfree(ctx.walk.safe[i]);
    xfree(ctx.walk.safe);
    return ctx.bad;
}
