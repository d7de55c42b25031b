/*
 * smtpd_check.c - access restrictions and relay control
 *
 * Used by: smtpd_cmd.c (HELO, MAIL, RCPT, DATA, VRFY).
 * Interface: smtpd_check_client(), smtpd_check_helo(), smtpd_check_mail(),
 *            smtpd_check_rcpt(), smtpd_check_data(), smtpd_check_vrfy(),
 *            smtpd_check_parse().
 * Errors: an unknown restriction name is a configuration error: logged as
 *         a warning and answered "451 4.3.5 Server configuration error".
 *         A failed table or rewrite lookup answers 451 4.3.0 (try later).
 * Notes: each smtpd_*_restrictions list is evaluated left to right; the
 *        first restriction that permits ends that list, the first that
 *        rejects ends the whole check. With smtpd_delay_reject (default)
 *        the client, helo and sender lists run at RCPT time. After the
 *        lists pass, smtpd_reject_unlisted_recipient rejects recipients
 *        unknown in local_recipient_maps, virtual_alias_maps,
 *        virtual_mailbox_maps or relay_recipient_maps, by address class.
 *        A restriction is a function in smtpd_check_table; new ones
 *        (check_*_access, reject_rbl_client, policy services...) plug in
 *        there.
 */
#include "smtpd.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "maps.h"
#include "mynetworks.h"
#include "rewrite_clnt.h"
#include <strings.h>

enum smtpd_stage {
    SMTPD_STAGE_CLIENT, SMTPD_STAGE_HELO, SMTPD_STAGE_SENDER, SMTPD_STAGE_RELAY,
    SMTPD_STAGE_RCPT, SMTPD_STAGE_DATA,
};

/* Verdict of one restriction or one list. */
enum smtpd_verdict { SMTPD_DUNNO, SMTPD_PERMIT, SMTPD_REJECT };

struct smtpd_check_ctx {
    struct smtpd_state *st;
    enum smtpd_stage stage;
    const char *cmd;            /* "RCPT", "MAIL", ... for the log */
    const char *rcpt;           /* internal form, or NULL */
    struct resolve_reply res;
    bool resolved;
    bool warn_only;             /* warn_if_reject is pending */
    struct sbuf *reply;
    int code;
};

/* ---- helpers ---------------------------------------------------------- */

static const char *smtpd_stage_what(enum smtpd_stage s)
{
    switch (s) {
    case SMTPD_STAGE_CLIENT: return "Client host";
    case SMTPD_STAGE_HELO: return "Helo command";
    case SMTPD_STAGE_SENDER: return "Sender address";
    case SMTPD_STAGE_DATA: return "Data command";
    default: return "Recipient address";
    }
}

/* The thing a stage is about, in external form, for "<thing>: ...". */
static void smtpd_stage_subject(struct smtpd_check_ctx *c, enum smtpd_stage s, struct sbuf *out)
{
    struct smtpd_state *st = c->st;
    switch (s) {
    case SMTPD_STAGE_CLIENT:
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
    default:
        smtpd_addr_quote(out, c->rcpt ? c->rcpt : "");
        break;
    }
}

/* Rejects with "CODE DSN <subject>: TEXT"; honours warn_if_reject. When
 * what is non-NULL the text is "<subject>: WHAT rejected: TEXT". */
