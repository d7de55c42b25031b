/*
 * smtpd.c - the SMTP server: configuration, session loop, replies, logging
 *
 * Used by: master (service "smtp inet ... smtpd" and friends); by hand as
 *          "smtpd -S" to serve one session on standard input.
 * Interface: main(); smtpd_reply(), smtpd_flush(), smtpd_log_reject(),
 *            smtpd_reset_transaction(), smtpd_open_cleanup(),
 *            smtpd_client_in_mynetworks(), smtpd_log_queue_id().
 * Errors: peer trouble (lost connection, timeout, too many errors) ends the
 *         session with a Postfix-shaped log line; configuration errors are
 *         fatal at start-up (master throttles the service).
 * Notes: commands are read one line at a time; replies are buffered while
 *        more client input is pending so that a pipelined group gets its
 *        answers in one write (RFC 2920). A command must end in CRLF: with
 *        smtpd_forbid_bare_newline (default yes here, see smtpd(8)) a bare
 *        LF is refused and the session closed.
 */
#include "smtpd.h"
#include "events.h"
#include <sys/socket.h>
#include <poll.h>
#include "alloc.h"
#include "cleanup_clnt.h"
#include "cmd_filter.h"
#include "config.h"
#include "dns_lookup.h"
#include "log.h"
#include "log_addr.h"
#include "maps.h"
#include "mynetworks.h"
#include "resolve_local.h"
#include "qfile.h"
#include "reply_footer.h"
#include "server.h"
#include "soft_bounce.h"
#include <ctype.h>
#include <strings.h>

struct smtpd_config smtpd_cfg;

/* ---- configuration ---------------------------------------------------- */

static struct maps *smtpd_maps(const char *param)
{
    const char *v = cfg_str(param);
    if (*v == 0)
        return NULL;
    return maps_create(param, v, DICT_F_FOLD);
}

static int smtpd_reply_code(const char *param)
{
    int code = cfg_int(param);
    if (code < 400 || code > 599)
        log_fatal("%s = %d: not a 4xx or 5xx SMTP reply code", param, code);
    return code;
}

