/*
 * smtp.c - the smtp/lmtp delivery agent: main() and one delivery request
 *
 * Used by: master (master.cf "smtp", "relay" and "lmtp" services; the
 *          "lmtp" program is a link to this one).
 * Interface: main().
 * Errors: a bad request is logged and the connection closed (qmgr defers).
 *         Destination-wide failures (no server reachable) are reported to
 *         qmgr as hop_status/hop_reason so it backs off the destination.
 * Notes: LMTP mode when the program name (argv[0]) is not "smtp", as with
 *        Postfix; parameters then come from the lmtp_* names. For each
 *        request: parse the next hop (a list is allowed), look up the
 *        server addresses (MX records unless "[host]", LMTP, or DNS is
 *        disabled), try them in order - at most $smtp_mx_address_limit
 *        addresses and $smtp_mx_session_limit conversations - until every
 *        recipient is final. Recipients still open after the last server
 *        are deferred with the last soft error.
 *        When recipients are still open after the last server of the
 *        next hop, the destinations of $smtp_fallback_relay are tried the
 *        same way. With connection caching (smtp_cache.c), an idle
 *        connection to the next hop or to a server address is taken from
 *        scache before a new one is opened, and a clean connection goes
 *        back there afterwards.
 *        SASL login: smtp_sasl.c. Not yet: BODY=8BITMIME/SMTPUTF8 (the
 *        queue file does not record the body type yet). DANE: smtp_dane.c.
 */
#include "smtp.h"
#include "resolve_local.h"
#include "alloc.h"
#include "config.h"
#include "ehlo_discard.h"
#include "known_ports.h"
#include "dns_lookup.h"
#include "dsn_filter.h"
#include "log.h"
#include "maps.h"
#include "params.h"
#include "server.h"
#include "tls_client.h"
#include "tls_param.h"
#include <sys/socket.h>

struct smtp_cfg smtp_cfg;

/* Name of an smtp_* or lmtp_* parameter, by mode. */
#define SMTP_P(smtp_name, lmtp_name) (smtp_cfg.lmtp ? (lmtp_name) : (smtp_name))

