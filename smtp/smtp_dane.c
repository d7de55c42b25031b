/*
 * smtp_dane.c - DANE (RFC 7672): the TLS level of one server whose
 *               destination's policy is "dane" or "dane-only"
 *
 * Used by: smtp_proto.c (at the start of each session), smtp_tls_policy.c
 *          (smtp_dane_load at start).
 * Interface: smtp_dane_load(), smtp_dane_resolve(), smtp_dane_free().
 * Errors: smtp_dane_resolve() returns -1 with a reason when the server
 *         must not be used (the caller defers it with 4.7.5): dane-only
 *         without usable TLSA records or without DNSSEC, a TLSA lookup
 *         that failed (a bogus or unreachable zone is never taken for
 *         "no records": that would be a downgrade).
 * Notes: the rules are Postfix's (TLS_README "dane"). DANE applies only
 *        with smtp_dns_support_level = dnssec; the resolver in
 *        resolv.conf must validate (its AD bit is trusted, see
 *        dns_lookup_sec). An MX RRset that is not validated makes DANE
 *        inapplicable unless smtp_tls_dane_insecure_mx_policy says
 *        "dane" (or "encrypt": TLS without authentication). The server's
 *        address records must be validated too (unless
 *        *_tls_force_insecure_host_tlsa_lookup = yes), then its TLSA
 *        records at _PORT._tcp.HOST are looked up; only a validated
 *        TLSA RRset counts. Outcomes for "dane": no records
 *        (or none validated) = "may"; records but none usable (PKIX
 *        usages 0/1, digests not in tls_dane_digests) = "encrypt";
 *        usable records = authenticate. "dane-only" defers instead of
 *        falling back. The TLSA base domain (RFC 7672 section 2.2.2) of
 *        a host whose validated address records come through CNAMEs is
 *        the expanded name; when it has no TLSA records the host name as
 *        given is tried. SNI is the base domain; DANE-TA certificates may
 *        name it, the host name as given or the next-hop domain.
 */
#include "smtp.h"
#include "alloc.h"
#include "config.h"
#include "dns_lookup.h"
#include "log.h"
#include "params.h"
#include "tls_client.h"
#include <sys/socket.h>

#define SMTP_P(smtp_name, lmtp_name) (smtp_cfg.lmtp ? (lmtp_name) : (smtp_name))

void smtp_dane_load(struct smtp_cfg *c)
{
    const char *level = cfg_str(SMTP_P(P_SMTP_DNS_SUPPORT_LEVEL, P_LMTP_DNS_SUPPORT_LEVEL));
    c->dnssec = c->dns_enabled && strcasecmp(level, "dnssec") == 0;
    /* The policy for insecure MX records is an smtp-only parameter. */
    const char *mx = cfg_str(P_SMTP_TLS_DANE_INSECURE_MX_POLICY);
    if (strcasecmp(mx, "dane") == 0)
        c->dane_insecure_mx = SMTP_TLS_DANE;
    else if (strcasecmp(mx, "encrypt") == 0)
        c->dane_insecure_mx = SMTP_TLS_ENCRYPT;
    else {
        if (strcasecmp(mx, "may") != 0)
            log_warn("%s: unknown value \"%s\"; using \"may\"",
                     P_SMTP_TLS_DANE_INSECURE_MX_POLICY, mx);
        c->dane_insecure_mx = SMTP_TLS_MAY;
    }
    c->dane_force_tlsa = cfg_bool(SMTP_P(P_SMTP_TLS_FORCE_INSECURE_HOST_TLSA_LOOKUP,
                                         P_LMTP_TLS_FORCE_INSECURE_HOST_TLSA_LOOKUP));
}

/* Where a failure comes from (Postfix's three kinds). */
enum smtp_dane_why {
    SMTP_DANE_CONFIG,   /* our configuration: warn; dane -> may */
    SMTP_DANE_DEST,     /* the destination is not DANE-capable: dane -> may */
    SMTP_DANE_CANTAUTH, /* TLSA exist but cannot authenticate: dane -> encrypt */
};

