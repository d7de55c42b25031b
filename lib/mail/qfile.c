/*
 * qfile.c - queue file records: writer, reader and envelope loader
 *
 * Used by: cleanup, postdrop, qmgr, delivery agents, bounce, showq, pickup,
 *          postcat, postsuper.
 * Interface: see qfile.h.
 * Errors: writers return -1 with errno; readers return QFILE_E_*.
 * Notes: the writer keeps a 64 KiB user-space buffer so that a message is
 *        written with few system calls; qfile_commit() is the only place
 *        that makes a queue file complete (chmod 0700) and durable (fsync).
 */
#include "qfile.h"
#include "alloc.h"
#include "log.h"
#include "stream.h"
#include <fcntl.h>
#include <sys/stat.h>

#define QFILE_WBUF (64 * 1024)

struct qfile_writer {
    int fd;
    off_t base;         /* file offset of wbuf[0] */
    struct sbuf *wbuf;
    off_t old_size;     /* a reused file's old length (0: a new file) */
};

/* The record header (type, then the length in 7-bit groups, low first)
 * into hdr (at least QFILE_HDR_MAX bytes); its length. */
#define QFILE_HDR_MAX 16
static size_t qfile_header(unsigned char *hdr, int type, size_t len)
{
    size_t n = 0;
    size_t v = len;
    hdr[n++] = (unsigned char)type;
    do {
        unsigned char b = v & 0x7f;
        v >>= 7;
        if (v)
            b |= 0x80;
        hdr[n++] = b;
    } while (v);
    return n;
}

void qfile_encode(struct sbuf *out, int type, const void *data, size_t len)
{
    unsigned char hdr[QFILE_HDR_MAX];
    sbuf_append(out, hdr, qfile_header(hdr, type, len));
    sbuf_append(out, data, len);
}

struct qfile_writer *qfile_writer_new(int fd)
{
    struct qfile_writer *w = xcalloc(1, sizeof(*w));
    w->fd = fd;
    w->base = 0;
    w->wbuf = sbuf_new(QFILE_WBUF);
    return w;
}

void qfile_writer_set_reused(struct qfile_writer *w, off_t old_size)
{
    w->old_size = old_size;
}

int qfile_writer_flush(struct qfile_writer *w)
{
    const char *p = sbuf_str(w->wbuf);
    size_t left = sbuf_len(w->wbuf);
    off_t at = w->base;
    while (left > 0) {
        ssize_t n = pwrite(w->fd, p, left, at);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        at += n;
        left -= (size_t)n;
    }
    w->base = at;
    sbuf_reset(w->wbuf);
    return 0;
}

int qfile_put(struct qfile_writer *w, int type, const void *data, size_t len)
{
    qfile_encode(w->wbuf, type, data, len);
    if (sbuf_len(w->wbuf) >= QFILE_WBUF)
        return qfile_writer_flush(w);
    return 0;
}

int qfile_puts(struct qfile_writer *w, int type, const char *str)
{
    return qfile_put(w, type, str, strlen(str));
}

int qfile_putf(struct qfile_writer *w, int type, const char *fmt, ...)
{
    char small[256];    /* most records are numbers: no buffer to allocate */
    struct sbuf *spill;
    size_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    const char *text = sbuf_vformat_small(small, sizeof(small), &spill, &n, fmt, ap);
    va_end(ap);
    int r = qfile_put(w, type, text ? text : "", text ? n : 0);
    sbuf_free(spill);
    return r;
}

int qfile_put_line(struct qfile_writer *w, const char *line, size_t len)
{
    while (len > QFILE_LINE_CHUNK) {
        if (qfile_put(w, REC_CONT, line, QFILE_LINE_CHUNK) < 0)
            return -1;
        line += QFILE_LINE_CHUNK;
        len -= QFILE_LINE_CHUNK;
    }
    return qfile_put(w, REC_NORM, line, len);
}

