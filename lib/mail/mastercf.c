/*
 * mastercf.c - master.cf reader: one struct per service line
 *
 * Used by: master, postconf, postfix check.
 * Interface: see mastercf.h.
 * Errors: a bad line is logged as "FILE:LINE: what" and skipped; the reader
 *         returns -1. An inet service marked private is read as written
 *         (master refuses it; see mastercf_inet_private()).
 * Notes: tokens are split on white space, except that "{ ... }" (balanced)
 *        is one token whose braces and inner edge white space are removed.
 *        "-o { name = value }" becomes the single argument "name=value".
 *        Output helpers reproduce postconf -M / -Mf layout: columns start at
 *        0, 11, 17, 25, 33, 41, 49 and 57, with at least one space between.
 */
#include "mastercf.h"

#include <ctype.h>

#include "alloc.h"
#include "config.h"
#include "lline.h"
#include "log.h"
#include "sbuf.h"

const char *const mastercf_field_names[] = {
    "service", "type", "private", "unprivileged", "chroot", "wakeup",
    "process_limit", "command",
};

static const int mastercf_columns[] = { 0, 11, 17, 25, 33, 41, 49, 57 };

#define MASTERCF_FOLD_WIDTH 80

struct mcf_tok {
    char *text;
    bool braced;
};

static void mcf_toks_free(struct mcf_tok *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xfree(t[i].text);
    xfree(t);
}

/* Splits a logical line; returns the token count, or -1 on an unbalanced
 * brace (*what is set). */
static ssize_t mcf_split(const char *s, struct mcf_tok **out, const char **what)
{
    size_t n = 0, cap = 16;
    struct mcf_tok *t = xreallocarray(NULL, cap, sizeof(*t));

    for (;;) {
        while (isspace((unsigned char) *s))
            s++;
        if (*s == 0)
            break;
        if (n == cap) {
            if (cap >= MASTERCF_MAX_ARGS + MASTERCF_NCOLS) {
                *what = "too many arguments";
                mcf_toks_free(t, n);
                return -1;
            }
            cap *= 2;
            t = xreallocarray(t, cap, sizeof(*t));
        }
        if (*s == '{') {
            int level = 1;
            const char *p = s + 1;

            for (; *p && level > 0; p++) {
                if (*p == '{')
                    level++;
                else if (*p == '}')
                    level--;
            }
            if (level > 0) {
                *what = "missing '}'";
                mcf_toks_free(t, n);
                return -1;
            }
            /* p is just past the closing brace. */
            const char *b = s + 1, *e = p - 1;

            while (b < e && isspace((unsigned char) *b))
                b++;
            while (e > b && isspace((unsigned char) e[-1]))
                e--;
            t[n].text = xstrndup(b, (size_t) (e - b));
            t[n].braced = true;
            n++;
            s = p;
            if (*s && !isspace((unsigned char) *s)) {
                *what = "text after '}'";
                mcf_toks_free(t, n);
                return -1;
            }
        } else {
            const char *p = s;

            while (*p && !isspace((unsigned char) *p))
                p++;
            t[n].text = xstrndup(s, (size_t) (p - s));
            t[n].braced = false;
            n++;
            s = p;
        }
    }
    *out = t;
    return (ssize_t) n;
}

