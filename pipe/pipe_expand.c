/*
 * pipe_expand.c - the ${name} macros of the pipe agent's argv=
 *
 * Used by: pipe.c.
 * Interface: pipe_expand_argv(), pipe_expand_one().
 * Errors: an unknown macro name or an unbalanced ${ is returned as an
 *         error (pipe.c defers the mail and logs why).
 * Notes: forms: $name, ${name}, $(name), ${name?text} (text when the value
 *        is not empty), ${name:text} (text when it is empty), $$ for one $.
 *        The text of ?/: is expanded in turn; values never are (addresses
 *        may contain '$'). Recipient macros follow the flags: h folds the
 *        domain (and ${domain}, ${nexthop}), u folds the local part, q
 *        quotes the local part of ${recipient}, ${original_recipient} and
 *        ${sender}. ${user} and ${extension} split the local part at the
 *        first recipient_delimiter character.
 */
#include "pipe.h"
#include "addr.h"
#include "alloc.h"
#include "config.h"
#include <ctype.h>

#define PIPE_EXPAND_DEPTH 10

/* Recipient macros (an argument naming one is repeated per recipient). */
#define PIPE_M_RCPT 0x01
#define PIPE_M_ORIG 0x02
#define PIPE_M_USER 0x04
#define PIPE_M_EXT 0x08
#define PIPE_M_MAILBOX 0x10
#define PIPE_M_DOMAIN 0x20

static const struct {
    const char *name;
    int rflag;              /* PIPE_M_* for a recipient macro, else 0 */
    const char *attr;       /* request attribute (log_*), env attribute, or NULL */
    bool env;               /* attr is in the queue file's A records */
} pipe_macro_table[] = {
    { "recipient", PIPE_M_RCPT, NULL, false },
    { "original_recipient", PIPE_M_ORIG, NULL, false },
    { "user", PIPE_M_USER, NULL, false },
    { "extension", PIPE_M_EXT, NULL, false },
    { "mailbox", PIPE_M_MAILBOX, NULL, false },
    { "domain", PIPE_M_DOMAIN, NULL, false },
    { "sender", 0, NULL, false },
    { "nexthop", 0, NULL, false },
    { "size", 0, NULL, false },
    { "queue_id", 0, NULL, false },
    { "client_address", 0, "log_client_address", false },
    { "client_hostname", 0, "log_client_name", false },
    { "client_port", 0, "log_client_port", false },
    { "client_protocol", 0, "log_protocol", false },
    { "client_helo", 0, "log_helo_name", false },
    { "sasl_method", 0, "sasl_method", true },
    { "sasl_sender", 0, "sasl_sender", true },
    { "sasl_username", 0, "sasl_username", true },
};

static void pipe_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* The recipient address shaped by the flags: q quotes (when quote is
 * set), u folds the local part, h the domain. */
static void pipe_morph(struct sbuf *out, const char *addr, int flags, bool quote)
{
    if (quote && (flags & PIPE_F_QUOTE))
        addr_quote(out, addr);
    else
        sbuf_set(out, addr);
    char *s = sbuf_data(out);
    char *at = strrchr(s, '@');
    if ((flags & PIPE_F_FOLD_HOST) && at)
        pipe_lower(at + 1);
    if (flags & PIPE_F_FOLD_USER) {
        if (at)
            *at = 0;
        pipe_lower(s);
        if (at)
            *at = '@';
    }
}

/* Value of macro i for recipient rc into out. Returns false when the
 * recipient macro cannot be given (no recipient). */