/* DANE does not apply: "dane" falls back, "dane-only" fails with text. */
static int smtp_dane_incompat(struct smtp_dane *d, bool only, enum smtp_dane_why kind,
                              const char *host, const char *text, struct sbuf *why)
{
    if (!only) {
        d->level = kind == SMTP_DANE_CANTAUTH ? SMTP_TLS_ENCRYPT : SMTP_TLS_MAY;
        log_debug(1, "%s: %s; TLS level \"%s\"", host, text,
                  d->level == SMTP_TLS_ENCRYPT ? "encrypt" : "may");
        return 0;
    }
    if (kind == SMTP_DANE_CONFIG)
        sbuf_printf(why, "client TLS configuration problem: %s", text);
    else
        sbuf_set(why, text);
    return -1;
}

/* Can this client authenticate with the record? RFC 7672 section 3.1:
 * only DANE-TA(2) and DANE-EE(3); selectors Cert(0) and SPKI(1); a
 * matching type that tls_dane_digests enables; digests of the right
 * length. */
static bool smtp_dane_usable(const struct dns_rr *rr)
{
    if (rr->usage != 2 && rr->usage != 3)
        return false;
    if (rr->selector > 1)
        return false;
    if (smtp_cfg.tls_ctx ? !tls_client_dane_mtype_ok(smtp_cfg.tls_ctx, rr->mtype) : rr->mtype > 2)
        return false;
    if ((rr->mtype == 1 && rr->binlen != 32) || (rr->mtype == 2 && rr->binlen != 64))
        return false;
    return rr->binlen > 0;
}

/* The CNAME-expanded form of host into *rname (new), or NULL when host is
 * not an alias or a link of its chain is not validated. 0, or -1 when a
 * lookup failed (not knowing the base domain must not weaken DANE). */
static int smtp_dane_expand(const char *host, char **rname)
{
    *rname = NULL;
    char *name = xstrdup(host);
    bool all_secure = true;
    int hops = 0;
    for (; hops < 8; hops++) {
        struct dns_rr *rr = NULL;
        bool sec = false;
        int r = dns_lookup_sec(name, DNS_T_CNAME, &rr, NULL, &sec);
        if (r == DNS_NOTFOUND)
            break;
        if (r != DNS_OK || rr == NULL) {
            dns_rr_list_free(rr);
            xfree(name);
            return -1;
        }
        all_secure = all_secure && sec;
        xfree(name);
        name = xstrdup(rr->data);
        dns_rr_list_free(rr);
    }
    if (hops > 0 && hops < 8 && all_secure && strcasecmp(name, host) != 0) {
        log_debug(1, "%s: TLSA base domain %s (CNAME expanded)", host, name);
        *rname = name;
    } else
        xfree(name);
    return 0;
}

/* Looks up the TLSA records of _PORT._tcp.name. */
static int smtp_dane_tlsa(const char *name, const char *port, struct dns_rr **rr,
                          struct sbuf *err, bool *secure)
{
    struct sbuf *qname = sbuf_new(128);
    sbuf_printf(qname, "_%s._tcp.%s", port ? port : "25", name);
    *rr = NULL;
    *secure = false;
    int r = dns_lookup_sec(sbuf_str(qname), DNS_T_TLSA, rr, err, secure);
    log_debug(1, "%s: TLSA lookup: %s (%s)", sbuf_str(qname), sbuf_str(err),
              *secure ? "secure" : "insecure");
    sbuf_free(qname);
    return r;
}

int smtp_dane_resolve(const struct smtp_tls_policy *pol, const struct smtp_addr *a,
                      struct smtp_dane *d, struct sbuf *why)
{
    const struct smtp_cfg *cfg = &smtp_cfg;
    bool only = pol->level == SMTP_TLS_DANE_ONLY;
    memset(d, 0, sizeof(*d));
    d->level = SMTP_TLS_MAY;
    if (a->family == AF_UNIX) {
        sbuf_printf(why, "client TLS configuration problem: the \"%s\" security level is "
                    "invalid for delivery via unix-domain sockets", pol->level_name);
        return -1;
    }
    if (!cfg->dnssec)
        return smtp_dane_incompat(d, only, SMTP_DANE_CONFIG, a->host,
                                  "dane configured with dnssec lookups disabled", why);
    bool insecure_mx = a->via_mx && !a->mx_secure;
    if (insecure_mx && (only || cfg->dane_insecure_mx <= SMTP_TLS_MAY))
        return smtp_dane_incompat(d, only, SMTP_DANE_DEST, a->host, "non DNSSEC destination",
                                  why);

