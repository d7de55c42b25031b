/*
 * qmgr_message.c - messages in the active queue: admission, resolution,
 *                  and what happens when all their deliveries are done
 *
 * Used by: qmgr.
 * Interface: qmgr_scan_active_at_start(), qmgr_scan(),
 *            qmgr_message_done_entry(), qmgr_defer_recipient().
 * Errors: an unreadable queue file moves to corrupt/ and is logged; a
 *         resolver failure defers the message (never bounces it).
 * Notes: which recipients are still to do is read back from the queue file
 *        (the type byte at each recipient's offset: R or D), because the
 *        delivery agents mark recipients done themselves. The file is the
 *        truth; qmgr's memory is only a cache of it.
 */
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "deliver_request.h"
#include "delivery_log.h"
#include "dsn_log.h"
#include "events.h"
#include "flush_clnt.h"
#include "queue_recycle.h"
#include "log_addr.h"
#include "resolve_local.h"
#include "log.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "qmgr.h"
#include "rewrite_clnt.h"
#include "stream.h"
#include "verify_clnt.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <utime.h>

int qmgr_active_count;
/* The active messages, by queue ID: a hash of chains through m->next. A
 * list walked with strcmp for each file of every incoming scan and for
 * every message done cost time quadratic in the backlog (1% of qmgr's CPU
 * at 1000 queued, more at the active limit). */
#define QMGR_MSG_BUCKETS 4096
static struct qmgr_message *qmgr_messages[QMGR_MSG_BUCKETS];

static struct qmgr_message **qmgr_message_bucket(const char *id)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &qmgr_messages[h % QMGR_MSG_BUCKETS];
}
static struct domain_list *qmgr_flush_domains;

/* Remembers a deferred recipient's site for ETRN / postqueue -s. */
static void qmgr_flush_note(const char *id, const char *address)
{
    const char *at = strrchr(address, '@');
    if (at == NULL || at[1] == 0)
        return;
    if (qmgr_flush_domains == NULL)
        qmgr_flush_domains = domain_list_new(P_FAST_FLUSH_DOMAINS, cfg_str(P_FAST_FLUSH_DOMAINS));
    if (domain_list_empty(qmgr_flush_domains) || domain_list_match(qmgr_flush_domains, at + 1) != 1)
        return;
    flush_add(at + 1, id);
}

static int qmgr_back_to_incoming(const char *id, const char *path, void *ctx)
{
    (void)path;
    (void)ctx;
    if (mail_queue_rename(id, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_INCOMING) < 0)
        log_warn("%s: move active to incoming: %m", id);
    return 0;
}

void qmgr_scan_active_at_start(void)
{
    mail_queue_dir_scan(MAIL_QUEUE_ACTIVE, qmgr_back_to_incoming, NULL);
}

static struct qmgr_message *qmgr_message_find(const char *id)
{
    for (struct qmgr_message *m = *qmgr_message_bucket(id); m; m = m->next)
        if (strcmp(m->id, id) == 0)
            return m;
    return NULL;
}

static void qmgr_message_free(struct qmgr_message *m)
{
    struct qmgr_message **pp = qmgr_message_bucket(m->id);
    while (*pp && *pp != m)
        pp = &(*pp)->next;
    if (*pp)
        *pp = m->next;
    qenv_free(&m->env);
    xfree(m);
    qmgr_active_count--;
}