/* Still root: open the tables (they may be readable by root only). */
static void smtpd_pre_jail(void)
{
    struct smtpd_config *c = &smtpd_cfg;
    smtpd_limits_init();
    smtpd_notify_init();
    cleanup_keep_connections(true);     /* one cleanup connection for many messages */
    c->myhostname = cfg_str(P_MYHOSTNAME);
    c->mail_name = cfg_str(P_MAIL_NAME);
    c->banner = xstrdup(cfg_str(P_SMTPD_BANNER));
    c->msg_size_limit = cfg_long(P_MESSAGE_SIZE_LIMIT);
    long ll = cfg_long(P_LINE_LENGTH_LIMIT);
    c->line_limit = ll < 512 ? 512 : (size_t)ll;    /* RFC 5321 minimum command line */
    c->timeout = (int)cfg_time(P_SMTPD_TIMEOUT);
    c->per_request_deadline = cfg_bool(P_SMTPD_PER_REQUEST_DEADLINE);
    c->min_data_rate = cfg_int(P_SMTPD_MIN_DATA_RATE);
    c->hard_error_limit = cfg_int(P_SMTPD_HARD_ERROR_LIMIT);
    c->soft_error_limit = cfg_int(P_SMTPD_SOFT_ERROR_LIMIT);
    c->error_sleep = cfg_time(P_SMTPD_ERROR_SLEEP_TIME);
    c->rcpt_limit = cfg_int(P_SMTPD_RECIPIENT_LIMIT);
    c->rcpt_overshoot_limit = cfg_int(P_SMTPD_RECIPIENT_OVERSHOOT_LIMIT);
    c->helo_required = cfg_bool(P_SMTPD_HELO_REQUIRED);
    c->disable_vrfy = cfg_bool(P_DISABLE_VRFY_COMMAND);
    c->delay_reject = cfg_bool(P_SMTPD_DELAY_REJECT);
    c->client_port_logging = cfg_bool(P_SMTPD_CLIENT_PORT_LOGGING);
    c->peername_lookup = cfg_bool(P_SMTPD_PEERNAME_LOOKUP);
    c->delay_open = cfg_bool(P_SMTPD_DELAY_OPEN_UNTIL_VALID_RCPT);
    c->strict_rfc821 = cfg_bool(P_STRICT_RFC821_ENVELOPES);
    c->allow_untrusted_routing = cfg_bool(P_ALLOW_UNTRUSTED_ROUTING);
    /* After a content filter (receive_override_options =
     * no_unknown_recipient_checks) the filter already saw the recipients. */
    c->unknown_rcpt_checks = !receive_override_has("no_unknown_recipient_checks");
    c->reject_unlisted_rcpt = cfg_bool(P_SMTPD_REJECT_UNLISTED_RECIPIENT) && c->unknown_rcpt_checks;
    c->reject_unlisted_sender = cfg_bool(P_SMTPD_REJECT_UNLISTED_SENDER);
    c->smtputf8_enable = cfg_bool(P_SMTPUTF8_ENABLE);
    c->forbid_unauth_pipelining = cfg_bool(P_SMTPD_FORBID_UNAUTH_PIPELINING);
    /* Postfix 3.9 semantics (also in the 3.7.10/3.8.5 backports): "yes" is
     * an alias of "normalize". Postern's default is "yes" (Postfix 3.7's
     * postconf -d says "no"; 3.9's says "normalize"): see smtpd(8). */
    const char *blf = cfg_str(P_SMTPD_FORBID_BARE_NEWLINE);
    if (strcasecmp(blf, "normalize") == 0 || strcasecmp(blf, "yes") == 0)
        c->bare_lf = SMTPD_BARE_LF_NORMALIZE;
    else if (strcasecmp(blf, "reject") == 0)
        c->bare_lf = SMTPD_BARE_LF_REJECT;
    else if (strcasecmp(blf, "no") == 0)
        c->bare_lf = SMTPD_BARE_LF_NO;
    else
        log_fatal("%s = %s: expected normalize, yes, reject or no", P_SMTPD_FORBID_BARE_NEWLINE,
                  blf);
    c->bare_lf_code = smtpd_reply_code(P_SMTPD_FORBID_BARE_NEWLINE_REJECT_CODE);
    const char *proxy = cfg_str(P_SMTPD_UPSTREAM_PROXY_PROTOCOL);
    if (strcmp(proxy, "haproxy") == 0)
        c->proxy_protocol = true;
    else if (*proxy)
        log_fatal("%s = %s: unsupported (the only protocol is haproxy)",
                  P_SMTPD_UPSTREAM_PROXY_PROTOCOL, proxy);
    c->proxy_timeout = (int)cfg_time(P_SMTPD_UPSTREAM_PROXY_TIMEOUT);
    if (*cfg_str(P_DEBUG_PEER_LIST))
        c->debug_peers = mynetworks_new(P_DEBUG_PEER_LIST, cfg_str(P_DEBUG_PEER_LIST),
                                        cfg_parent_matches(P_DEBUG_PEER_LIST));
    c->debug_peer_level = cfg_int(P_DEBUG_PEER_LEVEL);
    c->mynetworks = mynetworks_new(P_MYNETWORKS, cfg_str(P_MYNETWORKS),
                                   cfg_parent_matches(P_MYNETWORKS));
    c->bare_lf_exclusions = mynetworks_new(P_SMTPD_FORBID_BARE_NEWLINE_EXCLUSIONS,
                                           cfg_str(P_SMTPD_FORBID_BARE_NEWLINE_EXCLUSIONS),
                                           cfg_parent_matches(P_MYNETWORKS));
    c->forbidden_cmds = cfg_list(cfg_str(P_SMTPD_FORBIDDEN_COMMANDS));
    c->noop_cmds = cfg_list(cfg_str(P_SMTPD_NOOP_COMMANDS));
    c->cmd_filter = cmd_filter_new(P_SMTPD_COMMAND_FILTER, cfg_str(P_SMTPD_COMMAND_FILTER));
    /* Every DNS lookup of this process (lib/mail/dns_lookup.c) passes its
     * records through the filter; the table is opened here, before chroot. */
    if (*cfg_str(P_SMTPD_DNS_REPLY_FILTER)) {
        c->dns_reply_filter =
            maps_create(P_SMTPD_DNS_REPLY_FILTER, cfg_str(P_SMTPD_DNS_REPLY_FILTER), DICT_F_FOLD);
        dns_reply_filter_set(c->dns_reply_filter);
    }
    c->client_restr = smtpd_check_parse(P_SMTPD_CLIENT_RESTRICTIONS);
    c->helo_restr = smtpd_check_parse(P_SMTPD_HELO_RESTRICTIONS);
    c->sender_restr = smtpd_check_parse(P_SMTPD_SENDER_RESTRICTIONS);
    c->relay_restr = smtpd_check_parse(P_SMTPD_RELAY_RESTRICTIONS);
    c->rcpt_restr = smtpd_check_parse(P_SMTPD_RECIPIENT_RESTRICTIONS);
    c->data_restr = smtpd_check_parse(P_SMTPD_DATA_RESTRICTIONS);
    if (c->relay_restr[0] == NULL && c->rcpt_restr[0] == NULL)
        log_warn("smtpd_relay_restrictions and smtpd_recipient_restrictions are both empty: "
                 "this server relays mail for anyone who asks");
    c->local_rcpt_maps = smtpd_maps(P_LOCAL_RECIPIENT_MAPS);
    c->virt_alias_maps = smtpd_maps(P_VIRTUAL_ALIAS_MAPS);
    c->canonical_maps = smtpd_maps(P_CANONICAL_MAPS);
    c->rcpt_canonical_maps = smtpd_maps(P_RECIPIENT_CANONICAL_MAPS);
    c->sender_canonical_maps = smtpd_maps(P_SENDER_CANONICAL_MAPS);
    c->virt_mailbox_maps = smtpd_maps(P_VIRTUAL_MAILBOX_MAPS);
    c->relay_rcpt_maps = smtpd_maps(P_RELAY_RECIPIENT_MAPS);
    c->rcpt_delim = cfg_str(P_RECIPIENT_DELIMITER);
    c->unknown_local_code = smtpd_reply_code(P_UNKNOWN_LOCAL_RECIPIENT_REJECT_CODE);
    c->unknown_alias_code = smtpd_reply_code(P_UNKNOWN_VIRTUAL_ALIAS_REJECT_CODE);
    c->unknown_mailbox_code = smtpd_reply_code(P_UNKNOWN_VIRTUAL_MAILBOX_REJECT_CODE);
    c->unknown_relay_code = smtpd_reply_code(P_UNKNOWN_RELAY_RECIPIENT_REJECT_CODE);
    c->reject_code = smtpd_reply_code(P_REJECT_CODE);
    c->defer_code = smtpd_reply_code(P_DEFER_CODE);
    c->relay_code = smtpd_reply_code(P_RELAY_DOMAINS_REJECT_CODE);
    c->non_fqdn_code = smtpd_reply_code(P_NON_FQDN_REJECT_CODE);
    c->plaintext_code = smtpd_reply_code(P_PLAINTEXT_REJECT_CODE);
    smtpd_check_init();
    smtpd_rewrite_clients_init();
    c->expand = reply_expand_new(cfg_raw(P_SMTPD_EXPANSION_FILTER));
    c->footer = reply_footer_new(cfg_raw(P_SMTPD_REJECT_FOOTER), P_SMTPD_REJECT_FOOTER_MAPS,
                                 cfg_str(P_SMTPD_REJECT_FOOTER_MAPS), c->expand);
    smtpd_filter_init();
    smtpd_proxy_init();
    smtpd_milter_init();
    smtpd_tls_pre_jail();
    smtpd_sasl_pre_jail();
}

