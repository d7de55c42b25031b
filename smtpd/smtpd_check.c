/*
 * smtpd_check.c - access restrictions and relay control
 *
 * Used by: smtpd_cmd.c (HELO, MAIL, RCPT, DATA, VRFY, ETRN), smtpd_data.c
 *          (end of data, actions handed to cleanup), smtpd.c (start-up,
 *          transaction reset, session end).
 * Interface: smtpd_check_init(), smtpd_check_client(), smtpd_check_helo(),
 *            smtpd_check_mail(), smtpd_check_rcpt(), smtpd_check_data(),
 *            smtpd_check_eod(), smtpd_check_etrn(), smtpd_check_vrfy(),
 *            smtpd_check_parse(), smtpd_check_reset(),
 *            smtpd_check_session_end(), smtpd_check_envelope(),
 *            smtpd_check_headers(), smtpd_check_eod_records(); internals for
 *            smtpd_access.c, smtpd_ccert.c, smtpd_dnsaccess.c, smtpd_dnsbl.c,
 *            smtpd_policy.c, smtpd_mxbackup.c in smtpd_check.h.
 * Errors: an unknown restriction name is a configuration error: logged as
 *         a warning and answered "451 4.3.5 Server configuration error".
 *         A failed table or rewrite lookup answers 451 4.3.0 (try later);
 *         a failed DNS lookup never permits.
 * Notes: Postfix's evaluation rules. Each smtpd_*_restrictions list is
 *        evaluated left to right: a restriction that permits (OK) ends that
 *        list only and evaluation goes on with the next list; one that
 *        rejects ends the whole check; DUNNO goes on. With
 *        smtpd_delay_reject (default) the client, helo and sender lists run
 *        again at RCPT time. defer_if_permit is remembered and turns a final
 *        "accept" into 450; defer_if_reject turns a later 5xx into 450.
 *        warn_if_reject makes the next restriction log instead of reject.
 *        smtpd_restriction_classes names parameters whose values are lists
 *        usable as a single restriction (and as access-map results).
 *        After the lists pass (and unless a defer_if_permit is pending),
 *        smtpd_reject_unlisted_recipient rejects recipients unknown in
 *        local_recipient_maps, virtual_alias_maps, virtual_mailbox_maps or
 *        relay_recipient_maps, by address class; smtpd_reject_unlisted_sender
 *        does the same for the sender after the sender list.
 */
#include "smtpd_check.h"
#include "smtpd_sasl.h"
#include "smtpd_restrictions.h"
#include "alloc.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "deliver_request.h"
#include "dict.h"
#include "dns_lookup.h"
#include "hostname.h"
#include "log.h"
#include "maps.h"
#include "mynetworks.h"
#include "name_list.h"
#include "params.h"
#include "qfile.h"
#include "resolve_local.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <poll.h>
#include <strings.h>
#include <time.h>

#define SMTPD_CHECK_MAX_DEPTH 20

static struct {
    char **eod_restr, **etrn_restr;
    char **classes;
    int unk_client_code, unk_name_code, unk_addr_code, bad_name_code, access_defer_code;
    int unk_sender_tf, unk_helo_tf;     /* tempfail action: 1 defer_if_permit, 0 defer */
    bool mxbackup_used;                 /* permit_mx_backup is in a list */
    bool relay_first;                   /* smtpd_relay_before_recipient_restrictions */
    struct name_list *permit_log;       /* smtpd_log_access_permit_actions */
    bool inited;
} smtpd_chk;

/* ---- helpers ---------------------------------------------------------- */

const char *smtpd_stage_what(enum smtpd_stage s)
{
    switch (s) {
    case SMTPD_STAGE_CLIENT: return "Client host";
    case SMTPD_STAGE_REV_CLIENT: return "Unverified Client host";
    case SMTPD_STAGE_HELO: return "Helo command";
    case SMTPD_STAGE_SENDER: return "Sender address";
    case SMTPD_STAGE_DATA: return "Data command";
    case SMTPD_STAGE_EOD: return "End-of-data";
    case SMTPD_STAGE_ETRN: return "Etrn command";
    case SMTPD_STAGE_CCERT: return "Client certificate";
    default: return "Recipient address";
    }
}

void smtpd_stage_subject(struct smtpd_check_ctx *c, enum smtpd_stage s, struct sbuf *out)
{
    struct smtpd_state *st = c->st;
    switch (s) {
    case SMTPD_STAGE_CLIENT:
    case SMTPD_STAGE_REV_CLIENT:
        sbuf_set(out, st->namaddr);
        break;
    case SMTPD_STAGE_HELO:
        sbuf_set(out, st->helo_name ? st->helo_name : "");
        break;
    case SMTPD_STAGE_SENDER:
        smtpd_addr_quote(out, st->sender ? st->sender : "");
        break;
    case SMTPD_STAGE_DATA:
        sbuf_set(out, "DATA");
        break;
    case SMTPD_STAGE_EOD:
        sbuf_set(out, "END-OF-MESSAGE");
        break;
    case SMTPD_STAGE_ETRN:
        sbuf_set(out, c->etrn_domain ? c->etrn_domain : "");
        break;
    case SMTPD_STAGE_CCERT:
        sbuf_set(out, st->tls_ccert_subject);   /* printable (tls_common_cn()) */
        break;
    default:
        smtpd_addr_quote(out, c->rcpt ? c->rcpt : "");
        break;
    }
}

struct smtpd_check_state *smtpd_check_state(struct smtpd_state *st)
{
    if (st->chk == NULL) {
        st->chk = xcalloc(1, sizeof(*st->chk));
        st->chk->prepend = sbuf_new(64);
    }
    return st->chk;
}

void smtpd_check_log(struct smtpd_check_ctx *c, const char *kind, const char *text)
{
    smtpd_log_reject(c->st, kind, c->cmd, text, c->rcpt);
}

void smtpd_permit_log(struct smtpd_check_ctx *c, enum smtpd_stage subj, const char *action,
                      const char *origin)
{
    c->permit_logged = true;
    /* A pending defer_if_permit overrules the permit: nothing to log. */
    if (c->dip.active || smtpd_chk.permit_log == NULL
        || name_list_match(smtpd_chk.permit_log, action) != 1)
        return;
    struct sbuf *s = sbuf_new(64), *t = sbuf_new(128);
    smtpd_stage_subject(c, subj, s);
    sbuf_printf(t, "action=%s for %s=%s", action, smtpd_stage_what(subj), sbuf_str(s));
    if (origin)
        sbuf_catf(t, " from %s", origin);
    smtpd_check_log(c, "permit", sbuf_str(t));
    sbuf_free(s);
    sbuf_free(t);
}

/* Whose permit a permit_* restriction is, for its log line: the client's
 * (permit_mynetworks, permit_sasl_authenticated, permit_dnswl_client...),
 * the recipient's (permit_auth_destination, permit_mx_backup), or else the
 * subject of the list it is in ("permit"). */
