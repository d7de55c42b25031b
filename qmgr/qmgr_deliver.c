/*
 * qmgr_deliver.c - destinations, concurrency windows and delivery requests
 *
 * Used by: qmgr.
 * Interface: qmgr_dest_find(), qmgr_dest_add_entry(), qmgr_schedule(),
 *            qmgr_forget_dead().
 * Errors: an agent that does not greet in time makes its transport
 *         unavailable for $transport_retry_time (mail stays queued, with
 *         the reason logged); a broken conversation defers the entry's
 *         remaining recipients with "4.3.0 unknown mail transport error".
 * Notes: requests are written without waiting for the greeting, and replies
 *        are read from the event loop, so qmgr never blocks on an agent.
 */
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "deliver_request.h"
#include "events.h"
#include "log.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "qmgr.h"
#include "sbuf.h"
#include "sock.h"
#include "transport_param.h"
#include "verp.h"
#include <fcntl.h>
#include <math.h>

#define QMGR_GREETING_TIMEOUT 10.0

static struct qmgr_transport *qmgr_transports;
static struct qmgr_dest *qmgr_dests;

struct qmgr_delivery {
    struct qmgr_entry *entry;
    int fd;
    struct sbuf *in;
    double started;
    bool greeted;
    bool reused;        /* a connection the agent kept open (qmgr_conn.c) */
    bool cache;         /* the request asked for connection caching */
};

static struct qmgr_transport *qmgr_transport_find(const char *name)
{
    for (struct qmgr_transport *t = qmgr_transports; t; t = t->next)
        if (strcmp(t->name, name) == 0)
            return t;
    struct qmgr_transport *t = xcalloc(1, sizeof(*t));
    t->name = xstrdup(name);
    /* Checked at start (qmgr_cfg_load), so these cannot fail now. */
    t->dest_limit = (int)transport_param_long(name, TP_DESTINATION_CONCURRENCY_LIMIT);
    t->rcpt_limit = (int)transport_param_long(name, TP_DESTINATION_RECIPIENT_LIMIT);
    t->rate_delay = (double)transport_param_time(name, TP_DESTINATION_RATE_DELAY);
    t->initial_window = (int)transport_param_long(name, TP_INITIAL_DESTINATION_CONCURRENCY);
    t->failed_cohort_limit =
        (int)transport_param_long(name, TP_DESTINATION_CONCURRENCY_FAILED_COHORT_LIMIT);
    if (t->dest_limit <= 0)
        t->dest_limit = 1000;
    if (t->rcpt_limit <= 0)
        t->rcpt_limit = 1000;
    t->next = qmgr_transports;
    qmgr_transports = t;
    return t;
}

struct qmgr_dest *qmgr_dest_find(const char *transport, const char *nexthop)
{
    for (struct qmgr_dest *d = qmgr_dests; d; d = d->next)
        if (strcmp(d->tr->name, transport) == 0 && strcmp(d->nexthop, nexthop) == 0)
            return d;
    struct qmgr_dest *d = xcalloc(1, sizeof(*d));
    d->tr = qmgr_transport_find(transport);
    d->nexthop = xstrdup(nexthop);
    d->window = (double)d->tr->initial_window;
    if (d->window > d->tr->dest_limit)
        d->window = d->tr->dest_limit;
    if (d->tr->rate_delay > 0)
        d->window = 1;
    d->next = qmgr_dests;
    qmgr_dests = d;
    return d;
}

void qmgr_dest_add_entry(struct qmgr_dest *d, struct qmgr_entry *e)
{
    e->next = NULL;
    if (d->tail)
        d->tail->next = e;
    else
        d->head = e;
    d->tail = e;
    d->todo++;
}

/* The first entry waiting for d, taken off its list. */
static struct qmgr_entry *qmgr_dest_take(struct qmgr_dest *d)
{
    struct qmgr_entry *e = d->head;
    d->head = e->next;
    if (d->head == NULL)
        d->tail = NULL;
    d->todo--;
    return e;
}