static void smtp_load_config(void)
{
    struct smtp_cfg *c = &smtp_cfg;
    c->proto_name = c->lmtp ? "LMTP" : "SMTP";
    c->connect_timeout = cfg_time(SMTP_P(P_SMTP_CONNECT_TIMEOUT, P_LMTP_CONNECT_TIMEOUT));
    c->helo_timeout = cfg_time(SMTP_P(P_SMTP_HELO_TIMEOUT, P_LMTP_LHLO_TIMEOUT));
    c->mail_timeout = cfg_time(SMTP_P(P_SMTP_MAIL_TIMEOUT, P_LMTP_MAIL_TIMEOUT));
    c->rcpt_timeout = cfg_time(SMTP_P(P_SMTP_RCPT_TIMEOUT, P_LMTP_RCPT_TIMEOUT));
    c->data_init_timeout = cfg_time(SMTP_P(P_SMTP_DATA_INIT_TIMEOUT, P_LMTP_DATA_INIT_TIMEOUT));
    c->data_xfer_timeout = cfg_time(SMTP_P(P_SMTP_DATA_XFER_TIMEOUT, P_LMTP_DATA_XFER_TIMEOUT));
    c->data_done_timeout = cfg_time(SMTP_P(P_SMTP_DATA_DONE_TIMEOUT, P_LMTP_DATA_DONE_TIMEOUT));
    c->quit_timeout = cfg_time(SMTP_P(P_SMTP_QUIT_TIMEOUT, P_LMTP_QUIT_TIMEOUT));
    c->starttls_timeout = cfg_time(SMTP_P(P_SMTP_STARTTLS_TIMEOUT, P_LMTP_STARTTLS_TIMEOUT));
    c->xforward_timeout = cfg_time(SMTP_P(P_SMTP_XFORWARD_TIMEOUT, P_LMTP_XFORWARD_TIMEOUT));
    c->rset_timeout = cfg_time(SMTP_P(P_SMTP_RSET_TIMEOUT, P_LMTP_RSET_TIMEOUT));
    c->per_request_deadline = cfg_bool(SMTP_P(P_SMTP_PER_REQUEST_DEADLINE,
                                              P_LMTP_PER_REQUEST_DEADLINE));
    c->min_data_rate = cfg_int(SMTP_P(P_SMTP_MIN_DATA_RATE, P_LMTP_MIN_DATA_RATE));
    c->helo_name = xstrdup(cfg_str(SMTP_P(P_SMTP_HELO_NAME, P_LMTP_LHLO_NAME)));
    c->bind_address = xstrdup(cfg_str(SMTP_P(P_SMTP_BIND_ADDRESS, P_LMTP_BIND_ADDRESS)));
    c->bind_address6 = xstrdup(cfg_str(SMTP_P(P_SMTP_BIND_ADDRESS6, P_LMTP_BIND_ADDRESS6)));
    c->bind_enforce =
        cfg_bool(SMTP_P(P_SMTP_BIND_ADDRESS_ENFORCE, P_LMTP_BIND_ADDRESS_ENFORCE));
    c->fallback_relay = xstrdup(cfg_str(SMTP_P(P_SMTP_FALLBACK_RELAY, P_LMTP_FALLBACK_RELAY)));
    c->line_length_limit = cfg_long(SMTP_P(P_SMTP_LINE_LENGTH_LIMIT, P_LMTP_LINE_LENGTH_LIMIT));
    c->skip_5xx_greeting = cfg_bool(SMTP_P(P_SMTP_SKIP_5XX_GREETING, P_LMTP_SKIP_5XX_GREETING));
    c->send_xforward =
        cfg_bool(SMTP_P(P_SMTP_SEND_XFORWARD_COMMAND, P_LMTP_SEND_XFORWARD_COMMAND));
    c->never_send_ehlo = !c->lmtp && cfg_bool(P_SMTP_NEVER_SEND_EHLO);
    /* No LMTP twin: LHLO is the only greeting an LMTP server knows. */
    c->always_send_ehlo = c->lmtp || cfg_bool(P_SMTP_ALWAYS_SEND_EHLO);
    c->skip_quit_response = cfg_bool(SMTP_P(P_SMTP_SKIP_QUIT_RESPONSE, P_LMTP_SKIP_QUIT_RESPONSE));
    c->quote_envelope =
        cfg_bool(SMTP_P(P_SMTP_QUOTE_RFC821_ENVELOPE, P_LMTP_QUOTE_RFC821_ENVELOPE));
    c->dummy_mail_auth = cfg_bool(SMTP_P(P_SMTP_SEND_DUMMY_MAIL_AUTH, P_LMTP_SEND_DUMMY_MAIL_AUTH));
    const char *dmaps =
        SMTP_P(P_SMTP_DISCARD_EHLO_KEYWORD_ADDRESS_MAPS, P_LMTP_DISCARD_LHLO_KEYWORD_ADDRESS_MAPS);
    c->ehlo_discard = ehlo_discard_new(
        cfg_str(SMTP_P(P_SMTP_DISCARD_EHLO_KEYWORDS, P_LMTP_DISCARD_LHLO_KEYWORDS)), dmaps,
        cfg_str(dmaps));
    const char *filter = SMTP_P(P_SMTP_REPLY_FILTER, P_LMTP_REPLY_FILTER);
    if (*cfg_str(filter))
        c->reply_filter = maps_create(filter, cfg_str(filter), 0);
    const char *vtarget =
        cfg_str(SMTP_P(P_SMTP_ADDRESS_VERIFY_TARGET, P_LMTP_ADDRESS_VERIFY_TARGET));
    if (strcasecmp(vtarget, "data") == 0)
        c->verify_data = true;
    else if (strcasecmp(vtarget, "rcpt") != 0)
        log_fatal("%s: bad value \"%s\" (want rcpt or data)",
                  SMTP_P(P_SMTP_ADDRESS_VERIFY_TARGET, P_LMTP_ADDRESS_VERIFY_TARGET), vtarget);
    c->mx_address_limit = cfg_long(SMTP_P(P_SMTP_MX_ADDRESS_LIMIT, P_LMTP_MX_ADDRESS_LIMIT));
    c->balance_inet =
        cfg_bool(SMTP_P(P_SMTP_BALANCE_INET_PROTOCOLS, P_LMTP_BALANCE_INET_PROTOCOLS));
    c->mx_session_limit = cfg_long(SMTP_P(P_SMTP_MX_SESSION_LIMIT, P_LMTP_MX_SESSION_LIMIT));
    c->randomize_addresses =
        cfg_bool(SMTP_P(P_SMTP_RANDOMIZE_ADDRESSES, P_LMTP_RANDOMIZE_ADDRESSES));
    c->ignore_mx_error = cfg_bool(P_IGNORE_MX_LOOKUP_ERROR);
    const char *pref = cfg_str(SMTP_P(P_SMTP_ADDRESS_PREFERENCE, P_LMTP_ADDRESS_PREFERENCE));
    if (smtp_addr_pref_parse(pref, &c->prefer_family) < 0)
        log_fatal("%s: bad value \"%s\" (want ipv4, ipv6 or any)",
                  SMTP_P(P_SMTP_ADDRESS_PREFERENCE, P_LMTP_ADDRESS_PREFERENCE), pref);
    c->myhostname = xstrdup(cfg_str(P_MYHOSTNAME));
    c->default_port = xstrdup(cfg_str(SMTP_P(P_SMTP_TCP_PORT, P_LMTP_TCP_PORT)));
    if (*c->default_port == 0) {
        xfree(c->default_port);
        c->default_port = xstrdup(c->lmtp ? "24" : "smtp");
    }
    c->known_ports = known_ports_load();
    c->windowsize = cfg_int(P_TCP_WINDOWSIZE);
    /* No SMTP twin: an SMTP server without DSN is always a relay. */
    c->assume_final = c->lmtp && cfg_bool(P_LMTP_ASSUME_FINAL);

    /* DNS: disable_dns_lookups (old), smtp_host_lookup, smtp_dns_support_level. */
    const char *lookup = cfg_str(SMTP_P(P_SMTP_HOST_LOOKUP, P_LMTP_HOST_LOOKUP));
    const char *level = cfg_str(SMTP_P(P_SMTP_DNS_SUPPORT_LEVEL, P_LMTP_DNS_SUPPORT_LEVEL));
    c->dns_enabled = !cfg_bool(P_DISABLE_DNS_LOOKUPS) && strstr(lookup, "dns") != NULL
                     && strcasecmp(level, "disabled") != 0;
    c->defer_no_mx_address =
        cfg_bool(SMTP_P(P_SMTP_DEFER_IF_NO_MX_ADDRESS_FOUND, P_LMTP_DEFER_IF_NO_MX_ADDRESS_FOUND));

    cfg_inet_protocols(cfg_str(P_INET_PROTOCOLS), &c->want_ipv4, &c->want_ipv6);

    /* TLS: the level and its settings, the policy table (smtp_tls_policy.c). */
    smtp_tls_policy_default(c);
    c->tls_ca_file = xstrdup(cfg_str(SMTP_P(P_SMTP_TLS_CAFILE, P_LMTP_TLS_CAFILE)));
    c->tls_verify_depth =
        cfg_long(SMTP_P(P_SMTP_TLS_SCERT_VERIFYDEPTH, P_LMTP_TLS_SCERT_VERIFYDEPTH));
    c->tls_ca_path = xstrdup(cfg_str(SMTP_P(P_SMTP_TLS_CAPATH, P_LMTP_TLS_CAPATH)));
    c->tls_cert_file = xstrdup(cfg_str(SMTP_P(P_SMTP_TLS_CERT_FILE, P_LMTP_TLS_CERT_FILE)));
    c->tls_key_file = xstrdup(cfg_str(SMTP_P(P_SMTP_TLS_KEY_FILE, P_LMTP_TLS_KEY_FILE)));
    c->tls_eccert_file = xstrdup(cfg_str(SMTP_P(P_SMTP_TLS_ECCERT_FILE, P_LMTP_TLS_ECCERT_FILE)));
    c->tls_eckey_file = xstrdup(cfg_str(SMTP_P(P_SMTP_TLS_ECKEY_FILE, P_LMTP_TLS_ECKEY_FILE)));
    c->tls_dcert_file = xstrdup(cfg_str(SMTP_P(P_SMTP_TLS_DCERT_FILE, P_LMTP_TLS_DCERT_FILE)));
    c->tls_dkey_file = xstrdup(cfg_str(SMTP_P(P_SMTP_TLS_DKEY_FILE, P_LMTP_TLS_DKEY_FILE)));
    c->tls_chain_files = xstrdup(cfg_str(SMTP_P(P_SMTP_TLS_CHAIN_FILES, P_LMTP_TLS_CHAIN_FILES)));
    c->tls_loglevel = cfg_int(SMTP_P(P_SMTP_TLS_LOGLEVEL, P_LMTP_TLS_LOGLEVEL));
    c->tls_note_offer =
        cfg_bool(SMTP_P(P_SMTP_TLS_NOTE_STARTTLS_OFFER, P_LMTP_TLS_NOTE_STARTTLS_OFFER));
    c->tls_reuse = cfg_bool(SMTP_P(P_SMTP_TLS_CONNECTION_REUSE, P_LMTP_TLS_CONNECTION_REUSE));
    c->tlsproxy_service = xstrdup(cfg_str(P_TLSPROXY_SERVICE_NAME));
}

