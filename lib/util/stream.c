/*
 * stream.c - buffered file-descriptor I/O with deadlines
 *
 * Used by: daemons and commands (SMTP, IPC, pipes).
 * Interface: see stream.h.
 * Errors: sticky; once a stream has failed every call returns the error.
 */
#include "stream.h"
#include "alloc.h"
#include "log.h"
#include "sock.h"
#include <stddef.h>
#include <string.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>

struct stream {
    int fd;
    int timeout;
    int err;
    bool deadline;      /* timeout is a budget per request, not per wait */
    int min_rate;       /* bytes/s that earn more budget; 0 = none */
    long budget_ms;     /* what is left of the current request's budget */
    size_t rpos, rlen;
    size_t wlen;
    stream_read_fn rd;
    stream_write_fn wr;
    void *ctx;
    bool reply_wait;    /* stream_set_reply_wait(): poll before the first read after a write */
    bool wrote;         /* bytes went out since the last read */
    /* Last and never cleared: only bytes below rlen/wlen are ever read, and
     * zeroing 32 KiB per connection touched pages that a short exchange
     * never needs (CPU per message, private memory per process). */
    char rbuf[STREAM_BUFSIZE];
    char wbuf[STREAM_BUFSIZE];
};

static ssize_t stream_plain_read(void *ctx, int fd, void *buf, size_t len, bool *want_write)
{
    (void)ctx;
    *want_write = false;
    return read(fd, buf, len);
}

struct stream *stream_open_nonblock(int fd)
{
    struct stream *s = xmalloc(sizeof(*s));
    memset(s, 0, offsetof(struct stream, rbuf));
    s->fd = fd;
    s->timeout = 300;
    s->rd = stream_plain_read;
    s->wr = NULL;
    return s;
}

struct stream *stream_open(int fd)
{
    sock_set_nonblock(fd, true);
    return stream_open_nonblock(fd);
}

void stream_close(struct stream *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    xfree(s);
}

void stream_free_keep_fd(struct stream *s)
{
    xfree(s);
}

int stream_fd(const struct stream *s)
{
    return s->fd;
}

void stream_set_reply_wait(struct stream *s, bool on)
{
    s->reply_wait = on;
}

void stream_set_timeout(struct stream *s, int seconds)
{
    s->timeout = seconds;
    s->budget_ms = (long)seconds * 1000;
}

void stream_set_deadline(struct stream *s, bool on)
{
    s->deadline = on;
    s->budget_ms = (long)s->timeout * 1000;
}

void stream_start_request(struct stream *s)
{
    s->budget_ms = (long)s->timeout * 1000;
}

void stream_set_min_rate(struct stream *s, int bytes_per_second)
{
    s->min_rate = bytes_per_second > 0 ? bytes_per_second : 0;
}

void stream_spend(struct stream *s, long ms)
{
    if (s->deadline && ms > 0)
        s->budget_ms -= ms;
}

/* Deadline mode with a minimum rate: n bytes moved earn n/min_rate seconds,
 * never more than the whole timeout. */
static void stream_earn(struct stream *s, size_t n)
{
    if (!s->deadline || s->min_rate <= 0)
        return;
    long cap = (long)s->timeout * 1000;
    long gain = (long)((n * 1000) / (size_t)s->min_rate);
    s->budget_ms = s->budget_ms + gain > cap ? cap : s->budget_ms + gain;
}

static long stream_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void stream_set_io(struct stream *s, stream_read_fn rd, stream_write_fn wr, void *ctx)
{
    s->rd = rd ? rd : stream_plain_read;
    s->wr = wr;
    s->ctx = ctx;
}

int stream_error(const struct stream *s)
{
    return s->err;
}

const char *stream_strerror(int err)
{
    switch (err) {
    case STREAM_OK: return "no error";
    case STREAM_E_EOF: return "lost connection";
    case STREAM_E_TIMEOUT: return "timeout";
    case STREAM_E_TOOLONG: return "line too long";
    default: return "I/O error";
    }
}

size_t stream_pending(const struct stream *s)
{
    return s->rlen - s->rpos;
}

