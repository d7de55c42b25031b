/*
 * smtp_dns.c - find the server addresses for a destination
 *
 * Used by: smtp.c.
 * Interface: smtp_dns_lookup(), smtp_addr_list_free().
 * Errors: a destination with no usable address returns -1 with a DSN code
 *         and a Postfix-shaped reason: 5.4.4 when the name does not exist,
 *         4.4.3 when the lookup failed temporarily.
 * Notes: MX records come from the system resolver (res_query + ns_parse,
 *        libresolv); equal preferences are shuffled, an MX that names
 *        $myhostname, or whose address is one of ours (inet_interfaces,
 *        proxy_interfaces), cuts the list there (mail would loop back), and a
 *        domain without MX records falls back to its own addresses. Host
 *        addresses come from getaddrinfo(), which also reads /etc/hosts.
 *        XXX: Postfix's "dns" lookup skips /etc/hosts; we do not.
 *        LMTP, "[host]" and disable_dns_lookups skip the MX step.
 *        A port given by name becomes its number through known_tcp_ports
 *        first, then the services database.
 */
#include "smtp.h"
#include "alloc.h"
#include "known_ports.h"
#include "log.h"
#include "resolve_local.h"
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <sys/socket.h>
#include <sys/un.h>

#define SMTP_DNS_ANSWER_MAX 65536
#define SMTP_MX_MAX 100

static unsigned smtp_dns_rand(unsigned n)
{
    return n ? (unsigned)(random() % n) : 0;
}

void smtp_addr_list_free(struct smtp_addr *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        xfree(v[i].host);
        xfree(v[i].addr);
        xfree(v[i].port);
        xfree(v[i].dest);
        xfree(v[i].nexthop);
    }
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
    a->host = xstrdup(host);
    a->addr = xstrdup(addr);
    a->port = port ? xstrdup(port) : NULL;
    a->family = family;
    a->pref = pref;
    a->nexthop = NULL;  /* the caller names the destination (smtp.c) */
    a->via_mx = a->mx_secure = false;
    a->dest = NULL;
}

/* Adds the addresses of one host. Returns 0, or an EAI_* code. */
static int smtp_host_addrs(const struct smtp_cfg *cfg, const char *host, const char *port,
                           int pref, struct smtp_addr **v, size_t *n)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM };
    hints.ai_family = cfg->want_ipv4 && !cfg->want_ipv6   ? AF_INET
                      : cfg->want_ipv6 && !cfg->want_ipv4 ? AF_INET6
                                                          : AF_UNSPEC;
    struct addrinfo *res = NULL;
    int err = getaddrinfo(host, NULL, &hints, &res);
    if (err != 0)
        return err;
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
        return EAI_NONAME;
    if (cfg->randomize_addresses) {
        for (size_t i = *n; i > first + 1; i--) {
            size_t j = first + smtp_dns_rand((unsigned)(i - first));
            struct smtp_addr t = (*v)[i - 1];
            (*v)[i - 1] = (*v)[j];
            (*v)[j] = t;
        }
    }
    return 0;
}

enum smtp_mx_result { SMTP_MX_OK, SMTP_MX_NONE, SMTP_MX_NXDOMAIN, SMTP_MX_TEMP };

/* Looks up the MX records of domain; fills *mx (new) and *count. */
/* With dnssec (smtp_dns_support_level = dnssec), *secure says whether the
 * resolver validated the answer (its AD bit; see dns_lookup_sec). */
static enum smtp_mx_result smtp_mx_query(const char *domain, struct smtp_mx **mx, size_t *count,
                                         bool dnssec, bool *secure)
{
    unsigned char *answer = xmalloc(SMTP_DNS_ANSWER_MAX);
    enum smtp_mx_result result = SMTP_MX_TEMP;
    *mx = NULL;
    *count = 0;
    *secure = false;
    if (dnssec && !(_res.options & RES_INIT))
        res_init();
    unsigned long saved = _res.options;
    if (dnssec) {
        _res.options |= RES_USE_EDNS0 | RES_USE_DNSSEC;
#ifdef RES_TRUSTAD
        _res.options |= RES_TRUSTAD;
#endif
    }
    int len = res_query(domain, C_IN, T_MX, answer, SMTP_DNS_ANSWER_MAX);
    _res.options = saved;
    if (dnssec && len >= 12)
        *secure = (answer[3] & 0x20) != 0;
    if (len < 0) {
        result = h_errno == HOST_NOT_FOUND ? SMTP_MX_NXDOMAIN
                 : h_errno == NO_DATA      ? SMTP_MX_NONE
                                           : SMTP_MX_TEMP;
        goto out;
    }
    if (len > SMTP_DNS_ANSWER_MAX)
        len = SMTP_DNS_ANSWER_MAX;      /* truncated answer: use what fits */
    ns_msg msg;
    if (ns_initparse(answer, len, &msg) < 0)
        goto out;
    int nans = ns_msg_count(msg, ns_s_an);
    struct smtp_mx *v = xcalloc(SMTP_MX_MAX, sizeof(*v));
    size_t n = 0;
    for (int i = 0; i < nans && n < SMTP_MX_MAX; i++) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) < 0)
            break;
        if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in || ns_rr_rdlen(rr) < 3)
            continue;
        const unsigned char *rd = ns_rr_rdata(rr);
        char name[NS_MAXDNAME];
        if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), rd + 2, name, sizeof(name)) < 0)
            continue;
        v[n].pref = (rd[0] << 8) | rd[1];
        v[n].host = xstrdup(name);
        n++;
    }
    if (n == 0) {
        xfree(v);
        result = SMTP_MX_NONE;
        goto out;
    }
    *mx = v;
    *count = n;
    result = SMTP_MX_OK;