static enum smtpd_verdict smtpd_reject(struct smtpd_check_ctx *c, enum smtpd_stage subj, int code,
                                       const char *dsn, const char *what, const char *text)
{
    struct sbuf *s = sbuf_new(128);
    struct sbuf *line = sbuf_new(256);
    smtpd_stage_subject(c, subj, s);
    /* The DSN class follows the reply code (a 4xx code makes 4.x.x). */
    char dsnbuf[16];
    strlcpy(dsnbuf, dsn, sizeof(dsnbuf));
    dsnbuf[0] = code >= 500 ? '5' : '4';
    if (what)
        sbuf_printf(line, "%d %s <%s>: %s rejected: %s", code, dsnbuf, sbuf_str(s), what, text);
    else
        sbuf_printf(line, "%d %s <%s>: %s", code, dsnbuf, sbuf_str(s), text);
    sbuf_free(s);
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

static enum smtpd_verdict smtpd_temp_lookup_failure(struct smtpd_check_ctx *c, enum smtpd_stage s)
{
    c->warn_only = false;
    return smtpd_reject(c, s, 451, "4.3.0", NULL, "Temporary lookup failure");
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

/* ---- restrictions ----------------------------------------------------- */

typedef enum smtpd_verdict (*smtpd_restriction_fn)(struct smtpd_check_ctx *c);

static enum smtpd_verdict r_permit(struct smtpd_check_ctx *c)
{
    (void)c;
    return SMTPD_PERMIT;
}

static enum smtpd_verdict r_reject(struct smtpd_check_ctx *c)
{
    return smtpd_reject(c, c->stage, smtpd_cfg.reject_code, "5.7.1", smtpd_stage_what(c->stage),
                        "Access denied");
}

static enum smtpd_verdict r_defer(struct smtpd_check_ctx *c)
{
    return smtpd_reject(c, c->stage, smtpd_cfg.defer_code, "4.7.1", smtpd_stage_what(c->stage),
                        "Access denied");
}

static enum smtpd_verdict r_permit_mynetworks(struct smtpd_check_ctx *c)
{
    return smtpd_client_in_mynetworks(c->st) ? SMTPD_PERMIT : SMTPD_DUNNO;
}

static enum smtpd_verdict r_permit_sasl(struct smtpd_check_ctx *c)
{
    (void)c;    /* XXX: no SASL yet, so nobody is authenticated */
    return SMTPD_DUNNO;
}

static enum smtpd_verdict smtpd_unauth_dest(struct smtpd_check_ctx *c, bool defer)
{
    if (c->rcpt == NULL)
        return SMTPD_DUNNO;
    if (!smtpd_resolve_rcpt(c))
        return smtpd_temp_lookup_failure(c, SMTPD_STAGE_RCPT);
    bool ours = strcmp(c->res.class_, "default") != 0;
    /* Sender-specified routing (user%host@ours) may not relay. */
    if (ours && (c->res.flags & RESOLVE_FLAG_ROUTED) && !smtpd_cfg.allow_untrusted_routing)
        ours = false;
    if (ours)
        return SMTPD_DUNNO;
    if (defer)
        return smtpd_reject(c, SMTPD_STAGE_RCPT, 454, "4.7.1", NULL, "Relay access denied");
    return smtpd_reject(c, SMTPD_STAGE_RCPT, smtpd_cfg.relay_code, "5.7.1", NULL,
                        "Relay access denied");
}

static enum smtpd_verdict r_reject_unauth_dest(struct smtpd_check_ctx *c)
{
    return smtpd_unauth_dest(c, false);
}

static enum smtpd_verdict r_defer_unauth_dest(struct smtpd_check_ctx *c)
{
    return smtpd_unauth_dest(c, true);
}

static enum smtpd_verdict r_reject_unauth_pipelining(struct smtpd_check_ctx *c)
{
    bool bad;
    if (c->stage == SMTPD_STAGE_DATA)
        bad = stream_pending(c->st->client) > 0;    /* content before our 354 */
    else
        bad = c->st->pipelined && !c->st->ehlo;
    if (!bad)
        return SMTPD_DUNNO;
    return smtpd_reject(c, c->stage, 503, "5.5.0", smtpd_stage_what(c->stage),
                        "Improper use of SMTP command pipelining");
}

static enum smtpd_verdict r_reject_non_fqdn_rcpt(struct smtpd_check_ctx *c)
{
    if (c->rcpt == NULL || *c->rcpt == 0 || smtpd_fqdn_addr(c->rcpt))
        return SMTPD_DUNNO;
    return smtpd_reject(c, SMTPD_STAGE_RCPT, smtpd_cfg.non_fqdn_code, "5.5.2",
                        "Recipient address", "need fully-qualified address");
}

static enum smtpd_verdict r_reject_non_fqdn_sender(struct smtpd_check_ctx *c)
{
    const char *s = c->st->sender;
    if (s == NULL || *s == 0 || smtpd_fqdn_addr(s))
        return SMTPD_DUNNO;
    return smtpd_reject(c, SMTPD_STAGE_SENDER, smtpd_cfg.non_fqdn_code, "5.5.2", "Sender address",
                        "need fully-qualified address");
}

static enum smtpd_verdict r_reject_non_fqdn_helo(struct smtpd_check_ctx *c)
{
    const char *h = c->st->helo_name;
    if (h == NULL || smtpd_fqdn_host(h))
        return SMTPD_DUNNO;
    return smtpd_reject(c, SMTPD_STAGE_HELO, smtpd_cfg.non_fqdn_code, "5.5.2", "Helo command",
                        "need fully-qualified hostname");
}

static const struct smtpd_restriction {
    const char *name;
    smtpd_restriction_fn fn;
} smtpd_check_table[] = {
    { "permit", r_permit },
    { "reject", r_reject },
    { "defer", r_defer },
    { "permit_mynetworks", r_permit_mynetworks },
    { "permit_sasl_authenticated", r_permit_sasl },
    { "reject_unauth_destination", r_reject_unauth_dest },
    { "defer_unauth_destination", r_defer_unauth_dest },
    { "reject_unauth_pipelining", r_reject_unauth_pipelining },
    { "reject_non_fqdn_recipient", r_reject_non_fqdn_rcpt },
    { "reject_non_fqdn_sender", r_reject_non_fqdn_sender },
    { "reject_non_fqdn_helo_hostname", r_reject_non_fqdn_helo },
    { "reject_non_fqdn_hostname", r_reject_non_fqdn_helo },    /* pre-2.3 name */
};

/* Evaluates one list. */
static enum smtpd_verdict smtpd_check_list(struct smtpd_check_ctx *c, char **list,
                                           enum smtpd_stage stage)
{
    c->stage = stage;
    c->warn_only = false;
    for (char **p = list; p && *p; p++) {
        const char *name = *p;
        if (strcasecmp(name, "warn_if_reject") == 0) {
            c->warn_only = true;
            continue;
        }
        const struct smtpd_restriction *r = NULL;
        for (size_t i = 0; i < ARRAY_LEN(smtpd_check_table); i++)
            if (strcasecmp(name, smtpd_check_table[i].name) == 0) {
                r = &smtpd_check_table[i];
                break;
            }
        if (r == NULL) {
            log_warn("unknown smtpd restriction: \"%s\"", name);
            sbuf_set(c->reply, "451 4.3.5 Server configuration error");
            c->code = 451;
            return SMTPD_REJECT;
        }
        bool was_warn = c->warn_only;
        enum smtpd_verdict v = r->fn(c);
        if (was_warn)
            c->warn_only = false;       /* applies to one restriction only */
        if (v != SMTPD_DUNNO)
            return v;
    }
    return SMTPD_DUNNO;
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
}

static int smtpd_ctx_done(struct smtpd_check_ctx *c, enum smtpd_verdict v)
{
    resolve_reply_free(&c->res);
    if (v != SMTPD_REJECT)
        return 0;
    smtpd_log_reject(c->st, "reject", c->cmd, sbuf_str(c->reply), c->rcpt);
    return c->code;
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

int smtpd_check_mail(struct smtpd_state *st, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, "MAIL", NULL, reply);
    enum smtpd_verdict v = smtpd_check_list(&c, smtpd_cfg.sender_restr, SMTPD_STAGE_SENDER);
    return smtpd_ctx_done(&c, v);
}

int smtpd_check_data(struct smtpd_state *st, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, "DATA", NULL, reply);
    enum smtpd_verdict v = smtpd_check_list(&c, smtpd_cfg.data_restr, SMTPD_STAGE_DATA);
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

/* The unknown-recipient check, by address class. */
static enum smtpd_verdict smtpd_check_unlisted(struct smtpd_check_ctx *c)
{
    if (!smtpd_resolve_rcpt(c))
        return smtpd_temp_lookup_failure(c, SMTPD_STAGE_RCPT);
    const char *cls = c->res.class_;
    const char *addr = sbuf_str(c->res.recipient);
    struct maps *maps = NULL;
    const char *table = NULL;
    int code = 550, flags = 0;

    /* A virtual alias makes any address known. */
    if (strcmp(cls, "default") != 0 && smtpd_cfg.virt_alias_maps
        && maps_count(smtpd_cfg.virt_alias_maps) > 0) {
        int r = smtpd_maps_has(smtpd_cfg.virt_alias_maps, addr, 0);
        if (r > 0)
            return SMTPD_DUNNO;
        if (r < 0)
            return smtpd_temp_lookup_failure(c, SMTPD_STAGE_RCPT);
    }
    if (strcmp(cls, "local") == 0) {
        maps = smtpd_cfg.local_rcpt_maps;
        table = "local recipient table";
        code = smtpd_cfg.unknown_local_code;
        flags = MAPS_ADDR_LOCAL;
    } else if (strcmp(cls, "alias") == 0) {
        if (smtpd_cfg.virt_alias_maps == NULL || maps_count(smtpd_cfg.virt_alias_maps) == 0)
            return SMTPD_DUNNO;
        return smtpd_reject(c, SMTPD_STAGE_RCPT, smtpd_cfg.unknown_alias_code, "5.1.1",
                            "Recipient address", "User unknown in virtual alias table");
    } else if (strcmp(cls, "virtual") == 0) {
        maps = smtpd_cfg.virt_mailbox_maps;
        table = "virtual mailbox table";
        code = smtpd_cfg.unknown_mailbox_code;
    } else if (strcmp(cls, "relay") == 0) {
        maps = smtpd_cfg.relay_rcpt_maps;
        table = "relay recipient table";
        code = smtpd_cfg.unknown_relay_code;
    } else
        return SMTPD_DUNNO;
    int r = smtpd_maps_has(maps, addr, flags);
    if (r > 0)
        return SMTPD_DUNNO;
    if (r < 0)
        return smtpd_temp_lookup_failure(c, SMTPD_STAGE_RCPT);
    struct sbuf *text = sbuf_new(64);
    sbuf_printf(text, "User unknown in %s", table);
    enum smtpd_verdict v = smtpd_reject(c, SMTPD_STAGE_RCPT, code, "5.1.1", "Recipient address",
                                        sbuf_str(text));
    sbuf_free(text);
    return v;
}

int smtpd_check_rcpt(struct smtpd_state *st, const char *rcpt, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    enum smtpd_verdict v = SMTPD_DUNNO;
    smtpd_ctx_init(&c, st, "RCPT", rcpt, reply);
    if (smtpd_cfg.delay_reject) {
        if (smtpd_check_list(&c, smtpd_cfg.client_restr, SMTPD_STAGE_CLIENT) == SMTPD_REJECT
            || smtpd_check_list(&c, smtpd_cfg.helo_restr, SMTPD_STAGE_HELO) == SMTPD_REJECT
            || smtpd_check_list(&c, smtpd_cfg.sender_restr, SMTPD_STAGE_SENDER) == SMTPD_REJECT)
            v = SMTPD_REJECT;
    }
    if (v != SMTPD_REJECT && smtpd_check_list(&c, smtpd_cfg.relay_restr, SMTPD_STAGE_RELAY)
                                 == SMTPD_REJECT)
        v = SMTPD_REJECT;
    if (v != SMTPD_REJECT && smtpd_check_list(&c, smtpd_cfg.rcpt_restr, SMTPD_STAGE_RCPT)
                                 == SMTPD_REJECT)
        v = SMTPD_REJECT;
    if (v != SMTPD_REJECT && smtpd_cfg.reject_unlisted_rcpt && *rcpt) {
        c.warn_only = false;
        v = smtpd_check_unlisted(&c);
    }
    return smtpd_ctx_done(&c, v);
}

int smtpd_check_vrfy(struct smtpd_state *st, const char *addr, struct sbuf *reply)
{
    struct smtpd_check_ctx c;
    smtpd_ctx_init(&c, st, "VRFY", addr, reply);
    enum smtpd_verdict v = smtpd_check_unlisted(&c);
    return smtpd_ctx_done(&c, v);
}
