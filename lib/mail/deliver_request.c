/*
 * deliver_request.c - server side of the delivery protocol (qmgr -> agent)
 *
 * Used by: every delivery agent.
 * Interface: see deliver_request.h.
 * Errors: see deliver_request.h.
 * Notes: the request is one attribute list; recipient groups start at each
 *        rcpt_address and collect the rcpt_* fields that follow it.
 */
#include "deliver_request.h"
#include "verify_clnt.h"
#include "alloc.h"
#include "config.h"
#include "dsn_filter.h"
#include "dsn_log.h"
#include "log.h"
#include "delivery_log.h"
#include "mail_owner.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "qfile.h"
#include "server.h"
#include "soft_bounce.h"
#include <fcntl.h>
#include <sys/time.h>

static double deliver_now(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Strict decimal parser: digits only, within [lo, hi]. */
static bool deliver_parse_long(const char *s, long lo, long hi, long *out)
{
    if (s == NULL || *s == 0)
        return false;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != 0 || v < lo || v > hi)
        return false;
    *out = v;
    return true;
}

/* A queue name is one of the fixed queue directories (no path tricks). */
static bool deliver_queue_name_ok(const char *q)
{
    static const char *const names[] = { MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED,
                                         MAIL_QUEUE_INCOMING, MAIL_QUEUE_HOLD };
    for (size_t i = 0; i < ARRAY_LEN(names); i++)
        if (strcmp(q, names[i]) == 0)
            return true;
    return false;
}

static bool deliver_addr_ok(const char *a)
{
    return strlen(a) <= DELIVER_ADDR_MAX;
}

void deliver_request_free(struct deliver_request *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < r->nrcpt; i++) {
        xfree(r->rcpts[i].address);
        xfree(r->rcpts[i].orig);
        xfree(r->rcpts[i].dsn_orcpt);
    }
    xfree(r->rcpts);
    xfree(r->queue_name);
    xfree(r->queue_id);
    xfree(r->nexthop);
    xfree(r->sender);
    xfree(r->envid);
    attr_list_free(r->attrs);
    attr_list_free(r->env_attrs);
    if (r->qf)
        qfile_close(r->qf);
    sbuf_free(r->hop_status);
    sbuf_free(r->hop_reason);
    xfree(r);
}

static const char *deliver_need(const struct attr_list *l, const char *name, struct sbuf *why)
{
    const char *v = attr_get(l, name);
    if (v == NULL)
        sbuf_printf(why, "missing %s", name);
    return v;
}

struct deliver_request *deliver_request_parse(const struct attr_list *l, struct sbuf *why)
{
    struct deliver_request *r = xcalloc(1, sizeof(*r));
    const char *v;
    long n;

    r->fd = -1;
    r->relay = "none";
    r->start_time = deliver_now();
    r->hop_status = sbuf_new(16);
    r->hop_reason = sbuf_new(64);
    sbuf_reset(why);

    if ((v = deliver_need(l, DELIVER_ATTR_QUEUE_NAME, why)) == NULL)
        goto bad;
    if (!deliver_queue_name_ok(v)) {
        sbuf_printf(why, "bad queue_name \"%.100s\"", v);
        goto bad;
    }
    r->queue_name = xstrdup(v);
    if ((v = deliver_need(l, DELIVER_ATTR_QUEUE_ID, why)) == NULL)
        goto bad;
    if (!mail_queue_id_ok(v)) {
        sbuf_printf(why, "bad queue_id \"%.100s\"", v);
        goto bad;
    }
    r->queue_id = xstrdup(v);
    r->nexthop = xstrdup(attr_get_def(l, DELIVER_ATTR_NEXTHOP, ""));
    if ((v = deliver_need(l, DELIVER_ATTR_SENDER, why)) == NULL)
        goto bad;
    if (!deliver_addr_ok(v)) {
        sbuf_cat(why, "sender address too long");
        goto bad;
    }
    r->sender = xstrdup(v);
    r->envid = xstrdup(attr_get_def(l, DELIVER_ATTR_ENVID, ""));
    v = attr_get_def(l, DELIVER_ATTR_RET, "0");
    if (!deliver_parse_long(v, 0, 255, &n)) {
        sbuf_printf(why, "bad ret \"%.40s\"", v);
        goto bad;
    }
    r->ret = (int)n;
    v = attr_get_def(l, DELIVER_ATTR_FLAGS, "0");
    if (!deliver_parse_long(v, 0, INT_MAX, &n)) {
        sbuf_printf(why, "bad flags \"%.40s\"", v);
        goto bad;
    }
    r->flags = (int)n;
    v = attr_get_def(l, DELIVER_ATTR_ARRIVAL, "0");
    if (!deliver_parse_long(v, 0, LONG_MAX, &n)) {
        sbuf_printf(why, "bad arrival \"%.40s\"", v);
        goto bad;
    }
    r->arrival_sec = n;

