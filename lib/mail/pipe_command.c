/*
 * pipe_command.c - run an external command under a time limit, as a user
 *
 * Used by: pipe, spawn.
 * Interface: see pipe_command.h.
 * Errors: see pipe_command.h.
 * Notes: the child reports a failure before exec (user switch, chroot,
 *        chdir, exec itself) as text on a close-on-exec pipe and exits 75;
 *        an empty pipe at EOF therefore means that exec succeeded. The
 *        parent watches the child through a pidfd where the kernel has one
 *        (poll wakes up at its exit) and otherwise checks every 100 ms.
 *        Once the command itself has exited, output already in the pipe is
 *        kept, but a background process that still holds the pipe is not
 *        waited for.
 */
#include "pipe_command.h"
#include "mail_env.h"
#include "mail_sched.h"
#include "alloc.h"
#include "config.h"
#include "deliver_request.h"
#include "log.h"
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

#define PIPE_CMD_SETUP_EXIT 75      /* EX_TEMPFAIL: the command never ran */

static const struct {
    int code;
    const char *dsn;
    const char *text;
} pipe_command_sysexits[] = {
    { 64, "5.3.0", "command line usage error" },
    { 65, "5.6.0", "data format error" },
    { 66, "5.3.0", "cannot open input" },
    { 67, "5.1.1", "user unknown" },
    { 68, "5.1.2", "host name unknown" },
    { 69, "5.3.0", "service unavailable" },
    { 70, "5.3.0", "internal software error" },
    { 71, "4.3.0", "system resource problem" },
    { 72, "5.3.0", "critical OS file missing" },
    { 73, "5.2.0", "can't create user output file" },
    { 74, "5.3.0", "input/output error" },
    { 75, "4.3.0", "temporary failure" },
    { 76, "5.5.0", "remote error in protocol" },
    { 77, "5.7.0", "permission denied" },
    { 78, "5.3.5", "local configuration error" },
};

const char *pipe_command_sysexit(int code, const char **text)
{
    for (size_t i = 0; i < ARRAY_LEN(pipe_command_sysexits); i++)
        if (pipe_command_sysexits[i].code == code) {
            if (text)
                *text = pipe_command_sysexits[i].text;
            return pipe_command_sysexits[i].dsn;
        }
    return NULL;
}

static double pipe_command_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- child side ---- */

/* Reports why the command cannot run and exits; never returns. */
static void pipe_command_child_fail(int errfd, const char *what, int err)
{
    char buf[512];
    int n = snprintf(buf, sizeof(buf), "%s: %s", what, strerror(err));
    if (n > 0) {
        ssize_t ignored = write(errfd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
        (void)ignored;
    }
    _exit(PIPE_CMD_SETUP_EXIT);
}

/* Makes fd the descriptor target without the close-on-exec flag. */
static int pipe_command_place(int fd, int target)
{
    if (fd == target)
        return fcntl(target, F_SETFD, 0);
    return dup2(fd, target) < 0 ? -1 : 0;
}

/* Closes every descriptor from 3 up, except keep. */
static void pipe_command_close_from3(int keep)
{
#ifdef SYS_close_range
    if (keep > 3 && syscall(SYS_close_range, 3U, (unsigned)keep - 1, 0U) < 0)
        goto slow;
    if (syscall(SYS_close_range, (unsigned)keep + 1, ~0U, 0U) == 0)
        return;
slow:
#endif
    {
        long max = sysconf(_SC_OPEN_MAX);
        if (max < 0 || max > 65536)
            max = 65536;
        for (int fd = 3; fd < (int)max; fd++)
            if (fd != keep)
                close(fd);
    }
}

static void pipe_command_child(const struct pipe_command_spec *spec, int in, int out, int errfd)
{
    static const int sigs[] = { SIGPIPE, SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGCHLD,
                                SIGALRM, SIGUSR1, SIGUSR2, SIGXFSZ };
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (size_t i = 0; i < ARRAY_LEN(sigs); i++)
        signal(sigs[i], SIG_DFL);
    /* A session and process group of its own: the parent kills the group. */
    if (setsid() < 0)
        pipe_command_child_fail(errfd, "setsid", errno);
    /* Lift every source above 2 first so that no dup2 clobbers another. */
    in = fcntl(in, F_DUPFD_CLOEXEC, 3);
    out = fcntl(out, F_DUPFD_CLOEXEC, 3);
    errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 3);
    if (in < 0 || out < 0 || errfd < 0)
        _exit(PIPE_CMD_SETUP_EXIT);
    if (pipe_command_place(in, 0) < 0 || pipe_command_place(out, 1) < 0
        || pipe_command_place(out, 2) < 0)
        pipe_command_child_fail(errfd, "dup2", errno);
    pipe_command_close_from3(errfd);

    bool root = geteuid() == 0 || getuid() == 0;
    if (root) {
        if (spec->uid == 0)
            pipe_command_child_fail(errfd, "refusing to run a command as root", EPERM);
        if (spec->user ? initgroups(spec->user, spec->gid) < 0
                       : setgroups(1, &spec->gid) < 0)
            pipe_command_child_fail(errfd, "set supplementary groups", errno);
    }
    if (spec->chroot_dir && *spec->chroot_dir) {
        if (chroot(spec->chroot_dir) < 0 || chdir("/") < 0) {
            char what[300];
            snprintf(what, sizeof(what), "chroot %.200s", spec->chroot_dir);
            pipe_command_child_fail(errfd, what, errno);
        }
    }
    if (root) {
        if (setgid(spec->gid) < 0 || setuid(spec->uid) < 0)
            pipe_command_child_fail(errfd, "switch to the command's user", errno);
        if (setuid(0) == 0)
            pipe_command_child_fail(errfd, "root privileges could be regained", EPERM);
    }
    if (spec->try_dirs) {
        const char *const *d = spec->try_dirs;
        while (*d && !(**d && chdir(*d) == 0))
            d++;
        if (*d == NULL)
            pipe_command_child_fail(errfd, "change to a working directory", errno);
    }
    if (spec->directory && *spec->directory && chdir(spec->directory) < 0) {
        char what[300];
        snprintf(what, sizeof(what), "change directory to %.200s", spec->directory);
        pipe_command_child_fail(errfd, what, errno);
    }
    mail_sched_restore();       /* the command gets master's nice value */
    static char *empty_env[] = { NULL };
    environ = spec->env ? (char **)spec->env : empty_env;
    execvp(spec->argv[0], spec->argv);
    char what[300];
    snprintf(what, sizeof(what), "execvp %.200s", spec->argv[0]);
    pipe_command_child_fail(errfd, what, errno);
}

