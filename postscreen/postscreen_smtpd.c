/*
 * postscreen_smtpd.c - the dummy SMTP engine for clients that failed a test
 *
 * Used by: postscreen_early.c (a failed test whose action is enforce).
 * Interface: ps_smtpd_init(), ps_smtpd_start(), ps_smtpd_read(),
 *            ps_smtpd_cancel(), ps_smtpd_resume().
 * Errors: a line longer than the input limit, a command or time limit, or
 *         the client hanging up ends the connection.
 * Notes: the client gets the 220 greeting and may talk SMTP, but every
 *        RCPT TO is refused with the reply of the test it failed (e.g.
 *        "550 5.7.1 Service unavailable; client [192.0.2.1] blocked using
 *        zen.example") and logged as Postfix logs it ("NOQUEUE: reject: RCPT
 *        from [addr]:port: 550 ...; from=<s>, to=<r>, proto=ESMTP,
 *        helo=<h>"), so the sender learns why. Nothing is ever queued: DATA
 *        and BDAT get "554 5.5.1 Error: no valid recipients". At most
 *        postscreen_command_count_limit commands, each within
 *        postscreen_command_time_limit; QUIT gets 221. With
 *        postscreen_tls_security_level may or encrypt, EHLO offers STARTTLS
 *        (postscreen_starttls.c hands the connection to tlsproxy; the
 *        dialogue then goes on in plaintext over tlsproxy's socket, and
 *        EHLO no longer offers it); with encrypt, any command but EHLO,
 *        HELO, STARTTLS, NOOP, RSET and QUIT before it gets "530 5.7.0
 *        Must issue a STARTTLS command first".
 *
 *        The smtpd settings it copies: postscreen_helo_required (MAIL FROM
 *        before HELO/EHLO gets 503, as in Postfix's postscreen; HELO/EHLO
 *        without a name get 501), postscreen_disable_vrfy_command (502, or
 *        VRFY is answered like RCPT, unlogged, and EHLO offers it),
 *        postscreen_discard_ehlo_keywords and its address maps (keywords
 *        left out of EHLO; without STARTTLS the command gets 502),
 *        postscreen_command_filter (lib/mail/cmd_filter.c, before the
 *        after-220 tests look at the line; a table error gets 451 where
 *        Postfix stops). postscreen.c adds postscreen_reject_footer to every
 *        4xx/5xx reply (lib/mail/reply_footer.c).
 *
 *        The same engine runs the after-220 tests for a client that passed
 *        the others, when postscreen_pipelining_enable,
 *        postscreen_non_smtp_command_enable or postscreen_bare_newline_enable
 *        is on and that test is not cached: a command sent before the reply
 *        to the previous one ("COMMAND PIPELINING from [addr]:port after
 *        CMD: rest"; PIPELINING is then not offered), a forbidden or
 *        header-like command ("NON-SMTP COMMAND ... after CMD: line"), a
 *        line ending in a bare LF ("BARE NEWLINE ... after CMD"). Each has
 *        its _action (drop: 521 at once). postscreen cannot hand a session
 *        over in the middle, so RCPT gets "450 4.3.2 Service currently
 *        unavailable"; a client that failed nothing is cached (PASS NEW)
 *        and goes to smtpd on its next connection. A client vetoed by
 *        postscreen_allowlist_interfaces gets the same 450 and is never
 *        cached.
 */
#include "postscreen.h"
#include "alloc.h"
#include "cmd_filter.h"
#include "config.h"
#include "ehlo_discard.h"
#include "events.h"
#include "log.h"
#include "params.h"
#include "reply_footer.h"
#include <ctype.h>
#include <strings.h>

/* The reply to RCPT and VRFY when no test failed with action enforce: a
 * client held for the after-220 tests, or one vetoed by
 * postscreen_allowlist_interfaces. */
#define PS_SMTPD_DEFER "450 4.3.2 Service currently unavailable"

/* The raw value of name; when that is just "$other" (the default of the
 * postscreen_ copies of smtpd settings), other's raw value, as Postfix
 * reads it: a footer's own $names must wait for the reply. */
static const char *ps_smtpd_raw(const char *name)
{
    const char *v = cfg_raw(name);
    if (v && v[0] == '$' && cfg_raw(v + 1))
        return cfg_raw(v + 1);
    return v ? v : "";
}