    long count;
    if ((v = deliver_need(l, DELIVER_ATTR_RCPT_COUNT, why)) == NULL)
        goto bad;
    if (!deliver_parse_long(v, 1, DELIVER_RCPT_MAX, &count)) {
        sbuf_printf(why, "bad rcpt_count \"%.40s\"", v);
        goto bad;
    }
    r->rcpts = xcalloc((size_t)count, sizeof(*r->rcpts));

    /* Walk the list in order: each rcpt_address opens a group. */
    struct deliver_rcpt *cur = NULL;
    bool have_offset = false;
    for (size_t i = 0; i < l->count; i++) {
        const char *name = l->items[i].name;
        const char *val = l->items[i].value;
        if (strncmp(name, "rcpt_", 5) != 0 || strcmp(name, DELIVER_ATTR_RCPT_COUNT) == 0)
            continue;
        if (strlen(val) != l->items[i].vlen) {
            sbuf_printf(why, "NUL byte in %s", name);
            goto bad;
        }
        if (strcmp(name, DELIVER_ATTR_RCPT_ADDRESS) == 0) {
            if (cur && !have_offset) {
                sbuf_printf(why, "recipient %zu has no rcpt_offset", r->nrcpt);
                goto bad;
            }
            if (r->nrcpt >= (size_t)count) {
                sbuf_printf(why, "more recipients than rcpt_count %ld", count);
                goto bad;
            }
            if (*val == 0 || !deliver_addr_ok(val)) {
                sbuf_printf(why, "bad recipient address in group %zu", r->nrcpt + 1);
                goto bad;
            }
            cur = &r->rcpts[r->nrcpt++];
            cur->address = xstrdup(val);
            cur->orig = xstrdup("");
            cur->dsn_orcpt = xstrdup("");
            cur->offset = -1;
            have_offset = false;
            continue;
        }
        if (cur == NULL) {
            sbuf_printf(why, "%s before the first rcpt_address", name);
            goto bad;
        }
        if (strcmp(name, DELIVER_ATTR_RCPT_ORIG) == 0) {
            if (!deliver_addr_ok(val)) {
                sbuf_cat(why, "original recipient too long");
                goto bad;
            }
            xfree(cur->orig);
            cur->orig = xstrdup(val);
        } else if (strcmp(name, DELIVER_ATTR_RCPT_DSN_ORCPT) == 0) {
            if (!deliver_addr_ok(val)) {
                sbuf_cat(why, "dsn original recipient too long");
                goto bad;
            }
            xfree(cur->dsn_orcpt);
            cur->dsn_orcpt = xstrdup(val);
        } else if (strcmp(name, DELIVER_ATTR_RCPT_NOTIFY) == 0) {
            if (!deliver_parse_long(val, 0, 255, &n)) {
                sbuf_printf(why, "bad rcpt_notify \"%.40s\"", val);
                goto bad;
            }
            cur->notify = (int)n;
        } else if (strcmp(name, DELIVER_ATTR_RCPT_OFFSET) == 0) {
            if (!deliver_parse_long(val, 1, LONG_MAX, &n)) {
                sbuf_printf(why, "bad rcpt_offset \"%.40s\"", val);
                goto bad;
            }
            cur->offset = n;
            have_offset = true;
        }
        /* other rcpt_* names: lenient, so the protocol can grow */
    }
    if (cur && !have_offset) {
        sbuf_printf(why, "recipient %zu has no rcpt_offset", r->nrcpt);
        goto bad;
    }
    if (r->nrcpt != (size_t)count) {
        sbuf_printf(why, "rcpt_count %ld but %zu recipients", count, r->nrcpt);
        goto bad;
    }
    r->attrs = attr_list_new();
    r->attrs->max_count = l->count + 1;
    for (size_t i = 0; i < l->count; i++)
        if (strncmp(l->items[i].name, "rcpt_", 5) != 0)
            attr_add(r->attrs, l->items[i].name, l->items[i].value);
    return r;

bad:
    deliver_request_free(r);
    return NULL;
}

