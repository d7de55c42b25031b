/*
 * dns_lookup.c - small resolver wrapper with bounded waiting
 *
 * Used by: smtpd (DNS lists, the reject_unknown_* restrictions, MX/NS/A
 *          access checks), smtp (MX and DANE lookups), dnsblog.
 * Interface: dns_lookup(), dns_lookup_sec(), dns_lookup_x(), dns_rr_list_free(),
 *            dns_host_exists(), dns_ptr_name(), dns_reverse_addr(), dns_parse_reply(),
 *            dns_reply_filter_set(), dns_rr_text(), dns_rr_filter(), dns_type_name().
 * Errors: DNS_TEMPFAIL for anything that is not a clear answer; see
 *         dns_lookup.h.
 * Notes: a private resolver state per call (res_ninit/res_nclose) keeps
 *        the wait bounds our own: 2 seconds per try, 2 tries, at most
 *        two name servers consulted. Names are looked up as given
 *        (no search list, no default domain).
 *        The reply filter is the one piece of per-process state here: a
 *        borrowed pointer to the table the daemon opened in pre_jail
 *        (smtpd_dns_reply_filter, smtp/lmtp_dns_reply_filter), so that every
 *        lookup of that process is filtered in this one place.
 */
#include "dns_lookup.h"
#include "alloc.h"
#include "log.h"
#include "maps.h"
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#define DNS_NAME_MAX 253
#define DNS_ANSWER_MAX 65535

static struct maps *dns_filter; /* *_dns_reply_filter, borrowed; NULL: none */

void dns_reply_filter_set(struct maps *filter)
{
    dns_filter = filter;
}

const char *dns_type_name(int type)
{
    switch (type) {
    case DNS_T_A:
        return "A";
    case DNS_T_NS:
        return "NS";
    case DNS_T_CNAME:
        return "CNAME";
    case DNS_T_PTR:
        return "PTR";
    case DNS_T_MX:
        return "MX";
    case DNS_T_TXT:
        return "TXT";
    case DNS_T_AAAA:
        return "AAAA";
    case DNS_T_TLSA:
        return "TLSA";
    default:
        return "?";
    }
}

void dns_rr_text(struct sbuf *out, const struct dns_rr *rr)
{
    /* The root name is "" here and "." in the text, like any name. */
    sbuf_printf(out, "%s. %u IN %s ", rr->name ? rr->name : "", rr->ttl, dns_type_name(rr->type));
    switch (rr->type) {
    case DNS_T_MX:
        sbuf_catf(out, "%d %s.", rr->pref, rr->data);
        break;
    case DNS_T_NS:
    case DNS_T_CNAME:
    case DNS_T_PTR:
        sbuf_catf(out, "%s.", rr->data);
        break;
    case DNS_T_TLSA:
        sbuf_catf(out, "%u %u %u ", rr->usage, rr->selector, rr->mtype);
        for (size_t i = 0; i < rr->binlen; i++)
            sbuf_catf(out, "%02x", rr->bin[i]);
        break;
    default: /* A, AAAA: the address; TXT: the text */
        sbuf_cat(out, rr->data);
        break;
    }
}

int dns_rr_filter(struct maps *filter, struct dns_rr **list)
{
    struct sbuf *text = sbuf_new(128);
    int status = 0;
    struct dns_rr **pp = list;
    while (*pp) {
        struct dns_rr *rr = *pp;
        dns_rr_text(text, rr);
        const char *action = maps_find(filter, sbuf_str(text), 0);
        if (action == NULL) {
            if (maps_error(filter) != DICT_ERR_NONE) {
                log_warn("%s: table lookup error for DNS record: %s", maps_title(filter),
                         sbuf_str(text));
                status = -1;
                break;
            }
            pp = &rr->next;
            continue;
        }
        /* The action is the first word; what follows it is not used. */
        size_t len = strcspn(action, " \t");
        if (len == 6 && strncasecmp(action, "IGNORE", 6) == 0) {
            log_info("ignoring DNS RR: %s", sbuf_str(text));
            *pp = rr->next;
            rr->next = NULL;
            dns_rr_list_free(rr);
            continue;
        }
        /* As Postfix: an action we do not know fails the lookup rather
         * than pass records the administrator meant to treat somehow. */
        log_warn("%s: unknown DNS filter action: \"%s\"", maps_title(filter), action);
        status = -1;
        break;
    }
    sbuf_free(text);
    return status;
}

static bool dns_name_ok(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > DNS_NAME_MAX)
        return false;
    size_t label = 0;
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (c <= ' ' || c >= 0x7f || ++label > 63)
            return false;
    }
    return true;
}

