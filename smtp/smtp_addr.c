/*
 * smtp_addr.c - next-hop syntax, MX ordering and reply codes (pure functions)
 *
 * Used by: smtp.c, smtp_dns.c, smtp_proto.c; tests/unit/smtp_addr_test.c.
 * Interface: smtp_dest_parse(), smtp_dest_list_parse(), smtp_dest_free(),
 *            smtp_dest_list_free(), smtp_mx_sort(), smtp_mx_truncate_self(),
 *            smtp_host_equal(), smtp_reply_code(), smtp_xtext_encode().
 * Errors: parsers return -1 and fill why; nothing here logs or does I/O.
 * Notes: next-hop forms follow Postfix: "domain" (MX lookup), "[host]" or
 *        "[addr]" (no MX lookup), either with ":port"; "inet:" in front is
 *        accepted; "unix:/path" only in LMTP mode. IPv6 literals must be
 *        in brackets ("[ipv6:2001:db8::1]" or "[2001:db8::1]").
 */
#include "smtp.h"
#include <ctype.h>
#include <sys/socket.h>
#include "alloc.h"

/* A port: a number 1..65535 or a service name. */
static bool smtp_port_ok(const char *p)
{
    size_t n = strlen(p);
    if (n == 0 || n > 32)
        return false;
    bool digits = true;
    for (const char *q = p; *q; q++) {
        if (!isalnum((unsigned char)*q) && *q != '-' && *q != '_')
            return false;
        if (!isdigit((unsigned char)*q))
            digits = false;
    }
    if (digits) {
        long v = strtol(p, NULL, 10);
        return v >= 1 && v <= 65535;
    }
    return true;
}

/* Host names, domain names and address literals (after the brackets). */
static bool smtp_host_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n >= SMTP_HOST_MAX)
        return false;
    for (const char *q = h; *q; q++)
        if (!isalnum((unsigned char)*q) && *q != '.' && *q != '-' && *q != '_' && *q != ':')
            return false;
    return true;
}

int smtp_dest_parse(const char *text, bool lmtp, const char *dflt_port, struct smtp_dest *d,
                    struct sbuf *why)
{
    memset(d, 0, sizeof(*d));
    const char *p = text;
    if (strncasecmp(p, "inet:", 5) == 0)
        p += 5;
    else if (strncasecmp(p, "unix:", 5) == 0) {
        if (!lmtp) {
            sbuf_printf(why, "unix-domain destination not supported by smtp: %s", text);
            return -1;
        }
        p += 5;
        if (*p == 0 || strlen(p) >= SMTP_HOST_MAX) {
            sbuf_printf(why, "bad unix-domain destination: %s", text);
            return -1;
        }
        d->kind = SMTP_DEST_UNIX;
        d->host = xstrdup(p);
        d->no_mx = true;
        return 0;
    }
    d->kind = SMTP_DEST_INET;
    const char *port = NULL;
    char *host;
    if (*p == '[') {
        const char *end = strchr(p, ']');
        if (end == NULL) {
            sbuf_printf(why, "missing ']' in destination: %s", text);
            return -1;
        }
        host = xstrndup(p + 1, (size_t)(end - p - 1));
        if (end[1] == ':')
            port = end + 2;
        else if (end[1] != 0) {
            sbuf_printf(why, "garbage after ']' in destination: %s", text);
            xfree(host);
            return -1;
        }
        if (strncasecmp(host, "ipv6:", 5) == 0)
            memmove(host, host + 5, strlen(host + 5) + 1);
        d->no_mx = true;
    } else {
        const char *colon = strchr(p, ':');
        if (colon && strchr(colon + 1, ':') != NULL) {
            sbuf_printf(why, "IPv6 address must be in brackets in destination: %s", text);
            return -1;
        }
        host = colon ? xstrndup(p, (size_t)(colon - p)) : xstrdup(p);
        if (colon)
            port = colon + 1;
        d->no_mx = lmtp;
    }
    /* A host name (not a literal) must not contain ':'. */
    if (!smtp_host_ok(host) || (!d->no_mx && strchr(host, ':'))) {
        sbuf_printf(why, "bad host name in destination: %s", text);
        xfree(host);
        return -1;
    }
    if (port && !smtp_port_ok(port)) {
        sbuf_printf(why, "bad port in destination: %s", text);
        xfree(host);
        return -1;
    }
    d->host = host;
    d->port = xstrdup(port ? port : dflt_port);
    if (lmtp)
        d->no_mx = true;
    return 0;
}

void smtp_dest_free(struct smtp_dest *d)
{
    if (d == NULL)
        return;
    xfree(d->host);
    xfree(d->port);
    d->host = d->port = NULL;
}

