/*
 * smtpd_cmd.c - the SMTP commands: HELO EHLO MAIL RCPT DATA RSET NOOP VRFY
 *               ETRN QUIT, and the one table of every verb
 *
 * Used by: smtpd.c (session loop), smtpd_limits.c (junk commands),
 *          smtpd_tls.c (commands allowed before STARTTLS).
 * Interface: smtpd_cmd_lookup(), smtpd_cmd_name(), smtpd_cmd_verb(),
 *            smtpd_cmd_flags(), smtpd_cmd_run().
 * Errors: every failure is answered here with Postfix's reply text and
 *         enhanced status code, and reported as SMTPD_R_ERR.
 * Notes: ESMTP parameters: MAIL SIZE BODY RET ENVID SMTPUTF8 AUTH; RCPT
 *        NOTIFY ORCPT. Envelope records go to cleanup as each command is
 *        accepted (docs/ipc.md, cleanup). smtpd_cmd_defs[] holds one row
 *        per verb: its handler (here or in smtpd_tls.c, smtpd_sasl.c,
 *        smtpd_bdat.c, smtpd_xclient.c) and its flags (junk command,
 *        allowed before STARTTLS, ends a pipelined group).
 */
#include "smtpd.h"
#include "alloc.h"
#include "attr.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "ehlo_discard.h"
#include "log.h"
#include "mail_proto.h"
#include "qfile.h"
#include <ctype.h>
#include <strings.h>

/* Per-verb facts live in smtpd_cmd_defs[] below (after the handlers). */
struct smtpd_cmd_def {
    const char *verb;           /* upper case, for logs */
    const char *name;           /* lower case, for the disconnect statistics */
    enum smtpd_cmd_result (*fn)(struct smtpd_state *st, const char *args);
    int flags;                  /* SMTPD_CMD_F_* */
};
static const struct smtpd_cmd_def smtpd_cmd_defs[SMTPD_C_COUNT];

enum smtpd_cmd_id smtpd_cmd_lookup(const char *verb, size_t len)
{
    for (int i = 0; i < SMTPD_C_UNKNOWN; i++) {
        const char *v = smtpd_cmd_defs[i].verb;
        if (strlen(v) == len && strncasecmp(v, verb, len) == 0)
            return (enum smtpd_cmd_id)i;
    }
    return SMTPD_C_UNKNOWN;
}

const char *smtpd_cmd_name(enum smtpd_cmd_id id)
{
    return smtpd_cmd_defs[id].name;
}

const char *smtpd_cmd_verb(enum smtpd_cmd_id id)
{
    return smtpd_cmd_defs[id].verb;
}

int smtpd_cmd_flags(enum smtpd_cmd_id id)
{
    return smtpd_cmd_defs[id].flags;
}

/* ---- helpers ---------------------------------------------------------- */

/* Next blank-separated word of *p as a new string, or NULL at the end. */
static char *smtpd_next_word(const char **p)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == 0) {
        *p = s;
        return NULL;
    }
    size_t n = strcspn(s, " \t");
    *p = s + n;
    return xstrndup(s, n);
}

/* "FROM:" / "TO:" prefix, case-insensitive; returns what follows or NULL. */
static const char *smtpd_skip_keyword(const char *args, const char *kw)
{
    size_t n = strlen(kw);
    if (strncasecmp(args, kw, n) != 0)
        return NULL;
    return args + n;
}

/* Reply for a stored or fresh rejection (the whole reply line). */
static enum smtpd_cmd_result smtpd_reply_line(struct smtpd_state *st, const char *line)
{
    smtpd_reply(st, "%s", line);
    return SMTPD_R_ERR;
}

static bool smtpd_helo_missing(struct smtpd_state *st)
{
    return smtpd_cfg.helo_required && st->helo_name == NULL;
}

/* ---- HELO / EHLO ------------------------------------------------------ */

