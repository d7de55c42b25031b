/*
 * postsuper.c - queue maintenance for the super-user
 *
 * Used by: the administrator; postfix start (postsuper -s).
 * Interface: postsuper [-c config_dir] [-d id|ALL|-] [-e id|ALL|-] [-f id|ALL|-]
 *            [-h id|ALL|-] [-H id|ALL|-] [-r id|ALL|-] [-p] [-s] [-v] [queue...]
 * Errors: usage and setup problems are fatal; a message that vanished
 *         while we worked on it is skipped silently (qmgr may have
 *         finished it).
 * Notes: runs as root, then does its queue work as $mail_owner so that
 *        every file and hash subdirectory it creates stays usable by the
 *        daemons. Each change is logged as "ID: removed" etc., followed by
 *        a summary ("Deleted: 3 messages"). Requeue (-r) moves the message
 *        to incoming (Postfix uses maildrop): it keeps its queue ID, loses
 *        its deferral reasons and is scanned again at once, and qmgr is
 *        told to forget the destinations it holds dead (as after a flush),
 *        so mail for a destination that is back goes out at once; its
 *        addresses are not rewritten again. With maillog_file set, lines go to the
 *        postlog service, or straight into the file when postlogd is not
 *        running (postfix stopped), as Postfix's root commands do.
 */
#include "postsuper.h"
#include "alloc.h"
#include "config.h"
#include "dsn_log.h"
#include "log.h"
#include "mail_proto.h"
#include "mail_env.h"
#include "mail_queue.h"
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>

#define PS_TEMP_AGE (60 * 60)   /* incomplete files older than this are debris */

static const char *const ps_default_queues[PS_OP_COUNT][5] = {
    [PS_DELETE] = { MAIL_QUEUE_HOLD, MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED },
    [PS_HOLD] = { MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED },
    [PS_RELEASE] = { MAIL_QUEUE_HOLD },
    [PS_REQUEUE] = { MAIL_QUEUE_HOLD, MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
                     MAIL_QUEUE_DEFERRED },
    [PS_EXPIRE] = { MAIL_QUEUE_HOLD, MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
                    MAIL_QUEUE_DEFERRED },
};

static int ps_counts[PS_OP_COUNT];
static bool ps_need_trigger;

/* Applies op to the file id in queue; returns 1 when done, 0 when skipped. */
static int ps_apply(enum ps_op op, const char *queue, const char *id)
{
    struct sbuf *path = sbuf_new(64);
    struct stat st;
    int done = 0;
    mail_queue_path(path, queue, id);
    if (lstat(sbuf_str(path), &st) < 0 || !S_ISREG(st.st_mode))
        goto out;
    switch (op) {
    case PS_DELETE:
        if (unlink(sbuf_str(path)) < 0) {
            if (errno != ENOENT)
                log_warn("remove file %s: %m", sbuf_str(path));
            goto out;
        }
        (void)dsn_log_remove(MAIL_QUEUE_BOUNCE, id);
        (void)dsn_log_remove(MAIL_QUEUE_DEFER, id);
        (void)dsn_log_remove(MAIL_QUEUE_TRACE, id);
        log_info("%s: removed", id);
        done = 1;
        break;
    case PS_HOLD:
        if (strcmp(queue, MAIL_QUEUE_HOLD) == 0 || !MAIL_QUEUE_IS_COMPLETE(&st))
            goto out;
        if (mail_queue_rename(id, queue, MAIL_QUEUE_HOLD) < 0) {
            if (errno != ENOENT)
                log_warn("rename file %s as hold/%s: %m", sbuf_str(path), id);
            goto out;
        }
        log_info("%s: placed on hold", id);
        done = 1;
        break;
    case PS_RELEASE:
    case PS_REQUEUE: {
        const char *to = op == PS_RELEASE ? MAIL_QUEUE_DEFERRED : MAIL_QUEUE_INCOMING;
        if (!MAIL_QUEUE_IS_COMPLETE(&st))
            goto out;
        if (strcmp(queue, to) != 0 && mail_queue_rename(id, queue, to) < 0) {
            if (errno != ENOENT)
                log_warn("rename file %s as %s/%s: %m", sbuf_str(path), to, id);
            goto out;
        }
        /* A deferred file's mtime is its next attempt: make that now. */
        mail_queue_path(path, to, id);
        if (utimes(sbuf_str(path), NULL) < 0)
            log_warn("%s: reset time stamps: %m", id);
        if (op == PS_REQUEUE)
            (void)dsn_log_remove(MAIL_QUEUE_DEFER, id);
        log_info(op == PS_RELEASE ? "%s: released from hold" : "%s: requeued", id);
        done = 1;
        break;
    }
    case PS_EXPIRE:
        if (chmod(sbuf_str(path), (st.st_mode & 07777) | S_IXGRP) < 0) {
            log_warn("expire file %s: cannot set permission: %m", sbuf_str(path));
            goto out;
        }
        log_info("%s: expired", id);
        done = 1;
        break;
    case PS_OP_COUNT:
        break;
    }
out:
    sbuf_free(path);
    return done;
}