/* Still privileged: read the configuration, load CA files and keys. */
static void smtp_pre_jail(void)
{
    smtp_load_config();
    const char *filter = SMTP_P(P_SMTP_DELIVERY_STATUS_FILTER, P_LMTP_DELIVERY_STATUS_FILTER);
    smtp_cfg.status_filter = dsn_filter_new(filter, cfg_str(filter));
    smtp_checks_load(smtp_cfg.lmtp);
    smtp_generic_load(smtp_cfg.lmtp);
    resolve_local_addresses_init();     /* MX hosts that are this host */
    /* Every DNS lookup of this process (lib/mail/dns_lookup.c: MX, the
     * addresses when filtering, DANE) passes its records through the filter. */
    const char *dfilter = SMTP_P(P_SMTP_DNS_REPLY_FILTER, P_LMTP_DNS_REPLY_FILTER);
    if (*cfg_str(dfilter)) {
        smtp_cfg.dns_reply_filter = maps_create(dfilter, cfg_str(dfilter), DICT_F_FOLD);
        dns_reply_filter_set(smtp_cfg.dns_reply_filter);
    }
    smtp_cache_load(&smtp_cfg);
    smtp_sasl_load(smtp_cfg.lmtp);
    if (smtp_cfg.tls_default.level != SMTP_TLS_NONE || smtp_tls_policy_active()) {
        struct tls_client_opts o = {
            .ca_file = smtp_cfg.tls_ca_file,
            .append_default_ca = cfg_bool(P_TLS_APPEND_DEFAULT_CA),
            .ca_path = smtp_cfg.tls_ca_path,
            .cert_file = smtp_cfg.tls_cert_file,
            .key_file = smtp_cfg.tls_key_file,
            .eccert_file = smtp_cfg.tls_eccert_file,
            .eckey_file = smtp_cfg.tls_eckey_file,
            .dcert_file = smtp_cfg.tls_dcert_file,
            .dkey_file = smtp_cfg.tls_dkey_file,
            .chain_files = smtp_cfg.tls_chain_files,
            .dane_digests = cfg_str(P_TLS_DANE_DIGESTS),
            .cache = smtp_tls_cache_ops(),
            .fingerprint_digest =
                cfg_str(SMTP_P(P_SMTP_TLS_FINGERPRINT_DIGEST, P_LMTP_TLS_FINGERPRINT_DIGEST)),
            .ssl_options = tls_param_ssl_options(),
            .verify_depth = (int)smtp_cfg.tls_verify_depth,
            .wildcard_multi_label = cfg_bool(P_TLS_WILDCARD_MATCHES_MULTIPLE_LABELS),
        };
        struct sbuf *why = sbuf_new(128);
        smtp_cfg.tls_ctx = tls_client_ctx_new(&o, why);
        if (smtp_cfg.tls_ctx == NULL)
            log_warn("TLS client initialization failed: %s; %s", sbuf_str(why),
                     smtp_cfg.tls_default.level >= SMTP_TLS_ENCRYPT || smtp_tls_policy_active()
                         ? "mail that requires TLS will be deferred"
                         : "sending without TLS");
        sbuf_free(why);
    }
    srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 8));
}