int deliver_request_open(struct deliver_request *r, struct sbuf *why)
{
    struct sbuf *path = sbuf_new(64);
    struct qenv env;
    int result = -1;

    mail_queue_path(path, r->queue_name, r->queue_id);
    /* A root agent opens the file as mail_owner and through directory
     * descriptors, so a planted link cannot make it open another file;
     * the file must be mail_owner's, regular, with one link. */
    int fd = -1;
    if (mail_owner_begin() == 0) {
        fd = mail_queue_openat(r->queue_name, r->queue_id, O_RDWR, 0);
        mail_owner_end();
    }
    if (fd < 0) {
        sbuf_printf(why, "open %s: %s", sbuf_str(path), strerror(errno));
        sbuf_free(path);
        return -1;
    }
    r->qf = qfile_from_fd(fd);
    r->fd = fd;
    int err = qenv_load(r->qf, &env);
    if (err < 0) {
        sbuf_printf(why, "%s: %s", sbuf_str(path),
                    err == QFILE_E_IO ? "read error" : "corrupt or incomplete queue file");
        goto out;
    }
    if (env.content_offset <= 0) {
        sbuf_printf(why, "%s: no message content", sbuf_str(path));
        goto out;
    }
    r->content_offset = env.content_offset;
    attr_list_free(r->env_attrs);
    r->env_attrs = env.attrs ? env.attrs : attr_list_new();
    env.attrs = NULL;           /* now owned by r */
    if (env.arrival_sec > 0) {
        r->arrival_sec = env.arrival_sec;
        r->arrival_usec = env.arrival_usec;
    }
    /* qmgr is trusted, but a wrong offset would corrupt the file when we
     * mark it: accept only offsets of recipient records. */
    for (size_t i = 0; i < r->nrcpt; i++) {
        bool found = false;
        for (size_t j = 0; j < env.nrcpt && !found; j++)
            found = (long)env.rcpts[j].offset == r->rcpts[i].offset;
        if (!found) {
            sbuf_printf(why, "%s: recipient %s: offset %ld is not a recipient record",
                        sbuf_str(path), r->rcpts[i].address, r->rcpts[i].offset);
            goto out;
        }
    }
    result = 0;
out:
    qenv_free(&env);
    sbuf_free(path);
    return result;
}

struct deliver_request *deliver_request_read(struct stream *client, const char *relay,
                                             struct dsn_filter *filter)
{
    struct attr_list *l = attr_list_new();
    struct sbuf *why = sbuf_new(128);
    struct deliver_request *r = NULL;

    stream_set_timeout(client, (int)cfg_time(P_IPC_TIMEOUT));
    l->max_count = 64 + 5 * DELIVER_RCPT_MAX;
    /* On a kept connection the greeting went out with the last reply. */
    int err = server_client_sessions() == 0 ? attr_send_proto(client, MAIL_PROTO_DELIVERY) : 0;
    if (err == 0)
        err = attr_read(client, l);
    if (err != 0) {
        log_warn("read delivery request: %s",
                 err == ATTR_E_FORMAT ? "malformed attribute list"
                 : err == ATTR_E_LIMIT ? "request too large" : stream_strerror(err));
        goto out;
    }
    r = deliver_request_parse(l, why);
    if (r == NULL) {
        log_warn("bad delivery request: %s", sbuf_str(why));
        goto out;
    }
    if (relay)
        r->relay = relay;
    r->status_filter = filter;
    if (deliver_request_open(r, why) < 0) {
        log_warn("%s: %s", r->queue_id, sbuf_str(why));
        deliver_request_free(r);
        r = NULL;
    }
out:
    attr_list_free(l);
    sbuf_free(why);
    return r;
}

