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
 *        and BDAT are answered ("554 5.5.1 Error: no valid recipients", or
 *        the syntax error) and the connection is closed, logged "DATA
 *        without valid RCPT from [addr]:port". EHLO offers what Postfix's
 *        postscreen offers (SIZE, VRFY, ETRN, STARTTLS, ENHANCEDSTATUSCODES,
 *        8BITMIME, DSN, SMTPUTF8, CHUNKING; never PIPELINING); ETRN gets
 *        458; HELO/EHLO end a mail transaction as RSET does. At most
 *        postscreen_command_count_limit commands (QUIT always passes),
 *        each within postscreen_command_time_limit; QUIT gets 221. A client
 *        that failed the pregreet test gets no 220 from here. With
 *        postscreen_tls_security_level may or encrypt, EHLO offers STARTTLS
 *        (postscreen_starttls.c hands the connection to tlsproxy; the
 *        dialogue then goes on in plaintext over tlsproxy's socket, and
 *        EHLO no longer offers it); with encrypt, any known command but
 *        EHLO, HELO, STARTTLS, NOOP and QUIT before it gets "530 5.7.0
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
 *        The same engine runs the after-220 tests: all three for a client
 *        that failed a before-220 test (as Postfix does), and for a client
 *        that passed them those of postscreen_pipelining_enable,
 *        postscreen_non_smtp_command_enable or postscreen_bare_newline_enable
 *        that are on and not cached: a command sent before the reply to
 *        the previous one ("COMMAND PIPELINING from [addr]:port after
 *        CMD: rest"), a forbidden or header-like command ("NON-SMTP
 *        COMMAND ... after PREVIOUS-CMD: line"), a line ending in a bare
 *        LF ("BARE NEWLINE ... after LINE"). Each has its _action (drop:
 *        521 at once). postscreen cannot hand a session
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
#include "soft_bounce.h"
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
    ps_cfg.size_limit = cfg_long(P_MESSAGE_SIZE_LIMIT);
    ps_cfg.smtputf8 = cfg_bool(P_SMTPUTF8_ENABLE);
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

/* An after-220 test failed: log it ("WHAT from CLIENT after AFTER[:
 * TEXT]", text escaped and cut at 100 bytes as Postfix does), then drop
 * or record the failure. False when the connection is gone. */
static bool ps_smtpd_deep_fail(struct ps_state *st, unsigned test, enum ps_action act,
                               const char *what, const char *after, const char *text)
{
    struct sbuf *esc = sbuf_new(128);
    ps_escape(esc, after, strlen(after));
    if (text) {
        struct sbuf *t = sbuf_new(128);
        ps_escape(t, text, strlen(text));
        log_info("%s from %s after %s: %s", what, ps_client(st), sbuf_str(esc), sbuf_str(t));
        sbuf_free(t);
    } else
        log_info("%s from %s after %s", what, ps_client(st), sbuf_str(esc));
    sbuf_free(esc);
    if (act == PS_ACT_DROP) {
        ps_send(st, test == PS_T_NSMTP ? "521 5.7.0 Error: I can break rules, too. Goodbye.\r\n"
                                       : "521 5.5.1 Protocol error\r\n");
        ps_session_close(st);
        return false;
    }
    ps_fail(st, test, act, "550 5.5.1 Protocol error");
    return true;
}

static void ps_smtpd_time_limit(void *ctx)
{
    struct ps_state *st = ctx;
    log_info("COMMAND TIME LIMIT from %s after %s", ps_client(st), st->last_cmd);
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
    st->phase = PS_PH_SMTP;
    strlcpy(st->last_cmd, "CONNECT", sizeof(st->last_cmd));
    /* As Postfix: a client that failed a before-220 test (the access list
     * included) gets every after-220 test, configured or not, so that
     * what else it does wrong is logged too; the others get those that
     * are configured. */
    if (st->failed || st->denylisted) {
        st->deep = true;
        st->deep_on = PS_T_DEEP;
    } else
        st->deep_on = ps_cfg.deep_enabled;
    /* A client that talked before the greeting gets no 220 from here, as
     * from Postfix: fewer NON-SMTP COMMAND events from its early text and
     * a cleaner log of its sender and recipients. */
    if ((st->failed & PS_T_GREET) == 0) {
        struct sbuf *r = sbuf_new(128);
        sbuf_printf(r, "220 %s\r\n", ps_cfg.smtpd_banner);
        ps_send(st, sbuf_str(r));
        sbuf_free(r);
    }
    event_timer_add((double)ps_cfg.cmd_time_limit, ps_smtpd_time_limit, st);
    ps_smtpd_read(st);
}

void ps_smtpd_resume(struct ps_state *st)
{
    event_timer_add((double)ps_cfg.cmd_time_limit, ps_smtpd_time_limit, st);
    ps_smtpd_read(st);
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

/* True when every word of a is in b. */
static bool ps_words_in(char *const *a, char *const *b)
{
    for (char *const *p = a; p && *p; p++)
        if (!ehlo_discard_has(b, *p))
            return false;
    return true;
}

/* As Postfix does: when the address map's answer for the client differs
 * from postscreen_discard_ehlo_keywords, its words are logged (unless one
 * of them is silent-discard). */
static void ps_smtpd_log_discards(struct ps_state *st, char *const *mine)
{
    char *const *list = ps_cfg.ehlo_discard_list;
    if (mine == NULL || !*mine || ehlo_discard_has(mine, EHLO_DISCARD_SILENT)
        || (ps_words_in(mine, list) && ps_words_in(list, mine)))
        return;
    struct sbuf *words = sbuf_new(64);
    for (char *const *p = mine; *p; p++) {
        sbuf_addch(words, ' ');
        for (const char *c = *p; *c; c++)
            sbuf_addch(words, (char)toupper((unsigned char)*c));
    }
    log_info("%s: discarding EHLO keywords:%s", ps_client(st), sbuf_str(words));
    sbuf_free(words);
}

/* The EHLO reply, without the keywords postscreen_discard_ehlo_keywords or
 * the address map's answer for the client leaves out. */
static void ps_smtpd_ehlo(struct ps_state *st, struct sbuf *r)
{
    /* Postfix's postscreen offers this list, and never PIPELINING: a
     * client that sends commands ahead anyway is what the pipelining test
     * looks for. */
    char size[48] = "SIZE";
    if (ps_cfg.size_limit > 0)
        snprintf(size, sizeof(size), "SIZE %ld", ps_cfg.size_limit);
    const struct {
        const char *name, *text;
    } offer[] = {
        { "SIZE", size },
        { ps_cfg.disable_vrfy ? NULL : "VRFY", "VRFY" },
        { "ETRN", "ETRN" },
        { ps_cfg.tls_level != TLS_PARAM_NONE && !st->tls_on ? "STARTTLS" : NULL, "STARTTLS" },
        { "ENHANCEDSTATUSCODES", "ENHANCEDSTATUSCODES" },
        { "8BITMIME", "8BITMIME" },
        { "DSN", "DSN" },
        { ps_cfg.smtputf8 ? "SMTPUTF8" : NULL, "SMTPUTF8" },
        { "CHUNKING", "CHUNKING" },
    };
    char **mine = ps_smtpd_discards(st);
    const char *kw[ARRAY_LEN(offer)];
    size_t n = 0;
    for (size_t i = 0; i < ARRAY_LEN(offer); i++)
        if (offer[i].name && !ehlo_discard_has(mine, offer[i].name))
            kw[n++] = offer[i].text;
    ps_smtpd_log_discards(st, mine);
    sbuf_printf(r, "250%c%s\r\n", n ? '-' : ' ', ps_cfg.myhostname);
    for (size_t i = 0; i < n; i++)
        sbuf_catf(r, "250%c%s\r\n", i + 1 < n ? '-' : ' ', kw[i]);
}

/* The command handlers. Each writes its reply to r and returns false when
 * the session ends after it. arg is what follows the verb, blanks skipped.
 * Replies and log lines are those of Postfix's postscreen. */

/* The first word of arg (new), or NULL when there is none. */
static char *ps_smtpd_word(const char *arg)
{
    size_t n = strcspn(arg, " ");
    return n ? xstrndup(arg, n) : NULL;
}

/* HELO and EHLO: true when arg names the client (recorded; a new greeting
 * also ends the mail transaction), else the 501 is in r. */
static bool ps_cmd_hello(struct ps_state *st, const char *verb, const char *arg, struct sbuf *r)
{
    char *name = ps_smtpd_word(arg);
    if (name == NULL) {
        sbuf_printf(r, "501 Syntax: %s hostname\r\n", verb);
        return false;
    }
    xfree(st->helo);
    st->helo = name;
    xfree(st->sender);
    st->sender = NULL;
    return true;
}

static bool ps_cmd_helo(struct ps_state *st, const char *arg, struct sbuf *r)
{
    if (ps_cmd_hello(st, "HELO", arg, r))
        sbuf_printf(r, "250 %s\r\n", ps_cfg.myhostname);
    return true;
}

static bool ps_cmd_ehlo(struct ps_state *st, const char *arg, struct sbuf *r)
{
    if (ps_cmd_hello(st, "EHLO", arg, r)) {
        st->esmtp = true;
        ps_smtpd_ehlo(st, r);
    }
    return true;
}

static bool ps_cmd_starttls(struct ps_state *st, const char *arg, struct sbuf *r)
{
    if (*arg)
        sbuf_cat(r, "501 5.5.4 Syntax: STARTTLS\r\n");
    else if (st->tls_on)
        sbuf_cat(r, "554 5.5.1 Error: TLS already active\r\n");
    else if (ps_cfg.tls_level == TLS_PARAM_NONE
             || ehlo_discard_has(ps_smtpd_discards(st), "STARTTLS"))
        sbuf_cat(r, "502 5.5.1 Error: command not implemented\r\n");
    else if (ps_starttls_start(st) < 0)
        sbuf_cat(r, "454 4.7.0 TLS not available due to local problem\r\n");
    else
        sbuf_cat(r, "220 2.0.0 Ready to start TLS\r\n");
    return true;
}

static bool ps_cmd_mail(struct ps_state *st, const char *arg, struct sbuf *r)
{
    if (ps_cfg.helo_required && st->helo == NULL)
        sbuf_cat(r, "503 5.5.1 Error: send HELO/EHLO first\r\n");
    else if (st->sender)
        sbuf_cat(r, "503 5.5.1 Error: nested MAIL command\r\n");
    else if (strchr(arg, ':') == NULL)
        sbuf_cat(r, "501 5.5.4 Syntax: MAIL FROM:<address>\r\n");
    else {
        st->sender = ps_smtpd_addr(arg);
        sbuf_cat(r, "250 2.1.0 Ok\r\n");
    }
    return true;
}

static bool ps_cmd_rcpt(struct ps_state *st, const char *arg, struct sbuf *r)
{
    if (st->sender == NULL) {
        sbuf_cat(r, "503 5.5.1 Error: need MAIL command\r\n");
        return true;
    }
    if (strchr(arg, ':') == NULL) {
        sbuf_cat(r, "501 5.5.4 Syntax: RCPT TO:<address>\r\n");
        return true;
    }
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
    char logged[256];   /* the log shows what the client gets (soft_bounce) */
    strlcpy(logged, reply, sizeof(logged));
    if (soft_bounce_enabled())
        soft_bounce_text(logged);
    log_info("NOQUEUE: reject: RCPT from %s: %s; from=<%s>, to=<%s>, proto=%s, "
             "helo=<%s>", ps_client(st), logged, st->sender, rcpt,
             st->esmtp ? "ESMTP" : "SMTP", st->helo ? st->helo : "");
    sbuf_printf(r, "%s\r\n", reply);
    xfree(rcpt);
    return true;
}

/* DATA and BDAT: no recipient was ever accepted, so the content would
 * follow a refusal; as Postfix, reply and hang up rather than read it. */
static bool ps_cmd_data(struct ps_state *st, const char *arg, struct sbuf *r)
{
    log_info("DATA without valid RCPT from %s", ps_client(st));
    if (*arg)
        sbuf_cat(r, "501 5.5.4 Syntax: DATA\r\n");
    else if (st->sender == NULL)
        sbuf_cat(r, "503 5.5.1 Error: need RCPT command\r\n");
    else
        sbuf_cat(r, "554 5.5.1 Error: no valid recipients\r\n");
    return false;
}

static bool ps_cmd_bdat(struct ps_state *st, const char *arg, struct sbuf *r)
{
    log_info("BDAT without valid RCPT from %s", ps_client(st));
    if (ehlo_discard_has(ps_smtpd_discards(st), "CHUNKING"))
        sbuf_cat(r, "502 5.5.1 Error: command not implemented\r\n");
    else if (*arg == 0)
        sbuf_cat(r, "501 5.5.4 Syntax: BDAT count [LAST]\r\n");
    else if (st->sender == NULL)
        sbuf_cat(r, "554 5.5.1 Error: need MAIL command\r\n");
    else
        sbuf_cat(r, "554 5.5.1 Error: no valid recipients\r\n");
    return false;
}

static bool ps_cmd_vrfy(struct ps_state *st, const char *arg, struct sbuf *r)
{
    /* As Postfix's postscreen: refused like RCPT, and not logged. */
    if (*arg == 0)
        sbuf_cat(r, "501 5.5.4 Syntax: VRFY address\r\n");
    else if (ps_cfg.disable_vrfy)
        sbuf_cat(r, "502 5.5.1 VRFY command is disabled\r\n");
    else
        sbuf_printf(r, "%s\r\n", st->reply ? st->reply : PS_SMTPD_DEFER);
    return true;
}

static bool ps_cmd_etrn(struct ps_state *st, const char *arg, struct sbuf *r)
{
    if (ps_cfg.helo_required && st->helo == NULL)
        sbuf_cat(r, "503 5.5.1 Error: send HELO/EHLO first\r\n");
    else if (*arg == 0)
        sbuf_cat(r, "500 Syntax: ETRN domain\r\n");
    else
        sbuf_cat(r, "458 Unable to queue messages\r\n");
    return true;
}

static bool ps_cmd_rset(struct ps_state *st, const char *arg, struct sbuf *r)
{
    (void)arg;
    xfree(st->sender);
    st->sender = NULL;
    sbuf_cat(r, "250 2.0.0 Ok\r\n");
    return true;
}

static bool ps_cmd_noop(struct ps_state *st, const char *arg, struct sbuf *r)
{
    (void)st;
    (void)arg;
    sbuf_cat(r, "250 2.0.0 Ok\r\n");
    return true;
}

static bool ps_cmd_quit(struct ps_state *st, const char *arg, struct sbuf *r)
{
    (void)st;
    (void)arg;
    sbuf_cat(r, "221 2.0.0 Bye\r\n");
    return false;
}

/* The commands the engine knows; anything else (AUTH, XCLIENT, XFORWARD
 * included) is not recognized. pre_tls: allowed before STARTTLS when
 * postscreen_tls_security_level = encrypt. */
static const struct ps_cmd {
    const char *name;
    bool (*run)(struct ps_state *st, const char *arg, struct sbuf *r);
    bool pre_tls;
} ps_cmds[] = {
    { "HELO", ps_cmd_helo, true },
    { "EHLO", ps_cmd_ehlo, true },
    { "STARTTLS", ps_cmd_starttls, true },
    { "MAIL", ps_cmd_mail, false },
    { "RCPT", ps_cmd_rcpt, false },
    { "DATA", ps_cmd_data, false },
    { "BDAT", ps_cmd_bdat, false },
    { "RSET", ps_cmd_rset, false },
    { "NOOP", ps_cmd_noop, true },
    { "VRFY", ps_cmd_vrfy, false },
    { "ETRN", ps_cmd_etrn, false },
    { "QUIT", ps_cmd_quit, true },
};

static const struct ps_cmd *ps_smtpd_find(const char *verb, size_t vlen)
{
    for (size_t i = 0; i < ARRAY_LEN(ps_cmds); i++)
        if (strlen(ps_cmds[i].name) == vlen && strncasecmp(ps_cmds[i].name, verb, vlen) == 0)
            return &ps_cmds[i];
    return NULL;
}

/* One command; false when the session is over. */
static bool ps_smtpd_command(struct ps_state *st, char *line)
{
    struct sbuf *r = sbuf_new(256);
    size_t vlen = strcspn(line, " ");
    const char *arg = line + vlen;
    while (*arg == ' ')
        arg++;
    const struct ps_cmd *c = ps_smtpd_find(line, vlen);
    bool go_on = true;

    if (++st->cmd_count > (unsigned long)ps_cfg.cmd_count_limit
        && (c == NULL || c->run != ps_cmd_quit)) {
        log_info("COMMAND COUNT LIMIT from %s after %s", ps_client(st), st->last_cmd);
        sbuf_printf(r, "421 %s Service unavailable - try again later\r\n", ps_cfg.myhostname);
        go_on = false;
    } else if (c == NULL) {
        sbuf_cat(r, "502 5.5.2 Error: command not recognized\r\n");
    } else if (ps_cfg.tls_level == TLS_PARAM_ENCRYPT && !st->tls_on && !c->pre_tls) {
        sbuf_cat(r, "530 5.7.0 Must issue a STARTTLS command first\r\n");
    } else {
        go_on = c->run(st, arg, r);
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
            /* "after": Postfix names the command before this one for a
             * non-SMTP command, this one for pipelining, and the line
             * itself for a bare newline. */
            char verb[16];
            snprintf(verb, sizeof(verb), "%.*s", (int)(vlen < 15 ? vlen : 15), line);
            unsigned on = st->deep_on & ~st->failed;
            if ((on & PS_T_NSMTP) && ps_smtpd_non_smtp(line, vlen))
                alive = ps_smtpd_deep_fail(st, PS_T_NSMTP, ps_cfg.nsmtp_action,
                                           "NON-SMTP COMMAND", st->last_cmd, line);
            else if ((on & PS_T_BARELF) && bare_lf)
                alive = ps_smtpd_deep_fail(st, PS_T_BARELF, ps_cfg.barelf_action,
                                           "BARE NEWLINE", line, NULL);
            else if ((on & PS_T_PIPE) && sbuf_len(st->in) > 0)
                alive = ps_smtpd_deep_fail(st, PS_T_PIPE, ps_cfg.pipe_action,
                                           "COMMAND PIPELINING", verb, sbuf_str(st->in));
        }
        if (!alive) {
            xfree(line);
            return;
        }
        bool go_on = ps_smtpd_command(st, line);
        /* The command just handled, for the next log line that says
         * "after" (time limit, command count, length limit). */
        snprintf(st->last_cmd, sizeof(st->last_cmd), "%.*s", (int)(vlen < 15 ? vlen : 15), line);
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
