/*
 * cleanup_clnt.c - client side of the cleanup protocol
 *
 * Used by: smtpd, pickup, bounce, local.
 * Interface: see cleanup_clnt.h.
 * Errors: see cleanup_clnt.h.
 */
#include "cleanup_clnt.h"
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "qfile.h"
#include "stream.h"
#include <string.h>
#include <strings.h>
#include <sys/mman.h>

struct cleanup_clnt {
    struct stream *s;
    char queue_id[64];
    bool failed;
    bool ended;
    bool greeting_pending;      /* cleanup_open_async(): greeting not read yet */
    int flags;                  /* as sent, for cleanup_resend() */
    struct sbuf *resend;        /* kept connection, greeting not read: all sent */
    int spool_fd;               /* >= 0: records go here (milters), not to cleanup */
    struct sbuf *spool_buf;     /* records not yet written to spool_fd */
};

/* cleanup_keep_connections(): the connection cleanup offered to keep. */
static struct {
    bool on;
    struct stream *s;
    double since;       /* when it was kept */
} cleanup_kept;

/* Writes the spool buffer out; false on error. */
static bool cleanup_spool_flush(struct cleanup_clnt *c)
{
    const char *p = sbuf_str(c->spool_buf);
    size_t left = sbuf_len(c->spool_buf);
    while (left > 0) {
        ssize_t n = write(c->spool_fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_warn("%s: milter spool write: %m", c->queue_id);
            return false;
        }
        p += n;
        left -= (size_t)n;
    }
    sbuf_reset(c->spool_buf);
    return true;
}

int cleanup_spool_begin(struct cleanup_clnt *c)
{
    if (c->spool_fd >= 0)
        return 0;
    int fd = memfd_create("postern-milter-spool", MFD_CLOEXEC);
    if (fd < 0) {
        log_warn("%s: milter spool: memfd_create: %m", c->queue_id);
        return -1;
    }
    c->spool_fd = fd;
    c->spool_buf = sbuf_new(65536);
    return 0;
}

int cleanup_spool_end(struct cleanup_clnt *c)
{
    int fd = c->spool_fd;
    if (fd < 0)
        return -1;
    bool ok = !c->failed && cleanup_spool_flush(c);
    sbuf_free(c->spool_buf);
    c->spool_buf = NULL;
    c->spool_fd = -1;
    c->ended = false;       /* an E in the spool is not sent yet */
    if (!ok) {
        close(fd);
        c->failed = true;
        return -1;
    }
    return fd;
}

bool cleanup_spooling(const struct cleanup_clnt *c)
{
    return c->spool_fd >= 0;
}

/*
 * A list-valued setting parsed into bits, once per value: smtpd and pickup
 * ask for every message, so the answer is kept and the list is parsed (and
 * an unknown word warned about) again only when the value changes.
 */
struct bits_cache {
    char *value;        /* the value the bits were parsed from */
    unsigned bits;
};

static unsigned bits_parse(struct bits_cache *c, const char *param, const char *const *words)
{
    const char *value = cfg_str(param);
    if (c->value && strcmp(c->value, value) == 0)
        return c->bits;
    xfree(c->value);
    c->value = xstrdup(value);
    c->bits = 0;
    char **list = cfg_list(value);
    for (char **p = list; *p; p++) {
        size_t i;
        for (i = 0; words[i] && strcasecmp(*p, words[i]) != 0; i++)
            ;
        if (words[i])
            c->bits |= 1u << i;
        else
            log_warn("%s: unknown value ignored: %s", param, *p);
    }
    cfg_list_free(list);
    return c->bits;
}

static const char *const ro_words[] = {
    "no_address_mappings", "no_header_body_checks", "no_unknown_recipient_checks",
    "no_milters", NULL,
};

static unsigned ro_bits(void)
{
    static struct bits_cache cache;
    return bits_parse(&cache, P_RECEIVE_OVERRIDE_OPTIONS, ro_words);
}

int cleanup_input_flags(int flags)
{
    unsigned bits = ro_bits();
    if (bits & 1u << 0)
        flags &= ~(CLEANUP_FLAG_MAP_OK | CLEANUP_FLAG_BCC_OK);
    if (bits & 1u << 1)
        flags &= ~CLEANUP_FLAG_HEADER_CHECKS;
    return flags;
}

bool receive_override_has(const char *name)
{
    unsigned bits = ro_bits();
    for (size_t i = 0; ro_words[i]; i++)
        if (strcasecmp(ro_words[i], name) == 0)
            return (bits & 1u << i) != 0;
    return false;
}

int cleanup_dkim_flags(bool mynetworks, bool sasl, bool local)
{
    static const char *const words[] = {
        "permit_mynetworks", "permit_sasl_authenticated", "permit_local_submission", NULL,
    };
    static struct bits_cache cache;
    if (!cfg_bool(P_POSTERN_DKIM_ENABLE))
        return 0;
    unsigned bits = bits_parse(&cache, P_POSTERN_DKIM_SIGN_CLIENTS, words);
    return ((bits & 1u << 0) && mynetworks) || ((bits & 1u << 1) && sasl)
                   || ((bits & 1u << 2) && local)
               ? CLEANUP_FLAG_DKIM
               : 0;
}

