/*
 * smtp_sink_dump.c - capture mail transactions to files (-d, -D)
 *
 * Used by: smtp_sink_proto.c.
 * Interface: sink_dump_begin(), sink_dump_line(), sink_dump_bytes(),
 *            sink_dump_finish(), sink_dump_abort().
 * Errors: a file that cannot be written is reported with log_warn and the
 *         transaction is still accepted (the sink measures clients).
 * Notes: a transaction is collected in memory and written with one write()
 *        when the message is accepted, so concurrent sessions never
 *        interleave in a -D file, and a -d file appears complete: it is
 *        written under a hidden temporary name and renamed into place.
 *        Record layout: optional -S string, X-Client-Addr, X-Client-Proto,
 *        X-Helo-Args (if any), X-Mail-Args, one X-Rcpt-Args per RCPT, a
 *        three-line Received header, the message, one empty line. Lines end
 *        in LF; with -U the message bytes are kept exactly as received
 *        (after removing dot-stuffing), CR LF included.
 */
#include "smtp_sink.h"
#include "alloc.h"
#include "log.h"
#include <fcntl.h>
#include <sys/stat.h>

struct sink_dump {
    struct sbuf *buf;               /* the whole record */
    char id[16];                    /* random part of the name, also in Received */
    bool pending_cr;                /* BDAT: a CR waits to see if LF follows */
    bool at_bol;                    /* last message byte ended a line */
};

/* Eight hexadecimal digits, different for each call. */
static void sink_dump_new_id(char *out, size_t size)
{
    static bool seeded;
    if (!seeded) {
        srandom((unsigned)time(NULL) ^ ((unsigned)getpid() << 16));
        seeded = true;
    }
    snprintf(out, size, "%08lx", (unsigned long)(((unsigned long)random() << 1) ^ (unsigned long)random()) & 0xffffffffUL);
}

struct sink_dump *sink_dump_begin(const char *addr, const char *proto, const char *helo,
                                  const char *mail_args, const struct sbuf *rcpt_args)
{
    if (sink_opts.dump_msg_template == NULL && sink_opts.dump_all_template == NULL)
        return NULL;
    struct sink_dump *d = xcalloc(1, sizeof(*d));
    d->buf = sbuf_new(8192);
    d->at_bol = true;
    sink_dump_new_id(d->id, sizeof(d->id));

    char date[80];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);

    if (sink_opts.start_string)
        sbuf_append(d->buf, sbuf_str(sink_opts.start_string), sbuf_len(sink_opts.start_string));
    sbuf_catf(d->buf, "X-Client-Addr: %s\n", addr);
    sbuf_catf(d->buf, "X-Client-Proto: %s\n", proto);
    if (helo && *helo)
        sbuf_catf(d->buf, "X-Helo-Args: %s\n", helo);
    sbuf_catf(d->buf, "X-Mail-Args: %s\n", mail_args);
    sbuf_append(d->buf, sbuf_str(rcpt_args), sbuf_len(rcpt_args));
    /* The client address appears without the "ipv6:" tag inside brackets. */
    const char *bare = strncmp(addr, "ipv6:", 5) == 0 ? addr + 5 : addr;
    if (helo && *helo)
        sbuf_catf(d->buf, "Received: from %s ([%s])\n", helo, bare);
    else
        sbuf_catf(d->buf, "Received: from [%s] ([%s])\n", bare, bare);
    sbuf_catf(d->buf, "\tby %s (smtp-sink) with %s id %s;\n\t%s\n", sink_opts.hostname, proto,
              d->id, date);
    return d;
}

void sink_dump_line(struct sink_dump *d, const char *data, size_t len, const char *term)
{
    if (d == NULL)
        return;
    sbuf_append(d->buf, data, len);
    if (*term) {
        if (sink_opts.raw_dump)
            sbuf_cat(d->buf, term);
        else
            sbuf_addch(d->buf, '\n');
        d->at_bol = true;
    } else if (len > 0) {
        d->at_bol = false;
    }
}