static bool pipe_macro_value(struct sbuf *out, size_t i, const struct pipe_macros *m,
                             const struct deliver_rcpt *rc)
{
    const struct deliver_request *r = m->req;
    int flags = m->attr->flags;
    const char *name = pipe_macro_table[i].name;
    sbuf_reset(out);
    if (pipe_macro_table[i].attr) {
        const struct attr_list *l = pipe_macro_table[i].env ? r->env_attrs : r->attrs;
        const char *v = l ? attr_get(l, pipe_macro_table[i].attr) : NULL;
        sbuf_set(out, v ? v : "");
        return true;
    }
    if (strcmp(name, "sender") == 0) {
        if (*r->sender == 0)
            sbuf_set(out, m->attr->null_sender);
        else
            pipe_morph(out, r->sender, flags & PIPE_F_QUOTE, true);
        return true;
    }
    if (strcmp(name, "nexthop") == 0) {
        sbuf_set(out, r->nexthop);
        if (flags & PIPE_F_FOLD_HOST)
            pipe_lower(sbuf_data(out));
        return true;
    }
    if (strcmp(name, "size") == 0) {
        const char *v = attr_get(r->attrs, "content_size");
        sbuf_set(out, v ? v : "0");
        return true;
    }
    if (strcmp(name, "queue_id") == 0) {
        sbuf_set(out, r->queue_id);
        return true;
    }
    if (rc == NULL)
        return false;
    int rflag = pipe_macro_table[i].rflag;
    if (rflag == PIPE_M_RCPT) {
        pipe_morph(out, rc->address, flags, true);
        return true;
    }
    if (rflag == PIPE_M_ORIG) {
        pipe_morph(out, *rc->orig ? rc->orig : rc->address, flags, true);
        return true;
    }
    /* The others work on the folded, unquoted address. */
    pipe_morph(out, rc->address, flags & (PIPE_F_FOLD_HOST | PIPE_F_FOLD_USER), false);
    char *s = sbuf_data(out);
    char *at = strrchr(s, '@');
    if (rflag == PIPE_M_DOMAIN) {
        struct sbuf *d = sbuf_new(64);
        sbuf_set(d, at ? at + 1 : "");
        sbuf_set(out, sbuf_str(d));
        sbuf_free(d);
        return true;
    }
    if (at)
        sbuf_truncate(out, (size_t)(at - s));
    if (rflag == PIPE_M_MAILBOX)
        return true;
    s = sbuf_data(out);
    size_t cut = m->delimiters && *m->delimiters ? strcspn(s, m->delimiters) : strlen(s);
    if (rflag == PIPE_M_USER) {
        sbuf_truncate(out, cut);
    } else {   /* extension: after the delimiter, "" when none */
        struct sbuf *e = sbuf_new(32);
        sbuf_set(e, s[cut] ? s + cut + 1 : "");
        sbuf_set(out, sbuf_str(e));
        sbuf_free(e);
    }
    return true;
}

static ssize_t pipe_macro_find(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(pipe_macro_table); i++)
        if (strlen(pipe_macro_table[i].name) == len
            && memcmp(pipe_macro_table[i].name, name, len) == 0)
            return (ssize_t)i;
    return -1;
}

/* Expansion state. scan: evaluate both branches and only collect the
 * recipient macros named (into *rflags); rc may then be NULL. */
struct pipe_exp {
    const struct pipe_macros *m;
    const struct deliver_rcpt *rc;
    bool scan;
    int rflags;
    bool empty_user;        /* ${user} was empty: drop the argument */
    struct sbuf *val;
    struct sbuf *why;
};

