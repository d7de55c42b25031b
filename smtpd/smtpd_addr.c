/*
 * smtpd_addr.c - SMTP path parsing: MAIL FROM:<path> and RCPT TO:<path>
 *
 * Used by: smtpd_cmd.c (MAIL, RCPT, VRFY), tests/unit/smtpd_addr_test.c.
 * Interface: smtpd_addr_parse(), smtpd_addr_quote(), smtpd_xtext_decode().
 * Errors: returned as SMTPD_ADDR_* codes; nothing is logged here.
 * Notes: the result is Postern's internal address form: the local part
 *        unquoted (backslash escapes removed), an RFC 5321 source route
 *        ("@a,@b:user@c") dropped as RFC 5321 section 3.6.1 permits.
 *        The whole path, brackets included, is limited to SMTPD_PATH_MAX
 *        octets (RFC 5321 section 4.5.3.1.3). Octets >= 0x80 are accepted
 *        (SMTPUTF8); control characters never are. A domain literal must
 *        follow RFC 5321 section 4.1.3 (IPv4, "IPv6:" address, or tag ":"
 *        content). Every accepted path's smtpd_addr_quote() form parses
 *        back to the same address.
 */
#include "smtpd.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <strings.h>

static bool smtpd_addr_atext(int c)
{
    if (c >= 0x80)
        return true;
    if (isalnum(c))
        return true;
    return c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool smtpd_addr_domain_char(int c)
{
    return c >= 0x80 || isalnum(c) || c == '-' || c == '.' || c == '_';
}

/* True when [p, end) is Snum "." Snum "." Snum "." Snum (RFC 5321 4.1.3). */
static bool smtpd_addr_ipv4_literal(const char *p, const char *end)
{
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (p == end || *p != '.')
                return false;
            p++;
        }
        int val = 0, digits = 0;
        while (p < end && *p >= '0' && *p <= '9' && digits < 4) {
            val = val * 10 + (*p - '0');
            digits++;
            p++;
        }
        if (digits == 0 || digits > 3 || val > 255)
            return false;
    }
    return p == end;
}

/*
 * True when [p, end), the text between '[' and ']', is an RFC 5321
 * address literal: an IPv4 address, "IPv6:" and an IPv6 address, or a
 * standardized tag (letters, digits, '-', not ending in '-'), ':' and one
 * or more dcontent characters (printable ASCII but '[', '\' and ']').
 * Postern also refuses '"', '<', '>' and '@' in the general form: the path
 * scanner and the internal form (last '@' starts the domain) give them a
 * meaning, and no registered literal uses them.
 */
static bool smtpd_addr_literal(const char *p, const char *end)
{
    if (p < end && *p >= '0' && *p <= '9')
        return smtpd_addr_ipv4_literal(p, end);
    const char *tag = p;
    while (p < end && (isalnum((unsigned char)*p) || *p == '-'))
        p++;
    if (p == tag || p == end || *p != ':' || p[-1] == '-')
        return false;
    size_t taglen = (size_t)(p - tag);
    p++;
    if (p == end)
        return false;
    if (taglen == 4 && strncasecmp(tag, "IPv6", 4) == 0) {
        char buf[64];
        struct in6_addr a6;
        if ((size_t)(end - p) >= sizeof(buf))
            return false;
        memcpy(buf, p, (size_t)(end - p));
        buf[end - p] = 0;
        return inet_pton(AF_INET6, buf, &a6) == 1;
    }
    for (; p < end; p++) {
        int c = (unsigned char)*p;
        if (c < 33 || c > 126 || c == '[' || c == '\\' || c == ']' || c == '"' || c == '<' ||
            c == '>' || c == '@')
            return false;
    }
    return true;
}