int deliver_request_done(struct stream *client, struct deliver_request *r)
{
    struct attr_list *l = attr_list_new();
    attr_add(l, DELIVER_ATTR_STATUS, r->deferred ? "1" : "0");
    attr_add(l, DELIVER_ATTR_HOP_STATUS, sbuf_str(r->hop_status));
    attr_add(l, DELIVER_ATTR_HOP_REASON, sbuf_str(r->hop_reason));
    int err = attr_put(client, l);
    attr_list_free(l);
    /* A greeting after the reply, in the same write, offers the client
     * (qmgr) this connection for its next request. */
    if (err == 0 && server_offer_next_session())
        err = attr_put_proto(client, MAIL_PROTO_DELIVERY);
    if (err == 0)
        err = stream_flush(client);
    if (err != 0)
        log_warn("%s: send delivery reply: %s", r->queue_id, stream_strerror(err));
    deliver_request_free(r);
    return err;
}

void deliver_hop_fail(struct deliver_request *r, const char *dsn, const char *reason)
{
    sbuf_set(r->hop_status, dsn);
    sbuf_set(r->hop_reason, reason);
}

const char *deliver_split_dsn(const char *s, const char *dflt, struct sbuf *dsn)
{
    /* class "." subject(1-3 digits) "." detail(1-3 digits), then blank or end */
    const char *p = s;
    if ((*p == '2' || *p == '4' || *p == '5') && p[1] == '.') {
        p += 2;
        int n = 0;
        while (*p >= '0' && *p <= '9' && n < 4)
            p++, n++;
        if (n >= 1 && n <= 3 && *p == '.') {
            p++;
            n = 0;
            while (*p >= '0' && *p <= '9' && n < 4)
                p++, n++;
            if (n >= 1 && n <= 3 && (*p == 0 || *p == ' ' || *p == '\t')) {
                sbuf_reset(dsn);
                sbuf_append(dsn, s, (size_t)(p - s));
                while (*p == ' ' || *p == '\t')
                    p++;
                return p;
            }
        }
    }
    sbuf_set(dsn, dflt);
    return s;
}

static const char *deliver_kind_status(enum deliver_kind k)
{
    return k == DELIVER_SENT ? "sent" : k == DELIVER_BOUNCED ? "bounced" : "deferred";
}

/* Logs the Postfix-shaped status line (delivery_log.h). */
static void deliver_log_line(struct deliver_request *r, const struct deliver_rcpt *rc,
                             const char *status, const char *dsn, const char *text)
{
    double arrival = (double)r->arrival_sec + (double)r->arrival_usec / 1e6;
    if (r->arrival_sec <= 0 || arrival > r->start_time)
        arrival = r->start_time;
    /* XXX: qmgr does not pass the time it activated the message, so its
     * share (b) shows as 0 and a runs up to the hand-off to this agent. */
    struct delivery_times t = { .arrival = arrival, .active = r->start_time,
                                .handoff = r->start_time };
    delivery_log(r->queue_id, rc->address, rc->orig, r->relay, &t, dsn, status, text);
}

static int deliver_append(struct deliver_request *r, const char *queue,
                          const struct deliver_rcpt *rc, const char *dsn, const char *action,
                          const char *text)
{
    struct dsn_entry e = {
        .recipient = rc->address,
        .orig_rcpt = rc->orig ? rc->orig : (char *)"",
        .dsn_orcpt = rc->dsn_orcpt ? rc->dsn_orcpt : (char *)"",
        .notify = rc->notify,
        .offset = rc->offset,
        .status = (char *)dsn,
        .action = (char *)action,
        .reason = (char *)text,
        /* Only a remote MTA is a "Remote-MTA"; local agents name none. */
        .mta = (char *)(r->dsn_mta ? r->dsn_mta : ""),
        .diag_type = (char *)(r->diag_type ? r->diag_type : ""),
        .diag_text = (char *)(r->diag_text ? r->diag_text : ""),
        .time = (long)time(NULL),
    };
    return dsn_log_append(queue, r->queue_id, &e);
}

/* A probe's result (DELIVER_REQ_F_VERIFY): logged as deliverable or
 * undeliverable and sent to the verify service under the address that was
 * probed (the original recipient when cleanup or an alias rewrote it); no
 * status log. For sendmail -bv (DELIVER_REQ_F_USER_VERIFY) the result goes
 * to the trace log instead, for the report to the sender. The recipient is
 * finished whatever happened, even when the verify service cannot be
 * reached: a probe is never retried. */