void qmgr_defer_recipient(struct qmgr_message *m, size_t idx, const char *relay, const char *status,
                          const char *reason)
{
    struct qenv_rcpt *rc = &m->env.rcpts[idx];
    struct dsn_entry e = { 0 };
    e.recipient = rc->address;
    e.orig_rcpt = rc->orig ? rc->orig : "";
    e.dsn_orcpt = rc->dsn_orcpt ? rc->dsn_orcpt : "";
    e.notify = rc->notify;
    e.offset = (long)rc->offset;
    e.status = (char *)status;
    e.action = "delayed";
    e.reason = (char *)reason;
    e.mta = "";
    e.diag_type = "";
    e.diag_text = "";
    struct delivery_times t = {
        .arrival = (double)m->env.arrival_sec + (double)m->env.arrival_usec / 1e6,
        .active = m->loaded_at,
    };
    if (m->trace_flags & DELIVER_REQ_F_CHECK_ONLY) {
        /* A probe that cannot even be handed to an agent: the verify
         * service (or, for sendmail -bv, the report) hears of it; the
         * message is removed at the end. */
        delivery_log(m->id, rc->address, rc->orig, relay, &t, status, "undeliverable", reason);
        if (m->trace_flags & DELIVER_REQ_F_USER_VERIFY) {
            e.action = "undeliverable";
            dsn_log_append(MAIL_QUEUE_TRACE, m->id, &e);
        } else
            verify_clnt_update(rc->orig && *rc->orig ? rc->orig : rc->address,
                               VERIFY_ADDR_DEFER, reason);
        return;
    }
    dsn_log_append(MAIL_QUEUE_DEFER, m->id, &e);
    delivery_log(m->id, rc->address, rc->orig, relay, &t, status, "deferred", reason);
}

/* Asks the bounce service to do something for this message; 0 = done. */
static int qmgr_bounce_request(const char *request, const char *id)
{
    struct stream *s = mail_connect(MAIL_CLASS_PRIVATE, MAIL_SERVICE_BOUNCE, MAIL_PROTO_BOUNCE);
    if (s == NULL)
        return -1;
    int r = attr_send(s, "request", request, "queue_id", id, "queue_name", MAIL_QUEUE_ACTIVE,
                      (char *)NULL);
    long status = -1;
    if (r == 0) {
        struct attr_list *l = attr_list_new();
        if (attr_read(s, l) == 0)
            attr_get_long(l, "status", &status);
        attr_list_free(l);
    }
    stream_close(s);
    if (status != 0)
        log_warn("%s: bounce service request %s failed", id, request);
    return status == 0 ? 0 : -1;
}

static bool qmgr_log_exists(const char *queue, const char *id)
{
    struct sbuf *p = sbuf_new(64);
    mail_queue_path(p, queue, id);
    bool r = access(sbuf_str(p), F_OK) == 0;
    sbuf_free(p);
    return r;
}

/* Moves the message to deferred/ with its next retry time as mtime. */
static void qmgr_message_defer(struct qmgr_message *m)
{
    long now = (long)time(NULL);
    long age = now - m->env.arrival_sec;
    long minb = (long)qmgr_cfg.minimal_backoff, maxb = (long)qmgr_cfg.maximal_backoff;
    long delay = age < minb ? minb : age > maxb ? maxb : age;
    if (mail_queue_rename(m->id, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED) < 0) {
        log_warn("%s: move to deferred: %m", m->id);
        return;
    }
    struct sbuf *p = sbuf_new(64);
    mail_queue_path(p, MAIL_QUEUE_DEFERRED, m->id);
    struct utimbuf ut = { .actime = now + delay, .modtime = now + delay };
    if (utime(sbuf_str(p), &ut) < 0)
        log_warn("%s: set retry time: %m", m->id);
    sbuf_free(p);
}

/* Removes the message's file and status logs. logs_absent: the bounce and
 * trace logs were just found not to exist and nothing has written them
 * since (every delivery attempt has ended, no bounce request was made),
 * so no unlink is spent on them. */
static void qmgr_message_remove(struct qmgr_message *m, bool logs_absent)
{
    mail_queue_remove(MAIL_QUEUE_DEFER, m->id);
    if (!logs_absent) {
        mail_queue_remove(MAIL_QUEUE_BOUNCE, m->id);
        mail_queue_remove(MAIL_QUEUE_TRACE, m->id);
    }
    /* The file itself is kept for a new message when there is room
     * (lib/mail/queue_recycle.h). */
    if (queue_recycle_put(MAIL_QUEUE_ACTIVE, m->id, m->env.content_size, qmgr_cfg.recycle_limit) < 0
        && mail_queue_remove(MAIL_QUEUE_ACTIVE, m->id) < 0)
        log_warn("%s: remove: %m", m->id);
    else
        log_info("%s: removed", m->id);
}

