/*
 * local_deliver.c - the local agent's back ends: mbox, Maildir, files,
 *                   commands, forwarding, and privilege switching
 *
 * Used by: local.c, through local_real_ops.
 * Interface: local_deliver_init(), local_begin_request(), local_end_request(),
 *            local_real_ops, local_cfg.
 * Errors: each delivery reports its own result (sent/bounced/deferred) via
 *         deliver_status() for the leaf address; nothing here is fatal
 *         except configuration errors at start-up.
 * Notes: the process runs as root. Work on user files happens with the
 *        user's effective uid/gid (seteuid), switched back to root before
 *        any status is recorded (the status logs belong to mail_owner).
 *        Commands run in a child that drops all privileges for good, in
 *        its own session; command_time_limit bounds the whole delivery and
 *        kills the process group. Mailboxes and files are opened with
 *        O_NOFOLLOW|O_NONBLOCK and checked with fstat (regular, one link,
 *        owner) before anything is written.
 *        Mailboxes in a mail_spool_directory that is not world-writable
 *        (e.g. Debian's root:mail 2775) are created, locked and appended as
 *        root, but only after checking that the file is a plain file owned
 *        by the recipient (no symlink, one link). Messages are rendered into
 *        memory once per delivery (XXX: streams would save memory for large
 *        messages; message_size_limit bounds it). A delivery to an mbox
 *        mailbox ends with a comsat notice (local_biff.c) when biff = yes.
 */
#include "local.h"
#include "alloc.h"
#include "attr.h"
#include "char_filter.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "deliver_common.h"
#include "dict.h"
#include "log.h"
#include "maildir.h"
#include "maps.h"
#include "mbox_lock.h"
#include "pipe_command.h"
#include "qfile.h"
#include "resolve_local.h"
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

struct local_config local_cfg;

/* Per-process settings (local_deliver_init). */
static struct maps *local_aliases;
static struct dict *local_passwd;   /* unix:passwd.byname: answers cached */
static int local_lock_mask;
static struct mbox_lock_opts local_lock_opts;
static uid_t local_default_uid;
static gid_t local_default_gid;
static int local_prepend;           /* LOCAL_PREPEND_* */
static long local_size_limit;
static long local_cmd_limit;
static struct char_filter local_cmd_filter;     /* command_expansion_filter */
#define LOCAL_PREPEND_COMMAND 0x1
#define LOCAL_PREPEND_FILE 0x2
#define LOCAL_PREPEND_FORWARD 0x4

/* Per-request state (local.c sets these). */
struct deliver_request *local_req;
char **local_delivered_hdrs;        /* folded Delivered-To: values */

/* Copy flags for rendering. */
#define COPY_FROM 0x1           /* "From sender date" line */
#define COPY_QUOTE 0x2          /* ">From " quoting */
#define COPY_BLANK 0x4          /* empty line at the end */
#define COPY_DELIVERED 0x8      /* Delivered-To: */
#define COPY_RETURN 0x10        /* Return-Path: */
#define COPY_ORIG 0x20          /* X-Original-To: */
#define COPY_MBOX (COPY_FROM | COPY_QUOTE | COPY_BLANK | COPY_RETURN | COPY_ORIG)

void local_deliver_init(void)
{
    const char *bad = NULL;
    local_cfg.recipient_delimiter = cfg_str(P_RECIPIENT_DELIMITER);
    local_cfg.myorigin = cfg_str(P_MYORIGIN);
    local_cfg.luser_relay = cfg_str(P_LUSER_RELAY);
    local_cfg.forward_path = cfg_str(P_FORWARD_PATH);
    local_cfg.forward_filter = cfg_str(P_FORWARD_EXPANSION_FILTER);
    char_filter_init(&local_cmd_filter, cfg_str(P_COMMAND_EXPANSION_FILTER));
    local_cfg.allow_commands = local_allow_mask(cfg_str(P_ALLOW_MAIL_TO_COMMANDS));
    local_cfg.allow_files = local_allow_mask(cfg_str(P_ALLOW_MAIL_TO_FILES));
    local_cfg.owner_request_special = cfg_bool(P_OWNER_REQUEST_SPECIAL);
    local_cfg.expand_owner_alias = cfg_bool(P_EXPAND_OWNER_ALIAS);
    local_cfg.require_home = cfg_bool(P_REQUIRE_HOME_DIRECTORY);
    local_cfg.frozen_delivered = cfg_bool(P_FROZEN_DELIVERED_TO);
    local_cfg.dup_limit = cfg_int(P_DUPLICATE_FILTER_LIMIT);
    local_transport_init();
    local_biff_init();

    local_lock_mask = mbox_lock_mask(cfg_str(P_MAILBOX_DELIVERY_LOCK), &bad);
    if (local_lock_mask < 0)
        log_fatal("%s = %s: %s", P_MAILBOX_DELIVERY_LOCK, cfg_str(P_MAILBOX_DELIVERY_LOCK), bad);
    mbox_lock_opts_init(&local_lock_opts);
    local_size_limit = cfg_long(P_MAILBOX_SIZE_LIMIT);
    local_cmd_limit = cfg_time(P_COMMAND_TIME_LIMIT);

    char **w = cfg_list(cfg_str(P_PREPEND_DELIVERED_HEADER));
    for (char **p = w; p && *p; p++) {
        if (strcasecmp(*p, "command") == 0)
            local_prepend |= LOCAL_PREPEND_COMMAND;
        else if (strcasecmp(*p, "file") == 0)
            local_prepend |= LOCAL_PREPEND_FILE;
        else if (strcasecmp(*p, "forward") == 0)
            local_prepend |= LOCAL_PREPEND_FORWARD;
    }
    cfg_list_free(w);

    const char *dp = cfg_str(P_DEFAULT_PRIVS);
    struct passwd *pw = getpwnam(dp);
    if (pw == NULL)
        log_fatal("%s = %s: no such user", P_DEFAULT_PRIVS, dp);
    if (pw->pw_uid == 0)
        log_fatal("%s = %s: must not be a privileged account", P_DEFAULT_PRIVS, dp);
    local_default_uid = pw->pw_uid;
    local_default_gid = pw->pw_gid;

    local_aliases = maps_create(P_ALIAS_MAPS, cfg_str(P_ALIAS_MAPS),
                                DICT_F_FOLD | DICT_F_ALIAS | DICT_F_NO_PROXY);
    /* The recipient's passwd entry through dict_unix, whose answers are
     * reused while /etc/passwd is unchanged (one stat instead of reading
     * nsswitch.conf and the passwd file for every delivery). */
    local_passwd = dict_open("unix:passwd.byname", 0);
    if (local_passwd == NULL)
        log_fatal("cannot open unix:passwd.byname");
    resolve_local_init();
}

