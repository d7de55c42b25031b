/*
 * smtpd_mxbackup.c - permit_mx_backup: relay for domains that list this host
 *                    as a backup MX (and permit_mx_backup_networks)
 *
 * Used by: smtpd_check.c (the restriction table and smtpd_check_init()).
 * Interface: smtpd_mxbackup_init(), smtpd_mxbackup_permit().
 * Errors: a recipient that cannot be resolved answers 451 4.3.0. A DNS
 *         failure never permits: as Postfix, it becomes defer_if_reject
 *         ("450 4.4.4 <rcpt>: Recipient address rejected: Unable to look up
 *         ...", answered only if a later restriction rejects) and the
 *         restriction says DUNNO. An MX host without any address counts as
 *         such a failure (as in Postfix); a domain without MX records does
 *         not. A failed permit_mx_backup_networks table lookup is handled
 *         the same way (Postfix's behaviour here, not the 451 4.3.0 of
 *         check_*_access).
 * Notes: the recipient is permitted when it is an authorized destination
 *        (smtpd_auth_dest(): permit_auth_destination's test), or when all
 *        of these hold:
 *          - it has no sender-specified routing (user@a@b, user%a@b) unless
 *            allow_untrusted_routing, and its domain is not an [address];
 *          - the domain has MX records (none, a null MX or NXDOMAIN: DUNNO;
 *            no fallback to the address record);
 *          - this host is not one of the primary MX hosts (those with the
 *            lowest preference) but is one of the others;
 *          - when permit_mx_backup_networks is not empty: every address of
 *            every primary MX host matches it (mynetworks syntax; a host
 *            name pattern is matched against the MX host name).
 *        An MX host is this host when its name is in $mydestination or one
 *        of its addresses (A, and AAAA, as inet_protocols allows) is one of
 *        $inet_interfaces or $proxy_interfaces (resolve_local()). At most
 *        SMTPD_MXB_MAX_RR MX records and as many addresses per host are
 *        examined.
 */
#include "smtpd_check.h"
#include "alloc.h"
#include "config.h"
#include "dns_lookup.h"
#include "log.h"
#include "mynetworks.h"
#include "params.h"
#include "resolve_local.h"

#define SMTPD_MXB_MAX_RR 100 /* MX records, and addresses per MX host */

static struct {
    struct mynetworks *networks; /* permit_mx_backup_networks; NULL: empty */
    bool want4, want6;           /* inet_protocols */
    bool inited;
} smtpd_mxb;

/* One MX host. */
struct smtpd_mxb_host {
    const char *name; /* borrows the dns_rr's data */
    int pref;
};

void smtpd_mxbackup_init(bool used)
{
    cfg_inet_protocols(cfg_str(P_INET_PROTOCOLS), &smtpd_mxb.want4, &smtpd_mxb.want6);
    const char *nets = cfg_str(P_PERMIT_MX_BACKUP_NETWORKS);
    if (*nets)
        smtpd_mxb.networks = mynetworks_new(P_PERMIT_MX_BACKUP_NETWORKS, nets,
                                            cfg_parent_matches(P_PERMIT_MX_BACKUP_NETWORKS));
    /* mydestination's tables and the interface addresses, while privileged
     * (otherwise resolve_local() reads them at first use). */
    if (used)
        resolve_local_init();
    smtpd_mxb.inited = true;
}

/* The addresses of host, A then AAAA as inet_protocols allows, into *out
 * (new, dns_rr_list_free()). DNS_OK when there is at least one, with
 * *failed true when one of the two lookups failed; DNS_NOTFOUND when there
 * is none; DNS_TEMPFAIL when there is none and a lookup failed. why says
 * why (fills caller's buffer). */
static int smtpd_mxb_addrs(const char *host, struct dns_rr **out, bool *failed, struct sbuf *why)
{
    sbuf_set(why, "Host not found");
    int r = dns_lookup_addrs(host, smtpd_mxb.want4, smtpd_mxb.want6, out, why);
    *failed = r == DNS_TEMPFAIL;
    return r == DNS_OK || r == DNS_TEMPFAIL ? r : DNS_NOTFOUND;
}

/* Is host this machine? true or false; a failed lookup is false and
 * records a defer_if_reject. */
static bool smtpd_mxb_is_me(struct smtpd_check_ctx *c, const char *host)
{
    struct dns_rr *addrs = NULL;
    struct sbuf *why = sbuf_new(64);
    bool failed, me = false;
    int r = smtpd_mxb_addrs(host, &addrs, &failed, why);
    int n = 0;
    for (struct dns_rr *a = addrs; a && !me && n < SMTPD_MXB_MAX_RR; a = a->next, n++) {
        me = resolve_local_address(a->data);
        log_debug(1, "permit_mx_backup: MX host %s address %s: %s", host, a->data,
                  me ? "ours" : "not ours");
    }
    if (!me && (r != DNS_OK || failed)) {
        struct sbuf *t = sbuf_new(128);
        sbuf_printf(t, "Unable to look up mail exchanger host %s: %s", host, sbuf_str(why));
        smtpd_delay(c, false, 450, "4.4.4", SMTPD_STAGE_RCPT, sbuf_str(t));
        sbuf_free(t);
    }
    dns_rr_list_free(addrs);
    sbuf_free(why);
    return me;
}

/* Is this machine one of the n MX hosts in v? Names first (no DNS), then
 * addresses. */
