/*
 * smtp_source_session.c - one SMTP/LMTP client session of smtp-source
 *
 * Used by: smtp_source.c.
 * Interface: src_session_start(), src_sessions_sweep().
 * Errors: an unexpected reply, a lost connection or a timeout ends the
 *         program with exit status 1, unless -A was given; then it is
 *         counted and the session goes on (or reconnects).
 * Notes: replies are matched to commands through a queue of what each
 *        outstanding command expects, so the same code drives a session
 *        with PIPELINING (MAIL, RCPT..., DATA in one write) and without.
 */
#include "smtp_source.h"
#include "alloc.h"
#include "events.h"
#include "log.h"
#include <netinet/in.h>
#include <netinet/tcp.h>

enum src_expect {
    SRC_EXP_GREET,
    SRC_EXP_EHLO,
    SRC_EXP_HELO,
    SRC_EXP_MAIL,
    SRC_EXP_RCPT,
    SRC_EXP_DATA,
    SRC_EXP_DOT,
    SRC_EXP_QUIT,
};

static const char *src_expect_names[] = {
    "greeting", "EHLO", "HELO", "MAIL FROM", "RCPT TO", "DATA", "end of data", "QUIT",
};

enum src_phase {
    SRC_PH_CONNECTING,
    SRC_PH_TALK,
    SRC_PH_WAIT,                    /* -w/-R pause between messages */
    SRC_PH_RETRY,                   /* pause before another connect try */
};

struct src_session {
    unsigned id;
    int fd;
    enum src_phase phase;
    int tries;                      /* connect attempts for this connection */
    unsigned long claim;            /* message reserved for this session, 0 = none */
    unsigned long msg_no;
    struct sbuf *in;
    size_t in_pos;
    struct sbuf *out;
    size_t out_pos;
    struct sbuf *reply;             /* lines of the reply being read */
    enum src_expect *expect;        /* ring of outstanding replies */
    size_t exp_cap, exp_head, exp_count;
    bool pipelining;
    bool quit_sent;
    bool in_txn;
    unsigned long rcpt_sent;
    unsigned long rcpt_ok;
    unsigned long dot_left;
    bool dot_ok;
    double last_active;
    struct src_session *prev, *next;
};

static struct src_session *src_session_list;

static void src_session_update(struct src_session *s);
static void src_session_connect(struct src_session *s);

/* ---- helpers ---------------------------------------------------------- */

static void src_push(struct src_session *s, enum src_expect e)
{
    if (s->exp_count == s->exp_cap) {
        size_t ncap = s->exp_cap ? s->exp_cap * 2 : 16;
        enum src_expect *n = xreallocarray(NULL, ncap, sizeof(*n));
        for (size_t i = 0; i < s->exp_count; i++)
            n[i] = s->expect[(s->exp_head + i) % s->exp_cap];
        xfree(s->expect);
        s->expect = n;
        s->exp_cap = ncap;
        s->exp_head = 0;
    }
    s->expect[(s->exp_head + s->exp_count) % s->exp_cap] = e;
    s->exp_count++;
}

static enum src_expect src_pop(struct src_session *s)
{
    enum src_expect e = s->expect[s->exp_head];
    s->exp_head = (s->exp_head + 1) % s->exp_cap;
    s->exp_count--;
    return e;
}

/* Queues one command line. */
static void src_send(struct src_session *s, enum src_expect e, const char *fmt, ...) PRINTF_LIKE(3, 4);
static void src_send(struct src_session *s, enum src_expect e, const char *fmt, ...)
{
    size_t start = sbuf_len(s->out);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vcatf(s->out, fmt, ap);
    va_end(ap);
    src_trace(">>>", sbuf_str(s->out) + start, sbuf_len(s->out) - start);
    sbuf_cat(s->out, "\r\n");
    src_push(s, e);
}

/* A protocol failure: the end of the program, or a counted event with -A.
 * detail may be NULL. */