/* ---- privileges ---- */

/* Privileges for files and commands of st (root is never used). */
static void local_privs(const struct local_state *st, uid_t *uid, gid_t *gid)
{
    if (st->have_privs && st->uid != 0) {
        *uid = st->uid;
        *gid = st->gid;
    } else {
        *uid = local_default_uid;
        *gid = local_default_gid;
    }
}

/* ---- reporting ---- */

static void local_report(struct local_state *st, enum deliver_kind kind, const char *dsn,
                         const char *text)
{
    struct deliver_rcpt leaf = *st->rc;
    leaf.address = (char *)st->address;
    if (*st->rc->orig == 0 && strcmp(st->address, st->rc->address) != 0)
        leaf.orig = st->rc->address;
    int flags = DELIVER_F_NOMARK;
    if (kind == DELIVER_SENT && strncmp(text, "forwarded", 9) == 0)
        flags |= DELIVER_F_RELAYED;
    /* What was reported counts: local_delivery_status_filter may turn a
     * bounce into a deferral or the other way round, soft_bounce a bounce
     * into a deferral. */
    if (deliver_status(local_req, &leaf, kind, flags, dsn, "%s", text) < 0
        || local_req->reported == DELIVER_DEFERRED)
        st->out->deferred = true;
    st->out->leaves++;
}

static void local_reportf(struct local_state *st, enum deliver_kind kind, const char *dsn,
                          const char *fmt, ...) PRINTF_LIKE(4, 5);
static void local_reportf(struct local_state *st, enum deliver_kind kind, const char *dsn,
                          const char *fmt, ...)
{
    struct sbuf *b = sbuf_new(128);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vcatf(b, fmt, ap);
    va_end(ap);
    local_report(st, kind, dsn, sbuf_str(b));
    sbuf_free(b);
}

/* ---- rendering ---- */

/* Renders the message for st with the given COPY_* flags. 0 or -1. */
static int local_render(struct local_state *st, struct sbuf *out, int flags)
{
    sbuf_reset(out);
    if (flags & COPY_FROM)
        deliver_mbox_from(out, st->sender);
    if (flags & COPY_RETURN)
        sbuf_catf(out, "Return-Path: <%s>\n", st->sender);
    if (flags & COPY_ORIG)
        sbuf_catf(out, "X-Original-To: %s\n", *st->rc->orig ? st->rc->orig : st->rc->address);
    if (flags & COPY_DELIVERED)
        sbuf_catf(out, "Delivered-To: %s\n", st->delivered);
    struct deliver_copy c = { .out = out, .quote = (flags & COPY_QUOTE) != 0 };
    if (deliver_content_lines(local_req, deliver_copy_line, &c) != 0)
        return -1;
    if (flags & COPY_BLANK)
        sbuf_addch(out, '\n');
    return 0;
}

/* ---- mbox files (mailbox and /file) ---- */

/* DSN for a failed open of a mailbox or /file: temporary conditions are
 * retried, anything else (a symlink, a missing directory, no permission)
 * bounces with 5.2.0 as Postfix's mailbox code does. */
static const char *local_open_dsn(int err)
{
    switch (err) {
    case EAGAIN:
    case EINTR:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EIO:
    case ESTALE:
    case ETXTBSY:
        return "4.2.0";
    case ENOSPC:
        return "4.3.0";
    case EDQUOT:
    case EFBIG:
        return "5.2.2";
    default:
        return "5.2.0";
    }
}