/* The TLS policy of destination d: *out points at the table's entry (kept
 * in *own) or the default. -1 when the destination must be deferred (the
 * error is remembered in st; its addresses are not used). */
static int smtp_tls_dest_policy(const struct smtp_dest *d, struct smtp_tls_policy *own,
                                const struct smtp_tls_policy **out, struct smtp_state *st,
                                struct sbuf *why)
{
    int pr = smtp_tls_policy_lookup(d, smtp_cfg.default_port, own, why);
    *out = pr == 0 ? own : &smtp_cfg.tls_default;
    if (pr >= 0 && (*out)->level == SMTP_TLS_UNAVAILABLE) {
        sbuf_set(why, "");
        sbuf_printf(why, "TLS is required, but TLS level \"%s\" is not supported",
                    (*out)->level_name);
        pr = -1;
    } else if (pr >= 0 && (*out)->level == SMTP_TLS_FINGERPRINT
               && ((*out)->match == NULL || (*out)->match[0] == NULL)) {
        /* Nothing could match: Postfix calls this a configuration problem
         * (warned when the policy was built). */
        sbuf_set(why, "client TLS configuration problem");
        pr = -1;
    }
    if (pr < 0) {
        log_info("%s: %s: %s", st->req->queue_id, d->host, sbuf_str(why));
        sbuf_set(st->last_dsn, "4.7.5");
        sbuf_set(st->last_reason, sbuf_str(why));
        smtp_forget_reply(st);
        return -1;
    }
    return 0;
}