/* ---- parent side ---- */

static int pipe_command_pidfd(pid_t pid)
{
#ifdef SYS_pidfd_open
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd >= 0)
        fcntl(fd, F_SETFD, FD_CLOEXEC);
    return fd;
#else
    (void)pid;
    return -1;
#endif
}

static void pipe_command_close(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

/* Reads what is available from *fd into out (up to max bytes kept);
 * closes it at EOF or on an error. */
static void pipe_command_read(int *fd, struct sbuf *out, size_t max)
{
    char buf[4096];
    for (int i = 0; i < 64; i++) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n > 0) {
            size_t room = sbuf_len(out) < max ? max - sbuf_len(out) : 0;
            sbuf_append(out, buf, (size_t)n < room ? (size_t)n : room);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
            pipe_command_close(fd);
        return;
    }
}

int pipe_command_run(const struct pipe_command_spec *spec, struct pipe_command_result *res)
{
    int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 };
    int pidfd = -1, status = 0;
    size_t max = spec->output_max;
    sbuf_reset(res->output);
    sbuf_reset(res->why);
    res->outcome = PIPE_CMD_SETUP;
    res->exit_code = 0;
    res->signal = 0;

    if (spec->argv == NULL || spec->argv[0] == NULL || *spec->argv[0] == 0) {
        sbuf_set(res->why, "empty command");
        return -1;
    }
    if (pipe2(errp, O_CLOEXEC) < 0
        || (spec->stdio_fd < 0 && (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0))) {
        sbuf_printf(res->why, "cannot create pipe: %s", strerror(errno));
        goto fail;
    }
    pid_t pid = fork();
    if (pid < 0) {
        sbuf_printf(res->why, "cannot fork: %s", strerror(errno));
        goto fail;
    }
    if (pid == 0) {
        if (spec->stdio_fd >= 0)
            pipe_command_child(spec, spec->stdio_fd, spec->stdio_fd, errp[1]);
        pipe_command_child(spec, in[0], out[1], errp[1]);
    }
    pipe_command_close(&errp[1]);
    pipe_command_close(&in[0]);
    pipe_command_close(&out[1]);
    if (in[1] >= 0)
        fcntl(in[1], F_SETFL, O_NONBLOCK);
    if (out[0] >= 0)
        fcntl(out[0], F_SETFL, O_NONBLOCK);
    fcntl(errp[0], F_SETFL, O_NONBLOCK);
    if (in[1] >= 0 && (spec->input == NULL || spec->input_len == 0))
        pipe_command_close(&in[1]);
    pidfd = pipe_command_pidfd(pid);

    double deadline = pipe_command_now() + (double)(spec->time_limit > 0 ? spec->time_limit : 1000);
    size_t off = 0;
    bool reaped = false, timed_out = false;
    while (!reaped) {
        double left = deadline - pipe_command_now();
        if (left <= 0) {
            timed_out = true;
            break;
        }
        struct pollfd pfd[3];
        nfds_t n = 0;
        int i_out = -1, i_in = -1;
        if (out[0] >= 0) {
            i_out = (int)n;
            pfd[n++] = (struct pollfd){ .fd = out[0], .events = POLLIN };
        }
        if (in[1] >= 0) {
            i_in = (int)n;
            pfd[n++] = (struct pollfd){ .fd = in[1], .events = POLLOUT };
        }
        if (pidfd >= 0)
            pfd[n++] = (struct pollfd){ .fd = pidfd, .events = POLLIN };
        double ms = left * 1000.0 + 1;
        if (pidfd < 0 && ms > 100)
            ms = 100;       /* no pidfd: look at the child ten times a second */
        if (ms > 60000)
            ms = 60000;
        int pr = log_poll(pfd, n, (int)ms);
        if (pr < 0 && errno != EINTR) {
            log_warn("poll: %m");
            timed_out = true;       /* cannot watch it: make sure it ends */
            break;
        }
        if (pr > 0 && i_out >= 0 && pfd[i_out].revents)
            pipe_command_read(&out[0], res->output, max);
        if (pr > 0 && i_in >= 0 && pfd[i_in].revents) {
            ssize_t w = write(in[1], spec->input + off, spec->input_len - off);
            if (w > 0)
                off += (size_t)w;
            /* EPIPE: the command stopped reading; its exit status decides. */
            if ((w < 0 && errno != EAGAIN && errno != EINTR) || off == spec->input_len)
                pipe_command_close(&in[1]);
        }
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            reaped = true;
        else if (w < 0 && errno != EINTR) {
            log_warn("waitpid %ld: %m", (long)pid);
            timed_out = true;
            break;
        }
    }
    if (timed_out) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        while (!reaped) {
            pid_t w = waitpid(pid, &status, 0);
            if (w == pid || (w < 0 && errno != EINTR))
                reaped = true;
        }
    } else if (out[0] >= 0)
        pipe_command_read(&out[0], res->output, max);   /* what it wrote before exiting */

    char ebuf[512];
    ssize_t en = read(errp[0], ebuf, sizeof(ebuf) - 1);
    if (timed_out) {
        res->outcome = PIPE_CMD_TIMEOUT;
    } else if (en > 0 && WIFEXITED(status) && WEXITSTATUS(status) == PIPE_CMD_SETUP_EXIT) {
        ebuf[en] = 0;
        sbuf_set(res->why, ebuf);
        res->outcome = PIPE_CMD_SETUP;
    } else if (WIFSIGNALED(status)) {
        res->outcome = PIPE_CMD_SIGNALED;
        res->signal = WTERMSIG(status);
    } else {
        res->outcome = PIPE_CMD_EXITED;
        res->exit_code = WEXITSTATUS(status);
    }
    pipe_command_close(&pidfd);
    pipe_command_close(&errp[0]);
    pipe_command_close(&in[1]);
    pipe_command_close(&out[0]);
    return res->outcome == PIPE_CMD_SETUP ? -1 : 0;