void ps_smtpd_pre_jail(void)
{
    ps_cfg.ehlo_discard = ehlo_discard_new(cfg_str(P_POSTSCREEN_DISCARD_EHLO_KEYWORDS),
                                           P_POSTSCREEN_DISCARD_EHLO_KEYWORD_ADDRESS_MAPS,
                                           cfg_str(P_POSTSCREEN_DISCARD_EHLO_KEYWORD_ADDRESS_MAPS));
    ps_cfg.ehlo_discard_list = ehlo_discard_lookup(ps_cfg.ehlo_discard, NULL);
    ps_cfg.cmd_filter = cmd_filter_new(P_POSTSCREEN_COMMAND_FILTER,
                                       cfg_str(P_POSTSCREEN_COMMAND_FILTER));
    ps_cfg.expand = reply_expand_new(ps_smtpd_raw(P_POSTSCREEN_EXPANSION_FILTER));
    ps_cfg.footer = reply_footer_new(ps_smtpd_raw(P_POSTSCREEN_REJECT_FOOTER),
                                     P_POSTSCREEN_REJECT_FOOTER_MAPS,
                                     cfg_str(P_POSTSCREEN_REJECT_FOOTER_MAPS), ps_cfg.expand);
}

void ps_smtpd_init(void)
{
    ps_cfg.helo_required = cfg_bool(P_POSTSCREEN_HELO_REQUIRED);
    ps_cfg.disable_vrfy = cfg_bool(P_POSTSCREEN_DISABLE_VRFY_COMMAND);
    if (cfg_bool(P_POSTSCREEN_PIPELINING_ENABLE))
        ps_cfg.deep_enabled |= PS_T_PIPE;
    if (cfg_bool(P_POSTSCREEN_NON_SMTP_COMMAND_ENABLE))
        ps_cfg.deep_enabled |= PS_T_NSMTP;
    if (cfg_bool(P_POSTSCREEN_BARE_NEWLINE_ENABLE))
        ps_cfg.deep_enabled |= PS_T_BARELF;
    ps_cfg.pipe_action = ps_action_parse(P_POSTSCREEN_PIPELINING_ACTION);
    ps_cfg.nsmtp_action = ps_action_parse(P_POSTSCREEN_NON_SMTP_COMMAND_ACTION);
    ps_cfg.barelf_action = ps_action_parse(P_POSTSCREEN_BARE_NEWLINE_ACTION);
    ps_cfg.pipe_ttl = cfg_time(P_POSTSCREEN_PIPELINING_TTL);
    ps_cfg.nsmtp_ttl = cfg_time(P_POSTSCREEN_NON_SMTP_COMMAND_TTL);
    ps_cfg.barelf_ttl = cfg_time(P_POSTSCREEN_BARE_NEWLINE_TTL);
    ps_cfg.forbidden = cfg_list(cfg_str(P_POSTSCREEN_FORBIDDEN_COMMANDS));
}

/* postscreen_forbidden_commands: plain words, and a header-like "Name:"
 * verb; a table in the list stands for its default rule "anything that
 * does not start with a letter" (XXX: as smtpd, the table itself is not
 * consulted). */
static bool ps_smtpd_non_smtp(const char *line, size_t vlen)
{
    if (vlen > 1 && line[vlen - 1] == ':')
        return true;
    for (char **p = ps_cfg.forbidden; p && *p; p++) {
        if (strchr(*p, ':')) {
            if (!isalpha((unsigned char)line[0]))
                return true;
        } else if (strlen(*p) == vlen && strncasecmp(*p, line, vlen) == 0)
            return true;
    }
    return false;
}

/* An after-220 test failed: log it, then drop or record the failure.
 * False when the connection is gone. */
static bool ps_smtpd_deep_fail(struct ps_state *st, unsigned test, enum ps_action act,
                               const char *what, const char *text)
{
    if (text)
        log_info("%s from %s after %s: %.100s", what, ps_client(st), st->last_cmd, text);
    else
        log_info("%s from %s after %s", what, ps_client(st), st->last_cmd);
    if (act == PS_ACT_DROP) {
        ps_send(st, "521 5.5.1 Protocol error\r\n");
        ps_session_close(st);
        return false;
    }
    ps_fail(st, test, act, "550 5.5.1 Protocol error");
    return true;
}

static void ps_smtpd_time_limit(void *ctx)
{
    struct ps_state *st = ctx;
    log_info("COMMAND TIME LIMIT from %s", ps_client(st));
    struct sbuf *r = sbuf_new(96);
    sbuf_printf(r, "421 4.4.2 %s Error: timeout exceeded\r\n", ps_cfg.myhostname);
    ps_send(st, sbuf_str(r));
    sbuf_free(r);
    ps_session_close(st);
}

