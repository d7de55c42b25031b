/*
 * smtpd_sasl.c - SMTP AUTH (RFC 4954): the AUTH command, its EHLO keyword,
 *                the AUTH= parameter and the SASL restrictions
 *
 * Used by: smtpd.c (start-up, cleanup attributes, logging), smtpd_cmd.c
 *          (EHLO, AUTH, MAIL), smtpd_data.c (Received:), smtpd_check.c
 *          (permit_sasl_authenticated, *_sender_login_mismatch).
 * Interface: smtpd_sasl_pre_jail(), smtpd_sasl_ehlo(), smtpd_sasl_auth_cmd(),
 *            smtpd_sasl_mail_param(), smtpd_sasl_log_client(),
 *            smtpd_sasl_cleanup_attrs(), smtpd_sasl_received(),
 *            smtpd_sasl_reset_transaction(), smtpd_sasl_session_end(),
 *            smtpd_sasl_permit(), smtpd_sasl_login_mismatch().
 * Errors: a bad smtpd_sasl_* setting or a SASL library that cannot start
 *         is fatal at start-up (master throttles the service). A failed
 *         exchange is answered 535 5.7.8 (454 4.7.0 when temporary),
 *         logged as "NAME[ADDR]: SASL MECH authentication failed: WHY,
 *         sasl_username=USER", and counts as an error towards
 *         smtpd_soft_error_limit/smtpd_hard_error_limit like any 5xx reply.
 * Notes: smtpd_sasl_auth_enable (per service with -o) switches all of it
 *        on. The SASL server object is made on first use (EHLO or AUTH)
 *        and made again when the session becomes encrypted, so that
 *        smtpd_sasl_tls_security_options apply after STARTTLS; a change of
 *        TLS state also forgets an earlier login. AUTH is not announced,
 *        and refused, on a plaintext session with smtpd_tls_auth_only (or
 *        smtpd_tls_security_level = encrypt); it is not announced to
 *        clients in smtpd_sasl_exceptions_networks. The mechanism list
 *        passes through smtpd_sasl_mechanism_filter. Responses longer than
 *        smtpd_sasl_response_limit are refused (500 5.5.6). Like Postfix,
 *        AUTH=<value> on MAIL FROM is recorded as sent (made printable),
 *        not decoded, and <> means none.
 */
#include "smtpd.h"
#include "smtpd_sasl.h"
#include "alloc.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "log.h"
#include "maps.h"
#include "mynetworks.h"
#include "qfile.h"
#include "rewrite_clnt.h"
#include "sasl_server.h"
#include "sock.h"
#include <ctype.h>
#include <strings.h>

/* One smtpd_sasl_mechanism_filter item. */
struct smtpd_sasl_filter {
    bool negate;
    char *name;                 /* mechanism name, or NULL for a table */
    struct maps *table;         /* type:table (static: matches anything) */
};

static struct {
    bool enable;
    bool broken_clients, auth_header, tls_auth_only;
    int security, tls_security;
    const char *service, *realm;
    size_t resp_limit;
    struct mynetworks *exceptions;
    struct smtpd_sasl_filter *filter;
    size_t nfilter;
    struct maps *login_maps;
} smtpd_sasl_cfg;

/* Per-session SASL state (st->sasl). */
struct smtpd_sasl_sess {
    struct sasl_srv *srv;
    bool tls;                   /* srv was made for an encrypted session */
    bool failed;                /* srv could not be made in this TLS state */
    bool tls_seen;              /* st->tls_active when we last looked */
    struct sbuf *kw[2];         /* EHLO keyword texts: "AUTH x", "AUTH=x" */
};

/* ---- start-up --------------------------------------------------------- */

static int smtpd_sasl_security(const char *param)
{
    int mask = sasl_srv_security_parse(param, cfg_str(param));
    if (mask < 0)
        log_fatal("%s: bad SASL security options (see smtpd(8))", param);
    return mask;
}