void cleanup_keep_connections(bool on)
{
    cleanup_kept.on = on;
    if (!on)
        cleanup_release();
}

void cleanup_release(void)
{
    stream_close(cleanup_kept.s);
    cleanup_kept.s = NULL;
}

double cleanup_kept_due(void)
{
    if (cleanup_kept.s == NULL)
        return -1;
    double left = cleanup_kept.since + CLEANUP_KEEP_CLIENT_IDLE - event_now();
    return left > 0 ? left : 0;
}

void cleanup_kept_idle(void)
{
    if (cleanup_kept_due() == 0)
        cleanup_release();
}

/* The kept connection if it is fresh enough to use (cleanup closes one
 * idle for CLEANUP_KEEP_IDLE), else NULL. */
static struct stream *cleanup_take_kept(void)
{
    cleanup_kept_idle();
    struct stream *s = cleanup_kept.s;
    cleanup_kept.s = NULL;
    return s;
}

static int cleanup_send_flags(struct stream *s, int flags)
{
    char fl[32];
    snprintf(fl, sizeof(fl), "%d", flags);
    return attr_send(s, "flags", fl, cleanup_kept.on ? CLEANUP_ATTR_KEEP : (char *)NULL, "1",
                     (char *)NULL);
}

/* The flags go out at once: cleanup sends its greeting (protocol, queue
 * ID) as soon as it has them, and reads the records next. */
struct cleanup_clnt *cleanup_open_async(int flags)
{
    struct stream *s = cleanup_kept.on ? cleanup_take_kept() : NULL;
    bool kept = s != NULL;
    if (!kept)
        s = mail_connect(MAIL_CLASS_PUBLIC, MAIL_SERVICE_CLEANUP, NULL);
    if (s == NULL)
        return NULL;
    struct cleanup_clnt *c = xcalloc(1, sizeof(*c));
    c->s = s;
    c->spool_fd = -1;
    c->greeting_pending = true;
    c->flags = flags;
    if (kept)
        c->resend = sbuf_new(1024);
    if (cleanup_send_flags(s, flags) < 0)
        c->failed = true;   /* on a kept connection, cleanup_greeting() resends */
    return c;
}

/* A kept connection that cleanup closed (idle, reload, a crash) as this
 * message went out on it: cleanup promised nothing there, so the message
 * starts again on a new connection with what was sent so far. 0, or -1. */
static int cleanup_resend(struct cleanup_clnt *c)
{
    struct sbuf *sent = c->resend;
    c->resend = NULL;
    c->failed = false;
    stream_close(c->s);
    log_debug(1, "cleanup: kept connection gone; sending the message on a new one");
    c->s = mail_connect(MAIL_CLASS_PUBLIC, MAIL_SERVICE_CLEANUP, NULL);
    if (c->s == NULL || cleanup_send_flags(c->s, c->flags) < 0
        || stream_write(c->s, sbuf_data(sent), sbuf_len(sent)) < 0)
        c->failed = true;
    sbuf_free(sent);
    return c->failed ? -1 : 0;
}

int cleanup_greeting(struct cleanup_clnt *c)
{
    if (!c->greeting_pending)
        return c->queue_id[0] ? 0 : -1;
    int r = c->failed ? STREAM_E_IO : attr_expect_proto(c->s, MAIL_PROTO_CLEANUP);
    /* Only a connection that is gone (EOF, an error) is replaced: nothing
     * sent on it can be queued there. A timeout fails as before. */
    if ((r == STREAM_E_EOF || r == STREAM_E_IO) && c->resend && cleanup_resend(c) == 0)
        r = attr_expect_proto(c->s, MAIL_PROTO_CLEANUP);
    c->greeting_pending = false;
    sbuf_free(c->resend);
    c->resend = NULL;
    if (r < 0) {
        log_warn("cleanup: bad or missing greeting (want %s): %s", MAIL_PROTO_CLEANUP,
                 r == ATTR_E_PROTO ? "protocol mismatch" : stream_strerror(r));
        c->failed = true;
        return -1;
    }
    struct attr_list *l = attr_list_new();
    r = attr_read(c->s, l);
    const char *id = r == 0 ? attr_get(l, "queue_id") : NULL;
    if (id == NULL) {
        log_warn("cleanup: no queue_id in greeting: %s", r ? stream_strerror(r) : "missing");
        c->failed = true;
    } else
        strlcpy(c->queue_id, id, sizeof(c->queue_id));
    attr_list_free(l);
    return id ? 0 : -1;
}

struct cleanup_clnt *cleanup_open(int flags)
{
    struct cleanup_clnt *c = cleanup_open_async(flags);
    if (c && cleanup_greeting(c) < 0) {
        stream_close(c->s);
        xfree(c);
        return NULL;
    }
    return c;
}

