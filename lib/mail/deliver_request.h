/*
 * deliver_request.h - server side of the delivery protocol (qmgr -> agent)
 *
 * Used by: local, virtual, smtp, lmtp, pipe, error, discard.
 * Interface: deliver_request_read(), deliver_request_parse(),
 *            deliver_request_open(), deliver_request_done(),
 *            deliver_request_free(); per-recipient results: deliver_status(),
 *            deliver_sent(), deliver_bounce(), deliver_defer(),
 *            deliver_hop_fail(); content: deliver_content_lines().
 * Errors: a malformed request (missing field, bad count, bad queue id,
 *         recipient offset that is not an R record) is logged once and
 *         deliver_request_read() returns NULL: the agent then hangs up
 *         without a reply and qmgr treats the attempt as 4.3.0.
 * Notes: the wire fields are in docs/ipc.md "delivery". Results are logged
 *        Postfix-style ("ID: to=<a>, orig_to=<o>, relay=R, delay=D,
 *        delays=a/b/c/d, dsn=X.Y.Z, status=sent (text)", delivery_log.h) and appended to the
 *        bounce/, defer/ and trace/ logs (dsn_log.h); those writes need the
 *        privileges of the queue owner, so agents that switch uid call the
 *        status functions after switching back. A recipient marked done is
 *        never retried; when a status log cannot be written the recipient is
 *        left for a retry instead (duplicate rather than lose a notice).
 *        A probe (DELIVER_REQ_F_VERIFY) writes no status log: each result is
 *        logged as "status=deliverable" or "undeliverable", sent to the
 *        verify service (verify_clnt.h) and the recipient is marked done
 *        whatever the outcome, so a probe is never retried, bounced or
 *        delivered. With DELIVER_REQ_F_USER_VERIFY (sendmail -bv) the result
 *        goes to the trace log instead, with action "deliverable" or
 *        "undeliverable".
 *        Before a result is logged or recorded (probes too), the agent's
 *        delivery status filter (its *_delivery_status_filter, dsn_filter.h),
 *        when it has one, may replace the code and text of the result: a
 *        4.X.X replacement defers, a 5.X.X one bounces, and soft_bounce
 *        still applies after it. When the filter's table fails, a success
 *        is reported as it was and a failure is deferred with 4.3.0, so
 *        nothing is lost.
 */
#ifndef POSTERN_DELIVER_REQUEST_H
#define POSTERN_DELIVER_REQUEST_H
#include "sys_compat.h"
#include "attr.h"
#include "sbuf.h"
#include "stream.h"

/* Request attribute names (client and server share these). */
#define DELIVER_ATTR_QUEUE_NAME "queue_name"
#define DELIVER_ATTR_QUEUE_ID "queue_id"
#define DELIVER_ATTR_NEXTHOP "nexthop"
#define DELIVER_ATTR_SENDER "sender"
#define DELIVER_ATTR_ENVID "envid"
#define DELIVER_ATTR_RET "ret"
#define DELIVER_ATTR_FLAGS "flags"
#define DELIVER_ATTR_ARRIVAL "arrival"
#define DELIVER_ATTR_RCPT_COUNT "rcpt_count"
#define DELIVER_ATTR_RCPT_ADDRESS "rcpt_address"
#define DELIVER_ATTR_RCPT_ORIG "rcpt_orig"
#define DELIVER_ATTR_RCPT_DSN_ORCPT "rcpt_dsn_orcpt"
#define DELIVER_ATTR_RCPT_NOTIFY "rcpt_notify"
#define DELIVER_ATTR_RCPT_OFFSET "rcpt_offset"
/* Reply attribute names. */
#define DELIVER_ATTR_STATUS "status"
#define DELIVER_ATTR_HOP_STATUS "hop_status"
#define DELIVER_ATTR_HOP_REASON "hop_reason"

/* Request flags (the "flags" attribute). */
#define DELIVER_REQ_F_PASSED 0x1    /* handed on by another agent (deliver_pass.h):
                                     * report, but leave marking recipients done
                                     * to that agent */