struct ps_scan {
    enum ps_op op;
    const char *queue;
};

static int ps_scan_one(const char *id, const char *path, void *ctx_)
{
    struct ps_scan *ctx = ctx_;
    (void)path;
    ps_counts[ctx->op] += ps_apply(ctx->op, ctx->queue, id);
    return 0;
}

static bool ps_queue_selected(const struct ps_args *a, enum ps_op op, const char *q)
{
    if (a->queues) {
        for (char **p = a->queues; *p; p++)
            if (strcmp(*p, q) == 0)
                return true;
        return false;
    }
    for (size_t i = 0; i < 5 && ps_default_queues[op][i]; i++)
        if (strcmp(ps_default_queues[op][i], q) == 0)
            return true;
    return false;
}

static const char *const ps_all_queues[] = { MAIL_QUEUE_MAILDROP, MAIL_QUEUE_INCOMING,
                                             MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED,
                                             MAIL_QUEUE_HOLD };

static void ps_do_id(const struct ps_args *a, enum ps_op op, const char *id)
{
    for (size_t i = 0; i < ARRAY_LEN(ps_all_queues); i++) {
        const char *q = ps_all_queues[i];
        if (!ps_queue_selected(a, op, q))
            continue;
        if (strcmp(id, "ALL") == 0) {
            struct ps_scan ctx = { op, q };
            if (mail_queue_dir_scan(q, ps_scan_one, &ctx) < 0)
                log_warn("scan %s: %m", q);
        } else if (ps_apply(op, q, id)) {
            ps_counts[op]++;
            return;
        }
    }
}

/* Queue IDs from standard input, one per line (first word; the status
 * marks of a mailq listing are ignored). */
static char **ps_stdin_ids(size_t *n)
{
    static char **ids;
    static size_t count;
    static bool read_once;
    if (!read_once) {
        char line[1024];
        read_once = true;
        while (fgets(line, sizeof(line), stdin)) {
            char *p = line + strspn(line, " \t");
            size_t len = strcspn(p, " \t\r\n");
            while (len > 0 && strchr("*!#", p[len - 1]))
                len--;
            if (len == 0)
                continue;
            p[len] = 0;
            if (!mail_queue_id_ok(p)) {
                log_warn("invalid mail queue id: %.100s", p);
                continue;
            }
            ids = xreallocarray(ids, count + 1, sizeof(*ids));
            ids[count++] = xstrdup(p);
        }
    }
    *n = count;
    return ids;
}

static void ps_run_op(const struct ps_args *a, enum ps_op op)
{
    for (size_t j = 0; j < a->nids[op]; j++) {
        const char *id = a->ids[op][j];
        if (strcmp(id, "-") == 0) {
            size_t n;
            char **ids = ps_stdin_ids(&n);
            for (size_t k = 0; k < n; k++)
                ps_do_id(a, op, ids[k]);
        } else {
            ps_do_id(a, op, id);
        }
    }
}

/* -s: every queue directory exists; files in hashed queues sit in the
 * subdirectory their name calls for, files in flat queues at the top. */
