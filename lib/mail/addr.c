/*
 * addr.c - address quoting, splitting and header address-list parsing
 *
 * Used by: cleanup, trivial-rewrite, smtpd, local, bounce.
 * Interface: see addr.h.
 * Errors: none; the list parser skips what it cannot use.
 * Notes: the list parser is a small tokenizer (atoms, quoted strings,
 *        domain literals, comments, specials) followed by a state machine
 *        that knows about display names, <route-addr>, source routes and
 *        groups. It is deliberately forgiving: real headers are often
 *        malformed, and a missing '>' or ';' must not lose the address.
 */
#include "addr.h"
#include "alloc.h"

#define ADDR_MAX_TOKENS 512     /* per address; more is junk */
#define ADDR_MAX_COMMENT_DEPTH 32

const char *addr_at(const char *addr)
{
    return strrchr(addr, '@');
}

bool addr_split(const char *addr, struct sbuf *local, struct sbuf *domain)
{
    const char *at = addr_at(addr);
    if (local) {
        sbuf_reset(local);
        sbuf_append(local, addr, at ? (size_t)(at - addr) : strlen(addr));
    }
    if (domain) {
        sbuf_reset(domain);
        if (at)
            sbuf_cat(domain, at + 1);
    }
    return at != NULL;
}

void addr_fold_domain(char *addr)
{
    char *at = strrchr(addr, '@');
    if (at == NULL)
        return;
    for (char *p = at + 1; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
}

/* RFC 5322 atext, plus 8-bit bytes (SMTPUTF8 local parts). */
static bool addr_atext(unsigned char c)
{
    if (c >= 0x80)
        return true;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

bool addr_needs_quote(const char *local, size_t len)
{
    if (len == 0)
        return true;
    if (local[0] == '.' || local[len - 1] == '.')
        return true;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)local[i];
        if (c == '.') {
            if (local[i + 1] == '.')
                return true;
            continue;
        }
        if (!addr_atext(c))
            return true;
    }
    return false;
}

void addr_quote(struct sbuf *out, const char *addr)
{
    sbuf_reset(out);
    if (*addr == 0)
        return;
    const char *at = addr_at(addr);
    size_t llen = at ? (size_t)(at - addr) : strlen(addr);
    if (!addr_needs_quote(addr, llen)) {
        sbuf_cat(out, addr);
        return;
    }
    sbuf_addch(out, '"');
    for (size_t i = 0; i < llen; i++) {
        if (addr[i] == '"' || addr[i] == '\\')
            sbuf_addch(out, '\\');
        sbuf_addch(out, addr[i]);
    }
    sbuf_addch(out, '"');
    if (at)
        sbuf_cat(out, at);
}

void addr_unquote(struct sbuf *out, const char *addr)
{
    bool inq = false;
    sbuf_reset(out);
    for (const char *p = addr; *p; p++) {
        if (!inq && *p == '@') {
            /* The first '@' outside quotes ends the local part; the domain
             * is copied as it is, as addr_quote() wrote it (a domain from
             * a malformed header may hold '"' or '\\'). */
            sbuf_cat(out, p);
            return;
        }
        if (*p == '"') {
            inq = !inq;
            continue;
        }
        if (inq && *p == '\\' && p[1]) {
            p++;
            sbuf_addch(out, *p);
            continue;
        }
        sbuf_addch(out, *p);
    }
}

/* ---- header address lists ---- */

enum addr_tok_type { ADDR_T_ATOM, ADDR_T_QSTR, ADDR_T_SPECIAL };

struct addr_tok {
    enum addr_tok_type type;
    size_t s, e;        /* span in the value, quotes included */
    char ch;            /* for specials */
};

static bool addr_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool addr_special(char c)
{
    return c == '<' || c == '>' || c == ',' || c == ';' || c == ':' || c == '@';
}

