/*
 * smtp_sink_proto.c - one SMTP/LMTP conversation per accepted connection
 *
 * Used by: smtp_sink.c (sink_conn_start() after accept).
 * Interface: sink_conn_start(), sink_conns_unflushed(), sink_cmd_lookup().
 * Errors: a peer that misbehaves gets an SMTP error reply or is dropped;
 *         nothing a peer sends ends the process.
 * Notes: non-blocking sockets on the shared event loop. All complete
 *        commands already received are answered before the replies are
 *        written out in one go, which is what a pipelining client expects.
 *        A delay (-w, -W, -H, -A) parks the connection on a timer and stops
 *        reading from it, so one slow session never holds up the others.
 */
#include "smtp_sink.h"
#include "alloc.h"
#include "events.h"
#include "log.h"
#include <sys/socket.h>

enum sink_state {
    SINK_ST_CMD,                    /* reading command lines */
    SINK_ST_AUTH,                   /* reading SASL responses */
    SINK_ST_DATA,                   /* reading DATA lines up to "." */
    SINK_ST_BDAT,                   /* reading a BDAT chunk of known size */
    SINK_ST_ABORT,                  /* -A: waiting to abort, reading nothing */
};

struct sink_conn {
    int fd;
    char addr[80];
    struct sbuf *in;
    size_t in_pos;
    struct sbuf *out;
    size_t out_pos;
    enum sink_state state;
    bool greet_pending;             /* the 220 greeting is not out yet */
    bool sleeping;                  /* parked on a timer; input is not read */
    bool delay_done;                /* the -W/-w delay for the next command ran */
    bool closing;                   /* close once the output is written */
    bool discard_line;              /* skipping the rest of an over-long line */
    double last_active;
    struct sbuf *helo;              /* last HELO/EHLO/LHLO argument */
    const char *proto;              /* SMTP, ESMTP or LMTP */
    bool in_mail;                   /* MAIL accepted, transaction open */
    unsigned nrcpt;                 /* accepted recipients */
    struct sbuf *mail_args;
    struct sbuf *rcpt_args;         /* "X-Rcpt-Args: ...\n" lines */
    struct sink_dump *dump;
    bool data_bol;                  /* DATA: next byte starts a line */
    bool in_bdat;                   /* a BDAT sequence has started */
    bool bdat_last;
    bool bdat_bad;                  /* chunk is read and thrown away, then an error */
    const char *bdat_reject;        /* -f/-r reply for that chunk; NULL = 503 */
    uint64_t bdat_left;
    int auth_step;
    struct sink_conn *prev, *next;
};

static struct sink_conn *sink_conn_list;

static const struct {
    const char *name;
    enum sink_cmd code;
} sink_cmd_names[] = {
    { "CONNECT", SINK_CMD_CONNECT }, { "HELO", SINK_CMD_HELO },
    { "EHLO", SINK_CMD_EHLO },       { "LHLO", SINK_CMD_LHLO },
    { "MAIL", SINK_CMD_MAIL },       { "RCPT", SINK_CMD_RCPT },
    { "VRFY", SINK_CMD_VRFY },       { "DATA", SINK_CMD_DATA },
    { ".", SINK_CMD_DOT },           { "RSET", SINK_CMD_RSET },
    { "NOOP", SINK_CMD_NOOP },       { "QUIT", SINK_CMD_QUIT },
    { "BDAT", SINK_CMD_BDAT },       { "XCLIENT", SINK_CMD_XCLIENT },
    { "XFORWARD", SINK_CMD_XFORWARD }, { "AUTH", SINK_CMD_AUTH },
    { "ETRN", SINK_CMD_ETRN },       { "STARTTLS", SINK_CMD_STARTTLS },
    { "HELP", SINK_CMD_HELP },
};

int sink_cmd_lookup(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_LEN(sink_cmd_names); i++)
        if (strlen(sink_cmd_names[i].name) == len && strncasecmp(sink_cmd_names[i].name, name, len) == 0)
            return (int)sink_cmd_names[i].code;
    return -1;
}

static void sink_conn_update(struct sink_conn *c);
static void sink_conn_process(struct sink_conn *c);

/* ---- output ---------------------------------------------------------- */

static void sink_put_raw(struct sink_conn *c, const char *line)
{
    sink_trace(c->addr, ">", line, strlen(line));
    sbuf_cat(c->out, line);
    sbuf_cat(c->out, "\r\n");
}