static enum smtpd_stage smtpd_permit_subject(const struct smtpd_check_ctx *c, const char *name)
{
    if (strstr(name, "client") || strstr(name, "mynetworks") || strstr(name, "sasl")
        || strstr(name, "inet_interfaces"))
        return SMTPD_STAGE_CLIENT;
    if (strstr(name, "destination") || strstr(name, "mx_backup"))
        return SMTPD_STAGE_RCPT;
    return c->stage;
}

/* The enhanced code with its class digit made to agree with code. */
static void smtpd_fix_dsn(char *buf, size_t size, const char *dsn, int code)
{
    strlcpy(buf, dsn, size);
    buf[0] = code >= 500 ? '5' : '4';
}

enum smtpd_verdict smtpd_reject_raw(struct smtpd_check_ctx *c, int code, const char *dsn,
                                    const char *text)
{
    char dsnbuf[16];
    struct sbuf *line = sbuf_new(256);
    /* defer_if_reject: a later hard reject becomes the remembered 4xx. */
    if (code >= 500 && c->dir.active && !c->warn_only) {
        sbuf_set(line, sbuf_str(c->dir.reply));
        code = c->dir.code;
    } else {
        smtpd_fix_dsn(dsnbuf, sizeof(dsnbuf), dsn, code);
        sbuf_printf(line, "%d %s %s", code, dsnbuf, text);
    }
    if (c->warn_only) {
        c->warn_only = false;
        smtpd_log_reject(c->st, "reject_warning", c->cmd, sbuf_str(line), c->rcpt);
        sbuf_free(line);
        return SMTPD_DUNNO;
    }
    sbuf_set(c->reply, sbuf_str(line));
    c->code = code;
    sbuf_free(line);
    return SMTPD_REJECT;
}

enum smtpd_verdict smtpd_reject(struct smtpd_check_ctx *c, enum smtpd_stage subj, int code,
                                const char *dsn, const char *what, const char *text)
{
    struct sbuf *s = sbuf_new(128);
    struct sbuf *t = sbuf_new(256);
    smtpd_stage_subject(c, subj, s);
    if (what)
        sbuf_printf(t, "<%s>: %s rejected: %s", sbuf_str(s), what, text);
    else
        sbuf_printf(t, "<%s>: %s", sbuf_str(s), text);
    enum smtpd_verdict v = smtpd_reject_raw(c, code, dsn, sbuf_str(t));
    sbuf_free(s);
    sbuf_free(t);
    return v;
}

void smtpd_delay(struct smtpd_check_ctx *c, bool dip, int code, const char *dsn,
                 enum smtpd_stage subj, const char *text)
{
    struct smtpd_delayed *d = dip ? &c->dip : &c->dir;
    struct sbuf *s = sbuf_new(128);
    char dsnbuf[16];
    smtpd_stage_subject(c, subj, s);
    smtpd_fix_dsn(dsnbuf, sizeof(dsnbuf), dsn, code);
    if (d->reply == NULL)
        d->reply = sbuf_new(128);
    if (!d->active) {       /* the first one counts */
        sbuf_printf(d->reply, "%d %s <%s>: %s rejected: %s", code, dsnbuf, sbuf_str(s),
                    smtpd_stage_what(subj), text);
        d->code = code;
        d->active = true;
    }
    sbuf_free(s);
}

enum smtpd_verdict smtpd_temp_lookup_failure(struct smtpd_check_ctx *c, enum smtpd_stage s)
{
    c->warn_only = false;
    return smtpd_reject(c, s, 451, "4.3.0", NULL, "Temporary lookup failure");
}

bool smtpd_check_addr_syntax(const char *sender, const char *addr)
{
    static struct resolve_reply res;    /* one for the process: no allocation per command */
    if (res.recipient == NULL)
        resolve_reply_init(&res);
    return rewrite_clnt_resolve(sender, addr, &res) == 0 &&
           (res.flags & (RESOLVE_FLAG_ERROR | RESOLVE_FLAG_FAIL)) == RESOLVE_FLAG_ERROR;
}

static bool smtpd_resolve_rcpt(struct smtpd_check_ctx *c)
{
    if (!c->resolved) {
        if (rewrite_clnt_resolve(c->st->sender ? c->st->sender : "", c->rcpt, &c->res) < 0)
            c->res.flags |= RESOLVE_FLAG_FAIL;
        c->resolved = true;
    }
    return !(c->res.flags & RESOLVE_FLAG_FAIL);
}

/* True when the domain part is fully qualified (has a dot, or is a literal). */
static bool smtpd_fqdn_addr(const char *addr)
{
    const char *at = strrchr(addr, '@');
    if (at == NULL || at[1] == 0)
        return false;
    if (at[1] == '[')
        return true;
    const char *dot = strchr(at + 1, '.');
    return dot && dot[1] != 0 && dot != at + 1;
}

static bool smtpd_fqdn_host(const char *h)
{
    if (h[0] == '[')
        return true;
    const char *dot = strchr(h, '.');
    return dot && dot != h && dot[1] != 0;
}

/* A syntactically valid host name or [address literal]. */
static bool smtpd_valid_hostname(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 255)
        return false;
    if (h[0] == '[') {
        if (h[n - 1] != ']' || n > 60)
            return false;
        char buf[64];
        unsigned char bin[16];
        strlcpy(buf, h + 1, sizeof(buf));
        buf[n - 2] = 0;
        const char *a = strncasecmp(buf, "IPv6:", 5) == 0 ? buf + 5 : buf;
        return inet_pton(strchr(a, ':') ? AF_INET6 : AF_INET, a, bin) == 1;
    }
    return hostname_valid(h, false);
}

static const char *smtpd_domain_of(const char *addr)
{
    const char *at = strrchr(addr, '@');
    return at ? at + 1 : "";
}

/* ---- restrictions ----------------------------------------------------- */

typedef enum smtpd_verdict (*smtpd_restriction_fn)(struct smtpd_check_ctx *c, const char *arg);

static enum smtpd_verdict r_permit(struct smtpd_check_ctx *c, const char *arg)
{
    (void)c;
    (void)arg;
    return SMTPD_PERMIT;
}

static enum smtpd_verdict r_reject(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    return smtpd_reject(c, c->stage, smtpd_cfg.reject_code, "5.7.1", smtpd_stage_what(c->stage),
                        "Access denied");
}

static enum smtpd_verdict r_defer(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    return smtpd_reject(c, c->stage, smtpd_cfg.defer_code, "4.3.2", smtpd_stage_what(c->stage),
                        "Try again later");
}

static enum smtpd_verdict r_defer_if_permit(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    smtpd_delay(c, true, smtpd_cfg.defer_code, "4.7.1", c->stage, "defer_if_permit requested");
    return SMTPD_DUNNO;
}

