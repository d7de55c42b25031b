/*
 * smtp_dns.c - find the server addresses for a destination
 *
 * Used by: smtp.c.
 * Interface: smtp_dns_lookup(), smtp_addr_list_free(), smtp_addr_clear().
 * Errors: a destination with no usable address returns -1 with a DSN code
 *         and a Postfix-shaped reason: 5.4.4 when the name does not exist,
 *         4.4.3 when the lookup failed temporarily, 4.7.0 when
 *         *_dns_reply_filter dropped every record of an answer. When MX
 *         hosts exist but none has an address, 5.4.4 becomes 4.4.4 with
 *         *_defer_if_no_mx_address_found = yes.
 * Notes: MX records come from lib/mail/dns_lookup.c (so that the reply
 *        filter applies); equal preferences are shuffled, an MX that names
 *        $myhostname, or whose address is one of ours (inet_interfaces,
 *        proxy_interfaces), cuts the list there (mail would loop back), and a
 *        domain without MX records falls back to its own addresses. Host
 *        addresses come from getaddrinfo(), which also reads /etc/hosts;
 *        with a *_dns_reply_filter they come from DNS first (filtered), and
 *        getaddrinfo() only answers for names DNS does not know.
 *        XXX: Postfix's "dns" lookup skips /etc/hosts; we do not.
 *        LMTP, "[host]" and disable_dns_lookups skip the MX step.
 *        A port given by name becomes its number through known_tcp_ports
 *        first, then the services database.
 */
#include "smtp.h"
#include "alloc.h"
#include "known_ports.h"
#include "dns_lookup.h"
#include "log.h"
#include "resolve_local.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SMTP_MX_MAX 100

static bool smtp_is_literal(const char *host);

static unsigned smtp_dns_rand(unsigned n)
{
    return n ? (unsigned)(random() % n) : 0;
}

void smtp_addr_clear(struct smtp_addr *a)
{
    xfree(a->host);
    xfree(a->addr);
    xfree(a->port);
    xfree(a->dest);
    xfree(a->nexthop);
    if (a->tls_own) {
        smtp_tls_policy_free(a->tls_own);
        xfree(a->tls_own);
    }
    memset(a, 0, sizeof(*a));
}

void smtp_addr_list_free(struct smtp_addr *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++)
        smtp_addr_clear(&v[i]);
    xfree(v);
}

/* A service name ("smtp") as its port number ("25"), so that relay= and
 * error texts show the number as Postfix does: known_tcp_ports first, then
 * the services database. Names neither knows are kept: the connect step
 * then reports them. */
static const char *smtp_port_number(const struct smtp_cfg *cfg, const char *port, char *buf,
                                    size_t size)
{
    if (port == NULL || *port == 0 || strspn(port, "0123456789") == strlen(port))
        return port;
    int n = known_ports_number(cfg->known_ports, port);
    if (n < 0)
        return port;
    snprintf(buf, size, "%d", n);
    return buf;
}

static void smtp_addr_push(const struct smtp_cfg *cfg, struct smtp_addr **v, size_t *n,
                           const char *host, const char *addr, const char *port, int family,
                           int pref)
{
    char num[16];
    port = smtp_port_number(cfg, port, num, sizeof(num));
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*v)[i].addr, addr) == 0 && strcmp((*v)[i].port ? (*v)[i].port : "",
                                                      port ? port : "") == 0)
            return;     /* same server reached twice (two MX names, one address) */
    if (*n >= SMTP_ADDR_MAX)
        return;
    *v = xreallocarray(*v, *n + 1, sizeof(**v));
    struct smtp_addr *a = &(*v)[(*n)++];
    /* nexthop, dest and the TLS policy: the caller's (smtp.c) */
    *a = (struct smtp_addr){ .host = xstrdup(host), .addr = xstrdup(addr),
                             .port = port ? xstrdup(port) : NULL, .family = family,
                             .pref = pref };
}

