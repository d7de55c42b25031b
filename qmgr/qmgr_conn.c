/*
 * qmgr_conn.c - delivery agent connections kept for the next request
 *
 * Used by: qmgr_deliver.c.
 * Interface: qmgr_conn_take(), qmgr_conn_keep(), qmgr_conn_release(),
 *            qmgr_conn_is_greeting(), qmgr_conn_offered().
 * Errors: none reported: a kept connection that the agent closes (max_idle,
 *         reload, stop) is closed here too; one that fails as it is reused
 *         is qmgr_deliver.c's to retry.
 * Notes: an agent that can take another request sends a fresh greeting
 *        right after its reply, in the same write (docs/ipc.md "delivery").
 *        Such a connection waits here, per transport, newest first, for
 *        at most QMGR_CONN_IDLE seconds; the agent waits on it as busy, so
 *        an idle one only keeps a process that would otherwise be idle.
 *        Each delivery takes a kept connection before it opens a new one,
 *        so qmgr never waits for a process it holds itself.
 */
#include "alloc.h"
#include "attr.h"
#include "events.h"
#include "mail_proto.h"
#include "qmgr.h"

#define QMGR_CONN_IDLE 2.0

struct qmgr_conn {
    int fd;
    double since;
    struct qmgr_transport *tr;
    struct qmgr_conn *next;
};

static void qmgr_conn_unlink(struct qmgr_conn *c)
{
    for (struct qmgr_conn **p = &c->tr->idle; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
}

static void qmgr_conn_close(struct qmgr_conn *c)
{
    event_fd_del(c->fd);
    close(c->fd);
    qmgr_conn_unlink(c);
    xfree(c);
}

/* Anything from an idle agent (its end of the connection closed, or bytes
 * it had no reason to send) ends the connection. */
static void qmgr_conn_idle_read(int fd, int events, void *ctx)
{
    (void)fd;
    (void)events;
    qmgr_conn_close(ctx);
}

/* Closes the connections idle for QMGR_CONN_IDLE; runs while any are kept. */
static void qmgr_conn_expire(void *ctx)
{
    struct qmgr_transport *tr = ctx;
    double now = event_now();
    struct qmgr_conn *c = tr->idle;
    while (c && now - c->since < QMGR_CONN_IDLE)
        c = c->next;
    while (c) {     /* newest first: all after the first stale one are stale */
        struct qmgr_conn *next = c->next;
        qmgr_conn_close(c);
        c = next;
    }
    if (tr->idle)
        event_timer_add(QMGR_CONN_IDLE, qmgr_conn_expire, tr);
}

void qmgr_conn_release(struct qmgr_transport *tr)
{
    while (tr->idle)
        qmgr_conn_close(tr->idle);
}

int qmgr_conn_take(struct qmgr_transport *tr)
{
    struct qmgr_conn *c = tr->idle;
    if (c == NULL)
        return -1;
    tr->idle = c->next;
    int fd = c->fd;
    event_fd_del(fd);
    xfree(c);
    return fd;
}

void qmgr_conn_keep(struct qmgr_transport *tr, int fd)
{
    struct qmgr_conn *c = xcalloc(1, sizeof(*c));
    c->fd = fd;
    c->since = event_now();
    c->tr = tr;
    c->next = tr->idle;
    if (tr->idle == NULL)
        event_timer_add(QMGR_CONN_IDLE, qmgr_conn_expire, tr);
    tr->idle = c;
    event_fd_add(fd, EVENT_READ, qmgr_conn_idle_read, c);
}

bool qmgr_conn_is_greeting(const struct attr_list *l)
{
    const char *proto = attr_get(l, "proto");
    return proto != NULL && strcmp(proto, MAIL_PROTO_DELIVERY) == 0;
}

bool qmgr_conn_offered(const char *rest, size_t len)
{
    if (len == 0)
        return false;
    struct attr_list *g = attr_list_new();
    size_t used = 0;
    bool ok = attr_decode(rest, len, g, &used) > 0 && used == len && g->count == 1
              && qmgr_conn_is_greeting(g);
    attr_list_free(g);
    return ok;
}