fail:
    for (int i = 0; i < 2; i++) {
        pipe_command_close(&in[i]);
        pipe_command_close(&out[i]);
        pipe_command_close(&errp[i]);
    }
    return -1;
}

/* ---- environment ---- */

char **pipe_command_env(void)
{
    char **env = mail_env_resolve(P_EXPORT_ENVIRONMENT);
    size_t n = 0;
    bool have_path = false;

    for (; env[n]; n++)
        if (strncmp(env[n], "PATH=", 5) == 0)
            have_path = true;
    if (!have_path) {
        env = xreallocarray(env, n + 2, sizeof(*env));
        env[n++] = xstrdup("PATH=/usr/bin:/bin");
        env[n] = NULL;
    }
    return env;
}

/* ---- user= ---- */

int pipe_command_user(const char *value, uid_t *uid, gid_t *gid, char **name, struct sbuf *why)
{
    const char *colon = strchr(value, ':');
    char *login = colon ? xstrndup(value, (size_t)(colon - value)) : xstrdup(value);
    struct passwd *pw = *login ? getpwnam(login) : NULL;
    if (pw == NULL) {
        sbuf_printf(why, "unknown user name in user=%s", value);
        goto bad;
    }
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    if (colon && colon[1]) {
        struct group *gr = getgrnam(colon + 1);
        if (gr == NULL) {
            sbuf_printf(why, "unknown group name in user=%s", value);
            goto bad;
        }
        *gid = gr->gr_gid;
    }
    if (*uid == 0) {
        sbuf_set(why, "user= command-line attribute specifies root privileges");
        goto bad;
    }
    if (*gid == 0) {
        sbuf_set(why, "user= command-line attribute specifies privileged group id 0");
        goto bad;
    }
    struct passwd *owner = getpwnam(cfg_str(P_MAIL_OWNER));
    if (owner && (owner->pw_uid == *uid || owner->pw_gid == *gid)) {
        sbuf_printf(why, "user= command-line attribute specifies the mail system owner %s",
                    cfg_str(P_MAIL_OWNER));
        goto bad;
    }
    *name = login;
    return 0;
bad:
    xfree(login);
    return -1;
}