/* qmgr_clog_warn_time: when one destination holds more than a fifth of
 * qmgr_message_active_limit in waiting and running deliveries, say so (at
 * most once per qmgr_clog_warn_time), with the likely reason. The first
 * line has Postfix's wording, which log watchers look for. */
static void qmgr_dest_clog_warn(struct qmgr_dest *d)
{
    int queued = d->todo + d->active;
    double now = event_now();
    if (qmgr_cfg.clog_warn_time <= 0 || queued <= qmgr_cfg.active_limit / 5
        || now < d->clog_warn_at)
        return;
    d->clog_warn_at = now + qmgr_cfg.clog_warn_time;
    double share = qmgr_active_count > 0 ? (double)queued / qmgr_active_count : 1.0;
    log_warn("mail for %s is using up %d of %d active queue entries", d->nexthop, queued,
             qmgr_active_count);
    if (share < 0.9)
        log_warn("other destinations may wait for it");
    if (d->tr->dest_limit > 0 && d->tr->dest_limit <= d->active + 1)
        log_warn("its deliveries are at %s_destination_concurrency_limit (%d); "
                 "a higher limit in main.cf may help", d->tr->name, d->tr->dest_limit);
    else if (d->window > qmgr_cfg.active_limit * share)
        log_warn("a master.cf transport of its own for %s may help", d->nexthop);
    else
        log_warn("shorter %s connect and helo timeouts skip unreachable hosts sooner, and "
                 "longer minimal_backoff_time and maximal_backoff_time retry "
                 "undeliverable mail less often", d->tr->name);
}

static void qmgr_entry_free(struct qmgr_entry *e)
{
    xfree(e->rcpt);
    xfree(e);
}

/* Defers every recipient of the entry with one reason and finishes it. */
static void qmgr_entry_defer(struct qmgr_entry *e, const char *status, const char *reason)
{
    for (size_t i = 0; i < e->nrcpt; i++)
        qmgr_defer_recipient(e->msg, e->rcpt[i], "none", status, reason);
    struct qmgr_message *m = e->msg;
    qmgr_entry_free(e);
    qmgr_message_done_entry(m);
}

static void qmgr_dest_feedback(struct qmgr_dest *d, bool ok, const char *reason)
{
    if (ok) {
        d->failed_cohorts = 0;
        if (d->window < d->tr->dest_limit && d->tr->rate_delay <= 0)
            d->window += 1.0;
        if (d->window > d->tr->dest_limit)
            d->window = d->tr->dest_limit;
        return;
    }
    d->window -= 1;
    if (d->window < 1) {
        d->window = 1;
        d->failed_cohorts++;
    }
    if (d->failed_cohorts >= d->tr->failed_cohort_limit) {
        /* Dead: defer what is queued for it now, retry after the back-off. */
        d->dead_until = event_now() + qmgr_cfg.minimal_backoff;
        xfree(d->dead_reason);
        d->dead_reason = xstrdup(reason && *reason ? reason : "destination unavailable");
        d->failed_cohorts = 0;
    }
}

static void qmgr_delivery_timeout(void *ctx);
static void qmgr_delivery_retry(struct qmgr_delivery *dl);
static void qmgr_dest_start_one(struct qmgr_dest *d);

/* True when d has room for one more delivery: under its concurrency window
 * and its transport under the process limit. */
static bool qmgr_dest_has_room(const struct qmgr_dest *d)
{
    return d->active < (int)floor(d->window) && d->tr->active < qmgr_cfg.default_process_limit;
}

/* Starts d's next entry when qmgr_schedule() would start it at once: d
 * alive, its transport available, room, no rate delay. */
static void qmgr_dest_start_next(struct qmgr_dest *d)
{
    double now = event_now();
    if (d->head != NULL && d->tr->unavail_until <= now && d->dead_until <= now
        && qmgr_dest_has_room(d) && d->tr->rate_delay <= 0)
        qmgr_dest_start_one(d);
}