static void smtpd_sasl_filter_init(void)
{
    char **items = cfg_list(cfg_str(P_SMTPD_SASL_MECHANISM_FILTER));
    size_t n = 0;
    while (items[n])
        n++;
    smtpd_sasl_cfg.filter = xcalloc(n + 1, sizeof(*smtpd_sasl_cfg.filter));
    for (size_t i = 0; i < n; i++) {
        struct smtpd_sasl_filter *f = &smtpd_sasl_cfg.filter[i];
        const char *item = items[i];
        if (*item == '!') {
            f->negate = true;
            item++;
        }
        if (strchr(item, ':'))
            f->table = maps_create(P_SMTPD_SASL_MECHANISM_FILTER, item, DICT_F_FOLD);
        else
            f->name = xstrdup(item);
    }
    smtpd_sasl_cfg.nfilter = n;
    cfg_list_free(items);
}

void smtpd_sasl_pre_jail(void)
{
    const char *v = cfg_str(P_SMTPD_SENDER_LOGIN_MAPS);
    if (*v)
        smtpd_sasl_cfg.login_maps = maps_create(P_SMTPD_SENDER_LOGIN_MAPS, v, DICT_F_FOLD);
    smtpd_sasl_cfg.enable = cfg_bool(P_SMTPD_SASL_AUTH_ENABLE);
    if (!smtpd_sasl_cfg.enable)
        return;
    smtpd_sasl_cfg.security = smtpd_sasl_security(P_SMTPD_SASL_SECURITY_OPTIONS);
    smtpd_sasl_cfg.tls_security = smtpd_sasl_security(P_SMTPD_SASL_TLS_SECURITY_OPTIONS);
    smtpd_sasl_cfg.broken_clients = cfg_bool(P_BROKEN_SASL_AUTH_CLIENTS);
    smtpd_sasl_cfg.auth_header = cfg_bool(P_SMTPD_SASL_AUTHENTICATED_HEADER);
    const char *level = cfg_str(P_SMTPD_TLS_SECURITY_LEVEL);
    /* Mandatory TLS implies that AUTH waits for it. */
    smtpd_sasl_cfg.tls_auth_only = cfg_bool(P_SMTPD_TLS_AUTH_ONLY)
                                   || strcasecmp(level, "encrypt") == 0
                                   || (*level == 0 && cfg_bool(P_SMTPD_ENFORCE_TLS));
    smtpd_sasl_cfg.service = cfg_str(P_SMTPD_SASL_SERVICE);
    smtpd_sasl_cfg.realm = cfg_str(P_SMTPD_SASL_LOCAL_DOMAIN);
    long lim = cfg_long(P_SMTPD_SASL_RESPONSE_LIMIT);
    smtpd_sasl_cfg.resp_limit = lim < 512 ? 512 : (size_t)lim;
    v = cfg_str(P_SMTPD_SASL_EXCEPTIONS_NETWORKS);
    if (*v)
        smtpd_sasl_cfg.exceptions = mynetworks_new(P_SMTPD_SASL_EXCEPTIONS_NETWORKS, v, false);
    smtpd_sasl_filter_init();
    if (sasl_srv_init(cfg_str(P_SMTPD_SASL_TYPE), cfg_str(P_SMTPD_SASL_PATH),
                      cfg_str(P_CYRUS_SASL_CONFIG_PATH)) < 0)
        log_fatal("SASL per-process initialization failed");
}

/* ---- the SASL server for this session --------------------------------- */

static bool smtpd_sasl_mech_match(const struct smtpd_sasl_filter *f, const char *mech)
{
    if (f->name)
        return strcasecmp(f->name, mech) == 0;
    struct sbuf *key = sbuf_new(32);
    for (const char *p = mech; *p; p++)
        sbuf_addch(key, tolower((unsigned char)*p));
    bool found = maps_find(f->table, sbuf_str(key), 0) != NULL;
    sbuf_free(key);
    return found;
}

/* smtpd_sasl_mechanism_filter: the first matching item decides; no match
 * (with a non-empty filter) drops the mechanism. */
