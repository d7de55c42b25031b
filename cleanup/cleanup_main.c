/*
 * cleanup_main.c - the cleanup service: one message per connection, from
 *                  client records to a durable queue file in incoming/
 *
 * Used by: master (`cleanup unix n - n - 0 cleanup`); clients are smtpd,
 *          pickup, bounce and local through lib/mail/cleanup_clnt.c.
 * Interface: main().
 * Errors: a client that hangs up before E loses its message (the file is
 *         removed, nothing is answered); any other failure is answered with
 *         status and reason and the file is removed (a client that asked
 *         for bounces gets a DSN to the sender instead of a rejection when
 *         the message has too many hops). The reply "status=0"
 *         is sent only after fsync of the file; the directory entry was
 *         made durable right after the file was created (and again after a
 *         move to hold/).
 * Notes: protocol in docs/ipc.md "cleanup". The envelope is collected up
 *        to the client's M record (attributes such as rewrite_context may
 *        follow S), then written in one go: C (fixed-width placeholder,
 *        rewritten at the end), T, c, F, L, S, A..., <, i, W, recipients,
 *        M. Content records follow, then X, the extracted segment (-t and
 *        bcc recipients) and E. All writes go through the qfile writer's
 *        buffer: no system call per line.
 */
#include "cleanup.h"
#include "alloc.h"
#include "attr.h"
#include "cleanup_proto.h"
#include "config.h"
#include "log.h"
#include "param_support.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "maps.h"
#include "qfile.h"
#include "rewrite_clnt.h"
#include "server.h"
#include <sys/time.h>

/* Envelope as sent by the client, before it is written. */
struct cleanup_env {
    char *sender;
    char *fullname;
    char *filter;
    char *envid;
    char *redirect;             /* CLEANUP_REC_REDIRECT (smtpd REDIRECT action) */
    int ret;
    struct attr_list *attrs;
    char *orig, *orcpt;
    int notify;
    long arrival_sec, arrival_usec;
};

static void cleanup_env_free(struct cleanup_env *e)
{
    xfree(e->sender);
    xfree(e->fullname);
    xfree(e->filter);
    xfree(e->envid);
    xfree(e->redirect);
    xfree(e->orig);
    xfree(e->orcpt);
    attr_list_free(e->attrs);
}

static void cleanup_set(char **slot, const char *v)
{
    xfree(*slot);
    *slot = xstrdup(v);
}

/* Recipient records (o, n, O, R) in either segment. Returns true when the
 * record was one of them. */
static bool cleanup_rcpt_record(struct cleanup_env *e, struct cleanup_rcpt_list *l, int type,
                                const char *v)
{
    switch (type) {
    case REC_DSN_ORCPT:
        cleanup_set(&e->orcpt, v);
        return true;
    case REC_DSN_NOTIFY:
        e->notify = (int)strtol(v, NULL, 10);
        return true;
    case REC_ORCPT:
        cleanup_set(&e->orig, v);
        return true;
    case REC_RCPT:
        cleanup_rcpt_add(l, v, e->orig, e->orcpt, e->notify);
        xfree(e->orig);
        xfree(e->orcpt);
        e->orig = e->orcpt = NULL;
        e->notify = 0;
        return true;
    default:
        return false;
    }
}

static void cleanup_write_fail(struct cleanup_state *st, int r)
{
    if (r < 0)
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
}