/* The active queue file of e's message, opened to read, or -1. */
static int qmgr_entry_file(const struct qmgr_entry *e)
{
    struct sbuf *path = sbuf_new(64);
    mail_queue_path(path, MAIL_QUEUE_ACTIVE, e->msg->id);
    int fd = open(sbuf_str(path), O_RDONLY | O_CLOEXEC);
    sbuf_free(path);
    return fd;
}

/* True when any of e's recipients is marked done in the queue file, or
 * when the file cannot be read to tell. */
static bool qmgr_entry_any_done(const struct qmgr_entry *e)
{
    int fd = qmgr_entry_file(e);
    bool any = fd < 0;
    for (size_t i = 0; i < e->nrcpt && !any; i++)
        any = qfile_rcpt_is_done(fd, e->msg->env.rcpts[e->rcpt[i]].offset);
    if (fd >= 0)
        close(fd);
    return any;
}

/* Notes that dl's agent has greeted (or that dl ends before it did). */
static void qmgr_delivery_greeted(struct qmgr_delivery *dl)
{
    if (!dl->greeted)
        dl->entry->dest->tr->ungreeted--;
    dl->greeted = true;
}

/* keep: the agent offered the connection for another request (kept for
 * the transport's next delivery; qmgr_schedule() lets it go if it stays
 * idle while a new connection waits for an agent). */
static void qmgr_delivery_end(struct qmgr_delivery *dl, struct attr_list *reply, bool keep)
{
    struct qmgr_entry *e = dl->entry;
    struct qmgr_dest *d = e->dest;
    event_fd_del(dl->fd);
    event_timer_del(qmgr_delivery_timeout, dl);
    qmgr_delivery_greeted(dl);
    if (keep)
        qmgr_conn_keep(d->tr, dl->fd);
    else
        close(dl->fd);
    sbuf_free(dl->in);
    d->active--;
    d->tr->active--;
    if (d->active == 0 && d->head == NULL) {
        /* Nothing left for it: its next mail starts without a history
         * (as a Postfix queue that empties is freed). */
        d->last_done = 0;
        d->cache_on = false;
    } else
        d->last_done = event_now();
    if (reply == NULL) {
        /* Broken conversation: recipients the agent did not finish stay R. */
        qmgr_dest_feedback(d, false, "unknown mail transport error");
        int fd = qmgr_entry_file(e);
        for (size_t i = 0; i < e->nrcpt; i++) {
            if (fd >= 0 && qfile_rcpt_is_done(fd, e->msg->env.rcpts[e->rcpt[i]].offset))
                continue;
            qmgr_defer_recipient(e->msg, e->rcpt[i], "none", "4.3.0", "unknown mail transport error");
        }
        if (fd >= 0)
            close(fd);
    } else {
        const char *hop = attr_get_def(reply, "hop_reason", "");
        qmgr_dest_feedback(d, *hop == 0, hop);
    }
    struct qmgr_message *m = e->msg;
    qmgr_entry_free(e);
    xfree(dl);
    /* An agent that answered is idle now: its next-hop's next entry goes
     * out before this message's bookkeeping, when nothing stands in its
     * way (everything else waits for qmgr_schedule). Not after a broken
     * conversation: qmgr_delivery_start's own failure ends here too. */
    if (reply != NULL)
        qmgr_dest_start_next(d);
    qmgr_message_done_entry(m);
    event_timer_add(0.0, (event_timer_fn)qmgr_schedule, NULL);
}