static bool smtpd_sasl_mech_allowed(const char *mech)
{
    if (smtpd_sasl_cfg.nfilter == 0)
        return true;
    for (size_t i = 0; i < smtpd_sasl_cfg.nfilter; i++) {
        const struct smtpd_sasl_filter *f = &smtpd_sasl_cfg.filter[i];
        if (smtpd_sasl_mech_match(f, mech))
            return !f->negate;
    }
    return false;
}

/* Forgets the login: the TLS state changed (RFC 3207: start afresh). */
static void smtpd_sasl_forget(struct smtpd_state *st)
{
    xfree(st->sasl_username);
    xfree(st->sasl_method);
    st->sasl_username = NULL;
    st->sasl_method = NULL;
}

/* The session's SASL server, made on demand; NULL when SASL is off or the
 * server cannot be made. */
static struct smtpd_sasl_sess *smtpd_sasl_get(struct smtpd_state *st)
{
    if (!smtpd_sasl_cfg.enable)
        return NULL;
    struct smtpd_sasl_sess *ss = st->sasl;
    if (ss == NULL) {
        ss = xcalloc(1, sizeof(*ss));
        ss->kw[0] = sbuf_new(64);
        ss->kw[1] = sbuf_new(64);
        ss->tls_seen = st->tls_active;
        st->sasl = ss;
    }
    if (ss->tls_seen != st->tls_active) {
        ss->tls_seen = st->tls_active;
        smtpd_sasl_forget(st);
        sasl_srv_free(ss->srv);
        ss->srv = NULL;
        ss->failed = false;
    }
    if (ss->srv || ss->failed)
        return ss->srv ? ss : NULL;

    char local[64] = "";
    int local_port = 0;
    if (sock_local_addr(stream_fd(st->client), local, sizeof(local), &local_port) < 0
        || strcmp(local, "unix") == 0)
        local[0] = 0;
    struct sasl_srv_args a = {
        .service = smtpd_sasl_cfg.service,
        .server_fqdn = smtpd_cfg.myhostname,
        .realm = smtpd_sasl_cfg.realm,
        .server_addr = local,
        .server_port = local_port,
        .client_addr = st->addr,
        .client_port = st->port,
        .security = st->tls_active ? smtpd_sasl_cfg.tls_security : smtpd_sasl_cfg.security,
        .tls_active = st->tls_active,
        .timeout = smtpd_cfg.timeout,
    };
    ss->srv = sasl_srv_new(&a);
    if (ss->srv == NULL) {
        ss->failed = true;
        return NULL;
    }
    ss->tls = st->tls_active;
    /* Apply smtpd_sasl_mechanism_filter. */
    struct sbuf *keep = sbuf_new(64);
    char *all = xstrdup(sasl_srv_mechs(ss->srv));
    for (char *p = all; *p;) {
        size_t n = strcspn(p, " ");
        char save = p[n];
        p[n] = 0;
        if (smtpd_sasl_mech_allowed(p)) {
            if (sbuf_len(keep))
                sbuf_addch(keep, ' ');
            sbuf_cat(keep, p);
        } else
            log_debug(1, "%s: skip mechanism %s", P_SMTPD_SASL_MECHANISM_FILTER, p);
        p[n] = save;
        p += n;
        while (*p == ' ')
            p++;
    }
    if (sbuf_len(keep) == 0) {
        log_warn("%s discards all mechanisms in '%s'", P_SMTPD_SASL_MECHANISM_FILTER, all);
        sasl_srv_free(ss->srv);
        ss->srv = NULL;
        ss->failed = true;
    } else
        sasl_srv_restrict(ss->srv, sbuf_str(keep));
    xfree(all);
    sbuf_free(keep);
    return ss->srv ? ss : NULL;
}

/* AUTH among the EHLO keywords discarded for this client. */
static bool smtpd_sasl_discarded(struct smtpd_state *st)
{
    return smtpd_limits_ehlo_discard(st, "AUTH");
}