off_t qfile_writer_offset(const struct qfile_writer *w)
{
    return w->base + (off_t)sbuf_len(w->wbuf);
}

/* Offset of a fixed-width record's data: the record's offset plus the type
 * byte and its one-byte length (fixed-width records are shorter than 128
 * bytes, so the varint length is one byte). */
#define QFILE_FIXED_DATA(rec_offset) ((rec_offset) + 2)

static int qfile_pwrite_all(int fd, off_t offset, const void *data, size_t len)
{
    ssize_t n;
    do
        n = pwrite(fd, data, len, offset);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)len ? 0 : -1;
}

int qfile_writer_set_size(struct qfile_writer *w, const struct qfile_size *sz)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), QFILE_SIZE_FMT, sz->content_size, sz->data_offset,
                     sz->rcpt_count, sz->qmgr_flags, sz->content_length, sz->smtputf8);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    /* The C record is the first record of the file: while the file is
     * still all in the buffer, it is changed there and written with the
     * rest (one write per message instead of two). */
    size_t at = QFILE_FIXED_DATA(0);
    if (w->base == 0 && sbuf_len(w->wbuf) >= at + (size_t)n) {
        memcpy(sbuf_data(w->wbuf) + at, buf, (size_t)n);
        return 0;
    }
    if (qfile_writer_flush(w) < 0)
        return -1;
    return qfile_pwrite_all(w->fd, (off_t)at, buf, (size_t)n);
}

int qfile_writer_mark_done(struct qfile_writer *w, off_t offset)
{
    if (qfile_writer_flush(w) < 0)
        return -1;
    return qfile_mark_done(w->fd, offset);
}

int qfile_commit(struct qfile_writer *w)
{
    if (qfile_writer_flush(w) < 0)
        return -1;
    /* Every record is written at or before base (the C record and marks
     * are rewritten in place), so base is the new end of the file. */
    if (w->old_size > w->base && ftruncate(w->fd, w->base) < 0)
        return -1;
    if (fchmod(w->fd, 0700) < 0)
        return -1;
    if (fsync(w->fd) < 0)
        return -1;
    return 0;
}

void qfile_writer_free(struct qfile_writer *w)
{
    if (w == NULL)
        return;
    if (w->fd >= 0)
        close(w->fd);
    sbuf_free(w->wbuf);
    xfree(w);
}

/* ---- reading ---- */

struct qfile_reader {
    int fd;
    off_t base;         /* file offset of buf[0] */
    char buf[65536];
    size_t pos, len;
    unsigned jumps;     /* pointer records followed since the caller's last seek */
    off_t eof;          /* end of file seen by the last short read; -1: unknown */
};

struct qfile_reader *qfile_from_fd(int fd)
{
    struct qfile_reader *r = xmalloc(sizeof(*r));
    r->fd = fd;
    r->base = 0;
    r->pos = r->len = 0;
    r->jumps = 0;
    r->eof = -1;
    return r;
}