/* ---- replies and logs ------------------------------------------------- */

bool smtpd_flush(struct smtpd_state *st)
{
    return stream_flush(st->client) == 0;
}

/* smtpd_reject_footer after the last line r of a 4xx/5xx reply: true and
 * out filled (reply_footer.c) when one applies. */
static bool smtpd_footer(struct smtpd_state *st, const char *r, struct sbuf *out)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", st->port);
    struct reply_vars v = { .n = 0 };
    reply_vars_add(&v, "client_address", st->addr);
    reply_vars_add(&v, "client_name", st->name);
    reply_vars_add(&v, "client_port", port);
    reply_vars_add(&v, "server_name", smtpd_cfg.myhostname);
    return reply_footer_apply(smtpd_cfg.footer, r, &v, out);
}

void smtpd_reply(struct smtpd_state *st, const char *fmt, ...)
{
    va_list ap;
    /* A fresh buffer: callers often pass text that lives in st->reply. */
    struct sbuf *out = sbuf_new(128);
    va_start(ap, fmt);
    sbuf_vcatf(out, fmt, ap);
    va_end(ap);
    if (soft_bounce_enabled())
        soft_bounce_text(sbuf_data(out));     /* 5xx -> 4xx */
    const char *r = sbuf_str(out);
    bool not_error = st->reply_not_error;
    st->reply_not_error = false;
    if ((r[0] == '4' || r[0] == '5') && !not_error) {
        st->error_count++;
        /* Slow down clients that keep failing, but not the occasional typo. */
        if (st->error_count > smtpd_cfg.soft_error_limit && smtpd_cfg.error_sleep > 0) {
            smtpd_flush(st);
            sleep((unsigned)smtpd_cfg.error_sleep);
        }
    }
    bool last_line = sbuf_len(out) < 4 || r[3] != '-';
    /* smtpd_reject_footer goes after the last line of a 4xx/5xx reply. */
    struct sbuf *foot = NULL;
    if (last_line && (r[0] == '4' || r[0] == '5')) {
        foot = sbuf_new(256);
        if (smtpd_footer(st, r, foot))
            r = sbuf_str(foot);
    }
    /* One write per reply: flushing between the lines of a multi-line reply
     * lets Nagle and delayed ACKs add ~40 ms to every EHLO. */
    do {
        size_t n = strcspn(r, "\n");
        log_debug(1, "> %s: %.*s", st->namaddr, (int)n, r);
        smtpd_history_out(st, r, n);
        stream_write(st->client, r, n);
        stream_write(st->client, "\r\n", 2);
        r += n + (r[n] ? 1 : 0);
    } while (*r);
    sbuf_free(foot);
    sbuf_free(out);
    if (last_line && stream_pending(st->client) == 0)
        smtpd_flush(st);
}

