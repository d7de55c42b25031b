/*
 * bounce_service.c - serve flush, warn, expire and trace requests
 *
 * Used by: bounce_main.c.
 * Interface: bounce_request().
 * Errors: a request that cannot be completed (queue file unreadable,
 *         cleanup unavailable) returns a non-zero status so qmgr retries
 *         later; nothing is removed or marked done in that case.
 * Notes: reads the status log of the request (bounce/, defer/ or trace/),
 *        picks the last entry per recipient, drops recipients whose NOTIFY
 *        does not ask for this kind of notice, builds the DSN
 *        (bounce_dsn.c) and injects it through cleanup with the null
 *        sender; with enable_threaded_bounces it refers to the original's
 *        Message-ID (In-Reply-To:, References:). Postmaster copies use
 *        $double_bounce_sender so that they can never bounce back.
 */
#include "bounce.h"
#include "alloc.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "deliver_request.h"
#include "dsn_notify.h"
#include "log.h"
#include "log_addr.h"
#include "mail_queue.h"
#include "qfile.h"
#include "verp.h"
#include <fcntl.h>
#include <sys/time.h>

bool bounce_threaded;

enum bounce_req {
    BOUNCE_REQ_FLUSH,
    BOUNCE_REQ_WARN,
    BOUNCE_REQ_EXPIRE,
    BOUNCE_REQ_TRACE,
};

/* A set of entries we own (strings duplicated). */
struct bounce_set {
    struct dsn_entry *v;
    int n, cap;
};

static char *bounce_dup(const char *s)
{
    return xstrdup(s ? s : "");
}

static void bounce_set_add(struct bounce_set *set, const struct dsn_entry *e)
{
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 8;
        set->v = xreallocarray(set->v, (size_t)set->cap, sizeof(*set->v));
    }
    struct dsn_entry *d = &set->v[set->n++];
    d->recipient = bounce_dup(e->recipient);
    d->orig_rcpt = bounce_dup(e->orig_rcpt);
    d->dsn_orcpt = bounce_dup(e->dsn_orcpt);
    d->notify = e->notify;
    d->offset = e->offset;
    d->status = bounce_dup(e->status);
    d->action = bounce_dup(e->action);
    d->reason = bounce_dup(e->reason);
    d->mta = bounce_dup(e->mta);
    d->diag_type = bounce_dup(e->diag_type);
    d->diag_text = bounce_dup(e->diag_text);
    d->time = e->time;
}

static bool bounce_same_rcpt(const struct dsn_entry *a, const struct dsn_entry *b)
{
    if (a->offset > 0 && b->offset > 0)
        return a->offset == b->offset;
    return strcmp(a->recipient, b->recipient) == 0;
}

/* The envelope recipient an entry refers to, or NULL. */
static const struct qenv_rcpt *bounce_env_rcpt(const struct qenv *env, const struct dsn_entry *e)
{
    for (size_t i = 0; i < env->nrcpt; i++)
        if (e->offset > 0 && env->rcpts[i].offset == e->offset)
            return &env->rcpts[i];
    for (size_t i = 0; i < env->nrcpt; i++)
        if (strcmp(env->rcpts[i].address, e->recipient) == 0)
            return &env->rcpts[i];
    return NULL;
}

/* Keeps the last log entry per recipient, in first-seen order, and only
 * those whose NOTIFY asks for this kind of notice. */
static void bounce_select(struct bounce_set *out, const struct dsn_entry *v, int n,
                          const struct qenv *env, enum bounce_kind kind, bool skip_done)
{
    for (int i = 0; i < n; i++) {
        bool later = false;
        for (int j = i + 1; j < n && !later; j++)
            later = bounce_same_rcpt(&v[i], &v[j]);
        if (later)
            continue;
        const struct qenv_rcpt *rc = bounce_env_rcpt(env, &v[i]);
        if (skip_done && rc && rc->done)
            continue;       /* delivered or bounced since it was deferred */
        int notify = v[i].notify ? v[i].notify : rc ? rc->notify : 0;
        if (!bounce_entry_wanted(kind, notify))
            continue;
        bounce_set_add(out, &v[i]);
    }
}