/* Reads the next token; false at the end of the value. */
static bool addr_next_tok(const char *v, size_t len, size_t *pos, struct addr_tok *t)
{
    size_t i = *pos;
    for (;;) {
        while (i < len && addr_space(v[i]))
            i++;
        if (i >= len) {
            *pos = i;
            return false;
        }
        if (v[i] != '(')
            break;
        /* Comment, possibly nested; unterminated ones run to the end. */
        int depth = 0;
        for (; i < len; i++) {
            if (v[i] == '\\' && i + 1 < len) {
                i++;
                continue;
            }
            if (v[i] == '(' && depth < ADDR_MAX_COMMENT_DEPTH)
                depth++;
            else if (v[i] == ')' && --depth == 0) {
                i++;
                break;
            }
        }
    }
    t->s = i;
    if (addr_special(v[i])) {
        t->type = ADDR_T_SPECIAL;
        t->ch = v[i];
        t->e = i + 1;
    } else if (v[i] == '"') {
        t->type = ADDR_T_QSTR;
        for (i++; i < len && v[i] != '"'; i++)
            if (v[i] == '\\' && i + 1 < len)
                i++;
        t->e = i < len ? i + 1 : len;
    } else if (v[i] == '[') {
        t->type = ADDR_T_ATOM;
        while (i < len && v[i] != ']')
            i++;
        t->e = i < len ? i + 1 : len;
    } else {
        t->type = ADDR_T_ATOM;
        while (i < len && !addr_space(v[i]) && !addr_special(v[i]) && v[i] != '(' && v[i] != '"')
            i++;
        t->e = i;
    }
    *pos = t->e;
    return true;
}

/* The tokens of one address: up to ADDR_INLINE_TOKENS in the struct
 * itself, more on the heap, at most ADDR_MAX_TOKENS. (A header's parse used
 * to take two 16 KB zeroed blocks from malloc; in cleanup, which parses the
 * address headers of every message, that cost more than the parse.) */
#define ADDR_INLINE_TOKENS 32
struct addr_toks {
    struct addr_tok inline_v[ADDR_INLINE_TOKENS];
    struct addr_tok *v;
    size_t n, cap;
    bool overflow;
};

static void addr_toks_init(struct addr_toks *l)
{
    l->v = l->inline_v;
    l->n = 0;
    l->cap = ADDR_INLINE_TOKENS;
    l->overflow = false;
}

static void addr_toks_free(struct addr_toks *l)
{
    if (l->v != l->inline_v)
        xfree(l->v);
}