/* Writes the envelope segment and M. */
static void cleanup_write_envelope(struct cleanup_state *st, struct cleanup_env *e)
{
    const struct cleanup_cfg *c = &cleanup_cfg;
    struct qfile_writer *w = st->w;
    int r = 0;

    r |= qfile_putf(w, REC_SIZE, QFILE_SIZE_FMT, 0L, 0L, 0L, 0L, 0L, 0L);
    r |= qfile_putf(w, REC_TIME, "%ld %ld", e->arrival_sec, e->arrival_usec);
    r |= qfile_putf(w, REC_CTIME, "%ld", (long)time(NULL));
    if (e->fullname)
        r |= qfile_puts(w, REC_FULLNAME, e->fullname);
    if (e->filter)
        r |= qfile_puts(w, REC_FILTER, e->filter);
    else if (*c->content_filter && (st->flags & CLEANUP_FLAG_FILTER))
        r |= qfile_puts(w, REC_FILTER, c->content_filter);
    cleanup_write_fail(st, r);

    /* The sender: always rewritten in the local context. */
    struct sbuf *sender = sbuf_new(128);
    sbuf_set(sender, e->sender ? e->sender : "");
    cleanup_rewrite_addr(st, REWRITE_LOCAL, CLEANUP_CLASS_ENV_SENDER, sender);
    st->sender = xstrdup(sbuf_str(sender));
    st->fullname = e->fullname ? xstrdup(e->fullname) : NULL;
    r = qfile_puts(w, REC_SENDER, st->sender);
    for (size_t i = 0; i < e->attrs->count; i++)
        r |= qfile_putf(w, REC_ATTR, "%s=%s", e->attrs->items[i].name, e->attrs->items[i].value);
    if (e->ret)
        r |= qfile_putf(w, REC_DSN_RET, "%d", e->ret);
    if (e->envid)
        r |= qfile_puts(w, REC_DSN_ENVID, e->envid);
    if (c->delay_warning_time > 0)
        r |= qfile_putf(w, REC_WARN, QFILE_WARN_FMT, e->arrival_sec + c->delay_warning_time);
    cleanup_write_fail(st, r);

    for (size_t i = 0; i < st->env_rcpts.n && !st->errs; i++)
        cleanup_recipient(st, &st->env_rcpts.v[i]);

    /* sender_bcc_maps and always_bcc go to the extracted segment. */
    if ((st->flags & CLEANUP_FLAG_BCC_OK) && !st->errs) {
        if (c->send_bcc && *st->sender) {
            char *ext = NULL;
            const char *v = maps_find_addr(c->send_bcc, st->sender, c->delims, 0, &ext);
            if (v)
                cleanup_rcpt_add(&st->extra_rcpts, v, NULL, NULL, 0);
            else if (maps_error(c->send_bcc) != DICT_ERR_NONE)
                cleanup_fail(st, CLEANUP_STAT_DEFER, "4.3.0 sender_bcc_maps lookup failure");
            xfree(ext);
        }
        if (*c->always_bcc)
            cleanup_rcpt_add(&st->extra_rcpts, c->always_bcc, NULL, NULL, 0);
    }
    cleanup_write_fail(st, qfile_put(w, REC_MESG, "", 0));
    sbuf_free(sender);
}

/* Replaces the C placeholder with the final numbers. */
static int cleanup_final_size(struct cleanup_state *st, off_t data_offset, off_t xtra_offset)
{
    char buf[128];
    int n = snprintf(buf, sizeof(buf), QFILE_SIZE_FMT, (long)(xtra_offset - data_offset),
                     (long)data_offset, st->rcpt_count, 0L, st->content_bytes, 0L);
    if (n < 0 || (size_t)n >= sizeof(buf))
        return -1;
    /* The C record is first: type byte, one length byte (< 128), data. */
    return qfile_writer_pwrite(st->w, 2, buf, (size_t)n);
}

static void cleanup_reply(struct stream *client, int status, const char *reason)
{
    char sbuf_status[16];
    snprintf(sbuf_status, sizeof(sbuf_status), "%d", status);
    attr_send(client, "status", sbuf_status, "reason", reason, (char *)NULL);
}

