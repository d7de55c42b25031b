/*
 * dict_cidr.c - cidr: tables (IPv4 and IPv6 networks)
 *
 * Used by: dict.c (type table); smtpd client access checks, mynetworks.
 * Interface: dict_type_cidr.
 * Errors: an unreadable file fails the open; bad lines ("file:line: what")
 *         are skipped, including networks with host bits set.
 * Notes: lines are "network/length result", a bare address (a host),
 *        "!network/length result" (matches addresses outside), and
 *        "if network/length" ... "endif" blocks (also "if !..."). IPv6 may
 *        be written in brackets. First match in file order wins. A key that
 *        is not an IP address is simply not found.
 */
#include "dict.h"
#include "dict_priv.h"
#include "alloc.h"
#include "log.h"

#include <arpa/inet.h>
#include <ctype.h>

enum { CIDR_MATCH, CIDR_IF, CIDR_ENDIF };

struct cidr_rule {
    int kind;
    int line;
    int family;                 /* AF_INET or AF_INET6; 0: broken "if" */
    unsigned char net[16];
    int len;                    /* prefix length in bits */
    bool neg;
    char *result;
    size_t skip_to;
};

struct cidr_table {
    struct cidr_rule *rules;
    size_t n, cap;
};

/* Parses an address into buf; returns the family or 0. */
static int cidr_addr(const char *s, unsigned char *buf)
{
    char tmp[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(s);

    if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
        if (n - 2 >= sizeof(tmp))
            return 0;
        memcpy(tmp, s + 1, n - 2);
        tmp[n - 2] = 0;
        s = tmp;
    }
    if (inet_pton(AF_INET, s, buf) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, s, buf) == 1)
        return AF_INET6;
    return 0;
}

static bool cidr_in(const unsigned char *addr, const unsigned char *net, int len)
{
    int full = len / 8, rest = len % 8;
    if (memcmp(addr, net, (size_t)full) != 0)
        return false;
    if (rest == 0)
        return true;
    unsigned char mask = (unsigned char)(0xff << (8 - rest));
    return (addr[full] & mask) == net[full];
}

/* Parses "[!]net[/len]" in word into r; returns NULL or a reason. */
static const char *cidr_parse_net(const char *word, struct cidr_rule *r, struct sbuf *why)
{
    char buf[128];
    const char *slash;
    int maxlen;

    if (*word == '!') {
        r->neg = true;
        word++;
    }
    if (strlen(word) >= sizeof(buf))
        return "network is too long";
    strlcpy(buf, word, sizeof(buf));
    slash = strchr(buf, '/');
    if (slash != NULL)
        buf[slash - buf] = 0;
    r->family = cidr_addr(buf, r->net);
    if (r->family == 0) {
        sbuf_printf(why, "bad network address \"%s\"", buf);
        return sbuf_str(why);
    }
    maxlen = r->family == AF_INET ? 32 : 128;
    r->len = maxlen;
    if (slash != NULL) {
        const char *l = word + (slash - buf) + 1;
        char *end;
        if (!isdigit((unsigned char)*l))
            goto badlen;
        long v = strtol(l, &end, 10);
        if (*end != 0 || v < 0 || v > maxlen)
            goto badlen;
        r->len = (int)v;
    }
    /* Host bits must be zero so that a typo is not silently widened. */
    for (int bit = r->len; bit < maxlen; bit++)
        if (r->net[bit / 8] & (0x80 >> (bit % 8))) {
            sbuf_printf(why, "non-null host address bits in \"%s\"", word);
            return sbuf_str(why);
        }
    return NULL;
badlen:
    sbuf_printf(why, "bad network length in \"%s\"", word);
    r->family = 0;
    return sbuf_str(why);
}

static struct cidr_rule *cidr_add(struct cidr_table *t, int kind, int line)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->rules = xreallocarray(t->rules, t->cap, sizeof(*t->rules));
    }
    struct cidr_rule *r = &t->rules[t->n++];
    memset(r, 0, sizeof(*r));
    r->kind = kind;
    r->line = line;
    return r;
}

static void cidr_free(struct cidr_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        xfree(t->rules[i].result);
    xfree(t->rules);
    xfree(t);
}