struct qfile_reader *qfile_open(const char *path, int oflags)
{
    int fd = open(path, oflags | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    return qfile_from_fd(fd);
}

int qfile_reader_fd(const struct qfile_reader *r)
{
    return r->fd;
}

void qfile_close(struct qfile_reader *r)
{
    if (r == NULL)
        return;
    close(r->fd);
    xfree(r);
}

int qfile_seek(struct qfile_reader *r, off_t offset)
{
    r->jumps = 0;
    if (offset >= r->base && offset <= r->base + (off_t)r->len) {
        r->pos = (size_t)(offset - r->base);
        return 0;
    }
    r->base = offset;
    r->pos = r->len = 0;
    r->eof = -1;
    return 0;
}

int qfile_seek_reread(struct qfile_reader *r, off_t offset)
{
    r->base = offset;
    r->pos = r->len = 0;
    r->eof = -1;
    return 0;
}

/* Makes at least n bytes available at pos; returns available count.
 * A short read of a regular file ends at its end: reads at that offset
 * are not repeated (a queue file is read to its end and then asked for the
 * next record once or twice more: two pread calls per reader saved). */
static size_t qfile_fill(struct qfile_reader *r, size_t n)
{
    if (r->len - r->pos >= n)
        return r->len - r->pos;
    /* Compact only when n bytes from pos would not fit: a file smaller
     * than the buffer then stays in it from its first byte, and a seek back
     * (to the content after the envelope; pickup's second pass over a
     * maildrop file) costs no second read. */
    if (r->pos > 0 && sizeof(r->buf) - r->pos < n) {
        memmove(r->buf, r->buf + r->pos, r->len - r->pos);
        r->base += (off_t)r->pos;
        r->len -= r->pos;
        r->pos = 0;
    }
    while (r->len - r->pos < n && r->len < sizeof(r->buf) && r->base + (off_t)r->len != r->eof) {
        size_t want = sizeof(r->buf) - r->len;
        ssize_t got = pread(r->fd, r->buf + r->len, want, r->base + (off_t)r->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        r->len += (size_t)got;
        if ((size_t)got < want)
            r->eof = r->base + (off_t)r->len;
    }
    return r->len - r->pos;
}

/* True when the buffer already holds a whole record header (type and
 * length). Then no read is needed for it: asking for 16 bytes near the end
 * of the file would cost a pread() that can only return 0. */
static bool qfile_have_header(const struct qfile_reader *r)
{
    const unsigned char *p = (const unsigned char *)r->buf + r->pos;
    size_t avail = r->len - r->pos;
    for (size_t i = 1; i < avail && i <= 5; i++)
        if (!(p[i] & 0x80))
            return true;
    return false;
}

static int qfile_get_one(struct qfile_reader *r, struct sbuf *data, off_t *offset)
{
    size_t avail = qfile_have_header(r) ? r->len - r->pos : qfile_fill(r, 16);
    if (avail == 0)
        return QFILE_E_EOF;
    if (offset)
        *offset = r->base + (off_t)r->pos;
    const unsigned char *p = (const unsigned char *)r->buf + r->pos;
    int type = p[0];
    size_t len = 0, i = 1;
    int shift = 0;
    for (;;) {
        if (i >= avail || shift > 28)
            return QFILE_E_CORRUPT;
        len |= (size_t)(p[i] & 0x7f) << shift;
        if (!(p[i++] & 0x80))
            break;
        shift += 7;
    }
    if (len > QFILE_REC_MAX)
        return QFILE_E_CORRUPT;
    r->pos += i;
    sbuf_reset(data);
    while (len > 0) {
        avail = qfile_fill(r, len < sizeof(r->buf) ? len : sizeof(r->buf));
        if (avail == 0)
            return QFILE_E_CORRUPT;     /* truncated record */
        size_t take = avail < len ? avail : len;
        sbuf_append(data, r->buf + r->pos, take);
        r->pos += take;
        len -= take;
    }
    return type;
}

/* Pointer records are followed here, so that every reader sees the content
 * in its logical order: cleanup writes a header it can only compute at the
 * end of the message (DKIM-Signature) after the body, with a pointer back
 * to the start of the content (docs/queue-file.md "Pointer records"). */
int qfile_get(struct qfile_reader *r, struct sbuf *data, off_t *offset)
{
    for (int hops = 0;; hops++) {
        int type = qfile_get_one(r, data, offset);
        if (type != REC_PTR)
            return type;
        char *end;
        long target = strtol(sbuf_str(data), &end, 10);
        /* A pointer may lead back (DKIM headers point back to the content),
         * so a damaged file could loop: bound the jumps per read-through as
         * well as in a row, and call such a file corrupt. */
        if (end == sbuf_str(data) || *end || target < 0 || hops >= QFILE_PTR_HOPS
            || r->jumps >= QFILE_PTR_TOTAL)
            return QFILE_E_CORRUPT;
        if (target > 0) {
            unsigned jumps = r->jumps;
            qfile_seek(r, (off_t)target);
            r->jumps = jumps;
        }
        r->jumps++;
    }
}

int qfile_get_stream(struct stream *s, struct sbuf *data, size_t max)
{
    int type = stream_getc(s);
    if (type < 0)
        return type == STREAM_E_EOF ? QFILE_E_EOF : QFILE_E_IO;
    size_t len = 0;
    int shift = 0;
    for (;;) {
        int c = stream_getc(s);
        if (c < 0)
            return QFILE_E_IO;
        if (shift > 28)
            return QFILE_E_CORRUPT;
        len |= (size_t)(c & 0x7f) << shift;
        if (!(c & 0x80))
            break;
        shift += 7;
    }
    if (len > max)
        return QFILE_E_CORRUPT;
    sbuf_reset(data);
    sbuf_reserve(data, len);
    if (len > 0) {
        if (stream_read(s, sbuf_data(data), len) < 0)
            return QFILE_E_IO;
        data->len = len;
        data->data[len] = 0;
    }
    return type;
}

/* Straight into the stream's buffer: smtpd sends every line of every
 * message this way, and a buffer per record cost two mallocs a line. */
int qfile_put_stream(struct stream *s, int type, const void *data, size_t len)
{
    unsigned char hdr[QFILE_HDR_MAX];
    int r = stream_write(s, hdr, qfile_header(hdr, type, len));
    return r < 0 ? r : stream_write(s, data, len);
}

int qfile_mark_done(int fd, off_t offset)
{
    char d = REC_DONE;
    return qfile_pwrite_all(fd, offset, &d, 1);
}

bool qfile_rcpt_is_done(int fd, off_t offset)
{
    char c;
    ssize_t n;
    do
        n = pread(fd, &c, 1, offset);
    while (n < 0 && errno == EINTR);
    return n == 1 && c == REC_DONE;
}

int qfile_set_warn(int fd, off_t warn_offset, long when)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), QFILE_WARN_FMT, when);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    return qfile_pwrite_all(fd, QFILE_FIXED_DATA(warn_offset), buf, (size_t)n);
}

