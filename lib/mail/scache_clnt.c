/*
 * scache_clnt.c - client of the scache connection cache service
 *
 * Used by: smtp, lmtp.
 * Interface: see scache_clnt.h.
 * Errors: see scache_clnt.h; after a failure no new connection to the
 *         service is tried for SCACHE_CLNT_RETRY seconds.
 * Notes: one connection per process, opened on first use and kept; a
 *        connection that turns out dead on reuse is replaced once.
 */
#include "scache_clnt.h"
#include "alloc.h"
#include "attr.h"
#include "log.h"
#include "mail_proto.h"
#include "sock.h"
#include "stream.h"

#define SCACHE_CLNT_RETRY 30    /* seconds without retries after a failure */

struct scache_clnt {
    char *service;
    int timeout;
    struct stream *s;
    time_t retry_after;
    bool warned;
    bool reply_pending;         /* a save's answer is still to be read */
    struct attr_list *reply;
};

struct scache_clnt *scache_clnt_new(const char *service, int timeout)
{
    struct scache_clnt *c = xcalloc(1, sizeof(*c));
    c->service = xstrdup(service);
    c->timeout = timeout > 0 ? timeout : 5;
    c->reply = attr_list_new();
    c->reply->max_count = 8;        /* no reply has more attributes */
    return c;
}

static void scache_clnt_close(struct scache_clnt *c)
{
    stream_close(c->s);
    c->s = NULL;
    c->reply_pending = false;
}

void scache_clnt_free(struct scache_clnt *c)
{
    if (c == NULL)
        return;
    scache_clnt_close(c);
    attr_list_free(c->reply);
    xfree(c->service);
    xfree(c);
}

static void scache_clnt_trouble(struct scache_clnt *c, const char *what)
{
    if (!c->warned)
        log_warn("problem talking to service private/%s: %s", c->service, what);
    c->warned = true;
    scache_clnt_close(c);
    c->retry_after = time(NULL) + SCACHE_CLNT_RETRY;
}

static bool scache_clnt_open(struct scache_clnt *c)
{
    if (c->s)
        return true;
    if (time(NULL) < c->retry_after)
        return false;
    struct sbuf *path = sbuf_new(64);
    mail_service_path(path, MAIL_CLASS_PRIVATE, c->service, false);
    int fd = sock_unix_connect(sbuf_str(path), c->timeout);
    sbuf_free(path);
    if (fd < 0) {
        scache_clnt_trouble(c, strerror(errno));
        return false;
    }
    c->s = stream_open(fd);
    stream_set_timeout(c->s, c->timeout);
    int r = attr_expect_proto(c->s, SCACHE_PROTO);
    if (r < 0) {
        scache_clnt_trouble(c, r == ATTR_E_PROTO ? "protocol mismatch" : stream_strerror(r));
        return false;
    }
    return true;
}

/* One exchange on an open connection. Returns 1 done (found, or save
 * sent), 0 done (not found), -1 broken connection. A save is not waited
 * for: the caller has nothing to do with its answer, so it is read before
 * the next request (by then it is there), or never when the process ends. */
static int scache_clnt_exchange(struct scache_clnt *c, char byte, int fd, struct attr_list *req,
                                int *fd_out, struct sbuf *props)
{
    int sock = stream_fd(c->s);
    if (c->reply_pending) {
        long status = -1;
        if (attr_read(c->s, c->reply) < 0)
            return -1;
        c->reply_pending = false;
        if (attr_get_long(c->reply, "status", &status) != 0 || status != 0)
            log_debug(1, "scache: a connection was not saved");
    }
    if (stream_pending(c->s) > 0)
        return -1;      /* unread junk: never mix it with a descriptor */
    if (sock_send_fd(sock, fd, byte, c->timeout) < 0)
        return -1;
    if (attr_write(c->s, req) < 0 || stream_flush(c->s) < 0)
        return -1;
    if (byte == SCACHE_BYTE_SAVE) {
        c->reply_pending = true;
        return 1;
    }
    if (fd_out) {
        char got = 0;
        int rfd = -1;
        if (sock_recv_fd(sock, &got, &rfd, c->timeout) < 0)
            return -1;
        if ((got == SCACHE_BYTE_FOUND) != (rfd >= 0) || (got != SCACHE_BYTE_FOUND
                                                         && got != SCACHE_BYTE_NONE)) {
            if (rfd >= 0)
                close(rfd);
            return -1;
        }
        if (attr_read(c->s, c->reply) < 0) {
            if (rfd >= 0)
                close(rfd);
            return -1;
        }
        *fd_out = rfd;
        if (rfd >= 0 && props)
            sbuf_set(props, attr_get_def(c->reply, "props", ""));
        return rfd >= 0;
    }
    return -1;          /* only a find waits for its answer */
}

/* Runs one request, retrying once on a fresh connection when a kept one
 * turns out dead (scache restarted). */
static int scache_clnt_request(struct scache_clnt *c, char byte, int fd, struct attr_list *req,
                               int *fd_out, struct sbuf *props)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = c->s != NULL;
        if (!scache_clnt_open(c))
            return 0;
        int r = scache_clnt_exchange(c, byte, fd, req, fd_out, props);
        if (r >= 0) {
            c->warned = false;
            return r;
        }
        scache_clnt_close(c);
        if (!reused) {
            scache_clnt_trouble(c, "lost connection");
            return 0;
        }
    }
    return 0;
}

int scache_clnt_save(struct scache_clnt *c, const char *endp_label, const char *dest_label,
                     const char *props, int ttl, int fd)
{
    struct attr_list *req = attr_list_new();
    attr_add(req, "request", SCACHE_REQ_SAVE);
    attr_add(req, "endp_label", endp_label);
    attr_add(req, "dest_label", dest_label ? dest_label : "");
    attr_add(req, "props", props);
    attr_add_long(req, "ttl", ttl);
    int r = scache_clnt_request(c, SCACHE_BYTE_SAVE, fd, req, NULL, NULL);
    attr_list_free(req);
    close(fd);
    return r == 1 ? 0 : -1;
}

int scache_clnt_find(struct scache_clnt *c, bool by_dest, const char *label, struct sbuf *props)
{
    struct attr_list *req = attr_list_new();
    attr_add(req, "request", by_dest ? SCACHE_REQ_FIND_DEST : SCACHE_REQ_FIND_ENDP);
    attr_add(req, "label", label);
    int fd = -1;
    int r = scache_clnt_request(c, SCACHE_BYTE_FIND, -1, req, &fd, props);
    attr_list_free(req);
    return r == 1 ? fd : -1;
}