/* Reads a (possibly compressed) name at *off into out ("" for the root);
 * advances *off past it. -1 on a malformed message. */
static int dns_get_name(const unsigned char *msg, size_t len, size_t *off, struct sbuf *out)
{
    size_t p = *off;
    int jumps = 0;
    bool jumped = false;
    sbuf_reset(out);
    for (;;) {
        if (p >= len)
            return -1;
        unsigned c = msg[p];
        if (c == 0) {
            if (!jumped)
                *off = p + 1;
            return 0;
        }
        if ((c & 0xc0) == 0xc0) {
            if (p + 1 >= len || ++jumps > 32)
                return -1;
            size_t target = ((c & 0x3f) << 8) | msg[p + 1];
            if (!jumped)
                *off = p + 2;
            jumped = true;
            p = target;
            continue;
        }
        if (c & 0xc0 || p + 1 + c > len)
            return -1;
        if (sbuf_len(out))
            sbuf_addch(out, '.');
        sbuf_append(out, (const char *)msg + p + 1, c);
        if (sbuf_len(out) > 1024)
            return -1;
        p += 1 + c;
    }
}

static unsigned dns_get16(const unsigned char *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

int dns_parse_reply(const unsigned char *msg, size_t len, int type, struct dns_rr **out)
{
    struct sbuf *name = sbuf_new(64);
    struct dns_rr *head = NULL, **tail = &head;
    int status = DNS_TEMPFAIL;
    if (len < 12)
        goto done;
    unsigned qd = dns_get16(msg + 4), an = dns_get16(msg + 6);
    size_t off = 12;
    for (unsigned i = 0; i < qd; i++) {
        if (dns_get_name(msg, len, &off, name) < 0 || off + 4 > len)
            goto done;
        off += 4;
    }
    for (unsigned i = 0; i < an; i++) {
        if (dns_get_name(msg, len, &off, name) < 0 || off + 10 > len)
            goto done;
        int rtype = (int)dns_get16(msg + off);
        unsigned ttl = (unsigned)msg[off + 4] << 24 | (unsigned)msg[off + 5] << 16
                       | (unsigned)msg[off + 6] << 8 | msg[off + 7];
        size_t rdlen = dns_get16(msg + off + 8);
        off += 10;
        if (off + rdlen > len)
            goto done;
        size_t rd = off;
        off += rdlen;
        if (rtype != type)
            continue;       /* CNAME links and the like */
        struct sbuf *data = sbuf_new(64);
        int pref = 0;
        bool ok = true;
        char abuf[INET6_ADDRSTRLEN];
        size_t p = rd;
        switch (type) {
        case DNS_T_A:
        case DNS_T_AAAA:
            if (rdlen != (type == DNS_T_A ? 4u : 16u)
                || !inet_ntop(type == DNS_T_A ? AF_INET : AF_INET6, msg + rd, abuf, sizeof(abuf)))
                ok = false;
            else
                sbuf_set(data, abuf);
            break;
        case DNS_T_MX:
            if (rdlen < 3)
                ok = false;
            else {
                pref = (int)dns_get16(msg + rd);
                p = rd + 2;
                ok = dns_get_name(msg, len, &p, data) == 0;
            }
            break;
        case DNS_T_NS:
        case DNS_T_CNAME:
        case DNS_T_PTR:
            ok = dns_get_name(msg, len, &p, data) == 0;
            break;
        case DNS_T_TLSA:
            /* usage, selector, matching type, then at least one byte */
            if (rdlen < 4)
                ok = false;
            break;
        case DNS_T_TXT:
            /* Character strings are concatenated, as DNS list texts expect. */
            while (p < rd + rdlen) {
                size_t n = msg[p];
                if (p + 1 + n > rd + rdlen) {
                    ok = false;
                    break;
                }
                sbuf_append(data, (const char *)msg + p + 1, n);
                p += 1 + n;
            }
            break;
        default:
            ok = false;
        }
        if (ok) {
            struct dns_rr *rr = xcalloc(1, sizeof(*rr));
            rr->name = xstrdup(sbuf_str(name));
            rr->type = type;
            rr->ttl = ttl;
            rr->pref = pref;
            rr->data = sbuf_detach(data);
            if (type == DNS_T_TLSA) {
                rr->usage = msg[rd];
                rr->selector = msg[rd + 1];
                rr->mtype = msg[rd + 2];
                rr->binlen = rdlen - 3;
                rr->bin = xmalloc(rr->binlen);
                memcpy(rr->bin, msg + rd + 3, rr->binlen);
            }
            *tail = rr;
            tail = &rr->next;
        } else
            sbuf_free(data);
    }
    status = head ? DNS_OK : DNS_NOTFOUND;
done:
    sbuf_free(name);
    if (status != DNS_OK) {
        dns_rr_list_free(head);
        head = NULL;
    }
    *out = head;
    return status;
}

static int dns_query(const char *name, int type, struct dns_rr **out, struct sbuf *why,
                     bool *secure, bool *nxdomain);

int dns_lookup(const char *name, int type, struct dns_rr **out, struct sbuf *why)
{
    return dns_query(name, type, out, why, NULL, NULL);
}

/* How strongly a failed lookup's status decides dns_lookup_addrs(). */
static int dns_addrs_rank(int status)
{
    return status == DNS_TEMPFAIL ? 3 : status == DNS_POLICY ? 2 : 1;
}

int dns_lookup_addrs(const char *name, bool want4, bool want6, struct dns_rr **out,
                     struct sbuf *why)
{
    const int types[2] = { DNS_T_A, DNS_T_AAAA };
    const bool want[2] = { want4, want6 };
    struct dns_rr *head = NULL, **tail = &head;
    struct sbuf *tmp = sbuf_new(64);
    int failed = DNS_NOTFOUND, rank = 0;
    for (int i = 0; i < 2; i++) {
        if (!want[i])
            continue;
        struct dns_rr *list = NULL;
        int r = dns_lookup(name, types[i], &list, tmp);
        if (r == DNS_OK) {
            *tail = list;
            while (*tail)
                tail = &(*tail)->next;
        } else if (dns_addrs_rank(r) >= rank) {
            failed = r;
            rank = dns_addrs_rank(r);
            if (why)
                sbuf_set(why, sbuf_str(tmp));
        }
    }
    sbuf_free(tmp);
    if (out)
        *out = head;
    else
        dns_rr_list_free(head);
    return head ? DNS_OK : failed;
}

int dns_lookup_sec(const char *name, int type, struct dns_rr **out, struct sbuf *why,
                   bool *secure)
{
    *secure = false;
    return dns_query(name, type, out, why, secure, NULL);
}

int dns_lookup_x(const char *name, int type, unsigned flags, struct dns_rr **out, struct sbuf *why,
                 unsigned *result)
{
    bool secure = false, nxdomain = false;
    int r = dns_query(name, type, out, why, (flags & DNS_F_DNSSEC) ? &secure : NULL, &nxdomain);
    if (result)
        *result = (secure ? DNS_R_SECURE : 0) | (nxdomain ? DNS_R_NXDOMAIN : 0);
    return r;
}

/* The AD bit of a reply header (RFC 4035 section 3.2.3). */
#define DNS_HDR_AD(msg) (((msg)[3] & 0x20) != 0)

static int dns_query(const char *name, int type, struct dns_rr **out, struct sbuf *why,
                     bool *secure, bool *nxdomain)
{
    struct dns_rr *dummy = NULL;
    struct dns_rr **res = out ? out : &dummy;
    *res = NULL;
    if (!dns_name_ok(name)) {
        if (why)
            sbuf_printf(why, "malformed domain name");
        return DNS_INVAL;
    }
    struct __res_state rs;
    memset(&rs, 0, sizeof(rs));
    if (res_ninit(&rs) != 0) {
        if (why)
            sbuf_set(why, "resolver initialization failed");
        return DNS_TEMPFAIL;
    }
    rs.retrans = 2;
    rs.retry = 1;
    if (rs.nscount > 2)
        rs.nscount = 2;         /* bounds the worst-case wait */
    rs.options &= ~(unsigned long)(RES_DNSRCH | RES_DEFNAMES);
    if (secure) {
        /* EDNS0 with the DO bit; RES_TRUSTAD: glibc 2.31 and later strip
         * the AD bit unless resolv.conf says "options trust-ad" or the
         * caller asks. Postfix asks, and so do we: the resolver named in
         * resolv.conf is trusted to validate (a local one, for DANE). */
        rs.options |= RES_USE_EDNS0 | RES_USE_DNSSEC;
#ifdef RES_TRUSTAD
        rs.options |= RES_TRUSTAD;
#endif
    }
    unsigned char *ans = xmalloc(DNS_ANSWER_MAX);
    memset(ans, 0, 12);
    int n = res_nquery(&rs, name, C_IN, type, ans, DNS_ANSWER_MAX);
    int herr = rs.res_h_errno;
    res_nclose(&rs);
    int status;
    if (n < 0) {
        status = (herr == HOST_NOT_FOUND || herr == NO_DATA) ? DNS_NOTFOUND : DNS_TEMPFAIL;
        if (nxdomain)
            *nxdomain = herr == HOST_NOT_FOUND;
        /* glibc leaves the reply it got in ans for NXDOMAIN and NODATA:
         * its AD bit tells whether the denial was validated. */
        if (secure && status == DNS_NOTFOUND && (ans[2] & 0x80) != 0)
            *secure = DNS_HDR_AD(ans);
        if (why)
            sbuf_set(why, herr == HOST_NOT_FOUND ? "Host not found"
                          : herr == NO_DATA      ? "No address associated with name"
                          : herr == TRY_AGAIN    ? "Host not found, try again"
                                                 : "Non-recoverable error");
    } else {
        size_t len = (size_t)n > DNS_ANSWER_MAX ? DNS_ANSWER_MAX : (size_t)n;
        status = dns_parse_reply(ans, len, type, res);
        if (secure && status != DNS_TEMPFAIL && len >= 12)
            *secure = DNS_HDR_AD(ans);
        if (why)
            sbuf_set(why, status == DNS_OK         ? "ok"
                          : status == DNS_NOTFOUND ? "No data of the requested type"
                                                   : "malformed DNS reply");
    }
    xfree(ans);
    /* Only records that exist can be filtered: a negative answer or a
     * failure is the caller's as it is. */
    if (status == DNS_OK && dns_filter && type != DNS_T_PTR) {
        if (dns_rr_filter(dns_filter, res) < 0) {
            dns_rr_list_free(*res);
            *res = NULL;
            status = DNS_TEMPFAIL;
            if (why)
                sbuf_printf(why,
                            "Error looking up name=%s type=%s: Invalid DNS reply filter syntax",
                            name, dns_type_name(type));
        } else if (*res == NULL) {
            status = DNS_POLICY;
            if (why)
                sbuf_printf(why,
                            "Error looking up name=%s type=%s: DNS reply filter drops all results",
                            name, dns_type_name(type));
        }
    }
    log_debug(2, "dns_lookup %s type %d: %d", name, type, status);
    if (res == &dummy)
        dns_rr_list_free(dummy);
    return status;
}

void dns_rr_list_free(struct dns_rr *rr)
{
    while (rr) {
        struct dns_rr *next = rr->next;
        xfree(rr->name);
        xfree(rr->data);
        xfree(rr->bin);
        xfree(rr);
        rr = next;
    }
}

int dns_host_exists(const char *name, bool mx)
{
    bool tmp = false, policy = false;
    int order[3] = { DNS_T_MX, DNS_T_A, DNS_T_AAAA };
    for (int i = mx ? 0 : 1; i < 3; i++) {
        int r = dns_lookup(name, order[i], NULL, NULL);
        if (r == DNS_OK)
            return DNS_OK;
        if (r == DNS_INVAL)
            return DNS_NOTFOUND;
        /* MX records exist but the filter dropped them all: as Postfix,
         * stop here rather than judge the domain by its addresses. */
        if (r == DNS_POLICY && order[i] == DNS_T_MX)
            return DNS_POLICY;
        if (r == DNS_TEMPFAIL)
            tmp = true;
        if (r == DNS_POLICY)
            policy = true;
    }
    return tmp ? DNS_TEMPFAIL : policy ? DNS_POLICY : DNS_NOTFOUND;
}

int dns_reverse_addr(const char *addr, struct sbuf *out)
{
    unsigned char b[16];
    sbuf_reset(out);
    if (inet_pton(AF_INET, addr, b) == 1) {
        sbuf_printf(out, "%u.%u.%u.%u", b[3], b[2], b[1], b[0]);
        return 0;
    }
    if (inet_pton(AF_INET6, addr, b) == 1) {
        static const char hex[] = "0123456789abcdef";
        for (int i = 15; i >= 0; i--) {
            sbuf_addch(out, hex[b[i] & 0xf]);
            sbuf_addch(out, '.');
            sbuf_addch(out, hex[b[i] >> 4]);
            if (i)
                sbuf_addch(out, '.');
        }
        return 0;
    }
    return -1;
}

int dns_ptr_name(const char *addr, struct sbuf *out)
{
    struct sbuf *q = sbuf_new(80);
    if (dns_reverse_addr(addr, q) < 0) {
        sbuf_free(q);
        return DNS_INVAL;
    }
    bool v6 = strchr(addr, ':') != NULL;
    sbuf_cat(q, v6 ? ".ip6.arpa" : ".in-addr.arpa");
    struct dns_rr *rr = NULL;
    int r = dns_lookup(sbuf_str(q), DNS_T_PTR, &rr, NULL);
    if (r == DNS_OK)
        sbuf_set(out, rr->data);
    dns_rr_list_free(rr);
    sbuf_free(q);
    return r;
}
