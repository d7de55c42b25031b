/*
 * showq.c - the queue listing service behind postqueue -p / -j and mailq
 *
 * Used by: master (service showq, public/showq), postqueue.
 * Interface: main(); the showq protocol in docs/ipc.md: Postfix's own
 *            (null-terminated attributes, greeting "protocol" =
 *            mail_queue_list_protocol), so that tools written for Postfix
 *            that read public/showq directly (prometheus-postfix-exporter,
 *            Postfix's own postqueue) see the queue.
 * Errors: unreadable or incomplete files are skipped silently (they are
 *         being written, moved or removed while we look).
 * Notes: scans active, incoming, deferred, hold and maildrop. For each
 *        complete file it sends one attribute list: queue_name, queue_id,
 *        time, size, sender (the null sender is shown as MAILER-DAEMON, as
 *        Postfix does), forced_expire, then recipient/reason groups for the
 *        recipients still to do, with the reason of their last deferral.
 *        Each message's list ends with its terminator; one more, empty,
 *        list ends the listing. At most SHOWQ_RCPT_LIMIT
 *        recipients are listed per message.
 */
#include "alloc.h"
#include "attr.h"
#include "dsn_log.h"
#include "log.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "qfile.h"
#include "server.h"
#include <fcntl.h>
#include <sys/stat.h>

#define SHOWQ_RCPT_LIMIT 1000

struct showq_ctx {
    struct stream *client;
    const char *queue;
    bool failed;
};

/* The reason of the last deferral of rc, or "". */
static const char *showq_reason(const struct dsn_entry *v, int n, const struct qenv_rcpt *rc)
{
    const char *why = "";
    for (int i = 0; i < n; i++) {
        if ((v[i].offset > 0 && v[i].offset == (long)rc->offset)
            || (v[i].offset <= 0 && strcmp(v[i].recipient, rc->address) == 0))
            why = v[i].reason;
    }
    return why;
}

static int showq_file(const char *id, const char *path, void *ctx_)
{
    struct showq_ctx *ctx = ctx_;
    struct stat st;
    struct qfile_reader *r = qfile_open(path, O_RDONLY);
    if (r == NULL)
        return 0;
    if (fstat(qfile_reader_fd(r), &st) < 0 || !S_ISREG(st.st_mode)
        || (strcmp(ctx->queue, MAIL_QUEUE_MAILDROP) != 0 && !MAIL_QUEUE_IS_COMPLETE(&st))) {
        qfile_close(r);
        return 0;
    }
    struct qenv env;
    if (qenv_load(r, &env) != 0) {
        qenv_free(&env);
        qfile_close(r);
        return 0;
    }
    qfile_close(r);

    struct dsn_entry *v = NULL;
    int n = strcmp(ctx->queue, MAIL_QUEUE_MAILDROP) == 0 ? 0
            : dsn_log_read(MAIL_QUEUE_DEFER, id, &v);
    if (n < 0)
        n = 0;
    struct attr_list *l = attr_list_new();
    l->max_count = 16 + 2 * SHOWQ_RCPT_LIMIT;
    attr_add(l, "queue_name", ctx->queue);
    attr_add(l, "queue_id", id);
    attr_add_long(l, "time", env.arrival_sec ? env.arrival_sec : (long)st.st_mtime);
    attr_add_long(l, "size", env.content_size > 0 ? env.content_size : (long)st.st_size);
    attr_add_long(l, "forced_expire", (st.st_mode & S_IXGRP) ? 1 : 0);
    attr_add(l, "sender", *env.sender ? env.sender : "MAILER-DAEMON");
    size_t shown = 0;
    for (size_t i = 0; i < env.nrcpt && shown < SHOWQ_RCPT_LIMIT; i++) {
        if (env.rcpts[i].done)
            continue;
        attr_add(l, "recipient", env.rcpts[i].address);
        attr_add(l, "reason", showq_reason(v, n, &env.rcpts[i]));
        shown++;
    }
    if (attr_write0(ctx->client, l) < 0)
        ctx->failed = true;
    attr_list_free(l);
    dsn_entries_free(v, n);
    qenv_free(&env);
    return ctx->failed ? -1 : 0;
}

static void showq_service(struct stream *client)
{
    static const char *const queues[] = { MAIL_QUEUE_ACTIVE, MAIL_QUEUE_INCOMING,
                                          MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD,
                                          MAIL_QUEUE_MAILDROP };
    struct showq_ctx ctx = { .client = client };
    if (attr_send_proto0(client, MAIL_PROTO_SHOWQ) < 0)
        return;
    for (size_t i = 0; i < ARRAY_LEN(queues) && !ctx.failed; i++) {
        ctx.queue = queues[i];
        if (mail_queue_dir_scan(queues[i], showq_file, &ctx) < 0 && !ctx.failed)
            log_warn("scan %s: %m", queues[i]);
    }
    if (!ctx.failed) {
        struct attr_list *end = attr_list_new();
        (void)attr_write0(client, end);
        attr_list_free(end);
    }
}

static const struct server_ops showq_ops = {
    .model = SERVER_SINGLE,
    .service = showq_service,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &showq_ops);
}