static enum smtpd_verdict r_defer_if_reject(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    smtpd_delay(c, false, smtpd_cfg.defer_code, "4.7.1", c->stage, "defer_if_reject requested");
    return SMTPD_DUNNO;
}

static enum smtpd_verdict r_permit_mynetworks(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    return smtpd_client_in_mynetworks(c->st) ? SMTPD_PERMIT : SMTPD_DUNNO;
}

static enum smtpd_verdict r_permit_sasl(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    return smtpd_sasl_permit(c);
}

int smtpd_auth_dest(struct smtpd_check_ctx *c)
{
    if (!smtpd_resolve_rcpt(c))
        return -1;
    if (strcmp(c->res.class_, "default") == 0)
        return 0;
    /* Sender-specified routing (user%host@ours) may not relay. */
    if ((c->res.flags & RESOLVE_FLAG_ROUTED) && !smtpd_cfg.allow_untrusted_routing)
        return 0;
    return 1;
}

static enum smtpd_verdict smtpd_unauth_dest(struct smtpd_check_ctx *c, bool defer)
{
    if (c->rcpt == NULL)
        return SMTPD_DUNNO;
    int ours = smtpd_auth_dest(c);
    if (ours < 0)
        return smtpd_temp_lookup_failure(c, SMTPD_STAGE_RCPT);
    if (ours > 0)
        return SMTPD_DUNNO;
    if (defer)
        return smtpd_reject(c, SMTPD_STAGE_RCPT, 454, "4.7.1", NULL, "Relay access denied");
    return smtpd_reject(c, SMTPD_STAGE_RCPT, smtpd_cfg.relay_code, "5.7.1", NULL,
                        "Relay access denied");
}

static enum smtpd_verdict r_reject_unauth_dest(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    return smtpd_unauth_dest(c, false);
}

static enum smtpd_verdict r_defer_unauth_dest(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    return smtpd_unauth_dest(c, true);
}

static enum smtpd_verdict r_permit_auth_dest(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (c->rcpt == NULL)
        return SMTPD_DUNNO;
    int ours = smtpd_auth_dest(c);
    if (ours < 0)
        return smtpd_temp_lookup_failure(c, SMTPD_STAGE_RCPT);
    return ours > 0 ? SMTPD_PERMIT : SMTPD_DUNNO;
}

static enum smtpd_verdict r_reject_unauth_pipelining(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    bool bad;
    if (c->st->early_talker)
        bad = true;                                 /* spoke before the greeting */
    else if (c->stage == SMTPD_STAGE_DATA)
        bad = stream_pending(c->st->client) > 0;    /* content before our 354 */
    else
        bad = c->st->pipelined && !c->st->ehlo;
    if (!bad)
        return SMTPD_DUNNO;
    return smtpd_reject(c, c->stage, 503, "5.5.0", smtpd_stage_what(c->stage),
                        "Improper use of SMTP command pipelining");
}

/* reject_plaintext_session: refuse unless the session is encrypted
 * (plaintext_reject_code, default 450). */
static enum smtpd_verdict r_reject_plaintext_session(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (c->st->tls_active)
        return SMTPD_DUNNO;
    return smtpd_reject_raw(c, smtpd_cfg.plaintext_code, "4.7.1",
                            "Session encryption is required");
}

/* permit_inet_interfaces: the client is this host, at an address that
 * inet_interfaces gives (proxy_interfaces do not count). */
static enum smtpd_verdict r_permit_inet_interfaces(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    return resolve_local_interface(c->st->addr) ? SMTPD_PERMIT : SMTPD_DUNNO;
}

/* sleep N: pause N seconds, then go on with the next restriction. Before
 * our greeting (smtpd_delay_reject = no), a client that has said anything
 * by then talks out of turn: reject_unauth_pipelining refuses it from
 * then on (the zombie-mail idiom "sleep 1, reject_unauth_pipelining").
 * In wrapper mode the client speaks first (TLS), so nothing is judged. */
#define SMTPD_SLEEP_MAX 3600
static enum smtpd_verdict r_sleep(struct smtpd_check_ctx *c, const char *arg)
{
    if (*arg == 0 || strspn(arg, "0123456789") != strlen(arg) || strlen(arg) > 4
        || strtol(arg, NULL, 10) > SMTPD_SLEEP_MAX) {
        log_warn("restriction sleep needs a number of seconds from 0 to %d, not \"%.30s\"",
                 SMTPD_SLEEP_MAX, arg);
        return smtpd_config_error(c);
    }
    int secs = (int)strtol(arg, NULL, 10);
    bool early = false;
    if (strcmp(c->st->where, "CONNECT") == 0 && !cfg_bool(P_SMTPD_TLS_WRAPPERMODE)) {
        /* Before the greeting: watch for input while pausing. */
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        struct pollfd pfd = { .fd = stream_fd(c->st->client), .events = POLLIN };
        int rc = log_poll(&pfd, 1, secs * 1000);
        early = stream_pending(c->st->client) > 0 || (rc > 0 && (pfd.revents & POLLIN));
        clock_gettime(CLOCK_MONOTONIC, &t1);
        long left_ms = secs * 1000L - ((t1.tv_sec - t0.tv_sec) * 1000L
                                       + (t1.tv_nsec - t0.tv_nsec) / 1000000L);
        if (left_ms > 0)
            log_poll(NULL, 0, (int)left_ms);     /* the pause is whole either way */
    } else {
        log_poll(NULL, 0, secs * 1000);
    }
    if (early && !c->st->early_talker) {
        c->st->early_talker = true;
        log_info("improper command pipelining after CONNECT from %s", c->st->namaddr);
    }
    return SMTPD_DUNNO;
}

static enum smtpd_verdict r_reject_non_fqdn_rcpt(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (c->rcpt == NULL || *c->rcpt == 0 || smtpd_fqdn_addr(c->rcpt))
        return SMTPD_DUNNO;
    return smtpd_reject(c, SMTPD_STAGE_RCPT, smtpd_cfg.non_fqdn_code, "5.5.2",
                        "Recipient address", "need fully-qualified address");
}

static enum smtpd_verdict r_reject_non_fqdn_sender(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    const char *s = c->st->sender;
    if (s == NULL || *s == 0 || smtpd_fqdn_addr(s))
        return SMTPD_DUNNO;
    return smtpd_reject(c, SMTPD_STAGE_SENDER, smtpd_cfg.non_fqdn_code, "5.5.2", "Sender address",
                        "need fully-qualified address");
}

static enum smtpd_verdict r_reject_non_fqdn_helo(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    const char *h = c->st->helo_name;
    if (h == NULL || smtpd_fqdn_host(h))
        return SMTPD_DUNNO;
    return smtpd_reject(c, SMTPD_STAGE_HELO, smtpd_cfg.non_fqdn_code, "5.5.2", "Helo command",
                        "need fully-qualified hostname");
}