const char *smtpd_queue_id(struct smtpd_state *st)
{
    if (st->queue_id_pending) {
        st->queue_id_pending = false;
        if (st->cleanup && cleanup_greeting(st->cleanup) == 0) {
            strlcpy(st->queue_id, cleanup_queue_id(st->cleanup), sizeof(st->queue_id));
            struct sbuf *sasl_log = sbuf_new(64);
            smtpd_sasl_log_client(st, sasl_log);
            log_info("%s: client=%s%s", st->queue_id, st->namaddr, sbuf_str(sasl_log));
            sbuf_free(sasl_log);
        }
    }
    return st->queue_id;
}

const char *smtpd_log_queue_id(struct smtpd_state *st)
{
    const char *id = smtpd_queue_id(st);
    return id[0] ? id : "NOQUEUE";
}

void smtpd_log_reject(struct smtpd_state *st, const char *kind, const char *cmd, const char *reply,
                      const char *rcpt)
{
    struct sbuf *b = sbuf_new(256);
    struct sbuf *q = sbuf_new(64);
    sbuf_printf(b, "%s: %s: %s from %s: ", smtpd_log_queue_id(st), kind, cmd, st->namaddr);
    size_t at = sbuf_len(b);
    sbuf_catf(b, "%s;", reply);
    if (soft_bounce_enabled())  /* log the code the client gets */
        soft_bounce_text(sbuf_data(b) + at);
    if (st->sender)
        sbuf_catf(b, " from=<%s>", log_addr(q, st->sender));
    if (rcpt)
        sbuf_catf(b, " to=<%s>", log_addr(q, rcpt));
    if (st->protocol)
        sbuf_catf(b, " proto=%s", st->protocol);
    if (st->helo_name)
        sbuf_catf(b, " helo=<%s>", st->helo_name);
    log_info("%s", sbuf_str(b));
    sbuf_free(q);
    sbuf_free(b);
}

