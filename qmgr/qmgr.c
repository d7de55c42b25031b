/*
 * qmgr.c - queue manager: main, triggers and periodic scans
 *
 * Used by: master (service qmgr, wakeup 300, maxproc 1).
 * Interface: a SERVER_TRIGGER daemon; triggers per docs/ipc.md.
 * Notes: at start, files left in active/ by a previous qmgr go back to
 *        incoming/ (nothing is lost; recipients already done are marked D).
 *        incoming/ is scanned on 'I', deferred/ on 'D' and every
 *        $queue_run_delay.
 */
#include "alloc.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "mail_flow.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "qmgr.h"
#include "server.h"
#include "transport_param.h"

static bool qmgr_want_incoming, qmgr_want_deferred, qmgr_ignore_time;

/* in_flow_delay (mail_flow.h): one token for each message taken from
 * incoming/, and, once incoming/ has been read to the end, as many as keep
 * $default_process_limit in the pipe (Postfix's rule); more than that are
 * taken back. A no-op when the feature is off. */
static void qmgr_flow_feed(int admitted, bool full)
{
    size_t have = mail_flow_count(), limit = (size_t)qmgr_cfg.default_process_limit;
    if (have < limit) {
        if (!full)
            (void)mail_flow_put(limit - have);
        else if (admitted > 0)
            (void)mail_flow_put((size_t)admitted < limit - have ? (size_t)admitted : limit - have);
    } else if (have > limit)
        (void)mail_flow_get(have - limit);
}

static void qmgr_run_scans(void *ctx)
{
    (void)ctx;
    if (qmgr_want_incoming) {
        bool full = false;
        qmgr_want_incoming = false;
        int admitted = qmgr_scan(MAIL_QUEUE_INCOMING, false, &full);
        qmgr_flow_feed(admitted, full);
    }
    if (qmgr_want_deferred) {
        bool ignore = qmgr_ignore_time;
        qmgr_want_deferred = false;
        qmgr_ignore_time = false;
        qmgr_scan(MAIL_QUEUE_DEFERRED, ignore, NULL);
    }
    qmgr_schedule();
}

static void qmgr_deferred_timer(void *ctx)
{
    (void)ctx;
    qmgr_want_deferred = true;
    qmgr_want_incoming = true;     /* also catches a lost trigger */
    qmgr_run_scans(NULL);
    event_timer_add(qmgr_cfg.queue_run_delay, qmgr_deferred_timer, NULL);
}

static void qmgr_trigger(const char *buf, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        switch (buf[i]) {
        case QMGR_TRIGGER_INCOMING:
            qmgr_want_incoming = true;
            break;
        case QMGR_TRIGGER_DEFERRED:
            qmgr_want_deferred = true;
            break;
        case QMGR_TRIGGER_IGNORE_TIME:
            qmgr_ignore_time = true;
            break;
        case QMGR_TRIGGER_FLUSH_DEAD:
            qmgr_forget_dead();
            break;
        case QMGR_TRIGGER_WAKEUP:
        default:
            qmgr_want_incoming = true;
            break;
        }
    }
    /* Coalesce a burst of triggers into one scan. */
    event_timer_add(0.0, qmgr_run_scans, NULL);
}

struct qmgr_config qmgr_cfg;

/* Checks one per-transport setting at start (TRANSPORT_destination_...). */
static void qmgr_cfg_transport(const struct config_entry *e, void *ctx)
{
    size_t tlen;
    int id = transport_param_parse(e->name, &tlen);
    (void)ctx;
    if (id < 0)
        return;
    char *tr = xstrndup(e->name, tlen);
    if (id == TP_DESTINATION_RATE_DELAY || id == TP_TRANSPORT_RATE_DELAY
        || id == TP_RECIPIENT_REFILL_DELAY || id == TP_TIME_LIMIT)
        (void)transport_param_time(tr, (enum transport_param)id);
    else if (id != TP_DESTINATION_CONCURRENCY_NEGATIVE_FEEDBACK
             && id != TP_DESTINATION_CONCURRENCY_POSITIVE_FEEDBACK)
        (void)transport_param_long(tr, (enum transport_param)id);
    xfree(tr);
}

static void qmgr_cfg_load(void)
{
    struct qmgr_config *c = &qmgr_cfg;
    c->queue_run_delay = (double)cfg_time(P_QUEUE_RUN_DELAY);
    c->minimal_backoff = (double)cfg_time(P_MINIMAL_BACKOFF_TIME);
    c->maximal_backoff = (double)cfg_time(P_MAXIMAL_BACKOFF_TIME);
    c->recycle_limit = cfg_long(P_POSTERN_QUEUE_FILE_RECYCLING);
    c->maximal_queue_lifetime = cfg_time(P_MAXIMAL_QUEUE_LIFETIME);
    c->bounce_queue_lifetime = cfg_time(P_BOUNCE_QUEUE_LIFETIME);
    c->active_limit = cfg_int(P_QMGR_MESSAGE_ACTIVE_LIMIT);
    c->transport_retry_time = (double)cfg_time(P_TRANSPORT_RETRY_TIME);
    c->daemon_timeout = (double)cfg_time(P_DAEMON_TIMEOUT);
    c->default_process_limit = cfg_int(P_DEFAULT_PROCESS_LIMIT);
    c->allow_min_user = cfg_bool(P_ALLOW_MIN_USER);
    c->clog_warn_time = (double)cfg_time(P_QMGR_CLOG_WARN_TIME);
    /* Fallbacks and every TRANSPORT_xxx set in main.cf or -o: transports are
     * met later, while mail flows, and a bad value must be fatal now. */
    (void)cfg_long(P_DEFAULT_DESTINATION_CONCURRENCY_LIMIT);
    (void)cfg_long(P_DEFAULT_DESTINATION_RECIPIENT_LIMIT);
    (void)cfg_long(P_INITIAL_DESTINATION_CONCURRENCY);
    (void)cfg_long(P_DEFAULT_DESTINATION_CONCURRENCY_FAILED_COHORT_LIMIT);
    (void)cfg_time(P_DEFAULT_DESTINATION_RATE_DELAY);
    config_foreach(qmgr_cfg_transport, NULL);
}

static void qmgr_post_jail(void)
{
    mail_queue_init();
    qmgr_message_init();
    qmgr_scan_active_at_start();
    qmgr_want_incoming = true;
    qmgr_want_deferred = true;
    event_timer_add(0.0, qmgr_run_scans, NULL);
    event_timer_add(qmgr_cfg.queue_run_delay, qmgr_deferred_timer, NULL);
}

static const struct server_ops qmgr_ops = {
    .model = SERVER_TRIGGER,
    .pre_jail = qmgr_cfg_load,
    .resident = true,
    .delivery = true,
    .flow_tokens = true,
    .post_jail = qmgr_post_jail,
    .trigger = qmgr_trigger,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &qmgr_ops);
}