static enum smtpd_verdict r_reject_invalid_helo(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    const char *h = c->st->helo_name;
    if (h == NULL || smtpd_valid_hostname(h))
        return SMTPD_DUNNO;
    return smtpd_reject(c, SMTPD_STAGE_HELO, smtpd_chk.bad_name_code, "5.5.2", "Helo command",
                        "Invalid name");
}

/* A DNS temporary failure: defer_if_permit (the default tempfail action)
 * or an immediate 450. */
static enum smtpd_verdict smtpd_dns_tempfail(struct smtpd_check_ctx *c, bool dip, int code,
                                             const char *dsn, enum smtpd_stage subj,
                                             const char *text)
{
    if (code < 500 && dip) {
        smtpd_delay(c, true, code, dsn, subj, text);
        return SMTPD_DUNNO;
    }
    return smtpd_reject(c, subj, code >= 500 ? 450 : code, dsn, smtpd_stage_what(subj), text);
}

static enum smtpd_verdict r_reject_unknown_helo(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    const char *h = c->st->helo_name;
    if (h == NULL || h[0] == '[' || !smtpd_valid_hostname(h))
        return SMTPD_DUNNO;
    int r = dns_host_exists(h, true);
    if (r == DNS_OK)
        return SMTPD_DUNNO;
    if (r == DNS_POLICY) {
        /* smtpd_dns_reply_filter removed the records: not evidence that
         * the name does not exist (Postfix does the same). */
        log_warn("%s: MX or address lookup error: DNS reply filter drops all results", h);
        return SMTPD_DUNNO;
    }
    if (r == DNS_TEMPFAIL)
        return smtpd_dns_tempfail(c, smtpd_chk.unk_helo_tf, 450, "4.4.3", SMTPD_STAGE_HELO,
                                  "Host not found, try again");
    return smtpd_reject(c, SMTPD_STAGE_HELO, smtpd_chk.unk_name_code, "4.7.1", "Helo command",
                        "Host not found");
}

static enum smtpd_verdict smtpd_unknown_domain(struct smtpd_check_ctx *c, enum smtpd_stage subj,
                                               const char *addr, const char *dsn)
{
    if (addr == NULL || *addr == 0)
        return SMTPD_DUNNO;
    const char *d = smtpd_domain_of(addr);
    if (*d == 0 || *d == '[')
        return SMTPD_DUNNO;
    int r = dns_host_exists(d, true);
    if (r == DNS_OK)
        return SMTPD_DUNNO;
    if (r == DNS_POLICY) {
        log_warn("%s: MX or address lookup error: DNS reply filter drops all results", d);
        return SMTPD_DUNNO;
    }
    if (r == DNS_TEMPFAIL)
        return smtpd_dns_tempfail(c, smtpd_chk.unk_sender_tf, 450, "4.4.3", subj,
                                  "Domain not found");
    return smtpd_reject(c, subj, smtpd_chk.unk_addr_code, dsn, smtpd_stage_what(subj),
                        "Domain not found");
}

static enum smtpd_verdict r_reject_unknown_sender_domain(struct smtpd_check_ctx *c,
                                                         const char *arg)
{
    (void)arg;
    /* Our own domains need no DNS. */
    return smtpd_unknown_domain(c, SMTPD_STAGE_SENDER, c->st->sender, "4.1.8");
}

static enum smtpd_verdict r_reject_unknown_rcpt_domain(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (c->rcpt == NULL)
        return SMTPD_DUNNO;
    if (!smtpd_resolve_rcpt(c))
        return smtpd_temp_lookup_failure(c, SMTPD_STAGE_RCPT);
    if (strcmp(c->res.class_, "default") != 0)
        return SMTPD_DUNNO;     /* a domain we handle ourselves */
    return smtpd_unknown_domain(c, SMTPD_STAGE_RCPT, c->rcpt, "4.1.2");
}

static enum smtpd_verdict r_reject_unknown_client(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (strcmp(c->st->name, "unknown") != 0)
        return SMTPD_DUNNO;
    struct sbuf *t = sbuf_new(64);
    int r = dns_ptr_name(c->st->addr, t);
    int code = r == DNS_TEMPFAIL ? 450 : smtpd_chk.unk_client_code;
    sbuf_printf(t, "Client host rejected: cannot find your hostname, [%s]", c->st->addr);
    enum smtpd_verdict v = smtpd_reject_raw(c, code, "4.7.25", sbuf_str(t));
    sbuf_free(t);
    return v;
}

static enum smtpd_verdict r_reject_unknown_rev_client(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (strcmp(c->st->name, "unknown") != 0)
        return SMTPD_DUNNO;
    struct sbuf *t = sbuf_new(64);
    int r = dns_ptr_name(c->st->addr, t);
    enum smtpd_verdict v = SMTPD_DUNNO;
    if (r != DNS_OK) {
        int code = r == DNS_TEMPFAIL ? 450 : smtpd_chk.unk_client_code;
        sbuf_printf(t, "Client host rejected: cannot find your reverse hostname, [%s]",
                    c->st->addr);
        v = smtpd_reject_raw(c, code, "4.7.25", sbuf_str(t));
    }
    sbuf_free(t);
    return v;
}

static enum smtpd_verdict r_reject_multi_rcpt_bounce(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (c->st->sender == NULL || *c->st->sender || c->st->rcpt_count == 0)
        return SMTPD_DUNNO;
    return smtpd_reject_raw(c, cfg_int(P_MULTI_RECIPIENT_BOUNCE_REJECT_CODE), "5.5.3",
                            "<>: Sender address rejected: Multi-recipient bounce");
}

/* reject_unlisted_sender / _recipient share smtpd_check_unlisted(). */
static enum smtpd_verdict smtpd_check_unlisted(struct smtpd_check_ctx *c, enum smtpd_stage subj);

static enum smtpd_verdict r_reject_unlisted_rcpt(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (c->rcpt == NULL || *c->rcpt == 0 || !smtpd_cfg.unknown_rcpt_checks)
        return SMTPD_DUNNO;
    return smtpd_check_unlisted(c, SMTPD_STAGE_RCPT);
}

static enum smtpd_verdict r_reject_unlisted_sender(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (c->st->sender == NULL || *c->st->sender == 0)
        return SMTPD_DUNNO;
    return smtpd_check_unlisted(c, SMTPD_STAGE_SENDER);
}

/* reject_*_sender_login_mismatch: smtpd_sasl.c owns the rules. */
#define SMTPD_LOGIN_FN(fn, which) \
    static enum smtpd_verdict fn(struct smtpd_check_ctx *c, const char *a) \
    { (void)a; return smtpd_sasl_login_mismatch(c, which); }