void ps_smtpd_cancel(struct ps_state *st)
{
    event_timer_del(ps_smtpd_time_limit, st);
}

void ps_smtpd_start(struct ps_state *st)
{
    struct sbuf *r = sbuf_new(128);
    st->phase = PS_PH_SMTP;
    strlcpy(st->last_cmd, "CONNECT", sizeof(st->last_cmd));
    sbuf_printf(r, "220 %s\r\n", ps_cfg.smtpd_banner);
    ps_send(st, sbuf_str(r));
    sbuf_free(r);
    event_timer_add((double)ps_cfg.cmd_time_limit, ps_smtpd_time_limit, st);
    ps_smtpd_read(st);
}

void ps_smtpd_resume(struct ps_state *st)
{
    event_timer_add((double)ps_cfg.cmd_time_limit, ps_smtpd_time_limit, st);
    ps_smtpd_read(st);
}

/* Commands allowed before STARTTLS when it is required (RFC 3207 §4). */
static bool ps_smtpd_pre_tls(const char *line, size_t vlen)
{
    static const char *const ok[] = { "EHLO", "HELO", "STARTTLS", "NOOP", "RSET", "QUIT" };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strlen(ok[i]) == vlen && strncasecmp(ok[i], line, vlen) == 0)
            return true;
    return false;
}

/* The address in "FROM:<addr> ..." / "TO:<addr>" (new). */
static char *ps_smtpd_addr(const char *arg)
{
    const char *lt = strchr(arg, '<');
    const char *gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt)
        return xstrndup(lt + 1, (size_t)(gt - lt - 1));
    const char *colon = strchr(arg, ':');
    arg = colon ? colon + 1 : arg;
    while (*arg == ' ')
        arg++;
    return xstrndup(arg, strcspn(arg, " "));
}

/* The EHLO keywords to leave out for st (looked up once a session). */
static char **ps_smtpd_discards(struct ps_state *st)
{
    if (st->discard == NULL)
        st->discard = ehlo_discard_lookup(ps_cfg.ehlo_discard, st->addr);
    return st->discard;
}

/* The EHLO reply, without the keywords postscreen_discard_ehlo_keywords or
 * the address map's answer for the client leaves out. As Postfix does, the
 * keywords are logged only when the map's answer drops others than the
 * list would. */
static void ps_smtpd_ehlo(struct ps_state *st, struct sbuf *r)
{
    /* With the pipelining test on, pipelining is not offered. */
    const char *offer[] = {
        st->deep && (ps_cfg.deep_enabled & PS_T_PIPE) ? NULL : "PIPELINING",
        ps_cfg.disable_vrfy ? NULL : "VRFY",
        "8BITMIME",
        ps_cfg.tls_level != TLS_PARAM_NONE && !st->tls_on ? "STARTTLS" : NULL,
        "ENHANCEDSTATUSCODES",
    };
    char **mine = ps_smtpd_discards(st);
    char **list = ps_cfg.ehlo_discard_list;
    struct sbuf *dropped = sbuf_new(64), *by_list = sbuf_new(64);
    const char *kw[ARRAY_LEN(offer)];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(offer); i++) {
        if (offer[i] == NULL)
            continue;
        if (ehlo_discard_has(list, offer[i]))
            sbuf_catf(by_list, " %s", offer[i]);
        if (ehlo_discard_has(mine, offer[i]))
            sbuf_catf(dropped, " %s", offer[i]);
        else
            kw[n++] = offer[i];
    }
    if (sbuf_len(dropped) && strcmp(sbuf_str(dropped), sbuf_str(by_list)) != 0
        && !ehlo_discard_has(mine, EHLO_DISCARD_SILENT))
        log_info("%s: discarding EHLO keywords:%s", ps_client(st), sbuf_str(dropped));
    sbuf_free(dropped);
    sbuf_free(by_list);
    sbuf_printf(r, "250%c%s\r\n", n ? '-' : ' ', ps_cfg.myhostname);
    for (size_t i = 0; i < n; i++)
        sbuf_catf(r, "250%c%s\r\n", i + 1 < n ? '-' : ' ', kw[i]);
}

