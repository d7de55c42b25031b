/*
 * smtpd_proxy.c - the before-queue content filter (smtpd_proxy_filter)
 *
 * Used by: smtpd.c (start-up, opening the mail stream, transaction reset),
 *          smtpd_cmd.c (MAIL, RCPT, DATA, EHLO), smtpd_data.c (content).
 * Interface: smtpd_proxy_init(), smtpd_proxy_enabled(), smtpd_proxy_note_mail(),
 *            smtpd_proxy_open(), smtpd_proxy_rcpt(), smtpd_proxy_data_cmd(),
 *            smtpd_proxy_received(), smtpd_proxy_put(), smtpd_proxy_finish(),
 *            smtpd_proxy_reset().
 * Errors: a filter that cannot be reached, times out, hangs up or sends
 *         something that is not an SMTP reply gives the client Postfix's
 *         "451 4.3.0 Error: queue file write error" (logged as a warning
 *         naming the filter); every other reply is the filter's own, passed
 *         to the client as it came (code, enhanced code and text, all lines
 *         of a multi-line reply up to line_length_limit characters, with
 *         unprintable bytes shown as '?').
 * Notes: SMTPD_PROXY_README semantics. When smtpd_proxy_filter is set, no
 *        cleanup stream is opened: smtpd opens a connection to the filter
 *        where it would have opened cleanup (MAIL FROM, or the first valid
 *        RCPT with smtpd_delay_open_until_valid_rcpt), reads its greeting,
 *        says EHLO $smtpd_proxy_ehlo, sends XFORWARD with the client's
 *        attributes when the filter offers it, then passes on the client's
 *        own MAIL FROM line. Each RCPT that passes our restrictions goes to
 *        the filter and the client gets the filter's answer; DATA likewise
 *        (354 only when the filter said 354). The content goes out
 *        dot-stuffed after our Received: header, and the filter's reply to
 *        the final "." is the client's reply ("proxy-accept" or
 *        "proxy-reject" in the log). The filter re-injects accepted mail
 *        through another smtpd service (one with "-o smtpd_proxy_filter=").
 *        smtpd_proxy_options = speed_adjust: MAIL and RCPT get our own
 *        250 and are recorded, the content is spooled to an unnamed file in
 *        the queue's incoming/ directory (O_TMPFILE: no name a scan could
 *        see), and only after the client's "." does smtpd connect to the
 *        filter and replay the whole transaction; any reply from the
 *        filter that is not the expected one becomes the reply to the
 *        client's end of data. A message too large, or refused by
 *        smtpd_end_of_data_restrictions, is never completed at the filter:
 *        the connection is closed before the ".". CHUNKING is not offered,
 *        and BDAT refused, while a filter is set (BDAT content would have to
 *        be re-framed as DATA for the filter).
 *        The Received: header sent to the filter is smtpd_received()'s, the
 *        same as cleanup gets (TLS details included) minus the queue ID.
 */
#include "smtpd.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "qfile.h"
#include "sock.h"
#include <ctype.h>
#include <fcntl.h>
#include <strings.h>

#define SMTPD_PROXY_FAIL "451 4.3.0 Error: queue file write error"
#define SMTPD_PROXY_MAX_LINES 1000     /* lines in one reply of the filter */

static struct {
    const char *filter;         /* "" = none */
    int timeout;
    const char *ehlo;
    bool speed_adjust;
} smtpd_proxy_cfg;

/* Per transaction; st->proxy is non-NULL while a mail stream is "open". */
struct smtpd_proxy {
    struct stream *s;           /* connection to the filter, NULL until open */
    struct sbuf *reply;         /* the filter's last reply, lines joined by '\n' */
    char *mail_line;            /* the client's MAIL FROM command */
    char **replay;              /* speed_adjust: RCPT lines */
    size_t nreplay;
    int spool;                  /* speed_adjust: spooled content, or -1 */
    struct stream *spool_out;
    bool line_start;            /* next content byte starts a line (dot-stuffing) */
    bool failed;                /* a write to the filter or spool failed */
    bool in_data;               /* the filter is reading content: no QUIT */
    bool broken;                /* a reply went wrong: the dialogue is out of step */
};