bool smtpd_client_listed(struct smtpd_state *st, struct mynetworks *list, int *cache)
{
    if (*cache < 0) {
        int r = mynetworks_match(list, st->addr, st->name);
        if (r < 0)
            return false;       /* table trouble: not trusted this time */
        *cache = r;
    }
    return *cache == 1;
}

bool smtpd_client_in_mynetworks(struct smtpd_state *st)
{
    return smtpd_client_listed(st, smtpd_cfg.mynetworks, &st->in_mynetworks);
}

void smtpd_reset_transaction(struct smtpd_state *st)
{
    (void)smtpd_queue_id(st);   /* the transaction's "client=" line, as at its start */
    smtpd_milter_abort(st);
    if (st->cleanup)
        cleanup_abort(st->cleanup);
    st->cleanup = NULL;
    st->cleanup_failed = false;
    st->queue_id[0] = 0;
    st->queue_id_pending = false;
    xfree(st->sender);
    st->sender = NULL;
    xfree(st->first_rcpt);
    st->first_rcpt = NULL;
    st->rcpt_overshoot = 0;
    xfree(st->dsn_envid);
    st->dsn_envid = NULL;
    st->verp_delims[0] = 0;
    st->dsn_ret = 0;
    st->rcpt_count = 0;
    st->declared_size = 0;
    st->smtputf8 = false;
    smtpd_check_reset(st);
    smtpd_sasl_reset_transaction(st);
    smtpd_bdat_reset(st);
    smtpd_xforward_reset(st);
    smtpd_proxy_reset(st);
}

bool smtpd_open_cleanup(struct smtpd_state *st)
{
    if (st->cleanup)
        return true;
    if (smtpd_proxy_enabled())  /* the filter, not cleanup, takes the mail */
        return smtpd_proxy_open(st);
    st->cleanup = cleanup_open_async(smtpd_filter_cleanup_flags(cleanup_input_flags(CLEANUP_FLAG_MASK_EXTERNAL)) |
                               cleanup_dkim_flags(smtpd_client_in_mynetworks(st),
                                                  st->sasl_username != NULL, false));
    if (st->cleanup == NULL) {
        smtpd_reply(st, "451 4.3.0 Error: queue file write error");
        return false;
    }
    st->queue_id_pending = true;    /* smtpd_queue_id() */
    smtpd_milter_spool(st);     /* before the first record */
    smtpd_filter_envelope(st->cleanup);
    struct cleanup_clnt *c = st->cleanup;
    cleanup_recs(c, REC_SENDER, st->sender);
    if (!smtpd_xforward_cleanup(st, c)) {   /* XFORWARD: the original client's */
        cleanup_recs(c, REC_ATTR, smtpd_rewrite_client_local(st) ? "rewrite_context=local"
                                                                 : "rewrite_context=remote");
        cleanup_recf(c, REC_ATTR, "log_client_name=%s", st->name);
        cleanup_recf(c, REC_ATTR, "log_client_address=%s", st->addr);
        cleanup_recf(c, REC_ATTR, "log_client_port=%d", st->port);
        if (st->helo_name)
            cleanup_recf(c, REC_ATTR, "log_helo_name=%s", st->helo_name);
        cleanup_recf(c, REC_ATTR, "log_protocol=%s", st->protocol ? st->protocol : "SMTP");
    }
    cleanup_recs(c, REC_ATTR, "log_message_origin=smtpd");
    smtpd_sasl_cleanup_attrs(st, c);
    if (st->dsn_ret)
        cleanup_recf(c, REC_DSN_RET, "%d", st->dsn_ret);
    if (st->dsn_envid)
        cleanup_recs(c, REC_DSN_ENVID, st->dsn_envid);
    if (st->verp_delims[0])
        cleanup_recs(c, REC_VERP, st->verp_delims);
    return true;
}