/* One command; false when the session is over. */
static bool ps_smtpd_command(struct ps_state *st, char *line)
{
    struct sbuf *r = sbuf_new(256);
    size_t vlen = strcspn(line, " ");
    char *arg = line + vlen;
    while (*arg == ' ')
        arg++;
    bool go_on = true;

    if (++st->cmd_count > (unsigned long)ps_cfg.cmd_count_limit) {
        log_info("COMMAND COUNT LIMIT from %s", ps_client(st));
        sbuf_printf(r, "421 4.7.0 %s Error: command count limit exceeded\r\n",
                    ps_cfg.myhostname);
        go_on = false;
    } else if (ps_cfg.tls_level == TLS_PARAM_ENCRYPT && !st->tls_on
               && !ps_smtpd_pre_tls(line, vlen)) {
        sbuf_cat(r, "530 5.7.0 Must issue a STARTTLS command first\r\n");
    } else if (vlen == 4 && strncasecmp(line, "EHLO", 4) == 0) {
        if (*arg == 0) {
            sbuf_cat(r, "501 Syntax: EHLO hostname\r\n");
        } else {
            xfree(st->helo);
            st->helo = xstrdup(arg);
            st->esmtp = true;
            ps_smtpd_ehlo(st, r);
        }
    } else if (ps_cfg.tls_level != TLS_PARAM_NONE && vlen == 8
               && strncasecmp(line, "STARTTLS", 8) == 0) {
        if (*arg)
            sbuf_cat(r, "501 5.5.4 Syntax: STARTTLS\r\n");
        else if (st->tls_on)
            sbuf_cat(r, "554 5.5.1 Error: TLS already active\r\n");
        else if (ehlo_discard_has(ps_smtpd_discards(st), "STARTTLS"))
            sbuf_cat(r, "502 5.5.1 Error: command not implemented\r\n");
        else if (ps_starttls_start(st) < 0)
            sbuf_cat(r, "454 4.7.0 TLS not available due to local problem\r\n");
        else
            sbuf_cat(r, "220 2.0.0 Ready to start TLS\r\n");
    } else if (vlen == 4 && strncasecmp(line, "HELO", 4) == 0) {
        if (*arg == 0) {
            sbuf_cat(r, "501 Syntax: HELO hostname\r\n");
        } else {
            xfree(st->helo);
            st->helo = xstrdup(arg);
            sbuf_printf(r, "250 %s\r\n", ps_cfg.myhostname);
        }
    } else if (vlen == 4 && strncasecmp(line, "MAIL", 4) == 0 && ps_cfg.helo_required
               && st->helo == NULL) {
        sbuf_cat(r, "503 5.5.1 Error: send HELO/EHLO first\r\n");
    } else if (vlen == 4 && strncasecmp(line, "MAIL", 4) == 0) {
        xfree(st->sender);
        st->sender = ps_smtpd_addr(arg);
        sbuf_cat(r, "250 2.1.0 Ok\r\n");
    } else if (vlen == 4 && strncasecmp(line, "RCPT", 4) == 0) {
        if (st->sender == NULL) {
            sbuf_cat(r, "503 5.5.1 Error: need MAIL command\r\n");
        } else {
            char *rcpt = ps_smtpd_addr(arg);
            const char *reply = st->reply ? st->reply : PS_SMTPD_DEFER;
            if (st->deep && st->reply == NULL && !st->veto) {
                /* Passed the before-220 tests; the after-220 ones end here.
                 * Passed: cached, so the next connection goes to smtpd. */
                if ((st->failed & PS_T_DEEP) == 0 && !st->denylisted) {
                    log_info("PASS NEW %s", ps_client(st));
                    ps_cache_pass_deep(st->addr);
                    st->deep = false;
                }
            }
            log_info("NOQUEUE: reject: RCPT from %s: %s; from=<%s>, to=<%s>, proto=%s, "
                     "helo=<%s>", ps_client(st), reply, st->sender, rcpt,
                     st->esmtp ? "ESMTP" : "SMTP", st->helo ? st->helo : "");
            sbuf_printf(r, "%s\r\n", reply);
            xfree(rcpt);
        }
    } else if ((vlen == 4 && strncasecmp(line, "DATA", 4) == 0)
               || (vlen == 4 && strncasecmp(line, "BDAT", 4) == 0)) {
        sbuf_cat(r, "554 5.5.1 Error: no valid recipients\r\n");
    } else if (vlen == 4 && strncasecmp(line, "VRFY", 4) == 0) {
        /* As Postfix's postscreen: refused like RCPT, and not logged. */
        if (*arg == 0)
            sbuf_cat(r, "501 5.5.4 Syntax: VRFY address\r\n");
        else if (ps_cfg.disable_vrfy)
            sbuf_cat(r, "502 5.5.1 VRFY command is disabled\r\n");
        else
            sbuf_printf(r, "%s\r\n", st->reply ? st->reply : PS_SMTPD_DEFER);
    } else if (vlen == 4 && strncasecmp(line, "RSET", 4) == 0) {
        xfree(st->sender);
        st->sender = NULL;
        sbuf_cat(r, "250 2.0.0 Ok\r\n");
    } else if (vlen == 4 && strncasecmp(line, "NOOP", 4) == 0) {
        sbuf_cat(r, "250 2.0.0 Ok\r\n");
    } else if (vlen == 4 && strncasecmp(line, "QUIT", 4) == 0) {
        sbuf_cat(r, "221 2.0.0 Bye\r\n");
        go_on = false;
    } else {
        sbuf_cat(r, "502 5.5.2 Error: command not recognized\r\n");
    }
    ps_send(st, sbuf_str(r));
    sbuf_free(r);
    return go_on;
}