/* ---- verdict ---- */

/* One printable line: tabs and line breaks become spaces, other control or
 * non-ASCII bytes '_', outer blanks removed. */
static void pipe_command_clean(struct sbuf *out, const struct sbuf *in)
{
    sbuf_reset(out);
    const char *p = sbuf_str(in);
    for (size_t i = 0; i < sbuf_len(in); i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\t' || c == '\n' || c == '\r')
            c = ' ';
        else if (c < 32 || c > 126)
            c = '_';
        sbuf_addch(out, (char)c);
    }
    sbuf_trim(out);
}

enum pipe_command_kind pipe_command_verdict(const struct pipe_command_result *res,
                                            const char *cmd, struct sbuf *dsn,
                                            struct sbuf *reason, struct sbuf *diag)
{
    struct sbuf *text = sbuf_new(256), *detail = sbuf_new(256);
    enum pipe_command_kind kind;
    pipe_command_clean(text, res->output);
    if (sbuf_len(text))
        sbuf_printf(detail, ". Command output: %s", sbuf_str(text));
    sbuf_set(diag, sbuf_str(text));
    switch (res->outcome) {
    case PIPE_CMD_SETUP:
        sbuf_set(dsn, "4.3.0");
        sbuf_printf(reason, "cannot run command \"%s\": %s", cmd, sbuf_str(res->why));
        sbuf_set(diag, sbuf_str(res->why));
        kind = PIPE_CMD_DEFER;
        break;
    case PIPE_CMD_TIMEOUT:
        sbuf_set(dsn, "5.3.0");
        sbuf_printf(reason, "Command time limit exceeded: \"%s\"%s", cmd, sbuf_str(detail));
        if (sbuf_len(diag) == 0)
            sbuf_set(diag, "internal software error");
        kind = PIPE_CMD_BOUNCE;
        break;
    case PIPE_CMD_SIGNALED:
        sbuf_set(dsn, "4.3.0");
        sbuf_printf(reason, "Command died with signal %d: \"%s\"%s", res->signal, cmd,
                    sbuf_str(detail));
        if (sbuf_len(diag) == 0)
            sbuf_set(diag, "internal software error");
        kind = PIPE_CMD_DEFER;
        break;
    case PIPE_CMD_EXITED:
    default:
        if (res->exit_code == 0) {
            sbuf_set(dsn, "2.0.0");
            sbuf_reset(reason);
            kind = PIPE_CMD_OK;
            break;
        }
        /* The command's own enhanced status code wins over its exit status. */
        const char *rest = deliver_split_dsn(sbuf_str(text), "", dsn);
        if (sbuf_len(dsn) && sbuf_str(dsn)[0] != '2') {
            sbuf_set(reason, *rest ? rest : "command failed");
            sbuf_set(diag, sbuf_str(reason));
            kind = sbuf_str(dsn)[0] == '4' ? PIPE_CMD_DEFER : PIPE_CMD_BOUNCE;
            break;
        }
        const char *stext = NULL;
        const char *code = pipe_command_sysexit(res->exit_code, &stext);
        if (code) {
            sbuf_set(dsn, code);
            sbuf_printf(reason, "%s%s", stext, sbuf_str(detail));
            if (sbuf_len(diag) == 0)
                sbuf_set(diag, stext);
            kind = code[0] == '4' ? PIPE_CMD_DEFER : PIPE_CMD_BOUNCE;
        } else {
            sbuf_set(dsn, "5.3.0");
            sbuf_printf(reason, "Command died with status %d: \"%s\"%s", res->exit_code, cmd,
                        sbuf_str(detail));
            if (sbuf_len(diag) == 0)
                sbuf_set(diag, "unknown mail system error");
            kind = PIPE_CMD_BOUNCE;
        }
        break;
    }
    sbuf_free(text);
    sbuf_free(detail);
    return kind;
}