/* ---- the session ------------------------------------------------------ */

static void smtpd_log_disconnect(struct smtpd_state *st)
{
    struct sbuf *b = sbuf_new(256);
    int ok = 0, total = 0;
    sbuf_printf(b, "disconnect from %s", st->namaddr);
    for (int i = 0; i < SMTPD_C_COUNT; i++) {
        int o = st->counts[i][0], t = st->counts[i][1];
        if (t == 0)
            continue;
        ok += o;
        total += t;
        if (o == t)
            sbuf_catf(b, " %s=%d", smtpd_cmd_name((enum smtpd_cmd_id)i), t);
        else
            sbuf_catf(b, " %s=%d/%d", smtpd_cmd_name((enum smtpd_cmd_id)i), o, t);
    }
    if (ok == total)
        sbuf_catf(b, " commands=%d", total);
    else
        sbuf_catf(b, " commands=%d/%d", ok, total);
    log_info("%s", sbuf_str(b));
    sbuf_free(b);
}

/* Logs why the client went away and says goodbye where that still helps. */
static void smtpd_log_gone(struct smtpd_state *st)
{
    char extra[48] = "";
    if (strcmp(st->where, "DATA") == 0 || strcmp(st->where, "BDAT") == 0)
        snprintf(extra, sizeof(extra), " (%zu bytes)", st->data_bytes);
    if (stream_error(st->client) == STREAM_E_TIMEOUT) {
        /* The stream error is sticky: write the 421 on the raw descriptor. */
        char msg[320];
        int n = snprintf(msg, sizeof(msg), "421 4.4.2 %s Error: timeout exceeded\r\n",
                         smtpd_cfg.myhostname);
        if (n > 0 && (size_t)n < sizeof(msg) && write(stream_fd(st->client), msg, (size_t)n) < 0)
            log_debug(1, "421 after timeout: %m");
        log_info("timeout after %s%s from %s", st->where, extra, st->namaddr);
    } else
        log_info("lost connection after %s%s from %s", st->where, extra, st->namaddr);
}

int smtpd_bare_lf_mode(struct smtpd_state *st)
{
    if (smtpd_cfg.bare_lf == SMTPD_BARE_LF_NO
        || mynetworks_match(smtpd_cfg.bare_lf_exclusions, st->addr, st->name) == 1)
        return SMTPD_BARE_LF_NO;
    return smtpd_cfg.bare_lf;
}

/* smtpd_forbidden_commands: plain words, plus the default pattern rule
 * "anything that does not start with a letter" when a regexp: table is
 * listed (XXX: the table itself is not consulted yet). */
static bool smtpd_forbidden(const char *line, size_t verb_len)
{
    for (char **p = smtpd_cfg.forbidden_cmds; p && *p; p++) {
        if (strchr(*p, ':')) {
            if (!isalpha((unsigned char)line[0]))
                return true;
        } else if (strlen(*p) == verb_len && strncasecmp(*p, line, verb_len) == 0)
            return true;
    }
    return false;
}

/* smtpd_noop_commands: answered "250 2.0.0 Ok", no checks, no state change. */
static bool smtpd_noop_listed(const char *line, size_t verb_len)
{
    for (char **p = smtpd_cfg.noop_cmds; p && *p; p++)
        if (strlen(*p) == verb_len && strncasecmp(*p, line, verb_len) == 0)
            return true;
    return false;
}