static void src_failure(struct src_session *s, const char *what, const char *detail)
{
    if (!src_opts.keep_going)
        log_fatal("%s: %s%s%s", src_opts.target, what, detail ? ": " : "", detail ? detail : "");
    src_stats.failed++;
    if (log_verbose)
        log_warn("session %u: %s%s%s", s->id, what, detail ? ": " : "", detail ? detail : "");
}

static void src_session_close_fd(struct src_session *s)
{
    if (s->fd >= 0) {
        event_fd_del(s->fd);
        close(s->fd);
        s->fd = -1;
    }
    sbuf_reset(s->in);
    sbuf_reset(s->out);
    sbuf_reset(s->reply);
    s->in_pos = s->out_pos = 0;
    s->exp_count = s->exp_head = 0;
    s->pipelining = false;
    s->quit_sent = false;
    s->in_txn = false;
}

static void src_timer_wait_done(void *ctx);
static void src_timer_retry(void *ctx);

/* The session has nothing more to do. */
static void src_session_end(struct src_session *s)
{
    src_session_close_fd(s);
    event_timer_del(src_timer_wait_done, s);
    event_timer_del(src_timer_retry, s);
    if (s->prev)
        s->prev->next = s->next;
    else
        src_session_list = s->next;
    if (s->next)
        s->next->prev = s->prev;
    sbuf_free(s->in);
    sbuf_free(s->out);
    sbuf_free(s->reply);
    xfree(s->expect);
    xfree(s);
    src_stats.sessions_alive--;
}

/* Connection over: reconnect while messages are left. */
static void src_session_next_conn(struct src_session *s)
{
    src_session_close_fd(s);
    if (s->claim || (s->claim = src_claim()) != 0) {
        s->tries = 0;
        src_session_connect(s);
    } else {
        src_session_end(s);
    }
}

/* ---- transactions ---------------------------------------------------------- */

static void src_txn_start(struct src_session *s)
{
    if (!s->claim && (s->claim = src_claim()) == 0) {
        src_send(s, SRC_EXP_QUIT, "QUIT");
        s->quit_sent = true;
        return;
    }
    s->msg_no = s->claim;
    s->claim = 0;
    s->in_txn = true;
    s->rcpt_sent = s->rcpt_ok = 0;
    s->dot_ok = false;
    src_send(s, SRC_EXP_MAIL, "MAIL FROM:<%s>", src_opts.from);
    if (s->pipelining) {
        for (unsigned long i = 0; i < src_opts.rcpts; i++) {
            s->rcpt_sent++;
            if (src_opts.number_rcpts)
                src_send(s, SRC_EXP_RCPT, "RCPT TO:<%lu%s>", ++src_stats.rcpt_seq, src_opts.to);
            else if (src_opts.rcpts > 1)
                src_send(s, SRC_EXP_RCPT, "RCPT TO:<%lu%s>", i + 1, src_opts.to);
            else
                src_send(s, SRC_EXP_RCPT, "RCPT TO:<%s>", src_opts.to);
        }
        src_send(s, SRC_EXP_DATA, "DATA");
    }
}

/* Without pipelining: the next RCPT, or DATA after the last one. */
static void src_txn_next_rcpt(struct src_session *s)
{
    if (s->rcpt_sent < src_opts.rcpts) {
        unsigned long i = s->rcpt_sent++;
        if (src_opts.number_rcpts)
            src_send(s, SRC_EXP_RCPT, "RCPT TO:<%lu%s>", ++src_stats.rcpt_seq, src_opts.to);
        else if (src_opts.rcpts > 1)
            src_send(s, SRC_EXP_RCPT, "RCPT TO:<%lu%s>", i + 1, src_opts.to);
        else
            src_send(s, SRC_EXP_RCPT, "RCPT TO:<%s>", src_opts.to);
    } else {
        src_send(s, SRC_EXP_DATA, "DATA");
    }
}

/* After -w/-R: another message on this connection (-d) or QUIT. */
static void src_after_message(struct src_session *s)
{
    if (src_opts.keep_conn && (s->claim || (s->claim = src_claim()) != 0)) {
        src_txn_start(s);
    } else {
        src_send(s, SRC_EXP_QUIT, "QUIT");
        s->quit_sent = true;
    }
}

