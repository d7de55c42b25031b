/*
 * sendmail_smtp.c - sendmail -bs: an ESMTP session on stdin/stdout
 *
 * Used by: sendmail.c (-bs, -bl).
 * Interface: sendmail_smtp().
 * Errors: protocol errors get SMTP replies; a message is acknowledged with
 *         250 only after postdrop has made the maildrop file durable.
 * Notes: the session is a local submission like a normal sendmail run:
 *        each message goes through postdrop, so the same privilege rules
 *        apply. No relay checks are needed (the message comes from a local
 *        user). Replies follow Postfix's smtpd wording.
 */
#include "addr.h"
#include "alloc.h"
#include "config.h"
#include "dsn_notify.h"
#include "log.h"
#include "maildrop.h"
#include "qfile.h"
#include "sendmail.h"
#include <strings.h>
#include <sysexits.h>

#define SM_SMTP_LINE_MAX 4096
#define SM_SMTP_TIMEOUT 300
#define SM_SMTP_MAX_RCPT 1000
#define SM_SMTP_MAX_ERRORS 20

struct sm_rcpt {
    char *addr;
    char *orcpt;
    int notify;
};

struct sm_smtp {
    struct sm_input in;
    struct sbuf *out;
    const char *postdrop;
    int verbose;
    bool have_mail;
    char *sender;
    int ret;
    char *envid;
    struct sm_rcpt *rcpts;
    size_t nrcpt;
    long size_limit;
    int errors;
};