/* Outcome of looking up one host's addresses. */
enum smtp_ha_result {
    SMTP_HA_OK,       /* at least one address added */
    SMTP_HA_NOTFOUND, /* the name has no (usable) address */
    SMTP_HA_TEMP,     /* the lookup failed; try later */
    SMTP_HA_POLICY,   /* *_dns_reply_filter dropped every address record */
};

static void smtp_host_shuffle(const struct smtp_cfg *cfg, struct smtp_addr *v, size_t first,
                              size_t n)
{
    if (!cfg->randomize_addresses)
        return;
    for (size_t i = n; i > first + 1; i--) {
        size_t j = first + smtp_dns_rand((unsigned)(i - first));
        struct smtp_addr t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

/* The A and AAAA records (as inet_protocols allows) of host from DNS,
 * through the reply filter. why gets the lookup's text on failure. */
static enum smtp_ha_result smtp_host_addrs_dns(const struct smtp_cfg *cfg, const char *host,
                                               const char *port, int pref, struct smtp_addr **v,
                                               size_t *n, struct sbuf *why)
{
    size_t first = *n;
    struct sbuf *tmp = sbuf_new(64);
    struct dns_rr *list = NULL;
    int r = dns_lookup_addrs(host, cfg->want_ipv4, cfg->want_ipv6, &list, tmp);
    for (struct dns_rr *rr = list; rr; rr = rr->next)
        smtp_addr_push(cfg, v, n, host, rr->data, port, rr->type == DNS_T_A ? AF_INET : AF_INET6,
                       pref);
    dns_rr_list_free(list);
    if (r == DNS_TEMPFAIL || r == DNS_POLICY)
        sbuf_set(why, sbuf_str(tmp));
    sbuf_free(tmp);
    if (*n > first) {
        smtp_host_shuffle(cfg, *v, first, *n);
        return SMTP_HA_OK;
    }
    return r == DNS_TEMPFAIL ? SMTP_HA_TEMP : r == DNS_POLICY ? SMTP_HA_POLICY : SMTP_HA_NOTFOUND;
}

/* Adds the addresses of one host. why gets a reason when the result is
 * SMTP_HA_POLICY or a filtered lookup failed. */
static enum smtp_ha_result smtp_host_addrs(const struct smtp_cfg *cfg, const char *host,
                                           const char *port, int pref, struct smtp_addr **v,
                                           size_t *n, struct sbuf *why)
{
    /* XXX: addresses normally come from getaddrinfo(), which no DNS reply
     * filter sees. With a filter, DNS is asked first so that the filter
     * applies to A and AAAA records as in Postfix; a name DNS does not know
     * still gets its getaddrinfo() (/etc/hosts) answer. */
    if (cfg->dns_reply_filter && cfg->dns_enabled && !smtp_is_literal(host)) {
        enum smtp_ha_result r = smtp_host_addrs_dns(cfg, host, port, pref, v, n, why);
        if (r != SMTP_HA_NOTFOUND)
            return r;
    }
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    hints.ai_family = cfg->want_ipv4 && !cfg->want_ipv6   ? AF_INET
                      : cfg->want_ipv6 && !cfg->want_ipv4 ? AF_INET6
                                                          : AF_UNSPEC;
    struct addrinfo *res = NULL;
    int err = getaddrinfo(host, NULL, &hints, &res);
    if (err != 0) {
        log_debug(1, "host %s: %s", host, gai_strerror(err));
        return err == EAI_NONAME || err == EAI_NODATA || err == EAI_FAIL ? SMTP_HA_NOTFOUND
                                                                         : SMTP_HA_TEMP;
    }
    char buf[INET6_ADDRSTRLEN];
    size_t first = *n;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        const void *src = ai->ai_family == AF_INET
                              ? (const void *)&((struct sockaddr_in *)ai->ai_addr)->sin_addr
                              : (const void *)&((struct sockaddr_in6 *)ai->ai_addr)->sin6_addr;
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            || inet_ntop(ai->ai_family, src, buf, sizeof(buf)) == NULL)
            continue;
        smtp_addr_push(cfg, v, n, host, buf, port, ai->ai_family, pref);
    }
    freeaddrinfo(res);
    if (*n == first)
        return SMTP_HA_NOTFOUND;
    smtp_host_shuffle(cfg, *v, first, *n);
    return SMTP_HA_OK;
}