void smtpd_proxy_init(void)
{
    smtpd_proxy_cfg.filter = cfg_str(P_SMTPD_PROXY_FILTER);
    smtpd_proxy_cfg.timeout = (int)cfg_time(P_SMTPD_PROXY_TIMEOUT);
    smtpd_proxy_cfg.ehlo = cfg_str(P_SMTPD_PROXY_EHLO);
    char **opts = cfg_list(cfg_str(P_SMTPD_PROXY_OPTIONS));
    for (char **p = opts; *p; p++) {
        if (strcasecmp(*p, "speed_adjust") == 0)
            smtpd_proxy_cfg.speed_adjust = true;
        else
            log_fatal("%s: unknown option \"%s\" (the only one is speed_adjust)",
                      P_SMTPD_PROXY_OPTIONS, *p);
    }
    cfg_list_free(opts);
    if (*smtpd_proxy_cfg.filter && *smtpd_proxy_cfg.ehlo == 0)
        smtpd_proxy_cfg.ehlo = cfg_str(P_MYHOSTNAME);
}

bool smtpd_proxy_enabled(void)
{
    return *smtpd_proxy_cfg.filter != 0;
}

/* ---- talking to the filter ------------------------------------------- */

/* Connects to smtpd_proxy_filter: "host:port", "inet:host:port",
 * "[host]:port" or "unix:path" (relative to the queue directory, our
 * working directory). Returns a descriptor or -1 (logged). */
static int smtpd_proxy_connect(void)
{
    const char *ep = smtpd_proxy_cfg.filter;
    int fd;
    if (strncasecmp(ep, "unix:", 5) == 0) {
        fd = sock_unix_connect(ep + 5, smtpd_proxy_cfg.timeout);
    } else {
        const char *hp = strncasecmp(ep, "inet:", 5) == 0 ? ep + 5 : ep;
        const char *colon = strrchr(hp, ':');
        char *host = colon ? xstrndup(hp, (size_t)(colon - hp)) : xstrdup("localhost");
        const char *port = colon ? colon + 1 : hp;
        size_t hl = strlen(host);
        if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
            memmove(host, host + 1, hl - 2);
            host[hl - 2] = 0;
        }
        fd = sock_inet_connect(*host ? host : "localhost", port, smtpd_proxy_cfg.timeout);
        xfree(host);
    }
    if (fd < 0)
        log_warn("connect to proxy service %s: %m", ep);
    return fd;
}

/* Reads one reply of the filter into p->reply. True when it is a complete
 * SMTP reply; false (logged, p->reply = our 451) when the filter went
 * away, timed out or sent no reply code at all. */