static void deliver_verify(struct deliver_request *r, const struct deliver_rcpt *rc,
                           enum deliver_kind kind, int flags, const char *dsn, const char *text)
{
    int status = kind == DELIVER_SENT      ? VERIFY_ADDR_OK
                 : kind == DELIVER_BOUNCED ? VERIFY_ADDR_BOUNCE
                                           : VERIFY_ADDR_DEFER;
    const char *addr = rc->orig && *rc->orig ? rc->orig : rc->address;
    if (!(flags & DELIVER_F_NOLOG))
        deliver_log_line(r, rc, status == VERIFY_ADDR_OK ? "deliverable" : "undeliverable", dsn,
                         text);
    if (r->flags & DELIVER_REQ_F_USER_VERIFY) {
        if (deliver_append(r, MAIL_QUEUE_TRACE, rc, dsn,
                           status == VERIFY_ADDR_OK ? "deliverable" : "undeliverable", text) < 0)
            log_warn("%s: could not record the verification result for <%s>", r->queue_id,
                     rc->address);
    } else if (verify_clnt_update(addr, status, text) != VERIFY_CLNT_OK)
        log_warn("%s: could not record the verification result for <%s>", r->queue_id, addr);
    if (!(flags & DELIVER_F_NOMARK) && !(r->flags & DELIVER_REQ_F_PASSED) && r->fd >= 0
        && qfile_mark_done(r->fd, (off_t)rc->offset) < 0)
        log_warn("%s: mark recipient %s done: %m", r->queue_id, rc->address);
}

/* A status text ends up in one log line and one attribute value: no line
 * breaks, at most 4000 bytes. */
static void deliver_clean_text(struct sbuf *text)
{
    for (char *p = sbuf_data(text); *p; p++)
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    if (sbuf_len(text) > 4000)
        sbuf_truncate(text, 4000);
}

/* The agent's delivery status filter: may replace code and text, and with
 * them turn a bounce into a deferral or the other way round (a success
 * stays a success). When its table fails, a failure is deferred (4.3.0,
 * the original status in the text) so that no mail is lost on a lookup
 * error; a success is kept as it was, the delivery has happened. */
static enum deliver_kind deliver_filter(struct deliver_request *r, enum deliver_kind kind,
                                        struct sbuf *code, struct sbuf *text)
{
    int res =
        dsn_filter_apply(r->status_filter, r->queue_id, sbuf_str(code), sbuf_str(text), code, text);
    if (res == DSN_FILTER_REPLACED) {
        deliver_clean_text(text);
        if (kind != DELIVER_SENT)
            kind = sbuf_str(code)[0] == '5' ? DELIVER_BOUNCED : DELIVER_DEFERRED;
    } else if (res == DSN_FILTER_ERROR && kind != DELIVER_SENT) {
        struct sbuf *was = sbuf_new(sbuf_len(text) + 32);
        sbuf_printf(was, "%s %s", sbuf_str(code), sbuf_str(text));
        sbuf_printf(text, "delivery status filter lookup error (original status: %s)",
                    sbuf_str(was));
        deliver_clean_text(text);
        sbuf_set(code, "4.3.0");
        kind = DELIVER_DEFERRED;
        sbuf_free(was);
    }
    return kind;
}

