/*
 * smtpd_dnsaccess.c - access maps applied to a domain's DNS servers:
 *                     check_{client,reverse_client_hostname,helo,sender,
 *                     recipient}_{a,mx,ns}_access
 *
 * Used by: smtpd_check.c (the fifteen restrictions, one table argument each).
 * Interface: smtpd_dnsaccess_init(), smtpd_dnsaccess_check().
 * Errors: a DNS lookup that fails (temporary failure, malformed name) is
 *         logged and the restriction does nothing (DUNNO), as in Postfix:
 *         it never permits. A table lookup failure answers 451 4.3.0 as
 *         check_*_access does. A table result that would permit (OK, RELAY,
 *         an all-numerical value, a restriction class that permits) is not
 *         allowed: it is logged and answered "451 4.3.5 Server configuration
 *         error", as Postfix does; DISCARD keeps working.
 * Notes: the domain is the verified client name (nothing when "unknown"),
 *        the reverse client name, the HELO argument, or the domain of the
 *        MAIL FROM / RCPT TO address (nothing for the null sender or an
 *        address without a domain). Its servers are:
 *          _mx_: the MX hosts, by preference; none at all (the domain or
 *                the record type does not exist): the domain itself, the
 *                implicit MX of RFC 5321; a null MX (RFC 7505): nothing;
 *          _ns_: the NS hosts; when the name has none, those of the
 *                nearest parent domain that has some;
 *          _a_:  the domain itself, by its addresses only.
 *        An address literal ([1.2.3.4], [IPv6:...]) is its own server for
 *        _a_ and _mx_ and has none for _ns_. For each server, in order, the
 *        host name is looked up in the table with its parent domains (not
 *        for _a_) and then each of its A/AAAA addresses (as inet_protocols
 *        allows) with its shorter network prefixes, exactly as
 *        check_client_access looks up a client (smtpd_access.c). The first
 *        entry found decides, with the access(5) actions. DNS data is
 *        untrusted: at most SMTPD_DNSACCESS_MAX_HOSTS servers and as many
 *        addresses per server are examined, a server name that is not
 *        printable ASCII of at most 255 bytes is skipped, and no new lookup
 *        starts once SMTPD_DNSACCESS_MAX_TIME seconds have gone by.
 */
#include "smtpd_check.h"
#include "alloc.h"
#include "cleanup_proto.h"
#include "config.h"
#include "dns_lookup.h"
#include "events.h"
#include "log.h"
#include "params.h"
#include <arpa/inet.h>
#include <strings.h>

#define SMTPD_DNSACCESS_MAX_HOSTS 100
#define SMTPD_DNSACCESS_MAX_TIME 30 /* seconds of DNS lookups per restriction */
#define SMTPD_DNSACCESS_NAME_MAX 255

static struct {
    bool want_ipv4, want_ipv6;
} smtpd_dnsa = { true, true };

void smtpd_dnsaccess_init(void)
{
    cfg_inet_protocols(cfg_str(P_INET_PROTOCOLS), &smtpd_dnsa.want_ipv4, &smtpd_dnsa.want_ipv6);
}

/* One evaluation: what is being checked and where the answer goes. */
struct smtpd_dnsa_run {
    struct smtpd_check_ctx *c;
    const char *restriction; /* "check_sender_mx_access", for logs */
    const char *table;
    int type;              /* DNS_T_A, DNS_T_MX or DNS_T_NS */
    enum smtpd_stage subj; /* reply subject */
    const char *subject;   /* the client name, HELO name or address, for logs */
    double deadline;
    bool out_of_time;
    bool done; /* a table entry (or a table failure) decided */
    enum smtpd_verdict verdict;
};

/* True when another DNS lookup may start. */
static bool smtpd_dnsa_time_left(struct smtpd_dnsa_run *r)
{
    if (r->out_of_time)
        return false;
    if (event_now() < r->deadline)
        return true;
    log_warn("%s: DNS lookups for %s took more than %d seconds: skipping the rest", r->restriction,
             r->subject, SMTPD_DNSACCESS_MAX_TIME);
    r->out_of_time = true;
    return false;
}

/* Acts on a table answer (found 1) or a table failure (found -1). The
 * value is borrowed from the table: copy it before acting, as acting may
 * look up other tables. */
static void smtpd_dnsa_decide(struct smtpd_dnsa_run *r, int found, const char *val)
{
    struct smtpd_check_ctx *c = r->c;
    r->done = true;
    if (found < 0) {
        r->verdict = smtpd_access_lookup_failed(c, r->subj, r->table, r->restriction);
        return;
    }
    char *v = xstrdup(val);
    struct smtpd_check_state *cs = smtpd_check_state(c->st);
    enum smtpd_verdict verdict = smtpd_access_action(c, r->subj, v, r->table);
    /* An allow-list entry here would let in everyone who shares a
     * provider's mail or name servers: Postfix refuses it, and so do we.
     * DISCARD accepts nothing (the message is dropped), so it stays. */
    if (verdict == SMTPD_PERMIT && !(cs->saved_flags & CLEANUP_FLAG_DISCARD)) {
        log_warn("restriction %s returns OK for %s (table %s, value \"%.100s\")", r->restriction,
                 r->subject, r->table, v);
        log_warn("OK is not allowed in %s for security reasons; use DUNNO to make an exception",
                 r->restriction);
        verdict = smtpd_config_error(c);
    }
    xfree(v);
    r->verdict = verdict;
}