SMTPD_LOGIN_FN(r_reject_sender_login_mismatch, SMTPD_SASL_LOGIN_ALL)
SMTPD_LOGIN_FN(r_reject_auth_login_mismatch, SMTPD_SASL_LOGIN_AUTH)
SMTPD_LOGIN_FN(r_reject_known_login_mismatch, SMTPD_SASL_LOGIN_KNOWN)
SMTPD_LOGIN_FN(r_reject_unauth_login_mismatch, SMTPD_SASL_LOGIN_UNAUTH)

/* Table-driven wrappers for the restrictions that take an argument. */
#define SMTPD_ACCESS_FN(fn, kind) \
    static enum smtpd_verdict fn(struct smtpd_check_ctx *c, const char *arg) \
    { return smtpd_access_check(c, kind, arg); }
SMTPD_ACCESS_FN(r_check_client_access, "client")
SMTPD_ACCESS_FN(r_check_rev_client_access, "reverse_client")
SMTPD_ACCESS_FN(r_check_helo_access, "helo")
SMTPD_ACCESS_FN(r_check_sender_access, "sender")
SMTPD_ACCESS_FN(r_check_rcpt_access, "recipient")
SMTPD_ACCESS_FN(r_check_sasl_access, "sasl")
SMTPD_ACCESS_FN(r_check_etrn_access, "etrn")

/* check_*_{a,mx,ns}_access: smtpd_dnsaccess.c. */
#define SMTPD_DNSACCESS_FN(fn, name, what, type) \
    static enum smtpd_verdict fn(struct smtpd_check_ctx *c, const char *arg) \
    { return smtpd_dnsaccess_check(c, name, what, type, arg); }
SMTPD_DNSACCESS_FN(r_check_client_a_access, "check_client_a_access", "client", DNS_T_A)
SMTPD_DNSACCESS_FN(r_check_client_mx_access, "check_client_mx_access", "client", DNS_T_MX)
SMTPD_DNSACCESS_FN(r_check_client_ns_access, "check_client_ns_access", "client", DNS_T_NS)
SMTPD_DNSACCESS_FN(r_check_rev_client_a_access, "check_reverse_client_hostname_a_access",
                   "reverse_client", DNS_T_A)
SMTPD_DNSACCESS_FN(r_check_rev_client_mx_access, "check_reverse_client_hostname_mx_access",
                   "reverse_client", DNS_T_MX)
SMTPD_DNSACCESS_FN(r_check_rev_client_ns_access, "check_reverse_client_hostname_ns_access",
                   "reverse_client", DNS_T_NS)
SMTPD_DNSACCESS_FN(r_check_helo_a_access, "check_helo_a_access", "helo", DNS_T_A)
SMTPD_DNSACCESS_FN(r_check_helo_mx_access, "check_helo_mx_access", "helo", DNS_T_MX)
SMTPD_DNSACCESS_FN(r_check_helo_ns_access, "check_helo_ns_access", "helo", DNS_T_NS)
SMTPD_DNSACCESS_FN(r_check_sender_a_access, "check_sender_a_access", "sender", DNS_T_A)
SMTPD_DNSACCESS_FN(r_check_sender_mx_access, "check_sender_mx_access", "sender", DNS_T_MX)
SMTPD_DNSACCESS_FN(r_check_sender_ns_access, "check_sender_ns_access", "sender", DNS_T_NS)
SMTPD_DNSACCESS_FN(r_check_rcpt_a_access, "check_recipient_a_access", "recipient", DNS_T_A)
SMTPD_DNSACCESS_FN(r_check_rcpt_mx_access, "check_recipient_mx_access", "recipient", DNS_T_MX)
SMTPD_DNSACCESS_FN(r_check_rcpt_ns_access, "check_recipient_ns_access", "recipient", DNS_T_NS)

#define SMTPD_RHS_FN(fn, what, white) \
    static enum smtpd_verdict fn(struct smtpd_check_ctx *c, const char *arg) \
    { return smtpd_dnsbl_rhs(c, what, arg, white); }
SMTPD_RHS_FN(r_rhsbl_client, "client", false)
SMTPD_RHS_FN(r_rhsbl_rev_client, "reverse_client", false)
SMTPD_RHS_FN(r_rhsbl_helo, "helo", false)
SMTPD_RHS_FN(r_rhsbl_sender, "sender", false)
SMTPD_RHS_FN(r_rhsbl_rcpt, "recipient", false)
SMTPD_RHS_FN(r_rhswl_client, "client", true)

static enum smtpd_verdict r_rbl_client(struct smtpd_check_ctx *c, const char *arg)
{
    return smtpd_dnsbl_client(c, arg, false);
}

static enum smtpd_verdict r_dnswl_client(struct smtpd_check_ctx *c, const char *arg)
{
    return smtpd_dnsbl_client(c, arg, true);
}

static enum smtpd_verdict r_policy(struct smtpd_check_ctx *c, const char *arg)
{
    return smtpd_policy_check(c, arg);
}

/* A bare type:table in a list is the access check of that list's subject,
 * Postfix's older form ("smtpd_sender_restrictions = hash:/etc/access").
 * The DATA and end-of-data lists have none. */
static smtpd_restriction_fn smtpd_bare_table_fn(enum smtpd_stage stage)
{
    switch (stage) {
    case SMTPD_STAGE_CLIENT:
        return r_check_client_access;
    case SMTPD_STAGE_HELO:
        return r_check_helo_access;
    case SMTPD_STAGE_SENDER:
        return r_check_sender_access;
    case SMTPD_STAGE_RELAY:
    case SMTPD_STAGE_RCPT:
        return r_check_rcpt_access;
    case SMTPD_STAGE_ETRN:
        return r_check_etrn_access;
    default:
        return NULL;
    }
}

static const struct smtpd_restriction {
    const char *name;
    smtpd_restriction_fn fn;
    bool arg;                   /* takes the next list element */
} smtpd_check_table[] = {
#define SMTPD_CHECK_ROW(name, fn, arg) { name, fn, arg },
    SMTPD_RESTRICTION_LIST(SMTPD_CHECK_ROW)
#undef SMTPD_CHECK_ROW
};

static const struct smtpd_restriction *smtpd_restriction_find(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(smtpd_check_table); i++)
        if (strcasecmp(name, smtpd_check_table[i].name) == 0)
            return &smtpd_check_table[i];
    return NULL;
}

bool smtpd_check_is_class(const char *name)
{
    for (char **p = smtpd_chk.classes; p && *p; p++)
        if (strcmp(*p, name) == 0)
            return true;
    return false;
}

enum smtpd_verdict smtpd_config_error(struct smtpd_check_ctx *c)
{
    c->warn_only = false;
    sbuf_set(c->reply, "451 4.3.5 Server configuration error");
    c->code = 451;
    return SMTPD_REJECT;
}