static void smtpd_set_helo(struct smtpd_state *st, const char *args, bool ehlo)
{
    /* Several words collapse into one name, as Postfix does. */
    struct sbuf *b = sbuf_new(64);
    const char *p = args;
    char *w;
    while ((w = smtpd_next_word(&p)) != NULL) {
        if (sbuf_len(b))
            sbuf_addch(b, ' ');
        sbuf_cat(b, w);
        xfree(w);
    }
    /* A CR, LF or other control byte from the peer must never reach our
     * Received: header, logs or lookups: it becomes '?' (as in Postfix). */
    log_printable(sbuf_data(b));
    xfree(st->helo_name);
    st->helo_name = sbuf_detach(b);
    st->ehlo = ehlo;
    st->protocol = ehlo ? "ESMTP" : "SMTP";
    smtpd_reset_transaction(st);
}

static enum smtpd_cmd_result smtpd_cmd_helo(struct smtpd_state *st, const char *args)
{
    if (*args == 0) {
        smtpd_reply(st, "501 Syntax: HELO hostname");
        return SMTPD_R_ERR;
    }
    smtpd_set_helo(st, args, false);
    if (!smtpd_cfg.delay_reject && smtpd_check_helo(st, st->reply) != 0)
        return smtpd_reply_line(st, sbuf_str(st->reply));
    if (smtpd_milter_helo(st))
        return SMTPD_R_CLOSE;
    smtpd_reply(st, "250 %s", smtpd_cfg.myhostname);
    return SMTPD_R_OK;
}

static bool smtpd_ehlo_discarded(struct smtpd_state *st, const char *kw)
{
    return smtpd_limits_ehlo_discard(st, kw);
}

static enum smtpd_cmd_result smtpd_cmd_ehlo(struct smtpd_state *st, const char *args)
{
    smtpd_notify_flush(st, false);
    if (*args == 0) {
        smtpd_reply(st, "501 Syntax: EHLO hostname");
        return SMTPD_R_ERR;
    }
    smtpd_set_helo(st, args, true);
    if (!smtpd_cfg.delay_reject && smtpd_check_helo(st, st->reply) != 0)
        return smtpd_reply_line(st, sbuf_str(st->reply));
    if (smtpd_milter_helo(st))
        return SMTPD_R_CLOSE;

    const char *kw[16];
    size_t n = 0;
    char size_kw[40];
    if (smtpd_cfg.msg_size_limit > 0)
        snprintf(size_kw, sizeof(size_kw), "SIZE %ld", smtpd_cfg.msg_size_limit);
    else
        strlcpy(size_kw, "SIZE", sizeof(size_kw));
    const char *all[] = { "PIPELINING", size_kw, smtpd_cfg.disable_vrfy ? NULL : "VRFY", "ETRN",
                          smtpd_tls_offer(st) ? "STARTTLS" : NULL,
                          smtpd_sasl_ehlo(st, false), smtpd_sasl_ehlo(st, true),
                          smtpd_xclient_ehlo(st), smtpd_xforward_ehlo(st), smtpd_verp_ehlo(st),
                          "ENHANCEDSTATUSCODES", "8BITMIME", "DSN",
                          smtpd_cfg.smtputf8_enable ? "SMTPUTF8" : NULL,
                          smtpd_proxy_enabled() ? NULL : "CHUNKING" };
    struct sbuf *dropped = sbuf_new(64);
    for (size_t i = 0; i < ARRAY_LEN(all); i++) {
        if (all[i] == NULL)
            continue;
        char first[32];
        strlcpy(first, all[i], sizeof(first));
        first[strcspn(first, " ")] = 0;
        if (smtpd_ehlo_discarded(st, first)) {
            sbuf_catf(dropped, " %s", first);
            continue;
        }
        kw[n++] = all[i];
    }
    if (sbuf_len(dropped) && !smtpd_ehlo_discarded(st, EHLO_DISCARD_SILENT))
        log_info("discarding EHLO keywords:%s", sbuf_str(dropped));
    sbuf_free(dropped);
    smtpd_reply(st, "250%c%s", n ? '-' : ' ', smtpd_cfg.myhostname);
    for (size_t i = 0; i < n; i++)
        smtpd_reply(st, "250%c%s", i + 1 < n ? '-' : ' ', kw[i]);
    return SMTPD_R_OK;
}

/* ---- MAIL ------------------------------------------------------------- */