static bool smtpd_mxb_i_am_mx(struct smtpd_check_ctx *c, const struct smtpd_mxb_host *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (resolve_local(v[i].name) > 0)
            return true;
    for (size_t i = 0; i < n; i++)
        if (smtpd_mxb_is_me(c, v[i].name))
            return true;
    return false;
}

/* Does every address of every host in v (the primary MX hosts) match
 * permit_mx_backup_networks? A failed lookup is false and records a
 * defer_if_reject. */
static bool smtpd_mxb_primaries_allowed(struct smtpd_check_ctx *c, const struct smtpd_mxb_host *v,
                                        size_t n)
{
    struct sbuf *why = sbuf_new(64);
    struct sbuf *t = sbuf_new(128);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        struct dns_rr *addrs = NULL;
        bool failed;
        int r = smtpd_mxb_addrs(v[i].name, &addrs, &failed, why);
        if (r != DNS_OK || failed) {
            sbuf_printf(t, "Unable to look up host %s as mail exchanger: %s", v[i].name,
                        sbuf_str(why));
            smtpd_delay(c, false, 450, "4.4.4", SMTPD_STAGE_RCPT, sbuf_str(t));
            ok = false;
        }
        int k = 0;
        for (struct dns_rr *a = addrs; a && ok && k < SMTPD_MXB_MAX_RR; a = a->next, k++) {
            int m = mynetworks_match(smtpd_mxb.networks, a->data, v[i].name);
            if (m < 0) {
                log_warn("%s: table lookup failed for address %s of MX host %s",
                         P_PERMIT_MX_BACKUP_NETWORKS, a->data, v[i].name);
                sbuf_printf(t, "Unable to verify host %s as mail exchanger", v[i].name);
                smtpd_delay(c, false, 450, "4.4.4", SMTPD_STAGE_RCPT, sbuf_str(t));
                ok = false;
            } else if (m == 0) {
                log_debug(1, "permit_mx_backup: primary MX host %s address %s is not in %s",
                          v[i].name, a->data, P_PERMIT_MX_BACKUP_NETWORKS);
                ok = false;
            }
        }
        dns_rr_list_free(addrs);
    }
    sbuf_free(why);
    sbuf_free(t);
    return ok;
}

enum smtpd_verdict smtpd_mxbackup_permit(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (c->rcpt == NULL)
        return SMTPD_DUNNO;
    if (!smtpd_mxb.inited)
        smtpd_mxbackup_init(true);
    int auth = smtpd_auth_dest(c);
    if (auth < 0)
        return smtpd_temp_lookup_failure(c, SMTPD_STAGE_RCPT);
    if (auth > 0)
        return SMTPD_PERMIT;
    /* Sender-specified routing: where the mail would end up is uncertain. */
    if ((c->res.flags & RESOLVE_FLAG_ROUTED) && !smtpd_cfg.allow_untrusted_routing)
        return SMTPD_DUNNO;
    const char *at = strrchr(sbuf_str(c->res.recipient), '@');
    const char *domain = at ? at + 1 : "";
    if (*domain == 0 || *domain == '[')
        return SMTPD_DUNNO;

    struct dns_rr *mx = NULL;
    struct sbuf *why = sbuf_new(64);
    int r = dns_lookup(domain, DNS_T_MX, &mx, why);
    if (r != DNS_OK) {
        if (r == DNS_TEMPFAIL) {
            struct sbuf *t = sbuf_new(128);
            sbuf_printf(t, "Unable to look up mail exchanger information: %s", sbuf_str(why));
            smtpd_delay(c, false, 450, "4.4.4", SMTPD_STAGE_RCPT, sbuf_str(t));
            sbuf_free(t);
        }
        sbuf_free(why);
        return SMTPD_DUNNO; /* no MX records (or an unusable name): not a backup */
    }
    sbuf_free(why);

    /* Split the (bounded) list into primaries, v[0..nprim), and the rest. */
    struct smtpd_mxb_host *v = xcalloc(SMTPD_MXB_MAX_RR, sizeof(*v));
    size_t n = 0, nprim = 0;
    int best = -1;
    for (struct dns_rr *p = mx; p && n < SMTPD_MXB_MAX_RR; p = p->next) {
        if (p->type != DNS_T_MX)
            continue;
        v[n].name = p->data;
        v[n].pref = p->pref;
        if (best < 0 || p->pref < best)
            best = p->pref;
        n++;
    }
    for (size_t i = 0; i < n; i++) {
        if (v[i].pref == best) {
            struct smtpd_mxb_host tmp = v[nprim];
            v[nprim++] = v[i];
            v[i] = tmp;
        }
    }
    enum smtpd_verdict verdict = SMTPD_DUNNO;
    bool null_mx = n == 1 && (v[0].name[0] == 0 || strcmp(v[0].name, ".") == 0);
    if (n == 0 || null_mx || nprim == n)
        log_debug(1, "permit_mx_backup: %s: no backup MX hosts", domain);
    else if (smtpd_mxb_i_am_mx(c, v, nprim))
        log_debug(1, "permit_mx_backup: %s: this host is a primary MX", domain);
    else if (!smtpd_mxb_i_am_mx(c, v + nprim, n - nprim))
        log_debug(1, "permit_mx_backup: %s: this host is not an MX host", domain);
    else if (smtpd_mxb.networks && !smtpd_mxb_primaries_allowed(c, v, nprim))
        log_debug(1, "permit_mx_backup: %s: primary MX hosts not in %s", domain,
                  P_PERMIT_MX_BACKUP_NETWORKS);
    else
        verdict = SMTPD_PERMIT;
    xfree(v);
    dns_rr_list_free(mx);
    return verdict;
}
