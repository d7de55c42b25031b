/*
 * local_token.c - pure helpers of the local agent: tokens, extensions, $name
 *
 * Used by: local_resolve.c, local_deliver.c, tests/unit/local_alias_test.c.
 * Interface: local_tokenize(), local_tokens_free(), local_token_kind(),
 *            local_split_ext(), local_expand(), local_expand_filtered(), local_allow_mask(),
 *            local_pw_free().
 * Errors: none; malformed input gives fewer or odd tokens, never a crash.
 * Notes: token syntax follows aliases(5): targets are separated by commas
 *        or white space, double quotes keep white space inside one target
 *        ("|/usr/bin/prog -x"), and a backslash escapes the next character.
 */
#include "local.h"
#include "alloc.h"
#include "char_filter.h"
#include "config.h"

#define LOCAL_TOKENS_MAX 10000

char **local_tokenize(const char *text, size_t *n)
{
    size_t cap = 8, cnt = 0;
    char **v = xcalloc(cap + 1, sizeof(*v));
    struct sbuf *tok = sbuf_new(64);
    const char *p = text;
    bool bol = true;

    while (*p && cnt < LOCAL_TOKENS_MAX) {
        /* '#' at the start of a line (after blanks) comments out the line */
        if (bol) {
            const char *q = p;
            while (*q == ' ' || *q == '\t')
                q++;
            if (*q == '#') {
                while (*q && *q != '\n')
                    q++;
                p = q;
                continue;
            }
        }
        if (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            bol = (*p == '\n');
            p++;
            continue;
        }
        bol = false;
        sbuf_reset(tok);
        bool quoted = false;
        while (*p) {
            if (*p == '"') {
                quoted = !quoted;
                p++;
                continue;
            }
            if (*p == '\\' && p[1] && p[1] != '\n' && quoted) {
                sbuf_addch(tok, p[1]);
                p += 2;
                continue;
            }
            if (!quoted && (*p == ',' || *p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
                break;
            if (quoted && *p == '\n')
                break;      /* an unterminated quote ends at the line */
            sbuf_addch(tok, *p++);
        }
        if (sbuf_len(tok) == 0)
            continue;
        if (cnt == cap) {
            cap *= 2;
            v = xreallocarray(v, cap + 1, sizeof(*v));
        }
        v[cnt++] = xstrdup(sbuf_str(tok));
        v[cnt] = NULL;
    }
    sbuf_free(tok);
    if (n)
        *n = cnt;
    return v;
}

void local_tokens_free(char **v)
{
    if (v == NULL)
        return;
    for (char **p = v; *p; p++)
        xfree(*p);
    xfree(v);
}

enum local_token local_token_kind(const char *tok, const char **rest)
{
    *rest = tok;
    if (*tok == '|') {
        *rest = tok + 1;
        return LOCAL_TOK_COMMAND;
    }
    if (*tok == '/')
        return LOCAL_TOK_FILE;
    if (*tok == '\\') {
        *rest = tok + 1;
        return LOCAL_TOK_MAILBOX;
    }
    if (strncasecmp(tok, ":include:", 9) == 0) {
        *rest = tok + 9;
        while (**rest == ' ' || **rest == '\t')
            (*rest)++;
        return LOCAL_TOK_INCLUDE;
    }
    return LOCAL_TOK_ADDRESS;
}

void local_split_ext(const char *lp, const char *delims, bool owner_special, struct sbuf *user,
                     struct sbuf *ext)
{
    sbuf_set(user, lp);
    sbuf_reset(ext);
    if (delims == NULL || *delims == 0 || *lp == 0)
        return;
    if (owner_special && strchr(delims, '-')) {
        size_t n = strlen(lp);
        if (strncasecmp(lp, "owner-", 6) == 0
            || (n > 8 && strcasecmp(lp + n - 8, "-request") == 0))
            return;
    }
    size_t pos = strcspn(lp + 1, delims) + 1;
    if (lp[pos] == 0)
        return;
    sbuf_reset(user);
    sbuf_append(user, lp, pos);
    sbuf_set(ext, lp + pos);
}

static const char *local_lookup(const char *name, size_t len, const char *const *names,
                                const char *const *values)
{
    for (size_t i = 0; names[i]; i++)
        if (strlen(names[i]) == len && strncmp(names[i], name, len) == 0)
            return values[i] ? values[i] : "";
    return NULL;
}

int local_expand(struct sbuf *out, const char *pattern, const char *const *names,
                 const char *const *values)
{
    int complete = 1;
    sbuf_reset(out);
    for (const char *p = pattern; *p;) {
        if (*p != '$') {
            sbuf_addch(out, *p++);
            continue;
        }
        p++;
        if (*p == '$') {
            sbuf_addch(out, *p++);
            continue;
        }
        const char *name, *alt = NULL;
        size_t len, altlen = 0;
        char op = 0;
        if (*p == '{' || *p == '(') {
            char close = *p == '{' ? '}' : ')';
            const char *end = strchr(p, close);
            if (end == NULL) {      /* unbalanced: copy literally */
                sbuf_addch(out, '$');
                continue;
            }
            name = p + 1;
            len = strcspn(name, "?:}" ")");
            if (name + len > end)
                len = (size_t)(end - name);
            if (name[len] == '?' || name[len] == ':') {
                op = name[len];
                alt = name + len + 1;
                altlen = (size_t)(end - alt);
            }
            p = end + 1;
        } else {
            name = p;
            len = 0;
            while ((p[len] >= 'a' && p[len] <= 'z') || (p[len] >= 'A' && p[len] <= 'Z')
                   || (p[len] >= '0' && p[len] <= '9') || p[len] == '_')
                len++;
            if (len == 0) {
                sbuf_addch(out, '$');
                continue;
            }
            p += len;
        }
        const char *val = local_lookup(name, len, names, values);
        bool defined = val && *val;
        if (op == '?') {
            if (defined)
                sbuf_append(out, alt, altlen);
        } else if (op == ':') {
            if (!defined)
                sbuf_append(out, alt, altlen);
        } else {
            if (defined)
                sbuf_cat(out, val);
            else
                complete = 0;
        }
    }
    return complete;
}

int local_allow_mask(const char *value)
{
    char **w = cfg_list(value);
    int mask = 0;
    for (char **p = w; p && *p; p++) {
        if (strcasecmp(*p, "alias") == 0)
            mask |= LOCAL_ALLOW_ALIAS;
        else if (strcasecmp(*p, "forward") == 0)
            mask |= LOCAL_ALLOW_FORWARD;
        else if (strcasecmp(*p, "include") == 0)
            mask |= LOCAL_ALLOW_INCLUDE;
    }
    cfg_list_free(w);
    return mask;
}

void local_pw_free(struct local_pw *pw)
{
    if (pw == NULL)
        return;
    xfree(pw->name);
    xfree(pw->home);
    xfree(pw->shell);
    memset(pw, 0, sizeof(*pw));
}

int local_expand_filtered(struct sbuf *out, const char *pattern, const char *const *names,
                          const char *const *values, const char *filter)
{
    struct char_filter f;
    size_t n = 0;
    while (names[n])
        n++;
    char **copy = xcalloc(n + 1, sizeof(char *));
    if (filter)
        char_filter_init(&f, filter);
    for (size_t i = 0; i < n; i++) {
        copy[i] = xstrdup(values[i] ? values[i] : "");
        if (filter)
            char_filter_censor(&f, copy[i]);
    }
    int r = local_expand(out, pattern, names, (const char *const *)copy);
    for (size_t i = 0; i < n; i++)
        xfree(copy[i]);
    xfree(copy);
    return r;
}