/* Reads the message content (after M, up to X) as LF-terminated text. */
static int bounce_load_content(struct qfile_reader *r, const struct qenv *env, struct sbuf *out)
{
    struct sbuf *data = sbuf_new(1024);
    int type;
    sbuf_reset(out);
    qfile_seek(r, env->content_offset);
    while ((type = qfile_get(r, data, NULL)) >= 0) {
        if (type == REC_NORM) {
            sbuf_append(out, sbuf_str(data), sbuf_len(data));
            sbuf_addch(out, '\n');
        } else if (type == REC_CONT) {
            sbuf_append(out, sbuf_str(data), sbuf_len(data));
        } else {
            break;
        }
    }
    sbuf_free(data);
    return type == REC_XTRA ? 0 : -1;
}

/* Sends one notification through cleanup. Returns 0 when queued. */
static int bounce_send(struct bounce_msg *m, const struct bounce_set *set, const struct sbuf *orig,
                       const char *dsn_sender, const char *label)
{
    struct cleanup_clnt *c = cleanup_open(CLEANUP_FLAG_MASK_INTERNAL);
    if (c == NULL)
        return -1;
    const char *new_id = cleanup_queue_id(c);
    struct sbuf *boundary = sbuf_new(128), *msgid = sbuf_new(128), *text = sbuf_new(8192);
    struct tm tm;
    time_t now = (time_t)m->now;
    char stamp[32];
    gmtime_r(&now, &tm);
    if (strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm) == 0)
        stamp[0] = 0;
    sbuf_printf(boundary, "%s.%ld/%s", new_id, m->now, m->hostname);
    sbuf_printf(msgid, "<%s.%s@%s>", stamp, new_id, m->hostname);
    m->boundary = sbuf_str(boundary);
    m->message_id = sbuf_str(msgid);
    bounce_dsn_build(text, m, set->v, set->n, orig ? sbuf_str(orig) : NULL,
                     orig ? sbuf_len(orig) : 0);

    cleanup_recs(c, REC_SENDER, dsn_sender);
    cleanup_recs(c, REC_ATTR, "rewrite_context=local");
    cleanup_recs(c, REC_ATTR, "log_message_origin=bounce");
    cleanup_recs(c, REC_RCPT, m->to);
    cleanup_rec(c, REC_MESG, "", 0);
    const char *p = sbuf_str(text), *end = p + sbuf_len(text);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        cleanup_line(c, p, len);
        p += len + (nl ? 1 : 0);
    }
    struct sbuf *reason = sbuf_new(64);
    char *id_copy = xstrdup(new_id);
    int st = cleanup_finish(c, reason);
    if (st == CLEANUP_STAT_OK) {
        log_info("%s: %s: %s", m->queue_id, label, id_copy);
    } else {
        log_warn("%s: %s not queued: %s", m->queue_id, label,
                 sbuf_len(reason) ? sbuf_str(reason) : "cleanup error");
    }
    xfree(id_copy);
    sbuf_free(reason);
    sbuf_free(boundary);
    sbuf_free(msgid);
    sbuf_free(text);
    m->boundary = m->message_id = NULL;
    return st == CLEANUP_STAT_OK ? 0 : -1;
}

static const char *bounce_label(enum bounce_kind kind, bool postmaster)
{
    switch (kind) {
    case BOUNCE_KIND_DELAYED:
        return postmaster ? "postmaster delay notification" : "sender delay notification";
    case BOUNCE_KIND_DELIVERED:
    case BOUNCE_KIND_REPORT:
        return "sender delivery status notification";
    case BOUNCE_KIND_FAILED:
    default:
        return postmaster ? "postmaster non-delivery notification"
                          : "sender non-delivery notification";
    }
}

/* Sends the notice(s) for set: to the sender, and the postmaster copies
 * that notify_classes asks for. Returns 0 when everything was queued. */