/* The servers of one next-hop list: its destinations' TLS policies and
 * addresses, in the order to try them. */
struct smtp_hops {
    struct smtp_dest *dests;
    int ndest;
    struct smtp_tls_policy *policies;
    struct smtp_addr *addrs;
    size_t naddr;
    bool cacheable;         /* every destination's policy allows caching */
    struct sbuf *tag;       /* their TLS levels, for cache labels */
};

static void smtp_hops_free(struct smtp_hops *h)
{
    for (int i = 0; h->policies && i < h->ndest; i++)
        smtp_tls_policy_free(&h->policies[i]);
    xfree(h->policies);
    smtp_dest_list_free(h->dests, h->ndest > 0 ? h->ndest : 0);
    smtp_addr_list_free(h->addrs, h->naddr);
    sbuf_free(h->tag);
    memset(h, 0, sizeof(*h));
}

/* Parses the list text; when connections may be cached, also finds the
 * TLS policy of each destination for the cache labels. Returns 0, or -1
 * when the list does not parse (logged). */
static int smtp_hops_parse(struct smtp_state *st, const char *text, struct smtp_hops *h,
                           struct sbuf *why)
{
    memset(h, 0, sizeof(*h));
    h->tag = sbuf_new(32);
    h->ndest = smtp_dest_list_parse(text, smtp_cfg.lmtp, smtp_cfg.default_port, &h->dests, why);
    if (h->ndest < 0) {
        log_warn("%s: bad next-hop destination \"%s\": %s", st->req->queue_id, text,
                 sbuf_str(why));
        return -1;
    }
    h->policies = xcalloc((size_t)h->ndest, sizeof(*h->policies));
    /* With the per-site table a server's policy may differ from its next
     * hop's: no connection is reused under the next hop's name. */
    h->cacheable = st->cache && !smtp_tls_site_active();
    for (int i = 0; st->cache && i < h->ndest; i++) {
        /* smtp_tls_policy_maps: this destination's TLS policy. */
        const struct smtp_tls_policy *pol = NULL;
        int pr = smtp_tls_policy_lookup(&h->dests[i], smtp_cfg.default_port, &h->policies[i],
                                        why);
        pol = pr == 0 ? &h->policies[i] : &smtp_cfg.tls_default;
        if (!smtp_cache_policy_ok(pol))
            h->cacheable = false;
        if (i)
            sbuf_addch(h->tag, ',');
        smtp_cache_policy_tag(h->tag, pol);
    }
    return 0;
}