enum smtp_mx_result { SMTP_MX_OK, SMTP_MX_NONE, SMTP_MX_NXDOMAIN, SMTP_MX_TEMP, SMTP_MX_POLICY };

/* Looks up the MX records of domain (lib/mail/dns_lookup.c, so that
 * *_dns_reply_filter applies); fills *mx (new) and *count. With dnssec
 * (smtp_dns_support_level = dnssec), *secure says whether the resolver
 * validated the answer (its AD bit). why gets the text of a filter result. */
static enum smtp_mx_result smtp_mx_query(const char *domain, struct smtp_mx **mx, size_t *count,
                                         bool dnssec, bool *secure, struct sbuf *why)
{
    *mx = NULL;
    *count = 0;
    struct dns_rr *list = NULL;
    unsigned info = 0;
    struct sbuf *tmp = sbuf_new(64);
    int r = dns_lookup_x(domain, DNS_T_MX, dnssec ? DNS_F_DNSSEC : 0, &list, tmp, &info);
    *secure = (info & DNS_R_SECURE) != 0;
    enum smtp_mx_result result;
    switch (r) {
    case DNS_OK:
        break;
    case DNS_NOTFOUND:
        result = (info & DNS_R_NXDOMAIN) ? SMTP_MX_NXDOMAIN : SMTP_MX_NONE;
        goto out;
    case DNS_INVAL:
        result = SMTP_MX_NXDOMAIN;
        goto out;
    case DNS_POLICY:
        sbuf_set(why, sbuf_str(tmp));
        result = SMTP_MX_POLICY;
        goto out;
    default:
        result = SMTP_MX_TEMP;
        goto out;
    }
    struct smtp_mx *v = xcalloc(SMTP_MX_MAX, sizeof(*v));
    size_t n = 0;
    for (struct dns_rr *rr = list; rr && n < SMTP_MX_MAX; rr = rr->next) {
        v[n].pref = rr->pref;
        v[n].host = xstrdup(rr->data);
        n++;
    }
    *mx = v;
    *count = n;
    result = SMTP_MX_OK;
out:
    dns_rr_list_free(list);
    sbuf_free(tmp);
    return result;
}

/* Postfix-shaped name service failure text. */
static void smtp_dns_reason(struct sbuf *why, struct sbuf *dsn, const char *name,
                            const char *type, bool temporary)
{
    sbuf_set(dsn, temporary ? "4.4.3" : "5.4.4");
    sbuf_printf(why, "Host or domain name not found. Name service error for name=%s type=%s: %s",
                name, type, temporary ? "Host not found, try again" : "Host not found");
}

/* A host lookup failure r as the request's reason: the filter's text with
 * 4.7.0 (Postfix's DNS_POLICY status), else the name service text. */
static void smtp_ha_reason(enum smtp_ha_result r, struct sbuf *ftext, struct sbuf *why,
                           struct sbuf *dsn, const char *name)
{
    if (r == SMTP_HA_POLICY) {
        sbuf_set(dsn, "4.7.0");
        sbuf_set(why, sbuf_str(ftext));
    } else
        smtp_dns_reason(why, dsn, name, "A", r == SMTP_HA_TEMP);
}