static int bounce_notify(struct bounce_msg *m, const struct bounce_set *set,
                         const struct sbuf *orig)
{
    const char *dbl = cfg_str(P_DOUBLE_BOUNCE_SENDER);
    bool null_sender = *m->sender == 0 || strcmp(m->sender, dbl) == 0;
    int classes = notify_class_parse(cfg_str(P_NOTIFY_CLASSES), NULL);
    int r = 0;

    if (set->n == 0)
        return 0;
    if (null_sender) {
        /* A notice about a notice. Only failures matter, and only to the
         * postmaster when asked; a double-bounce sender is never notified. */
        if (m->kind != BOUNCE_KIND_FAILED || strcmp(m->sender, dbl) == 0)
            return 0;
        if (!(classes & NOTIFY_CLASS_2BOUNCE)) {
            log_info("%s: undeliverable bounce discarded (notify_classes has no 2bounce)",
                     m->queue_id);
            return 0;
        }
        m->to = cfg_str(P_2BOUNCE_NOTICE_RECIPIENT);
        m->postmaster_copy = false;
        return bounce_send(m, set, orig, dbl, "postmaster non-delivery notification");
    }
    m->to = m->sender;
    m->postmaster_copy = false;
    r = bounce_send(m, set, orig, "", bounce_label(m->kind, false));
    if (r < 0)
        return r;
    /* Postmaster copies are best effort: the sender's notice went out. */
    if (m->kind == BOUNCE_KIND_FAILED && (classes & NOTIFY_CLASS_BOUNCE)) {
        m->to = cfg_str(P_BOUNCE_NOTICE_RECIPIENT);
        m->postmaster_copy = true;
        (void)bounce_send(m, set, orig, dbl, bounce_label(m->kind, true));
    } else if (m->kind == BOUNCE_KIND_DELAYED && (classes & NOTIFY_CLASS_DELAY)) {
        m->to = cfg_str(P_DELAY_NOTICE_RECIPIENT);
        m->postmaster_copy = true;
        (void)bounce_send(m, set, orig, dbl, bounce_label(m->kind, true));
    }
    return 0;
}

/* VERP mail (a V record in the queue file): one notice per failed recipient,
 * each to the sender with that recipient folded in, as the list manager
 * that asked for VERP expects; disable_verp_bounces = yes sends one notice
 * to the plain sender instead. Returns what bounce_notify() returns; a
 * failure part way means the whole request is tried again, and the notices
 * already queued are sent again then. */
static int bounce_notify_verp(struct bounce_msg *m, const struct bounce_set *set,
                              const struct sbuf *orig, const char *delims)
{
    if (delims == NULL || *m->sender == 0 || cfg_bool(P_DISABLE_VERP_BOUNCES))
        return bounce_notify(m, set, orig);
    const char *plain = m->sender;
    struct sbuf *vs = sbuf_new(128);
    int r = 0;
    for (int i = 0; i < set->n && r == 0; i++) {
        const struct dsn_entry *e = &set->v[i];
        struct bounce_set one = { .v = (struct dsn_entry *)e, .n = 1, .cap = 1 };
        verp_sender(vs, delims, plain, e->orig_rcpt && *e->orig_rcpt ? e->orig_rcpt : e->recipient);
        m->sender = sbuf_str(vs);
        r = bounce_notify(m, &one, orig);
    }
    m->sender = plain;
    sbuf_free(vs);
    return r;
}

/* Expire: every recipient still to do fails with its last deferral reason
 * (status kept as logged, as Postfix does); recipients never tried get
 * 4.4.7. Permanent failures not yet reported are included too. */