/* smtp_tls_per_site: the servers h->addrs[first..] found for one next hop
 * (policy pol) may have entries of their own (by MX name). A server whose
 * entry cannot be used is left out, its reason kept for the deferral. */
static void smtp_hops_site_hosts(struct smtp_state *st, struct smtp_hops *h, size_t first,
                                 const struct smtp_tls_policy *pol)
{
    struct sbuf *why = sbuf_new(64);
    for (size_t k = first; k < h->naddr;) {
        struct smtp_addr *a = &h->addrs[k];
        struct smtp_tls_policy own;
        sbuf_set(why, "");
        int r = smtp_tls_site_host(a->nexthop, a->host, pol, &own, why);
        if (r == 0) {
            a->tls_own = xmalloc(sizeof(*a->tls_own));
            *a->tls_own = own;
            a->tls = a->tls_own;
        } else if (r < 0) {
            log_info("%s: %s: %s", st->req->queue_id, a->host, sbuf_str(why));
            sbuf_set(st->last_dsn, "4.7.5");
            sbuf_set(st->last_reason, sbuf_str(why));
            smtp_forget_reply(st);
            smtp_addr_clear(a);
            memmove(a, a + 1, (h->naddr - k - 1) * sizeof(*a));
            h->naddr--;
            continue;
        }
        k++;
    }
    sbuf_free(why);
}

/* Looks up the servers of every destination in h (the TLS policy decides
 * first: a destination that must be deferred gets none). Returns true when
 * every lookup that failed failed for good (5.x.x). */
static bool smtp_hops_lookup(struct smtp_state *st, struct smtp_hops *h, struct sbuf *why,
                             struct sbuf *dsn)
{
    bool lookup_failed_hard = true;
    for (int i = 0; i < h->ndest; i++) {
        const struct smtp_tls_policy *pol = NULL;
        smtp_tls_policy_free(&h->policies[i]);
        if (smtp_tls_dest_policy(&h->dests[i], &h->policies[i], &pol, st, why) < 0)
            continue;   /* last_dsn 4.7.5: deferred unless another works */
        size_t first = h->naddr;
        int lr = smtp_dns_lookup(&smtp_cfg, &h->dests[i], &h->addrs, &h->naddr, dsn, why);
        /* Each server found for this destination gets its TLS policy and
         * the next-hop domain: what the secure level matches certificates
         * against (never the MX name, which comes from unauthenticated
         * DNS), and the SASL password key. */
        for (size_t k = first; k < h->naddr; k++) {
            h->addrs[k].tls = pol;
            h->addrs[k].nexthop = xstrdup(h->dests[i].host);
            h->addrs[k].dest =
                smtp_sasl_dest_key(&h->dests[i], smtp_cfg.lmtp, smtp_cfg.default_port);
        }
        if (smtp_tls_site_active())
            smtp_hops_site_hosts(st, h, first, pol);
        if (lr < 0) {
            sbuf_set(st->last_dsn, sbuf_str(dsn));
            sbuf_set(st->last_reason, sbuf_str(why));
            smtp_forget_reply(st);
            if (sbuf_str(dsn)[0] != '5')
                lookup_failed_hard = false;
        }
    }
    return lookup_failed_hard;
}

/* One conversation with server a: on a cached connection when there is
 * one (a stale or failing one costs nothing: a fresh connection follows),
 * else on a new one. nexthop/tag: save the connection under the next hop
 * too (the first server of the request's next hop). Returns the session
 * result, or -1 when no connection could be made (why filled). */
static int smtp_try_addr(struct smtp_state *st, const struct smtp_addr *a, bool final,
                         const char *nexthop, const char *tag, struct sbuf *why)
{
    struct smtp_conn conn = { .fd = -1 };
    bool cache = st->cache && smtp_cache_policy_ok(a->tls);
    if (cache && smtp_cache_find_endp(a, &conn) == 0) {
        /* Not final: whatever this old connection leaves open gets a
         * fresh connection to the same server. */
        enum smtp_sess_result res = smtp_session(st, &conn, a, false);
        smtp_cache_release(&conn, a, nexthop, tag);
        if (res == SMTP_SESS_DONE)
            return res;
    }
    memset(&conn, 0, sizeof(conn));
    conn.fd = smtp_connect(&smtp_cfg, a, why);
    if (conn.fd < 0)
        return -1;
    conn.started = time(NULL);
    st->cache = cache;
    enum smtp_sess_result res = smtp_session(st, &conn, a, final);
    smtp_cache_release(&conn, a, nexthop, tag);
    return (int)res;
}