static void qmgr_delivery_read(int fd, int events, void *ctx)
{
    struct qmgr_delivery *dl = ctx;
    char buf[4096];
    (void)events;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0 && dl->reused && sbuf_len(dl->in) == 0 && !qmgr_entry_any_done(dl->entry)) {
        qmgr_delivery_retry(dl);
        return;
    }
    if (n <= 0) {
        log_warn("%s: lost connection to delivery agent %s", dl->entry->msg->id, dl->entry->dest->tr->name);
        qmgr_delivery_end(dl, NULL, false);
        return;
    }
    if (sbuf_len(dl->in) + (size_t)n > 1024 * 1024) {
        qmgr_delivery_end(dl, NULL, false);
        return;
    }
    sbuf_append(dl->in, buf, (size_t)n);
    struct attr_list *l = attr_list_new();
    for (;;) {
        size_t used = 0;
        int r = attr_decode(sbuf_str(dl->in), sbuf_len(dl->in), l, &used);
        if (r < 0) {
            log_warn("%s: malformed reply from delivery agent %s", dl->entry->msg->id,
                     dl->entry->dest->tr->name);
            attr_list_free(l);
            qmgr_delivery_end(dl, NULL, false);
            return;
        }
        if (r == 0)
            break;
        struct sbuf *rest = sbuf_new(sbuf_len(dl->in));
        sbuf_append(rest, sbuf_str(dl->in) + used, sbuf_len(dl->in) - used);
        sbuf_free(dl->in);
        dl->in = rest;
        if (!dl->greeted) {
            if (!qmgr_conn_is_greeting(l)) {
                log_warn("delivery agent %s: protocol mismatch", dl->entry->dest->tr->name);
                attr_list_free(l);
                qmgr_delivery_end(dl, NULL, false);
                return;
            }
            qmgr_delivery_greeted(dl);
            /* Once greeted, a delivery may take as long as $daemon_timeout. */
            event_timer_add(qmgr_cfg.daemon_timeout, qmgr_delivery_timeout, dl);
            continue;
        }
        qmgr_delivery_end(dl, l, qmgr_conn_offered(sbuf_str(dl->in), sbuf_len(dl->in)));
        attr_list_free(l);
        return;
    }
    attr_list_free(l);
}

static void qmgr_delivery_timeout(void *ctx)
{
    struct qmgr_delivery *dl = ctx;
    struct qmgr_transport *tr = dl->entry->dest->tr;
    if (!dl->greeted) {
        /* No agent answered: the transport is down or not installed. */
        xfree(tr->unavail_reason);
        struct sbuf *r = sbuf_new(128);
        sbuf_printf(r, "delivery agent for transport %s is not available", tr->name);
        tr->unavail_reason = sbuf_detach(r);
        tr->unavail_until = event_now() + qmgr_cfg.transport_retry_time;
        log_warn("transport %s: no delivery agent answered within %.0fs; mail for it stays queued",
                 tr->name, QMGR_GREETING_TIMEOUT);
        struct qmgr_entry *e = dl->entry;
        qmgr_delivery_greeted(dl);
        event_fd_del(dl->fd);
        close(dl->fd);
        sbuf_free(dl->in);
        e->dest->active--;
        tr->active--;
        xfree(dl);
        qmgr_entry_defer(e, "4.3.0", tr->unavail_reason);
        event_timer_add(0.0, (event_timer_fn)qmgr_schedule, NULL);
        return;
    }
    log_warn("%s: delivery agent %s timed out", dl->entry->msg->id, tr->name);
    qmgr_delivery_end(dl, NULL, false);
}

/* On-demand connection caching (*_connection_cache_on_demand), decided as
 * Postfix's queue manager does. A next hop is marked once it has entries
 * waiting or its deliveries come back to back: one finished less than a
 * second ago while it still had mail here (a steady stream keeps a few
 * deliveries in flight without ever building a backlog). It stays marked
 * while other deliveries to it are under way, and is forgotten when it has
 * nothing left (qmgr_delivery_end). Its requests carry
 * DELIVER_REQ_F_CONN_CACHE: the agent takes a cached connection and keeps
 * its own open for the next delivery. */
static bool qmgr_dest_cache(struct qmgr_dest *d)
{
    bool back_to_back = d->last_done > 0 && d->last_done + 1.0 >= event_now();
    if (back_to_back || d->head != NULL)
        d->cache_on = true;
    else if (d->active == 0)
        d->cache_on = false;
    return d->cache_on;
}

/* A new connection to tr's agents, or -1 with tr made unavailable for
 * $transport_retry_time (logged; tr->unavail_reason says why). */