static void src_timer_wait_done(void *ctx)
{
    struct src_session *s = ctx;
    s->phase = SRC_PH_TALK;
    s->last_active = event_now();
    src_after_message(s);
    src_session_update(s);
}

static void src_txn_end(struct src_session *s)
{
    s->in_txn = false;
    src_stats.done++;
    if (s->dot_ok) {
        src_stats.delivered++;
        if (src_opts.show_count) {
            char line[32];
            int n = snprintf(line, sizeof(line), "\r%lu", src_stats.delivered);
            if (n > 0 && write(1, line, (size_t)n) < 0) {
                /* best effort */
            }
        }
    }
    double wait = 0;
    if (src_opts.fixed_delay > 0)
        wait += src_opts.fixed_delay;
    if (src_opts.random_delay > 0)
        wait += (double)(random() % (src_opts.random_delay * 1000 + 1)) / 1000.0;
    if (wait > 0) {
        s->phase = SRC_PH_WAIT;
        event_timer_add(wait, src_timer_wait_done, s);
        return;
    }
    src_after_message(s);
}

/* ---- replies ------------------------------------------------------------- */

static bool src_ehlo_has(const struct sbuf *reply, const char *ext)
{
    size_t elen = strlen(ext);
    const char *p = sbuf_str(reply);
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len >= 4 + elen && strncasecmp(p + 4, ext, elen) == 0 &&
            (len == 4 + elen || p[4 + elen] == ' '))
            return true;
        p += len + (eol ? 1 : 0);
    }
    return false;
}

/* The last line of the reply, for messages. */
static const char *src_reply_last(const struct sbuf *reply)
{
    const char *p = sbuf_str(reply);
    size_t len = sbuf_len(reply);
    if (len > 0 && p[len - 1] == '\n')
        len--;
    const char *start = p;
    for (size_t i = 0; i < len; i++)
        if (p[i] == '\n')
            start = p + i + 1;
    return start;
}

/* Acts on one complete reply. Returns false when the connection is over
 * (the session reconnected or was freed): the caller must not touch s. */
static bool src_reply(struct src_session *s, int code)
{
    if (s->exp_count == 0) {
        src_failure(s, "unexpected reply", src_reply_last(s->reply));
        return true;
    }
    enum src_expect e = src_pop(s);
    bool ok = code >= 200 && code < 300;
    struct sbuf *detail = NULL;
    if (!ok && !(e == SRC_EXP_DATA && code == 354)) {
        detail = sbuf_new(128);
        sbuf_printf(detail, "%s rejected: %s", src_expect_names[e], src_reply_last(s->reply));
        /* A trailing newline would show as "?" in the log. */
        sbuf_trim(detail);
    }
    switch (e) {
    case SRC_EXP_GREET:
        if (!ok)
            src_failure(s, sbuf_str(detail), NULL);
        if (src_opts.old_mode)
            src_txn_start(s);
        else if (src_opts.lmtp)
            src_send(s, SRC_EXP_EHLO, "LHLO %s", src_opts.myhostname);
        else
            src_send(s, SRC_EXP_EHLO, "EHLO %s", src_opts.myhostname);
        break;
    case SRC_EXP_EHLO:
        if (ok) {
            s->pipelining = src_ehlo_has(s->reply, "PIPELINING");
            src_txn_start(s);
        } else if (!src_opts.lmtp) {
            src_send(s, SRC_EXP_HELO, "HELO %s", src_opts.myhostname);
        } else {
            src_failure(s, sbuf_str(detail), NULL);
            src_txn_start(s);
        }
        break;
    case SRC_EXP_HELO:
        if (!ok)
            src_failure(s, sbuf_str(detail), NULL);
        src_txn_start(s);
        break;
    case SRC_EXP_MAIL:
        if (!ok)
            src_failure(s, sbuf_str(detail), NULL);
        if (!s->pipelining)
            src_txn_next_rcpt(s);
        break;
    case SRC_EXP_RCPT:
        if (ok)
            s->rcpt_ok++;
        else
            src_failure(s, sbuf_str(detail), NULL);
        if (!s->pipelining)
            src_txn_next_rcpt(s);
        break;
    case SRC_EXP_DATA:
        if (code == 354) {
            size_t start = sbuf_len(s->out);
            src_message(s->out, s->id, s->msg_no);
            src_trace(">>>", "(message content)", 17);
            (void)start;
            s->dot_left = src_opts.lmtp && s->rcpt_ok > 0 ? s->rcpt_ok : 1;
            for (unsigned long i = 0; i < s->dot_left; i++)
                src_push(s, SRC_EXP_DOT);
            s->dot_ok = true;
        } else {
            src_failure(s, detail ? sbuf_str(detail) : "DATA not answered with 354", NULL);
            src_txn_end(s);
        }
        break;
    case SRC_EXP_DOT:
        if (!ok) {
            s->dot_ok = false;
            src_failure(s, sbuf_str(detail), NULL);
        }
        if (--s->dot_left == 0)
            src_txn_end(s);
        break;
    case SRC_EXP_QUIT:
        /* Handled by the caller: the connection ends. */
        break;
    }
    sbuf_free(detail);
    if (e == SRC_EXP_QUIT) {
        src_session_next_conn(s);
        return false;
    }
    return true;
}