/* Looks a numeric address up (with its networks). */
static void smtpd_dnsa_addr(struct smtpd_dnsa_run *r, const char *addr)
{
    const char *val = NULL;
    int found = smtpd_access_find_addr(r->table, addr, &val);
    if (found != 0)
        smtpd_dnsa_decide(r, found, val);
}

/* The numeric address in a name ("1.2.3.4", "::1") into out, or false. */
static bool smtpd_dnsa_numeric(const char *name, char *out, size_t size)
{
    unsigned char bin[16];
    int af = strchr(name, ':') ? AF_INET6 : AF_INET;
    if (inet_pton(af, name, bin) != 1)
        return false;
    return inet_ntop(af, bin, out, (socklen_t)size) != NULL;
}

/* A server name from DNS is untrusted: printable ASCII, bounded. */
static bool smtpd_dnsa_host_ok(const char *host)
{
    size_t len = 0;
    for (const unsigned char *p = (const unsigned char *)host; *p; p++, len++)
        if (*p <= ' ' || *p >= 0x7f || len >= SMTPD_DNSACCESS_NAME_MAX)
            return false;
    return len > 0;
}

/* One server: its name (unless _a_), then its addresses. */
static void smtpd_dnsa_server(struct smtpd_dnsa_run *r, const char *host)
{
    char num[INET6_ADDRSTRLEN];
    if (!smtpd_dnsa_host_ok(host)) {
        log_warn("%s: skipping a malformed %s host name for %s", r->restriction,
                 dns_type_name(r->type), r->subject);
        return;
    }
    if (smtpd_dnsa_numeric(host, num, sizeof(num))) {
        smtpd_dnsa_addr(r, num);
        return;
    }
    if (r->type != DNS_T_A) {
        const char *val = NULL;
        int found = smtpd_access_find_host(r->table, host, &val);
        if (found != 0) {
            smtpd_dnsa_decide(r, found, val);
            return;
        }
    }
    int types[2], ntypes = 0;
    if (smtpd_dnsa.want_ipv4)
        types[ntypes++] = DNS_T_A;
    if (smtpd_dnsa.want_ipv6)
        types[ntypes++] = DNS_T_AAAA;
    struct sbuf *why = sbuf_new(64);
    bool any = false;
    int n = 0;
    for (int t = 0; t < ntypes && !r->done && smtpd_dnsa_time_left(r); t++) {
        struct dns_rr *list = NULL;
        int status = dns_lookup(host, types[t], &list, why);
        if (status == DNS_OK)
            any = true;
        for (struct dns_rr *rr = list; rr && !r->done && n < SMTPD_DNSACCESS_MAX_HOSTS;
             rr = rr->next, n++)
            smtpd_dnsa_addr(r, rr->data);
        dns_rr_list_free(list);
    }
    /* As Postfix: a server without an address is worth a warning, except
     * for _a_, where it is the domain itself. */
    if (!any && !r->done && !r->out_of_time && r->type != DNS_T_A)
        log_warn("Unable to look up %s host %s for %s %s: %s", dns_type_name(r->type), host,
                 smtpd_stage_what(r->subj), r->subject, sbuf_str(why));
    sbuf_free(why);
}

/* Orders MX records by preference, keeping the DNS order among equals. */
static struct dns_rr *smtpd_dnsa_sort_mx(struct dns_rr *list)
{
    struct dns_rr *sorted = NULL;
    while (list) {
        struct dns_rr *rr = list;
        list = list->next;
        struct dns_rr **p = &sorted;
        while (*p && (*p)->pref <= rr->pref)
            p = &(*p)->next;
        rr->next = *p;
        *p = rr;
    }
    return sorted;
}

/* The MX or NS host list of domain: DNS_OK with *list new (NULL: no
 * servers to check, e.g. a null MX), or a failure that was logged. */
static int smtpd_dnsa_servers(struct smtpd_dnsa_run *r, const char *domain, struct dns_rr **list)
{
    struct sbuf *why = sbuf_new(64);
    const char *name = domain;
    *list = NULL;
    int status = dns_lookup(name, r->type, list, why);
    if (status == DNS_NOTFOUND && r->type == DNS_T_MX) {
        /* No MX: the domain is its own (implicit) mail server. */
        struct dns_rr *rr = xcalloc(1, sizeof(*rr));
        rr->type = DNS_T_MX;
        rr->data = xstrdup(domain);
        *list = rr;
        status = DNS_OK;
    } else if (status == DNS_NOTFOUND && r->type == DNS_T_NS) {
        /* No NS at this name: those of the nearest parent zone. */
        const char *dot;
        while (status == DNS_NOTFOUND && (dot = strchr(name, '.')) != NULL && dot[1] != 0
               && smtpd_dnsa_time_left(r)) {
            name = dot + 1;
            status = dns_lookup(name, r->type, list, why);
        }
    }
    if (status == DNS_OK && r->type == DNS_T_MX) {
        for (struct dns_rr *rr = *list; rr; rr = rr->next) {
            if (rr->data[0] == 0) { /* "MX 0 .": accepts no mail */
                dns_rr_list_free(*list);
                *list = NULL;
                break;
            }
        }
        *list = smtpd_dnsa_sort_mx(*list);
    }
    if (status != DNS_OK && !r->out_of_time)
        log_warn("Unable to look up %s host for %s: %s", dns_type_name(r->type), name,
                 sbuf_str(why));
    sbuf_free(why);
    return status;
}