static void bounce_expire_set(struct bounce_set *set, const struct qenv *env, const char *id)
{
    struct dsn_entry *defer = NULL, *bnc = NULL;
    int ndefer = dsn_log_read(MAIL_QUEUE_DEFER, id, &defer);
    int nbnc = dsn_log_read(MAIL_QUEUE_BOUNCE, id, &bnc);
    if (ndefer < 0)
        ndefer = 0;
    if (nbnc < 0)
        nbnc = 0;
    bounce_select(set, bnc, nbnc, env, BOUNCE_KIND_FAILED, false);
    for (size_t i = 0; i < env->nrcpt; i++) {
        const struct qenv_rcpt *rc = &env->rcpts[i];
        if (rc->done)
            continue;
        const struct dsn_entry *last = NULL;
        for (int j = 0; j < ndefer; j++)
            if ((defer[j].offset > 0 && defer[j].offset == (long)rc->offset)
                || (defer[j].offset <= 0 && strcmp(defer[j].recipient, rc->address) == 0))
                last = &defer[j];
        struct dsn_entry e = {
            .recipient = rc->address,
            .orig_rcpt = rc->orig ? rc->orig : "",
            .dsn_orcpt = rc->dsn_orcpt ? rc->dsn_orcpt : "",
            .notify = rc->notify,
            .offset = (long)rc->offset,
            .status = last && *last->status ? last->status : "4.4.7",
            .action = "failed",
            .reason = last ? last->reason : "message delivery time expired",
            .mta = last ? last->mta : "",
            .diag_type = last ? last->diag_type : "",
            .diag_text = last ? last->diag_text : "",
            .time = last ? last->time : 0,
        };
        if (bounce_entry_wanted(BOUNCE_KIND_FAILED, rc->notify))
            bounce_set_add(set, &e);
    }
    dsn_entries_free(defer, ndefer);
    dsn_entries_free(bnc, nbnc);
}

static bool bounce_queue_ok(const char *q)
{
    static const char *const ok[] = { MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
                                      MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD };
    for (size_t i = 0; i < ARRAY_LEN(ok); i++)
        if (strcmp(q, ok[i]) == 0)
            return true;
    return false;
}