void qmgr_message_done_entry(struct qmgr_message *m)
{
    if (--m->pending > 0)
        return;
    /* Every delivery attempt for this message has ended: look at the file. */
    struct sbuf *path = sbuf_new(64);
    mail_queue_path(path, MAIL_QUEUE_ACTIVE, m->id);
    int fd = open(sbuf_str(path), O_RDWR | O_CLOEXEC);
    sbuf_free(path);
    if (fd < 0) {
        log_warn("%s: reopen active file: %m", m->id);
        qmgr_message_free(m);
        return;
    }
    if (m->trace_flags & DELIVER_REQ_F_CHECK_ONLY) {
        /* A probe has had its one attempt: whatever is left is dropped,
         * never retried or bounced (the results went to verify, or for
         * sendmail -bv into the trace log, now sent as a report). */
        close(fd);
        if ((m->trace_flags & DELIVER_REQ_F_USER_VERIFY) && qmgr_log_exists(MAIL_QUEUE_TRACE, m->id)
            && qmgr_bounce_request("trace", m->id) < 0) {
            qmgr_message_defer(m);      /* try the report again later */
            qmgr_message_free(m);
            return;
        }
        qmgr_message_remove(m, false);
        qmgr_message_free(m);
        return;
    }
    size_t left = 0;
    for (size_t i = 0; i < m->env.nrcpt; i++)
        if (!m->env.rcpts[i].done && !qfile_rcpt_is_done(fd, m->env.rcpts[i].offset)) {
            left++;
            qmgr_flush_note(m->id, m->env.rcpts[i].address);
        }
    const char *sender = m->env.sender ? m->env.sender : "";
    bool bounce_log = qmgr_log_exists(MAIL_QUEUE_BOUNCE, m->id);
    if (bounce_log && qmgr_bounce_request("flush", m->id) < 0) {
        close(fd);
        qmgr_message_defer(m);     /* the failures are kept; try the DSN again later */
        qmgr_message_free(m);
        return;
    }
    bool trace_log = qmgr_log_exists(MAIL_QUEUE_TRACE, m->id);
    if (trace_log)
        qmgr_bounce_request("trace", m->id);
    bool logs_absent = !bounce_log && !trace_log;
    if (left > 0) {
        long lifetime = *sender ? qmgr_cfg.maximal_queue_lifetime : qmgr_cfg.bounce_queue_lifetime;
        long now = (long)time(NULL);
        if (now - m->env.arrival_sec >= lifetime || m->forced_expire) {
            /* bounce logs "status=expired, returned to sender". */
            logs_absent = false;    /* bounce may have written a log */
            if (qmgr_bounce_request("expire", m->id) == 0)
                left = 0;
        } else if (m->env.warn_time > 0 && now >= m->env.warn_time && m->env.warn_offset >= 0) {
            if (qmgr_bounce_request("warn", m->id) == 0) {
                if (qfile_set_warn(fd, m->env.warn_offset, 0L) < 0)
                    log_warn("%s: update warning time: %m", m->id);
            }
        }
    }
    close(fd);
    if (left == 0)
        qmgr_message_remove(m, logs_absent);
    else
        qmgr_message_defer(m);
    qmgr_message_free(m);
}

/* Parses "transport:nexthop" (content filter) into its two parts. */
static void qmgr_split_filter(const char *filter, struct sbuf *tr, struct sbuf *hop)
{
    const char *colon = strchr(filter, ':');
    if (colon) {
        sbuf_reset(tr);
        sbuf_append(tr, filter, (size_t)(colon - filter));
        sbuf_set(hop, colon + 1);
    } else {
        sbuf_set(tr, filter);
        sbuf_reset(hop);
    }
}

/* $defer_transports, split (qmgr_message_init). */
static char **qmgr_defer_transports;
/* $default_filter_nexthop: the next hop of a content filter named without
 * one; empty: the recipient's domain. */
static const char *qmgr_filter_nexthop;

void qmgr_message_init(void)
{
    qmgr_defer_transports = cfg_list(cfg_str(P_DEFER_TRANSPORTS));
    qmgr_filter_nexthop = cfg_str(P_DEFAULT_FILTER_NEXTHOP);
}

/* True when mail for transport waits for a flush (defer_transports). */
static bool qmgr_transport_deferred(const char *transport)
{
    for (char **p = qmgr_defer_transports; p && *p; p++)
        if (strcmp(*p, transport) == 0)
            return true;
    return false;
}

