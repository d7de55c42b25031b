/*
 * dict_regexp.c - regexp: tables (POSIX regular expressions)
 *
 * Used by: dict.c (type table); header_checks, access and alias maps.
 * Interface: dict_type_regexp.
 * Errors: an unreadable file fails the open; bad rules are logged
 *         "file:line: what" and skipped (see dict_pattern.c).
 * Notes: flags after the closing delimiter toggle: i (case-insensitive,
 *        on by default), x (extended syntax, on by default), m (newline
 *        sensitive, off by default). The source file is read directly;
 *        postmap does not build it.
 *        glibc's regcomp() has no memory limit and copies a repeated
 *        subexpression once per repetition (x+ is x x*, x{2,5} is five
 *        copies, the optional ones costing quadratic space), so stacked or
 *        nested repeats ("a++++++++++++++++++++", "((a){1,9}){1,9}...")
 *        need memory exponential in their number. Before compiling, the
 *        size of the expanded automaton is estimated; a pattern over
 *        REGEXP_PATTERN_BUDGET is refused ("file:line: regexp ...: too
 *        complex"), and so is one that would take the process's total of
 *        repetition growth over REGEXP_PROCESS_BUDGET. Ordinary patterns
 *        (".{1,255}", "(a|b)+?", "x{2,4}") are far below both.
 */
#include "dict.h"
#include "dict_priv.h"
#include "alloc.h"
#include "log.h"

#include <regex.h>

/* Estimated bytes glibc keeps per expanded node, and per pair of nodes in
 * a run of optional copies (measured on glibc 2.36, rounded up). */
#define REGEXP_NODE_BYTES 500.0
#define REGEXP_PAIR_BYTES 8.0
/* One pattern may not need more than this. */
#define REGEXP_PATTERN_BUDGET (48.0 * 1024 * 1024)
/* All open regexp tables of a process together: the growth beyond the
 * pattern text's own size (so large tables of plain rules stay fine). */
#define REGEXP_PROCESS_BUDGET (128.0 * 1024 * 1024)
#define REGEXP_MAX_NEST 100             /* parentheses deeper than this */
#define REGEXP_DUP_MAX 65535            /* interval bounds are capped here */

struct regexp_re {
    regex_t re;
    double growth;                      /* charged to regexp_growth_used */
};

static double regexp_growth_used;

/* Size of a subexpression once glibc has expanded its repeats. */
struct regexp_size {
    double nodes;                       /* expanded nodes */
    double pairs;                       /* bytes that grow faster than nodes */
    int reps;                           /* repeats nested inside each other */
};

struct regexp_frame {
    struct regexp_size sum;             /* finished items of this group */
    struct regexp_size last;            /* the item a repeat would apply to */
    bool have_last;
};

static void regexp_fold(struct regexp_frame *f)
{
    if (f->have_last) {
        f->sum.nodes += f->last.nodes;
        f->sum.pairs += f->last.pairs;
        if (f->last.reps > f->sum.reps)
            f->sum.reps = f->last.reps;
        f->have_last = false;
    }
}

static void regexp_atom(struct regexp_frame *f)
{
    regexp_fold(f);
    f->last.nodes = 1;
    f->last.pairs = 0;
    f->last.reps = 0;
    f->have_last = true;
}

/* Parses an interval body after "{" (ERE) or "\{" (BRE): "n", "n,",
 * "n,m" or ",m", then "}" or "\}". Returns the text after it, or NULL
 * when this is not an interval. hi < 0 means no upper bound. */
static const char *regexp_interval(const char *p, bool ext, long *lo, long *hi)
{
    long a = 0, b;
    bool da = false, db = false;

    for (; *p >= '0' && *p <= '9'; p++, da = true)
        a = a < REGEXP_DUP_MAX ? a * 10 + (*p - '0') : REGEXP_DUP_MAX;
    b = a;
    if (*p == ',') {
        b = -1;
        for (p++; *p >= '0' && *p <= '9'; p++) {
            b = b < 0 ? 0 : b;
            b = b < REGEXP_DUP_MAX ? b * 10 + (*p - '0') : REGEXP_DUP_MAX;
            db = true;
        }
    }
    if (!da && !db)
        return NULL;
    if (ext ? *p != '}' : (p[0] != '\\' || p[1] != '}'))
        return NULL;
    *lo = a > REGEXP_DUP_MAX ? REGEXP_DUP_MAX : a;
    *hi = b > REGEXP_DUP_MAX ? REGEXP_DUP_MAX : b;
    return p + (ext ? 1 : 2);
}