/* Parses complete reply lines; returns false when the session was ended
 * or reconnected (s->fd changed) and the caller must stop. */
static bool src_session_parse(struct src_session *s)
{
    for (;;) {
        size_t avail = sbuf_len(s->in) - s->in_pos;
        const char *p = sbuf_str(s->in) + s->in_pos;
        const char *nl = memchr(p, '\n', avail);
        if (nl == NULL) {
            if (avail > SRC_REPLY_MAX) {
                src_failure(s, "reply", "line too long");
                src_session_next_conn(s);
                return false;
            }
            break;
        }
        size_t len = (size_t)(nl - p);
        s->in_pos += len + 1;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        src_trace("<<<", p, len);
        if (len < 3 || !(p[0] >= '0' && p[0] <= '9') || !(p[1] >= '0' && p[1] <= '9') ||
            !(p[2] >= '0' && p[2] <= '9') || (len > 3 && p[3] != ' ' && p[3] != '-')) {
            sbuf_set(s->reply, "");
            src_failure(s, "malformed reply", "not an SMTP reply line");
            src_session_next_conn(s);
            return false;
        }
        sbuf_append(s->reply, p, len);
        sbuf_addch(s->reply, '\n');
        if (len > 3 && p[3] == '-')
            continue;
        int code = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
        if (!src_reply(s, code))
            return false;
        sbuf_reset(s->reply);
    }
    if (s->in_pos == sbuf_len(s->in)) {
        sbuf_reset(s->in);
        s->in_pos = 0;
    }
    return true;
}

/* ---- I/O --------------------------------------------------------------- */