/* Evaluates the restrictions of list in the current stage. */
static enum smtpd_verdict smtpd_eval(struct smtpd_check_ctx *c, char **list)
{
    if (++c->depth > SMTPD_CHECK_MAX_DEPTH) {
        log_warn("restriction class or access-map nesting deeper than %d",
                 SMTPD_CHECK_MAX_DEPTH);
        c->depth--;
        return smtpd_config_error(c);
    }
    enum smtpd_verdict v = SMTPD_DUNNO;
    for (char **p = list; p && *p && v == SMTPD_DUNNO; p++) {
        const char *name = *p;
        if (strcasecmp(name, "warn_if_reject") == 0) {
            c->warn_only = true;
            continue;
        }
        bool was_warn = c->warn_only;
        const struct smtpd_restriction *r = smtpd_restriction_find(name);
        if (r) {
            const char *arg = NULL;
            if (r->arg) {
                if (p[1] == NULL) {
                    log_warn("restriction %s needs an argument", name);
                    v = smtpd_config_error(c);
                    break;
                }
                arg = *++p;
            }
            c->permit_logged = false;
            v = r->fn(c, arg);
            /* smtpd_log_access_permit_actions: an access table logs its own
             * OK (smtpd_access_action); a permit_* restriction is logged here. */
            if (v == SMTPD_PERMIT && !c->permit_logged)
                smtpd_permit_log(c, smtpd_permit_subject(c, name), name, NULL);
        } else if (smtpd_check_is_class(name)) {
            char **sub = cfg_list(cfg_str(name));
            v = smtpd_eval(c, sub);
            cfg_list_free(sub);
        } else if (strchr(name, ':') && smtpd_bare_table_fn(c->stage)) {
            v = smtpd_bare_table_fn(c->stage)(c, name);
        } else {
            log_warn("unknown smtpd restriction: \"%s\"", name);
            v = smtpd_config_error(c);
        }
        if (was_warn)
            c->warn_only = false;       /* applies to one restriction only */
    }
    c->depth--;
    return v;
}

enum smtpd_verdict smtpd_check_sublist(struct smtpd_check_ctx *c, char **list)
{
    return smtpd_eval(c, list);
}

/* Evaluates one smtpd_*_restrictions list. */
static enum smtpd_verdict smtpd_check_list(struct smtpd_check_ctx *c, char **list,
                                           enum smtpd_stage stage)
{
    c->stage = stage;
    c->warn_only = false;
    c->depth = 0;
    return smtpd_eval(c, list);
}

static void smtpd_ctx_init(struct smtpd_check_ctx *c, struct smtpd_state *st, const char *cmd,
                           const char *rcpt, struct sbuf *reply)
{
    memset(c, 0, sizeof(*c));
    c->st = st;
    c->cmd = cmd;
    c->rcpt = rcpt;
    c->reply = reply;
    resolve_reply_init(&c->res);
    smtpd_check_state(st);
}

static int smtpd_ctx_done(struct smtpd_check_ctx *c, enum smtpd_verdict v)
{
    /* defer_if_permit: a check that did not reject answers 4xx. */
    if (v != SMTPD_REJECT && c->dip.active) {
        sbuf_set(c->reply, sbuf_str(c->dip.reply));
        c->code = c->dip.code;
        v = SMTPD_REJECT;
    }
    resolve_reply_free(&c->res);
    sbuf_free(c->dip.reply);
    sbuf_free(c->dir.reply);
    if (v != SMTPD_REJECT)
        return 0;
    smtpd_log_reject(c->st, "reject", c->cmd, sbuf_str(c->reply), c->rcpt);
    return c->code;
}

/* ---- start-up --------------------------------------------------------- */

static int smtpd_tempfail_action(const char *param)
{
    const char *v = cfg_str(param);
    return strcasecmp(v, "defer_if_permit") == 0;
}

/* Opens the tables named in list (and in the classes it names), still
 * privileged; notes whether permit_mx_backup is used. */
static void smtpd_check_preopen(char **list, int depth)
{
    for (char **p = list; p && *p && depth < SMTPD_CHECK_MAX_DEPTH; p++) {
        const struct smtpd_restriction *r = smtpd_restriction_find(*p);
        if (r && r->fn == smtpd_mxbackup_permit)
            smtpd_chk.mxbackup_used = true;
        if (r && r->arg && p[1]) {
            if (r->fn == smtpd_ccert_access) {
                smtpd_ccert_preopen(p[1]);
            } else if (strncmp(*p, "check_", 6) == 0 && strcmp(*p, "check_policy_service") != 0) {
                struct smtpd_check_ctx dummy;
                memset(&dummy, 0, sizeof(dummy));
                smtpd_access_check(&dummy, NULL, p[1]);     /* opens only */
            }
            p++;
        } else if (r == NULL && smtpd_check_is_class(*p)) {
            char **sub = cfg_list(cfg_str(*p));
            smtpd_check_preopen(sub, depth + 1);
            cfg_list_free(sub);
        } else if (r == NULL && strchr(*p, ':')) {
            struct smtpd_check_ctx dummy;       /* a bare table (older form) */
            memset(&dummy, 0, sizeof(dummy));
            smtpd_access_check(&dummy, NULL, *p);       /* opens only */
        }
    }
}

void smtpd_check_init(void)
{
    smtpd_chk.eod_restr = smtpd_check_parse(P_SMTPD_END_OF_DATA_RESTRICTIONS);
    smtpd_chk.etrn_restr = smtpd_check_parse(P_SMTPD_ETRN_RESTRICTIONS);
    smtpd_chk.classes = cfg_list(cfg_str(P_SMTPD_RESTRICTION_CLASSES));
    smtpd_chk.unk_client_code = cfg_int(P_UNKNOWN_CLIENT_REJECT_CODE);
    smtpd_chk.unk_name_code = cfg_int(P_UNKNOWN_HOSTNAME_REJECT_CODE);
    smtpd_chk.unk_addr_code = cfg_int(P_UNKNOWN_ADDRESS_REJECT_CODE);
    smtpd_chk.bad_name_code = cfg_int(P_INVALID_HOSTNAME_REJECT_CODE);
    smtpd_chk.access_defer_code = cfg_int(P_ACCESS_MAP_DEFER_CODE);
    smtpd_chk.unk_sender_tf = smtpd_tempfail_action(P_UNKNOWN_ADDRESS_TEMPFAIL_ACTION);
    smtpd_chk.unk_helo_tf = smtpd_tempfail_action(P_UNKNOWN_HELO_HOSTNAME_TEMPFAIL_ACTION);
    smtpd_chk.relay_first = cfg_bool(P_SMTPD_RELAY_BEFORE_RECIPIENT_RESTRICTIONS);
    const char *pl = cfg_str(P_SMTPD_LOG_ACCESS_PERMIT_ACTIONS);
    if (*pl)
        smtpd_chk.permit_log = name_list_new(P_SMTPD_LOG_ACCESS_PERMIT_ACTIONS, pl);
    smtpd_verify_init();
    smtpd_dnsaccess_init();
    smtpd_ccert_init();
    char **all[] = { smtpd_cfg.client_restr, smtpd_cfg.helo_restr, smtpd_cfg.sender_restr,
                     smtpd_cfg.relay_restr, smtpd_cfg.rcpt_restr, smtpd_cfg.data_restr,
                     smtpd_chk.eod_restr, smtpd_chk.etrn_restr };
    for (size_t i = 0; i < ARRAY_LEN(all); i++)
        smtpd_check_preopen(all[i], 0);
    smtpd_mxbackup_init(smtpd_chk.mxbackup_used);
    smtpd_chk.inited = true;
}