/* Validates and converts the text between the angle brackets. */
static int smtpd_addr_mailbox(const char *p, size_t len, struct sbuf *out)
{
    const char *end = p + len;

    sbuf_reset(out);
    /* Source route: @dom,@dom: */
    if (p < end && *p == '@') {
        while (p < end && *p == '@') {
            p++;
            const char *d = p;
            while (p < end && smtpd_addr_domain_char((unsigned char)*p))
                p++;
            if (p == d)
                return SMTPD_ADDR_BAD;
            if (p < end && *p == ',') {
                p++;
                if (p == end || *p != '@')
                    return SMTPD_ADDR_BAD;
                continue;
            }
            if (p < end && *p == ':') {
                p++;
                break;
            }
            return SMTPD_ADDR_BAD;
        }
        if (p == end)
            return SMTPD_ADDR_BAD;
    }
    if (p == end)
        return SMTPD_ADDR_OK;   /* the null path <> */

    /* Local part. */
    if (*p == '"') {
        p++;
        for (;;) {
            if (p == end)
                return SMTPD_ADDR_BAD;      /* unterminated quote */
            int c = (unsigned char)*p;
            if (c == '"') {
                p++;
                break;
            }
            if (c == '\\') {
                if (p + 1 == end)
                    return SMTPD_ADDR_BAD;
                p++;
                c = (unsigned char)*p;
            }
            if (c < 0x20 || c == 0x7f)
                return SMTPD_ADDR_BAD;
            sbuf_addch(out, c);
            p++;
        }
        if (p < end && *p != '@')
            return SMTPD_ADDR_BAD;
        /* In internal form the last '@' starts the domain, so a quoted
         * local part holding '@' needs a domain after it to stay one. */
        if (p == end && memchr(sbuf_str(out), '@', sbuf_len(out)) != NULL)
            return SMTPD_ADDR_BAD;
    } else {
        const char *lp = p;
        while (p < end && *p != '@') {
            int c = (unsigned char)*p;
            if (c != '.' && !smtpd_addr_atext(c))
                return SMTPD_ADDR_BAD;
            p++;
        }
        if (p == lp)
            return SMTPD_ADDR_BAD;          /* "@domain" without a local part */
        sbuf_append(out, lp, (size_t)(p - lp));
    }
    if (p == end)
        return SMTPD_ADDR_OK;               /* e.g. <postmaster> */

    /* '@' domain. An empty domain ("user@") is the resolver's to judge:
     * a syntax error unless resolve_null_domain = yes. */
    p++;
    if (p == end) {
        sbuf_addch(out, '@');
        return SMTPD_ADDR_OK;
    }
    const char *dom = p;
    if (*p == '[') {
        /* The literal runs to the closing ']', which must end the path. */
        if (end - dom < 2 || end[-1] != ']' || !smtpd_addr_literal(dom + 1, end - 1))
            return SMTPD_ADDR_BAD;
    } else {
        while (p < end) {
            if (!smtpd_addr_domain_char((unsigned char)*p))
                return SMTPD_ADDR_BAD;
            p++;
        }
    }
    sbuf_addch(out, '@');
    sbuf_append(out, dom, (size_t)(end - dom));
    return SMTPD_ADDR_OK;
}

int smtpd_addr_parse(const char *text, bool strict, struct sbuf *addr, const char **rest)
{
    const char *p = text;
    const char *start, *stop;

    sbuf_reset(addr);
    if (!strict)
        while (*p == ' ' || *p == '\t')
            p++;
    if (*p == 0)
        return SMTPD_ADDR_SYNTAX;
    if (*p == '<') {
        /* Find the closing bracket outside quotes. */
        const char *q = p + 1;
        bool quoted = false;
        for (; *q; q++) {
            if (quoted && *q == '\\' && q[1]) {
                q++;
                continue;
            }
            if (*q == '"')
                quoted = !quoted;
            else if (*q == '>' && !quoted)
                break;
        }
        if (*q != '>')
            return SMTPD_ADDR_BAD;
        start = p + 1;
        stop = q;
        p = q + 1;
        if (*p && *p != ' ' && *p != '\t')
            return SMTPD_ADDR_BAD;          /* junk glued to the path */
    } else {
        if (strict)
            return SMTPD_ADDR_BAD;
        start = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        stop = p;
    }
    if (stop - start + 2 > SMTPD_PATH_MAX)
        return SMTPD_ADDR_TOOLONG;
    int r = smtpd_addr_mailbox(start, (size_t)(stop - start), addr);
    if (r != SMTPD_ADDR_OK)
        return r;
    while (*p == ' ' || *p == '\t')
        p++;
    if (rest)
        *rest = p;
    return SMTPD_ADDR_OK;
}

/* True when the local part needs quoting in external form. */
static bool smtpd_addr_needs_quote(const char *lp, size_t len)
{
    if (len == 0)
        return true;
    if (lp[0] == '.' || lp[len - 1] == '.')
        return true;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)lp[i];
        if (c == '.') {
            if (i + 1 < len && lp[i + 1] == '.')
                return true;
            continue;
        }
        if (!smtpd_addr_atext(c))
            return true;
    }
    return false;
}

void smtpd_addr_quote(struct sbuf *out, const char *addr)
{
    sbuf_reset(out);
    if (*addr == 0)
        return;
    const char *at = strrchr(addr, '@');
    size_t lplen = at ? (size_t)(at - addr) : strlen(addr);
    if (!smtpd_addr_needs_quote(addr, lplen)) {
        sbuf_cat(out, addr);
        return;
    }
    sbuf_addch(out, '"');
    for (size_t i = 0; i < lplen; i++) {
        if (addr[i] == '"' || addr[i] == '\\')
            sbuf_addch(out, '\\');
        sbuf_addch(out, addr[i]);
    }
    sbuf_addch(out, '"');
    if (at)
        sbuf_cat(out, at);
}

static int smtpd_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

int smtpd_xtext_decode(struct sbuf *out, const char *in)
{
    sbuf_reset(out);
    for (const char *p = in; *p; p++) {
        int c = (unsigned char)*p;
        if (c == '+') {
            int h = smtpd_hexval((unsigned char)p[1]);
            int l = h < 0 ? -1 : smtpd_hexval((unsigned char)p[2]);
            if (h < 0 || l < 0)
                return -1;
            sbuf_addch(out, h * 16 + l);
            p += 2;
        } else if (c < '!' || c > '~' || c == '=') {
            return -1;
        } else
            sbuf_addch(out, c);
    }
    return 0;
}