/* Returns false when the connection broke. */
static bool src_session_flush(struct src_session *s)
{
    while (s->out_pos < sbuf_len(s->out)) {
        ssize_t n = send(s->fd, sbuf_str(s->out) + s->out_pos, sbuf_len(s->out) - s->out_pos,
                         MSG_NOSIGNAL);
        if (n > 0) {
            s->out_pos += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        return false;
    }
    sbuf_reset(s->out);
    s->out_pos = 0;
    return true;
}

/* The server went away: fine after QUIT, a failure otherwise. */
static void src_session_lost(struct src_session *s, const char *why)
{
    if (!s->quit_sent) {
        src_failure(s, "lost connection", why);
        if (s->in_txn) {
            s->in_txn = false;
            src_stats.done++;
        }
    }
    src_session_next_conn(s);
}

static void src_session_event(int fd, int events, void *ctx);

static void src_session_update(struct src_session *s)
{
    if (s->fd < 0)
        return;
    int ev = EVENT_READ;
    if (s->phase == SRC_PH_CONNECTING)
        ev = EVENT_WRITE;
    else if (s->out_pos < sbuf_len(s->out))
        ev |= EVENT_WRITE;
    if (s->phase == SRC_PH_TALK && s->out_pos < sbuf_len(s->out)) {
        if (!src_session_flush(s)) {
            src_session_lost(s, "write error");
            return;
        }
        if (s->out_pos >= sbuf_len(s->out))
            ev &= ~EVENT_WRITE;
    }
    event_fd_add(s->fd, ev, src_session_event, s);
}

static void src_timer_retry(void *ctx)
{
    src_session_connect(ctx);
}

/* A connect attempt failed with errno set. */
static void src_connect_failed(struct src_session *s)
{
    int err = errno;
    src_session_close_fd(s);
    if (s->tries < src_opts.connect_tries) {
        s->phase = SRC_PH_RETRY;
        event_timer_add(0.1, src_timer_retry, s);
        return;
    }
    errno = err;
    if (!src_opts.keep_going)
        log_fatal("connect to %s: %m", src_opts.target);
    src_stats.failed++;
    /* The reserved message is given up, so the run still ends. */
    s->claim = 0;
    src_stats.done++;
    src_session_next_conn(s);
}

static void src_session_connected(struct src_session *s)
{
    s->phase = SRC_PH_TALK;
    s->last_active = event_now();
    if (src_opts.addr.ss_family != AF_UNIX) {
        int on = 1;
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    }
    src_push(s, SRC_EXP_GREET);
}

static void src_session_event(int fd, int events, void *ctx)
{
    struct src_session *s = ctx;
    (void)fd;
    if (s->phase == SRC_PH_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof(err);
        if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
            err = errno;
        if (err != 0) {
            errno = err;
            src_connect_failed(s);
            return;
        }
        src_session_connected(s);
        src_session_update(s);
        return;
    }
    if (events & EVENT_WRITE) {
        if (!src_session_flush(s)) {
            src_session_lost(s, "write error");
            return;
        }
    }
    if (events & EVENT_READ) {
        sbuf_reserve(s->in, 16384);
        ssize_t n = recv(s->fd, sbuf_data(s->in) + sbuf_len(s->in), 16384, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
            src_session_lost(s, n == 0 ? "server closed the connection" : strerror(errno));
            return;
        }
        if (n > 0) {
            s->in->len += (size_t)n;
            s->in->data[s->in->len] = 0;
            s->last_active = event_now();
            if (!src_session_parse(s))
                return;
        }
    }
    src_session_update(s);
}

static void src_session_connect(struct src_session *s)
{
    s->tries++;
    s->phase = SRC_PH_CONNECTING;
    s->last_active = event_now();
    s->fd = socket(src_opts.addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s->fd < 0)
        log_fatal("socket: %m");
    if (src_opts.window > 0)
        setsockopt(s->fd, SOL_SOCKET, SO_RCVBUF, &src_opts.window, sizeof(src_opts.window));
    if (connect(s->fd, (struct sockaddr *)&src_opts.addr, src_opts.addrlen) < 0) {
        if (errno != EINPROGRESS && errno != EAGAIN) {
            src_connect_failed(s);
            return;
        }
        src_session_update(s);
        return;
    }
    src_session_connected(s);
    src_session_update(s);
}

void src_session_start(unsigned id)
{
    unsigned long claim = src_claim();
    if (claim == 0)
        return;
    struct src_session *s = xcalloc(1, sizeof(*s));
    s->id = id;
    s->fd = -1;
    s->claim = claim;
    s->in = sbuf_new(16384);
    s->out = sbuf_new(16384);
    s->reply = sbuf_new(512);
    s->next = src_session_list;
    if (src_session_list)
        src_session_list->prev = s;
    src_session_list = s;
    src_stats.sessions_alive++;
    src_session_connect(s);
}

void src_sessions_sweep(void)
{
    double now = event_now();
    struct src_session *next;
    for (struct src_session *s = src_session_list; s; s = next) {
        next = s->next;
        if (s->phase == SRC_PH_WAIT || s->phase == SRC_PH_RETRY)
            continue;
        if (now - s->last_active > SRC_TIMEOUT)
            src_session_lost(s, "timeout");
    }
}