#define DELIVER_REQ_F_VERIFY 0x2    /* an address verification probe: check the
                                     * recipient, never deliver; results go to the
                                     * verify service, not to status logs, and
                                     * every recipient is finished (done) */
#define DELIVER_REQ_F_USER_VERIFY 0x4 /* sendmail -bv: check like a probe, but the
                                     * results go to the trace log, from which
                                     * the sender gets a delivery status report */
/* Either kind: the agent checks and never delivers. */
#define DELIVER_REQ_F_CHECK_ONLY (DELIVER_REQ_F_VERIFY | DELIVER_REQ_F_USER_VERIFY)

/* Queue-file attribute (A record) that carries DELIVER_REQ_F_VERIFY from the
 * verify service through cleanup to qmgr, which puts it in "flags". */
#define DELIVER_ATTR_TRACE_FLAGS "trace_flags"
#define DELIVER_REQ_F_CONN_CACHE 0x40 /* qmgr: the destination has more mail
                                     * waiting; keep the connection open
                                     * for it (connection cache on demand) */

/* Most recipients one request may carry (5 attributes each). */
#define DELIVER_RCPT_MAX 10000
/* Longest address accepted in a request. */
#define DELIVER_ADDR_MAX 2048

/* What deliver_status() reports. */
enum deliver_kind {
    DELIVER_SENT,       /* delivered (or relayed, expanded, discarded) */
    DELIVER_BOUNCED,    /* permanent failure: bounce/ID, marked done */
    DELIVER_DEFERRED,   /* temporary failure: defer/ID, left for a retry */
};

/* deliver_status() flags */
#define DELIVER_F_NOMARK 0x1        /* report only; do not mark the R record done */
#define DELIVER_F_RELAYED 0x2       /* DSN action "relayed" instead of "delivered" */
#define DELIVER_F_EXPANDED 0x4      /* DSN action "expanded" (alias, .forward) */
#define DELIVER_F_NOLOG 0x8         /* write the status log but no log line */

struct deliver_rcpt {
    char *address;      /* recipient as qmgr resolved it */
    char *orig;         /* original recipient ("" when none) */
    char *dsn_orcpt;    /* DSN ORCPT ("" when none) */
    int notify;         /* DSN_NOTIFY_* bits, 0 = not specified */
    long offset;        /* of the recipient's R record in the queue file */
};

struct qfile_reader;
struct dsn_filter;

struct deliver_request {
    char *queue_name;
    char *queue_id;
    char *nexthop;
    char *sender;
    char *envid;
    int ret;
    int flags;
    long arrival_sec;           /* from the request, refined from the T record */
    long arrival_usec;
    struct attr_list *attrs;    /* the whole request (client_name etc.) */
    struct attr_list *env_attrs; /* the queue file's A records (sasl_method etc.),
                                  * filled by deliver_request_open(); never NULL then */
    struct deliver_rcpt *rcpts;
    size_t nrcpt;

    /* Filled by deliver_request_open(). */
    struct qfile_reader *qf;    /* owns the descriptor */
    int fd;                     /* O_RDWR queue file descriptor, or -1 */
    off_t content_offset;       /* first record after M */

    /* Agent state. */
    const char *relay;          /* "relay=" field: "local", "none", a host (borrowed) */
    double start_time;          /* when the request was read */
    bool deferred;              /* some recipient is left for a retry */
    struct sbuf *hop_status;    /* e.g. "4.4.1", empty for positive feedback */
    struct sbuf *hop_reason;
    /* Optional DSN details for the next status call (NULL: none). An SMTP
     * client sets them to the remote host and its reply. */
    const char *dsn_mta;        /* "mx.example.com" for Remote-MTA: dns; ... */
    const char *diag_type;      /* "smtp" */
    const char *diag_text;      /* "550 5.1.1 <x>: no such user" */
    struct dsn_filter *status_filter; /* the agent's *_delivery_status_filter
                                       * (borrowed), or NULL */
    enum deliver_kind reported;       /* what the last status call reported, after
                                       * the status filter and soft_bounce */
};

