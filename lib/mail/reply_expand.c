/*
 * reply_expand.c - $name templates in server replies, with an expansion filter
 *
 * Used by: smtpd (smtpd_dnsbl.c), reply_footer.c.
 * Interface: reply_vars_add(), reply_expand_new(), reply_expand(),
 *            reply_expand_free().
 * Errors: none (see reply_expand.h).
 * Notes: ${name?text} and ${name:text} nest up to five levels deep; deeper
 *        conditional text is dropped.
 */
#include "reply_expand.h"
#include "alloc.h"
#include "char_filter.h"
#include <ctype.h>

struct reply_expand {
    struct char_filter filter;  /* the expansion filter */
};

void reply_vars_add(struct reply_vars *v, const char *name, const char *value)
{
    if (v->n < ARRAY_LEN(v->names)) {
        v->names[v->n] = name;
        v->values[v->n++] = value ? value : "";
    }
}

struct reply_expand *reply_expand_new(const char *filter)
{
    struct reply_expand *x = xcalloc(1, sizeof(*x));
    char_filter_init(&x->filter, filter);
    return x;
}

void reply_expand_free(struct reply_expand *x)
{
    xfree(x);
}

static const char *reply_vars_find(const struct reply_vars *v, const char *name, size_t len)
{
    for (size_t i = 0; i < v->n; i++)
        if (strlen(v->names[i]) == len && strncmp(v->names[i], name, len) == 0)
            return v->values[i];
    return NULL;
}

static void reply_expand_value(const struct reply_expand *x, struct sbuf *out, const char *val)
{
    for (const char *p = val; *p; p++)
        char_filter_addch(&x->filter, out, *p);
}

static void reply_expand_span(const struct reply_expand *x, struct sbuf *out, const char *tmpl,
                              size_t len, const struct reply_vars *v, int depth)
{
    const char *p = tmpl, *end = tmpl + len;
    while (p < end) {
        if (*p != '$' || p + 1 >= end) {
            sbuf_addch(out, *p++);
            continue;
        }
        p++;
        if (*p == '$') {
            sbuf_addch(out, *p++);
            continue;
        }
        if (*p == '{' || *p == '(') {
            char open = *p, close = open == '{' ? '}' : ')';
            int level = 1;
            const char *q = p + 1;
            while (q < end && level > 0) {
                if (*q == open)
                    level++;
                else if (*q == close)
                    level--;
                if (level)
                    q++;
            }
            if (q >= end)
                break;          /* unbalanced: drop the rest */
            const char *name = p + 1;
            size_t nl = strcspn(name, "?:})");
            if (name + nl > q)
                nl = (size_t)(q - name);
            const char *val = reply_vars_find(v, name, nl);
            bool set = val && *val;
            if (name + nl < q && (name[nl] == '?' || name[nl] == ':')) {
                bool want = name[nl] == '?';
                if (set == want && depth < 5)
                    reply_expand_span(x, out, name + nl + 1, (size_t)(q - name - nl - 1), v,
                                      depth + 1);
            } else if (set)
                reply_expand_value(x, out, val);
            p = q + 1;
            continue;
        }
        size_t nl = 0;
        while (p + nl < end && (isalnum((unsigned char)p[nl]) || p[nl] == '_'))
            nl++;
        const char *val = reply_vars_find(v, p, nl);
        if (val)
            reply_expand_value(x, out, val);
        p += nl;
    }
}

void reply_expand(const struct reply_expand *x, struct sbuf *out, const char *tmpl,
                  const struct reply_vars *v)
{
    reply_expand_span(x, out, tmpl, strlen(tmpl), v, 0);
}