int deliver_vstatus(struct deliver_request *r, const struct deliver_rcpt *rc,
                    enum deliver_kind kind, int flags, const char *dsn_in, const char *fmt,
                    va_list ap)
{
    struct sbuf *text = sbuf_new(128), *code = sbuf_new(16);
    int result = 0;
    sbuf_vcatf(text, fmt, ap);
    deliver_clean_text(text);
    sbuf_set(code, dsn_in);
    if (r->status_filter != NULL)
        kind = deliver_filter(r, kind, code, text);

    /* soft_bounce: a would-be bounce is deferred, its status class 4. */
    if (kind == DELIVER_BOUNCED && soft_bounce_enabled()) {
        kind = DELIVER_DEFERRED;
        soft_bounce_dsn(sbuf_data(code));
    }
    const char *dsn = sbuf_str(code);
    r->reported = kind;
    if (r->flags & DELIVER_REQ_F_CHECK_ONLY) {
        deliver_verify(r, rc, kind, flags, dsn, sbuf_str(text));
        sbuf_free(text);
        sbuf_free(code);
        return 0;
    }
    const char *action = (flags & DELIVER_F_RELAYED) ? "relayed"
                         : (flags & DELIVER_F_EXPANDED) ? "expanded" : "delivered";
    switch (kind) {
    case DELIVER_SENT:
        if ((rc->notify & DSN_NOTIFY_SUCCESS)
            && deliver_append(r, MAIL_QUEUE_TRACE, rc, dsn, action, sbuf_str(text)) < 0)
            result = -1;
        break;
    case DELIVER_BOUNCED:
        if (deliver_append(r, MAIL_QUEUE_BOUNCE, rc, dsn, "failed", sbuf_str(text)) < 0) {
            /* Without the bounce record nobody would hear of the failure:
             * keep the recipient and try again later. */
            kind = DELIVER_DEFERRED;
            result = -1;
            deliver_append(r, MAIL_QUEUE_DEFER, rc, "4.3.0", "delayed",
                           "bounce or trace service failure");
        }
        break;
    case DELIVER_DEFERRED:
        if (deliver_append(r, MAIL_QUEUE_DEFER, rc, dsn, "delayed", sbuf_str(text)) < 0)
            result = -1;
        break;
    }
    if (!(flags & DELIVER_F_NOLOG))
        deliver_log_line(r, rc, deliver_kind_status(kind), dsn, sbuf_str(text));
    r->reported = kind;
    if (kind == DELIVER_DEFERRED || result < 0)
        r->deferred = true;
    else if (!(flags & DELIVER_F_NOMARK) && !(r->flags & DELIVER_REQ_F_PASSED) && r->fd >= 0) {
        if (qfile_mark_done(r->fd, (off_t)rc->offset) < 0) {
            log_warn("%s: mark recipient %s done: %m", r->queue_id, rc->address);
            r->deferred = true;
            result = -1;
        }
    }
    sbuf_free(text);
    sbuf_free(code);
    return result;
}

int deliver_status(struct deliver_request *r, const struct deliver_rcpt *rc,
                   enum deliver_kind kind, int flags, const char *dsn, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int res = deliver_vstatus(r, rc, kind, flags, dsn, fmt, ap);
    va_end(ap);
    return res;
}

int deliver_sent(struct deliver_request *r, const struct deliver_rcpt *rc, const char *dsn,
                 const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int res = deliver_vstatus(r, rc, DELIVER_SENT, 0, dsn, fmt, ap);
    va_end(ap);
    return res;
}

int deliver_bounce(struct deliver_request *r, const struct deliver_rcpt *rc, const char *dsn,
                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int res = deliver_vstatus(r, rc, DELIVER_BOUNCED, 0, dsn, fmt, ap);
    va_end(ap);
    return res;
}

int deliver_defer(struct deliver_request *r, const struct deliver_rcpt *rc, const char *dsn,
                  const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int res = deliver_vstatus(r, rc, DELIVER_DEFERRED, 0, dsn, fmt, ap);
    va_end(ap);
    return res;
}

int deliver_content_lines(struct deliver_request *r, deliver_line_fn fn, void *ctx)
{
    struct sbuf *rec = sbuf_new(1024), *line = sbuf_new(1024);
    int result = -1;

    if (r->qf == NULL || qfile_seek(r->qf, r->content_offset) < 0)
        goto out;
    for (;;) {
        int type = qfile_get(r->qf, rec, NULL);
        if (type == REC_NORM || type == REC_CONT) {
            sbuf_append(line, sbuf_str(rec), sbuf_len(rec));
            if (type == REC_CONT)
                continue;
            int stop = fn(sbuf_str(line), sbuf_len(line), ctx);
            sbuf_reset(line);
            if (stop) {
                result = stop;
                break;
            }
            continue;
        }
        if (type == REC_XTRA) {
            /* a dangling L before X still counts as a (last) line */
            if (sbuf_len(line) > 0)
                result = fn(sbuf_str(line), sbuf_len(line), ctx);
            else
                result = 0;
            break;
        }
        log_warn("%s: queue file %s/%s: %s in message content", r->queue_id, r->queue_name,
                 r->queue_id, type < 0 ? "read error or premature end" : "unexpected record");
        break;
    }
out:
    sbuf_free(rec);
    sbuf_free(line);
    return result;
}