static int qmgr_transport_connect(struct qmgr_transport *tr)
{
    struct sbuf *path = sbuf_new(128);
    mail_service_path(path, MAIL_CLASS_PRIVATE, tr->name, false);
    int fd = sock_unix_connect_nb(sbuf_str(path), 5);
    if (fd < 0) {
        struct sbuf *r = sbuf_new(128);
        sbuf_printf(r, "mail transport unavailable (%s: %s)", tr->name, strerror(errno));
        xfree(tr->unavail_reason);
        tr->unavail_reason = sbuf_detach(r);
        tr->unavail_until = event_now() + qmgr_cfg.transport_retry_time;
        log_warn("connect to transport %s: %m", sbuf_str(path));
    }
    sbuf_free(path);
    return fd;
}

/* cache: the request may take and keep a cached connection
 * (DELIVER_REQ_F_CONN_CACHE). fresh: open a new connection even when an
 * agent's is kept. */
static void qmgr_delivery_start(struct qmgr_entry *e, bool cache, bool fresh)
{
    struct qmgr_dest *d = e->dest;
    struct qmgr_message *m = e->msg;
    int fd = fresh ? -1 : qmgr_conn_take(d->tr);
    bool reused = fd >= 0;
    if (!reused && (fd = qmgr_transport_connect(d->tr)) < 0) {
        qmgr_entry_defer(e, "4.3.0", d->tr->unavail_reason);
        return;
    }
    struct attr_list *l = attr_list_new();
    attr_add(l, "queue_name", MAIL_QUEUE_ACTIVE);
    attr_add(l, "queue_id", m->id);
    attr_add(l, "nexthop", d->nexthop);
    attr_add(l, "transport", d->tr->name);
    const char *sender = m->env.sender ? m->env.sender : "";
    struct sbuf *vsender = NULL;
    if (m->env.verp_delims && e->nrcpt == 1 && *sender) {
        /* The original recipient, as a list manager would have written it. */
        const struct qenv_rcpt *rc = &m->env.rcpts[e->rcpt[0]];
        vsender = sbuf_new(128);
        verp_sender(vsender, m->env.verp_delims, sender,
                    rc->orig && *rc->orig ? rc->orig : rc->address);
        sender = sbuf_str(vsender);
    }
    attr_add(l, "sender", sender);
    sbuf_free(vsender);
    attr_add(l, "envid", m->env.envid ? m->env.envid : "");
    attr_add_long(l, "ret", m->env.ret);
    attr_add_long(l, "flags", (cache ? DELIVER_REQ_F_CONN_CACHE : 0) | m->trace_flags);
    attr_add_long(l, "arrival", m->env.arrival_sec);
    attr_add_long(l, "arrival_usec", m->env.arrival_usec);
    attr_add_long(l, "content_offset", (long)m->env.content_offset);
    attr_add_long(l, "content_size", m->env.content_size);
    for (size_t i = 0; i < m->env.attrs->count; i++)
        if (strncmp(m->env.attrs->items[i].name, "log_", 4) == 0)
            attr_add(l, m->env.attrs->items[i].name, m->env.attrs->items[i].value);
    attr_add_long(l, "rcpt_count", (long)e->nrcpt);
    for (size_t i = 0; i < e->nrcpt; i++) {
        struct qenv_rcpt *rc = &m->env.rcpts[e->rcpt[i]];
        attr_add(l, "rcpt_address", rc->address);
        attr_add(l, "rcpt_orig", rc->orig ? rc->orig : "");
        attr_add(l, "rcpt_dsn_orcpt", rc->dsn_orcpt ? rc->dsn_orcpt : "");
        attr_add_long(l, "rcpt_notify", rc->notify);
        attr_add_long(l, "rcpt_offset", (long)rc->offset);
    }
    /* The request is small; the socket buffer takes it without blocking. */
    struct stream *s = stream_open_nonblock(fd);
    stream_set_timeout(s, 10);
    int r = attr_write(s, l);
    stream_free_keep_fd(s);
    attr_list_free(l);
    struct qmgr_delivery *dl = xcalloc(1, sizeof(*dl));
    dl->entry = e;
    dl->fd = fd;
    dl->in = sbuf_new(256);
    dl->started = event_now();
    dl->reused = reused;
    dl->greeted = reused;   /* the agent greeted after its last reply */
    if (!reused)
        d->tr->ungreeted++;
    dl->cache = cache;
    d->active++;
    d->tr->active++;
    d->next_start = event_now() + d->tr->rate_delay;
    if (r < 0 && reused) {
        qmgr_delivery_retry(dl);
        return;
    }
    if (r < 0) {
        qmgr_delivery_end(dl, NULL, false);
        return;
    }
    event_fd_add(fd, EVENT_READ, qmgr_delivery_read, dl);
    event_timer_add(reused ? qmgr_cfg.daemon_timeout : QMGR_GREETING_TIMEOUT,
                    qmgr_delivery_timeout, dl);
}