/* Appends the rendered message to path, locking per mailbox_delivery_lock.
 * owner_uid: required owner of an existing file (-1: any); a new file is
 * given to owner_uid/owner_gid when we run as root. Returns 0 with *start
 * (when not NULL) set to the byte offset where the message begins, or -1
 * with dsn/why filled. */
static int local_mbox_append(const char *path, const struct sbuf *msg, uid_t owner_uid,
                             gid_t owner_gid, bool check_exec, off_t *start, struct sbuf *dsn,
                             struct sbuf *why)
{
    struct stat st;
    int fd = -1;
    struct sbuf *lockwhy = sbuf_new(128);
    bool dotlocked = false;

    sbuf_set(dsn, "4.2.0");
    if ((local_lock_mask & MBOX_LOCK_DOTLOCK)) {
        if (mbox_dotlock(path, &local_lock_opts, lockwhy) < 0) {
            /* a directory we cannot write (e.g. a /file in /tmp) does not
             * need a dot lock to be safe: kernel locks still apply */
            if (errno != EACCES && errno != EPERM && errno != EROFS) {
                sbuf_set(why, sbuf_str(lockwhy));
                goto fail;
            }
        } else
            dotlocked = true;
    }
    /* Never follow a symlink, never block on a FIFO, never take a terminal:
     * the path may be the user's to change. */
    fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0 && errno == ENOENT) {
        fd = open(path,
                  O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC
                      | O_NOCTTY,
                  0600);
        if (fd >= 0 && geteuid() == 0 && owner_uid != (uid_t)-1
            && fchown(fd, owner_uid, owner_gid) < 0) {
            sbuf_printf(why, "cannot change owner of %s: %s", path, strerror(errno));
            goto fail;
        }
    }
    if (fd < 0) {
        int err = errno;
        if (err == ENXIO) {
            /* a FIFO without a reader (or a device without its driver) */
            sbuf_printf(why, "file %s is not a regular file", path);
            sbuf_set(dsn, "5.2.0");
        } else {
            sbuf_printf(why, "cannot open file: %s", err == ELOOP ? "file is a symbolic link"
                                                                  : strerror(err));
            sbuf_set(dsn, local_open_dsn(err));
        }
        goto fail;
    }
    if (fstat(fd, &st) < 0) {
        sbuf_printf(why, "cannot stat file: %s", strerror(errno));
        goto fail;
    }
    if (!S_ISREG(st.st_mode)) {
        sbuf_printf(why, "file %s is not a regular file", path);
        sbuf_set(dsn, "5.2.0");
        goto fail;
    }
    /* a regular file: back to ordinary blocking writes */
    if (fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) < 0) {
        sbuf_printf(why, "cannot set file flags: %s", strerror(errno));
        goto fail;
    }
    if (st.st_nlink > 1) {
        sbuf_printf(why, "file %s has too many hard links", path);
        sbuf_set(dsn, "5.2.0");
        goto fail;
    }
    if (check_exec && (st.st_mode & (S_IXUSR | S_IXGRP | S_IXOTH))) {
        sbuf_printf(why, "file is executable");
        sbuf_set(dsn, "5.7.1");
        goto fail;
    }
    if (owner_uid != (uid_t)-1 && st.st_uid != owner_uid && cfg_bool(P_STRICT_MAILBOX_OWNERSHIP)) {
        sbuf_printf(why, "file %s has bad owner uid %ld", path, (long)st.st_uid);
        goto fail;
    }
    if (mbox_kernel_lock(fd, local_lock_mask, &local_lock_opts, lockwhy) < 0) {
        sbuf_set(why, sbuf_str(lockwhy));
        goto fail;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    if (local_size_limit > 0 && size + (off_t)sbuf_len(msg) > (off_t)local_size_limit) {
        sbuf_set(why, "error writing message: File too large");
        sbuf_set(dsn, "5.2.2");
        mbox_kernel_unlock(fd, local_lock_mask);
        goto fail;
    }
    if (deliver_write_all(fd, sbuf_str(msg), sbuf_len(msg)) < 0 || fsync(fd) < 0) {
        int err = errno;
        sbuf_printf(why, "error writing message: %s", strerror(err));
        if (err == EDQUOT || err == EFBIG)
            sbuf_set(dsn, "5.2.2");
        /* leave the mailbox as it was */
        if (ftruncate(fd, size) < 0)
            log_warn("truncate %s back to %ld bytes: %m", path, (long)size);
        mbox_kernel_unlock(fd, local_lock_mask);
        goto fail;
    }
    mbox_kernel_unlock(fd, local_lock_mask);
    close(fd);
    if (dotlocked)
        mbox_dotunlock(path);
    sbuf_free(lockwhy);
    if (start)
        *start = size;
    return 0;

fail:
    if (fd >= 0)
        close(fd);
    if (dotlocked)
        mbox_dotunlock(path);
    sbuf_free(lockwhy);
    return -1;
}

/* ---- Maildir ---- */