/* postscreen_command_filter: *line (new) may be replaced, before the
 * after-220 tests see it. False when the table failed: the client got 451
 * and the line is not used. */
static bool ps_smtpd_filter(struct ps_state *st, char **line)
{
    struct sbuf *repl = sbuf_new(64);
    int r = cmd_filter_apply(ps_cfg.cmd_filter, ps_client(st), *line, repl);
    if (r > 0) {
        xfree(*line);
        *line = sbuf_detach(repl);
        repl = NULL;
    }
    sbuf_free(repl);
    if (r < 0)
        ps_send(st, "451 4.3.0 Temporary lookup failure\r\n");
    return r >= 0;
}

void ps_smtpd_read(struct ps_state *st)
{
    for (;;) {
        const char *p = sbuf_str(st->in);
        const char *lf = memchr(p, '\n', sbuf_len(st->in));
        /* A line longer than $line_length_limit (CR LF not counted) ends
         * the session, whether it came whole or is still coming; the log
         * line and the 421 are Postfix's. */
        size_t len = lf ? (size_t)(lf - p) : sbuf_len(st->in);
        bool cr = len > 0 && p[len - 1] == '\r';
        if (len - cr > ps_cfg.line_limit) {
            log_info("COMMAND LENGTH LIMIT from %s after %s", ps_client(st), st->last_cmd);
            struct sbuf *r = sbuf_new(128);
            sbuf_printf(r, "421 %s Service unavailable - try again later\r\n", ps_cfg.myhostname);
            ps_send(st, sbuf_str(r));
            sbuf_free(r);
            ps_session_close(st);
            return;
        }
        if (lf == NULL) {
            ps_session_input_used(st);  /* room again for what the client sent */
            return;
        }
        bool bare_lf = !cr;
        char *line = xstrndup(p, bare_lf ? len : len - 1);
        struct sbuf *rest = sbuf_new(64);
        sbuf_append(rest, lf + 1, sbuf_len(st->in) - len - 1);
        sbuf_free(st->in);
        st->in = rest;
        if (ps_cfg.cmd_filter && !ps_smtpd_filter(st, &line)) {
            xfree(line);
            event_timer_add((double)ps_cfg.cmd_time_limit, ps_smtpd_time_limit, st);
            continue;
        }
        size_t vlen = strcspn(line, " ");
        bool alive = true;
        if (st->deep) {
            unsigned on = ps_cfg.deep_enabled & ~st->failed;
            if ((on & PS_T_NSMTP) && ps_smtpd_non_smtp(line, vlen))
                alive = ps_smtpd_deep_fail(st, PS_T_NSMTP, ps_cfg.nsmtp_action,
                                           "NON-SMTP COMMAND", line);
            else if ((on & PS_T_BARELF) && bare_lf)
                alive = ps_smtpd_deep_fail(st, PS_T_BARELF, ps_cfg.barelf_action,
                                           "BARE NEWLINE", NULL);
            else if ((on & PS_T_PIPE) && sbuf_len(st->in) > 0)
                alive = ps_smtpd_deep_fail(st, PS_T_PIPE, ps_cfg.pipe_action,
                                           "COMMAND PIPELINING", sbuf_str(st->in));
        }
        if (!alive) {
            xfree(line);
            return;
        }
        snprintf(st->last_cmd, sizeof(st->last_cmd), "%.*s", (int)(vlen < 15 ? vlen : 15), line);
        bool go_on = ps_smtpd_command(st, line);
        xfree(line);
        if (!go_on) {
            log_info("DISCONNECT %s", ps_client(st));
            ps_session_close(st);
            return;
        }
        if (st->phase == PS_PH_TLS)
            return;     /* tlsproxy has the client until the handshake ends */
        event_timer_add((double)ps_cfg.cmd_time_limit, ps_smtpd_time_limit, st);
    }
}