static bool smtpd_proxy_read(struct smtpd_proxy *p)
{
    struct sbuf *line = sbuf_new(256);
    bool had_lf, ok = false, any = false;
    sbuf_reset(p->reply);
    /* A filter that never ends its reply must not keep us here forever:
     * each read has smtpd_proxy_timeout, the whole reply a line budget. */
    int lines;
    for (lines = 0; lines < SMTPD_PROXY_MAX_LINES; lines++) {
        ssize_t n = stream_getline(p->s, line, smtpd_cfg.line_limit, &had_lf);
        if (n == STREAM_E_TOOLONG) {
            log_warn("%s: response longer than %zu: %.30s...", smtpd_proxy_cfg.filter,
                     smtpd_cfg.line_limit, sbuf_str(line));
        } else if (n < 0 || !had_lf) {
            int err = stream_error(p->s);
            log_warn("%s with proxy %s", err == STREAM_E_TIMEOUT ? "timeout talking"
                                                                 : "lost connection",
                     smtpd_proxy_cfg.filter);
            break;
        }
        size_t len = sbuf_len(line);
        char *text = sbuf_data(line);
        if (len > 0 && text[len - 1] == '\r')
            text[--len] = 0;
        log_printable(text);
        log_debug(1, "< %s: %.100s", smtpd_proxy_cfg.filter, text);
        bool code = len >= 3 && isdigit((unsigned char)text[0]) && isdigit((unsigned char)text[1])
                    && isdigit((unsigned char)text[2]);
        if (!code || (len > 3 && text[3] != ' ' && text[3] != '-')) {
            log_warn("received garbage from proxy %s: %.100s", smtpd_proxy_cfg.filter, text);
            continue;
        }
        /* A filter's endless multi-line reply must not grow without bound:
         * keep lines while the reply is shorter than line_length_limit. */
        if (sbuf_len(p->reply) + len < smtpd_cfg.line_limit) {
            if (any)
                sbuf_addch(p->reply, '\n');
            sbuf_append(p->reply, text, len);
            any = true;
        }
        if (len == 3 || text[3] == ' ') {
            /* the last line decides; a kept earlier line ended in '-' */
            if (!any) {
                sbuf_append(p->reply, text, len);
                any = true;
            }
            ok = text[0] >= '2' && text[0] <= '5';
            if (!ok)
                log_warn("received garbage from proxy %s: %.100s", smtpd_proxy_cfg.filter, text);
            break;
        }
    }
    sbuf_free(line);
    /* After a lost, late, endless or garbled reply we no longer know which
     * reply belongs to which command: nothing more goes to this filter. */
    p->broken = !ok;
    if (lines == SMTPD_PROXY_MAX_LINES)
        log_warn("proxy %s: reply longer than %d lines", smtpd_proxy_cfg.filter,
                 SMTPD_PROXY_MAX_LINES);
    if (!ok)
        sbuf_set(p->reply, SMTPD_PROXY_FAIL);
    else {
        /* When lines were dropped for length, the reply's last kept line
         * may still say "ddd-": make it the final line. */
        char *r = sbuf_data(p->reply);
        char *last = strrchr(r, '\n');
        last = last ? last + 1 : r;
        if (strlen(last) > 3 && last[3] == '-')
            last[3] = ' ';
    }
    return ok;
}

/* Sends one command line (CR LF added; NULL: nothing, read the greeting)
 * and reads the reply. True when the reply starts with expect ('2', '3');
 * otherwise p->reply holds what the client should hear. */
static bool smtpd_proxy_cmd(struct smtpd_proxy *p, char expect, const char *cmd)
{
    if (p->broken || stream_error(p->s) != STREAM_OK) {
        sbuf_set(p->reply, SMTPD_PROXY_FAIL);
        return false;
    }
    if (cmd) {
        log_debug(1, "> %s: %s", smtpd_proxy_cfg.filter, cmd);
        stream_puts(p->s, cmd);
        stream_write(p->s, "\r\n", 2);
        if (stream_flush(p->s) != 0) {
            log_warn("lost connection with proxy %s", smtpd_proxy_cfg.filter);
            sbuf_set(p->reply, SMTPD_PROXY_FAIL);
            return false;
        }
    }
    if (!smtpd_proxy_read(p))
        return false;
    if (sbuf_str(p->reply)[0] != expect) {
        log_warn("proxy %s rejected \"%s\": \"%s\"", smtpd_proxy_cfg.filter,
                 cmd ? cmd : "connection request", sbuf_str(p->reply));
        return false;
    }
    return true;
}

/* Does the EHLO reply offer XFORWARD? Fills attrs with its attribute
 * names (upper case, blank separated). */