/* The name whose servers are checked, or NULL (nothing to check). */
static const char *smtpd_dnsa_subject(struct smtpd_check_ctx *c, const char *what, struct sbuf *rev,
                                      enum smtpd_stage *subj)
{
    struct smtpd_state *st = c->st;
    if (strcmp(what, "client") == 0) {
        *subj = SMTPD_STAGE_CLIENT;
        return strcmp(st->name, "unknown") != 0 ? st->name : NULL;
    }
    if (strcmp(what, "reverse_client") == 0) {
        *subj = SMTPD_STAGE_REV_CLIENT;
        return smtpd_access_reverse_name(st, rev) ? sbuf_str(rev) : NULL;
    }
    if (strcmp(what, "helo") == 0) {
        *subj = SMTPD_STAGE_HELO;
        return st->helo_name && *st->helo_name ? st->helo_name : NULL;
    }
    if (strcmp(what, "sender") == 0) {
        *subj = SMTPD_STAGE_SENDER;
        return st->sender && *st->sender ? st->sender : NULL;
    }
    *subj = SMTPD_STAGE_RCPT;
    return c->rcpt && *c->rcpt ? c->rcpt : NULL;
}

/* Checks the servers of domain. */
static void smtpd_dnsa_domain(struct smtpd_dnsa_run *r, const char *domain)
{
    char num[INET6_ADDRSTRLEN];
    size_t len = strlen(domain);

    /* An address literal is its own mail server (and has no name server). */
    if (domain[0] == '[') {
        char lit[64];
        if (r->type == DNS_T_NS || len < 3 || domain[len - 1] != ']' || len - 2 >= sizeof(lit))
            return;
        memcpy(lit, domain + 1, len - 2);
        lit[len - 2] = 0;
        const char *a = strncasecmp(lit, "IPv6:", 5) == 0 ? lit + 5 : lit;
        if (smtpd_dnsa_numeric(a, num, sizeof(num)))
            smtpd_dnsa_addr(r, num);
        return;
    }
    /* So is a bare numeric address (a HELO argument) for _a_; DNS has no
     * MX or NS records for it. */
    if (smtpd_dnsa_numeric(domain, num, sizeof(num))) {
        if (r->type == DNS_T_A)
            smtpd_dnsa_addr(r, num);
        return;
    }
    struct dns_rr *list = NULL;
    if (r->type == DNS_T_A) {
        list = xcalloc(1, sizeof(*list));
        list->type = DNS_T_A;
        list->data = xstrdup(domain);
    } else if (smtpd_dnsa_servers(r, domain, &list) != DNS_OK) {
        return;
    }
    struct dns_rr *rr = list;
    for (int n = 0; rr && !r->done && smtpd_dnsa_time_left(r); rr = rr->next) {
        if (n++ == SMTPD_DNSACCESS_MAX_HOSTS) {
            log_warn("%s: %s has more than %d %s hosts: only the first %d were checked",
                     r->restriction, domain, SMTPD_DNSACCESS_MAX_HOSTS,
                     dns_type_name(r->type), SMTPD_DNSACCESS_MAX_HOSTS);
            break;
        }
        smtpd_dnsa_server(r, rr->data);
    }
    dns_rr_list_free(list);
}

enum smtpd_verdict smtpd_dnsaccess_check(struct smtpd_check_ctx *c, const char *restriction,
                                         const char *what, int type, const char *table)
{
    struct sbuf *rev = sbuf_new(64);
    struct smtpd_dnsa_run r;
    memset(&r, 0, sizeof(r));
    r.c = c;
    r.restriction = restriction;
    r.table = table;
    r.type = type;
    r.verdict = SMTPD_DUNNO;
    r.subject = smtpd_dnsa_subject(c, what, rev, &r.subj);
    const char *domain = r.subject;
    if (domain && (r.subj == SMTPD_STAGE_SENDER || r.subj == SMTPD_STAGE_RCPT)) {
        const char *at = strrchr(domain, '@');
        domain = at ? at + 1 : NULL;
    }
    if (domain && *domain && strlen(domain) <= SMTPD_DNSACCESS_NAME_MAX) {
        r.deadline = event_now() + SMTPD_DNSACCESS_MAX_TIME;
        smtpd_dnsa_domain(&r, domain);
    }
    sbuf_free(rev);
    return r.verdict;
}