int bounce_request(const struct attr_list *req)
{
    const char *what = attr_get_def(req, "request", "");
    const char *id = attr_get_def(req, "queue_id", "");
    const char *queue = attr_get_def(req, "queue_name", "");
    enum bounce_req kind;
    if (strcmp(what, "flush") == 0)
        kind = BOUNCE_REQ_FLUSH;
    else if (strcmp(what, "warn") == 0)
        kind = BOUNCE_REQ_WARN;
    else if (strcmp(what, "expire") == 0)
        kind = BOUNCE_REQ_EXPIRE;
    else if (strcmp(what, "trace") == 0)
        kind = BOUNCE_REQ_TRACE;
    else {
        log_warn("unknown request: \"%.100s\"", what);
        return -1;
    }
    if (!mail_queue_id_ok(id) || !bounce_queue_ok(queue)) {
        log_warn("bad queue name or id in %s request: %.100s/%.100s", what, queue, id);
        return -1;
    }

    struct sbuf *path = sbuf_new(64);
    mail_queue_path(path, queue, id);
    struct qfile_reader *r = qfile_open(sbuf_str(path),
                                        kind == BOUNCE_REQ_EXPIRE ? O_RDWR : O_RDONLY);
    if (r == NULL) {
        log_warn("%s: open %s: %m", id, sbuf_str(path));
        sbuf_free(path);
        return -1;
    }
    struct qenv env;
    struct sbuf *orig = sbuf_new(8192);
    int status = -1;
    if (qenv_load(r, &env) != 0 || bounce_load_content(r, &env, orig) != 0) {
        log_warn("%s: corrupt queue file %s", id, sbuf_str(path));
        qenv_free(&env);
        goto out;
    }

    struct bounce_msg m = {
        .queue_id = id,
        .hostname = cfg_str(P_MYHOSTNAME),
        .sender = env.sender,
        .envid = env.envid,
        .arrival = env.arrival_sec,
        .ret = env.ret,
        .size_limit = cfg_long(P_BOUNCE_SIZE_LIMIT),
    };
    struct timeval tv;
    gettimeofday(&tv, NULL);
    m.now = (long)tv.tv_sec;
    struct sbuf *from = sbuf_new(64);
    sbuf_printf(from, "MAILER-DAEMON@%s", cfg_str(P_MYORIGIN));
    m.from = sbuf_str(from);
    struct sbuf *thread = sbuf_new(64);
    if (bounce_threaded && bounce_message_id(thread, sbuf_str(orig), sbuf_len(orig)))
        m.thread_id = sbuf_str(thread);

    struct bounce_set set = { 0 };
    struct dsn_entry *v = NULL;
    int n = 0;
    const char *log_queue = NULL;
    switch (kind) {
    case BOUNCE_REQ_FLUSH:
        m.kind = BOUNCE_KIND_FAILED;
        log_queue = MAIL_QUEUE_BOUNCE;
        break;
    case BOUNCE_REQ_WARN:
        m.kind = BOUNCE_KIND_DELAYED;
        log_queue = MAIL_QUEUE_DEFER;
        m.retry_until = env.arrival_sec + cfg_time(P_MAXIMAL_QUEUE_LIFETIME);
        break;
    case BOUNCE_REQ_TRACE: {
        /* sendmail -bv: the trace log holds what delivery would do. */
        long tf = 0;
        const char *tfv = attr_get(env.attrs, DELIVER_ATTR_TRACE_FLAGS);
        bool report = tfv && config_parse_long(tfv, &tf) && (tf & DELIVER_REQ_F_USER_VERIFY);
        m.kind = report ? BOUNCE_KIND_REPORT : BOUNCE_KIND_DELIVERED;
        log_queue = MAIL_QUEUE_TRACE;
        break;
    }
    case BOUNCE_REQ_EXPIRE:
        m.kind = BOUNCE_KIND_FAILED;
        break;
    }
    if (log_queue) {
        n = dsn_log_read(log_queue, id, &v);
        if (n < 0) {
            log_warn("%s: read %s log: %m", id, log_queue);
            goto done;
        }
        bounce_select(&set, v, n, &env, m.kind, kind == BOUNCE_REQ_WARN);
    } else {
        bounce_expire_set(&set, &env, id);
    }

    /* bounce_template_file: the administrator's wording, $names expanded now. */
    struct sbuf *tmpl_text = NULL;
    if ((m.tmpl = bounce_template_get(m.kind)) != NULL) {
        tmpl_text = sbuf_new(1024);
        bounce_template_expand(tmpl_text, m.tmpl->text);
        m.tmpl_text = sbuf_str(tmpl_text);
    }
    int notified = kind == BOUNCE_REQ_FLUSH || kind == BOUNCE_REQ_EXPIRE
                       ? bounce_notify_verp(&m, &set, orig, env.verp_delims)
                       : bounce_notify(&m, &set, orig);
    if (tmpl_text)
        sbuf_free(tmpl_text);
    if (notified < 0)
        goto done;

    /* The notice is queued: now record that it was. */
    switch (kind) {
    case BOUNCE_REQ_FLUSH:
        if (dsn_log_remove(MAIL_QUEUE_BOUNCE, id) < 0)
            log_warn("%s: remove bounce log: %m", id);
        break;
    case BOUNCE_REQ_TRACE:
        if (dsn_log_remove(MAIL_QUEUE_TRACE, id) < 0)
            log_warn("%s: remove trace log: %m", id);
        break;
    case BOUNCE_REQ_EXPIRE:
        for (size_t i = 0; i < env.nrcpt; i++) {
            if (!env.rcpts[i].done
                && qfile_mark_done(qfile_reader_fd(r), env.rcpts[i].offset) < 0) {
                log_warn("%s: mark recipient done in %s: %m", id, sbuf_str(path));
                goto done;
            }
        }
        if (fsync(qfile_reader_fd(r)) < 0)
            log_warn("%s: fsync %s: %m", id, sbuf_str(path));
        if (dsn_log_remove(MAIL_QUEUE_BOUNCE, id) < 0)
            log_warn("%s: remove bounce log: %m", id);
        struct sbuf *lb = sbuf_new(64);
        log_info("%s: from=<%s>, status=expired, returned to sender", id, log_addr(lb, env.sender));
        sbuf_free(lb);
        break;
    case BOUNCE_REQ_WARN:
        break;
    }
    status = 0;

done:
    dsn_entries_free(v, n);
    dsn_entries_free(set.v, set.n);
    sbuf_free(from);
    sbuf_free(thread);
    qenv_free(&env);
out:
    qfile_close(r);
    sbuf_free(orig);
    sbuf_free(path);
    return status;
}