static void smtpd_session(struct smtpd_state *st)
{
    struct stream *cl = st->client;
    bool had_lf;

    for (;;) {
        if (st->error_count >= smtpd_cfg.hard_error_limit) {
            smtpd_reply(st, "421 4.7.0 %s Error: too many errors", smtpd_cfg.myhostname);
            smtpd_flush(st);
            log_info("too many errors after %s from %s", st->where, st->namaddr);
            return;
        }
        if (stream_pending(cl) == 0 && !smtpd_flush(st)) {
            smtpd_log_gone(st);
            return;
        }
        /* A new request: with smtpd_per_request_deadline its whole time
         * limit starts now (the wait for its first byte included). */
        stream_start_request(cl);
        stream_set_min_rate(cl, 0);
        if (stream_pending(cl) == 0 && !smtpd_limits_wait(st))
            return;
        ssize_t n = stream_getline(cl, st->line, smtpd_cfg.line_limit, &had_lf);
        /* As Postfix: an over-long line is cut at line_length_limit, the
         * rest of it skipped, and the first part handled as the command. */
        bool cut = n == STREAM_E_TOOLONG;
        if (cut)
            had_lf = true;
        if ((n < 0 && !cut) || !had_lf) {
            smtpd_log_gone(st);
            return;
        }
        size_t len = sbuf_len(st->line);
        char *line = sbuf_data(st->line);
        if (len > 0 && line[len - 1] == '\r') {
            line[--len] = 0;
            sbuf_truncate(st->line, len);
        } else if (!cut && smtpd_bare_lf_mode(st) == SMTPD_BARE_LF_REJECT) {
            smtpd_reply(st, "%d 5.5.2 %s Error: bare <LF> received", smtpd_cfg.bare_lf_code,
                        smtpd_cfg.myhostname);
            smtpd_flush(st);
            log_info("disconnect: bare <LF> received after %s from %s", st->where, st->namaddr);
            return;
        }
        if (smtpd_cfg.cmd_filter) {
            /* smtpd_command_filter: the command may be replaced, to work
             * around a broken client. */
            struct sbuf *repl = sbuf_new(64);
            int r = cmd_filter_apply(smtpd_cfg.cmd_filter, st->namaddr, line, repl);
            if (r > 0) {
                sbuf_set(st->line, sbuf_str(repl));
                line = sbuf_data(st->line);
                len = sbuf_len(st->line);
            }
            sbuf_free(repl);
            if (r < 0) {
                smtpd_history_in(st, line, len);
                smtpd_reply(st, "451 4.3.0 Temporary lookup failure");
                continue;
            }
        }
        st->pipelined = stream_pending(cl) > 0;
        log_debug(1, "< %s: %.*s", st->namaddr, (int)(len > 200 ? 200 : len), line);
        smtpd_history_in(st, line, len);
        if (memchr(line, 0, len) != NULL || len == 0) {
            st->counts[SMTPD_C_UNKNOWN][1]++;
            smtpd_reply(st, "500 5.5.2 Error: bad syntax");
            continue;
        }
        size_t vlen = strcspn(line, " \t");
        const char *args = line + vlen;
        while (*args == ' ' || *args == '\t')
            args++;
        if (smtpd_cfg.noop_cmds && *smtpd_cfg.noop_cmds && smtpd_noop_listed(line, vlen)) {
            smtpd_reply(st, "250 2.0.0 Ok");    /* overrides built-in commands too */
            continue;
        }
        enum smtpd_cmd_id id = smtpd_cmd_lookup(line, vlen);
        if (id == SMTPD_C_UNKNOWN && smtpd_forbidden(line, vlen)) {
            st->counts[SMTPD_C_UNKNOWN][1]++;
            log_warn("non-SMTP command from %s: %.100s", st->namaddr, line);
            smtpd_reply(st, "221 2.7.0 Error: I can break rules, too. Goodbye.");
            smtpd_flush(st);
            return;
        }
        if ((smtpd_cmd_flags(id) & SMTPD_CMD_F_LAST) && st->pipelined) {
            log_info("improper command pipelining after %s from %s", smtpd_cmd_verb(id),
                     st->namaddr);
            if (smtpd_cfg.forbid_unauth_pipelining) {
                st->counts[id][1]++;
                smtpd_reply(st, "554 5.5.0 Error: SMTP protocol synchronization");
                smtpd_flush(st);
                return;
            }
        }
        st->counts[id][1]++;
        st->where = smtpd_cmd_verb(id);
        smtpd_limits_command(st, id);
        if (!smtpd_tls_required_ok(st, id))
            continue;
        enum smtpd_cmd_result r = smtpd_cmd_run(st, id, args);
        switch (r) {
        case SMTPD_R_OK:
            st->counts[id][0]++;
            break;
        case SMTPD_R_ERR:
            break;
        case SMTPD_R_QUIT:
            st->counts[id][0]++;
            smtpd_flush(st);
            return;
        case SMTPD_R_CLOSE:
            smtpd_flush(st);
            return;
        case SMTPD_R_GONE:
            smtpd_log_gone(st);
            return;
        }
    }
}