/* ---- entry points ----------------------------------------------------- */

char **smtpd_check_parse(const char *param)
{
    return cfg_list(cfg_str(param));
}

int smtpd_check_client(struct smtpd_state *st, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, "CONNECT", NULL, reply);
    enum smtpd_verdict v = smtpd_check_list(&c, smtpd_cfg.client_restr, SMTPD_STAGE_CLIENT);
    return smtpd_ctx_done(&c, v);
}

int smtpd_check_helo(struct smtpd_state *st, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, st->ehlo ? "EHLO" : "HELO", NULL, reply);
    enum smtpd_verdict v = smtpd_check_list(&c, smtpd_cfg.helo_restr, SMTPD_STAGE_HELO);
    return smtpd_ctx_done(&c, v);
}

/* The sender list, then the implicit smtpd_reject_unlisted_sender check
 * (as Postfix, part of the sender stage). */
static enum smtpd_verdict smtpd_check_sender_stage(struct smtpd_check_ctx *c)
{
    struct smtpd_state *st = c->st;
    enum smtpd_verdict v = smtpd_check_list(c, smtpd_cfg.sender_restr, SMTPD_STAGE_SENDER);
    if (v != SMTPD_REJECT && smtpd_cfg.reject_unlisted_sender && st->sender && *st->sender
        && !(st->chk->saved_flags & CLEANUP_FLAG_DISCARD)) {
        c->warn_only = false;
        if (smtpd_check_unlisted(c, SMTPD_STAGE_SENDER) == SMTPD_REJECT)
            v = SMTPD_REJECT;
    }
    return v;
}

int smtpd_check_mail(struct smtpd_state *st, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, "MAIL", NULL, reply);
    enum smtpd_verdict v = smtpd_check_sender_stage(&c);
    return smtpd_ctx_done(&c, v);
}

int smtpd_check_data(struct smtpd_state *st, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, "DATA", NULL, reply);
    enum smtpd_verdict v = smtpd_check_list(&c, smtpd_cfg.data_restr, SMTPD_STAGE_DATA);
    return smtpd_ctx_done(&c, v);
}

int smtpd_check_eod(struct smtpd_state *st, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, "END-OF-MESSAGE", NULL, reply);
    int before = st->chk->saved_flags;
    enum smtpd_verdict v = smtpd_check_list(&c, smtpd_chk.eod_restr, SMTPD_STAGE_EOD);
    st->chk->eod_flags = st->chk->saved_flags & ~before;
    return smtpd_ctx_done(&c, v);
}

int smtpd_check_etrn(struct smtpd_state *st, const char *domain, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, "ETRN", NULL, reply);
    c.etrn_domain = domain;
    enum smtpd_verdict v = SMTPD_DUNNO;
    if (smtpd_cfg.delay_reject
        && (smtpd_check_list(&c, smtpd_cfg.client_restr, SMTPD_STAGE_CLIENT) == SMTPD_REJECT
            || smtpd_check_list(&c, smtpd_cfg.helo_restr, SMTPD_STAGE_HELO) == SMTPD_REJECT))
        v = SMTPD_REJECT;
    if (v != SMTPD_REJECT)
        v = smtpd_check_list(&c, smtpd_chk.etrn_restr, SMTPD_STAGE_ETRN);
    return smtpd_ctx_done(&c, v);
}

/* Looks addr up in maps; 1 found, 0 not found, -1 lookup failed. */
static int smtpd_maps_has(struct maps *m, const char *addr, int flags)
{
    if (m == NULL || maps_count(m) == 0)
        return 1;
    if (maps_find_addr(m, addr, smtpd_cfg.rcpt_delim, flags, NULL) != NULL)
        return 1;
    return maps_error(m) < 0 ? -1 : 0;
}

/* The unknown-user check, by address class, for a recipient (or, with
 * subj SMTPD_STAGE_SENDER, for the sender). */
static enum smtpd_verdict smtpd_check_unlisted(struct smtpd_check_ctx *c, enum smtpd_stage subj)
{
    struct resolve_reply sres;
    struct resolve_reply *res = &c->res;
    const char *what = subj == SMTPD_STAGE_SENDER ? "Sender address" : "Recipient address";
    const char *dsn = subj == SMTPD_STAGE_SENDER ? "5.1.0" : "5.1.1";
    if (subj == SMTPD_STAGE_SENDER) {
        resolve_reply_init(&sres);
        res = &sres;
        if (rewrite_clnt_resolve("", c->st->sender, res) < 0) {
            resolve_reply_free(&sres);
            return smtpd_temp_lookup_failure(c, subj);
        }
    } else if (!smtpd_resolve_rcpt(c))
        return smtpd_temp_lookup_failure(c, subj);
    const char *cls = res->class_;
    const char *addr = sbuf_str(res->recipient);
    struct maps *maps = NULL;
    const char *table = NULL;
    int code = 550, flags = 0;
    enum smtpd_verdict v = SMTPD_DUNNO;