out:
    xfree(answer);
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
        xfree(a[k].host);
        xfree(a[k].addr);
        xfree(a[k].port);
        xfree(a[k].dest);
        xfree(a[k].nexthop);
    }
    *n = base + kept;
}


int smtp_dns_lookup(const struct smtp_cfg *cfg, const struct smtp_dest *d, struct smtp_addr **v,
                    size_t *n, struct sbuf *dsn, struct sbuf *why)
{
    size_t before = *n;
    int r = smtp_dns_lookup1(cfg, d, v, n, dsn, why);
    if (r == 0)
        smtp_addr_prefer(*v + before, *n - before, cfg->prefer_family);
    return r;
}

static int smtp_dns_lookup1(const struct smtp_cfg *cfg, const struct smtp_dest *d,
                            struct smtp_addr **v, size_t *n, struct sbuf *dsn, struct sbuf *why)
{
    if (d->kind == SMTP_DEST_UNIX) {
        smtp_addr_push(cfg, v, n, cfg->myhostname, d->host, NULL, AF_UNIX, 0);
        return 0;
    }
    if (d->no_mx || !cfg->dns_enabled || smtp_is_literal(d->host)) {
        int err = smtp_host_addrs(cfg, d->host, d->port, 0, v, n);
        if (err != 0) {
            smtp_dns_reason(why, dsn, d->host, "A",
                            err != EAI_NONAME && err != EAI_NODATA && err != EAI_FAIL);
            return -1;
        }
        return 0;
    }
    struct smtp_mx *mx;
    size_t nmx;
    bool mx_secure = false;
    switch (smtp_mx_query(d->host, &mx, &nmx, cfg->dnssec, &mx_secure)) {
    case SMTP_MX_NXDOMAIN:
        smtp_dns_reason(why, dsn, d->host, "MX", false);
        return -1;
    case SMTP_MX_TEMP:
        smtp_dns_reason(why, dsn, d->host, "MX", true);
        return -1;
    case SMTP_MX_NONE: {
        int err = smtp_host_addrs(cfg, d->host, d->port, 0, v, n);
        if (err != 0) {
            smtp_dns_reason(why, dsn, d->host, "A",
                            err != EAI_NONAME && err != EAI_NODATA && err != EAI_FAIL);
            return -1;
        }
        return 0;
    }
    case SMTP_MX_OK:
        break;
    }
    smtp_mx_sort(mx, nmx, cfg->randomize_addresses ? smtp_dns_rand : NULL);
    size_t kept = smtp_mx_truncate_self(mx, nmx, cfg->myhostname);
    if (kept == 0) {
        xfree(mx);
        sbuf_set(dsn, "5.4.6");
        sbuf_printf(why, "mail for %s loops back to myself", d->host);
        return -1;
    }
    size_t before = *n;
    bool temporary = false;
    const char *failed = NULL;
    for (size_t i = 0; i < kept; i++) {
        int err = smtp_host_addrs(cfg, mx[i].host, d->port, mx[i].pref, v, n);
        if (err != 0) {
            log_debug(1, "%s: MX host %s: %s", d->host, mx[i].host, gai_strerror(err));
            if (err != EAI_NONAME && err != EAI_NODATA && err != EAI_FAIL)
                temporary = true;
            if (failed == NULL)
                failed = mx[i].host;
        }
    }
    for (size_t k = before; k < *n; k++) {
        (*v)[k].via_mx = true;
        (*v)[k].mx_secure = mx_secure;
    }
    int result = 0;
    bool had_addrs = *n > before;
    smtp_mx_truncate_self_addr(*v + before, n, before);
    if (had_addrs && *n == before) {
        sbuf_set(dsn, "5.4.6");
        sbuf_printf(why, "mail for %s loops back to myself", d->host);
        result = -1;
    } else if (*n == before) {
        smtp_dns_reason(why, dsn, failed ? failed : d->host, "A", temporary);
        result = -1;
    }
    for (size_t i = 0; i < kept; i++)
        xfree(mx[i].host);
    xfree(mx);
    return result;
}