static bool smtpd_proxy_xforward_offer(const char *ehlo_reply, struct sbuf *attrs)
{
    const char *l = ehlo_reply;
    sbuf_reset(attrs);
    while (*l) {
        size_t n = strcspn(l, "\n");
        if (n > 4 && strncasecmp(l + 4, "XFORWARD", 8) == 0 && (n == 12 || l[12] == ' ')) {
            sbuf_append(attrs, l + 12, n - 12);
            sbuf_addch(attrs, ' ');
            for (char *c = sbuf_data(attrs); *c; c++)
                *c = (char)toupper((unsigned char)*c);
            return true;
        }
        l += n + (l[n] ? 1 : 0);
    }
    return false;
}

/* XFORWARD for the attributes the filter asked for, in commands that stay
 * within the 512-byte SMTP line limit. */
static bool smtpd_proxy_xforward(struct smtpd_state *st, struct smtpd_proxy *p, const char *attrs)
{
    char port[16];
    snprintf(port, sizeof(port), "%d", st->port);
    const char *helo = st->helo_name;
    const struct {
        const char *name, *value;
    } a[] = {
        { "NAME", smtpd_fwd_name(st) },
        { "ADDR", smtpd_fwd_rfc_addr(st) },
        { "PORT", st->xforward ? NULL : port },
        { "PROTO", st->protocol ? st->protocol : "SMTP" },
        { "HELO", helo ? smtpd_fwd_helo(st) : NULL },
        { "SOURCE", smtpd_client_in_mynetworks(st) ? "LOCAL" : "REMOTE" },
    };
    struct sbuf *cmd = sbuf_new(128);
    bool ok = true;
    sbuf_set(cmd, "XFORWARD");
    for (size_t i = 0; i < ARRAY_LEN(a) && ok; i++) {
        char want[16];
        snprintf(want, sizeof(want), " %s ", a[i].name);
        struct sbuf *padded = sbuf_new(64);
        sbuf_printf(padded, " %s", attrs);
        bool offered = strstr(sbuf_str(padded), want) != NULL;
        sbuf_free(padded);
        if (!offered)
            continue;
        const char *v = a[i].value && *a[i].value ? a[i].value : "[UNAVAILABLE]";
        size_t add = strlen(a[i].name) + strlen(v) + 2;
        if (sbuf_len(cmd) > 8 && sbuf_len(cmd) + add > 500) {
            ok = smtpd_proxy_cmd(p, '2', sbuf_str(cmd));
            sbuf_set(cmd, "XFORWARD");
        }
        sbuf_catf(cmd, " %s=%s", a[i].name, v);
    }
    if (ok && sbuf_len(cmd) > 8)
        ok = smtpd_proxy_cmd(p, '2', sbuf_str(cmd));
    sbuf_free(cmd);
    return ok;
}

/* Connects, reads the greeting, EHLO, XFORWARD, MAIL FROM. False with
 * p->reply set to what the client should hear (our 451 when the filter
 * misbehaved before MAIL FROM, else the filter's reply to MAIL FROM). */
static bool smtpd_proxy_connect_mail(struct smtpd_state *st, struct smtpd_proxy *p)
{
    int fd = smtpd_proxy_connect();
    if (fd < 0) {
        sbuf_set(p->reply, SMTPD_PROXY_FAIL);
        return false;
    }
    p->s = stream_open(fd);
    stream_set_timeout(p->s, smtpd_proxy_cfg.timeout);
    struct sbuf *ehlo = sbuf_new(64);
    struct sbuf *attrs = sbuf_new(64);
    sbuf_printf(ehlo, "EHLO %s", smtpd_proxy_cfg.ehlo);
    bool ok = smtpd_proxy_cmd(p, '2', NULL) && smtpd_proxy_cmd(p, '2', sbuf_str(ehlo));
    if (ok && smtpd_proxy_xforward_offer(sbuf_str(p->reply), attrs))
        ok = smtpd_proxy_xforward(st, p, sbuf_str(attrs));
    sbuf_free(attrs);
    sbuf_free(ehlo);
    if (!ok) {
        /* The client asked for MAIL or RCPT, not for our EHLO: a filter
         * that refuses the preliminaries gets our own reply. */
        sbuf_set(p->reply, SMTPD_PROXY_FAIL);
        return false;
    }
    return smtpd_proxy_cmd(p, '2', p->mail_line);
}