    /* An address that canonical mapping rewrites is known, as in Postfix:
     * cleanup will replace it before delivery. */
    struct maps *canon[] = { smtpd_cfg.canonical_maps,
                             subj == SMTPD_STAGE_SENDER ? smtpd_cfg.sender_canonical_maps
                                                        : smtpd_cfg.rcpt_canonical_maps };
    for (size_t i = 0; strcmp(cls, "default") != 0 && i < ARRAY_LEN(canon); i++) {
        if (canon[i] == NULL || maps_count(canon[i]) == 0)
            continue;
        int r = smtpd_maps_has(canon[i], addr, 0);
        if (r != 0) {
            v = r > 0 ? SMTPD_DUNNO : smtpd_temp_lookup_failure(c, subj);
            goto out;
        }
    }
    /* A virtual alias makes any address known. */
    if (strcmp(cls, "default") != 0 && smtpd_cfg.virt_alias_maps
        && maps_count(smtpd_cfg.virt_alias_maps) > 0) {
        int r = smtpd_maps_has(smtpd_cfg.virt_alias_maps, addr, 0);
        if (r != 0) {
            v = r > 0 ? SMTPD_DUNNO : smtpd_temp_lookup_failure(c, subj);
            goto out;
        }
    }
    /* Anything that resolves to the error transport is undeliverable, as in
     * Postfix: relocated_maps ("5.1.6 User has moved to ..."), error: routes. */
    if (strcmp(cls, "alias") != 0 && strcmp(sbuf_str(res->transport), "error") == 0) {
        struct sbuf *ed = sbuf_new(16);
        const char *etext = deliver_split_dsn(sbuf_str(res->nexthop), dsn, ed);
        v = smtpd_reject(c, subj, sbuf_str(ed)[0] == '4' ? 450 : 550, sbuf_str(ed), what, etext);
        sbuf_free(ed);
        goto out;
    }
    if (strcmp(cls, "local") == 0) {
        maps = smtpd_cfg.local_rcpt_maps;
        table = "local recipient table";
        code = smtpd_cfg.unknown_local_code;
        flags = MAPS_ADDR_LOCAL;
    } else if (strcmp(cls, "alias") == 0) {
        if (smtpd_cfg.virt_alias_maps && maps_count(smtpd_cfg.virt_alias_maps) > 0)
            v = smtpd_reject(c, subj, smtpd_cfg.unknown_alias_code, dsn, what,
                             "User unknown in virtual alias table");
        goto out;
    } else if (strcmp(cls, "virtual") == 0) {
        maps = smtpd_cfg.virt_mailbox_maps;
        table = "virtual mailbox table";
        code = smtpd_cfg.unknown_mailbox_code;
    } else if (strcmp(cls, "relay") == 0) {
        maps = smtpd_cfg.relay_rcpt_maps;
        table = "relay recipient table";
        code = smtpd_cfg.unknown_relay_code;
    } else
        goto out;
    int r = smtpd_maps_has(maps, addr, flags);
    if (r < 0)
        v = smtpd_temp_lookup_failure(c, subj);
    else if (r == 0) {
        struct sbuf *text = sbuf_new(64);
        sbuf_printf(text, "User unknown in %s", table);
        v = smtpd_reject(c, subj, code, dsn, what, sbuf_str(text));
        sbuf_free(text);
    }
out:
    if (res == &sres)
        resolve_reply_free(&sres);
    return v;
}

int smtpd_check_rcpt(struct smtpd_state *st, const char *rcpt, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    enum smtpd_verdict v = SMTPD_DUNNO;
    smtpd_ctx_init(&c, st, "RCPT", rcpt, reply);
    /* Once DISCARD is in effect, further recipients need no checks. */
    if (st->chk->saved_flags & CLEANUP_FLAG_DISCARD)
        return smtpd_ctx_done(&c, SMTPD_DUNNO);
    if (smtpd_cfg.delay_reject) {
        if (smtpd_check_list(&c, smtpd_cfg.client_restr, SMTPD_STAGE_CLIENT) == SMTPD_REJECT
            || smtpd_check_list(&c, smtpd_cfg.helo_restr, SMTPD_STAGE_HELO) == SMTPD_REJECT
            || smtpd_check_sender_stage(&c) == SMTPD_REJECT)
            v = SMTPD_REJECT;
    }
    /* smtpd_relay_before_recipient_restrictions = no (compatibility_level
     * below 3.6): the recipient list first, as older Postfix did. */
    bool relay_first = smtpd_chk.relay_first;
    for (int pass = 0; pass < 2 && v != SMTPD_REJECT; pass++) {
        bool relay = (pass == 0) == relay_first;
        if (smtpd_check_list(&c, relay ? smtpd_cfg.relay_restr : smtpd_cfg.rcpt_restr,
                             relay ? SMTPD_STAGE_RELAY : SMTPD_STAGE_RCPT) == SMTPD_REJECT)
            v = SMTPD_REJECT;
    }
    /* As Postfix: a pending defer_if_permit (access map, policy server, DNS
     * trouble) answers 4xx before the implicit unknown-recipient check can
     * answer 5xx (smtpd_ctx_done() turns it into the reply). */
    if (v != SMTPD_REJECT && !c.dip.active && !(st->chk->saved_flags & CLEANUP_FLAG_DISCARD)
        && smtpd_cfg.reject_unlisted_rcpt && *rcpt) {
        c.warn_only = false;
        v = smtpd_check_unlisted(&c, SMTPD_STAGE_RCPT);
    }
    return smtpd_ctx_done(&c, v);
}

int smtpd_check_vrfy(struct smtpd_state *st, const char *addr, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, "VRFY", addr, reply);
    enum smtpd_verdict v = smtpd_check_unlisted(&c, SMTPD_STAGE_RCPT);
    return smtpd_ctx_done(&c, v);
}

/* ---- actions handed to cleanup ---------------------------------------- */

void smtpd_check_reset(struct smtpd_state *st)
{
    struct smtpd_check_state *cs = st->chk;
    if (cs == NULL)
        return;
    cs->saved_flags = 0;
    cs->eod_flags = 0;
    xfree(cs->filter);
    cs->filter = NULL;
    xfree(cs->redirect);
    cs->redirect = NULL;
    sbuf_reset(cs->prepend);
    for (size_t i = 0; i < cs->nbcc; i++)
        xfree(cs->bcc[i]);
    xfree(cs->bcc);
    cs->bcc = NULL;
    cs->nbcc = 0;
}

void smtpd_check_session_end(struct smtpd_state *st)
{
    if (st->chk == NULL)
        return;
    smtpd_check_reset(st);
    smtpd_policy_session_end(st->chk);
    sbuf_free(st->chk->prepend);
    xfree(st->chk);
    st->chk = NULL;
}

void smtpd_check_envelope(struct smtpd_state *st, struct cleanup_clnt *c)
{
    struct smtpd_check_state *cs = st->chk;
    if (cs == NULL)
        return;
    if (cs->saved_flags)
        cleanup_recf(c, CLEANUP_REC_FLAGS, "%d", cs->saved_flags);
    if (cs->filter)
        cleanup_recs(c, REC_FILTER, cs->filter);
    if (cs->redirect)
        cleanup_recs(c, CLEANUP_REC_REDIRECT, cs->redirect);
}

void smtpd_check_headers(struct smtpd_state *st, struct cleanup_clnt *c)
{
    struct smtpd_check_state *cs = st->chk;
    if (cs == NULL || sbuf_len(cs->prepend) == 0)
        return;
    const char *p = sbuf_str(cs->prepend);
    while (*p) {
        size_t n = strcspn(p, "\n");
        cleanup_line(c, p, n);
        p += n;
        if (*p)
            p++;
    }
}

void smtpd_check_eod_records(struct smtpd_state *st, struct cleanup_clnt *c)
{
    struct smtpd_check_state *cs = st->chk;
    if (cs == NULL || (cs->eod_flags == 0 && cs->nbcc == 0))
        return;
    cleanup_rec(c, REC_XTRA, "", 0);
    if (cs->eod_flags)
        cleanup_recf(c, CLEANUP_REC_FLAGS, "%d", cs->eod_flags);
    for (size_t i = 0; i < cs->nbcc; i++)
        cleanup_recs(c, REC_RCPT, cs->bcc[i]);
}