/* Sends the greeting (on a new connection; on a kept one it went with the
 * last reply), reads one request from client and opens its queue
 * file. Returns new (free with deliver_request_done() or _free()), or NULL
 * after logging why. relay is the default "relay=" text (borrowed);
 * filter is the agent's delivery status filter (borrowed; NULL: none),
 * applied by every status call on the request. */
struct deliver_request *deliver_request_read(struct stream *client, const char *relay,
                                             struct dsn_filter *filter);

/* Builds a request from an attribute list without touching the queue.
 * Returns new, or NULL with why filled (e.g. "rcpt_count 3 but 2
 * recipients"). Used by deliver_request_read() and the unit tests. */
struct deliver_request *deliver_request_parse(const struct attr_list *l, struct sbuf *why);

/* Opens QUEUE_NAME/QUEUE_ID read-write (relative to the current directory,
 * normally $queue_directory), loads the envelope and checks that every
 * recipient offset names an R or D record. 0, or -1 with why filled. */
int deliver_request_open(struct deliver_request *r, struct sbuf *why);

/* Sends the reply (status, hop_status, hop_reason), followed in the same
 * write by a new greeting when the skeleton can take another request on
 * this connection (server_offer_next_session()), and frees r. Returns 0 or
 * a STREAM_E_* code (logged). */
int deliver_request_done(struct stream *client, struct deliver_request *r);

/* Frees r and closes the queue file; accepts NULL. */
void deliver_request_free(struct deliver_request *r);

/* Reports one result for rc (usually &r->rcpts[i]; local passes a copy
 * whose address is an alias target). Applies r->status_filter and
 * soft_bounce, which may change kind (r->reported says what was reported),
 * then logs the Postfix-shaped line, appends
 * to bounce/ (BOUNCED), defer/ (DEFERRED) or, for SENT when rc->notify has
 * DSN_NOTIFY_SUCCESS, trace/; then, unless DELIVER_F_NOMARK, marks a SENT or
 * BOUNCED recipient done. dsn is "X.Y.Z"; text is the human reason shown in
 * parentheses. Returns 0, or -1 when the recipient could not be finished
 * (status log or mark failed; it then counts as deferred). */
int deliver_status(struct deliver_request *r, const struct deliver_rcpt *rc,
                   enum deliver_kind kind, int flags, const char *dsn, const char *fmt, ...)
    PRINTF_LIKE(6, 7);
int deliver_vstatus(struct deliver_request *r, const struct deliver_rcpt *rc,
                    enum deliver_kind kind, int flags, const char *dsn, const char *fmt,
                    va_list ap) PRINTF_LIKE(6, 0);
/* Shorthands for deliver_status() with flags 0. */
int deliver_sent(struct deliver_request *r, const struct deliver_rcpt *rc, const char *dsn,
                 const char *fmt, ...) PRINTF_LIKE(4, 5);
int deliver_bounce(struct deliver_request *r, const struct deliver_rcpt *rc, const char *dsn,
                   const char *fmt, ...) PRINTF_LIKE(4, 5);
int deliver_defer(struct deliver_request *r, const struct deliver_rcpt *rc, const char *dsn,
                  const char *fmt, ...) PRINTF_LIKE(4, 5);

/* Marks the whole destination as failing (negative feedback for qmgr). */
void deliver_hop_fail(struct deliver_request *r, const char *dsn, const char *reason);

/* Splits "4.1.1 text" into dsn ("4.1.1") and the text after the blanks.
 * When s does not start with a valid code of class 2, 4 or 5, fills dsn
 * with dflt and returns s. Returns a pointer into s (borrowed). */
const char *deliver_split_dsn(const char *s, const char *dflt, struct sbuf *dsn);

/* Content callback: one message line (without LF; may hold NUL bytes).
 * Returns 0 to go on, non-zero to stop the walk (the value is returned). */
typedef int (*deliver_line_fn)(const char *line, size_t len, void *ctx);
/* Calls fn for each content line from content_offset up to the X record,
 * joining L records into one line. Returns 0 at the end of the content, fn's
 * non-zero result, or -1 when the queue file is corrupt or unreadable
 * (logged). May be called more than once. */
int deliver_content_lines(struct deliver_request *r, deliver_line_fn fn, void *ctx);

#endif