static bool smtp_is_literal(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

static int smtp_dns_lookup1(const struct smtp_cfg *cfg, const struct smtp_dest *d,
                            struct smtp_addr **v, size_t *n, struct sbuf *dsn, struct sbuf *why);
/* An MX host at one of this host's addresses (inet_interfaces,
 * proxy_interfaces), whatever its name, would send the mail back here:
 * like Postfix, drop it and every host of its preference or worse. a holds
 * the *n - base addresses found for one destination's MX hosts. */
static void smtp_mx_truncate_self_addr(struct smtp_addr *a, size_t *n, size_t base)
{
    size_t cnt = *n - base, kept = 0;
    int self_pref = -1;
    for (size_t k = 0; k < cnt; k++)
        if (a[k].family != AF_UNIX && resolve_local_address(a[k].addr)
            && (self_pref < 0 || a[k].pref < self_pref))
            self_pref = a[k].pref;
    if (self_pref < 0)
        return;
    for (size_t k = 0; k < cnt; k++) {
        if (a[k].pref < self_pref) {
            a[kept++] = a[k];
            continue;
        }
        log_debug(1, "MX host %s[%s] is this host or no better: skipped", a[k].host, a[k].addr);
        smtp_addr_clear(&a[k]);
    }
    *n = base + kept;
}

/* smtp_balance_inet_protocols: when the cnt addresses in a (in the order
 * they will be tried) hold both IPv4 and IPv6 and more than limit of
 * them, keep at most limit so that both families stay, by Postfix's
 * rule: a family with at most limit/2 addresses keeps them all and the
 * other fills up; otherwise they share limit, an odd one going to the
 * family of the first address. Order is kept. Returns the new count. */
static size_t smtp_addr_balance(struct smtp_addr *a, size_t cnt, size_t limit)
{
    size_t v4 = 0, v6 = 0;
    for (size_t k = 0; k < cnt; k++) {
        if (a[k].family == AF_INET)
            v4++;
        else if (a[k].family == AF_INET6)
            v6++;
    }
    if (v4 == 0 || v6 == 0 || v4 + v6 <= limit)
        return cnt;
    size_t want4, want6;
    if (v6 <= limit / 2) {
        want6 = v6;
        want4 = limit - v6;
    } else if (v4 <= limit / 2) {
        want4 = v4;
        want6 = limit - v4;
    } else {
        want4 = (limit + (a[0].family == AF_INET)) / 2;
        want6 = limit - want4;
    }
    size_t kept = 0;
    for (size_t k = 0; k < cnt; k++) {
        size_t *want = a[k].family == AF_INET ? &want4 : a[k].family == AF_INET6 ? &want6 : NULL;
        if (want == NULL || *want > 0) {
            if (want)
                (*want)--;
            a[kept++] = a[k];
        } else
            smtp_addr_clear(&a[k]);
    }
    return kept;
}


int smtp_dns_lookup(const struct smtp_cfg *cfg, const struct smtp_dest *d, struct smtp_addr **v,
                    size_t *n, struct sbuf *dsn, struct sbuf *why)
{
    size_t before = *n;
    int r = smtp_dns_lookup1(cfg, d, v, n, dsn, why);
    if (r == 0) {
        smtp_addr_prefer(*v + before, *n - before, cfg->prefer_family);
        if (cfg->balance_inet && cfg->mx_address_limit > 0)
            *n = before + smtp_addr_balance(*v + before, *n - before,
                                            (size_t)cfg->mx_address_limit);
    }
    return r;
}

/* The destination's own addresses (no MX step, or a domain without MX
 * records): 0, or -1 with why and dsn set. */
static int smtp_dns_host_only(const struct smtp_cfg *cfg, const struct smtp_dest *d,
                              struct smtp_addr **v, size_t *n, struct sbuf *dsn, struct sbuf *why,
                              struct sbuf *ftext)
{
    enum smtp_ha_result hr = smtp_host_addrs(cfg, d->host, d->port, 0, v, n, ftext);
    if (hr == SMTP_HA_OK)
        return 0;
    smtp_ha_reason(hr, ftext, why, dsn, d->host);
    return -1;
}

static int smtp_dns_lookup1(const struct smtp_cfg *cfg, const struct smtp_dest *d,
                            struct smtp_addr **v, size_t *n, struct sbuf *dsn, struct sbuf *why)
{
    if (d->kind == SMTP_DEST_UNIX) {
        smtp_addr_push(cfg, v, n, cfg->myhostname, d->host, NULL, AF_UNIX, 0);
        return 0;
    }
    struct sbuf *ftext = sbuf_new(64);
    int result = 0;
    if (d->no_mx || !cfg->dns_enabled || smtp_is_literal(d->host)) {
        result = smtp_dns_host_only(cfg, d, v, n, dsn, why, ftext);
        sbuf_free(ftext);
        return result;
    }
    struct smtp_mx *mx;
    size_t nmx;
    bool mx_secure = false;
    switch (smtp_mx_query(d->host, &mx, &nmx, cfg->dnssec, &mx_secure, ftext)) {
    case SMTP_MX_NXDOMAIN:
        smtp_dns_reason(why, dsn, d->host, "MX", false);
        sbuf_free(ftext);
        return -1;
    case SMTP_MX_TEMP:
        if (cfg->ignore_mx_error) {
            /* ignore_mx_lookup_error = yes: no answer to the MX query is
             * taken as "no MX records" (RFC 5321 wants a retry instead). */
            log_debug(1, "%s: MX lookup error ignored; looking up its address", d->host);
            result = smtp_dns_host_only(cfg, d, v, n, dsn, why, ftext);
            sbuf_free(ftext);
            return result;
        }
        smtp_dns_reason(why, dsn, d->host, "MX", true);
        sbuf_free(ftext);
        return -1;
    case SMTP_MX_POLICY:
        /* MX records exist, the filter dropped them all: defer, as
         * Postfix does, rather than fall back to the domain's address. */
        sbuf_set(dsn, "4.7.0");
        sbuf_set(why, sbuf_str(ftext));
        sbuf_free(ftext);
        return -1;
    case SMTP_MX_NONE:
        result = smtp_dns_host_only(cfg, d, v, n, dsn, why, ftext);
        sbuf_free(ftext);
        return result;
    case SMTP_MX_OK:
        break;
    }
    smtp_mx_sort(mx, nmx, cfg->randomize_addresses ? smtp_dns_rand : NULL);
    size_t kept = smtp_mx_truncate_self(mx, nmx, cfg->myhostname);
    if (kept == 0) {
        xfree(mx); /* smtp_mx_truncate_self() freed the names */
        sbuf_free(ftext);
        sbuf_set(dsn, "5.4.6");
        sbuf_printf(why, "mail for %s loops back to myself", d->host);
        return -1;
    }
    size_t before = *n;
    enum smtp_ha_result worst = SMTP_HA_NOTFOUND;
    const char *failed = NULL;
    for (size_t i = 0; i < kept; i++) {
        enum smtp_ha_result hr = smtp_host_addrs(cfg, mx[i].host, d->port, mx[i].pref, v, n, ftext);
        if (hr == SMTP_HA_OK)
            continue;
        log_debug(1, "%s: MX host %s: no address", d->host, mx[i].host);
        /* A failed lookup says more than a missing name, and a filter
         * that removed addresses more than either. */
        if (hr == SMTP_HA_POLICY || (hr == SMTP_HA_TEMP && worst == SMTP_HA_NOTFOUND))
            worst = hr;
        if (failed == NULL)
            failed = mx[i].host;
    }
    for (size_t k = before; k < *n; k++) {
        (*v)[k].via_mx = true;
        (*v)[k].mx_secure = mx_secure;
    }
    bool had_addrs = *n > before;
    smtp_mx_truncate_self_addr(*v + before, n, before);
    if (had_addrs && *n == before) {
        sbuf_set(dsn, "5.4.6");
        sbuf_printf(why, "mail for %s loops back to myself", d->host);
        result = -1;
    } else if (*n == before) {
        log_warn("no MX host for %s has a valid address record", d->host);
        smtp_ha_reason(worst, ftext, why, dsn, failed ? failed : d->host);
        /* *_defer_if_no_mx_address_found: the MX records name hosts
         * without addresses; wait for someone to fix that rather than
         * return the mail. The text stays; the status becomes 4.X.X. */
        if (cfg->defer_no_mx_address && sbuf_str(dsn)[0] == '5')
            sbuf_data(dsn)[0] = '4';
        result = -1;
    }
    for (size_t i = 0; i < kept; i++)
        xfree(mx[i].host);
    xfree(mx);
    sbuf_free(ftext);
    return result;
}
