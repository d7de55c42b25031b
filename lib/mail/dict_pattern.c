/*
 * dict_pattern.c - the file syntax shared by regexp: and pcre: tables
 *
 * Used by: dict_regexp.c, dict_pcre.c.
 * Interface: dict_pattern_load(), dict_pattern_lookup(), dict_pattern_free().
 * Errors: each bad line is logged "file:line: what is wrong" and skipped;
 *         a bad "if" line skips its whole block (it never matches).
 * Notes: rules, tried in file order, first match wins:
 *          /pattern/flags result       match
 *          !/pattern/flags result      no match ($n not allowed)
 *          /p1/flags!/p2/flags result  p1 matches and p2 does not
 *          if /pattern/flags ... endif (also "if !/pattern/"), nesting allowed
 *        Any non-alphanumeric character may stand for '/'; "\/" puts the
 *        delimiter itself in the pattern. In the result, $1..$9 and ${1}..
 *        ${9} are replaced by the matched groups, $$ by a dollar sign.
 */
#include "dict.h"
#include "dict_priv.h"
#include "alloc.h"
#include "log.h"

#include <ctype.h>

enum { PAT_MATCH, PAT_IF, PAT_ENDIF };

struct pat_rule {
    int kind;
    int line;
    void *re;                   /* NULL only for a broken "if" */
    bool neg;
    void *re2;                  /* "/p1/!/p2/": must not match */
    char *result;
    size_t skip_to;             /* PAT_IF: index of its endif */
};

struct dict_pat_table {
    const struct dict_pat_engine *eng;
    struct pat_rule *rules;
    size_t n, cap;
};

/* Parses [!]DELIM pattern DELIM flags at *pp. Returns compiled pattern or
 * NULL with why filled; *nsub gets the group count. */
static void *pat_parse_one(const struct dict_pat_engine *eng, const char **pp, bool *neg,
                           int *nsub, struct sbuf *why)
{
    const char *p = *pp;
    struct sbuf *pat = sbuf_new(64);
    struct sbuf *flags = sbuf_new(8);
    void *re = NULL;
    char delim;

    *neg = false;
    if (*p == '!') {
        *neg = true;
        p++;
        p += strspn(p, " \t");
    }
    delim = *p;
    if (delim == 0 || isalnum((unsigned char)delim) || isspace((unsigned char)delim)) {
        sbuf_set(why, "pattern must start with a delimiter such as '/'");
        goto out;
    }
    for (p++; *p && *p != delim; p++) {
        if (*p == '\\' && p[1] == delim)
            p++;
        else if (*p == '\\' && p[1] != 0)
            sbuf_addch(pat, *p++);
        sbuf_addch(pat, *p);
    }
    if (*p != delim) {
        sbuf_printf(why, "missing closing '%c' delimiter", delim);
        goto out;
    }
    p++;
    while (isalpha((unsigned char)*p))
        sbuf_addch(flags, *p++);
    re = eng->compile(sbuf_str(pat), sbuf_str(flags), why, nsub);
out:
    *pp = p;
    sbuf_free(pat);
    sbuf_free(flags);
    return re;
}

/* Checks $n references in result; returns NULL or a reason (static). */
static const char *pat_check_result(const char *result, int nsub, bool neg)
{
    for (const char *p = result; *p; p++) {
        if (*p != '$')
            continue;
        p++;
        if (*p == '$')
            continue;
        int n = -1;
        if (isdigit((unsigned char)*p))
            n = *p - '0';
        else if (*p == '{' && isdigit((unsigned char)p[1]) && p[2] == '}') {
            n = p[1] - '0';
            p += 2;
        } else if (*p == '{') {
            return "bad ${...} substitution (expected ${1} to ${9})";
        } else {
            p--;            /* a lone '$' stays as written */
            continue;
        }
        if (neg)
            return "$n substitution in the result of a negated pattern";
        if (n == 0 || n > nsub)
            return "out of range replacement index";
    }
    return NULL;
}

static struct pat_rule *pat_add(struct dict_pat_table *t, int kind, int line)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? t->cap * 2 : 16;
        t->rules = xreallocarray(t->rules, t->cap, sizeof(*t->rules));
    }
    struct pat_rule *r = &t->rules[t->n++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->line = line;
    return r;
}

static bool pat_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    return strncasecmp(s, w, n) == 0 && (s[n] == 0 || isspace((unsigned char)s[n]));
}

struct dict_pat_table *dict_pattern_load(const char *path, const struct dict_pat_engine *eng)
{
    struct dict_reader *rd = dict_reader_open(path);
    struct sbuf *line, *why;
    size_t *stack = NULL;
    size_t depth = 0, stack_cap = 0;
    int lineno, rc;

