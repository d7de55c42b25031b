/*
 * smtpd_dnsbl.c - DNS block and allow lists (reject_rbl_client,
 *                 reject_rhsbl_*, permit_dnswl_client, permit_rhswl_client)
 *
 * Used by: smtpd_check.c.
 * Interface: smtpd_dnsbl_client(), smtpd_dnsbl_rhs().
 * Errors: a DNS failure never permits and never lets a blocked client in:
 *         for a block list it becomes defer_if_permit ("450 4.7.1 ...
 *         Temporary lookup failure" unless a later restriction rejects);
 *         for an allow list it becomes defer_if_reject.
 * Notes: the argument is "domain" or "domain=filter", where the filter
 *        matches the A record answer octet by octet: a number, "[a..b]",
 *        "[a;b;c]" or combinations ("127.0.0.[2..11]",
 *        "127.0.[0..255].[2;4]"). A listed client is rejected with the text
 *        from rbl_reply_maps (looked up by the argument as written, then by
 *        the domain) or default_rbl_reply, expanded with $rbl_code,
 *        $rbl_class, $rbl_what, $rbl_domain, $rbl_reason, $rbl_txt,
 *        $client, $client_address, $client_name, $helo_name, $sender,
 *        $recipient and the ${name?text} / ${name:text} forms
 *        (lib/mail/reply_expand.c); a missing
 *        enhanced status code becomes 5.7.1 (4.7.1 for 4xx).
 */
#include "smtpd_check.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "dnsbl_filter.h"
#include "dns_lookup.h"
#include "log.h"
#include "maps.h"
#include "reply_expand.h"
#include "params.h"
#include <ctype.h>
#include <strings.h>

static struct maps *smtpd_rbl_reply_maps;
static bool smtpd_rbl_inited;

/* Looks name up; 1 listed (txt filled), 0 not listed, -1 DNS failure. */
static int smtpd_dnsbl_query(const char *name, const char *filter, struct sbuf *txt)
{
    struct dns_rr *rr = NULL;
    int r = dns_lookup(name, DNS_T_A, &rr, NULL);
    if (r == DNS_TEMPFAIL)
        return -1;
    if (r != DNS_OK)
        return 0;
    bool hit = false;
    for (struct dns_rr *p = rr; p && !hit; p = p->next)
        hit = filter == NULL || dnsbl_filter_match(filter, p->data);
    dns_rr_list_free(rr);
    if (!hit)
        return 0;
    sbuf_reset(txt);
    struct dns_rr *t = NULL;
    if (dns_lookup(name, DNS_T_TXT, &t, NULL) == DNS_OK) {
        for (struct dns_rr *p = t; p; p = p->next) {
            if (sbuf_len(txt))
                sbuf_cat(txt, " ");
            sbuf_cat(txt, p->data);
            if (sbuf_len(txt) > 400)
                break;
        }
    }
    dns_rr_list_free(t);
    /* Keep the reply one clean line. */
    char *d = sbuf_data(txt);
    for (size_t i = 0; i < sbuf_len(txt); i++)
        if ((unsigned char)d[i] < ' ' || (unsigned char)d[i] >= 0x7f)
            d[i] = ' ';
    return 1;
}

static void smtpd_rbl_init(void)
{
    if (smtpd_rbl_inited)
        return;
    smtpd_rbl_inited = true;
    const char *m = cfg_str(P_RBL_REPLY_MAPS);
    if (*m)
        smtpd_rbl_reply_maps = maps_create(P_RBL_REPLY_MAPS, m, DICT_F_FOLD);
}

/* Rejects a listed client/domain with the rbl reply. */
static enum smtpd_verdict smtpd_dnsbl_reject(struct smtpd_check_ctx *c, const char *arg,
                                             const char *domain, const char *rbl_class,
                                             const char *rbl_what, const char *txt)
{
    smtpd_rbl_init();
    const char *tmpl = NULL;
    if (smtpd_rbl_reply_maps) {
        tmpl = maps_find(smtpd_rbl_reply_maps, arg, 0);
        if (tmpl == NULL)
            tmpl = maps_find(smtpd_rbl_reply_maps, domain, 0);
    }
    char *t = xstrdup(tmpl ? tmpl : cfg_raw(P_DEFAULT_RBL_REPLY));
    char code[8];
    snprintf(code, sizeof(code), "%d", cfg_int(P_MAPS_RBL_REJECT_CODE));
    struct smtpd_state *st = c->st;
    struct reply_vars v = { .n = 0 };
    reply_vars_add(&v, "rbl_code", code);
    reply_vars_add(&v, "rbl_class", rbl_class);
    reply_vars_add(&v, "rbl_what", rbl_what);
    reply_vars_add(&v, "rbl_domain", domain);
    reply_vars_add(&v, "rbl_reason", txt);
    reply_vars_add(&v, "rbl_txt", txt);
    reply_vars_add(&v, "client", st->namaddr);
    reply_vars_add(&v, "client_address", st->addr);
    reply_vars_add(&v, "client_name", st->name);
    reply_vars_add(&v, "helo_name", st->helo_name);
    reply_vars_add(&v, "sender", st->sender);
    reply_vars_add(&v, "recipient", c->rcpt);
    struct sbuf *out = sbuf_new(128);
    reply_expand(smtpd_cfg.expand, out, t, &v);
    xfree(t);
    const char *r = sbuf_str(out);
    int rcode = 0;
    if ((r[0] == '4' || r[0] == '5') && isdigit((unsigned char)r[1])
        && isdigit((unsigned char)r[2]) && (r[3] == ' ' || r[3] == 0)) {
        rcode = (r[0] - '0') * 100 + (r[1] - '0') * 10 + (r[2] - '0');
        r += 3;
        while (*r == ' ')
            r++;
    } else
        rcode = cfg_int(P_MAPS_RBL_REJECT_CODE);
    char dsn[16];
    snprintf(dsn, sizeof(dsn), "%c.7.1", rcode >= 500 ? '5' : '4');
    if ((r[0] == '4' || r[0] == '5') && r[1] == '.') {
        size_t n = strspn(r, "0123456789.");
        if (n < sizeof(dsn) && r[n] == ' ') {
            memcpy(dsn, r, n);
            dsn[n] = 0;
            r += n + 1;
        }
    }
    enum smtpd_verdict verdict = smtpd_reject_raw(c, rcode, dsn, r);
    sbuf_free(out);
    return verdict;
}

