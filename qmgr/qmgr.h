/*
 * qmgr.h - the queue manager's private interface
 *
 * Used by: the qmgr sources only.
 * Notes: a message in active/ is split into entries: the recipients that go
 *        to one (transport, nexthop) destination, at most the transport's
 *        recipient limit each. Destinations are served round-robin within
 *        their concurrency window (slow start from
 *        $initial_destination_concurrency up to the transport's limit).
 */
#ifndef POSTERN_QMGR_H
#define POSTERN_QMGR_H
#include "sys_compat.h"
#include "qfile.h"
#include "sbuf.h"

struct qmgr_conn;

struct qmgr_transport {
    char *name;
    int dest_limit;             /* per-destination concurrency limit */
    int rcpt_limit;             /* recipients per delivery request */
    double rate_delay;          /* seconds between deliveries to one destination */
    int initial_window;         /* TRANSPORT_initial_destination_concurrency */
    int failed_cohort_limit;    /* ..._destination_concurrency_failed_cohort_limit */
    double unavail_until;       /* monotonic time; 0 = available */
    char *unavail_reason;
    int active;
    int ungreeted;              /* deliveries on new connections no agent greeted yet */
    struct qmgr_conn *idle;     /* agent connections kept for the next request */
    struct qmgr_transport *next;
};

struct qmgr_entry;

struct qmgr_dest {
    char *nexthop;
    struct qmgr_transport *tr;
    struct qmgr_entry *head, *tail;
    int todo;                   /* entries on head..tail */
    int active;
    double window;
    int failed_cohorts;
    double dead_until;
    char *dead_reason;
    double next_start;          /* rate delay */
    double last_done;           /* when a delivery to it last finished */
    bool cache_on;              /* on-demand connection caching (qmgr_dest_cache) */
    double clog_warn_at;        /* no congestion warning before this (qmgr_clog_warn_time) */
    struct qmgr_dest *next;
};

struct qmgr_message {
    char id[40];
    struct qenv env;
    int pending;                /* entries not yet finished */
    bool resolving_failed;
    bool forced_expire;         /* group-execute bit set by postsuper -e */
    double loaded_at;           /* wall clock when moved to active */
    bool flush_dfxp;            /* found by a flush: defer_transports do not apply */
    int trace_flags;            /* DELIVER_REQ_F_VERIFY for an address probe */
    struct qmgr_message *next;
};

struct qmgr_entry {
    struct qmgr_message *msg;
    struct qmgr_dest *dest;
    size_t *rcpt;               /* indexes into msg->env.rcpts */
    size_t nrcpt;
    struct qmgr_entry *next;
};

/* Parameters, read once at start (qmgr_cfg_load() in qmgr.c): a bad value
 * is fatal then, never in a callback. */
struct qmgr_config {
    double queue_run_delay;
    double minimal_backoff, maximal_backoff;
    long recycle_limit;         /* postern_queue_file_recycling */
    long maximal_queue_lifetime, bounce_queue_lifetime;
    int active_limit;
    double transport_retry_time;
    double daemon_timeout;
    int default_process_limit;
    bool allow_min_user;        /* recipients may start with '-' */
    double clog_warn_time;      /* qmgr_clog_warn_time; 0: no congestion warnings */
};
extern struct qmgr_config qmgr_cfg;

extern int qmgr_active_count;

/* qmgr_message.c */
/* Reads the parameters the message code needs (defer_transports). */
void qmgr_message_init(void);
void qmgr_scan_active_at_start(void);
/* Admits what queue holds, up to qmgr_message_active_limit: how many;
 * *full (may be NULL): the limit stopped the scan. */
int qmgr_scan(const char *queue, bool ignore_time, bool *full);
void qmgr_message_done_entry(struct qmgr_message *m);
void qmgr_defer_recipient(struct qmgr_message *m, size_t idx, const char *relay, const char *status,
                          const char *reason);

/* qmgr_deliver.c */
struct qmgr_dest *qmgr_dest_find(const char *transport, const char *nexthop);
void qmgr_dest_add_entry(struct qmgr_dest *d, struct qmgr_entry *e);
void qmgr_schedule(void);
void qmgr_forget_dead(void);

/* qmgr_conn.c: an agent connection kept from tr's last delivery, taken
 * (greeted already), or -1 when none is kept. */
int qmgr_conn_take(struct qmgr_transport *tr);
/* Keeps fd, whose agent offered another request, for tr's next delivery. */
void qmgr_conn_keep(struct qmgr_transport *tr, int fd);
/* Closes every connection kept for tr (their agents go back to accept). */
void qmgr_conn_release(struct qmgr_transport *tr);
/* True when l is a delivery agent's greeting (proto=delivery_v1). */
bool qmgr_conn_is_greeting(const struct attr_list *l);
/* True when rest (what came after an agent's reply) is exactly a new
 * delivery greeting: the agent offers the connection for another request. */
bool qmgr_conn_offered(const char *rest, size_t len);

#endif