static int pipe_expand_text(struct pipe_exp *x, struct sbuf *out, const char *s, size_t len,
                            int depth)
{
    if (depth > PIPE_EXPAND_DEPTH) {
        sbuf_set(x->why, "macros nested too deeply");
        return -1;
    }
    const char *end = s + len;
    while (s < end) {
        if (*s != '$') {
            sbuf_addch(out, *s++);
            continue;
        }
        s++;
        if (s < end && *s == '$') {
            sbuf_addch(out, '$');
            s++;
            continue;
        }
        const char *name, *text = NULL;
        size_t nlen, tlen = 0;
        char op = 0;
        if (s < end && (*s == '{' || *s == '(')) {
            char open = *s, close = open == '{' ? '}' : ')';
            name = ++s;
            while (s < end && (isalnum((unsigned char)*s) || *s == '_'))
                s++;
            nlen = (size_t)(s - name);
            if (s < end && open == '{' && (*s == '?' || *s == ':')) {
                op = *s++;
                text = s;
                int level = 1;
                for (; s < end; s++) {
                    if (*s == '{')
                        level++;
                    else if (*s == '}' && --level == 0)
                        break;
                }
                tlen = (size_t)(s - text);
            }
            if (s >= end || *s != close) {
                sbuf_printf(x->why, "missing '%c' in \"%.*s\"", close, (int)len, end - len);
                return -1;
            }
            s++;
        } else {
            name = s;
            while (s < end && (isalnum((unsigned char)*s) || *s == '_'))
                s++;
            nlen = (size_t)(s - name);
        }
        if (nlen == 0) {
            sbuf_printf(x->why, "bad macro syntax in \"%.*s\"", (int)len, end - len);
            return -1;
        }
        ssize_t i = pipe_macro_find(name, nlen);
        if (i < 0) {
            sbuf_printf(x->why, "unknown macro name: \"%.*s\"", (int)nlen, name);
            return -1;
        }
        x->rflags |= pipe_macro_table[i].rflag;
        if (x->scan) {
            if (text && pipe_expand_text(x, out, text, tlen, depth + 1) < 0)
                return -1;
            continue;
        }
        if (!pipe_macro_value(x->val, (size_t)i, x->m, x->rc)) {
            sbuf_printf(x->why, "macro %.*s needs a recipient", (int)nlen, name);
            return -1;
        }
        bool empty = sbuf_len(x->val) == 0;
        if (pipe_macro_table[i].rflag == PIPE_M_USER && empty && op == 0)
            x->empty_user = true;
        if (op == 0)
            sbuf_cat(out, sbuf_str(x->val));
        else if ((op == '?' && !empty) || (op == ':' && empty)) {
            if (pipe_expand_text(x, out, text, tlen, depth + 1) < 0)
                return -1;
        }
    }
    return 0;
}

int pipe_expand_one(struct sbuf *out, const char *pattern, const struct pipe_macros *m,
                    const struct deliver_rcpt *rc, struct sbuf *why)
{
    struct pipe_exp x = { .m = m, .rc = rc, .val = sbuf_new(128), .why = why };
    sbuf_reset(out);
    int r = pipe_expand_text(&x, out, pattern, strlen(pattern), 0);
    sbuf_free(x.val);
    return r;
}

char **pipe_expand_argv(const struct pipe_macros *m, struct sbuf *why)
{
    size_t n = 0, cap = 8;
    char **v = xcalloc(cap, sizeof(char *));
    struct sbuf *out = sbuf_new(128), *val = sbuf_new(128);
    for (char **a = m->attr->argv; *a; a++) {
        struct pipe_exp x = { .m = m, .scan = true, .val = val, .why = why };
        if (pipe_expand_text(&x, out, *a, strlen(*a), 0) < 0)
            goto bad;
        size_t reps = x.rflags ? m->nrcpt : 1;
        for (size_t i = 0; i < reps; i++) {
            struct pipe_exp y = { .m = m, .rc = x.rflags ? m->rcpts[i] : NULL, .val = val,
                                  .why = why };
            sbuf_reset(out);
            if (pipe_expand_text(&y, out, *a, strlen(*a), 0) < 0)
                goto bad;
            /* "+list@host" has no user: leave the argument out (Postfix
             * does this for shared mailboxes). */
            if (y.empty_user)
                continue;
            if (n + 2 > cap) {
                cap *= 2;
                v = xreallocarray(v, cap, sizeof(char *));
            }
            v[n++] = xstrdup(sbuf_str(out));
            v[n] = NULL;
        }
    }
    sbuf_free(out);
    sbuf_free(val);
    if (n == 0) {
        sbuf_set(why, "the command expands to nothing");
        cfg_list_free(v);
        return NULL;
    }
    return v;
bad:
    sbuf_free(out);
    sbuf_free(val);
    cfg_list_free(v);
    return NULL;
}
