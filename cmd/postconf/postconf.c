/*
 * postconf.c - show and edit main.cf and master.cf (the postconf command)
 *
 * Used by: administrators, the postfix script, packaging and clients' scripts.
 * Interface: postconf [-c dir] [-dfhHnx] [-o name=value] [name ...]
 *            postconf -e name=value ... | -X name ... | -# name ...
 *            postconf -M[fx] [service[/type] ...]   (-Me, -MX, -M# edit)
 *            postconf -F[hx] [service/type/field ...]
 *            postconf -P[hx] [service/type/name ...]
 *            postconf -a | -A | -l | -m
 * Errors: messages go to stderr as "postconf: warning: ..." and
 *         "postconf: fatal: ..."; an unknown parameter name is a warning and
 *         does not change the exit status, as in Postfix.
 * Notes: output shapes follow Postfix's postconf: "name = value" ("name ="
 *        when empty), sorted by name; master.cf lines padded to fixed columns.
 */
#include "sys_compat.h"

#include <ctype.h>
#include <getopt.h>

#include "alloc.h"
#include "config.h"
#include "config_unused.h"
#include "dict.h"
#include "log.h"
#include "mastercf.h"
#include "param_table.h"
#include "postconf.h"
#include "sbuf.h"

#define PC_DEFAULTS 0x1     /* -d */
#define PC_NONDEF 0x2       /* -n */
#define PC_VALUE_ONLY 0x4   /* -h */
#define PC_NAME_ONLY 0x8    /* -H */
#define PC_EXPAND 0x10      /* -x */
#define PC_FOLD 0x20        /* -f */
#define PC_VERBATIM 0x40    /* print the value as is (-F) */

#define PC_FOLD_WIDTH 80

/* Names in master.cf services whose command is a delivery agent get the
 * per-transport parameters (TRANSPORT_destination_concurrency_limit...). */
static const char *const pc_agents[] = { "smtp", "lmtp", "local", "virtual", "pipe", "error",
                                         NULL };

struct pc_names {
    char **v;
    size_t n, cap;
};

static void pc_names_add(struct pc_names *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], name) == 0)
            return;
    if (l->n + 1 >= l->cap) {
        l->cap = l->cap ? 2 * l->cap : 1024;
        l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
    }
    l->v[l->n++] = xstrdup(name);
    l->v[l->n] = NULL;
}