/* Skips a bracket expression at p ('['); returns the text after it. */
static const char *regexp_bracket(const char *p)
{
    p++;
    if (*p == '^')
        p++;
    if (*p == ']')
        p++;
    while (*p && *p != ']') {
        if (*p == '[' && (p[1] == ':' || p[1] == '.' || p[1] == '=')) {
            char kind = p[1];
            const char *q = p + 2;
            while (*q && !(q[0] == kind && q[1] == ']'))
                q++;
            if (*q) {
                p = q + 2;
                continue;
            }
        }
        p++;
    }
    return *p ? p + 1 : p;
}

/* Applies a repeat to the frame's last item: copies copies of it, of
 * which optional ones are optional (glibc nests those, hence pairs). */
static void regexp_repeat(struct regexp_frame *f, long lo, long hi)
{
    double copies, optional;

    if (!f->have_last) {
        regexp_atom(f);                 /* nothing to repeat: a literal */
        return;
    }
    if (hi < 0) {                       /* x* x+ x{n,}: n copies and a star */
        copies = (double)lo + 1;
        optional = 1;
    } else {
        copies = hi > 0 ? (double)hi : 1;
        optional = (double)(hi - lo > 0 ? hi - lo : 0);
    }
    f->last.pairs =
        copies * f->last.pairs + optional * optional * f->last.nodes * REGEXP_PAIR_BYTES;
    f->last.nodes = copies * f->last.nodes + 1;
    f->last.reps++;
}

/* Nested repeats make glibc's epsilon closures longer: each level adds
 * about a quarter of the node cost (measured up to 14 levels). */
static double regexp_bytes(const struct regexp_size *sz)
{
    return sz->nodes * REGEXP_NODE_BYTES * (1 + sz->reps / 4.0) + sz->pairs;
}

/*
 * Estimates the memory glibc's regcomp() needs for pattern (ERE when ext,
 * else BRE with GNU \+ \? \|). Returns the estimate in bytes, or a
 * negative value when the parentheses nest deeper than REGEXP_MAX_NEST.
 * Stops early (returning a value over the budget) once over it.
 */
static double regexp_estimate(const char *pattern, bool ext)
{
    struct regexp_frame stack[REGEXP_MAX_NEST + 1];
    int depth = 0;
    const char *p = pattern;
    long lo, hi;

    memset(&stack[0], 0, sizeof(stack[0]));
    while (*p) {
        struct regexp_frame *f = &stack[depth];
        int c = (unsigned char)*p, op = 0;

        /* op: '(' ')' grouping, '|' alternation, '*' '+' '?' '{' repeats,
         * 0 for anything that matches text (an atom). */
        if (c == '[') {
            regexp_atom(f);
            p = regexp_bracket(p);
            continue;
        }
        if (c == '\\') {
            int d = (unsigned char)p[1];
            if (d == 0) {
                regexp_atom(f);
                p++;
                continue;
            }
            if (!ext && d == '(')
                op = '(';
            else if (!ext && d == ')')
                op = ')';
            else if (!ext && d == '|')
                op = '|';
            else if (!ext && (d == '+' || d == '?'))
                op = d;
            else if (!ext && d == '{' && regexp_interval(p + 2, false, &lo, &hi) != NULL)
                op = '{';
            if (op == 0) {
                regexp_atom(f);
                p += 2;
                continue;
            }
            p++;                        /* now at the operator character */
        } else if (ext && (c == '(' || c == '|' || c == '*' || c == '+' || c == '?')) {
            op = c;
        } else if (ext && c == ')' && depth > 0) {
            op = c;
        } else if (ext && c == '{' && regexp_interval(p + 1, true, &lo, &hi) != NULL) {
            op = c;
        } else if (!ext && c == '*') {
            op = c;
        }
        switch (op) {
        case '(':
            if (depth == REGEXP_MAX_NEST)
                return -1;
            memset(&stack[++depth], 0, sizeof(stack[0]));
            p++;
            continue;
        case ')':
            if (depth == 0) {
                regexp_atom(f);
                p++;
                continue;
            }
            regexp_fold(f);
            struct regexp_size group = f->sum;
            group.nodes += 1;
            f = &stack[--depth];
            regexp_fold(f);
            f->last = group;
            f->have_last = true;
            p++;
            continue;
        case '|':
            regexp_fold(f);
            f->sum.nodes += 1;
            p++;
            continue;
        case '*':
        case '?':
            regexp_repeat(f, 0, op == '*' ? -1 : 1);
            p++;
            break;
        case '+':
            regexp_repeat(f, 1, -1);
            p++;
            break;
        case '{':
            p = regexp_interval(p + 1, ext, &lo, &hi);
            regexp_repeat(f, lo, hi);
            break;
        default:
            regexp_atom(f);
            p++;
            continue;
        }
        if (f->have_last && regexp_bytes(&f->last) > REGEXP_PATTERN_BUDGET)
            return regexp_bytes(&f->last);
    }
    /* Unclosed groups (regcomp() will refuse them): add them up anyway. */
    while (depth > 0) {
        regexp_fold(&stack[depth]);
        stack[depth - 1].sum.nodes += stack[depth].sum.nodes;
        stack[depth - 1].sum.pairs += stack[depth].sum.pairs;
        if (stack[depth].sum.reps > stack[depth - 1].sum.reps)
            stack[depth - 1].sum.reps = stack[depth].sum.reps;
        depth--;
    }
    regexp_fold(&stack[0]);
    return regexp_bytes(&stack[0].sum);
}