static enum smtpd_cmd_result smtpd_cmd_mail(struct smtpd_state *st, const char *args)
{
    if (smtpd_helo_missing(st)) {
        smtpd_reply(st, "503 5.5.1 Error: send HELO/EHLO first");
        return SMTPD_R_ERR;
    }
    if (st->sender) {
        smtpd_reply(st, "503 5.5.1 Error: nested MAIL command");
        return SMTPD_R_ERR;
    }
    const char *p = smtpd_skip_keyword(args, "FROM:");
    if (p == NULL) {
        smtpd_reply(st, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return SMTPD_R_ERR;
    }
    if (!smtpd_limits_mail(st))
        return SMTPD_R_ERR;
    if (smtpd_filter_mail(st))
        return SMTPD_R_ERR;
    struct sbuf *addr = sbuf_new(64);
    const char *rest = NULL;
    int r = smtpd_addr_parse(p, smtpd_cfg.strict_rfc821, addr, &rest);
    const char *esmtp_args = rest;     /* for the milters */
    if (r == SMTPD_ADDR_SYNTAX) {
        sbuf_free(addr);
        smtpd_reply(st, "501 5.5.4 Syntax: MAIL FROM:<address>");
        return SMTPD_R_ERR;
    }
    if (r != SMTPD_ADDR_OK || (sbuf_len(addr) && smtpd_check_addr_syntax("", sbuf_str(addr)))) {
        if (r == SMTPD_ADDR_OK) {
            while (*p == ' ')
                p++;
            log_warn("Illegal address syntax from %s in MAIL command: %.100s", st->namaddr, p);
        }
        sbuf_free(addr);
        smtpd_reply(st, "501 5.1.7 Bad sender address syntax");
        return SMTPD_R_ERR;
    }

    /* ESMTP parameters. */
    smtpd_sasl_reset_transaction(st);   /* AUTH= left by a failed MAIL */
    int ret = 0;
    char *envid = NULL;
    long size = 0;
    bool utf8 = false;
    char verp[3] = "";
    const char *bad = NULL;     /* whole reply on error */
    struct sbuf *tmp = sbuf_new(64);
    char *w;
    while (bad == NULL && (w = smtpd_next_word(&rest)) != NULL) {
        char *eq = strchr(w, '=');
        const char *val = eq ? eq + 1 : NULL;
        if (eq)
            *eq = 0;
        if (strcasecmp(w, "SIZE") == 0 && val) {
            char *end;
            errno = 0;
            long v = strtol(val, &end, 10);
            if (*val < '0' || *val > '9' || *end)
                bad = "501 5.5.4 Bad message size syntax";
            else if (errno == ERANGE || (smtpd_cfg.msg_size_limit > 0 && v > smtpd_cfg.msg_size_limit))
                bad = "552 5.3.4 Message size exceeds fixed limit";
            else
                size = v;
        } else if (strcasecmp(w, "BODY") == 0 && val) {
            if (strcasecmp(val, "7BIT") != 0 && strcasecmp(val, "8BITMIME") != 0)
                bad = "501 5.5.4 Unsupported BODY parameter value";
        } else if (strcasecmp(w, "RET") == 0 && val) {
            if (ret)
                bad = "501 5.5.4 Duplicate RET parameter";
            else if (strcasecmp(val, "FULL") == 0)
                ret = DSN_RET_FULL;
            else if (strcasecmp(val, "HDRS") == 0)
                ret = DSN_RET_HDRS;
            else
                bad = "501 5.5.4 Bad RET parameter syntax";
        } else if (strcasecmp(w, "ENVID") == 0 && val) {
            if (envid)
                bad = "501 5.5.4 Duplicate ENVID parameter";
            else if (*val == 0 || strlen(val) > 100 || smtpd_xtext_decode(tmp, val) < 0)
                bad = "501 5.5.4 Bad ENVID parameter syntax";
            else
                envid = xstrdup(sbuf_str(tmp));
        } else if (strcasecmp(w, "SMTPUTF8") == 0 && val == NULL && smtpd_cfg.smtputf8_enable) {
            utf8 = true;
        } else if (strcasecmp(w, "AUTH") == 0 && val) {
            bad = smtpd_sasl_mail_param(st, val);
        } else if (strcasecmp(w, "XVERP") == 0 && smtpd_verp_allowed(st)) {
            bad = smtpd_verp_param(val, sbuf_len(addr) == 0, verp);
        } else {
            if (eq)
                *eq = '=';
            sbuf_printf(tmp, "555 5.5.4 Unsupported option: %s", w);
            smtpd_reply(st, "%s", sbuf_str(tmp));
            xfree(w);
            xfree(envid);
            sbuf_free(tmp);
            sbuf_free(addr);
            return SMTPD_R_ERR;
        }
        xfree(w);
    }
    sbuf_free(tmp);
    if (bad) {
        xfree(envid);
        sbuf_free(addr);
        smtpd_reply(st, "%s", bad);
        return SMTPD_R_ERR;
    }
    if (!smtpd_limits_queue_space(st, size)) {
        xfree(envid);
        sbuf_free(addr);
        return SMTPD_R_ERR;
    }
    if (st->client_reject) {
        xfree(envid);
        sbuf_free(addr);
        return smtpd_reply_line(st, st->client_reject);
    }
    st->sender = sbuf_detach(addr);
    st->dsn_ret = ret;
    st->dsn_envid = envid;
    memcpy(st->verp_delims, verp, sizeof(st->verp_delims));
    st->declared_size = size;
    st->smtputf8 = utf8;
    smtpd_proxy_note_mail(st);
    if (!smtpd_cfg.delay_reject && smtpd_check_mail(st, st->reply) != 0) {
        smtpd_reply(st, "%s", sbuf_str(st->reply));
        smtpd_reset_transaction(st);
        return SMTPD_R_ERR;
    }
    if (smtpd_milter_mail(st, esmtp_args)) {
        bool bye = strncmp(sbuf_str(st->reply), "421", 3) == 0;
        smtpd_reset_transaction(st);
        return bye ? SMTPD_R_CLOSE : SMTPD_R_ERR;
    }
    if (!smtpd_cfg.delay_open && !smtpd_open_cleanup(st)) {
        smtpd_reset_transaction(st);
        return SMTPD_R_ERR;
    }
    smtpd_reply(st, "250 2.1.0 Ok");
    return SMTPD_R_OK;
}

/* ---- RCPT ------------------------------------------------------------- */

static int smtpd_parse_notify(const char *val)
{
    if (strcasecmp(val, "NEVER") == 0)
        return DSN_NOTIFY_NEVER;
    int flags = 0;
    const char *p = val;
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 7 && strncasecmp(p, "SUCCESS", 7) == 0)
            flags |= DSN_NOTIFY_SUCCESS;
        else if (n == 7 && strncasecmp(p, "FAILURE", 7) == 0)
            flags |= DSN_NOTIFY_FAILURE;
        else if (n == 5 && strncasecmp(p, "DELAY", 5) == 0)
            flags |= DSN_NOTIFY_DELAY;
        else
            return -1;
        p += n;
        if (*p == ',' && *++p == 0)
            return -1;
    }
    return flags ? flags : -1;
}