/* Resolves the recipients and queues entries; false when resolution failed. */
static bool qmgr_message_resolve(struct qmgr_message *m)
{
    struct resolve_reply rr;
    struct sbuf *ftr = sbuf_new(32), *fhop = sbuf_new(64);
    bool ok = true;
    resolve_reply_init(&rr);
    if (m->env.filter && *m->env.filter)
        qmgr_split_filter(m->env.filter, ftr, fhop);

    /* Group by destination, preserving recipient order. */
    struct pending {
        struct qmgr_dest *dest;
        struct qmgr_entry *cur;
    } *groups = xcalloc(m->env.nrcpt + 1, sizeof(*groups));
    size_t ngroups = 0;

    for (size_t i = 0; i < m->env.nrcpt; i++) {
        struct qenv_rcpt *rc = &m->env.rcpts[i];
        if (rc->done)
            continue;
        const char *transport, *nexthop;
        if (sbuf_len(ftr)) {
            transport = sbuf_str(ftr);
            nexthop = sbuf_str(fhop);
            if (*nexthop == 0) {
                /* "transport" or "transport:" alone: default_filter_nexthop,
                 * else the recipient's domain (Postfix 2.7 and later). */
                const char *at = strrchr(rc->address, '@');
                nexthop = *qmgr_filter_nexthop ? qmgr_filter_nexthop : at ? at + 1 : "";
            }
        } else {
            /* Probes are routed with the address_verify_* overrides. */
            int (*resolve)(const char *, const char *, struct resolve_reply *) =
                (m->trace_flags & DELIVER_REQ_F_VERIFY) ? rewrite_clnt_verify
                                                        : rewrite_clnt_resolve;
            if (resolve(m->env.sender ? m->env.sender : "", rc->address, &rr) < 0 ||
                (rr.flags & RESOLVE_FLAG_FAIL)) {
                qmgr_defer_recipient(m, i, "none", "4.3.0", "address resolver failure");
                ok = false;
                continue;
            }
            transport = sbuf_str(rr.transport);
            nexthop = sbuf_str(rr.nexthop);
            /* A syntax error never goes anywhere but to the error agent. */
            if (rr.flags & RESOLVE_FLAG_ERROR) {
                transport = "error";
                nexthop = "5.1.3 bad address syntax";
            }
        }
        /* allow_min_user = no: a recipient that starts with '-' is never
         * handed to a delivery agent, content filters included (a command
         * could take it for an option). trivial-rewrite refuses it too;
         * this is the check that nothing bypasses, as in Postfix. */
        if (!qmgr_cfg.allow_min_user && rc->address[0] == '-') {
            transport = "error";
            nexthop = "5.1.3 Bad recipient address syntax";
        }
        /* defer_transports: kept until "postqueue -f" / "sendmail -q". */
        if (!m->flush_dfxp && qmgr_transport_deferred(transport)) {
            qmgr_defer_recipient(m, i, "none", "4.3.2", "deferred transport");
            continue;
        }
        struct qmgr_dest *d = qmgr_dest_find(transport, nexthop);
        size_t g;
        for (g = 0; g < ngroups && groups[g].dest != d; g++)
            ;
        if (g == ngroups) {
            groups[g].dest = d;
            ngroups++;
        }
        struct qmgr_entry *e = groups[g].cur;
        /* VERP: every recipient gets its own envelope sender, so its own
         * delivery request. */
        if (e == NULL || e->nrcpt >= (size_t)d->tr->rcpt_limit || m->env.verp_delims) {
            e = xcalloc(1, sizeof(*e));
            e->msg = m;
            e->dest = d;
            e->rcpt = xcalloc((size_t)d->tr->rcpt_limit, sizeof(size_t));
            groups[g].cur = e;
            m->pending++;
            qmgr_dest_add_entry(d, e);
        }
        e->rcpt[e->nrcpt++] = i;
    }
    xfree(groups);
    resolve_reply_free(&rr);
    sbuf_free(ftr);
    sbuf_free(fhop);
    return ok;
}