    /* The server's own address records must be validated (RFC 7672
     * section 2.2.2): otherwise its TLSA records are not looked up. */
    bool secure = false;
    struct sbuf *err = sbuf_new(64);
    int r = dns_lookup_sec(a->host, a->family == AF_INET6 ? DNS_T_AAAA : DNS_T_A, NULL, err,
                           &secure);
    if (r == DNS_TEMPFAIL || r == DNS_INVAL || r == DNS_POLICY) {
        sbuf_printf(why, "TLSA lookup error for %s:%s", a->host, a->port ? a->port : "25");
        sbuf_free(err);
        return -1;
    }
    if (!secure && !cfg->dane_force_tlsa) {
        sbuf_free(err);
        return smtp_dane_incompat(d, only, SMTP_DANE_DEST, a->host, "non DNSSEC destination",
                                  why);
    }
    /* *_tls_force_insecure_host_tlsa_lookup: the TLSA RRset is looked up
     * all the same; only a validated one (an island of trust under the
     * unsigned zone) is used, as below. */

    /* RFC 7672 section 2.2.2: the TLSA base domain of a validated alias
     * is its CNAME-expanded name; when that has no TLSA records, the name
     * before expansion is tried. */
    char *rname = NULL;
    if (secure && smtp_dane_expand(a->host, &rname) < 0) {
        sbuf_printf(why, "TLSA lookup error for %s:%s", a->host, a->port ? a->port : "25");
        sbuf_free(err);
        return -1;
    }
    const char *base = rname ? rname : a->host;
    struct dns_rr *rr = NULL;
    r = smtp_dane_tlsa(base, a->port, &rr, err, &secure);
    if (rname && r == DNS_NOTFOUND) {
        base = a->host;
        r = smtp_dane_tlsa(base, a->port, &rr, err, &secure);
    }
    sbuf_free(err);
    if (r == DNS_TEMPFAIL || r == DNS_INVAL || r == DNS_POLICY) {
        xfree(rname);
        sbuf_printf(why, "TLSA lookup error for %s:%s", a->host, a->port ? a->port : "25");
        return -1;
    }
    d->base = xstrdup(base);
    xfree(rname);
    if (r == DNS_NOTFOUND || !secure) {
        dns_rr_list_free(rr);
        return smtp_dane_incompat(d, only, SMTP_DANE_DEST, a->host, "no TLSA records found",
                                  why);
    }
    /* Keep the usable records. */
    struct dns_rr *keep = NULL, **tail = &keep;
    while (rr) {
        struct dns_rr *next = rr->next;
        rr->next = NULL;
        if (smtp_dane_usable(rr)) {
            *tail = rr;
            tail = &rr->next;
        } else {
            log_debug(1, "%s: ignoring unusable TLSA record %u %u %u", a->host, rr->usage,
                      rr->selector, rr->mtype);
            dns_rr_list_free(rr);
        }
        rr = next;
    }
    if (keep == NULL)
        return smtp_dane_incompat(d, only, SMTP_DANE_CANTAUTH, a->host, "TLSA records unusable",
                                  why);
    if (insecure_mx && cfg->dane_insecure_mx == SMTP_TLS_ENCRYPT) {
        dns_rr_list_free(keep);
        return smtp_dane_incompat(d, only, SMTP_DANE_CANTAUTH, a->host,
                                  "Verification not possible, MX RRset is insecure", why);
    }
    d->level = SMTP_TLS_DANE;
    d->tlsa = keep;
    return 0;
}

void smtp_dane_free(struct smtp_dane *d)
{
    if (d == NULL)
        return;
    dns_rr_list_free(d->tlsa);
    xfree(d->base);
    memset(d, 0, sizeof(*d));
}