static enum smtpd_cmd_result smtpd_cmd_rcpt(struct smtpd_state *st, const char *args)
{
    if (st->sender == NULL) {
        smtpd_reply(st, "503 5.5.1 Error: need MAIL command");
        return SMTPD_R_ERR;
    }
    const char *p = smtpd_skip_keyword(args, "TO:");
    if (p == NULL) {
        smtpd_reply(st, "501 5.5.4 Syntax: RCPT TO:<address>");
        return SMTPD_R_ERR;
    }
    if (!smtpd_limits_rcpt(st))
        return SMTPD_R_ERR;
    struct sbuf *addr = sbuf_new(64);
    const char *rest = NULL;
    int r = smtpd_addr_parse(p, smtpd_cfg.strict_rfc821, addr, &rest);
    const char *esmtp_args = rest;     /* for the milters */
    if (r == SMTPD_ADDR_SYNTAX) {
        sbuf_free(addr);
        smtpd_reply(st, "501 5.5.4 Syntax: RCPT TO:<address>");
        return SMTPD_R_ERR;
    }
    if (r != SMTPD_ADDR_OK || sbuf_len(addr) == 0 ||
        smtpd_check_addr_syntax(st->sender ? st->sender : "", sbuf_str(addr))) {
        sbuf_free(addr);
        while (*p == ' ')
            p++;
        log_warn("Illegal address syntax from %s in RCPT command: %.100s", st->namaddr, p);
        smtpd_reply(st, "501 5.1.3 Bad recipient address syntax");
        return SMTPD_R_ERR;
    }
    if (st->rcpt_count >= smtpd_cfg.rcpt_limit) {
        sbuf_free(addr);
        /* A client that sends more than the limit is told 452 and tries
         * the rest later: not an error, up to smtpd_recipient_overshoot_limit
         * such recipients per transaction (Postfix). */
        st->reply_not_error = st->rcpt_overshoot++ < smtpd_cfg.rcpt_overshoot_limit;
        smtpd_reply(st, "452 4.5.3 Error: too many recipients");
        return SMTPD_R_ERR;
    }
    int notify = 0;
    char *orcpt = NULL;
    const char *bad = NULL;
    struct sbuf *tmp = sbuf_new(64);
    char *w;
    while (bad == NULL && (w = smtpd_next_word(&rest)) != NULL) {
        char *eq = strchr(w, '=');
        if (eq && eq - w == 6 && strncasecmp(w, "NOTIFY", 6) == 0) {
            int f = notify ? -1 : smtpd_parse_notify(eq + 1);
            if (f < 0)
                bad = "501 5.5.4 Error: Bad NOTIFY parameter syntax";
            else
                notify = f;
        } else if (eq && eq - w == 5 && strncasecmp(w, "ORCPT", 5) == 0) {
            const char *semi = strchr(eq + 1, ';');
            if (orcpt || semi == NULL || semi == eq + 1 || strlen(eq + 1) > 500
                || smtpd_xtext_decode(tmp, semi + 1) < 0 || sbuf_len(tmp) == 0)
                bad = "501 5.5.4 Error: Bad ORCPT parameter syntax";
            else {
                struct sbuf *o = sbuf_new(64);
                sbuf_append(o, eq + 1, (size_t)(semi - eq));
                sbuf_cat(o, sbuf_str(tmp));
                orcpt = sbuf_detach(o);
            }
        } else {
            sbuf_printf(tmp, "555 5.5.4 Unsupported option: %s", w);
            smtpd_reply(st, "%s", sbuf_str(tmp));
            xfree(w);
            xfree(orcpt);
            sbuf_free(tmp);
            sbuf_free(addr);
            return SMTPD_R_ERR;
        }
        xfree(w);
    }
    sbuf_free(tmp);
    if (bad) {
        xfree(orcpt);
        sbuf_free(addr);
        smtpd_reply(st, "%s", bad);
        return SMTPD_R_ERR;
    }
    enum smtpd_cmd_result res = SMTPD_R_ERR;
    if (st->client_reject)
        smtpd_reply(st, "%s", st->client_reject);
    else if (smtpd_check_rcpt(st, sbuf_str(addr), st->reply) != 0)
        smtpd_reply(st, "%s", sbuf_str(st->reply));
    else if (smtpd_milter_rcpt(st, sbuf_str(addr), esmtp_args)) {
        if (smtpd_milter_421(sbuf_str(st->reply)))     /* answered */
            res = SMTPD_R_CLOSE;
    }
    else if (!smtpd_open_cleanup(st)) {
        /* replied */
    } else if (st->proxy) {     /* the before-queue filter answers */
        if (smtpd_proxy_rcpt(st, sbuf_str(addr))) {
            if (st->rcpt_count++ == 0)
                st->first_rcpt = xstrdup(sbuf_str(addr));
            res = SMTPD_R_OK;
        }
    } else {
        struct cleanup_clnt *c = st->cleanup;
        if (orcpt)
            cleanup_recs(c, REC_DSN_ORCPT, orcpt);
        else {
            struct sbuf *q = sbuf_new(64);
            smtpd_addr_quote(q, sbuf_str(addr));
            cleanup_recf(c, REC_DSN_ORCPT, "rfc822;%s", sbuf_str(q));
            sbuf_free(q);
        }
        if (notify)
            cleanup_recf(c, REC_DSN_NOTIFY, "%d", notify);
        cleanup_recs(c, REC_RCPT, sbuf_str(addr));
        if (st->rcpt_count++ == 0)
            st->first_rcpt = xstrdup(sbuf_str(addr));
        smtpd_reply(st, "250 2.1.5 Ok");
        res = SMTPD_R_OK;
    }
    xfree(orcpt);
    sbuf_free(addr);
    return res;
}