static int mcf_yn(const char *text, bool dflt, bool *out)
{
    if (strcmp(text, "-") == 0)
        *out = dflt;
    else if (strcmp(text, "y") == 0)
        *out = true;
    else if (strcmp(text, "n") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

static int mcf_number(const char *text, int *out)
{
    long v;
    char *end;

    if (!isdigit((unsigned char) text[0]))
        return -1;
    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || *end || v > INT_MAX)
        return -1;
    *out = (int) v;
    return 0;
}

static void mcf_service_free(struct mastercf_service *s)
{
    if (s == NULL)
        return;
    for (int i = 0; i < MASTERCF_NCOLS; i++)
        xfree(s->raw[i]);
    if (s->argv)
        for (int i = 0; i < s->argc; i++)
            xfree(s->argv[i]);
    xfree(s->argv);
    xfree(s->arg_braced);
    xfree(s->file);
    xfree(s);
}

static const char *const mcf_types[] = { "inet", "unix", "unix-dgram", "fifo", "pass", NULL };

/* Parses one logical line into a service; NULL after logging. */
static struct mastercf_service *mcf_parse(const char *text, const char *path, int line)
{
    struct mcf_tok *t = NULL;
    const char *what = NULL;
    ssize_t n = mcf_split(text, &t, &what);
    struct mastercf_service *s;

    if (n < 0) {
        log_warn("%s:%d: %s", path, line, what);
        return NULL;
    }
    if (n < MASTERCF_NCOLS + 1) {
        log_warn("%s:%d: bad field count (%zd fields, need at least %d): \"%.100s\"",
                 path, line, n, MASTERCF_NCOLS + 1, text);
        mcf_toks_free(t, (size_t) n);
        return NULL;
    }
    s = xcalloc(1, sizeof(*s));
    s->file = xstrdup(path);
    s->line = line;
    for (int i = 0; i < MASTERCF_NCOLS; i++)
        s->raw[i] = xstrdup(t[i].text);
    s->name = s->raw[MASTERCF_COL_SERVICE];
    s->type = s->raw[MASTERCF_COL_TYPE];

    bool type_ok = false;

    for (const char *const *ty = mcf_types; *ty; ty++)
        if (strcmp(s->type, *ty) == 0)
            type_ok = true;
    if (!type_ok) {
        log_warn("%s:%d: invalid type field \"%s\"", path, line, s->type);
        goto bad;
    }
    if (mcf_yn(s->raw[MASTERCF_COL_PRIVATE], true, &s->private_) < 0) {
        log_warn("%s:%d: invalid private field \"%s\" (use y, n or -)", path, line,
                 s->raw[MASTERCF_COL_PRIVATE]);
        goto bad;
    }
    if (mcf_yn(s->raw[MASTERCF_COL_UNPRIV], true, &s->unpriv) < 0) {
        log_warn("%s:%d: invalid unprivileged field \"%s\" (use y, n or -)", path, line,
                 s->raw[MASTERCF_COL_UNPRIV]);
        goto bad;
    }
    if (mcf_yn(s->raw[MASTERCF_COL_CHROOT], false, &s->chroot) < 0) {
        log_warn("%s:%d: invalid chroot field \"%s\" (use y, n or -)", path, line,
                 s->raw[MASTERCF_COL_CHROOT]);
        goto bad;
    }
    {
        const char *w = s->raw[MASTERCF_COL_WAKEUP];

        if (strcmp(w, "-") == 0) {
            s->wakeup = 0;
        } else {
            size_t len = strlen(w);
            char *num = xstrdup(w);

            if (len > 1 && num[len - 1] == '?') {
                num[len - 1] = 0;
                s->wakeup_conditional = true;
            }
            int rc = mcf_number(num, &s->wakeup);

            xfree(num);
            if (rc < 0) {
                log_warn("%s:%d: invalid wakeup field \"%s\"", path, line, w);
                goto bad;
            }
        }
    }
    if (strcmp(s->raw[MASTERCF_COL_MAXPROC], "-") == 0) {
        s->maxproc = -1;
    } else if (mcf_number(s->raw[MASTERCF_COL_MAXPROC], &s->maxproc) < 0) {
        log_warn("%s:%d: invalid process limit field \"%s\"", path, line,
                 s->raw[MASTERCF_COL_MAXPROC]);
        goto bad;
    }
    s->argc = (int) n - MASTERCF_NCOLS;
    s->argv = xcalloc((size_t) s->argc + 1, sizeof(*s->argv));
    s->arg_braced = xcalloc((size_t) s->argc + 1, sizeof(*s->arg_braced));
    for (int i = 0; i < s->argc; i++) {
        struct mcf_tok *tk = &t[MASTERCF_NCOLS + i];

        if (tk->braced && i > 0 && strcmp(s->argv[i - 1], "-o") == 0)
            s->argv[i] = config_norm_assign(tk->text);
        else
            s->argv[i] = xstrdup(tk->text);
        s->arg_braced[i] = tk->braced;
    }
    mcf_toks_free(t, (size_t) n);
    /* An inet service marked private (y or -) is kept as written: postfix
     * check accepts it, and master refuses to start it, as Postfix does. */
    return s;
bad:
    mcf_toks_free(t, (size_t) n);
    mcf_service_free(s);
    return NULL;
}

static void mcf_add(struct mastercf *m, struct mastercf_service **tail,
                    const char *text, const char *path, int line, int *rc)
{
    struct mastercf_service *s = mcf_parse(text, path, line);

    if (s == NULL) {
        *rc = -1;
        return;
    }
    if (s->line < 0) {
        s->line = -s->line;
        *rc = -1;
    }
    for (struct mastercf_service *o = m->head; o; o = o->next) {
        if (strcmp(o->name, s->name) == 0 && strcmp(o->type, s->type) == 0) {
            log_warn("%s:%d: duplicate service %s/%s (first defined at line %d); ignored",
                     path, line, s->name, s->type, o->line);
            mcf_service_free(s);
            *rc = -1;
            return;
        }
    }
    *tail = s;
    m->count++;
}

int mastercf_read(FILE *fp, const char *path, struct mastercf **out)
{
    struct mastercf *m = xcalloc(1, sizeof(*m));
    struct mastercf_service **tail = &m->head;
    struct lline_reader *r = lline_open(fp, path, MASTERCF_MAX_LINE, LLINE_F_JOIN_SPACE);
    struct sbuf *logical = sbuf_new(256);
    int lineno = 0, rc = 0, n;

    while ((n = lline_next(r, logical, &lineno)) > 0) {
        mcf_add(m, tail, sbuf_str(logical), path, lineno, &rc);
        while (*tail)
            tail = &(*tail)->next;
    }
    if (n < 0 || lline_errors(r) > 0)
        rc = -1;
    lline_close(r);
    sbuf_free(logical);
    *out = m;
    return rc;
}

int mastercf_load(const char *path, struct mastercf **out)
{
    FILE *fp = fopen(path, "r");

    if (fp == NULL) {
        log_warn("open %s: %m", path);
        *out = xcalloc(1, sizeof(**out));
        return -1;
    }
    int rc = mastercf_read(fp, path, out);

    fclose(fp);
    return rc;
}

void mastercf_free(struct mastercf *m)
{
    if (m == NULL)
        return;
    for (struct mastercf_service *s = m->head, *next; s; s = next) {
        next = s->next;
        mcf_service_free(s);
    }
    xfree(m);
}

const struct mastercf_service *mastercf_find(const struct mastercf *m,
                                             const char *name, const char *type)
{
    for (const struct mastercf_service *s = m->head; s; s = s->next)
        if (strcmp(s->name, name) == 0 && (type == NULL || strcmp(s->type, type) == 0))
            return s;
    return NULL;
}

const char *mastercf_program(const struct mastercf_service *s)
{
    return s->argc > 0 ? s->argv[0] : "";
}

static int mcf_overrides(const struct mastercf_service *s, bool quiet,
                         void (*fn)(const char *name, const char *value, void *ctx), void *ctx)
{
    int count = 0, rc = 0;

    /* Options end at the first argument that does not start with '-'. */
    for (int i = 1; i < s->argc; i++) {
        const char *a = s->argv[i];

        if (a[0] != '-' || s->arg_braced[i])
            break;
        if (strcmp(a, "-o") != 0) {
            continue;
        }
        if (i + 1 >= s->argc) {
            if (!quiet)
                log_warn("%s:%d: service %s/%s: -o without name=value", s->file, s->line,
                     s->name, s->type);
            rc = -1;
            break;
        }
        const char *nv = s->argv[++i];
        const char *eq = strchr(nv, '=');

        if (eq == NULL || eq == nv) {
            if (!quiet)
                log_warn("%s:%d: service %s/%s: bad -o argument \"%s\" (need name=value)",
                     s->file, s->line, s->name, s->type, nv);
            rc = -1;
            continue;
        }
        char *name = xstrndup(nv, (size_t) (eq - nv));

        if (fn)
            fn(name, eq + 1, ctx);
        xfree(name);
        count++;
    }
    return rc < 0 ? -1 : count;
}

bool mastercf_inet_private(const struct mastercf_service *s)
{
    return strcmp(s->type, "inet") == 0 && s->private_;
}

int mastercf_overrides(const struct mastercf_service *s,
                       void (*fn)(const char *name, const char *value, void *ctx), void *ctx)
{
    return mcf_overrides(s, false, fn, ctx);
}

int mastercf_overrides_quiet(const struct mastercf_service *s,
                             void (*fn)(const char *name, const char *value, void *ctx),
                             void *ctx)
{
    return mcf_overrides(s, true, fn, ctx);
}

char **mastercf_service_names(const struct mastercf *m)
{
    char **names = xcalloc(m->count + 1, sizeof(*names));
    size_t n = 0;

    for (const struct mastercf_service *s = m->head; s; s = s->next) {
        const char *name = s->name;

        if (strcmp(s->type, "inet") == 0) {
            const char *colon = strrchr(name, ':');

            if (colon)
                name = colon + 1;
        }
        bool dup = false;

        for (size_t i = 0; i < n; i++)
            if (strcmp(names[i], name) == 0)
                dup = true;
        if (!dup)
            names[n++] = xstrdup(name);
    }
    names[n] = NULL;
    return names;
}

/*
 * An argument as postconf prints it: braced when it holds white space.
 * An empty argument (written "{ }") is printed as "{ }" so that the output
 * reads back the same; Postfix 3.7 prints nothing for it and loses it.
 */
static void mcf_cat_arg(struct sbuf *out, const char *a)
{
    bool space = false;

    if (*a == 0) {
        sbuf_cat(out, "{ }");
        return;
    }

    for (const char *p = a; *p; p++)
        if (isspace((unsigned char) *p))
            space = true;
    if (space)
        sbuf_catf(out, "{%s}", a);
    else
        sbuf_cat(out, a);
}

void mastercf_format_command(struct sbuf *out, const struct mastercf_service *s)
{
    sbuf_reset(out);
    for (int i = 0; i < s->argc; i++) {
        if (i)
            sbuf_addch(out, ' ');
        mcf_cat_arg(out, s->argv[i]);
    }
}

void mastercf_format_line(struct sbuf *out, const struct mastercf_service *s, bool fold)
{
    size_t line_start = 0;
    bool in_opts = true, after_opt_line = false;
    struct sbuf *arg = sbuf_new(64);

    sbuf_reset(out);
    for (int i = 0; i < MASTERCF_NCOLS; i++) {
        if (i > 0) {
            sbuf_addch(out, ' ');
            while (sbuf_len(out) < (size_t) mastercf_columns[i])
                sbuf_addch(out, ' ');
        }
        sbuf_cat(out, s->raw[i]);
    }
    sbuf_addch(out, ' ');
    while (sbuf_len(out) < (size_t) mastercf_columns[MASTERCF_NCOLS])
        sbuf_addch(out, ' ');
    if (!fold) {
        struct sbuf *cmd = sbuf_new(128);

        mastercf_format_command(cmd, s);
        sbuf_cat(out, sbuf_str(cmd));
        sbuf_free(cmd);
        sbuf_free(arg);
        return;
    }
    sbuf_cat(out, mastercf_program(s));
    for (int i = 1; i < s->argc; i++) {
        const char *a = s->argv[i];

        if (in_opts && (a[0] != '-' || s->arg_braced[i]))
            in_opts = false;
        if (in_opts && strcmp(a, "-o") == 0 && i + 1 < s->argc) {
            sbuf_cat(out, "\n    -o ");
            line_start = sbuf_len(out) - 7;
            mcf_cat_arg(out, s->argv[++i]);
            after_opt_line = true;
            continue;
        }
        sbuf_reset(arg);
        mcf_cat_arg(arg, a);
        if (after_opt_line
            || (sbuf_len(out) - line_start) + 1 + sbuf_len(arg) >= MASTERCF_FOLD_WIDTH) {
            sbuf_cat(out, "\n    ");
            line_start = sbuf_len(out) - 4;
            after_opt_line = false;
        } else {
            sbuf_addch(out, ' ');
        }
        sbuf_cat(out, sbuf_str(arg));
    }
    sbuf_free(arg);
}

int mastercf_field_index(const char *field)
{
    for (int i = 0; i <= MASTERCF_NCOLS; i++)
        if (strcmp(field, mastercf_field_names[i]) == 0)
            return i;
    return -1;
}