static void pc_names_free(struct pc_names *l)
{
    for (size_t i = 0; i < l->n; i++)
        xfree(l->v[i]);
    xfree(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

static int pc_strcmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

/* ---- what is known ------------------------------------------------------- */

static struct mastercf *pc_master;
static struct pc_names pc_referenced;   /* $names used in main.cf / master.cf values */

static void pc_add_ref(const char *name, void *ctx)
{
    UNUSED(ctx);
    pc_names_add(&pc_referenced, name);
}

/* Collects the $name, ${name...} and $(name) references in text. */
static void pc_scan_refs(const char *text)
{
    config_scan_refs(text, pc_add_ref, NULL);
}

static void pc_scan_entry(const struct config_entry *e, void *ctx)
{
    UNUSED(ctx);
    pc_scan_refs(e->value);
}

static void pc_scan_override(const char *name, const char *value, void *ctx)
{
    UNUSED(name);
    UNUSED(ctx);
    pc_scan_refs(value);
}

static bool pc_is_referenced(const char *name)
{
    for (size_t i = 0; i < pc_referenced.n; i++)
        if (strcmp(pc_referenced.v[i], name) == 0)
            return true;
    return false;
}

/* Reads master.cf (quietly unless asked) and tells config.c which service
 * names carry per-transport parameters. */
static void pc_load_master(bool loud)
{
    struct sbuf *path = sbuf_new(128);
    FILE *fp;

    sbuf_printf(path, "%s/master.cf", config_dir());
    if (loud) {
        mastercf_load(sbuf_str(path), &pc_master);
    } else if ((fp = fopen(sbuf_str(path), "r")) != NULL) {
        mastercf_read(fp, sbuf_str(path), &pc_master);
        fclose(fp);
    } else {
        pc_master = xcalloc(1, sizeof(*pc_master));
    }
    sbuf_free(path);

    struct pc_names agents = { 0 };

    for (const struct mastercf_service *s = pc_master->head; s; s = s->next) {
        if (strcmp(s->type, "unix") != 0)
            continue;
        for (const char *const *a = pc_agents; *a; a++)
            if (strcmp(mastercf_program(s), *a) == 0)
                pc_names_add(&agents, s->name);
    }
    config_set_service_names(agents.v);
    pc_names_free(&agents);
}

/* Per-service names for agents: pipe services also get _time_limit. */
static void pc_service_params(struct pc_names *out)
{
    const char *const *suf = config_service_suffixes();

    for (const struct mastercf_service *s = pc_master->head; s; s = s->next) {
        if (strcmp(s->type, "unix") != 0)
            continue;
        bool agent = false;

        for (const char *const *a = pc_agents; *a; a++)
            if (strcmp(mastercf_program(s), *a) == 0)
                agent = true;
        /* spawn(8) is no delivery agent but has SERVICE_time_limit. */
        if (!agent && strcmp(mastercf_program(s), "spawn") == 0) {
            struct sbuf *b = sbuf_new(64);

            sbuf_printf(b, "%s_time_limit", s->name);
            pc_names_add(out, sbuf_str(b));
            sbuf_free(b);
        }
        if (!agent)
            continue;
        for (size_t i = 0; suf[i]; i++) {
            if (strcmp(suf[i], "_time_limit") == 0 && strcmp(mastercf_program(s), "pipe") != 0)
                continue;
            struct sbuf *b = sbuf_new(64);

            sbuf_printf(b, "%s%s", s->name, suf[i]);
            pc_names_add(out, sbuf_str(b));
            sbuf_free(b);
        }
    }
}

/* A name postconf will print: the table, per-service, or a user-defined
 * main.cf name that some value refers to. */
static bool pc_known(const char *name, int flags)
{
    size_t len = strlen(name), sl = strlen("_time_limit");

    if (param_find(name))
        return true;
    /* SERVICE_time_limit exists only for pipe(8) and spawn(8) services. */
    if (len > sl && strcmp(name + len - sl, "_time_limit") == 0) {
        for (const struct mastercf_service *s = pc_master ? pc_master->head : NULL; s;
             s = s->next)
            if (strlen(s->name) == len - sl && strncmp(s->name, name, len - sl) == 0
                && strcmp(s->type, "unix") == 0
                && (strcmp(mastercf_program(s), "pipe") == 0
                    || strcmp(mastercf_program(s), "spawn") == 0))
                return true;
    } else if (config_service_default(name)) {
        return true;
    }
    if (flags & PC_DEFAULTS)
        return false;
    return cfg_in_main_cf(name, NULL, NULL) && pc_is_referenced(name);
}

/* Built-in or per-service names, for config_unused_report(), which adds
 * the user-defined names that are in use. */
static bool pc_builtin(const char *name)
{
    return pc_known(name, PC_DEFAULTS);
}

/* ---- parameter output ---------------------------------------------------- */

static void pc_print_folded(struct sbuf *line)
{
    const char *p = sbuf_str(line);
    size_t col = 0;
    bool first = true;

    if (sbuf_len(line) < PC_FOLD_WIDTH) {
        puts(p);
        return;
    }
    while (*p) {
        const char *ws = p;

        while (*p == ' ')
            p++;
        const char *w = p;

        while (*p && *p != ' ')
            p++;
        size_t wl = (size_t) (p - w), gap = (size_t) (w - ws);

        if (wl == 0)
            break;
        if (!first && col + gap + wl >= PC_FOLD_WIDTH && col > 4) {
            fputs("\n    ", stdout);
            fwrite(w, 1, wl, stdout);
            col = 4 + wl;
        } else {
            fwrite(ws, 1, gap + wl, stdout);
            col += gap + wl;
        }
        first = false;
    }
    putchar('\n');
}

/* Postfix's postconf prints values word by word: runs of white space become
 * one space and the ends are trimmed. Returns new. */
static char *pc_squeeze(const char *value)
{
    struct sbuf *b = sbuf_new(strlen(value) + 1);
    bool space = false;

    for (const char *p = value; *p; p++) {
        if (isspace((unsigned char) *p)) {
            space = true;
            continue;
        }
        if (space && sbuf_len(b))
            sbuf_addch(b, ' ');
        space = false;
        sbuf_addch(b, *p);
    }
    return sbuf_detach(b);
}

static void pc_print_param(const char *name, const char *raw_value, int flags)
{
    struct sbuf *line = sbuf_new(128);
    char *value = (flags & PC_VERBATIM) ? xstrdup(raw_value) : pc_squeeze(raw_value);

    if (flags & PC_NAME_ONLY)
        sbuf_cat(line, name);
    else if (flags & PC_VALUE_ONLY)
        sbuf_cat(line, value);
    else if (*value)
        sbuf_printf(line, "%s = %s", name, value);
    else
        sbuf_printf(line, "%s =", name);
    if (flags & PC_FOLD)
        pc_print_folded(line);
    else
        puts(sbuf_str(line));
    sbuf_free(line);
    xfree(value);
}

static void pc_show_param(const char *name, int flags)
{
    const char *value;
    char *exp = NULL;

    if (flags & PC_DEFAULTS) {
        value = config_default(name);
        if (value == NULL)
            value = config_service_default(name);
        if (value == NULL)
            value = "";
        if (flags & PC_EXPAND) {
            const struct param_def *def = param_find(name);

            if (!(def && (def->flags & PARAM_F_RAW)))
                value = exp = cfg_expand(value);
        }
    } else if (flags & PC_EXPAND) {
        value = cfg_str(name);
    } else {
        value = cfg_raw(name);
        if (value == NULL)
            value = "";
    }
    pc_print_param(name, value, flags);
    xfree(exp);
}

static void pc_collect_nondef(const struct config_entry *e, void *ctx)
{
    struct pc_names *l = ctx;

    if (pc_known(e->name, 0))
        pc_names_add(l, e->name);
}

static void pc_collect_table(const struct param_def *p, void *ctx)
{
    pc_names_add(ctx, p->name);
}

static void pc_show_params(char **names, int flags)
{
    struct pc_names all = { 0 };

    if (names && *names) {
        for (; *names; names++) {
            /* -n shows only what main.cf sets: after postconf -X name,
             * "postconf -n name" prints nothing (as Postfix). */
            if ((flags & PC_NONDEF) && !cfg_in_main_cf(*names, NULL, NULL)
                && !(strcmp(*names, P_CONFIG_DIRECTORY) == 0 && cfg_is_set(*names)))
                continue;
            if (!pc_known(*names, flags))
                log_warn("%s: unknown parameter", *names);
            else
                pc_show_param(*names, flags);
        }
        return;
    }
    if (flags & PC_NONDEF) {
        config_foreach(pc_collect_nondef, &all);
        if (cfg_is_set(P_CONFIG_DIRECTORY) && !cfg_in_main_cf(P_CONFIG_DIRECTORY, NULL, NULL))
            pc_names_add(&all, P_CONFIG_DIRECTORY);
    } else {
        param_foreach(pc_collect_table, &all);
        pc_service_params(&all);
        if (!(flags & PC_DEFAULTS))
            config_foreach(pc_collect_nondef, &all);
    }
    if (all.n)
        qsort(all.v, all.n, sizeof(*all.v), pc_strcmp);
    for (size_t i = 0; i < all.n; i++)
        pc_show_param(all.v[i], flags);
    pc_names_free(&all);
}

/* ---- master.cf output ---------------------------------------------------- */

/* Matches "a/b/c" patterns against fields; an absent or "*" part matches all. */
static bool pc_part_match(const char *pat, size_t len, const char *value)
{
    if (len == 0 || (len == 1 && pat[0] == '*'))
        return true;
    return strlen(value) == len && strncmp(pat, value, len) == 0;
}

static bool pc_svc_match(const char *pat, const struct mastercf_service *s,
                         const char **rest)
{
    const char *slash = strchr(pat, '/');
    size_t nlen = slash ? (size_t) (slash - pat) : strlen(pat);

    if (!pc_part_match(pat, nlen, s->name))
        return false;
    if (slash == NULL) {
        *rest = "";
        return true;
    }
    const char *t = slash + 1, *slash2 = strchr(t, '/');
    size_t tlen = slash2 ? (size_t) (slash2 - t) : strlen(t);

    if (!pc_part_match(t, tlen, s->type))
        return false;
    *rest = slash2 ? slash2 + 1 : "";
    return true;
}

static bool pc_any_match(char **pats, const struct mastercf_service *s, const char *third)
{
    const char *rest;

    if (pats == NULL || *pats == NULL)
        return true;
    for (char **p = pats; *p; p++)
        if (pc_svc_match(*p, s, &rest) && (third == NULL || pc_part_match(rest, strlen(rest),
                                                                           third)))
            return true;
    return false;
}

static void pc_check_patterns(char **pats, int parts)
{
    for (char **p = pats; p && *p; p++) {
        int slashes = 0;

        for (const char *c = *p; *c; c++)
            slashes += *c == '/';
        if (slashes >= parts)
            log_fatal("invalid service name pattern: \"%s\"", *p);
    }
}

static void pc_show_master(char **pats, int flags)
{
    struct sbuf *line = sbuf_new(256);

    pc_check_patterns(pats, 2);
    for (const struct mastercf_service *s = pc_master->head; s; s = s->next) {
        if (!pc_any_match(pats, s, NULL))
            continue;
        mastercf_format_line(line, s, (flags & PC_FOLD) != 0);
        if (flags & PC_EXPAND) {
            char *e = cfg_expand(sbuf_str(line));

            puts(e);
            xfree(e);
        } else {
            puts(sbuf_str(line));
        }
    }
    sbuf_free(line);
}

static void pc_show_fields(char **pats, int flags)
{
    struct sbuf *name = sbuf_new(128), *cmd = sbuf_new(256);

    pc_check_patterns(pats, 3);
    for (const struct mastercf_service *s = pc_master->head; s; s = s->next) {
        for (int i = 0; i <= MASTERCF_NCOLS; i++) {
            const char *field = mastercf_field_names[i];

            if (!pc_any_match(pats, s, field))
                continue;
            if (i == MASTERCF_NCOLS)
                mastercf_format_command(cmd, s);
            else
                sbuf_set(cmd, s->raw[i]);
            sbuf_printf(name, "%s/%s/%s", s->name, s->type, field);
            if (flags & PC_EXPAND) {
                char *e = cfg_expand(sbuf_str(cmd));

                pc_print_param(sbuf_str(name), e, (flags & ~PC_FOLD) | PC_VERBATIM);
                xfree(e);
            } else {
                pc_print_param(sbuf_str(name), sbuf_str(cmd), (flags & ~PC_FOLD) | PC_VERBATIM);
            }
        }
    }
    sbuf_free(name);
    sbuf_free(cmd);
}

struct pc_ovr {
    struct pc_names names, values;
};

static void pc_collect_ovr(const char *name, const char *value, void *ctx)
{
    struct pc_ovr *o = ctx;
    struct sbuf *b = sbuf_new(128);

    /* name\0value kept as "name=value"; last one wins, as in the daemons. */
    for (size_t i = 0; i < o->names.n; i++) {
        if (strcmp(o->names.v[i], name) == 0) {
            xfree(o->values.v[i]);
            o->values.v[i] = xstrdup(value);
            sbuf_free(b);
            return;
        }
    }
    pc_names_add(&o->names, name);
    if (o->values.n + 1 >= o->values.cap) {
        o->values.cap = o->values.cap ? 2 * o->values.cap : 16;
        o->values.v = xreallocarray(o->values.v, o->values.cap, sizeof(char *));
    }
    o->values.v[o->values.n++] = xstrdup(value);
    sbuf_free(b);
}

static void pc_show_service_params(char **pats, int flags)
{
    struct sbuf *name = sbuf_new(128);

    pc_check_patterns(pats, 3);
    for (const struct mastercf_service *s = pc_master->head; s; s = s->next) {
        struct pc_ovr o = { { 0 }, { 0 } };
        size_t *order;

        mastercf_overrides(s, pc_collect_ovr, &o);
        order = xcalloc(o.names.n + 1, sizeof(*order));
        for (size_t i = 0; i < o.names.n; i++)
            order[i] = i;
        /* Sort by name (insertion sort: a handful of entries). */
        for (size_t i = 1; i < o.names.n; i++)
            for (size_t j = i; j > 0 && strcmp(o.names.v[order[j - 1]],
                                               o.names.v[order[j]]) > 0; j--) {
                size_t t = order[j];

                order[j] = order[j - 1];
                order[j - 1] = t;
            }
        for (size_t k = 0; k < o.names.n; k++) {
            size_t i = order[k];

            if (!pc_any_match(pats, s, o.names.v[i]))
                continue;
            sbuf_printf(name, "%s/%s/%s", s->name, s->type, o.names.v[i]);
            if (flags & PC_EXPAND) {
                /* $service_name in an override means this service. */
                config_override(P_SERVICE_NAME, s->name);
                char *e = cfg_expand(o.values.v[i]);

                pc_print_param(sbuf_str(name), e, flags);
                xfree(e);
            } else {
                pc_print_param(sbuf_str(name), o.values.v[i], flags);
            }
        }
        xfree(order);
        pc_names_free(&o.names);
        for (size_t i = 0; i < o.values.n; i++)
            xfree(o.values.v[i]);
        xfree(o.values.v);
    }
    sbuf_free(name);
}

/* ---- editing ------------------------------------------------------------- */

/* Splits "name=value" or "name = value" (value's edge white space trimmed). */
static bool pc_split_assign(const char *arg, char **name, char **value)
{
    const char *eq = strchr(arg, '=');

    if (eq == NULL)
        return false;
    const char *ne = eq, *vb = eq + 1, *ve;

    while (ne > arg && isspace((unsigned char) ne[-1]))
        ne--;
    const char *nb = arg;

    while (nb < ne && isspace((unsigned char) *nb))
        nb++;
    if (nb == ne)
        return false;
    while (isspace((unsigned char) *vb))
        vb++;
    ve = vb + strlen(vb);
    while (ve > vb && isspace((unsigned char) ve[-1]))
        ve--;
    *name = xstrndup(nb, (size_t) (ne - nb));
    *value = xstrndup(vb, (size_t) (ve - vb));
    return true;
}

static int pc_edit(char **args, int argc, bool master, enum postconf_edit_mode mode)
{
    struct postconf_edit *edits = xcalloc((size_t) argc + 1, sizeof(*edits));
    char **owned = xcalloc(2 * (size_t) argc + 1, sizeof(*owned));
    size_t nown = 0;
    struct sbuf *path = sbuf_new(128);
    int rc;

    for (int i = 0; i < argc; i++) {
        char *name = NULL, *value = NULL;

        if (mode != POSTCONF_EDIT_SET) {
            edits[i].key = args[i];
            continue;
        }
        if (!pc_split_assign(args[i], &name, &value))
            log_fatal("missing '=' after parameter name: \"%s\"", args[i]);
        if (master) {
            int slashes = 0;

            for (const char *c = name; *c; c++)
                slashes += *c == '/';
            if (slashes != 1)
                log_fatal("-Me requires service/type=entry, not \"%s\"", args[i]);
            /* Store the entry the way -Mf prints it. */
            FILE *fp = fmemopen(value, strlen(value), "r");
            struct mastercf *m = NULL;
            struct sbuf *line = sbuf_new(256);

            if (fp == NULL)
                log_fatal("fmemopen: %m");
            if (mastercf_read(fp, "command line", &m) < 0 || m->count != 1)
                log_fatal("bad master.cf entry: \"%s\"", value);
            fclose(fp);
            mastercf_format_line(line, m->head, true);
            mastercf_free(m);
            xfree(value);
            edits[i].key = owned[nown++] = name;
            edits[i].text = owned[nown++] = sbuf_detach(line);
        } else {
            struct sbuf *line = sbuf_new(128);

            if (*value)
                sbuf_printf(line, "%s = %s", name, value);
            else
                sbuf_printf(line, "%s =", name);
            edits[i].key = owned[nown++] = name;
            edits[i].text = owned[nown++] = sbuf_detach(line);
            xfree(value);
        }
    }
    sbuf_printf(path, "%s/%s", config_dir(), master ? "master.cf" : "main.cf");
    rc = postconf_edit_file(sbuf_str(path), master ? POSTCONF_MASTER_CF : POSTCONF_MAIN_CF,
                            mode, edits, (size_t) argc);
    for (size_t i = 0; i < nown; i++)
        xfree(owned[i]);
    xfree(owned);
    xfree(edits);
    sbuf_free(path);
    return rc;
}

/* postconf -Pe / -PX: change the -o options of master.cf services. Each
 * argument is service/type/name=value (SET) or service/type/name (REMOVE). */
static int pc_edit_service_params(char **args, int argc, bool remove)
{
    struct sbuf *path = sbuf_new(128), *line = sbuf_new(256);
    struct mastercf *m = NULL;
    struct postconf_edit *edits = xcalloc((size_t) argc + 1, sizeof(*edits));
    size_t nedits = 0;
    int rc = 0;

    sbuf_printf(path, "%s/master.cf", config_dir());
    if (mastercf_load(sbuf_str(path), &m) < 0 && m->count == 0) {
        mastercf_free(m);
        sbuf_free(path);
        sbuf_free(line);
        xfree(edits);
        return -1;
    }
    for (int a = 0; a < argc; a++) {
        char *spec = xstrdup(args[a]), *value = NULL, *eq = strchr(spec, '=');

        if (!remove && eq == NULL)
            log_fatal("-Pe requires service/type/name=value, not \"%s\"", args[a]);
        if (!remove && eq != NULL) {
            *eq = 0;                /* the value may contain '/' */
            value = eq + 1;
        }
        char *s1 = strchr(spec, '/'), *s2 = s1 ? strchr(s1 + 1, '/') : NULL;

        if (s1 == NULL || s2 == NULL || s2[1] == 0) {
            log_warn("invalid service/type/name: \"%s\"", args[a]);
            rc = -1;
            xfree(spec);
            continue;
        }
        *s1 = 0;
        *s2 = 0;
        const char *pname = s2 + 1;
        struct mastercf_service *svc = (struct mastercf_service *) mastercf_find(m, spec, s1 + 1);

        if (svc == NULL) {
            log_warn("unmatched service_name/type: \"%s\"", args[a]);
            xfree(spec);
            continue;
        }
        /* Rebuild argv: drop every "-o pname=..." in the options, then add
         * the new one after the last option. */
        char **nargv = xcalloc((size_t) svc->argc + 3, sizeof(*nargv));
        bool *nbr = xcalloc((size_t) svc->argc + 3, sizeof(*nbr));
        int n = 0, i = 0, opt_end;
        size_t plen = strlen(pname);
        bool changed = false, replaced = false;
        struct sbuf *nv_buf = sbuf_new(64);

        nargv[n++] = svc->argv[0];
        for (i = 1; i < svc->argc; i++) {
            const char *x = svc->argv[i];

            if (x[0] != '-' || svc->arg_braced[i])
                break;
            if (strcmp(x, "-o") == 0 && i + 1 < svc->argc) {
                const char *nv = svc->argv[i + 1];

                if (strncmp(nv, pname, plen) == 0 && nv[plen] == '=') {
                    /* Replace the first in place (SET); drop the others. */
                    if (!remove && !replaced) {
                        sbuf_printf(nv_buf, "%s=%s", pname, value);
                        nargv[n++] = svc->argv[i];
                        nargv[n++] = sbuf_data(nv_buf);
                        replaced = true;
                    }
                    i++;
                    changed = true;
                    continue;
                }
                nargv[n++] = svc->argv[i++];
            }
            nargv[n++] = svc->argv[i];
        }
        opt_end = i;
        if (!remove && !replaced) {
            nargv[n++] = (char *) "-o";
            sbuf_printf(nv_buf, "%s=%s", pname, value);
            nargv[n++] = sbuf_data(nv_buf);
            changed = true;
        }
        for (i = opt_end; i < svc->argc; i++) {
            nbr[n] = svc->arg_braced[i];
            nargv[n++] = svc->argv[i];
        }
        nargv[n] = NULL;
        if (changed) {
            char **old_argv = svc->argv;
            bool *old_br = svc->arg_braced;
            int old_argc = svc->argc;

            svc->argv = nargv;
            svc->arg_braced = nbr;
            svc->argc = n;
            mastercf_format_line(line, svc, true);
            svc->argv = old_argv;
            svc->arg_braced = old_br;
            svc->argc = old_argc;
            /* Later arguments for the same service must see this change:
             * store the edit and re-read from the edited text. */
            struct sbuf *key = sbuf_new(64);

            sbuf_printf(key, "%s/%s", svc->name, svc->type);
            size_t e;

            for (e = 0; e < nedits; e++)
                if (strcmp(edits[e].key, sbuf_str(key)) == 0)
                    break;
            if (e == nedits)
                edits[nedits++].key = sbuf_detach(key);
            else
                sbuf_free(key);
            xfree((char *) edits[e].text);
            edits[e].text = xstrdup(sbuf_str(line));
            /* Apply to our in-memory copy for the next argument. */
            FILE *fp = fmemopen((void *) edits[e].text, strlen(edits[e].text), "r");
            struct mastercf *one = NULL;

            if (fp && mastercf_read(fp, "edit", &one) == 0 && one->count == 1) {
                struct mastercf_service *ns = one->head, *next = svc->next;
                struct mastercf_service tmp = *svc;

                *svc = *ns;
                svc->next = next;
                *ns = tmp;
                ns->next = NULL;
            }
            if (fp)
                fclose(fp);
            mastercf_free(one);
        }
        sbuf_free(nv_buf);
        xfree(nargv);
        xfree(nbr);
        xfree(spec);
    }
    if (nedits > 0 && postconf_edit_file(sbuf_str(path), POSTCONF_MASTER_CF,
                                         POSTCONF_EDIT_SET, edits, nedits) < 0)
        rc = -1;
    for (size_t e = 0; e < nedits; e++) {
        xfree((char *) edits[e].key);
        xfree((char *) edits[e].text);
    }
    xfree(edits);
    mastercf_free(m);
    sbuf_free(path);
    sbuf_free(line);
    return rc;
}

/* ---- main ---------------------------------------------------------------- */

static void pc_sorted_words(const char *words)
{
    char **list = cfg_list(words);
    size_t n = 0;

    while (list[n])
        n++;
    qsort(list, n, sizeof(*list), pc_strcmp);
    for (size_t i = 0; i < n; i++)
        puts(list[i]);
    cfg_list_free(list);
}

static NORETURN void pc_usage(void)
{
    fprintf(stderr,
            "usage: postconf [-c config_dir] [-dfhHnvx] [-o name=value] [name ...]\n"
            "       postconf [-c config_dir] -e name=value ... | -X name ... | -# name ...\n"
            "       postconf [-c config_dir] -M[efx#X] [service[/type][=entry] ...]\n"
            "       postconf [-c config_dir] -F[hx] [service[/type[/field]] ...]\n"
            "       postconf [-c config_dir] -P[hx] [service[/type[/name]] ...]\n"
            "       postconf -a | -A | -l | -m\n");
    exit(1);
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    int flags = 0, ch, rc = 0;
    enum { SHOW, EDIT, REMOVE, COMMENT } action = SHOW;
    enum { PARAMS, MASTER, FIELDS, SVCPARAMS } what = PARAMS;
    char special = 0;
    struct pc_names ovr = { 0 };

    log_set_tag("postconf");
    log_set_stderr(true);
    log_close_syslog();     /* messages go to stderr only */
    while ((ch = getopt(argc, argv, "aAbc:C:dDefFhHlmMno:pPtTvxX#")) != -1) {
        switch (ch) {
        case 'a': case 'A': case 'l': case 'm':
            special = (char) ch;
            break;
        case 'c':
            dir = optarg;
            break;
        case 'd':
            flags |= PC_DEFAULTS;
            break;
        case 'e':
            action = EDIT;
            break;
        case 'X':
            action = REMOVE;
            break;
        case '#':
            action = COMMENT;
            break;
        case 'f':
            flags |= PC_FOLD;
            break;
        case 'F':
            what = FIELDS;
            break;
        case 'h':
            flags |= PC_VALUE_ONLY;
            break;
        case 'H':
            flags |= PC_NAME_ONLY;
            break;
        case 'M':
            what = MASTER;
            break;
        case 'n':
            flags |= PC_NONDEF;
            break;
        case 'o':
            if (strchr(optarg, '=') == NULL)
                log_fatal("-o requires name=value, not \"%s\"", optarg);
            pc_names_add(&ovr, optarg);
            break;
        case 'p':
            what = PARAMS;
            break;
        case 'P':
            what = SVCPARAMS;
            break;
        case 'v':
            log_verbose++;
            break;
        case 'x':
            flags |= PC_EXPAND;
            break;
        case 'b': case 'C': case 'D': case 't': case 'T':
            log_fatal("option -%c is not supported by this postconf", ch);
        default:
            pc_usage();
        }
    }
    switch (special) {
    case 'a':
        puts("cyrus");
        puts("dovecot");
        return 0;
    case 'A':
        puts("cyrus");
        return 0;
    case 'l':
        puts("flock");
        puts("fcntl");
        puts("dotlock");
        return 0;
    case 'm':
        pc_sorted_words(dict_types());
        return 0;
    default:
        break;
    }
    if (dir) {
        /* -c wins over $MAIL_CONFIG for this process and its children. */
        setenv("MAIL_CONFIG", dir, 1);
    }
    if (action != SHOW) {
        bool master = what == MASTER;

        if (what == FIELDS)
            log_fatal("editing with -F is not supported yet; use -Me");
        if (optind >= argc)
            pc_usage();
        if (what == SVCPARAMS) {
            if (action == COMMENT)
                log_fatal("-P# is not supported; use -PX");
            config_load(dir);
            return pc_edit_service_params(argv + optind, argc - optind,
                                          action == REMOVE) < 0 ? 1 : 0;
        }
        enum postconf_edit_mode mode = action == EDIT ? POSTCONF_EDIT_SET
            : action == REMOVE ? POSTCONF_EDIT_REMOVE : POSTCONF_EDIT_COMMENT;

        config_load(dir);   /* for config_dir(); errors do not stop an edit */
        return pc_edit(argv + optind, argc - optind, master, mode) < 0 ? 1 : 0;
    }

    /* Reading. With -d, main.cf values are not consulted. */
    if (flags & PC_DEFAULTS) {
        struct pc_names set = { 0 };

        config_load(dir);
        config_foreach(pc_collect_nondef, &set);
        for (size_t i = 0; i < set.n; i++)
            config_unset(set.v[i]);
        pc_names_free(&set);
    } else if (config_load(dir) < 0) {
        rc = 1;
    }
    for (size_t i = 0; i < ovr.n; i++) {
        char *name, *value;

        if (pc_split_assign(ovr.v[i], &name, &value)) {
            config_override(name, value);
            xfree(name);
            xfree(value);
        }
    }
    pc_load_master(what != PARAMS);
    if (!(flags & PC_DEFAULTS)) {
        config_foreach(pc_scan_entry, NULL);
        for (const struct mastercf_service *s = pc_master->head; s; s = s->next)
            mastercf_overrides(s, pc_scan_override, NULL);
        if (what == PARAMS)
            config_unused_report(pc_master, CONFIG_UNUSED_MAIN | CONFIG_UNUSED_MASTER, pc_builtin);
    }
    switch (what) {
    case PARAMS:
        pc_show_params(argv + optind, flags);
        break;
    case MASTER:
        pc_show_master(argv + optind, flags);
        break;
    case FIELDS:
        pc_show_fields(argv + optind, flags);
        break;
    case SVCPARAMS:
        pc_show_service_params(argv + optind, flags);
        break;
    }
    fflush(stdout);
    if (ferror(stdout))
        log_fatal("write error on standard output: %m");
    mastercf_free(pc_master);
    pc_names_free(&ovr);
    pc_names_free(&pc_referenced);
    return rc;
}