static void *regexp_compile(const char *pattern, const char *flags, struct sbuf *err,
                            int *nsub)
{
    int cflags = REG_EXTENDED | REG_ICASE;

    for (const char *f = flags; *f; f++) {
        switch (*f) {
        case 'i':
            cflags ^= REG_ICASE;
            break;
        case 'x':
            cflags ^= REG_EXTENDED;
            break;
        case 'm':
            cflags ^= REG_NEWLINE;
            break;
        default:
            sbuf_printf(err, "unknown regexp option \"%c\"", *f);
            return NULL;
        }
    }
    double need = regexp_estimate(pattern, (cflags & REG_EXTENDED) != 0);
    if (need < 0) {
        sbuf_printf(err, "regexp \"%s\": parentheses nested more than %d deep", pattern,
                    REGEXP_MAX_NEST);
        return NULL;
    }
    if (need > REGEXP_PATTERN_BUDGET) {
        sbuf_printf(err, "regexp \"%s\": too complex (its repetition operators would need "
                    "over %.0f MB)", pattern, REGEXP_PATTERN_BUDGET / (1024 * 1024));
        return NULL;
    }
    double growth = need - (double)strlen(pattern) * REGEXP_NODE_BYTES;
    if (growth < 0)
        growth = 0;
    if (regexp_growth_used + growth > REGEXP_PROCESS_BUDGET) {
        sbuf_printf(err, "regexp \"%s\": too complex (repetition operators of this "
                    "process's regexp tables would need over %.0f MB)", pattern,
                    REGEXP_PROCESS_BUDGET / (1024 * 1024));
        return NULL;
    }
    struct regexp_re *re = xmalloc(sizeof(*re));
    int rc = regcomp(&re->re, pattern, cflags);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &re->re, msg, sizeof(msg));
        sbuf_printf(err, "regexp \"%s\": %s", pattern, msg);
        xfree(re);
        return NULL;
    }
    re->growth = growth;
    regexp_growth_used += growth;
    *nsub = (int)re->re.re_nsub;
    return re;
}

static int regexp_match(void *p, const char *subject, struct dict_pat_match *m)
{
    struct regexp_re *re = p;
    regmatch_t pm[DICT_PAT_NSUB];
    int rc = regexec(&re->re, subject, DICT_PAT_NSUB, pm, 0);

    if (rc == REG_NOMATCH)
        return 0;
    if (rc != 0) {
        log_warn("regexp: regexec failed (%d)", rc);
        return -1;
    }
    for (int i = 0; i < DICT_PAT_NSUB; i++) {
        m->so[i] = (int)pm[i].rm_so;
        m->eo[i] = (int)pm[i].rm_eo;
    }
    return 1;
}

static void regexp_free(void *p)
{
    struct regexp_re *re = p;

    regexp_growth_used -= re->growth;
    if (regexp_growth_used < 0)
        regexp_growth_used = 0;
    regfree(&re->re);
    xfree(re);
}

static const struct dict_pat_engine regexp_engine = {
    "regexp", regexp_compile, regexp_match, regexp_free,
};

static int dict_regexp_open(struct dict *d, const char *name)
{
    d->impl = dict_pattern_load(name, &regexp_engine);
    if (d->impl == NULL) {
        log_warn("%s: cannot read the table file", d->spec);
        return -1;
    }
    return 0;
}

static const char *dict_regexp_lookup(struct dict *d, const char *key)
{
    return dict_pattern_lookup(d->impl, key, d->result) == 1 ? sbuf_str(d->result) : NULL;
}

static void dict_regexp_close(struct dict *d)
{
    dict_pattern_free(d->impl);
}

const struct dict_type dict_type_regexp = {
    "regexp", DICT_F_PATTERN, dict_regexp_open, dict_regexp_lookup, NULL, dict_regexp_close,
};
