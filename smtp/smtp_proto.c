/*
 * smtp_proto.c - one SMTP or LMTP conversation with one server
 *
 * Used by: smtp.c.
 * Interface: smtp_session(), smtp_fail_pending().
 * Errors: every failure becomes a per-recipient result or a remembered
 *         soft error (st->last_reason) for the next server; nothing here
 *         exits. Reply texts are Postfix-shaped: "host H[A] said: REPLY (in
 *         reply to RCPT TO command)", "lost connection with H[A] while
 *         sending message body", "conversation with H[A] timed out while
 *         receiving the initial server greeting".
 * Notes: greeting, EHLO (HELO when EHLO is refused, with
 *        smtp_never_send_ehlo, or with smtp_always_send_ehlo = no and no
 *        "ESMTP" in the greeting; LHLO for LMTP), STARTTLS per
 *        smtp_tls_security_level, XFORWARD when asked for and offered, then
 *        MAIL/RCPT/DATA, pipelined in batches when the server offers
 *        PIPELINING. Every reply line passes through *_reply_filter before
 *        it is parsed; EHLO keywords named by *_discard_ehlo_keywords (or
 *        their address maps) count as not offered. The content is
 *        streamed from the queue file (deliver_content_lines) with
 *        dot-stuffing, CRLF line ends and long lines broken with CRLF SPACE
 *        so that no line exceeds $smtp_line_length_limit. LMTP reads
 *        one reply per accepted recipient after the final dot. A soft
 *        failure keeps recipients for the next server unless this one is
 *        the last; once the final dot has been sent, a lost connection
 *        defers instead (the message may have been delivered). Results
 *        that come from a server reply carry DSN details for the status
 *        record (Remote-MTA: dns; HOST, Diagnostic-Code: smtp; REPLY);
 *        results this MTA made up (lost connection, TLS policy) name no
 *        remote MTA, as with Postfix. A connection taken from the cache
 *        skips greeting and EHLO (its features are remembered) and is
 *        checked with RSET first (pipelined with MAIL/RCPT/DATA when the
 *        server offers PIPELINING); when that fails nothing has been
 *        reported and the caller retries on a fresh connection.
 */
#include "smtp.h"
#include <ctype.h>
#include <sys/socket.h>
#include "addr.h"
#include "alloc.h"
#include "attr.h"
#include "log.h"
#include "qfile.h"
#include "dns_lookup.h"
#include "tls_client.h"
#include "tlsproxy_clnt.h"
#include "config.h"
#include "ehlo_discard.h"
#include "maps.h"
#include "params.h"

/* Most TLSA records of one server passed to the TLS layer. */
#define SMTP_DANE_TLSA_MAX 32

/* Server features from the EHLO reply. */
#define SMTP_F_ESMTP 0x01
#define SMTP_F_PIPELINING 0x02
#define SMTP_F_SIZE 0x04
#define SMTP_F_DSN 0x08
#define SMTP_F_8BITMIME 0x10
#define SMTP_F_STARTTLS 0x20
#define SMTP_F_XFORWARD 0x40

/* XFORWARD attributes the server named. */
#define SMTP_XF_NAME 0x01
#define SMTP_XF_ADDR 0x02
#define SMTP_XF_PROTO 0x04
#define SMTP_XF_HELO 0x08
#define SMTP_XF_SOURCE 0x10

/* Commands per pipelined batch: their replies stay far below the socket
 * buffer, so neither side can block the other while we write. */
#define SMTP_BATCH_MAX 50

struct smtp_sess {
    struct smtp_state *st;
    struct deliver_request *req;
    const struct smtp_addr *a;
    bool final;
    struct stream *s;
    struct tls_client_conn *tls;
    struct sbuf *relay;         /* host[addr]:port, or host[path] */
    struct sbuf *log_relay;     /* on a reused connection: relay, ", conn_use=N" */
    struct sbuf *peer;          /* host[addr] */
    struct sbuf *line, *reply, *dsn, *tmp;
    struct sbuf *lines;         /* reply texts after the codes, one per line */
    int code;                   /* last reply code */
    unsigned features;
    unsigned xforward;
    long size_limit;
    const char *stage;          /* "while ..." text for I/O failures */
    bool data_done;             /* the final dot was sent */
    size_t *sent;               /* request indexes of this transaction's RCPTs */
    size_t nsent;
    size_t *accepted;
    size_t naccepted;
    bool body_error;            /* queue file failed while sending */
    struct sbuf *auth_mechs;    /* the EHLO AUTH offer (smtp_sasl.c) */
    bool authenticated;         /* AUTH succeeded on this connection */
    struct sbuf *env_sender;    /* MAIL FROM address after smtp_generic_maps */
    char **env_rcpt;            /* RCPT TO addresses after them (NULL: as queued) */
    /* The TLS level of this server: the policy's, or for dane/dane-only
     * what smtp_dane_resolve() made of it (NONE..ENCRYPT or DANE). */
    enum smtp_tls_level level;
    struct smtp_dane dane;
    bool tls_verified;          /* the peer was authenticated (DANE, verify, secure) */
    /* TLS through tlsproxy (*_tls_connection_reuse): s is the plaintext
     * socket to tlsproxy, tls stays NULL; what the handshake established,
     * for the connection cache and its "reused" log line. */
    bool proxied;
    struct tls_client_info proxy_info;
    const char *trust;          /* "Verified", "Trusted", ... */
    /* A cached connection's RSET was queued in front of MAIL FROM (the
     * server pipelines) and its reply is still to be read; stale: that
     * reply said the connection is unusable, nothing was reported. */
    bool rset_pending;
    bool stale;
    bool greet_esmtp;   /* the greeting has the word ESMTP */
    char **discard;     /* EHLO keywords to ignore (NULL: not looked up) */
    bool filter_failed; /* the *_reply_filter table failed */
};

/* ---- recipient results ---- */

/* Who issued a result: the server (its reply goes into the DSN) or this
 * MTA (lost connection, TLS policy, size limit: no Remote-MTA). */
enum smtp_by {
    SMTP_BY_LOCAL,
    SMTP_BY_SERVER,
};

/* Fills the request's DSN details for the status call that follows. For a
 * server result: Remote-MTA is the server's name and, when the last reply is
 * a real 2xx/4xx/5xx, Diagnostic-Code is that reply. For a local result the
 * MTA is set to "" (not NULL) so the status record names no remote MTA
 * instead of falling back to the relay= text. */
static void smtp_dsn_set(struct smtp_sess *ss, enum smtp_by by, bool success)
{
    struct deliver_request *r = ss->req;
    r->dsn_mta = "";
    r->diag_type = r->diag_text = NULL;
    if (by != SMTP_BY_SERVER)
        return;
    r->dsn_mta = ss->a->host;
    /* A failure caused by an unexpected 2xx/3xx (e.g. to DATA) has no
     * reply worth quoting as the diagnostic. */
    int cls = ss->code / 100;
    if (ss->code > 0 && (success ? cls == 2 : cls == 4 || cls == 5) && sbuf_len(ss->reply) > 0) {
        r->diag_type = "smtp";
        r->diag_text = sbuf_str(ss->reply);
    }
}

/* Back to "no DSN details" after a status call. */
static void smtp_dsn_clear(struct deliver_request *r)
{
    r->dsn_mta = r->diag_type = r->diag_text = NULL;
}

static bool smtp_is_pending(struct smtp_state *st, size_t i)
{
    return st->rcpt_state[i] == SMTP_RCPT_PENDING;
}

static void smtp_mark_done(struct smtp_state *st, size_t i)
{
    if (st->rcpt_state[i] == SMTP_RCPT_PENDING) {
        st->rcpt_state[i] = SMTP_RCPT_DONE;
        st->pending--;
    }
}

/* A soft error: keep the recipient for another server, or defer it now. */
static void smtp_rcpt_soft(struct smtp_sess *ss, size_t i, const char *dsn, const char *text,
                           enum smtp_by by)
{
    struct smtp_state *st = ss->st;
    if (!smtp_is_pending(st, i))
        return;
    smtp_dsn_set(ss, by, false);
    sbuf_set(st->last_dsn, dsn);
    sbuf_set(st->last_reason, text);
    sbuf_set(st->last_mta, ss->req->dsn_mta);
    sbuf_set(st->last_diag, ss->req->diag_text ? ss->req->diag_text : "");
    if (ss->final) {
        deliver_defer(ss->req, &ss->req->rcpts[i], dsn, "%s", text);
        smtp_mark_done(st, i);
    }
    smtp_dsn_clear(ss->req);
}

static void smtp_rcpt_fail(struct smtp_sess *ss, size_t i, int code, const char *dsn,
                           const char *text, enum smtp_by by)
{
    if (!smtp_is_pending(ss->st, i))
        return;
    if (code >= 500) {
        smtp_dsn_set(ss, by, false);
        deliver_bounce(ss->req, &ss->req->rcpts[i], dsn, "%s", text);
        smtp_dsn_clear(ss->req);
        smtp_mark_done(ss->st, i);
    } else
        smtp_rcpt_soft(ss, i, dsn, text, by);
}

void smtp_fail_pending(struct smtp_state *st, const char *relay, const char *dsn,
                       const char *reason)
{
    struct deliver_request *r = st->req;
    const char *old = r->relay;
    r->relay = relay;
    /* The DSN details of the remembered error, if a server gave it. */
    r->dsn_mta = sbuf_str(st->last_mta);
    if (sbuf_len(st->last_diag) > 0) {
        r->diag_type = "smtp";
        r->diag_text = sbuf_str(st->last_diag);
    }
    for (size_t i = 0; i < r->nrcpt; i++) {
        if (!smtp_is_pending(st, i))
            continue;
        if (dsn[0] == '5')
            deliver_bounce(r, &r->rcpts[i], dsn, "%s", reason);
        else
            deliver_defer(r, &r->rcpts[i], dsn, "%s", reason);
        smtp_mark_done(st, i);
    }
    smtp_dsn_clear(r);
    r->relay = old;
}

void smtp_forget_reply(struct smtp_state *st)
{
    sbuf_reset(st->last_mta);
    sbuf_reset(st->last_diag);
}

/* Every recipient still pending in this session fails with text. */
static void smtp_sess_fail_all(struct smtp_sess *ss, int code, const char *dsn, const char *text,
                               enum smtp_by by)
{
    for (size_t i = 0; i < ss->req->nrcpt; i++)
        smtp_rcpt_fail(ss, i, code, dsn, text, by);
}