struct qmgr_scan_ctx {
    const char *queue;
    bool ignore_time;
    time_t now;
    int admitted;
    bool full;          /* stopped at qmgr_message_active_limit */
};

static int qmgr_admit(const char *id, const char *path, void *vctx)
{
    struct qmgr_scan_ctx *ctx = vctx;
    struct stat st;
    if (qmgr_active_count >= qmgr_cfg.active_limit) {
        ctx->full = true;
        return 1;
    }
    if (qmgr_message_find(id))
        return 0;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    if (!MAIL_QUEUE_IS_COMPLETE(&st)) {
        /* Still being written, or left by a cleanup that died: remove the
         * latter (its client was never told "queued"). */
        if (strcmp(ctx->queue, MAIL_QUEUE_INCOMING) == 0 && mail_queue_abandoned(path, &st, 10)) {
            log_warn("%s: removing incomplete queue file left by a process that died", id);
            unlink(path);
        }
        return 0;
    }
    if (strcmp(ctx->queue, MAIL_QUEUE_DEFERRED) == 0 && !ctx->ignore_time && st.st_mtime > ctx->now)
        return 0;       /* not yet time to retry */
    if (mail_queue_rename(id, ctx->queue, MAIL_QUEUE_ACTIVE) < 0) {
        log_warn("%s: move %s to active: %m", id, ctx->queue);
        return 0;
    }
    struct sbuf *apath = sbuf_new(64);
    mail_queue_path(apath, MAIL_QUEUE_ACTIVE, id);
    struct qfile_reader *r = qfile_open(sbuf_str(apath), O_RDONLY);
    sbuf_free(apath);
    struct qmgr_message *m = xcalloc(1, sizeof(*m));
    strlcpy(m->id, id, sizeof(m->id));
    m->forced_expire = (st.st_mode & S_IXGRP) != 0;   /* postsuper -e / -f */
    m->flush_dfxp = ctx->ignore_time;                 /* postqueue -f */
    struct timeval now_tv;
    gettimeofday(&now_tv, NULL);
    m->loaded_at = (double)now_tv.tv_sec + (double)now_tv.tv_usec / 1e6;
    if (r == NULL || qenv_load(r, &m->env) < 0) {
        log_warn("%s: unreadable or incomplete queue file: moved to corrupt", id);
        qfile_close(r);
        qenv_free(&m->env);
        xfree(m);
        mail_queue_rename(id, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_CORRUPT);
        return 0;
    }
    qfile_close(r);
    long tf = 0;
    const char *tfv = attr_get(m->env.attrs, DELIVER_ATTR_TRACE_FLAGS);
    if (tfv && config_parse_long(tfv, &tf) && tf > 0)
        m->trace_flags = (int)(tf & DELIVER_REQ_F_CHECK_ONLY);
    struct qmgr_message **bucket = qmgr_message_bucket(m->id);
    m->next = *bucket;
    *bucket = m;
    qmgr_active_count++;
    ctx->admitted++;
    size_t todo = 0;
    for (size_t i = 0; i < m->env.nrcpt; i++)
        todo += !m->env.rcpts[i].done;
    static struct sbuf *lbuf;   /* one buffer for the whole life of qmgr */
    if (lbuf == NULL)
        lbuf = sbuf_new(64);
    log_info("%s: from=<%s>, size=%ld, nrcpt=%zu (queue active)", id,
             log_addr(lbuf, m->env.sender), m->env.content_size, todo);
    /* Fresh attempt: old delay reasons are replaced by this attempt's. */
    mail_queue_remove(MAIL_QUEUE_DEFER, id);
    qmgr_message_resolve(m);
    if (m->pending == 0) {
        m->pending = 1;
        qmgr_message_done_entry(m);
    }
    return 0;
}

int qmgr_scan(const char *queue, bool ignore_time, bool *full)
{
    struct qmgr_scan_ctx ctx = { .queue = queue, .ignore_time = ignore_time, .now = time(NULL) };
    mail_queue_dir_scan(queue, qmgr_admit, &ctx);
    if (ctx.admitted)
        log_debug(1, "scan %s: %d messages admitted", queue, ctx.admitted);
    if (full)
        *full = ctx.full;
    return ctx.admitted;
}