static void ps_fix_file(const char *queue, const char *dir, const char *name)
{
    struct sbuf *have = sbuf_new(64), *want = sbuf_new(64);
    sbuf_printf(have, "%s/%s", dir, name);
    mail_queue_path(want, queue, name);
    if (strcmp(sbuf_str(have), sbuf_str(want)) != 0) {
        /* make the target's hash directories exist, then move */
        char *slash = strrchr(sbuf_data(want), '/');
        if (slash && slash != strchr(sbuf_data(want), '/')) {
            *slash = 0;
            for (char *p = strchr(sbuf_data(want), '/'); p; p = strchr(p + 1, '/')) {
                *p = 0;
                (void)mkdir(sbuf_str(want), 0700);
                *p = '/';
            }
            (void)mkdir(sbuf_str(want), 0700);
            *slash = '/';
        }
        if (rename(sbuf_str(have), sbuf_str(want)) < 0)
            log_warn("rename file %s as %s: %m", sbuf_str(have), sbuf_str(want));
        else
            log_info("renamed file %s as %s", sbuf_str(have), sbuf_str(want));
    }
    sbuf_free(have);
    sbuf_free(want);
}

static void ps_fix_dir(const char *queue, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    if (d == NULL)
        return;
    struct sbuf *path = sbuf_new(64);
    while ((de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        sbuf_printf(path, "%s/%s", dir, de->d_name);
        if (lstat(sbuf_str(path), &st) < 0)
            continue;
        if (S_ISDIR(st.st_mode)) {
            if (depth < 4 && strlen(de->d_name) == 1)
                ps_fix_dir(queue, sbuf_str(path), depth + 1);
        } else if (S_ISREG(st.st_mode) && mail_queue_id_ok(de->d_name)) {
            ps_fix_file(queue, dir, de->d_name);
        }
    }
    closedir(d);
    sbuf_free(path);
}

static void ps_structure(uid_t uid, gid_t gid)
{
    static const char *const dirs[] = { MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
                                        MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD,
                                        MAIL_QUEUE_CORRUPT, MAIL_QUEUE_BOUNCE, MAIL_QUEUE_DEFER,
                                        MAIL_QUEUE_TRACE, MAIL_QUEUE_SAVED, MAIL_QUEUE_FLUSH,
                                        MAIL_QUEUE_RECYCLE };
    for (size_t i = 0; i < ARRAY_LEN(dirs); i++) {
        if (mkdir(dirs[i], 0700) == 0) {
            if (chown(dirs[i], uid, gid) < 0)
                log_warn("chown %s: %m", dirs[i]);
            log_info("created missing queue directory %s", dirs[i]);
        }
    }
}

static void ps_structure_files(void)
{
    static const char *const queues[] = { MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
                                          MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD,
                                          MAIL_QUEUE_BOUNCE, MAIL_QUEUE_DEFER, MAIL_QUEUE_TRACE };
    for (size_t i = 0; i < ARRAY_LEN(queues); i++)
        ps_fix_dir(queues[i], queues[i], 0);
}

/* -p: incomplete files that nobody finished (a crashed writer). */
static int ps_purge_one(const char *id, const char *path, void *ctx)
{
    struct stat st;
    (void)ctx;
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && !MAIL_QUEUE_IS_COMPLETE(&st)
        && MAIL_QUEUE_CHANGED(&st) < time(NULL) - PS_TEMP_AGE) {
        if (unlink(path) == 0)
            log_info("%s: removed temporary file %s", id, path);
        else
            log_warn("remove file %s: %m", path);
    }
    return 0;
}

/* True when path is under one of $maillog_file_prefixes (whole components). */
static bool ps_log_prefix_ok(const char *path)
{
    char **list = cfg_list(cfg_str(P_MAILLOG_FILE_PREFIXES));
    bool ok = false;
    for (char **p = list; p && *p && !ok; p++) {
        size_t n = strlen(*p);
        while (n > 1 && (*p)[n - 1] == '/')
            n--;
        ok = strncmp(path, *p, n) == 0 && (path[n] == 0 || path[n] == '/' || (*p)[n - 1] == '/');
    }
    cfg_list_free(list);
    return ok;
}

/* True when a postlogd reads the datagram socket at path. */
static bool ps_postlog_alive(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sun.sun_path))
        return false;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    bool ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
    close(fd);
    return ok;
}

/* Chooses where log lines go: syslog, or the maillog_file (through
 * postlogd when it runs, else written directly while we are still root). */