/* A kept connection failed before any reply, and the agent marked none of
 * the entry's recipients done: it went away (reload, max_idle, stop) as
 * the request went out, or died before any result. The entry gets one new
 * connection; a second failure takes the normal way (qmgr_delivery_end).
 * When the agent had finished some recipients, its failure takes that way
 * at once, so that none of them goes out twice. */
static void qmgr_delivery_retry(struct qmgr_delivery *dl)
{
    struct qmgr_entry *e = dl->entry;
    bool cache = dl->cache;
    event_fd_del(dl->fd);
    event_timer_del(qmgr_delivery_timeout, dl);
    close(dl->fd);
    sbuf_free(dl->in);
    e->dest->active--;
    e->dest->tr->active--;
    xfree(dl);
    qmgr_delivery_start(e, cache, true);
}

/* Takes d's next entry and starts its delivery. The cache decision looks
 * at what is left behind it, so it comes after the take (two statements:
 * the order in which a call's arguments are evaluated is unspecified). */
static void qmgr_dest_start_one(struct qmgr_dest *d)
{
    qmgr_dest_clog_warn(d);
    struct qmgr_entry *e = qmgr_dest_take(d);
    qmgr_delivery_start(e, qmgr_dest_cache(d), false);
}

void qmgr_schedule(void)
{
    double now = event_now();
    bool progress = true;
    while (progress) {
        progress = false;
        for (struct qmgr_dest *d = qmgr_dests; d; d = d->next) {
            if (d->head == NULL)
                continue;
            struct qmgr_transport *tr = d->tr;
            if (tr->unavail_until > now || d->dead_until > now) {
                /* Mail for a dead destination or missing transport waits in deferred/. */
                const char *why = tr->unavail_until > now ? tr->unavail_reason : d->dead_reason;
                while (d->head)
                    qmgr_entry_defer(qmgr_dest_take(d), "4.4.1",
                                     why ? why : "destination unavailable");
                progress = true;
                break;      /* lists may have changed */
            }
            if (!qmgr_dest_has_room(d))
                continue;
            if (d->tr->rate_delay > 0 && d->next_start > now) {
                event_timer_add(d->next_start - now, (event_timer_fn)qmgr_schedule, NULL);
                continue;
            }
            qmgr_dest_start_one(d);
            progress = true;
        }
    }
    /* A kept connection left idle while a new one to its transport waits
     * for an agent goes: with every process of the service busy (master.cf
     * maxproc), its agent must go back to accepting, or that delivery
     * would wait until the kept connection's idle time is up. */
    for (struct qmgr_transport *t = qmgr_transports; t; t = t->next)
        if (t->ungreeted > 0)
            qmgr_conn_release(t);
}

void qmgr_forget_dead(void)
{
    for (struct qmgr_dest *d = qmgr_dests; d; d = d->next)
        d->dead_until = 0;
    for (struct qmgr_transport *t = qmgr_transports; t; t = t->next)
        t->unavail_until = 0;
}