const char *smtpd_sasl_ehlo(struct smtpd_state *st, bool equals)
{
    if (!smtpd_sasl_cfg.enable)
        return NULL;
    if (smtpd_sasl_cfg.tls_auth_only && !st->tls_active)
        return NULL;
    if (equals && (!smtpd_sasl_cfg.broken_clients || smtpd_sasl_discarded(st)))
        return NULL;
    if (smtpd_sasl_cfg.exceptions
        && mynetworks_match(smtpd_sasl_cfg.exceptions, st->addr, st->name) == 1) {
        log_debug(1, "sasl_exceptions: %s, match=1", st->namaddr);
        return NULL;
    }
    struct smtpd_sasl_sess *ss = smtpd_sasl_get(st);
    if (ss == NULL)
        return NULL;
    struct sbuf *kw = ss->kw[equals ? 1 : 0];
    sbuf_printf(kw, "AUTH%c%s", equals ? '=' : ' ', sasl_srv_mechs(ss->srv));
    return sbuf_str(kw);
}

/* ---- AUTH ------------------------------------------------------------- */

/* Copies s with anything but printable ASCII made '?' (returns new). */
static char *smtpd_sasl_printable(const char *s)
{
    char *r = xstrdup(s);
    for (char *p = r; *p; p++)
        if (!isprint((unsigned char)*p))
            *p = '?';
    return r;
}

