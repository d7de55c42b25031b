/*
 * scache.c - the scache service: a shared cache of idle SMTP and LMTP
 *            connections
 *
 * Used by: master (`scache unix - - n - 1 scache`); clients are smtp and
 *          lmtp processes through lib/mail/scache_clnt.c.
 * Interface: main(); requests save, find_endp and find_dest (docs/ipc.md
 *            "scache").
 * Errors: a malformed request, a missing descriptor or a timeout closes
 *         that client's connection (the descriptor it sent, if any, is
 *         closed too); the client then simply opens new connections.
 * Notes: one resident SERVER_MULTI process. A saved connection is one
 *        entry: the descriptor, its endpoint label (server address and
 *        port plus the client settings that shaped the session), an
 *        optional destination label (the next hop it was found for), the
 *        client's properties string, and an expiry time: the client's ttl,
 *        at most $connection_cache_ttl_limit. A find takes the newest
 *        matching entry out of the cache and passes its descriptor to the
 *        client; expired entries are closed by a timer. The descriptor
 *        transfer is bounded by $connection_cache_protocol_timeout. Every
 *        $connection_cache_status_update_time (and at exit) the lookup hit
 *        rates and the largest cache size are logged as "statistics: ..."
 *        lines, then reset.
 */
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "sbuf.h"
#include "scache_clnt.h"
#include "server.h"
#include "sock.h"

/* Most connections kept at once: the oldest goes first beyond this, so a
 * flood of saves cannot use up the process's descriptors. */
#define SCACHE_MAX_ENTRIES 500

struct scache_entry {
    int fd;
    char *endp_label;
    char *dest_label;       /* "" when saved under the endpoint only */
    char *props;
    double expires;
    struct scache_entry *prev, *next;   /* newest first */
};

static struct scache_entry *scache_head, *scache_tail;
static size_t scache_count;
static struct attr_list *scache_req;
static long scache_ttl_limit;
static long scache_status_time;
static int scache_timeout;

/* Statistics since the last report. */
static struct {
    time_t start;
    long dest_hits, dest_miss, endp_hits, endp_miss;
    size_t max_count;
    size_t max_dest;
} scache_stats;

/* ---- the cache --------------------------------------------------------- */

static void scache_unlink(struct scache_entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        scache_head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        scache_tail = e->prev;
    scache_count--;
}

static void scache_expire(void *ctx);

/* Removes e and closes its descriptor. */
static void scache_drop(struct scache_entry *e)
{
    event_timer_del(scache_expire, e);
    scache_unlink(e);
    if (e->fd >= 0)
        close(e->fd);
    xfree(e->endp_label);
    xfree(e->dest_label);
    xfree(e->props);
    xfree(e);
}

/* Timer: e's time to live is over. */
static void scache_expire(void *ctx)
{
    scache_drop(ctx);
}

static size_t scache_count_dest(void)
{
    size_t n = 0;
    for (struct scache_entry *e = scache_head; e; e = e->next)
        if (*e->dest_label)
            n++;
    return n;
}

static void scache_add(int fd, const char *endp, const char *dest, const char *props, long ttl)
{
    while (scache_count >= SCACHE_MAX_ENTRIES && scache_tail)
        scache_drop(scache_tail);
    struct scache_entry *e = xcalloc(1, sizeof(*e));
    e->fd = fd;
    e->endp_label = xstrdup(endp);
    e->dest_label = xstrdup(dest);
    e->props = xstrdup(props);
    if (ttl <= 0 || ttl > scache_ttl_limit)
        ttl = scache_ttl_limit;
    e->expires = event_now() + (double)ttl;
    e->next = scache_head;
    if (scache_head)
        scache_head->prev = e;
    scache_head = e;
    if (scache_tail == NULL)
        scache_tail = e;
    scache_count++;
    event_timer_add((double)ttl, scache_expire, e);
    if (scache_count > scache_stats.max_count)
        scache_stats.max_count = scache_count;
    size_t nd = scache_count_dest();
    if (nd > scache_stats.max_dest)
        scache_stats.max_dest = nd;
}

/* The newest live entry with this label, or NULL. */
static struct scache_entry *scache_lookup(bool by_dest, const char *label)
{
    double now = event_now();
    for (struct scache_entry *e = scache_head; e; e = e->next) {
        if (e->expires <= now)
            continue;
        if (strcmp(by_dest ? e->dest_label : e->endp_label, label) == 0)
            return e;
    }
    return NULL;
}

/* ---- statistics ------------------------------------------------------- */

static void scache_log_rate(const char *what, long hits, long miss)
{
    if (hits + miss == 0)
        return;
    log_info("statistics: %s lookup hits=%ld miss=%ld success=%ld%%", what, hits, miss,
             hits * 100 / (hits + miss));
}

static void scache_log_stats(void)
{
    if (scache_stats.dest_hits + scache_stats.dest_miss + scache_stats.endp_hits
            + scache_stats.endp_miss + (long)scache_stats.max_count == 0) {
        scache_stats.start = time(NULL);
        return;
    }
    char when[64] = "";
    struct tm tm;
    if (localtime_r(&scache_stats.start, &tm))
        strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm);
    log_info("statistics: start interval %s", when);
    scache_log_rate("domain", scache_stats.dest_hits, scache_stats.dest_miss);
    scache_log_rate("address", scache_stats.endp_hits, scache_stats.endp_miss);
    log_info("statistics: max simultaneous domains=%zu connections=%zu", scache_stats.max_dest,
             scache_stats.max_count);
    memset(&scache_stats, 0, sizeof(scache_stats));
    scache_stats.start = time(NULL);
}