/* ---- DATA RSET NOOP QUIT ---------------------------------------------- */

static enum smtpd_cmd_result smtpd_cmd_data(struct smtpd_state *st, const char *args)
{
    if (*args) {
        smtpd_reply(st, "501 5.5.4 Syntax: DATA");
        return SMTPD_R_ERR;
    }
    if (st->sender == NULL) {
        smtpd_reply(st, "503 5.5.1 Error: need RCPT command");
        return SMTPD_R_ERR;
    }
    if (st->rcpt_count == 0 || (st->cleanup == NULL && st->proxy == NULL)) {
        smtpd_reply(st, "554 5.5.1 Error: no valid recipients");
        return SMTPD_R_ERR;
    }
    if (smtpd_check_data(st, st->reply) != 0)
        return smtpd_reply_line(st, sbuf_str(st->reply));
    if (smtpd_milter_data(st, NULL))
        return smtpd_milter_421(sbuf_str(st->reply)) ? SMTPD_R_CLOSE : SMTPD_R_ERR;
    if (st->proxy && !smtpd_proxy_data_cmd(st))
        return SMTPD_R_ERR;
    smtpd_reply(st, "354 End data with <CR><LF>.<CR><LF>");
    if (!smtpd_flush(st))
        return SMTPD_R_GONE;
    return smtpd_data_receive(st);
}