/* ---- envelope ---- */

/* The decimal numbers of a record, separated by white space, into
 * fields[] in order; it stops at the first that is not a number, leaving
 * that field and those after it as they were. (sscanf did the same, at
 * several times the cost, for every queue file qmgr and the agents read.) */
static void qfile_numbers(const char *v, long *const fields[], size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char *end;
        long x = strtol(v, &end, 10);
        if (end == v)
            return;
        *fields[i] = x;
        v = end;
    }
}

static void qenv_add_rcpt(struct qenv *env, const char *addr, off_t off, bool done,
                          char **orig, char **orcpt, int *notify)
{
    if (env->nrcpt == env->rcpt_cap) {
        env->rcpt_cap = env->rcpt_cap ? env->rcpt_cap * 2 : 8;
        env->rcpts = xreallocarray(env->rcpts, env->rcpt_cap, sizeof(*env->rcpts));
    }
    struct qenv_rcpt *rc = &env->rcpts[env->nrcpt++];
    rc->address = xstrdup(addr);
    rc->orig = *orig;
    rc->dsn_orcpt = *orcpt;
    rc->notify = *notify;
    rc->offset = off;
    rc->done = done;
    *orig = NULL;
    *orcpt = NULL;
    *notify = 0;
}

int qenv_load(struct qfile_reader *r, struct qenv *env)
{
    struct sbuf *data = sbuf_new(256);
    char *orig = NULL, *orcpt = NULL;
    int notify = 0;
    int result = QFILE_E_CORRUPT;
    bool in_content = false, saw_end = false;
    off_t off;

    memset(env, 0, sizeof(*env));
    env->warn_offset = -1;
    env->attrs = attr_list_new();
    env->attrs->max_count = 100000;
    /* Read the file again: recipients may have been marked done since. */
    qfile_seek_reread(r, 0);
    for (;;) {
        int type = qfile_get(r, data, &off);
        if (type < 0) {
            result = type == QFILE_E_EOF ? QFILE_E_CORRUPT : type;
            break;
        }
        const char *v = sbuf_str(data);
        if (in_content) {
            if (type == REC_XTRA)
                in_content = false;
            else if (type != REC_NORM && type != REC_CONT)
                break;
            continue;
        }
        switch (type) {
        case REC_SIZE: {
            long offset = (long)env->content_offset;
            long *const fields[] = { &env->content_size, &offset, &env->rcpt_total,
                                     &env->qmgr_flags };
            qfile_numbers(v, fields, ARRAY_LEN(fields));
            env->content_offset = (off_t)offset;
            break;
        }
        case REC_TIME: {
            long *const fields[] = { &env->arrival_sec, &env->arrival_usec };
            qfile_numbers(v, fields, ARRAY_LEN(fields));
            break;
        }
        case REC_CTIME:
            env->create_time = strtol(v, NULL, 10);
            break;
        case REC_FULLNAME:
            xfree(env->fullname);
            env->fullname = xstrdup(v);
            break;
        case REC_FILTER:
            xfree(env->filter);
            env->filter = xstrdup(v);
            break;
        case REC_SENDER:
            xfree(env->sender);
            env->sender = xstrdup(v);
            break;
        case REC_ORCPT:
            xfree(orig);
            orig = xstrdup(v);
            break;
        case REC_DSN_ORCPT:
            xfree(orcpt);
            orcpt = xstrdup(v);
            break;
        case REC_DSN_NOTIFY:
            notify = (int)strtol(v, NULL, 10);
            break;
        case REC_RCPT:
        case REC_DONE:
            qenv_add_rcpt(env, v, off, type == REC_DONE, &orig, &orcpt, &notify);
            break;
        case REC_ATTR: {
            const char *eq = strchr(v, '=');
            if (eq) {
                char *name = xstrndup(v, (size_t)(eq - v));
                attr_add(env->attrs, name, eq + 1);
                xfree(name);
            }
            break;
        }
        case REC_WARN:
            env->warn_time = strtol(v, NULL, 10);
            env->warn_offset = off;
            break;
        case REC_DSN_RET:
            env->ret = (int)strtol(v, NULL, 10);
            break;
        case REC_DSN_ENVID:
            xfree(env->envid);
            env->envid = xstrdup(v);
            break;
        case REC_VERP:
            xfree(env->verp_delims);
            env->verp_delims = strlen(v) == 2 ? xstrdup(v) : NULL;
            break;
        case REC_ERTO:
            xfree(env->errors_to);
            env->errors_to = xstrdup(v);
            break;
        case REC_RRTO:
            xfree(env->return_receipt);
            env->return_receipt = xstrdup(v);
            break;
        case REC_MESG:
            if (env->content_offset == 0)
                env->content_offset = off + 2;
            in_content = true;
            break;
        case REC_END:
            saw_end = true;
            break;
        default:
            break;      /* unknown envelope records are skipped */
        }
        if (saw_end) {
            result = env->sender ? 0 : QFILE_E_CORRUPT;
            break;
        }
    }
    xfree(orig);
    xfree(orcpt);
    sbuf_free(data);
    return result;
}

void qenv_free(struct qenv *env)
{
    for (size_t i = 0; i < env->nrcpt; i++) {
        xfree(env->rcpts[i].address);
        xfree(env->rcpts[i].orig);
        xfree(env->rcpts[i].dsn_orcpt);
    }
    xfree(env->rcpts);
    xfree(env->sender);
    xfree(env->fullname);
    xfree(env->filter);
    xfree(env->envid);
    xfree(env->errors_to);
    xfree(env->return_receipt);
    xfree(env->verp_delims);
    attr_list_free(env->attrs);
    memset(env, 0, sizeof(*env));
}