/* One reply line; enh (e.g. "2.1.0") is left out under -E. */
static void sink_reply(struct sink_conn *c, int code, const char *enh, const char *text)
{
    char line[512];
    if (enh && !sink_opts.no_enhanced)
        snprintf(line, sizeof(line), "%d %s %s", code, enh, text);
    else
        snprintf(line, sizeof(line), "%d %s", code, text);
    sink_put_raw(c, line);
}

/* Writes what it can without blocking; a dead peer closes the connection
 * later (closing is set). */
static void sink_conn_flush(struct sink_conn *c)
{
    while (c->out_pos < sbuf_len(c->out)) {
        ssize_t n = send(c->fd, sbuf_str(c->out) + c->out_pos, sbuf_len(c->out) - c->out_pos,
                         MSG_NOSIGNAL);
        if (n > 0) {
            c->out_pos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        /* Peer gone: drop what is left. */
        c->out_pos = sbuf_len(c->out);
        c->closing = true;
        c->sleeping = false;
    }
    sbuf_reset(c->out);
    c->out_pos = 0;
}

/* ---- connection life ---------------------------------------------------- */

static void sink_conn_wake(void *ctx);
static void sink_conn_wake_plain(void *ctx);
static void sink_conn_abort_timer(void *ctx);

static void sink_conn_free(struct sink_conn *c)
{
    event_fd_del(c->fd);
    event_timer_del(sink_conn_wake, c);
    event_timer_del(sink_conn_wake_plain, c);
    event_timer_del(sink_conn_abort_timer, c);
    close(c->fd);
    sink_dump_abort(c->dump);
    if (c->prev)
        c->prev->next = c->next;
    else
        sink_conn_list = c->next;
    if (c->next)
        c->next->prev = c->prev;
    sbuf_free(c->in);
    sbuf_free(c->out);
    sbuf_free(c->helo);
    sbuf_free(c->mail_args);
    sbuf_free(c->rcpt_args);
    xfree(c);
    sink_counts.sessions++;
    sink_counts.active--;
    sink_counts_changed();
    sink_conn_gone();
}

static void sink_txn_reset(struct sink_conn *c)
{
    c->in_mail = false;
    c->nrcpt = 0;
    c->in_bdat = false;
    sbuf_reset(c->mail_args);
    sbuf_reset(c->rcpt_args);
    sink_dump_abort(c->dump);
    c->dump = NULL;
}

/* Seconds to wait before answering cmd, -1 for none. */
static int sink_delay_for(enum sink_cmd cmd)
{
    const struct sink_delay *d = &sink_opts.delays[cmd];
    if (d->delay < 0)
        return -1;
    if (d->odds <= 0)
        return d->delay;
    /* Count the throws of a 0..99 die that come up below the odds. */
    int mult = 0;
    while ((int)(random() % 100) < d->odds && mult < 1000)
        mult++;
    return d->delay * mult;
}

/* Parks the connection for secs seconds; fn runs when it is over. */
static void sink_conn_sleep(struct sink_conn *c, int secs, event_timer_fn fn)
{
    c->sleeping = true;
    event_timer_add(secs, fn, c);
}

static void sink_conn_wake(void *ctx)
{
    struct sink_conn *c = ctx;
    c->sleeping = false;
    c->delay_done = true;
    c->last_active = event_now();
    sink_conn_process(c);
}

static void sink_conn_wake_plain(void *ctx)
{
    struct sink_conn *c = ctx;
    c->sleeping = false;
    c->last_active = event_now();
    sink_conn_process(c);
}

static void sink_conn_abort_timer(void *ctx)
{
    struct sink_conn *c = ctx;
    sink_reply(c, 550, "5.3.0", "Error: aborted by the -A option");
    c->closing = true;
    c->sleeping = false;
    sink_conn_process(c);
}

/* The checks every command goes through first (-s -q -Q -f -r). Returns
 * true when the command was handled here. */
static bool sink_cmd_policy(struct sink_conn *c, enum sink_cmd cmd, const char *line)
{
    unsigned bit = 1U << cmd;
    if (sink_opts.log_mask & bit) {
        log_set_stderr(false);
        log_info("%s: %s", c->addr, line);
        log_set_stderr(true);
    }
    if (sink_opts.drop_mask & bit) {
        c->closing = true;
        c->out_pos = 0;
        sbuf_reset(c->out);     /* without a reply, also none still queued */
        return true;
    }
    if (sink_opts.drop421_mask & bit) {
        char text[300];
        snprintf(text, sizeof(text), "%s Error: closing connection", sink_opts.hostname);
        sink_reply(c, 421, "4.3.0", text);
        c->closing = true;
        return true;
    }
    if (sink_opts.fail_mask & bit) {
        sink_put_raw(c, sink_opts.hard_reply);
        return true;
    }
    if (sink_opts.soft_mask & bit) {
        sink_put_raw(c, sink_opts.soft_reply);
        return true;
    }
    return false;
}

/* ---- end of message ------------------------------------------------------- */

/* After "." or BDAT LAST: one reply (LMTP: one per recipient). */
static void sink_msg_end(struct sink_conn *c)
{
    c->state = SINK_ST_CMD;
    unsigned replies = sink_opts.lmtp && c->nrcpt > 0 ? c->nrcpt : 1;
    unsigned bit = 1U << SINK_CMD_DOT;
    if (sink_opts.log_mask & bit) {
        log_set_stderr(false);
        log_info("%s: .", c->addr);
        log_set_stderr(true);
    }
    if (sink_opts.drop_mask & bit || sink_opts.drop421_mask & bit) {
        sink_cmd_policy(c, SINK_CMD_DOT, ".");
    } else if (sink_opts.fail_mask & bit || sink_opts.soft_mask & bit) {
        const char *r = sink_opts.fail_mask & bit ? sink_opts.hard_reply : sink_opts.soft_reply;
        for (unsigned i = 0; i < replies; i++)
            sink_put_raw(c, r);
    } else {
        sink_dump_finish(c->dump);
        c->dump = NULL;
        for (unsigned i = 0; i < replies; i++)
            sink_reply(c, 250, "2.0.0", "Ok");
        sink_counts.messages++;
        sink_counts_changed();
    }
    sink_txn_reset(c);
}

/* One DATA line (content without its terminator term). */
static bool sink_data_line(struct sink_conn *c, const char *p, size_t len, const char *term)
{
    if (c->data_bol && *term && len == 1 && p[0] == '.') {
        if (!c->delay_done) {
            int secs = sink_delay_for(SINK_CMD_DOT);
            if (secs > 0) {
                sink_conn_sleep(c, secs, sink_conn_wake);
                return false;
            }
        }
        c->delay_done = false;
        sink_trace(c->addr, "<", ".", 1);
        sink_msg_end(c);
        return true;
    }
    if (c->data_bol && len > 0 && p[0] == '.') {
        p++;
        len--;
    }
    sink_dump_line(c->dump, p, len, term);
    c->data_bol = *term != 0;
    return true;
}

/* ---- commands -------------------------------------------------------------- */

/* Text after "FROM:" / "TO:" (or after the verb), leading blanks skipped. */
static const char *sink_cmd_args(const char *args)
{
    const char *colon = strchr(args, ':');
    const char *p = colon ? colon + 1 : args;
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static void sink_ehlo(struct sink_conn *c, const char *arg, const char *proto)
{
    sink_txn_reset(c);
    sbuf_set(c->helo, arg);
    c->proto = proto;
    struct sbuf *b = sbuf_new(256);
    sbuf_printf(b, "250-%s", sink_opts.hostname);
    const char *ext[12];
    size_t n = 0;
    if (!sink_opts.no_pipelining)
        ext[n++] = "PIPELINING";
    if (!sink_opts.no_8bitmime)
        ext[n++] = "8BITMIME";
    if (!sink_opts.no_auth)
        ext[n++] = "AUTH PLAIN LOGIN";
    if (!sink_opts.no_xclient)
        ext[n++] = "XCLIENT NAME HELO";
    if (!sink_opts.no_xforward)
        ext[n++] = "XFORWARD NAME ADDR PROTO HELO";
    if (!sink_opts.no_enhanced)
        ext[n++] = "ENHANCEDSTATUSCODES";
    if (!sink_opts.no_dsn)
        ext[n++] = "DSN";
    if (!sink_opts.no_chunking)
        ext[n++] = "CHUNKING";
    if (n == 0) {
        sbuf_printf(b, "250 %s", sink_opts.hostname);
        sink_put_raw(c, sbuf_str(b));
    } else {
        sink_put_raw(c, sbuf_str(b));
        for (size_t i = 0; i < n; i++) {
            sbuf_printf(b, "250%c%s", i + 1 == n ? ' ' : '-', ext[i]);
            sink_put_raw(c, sbuf_str(b));
        }
    }
    sbuf_free(b);
}

static void sink_unknown(struct sink_conn *c)
{
    sink_reply(c, 500, "5.5.1", "Error: unknown command");
}

/* Parses "BDAT size [LAST]". */
static void sink_bdat(struct sink_conn *c, const char *args)
{
    char *end;
    errno = 0;
    if (!(*args >= '0' && *args <= '9')) {
        sink_reply(c, 501, "5.5.4", "Syntax: BDAT count [LAST]");
        return;
    }
    unsigned long long size = strtoull(args, &end, 10);
    while (*end == ' ')
        end++;
    bool last = false;
    if (strcasecmp(end, "LAST") == 0)
        last = true;
    else if (*end != 0 || errno == ERANGE || size > SINK_BDAT_MAX) {
        sink_reply(c, 501, "5.5.4", "Syntax: BDAT count [LAST]");
        return;
    }
    c->bdat_left = size;
    c->bdat_last = last;
    c->bdat_bad = !c->in_mail || c->nrcpt == 0;
    if (!c->bdat_bad && !c->in_bdat) {
        c->in_bdat = true;
        c->dump = sink_dump_begin(c->addr, c->proto, sbuf_str(c->helo), sbuf_str(c->mail_args),
                                  c->rcpt_args);
    }
    c->state = SINK_ST_BDAT;
}

static void sink_bdat_done(struct sink_conn *c)
{
    c->state = SINK_ST_CMD;
    if (c->bdat_bad) {
        c->bdat_bad = false;
        if (c->bdat_reject) {
            /* A refused chunk ends the transaction; later chunks get 503. */
            sink_put_raw(c, c->bdat_reject);
            c->bdat_reject = NULL;
            sink_txn_reset(c);
        } else {
            sink_reply(c, 503, "5.5.1", c->in_mail ? "Error: need RCPT command" : "Error: need MAIL command");
        }
        return;
    }
    if (c->bdat_last) {
        sink_msg_end(c);
        return;
    }
    sink_reply(c, 250, "2.0.0", "Ok");
}

static void sink_auth_line(struct sink_conn *c, const char *line)
{
    if (strcmp(line, "*") == 0) {
        c->state = SINK_ST_CMD;
        sink_reply(c, 501, "5.7.0", "Authentication aborted");
    } else if (c->auth_step == 1) {
        c->auth_step = 2;
        sink_put_raw(c, "334 UGFzc3dvcmQ6");
    } else {
        c->state = SINK_ST_CMD;
        sink_reply(c, 235, "2.7.0", "Authentication successful");
    }
}

static void sink_auth(struct sink_conn *c, const char *args)
{
    if (sink_opts.no_auth) {
        sink_unknown(c);
        return;
    }
    const char *sp = strchr(args, ' ');
    size_t mlen = sp ? (size_t)(sp - args) : strlen(args);
    if (sp) {
        sink_reply(c, 235, "2.7.0", "Authentication successful");
    } else if (mlen == 5 && strncasecmp(args, "LOGIN", 5) == 0) {
        c->state = SINK_ST_AUTH;
        c->auth_step = 1;
        sink_put_raw(c, "334 VXNlcm5hbWU6");
    } else if (mlen > 0) {
        c->state = SINK_ST_AUTH;
        c->auth_step = 2;
        sink_put_raw(c, "334 ");
    } else {
        sink_reply(c, 501, "5.5.4", "Syntax: AUTH mechanism");
    }
}

/* Dispatches one command line (NUL-terminated, no line end). */
static void sink_command(struct sink_conn *c, int cmd, const char *line, const char *args)
{
    unsigned bit = cmd >= 0 ? 1U << cmd : 0;
    /* A refused BDAT must still have its chunk read, or the session
     * would take message bytes for commands. */
    if (cmd == SINK_CMD_BDAT && !sink_opts.no_chunking && (bit & (sink_opts.fail_mask | sink_opts.soft_mask)) &&
        !(bit & (sink_opts.drop_mask | sink_opts.drop421_mask))) {
        if (sink_opts.log_mask & bit) {
            log_set_stderr(false);
            log_info("%s: %s", c->addr, line);
            log_set_stderr(true);
        }
        sink_bdat(c, args);
        if (c->state == SINK_ST_BDAT) {
            c->bdat_bad = true;
            c->bdat_reject = bit & sink_opts.fail_mask ? sink_opts.hard_reply : sink_opts.soft_reply;
        }
        return;
    }
    if (cmd >= 0 && sink_cmd_policy(c, (enum sink_cmd)cmd, line))
        return;
    switch (cmd) {
    case SINK_CMD_HELO:
        sink_txn_reset(c);
        sbuf_set(c->helo, args);
        c->proto = sink_opts.lmtp ? "LMTP" : "SMTP";
        {
            char text[300];
            snprintf(text, sizeof(text), "250 %s", sink_opts.hostname);
            sink_put_raw(c, text);
        }
        break;
    case SINK_CMD_EHLO:
        if (sink_opts.no_esmtp)
            sink_unknown(c);
        else
            sink_ehlo(c, args, sink_opts.lmtp ? "LMTP" : "ESMTP");
        break;
    case SINK_CMD_LHLO:
        sink_ehlo(c, args, "LMTP");
        break;
    case SINK_CMD_MAIL:
        if (c->in_mail) {
            sink_reply(c, 503, "5.5.1", "Error: nested MAIL command");
        } else {
            sink_txn_reset(c);
            c->in_mail = true;
            sbuf_set(c->mail_args, sink_cmd_args(args));
            sink_reply(c, 250, "2.1.0", "Ok");
        }
        break;
    case SINK_CMD_RCPT:
        if (!c->in_mail) {
            sink_reply(c, 503, "5.5.1", "Error: need MAIL command");
        } else {
            c->nrcpt++;
            sbuf_catf(c->rcpt_args, "X-Rcpt-Args: %s\n", sink_cmd_args(args));
            sink_reply(c, 250, "2.1.5", "Ok");
        }
        break;
    case SINK_CMD_DATA:
        if (!c->in_mail) {
            sink_reply(c, 503, "5.5.1", "Error: need MAIL command");
        } else if (c->nrcpt == 0) {
            sink_reply(c, 503, "5.5.1", "Error: need RCPT command");
        } else if (c->in_bdat) {
            sink_reply(c, 503, "5.5.1", "Error: DATA after BDAT");
        } else {
            c->dump = sink_dump_begin(c->addr, c->proto, sbuf_str(c->helo), sbuf_str(c->mail_args),
                                      c->rcpt_args);
            sink_reply(c, 354, NULL, "End data with <CR><LF>.<CR><LF>");
            c->state = SINK_ST_DATA;
            c->data_bol = true;
            if (sink_opts.abort_delay >= 0) {
                c->state = SINK_ST_ABORT;
                sink_conn_sleep(c, sink_opts.abort_delay, sink_conn_abort_timer);
            } else if (sink_opts.data_read_delay > 0) {
                sink_conn_sleep(c, sink_opts.data_read_delay, sink_conn_wake_plain);
            }
        }
        break;
    case SINK_CMD_BDAT:
        if (sink_opts.no_chunking)
            sink_unknown(c);
        else
            sink_bdat(c, args);
        break;
    case SINK_CMD_RSET:
        sink_txn_reset(c);
        sink_reply(c, 250, "2.0.0", "Ok");
        break;
    case SINK_CMD_NOOP:
    case SINK_CMD_VRFY:
        sink_reply(c, 250, "2.0.0", "Ok");
        break;
    case SINK_CMD_QUIT:
        sink_counts.quits++;
        sink_counts_changed();
        sink_reply(c, 221, "2.0.0", "Bye");
        c->closing = true;
        break;
    case SINK_CMD_XCLIENT:
        if (sink_opts.no_xclient)
            sink_unknown(c);
        else
            sink_reply(c, 250, "2.0.0", "Ok");
        break;
    case SINK_CMD_XFORWARD:
        if (sink_opts.no_xforward)
            sink_unknown(c);
        else
            sink_reply(c, 250, "2.0.0", "Ok");
        break;
    case SINK_CMD_AUTH:
        sink_auth(c, args);
        break;
    default:
        sink_unknown(c);
        break;
    }
}

/* Handles the command line at the read position; returns false when the
 * connection went to sleep first (the line stays unread). */
static bool sink_cmd_line(struct sink_conn *c, const char *p, size_t linelen, size_t full)
{
    char line[SINK_LINE_MAX + 1];
    memcpy(line, p, linelen);
    line[linelen] = 0;
    /* A NUL inside the line ends it for our purposes. */
    sink_trace(c->addr, "<", line, strlen(line));
    if (c->state == SINK_ST_AUTH) {
        c->in_pos += full;
        sink_auth_line(c, line);
        return true;
    }
    size_t vlen = strcspn(line, " \t");
    int cmd = sink_cmd_lookup(line, vlen);
    if (cmd == SINK_CMD_CONNECT || cmd == SINK_CMD_DOT)
        cmd = -1;               /* not commands a client can send */
    if (cmd >= 0 && !c->delay_done) {
        int secs = sink_delay_for((enum sink_cmd)cmd);
        if (secs > 0) {
            sink_conn_sleep(c, secs, sink_conn_wake);
            return false;
        }
    }
    c->delay_done = false;
    c->in_pos += full;
    const char *args = line + vlen;
    while (*args == ' ' || *args == '\t')
        args++;
    sink_command(c, cmd, line, args);
    return true;
}

static void sink_greet(struct sink_conn *c)
{
    if (!c->delay_done) {
        int secs = sink_delay_for(SINK_CMD_CONNECT);
        if (secs > 0) {
            sink_conn_sleep(c, secs, sink_conn_wake);
            return;
        }
    }
    c->delay_done = false;
    c->greet_pending = false;
    if (sink_cmd_policy(c, SINK_CMD_CONNECT, "CONNECT"))
        return;
    char text[400];
    if (sink_opts.pix)
        snprintf(text, sizeof(text), "220 %s", "*************************************************");
    else if (sink_opts.no_esmtp)
        snprintf(text, sizeof(text), "220 %s", sink_opts.hostname);
    else
        snprintf(text, sizeof(text), "220 %s ESMTP", sink_opts.hostname);
    sink_put_raw(c, text);
}

/* Works through everything buffered, then writes the replies. */
static void sink_conn_process(struct sink_conn *c)
{
    if (c->greet_pending && !c->sleeping && !c->closing)
        sink_greet(c);
    while (!c->sleeping && !c->closing && !c->greet_pending) {
        size_t avail = sbuf_len(c->in) - c->in_pos;
        const char *p = sbuf_str(c->in) + c->in_pos;
        if (c->state == SINK_ST_BDAT) {
            if (c->bdat_left > 0) {
                if (avail == 0)
                    break;
                size_t n = avail < c->bdat_left ? avail : (size_t)c->bdat_left;
                if (!c->bdat_bad)
                    sink_dump_bytes(c->dump, p, n);
                c->in_pos += n;
                c->bdat_left -= n;
                if (c->bdat_left > 0)
                    break;
            }
            sink_bdat_done(c);
            continue;
        }
        if (c->state == SINK_ST_ABORT || avail == 0)
            break;
        const char *nl = memchr(p, '\n', avail);
        if (c->state == SINK_ST_DATA) {
            if (nl == NULL) {
                if (avail < SINK_DATA_CHUNK)
                    break;
                /* A very long line goes on in pieces. */
                sink_dump_line(c->dump, c->data_bol && p[0] == '.' ? p + 1 : p,
                               c->data_bol && p[0] == '.' ? avail - 1 : avail, "");
                c->data_bol = false;
                c->in_pos += avail;
                continue;
            }
            size_t len = (size_t)(nl - p);
            size_t full = len + 1;
            const char *term = "\n";
            if (len > 0 && p[len - 1] == '\r') {
                len--;
                term = "\r\n";
            }
            size_t save = c->in_pos;
            c->in_pos += full;
            if (!sink_data_line(c, p, len, term)) {
                c->in_pos = save;
                break;
            }
            continue;
        }
        /* Command or AUTH line. */
        if (nl == NULL) {
            if (avail > SINK_LINE_MAX) {
                if (!c->discard_line)
                    sink_reply(c, 500, "5.5.2", "Error: line too long");
                c->discard_line = true;
                c->in_pos += avail;
            }
            break;
        }
        size_t full = (size_t)(nl - p) + 1;
        size_t linelen = full - 1;
        if (linelen > 0 && p[linelen - 1] == '\r')
            linelen--;
        if (c->discard_line) {
            c->discard_line = false;
            c->in_pos += full;
            continue;
        }
        if (linelen > SINK_LINE_MAX) {
            sink_reply(c, 500, "5.5.2", "Error: line too long");
            c->in_pos += full;
            continue;
        }
        if (!sink_cmd_line(c, p, linelen, full))
            break;
    }
    /* Keep the input buffer small. */
    if (c->in_pos == sbuf_len(c->in)) {
        sbuf_reset(c->in);
        c->in_pos = 0;
    } else if (c->in_pos > 65536) {
        size_t left = sbuf_len(c->in) - c->in_pos;
        memmove(sbuf_data(c->in), sbuf_str(c->in) + c->in_pos, left);
        sbuf_truncate(c->in, left);
        c->in_pos = 0;
    }
    sink_conn_flush(c);
    sink_conn_update(c);
}

/* Reads what the socket has; returns false when the connection is over. */
static bool sink_conn_read(struct sink_conn *c)
{
    for (int rounds = 0; rounds < 4; rounds++) {
        sbuf_reserve(c->in, 65536);
        ssize_t n = recv(c->fd, sbuf_data(c->in) + sbuf_len(c->in), 65536, 0);
        if (n > 0) {
            c->in->len += (size_t)n;
            c->in->data[c->in->len] = 0;
            c->last_active = event_now();
            if (n < 65536)
                return true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        return false;           /* EOF or error */
    }
    return true;
}

static void sink_conn_event(int fd, int events, void *ctx)
{
    struct sink_conn *c = ctx;
    (void)fd;
    if (events & EVENT_WRITE) {
        sink_conn_flush(c);
        c->last_active = event_now();
    }
    if ((events & EVENT_READ) && !c->sleeping && !c->closing) {
        if (!sink_conn_read(c)) {
            sink_conn_free(c);
            return;
        }
        sink_conn_process(c);
        return;
    }
    sink_conn_update(c);
}

/* Sets the event interest, or closes a finished connection. */
static void sink_conn_update(struct sink_conn *c)
{
    bool want_write = c->out_pos < sbuf_len(c->out);
    if (c->closing && !want_write) {
        sink_conn_free(c);
        return;
    }
    int ev = want_write ? EVENT_WRITE : 0;
    if (!c->sleeping && !c->closing && c->state != SINK_ST_ABORT)
        ev |= EVENT_READ;
    if (ev)
        event_fd_add(c->fd, ev, sink_conn_event, c);
    else
        event_fd_del(c->fd);
}

void sink_conn_start(int fd, const char *addr)
{
    struct sink_conn *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    strlcpy(c->addr, addr, sizeof(c->addr));
    c->in = sbuf_new(65536);
    c->out = sbuf_new(4096);
    c->helo = sbuf_new(64);
    c->mail_args = sbuf_new(128);
    c->rcpt_args = sbuf_new(256);
    c->proto = sink_opts.lmtp ? "LMTP" : "SMTP";
    c->state = SINK_ST_CMD;
    c->greet_pending = true;
    c->last_active = event_now();
    c->next = sink_conn_list;
    if (sink_conn_list)
        sink_conn_list->prev = c;
    sink_conn_list = c;
    sink_counts.active++;
    sink_conn_process(c);
}

size_t sink_conns_unflushed(void)
{
    size_t n = 0;
    for (struct sink_conn *c = sink_conn_list; c; c = c->next)
        if (c->out_pos < sbuf_len(c->out))
            n++;
    return n;
}

void sink_conns_sweep(void)
{
    double now = event_now();
    struct sink_conn *next;
    for (struct sink_conn *c = sink_conn_list; c; c = next) {
        next = c->next;
        if (c->sleeping || now - c->last_active <= sink_opts.timeout)
            continue;
        if (!c->closing) {
            char text[300];
            snprintf(text, sizeof(text), "%s Error: timeout exceeded", sink_opts.hostname);
            sink_reply(c, 421, "4.4.2", text);
            sink_conn_flush(c);
        }
        sink_conn_free(c);
    }
}