/* Tries the servers of h in order until every recipient is final: at most
 * $smtp_mx_address_limit addresses and $smtp_mx_session_limit
 * conversations. more says other next hops follow (the last server here is
 * then not final). primary: h is the request's own next hop (its first
 * server's connection may be cached under it). */
static void smtp_hops_deliver(struct smtp_state *st, struct smtp_hops *h, bool more,
                              bool primary, struct sbuf *why)
{
    size_t limit = smtp_cfg.mx_address_limit > 0 ? (size_t)smtp_cfg.mx_address_limit : h->naddr;
    if (limit > h->naddr)
        limit = h->naddr;
    long sessions = 0;
    bool cache_all = st->cache;
    for (size_t i = 0; i < limit && st->pending > 0; i++) {
        bool final = !more && (i + 1 == limit
                               || (smtp_cfg.mx_session_limit > 0
                                   && sessions + 1 >= smtp_cfg.mx_session_limit));
        const char *by_dest = primary && i == 0 && h->cacheable ? st->req->nexthop : NULL;
        st->cache = cache_all;
        int res = smtp_try_addr(st, &h->addrs[i], final, by_dest, sbuf_str(h->tag), why);
        st->cache = cache_all;
        if (res < 0) {
            log_info("%s: %s", st->req->queue_id, sbuf_str(why));
            sbuf_set(st->last_dsn, "4.4.1");
            sbuf_set(st->last_reason, sbuf_str(why));
            smtp_forget_reply(st);
            continue;
        }
        sessions++;
        if (res == SMTP_SESS_DONE
            || (smtp_cfg.mx_session_limit > 0 && sessions >= smtp_cfg.mx_session_limit))
            break;
    }
}

