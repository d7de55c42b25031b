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
#include "config.h"
#include "events.h"
#include "log.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "qmgr.h"
#include "server.h"

static bool qmgr_want_incoming, qmgr_want_deferred, qmgr_ignore_time;

static void qmgr_run_scans(void *ctx)
{
    (void)ctx;
    if (qmgr_want_incoming) {
        qmgr_want_incoming = false;
        qmgr_scan(MAIL_QUEUE_INCOMING, false);
    }
    if (qmgr_want_deferred) {
        bool ignore = qmgr_ignore_time;
        qmgr_want_deferred = false;
        qmgr_ignore_time = false;
        qmgr_scan(MAIL_QUEUE_DEFERRED, ignore);
    }
    qmgr_schedule();
}

static void qmgr_deferred_timer(void *ctx)
{
    (void)ctx;
    qmgr_want_deferred = true;
    qmgr_want_incoming = true;     /* also catches a lost trigger */
    qmgr_run_scans(NULL);
    event_timer_add((double)cfg_time(P_QUEUE_RUN_DELAY), qmgr_deferred_timer, NULL);
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

static void qmgr_post_jail(void)
{
    mail_queue_init();
    qmgr_message_init();
    qmgr_scan_active_at_start();
    qmgr_want_incoming = true;
    qmgr_want_deferred = true;
    event_timer_add(0.0, qmgr_run_scans, NULL);
    event_timer_add((double)cfg_time(P_QUEUE_RUN_DELAY), qmgr_deferred_timer, NULL);
}

static const struct server_ops qmgr_ops = {
    .model = SERVER_TRIGGER,
    .resident = true,
    .post_jail = qmgr_post_jail,
    .trigger = qmgr_trigger,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &qmgr_ops);
}