static void sm_reply(struct sm_smtp *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void sm_reply(struct sm_smtp *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vcatf(s->out, fmt, ap);
    va_end(ap);
    sbuf_cat(s->out, "\r\n");
}

/* Writes queued replies unless more pipelined commands are waiting. */
static int sm_flush(struct sm_smtp *s, bool force)
{
    if (!force && sm_input_pending(&s->in))
        return 0;
    const char *p = sbuf_str(s->out);
    size_t left = sbuf_len(s->out);
    while (left > 0) {
        ssize_t n = write(1, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        left -= (size_t)n;
    }
    sbuf_reset(s->out);
    return 0;
}

static void sm_reset(struct sm_smtp *s)
{
    xfree(s->sender);
    xfree(s->envid);
    for (size_t i = 0; i < s->nrcpt; i++) {
        xfree(s->rcpts[i].addr);
        xfree(s->rcpts[i].orcpt);
    }
    xfree(s->rcpts);
    s->sender = s->envid = NULL;
    s->rcpts = NULL;
    s->nrcpt = 0;
    s->ret = 0;
    s->have_mail = false;
}

/* Decodes RFC 3461 xtext (+XX); false on bad syntax. */
static bool sm_xtext_decode(const char *in, struct sbuf *out)
{
    sbuf_reset(out);
    for (const char *p = in; *p; p++) {
        if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e || *p == '=')
            return false;
        if (*p == '+') {
            int v = 0;
            for (int i = 1; i <= 2; i++) {
                char c = p[i];
                v <<= 4;
                if (c >= '0' && c <= '9')
                    v |= c - '0';
                else if (c >= 'A' && c <= 'F')
                    v |= c - 'A' + 10;
                else
                    return false;
            }
            sbuf_addch(out, v);
            p += 2;
        } else {
            sbuf_addch(out, *p);
        }
    }
    return true;
}

/* True when b is non-empty printable ASCII without spaces (it will be an
 * envelope record, see maildrop.h). */
static bool sm_printable(const struct sbuf *b)
{
    if (sbuf_len(b) == 0)
        return false;
    for (size_t i = 0; i < sbuf_len(b); i++)
        if ((unsigned char)sbuf_str(b)[i] < 0x21 || (unsigned char)sbuf_str(b)[i] > 0x7e)
            return false;
    return true;
}

/* Splits "FROM:<addr> params" after the keyword. Fills addr (internal form)
 * and returns a pointer to the parameters, or NULL on bad syntax. */
static const char *sm_path(const char *arg, const char *kw, struct sbuf *addr)
{
    size_t kl = strlen(kw);
    if (strncasecmp(arg, kw, kl) != 0)
        return NULL;
    arg += kl;
    while (*arg == ' ')
        arg++;
    const char *end;
    if (*arg == '<') {
        /* Find the closing '>' outside quotes. */
        bool q = false;
        for (end = arg + 1; *end && (q || *end != '>'); end++) {
            if (*end == '"')
                q = !q;
            else if (*end == '\\' && end[1])
                end++;
        }
        if (*end != '>')
            return NULL;
        struct sbuf *raw = sbuf_new(64);
        sbuf_append(raw, arg + 1, (size_t)(end - arg - 1));
        /* Drop a source route (@a,@b:user@d). */
        const char *r = sbuf_str(raw);
        if (*r == '@') {
            const char *colon = strchr(r, ':');
            if (colon)
                r = colon + 1;
        }
        addr_unquote(addr, r);
        sbuf_free(raw);
        end++;
    } else {
        end = arg + strcspn(arg, " ");
        struct sbuf *raw = sbuf_new(64);
        sbuf_append(raw, arg, (size_t)(end - arg));
        addr_unquote(addr, sbuf_str(raw));
        sbuf_free(raw);
    }
    if (sbuf_len(addr) > ADDR_MAX_LEN || memchr(sbuf_str(addr), 0, sbuf_len(addr)))
        return NULL;
    if (*end && *end != ' ')
        return NULL;
    while (*end == ' ')
        end++;
    return end;
}

static void sm_cmd_mail(struct sm_smtp *s, const char *arg)
{
    struct sbuf *addr = sbuf_new(64), *tmp = sbuf_new(64);
    const char *params;
    if (s->have_mail) {
        sm_reply(s, "503 5.5.1 Error: nested MAIL command");
        goto done;
    }
    if ((params = sm_path(arg, "FROM:", addr)) == NULL) {
        sm_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
        goto done;
    }
    int ret = 0;
    char *envid = NULL;
    char *plist = xstrdup(params);
    char *save = NULL;
    for (char *p = strtok_r(plist, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
        if (strncasecmp(p, "SIZE=", 5) == 0) {
            char *e;
            long v = strtol(p + 5, &e, 10);
            if (*e || v < 0) {
                sm_reply(s, "501 5.5.4 Bad message size syntax");
                goto bad;
            }
            if (s->size_limit > 0 && v > s->size_limit) {
                sm_reply(s, "552 5.3.4 Message size exceeds fixed limit");
                goto bad;
            }
        } else if (strncasecmp(p, "BODY=", 5) == 0) {
            if (strcasecmp(p + 5, "8BITMIME") && strcasecmp(p + 5, "7BIT")) {
                sm_reply(s, "501 5.5.4 Unsupported BODY parameter value");
                goto bad;
            }
        } else if (strncasecmp(p, "RET=", 4) == 0) {
            if (ret || (ret = dsn_ret_parse(p + 4)) < 0) {
                sm_reply(s, "501 5.5.4 Bad RET parameter syntax");
                goto bad;
            }
        } else if (strncasecmp(p, "ENVID=", 6) == 0) {
            if (envid || !sm_xtext_decode(p + 6, tmp) || !sm_printable(tmp)
                || sbuf_len(tmp) > MAILDROP_ENVID_MAX) {
                sm_reply(s, "501 5.5.4 Bad ENVID parameter syntax");
                goto bad;
            }
            envid = xstrdup(sbuf_str(tmp));
        } else if (strncasecmp(p, "AUTH=", 5) == 0) {
            ;   /* meaningless for a local submission */
        } else {
            sm_reply(s, "555 5.5.4 Unsupported option: %.100s", p);
            goto bad;
        }
    }
    s->have_mail = true;
    s->sender = xstrdup(sbuf_str(addr));
    s->ret = ret;
    s->envid = envid;
    envid = NULL;
    sm_reply(s, "250 2.1.0 Ok");
bad:
    xfree(envid);
    xfree(plist);
done:
    sbuf_free(addr);
    sbuf_free(tmp);
}

static void sm_cmd_rcpt(struct sm_smtp *s, const char *arg)
{
    struct sbuf *addr = sbuf_new(64), *tmp = sbuf_new(64);
    const char *params;
    int notify = 0;
    char *orcpt = NULL, *plist = NULL;
    if (!s->have_mail) {
        sm_reply(s, "503 5.5.1 Error: need MAIL command");
        goto done;
    }
    if ((params = sm_path(arg, "TO:", addr)) == NULL) {
        sm_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
        goto done;
    }
    if (sbuf_len(addr) == 0) {
        sm_reply(s, "501 5.1.3 Bad recipient address syntax");
        goto done;
    }
    if (s->nrcpt >= SM_SMTP_MAX_RCPT) {
        sm_reply(s, "452 4.5.3 Error: too many recipients");
        goto done;
    }
    plist = xstrdup(params);
    char *save = NULL;
    for (char *p = strtok_r(plist, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
        if (strncasecmp(p, "NOTIFY=", 7) == 0) {
            if (notify || (notify = dsn_notify_parse(p + 7)) < 0) {
                sm_reply(s, "501 5.5.4 Error: Bad NOTIFY parameter syntax");
                goto done;
            }
        } else if (strncasecmp(p, "ORCPT=", 6) == 0) {
            const char *semi = strchr(p + 6, ';');
            if (orcpt || semi == NULL || semi - (p + 6) > 32 || !sm_xtext_decode(semi + 1, tmp)
                || !sm_printable(tmp) || sbuf_len(tmp) > ADDR_MAX_LEN) {
                sm_reply(s, "501 5.5.4 Error: Bad ORCPT parameter syntax");
                goto done;
            }
            struct sbuf *o = sbuf_new(64);
            sbuf_append(o, p + 6, (size_t)(semi - (p + 6)) + 1);
            sbuf_append(o, sbuf_str(tmp), sbuf_len(tmp));
            orcpt = sbuf_detach(o);
        } else {
            sm_reply(s, "555 5.5.4 Unsupported option: %.100s", p);
            goto done;
        }
    }
    s->rcpts = xreallocarray(s->rcpts, s->nrcpt + 1, sizeof(*s->rcpts));
    s->rcpts[s->nrcpt].addr = xstrdup(sbuf_str(addr));
    s->rcpts[s->nrcpt].orcpt = orcpt;
    s->rcpts[s->nrcpt].notify = notify;
    s->nrcpt++;
    orcpt = NULL;
    sm_reply(s, "250 2.1.5 Ok");
done:
    xfree(orcpt);
    xfree(plist);
    sbuf_free(addr);
    sbuf_free(tmp);
}

/* Reads the DATA lines (dot-unstuffed) into postdrop, or just swallows
 * them when d is NULL. Returns 1 at ".", 0 at EOF, -1 on error. */
static int sm_data_lines(struct sm_smtp *s, struct sm_drop *d)
{
    struct sbuf *piece = sbuf_new(QFILE_LINE_CHUNK + 1);
    bool line_start = true, eol;
    int r;
    while ((r = sm_input_piece(&s->in, piece, QFILE_LINE_CHUNK, &eol)) > 0) {
        const char *p = sbuf_str(piece);
        size_t n = sbuf_len(piece);
        if (line_start && p[0] == '.') {
            if (n == 1 && eol)
                break;
            p++, n--;
        }
        line_start = eol;
        if (d)
            sm_drop_rec(d, eol ? REC_NORM : REC_CONT, p, n);
    }
    sbuf_free(piece);
    return r > 0 ? 1 : r;
}

static int sm_cmd_data(struct sm_smtp *s, const char *arg)
{
    char num[16];
    int status;
    if (*arg) {
        sm_reply(s, "501 5.5.4 Syntax: DATA");
        return 0;
    }
    if (!s->have_mail) {
        sm_reply(s, "503 5.5.1 Error: need RCPT command");
        return 0;
    }
    if (s->nrcpt == 0) {
        sm_reply(s, "554 5.5.1 Error: no valid recipients");
        return 0;
    }
    struct sm_drop *d = sm_drop_open(s->postdrop, s->verbose, &status);
    if (d == NULL) {
        sm_reply(s, "451 4.3.0 Error: queue file write error");
        return 0;
    }
    sm_drop_rec(d, REC_SENDER, s->sender, strlen(s->sender));
    if (s->ret) {
        snprintf(num, sizeof(num), "%d", s->ret);
        sm_drop_rec(d, REC_DSN_RET, num, strlen(num));
    }
    if (s->envid)
        sm_drop_rec(d, REC_DSN_ENVID, s->envid, strlen(s->envid));
    for (size_t i = 0; i < s->nrcpt; i++) {
        if (s->rcpts[i].orcpt)
            sm_drop_rec(d, REC_DSN_ORCPT, s->rcpts[i].orcpt, strlen(s->rcpts[i].orcpt));
        if (s->rcpts[i].notify) {
            snprintf(num, sizeof(num), "%d", s->rcpts[i].notify);
            sm_drop_rec(d, REC_DSN_NOTIFY, num, strlen(num));
        }
        sm_drop_rec(d, REC_RCPT, s->rcpts[i].addr, strlen(s->rcpts[i].addr));
    }
    sm_drop_rec(d, REC_MESG, "", 0);
    sm_reply(s, "354 End data with <CR><LF>.<CR><LF>");
    if (sm_flush(s, true) < 0) {
        sm_drop_abort(d);
        return -1;
    }
    int r = sm_data_lines(s, d);
    if (r <= 0) {
        sm_drop_abort(d);       /* client went away: no message */
        return -1;
    }
    sm_drop_rec(d, REC_XTRA, "", 0);
    sm_drop_rec(d, REC_END, "", 0);
    struct sbuf *reason = sbuf_new(64);
    char id[64];
    strlcpy(id, sm_drop_queue_id(d), sizeof(id));
    status = sm_drop_finish(d, reason);
    if (status == 0)
        sm_reply(s, "250 2.0.0 Ok: queued as %s", id);
    else if (strncmp(sbuf_str(reason), "5.3.4", 5) == 0)
        sm_reply(s, "552 %s", sbuf_str(reason));
    else if (sbuf_str(reason)[0] == '5')
        sm_reply(s, "554 %s", sbuf_str(reason));
    else
        sm_reply(s, "451 4.3.0 Error: queue file write error");
    sbuf_free(reason);
    sm_reset(s);
    return 0;
}

int sendmail_smtp(const struct sendmail_opts *o, const char *postdrop_path)
{
    struct sm_smtp *s = xcalloc(1, sizeof(*s));
    struct sbuf *line = sbuf_new(256);
    const char *host = cfg_str(P_MYHOSTNAME);
    int rc = 0;

    sm_input_init(&s->in, 0, SM_SMTP_TIMEOUT);
    s->out = sbuf_new(1024);
    s->postdrop = postdrop_path;
    s->verbose = o->verbose;
    s->size_limit = cfg_long(P_MESSAGE_SIZE_LIMIT);
    sm_reply(s, "220 %s", cfg_str("smtpd_banner"));
    for (;;) {
        bool eol;
        if (sm_flush(s, false) < 0)
            break;
        int r = sm_input_piece(&s->in, line, SM_SMTP_LINE_MAX, &eol);
        if (r <= 0)
            break;
        if (!eol) {
            /* Too long: discard the rest of the line. */
            while ((r = sm_input_piece(&s->in, line, SM_SMTP_LINE_MAX, &eol)) > 0 && !eol)
                ;
            sm_reply(s, "500 5.5.2 Error: line too long");
            if (r <= 0)
                break;
            continue;
        }
        char *cmd = sbuf_data(line);
        size_t vlen = strcspn(cmd, " ");
        const char *arg = cmd + vlen;
        while (*arg == ' ')
            arg++;
        cmd[vlen] = 0;
        if (strcasecmp(cmd, "EHLO") == 0 || strcasecmp(cmd, "HELO") == 0) {
            if (*arg == 0) {
                sm_reply(s, "501 Syntax: %s hostname", strcasecmp(cmd, "EHLO") ? "HELO" : "EHLO");
                continue;
            }
            sm_reset(s);
            if (strcasecmp(cmd, "HELO") == 0) {
                sm_reply(s, "250 %s", host);
                continue;
            }
            sm_reply(s, "250-%s", host);
            sm_reply(s, "250-PIPELINING");
            if (s->size_limit > 0)
                sm_reply(s, "250-SIZE %ld", s->size_limit);
            else
                sm_reply(s, "250-SIZE");
            sm_reply(s, "250-ENHANCEDSTATUSCODES");
            sm_reply(s, "250-8BITMIME");
            sm_reply(s, "250 DSN");
        } else if (strcasecmp(cmd, "MAIL") == 0) {
            sm_cmd_mail(s, arg);
        } else if (strcasecmp(cmd, "RCPT") == 0) {
            sm_cmd_rcpt(s, arg);
        } else if (strcasecmp(cmd, "DATA") == 0) {
            if (sm_cmd_data(s, arg) < 0) {
                rc = EX_TEMPFAIL;
                break;
            }
        } else if (strcasecmp(cmd, "RSET") == 0) {
            sm_reset(s);
            sm_reply(s, "250 2.0.0 Ok");
        } else if (strcasecmp(cmd, "NOOP") == 0) {
            sm_reply(s, "250 2.0.0 Ok");
        } else if (strcasecmp(cmd, "QUIT") == 0) {
            sm_reply(s, "221 2.0.0 Bye");
            break;
        } else if (cmd[0] == 0) {
            sm_reply(s, "500 5.5.2 Error: bad syntax");
            s->errors++;
        } else {
            sm_reply(s, "502 5.5.2 Error: command not recognized");
            s->errors++;
        }
        if (s->errors >= SM_SMTP_MAX_ERRORS) {
            sm_reply(s, "421 4.7.0 %s Error: too many errors", host);
            break;
        }
    }
    sm_flush(s, true);
    sm_reset(s);
    sbuf_free(s->out);
    sbuf_free(line);
    xfree(s);
    return rc;
}