int smtp_dest_list_parse(const char *text, bool lmtp, const char *dflt_port,
                         struct smtp_dest **out, struct sbuf *why)
{
    struct smtp_dest *v = xcalloc(SMTP_DEST_MAX, sizeof(*v));
    int n = 0;
    const char *p = text;
    while (*p && n < SMTP_DEST_MAX) {
        while (*p == ',' || isspace((unsigned char)*p))
            p++;
        if (*p == 0)
            break;
        const char *e = p;
        while (*e && *e != ',' && !isspace((unsigned char)*e))
            e++;
        char *one = xstrndup(p, (size_t)(e - p));
        int rc = smtp_dest_parse(one, lmtp, dflt_port, &v[n], why);
        xfree(one);
        if (rc < 0) {
            smtp_dest_list_free(v, n);
            return -1;
        }
        n++;
        p = e;
    }
    if (n == 0) {
        sbuf_set(why, "empty next-hop destination");
        xfree(v);
        return -1;
    }
    *out = v;
    return n;
}

void smtp_dest_list_free(struct smtp_dest *v, int n)
{
    for (int i = 0; v && i < n; i++)
        smtp_dest_free(&v[i]);
    xfree(v);
}

static int smtp_mx_cmp(const void *a, const void *b)
{
    const struct smtp_mx *x = a, *y = b;
    return (x->pref > y->pref) - (x->pref < y->pref);
}

void smtp_mx_sort(struct smtp_mx *mx, size_t n, unsigned (*rnd)(unsigned n))
{
    /* Shuffle first, then a stable sort keeps the shuffled order within a
     * preference. qsort is not stable, so insertion sort (n is small). */
    if (rnd) {
        for (size_t i = n; i > 1; i--) {
            size_t j = rnd((unsigned)i);
            struct smtp_mx t = mx[i - 1];
            mx[i - 1] = mx[j];
            mx[j] = t;
        }
    }
    for (size_t i = 1; i < n; i++) {
        struct smtp_mx t = mx[i];
        size_t j = i;
        while (j > 0 && smtp_mx_cmp(&mx[j - 1], &t) > 0) {
            mx[j] = mx[j - 1];
            j--;
        }
        mx[j] = t;
    }
}

void smtp_addr_prefer(struct smtp_addr *v, size_t n, int family)
{
    if (family == 0)
        return;
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && v[end].pref == v[start].pref)
            end++;
        /* Stable: insertion of each preferred entry after the last one. */
        size_t put = start;
        for (size_t i = start; i < end; i++) {
            if (v[i].family != family)
                continue;
            struct smtp_addr t = v[i];
            for (size_t j = i; j > put; j--)
                v[j] = v[j - 1];
            v[put++] = t;
        }
        start = end;
    }
}

int smtp_addr_pref_parse(const char *value, int *family)
{
    if (strcasecmp(value, "any") == 0)
        *family = 0;
    else if (strcasecmp(value, "ipv4") == 0)
        *family = AF_INET;
    else if (strcasecmp(value, "ipv6") == 0)
        *family = AF_INET6;
    else
        return -1;
    return 0;
}

bool smtp_host_equal(const char *a, const char *b)
{
    size_t na = strlen(a), nb = strlen(b);
    if (na > 0 && a[na - 1] == '.')
        na--;
    if (nb > 0 && b[nb - 1] == '.')
        nb--;
    return na == nb && strncasecmp(a, b, na) == 0;
}

size_t smtp_mx_truncate_self(struct smtp_mx *mx, size_t n, const char *myhostname)
{
    for (size_t i = 0; i < n; i++) {
        if (smtp_host_equal(mx[i].host, myhostname)) {
            int pref = mx[i].pref;
            size_t k = i;
            /* equal-preference records sorted before us also go */
            while (k > 0 && mx[k - 1].pref >= pref)
                k--;
            for (size_t j = k; j < n; j++)
                xfree(mx[j].host);
            return k;
        }
    }
    return n;
}

int smtp_reply_code(const char *line, struct sbuf *dsn)
{
    if (!isdigit((unsigned char)line[0]) || !isdigit((unsigned char)line[1])
        || !isdigit((unsigned char)line[2])
        || (line[3] != 0 && line[3] != ' ' && line[3] != '-'))
        return -1;
    int code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (code < 200 || code > 599) {
        /* 1xx and 6xx+ are not valid final replies */
        return -1;
    }
    char dflt[8];
    snprintf(dflt, sizeof(dflt), "%c.0.0", line[0] == '3' ? '2' : line[0]);
    const char *text = line[3] ? line + 4 : "";
    deliver_split_dsn(text, dflt, dsn);
    /* An enhanced code of another class than the reply is ignored. */
    if (sbuf_str(dsn)[0] != dflt[0])
        sbuf_set(dsn, dflt);
    return code;
}

void smtp_xtext_encode(struct sbuf *out, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if (*p < 33 || *p > 126 || *p == '+' || *p == '=')
            sbuf_catf(out, "+%02X", *p);
        else
            sbuf_addch(out, *p);
    }
}