/* Waits until fd is ready in the given direction; returns 0 or an error. */
static int stream_wait(struct stream *s, bool for_write)
{
    struct pollfd pfd = { .fd = s->fd, .events = for_write ? POLLOUT : POLLIN };
    /* Deadline mode: only the time spent waiting here counts against the
     * request, so a peer that trickles a byte at a time runs out. */
    bool budget = s->deadline && s->timeout > 0;
    for (;;) {
        int ms = s->timeout > 0 ? s->timeout * 1000 : -1;
        if (budget) {
            if (s->budget_ms <= 0)
                return STREAM_E_TIMEOUT;
            ms = s->budget_ms > INT_MAX ? INT_MAX : (int)s->budget_ms;
        }
        long t0 = budget ? stream_clock_ms() : 0;
        int n = log_poll(&pfd, 1, ms);
        if (budget)
            s->budget_ms -= stream_clock_ms() - t0;
        if (n > 0)
            return 0;
        if (n == 0)
            return STREAM_E_TIMEOUT;
        if (errno != EINTR)
            return STREAM_E_IO;
    }
}

/* Moves unread bytes to the front of the read buffer. */
static void stream_compact(struct stream *s)
{
    if (s->rpos == s->rlen)
        s->rpos = s->rlen = 0;
    else if (s->rpos > 0) {
        memmove(s->rbuf, s->rbuf + s->rpos, s->rlen - s->rpos);
        s->rlen -= s->rpos;
        s->rpos = 0;
    }
}

/* One read into the buffer: the bytes added, 0 when none are there yet
 * (*want_write: a TLS layer must write first), or STREAM_E_EOF / _IO. */
static ssize_t stream_read_once(struct stream *s, bool *want_write)
{
    for (;;) {
        *want_write = false;
        ssize_t n = s->rd(s->ctx, s->fd, s->rbuf + s->rlen, sizeof(s->rbuf) - s->rlen, want_write);
        if (n > 0) {
            s->rlen += (size_t)n;
            stream_earn(s, (size_t)n);
            return n;
        }
        if (n == 0)
            return s->err = STREAM_E_EOF;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        if (errno != EINTR)
            return s->err = STREAM_E_IO;
    }
}

ssize_t stream_read_ready(struct stream *s)
{
    bool want_write;
    if (s->err)
        return s->err;
    stream_compact(s);
    return stream_read_once(s, &want_write);
}

/* Refills the read buffer; returns bytes added or an error. */
static ssize_t stream_fill(struct stream *s)
{
    if (s->err)
        return s->err;
    stream_compact(s);
    /* A reply to what was just sent is not there yet: wait for it, rather
     * than read, find nothing and then wait. Only on the plain socket (a TLS
     * layer may hold input that the socket does not show). */
    bool wait_first = s->reply_wait && s->wrote && s->rd == stream_plain_read;
    s->wrote = false;
    if (wait_first) {
        int w = stream_wait(s, false);
        if (w < 0)
            return s->err = w;
    }
    for (;;) {
        bool want_write;
        ssize_t n = stream_read_once(s, &want_write);
        if (n != 0)
            return n;
        int w = stream_wait(s, want_write);
        if (w < 0)
            return s->err = w;
    }
}

ssize_t stream_getline(struct stream *s, struct sbuf *out, size_t maxlen, bool *had_lf)
{
    bool toolong = false;
    bool any = false;
    sbuf_reset(out);
    if (had_lf)
        *had_lf = false;
    for (;;) {
        if (s->rpos == s->rlen) {
            ssize_t n = stream_fill(s);
            if (n < 0) {
                if (n == STREAM_E_EOF && any) {
                    s->err = STREAM_E_EOF;      /* next call reports EOF */
                    return toolong ? STREAM_E_TOOLONG : (ssize_t)sbuf_len(out);
                }
                return n;
            }
        }
        any = true;
        char *start = s->rbuf + s->rpos;
        size_t avail = s->rlen - s->rpos;
        char *nl = memchr(start, '\n', avail);
        size_t take = nl ? (size_t)(nl - start) : avail;
        if (!toolong) {
            size_t room = maxlen - sbuf_len(out);
            if (take > room) {
                sbuf_append(out, start, room);
                toolong = true;
            } else
                sbuf_append(out, start, take);
        }
        s->rpos += take;
        if (nl) {
            s->rpos++;
            if (had_lf)
                *had_lf = true;
            return toolong ? STREAM_E_TOOLONG : (ssize_t)sbuf_len(out);
        }
    }
}