static int local_maildir_write(int fd, void *ctx)
{
    const struct sbuf *msg = ctx;
    return deliver_write_all(fd, sbuf_str(msg), sbuf_len(msg));
}

static void local_maildir(struct local_state *st, const char *dir, uid_t uid, gid_t gid,
                          int flags)
{
    struct sbuf *msg = sbuf_new(8192), *why = sbuf_new(128);
    if (local_render(st, msg, flags) < 0) {
        local_report(st, DELIVER_DEFERRED, "4.3.0", "queue file read error");
        goto out;
    }
    if (deliver_become(uid, gid) < 0) {
        local_report(st, DELIVER_DEFERRED, "4.3.0", "cannot switch privileges");
        goto out;
    }
    int r;
    if (st->req && st->rc) {
        /* Stable name per (message, recipient, mailbox owner): a retry after
         * a crash finds the earlier copy instead of adding a second one. */
        struct sbuf *tag = sbuf_new(64);
        sbuf_printf(tag, "P%sR%ldU%ld", st->req->queue_id, st->rc->offset, (long)uid);
        r = maildir_deliver_once(dir, cfg_str(P_MYHOSTNAME), sbuf_str(tag), st->req->arrival_sec,
                                 local_maildir_write, msg, NULL, why);
        sbuf_free(tag);
    } else
        r = maildir_deliver(dir, cfg_str(P_MYHOSTNAME), local_maildir_write, msg, NULL, why);
    int err = errno;
    deliver_unbecome();
    if (r == 0)
        local_report(st, DELIVER_SENT, "2.0.0", "delivered to maildir");
    else
        local_reportf(st, err == EDQUOT || err == EFBIG ? DELIVER_BOUNCED : DELIVER_DEFERRED,
                      err == EDQUOT || err == EFBIG ? "5.2.2" : "4.2.0",
                      "maildir delivery failed: %s", sbuf_str(why));
out:
    sbuf_free(msg);
    sbuf_free(why);
}

/* ---- commands ---- */

/* Sets NAME=value in the NULL-ended vector *envp (replacing an earlier NAME);
 * a NULL value leaves it alone. */
static void local_env_set(char ***envp, const char *name, const char *value)
{
    if (value == NULL)
        return;
    struct sbuf *b = sbuf_new(64);
    sbuf_printf(b, "%s=%s", name, value);
    size_t len = strlen(name), n = 0;
    char **env = *envp;
    for (; env[n]; n++)
        if (strncmp(env[n], name, len) == 0 && env[n][len] == '=') {
            xfree(env[n]);
            env[n] = sbuf_detach(b);
            return;
        }
    env = xreallocarray(env, n + 2, sizeof(char *));
    env[n] = sbuf_detach(b);
    env[n + 1] = NULL;
    *envp = env;
}

/* local_env_set() of a value that comes with the mail (an address, a
 * client's name): every character outside command_expansion_filter becomes
 * "_", so that a sender cannot put shell syntax into a command's
 * environment. */
static void local_env_put(char ***envp, const char *name, const char *value)
{
    char *v = xstrdup(value ? value : "");
    char_filter_censor(&local_cmd_filter, v);
    local_env_set(envp, name, v);
    xfree(v);
}

/* A request attribute exported when it is not empty. */
static void local_env_attr(char ***envp, const char *name, const struct attr_list *l,
                           const char *attr)
{
    const char *v = l ? attr_get(l, attr) : NULL;
    if (v && *v)
        local_env_put(envp, name, v);
}

/* The command's environment: export_environment (pipe_command_env), then
 * PATH and the variables Postfix's local gives a command. Returns new (free
 * with cfg_list_free). */
static char **local_command_env(const struct local_state *st)
{
    char **env = pipe_command_env();
    local_env_set(&env, "PATH", "/usr/bin:/bin");
    local_env_put(&env, "SENDER", st->sender);
    local_env_put(&env, "RECIPIENT", st->address);
    local_env_put(&env, "ORIGINAL_RECIPIENT", *st->rc->orig ? st->rc->orig : st->rc->address);
    const char *at = strrchr(st->address, '@');
    local_env_put(&env, "DOMAIN", at ? at + 1 : "");
    if (st->user) {
        local_env_put(&env, "HOME", st->user->home);
        local_env_put(&env, "USER", st->user->name);
        local_env_put(&env, "LOGNAME", st->user->name);
        local_env_put(&env, "SHELL", st->user->shell);
        char *lp = at ? xstrndup(st->address, (size_t)(at - st->address)) : xstrdup(st->address);
        local_env_put(&env, "LOCAL", lp);
        xfree(lp);
        if (st->extension && *st->extension)
            local_env_put(&env, "EXTENSION", st->extension + 1);
    }
    /* Where the mail came from, as Postfix's local exports it. */
    if (st->req) {
        local_env_attr(&env, "CLIENT_HOSTNAME", st->req->attrs, "log_client_name");
        local_env_attr(&env, "CLIENT_ADDRESS", st->req->attrs, "log_client_address");
        local_env_attr(&env, "CLIENT_HELO", st->req->attrs, "log_helo_name");
        local_env_attr(&env, "CLIENT_PROTOCOL", st->req->attrs, "log_protocol");
        local_env_attr(&env, "SASL_METHOD", st->req->env_attrs, "sasl_method");
        local_env_attr(&env, "SASL_SENDER", st->req->env_attrs, "sasl_sender");
        local_env_attr(&env, "SASL_USERNAME", st->req->env_attrs, "sasl_username");
    }
    return env;
}