/* ---- I/O ---- */

/* The connection broke or timed out: recipients go to the next server,
 * or are deferred when the message may already be delivered. */
static void smtp_sess_io_fail(struct smtp_sess *ss)
{
    int err = stream_error(ss->s);
    struct sbuf *t = ss->tmp;
    if (ss->filter_failed) {
        /* Our table, not the server: no other server would do better. */
        sbuf_printf(t, "local data error while talking to %s", sbuf_str(ss->peer));
        if (ss->data_done)
            sbuf_cat(t, " -- message may be sent more than once");
        bool was_final = ss->final;
        ss->final = true;
        smtp_sess_fail_all(ss, 450, "4.3.0", sbuf_str(t), SMTP_BY_LOCAL);
        ss->final = was_final;
        return;
    }
    if (err == STREAM_E_TIMEOUT)
        sbuf_printf(t, "conversation with %s timed out while %s", sbuf_str(ss->peer), ss->stage);
    else
        sbuf_printf(t, "lost connection with %s while %s", sbuf_str(ss->peer), ss->stage);
    if (ss->data_done) {
        sbuf_cat(t, " -- message may be sent more than once");
        bool was_final = ss->final;
        ss->final = true;
        smtp_sess_fail_all(ss, 450, "4.4.2", sbuf_str(t), SMTP_BY_LOCAL);
        ss->final = was_final;
    } else
        smtp_sess_fail_all(ss, 450, "4.4.2", sbuf_str(t), SMTP_BY_LOCAL);
}

/* *_reply_filter: the line as received (without CR LF) is looked up, and
 * an answer replaces it. The result is parsed like any reply line, so one
 * that is not a reply line makes a malformed reply. Returns 0, or -1 when
 * the table failed (ss->filter_failed set; smtp_sess_io_fail() reports it). */
static int smtp_reply_filter(struct smtp_sess *ss)
{
    struct maps *m = smtp_cfg.reply_filter;
    const char *v = maps_find(m, sbuf_str(ss->line), 0);
    if (v) {
        log_debug(1, "%s: replacing server reply \"%s\" with \"%s\"", sbuf_str(ss->peer),
                  sbuf_str(ss->line), v);
        sbuf_set(ss->line, v);
        return 0;
    }
    if (maps_error(m) == DICT_ERR_NONE)
        return 0;
    ss->filter_failed = true; /* the maps layer logged the lookup */
    return -1;
}

/* Reads one (multi-line) reply with the given timeout; each line goes
 * through *_reply_filter first. The lines are joined with blanks in
 * ss->reply, the enhanced code goes to ss->dsn. Returns the code, or -1
 * after an I/O failure or a reply filter failure (ss->code = -1); 0 for a
 * malformed reply. */
static int smtp_get_reply(struct smtp_sess *ss, long timeout)
{
    stream_set_timeout(ss->s, (int)timeout);
    sbuf_reset(ss->reply);
    sbuf_reset(ss->lines);
    for (int nlines = 0;; nlines++) {
        ssize_t n = stream_getline(ss->s, ss->line, SMTP_REPLY_LINE_MAX, NULL);
        if (n == STREAM_E_TOOLONG)
            n = (ssize_t)sbuf_len(ss->line);
        if (n < 0)
            return ss->code = -1;
        size_t len = sbuf_len(ss->line);
        if (len > 0 && sbuf_str(ss->line)[len - 1] == '\r')
            sbuf_truncate(ss->line, --len);
        if (smtp_cfg.reply_filter) {
            if (smtp_reply_filter(ss) < 0)
                return ss->code = -1;
            len = sbuf_len(ss->line);
        }
        /* A reply text ends up in logs and DSNs: no control characters. */
        for (char *p = sbuf_data(ss->line); *p; p++)
            if ((unsigned char)*p < 32 || *p == 127)
                *p = ' ';
        if (nlines < SMTP_REPLY_LINES_MAX) {
            if (sbuf_len(ss->reply) > 0)
                sbuf_addch(ss->reply, ' ');
            if (sbuf_len(ss->reply) < 8192)
                sbuf_append(ss->reply, sbuf_str(ss->line), len);
        }
        const char *l = sbuf_str(ss->line);
        int code = smtp_reply_code(l, nlines == 0 ? ss->dsn : ss->tmp);
        if (code < 0) {
            log_warn("%s: malformed reply from %s: %.100s", ss->req->queue_id,
                     sbuf_str(ss->peer), l);
            return ss->code = 0;    /* the caller reports a protocol error */
        }
        if (nlines == 0)
            ss->code = code;
        if (nlines < SMTP_REPLY_LINES_MAX) {
            sbuf_append(ss->lines, l + (len > 4 ? 4 : len), len > 4 ? len - 4 : 0);
            sbuf_addch(ss->lines, '\n');
        }
        if (l[3] != '-')
            break;
    }
    return ss->code;
}