/* Splits "domain=filter". */
static char *smtpd_dnsbl_split(const char *arg, const char **filter)
{
    const char *eq = strchr(arg, '=');
    *filter = eq ? eq + 1 : NULL;
    return eq ? xstrndup(arg, (size_t)(eq - arg)) : xstrdup(arg);
}

static enum smtpd_verdict smtpd_dnsbl_tempfail(struct smtpd_check_ctx *c, bool white,
                                               enum smtpd_stage subj, const char *domain)
{
    log_warn("%s: DNS lookup failure for %s list %s", c->st->namaddr,
             white ? "allow" : "block", domain);
    smtpd_delay(c, !white, 450, "4.7.1", subj, "Temporary lookup failure");
    return SMTPD_DUNNO;
}

enum smtpd_verdict smtpd_dnsbl_client(struct smtpd_check_ctx *c, const char *arg, bool white)
{
    const char *filter;
    char *domain = smtpd_dnsbl_split(arg, &filter);
    struct sbuf *q = sbuf_new(128), *txt = sbuf_new(64);
    enum smtpd_verdict v = SMTPD_DUNNO;
    if (dns_reverse_addr(c->st->addr, q) == 0) {
        sbuf_catf(q, ".%s", domain);
        int r = smtpd_dnsbl_query(sbuf_str(q), filter, txt);
        if (r < 0)
            v = smtpd_dnsbl_tempfail(c, white, SMTPD_STAGE_CLIENT, domain);
        else if (r > 0 && white) {
            /* A client allow-listed: skip the remaining restrictions of
             * this list (Postfix: permit). */
            log_info("%s: client %s listed by %s: permitted", smtpd_log_queue_id(c->st),
                     c->st->namaddr, domain);
            v = SMTPD_PERMIT;
        } else if (r > 0)
            v = smtpd_dnsbl_reject(c, arg, domain, "Client host", c->st->addr, sbuf_str(txt));
    }
    sbuf_free(q);
    sbuf_free(txt);
    xfree(domain);
    return v;
}

enum smtpd_verdict smtpd_dnsbl_rhs(struct smtpd_check_ctx *c, const char *what, const char *arg,
                                   bool white)
{
    struct smtpd_state *st = c->st;
    const char *name = NULL;
    const char *cls = "Client host";
    enum smtpd_stage subj = SMTPD_STAGE_CLIENT;
    struct sbuf *rev = sbuf_new(64);
    if (strcmp(what, "client") == 0) {
        name = strcmp(st->name, "unknown") ? st->name : NULL;
    } else if (strcmp(what, "reverse_client") == 0) {
        cls = "Unverified Client host";
        subj = SMTPD_STAGE_REV_CLIENT;
        if (strcmp(st->name, "unknown"))
            name = st->name;
        else if (dns_ptr_name(st->addr, rev) == DNS_OK)
            name = sbuf_str(rev);
    } else if (strcmp(what, "helo") == 0) {
        cls = "Helo command";
        subj = SMTPD_STAGE_HELO;
        name = st->helo_name;
    } else if (strcmp(what, "sender") == 0) {
        cls = "Sender address";
        subj = SMTPD_STAGE_SENDER;
        name = st->sender && strrchr(st->sender, '@') ? strrchr(st->sender, '@') + 1 : NULL;
    } else if (strcmp(what, "recipient") == 0) {
        cls = "Recipient address";
        subj = SMTPD_STAGE_RCPT;
        name = c->rcpt && strrchr(c->rcpt, '@') ? strrchr(c->rcpt, '@') + 1 : NULL;
    }
    if (name == NULL || *name == 0 || *name == '[') {
        sbuf_free(rev);
        return SMTPD_DUNNO;
    }
    const char *filter;
    char *domain = smtpd_dnsbl_split(arg, &filter);
    struct sbuf *q = sbuf_new(128), *txt = sbuf_new(64);
    enum smtpd_verdict v = SMTPD_DUNNO;
    sbuf_printf(q, "%s.%s", name, domain);
    int r = smtpd_dnsbl_query(sbuf_str(q), filter, txt);
    if (r < 0)
        v = smtpd_dnsbl_tempfail(c, white, subj, domain);
    else if (r > 0 && white)
        v = SMTPD_PERMIT;
    else if (r > 0)
        v = smtpd_dnsbl_reject(c, arg, domain, cls, name, sbuf_str(txt));
    sbuf_free(q);
    sbuf_free(txt);
    sbuf_free(rev);
    xfree(domain);
    return v;
}
