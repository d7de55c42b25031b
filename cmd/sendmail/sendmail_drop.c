/*
 * sendmail_drop.c - run "postdrop -r" and feed it the record stream
 *
 * Used by: sendmail.c, sendmail_smtp.c.
 * Interface: sm_drop_open(), sm_drop_queue_id(), sm_drop_rec(),
 *            sm_drop_finish(), sm_drop_abort().
 * Errors: a postdrop that cannot start or refuses reports its own error
 *         on the shared stderr; we return its exit status.
 * Notes: protocol in cmd/postdrop/postdrop.c: postdrop answers
 *        "queue_id=ID" first and "status=N reason=TEXT" at the end.
 */
#include "alloc.h"
#include "attr.h"
#include "log.h"
#include "qfile.h"
#include "sendmail.h"
#include "stream.h"
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <sysexits.h>

extern char **environ;

struct sm_drop {
    pid_t pid;
    struct stream *to, *from;
    char queue_id[64];
    bool failed;
};

/* Waits for the child; returns its exit status as a sysexits code. */
static int sm_drop_wait(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return EX_SOFTWARE;
    }
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    log_warn("postdrop terminated by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return EX_SOFTWARE;
}

struct sm_drop *sm_drop_open(const char *path, int verbose, int *status)
{
    int in[2], out[2];
    *status = EX_OSERR;
    if (pipe2(in, O_CLOEXEC) < 0)
        return NULL;
    if (pipe2(out, O_CLOEXEC) < 0) {
        close(in[0]);
        close(in[1]);
        return NULL;
    }
    /* posix_spawn (a vfork-style clone) rather than fork + exec: the
     * child does not copy sendmail's page tables only to replace them. */
    char *args[4];
    int n = 0;
    args[n++] = (char *)"postdrop";
    args[n++] = (char *)"-r";
    if (verbose)
        args[n++] = (char *)"-v";
    args[n] = NULL;
    /* in: parent -> postdrop stdin; out: postdrop stdout -> parent. dup2
     * clears close-on-exec on 0 and 1; the pipes' other ends close. */
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int err = posix_spawn_file_actions_init(&fa);
    if (err == 0) {
        if ((err = posix_spawn_file_actions_adddup2(&fa, in[0], 0)) == 0
            && (err = posix_spawn_file_actions_adddup2(&fa, out[1], 1)) == 0)
            err = posix_spawn(&pid, path, &fa, NULL, args, environ);
        posix_spawn_file_actions_destroy(&fa);
    }
    if (err != 0) {
        dprintf(2, "sendmail: fatal: unable to execute %s: %s\n", path, strerror(err));
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return NULL;
    }
    close(in[0]);
    close(out[1]);
    struct sm_drop *d = xcalloc(1, sizeof(*d));
    d->pid = pid;
    d->to = stream_open(in[1]);
    d->from = stream_open(out[0]);
    stream_set_timeout(d->to, 3600);
    stream_set_timeout(d->from, 3600);
    struct attr_list *l = attr_list_new();
    const char *id = attr_read(d->from, l) == 0 ? attr_get(l, "queue_id") : NULL;
    if (id == NULL) {
        attr_list_free(l);
        stream_close(d->to);
        stream_close(d->from);
        *status = sm_drop_wait(pid);
        if (*status == 0)
            *status = EX_SOFTWARE;
        xfree(d);
        return NULL;
    }
    strlcpy(d->queue_id, id, sizeof(d->queue_id));
    attr_list_free(l);
    *status = 0;
    return d;
}

const char *sm_drop_queue_id(const struct sm_drop *d)
{
    return d->queue_id;
}

int sm_drop_rec(void *ctx, int type, const char *data, size_t len)
{
    struct sm_drop *d = ctx;
    if (d->failed)
        return -1;
    if (qfile_put_stream(d->to, type, data, len) < 0)
        d->failed = true;
    return d->failed ? -1 : 0;
}

int sm_drop_finish(struct sm_drop *d, struct sbuf *reason)
{
    long st = -1;
    if (!d->failed && stream_flush(d->to) == 0) {
        struct attr_list *l = attr_list_new();
        if (attr_read(d->from, l) == 0 && attr_get_long(l, "status", &st) == 0 && reason)
            sbuf_set(reason, attr_get_def(l, "reason", ""));
        attr_list_free(l);
    }
    stream_close(d->to);
    stream_close(d->from);
    int code = sm_drop_wait(d->pid);
    if (code == 0 && st != 0)
        code = EX_SOFTWARE;     /* no verdict: never claim success */
    if (code != 0 && reason && sbuf_len(reason) == 0)
        sbuf_set(reason, "4.3.0 queue file write error");
    xfree(d);
    return code;
}

void sm_drop_abort(struct sm_drop *d)
{
    if (d == NULL)
        return;
    /* Closing its input early makes postdrop remove the partial file. */
    stream_close(d->to);
    stream_close(d->from);
    (void)sm_drop_wait(d->pid);
    xfree(d);
}