void sink_dump_bytes(struct sink_dump *d, const char *data, size_t len)
{
    if (d == NULL || len == 0)
        return;
    if (sink_opts.raw_dump) {
        sbuf_append(d->buf, data, len);
        d->at_bol = data[len - 1] == '\n';
        return;
    }
    /* CR LF becomes LF, also when the pair is split across two chunks. */
    for (size_t i = 0; i < len; i++) {
        char ch = data[i];
        if (d->pending_cr) {
            d->pending_cr = false;
            if (ch != '\n')
                sbuf_addch(d->buf, '\r');
        }
        if (ch == '\r') {
            d->pending_cr = true;
            continue;
        }
        sbuf_addch(d->buf, ch);
    }
    d->at_bol = !d->pending_cr && d->buf->len > 0 && d->buf->data[d->buf->len - 1] == '\n';
}

/* Creates the missing directories above path. */
static void sink_dump_mkdirs(const char *path)
{
    char *copy = xstrdup(path);
    for (char *p = copy + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = 0;
        if (mkdir(copy, 0755) < 0 && errno != EEXIST)
            log_warn("mkdir %s: %m", copy);
        *p = '/';
    }
    xfree(copy);
}

/* Writes all of buf to fd; returns 0 or -1. */
static int sink_dump_write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Expands the strftime template; returns new. */
static char *sink_dump_expand(const char *template)
{
    char out[4096];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    size_t n = strftime(out, sizeof(out), template, &tm);
    if (n == 0 && *template)
        log_fatal("dump template expands to nothing or too long: %s", template);
    return xstrdup(out);
}

static int sink_dump_write_one(struct sink_dump *d)
{
    char *base = sink_dump_expand(sink_opts.dump_msg_template);
    struct sbuf *path = sbuf_new(256);
    struct sbuf *tmp = sbuf_new(256);
    int fd = -1;
    int ret = -1;

    sink_dump_mkdirs(base);
    for (int attempt = 0; attempt < 20; attempt++) {
        if (attempt > 0)
            sink_dump_new_id(d->id, sizeof(d->id));
        sbuf_printf(path, "%s%s", base, d->id);
        /* Hidden name in the same directory, so a reader never sees a half file. */
        const char *slash = strrchr(sbuf_str(path), '/');
        size_t dirlen = slash ? (size_t)(slash - sbuf_str(path)) + 1 : 0;
        sbuf_reset(tmp);
        sbuf_append(tmp, sbuf_str(path), dirlen);
        sbuf_catf(tmp, ".%s.tmp", sbuf_str(path) + dirlen);
        if (access(sbuf_str(path), F_OK) == 0)
            continue;
        fd = open(sbuf_str(tmp), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd >= 0 || errno != EEXIST)
            break;
    }
    if (fd < 0) {
        log_warn("create dump file %s: %m", sbuf_str(tmp));
    } else if (sink_dump_write_all(fd, sbuf_str(d->buf), sbuf_len(d->buf)) < 0) {
        log_warn("write dump file %s: %m", sbuf_str(tmp));
        close(fd);
        unlink(sbuf_str(tmp));
    } else if (close(fd) < 0 || rename(sbuf_str(tmp), sbuf_str(path)) < 0) {
        log_warn("finish dump file %s: %m", sbuf_str(path));
        unlink(sbuf_str(tmp));
    } else {
        ret = 0;
    }
    xfree(base);
    sbuf_free(path);
    sbuf_free(tmp);
    return ret;
}

static int sink_dump_append(struct sink_dump *d)
{
    char *path = sink_dump_expand(sink_opts.dump_all_template);
    int ret = -1;
    sink_dump_mkdirs(path);
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        log_warn("open dump file %s: %m", path);
    } else {
        if (sink_dump_write_all(fd, sbuf_str(d->buf), sbuf_len(d->buf)) < 0)
            log_warn("write dump file %s: %m", path);
        else
            ret = 0;
        close(fd);
    }
    xfree(path);
    return ret;
}

int sink_dump_finish(struct sink_dump *d)
{
    if (d == NULL)
        return 0;
    if (d->pending_cr) {
        sbuf_addch(d->buf, '\r');
        d->pending_cr = false;
        d->at_bol = false;
    }
    /* The message ends with a complete line, then one empty line. Raw
     * captures keep the bytes as they came, so a test sees a missing end. */
    if (!d->at_bol && !sink_opts.raw_dump)
        sbuf_addch(d->buf, '\n');
    sbuf_addch(d->buf, '\n');
    int ret = sink_opts.dump_msg_template ? sink_dump_write_one(d) : sink_dump_append(d);
    sink_dump_abort(d);
    return ret;
}

void sink_dump_abort(struct sink_dump *d)
{
    if (d == NULL)
        return;
    sbuf_free(d->buf);
    xfree(d);
}