static void cleanup_service(struct stream *client)
{
    struct cleanup_state st = { 0 };
    struct cleanup_env env = { 0 };
    struct sbuf *id = sbuf_new(32), *data = sbuf_new(1024);
    struct attr_list *req = attr_list_new();
    off_t data_offset = 0, xtra_offset = 0;
    bool complete = false;
    struct timeval tv;
    long flags;
    int type;

    stream_set_timeout(client, (int)cfg_time(P_IPC_TIMEOUT));
    int fd = mail_queue_create(MAIL_QUEUE_INCOMING, id);
    if (fd < 0) {
        log_warn("create file in %s: %m", MAIL_QUEUE_INCOMING);
        goto out_nofile;
    }
    st.w = qfile_writer_new(fd);
    st.queue_id = sbuf_str(id);
    st.reason = sbuf_new(64);
    st.hdr = sbuf_new(256);
    st.line = sbuf_new(256);
    st.in_headers = true;
    env.attrs = attr_list_new();
    gettimeofday(&tv, NULL);
    st.arrival = tv.tv_sec;
    env.arrival_sec = (long)tv.tv_sec;
    env.arrival_usec = (long)tv.tv_usec;

    if (attr_send_proto(client, MAIL_PROTO_CLEANUP) < 0 ||
        attr_send(client, "queue_id", sbuf_str(id), (char *)NULL) < 0)
        goto out;
    /* Make the new name durable now, while the client is still sending: the
     * commit at the end then needs one fsync (the file's), and the gap
     * between "complete on disk" and our OK reply stays microseconds wide,
     * so a crash there (and a client retry) is as unlikely as it can be. */
    if (mail_queue_sync_dir(MAIL_QUEUE_INCOMING) < 0) {
        log_warn("%s: fsync %s: %m", st.queue_id, MAIL_QUEUE_INCOMING);
        goto out;
    }
    if (attr_read(client, req) < 0 || attr_get_long(req, "flags", &flags) < 0) {
        log_warn("%s: client sent no flags", st.queue_id);
        goto out;
    }
    st.flags = (int)flags;

    /* Envelope, up to M. */
    for (;;) {
        type = qfile_get_stream(client, data, CLEANUP_REC_MAX);
        if (type < 0)
            goto out;       /* client went away or sent junk: drop silently */
        const char *v = sbuf_str(data);
        if (type == REC_MESG)
            break;
        if (cleanup_rcpt_record(&env, &st.env_rcpts, type, v))
            continue;
        switch (type) {
        case REC_SENDER:
            cleanup_set(&env.sender, v);
            break;
        case REC_FULLNAME:
            cleanup_set(&env.fullname, v);
            break;
        case REC_FILTER:
            cleanup_set(&env.filter, v);
            break;
        case REC_DSN_ENVID:
            cleanup_set(&env.envid, v);
            break;
        case CLEANUP_REC_FLAGS:     /* smtpd HOLD/DISCARD actions */
            st.flags |= (int)strtol(v, NULL, 10) & (CLEANUP_FLAG_HOLD | CLEANUP_FLAG_DISCARD);
            break;
        case CLEANUP_REC_REDIRECT:
            cleanup_set(&env.redirect, v);
            break;
        case REC_DSN_RET:
            env.ret = (int)strtol(v, NULL, 10);
            break;
        case REC_TIME:
            sscanf(v, "%ld %ld", &env.arrival_sec, &env.arrival_usec);
            break;
        case REC_ATTR: {
            const char *eq = strchr(v, '=');
            if (eq && eq != v && env.attrs->count < ATTR_MAX_COUNT) {
                char *name = xstrndup(v, (size_t)(eq - v));
                attr_add(env.attrs, name, eq + 1);
                xfree(name);
            }
            break;
        }
        case REC_END:
        case REC_XTRA:
            log_warn("%s: record type %c before message content", st.queue_id, type);
            cleanup_fail(&st, CLEANUP_STAT_BAD, "4.3.0 internal protocol error");
            goto drain;
        default:
            break;      /* other envelope records are not taken from clients */
        }
    }
    if (env.redirect) {
        /* REDIRECT: every envelope recipient goes to one address instead. */
        for (size_t i = 0; i < st.env_rcpts.n; i++) {
            struct cleanup_rcpt *r = &st.env_rcpts.v[i];
            if (r->orig == NULL)
                r->orig = r->addr;
            else
                xfree(r->addr);
            r->addr = xstrdup(env.redirect);
        }
    }
    if (env.sender == NULL) {
        log_warn("%s: no sender in envelope", st.queue_id);
        cleanup_fail(&st, CLEANUP_STAT_BAD, "4.3.0 internal protocol error");
    }
    {
        const char *ctx = attr_get(env.attrs, "rewrite_context");
        if (ctx && strcmp(ctx, REWRITE_REMOTE) == 0)
            st.hdr_context = cleanup_cfg.remote_rewrite_domain_set ? REWRITE_REMOTE : NULL;
        else
            st.hdr_context = REWRITE_LOCAL;
        st.add_missing = (st.hdr_context && strcmp(st.hdr_context, REWRITE_LOCAL) == 0) ||
                         cleanup_cfg.always_add_missing;
    }
    if (!st.errs)
        cleanup_write_envelope(&st, &env);
    data_offset = qfile_writer_offset(st.w);

    /* Content, up to X. */
    for (;;) {
        type = qfile_get_stream(client, data, CLEANUP_REC_MAX);
        if (type < 0)
            goto out;
        if (type == REC_NORM || type == REC_CONT) {
            cleanup_content(&st, type, sbuf_str(data), sbuf_len(data));
            continue;
        }
        if (type == REC_XTRA)
            break;
        if (type == REC_END) {
            complete = true;    /* tolerate a client that skips X */
            break;
        }
        log_warn("%s: unexpected record type %d in message content", st.queue_id, type);
        cleanup_fail(&st, CLEANUP_STAT_BAD, "4.3.0 internal protocol error");
        goto drain;
    }
    cleanup_content_end(&st);
    xtra_offset = qfile_writer_offset(st.w);
    if (cleanup_keep_writing(&st))
        cleanup_write_fail(&st, qfile_put(st.w, REC_XTRA, "", 0));

    /* Extracted segment from the client, up to E. */
    while (!complete) {
        type = qfile_get_stream(client, data, CLEANUP_REC_MAX);
        if (type < 0)
            goto out;
        if (type == REC_END)
            complete = true;
        else if (type == CLEANUP_REC_FLAGS)     /* smtpd end-of-data HOLD/DISCARD */
            st.flags |= (int)strtol(sbuf_str(data), NULL, 10)
                        & (CLEANUP_FLAG_HOLD | CLEANUP_FLAG_DISCARD);
        else
            cleanup_rcpt_record(&env, &st.extra_rcpts, type, sbuf_str(data));
    }
    goto finish;

drain:
    /* Protocol error: read to E so that the client gets its answer. */
    while ((type = qfile_get_stream(client, data, CLEANUP_REC_MAX)) >= 0 && type != REC_END)
        ;
    if (type < 0)
        goto out;

finish:
    for (size_t i = 0; i < st.extra_rcpts.n && cleanup_keep_writing(&st); i++)
        cleanup_recipient(&st, &st.extra_rcpts.v[i]);
    if (!st.errs && st.rcpt_count == 0 && !(st.flags & CLEANUP_FLAG_DISCARD))
        cleanup_fail(&st, CLEANUP_STAT_RCPT, "5.1.0 no recipients specified");
    if (cleanup_keep_writing(&st))
        cleanup_write_fail(&st, qfile_put(st.w, REC_END, "", 0));
    if (cleanup_keep_writing(&st) && cleanup_final_size(&st, data_offset, xtra_offset) < 0)
        cleanup_fail(&st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
    if (st.errs && cleanup_keep_writing(&st) && st.rcpt_count > 0 &&
        !(st.flags & CLEANUP_FLAG_DISCARD)) {
        /* Too many hops for a client that wants bounces: return the message
         * to the sender (see cleanup_bounce.c); the file is never committed. */
        if (qfile_writer_flush(st.w) == 0 && cleanup_bounce(&st, "5.4.0", "too many hops") == 0) {
            mail_queue_remove(MAIL_QUEUE_INCOMING, st.queue_id);
            cleanup_reply(client, 0, "");
            goto out_done;
        }
        st.errs = 0;
        cleanup_fail(&st, CLEANUP_STAT_WRITE, "4.3.0 bounce service unavailable");
    }
    if (!st.errs && (st.flags & CLEANUP_FLAG_DISCARD)) {
        log_info("%s: discard: message discarded by request", st.queue_id);
        mail_queue_remove(MAIL_QUEUE_INCOMING, st.queue_id);
        cleanup_reply(client, 0, "");
        goto out_done;
    }
    if (!st.errs) {
        const char *queue = MAIL_QUEUE_INCOMING;
        if (st.flags & CLEANUP_FLAG_HOLD) {
            /* Move while still incomplete so qmgr never sees it in incoming. */
            if (qfile_writer_flush(st.w) < 0 ||
                mail_queue_rename(st.queue_id, MAIL_QUEUE_INCOMING, MAIL_QUEUE_HOLD) < 0) {
                log_warn("%s: move to %s: %m", st.queue_id, MAIL_QUEUE_HOLD);
                cleanup_fail(&st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
            } else {
                queue = MAIL_QUEUE_HOLD;
            }
        }
        if (!st.errs && (qfile_commit(st.w) < 0 ||
                         (strcmp(queue, MAIL_QUEUE_HOLD) == 0 && mail_queue_sync_dir(queue) < 0))) {
            log_warn("%s: commit queue file: %m", st.queue_id);
            cleanup_fail(&st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
            if (strcmp(queue, MAIL_QUEUE_HOLD) == 0)
                mail_queue_remove(MAIL_QUEUE_HOLD, st.queue_id);
        }
        if (!st.errs) {
            cleanup_reply(client, 0, "");
            if (strcmp(queue, MAIL_QUEUE_HOLD) == 0)
                log_info("%s: hold: message held by request", st.queue_id);
            else
                mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_INCOMING);
            goto out_done;
        }
    }
    /* Answer before removing: a client whose cleanup dies in between then
     * finds an incomplete file, never an empty queue it would take for
     * "queued and already delivered" (cleanup_clnt.c). */
    cleanup_reply(client, st.errs, sbuf_str(st.reason));
    mail_queue_remove(MAIL_QUEUE_INCOMING, st.queue_id);
    goto out_done;

out:
    /* The client went away before the end: nothing was promised. */
    mail_queue_remove(MAIL_QUEUE_INCOMING, st.queue_id);
out_done:
    qfile_writer_free(st.w);
    cleanup_env_free(&env);
    cleanup_rcpt_list_free(&st.env_rcpts);
    cleanup_rcpt_list_free(&st.extra_rcpts);
    cleanup_rcpt_list_free(&st.xtract);
    cleanup_rcpt_list_free(&st.xtract_resent);
    cleanup_rcpt_list_free(&st.written);
    cleanup_dups_free(&st);
    xfree(st.sender);
    xfree(st.fullname);
    sbuf_free(st.reason);
    sbuf_free(st.hdr);
    sbuf_free(st.line);
out_nofile:
    sbuf_free(id);
    sbuf_free(data);
    attr_list_free(req);
}

/* Content inspection Postern cannot apply is a reason not to run: without
 * cleanup no mail enters the queue, so none passes unchecked (master and
 * postfix start refuse the same settings before this). */
static void cleanup_pre_jail(void)
{
    struct sbuf *where = sbuf_new(64);
    const char *refused = param_support_refused(NULL, where);

    if (refused)
        log_fatal("%s: %s is set, but Postern cannot apply it: refusing to run "
                  "(mail would pass unchecked)", sbuf_str(where), refused);
    sbuf_free(where);
    cleanup_cfg_load();
}

static const struct server_ops cleanup_ops = {
    .model = SERVER_SINGLE,
    .pre_jail = cleanup_pre_jail,
    .service = cleanup_service,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &cleanup_ops);
}
