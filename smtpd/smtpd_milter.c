/*
 * smtpd_milter.c - smtpd_milters: the SMTP stages of the milter protocol
 *                  and the hand-over of the message to the milters
 *
 * Used by: smtpd.c (session start and end, cleanup stream), smtpd_cmd.c
 *          (HELO, MAIL, RCPT, DATA, unknown commands), smtpd_data.c and
 *          smtpd_bdat.c (end of message).
 * Interface: smtpd_milter_init(), smtpd_milter_connect(),
 *            smtpd_milter_helo(), smtpd_milter_mail(), smtpd_milter_rcpt(),
 *            smtpd_milter_data(), smtpd_milter_unknown(),
 *            smtpd_milter_spool(), smtpd_milter_eom(),
 *            smtpd_milter_abort(), smtpd_milter_disconnect().
 * Errors: milter rejections are SMTP replies, logged as
 *         "ID: milter-reject: CMD from name[addr]: REPLY; from=<> to=<> ...";
 *         an unreachable milter answers with its default action
 *         (lib/mail/milter.c).
 * Notes: a reject or tempfail at connect or HELO is kept and given at
 *        every MAIL FROM (HELO/EHLO itself is answered normally), as
 *        Postfix does; a 421 ends the session. At MAIL, RCPT and DATA the
 *        milter's reply answers that command (RCPT: that recipient only).
 *        "discard" accepts the message and throws it away. The content
 *        stages run at the end of the message, after the records spooled
 *        since the cleanup stream was opened (docs/milter.md), so edits
 *        and message are committed to the queue together and 250 comes
 *        only after that. smtpd_milters (main.cf or -o) applies unless
 *        receive_override_options has no_milters, or smtpd_milter_maps
 *        (looked up with the client address at connect) names other
 *        milters for the client, or DISABLE; a lookup error refuses mail
 *        from that session with 451 4.3.0, as the milters it should get
 *        are not known.
 */
#include "smtpd.h"
#include "alloc.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "log.h"
#include "maps.h"
#include "milter.h"
#include "sock.h"
#include <strings.h>

static struct milters *smtpd_milters;          /* this session's, or NULL */
static struct milters *smtpd_milters_dflt;     /* smtpd_milters */
static struct maps *smtpd_milter_maps;         /* smtpd_milter_maps, or NULL */
/* The milter lists that smtpd_milter_maps answers, made once per value. */
static struct smtpd_milter_alt {
    char *value;
    struct milters *milters;
    struct smtpd_milter_alt *next;
} *smtpd_milter_alts;
static struct {
    char *reject;           /* connect/HELO verdict, given at MAIL FROM */
    const char *rcpt;       /* {rcpt_addr} of the RCPT being checked */
    char buf[80];
} smtpd_milter_sess;

void smtpd_milter_init(void)
{
    if (receive_override_has("no_milters"))
        return;
    smtpd_milters_dflt = milters_new(P_SMTPD_MILTERS, cfg_str(P_SMTPD_MILTERS));
    const char *mm = cfg_str(P_SMTPD_MILTER_MAPS);
    if (*mm)
        smtpd_milter_maps = maps_create(P_SMTPD_MILTER_MAPS, mm, DICT_F_FOLD);
    if ((smtpd_milters_dflt || smtpd_milter_maps) && smtpd_proxy_enabled())
        log_warn("%s with %s: the milters see the connection and the envelope, not the "
                 "message (the before-queue filter takes it instead of cleanup)",
                 P_SMTPD_MILTERS, P_SMTPD_PROXY_FILTER);
}