static enum smtpd_cmd_result smtpd_cmd_rset(struct smtpd_state *st, const char *args)
{
    smtpd_notify_flush(st, false);
    if (*args) {
        smtpd_reply(st, "501 5.5.4 Syntax: RSET");
        return SMTPD_R_ERR;
    }
    smtpd_reset_transaction(st);
    smtpd_reply(st, "250 2.0.0 Ok");
    return SMTPD_R_OK;
}

static enum smtpd_cmd_result smtpd_cmd_noop(struct smtpd_state *st, const char *args)
{
    (void)args;
    smtpd_reply(st, "250 2.0.0 Ok");
    return SMTPD_R_OK;
}

static enum smtpd_cmd_result smtpd_cmd_quit(struct smtpd_state *st, const char *args)
{
    (void)args;
    smtpd_reply(st, "221 2.0.0 Bye");
    st->quit = true;
    return SMTPD_R_QUIT;
}

/* ---- VRFY ETRN -------------------------------------------------------- */

static enum smtpd_cmd_result smtpd_cmd_vrfy(struct smtpd_state *st, const char *args)
{
    if (smtpd_cfg.disable_vrfy) {
        smtpd_reply(st, "502 5.5.1 VRFY command is disabled");
        return SMTPD_R_ERR;
    }
    if (smtpd_helo_missing(st)) {
        smtpd_reply(st, "503 5.5.1 Error: send HELO/EHLO first");
        return SMTPD_R_ERR;
    }
    if (*args == 0) {
        smtpd_reply(st, "501 5.5.4 Syntax: VRFY address [SMTPUTF8]");
        return SMTPD_R_ERR;
    }
    struct sbuf *addr = sbuf_new(64);
    const char *rest = NULL;
    int r = smtpd_addr_parse(args, false, addr, &rest);
    if (r != SMTPD_ADDR_OK || sbuf_len(addr) == 0
        || (*rest && strcasecmp(rest, "SMTPUTF8") != 0)) {
        sbuf_free(addr);
        smtpd_reply(st, "501 5.1.3 Bad recipient address syntax");
        return SMTPD_R_ERR;
    }
    enum smtpd_cmd_result res = SMTPD_R_ERR;
    if (st->client_reject)
        smtpd_reply(st, "%s", st->client_reject);
    else if (smtpd_check_vrfy(st, sbuf_str(addr), st->reply) != 0)
        smtpd_reply(st, "%s", sbuf_str(st->reply));
    else {
        struct sbuf *q = sbuf_new(64);
        smtpd_addr_quote(q, sbuf_str(addr));
        smtpd_reply(st, "252 2.0.0 %s", sbuf_str(q));
        sbuf_free(q);
        res = SMTPD_R_OK;
    }
    sbuf_free(addr);
    return res;
}