static void ps_open_log(void)
{
    const char *file = cfg_str(P_MAILLOG_FILE);
    if (*file == 0) {
        log_open_syslog(NULL);
        return;
    }
    struct sbuf *path = sbuf_new(128);
    mail_service_path(path, MAIL_CLASS_PUBLIC, MAIL_SERVICE_POSTLOG, true);
    log_close_syslog();
    if (ps_postlog_alive(sbuf_str(path)))
        log_open_maillog(sbuf_str(path), cfg_str(P_MYHOSTNAME));
    else if (ps_log_prefix_ok(file))
        log_open_file(file, cfg_str(P_MYHOSTNAME));
    else
        log_warn("%s %s is not under %s; not logging to it", P_MAILLOG_FILE, file,
                 P_MAILLOG_FILE_PREFIXES);
    sbuf_free(path);
}

int main(int argc, char **argv)
{
    struct ps_args a;
    struct sbuf *err = sbuf_new(256);

    umask(022);
    log_set_tag("postsuper");
    log_set_stderr(true);
    if (ps_parse_args(&a, argc, argv, err) < 0)
        log_fatal("%s", sbuf_str(err));
    log_verbose = a.verbose;
    if (getuid() != 0)
        log_fatal("use of this command is reserved for the superuser");
    if (config_load(a.config_dir) < 0)
        log_fatal("%s/main.cf: configuration errors", a.config_dir ? a.config_dir : config_dir());
    if (a.config_dir)
        setenv("MAIL_CONFIG", a.config_dir, 1);
    mail_env_import();
    struct sbuf *tag = sbuf_new(64);
    sbuf_printf(tag, "%s/postsuper", cfg_str(P_SYSLOG_NAME));
    log_set_tag(sbuf_str(tag));
    sbuf_free(tag);
    ps_open_log();
    mail_queue_init();

    const char *qdir = cfg_str(P_QUEUE_DIRECTORY);
    if (chdir(qdir) < 0)
        log_fatal("chdir %s: %m", qdir);
    struct passwd *pw = getpwnam(cfg_str(P_MAIL_OWNER));
    if (pw == NULL)
        log_fatal("mail_owner %s: no such user", cfg_str(P_MAIL_OWNER));
    if (a.structure)
        ps_structure(pw->pw_uid, pw->pw_gid);
    /* From here on we act as the mail system would. */
    if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
        log_fatal("drop privileges to %s: %m", pw->pw_name);

    if (a.structure)
        ps_structure_files();
    if (a.purge) {
        static const char *const tq[] = { MAIL_QUEUE_INCOMING, MAIL_QUEUE_MAILDROP };
        for (size_t i = 0; i < ARRAY_LEN(tq); i++)
            (void)mail_queue_dir_scan(tq[i], ps_purge_one, NULL);
    }
    static const enum ps_op order[] = { PS_DELETE, PS_EXPIRE, PS_HOLD, PS_RELEASE, PS_REQUEUE };
    static const char *const words[PS_OP_COUNT] = {
        [PS_DELETE] = "Deleted", [PS_HOLD] = "Placed on hold",
        [PS_RELEASE] = "Released from hold", [PS_REQUEUE] = "Requeued",
        [PS_EXPIRE] = "Force-expired",
    };
    for (size_t i = 0; i < ARRAY_LEN(order); i++)
        ps_run_op(&a, order[i]);
    for (size_t i = 0; i < ARRAY_LEN(order); i++) {
        if (ps_counts[order[i]] > 0) {
            ps_count_text(err, words[order[i]], ps_counts[order[i]]);
            log_info("%s", sbuf_str(err));
            if (order[i] != PS_DELETE && order[i] != PS_HOLD)
                ps_need_trigger = true;
        }
    }
    if (ps_need_trigger) {
        mail_use_relative_paths(true);
        /* An administrator requeues mail because its destination is back:
         * make qmgr forget destinations it holds dead, or the requeued mail
         * would be deferred again at once until minimal_backoff_time. */
        if (ps_counts[PS_REQUEUE] > 0)
            (void)mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_FLUSH_DEAD);
        (void)mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_INCOMING);
        (void)mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_DEFERRED);
    }
    ps_args_free(&a);
    sbuf_free(err);
    return 0;
}