/* command_execution_directory with its $name forms (user, home, shell,
 * domain, local, extension, recipient, recipient_delimiter) expanded, each
 * value kept to execution_directory_expansion_filter. An empty result, or a
 * form that refers to an empty value, gives "". */
static void local_exec_dir(struct sbuf *out, const struct local_state *st)
{
    const char *tmpl = cfg_str(P_COMMAND_EXECUTION_DIRECTORY);
    sbuf_reset(out);
    if (*tmpl == 0)
        return;
    const char *at = strrchr(st->address, '@');
    char *lp = at ? xstrndup(st->address, (size_t)(at - st->address)) : xstrdup(st->address);
    const char *ext = st->extension && *st->extension ? st->extension : "";
    char dch[2] = { *ext, 0 };
    const char *names[] = { "user", "home", "shell", "domain", "local", "extension",
                            "recipient", "recipient_delimiter", NULL };
    const char *values[] = { st->user ? st->user->name : "", st->user ? st->user->home : "",
                             st->user ? st->user->shell : "", at ? at + 1 : "", lp,
                             *ext ? ext + 1 : "", st->address, dch, NULL };
    if (!local_expand_filtered(out, tmpl, names, values,
                               cfg_str(P_EXECUTION_DIRECTORY_EXPANSION_FILTER)))
        sbuf_reset(out);
    xfree(lp);
}

/* local_command_shell followed by cmd, or /bin/sh -c cmd. Returns new. */
static char **local_command_argv(const char *cmd)
{
    const char *shell = cfg_str(P_LOCAL_COMMAND_SHELL);
    char **argv = cfg_list(*shell ? shell : "/bin/sh -c");
    size_t n = 0;
    while (argv[n])
        n++;
    argv = xreallocarray(argv, n + 2, sizeof(char *));
    argv[n] = xstrdup(cmd);
    argv[n + 1] = NULL;
    return argv;
}

/* Runs cmd with msg on stdin as uid/gid (pipe_command_run: its own session,
 * command_time_limit over the whole run, the group killed at the limit).
 * Reports the result. */
static void local_command_run(struct local_state *st, const char *cmd, uid_t uid, gid_t gid,
                              const char *home, int flags)
{
    struct sbuf *msg = sbuf_new(8192), *output = sbuf_new(256), *setup = sbuf_new(64);
    if (local_render(st, msg, flags) < 0) {
        local_report(st, DELIVER_DEFERRED, "4.3.0", "queue file read error");
        goto out;
    }
    char **env = local_command_env(st);
    char **argv = local_command_argv(cmd);
    /* command_execution_directory, else the home directory, else / */
    struct sbuf *exec_dir = sbuf_new(64);
    local_exec_dir(exec_dir, st);
    const char *dirs[] = { sbuf_str(exec_dir), home ? home : "", "/", NULL };
    struct pipe_command_spec spec = {
        .argv = argv, .env = env, .uid = uid, .gid = gid, .try_dirs = dirs, .stdio_fd = -1,
        .input = sbuf_str(msg), .input_len = sbuf_len(msg), .time_limit = local_cmd_limit,
        .output_max = 2048,
    };
    struct pipe_command_result res = { .output = output, .why = setup };
    pipe_command_run(&spec, &res);
    cfg_list_free(argv);
    cfg_list_free(env);
    sbuf_free(exec_dir);

    /* Clean the output for a one-line reason. */
    for (char *p = sbuf_data(output); *p; p++)
        if ((unsigned char)*p < 32 || (unsigned char)*p > 126)
            *p = ' ';
    sbuf_trim(output);
    struct sbuf *detail = sbuf_new(256);
    if (sbuf_len(output))
        sbuf_printf(detail, ". Command output: %s", sbuf_str(output));

    if (res.outcome == PIPE_CMD_SETUP)
        local_reportf(st, DELIVER_DEFERRED, "4.3.0", "cannot run command \"%s\": %s", cmd,
                      sbuf_str(setup));
    else if (res.outcome == PIPE_CMD_TIMEOUT)
        local_reportf(st, DELIVER_BOUNCED, "5.3.0", "Command time limit exceeded: \"%s\"%s", cmd,
                      sbuf_str(detail));
    else if (res.outcome == PIPE_CMD_SIGNALED)
        local_reportf(st, DELIVER_DEFERRED, "4.3.0", "Command died with signal %d: \"%s\"%s",
                      res.signal, cmd, sbuf_str(detail));
    else if (res.exit_code == 0)
        local_reportf(st, DELIVER_SENT, "2.0.0", "delivered to command: %s", cmd);
    else {
        const char *text;
        const char *dsn = pipe_command_sysexit(res.exit_code, &text);   /* shared with pipe(8) */
        if (dsn)
            local_reportf(st, dsn[0] == '4' ? DELIVER_DEFERRED : DELIVER_BOUNCED, dsn, "%s%s",
                          text, sbuf_str(detail));
        else
            local_reportf(st, DELIVER_BOUNCED, "5.3.0", "Command died with status %d: \"%s\"%s",
                          res.exit_code, cmd, sbuf_str(detail));
    }
    sbuf_free(detail);
out:
    sbuf_free(msg);
    sbuf_free(output);
    sbuf_free(setup);
}