static void addr_toks_push(struct addr_toks *l, const struct addr_tok *t)
{
    if (l->n >= ADDR_MAX_TOKENS) {
        l->overflow = true;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap * 4 > ADDR_MAX_TOKENS ? ADDR_MAX_TOKENS : l->cap * 4;
        struct addr_tok *v = xreallocarray(NULL, cap, sizeof(*v));
        memcpy(v, l->v, l->n * sizeof(*v));
        addr_toks_free(l);
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *t;
}

/* Turns the collected tokens into one internal-form address. */
static void addr_flush(const char *v, struct addr_toks *l, bool angle, size_t max_items,
                       struct addr_items *out, size_t *added)
{
    if (l->n == 0 || l->overflow || out->n >= max_items) {
        l->n = 0;
        l->overflow = false;
        return;
    }
    struct sbuf *b = sbuf_new(64);
    for (size_t i = 0; i < l->n && sbuf_len(b) <= ADDR_MAX_LEN; i++) {
        const struct addr_tok *t = &l->v[i];
        if (t->type == ADDR_T_QSTR) {
            size_t end = t->e - t->s >= 2 && v[t->e - 1] == '"' ? t->e - 1 : t->e;
            for (size_t j = t->s + 1; j < end; j++) {
                if (v[j] == '\\' && j + 1 < end)
                    j++;
                if (v[j] == '\r' || v[j] == '\n')
                    continue;       /* folding inside a quoted string */
                sbuf_addch(b, v[j]);
            }
        } else {
            sbuf_append(b, v + t->s, t->e - t->s);
        }
    }
    if (sbuf_len(b) > 0 && sbuf_len(b) <= ADDR_MAX_LEN && memchr(sbuf_str(b), 0, sbuf_len(b)) == NULL) {
        if (out->n == out->cap) {
            out->cap = out->cap ? out->cap * 2 : 8;
            out->v = xreallocarray(out->v, out->cap, sizeof(*out->v));
        }
        struct addr_item *it = &out->v[out->n++];
        it->start = l->v[0].s;
        it->len = l->v[l->n - 1].e - it->start;
        it->angle = angle;
        it->addr = sbuf_detach(b);
        b = NULL;
        (*added)++;
    }
    sbuf_free(b);
    l->n = 0;
    l->overflow = false;
}

size_t addr_parse_list(const char *value, size_t len, size_t max_items, struct addr_items *out)
{
    return addr_parse_list_limit(value, len, max_items, 0, out);
}

size_t addr_parse_list_limit(const char *value, size_t len, size_t max_items, size_t max_tokens,
                             struct addr_items *out)
{
    size_t ntok = 0;
    bool cut = false;
    struct addr_toks cur_toks, ang_toks, *cur = &cur_toks, *ang = &ang_toks;
    addr_toks_init(cur);
    addr_toks_init(ang);
    bool in_angle = false, got_angle = false;
    size_t pos = 0, added = 0;
    struct addr_tok t;

#define ADDR_FLUSH()                                                     \
    do {                                                                 \
        if (got_angle)                                                   \
            addr_flush(value, ang, true, max_items, out, &added);        \
        else                                                             \
            addr_flush(value, cur, false, max_items, out, &added);       \
        cur->n = ang->n = 0;                                             \
        in_angle = got_angle = false;                                    \
    } while (0)

    while (addr_next_tok(value, len, &pos, &t)) {
        if (max_tokens > 0 && ++ntok > max_tokens) {
            /* Past the limit: the address being read is whole only when
             * this token would have ended it. */
            cut = !(t.type == ADDR_T_SPECIAL && (t.ch == ',' || t.ch == ';'));
            break;
        }
        bool sp = t.type == ADDR_T_SPECIAL;
        if (!in_angle) {
            if (sp && (t.ch == ',' || t.ch == ';')) {
                ADDR_FLUSH();
            } else if (sp && t.ch == ':') {
                cur->n = 0;         /* group name (or a stray route): drop */
                cur->overflow = false;
            } else if (sp && t.ch == '<') {
                in_angle = true;
                got_angle = false;
                ang->n = 0;
                ang->overflow = false;
                cur->n = 0;         /* display name */
            } else if (sp && t.ch == '>') {
                continue;
            } else if (!got_angle) {
                addr_toks_push(cur, &t);
            }
        } else {
            if (sp && t.ch == '>') {
                in_angle = false;
                got_angle = true;
            } else if (sp && (t.ch == ':' || t.ch == ',' || t.ch == '<')) {
                ang->n = 0;         /* source route @a,@b: */
                ang->overflow = false;
            } else if (sp && t.ch == ';') {
                got_angle = true;
                ADDR_FLUSH();
            } else {
                addr_toks_push(ang, &t);
            }
        }
    }
    if (in_angle)
        got_angle = true;       /* missing '>': keep what we have */
    if (!cut)
        ADDR_FLUSH();           /* an address cut by the token limit is dropped */
#undef ADDR_FLUSH
    addr_toks_free(cur);
    addr_toks_free(ang);
    return added;
}

void addr_items_free(struct addr_items *items)
{
    for (size_t i = 0; i < items->n; i++)
        xfree(items->v[i].addr);
    xfree(items->v);
    items->v = NULL;
    items->n = items->cap = 0;
}