static void smtpd_proxy_close(struct smtpd_proxy *p)
{
    if (p->s) {
        /* Mid-content a hang-up without "." is what makes the filter
         * drop the message (too large, refused at end of data). */
        if (stream_error(p->s) == STREAM_OK && !p->in_data && !p->broken) {
            stream_puts(p->s, "QUIT\r\n");
            stream_flush(p->s);
        }
        stream_close(p->s);
        p->s = NULL;
    }
}

/* ---- the transaction -------------------------------------------------- */

void smtpd_proxy_note_mail(struct smtpd_state *st)
{
    if (!smtpd_proxy_enabled())
        return;
    smtpd_proxy_reset(st);
    struct smtpd_proxy *p = xcalloc(1, sizeof(*p));
    p->reply = sbuf_new(128);
    p->mail_line = xstrdup(sbuf_str(st->line));
    p->spool = -1;
    st->proxy = p;
}

bool smtpd_proxy_open(struct smtpd_state *st)
{
    struct smtpd_proxy *p = st->proxy;
    if (p == NULL)
        log_panic("smtpd_proxy_open: no MAIL FROM recorded");
    if (p->s || smtpd_proxy_cfg.speed_adjust)
        return true;
    if (smtpd_proxy_connect_mail(st, p))
        return true;
    smtpd_proxy_close(p);
    smtpd_log_reject(st, "proxy-reject", "MAIL", sbuf_str(p->reply), NULL);
    smtpd_reply(st, "%s", sbuf_str(p->reply));
    return false;
}

bool smtpd_proxy_rcpt(struct smtpd_state *st, const char *rcpt)
{
    struct smtpd_proxy *p = st->proxy;
    const char *line = sbuf_str(st->line);
    if (smtpd_proxy_cfg.speed_adjust) {
        p->replay = xrealloc(p->replay, (p->nreplay + 1) * sizeof(*p->replay));
        p->replay[p->nreplay++] = xstrdup(line);
        smtpd_reply(st, "250 2.1.5 Ok");
        return true;
    }
    if (smtpd_proxy_cmd(p, '2', line)) {
        smtpd_reply(st, "%s", sbuf_str(p->reply));
        return true;
    }
    smtpd_log_reject(st, "proxy-reject", "RCPT", sbuf_str(p->reply), rcpt);
    smtpd_reply(st, "%s", sbuf_str(p->reply));
    return false;
}