enum smtpd_cmd_result smtpd_sasl_auth_cmd(struct smtpd_state *st, const char *args)
{
    if (smtpd_cfg.helo_required && st->helo_name == NULL) {
        smtpd_reply(st, "503 5.5.1 Error: send HELO/EHLO first");
        return SMTPD_R_ERR;
    }
    if (!smtpd_sasl_cfg.enable || smtpd_sasl_discarded(st)) {
        smtpd_reply(st, "503 5.5.1 Error: authentication not enabled");
        return SMTPD_R_ERR;
    }
    if (st->sender) {
        smtpd_reply(st, "503 5.5.1 Error: MAIL transaction in progress");
        return SMTPD_R_ERR;
    }
    if (smtpd_sasl_cfg.tls_auth_only && !st->tls_active) {
        smtpd_reply(st, "504 5.5.4 Encryption required for requested authentication mechanism");
        return SMTPD_R_ERR;
    }
    struct smtpd_sasl_sess *ss = smtpd_sasl_get(st);
    if (st->sasl_username) {
        smtpd_reply(st, "503 5.5.1 Error: already authenticated");
        return SMTPD_R_ERR;
    }
    /* AUTH mechanism [initial-response] */
    char *words[3] = { NULL, NULL, NULL };
    size_t nw = 0;
    const char *p = args;
    while (*p && nw < 3) {
        size_t n = strcspn(p, " \t");
        words[nw++] = xstrndup(p, n);
        p += n;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    enum smtpd_cmd_result res = SMTPD_R_ERR;
    if (nw < 1 || nw > 2 || *p) {
        smtpd_reply(st, "501 5.5.4 Syntax: AUTH mechanism");
        goto out;
    }
    if (ss == NULL) {
        smtpd_reply(st, "454 4.3.0 Try again later");
        goto out;
    }
    /* smtpd_client_auth_rate_limit (anvil); replies 450 4.7.1 itself. */
    if (!smtpd_limits_auth(st))
        goto out;
    const char *mech = words[0];
    struct sbuf *reply = sbuf_new(128);
    enum sasl_srv_status status = sasl_srv_start(ss->srv, mech, words[1], reply);
    while (status == SASL_SRV_MORE) {
        smtpd_reply(st, "334 %s", sbuf_str(reply));
        if (!smtpd_flush(st)) {
            res = SMTPD_R_GONE;
            break;
        }
        bool had_lf;
        stream_start_request(st->client);   /* each response is a request */
        ssize_t n = stream_getline(st->client, st->line, smtpd_sasl_cfg.resp_limit, &had_lf);
        if (n == STREAM_E_TOOLONG) {
            smtpd_reply(st, "500 5.5.6 SASL response limit exceeded");
            break;
        }
        if (n < 0 || !had_lf) {
            res = SMTPD_R_GONE;
            break;
        }
        sbuf_trim(st->line);
        const char *resp = sbuf_str(st->line);
        if (strcmp(resp, "*") == 0) {
            log_warn("%s: SASL %s authentication aborted", st->namaddr,
                     sasl_srv_method(ss->srv));
            smtpd_reply(st, "501 5.7.0 Authentication aborted");
            break;
        }
        status = sasl_srv_step(ss->srv, resp, reply);
        /* The response may hold a password. */
        explicit_bzero(sbuf_data(st->line), sbuf_len(st->line));
        sbuf_reset(st->line);
    }
    if (status == SASL_SRV_DONE && res == SMTPD_R_ERR) {
        st->sasl_username = smtpd_sasl_printable(sasl_srv_username(ss->srv));
        st->sasl_method = smtpd_sasl_printable(sasl_srv_method(ss->srv));
        smtpd_reply(st, "235 2.7.0 Authentication successful");
        res = SMTPD_R_OK;
    } else if ((status == SASL_SRV_FAIL || status == SASL_SRV_TEMP) && res == SMTPD_R_ERR) {
        const char *why = sbuf_len(reply) ? sbuf_str(reply) : "(reason unavailable)";
        char *safe_why = smtpd_sasl_printable(why);
        const char *user = sasl_srv_username(ss->srv);
        char *safe_user = smtpd_sasl_printable(user ? user : "(unavailable)");
        log_warn("%s: SASL %.100s authentication failed: %s, sasl_username=%.100s", st->namaddr,
                 sasl_srv_method(ss->srv), safe_why, safe_user);
        if (status == SASL_SRV_TEMP)
            smtpd_reply(st, "454 4.7.0 Temporary authentication failure: %s", safe_why);
        else
            smtpd_reply(st, "535 5.7.8 Error: authentication failed: %s", safe_why);
        xfree(safe_why);
        xfree(safe_user);
    }
    sbuf_free(reply);
out:
    for (size_t i = 0; i < nw; i++) {
        explicit_bzero(words[i], strlen(words[i]));
        xfree(words[i]);
    }
    /* The command line itself may carry an initial response. */
    explicit_bzero(sbuf_data(st->line), sbuf_len(st->line));
    sbuf_reset(st->line);
    return res;
}

/* ---- MAIL FROM AUTH= --------------------------------------------------- */

const char *smtpd_sasl_mail_param(struct smtpd_state *st, const char *value)
{
    if (st->sasl_sender)
        return "503 5.5.4 Error: multiple AUTH= options";
    if (strcmp(value, "<>") != 0)
        st->sasl_sender = smtpd_sasl_printable(value);
    return NULL;
}

void smtpd_sasl_reset_transaction(struct smtpd_state *st)
{
    xfree(st->sasl_sender);
    st->sasl_sender = NULL;
}

/* ---- logging, cleanup, Received: -------------------------------------- */

void smtpd_sasl_log_client(const struct smtpd_state *st, struct sbuf *out)
{
    if (st->sasl_method)
        sbuf_catf(out, ", sasl_method=%s", st->sasl_method);
    if (st->sasl_username)
        sbuf_catf(out, ", sasl_username=%s", st->sasl_username);
    if (st->sasl_sender)
        sbuf_catf(out, ", sasl_sender=%s", st->sasl_sender);
}

void smtpd_sasl_cleanup_attrs(const struct smtpd_state *st, struct cleanup_clnt *c)
{
    if (st->sasl_method)
        cleanup_recf(c, REC_ATTR, "sasl_method=%s", st->sasl_method);
    if (st->sasl_username)
        cleanup_recf(c, REC_ATTR, "sasl_username=%s", st->sasl_username);
    if (st->sasl_sender)
        cleanup_recf(c, REC_ATTR, "sasl_sender=%s", st->sasl_sender);
}

bool smtpd_sasl_received(const struct smtpd_state *st, struct sbuf *out)
{
    if (!smtpd_sasl_cfg.auth_header || st->sasl_username == NULL)
        return false;
    sbuf_printf(out, "\t(Authenticated sender: %s)", st->sasl_username);
    return true;
}

void smtpd_sasl_session_end(struct smtpd_state *st)
{
    struct smtpd_sasl_sess *ss = st->sasl;
    if (ss) {
        sasl_srv_free(ss->srv);
        sbuf_free(ss->kw[0]);
        sbuf_free(ss->kw[1]);
        xfree(ss);
    }
    st->sasl = NULL;
    smtpd_sasl_forget(st);
    smtpd_sasl_reset_transaction(st);
}

/* ---- restrictions ----------------------------------------------------- */

enum smtpd_verdict smtpd_sasl_permit(struct smtpd_check_ctx *c)
{
    const struct smtpd_state *st = c->st;
    if (st->sasl_username && st->sasl_method && strcasecmp(st->sasl_method, "ANONYMOUS") != 0)
        return SMTPD_PERMIT;
    return SMTPD_DUNNO;
}

/* Owners of sender per smtpd_sender_login_maps: 1 found (*owners new),
 * 0 none, -1 lookup failure. */
static int smtpd_sasl_owners(const char *sender, char **owners)
{
    struct resolve_reply res;
    resolve_reply_init(&res);
    int r = -1;
    *owners = NULL;
    if (rewrite_clnt_resolve("", sender, &res) == 0 && !(res.flags & RESOLVE_FLAG_FAIL)) {
        int flags = strcmp(res.class_, "local") == 0 ? MAPS_ADDR_LOCAL : 0;
        const char *v = maps_find_addr(smtpd_sasl_cfg.login_maps, sbuf_str(res.recipient),
                                       smtpd_cfg.rcpt_delim, flags, NULL);
        if (v) {
            *owners = xstrdup(v);
            r = 1;
        } else
            r = maps_error(smtpd_sasl_cfg.login_maps) < 0 ? -1 : 0;
    }
    resolve_reply_free(&res);
    return r;
}

static bool smtpd_sasl_owned_by(const char *owners, const char *user)
{
    char **names = cfg_list(owners);
    bool found = false;
    for (char **p = names; *p && !found; p++)
        found = strcasecmp(*p, user) == 0;
    cfg_list_free(names);
    return found;
}

enum smtpd_verdict smtpd_sasl_login_mismatch(struct smtpd_check_ctx *c,
                                             enum smtpd_sasl_login_check which)
{
    struct smtpd_state *st = c->st;
    const char *sender = st->sender;
    if (smtpd_sasl_cfg.login_maps == NULL || sender == NULL || *sender == 0)
        return SMTPD_DUNNO;
    const char *user = st->sasl_username;
    if (user ? which == SMTPD_SASL_LOGIN_UNAUTH : which == SMTPD_SASL_LOGIN_AUTH)
        return SMTPD_DUNNO;
    char *owners = NULL;
    int r = smtpd_sasl_owners(sender, &owners);
    enum smtpd_verdict v = SMTPD_DUNNO;
    if (r < 0)
        v = smtpd_reject(c, SMTPD_STAGE_SENDER, 451, "4.3.0", NULL, "Temporary lookup failure");
    else if (user) {
        /* Logged in: the address must be one of this user's (an unknown
         * address too, except for the "known" variant). */
        bool bad = r > 0 ? !smtpd_sasl_owned_by(owners, user) : which != SMTPD_SASL_LOGIN_KNOWN;
        if (bad) {
            struct sbuf *text = sbuf_new(64);
            sbuf_printf(text, "not owned by user %s", user);
            v = smtpd_reject(c, SMTPD_STAGE_SENDER, 553, "5.7.1", "Sender address",
                             sbuf_str(text));
            sbuf_free(text);
        }
    } else if (r > 0)
        v = smtpd_reject(c, SMTPD_STAGE_SENDER, 553, "5.7.1", "Sender address", "not logged in");
    xfree(owners);
    return v;
}