static void scache_status_event(void *ctx)
{
    (void)ctx;
    scache_log_stats();
    event_timer_add((double)scache_status_time, scache_status_event, NULL);
}

/* ---- requests ---------------------------------------------------------- */

static bool scache_label_ok(const char *s, size_t max)
{
    return s != NULL && strlen(s) <= max;
}

static int scache_save(struct stream *s, int fd)
{
    const char *endp = attr_get(scache_req, "endp_label");
    const char *dest = attr_get_def(scache_req, "dest_label", "");
    const char *props = attr_get_def(scache_req, "props", "");
    long ttl = 0;
    if (fd < 0 || !scache_label_ok(endp, SCACHE_LABEL_MAX) || *endp == 0
        || !scache_label_ok(dest, SCACHE_LABEL_MAX) || !scache_label_ok(props, SCACHE_PROPS_MAX)
        || attr_get_long(scache_req, "ttl", &ttl) < 0) {
        log_warn("malformed save request");
        if (fd >= 0)
            close(fd);
        return -1;
    }
    scache_add(fd, endp, dest, props, ttl);
    log_debug(1, "save endp=%s dest=%s ttl=%ld", endp, dest, ttl);
    return attr_send(s, "status", "0", (char *)NULL) < 0 ? -1 : 0;
}

static int scache_find(struct stream *s, bool by_dest)
{
    const char *label = attr_get(scache_req, "label");
    if (!scache_label_ok(label, SCACHE_LABEL_MAX)) {
        log_warn("malformed find request");
        return -1;
    }
    struct scache_entry *e = scache_lookup(by_dest, label);
    if (by_dest)
        e ? scache_stats.dest_hits++ : scache_stats.dest_miss++;
    else
        e ? scache_stats.endp_hits++ : scache_stats.endp_miss++;
    log_debug(1, "find %s %s: %s", by_dest ? "dest" : "endp", label, e ? "hit" : "miss");
    if (e == NULL) {
        if (sock_send_fd(stream_fd(s), -1, SCACHE_BYTE_NONE, scache_timeout) < 0)
            return -1;
        return attr_send(s, "status", "1", (char *)NULL) < 0 ? -1 : 0;
    }
    /* The client gets its own copy; ours goes when the entry does. */
    int rc = sock_send_fd(stream_fd(s), e->fd, SCACHE_BYTE_FOUND, scache_timeout);
    if (rc == 0) {
        struct sbuf *props = sbuf_new(64);
        sbuf_set(props, e->props);
        scache_drop(e);
        rc = attr_send(s, "status", "0", "props", sbuf_str(props), (char *)NULL);
        sbuf_free(props);
    }
    return rc < 0 ? -1 : 0;
}

static int scache_request(struct stream *s)
{
    /* The leading raw byte (and a descriptor) must be read directly from
     * the socket: a client that sent more than one request at once has
     * already had bytes buffered, and is dropped. */
    if (stream_pending(s) > 0) {
        log_warn("client sent requests without waiting for replies");
        return -1;
    }
    char byte = 0;
    int fd = -1;
    if (sock_recv_fd(stream_fd(s), &byte, &fd, scache_timeout) < 0) {
        if (errno != ECONNRESET)
            log_warn("receive request: %m");
        return -1;
    }
    stream_set_timeout(s, scache_timeout);
    int r = attr_read(s, scache_req);
    if (r < 0) {
        if (fd >= 0)
            close(fd);
        log_warn("read request: %s", r == ATTR_E_PROTO ? "malformed" : stream_strerror(r));
        return -1;
    }
    const char *req = attr_get_def(scache_req, "request", "");
    if (byte == SCACHE_BYTE_SAVE && strcmp(req, SCACHE_REQ_SAVE) == 0)
        return scache_save(s, fd);
    if (fd >= 0)
        close(fd);
    if (byte == SCACHE_BYTE_FIND && strcmp(req, SCACHE_REQ_FIND_ENDP) == 0)
        return scache_find(s, false);
    if (byte == SCACHE_BYTE_FIND && strcmp(req, SCACHE_REQ_FIND_DEST) == 0)
        return scache_find(s, true);
    log_warn("unknown request \"%.100s\"", req);
    return -1;
}

static int scache_connect(struct stream *s)
{
    return attr_send_proto(s, SCACHE_PROTO) < 0 ? -1 : 0;
}

static void scache_post_jail(void)
{
    scache_req = attr_list_new();
    scache_req->max_count = 8;      /* no request has more attributes */
    scache_ttl_limit = cfg_time(P_CONNECTION_CACHE_TTL_LIMIT);
    if (scache_ttl_limit < 1)
        scache_ttl_limit = 1;
    scache_status_time = cfg_time(P_CONNECTION_CACHE_STATUS_UPDATE_TIME);
    if (scache_status_time < 1)
        scache_status_time = 1;
    long t = cfg_time(P_CONNECTION_CACHE_PROTOCOL_TIMEOUT);
    scache_timeout = t < 1 ? 1 : t > 3600 ? 3600 : (int)t;
    scache_stats.start = time(NULL);
    event_timer_add((double)scache_status_time, scache_status_event, NULL);
}

static void scache_exit(void)
{
    scache_log_stats();
    while (scache_head)
        scache_drop(scache_head);
}

static const struct server_ops scache_ops = {
    .model = SERVER_MULTI,
    .resident = true,
    .post_jail = scache_post_jail,
    .connect = scache_connect,
    .request = scache_request,
    .on_exit = scache_exit,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &scache_ops);
}