bool smtpd_proxy_data_cmd(struct smtpd_state *st)
{
    struct smtpd_proxy *p = st->proxy;
    p->line_start = true;
    p->failed = false;
    if (smtpd_proxy_cfg.speed_adjust) {
        /* An unnamed file in incoming/ (our working directory is the
         * queue directory): the queue's file system and quota, and no
         * name that a queue scan or another process could open. */
        p->spool = open("incoming", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
        if (p->spool < 0) {
            log_warn("%s: cannot make a spool file in incoming: %m", P_SMTPD_PROXY_OPTIONS);
            smtpd_reply(st, "451 4.3.0 Error: queue file write error");
            return false;
        }
        p->spool_out = stream_open(dup(p->spool));
        return true;
    }
    if (smtpd_proxy_cmd(p, '3', "DATA")) {
        p->in_data = true;
        return true;
    }
    smtpd_log_reject(st, "proxy-reject", "DATA", sbuf_str(p->reply), NULL);
    smtpd_reply(st, "%s", sbuf_str(p->reply));
    return false;
}

/* Where content goes: the spool (speed_adjust) or the filter. */
static struct stream *smtpd_proxy_out(struct smtpd_proxy *p)
{
    return smtpd_proxy_cfg.speed_adjust ? p->spool_out : p->s;
}

void smtpd_proxy_put(struct smtpd_state *st, bool end_of_line, const char *text, size_t len)
{
    struct smtpd_proxy *p = st->proxy;
    struct stream *out = smtpd_proxy_out(p);
    if (p->failed || out == NULL)
        return;
    if (p->line_start && len > 0 && text[0] == '.')
        stream_write(out, ".", 1);
    stream_write(out, text, len);
    if (end_of_line)
        stream_write(out, "\r\n", 2);
    p->line_start = end_of_line;
    if (stream_error(out) != STREAM_OK) {
        log_warn("%s: write error: %s", smtpd_proxy_cfg.speed_adjust ? "proxy spool file"
                                                                      : smtpd_proxy_cfg.filter,
                 stream_strerror(stream_error(out)));
        p->failed = true;
    }
}

static void smtpd_proxy_line(struct smtpd_state *st, void *ctx, const char *line, size_t len)
{
    (void)ctx;
    smtpd_proxy_put(st, true, line, len);
}

void smtpd_proxy_received(struct smtpd_state *st)
{
    smtpd_received(st, NULL, smtpd_proxy_line, NULL);
}

/* speed_adjust: the whole transaction, now that the content is here.
 * False with p->reply set for the client. */
static bool smtpd_proxy_replay(struct smtpd_state *st, struct smtpd_proxy *p)
{
    if (stream_flush(p->spool_out) != 0 || lseek(p->spool, 0, SEEK_SET) < 0) {
        log_warn("proxy spool file: write error: %m");
        sbuf_set(p->reply, SMTPD_PROXY_FAIL);
        return false;
    }
    if (!smtpd_proxy_connect_mail(st, p))
        return false;
    for (size_t i = 0; i < p->nreplay; i++)
        if (!smtpd_proxy_cmd(p, '2', p->replay[i]))
            return false;
    if (!smtpd_proxy_cmd(p, '3', "DATA"))
        return false;
    p->in_data = true;
    char buf[8192];
    for (;;) {
        ssize_t n = read(p->spool, buf, sizeof(buf));
        if (n < 0) {
            log_warn("proxy spool file: read error: %m");
            sbuf_set(p->reply, SMTPD_PROXY_FAIL);
            return false;
        }
        if (n == 0)
            break;
        stream_write(p->s, buf, (size_t)n);
    }
    return true;
}

void smtpd_proxy_finish(struct smtpd_state *st, struct sbuf *reply)
{
    struct smtpd_proxy *p = st->proxy;
    bool ok;
    if (p->failed) {
        sbuf_set(p->reply, SMTPD_PROXY_FAIL);
        ok = false;
    } else if (smtpd_proxy_cfg.speed_adjust && !smtpd_proxy_replay(st, p)) {
        ok = false;
    } else {
        if (!p->line_start)
            stream_write(p->s, "\r\n", 2);
        ok = smtpd_proxy_cmd(p, '2', ".");
        p->in_data = false;     /* the filter has its "." */
    }
    sbuf_set(reply, sbuf_str(p->reply));
    smtpd_log_reject(st, ok ? "proxy-accept" : "proxy-reject", "END-OF-MESSAGE", sbuf_str(reply),
                     st->rcpt_count == 1 ? st->first_rcpt : NULL);
}

void smtpd_proxy_reset(struct smtpd_state *st)
{
    struct smtpd_proxy *p = st->proxy;
    if (p == NULL)
        return;
    smtpd_proxy_close(p);
    stream_close(p->spool_out);
    if (p->spool >= 0)
        close(p->spool);
    for (size_t i = 0; i < p->nreplay; i++)
        xfree(p->replay[i]);
    xfree(p->replay);
    xfree(p->mail_line);
    sbuf_free(p->reply);
    xfree(p);
    st->proxy = NULL;
}