ssize_t stream_read_some(struct stream *s, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    if (s->rpos == s->rlen) {
        ssize_t n = stream_fill(s);
        if (n < 0)
            return n;
    }
    size_t avail = s->rlen - s->rpos;
    size_t n = avail < len ? avail : len;
    memcpy(buf, s->rbuf + s->rpos, n);
    s->rpos += n;
    return (ssize_t)n;
}

ssize_t stream_read(struct stream *s, void *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = stream_read_some(s, (char *)buf + got, len - got);
        if (n < 0)
            return n;
        got += (size_t)n;
    }
    return (ssize_t)len;
}

int stream_getc(struct stream *s)
{
    if (s->rpos == s->rlen) {
        ssize_t n = stream_fill(s);
        if (n < 0)
            return (int)n;
    }
    return (unsigned char)s->rbuf[s->rpos++];
}

/* The end of a line in out: CR LF (the CR removed) or a bare LF. */
static int stream_seg_end(struct sbuf *out)
{
    size_t len = sbuf_len(out);
    if (len > 0 && sbuf_str(out)[len - 1] == '\r') {
        sbuf_truncate(out, len - 1);
        return STREAM_SEG_CRLF;
    }
    return STREAM_SEG_LF;
}

int stream_get_segment(struct stream *s, struct sbuf *out, size_t max)
{
    sbuf_reset(out);
    for (;;) {
        if (s->rpos == s->rlen) {
            ssize_t n = stream_fill(s);
            if (n < 0)
                return (int)n;
        }
        /* In bulk while the piece stays below max: only the byte where a
         * piece may be cut goes through the test below. */
        const char *p = s->rbuf + s->rpos;
        size_t avail = s->rlen - s->rpos;
        const char *nl = memchr(p, '\n', avail);
        size_t take = nl ? (size_t)(nl - p) : avail;
        size_t have = sbuf_len(out);
        if (have + take < max) {
            sbuf_append(out, p, take);
            s->rpos += take + (nl != NULL);
            if (nl)
                return stream_seg_end(out);
            continue;
        }
        if (have + 1 < max) {       /* up to one byte short of the cut */
            sbuf_append(out, p, max - 1 - have);
            s->rpos += max - 1 - have;
            continue;
        }
        int c = (unsigned char)s->rbuf[s->rpos++];
        if (c == '\n')
            return stream_seg_end(out);
        sbuf_addch(out, (char)c);
        if (have + 1 >= max && (c != '\r' || have + 1 >= 2 * max))
            return STREAM_SEG_PARTIAL;
    }
}

static ssize_t stream_raw_write(struct stream *s, const char *buf, size_t len)
{
    bool want_read = false;
    if (s->wr)
        return s->wr(s->ctx, s->fd, buf, len, &want_read);
    ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
        n = write(s->fd, buf, len);
    return n;
}

static int stream_write_all(struct stream *s, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = stream_raw_write(s, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            stream_earn(s, (size_t)n);
            s->wrote = true;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            int w = stream_wait(s, true);
            if (w < 0)
                return s->err = w;
            continue;
        }
        return s->err = (n < 0 && errno == EPIPE) ? STREAM_E_EOF : STREAM_E_IO;
    }
    return 0;
}

int stream_flush(struct stream *s)
{
    if (s->err)
        return s->err;
    if (s->wlen == 0)
        return 0;
    int r = stream_write_all(s, s->wbuf, s->wlen);
    s->wlen = 0;
    return r;
}

int stream_write(struct stream *s, const void *buf, size_t len)
{
    if (s->err)
        return s->err;
    if (s->wlen + len > sizeof(s->wbuf)) {
        int r = stream_flush(s);
        if (r < 0)
            return r;
        if (len > sizeof(s->wbuf))
            return stream_write_all(s, buf, len);
    }
    memcpy(s->wbuf + s->wlen, buf, len);
    s->wlen += len;
    return 0;
}

int stream_puts(struct stream *s, const char *str)
{
    return stream_write(s, str, strlen(str));
}

int stream_printf(struct stream *s, const char *fmt, ...)
{
    char small[1024];
    struct sbuf *spill;
    size_t n;
    va_list ap;
    va_start(ap, fmt);
    const char *text = sbuf_vformat_small(small, sizeof(small), &spill, &n, fmt, ap);
    va_end(ap);
    if (text == NULL)
        return s->err = STREAM_E_IO;
    int r = stream_write(s, text, n);
    sbuf_free(spill);
    return r;
}