static const char *smtpd_milter_macro(void *ctx, const char *name)
{
    struct smtpd_state *st = ctx;
    char *b = smtpd_milter_sess.buf;
    size_t bl = sizeof(smtpd_milter_sess.buf);
    if (strcmp(name, "i") == 0)
        return smtpd_queue_id(st)[0] ? st->queue_id : NULL;
    if (strcmp(name, "_") == 0) {
        snprintf(b, bl, "%.40s [%.30s]", st->name, st->addr);
        return b;
    }
    if (strcmp(name, "{client_addr}") == 0)
        return st->addr;
    if (strcmp(name, "{client_name}") == 0 || strcmp(name, "{client_ptr}") == 0)
        return st->name;
    if (strcmp(name, "{client_port}") == 0) {
        snprintf(b, bl, "%d", st->port);
        return b;
    }
    if (strcmp(name, "{daemon_addr}") == 0 || strcmp(name, "{daemon_port}") == 0) {
        int port = 0;
        if (sock_local_addr(stream_fd(st->client), b, bl, &port) < 0)
            return NULL;
        if (name[8] == 'p')
            snprintf(b, bl, "%d", port);
        return b;
    }
    if (strcmp(name, "{auth_type}") == 0)
        return st->sasl_username ? st->sasl_method : NULL;
    if (strcmp(name, "{auth_authen}") == 0)
        return st->sasl_username;
    if (strcmp(name, "{auth_author}") == 0)
        return st->sasl_sender;
    if (strcmp(name, "{mail_addr}") == 0)
        return st->sender;
    if (strcmp(name, "{rcpt_addr}") == 0)
        return smtpd_milter_sess.rcpt;
    if (strcmp(name, "{tls_version}") == 0)
        return st->tls_active ? st->tls_protocol : NULL;
    if (strcmp(name, "{cipher}") == 0)
        return st->tls_active ? st->tls_cipher : NULL;
    if (strcmp(name, "{cipher_bits}") == 0) {
        if (!st->tls_active)
            return NULL;
        snprintf(b, bl, "%d", st->tls_bits);
        return b;
    }
    if (strcmp(name, "{cert_subject}") == 0)
        return st->tls_ccert_trusted ? st->tls_ccert_subject : NULL;
    if (strcmp(name, "{cert_issuer}") == 0)
        return st->tls_ccert_trusted ? st->tls_ccert_issuer : NULL;
    return NULL;
}

/* smtpd_milter_maps for this client: its milters (NULL: none), the
 * default when the tables do not know it; false on a lookup error. */
static bool smtpd_milter_choose(const struct smtpd_state *st, struct milters **out)
{
    *out = smtpd_milters_dflt;
    if (smtpd_milter_maps == NULL)
        return true;
    const char *v = maps_find(smtpd_milter_maps, st->addr, 0);
    if (v == NULL)
        return maps_error(smtpd_milter_maps) == DICT_ERR_NONE;
    if (strcasecmp(v, "DISABLE") == 0) {
        *out = NULL;
        return true;
    }
    struct smtpd_milter_alt *a;
    for (a = smtpd_milter_alts; a && strcmp(a->value, v) != 0; a = a->next)
        ;
    if (a == NULL) {
        a = xcalloc(1, sizeof(*a));
        a->value = xstrdup(v);
        a->milters = milters_new(P_SMTPD_MILTER_MAPS, v);
        a->next = smtpd_milter_alts;
        smtpd_milter_alts = a;
    }
    *out = a->milters;
    return true;
}

void smtpd_milter_connect(struct smtpd_state *st)
{
    xfree(smtpd_milter_sess.reject);
    smtpd_milter_sess.reject = NULL;
    if (!smtpd_milter_choose(st, &smtpd_milters)) {
        /* Which milters apply is unknown: no mail until the table answers. */
        log_warn("%s: %s lookup problem for %s", maps_title(smtpd_milter_maps),
                 P_SMTPD_MILTER_MAPS, st->addr);
        smtpd_milter_sess.reject = xstrdup("451 4.3.0 Server configuration problem");
        smtpd_milters = NULL;
        return;
    }
    if (smtpd_milters == NULL)
        return;
    milters_set_macros(smtpd_milters, smtpd_milter_macro, st);
    const char *r = milters_connect(smtpd_milters, st->name, st->addr, st->port);
    if (r && r[0] != 'D') {
        log_info("NOQUEUE: milter-reject: CONNECT from %s: %s", st->namaddr, r);
        smtpd_milter_sess.reject = xstrdup(r);
    }
}

/* A reply that ends the session. */
bool smtpd_milter_421(const char *r)
{
    return strncmp(r, "421", 3) == 0;
}

bool smtpd_milter_helo(struct smtpd_state *st)
{
    if (smtpd_milters == NULL || smtpd_milter_sess.reject)
        return false;
    const char *r = milters_helo(smtpd_milters, st->helo_name);
    if (r == NULL || r[0] == 'D')
        return false;
    smtpd_log_reject(st, "milter-reject", st->ehlo ? "EHLO" : "HELO", r, NULL);
    if (smtpd_milter_421(r)) {
        smtpd_reply(st, "%s", r);
        return true;
    }
    smtpd_milter_sess.reject = xstrdup(r);
    return false;
}