static void smtp_service(struct stream *client)
{
    struct deliver_request *r = deliver_request_read(client, "none", smtp_cfg.status_filter);
    if (r == NULL)
        return;
    struct smtp_state st = {
        .req = r,
        .rcpt_state = xcalloc(r->nrcpt + 1, sizeof(enum smtp_rcpt_state)),
        .pending = r->nrcpt,
        .last_dsn = sbuf_new(16),
        .last_reason = sbuf_new(128),
        .last_mta = sbuf_new(64),
        .last_diag = sbuf_new(128),
    };
    long size = 0;
    if (attr_get_long(r->attrs, "content_size", &size) == 0 && size > 0)
        st.msg_size = size;

    struct sbuf *why = sbuf_new(128), *dsn = sbuf_new(16);
    struct smtp_hops hops = { 0 }, fallback = { 0 };
    if (smtp_cfg.tls_default.level == SMTP_TLS_UNAVAILABLE && !smtp_tls_policy_active()) {
        /* Required security we cannot provide: never send with less. */
        sbuf_printf(why, "TLS is required, but %s_tls_security_level = %s is not supported",
                    smtp_cfg.lmtp ? "lmtp" : "smtp", smtp_cfg.tls_default.level_name);
        smtp_fail_pending(&st, "none", "4.7.5", sbuf_str(why));
        deliver_hop_fail(r, "4.7.5", sbuf_str(why));
        goto done;
    }
    st.cache = smtp_cache_wanted(r);
    if (smtp_hops_parse(&st, r->nexthop, &hops, why) < 0) {
        smtp_fail_pending(&st, "none", "4.3.5", "mail transport configuration error");
        deliver_hop_fail(r, "4.3.5", "mail transport configuration error");
        goto done;
    }

    /* A cached connection to this next hop saves the lookups too. */
    if (st.cache && hops.cacheable) {
        struct smtp_conn conn = { .fd = -1 };
        struct smtp_addr *ca = smtp_cache_find_dest(r->nexthop, sbuf_str(hops.tag), &conn);
        if (ca) {
            /* The TLS policy of the destination this server was found
             * for (the label's tag matched all of them): the session's
             * level and checks depend on it. */
            for (int i = 0; i < hops.ndest && ca->dest; i++) {
                char *key = smtp_sasl_dest_key(&hops.dests[i], smtp_cfg.lmtp,
                                               smtp_cfg.default_port);
                if (strcmp(key, ca->dest) == 0 && hops.policies[i].level_name)
                    ca->tls = &hops.policies[i];
                xfree(key);
                if (ca->tls)
                    break;
            }
            /* Not final: what it leaves open goes the normal way. */
            smtp_session(&st, &conn, ca, false);
            smtp_cache_release(&conn, ca, r->nexthop, sbuf_str(hops.tag));
            smtp_addr_list_free(ca, 1);
        }
    }

    bool have_fallback = *smtp_cfg.fallback_relay != 0;
    bool lookup_failed_hard = true;
    if (st.pending > 0) {
        lookup_failed_hard = smtp_hops_lookup(&st, &hops, why, dsn);
        smtp_hops_deliver(&st, &hops, have_fallback, true, why);
    }
    /* smtp_fallback_relay: where mail goes when the real next hop cannot
     * be found or reached (soft errors only: a 5xx was final). */
    if (st.pending > 0 && have_fallback) {
        if (smtp_hops_parse(&st, smtp_cfg.fallback_relay, &fallback, why) == 0) {
            bool hard = smtp_hops_lookup(&st, &fallback, why, dsn);
            if (fallback.naddr > 0 || hops.naddr > 0)
                lookup_failed_hard = false;
            else
                lookup_failed_hard = lookup_failed_hard && hard;
            smtp_hops_deliver(&st, &fallback, false, false, why);
        }
    }
    if (st.pending > 0 && hops.naddr == 0 && fallback.naddr == 0) {
        /* Nothing to connect to: the lookup error decides (5.4.4 bounces).
         * A soft one keeps its own code (4.7.0: the DNS reply filter,
         * 4.4.4: *_defer_if_no_mx_address_found), a mix of hard and soft
         * errors is 4.4.3. */
        const char *last = sbuf_str(st.last_dsn);
        const char *d =
            sbuf_len(st.last_dsn) && (lookup_failed_hard || last[0] == '4') ? last : "4.4.3";
        smtp_fail_pending(&st, "none", d, sbuf_str(st.last_reason));
        if (d[0] == '4')
            deliver_hop_fail(r, d, sbuf_str(st.last_reason));
        goto done;
    }
    if (st.pending > 0) {
        const char *d = sbuf_len(st.last_dsn) ? sbuf_str(st.last_dsn) : "4.4.1";
        const char *why_text = sbuf_len(st.last_reason) ? sbuf_str(st.last_reason)
                                                        : "delivery temporarily suspended";
        /* Leftovers are never bounced: the last server's 5xx was final. */
        if (d[0] == '5')
            d = "4.4.1";
        smtp_fail_pending(&st, "none", d, why_text);
        /* No server got past its greeting: the destination is the problem. */
        if (!st.any_session)
            deliver_hop_fail(r, d, why_text);
    }
done:
    smtp_hops_free(&hops);
    smtp_hops_free(&fallback);
    sbuf_free(why);
    sbuf_free(dsn);
    sbuf_free(st.last_dsn);
    sbuf_free(st.last_reason);
    sbuf_free(st.last_mta);
    sbuf_free(st.last_diag);
    xfree(st.rcpt_state);
    deliver_request_done(client, r);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .model = SERVER_SINGLE,
        .pre_jail = smtp_pre_jail,
        .service = smtp_service,
        .idle_due = smtp_cache_idle_due,
        .idle = smtp_cache_idle,
        .on_exit = smtp_cache_flush,
    };
    /* Postfix rule: the program called "smtp" speaks SMTP, any other name
     * (normally "lmtp") speaks LMTP. */
    const char *slash = strrchr(argv[0], '/');
    smtp_cfg.lmtp = strcmp(slash ? slash + 1 : argv[0], "smtp") != 0;
    return server_main(argc, argv, &ops);
}
