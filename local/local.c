/*
 * local.c - the local delivery agent: main() and one request
 *
 * Used by: master (master.cf "local unix - n n - - local": runs as root).
 * Interface: main().
 * Errors: a bad request is logged and the connection closed (qmgr defers).
 * Notes: for each recipient: resolve aliases, .forward and the mailbox
 *        (local_resolve.c), deliver (local_deliver.c), then mark the queue
 *        recipient done unless some part of it was deferred, in which case
 *        the whole recipient is retried later (already delivered parts may
 *        then be delivered twice, as with Postfix). Unlike other services
 *        this one forks (to run commands); the child never returns here.
 */
#include "local.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "qfile.h"
#include "server.h"

#define LOCAL_DELIVERED_MAX 1000

struct local_hdr_scan {
    struct sbuf *cur;       /* header being collected (with continuations) */
    char **vals;
    size_t n, cap;
};

static void local_hdr_flush(struct local_hdr_scan *h)
{
    const char *p = sbuf_str(h->cur);
    if (strncasecmp(p, "Delivered-To:", 13) == 0 && h->n < LOCAL_DELIVERED_MAX) {
        p += 13;
        while (*p == ' ' || *p == '\t')
            p++;
        char *v = xstrdup(p);
        size_t n = strlen(v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
            v[--n] = 0;
        if (h->n + 1 >= h->cap) {
            h->cap = h->cap ? h->cap * 2 : 8;
            h->vals = xreallocarray(h->vals, h->cap, sizeof(char *));
        }
        h->vals[h->n++] = v;
        h->vals[h->n] = NULL;
    }
    sbuf_reset(h->cur);
}

static int local_hdr_line(const char *line, size_t len, void *ctx)
{
    struct local_hdr_scan *h = ctx;
    if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        if (sbuf_len(h->cur) < 4096)
            sbuf_append(h->cur, line, len);
        return 0;
    }
    if (sbuf_len(h->cur))
        local_hdr_flush(h);
    if (len == 0 || memchr(line, ':', len) == NULL)
        return 1;       /* end of the header */
    sbuf_append(h->cur, line, len < 4096 ? len : 4096);
    return 0;
}

/* Collects the Delivered-To: values of the message header. */
static char **local_scan_headers(struct deliver_request *r)
{
    struct local_hdr_scan h = { .cur = sbuf_new(256) };
    int res = deliver_content_lines(r, local_hdr_line, &h);
    if (res == 0 && sbuf_len(h.cur))
        local_hdr_flush(&h);
    sbuf_free(h.cur);
    if (h.vals == NULL)
        h.vals = xcalloc(1, sizeof(char *));
    return h.vals;
}

static void local_free_headers(char **v)
{
    for (char **p = v; p && *p; p++)
        xfree(*p);
    xfree(v);
}

static void local_service(struct stream *client)
{
    struct deliver_request *r = deliver_request_read(client, "local");
    if (r == NULL)
        return;
    local_req = r;
    local_delivered_hdrs = local_scan_headers(r);
    for (size_t i = 0; i < r->nrcpt; i++) {
        struct deliver_rcpt *rc = &r->rcpts[i];
        struct local_outcome out = { 0 };
        struct local_state st = {
            .req = r,
            .rc = rc,
            .address = rc->address,
            .delivered = rc->address,
            .sender = r->sender,
            .extension = "",
            .out = &out,
        };
        local_resolve(&st, &local_real_ops, &local_cfg);
        if (!out.deferred) {
            if (qfile_mark_done(r->fd, (off_t)rc->offset) < 0) {
                log_warn("%s: mark recipient %s done: %m", r->queue_id, rc->address);
                r->deferred = true;
            }
        } else
            r->deferred = true;
        local_outcome_free(&out);
    }
    local_free_headers(local_delivered_hdrs);
    local_delivered_hdrs = NULL;
    local_req = NULL;
    deliver_request_done(client, r);
}

static void local_pre_jail(void)
{
    local_deliver_init();
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .model = SERVER_SINGLE,
        .pre_jail = local_pre_jail,
        .service = local_service,
    };
    return server_main(argc, argv, &ops);
}