static enum smtpd_cmd_result smtpd_cmd_etrn(struct smtpd_state *st, const char *args)
{
    if (st->helo_name == NULL) {
        smtpd_reply(st, "503 Error: send HELO/EHLO first");
        return SMTPD_R_ERR;
    }
    if (st->sender) {
        smtpd_reply(st, "503 Error: MAIL transaction in progress");
        return SMTPD_R_ERR;
    }
    if (*args == 0 || strchr(args, ' ')) {
        smtpd_reply(st, "500 Syntax: ETRN domain");
        return SMTPD_R_ERR;
    }
    if (st->client_reject)
        return smtpd_reply_line(st, st->client_reject);
    const char *site = args[0] == '@' || args[0] == '#' ? args + 1 : args;
    if (smtpd_check_etrn(st, site, st->reply) != 0)
        return smtpd_reply_line(st, sbuf_str(st->reply));
    /* The flush service knows $fast_flush_domains (limits: smtpd_xclient.c). */
    return smtpd_etrn_cmd(st, site);
}

/* ---- not offered ------------------------------------------------------ */

static enum smtpd_cmd_result smtpd_cmd_auth(struct smtpd_state *st, const char *args)
{
    return smtpd_sasl_auth_cmd(st, args);
}

static enum smtpd_cmd_result smtpd_cmd_unknown(struct smtpd_state *st, const char *args)
{
    (void)args;
    const char *r = smtpd_milter_unknown(st, sbuf_str(st->line));
    if (r) {
        smtpd_reply(st, "%s", r);
        return smtpd_milter_421(r) ? SMTPD_R_CLOSE : SMTPD_R_ERR;
    }
    smtpd_reply(st, "502 5.5.2 Error: command not recognized");
    return SMTPD_R_ERR;
}

/* The verbs. JUNK: counts toward smtpd_junk_command_limit (Postfix counts
 * HELO and EHLO too). PRE_TLS: allowed before STARTTLS when
 * smtpd_tls_security_level = encrypt. LAST: must end a pipelined group
 * (RFC 2920), checked with smtpd_forbid_unauth_pipelining. */
#define J SMTPD_CMD_F_JUNK
#define T SMTPD_CMD_F_PRE_TLS
#define L SMTPD_CMD_F_LAST
static const struct smtpd_cmd_def smtpd_cmd_defs[SMTPD_C_COUNT] = {
    [SMTPD_C_HELO] = { "HELO", "helo", smtpd_cmd_helo, J | T | L },
    [SMTPD_C_EHLO] = { "EHLO", "ehlo", smtpd_cmd_ehlo, J | T | L },
    [SMTPD_C_STARTTLS] = { "STARTTLS", "starttls", smtpd_cmd_starttls, T | L },
    [SMTPD_C_AUTH] = { "AUTH", "auth", smtpd_cmd_auth, L },
    [SMTPD_C_MAIL] = { "MAIL", "mail", smtpd_cmd_mail, 0 },
    [SMTPD_C_RCPT] = { "RCPT", "rcpt", smtpd_cmd_rcpt, 0 },
    [SMTPD_C_DATA] = { "DATA", "data", smtpd_cmd_data, L },
    [SMTPD_C_BDAT] = { "BDAT", "bdat", smtpd_bdat_cmd, 0 },
    [SMTPD_C_RSET] = { "RSET", "rset", smtpd_cmd_rset, J },
    [SMTPD_C_NOOP] = { "NOOP", "noop", smtpd_cmd_noop, J | T | L },
    [SMTPD_C_VRFY] = { "VRFY", "vrfy", smtpd_cmd_vrfy, J | L },
    [SMTPD_C_ETRN] = { "ETRN", "etrn", smtpd_cmd_etrn, J | L },
    [SMTPD_C_QUIT] = { "QUIT", "quit", smtpd_cmd_quit, T | L },
    [SMTPD_C_XCLIENT] = { "XCLIENT", "xclient", smtpd_xclient_cmd, T },
    [SMTPD_C_XFORWARD] = { "XFORWARD", "xforward", smtpd_xforward_cmd, 0 },
    [SMTPD_C_UNKNOWN] = { "UNKNOWN", "unknown", smtpd_cmd_unknown, T },
};
#undef J
#undef T
#undef L

enum smtpd_cmd_result smtpd_cmd_run(struct smtpd_state *st, enum smtpd_cmd_id id, const char *args)
{
    if (smtpd_bdat_refused(st, id))
        return SMTPD_R_ERR;
    return smtpd_cmd_defs[id].fn(st, args);
}