/* Closing a socket with unread input makes the kernel send a reset, which
 * can destroy our last reply (a 421) before the client reads it. So say
 * that we are done writing and read what the client still sends, briefly.
 * After QUIT with nothing unread (the usual end) a close sends no reset
 * and the client has nothing more to say: close at once, as Postfix does,
 * rather than wait for the client's own close (a wake-up per session);
 * the same when the client's close is already here. */
static void smtpd_linger(struct smtpd_state *st)
{
    int fd = stream_fd(st->client);
    char buf[4096];
    double deadline = event_now() + 0.2;
    smtpd_flush(st);
    if (st->quit && stream_pending(st->client) == 0) {
        /* Nothing unread (EAGAIN), or the client closed already (0). */
        ssize_t n = recv(fd, buf, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n == 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)))
            return;
    }
    if (shutdown(fd, SHUT_WR) < 0)
        return;
    for (;;) {
        int ms = (int)((deadline - event_now()) * 1000);
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        if (ms <= 0 || log_poll(&pfd, 1, ms) <= 0 || read(fd, buf, sizeof(buf)) <= 0)
            break;
    }
}

static void smtpd_service(struct stream *client)
{
    struct smtpd_state st;
    memset(&st, 0, sizeof(st));
    st.client = client;
    st.in_mynetworks = -1;
    st.verp_ok = -1;
    st.where = "CONNECT";
    st.line = sbuf_new(512);
    st.reply = sbuf_new(256);
    stream_set_timeout(client, smtpd_cfg.timeout);
    stream_set_deadline(client, smtpd_cfg.per_request_deadline);
    bool peer_ok = smtpd_peer_init(&st);
    /* debug_peer_list: more logging for this client's session only. */
    int saved_verbose = log_verbose;
    if (smtpd_cfg.debug_peers && mynetworks_match(smtpd_cfg.debug_peers, st.addr, st.name) == 1)
        log_verbose += smtpd_cfg.debug_peer_level;
    log_info("connect from %s", st.namaddr);

    if (!peer_ok) {
        /* A bad PROXY header: we do not know who this is. */
        smtpd_reply(&st, "421 4.3.0 %s Server local data error", smtpd_cfg.myhostname);
    } else if (!smtpd_cfg.delay_reject) {
        struct sbuf *r = sbuf_new(128);
        if (smtpd_check_client(&st, r) != 0)
            st.client_reject = xstrdup(sbuf_str(r));
        sbuf_free(r);
    }
    if (peer_ok && smtpd_limits_connect(&st) && smtpd_tls_wrapper_start(&st)) {
        smtpd_milter_connect(&st);
        smtpd_reply(&st, "220 %s", smtpd_cfg.banner);
        smtpd_session(&st);
    }

    smtpd_tls_end(&st);
    smtpd_linger(&st);
    smtpd_notify_flush(&st, true);      /* after the client is gone: it never waits */
    smtpd_notify_free(&st);
    smtpd_reset_transaction(&st);
    smtpd_milter_disconnect(&st);
    smtpd_log_disconnect(&st);
    smtpd_check_session_end(&st);
    smtpd_sasl_session_end(&st);
    smtpd_limits_disconnect(&st);
    xfree(st.helo_name);
    xfree(st.client_reject);
    sbuf_free(st.line);
    sbuf_free(st.reply);
    log_verbose = saved_verbose;
}

static const struct server_ops smtpd_ops = {
    .model = SERVER_SINGLE,
    .pre_jail = smtpd_pre_jail,
    .service = smtpd_service,
    /* Between clients, a kept cleanup connection is closed once too old. */
    .idle_due = cleanup_kept_due,
    .idle = cleanup_kept_idle,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &smtpd_ops);
}