    if (rd == NULL) {
        log_warn("open %s: %m", path);
        return NULL;
    }
    struct dict_pat_table *t = xcalloc(1, sizeof(*t));
    t->eng = eng;
    line = sbuf_new(256);
    why = sbuf_new(128);
    while ((rc = dict_reader_next(rd, line, &lineno)) > 0) {
        const char *p = sbuf_str(line);
        bool neg, neg2;
        int nsub = 0, nsub2 = 0;

        if (pat_word(p, "endif")) {
            if (p[5] != 0)
                log_warn("%s:%d: ignoring text after \"endif\"", path, lineno);
            if (depth == 0) {
                log_warn("%s:%d: \"endif\" without matching \"if\"", path, lineno);
                continue;
            }
            t->rules[stack[--depth]].skip_to = t->n;
            pat_add(t, PAT_ENDIF, lineno);
            continue;
        }
        if (pat_word(p, "if")) {
            p += 2;
            p += strspn(p, " \t");
            void *re = pat_parse_one(eng, &p, &neg, &nsub, why);
            if (re == NULL)
                log_warn("%s:%d: %s; skipping this \"if\" block", path, lineno, sbuf_str(why));
            else if (*p != 0)
                log_warn("%s:%d: ignoring text after \"if\" pattern", path, lineno);
            struct pat_rule *r = pat_add(t, PAT_IF, lineno);
            r->re = re;
            r->neg = neg;
            if (depth == stack_cap) {
                stack_cap = stack_cap ? 2 * stack_cap : 8;
                stack = xreallocarray(stack, stack_cap, sizeof(*stack));
            }
            stack[depth++] = t->n - 1;
            continue;
        }
        void *re = pat_parse_one(eng, &p, &neg, &nsub, why);
        if (re == NULL) {
            log_warn("%s:%d: %s; skipping this rule", path, lineno, sbuf_str(why));
            continue;
        }
        void *re2 = NULL;
        if (*p == '!' && !neg) {
            re2 = pat_parse_one(eng, &p, &neg2, &nsub2, why);
            if (re2 == NULL) {
                log_warn("%s:%d: %s; skipping this rule", path, lineno, sbuf_str(why));
                eng->free(re);
                continue;
            }
        }
        if (*p != 0 && !isspace((unsigned char)*p)) {
            log_warn("%s:%d: unknown %s option \"%c\"; skipping this rule", path, lineno,
                     eng->label, *p);
            eng->free(re);
            if (re2)
                eng->free(re2);
            continue;
        }
        p += strspn(p, " \t");
        const char *bad = *p == 0 ? "no result after the pattern"
                                  : pat_check_result(p, nsub, neg);
        if (bad != NULL) {
            log_warn("%s:%d: %s; skipping this rule", path, lineno, bad);
            eng->free(re);
            if (re2)
                eng->free(re2);
            continue;
        }
        struct pat_rule *r = pat_add(t, PAT_MATCH, lineno);
        r->re = re;
        r->neg = neg;
        r->re2 = re2;
        r->result = xstrdup(p);
    }
    if (rc < 0)
        log_warn("read %s: %m", path);
    while (depth > 0) {
        struct pat_rule *r = &t->rules[stack[--depth]];
        log_warn("%s:%d: \"if\" without matching \"endif\"", path, r->line);
        r->skip_to = t->n;
    }
    xfree(stack);
    sbuf_free(line);
    sbuf_free(why);
    dict_reader_close(rd);
    return t;
}

/* Copies result into out with $n replaced by the groups of m in subject. */
static void pat_expand(const char *result, const char *subject, const struct dict_pat_match *m,
                       struct sbuf *out)
{
    sbuf_reset(out);
    for (const char *p = result; *p; p++) {
        int n = -1;
        if (*p == '$' && p[1] == '$') {
            sbuf_addch(out, '$');
            p++;
            continue;
        }
        if (*p == '$' && isdigit((unsigned char)p[1])) {
            n = p[1] - '0';
            p += 1;
        } else if (*p == '$' && p[1] == '{' && isdigit((unsigned char)p[2]) && p[3] == '}') {
            n = p[2] - '0';
            p += 3;
        }
        if (n < 0) {
            sbuf_addch(out, *p);
            continue;
        }
        if (n < DICT_PAT_NSUB && m->so[n] >= 0 && m->eo[n] >= m->so[n])
            sbuf_append(out, subject + m->so[n], (size_t)(m->eo[n] - m->so[n]));
    }
}

int dict_pattern_lookup(struct dict_pat_table *t, const char *key, struct sbuf *out)
{
    struct dict_pat_match m;

    for (size_t i = 0; i < t->n; i++) {
        struct pat_rule *r = &t->rules[i];
        int rc;

        switch (r->kind) {
        case PAT_ENDIF:
            break;
        case PAT_IF:
            rc = r->re ? t->eng->match(r->re, key, &m) : -1;
            if (rc < 0 || (rc == 1) == r->neg)
                i = r->skip_to;         /* the loop steps past the endif */
            break;
        default:
            rc = t->eng->match(r->re, key, &m);
            if (rc < 0 || (rc == 1) == r->neg)
                break;
            if (r->re2) {
                struct dict_pat_match m2;
                if (t->eng->match(r->re2, key, &m2) != 0)
                    break;
            }
            pat_expand(r->result, key, &m, out);
            return 1;
        }
    }
    return 0;
}

void dict_pattern_free(struct dict_pat_table *t)
{
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->rules[i].re)
            t->eng->free(t->rules[i].re);
        if (t->rules[i].re2)
            t->eng->free(t->rules[i].re2);
        xfree(t->rules[i].result);
    }
    xfree(t->rules);
    xfree(t);
}