const char *cleanup_queue_id(const struct cleanup_clnt *c)
{
    return c->queue_id;
}

int cleanup_rec(struct cleanup_clnt *c, int type, const void *data, size_t len)
{
    if (c->failed && c->resend == NULL)
        return -1;
    if (type == REC_END)
        c->ended = true;
    if (c->spool_fd >= 0) {
        qfile_encode(c->spool_buf, type, data, len);
        if (sbuf_len(c->spool_buf) >= 65536 && !cleanup_spool_flush(c))
            c->failed = true;
        return c->failed ? -1 : 0;
    }
    if (c->resend) {    /* kept connection, greeting not read (cleanup_resend) */
        qfile_encode(c->resend, type, data, len);
        if (sbuf_len(c->resend) > CLEANUP_RESEND_MAX) {
            sbuf_free(c->resend);
            c->resend = NULL;
        }
        if (c->failed)  /* the connection broke already: wait for the greeting */
            return c->resend ? 0 : -1;
    }
    if (qfile_put_stream(c->s, type, data, len) < 0)
        c->failed = true;
    return c->failed && c->resend == NULL ? -1 : 0;
}

int cleanup_recs(struct cleanup_clnt *c, int type, const char *str)
{
    return cleanup_rec(c, type, str, strlen(str));
}

int cleanup_recf(struct cleanup_clnt *c, int type, const char *fmt, ...)
{
    struct sbuf *b = sbuf_new(128);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vcatf(b, fmt, ap);
    va_end(ap);
    int r = cleanup_rec(c, type, sbuf_str(b), sbuf_len(b));
    sbuf_free(b);
    return r;
}

int cleanup_line(struct cleanup_clnt *c, const char *line, size_t len)
{
    while (len > QFILE_LINE_CHUNK) {
        if (cleanup_rec(c, REC_CONT, line, QFILE_LINE_CHUNK) < 0)
            return -1;
        line += QFILE_LINE_CHUNK;
        len -= QFILE_LINE_CHUNK;
    }
    return cleanup_rec(c, REC_NORM, line, len);
}

int cleanup_finish(struct cleanup_clnt *c, struct sbuf *reason)
{
    int status = CLEANUP_STAT_WRITE;
    if (reason)
        sbuf_reset(reason);     /* never hand back a previous message's text */
    if (c->spool_fd >= 0) {     /* spooled and never replayed: a bug */
        log_warn("%s: cleanup_finish with an unsent milter spool", c->queue_id);
        int fd = cleanup_spool_end(c);
        if (fd >= 0)
            close(fd);
        c->failed = true;
    }
    if (!c->ended) {
        cleanup_rec(c, REC_XTRA, "", 0);
        cleanup_rec(c, REC_END, "", 0);
    }
    if (c->greeting_pending && (!c->failed || c->resend))
        cleanup_greeting(c);    /* it comes before the verdict */
    bool keep = false;
    /* The verdict comes after cleanup's fsync: wait for it, do not read
     * first and find nothing. */
    if (!c->failed)
        stream_set_reply_wait(c->s, true);
    if (!c->failed && stream_flush(c->s) == 0) {
        struct attr_list *l = attr_list_new();
        long st;
        int r = attr_read(c->s, l);
        if (r == 0 && attr_get_long(l, "status", &st) == 0) {
            status = (int)st;
            if (reason)
                sbuf_set(reason, attr_get_def(l, "reason", ""));
            keep = cleanup_kept.on && attr_get(l, CLEANUP_ATTR_MORE) != NULL;
        } else if (r == STREAM_E_EOF || r == STREAM_E_IO) {
            /* cleanup died after reading the whole message. Whether the
             * message was queued is written in the queue itself: cleanup
             * answers errors before it removes a file, and a file it did
             * not finish stays behind without the "complete" bit. */
            int q = mail_queue_probe(c->queue_id);
            if (q == MAIL_QUEUE_PROBE_COMPLETE || q == MAIL_QUEUE_PROBE_ABSENT) {
                log_warn("%s: cleanup went away after queuing the message; accepted", c->queue_id);
                status = CLEANUP_STAT_OK;
            }
        }
        attr_list_free(l);
    }
    if (status == CLEANUP_STAT_WRITE && reason && sbuf_len(reason) == 0)
        sbuf_set(reason, "4.3.0 queue file write error");
    if (keep && stream_pending(c->s) == 0) {
        cleanup_release();
        cleanup_kept.s = c->s;
        cleanup_kept.since = event_now();
    } else
        stream_close(c->s);
    sbuf_free(c->resend);
    xfree(c);
    return status;
}

void cleanup_abort(struct cleanup_clnt *c)
{
    if (c == NULL)
        return;
    if (c->spool_fd >= 0)
        close(c->spool_fd);
    sbuf_free(c->spool_buf);
    sbuf_free(c->resend);
    stream_close(c->s);
    xfree(c);
}
