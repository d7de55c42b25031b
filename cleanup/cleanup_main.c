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
 *         the message has too many hops or its content was rejected). The
 *         reply "status=0" is sent only after fsync of the file; the
 *         directory entry is durable by then too (made so right after the
 *         file was created, and again after a move to hold/, by a directory
 *         fsync where the file's own fsync does not cover the name).
 * Notes: protocol in docs/ipc.md "cleanup". The service loop only reads
 *        records and hands each to state->action, the handler of the part
 *        of the message being read: cleanup_envelope (up to M),
 *        cleanup_message (content, up to X), cleanup_extracted (up to E),
 *        or cleanup_drain after a protocol error. Each handler installs the
 *        next. Header and body structure inside the content is followed by
 *        lib/mail/mime_state.c. All writes go through the qfile writer's
 *        buffer: no system call per line.
 */
#include "cleanup.h"
#include "alloc.h"
#include "attr.h"
#include "cleanup_proto.h"
#include "config.h"
#include "log.h"
#include "mail_flow.h"
#include "param_support.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "maps.h"
#include "mime_state.h"
#include "qfile.h"
#include "rewrite_clnt.h"
#include "queue_recycle.h"
#include "server.h"
#include <sys/time.h>

/* The verdict. A client that asked to keep the connection is offered the
 * next session in the same reply when this process can serve one; true
 * then (the skeleton waits on the connection once the callback is done). */
static bool cleanup_reply(struct cleanup_state *st, struct stream *client, int status,
                          const char *reason)
{
    char sbuf_status[16];
    bool more = st->keep_asked && server_offer_next_session();
    snprintf(sbuf_status, sizeof(sbuf_status), "%d", status);
    attr_send(client, "status", sbuf_status, "reason", reason,
              more ? CLEANUP_ATTR_MORE : (char *)NULL, "1", (char *)NULL);
    return more;
}

/* Moves the file to hold/ while it is still incomplete, so that qmgr never
 * sees it in incoming/. 0, or -1 with the error set. */
static int cleanup_to_hold(struct cleanup_state *st)
{
    if (qfile_writer_flush(st->w) < 0 ||
        mail_queue_rename(st->queue_id, MAIL_QUEUE_INCOMING, MAIL_QUEUE_HOLD) < 0) {
        log_warn("%s: move to %s: %m", st->queue_id, MAIL_QUEUE_HOLD);
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
        return -1;
    }
    return 0;
}

/* Makes the message durable in incoming/ (or hold/) and answers OK; or
 * answers with the error. Returns the queue the file is left in, or NULL
 * when it is to be removed from incoming/. */
static const char *cleanup_commit(struct cleanup_state *st, struct stream *client)
{
    const char *queue = MAIL_QUEUE_INCOMING;
    if ((st->flags & CLEANUP_FLAG_HOLD) && cleanup_to_hold(st) == 0)
        queue = MAIL_QUEUE_HOLD;
    if (st->errs)
        return NULL;
    bool hold = strcmp(queue, MAIL_QUEUE_HOLD) == 0;
    if (qfile_commit(st->w) < 0 || (hold && mail_queue_sync_dir(queue) < 0)) {
        log_warn("%s: commit queue file: %m", st->queue_id);
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
        if (hold)
            mail_queue_remove(MAIL_QUEUE_HOLD, st->queue_id);
        return NULL;
    }
    if (!cleanup_reply(st, client, 0, ""))
        server_release();   /* the rest (log, qmgr trigger) needs no client */
    if (hold) {
        if (!st->hbc_logged)
            log_info("%s: hold: message held by request", st->queue_id);
        /* Not for qmgr: the in_flow_delay token this client took goes
         * back (as in Postfix; a no-op when the feature is off). */
        (void)mail_flow_put(1);
    } else {
        mail_trigger_held(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_INCOMING);
    }
    return queue;
}

/* The whole message has been read (E): bounce, discard, commit or refuse. */
static void cleanup_final(struct cleanup_state *st, struct stream *client)
{
    if (st->errs && cleanup_keep_writing(st) && st->rcpt_count > 0 &&
        !(st->flags & CLEANUP_FLAG_DISCARD)) {
        /* Too many hops or rejected content, for a client that wants
         * bounces: return the message to the sender (see cleanup_bounce.c);
         * the file is never committed. */
        const char *why = sbuf_str(st->reason);
        char dsn[16] = "5.0.0";
        size_t n = strcspn(why, " ");
        if (st->errs & CLEANUP_STAT_HOPS) {
            why = "too many hops";  /* Postfix's wording in the DSN */
            memcpy(dsn, "5.4.0", 6);
        } else if (n > 0 && n < sizeof(dsn) && why[0] == '5' && why[1] == '.') {
            memcpy(dsn, why, n);
            dsn[n] = 0;
            why += n + (why[n] == ' ');
        }
        if (qfile_writer_flush(st->w) == 0 && cleanup_bounce(st, dsn, why) == 0) {
            mail_queue_remove(MAIL_QUEUE_INCOMING, st->queue_id);
            cleanup_reply(st, client, 0, "");
            return;
        }
        st->errs = 0;
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 bounce service unavailable");
    }
    if (!st->errs && (st->flags & CLEANUP_FLAG_DISCARD)) {
        if (!st->hbc_logged)
            log_info("%s: discard: message discarded by request", st->queue_id);
        mail_queue_remove(MAIL_QUEUE_INCOMING, st->queue_id);
        cleanup_reply(st, client, 0, "");
        return;
    }
    if (!st->errs && cleanup_commit(st, client) != NULL)
        return;
    /* Answer before removing: a client whose cleanup dies in between then
     * finds an incomplete file, never an empty queue it would take for
     * "queued and already delivered" (cleanup_clnt.c). */
    cleanup_reply(st, client, st->errs, sbuf_str(st->reason));
    mail_queue_remove(MAIL_QUEUE_INCOMING, st->queue_id);
}

static void cleanup_state_free(struct cleanup_state *st)
{
    qfile_writer_free(st->w);
    cleanup_env_free(&st->env);
    cleanup_rcpt_list_free(&st->env_rcpts);
    cleanup_rcpt_list_free(&st->extra_rcpts);
    cleanup_rcpt_list_free(&st->xtract);
    cleanup_rcpt_list_free(&st->xtract_resent);
    cleanup_rcpt_list_free(&st->written);
    cleanup_dups_free(st);
    mime_state_free(st->mime);
    cleanup_dkim_free(st);
    xfree(st->sender);
    xfree(st->fullname);
    xfree(st->hbc_filter);
    xfree(st->hbc_redirect);
    sbuf_free(st->reason);
}

/* The greeting and the client's flags. Returns 0, or -1 when the client
 * is gone or sent no flags. */
static int cleanup_greet(struct cleanup_state *st, struct stream *client)
{
    struct attr_list *req = attr_list_new();
    long flags = 0;
    int r = -1;
    /* Greeting and queue ID in one send: the client waits for both. */
    if (attr_put_proto(client, MAIL_PROTO_CLEANUP) < 0 ||
        attr_send(client, "queue_id", st->queue_id, (char *)NULL) < 0)
        goto out;
    /* Make the new name durable now, while the client is still sending: the
     * commit at the end then needs one fsync (the file's), and the gap
     * between "complete on disk" and our OK reply stays microseconds wide,
     * so a crash there (and a client retry) is as unlikely as it can be.
     * Where the file's fsync commits its name anyway (ext4 with or without
     * a journal, xfs, btrfs) this does nothing: see dir_sync_new_name(). */
    if (mail_queue_sync_dir(MAIL_QUEUE_INCOMING) < 0) {
        log_warn("%s: fsync %s: %m", st->queue_id, MAIL_QUEUE_INCOMING);
        goto out;
    }
    if (attr_read(client, req) < 0 || attr_get_long(req, "flags", &flags) < 0) {
        log_warn("%s: client sent no flags", st->queue_id);
        goto out;
    }
    st->keep_asked = attr_get(req, CLEANUP_ATTR_KEEP) != NULL;
    /* receive_override_options of this cleanup service (-o) apply too. */
    st->flags = (int)flags & ~cleanup_cfg.override_mask;
    st->checks = (st->flags & CLEANUP_FLAG_HEADER_CHECKS) != 0;
    r = 0;
out:
    attr_list_free(req);
    return r;
}

static void cleanup_service(struct stream *client)
{
    struct cleanup_state st = { 0 };
    struct sbuf *id = sbuf_new(32), *data = sbuf_new(1024);
    struct timeval tv;

    stream_set_timeout(client, (int)cfg_time(P_IPC_TIMEOUT));
    /* The records come after our greeting (smtpd sends them when its
     * client's content arrives): wait for them rather than read, find
     * nothing and then wait. On a kept connection the flags are read
     * already, so this saves a call per message. */
    stream_set_reply_wait(client, true);
    off_t old_size = 0;
    int fd = cleanup_cfg.recycle > 0
                 ? queue_recycle_take(MAIL_QUEUE_INCOMING, id, &old_size, cleanup_cfg.recycle)
                 : -1;
    bool reused = fd >= 0;
    if (!reused)
        fd = mail_queue_create(MAIL_QUEUE_INCOMING, id);
    if (fd < 0) {
        log_warn("create file in %s: %m", MAIL_QUEUE_INCOMING);
        sbuf_free(id);
        sbuf_free(data);
        return;
    }
    st.w = qfile_writer_new(fd);
    if (reused)
        qfile_writer_set_reused(st.w, old_size);
    st.queue_id = sbuf_str(id);
    st.reason = sbuf_new(64);
    st.env.attrs = attr_list_new();
    st.action = cleanup_envelope;
    gettimeofday(&tv, NULL);
    st.arrival = tv.tv_sec;
    st.env.arrival_sec = (long)tv.tv_sec;
    st.env.arrival_usec = (long)tv.tv_usec;

    bool complete = false;
    if (cleanup_greet(&st, client) == 0) {
        while (!st.end) {
            int type = qfile_get_stream(client, data, CLEANUP_REC_MAX);
            if (type < 0)
                break;      /* client went away or sent junk: drop silently */
            st.action(&st, type, sbuf_str(data), sbuf_len(data));
        }
        complete = st.end;
    }
    if (complete)
        cleanup_final(&st, client);
    else
        mail_queue_remove(MAIL_QUEUE_INCOMING, st.queue_id);     /* nothing was promised */
    cleanup_state_free(&st);
    sbuf_free(id);
    sbuf_free(data);
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
    cleanup_dkim_cfg_load(&cleanup_cfg);
}

static const struct server_ops cleanup_ops = {
    .model = SERVER_SINGLE,
    .in_flow = true,
    .keep_idle = CLEANUP_KEEP_IDLE,
    .pre_jail = cleanup_pre_jail,
    .service = cleanup_service,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &cleanup_ops);
}