static int dict_cidr_open(struct dict *d, const char *path)
{
    struct dict_reader *rd = dict_reader_open(path);
    struct sbuf *line, *why;
    size_t *stack = NULL, depth = 0, stack_cap = 0;
    int lineno, rc;

    if (rd == NULL) {
        log_warn("%s: open %s: %m", d->spec, path);
        return -1;
    }
    struct cidr_table *t = xcalloc(1, sizeof(*t));
    line = sbuf_new(128);
    why = sbuf_new(128);
    while ((rc = dict_reader_next(rd, line, &lineno)) > 0) {
        char *s = sbuf_data(line);
        size_t wl = strcspn(s, " \t");
        char *rest = s + wl + strspn(s + wl, " \t");
        char save = s[wl];
        const char *bad;

        s[wl] = 0;
        if (strcasecmp(s, "endif") == 0) {
            if (depth == 0) {
                log_warn("%s:%d: \"endif\" without matching \"if\"", path, lineno);
                continue;
            }
            t->rules[stack[--depth]].skip_to = t->n;
            cidr_add(t, CIDR_ENDIF, lineno);
            continue;
        }
        if (strcasecmp(s, "if") == 0) {
            struct cidr_rule r = { 0 };
            size_t nl = strcspn(rest, " \t");
            if (rest[nl] != 0) {
                log_warn("%s:%d: ignoring text after \"if\" network", path, lineno);
                rest[nl] = 0;
            }
            if ((bad = cidr_parse_net(rest, &r, why)) != NULL) {
                log_warn("%s:%d: %s; skipping this \"if\" block", path, lineno, bad);
                r.family = 0;
            }
            struct cidr_rule *nr = cidr_add(t, CIDR_IF, lineno);
            nr->family = r.family;
            memcpy(nr->net, r.net, sizeof(r.net));
            nr->len = r.len;
            nr->neg = r.neg;
            if (depth == stack_cap) {
                stack_cap = stack_cap ? 2 * stack_cap : 8;
                stack = xreallocarray(stack, stack_cap, sizeof(*stack));
            }
            stack[depth++] = t->n - 1;
            continue;
        }
        s[wl] = save;
        if (*rest == 0 || save == 0) {
            log_warn("%s:%d: expected \"network/length result\"; skipping this line", path,
                     lineno);
            continue;
        }
        s[wl] = 0;
        struct cidr_rule r = { 0 };
        if ((bad = cidr_parse_net(s, &r, why)) != NULL) {
            log_warn("%s:%d: %s; skipping this line", path, lineno, bad);
            continue;
        }
        struct cidr_rule *nr = cidr_add(t, CIDR_MATCH, lineno);
        nr->family = r.family;
        memcpy(nr->net, r.net, sizeof(r.net));
        nr->len = r.len;
        nr->neg = r.neg;
        nr->result = xstrdup(rest);
    }
    if (rc < 0)
        log_warn("%s: read %s: %m", d->spec, path);
    while (depth > 0) {
        struct cidr_rule *r = &t->rules[stack[--depth]];
        log_warn("%s:%d: \"if\" without matching \"endif\"", path, r->line);
        r->skip_to = t->n;
    }
    xfree(stack);
    sbuf_free(line);
    sbuf_free(why);
    dict_reader_close(rd);
    d->impl = t;
    return 0;
}

static bool cidr_rule_matches(const struct cidr_rule *r, int family, const unsigned char *a)
{
    if (r->family == 0)
        return false;
    bool in = r->family == family && cidr_in(a, r->net, r->len);
    /* "!net" matches any address of the same family outside net. */
    return r->neg ? (r->family == family && !in) : in;
}

static const char *dict_cidr_lookup(struct dict *d, const char *key)
{
    struct cidr_table *t = d->impl;
    unsigned char a[16];
    int family = cidr_addr(key, a);

    if (family == 0)
        return NULL;
    for (size_t i = 0; i < t->n; i++) {
        const struct cidr_rule *r = &t->rules[i];
        if (r->kind == CIDR_ENDIF)
            continue;
        if (r->kind == CIDR_IF) {
            if (!cidr_rule_matches(r, family, a))
                i = r->skip_to;
            continue;
        }
        if (cidr_rule_matches(r, family, a))
            return r->result;
    }
    return NULL;
}

static void dict_cidr_close(struct dict *d)
{
    cidr_free(d->impl);
}

const struct dict_type dict_type_cidr = {
    "cidr", DICT_F_PATTERN, dict_cidr_open, dict_cidr_lookup, NULL, dict_cidr_close,
};