static int smtp_put(struct smtp_sess *ss, long timeout, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Queues one command line (CRLF added); flushed by the caller. */
static int smtp_put(struct smtp_sess *ss, long timeout, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_reset(ss->tmp);
    sbuf_vcatf(ss->tmp, fmt, ap);
    va_end(ap);
    log_debug(1, "> %s: %s", sbuf_str(ss->peer), sbuf_str(ss->tmp));
    sbuf_cat(ss->tmp, "\r\n");
    stream_set_timeout(ss->s, (int)timeout);
    return stream_write(ss->s, sbuf_str(ss->tmp), sbuf_len(ss->tmp));
}

static int smtp_flush(struct smtp_sess *ss, long timeout)
{
    stream_set_timeout(ss->s, (int)timeout);
    return stream_flush(ss->s);
}

/* "host H[A] said: REPLY (in reply to CMD command)" into out. */
static void smtp_said(struct smtp_sess *ss, struct sbuf *out, const char *cmd)
{
    sbuf_printf(out, "host %s said: %s (in reply to %s command)", sbuf_str(ss->peer),
                sbuf_str(ss->reply), cmd);
}

/* The dsn of the last reply, or a class default when it was malformed. */
static const char *smtp_reply_dsn(struct smtp_sess *ss)
{
    if (ss->code <= 0)
        sbuf_set(ss->dsn, "5.5.0");
    return sbuf_str(ss->dsn);
}

/* Protocol error (garbage instead of a reply): a soft site failure. */
static void smtp_protocol_error(struct smtp_sess *ss, const char *cmd)
{
    struct sbuf *t = sbuf_new(128);
    sbuf_printf(t, "host %s said: malformed or unexpected reply (in reply to %s command)",
                sbuf_str(ss->peer), cmd);
    smtp_sess_fail_all(ss, 450, "4.5.0", sbuf_str(t), SMTP_BY_SERVER);
    sbuf_free(t);
}

/* ---- EHLO ---- */

/* Reads the EHLO keywords from ss->lines (the first line is the greeting
 * name, each further line one keyword with its arguments). */
static void smtp_parse_ehlo(struct smtp_sess *ss)
{
    ss->features = SMTP_F_ESMTP;
    ss->xforward = 0;
    ss->size_limit = 0;
    sbuf_reset(ss->auth_mechs);
    /* *_discard_ehlo_keywords, or what the address maps say for this
     * server's address: those keywords count as not offered. */
    if (ss->discard == NULL)
        ss->discard = ehlo_discard_lookup(smtp_cfg.ehlo_discard, ss->a->addr);
    struct sbuf *dropped = sbuf_new(32);
    const char *p = strchr(sbuf_str(ss->lines), '\n');
    while (p && *++p) {
        const char *eol = strchr(p, '\n');
        if (eol == NULL)
            break;
        char kw[32];
        size_t k = 0;
        const char *q = p;
        while (q < eol && *q != ' ' && *q != '=' && k + 1 < sizeof(kw))
            kw[k++] = *q++;
        kw[k] = 0;
        const char *args = q;
        while (args < eol && (*args == ' ' || *args == '='))
            args++;
        if (k > 0 && ehlo_discard_has(ss->discard, kw)) {
            sbuf_addch(dropped, ' ');
            for (size_t i = 0; i < k; i++)
                sbuf_addch(dropped, (char)toupper((unsigned char)kw[i]));
        } else if (strcasecmp(kw, "PIPELINING") == 0)
            ss->features |= SMTP_F_PIPELINING;
        else if (strcasecmp(kw, "SIZE") == 0) {
            ss->features |= SMTP_F_SIZE;
            if (args < eol && isdigit((unsigned char)*args)) {
                errno = 0;
                long v = strtol(args, NULL, 10);
                ss->size_limit = errno || v < 0 ? 0 : v;
            }
        } else if (strcasecmp(kw, "DSN") == 0)
            ss->features |= SMTP_F_DSN;
        else if (strcasecmp(kw, "8BITMIME") == 0)
            ss->features |= SMTP_F_8BITMIME;
        else if (strcasecmp(kw, "STARTTLS") == 0)
            ss->features |= SMTP_F_STARTTLS;
        else if (strcasecmp(kw, "AUTH") == 0) {
            if (sbuf_len(ss->auth_mechs))
                sbuf_addch(ss->auth_mechs, ' ');
            sbuf_append(ss->auth_mechs, args, (size_t)(eol - args));
        }
        else if (strcasecmp(kw, "XFORWARD") == 0) {
            ss->features |= SMTP_F_XFORWARD;
            for (const char *w = args; w < eol;) {
                while (w < eol && *w == ' ')
                    w++;
                const char *e = w;
                while (e < eol && *e != ' ')
                    e++;
                size_t wl = (size_t)(e - w);
                if (wl == 4 && strncasecmp(w, "NAME", 4) == 0)
                    ss->xforward |= SMTP_XF_NAME;
                else if (wl == 4 && strncasecmp(w, "ADDR", 4) == 0)
                    ss->xforward |= SMTP_XF_ADDR;
                else if (wl == 5 && strncasecmp(w, "PROTO", 5) == 0)
                    ss->xforward |= SMTP_XF_PROTO;
                else if (wl == 4 && strncasecmp(w, "HELO", 4) == 0)
                    ss->xforward |= SMTP_XF_HELO;
                else if (wl == 6 && strncasecmp(w, "SOURCE", 6) == 0)
                    ss->xforward |= SMTP_XF_SOURCE;
                w = e;
            }
        }
        p = eol;
    }
    if (sbuf_len(dropped) && !ehlo_discard_has(ss->discard, EHLO_DISCARD_SILENT))
        log_info("discarding EHLO keywords:%s", sbuf_str(dropped));
    sbuf_free(dropped);
}

/* Does the greeting text (ss->lines) have the word "ESMTP" in it, in any
 * case? With smtp_always_send_ehlo = no only such a server gets EHLO. */
static bool smtp_greeting_esmtp(const char *text)
{
    for (const char *p = text; *p;) {
        p += strspn(p, " \t\n");
        size_t n = strcspn(p, " \t\n");
        if (n == 5 && strncasecmp(p, "ESMTP", 5) == 0)
            return true;
        p += n;
    }
    return false;
}

/* EHLO/LHLO, with HELO as the SMTP fallback. Returns 0 or -1 (handled). */
static int smtp_helo(struct smtp_sess *ss)
{
    const struct smtp_cfg *cfg = &smtp_cfg;
    const char *cmd = cfg->lmtp ? "LHLO" : "EHLO";
    ss->features = 0;
    /* smtp_never_send_ehlo wins over smtp_always_send_ehlo = no, which
     * asks for EHLO only when the greeting says ESMTP. */
    bool ehlo = cfg->lmtp || (!cfg->never_send_ehlo && (cfg->always_send_ehlo || ss->greet_esmtp));
    if (ehlo) {
        ss->stage = "performing the EHLO handshake";
        if (cfg->lmtp)
            ss->stage = "performing the LHLO handshake";
        if (smtp_put(ss, cfg->helo_timeout, "%s %s", cmd, cfg->helo_name) < 0
            || smtp_flush(ss, cfg->helo_timeout) < 0 || smtp_get_reply(ss, cfg->helo_timeout) < 0) {
            smtp_sess_io_fail(ss);
            return -1;
        }
        if (ss->code / 100 == 2) {
            smtp_parse_ehlo(ss);
            return 0;
        }
        if (cfg->lmtp || ss->code / 100 == 4 || ss->code == 0) {
            struct sbuf *t = sbuf_new(256);
            smtp_said(ss, t, cmd);
            smtp_sess_fail_all(ss, ss->code == 0 ? 450 : ss->code, smtp_reply_dsn(ss),
                               sbuf_str(t), SMTP_BY_SERVER);
            sbuf_free(t);
            return -1;
        }
    }
    ss->stage = "performing the HELO handshake";
    if (smtp_put(ss, cfg->helo_timeout, "HELO %s", cfg->helo_name) < 0
        || smtp_flush(ss, cfg->helo_timeout) < 0 || smtp_get_reply(ss, cfg->helo_timeout) < 0) {
        smtp_sess_io_fail(ss);
        return -1;
    }
    if (ss->code / 100 != 2) {
        struct sbuf *t = sbuf_new(256);
        smtp_said(ss, t, "HELO");
        smtp_sess_fail_all(ss, ss->code == 0 ? 450 : ss->code, smtp_reply_dsn(ss), sbuf_str(t),
                           SMTP_BY_SERVER);
        sbuf_free(t);
        return -1;
    }
    return 0;
}

/* ---- STARTTLS and wrapper mode ---- */

/* The TLS policy of this server's destination (smtp_tls_policy_maps), or
 * the transport's default. */
static const struct smtp_tls_policy *smtp_sess_policy(const struct smtp_sess *ss)
{
    return ss->a->tls ? ss->a->tls : &smtp_cfg.tls_default;
}

/* Does the verified certificate name what the level asks for? verify and
 * secure walk their match list: "hostname" is the server's (MX) name,
 * "nexthop" the next-hop domain, "dot-nexthop" any subdomain of it,
 * anything else a literal name (".example.com": its subdomains). Other
 * levels only need the MX name for the "Verified" log word. */
static bool smtp_tls_cert_matches(struct smtp_sess *ss)
{
    const struct smtp_tls_policy *pol = smtp_sess_policy(ss);
    const char *nexthop = ss->a->nexthop ? ss->a->nexthop : "";
    if (ss->level != SMTP_TLS_VERIFY && ss->level != SMTP_TLS_SECURE)
        return tls_client_matches(ss->tls, ss->a->host);
    struct sbuf *dot = sbuf_new(64);
    bool ok = false;
    for (char **m = pol->match; !ok && m && *m; m++) {
        if (strcasecmp(*m, "hostname") == 0)
            ok = tls_client_matches(ss->tls, ss->a->host);
        else if (strcasecmp(*m, "nexthop") == 0)
            ok = tls_client_matches(ss->tls, nexthop);
        else if (strcasecmp(*m, "dot-nexthop") == 0) {
            sbuf_printf(dot, ".%s", nexthop);
            ok = *nexthop && tls_client_matches(ss->tls, sbuf_str(dot));
        } else
            ok = tls_client_matches(ss->tls, *m);
    }
    sbuf_free(dot);
    return ok;
}

/* Fingerprint level: does the digest of the peer's certificate or of its
 * public key appear in the policy's list (upper-case hex, no colons)? */
static bool smtp_tls_fprint_matches(const struct smtp_tls_policy *pol,
                                    const struct tls_client_info *info)
{
    char cert[sizeof(info->fingerprint)], pkey[sizeof(info->pkey_fingerprint)];
    size_t nc = 0, np = 0;
    for (const char *q = info->fingerprint; *q; q++)
        if (*q != ':')
            cert[nc++] = *q;
    for (const char *q = info->pkey_fingerprint; *q; q++)
        if (*q != ':')
            pkey[np++] = *q;
    cert[nc] = pkey[np] = 0;
    for (char **m = pol->match; m && *m; m++)
        if ((nc && strcmp(*m, cert) == 0) || (np && strcmp(*m, pkey) == 0))
            return true;
    return false;
}

/* The SNI name of this session (*_tls_servername, servername=): NULL for
 * none, the server's name for "hostname", the next-hop domain for
 * "nexthop", else the name given. */
static const char *smtp_tls_sni(const struct smtp_sess *ss, const struct smtp_tls_policy *pol)
{
    if (pol->servername == NULL || *pol->servername == 0)
        return NULL;
    if (strcasecmp(pol->servername, "hostname") == 0)
        return ss->a->host;
    if (strcasecmp(pol->servername, "nexthop") == 0)
        return ss->a->nexthop;
    return pol->servername;
}

/* The names a verify or secure certificate may carry, from the policy's
 * match list (what smtp_tls_cert_matches() walks), into names[] (new
 * strings); returns how many. */
static size_t smtp_tls_match_names(const struct smtp_sess *ss, char **names, size_t max)
{
    const struct smtp_tls_policy *pol = smtp_sess_policy(ss);
    const char *nexthop = ss->a->nexthop ? ss->a->nexthop : "";
    size_t n = 0;
    for (char **m = pol->match; m && *m && n < max; m++) {
        if (strcasecmp(*m, "hostname") == 0)
            names[n++] = xstrdup(ss->a->host);
        else if (strcasecmp(*m, "nexthop") == 0) {
            if (*nexthop)
                names[n++] = xstrdup(nexthop);
        } else if (strcasecmp(*m, "dot-nexthop") == 0) {
            if (*nexthop) {
                struct sbuf *dot = sbuf_new(64);
                sbuf_printf(dot, ".%s", nexthop);
                names[n++] = xstrdup(sbuf_str(dot));
                sbuf_free(dot);
            }
        } else if (strchr(*m, ' ') == NULL && strlen(*m) < TLSPROXY_STR_MAX / 4)
            names[n++] = xstrdup(*m);
    }
    return n;
}

/* The handshake through tlsproxy: ss->s becomes the plaintext socket to
 * it. 0 with *info and *names_matched filled (did the certificate name
 * one of the policy's verify/secure names), or -1 with why filled (the
 * connection to the server is unusable either way). */
static int smtp_tls_proxy(struct smtp_sess *ss, const char *sni,
                          const struct tls_client_sess_opts *so, struct tls_client_info *info,
                          bool *names_matched, struct sbuf *why)
{
    const struct smtp_cfg *cfg = &smtp_cfg;
    bool lmtp = cfg->lmtp;
    char *names[TLSPROXY_MATCH_MAX];
    struct tlsproxy_req req = {
        .peer = (char *)sbuf_str(ss->relay),
        .timeout = cfg->starttls_timeout,
        .ca_file = cfg->tls_ca_file,
        .ca_path = cfg->tls_ca_path,
        .cert_file = cfg->tls_cert_file,
        .key_file = cfg->tls_key_file,
        .eccert_file = cfg->tls_eccert_file,
        .eckey_file = cfg->tls_eckey_file,
        .dcert_file = cfg->tls_dcert_file,
        .dkey_file = cfg->tls_dkey_file,
        .chain_files = cfg->tls_chain_files,
        .fingerprint_digest = (char *)cfg_str(lmtp ? P_LMTP_TLS_FINGERPRINT_DIGEST
                                                   : P_SMTP_TLS_FINGERPRINT_DIGEST),
        .dane_digests = (char *)cfg_str(P_TLS_DANE_DIGESTS),
        .cache_type = smtp_tls_cache_ops() ? (lmtp ? "lmtp" : "smtp") : "",
        .verify_depth = cfg->tls_verify_depth,
        .servername = (char *)(sni ? sni : ""),
        .cache_id = (char *)(so->cache_id ? so->cache_id : ""),
        .protocols = so->protocols,
        .ciphers = (char *)(so->ciphers ? so->ciphers : ""),
        .host = (char *)ss->a->host,
        .match = names,
        .nmatch = 0,
        .tlsa = (struct tls_client_tlsa *)so->tlsa,
        .ntlsa = so->ntlsa,
        .dane_base = (char *)(so->dane_base ? so->dane_base : ""),
        .dane_name2 = (char *)(so->dane_name2 ? so->dane_name2 : ""),
    };
    if (ss->level == SMTP_TLS_VERIFY || ss->level == SMTP_TLS_SECURE)
        req.nmatch = smtp_tls_match_names(ss, names, TLSPROXY_MATCH_MAX);
    int result = -1;
    if (stream_pending(ss->s) != 0) {
        sbuf_set(why, "unexpected plaintext data before TLS handshake");
        goto out;
    }
    struct tlsproxy_res res;
    struct stream *plain = tlsproxy_clnt_start(cfg->tlsproxy_service, stream_fd(ss->s), &req,
                                               (int)cfg->helo_timeout, &res, why);
    if (plain == NULL) {
        /* The server waits for a TLS handshake: nothing more in the clear
         * (not even QUIT) on this connection. */
        shutdown(stream_fd(ss->s), SHUT_RDWR);
        goto out;
    }
    /* tlsproxy has its own copy of the server connection. */
    stream_close(ss->s);
    ss->s = plain;
    ss->proxied = true;
    *info = res.info;
    *names_matched = res.matched != 0;
    result = 0;
out:
    for (size_t i = 0; i < req.nmatch; i++)
        xfree(names[i]);
    return result;
}

/* Is TLS for this policy done through tlsproxy (so that the connection
 * may be cached)? DANE levels keep TLS in this process: their effective
 * level depends on each server's DNS records, which a cached connection
 * would not carry. */
static bool smtp_tls_via_proxy(const struct smtp_sess *ss)
{
    return smtp_tls_reuse_wanted(smtp_sess_policy(ss)) && ss->level != SMTP_TLS_DANE;
}

/* The handshake and the policy's certificate checks, on a connection that
 * is ready for TLS (after "220" to STARTTLS, or at once in wrapper mode).
 * Returns 0 (TLS on), or -1 with the recipients handled. */
static int smtp_tls_begin(struct smtp_sess *ss)
{
    const struct smtp_cfg *cfg = &smtp_cfg;
    const struct smtp_tls_policy *pol = smtp_sess_policy(ss);
    struct sbuf *t = sbuf_new(256), *why = sbuf_new(128);
    int result = -1;
    const char *sni = smtp_tls_sni(ss, pol);
    struct tls_client_sess_opts so = { .protocols = pol->protocols, .ciphers = pol->ciphers };
    struct tls_client_tlsa tlsa[SMTP_DANE_TLSA_MAX];
    if (ss->level == SMTP_TLS_DANE) {
        /* RFC 7672: SNI is the TLSA base domain, the names DANE-TA
         * certificates may carry are it, the next-hop domain and the
         * server's name before CNAME expansion. */
        for (const struct dns_rr *rr = ss->dane.tlsa; rr && so.ntlsa < SMTP_DANE_TLSA_MAX;
             rr = rr->next)
            tlsa[so.ntlsa++] = (struct tls_client_tlsa){ .usage = rr->usage,
                                                         .selector = rr->selector,
                                                         .mtype = rr->mtype,
                                                         .data = rr->bin,
                                                         .len = rr->binlen };
        so.tlsa = tlsa;
        so.dane_base = ss->dane.base;
        so.dane_name2 = ss->a->nexthop;
        if (strcasecmp(ss->a->host, ss->dane.base) != 0)
            so.dane_name3 = ss->a->host;      /* the name before CNAME expansion */
        sni = ss->dane.base;
    }
    /* verify, secure: trust anchor files replace the CAs (checked when
     * the policy was looked up; read once per process). */
    const struct tls_client_anchors *ta[SMTP_TA_FILES_MAX];
    int nta = 0;
    if ((ss->level == SMTP_TLS_VERIFY || ss->level == SMTP_TLS_SECURE) && pol->tafiles) {
        nta = smtp_tls_anchors(pol, ta, why);
        if (nta < 0) {
            sbuf_printf(t, "client TLS configuration problem: %s", sbuf_str(why));
            smtp_sess_fail_all(ss, 450, "4.7.5", sbuf_str(t), SMTP_BY_LOCAL);
            goto out_early;
        }
        so.anchors = ta;
        so.nanchors = (size_t)nta;
    }
    /* The session cache key: this server and everything about the policy
     * that a resumed session would carry over. */
    struct sbuf *cache_id = sbuf_new(128);
    sbuf_printf(cache_id, "%s&%s&%s&%s&%s&%x&%s", ss->a->host, ss->a->addr,
                ss->a->port ? ss->a->port : "", sni ? sni : "",
                pol->level_name ? pol->level_name : "", pol->protocols,
                pol->ciphers ? pol->ciphers : "");
    if (so.ntlsa == 0 && nta == 0 && sbuf_len(cache_id) <= 512)
        so.cache_id = sbuf_str(cache_id);
    struct tls_client_info info;
    bool proxy_names = false, proxy = smtp_tls_via_proxy(ss);
    if (!proxy)
        smtp_tls_seed();
    if (pol->config_error)
        sbuf_set(why, "client TLS configuration problem (protocols or ciphers)");
    else if (proxy && smtp_tls_proxy(ss, sni, &so, &info, &proxy_names, why) < 0) {
        log_info("%s: TLS handshake with %s failed: %s", ss->req->queue_id, sbuf_str(ss->relay),
                 sbuf_str(why));
        sbuf_printf(t, "Cannot start TLS: %s with %s: %s",
                    strncmp(sbuf_str(why), "tlsproxy service", 16) == 0 ? "local failure"
                                                                         : "handshake failure",
                    sbuf_str(ss->peer), sbuf_str(why));
        smtp_sess_fail_all(ss, 450, "4.7.5", sbuf_str(t), SMTP_BY_LOCAL);
        goto out;
    } else if (!proxy)
        ss->tls = tls_client_start_opts(cfg->tls_ctx, ss->s, sni, (int)cfg->starttls_timeout, &so,
                                        why);
    if (ss->tls == NULL && !ss->proxied) {
        log_info("%s: TLS handshake with %s failed: %s", ss->req->queue_id, sbuf_str(ss->relay),
                 sbuf_str(why));
        sbuf_printf(t, "Cannot start TLS: handshake failure with %s: %s", sbuf_str(ss->peer),
                    sbuf_str(why));
        /* XXX: Postfix retries "may" in plaintext on a new connection; we
         * defer (or try the next server) instead. */
        smtp_sess_fail_all(ss, 450, "4.7.5", sbuf_str(t), SMTP_BY_LOCAL);
        goto out;
    }
    if (!ss->proxied)
        tls_client_info(ss->tls, ss->a->host, &info);
    bool names = ss->proxied ? (ss->level == SMTP_TLS_VERIFY || ss->level == SMTP_TLS_SECURE
                                    ? proxy_names
                                    : info.name_matched)
                             : false;
    bool matched = ss->level == SMTP_TLS_DANE          ? info.dane_matched
                   : ss->level == SMTP_TLS_FINGERPRINT ? smtp_tls_fprint_matches(pol, &info)
                   : ss->proxied                       ? names
                                                       : smtp_tls_cert_matches(ss);
    const char *trust = !info.have_cert ? "Anonymous"
                        : matched ? "Verified"
                        : info.trusted      ? "Trusted"
                                            : "Untrusted";
    log_info("%s TLS connection %s to %s: %s with cipher %s (%d/%d bits)", trust,
             info.reused ? "reused" : "established", sbuf_str(ss->relay), info.protocol,
             info.cipher, info.bits, info.alg_bits);
    if (cfg->tls_loglevel >= 1 && info.have_cert)
        log_info("%s: subject_CN=%s, verification=%s%s", sbuf_str(ss->relay), info.peer_cn,
                 info.trusted ? "ok" : "failed: ", info.trusted ? "" : info.verify_error);
    if (nta > 0 && info.anchor_depth >= 0 && cfg->tls_loglevel >= 1)
        log_info("%s: Matched trust anchor at depth %d", sbuf_str(ss->relay), info.anchor_depth);
    if (ss->level == SMTP_TLS_FINGERPRINT && cfg->tls_loglevel >= 1 && info.have_cert)
        log_info("%s: certificate fingerprint=%s, pkey_fingerprint=%s", sbuf_str(ss->relay),
                 info.fingerprint, info.pkey_fingerprint);
    if (ss->level == SMTP_TLS_FINGERPRINT && !matched) {
        /* Nothing has been sent: the session ends before EHLO. */
        sbuf_set(t, info.have_cert ? "Server certificate not verified: fingerprint mismatch"
                                   : "Server certificate not verified: no certificate");
        log_info("%s: server certificate verification failed for %s: %s", ss->req->queue_id,
                 sbuf_str(ss->relay), sbuf_str(t));
        smtp_sess_fail_all(ss, 450, "4.7.5", sbuf_str(t), SMTP_BY_LOCAL);
        goto out;
    }
    if (ss->level == SMTP_TLS_DANE && !matched) {
        /* Nothing has been sent: the session ends before EHLO. */
        sbuf_printf(t, "Server certificate not verified: no TLSA record for %s matches%s%s",
                    ss->dane.base, info.verify_error[0] ? ": " : "", info.verify_error);
        log_info("%s: DANE TLSA verification failed for %s: %s", ss->req->queue_id,
                 sbuf_str(ss->relay), sbuf_str(t));
        smtp_sess_fail_all(ss, 450, "4.7.5", sbuf_str(t), SMTP_BY_LOCAL);
        goto out;
    }
    if (ss->level == SMTP_TLS_DANE && cfg->tls_loglevel >= 1)
        log_info("%s: DANE-%s TLSA record matched", sbuf_str(ss->relay),
                 info.dane_usage == 2 ? "TA(2)" : "EE(3)");
    if ((ss->level == SMTP_TLS_VERIFY || ss->level == SMTP_TLS_SECURE) && !matched) {
        sbuf_printf(t, "Server certificate not verified: %s",
                    info.trusted ? (pol->level == SMTP_TLS_SECURE ? "name mismatch for next hop"
                                                                  : "hostname mismatch")
                                 : info.verify_error);
        log_info("%s: server certificate verification failed for %s: %s", ss->req->queue_id,
                 sbuf_str(ss->relay), sbuf_str(t));
        smtp_sess_fail_all(ss, 450, "4.7.5", sbuf_str(t), SMTP_BY_LOCAL);
        goto out;
    }
    ss->tls_verified = matched && ss->level >= SMTP_TLS_DANE;
    ss->proxy_info = info;
    ss->trust = trust;
    result = 0;
out:
    sbuf_free(cache_id);
out_early:
    sbuf_free(why);
    sbuf_free(t);
    return result;
}

/* Wrapper mode (*_tls_wrappermode): TLS before the greeting. 0 or -1
 * (recipients handled). */
static int smtp_tls_wrap(struct smtp_sess *ss)
{
    if (smtp_cfg.tls_ctx == NULL && !smtp_tls_via_proxy(ss)) {
        smtp_sess_fail_all(ss, 450, "4.7.5", "TLS is required, but our TLS engine is unavailable",
                           SMTP_BY_LOCAL);
        return -1;
    }
    ss->stage = "performing the TLS handshake";
    return smtp_tls_begin(ss);
}

/* Returns 0 to go on (encrypted or plaintext as policy allows), -1 when the
 * session has failed (recipients handled). */
static int smtp_starttls(struct smtp_sess *ss)
{
    const struct smtp_cfg *cfg = &smtp_cfg;
    bool required = ss->level >= SMTP_TLS_ENCRYPT;
    if (ss->level == SMTP_TLS_NONE && ss->tls == NULL && (ss->features & SMTP_F_STARTTLS)
        && cfg->tls_note_offer)
        log_info("Host offered STARTTLS: [%s]", ss->a->host);
    if (ss->level == SMTP_TLS_NONE || ss->tls != NULL || ss->proxied)
        return 0;
    struct sbuf *t = sbuf_new(256);
    int result = -1;
    if (!(ss->features & SMTP_F_STARTTLS)) {
        if (!required) {
            result = 0;
            goto out;
        }
        sbuf_printf(t, "TLS is required, but was not offered by host %s", sbuf_str(ss->peer));
        smtp_sess_fail_all(ss, 450, "4.7.4", sbuf_str(t), SMTP_BY_LOCAL);
        goto out;
    }
    if (cfg->tls_ctx == NULL && !smtp_tls_via_proxy(ss)) {
        if (!required) {
            result = 0;
            goto out;
        }
        sbuf_set(t, "TLS is required, but our TLS engine is unavailable");
        smtp_sess_fail_all(ss, 450, "4.7.5", sbuf_str(t), SMTP_BY_LOCAL);
        goto out;
    }
    ss->stage = "sending STARTTLS";
    if (smtp_put(ss, cfg->starttls_timeout, "STARTTLS") < 0
        || smtp_flush(ss, cfg->starttls_timeout) < 0
        || smtp_get_reply(ss, cfg->starttls_timeout) < 0) {
        smtp_sess_io_fail(ss);
        goto out;
    }
    if (ss->code / 100 != 2) {
        if (!required && ss->code > 0) {
            result = 0;     /* opportunistic: carry on in plaintext */
            goto out;
        }
        smtp_said(ss, t, "STARTTLS");
        smtp_sess_fail_all(ss, 450, "4.7.5", sbuf_str(t), SMTP_BY_SERVER);
        goto out;
    }
    if (smtp_tls_begin(ss) < 0)
        goto out;
    /* RFC 3207: forget what the server said before TLS and ask again. */
    if (smtp_helo(ss) < 0)
        goto out;
    result = 0;
out:
    sbuf_free(t);
    return result;
}

/* ---- AUTH (the exchange itself is in smtp_sasl.c) ---- */

static int smtp_sasl_io_command(void *ctx, const char *line)
{
    struct smtp_sess *ss = ctx;
    long tmo = smtp_cfg.helo_timeout;
    stream_set_timeout(ss->s, (int)tmo);
    /* Not through smtp_put(): the line may carry a password. */
    if (stream_write(ss->s, line, strlen(line)) < 0 || stream_write(ss->s, "\r\n", 2) < 0
        || smtp_flush(ss, tmo) < 0 || smtp_get_reply(ss, tmo) < 0)
        return -1;
    return ss->code;
}

static const char *smtp_sasl_io_reply(void *ctx)
{
    return sbuf_str(((struct smtp_sess *)ctx)->reply);
}

static const char *smtp_sasl_io_text(void *ctx)
{
    struct smtp_sess *ss = ctx;
    const char *l = sbuf_str(ss->lines);
    const char *nl = strchr(l, '\n');
    if (nl)
        sbuf_truncate(ss->lines, (size_t)(nl - l));
    return sbuf_str(ss->lines);
}

/* Logs in when smtp_sasl_auth_enable asks for it. Returns 0 to go on, -1
 * when the session has failed (recipients handled). */
static int smtp_auth(struct smtp_sess *ss)
{
    if (!smtp_sasl_enabled())
        return 0;
    const struct smtp_sasl_io io = {
        .ctx = ss,
        .command = smtp_sasl_io_command,
        .reply = smtp_sasl_io_reply,
        .first_text = smtp_sasl_io_text,
    };
    const struct smtp_sasl_peer p = {
        .peer = sbuf_str(ss->peer),
        .host = (char *)ss->a->host,
        .dest = ss->a->dest,
        .sender = ss->req->sender,
        .mechs = sbuf_str(ss->auth_mechs),
        .tls = ss->tls != NULL || ss->proxied,
        .tls_verified = (ss->tls != NULL || ss->proxied) && ss->tls_verified,
    };
    struct sbuf *dsn = sbuf_new(16), *why = sbuf_new(256);
    ss->stage = "performing the AUTH handshake";
    enum smtp_sasl_result r = smtp_sasl_login(&io, &p, dsn, why);
    if (r == SMTP_SASL_IO) {
        if (ss->code == 0)
            smtp_protocol_error(ss, "AUTH");
        else
            smtp_sess_io_fail(ss);
    } else if (r == SMTP_SASL_FAIL || r == SMTP_SASL_REFUSED) {
        log_info("%s: %s", ss->req->queue_id, sbuf_str(why));
        smtp_sess_fail_all(ss, sbuf_str(dsn)[0] == '5' ? 535 : 450, sbuf_str(dsn), sbuf_str(why),
                           r == SMTP_SASL_REFUSED ? SMTP_BY_SERVER : SMTP_BY_LOCAL);
    }
    sbuf_free(dsn);
    sbuf_free(why);
    ss->authenticated = r == SMTP_SASL_DONE;
    return r == SMTP_SASL_NONE || r == SMTP_SASL_DONE ? 0 : -1;
}

/* ---- XFORWARD ---- */

static void smtp_xforward_attr(struct sbuf *out, const char *name, const char *value)
{
    sbuf_catf(out, " %s=", name);
    if (value == NULL || *value == 0 || strcmp(value, "unknown") == 0)
        sbuf_cat(out, "[UNAVAILABLE]");
    else
        smtp_xtext_encode(out, value);
}

/* Sends XFORWARD with the original client's attributes. 0 or -1 (handled). */
static int smtp_xforward(struct smtp_sess *ss)
{
    const struct smtp_cfg *cfg = &smtp_cfg;
    if (!cfg->send_xforward || !(ss->features & SMTP_F_XFORWARD) || ss->xforward == 0)
        return 0;
    const struct attr_list *l = ss->req->attrs;
    struct sbuf *c1 = sbuf_new(256), *c2 = sbuf_new(128);
    if (ss->xforward & SMTP_XF_NAME)
        smtp_xforward_attr(c1, "NAME", attr_get(l, "log_client_name"));
    if (ss->xforward & SMTP_XF_ADDR)
        smtp_xforward_attr(c1, "ADDR", attr_get(l, "log_client_address"));
    if (ss->xforward & SMTP_XF_PROTO)
        smtp_xforward_attr(c2, "PROTO", attr_get(l, "log_protocol"));
    if (ss->xforward & SMTP_XF_HELO)
        smtp_xforward_attr(c2, "HELO", attr_get(l, "log_helo_name"));
    if (ss->xforward & SMTP_XF_SOURCE) {
        const char *ctx = attr_get_def(l, "rewrite_context", "remote");
        sbuf_catf(c2, " SOURCE=%s", strcmp(ctx, "local") == 0 ? "LOCAL" : "REMOTE");
    }
    int result = 0;
    struct sbuf *cmds[2] = { c1, c2 };
    ss->stage = "sending XFORWARD";
    for (int i = 0; i < 2 && result == 0; i++) {
        if (sbuf_len(cmds[i]) == 0)
            continue;
        if (smtp_put(ss, cfg->xforward_timeout, "XFORWARD%s", sbuf_str(cmds[i])) < 0
            || smtp_flush(ss, cfg->xforward_timeout) < 0
            || smtp_get_reply(ss, cfg->xforward_timeout) < 0) {
            smtp_sess_io_fail(ss);
            result = -1;
        } else if (ss->code / 100 != 2) {
            struct sbuf *t = sbuf_new(256);
            smtp_said(ss, t, "XFORWARD");
            smtp_sess_fail_all(ss, ss->code == 0 ? 450 : ss->code, smtp_reply_dsn(ss),
                               sbuf_str(t), SMTP_BY_SERVER);
            sbuf_free(t);
            result = -1;
        }
    }
    sbuf_free(c1);
    sbuf_free(c2);
    return result;
}

/* ---- message content ---- */

static int smtp_body_line(const char *line, size_t len, void *ctx)
{
    struct smtp_sess *ss = ctx;
    size_t limit = smtp_cfg.line_length_limit > 0 ? (size_t)smtp_cfg.line_length_limit : 0;
    if (len > 0 && line[0] == '.' && stream_write(ss->s, ".", 1) < 0)
        return 1;
    /* Each output line stays within the limit, the blank that starts a
     * continuation included. */
    size_t piece = limit;
    while (limit > 1 && len > piece) {
        if (stream_write(ss->s, line, piece) < 0 || stream_write(ss->s, "\r\n ", 3) < 0)
            return 1;
        line += piece;
        len -= piece;
        piece = limit - 1;
    }
    if (stream_write(ss->s, line, len) < 0 || stream_write(ss->s, "\r\n", 2) < 0)
        return 1;
    return 0;
}

/* ---- the mail transaction ---- */

/* An envelope address as it goes into MAIL FROM or RCPT TO: with the
 * local part quoted where RFC 5321 wants it, unless
 * *_quote_rfc821_envelope = no (for servers that cannot take quotes). */
static void smtp_env_addr(struct sbuf *out, const char *addr)
{
    if (smtp_cfg.quote_envelope)
        addr_quote(out, addr);
    else
        sbuf_set(out, addr);
}

static void smtp_mail_cmd(struct smtp_sess *ss, struct sbuf *out)
{
    struct deliver_request *r = ss->req;
    struct sbuf *q = sbuf_new(128);
    smtp_env_addr(q, sbuf_len(ss->env_sender) ? sbuf_str(ss->env_sender) : r->sender);
    sbuf_printf(out, "MAIL FROM:<%s>", sbuf_str(q));
    if ((ss->features & SMTP_F_SIZE) && ss->st->msg_size > 0)
        sbuf_catf(out, " SIZE=%ld", ss->st->msg_size);
    if (ss->features & SMTP_F_DSN) {
        if (r->ret == DSN_RET_FULL || r->ret == DSN_RET_HDRS)
            sbuf_catf(out, " RET=%s", r->ret == DSN_RET_FULL ? "FULL" : "HDRS");
        if (r->envid && *r->envid) {
            sbuf_cat(out, " ENVID=");
            smtp_xtext_encode(out, r->envid);
        }
    }
    /* *_send_dummy_mail_auth: after our own login, say that we vouch for
     * no sender (RFC 4954 AUTH=<>). */
    if (smtp_cfg.dummy_mail_auth && ss->authenticated)
        sbuf_cat(out, " AUTH=<>");
    sbuf_free(q);
}

static void smtp_rcpt_cmd(struct smtp_sess *ss, size_t i, struct sbuf *out)
{
    const struct deliver_rcpt *rc = &ss->req->rcpts[i];
    struct sbuf *q = sbuf_new(128);
    smtp_env_addr(q, ss->env_rcpt ? ss->env_rcpt[i] : rc->address);
    sbuf_printf(out, "RCPT TO:<%s>", sbuf_str(q));
    if ((ss->features & SMTP_F_DSN) && !smtp_cfg.lmtp) {
        if (rc->notify) {
            sbuf_cat(out, " NOTIFY=");
            if (rc->notify & DSN_NOTIFY_NEVER)
                sbuf_cat(out, "NEVER");
            else {
                const char *sep = "";
                if (rc->notify & DSN_NOTIFY_SUCCESS)
                    sbuf_catf(out, "%sSUCCESS", sep), sep = ",";
                if (rc->notify & DSN_NOTIFY_DELAY)
                    sbuf_catf(out, "%sDELAY", sep), sep = ",";
                if (rc->notify & DSN_NOTIFY_FAILURE)
                    sbuf_catf(out, "%sFAILURE", sep);
            }
        }
        if (rc->dsn_orcpt && *rc->dsn_orcpt) {
            const char *semi = strchr(rc->dsn_orcpt, ';');
            if (semi) {
                sbuf_catf(out, " ORCPT=%.*s;", (int)(semi - rc->dsn_orcpt), rc->dsn_orcpt);
                smtp_xtext_encode(out, semi + 1);
            }
        } else if (rc->orig && *rc->orig) {
            sbuf_cat(out, " ORCPT=rfc822;");
            smtp_xtext_encode(out, rc->orig);
        }
    } else if ((ss->features & SMTP_F_DSN) && smtp_cfg.lmtp && rc->notify) {
        /* LMTP servers offering DSN get the same parameters */
        sbuf_cat(out, " NOTIFY=");
        sbuf_cat(out, (rc->notify & DSN_NOTIFY_NEVER) ? "NEVER" : "");
        if (!(rc->notify & DSN_NOTIFY_NEVER)) {
            const char *sep = "";
            if (rc->notify & DSN_NOTIFY_SUCCESS)
                sbuf_catf(out, "%sSUCCESS", sep), sep = ",";
            if (rc->notify & DSN_NOTIFY_DELAY)
                sbuf_catf(out, "%sDELAY", sep), sep = ",";
            if (rc->notify & DSN_NOTIFY_FAILURE)
                sbuf_catf(out, "%sFAILURE", sep);
        }
    }
    sbuf_free(q);
}

/* Reports a 2xx for request recipient i. */
static void smtp_rcpt_sent(struct smtp_sess *ss, size_t i)
{
    struct deliver_rcpt *rc = &ss->req->rcpts[i];
    /* As in Postfix: a server that announced DSN takes the NOTIFY and
     * ORCPT along and sends any success notice itself, so none comes from
     * here. One without DSN gets "relayed" (RFC 3464), except an LMTP
     * server with lmtp_assume_final = yes, taken to be the final
     * delivery ("delivered"). */
    struct deliver_rcpt one = *rc;
    if (ss->features & SMTP_F_DSN)
        one.notify &= ~DSN_NOTIFY_SUCCESS;
    bool final = smtp_cfg.lmtp && smtp_cfg.assume_final && !(ss->features & SMTP_F_DSN);
    int flags = final ? 0 : DELIVER_F_RELAYED;
    smtp_dsn_set(ss, SMTP_BY_SERVER, true);
    deliver_status(ss->req, &one, DELIVER_SENT, flags, smtp_reply_dsn(ss), "%s",
                   sbuf_str(ss->reply));
    smtp_dsn_clear(ss->req);
    smtp_mark_done(ss->st, i);
}

/* An address probe with *_address_verify_target = data: the server
 * accepted recipient i and then DATA (354). Deliverable, with the DATA
 * reply as the reason (the 354 has no enhanced status code of its own). */
static void smtp_rcpt_probe_data_ok(struct smtp_sess *ss, size_t i)
{
    struct deliver_rcpt *rc = &ss->req->rcpts[i];
    smtp_dsn_set(ss, SMTP_BY_SERVER, true);
    deliver_status(ss->req, rc, DELIVER_SENT, 0, "2.0.0", "%s", sbuf_str(ss->reply));
    smtp_dsn_clear(ss->req);
    smtp_mark_done(ss->st, i);
}

/* Maps the sender and the pending recipients through smtp_generic_maps
 * into ss->env_sender and ss->env_rcpt. 0, or -1 when a table failed. */
static int smtp_generic_envelope(struct smtp_sess *ss)
{
    struct deliver_request *r = ss->req;
    sbuf_set(ss->env_sender, r->sender);
    if (smtp_generic_map(ss->env_sender) < 0)
        return -1;
    if (ss->env_rcpt == NULL)
        ss->env_rcpt = xcalloc(r->nrcpt + 1, sizeof(char *));
    struct sbuf *a = sbuf_new(128);
    int result = 0;
    for (size_t i = 0; i < r->nrcpt && result == 0; i++) {
        if (!smtp_is_pending(ss->st, i))
            continue;
        sbuf_set(a, r->rcpts[i].address);
        if (smtp_generic_map(a) < 0)
            result = -1;
        xfree(ss->env_rcpt[i]);
        ss->env_rcpt[i] = xstrdup(sbuf_str(a));
    }
    sbuf_free(a);
    return result;
}

static int smtp_rset_reply(struct smtp_sess *ss);
static void smtp_reuse_stale(struct smtp_sess *ss);

/* The whole transaction. Returns -1 when the connection is unusable (with
 * ss->stale set: a cached one, before anything was reported). */
static int smtp_transaction(struct smtp_sess *ss)
{
    const struct smtp_cfg *cfg = &smtp_cfg;
    struct deliver_request *r = ss->req;
    struct sbuf *cmd = sbuf_new(256), *t = sbuf_new(256);
    int result = -1;

    if ((ss->features & SMTP_F_SIZE) && ss->size_limit > 0 && ss->st->msg_size > ss->size_limit) {
        sbuf_printf(t, "message size %ld exceeds size limit %ld of server %s", ss->st->msg_size,
                    ss->size_limit, sbuf_str(ss->peer));
        smtp_sess_fail_all(ss, 552, "5.3.4", sbuf_str(t), SMTP_BY_LOCAL);
        result = 0;
        goto out;
    }

    /* smtp_generic_maps: the envelope as the next hop sees it. */
    if (smtp_generic_active() && smtp_generic_envelope(ss) < 0) {
        sbuf_set(t, "smtp_generic_maps lookup failure");
        bool was_final = ss->final;
        ss->final = true;       /* no other server would do better */
        smtp_sess_fail_all(ss, 450, "4.3.0", sbuf_str(t), SMTP_BY_LOCAL);
        ss->final = was_final;
        result = 0;
        goto out;
    }

    /* Command list: MAIL, one RCPT per pending recipient, DATA. */
    ss->nsent = ss->naccepted = 0;
    size_t ncmd = 0;
    for (size_t i = 0; i < r->nrcpt; i++)
        if (smtp_is_pending(ss->st, i))
            ss->sent[ss->nsent++] = i;
    /* A probe (DELIVER_REQ_F_VERIFY) stops after RCPT: the RCPT reply is
     * the answer, and no DATA is ever sent. With *_address_verify_target
     * = data it sends DATA too, for servers that refuse recipients only
     * there; the DATA reply is the answer and no content follows. */
    bool probe = (r->flags & DELIVER_REQ_F_CHECK_ONLY) != 0;
    bool probe_data = probe && cfg->verify_data;
    ncmd = ss->nsent + (probe && !probe_data ? 1 : 2);
    size_t batch = (ss->features & SMTP_F_PIPELINING) ? SMTP_BATCH_MAX : 1;
    bool mail_ok = false, data_ok = false;
    size_t next_put = 0, next_get = 0;
    while (next_get < ncmd) {
        /* write up to a batch of commands */
        size_t stop = next_put + batch;
        if (stop > ncmd)
            stop = ncmd;
        long tmo = cfg->rcpt_timeout;
        for (; next_put < stop; next_put++) {
            if (next_put == 0) {
                smtp_mail_cmd(ss, cmd);
                tmo = cfg->mail_timeout;
                ss->stage = "sending MAIL FROM";
            } else if (next_put <= ss->nsent) {
                smtp_rcpt_cmd(ss, ss->sent[next_put - 1], cmd);
                ss->stage = "sending RCPT TO";
            } else {
                sbuf_set(cmd, "DATA");
                tmo = cfg->data_init_timeout;
                ss->stage = "sending DATA command";
            }
            if (smtp_put(ss, tmo, "%s", sbuf_str(cmd)) < 0)
                break;
        }
        if (smtp_flush(ss, tmo) < 0) {
            if (ss->rset_pending)
                smtp_reuse_stale(ss);   /* a cached connection the server closed */
            else
                smtp_sess_io_fail(ss);
            goto out;
        }
        if (smtp_rset_reply(ss) < 0)
            goto out;
        /* read their replies */
        for (; next_get < next_put; next_get++) {
            const char *what = next_get == 0            ? "MAIL FROM"
                               : next_get <= ss->nsent ? "RCPT TO"
                                                       : "DATA";
            ss->stage = next_get == 0 ? "receiving the MAIL FROM response"
                        : next_get <= ss->nsent ? "receiving the RCPT TO response"
                                                : "receiving the DATA command response";
            tmo = next_get == 0 ? cfg->mail_timeout
                  : next_get <= ss->nsent ? cfg->rcpt_timeout : cfg->data_init_timeout;
            if (smtp_get_reply(ss, tmo) < 0) {
                smtp_sess_io_fail(ss);
                goto out;
            }
            if (ss->code == 0) {
                smtp_protocol_error(ss, what);
                goto out;
            }
            if (next_get == 0) {
                mail_ok = ss->code / 100 == 2;
                if (!mail_ok) {
                    smtp_said(ss, t, "MAIL FROM");
                    for (size_t k = 0; k < ss->nsent; k++)
                        smtp_rcpt_fail(ss, ss->sent[k], ss->code, smtp_reply_dsn(ss),
                                       sbuf_str(t), SMTP_BY_SERVER);
                    if (!(ss->features & SMTP_F_PIPELINING)) {
                        result = 0;
                        goto out;
                    }
                }
            } else if (next_get <= ss->nsent) {
                size_t i = ss->sent[next_get - 1];
                if (!mail_ok)
                    continue;
                if (ss->code / 100 == 2 && probe && !probe_data)
                    smtp_rcpt_sent(ss, i);
                else if (ss->code / 100 == 2)
                    ss->accepted[ss->naccepted++] = i;
                else {
                    smtp_said(ss, t, "RCPT TO");
                    smtp_rcpt_fail(ss, i, ss->code, smtp_reply_dsn(ss), sbuf_str(t),
                                   SMTP_BY_SERVER);
                }
                /* Without pipelining, nobody accepted: do not send DATA. */
                if (!(ss->features & SMTP_F_PIPELINING) && next_get == ss->nsent
                    && ss->naccepted == 0) {
                    result = 0;
                    goto out;
                }
            } else {
                data_ok = ss->code == 354;
                if (!data_ok && mail_ok && ss->naccepted > 0) {
                    smtp_said(ss, t, "DATA");
                    for (size_t k = 0; k < ss->naccepted; k++)
                        smtp_rcpt_fail(ss, ss->accepted[k], ss->code < 400 ? 450 : ss->code,
                                       ss->code < 400 ? "4.5.0" : smtp_reply_dsn(ss),
                                       sbuf_str(t), SMTP_BY_SERVER);
                }
            }
        }
    }
    if (probe_data && data_ok) {
        /* The server now waits for content that will never come: the
         * recipients it accepted are deliverable, and nothing more may be
         * sent or read on this connection (no RSET, no QUIT, no reuse).
         * The server sees a lost connection after DATA. */
        for (size_t k = 0; k < ss->naccepted && mail_ok; k++)
            smtp_rcpt_probe_data_ok(ss, ss->accepted[k]);
        ss->stage = "closing the connection after DATA";
        goto out;       /* result -1: the connection is not usable */
    }
    if (probe) {
        /* Leave the server as we found it, then QUIT (smtp_session). */
        ss->stage = "sending RSET";
        if (smtp_put(ss, cfg->rset_timeout, "RSET") == 0 && smtp_flush(ss, cfg->rset_timeout) == 0)
            smtp_get_reply(ss, cfg->rset_timeout);
        result = 0;
        goto out;
    }
    if (!data_ok) {
        result = 0;
        goto out;
    }
    if (!mail_ok || ss->naccepted == 0) {
        /* DATA went through the pipeline but nobody can receive: send an
         * empty message so the server aborts nothing it should keep. */
        ss->stage = "sending end of data";
        if (smtp_put(ss, cfg->data_done_timeout, ".") < 0 || smtp_flush(ss, cfg->data_done_timeout) < 0
            || smtp_get_reply(ss, cfg->data_done_timeout) < 0)
            goto out;
        result = 0;
        goto out;
    }

    /* The content, streamed from the queue file. */
    ss->stage = "sending message body";
    stream_set_timeout(ss->s, (int)cfg->data_xfer_timeout);
    stream_set_min_rate(ss->s, cfg->min_data_rate);
    int rc;
    if (smtp_checks_active()) {
        /* smtp_header_checks and friends (and smtp_generic_maps) edit the
         * content on its way out. */
        struct smtp_checks *chk = smtp_checks_new(r->queue_id, smtp_body_line, ss);
        rc = deliver_content_lines(r, smtp_checks_line, chk);
        if (rc == 0)
            rc = smtp_checks_end(chk);
        smtp_checks_free(chk);
    } else {
        rc = deliver_content_lines(r, smtp_body_line, ss);
    }
    if (rc != 0) {
        if (stream_error(ss->s) != 0) {
            smtp_sess_io_fail(ss);
            goto out;
        }
        /* The queue file is damaged: do not let a truncated message out. */
        ss->body_error = true;
        for (size_t k = 0; k < ss->naccepted; k++) {
            size_t i = ss->accepted[k];
            if (smtp_is_pending(ss->st, i)) {
                smtp_dsn_set(ss, SMTP_BY_LOCAL, false);
                deliver_defer(r, &r->rcpts[i], "4.3.0", "queue file read error");
                smtp_dsn_clear(r);
                smtp_mark_done(ss->st, i);
            }
        }
        goto out;       /* hang up without the final dot */
    }
    ss->stage = "sending end of data";
    stream_set_min_rate(ss->s, 0);
    if (smtp_put(ss, cfg->data_done_timeout, ".") < 0 || smtp_flush(ss, cfg->data_done_timeout) < 0) {
        smtp_sess_io_fail(ss);
        goto out;
    }
    ss->data_done = true;
    size_t nreplies = cfg->lmtp ? ss->naccepted : 1;
    for (size_t k = 0; k < nreplies; k++) {
        ss->stage = "sending end of data";
        if (smtp_get_reply(ss, cfg->data_done_timeout) < 0) {
            smtp_sess_io_fail(ss);
            goto out;
        }
        if (ss->code == 0) {
            smtp_protocol_error(ss, "end of DATA");
            goto out;
        }
        size_t from = cfg->lmtp ? k : 0, to = cfg->lmtp ? k + 1 : ss->naccepted;
        for (size_t j = from; j < to; j++) {
            size_t i = ss->accepted[j];
            if (ss->code / 100 == 2)
                smtp_rcpt_sent(ss, i);
            else {
                smtp_said(ss, t, "end of DATA");
                bool was_final = ss->final;
                ss->final = true;       /* the server had the message: no other MX */
                smtp_rcpt_fail(ss, i, ss->code < 400 ? 450 : ss->code, smtp_reply_dsn(ss),
                               sbuf_str(t), SMTP_BY_SERVER);
                ss->final = was_final;
            }
        }
    }
    result = 0;
out:
    sbuf_free(cmd);
    sbuf_free(t);
    return result;
}

/* ---- the session ---- */

static void smtp_reuse_stale(struct smtp_sess *ss)
{
    log_info("%s: cached connection to %s is no longer usable (%s); opening a new one",
             ss->req->queue_id, sbuf_str(ss->relay),
             ss->code > 0 ? sbuf_str(ss->reply) : "lost connection");
    ss->stale = true;
}

/* A connection from the cache: is the server still there and ready? RSET
 * answers that without touching any recipient. When the server pipelines
 * and no XFORWARD comes first, RSET only goes into the output buffer and
 * travels with MAIL/RCPT/DATA: smtp_rset_reply() reads its answer before
 * theirs, and when it is bad nothing has been reported yet either (the
 * content is never sent before the DATA reply). Returns 0 (usable or
 * pending) or -1 (stale: the caller opens a fresh connection). */
static int smtp_reuse_check(struct smtp_sess *ss)
{
    const struct smtp_cfg *cfg = &smtp_cfg;
    ss->stage = "sending RSET";
    if (smtp_put(ss, cfg->rset_timeout, "RSET") < 0) {
        smtp_reuse_stale(ss);
        return -1;
    }
    if ((ss->features & SMTP_F_PIPELINING)
        && !(cfg->send_xforward && (ss->features & SMTP_F_XFORWARD) && ss->xforward != 0)) {
        ss->rset_pending = true;
        return 0;
    }
    if (smtp_flush(ss, cfg->rset_timeout) < 0 || smtp_get_reply(ss, cfg->rset_timeout) < 0
        || ss->code / 100 != 2) {
        smtp_reuse_stale(ss);
        return -1;
    }
    return 0;
}

/* The answer to a pipelined RSET (smtp_reuse_check), before any other.
 * Returns 0, or -1 when the connection is stale (nothing reported). */
static int smtp_rset_reply(struct smtp_sess *ss)
{
    if (!ss->rset_pending)
        return 0;
    ss->rset_pending = false;
    ss->stage = "receiving the RSET response";
    if (smtp_get_reply(ss, smtp_cfg.rset_timeout) < 0 || ss->code / 100 != 2) {
        smtp_reuse_stale(ss);
        return -1;
    }
    return 0;
}

void smtp_quit_close(int fd, const struct smtp_addr *a)
{
    (void)a;
    static const char quit[] = "QUIT\r\n";
    if (send(fd, quit, sizeof(quit) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
        log_debug(1, "QUIT: %m");
        close(fd);
        return;
    }
    if (smtp_cfg.skip_quit_response) {
        close(fd);
        return;
    }
    /* *_skip_quit_response = no: wait (at most $smtp_quit_timeout) for the
     * last line of the answer, whatever it says. */
    struct stream *s = stream_open(fd);
    struct sbuf *l = sbuf_new(128);
    stream_set_timeout(s, (int)smtp_cfg.quit_timeout);
    while (stream_getline(s, l, SMTP_REPLY_LINE_MAX, NULL) >= 0 && sbuf_len(l) > 3
           && sbuf_str(l)[3] == '-')
        continue;
    sbuf_free(l);
    stream_close(s);
}

enum smtp_sess_result smtp_session(struct smtp_state *st, struct smtp_conn *conn,
                                   const struct smtp_addr *a, bool final)
{
    const struct smtp_cfg *cfg = &smtp_cfg;
    struct deliver_request *r = st->req;
    enum smtp_sess_result result;
    struct smtp_sess ss = {
        .st = st,
        .req = r,
        .a = a,
        .final = final,
        .relay = sbuf_new(128),
        .peer = sbuf_new(128),
        .line = sbuf_new(SMTP_REPLY_LINE_MAX + 1),
        .reply = sbuf_new(256),
        .dsn = sbuf_new(16),
        .tmp = sbuf_new(256),
        .lines = sbuf_new(256),
        .sent = xcalloc(r->nrcpt + 1, sizeof(size_t)),
        .accepted = xcalloc(r->nrcpt + 1, sizeof(size_t)),
        .auth_mechs = sbuf_new(64),
        .env_sender = sbuf_new(64),
    };
    bool clean = false;     /* the transaction ended with the server idle */
    conn->keep = false;
    if (a->family == AF_UNIX) {
        sbuf_printf(ss.peer, "%s[%s]", a->host, a->addr);
        sbuf_printf(ss.relay, "%s[%s]", a->host, a->addr);
    } else {
        sbuf_printf(ss.peer, "%s[%s]", a->host, a->addr);
        sbuf_printf(ss.relay, "%s[%s]:%s", a->host, a->addr, a->port);
    }
    /* As Postfix logs it: the how-manieth conversation on this connection,
     * from the second on. */
    if (conn->reused) {
        ss.log_relay = sbuf_new(128);
        sbuf_printf(ss.log_relay, "%s, conn_use=%d", sbuf_str(ss.relay), conn->reuse_count + 1);
    }
    const char *old_relay = r->relay;
    r->relay = sbuf_str(ss.log_relay ? ss.log_relay : ss.relay);
    ss.s = stream_open_nonblock(conn->fd);    /* smtp_connect, smtp_cache: non-blocking */
    stream_set_reply_wait(ss.s, true);  /* a reply never comes as fast as the command goes */
    /* *_per_request_deadline: each smtp_*_timeout below limits a whole
     * command (or pipelined batch) going out and a whole reply coming in,
     * not each read or write (stream_set_timeout starts a new budget). */
    stream_set_deadline(ss.s, smtp_cfg.per_request_deadline);

    /* cppcheck-suppress selfAssignment ; it takes the policy for a part of ss */
    ss.level = smtp_sess_policy(&ss)->level;   /* refined for DANE below */
    if (conn->reused) {
        /* What the first conversation on this connection learned. */
        ss.features = conn->features;
        ss.xforward = conn->xforward;
        ss.size_limit = conn->size_limit;
        if (ss.level >= SMTP_TLS_ENCRYPT
            && (conn->tls_trust[0] == 0
                || (ss.level >= SMTP_TLS_DANE && strcmp(conn->tls_trust, "Verified") != 0))) {
            /* Never happens with labels built from the policy; refuse
             * rather than send in the clear or to an unverified peer. */
            log_warn("%s: cached connection to %s does not meet TLS level \"%s\"",
                     r->queue_id, sbuf_str(ss.relay), smtp_sess_policy(&ss)->level_name);
            result = SMTP_SESS_STALE;
            goto close;
        }
        if (conn->tls_trust[0]) {
            /* TLS through tlsproxy, set up by an earlier conversation. */
            ss.proxied = true;
            ss.trust = conn->tls_trust;
            strlcpy(ss.proxy_info.protocol, conn->tls_proto, sizeof(ss.proxy_info.protocol));
            strlcpy(ss.proxy_info.cipher, conn->tls_cipher, sizeof(ss.proxy_info.cipher));
            ss.proxy_info.bits = conn->tls_bits;
            ss.proxy_info.alg_bits = conn->tls_alg_bits;
            ss.tls_verified = strcmp(conn->tls_trust, "Verified") == 0 && ss.level >= SMTP_TLS_DANE;
            log_info("%s TLS connection reused to %s: %s with cipher %s (%d/%d bits)",
                     conn->tls_trust, sbuf_str(ss.relay), conn->tls_proto, conn->tls_cipher,
                     conn->tls_bits, conn->tls_alg_bits);
        }
        if (smtp_reuse_check(&ss) < 0) {
            result = SMTP_SESS_STALE;
            goto close;
        }
        bool any_before = st->any_session;
        st->any_session = true;
        if (smtp_xforward(&ss) < 0)
            goto quit;
        if (smtp_transaction(&ss) < 0) {
            if (ss.stale) {     /* the pipelined RSET failed: nothing reported */
                st->any_session = any_before;
                result = SMTP_SESS_STALE;
                goto close;
            }
            goto done;
        }
        clean = true;
        goto quit;
    }

    /* The TLS level of this server (ss.level, from its policy above): dane
     * and dane-only depend on its DNS records (smtp_dane.c). A server that
     * must not be used is left before anything is sent. */
    if (ss.level == SMTP_TLS_DANE || ss.level == SMTP_TLS_DANE_ONLY) {
        struct sbuf *why = sbuf_new(128);
        int dr = smtp_dane_resolve(smtp_sess_policy(&ss), a, &ss.dane, why);
        ss.level = ss.dane.level;
        if (dr < 0) {
            log_info("%s: %s: %s", r->queue_id, sbuf_str(ss.relay), sbuf_str(why));
            smtp_sess_fail_all(&ss, 450, "4.7.5", sbuf_str(why), SMTP_BY_LOCAL);
            sbuf_free(why);
            goto done;
        }
        sbuf_free(why);
    }

    /* smtp_tls_wrappermode: TLS from the first byte (port 465 relays). */
    if (cfg->tls_wrapper && smtp_tls_wrap(&ss) < 0)
        goto done;

    /* Greeting. */
    ss.stage = "receiving the initial server greeting";
    if (smtp_get_reply(&ss, cfg->helo_timeout) < 0) {
        smtp_sess_io_fail(&ss);
        goto done;
    }
    if (ss.code / 100 != 2) {
        struct sbuf *t = sbuf_new(256);
        if (ss.code == 0)
            sbuf_printf(t, "host %s said: malformed greeting", sbuf_str(ss.peer));
        else
            sbuf_printf(t, "host %s refused to talk to me: %s", sbuf_str(ss.peer),
                        sbuf_str(ss.reply));
        int code = ss.code;
        const char *dsn = smtp_reply_dsn(&ss);
        if (code == 0 || code / 100 == 4 || (code / 100 == 5 && cfg->skip_5xx_greeting)) {
            /* skip this server; the destination stays "slow", not failed */
            char soft[8];
            snprintf(soft, sizeof(soft), "4%s", dsn + 1);
            smtp_sess_fail_all(&ss, 450, soft, sbuf_str(t), SMTP_BY_SERVER);
        } else
            smtp_sess_fail_all(&ss, code, dsn, sbuf_str(t), SMTP_BY_SERVER);
        sbuf_free(t);
        goto quit;
    }
    st->any_session = true;
    ss.greet_esmtp = smtp_greeting_esmtp(sbuf_str(ss.lines));

    if (smtp_helo(&ss) < 0 || smtp_starttls(&ss) < 0 || smtp_auth(&ss) < 0
        || smtp_xforward(&ss) < 0)
        goto quit;
    if (smtp_transaction(&ss) < 0)
        goto done;
    clean = true;
quit:
    /* A transaction that ended before its first command went out (size
     * limit, smtp_generic_maps failure) leaves a pipelined RSET unanswered. */
    if (ss.rset_pending && (smtp_flush(&ss, cfg->rset_timeout) < 0 || smtp_rset_reply(&ss) < 0))
        clean = false;
    /* A clean plaintext connection without a login may serve the next
     * delivery to this server (smtp_cache.c); the cache owns it then. */
    if (clean && st->cache && ss.tls == NULL && !ss.authenticated && stream_error(ss.s) == 0
        && stream_pending(ss.s) == 0 && !ss.body_error) {
        conn->keep = true;
        conn->fd = stream_fd(ss.s);     /* tlsproxy's socket when proxied */
        if (ss.proxied) {
            /* ss.trust may point into conn (a reused connection). */
            char trust[sizeof(conn->tls_trust)];
            strlcpy(trust, ss.trust ? ss.trust : "Untrusted", sizeof(trust));
            strlcpy(conn->tls_trust, trust, sizeof(conn->tls_trust));
            strlcpy(conn->tls_proto, ss.proxy_info.protocol, sizeof(conn->tls_proto));
            strlcpy(conn->tls_cipher, ss.proxy_info.cipher, sizeof(conn->tls_cipher));
            conn->tls_bits = ss.proxy_info.bits;
            conn->tls_alg_bits = ss.proxy_info.alg_bits;
        } else
            conn->tls_trust[0] = 0;
        conn->features = ss.features;
        conn->xforward = ss.xforward;
        conn->size_limit = ss.size_limit;
        conn->reuse_count++;
        stream_free_keep_fd(ss.s);
        ss.s = NULL;
        goto done;
    }
    if (stream_error(ss.s) == 0 && !ss.body_error && !ss.filter_failed) {
        /* *_skip_quit_response = no waits for the answer (which changes
         * nothing: the mail's fate is already decided). */
        ss.stage = "sending QUIT";
        if (smtp_put(&ss, cfg->quit_timeout, "QUIT") == 0
            && smtp_flush(&ss, cfg->skip_quit_response ? 5 : cfg->quit_timeout) == 0
            && !cfg->skip_quit_response)
            smtp_get_reply(&ss, cfg->quit_timeout);
    }
done:
    result = st->pending > 0 ? SMTP_SESS_NEXT : SMTP_SESS_DONE;
close:
    if (ss.tls) {
        tls_client_stop(ss.tls, ss.s);
        ss.tls = NULL;
    }
    if (ss.s)
        stream_close(ss.s);
    if (!conn->keep)
        conn->fd = -1;
    smtp_dane_free(&ss.dane);
    r->relay = old_relay;
    sbuf_free(ss.relay);
    sbuf_free(ss.log_relay);
    sbuf_free(ss.peer);
    sbuf_free(ss.line);
    sbuf_free(ss.reply);
    sbuf_free(ss.dsn);
    sbuf_free(ss.tmp);
    sbuf_free(ss.lines);
    sbuf_free(ss.auth_mechs);
    sbuf_free(ss.env_sender);
    cfg_list_free(ss.discard);
    for (size_t i = 0; ss.env_rcpt && i < r->nrcpt; i++)
        xfree(ss.env_rcpt[i]);
    xfree(ss.env_rcpt);
    xfree(ss.sent);
    xfree(ss.accepted);
    return result;
}