/* ---- operations ---- */

/* Copies a passwd answer (NULL: not found, or errno says why) into out:
 * 1 found, 0 no such user, -1 lookup failure. */
static int local_pw_copy(const struct passwd *pw, struct local_pw *out)
{
    if (pw == NULL)
        return errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF || errno == EPERM
                   ? 0 : -1;
    out->name = xstrdup(pw->pw_name);
    out->home = xstrdup(pw->pw_dir);
    out->shell = xstrdup(pw->pw_shell);
    out->uid = pw->pw_uid;
    out->gid = pw->pw_gid;
    return 1;
}

/* Fills out from a dict_unix answer "name:x:uid:gid:gecos:dir:shell" (the
 * GECOS field is skipped: dir and shell are taken from the right). 1, or -1
 * for an answer that does not parse. */
static int local_pw_parse(const char *v, struct local_pw *out)
{
    const char *c1 = strchr(v, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
    const char *shell = strrchr(v, ':');
    const char *dir = NULL;
    for (const char *p = shell; p && p > v && dir == NULL; p--)
        if (p < shell && *p == ':')
            dir = p;
    long uid, gid;
    char *num;
    if (c3 == NULL || dir == NULL || dir <= c3)
        return -1;
    num = xstrndup(c2 + 1, (size_t)(c3 - c2 - 1));
    bool ok = config_parse_long(num, &uid) && uid >= 0;
    xfree(num);
    const char *c4 = strchr(c3 + 1, ':');
    num = xstrndup(c3 + 1, (size_t)(c4 - c3 - 1));
    ok = ok && config_parse_long(num, &gid) && gid >= 0;
    xfree(num);
    if (!ok)
        return -1;
    out->name = xstrndup(v, (size_t)(c1 - v));
    out->home = xstrndup(dir + 1, (size_t)(shell - dir - 1));
    out->shell = xstrdup(shell + 1);
    out->uid = (uid_t)uid;
    out->gid = (gid_t)gid;
    return 1;
}

static int local_op_getpw(const char *name, struct local_pw *out)
{
    const char *v = dict_lookup(local_passwd, name);
    if (v == NULL)
        return dict_error(local_passwd) == DICT_ERR_NONE ? 0 : -1;
    if (local_pw_parse(v, out) < 0) {
        log_warn("unix:passwd.byname: cannot parse the entry of %s", name);
        return -1;
    }
    return 1;
}

static int local_op_getpwuid(uid_t uid, struct local_pw *out)
{
    errno = 0;
    return local_pw_copy(getpwuid(uid), out);
}

static const char *local_op_alias(const char *key, int *err)
{
    *err = 0;
    const char *v = maps_find(local_aliases, key, 0);
    if (v == NULL && maps_error(local_aliases) != DICT_ERR_NONE)
        *err = -1;
    return v;
}

#define LOCAL_FILE_MAX (1024 * 1024)

static int local_op_stat_home(const struct local_pw *pw, int *err)
{
    struct stat st;
    if (deliver_become(pw->uid, pw->gid) < 0) {
        *err = EPERM;
        return -1;
    }
    int r = stat(pw->home, &st);
    *err = errno;
    deliver_unbecome();
    return r;
}

static char *local_op_read_file(const char *path, uid_t uid, gid_t gid, uid_t *owner, int *err)
{
    if (uid == (uid_t)-1) {
        uid = local_default_uid;
        gid = local_default_gid;
    }
    if (deliver_become(uid, gid) < 0) {
        *err = EPERM;
        return NULL;
    }
    char *text = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    struct stat st;
    if (fd < 0)
        *err = errno;
    else if (fstat(fd, &st) < 0)
        *err = errno;
    else if (!S_ISREG(st.st_mode))
        *err = EINVAL;
    else if (st.st_mode & S_IWOTH)
        *err = EPERM;       /* world-writable: anybody could redirect the mail */
    else if (st.st_size > LOCAL_FILE_MAX)
        *err = EFBIG;       /* the user's to size: never allocate by it */
    else {
        *owner = st.st_uid;
        struct sbuf *b = sbuf_new((size_t)st.st_size + 1);
        char buf[8192];
        ssize_t n;
        /* A file that grows past the limit while read is refused, not cut
         * short: a truncated last line would forward to a wrong address. */
        while ((n = read(fd, buf, sizeof(buf))) > 0) {
            if (sbuf_len(b) + (size_t)n > LOCAL_FILE_MAX) {
                errno = EFBIG;
                n = -1;
                break;
            }
            sbuf_append(b, buf, (size_t)n);
        }
        if (n < 0) {
            *err = errno;
            sbuf_free(b);
        } else
            text = sbuf_detach(b);
    }
    if (fd >= 0)
        close(fd);
    deliver_unbecome();
    if (text)
        log_debug(1, "read %s as uid %ld", path, (long)uid);
    return text;
}

static bool local_op_has_delivered_to(const char *address)
{
    for (char **p = local_delivered_hdrs; p && *p; p++)
        if (strcasecmp(*p, address) == 0)
            return true;
    return false;
}

static int local_op_is_local_domain(const char *domain)
{
    return resolve_local(domain);
}

static void local_op_mailbox(struct local_state *st, const struct local_pw *pw)
{
    if (local_req->flags & DELIVER_REQ_F_CHECK_ONLY) {
        local_reportf(st, DELIVER_SENT, "2.0.0", "delivers to mailbox of user %s", pw->name);
        return;
    }
    struct sbuf *path = sbuf_new(128), *msg = sbuf_new(8192), *dsn = sbuf_new(16);
    struct sbuf *why = sbuf_new(128);
    const char *home_mailbox = cfg_str(P_HOME_MAILBOX);
    int flags = COPY_MBOX | COPY_DELIVERED;
    bool failed;

    /* mailbox_transport(_maps) and mailbox_command_maps: local_transport.c */
    if (local_transport_mailbox(st, pw->name))
        goto out;
    const char *command = local_transport_command(st, pw->name, &failed);
    if (failed)
        goto out;
    if (*command) {
        struct local_state cs = *st;
        cs.have_privs = true;
        cs.uid = pw->uid;
        cs.gid = pw->gid;
        uid_t uid;
        gid_t gid;
        local_privs(&cs, &uid, &gid);
        local_command_run(&cs, command, uid, gid, pw->home,
                          COPY_FROM | COPY_RETURN | COPY_ORIG | COPY_DELIVERED);
        goto out;
    }
    if (*home_mailbox) {
        sbuf_printf(path, "%s/%s", pw->home, home_mailbox);
        if (home_mailbox[strlen(home_mailbox) - 1] == '/') {
            local_maildir(st, sbuf_str(path), pw->uid, pw->gid,
                          COPY_RETURN | COPY_ORIG | COPY_DELIVERED);
            goto out;
        }
    } else
        sbuf_printf(path, "%s/%s", cfg_str(P_MAIL_SPOOL_DIRECTORY), pw->name);

    if (local_render(st, msg, flags) < 0) {
        local_report(st, DELIVER_DEFERRED, "4.3.0", "queue file read error");
        goto out;
    }
    /* The spool directory is usually writable only by root (and group
     * mail): then root creates and locks, after ownership checks. A
     * sticky world-writable spool and home mailboxes are done as the user. */
    bool as_user = true;
    if (!*home_mailbox) {
        struct stat sd;
        if (stat(cfg_str(P_MAIL_SPOOL_DIRECTORY), &sd) == 0
            && (sd.st_mode & (S_IWOTH | S_ISVTX)) != (S_IWOTH | S_ISVTX))
            as_user = false;
    }
    if (as_user && deliver_become(pw->uid, pw->gid) < 0) {
        local_report(st, DELIVER_DEFERRED, "4.3.0", "cannot switch privileges");
        goto out;
    }
    off_t start = 0;
    int r = local_mbox_append(sbuf_str(path), msg, pw->uid, pw->gid, false, &start, dsn, why);
    if (as_user)
        deliver_unbecome();
    if (r == 0) {
        local_report(st, DELIVER_SENT, "2.0.0", "delivered to mailbox");
        local_biff_notify(pw->name, start);     /* mbox mailboxes only, as Postfix */
    } else
        local_reportf(st, sbuf_str(dsn)[0] == '5' ? DELIVER_BOUNCED : DELIVER_DEFERRED,
                      sbuf_str(dsn), "cannot update mailbox %s for user %s. %s", sbuf_str(path),
                      pw->name, sbuf_str(why));
out:
    sbuf_free(path);
    sbuf_free(msg);
    sbuf_free(dsn);
    sbuf_free(why);
}

static void local_op_file(struct local_state *st, const char *path)
{
    if (local_req->flags & DELIVER_REQ_F_CHECK_ONLY) {
        local_reportf(st, DELIVER_SENT, "2.0.0", "delivers to file: %s", path);
        return;
    }
    uid_t uid;
    gid_t gid;
    local_privs(st, &uid, &gid);
    int pre = (local_prepend & LOCAL_PREPEND_FILE) ? COPY_DELIVERED : 0;
    if (path[strlen(path) - 1] == '/') {
        local_maildir(st, path, uid, gid, COPY_RETURN | COPY_ORIG | pre);
        return;
    }
    struct sbuf *msg = sbuf_new(8192), *dsn = sbuf_new(16), *why = sbuf_new(128);
    if (local_render(st, msg, COPY_MBOX | pre) < 0) {
        local_report(st, DELIVER_DEFERRED, "4.3.0", "queue file read error");
        goto out;
    }
    if (deliver_become(uid, gid) < 0) {
        local_report(st, DELIVER_DEFERRED, "4.3.0", "cannot switch privileges");
        goto out;
    }
    int r = local_mbox_append(path, msg, (uid_t)-1, (gid_t)-1, true, NULL, dsn, why);
    deliver_unbecome();
    if (r == 0)
        local_reportf(st, DELIVER_SENT, "2.0.0", "delivered to file: %s", path);
    else
        local_reportf(st, sbuf_str(dsn)[0] == '5' ? DELIVER_BOUNCED : DELIVER_DEFERRED,
                      sbuf_str(dsn), "cannot append message to file %s: %s", path, sbuf_str(why));
out:
    sbuf_free(msg);
    sbuf_free(dsn);
    sbuf_free(why);
}

static void local_op_command(struct local_state *st, const char *cmd)
{
    if (local_req->flags & DELIVER_REQ_F_CHECK_ONLY) {
        local_reportf(st, DELIVER_SENT, "2.0.0", "delivers to command: %s", cmd);
        return;
    }
    uid_t uid;
    gid_t gid;
    local_privs(st, &uid, &gid);
    int pre = (local_prepend & LOCAL_PREPEND_COMMAND) ? COPY_DELIVERED : 0;
    const char *home = st->have_privs && st->user ? st->user->home : NULL;
    local_command_run(st, cmd, uid, gid, home, COPY_FROM | COPY_RETURN | COPY_ORIG | pre);
}

struct local_fwd {
    struct cleanup_clnt *c;
};

static int local_fwd_line(const char *line, size_t len, void *ctx)
{
    struct local_fwd *f = ctx;
    return cleanup_line(f->c, line, len) < 0 ? -2 : 0;
}

static void local_op_forward(struct local_state *st, const char *address)
{
    if (local_req->flags & DELIVER_REQ_F_CHECK_ONLY) {
        local_reportf(st, DELIVER_SENT, "2.0.0", "forwards to %s", address);
        return;
    }
    struct cleanup_clnt *c = cleanup_open(CLEANUP_FLAG_MASK_INTERNAL);
    if (c == NULL) {
        local_report(st, DELIVER_DEFERRED, "4.3.0", "unable to forward message");
        return;
    }
    struct sbuf *reason = sbuf_new(128);
    char *id = xstrdup(cleanup_queue_id(c));
    cleanup_recs(c, REC_SENDER, st->sender);
    cleanup_recs(c, REC_ATTR, "rewrite_context=local");
    if (local_req->ret)
        cleanup_recf(c, REC_DSN_RET, "%d", local_req->ret);
    if (*local_req->envid)
        cleanup_recs(c, REC_DSN_ENVID, local_req->envid);
    if (*st->rc->dsn_orcpt)
        cleanup_recs(c, REC_DSN_ORCPT, st->rc->dsn_orcpt);
    if (st->rc->notify)
        cleanup_recf(c, REC_DSN_NOTIFY, "%d", st->rc->notify);
    cleanup_recs(c, REC_RCPT, address);
    cleanup_rec(c, REC_MESG, "", 0);
    if (local_prepend & LOCAL_PREPEND_FORWARD) {
        struct sbuf *h = sbuf_new(64);
        sbuf_printf(h, "Delivered-To: %s", st->delivered);
        cleanup_line(c, sbuf_str(h), sbuf_len(h));
        sbuf_free(h);
    }
    struct local_fwd f = { .c = c };
    if (deliver_content_lines(local_req, local_fwd_line, &f) != 0) {
        cleanup_abort(c);
        local_report(st, DELIVER_DEFERRED, "4.3.0", "unable to forward message");
        goto out;
    }
    int status = cleanup_finish(c, reason);
    if (status == CLEANUP_STAT_OK) {
        log_info("%s: forwarded to %s as %s", local_req->queue_id, address, id);
        local_reportf(st, DELIVER_SENT, "2.0.0", "forwarded as %s", id);
    } else {
        struct sbuf *dsn = sbuf_new(16);
        const char *text = deliver_split_dsn(sbuf_str(reason), "4.3.0", dsn);
        bool hard = (status & ~CLEANUP_STAT_WRITE & ~CLEANUP_STAT_DEFER) && sbuf_str(dsn)[0] == '5';
        local_reportf(st, hard ? DELIVER_BOUNCED : DELIVER_DEFERRED, sbuf_str(dsn),
                      "unable to forward message: %s", *text ? text : "cleanup failure");
        sbuf_free(dsn);
    }
out:
    xfree(id);
    sbuf_free(reason);
}

const struct local_ops local_real_ops = {
    .getpw = local_op_getpw,
    .getpwuid = local_op_getpwuid,
    .alias = local_op_alias,
    .read_file = local_op_read_file,
    .stat_home = local_op_stat_home,
    .has_delivered_to = local_op_has_delivered_to,
    .is_local_domain = local_op_is_local_domain,
    .mailbox = local_op_mailbox,
    .file = local_op_file,
    .command = local_op_command,
    .forward = local_op_forward,
    .unknown = local_transport_unknown,
    .report = local_report,
};