/* Answers a verdict of a command; true when it refused the command. */
static bool smtpd_milter_verdict(struct smtpd_state *st, const char *cmd, const char *r,
                                 const char *rcpt)
{
    if (r == NULL)
        return false;
    if (r[0] == 'D') {
        log_info("%s: milter-discard: %s from %s: milter triggers DISCARD action",
                 smtpd_log_queue_id(st), cmd, st->namaddr);
        return false;
    }
    smtpd_log_reject(st, "milter-reject", cmd, r, rcpt);
    smtpd_reply(st, "%s", r);
    if (r != sbuf_str(st->reply))
        sbuf_set(st->reply, r);     /* the caller looks for a 421 (smtpd_milter_421) */
    return true;
}

bool smtpd_milter_mail(struct smtpd_state *st, const char *args)
{
    if (smtpd_milter_sess.reject)       /* also a failed smtpd_milter_maps lookup */
        return smtpd_milter_verdict(st, "MAIL", smtpd_milter_sess.reject, NULL);
    if (smtpd_milters == NULL)
        return false;
    return smtpd_milter_verdict(st, "MAIL", milters_mail(smtpd_milters, st->sender, args), NULL);
}

bool smtpd_milter_rcpt(struct smtpd_state *st, const char *rcpt, const char *args)
{
    if (smtpd_milters == NULL)
        return false;
    smtpd_milter_sess.rcpt = rcpt;
    const char *r = milters_rcpt(smtpd_milters, rcpt, args);
    bool refused = smtpd_milter_verdict(st, "RCPT", r, rcpt);
    smtpd_milter_sess.rcpt = NULL;
    return refused;
}

bool smtpd_milter_data(struct smtpd_state *st, struct sbuf *reply)
{
    if (smtpd_milters == NULL)
        return false;
    const char *r = milters_data(smtpd_milters);
    if (reply == NULL)
        return smtpd_milter_verdict(st, "DATA", r, NULL);
    if (r == NULL || r[0] == 'D')
        return smtpd_milter_verdict(st, "BDAT", r, NULL);
    smtpd_log_reject(st, "milter-reject", "BDAT", r, NULL);
    sbuf_set(reply, r);
    return true;
}

const char *smtpd_milter_unknown(struct smtpd_state *st, const char *line)
{
    if (smtpd_milters == NULL)
        return NULL;
    const char *r = milters_unknown(smtpd_milters, line);
    if (r && r[0] != 'D')
        smtpd_log_reject(st, "milter-reject", "UNKNOWN", r, NULL);
    return r && r[0] != 'D' ? r : NULL;
}

void smtpd_milter_spool(struct smtpd_state *st)
{
    /* A failure leaves the stream unspooled: smtpd_milter_eom() then
     * refuses the message (never unchecked). */
    if (smtpd_milters && st->cleanup)
        (void)cleanup_spool_begin(st->cleanup);
}

bool smtpd_milter_eom(struct smtpd_state *st, struct cleanup_clnt *c, struct sbuf *reply)
{
    if (smtpd_milters == NULL)
        return false;
    int fd = cleanup_spooling(c) ? cleanup_spool_end(c) : -1;
    if (fd < 0) {
        sbuf_set(reply, "451 4.3.0 Error: queue file write error");
        smtpd_log_reject(st, "reject", "END-OF-MESSAGE", sbuf_str(reply), NULL);
        return true;
    }
    const char *r = milters_message(smtpd_milters, fd, c, smtpd_cfg.msg_size_limit);
    close(fd);
    const char *why = NULL;
    if (r && r[0] != 'D') {
        sbuf_set(reply, r);
        smtpd_log_reject(st, "milter-reject", "END-OF-MESSAGE", r, NULL);
        milters_reset(smtpd_milters);
        return true;
    }
    if (r)
        log_info("%s: milter-discard: END-OF-MESSAGE from %s: milter triggers DISCARD action",
                 smtpd_queue_id(st), st->namaddr);
    else if (milters_hold(smtpd_milters, &why))
        log_info("%s: milter-hold: END-OF-MESSAGE from %s: %s", smtpd_queue_id(st), st->namaddr,
                 why && *why ? why : "milter triggers HOLD action");
    milters_reset(smtpd_milters);
    return false;
}

void smtpd_milter_abort(struct smtpd_state *st)
{
    (void)st;
    if (smtpd_milters)
        milters_abort(smtpd_milters);
}

void smtpd_milter_disconnect(struct smtpd_state *st)
{
    (void)st;
    if (smtpd_milters)
        milters_disconnect(smtpd_milters);
    xfree(smtpd_milter_sess.reject);
    smtpd_milter_sess.reject = NULL;
}
