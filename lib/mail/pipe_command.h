/*
 * pipe_command.h - run an external command under a time limit, as a user
 *
 * Used by: pipe (message to a command), spawn (connection to a command).
 * Interface: pipe_command_run(), pipe_command_verdict(),
 *            pipe_command_sysexit(), pipe_command_user(), pipe_command_env().
 * Errors: failures before the command runs (pipe, fork, becoming the
 *         user, chroot, chdir, exec) come back as PIPE_CMD_SETUP with a
 *         reason; nothing here is fatal.
 * Notes: the command leads a new session (setsid), so its whole process
 *        group can be killed. One time limit covers everything: writing
 *        the input, reading the output and waiting for the exit. When it
 *        runs out, SIGKILL goes to the whole group and the wait is then
 *        for a process that is already dying. When the process runs as
 *        root the child drops to uid/gid for good (supplementary groups of
 *        spec->user, or gid alone) and proves that root cannot come back;
 *        uid 0 is refused. The command is executed directly (execvp with
 *        the PATH of spec->env), never through a shell.
 */
#ifndef POSTERN_PIPE_COMMAND_H
#define POSTERN_PIPE_COMMAND_H
#include "sys_compat.h"
#include "sbuf.h"

/* What to run and how. */
struct pipe_command_spec {
    char *const *argv;          /* argv[0] is the program (PATH search) */
    char *const *env;           /* the whole environment, NAME=value, NULL-ended */
    uid_t uid;                  /* ids taken on when running as root */
    gid_t gid;
    const char *user;           /* login name for supplementary groups, or NULL */
    const char *chroot_dir;     /* chroot before the user switch, or NULL */
    const char *directory;      /* chdir after the user switch, or NULL */
    const char *const *try_dirs; /* or: the first of these (NULL-ended) that
                                 * chdir accepts, as the user (local); none
                                 * works: a setup failure */
    int stdio_fd;               /* >= 0: stdin, stdout and stderr of the command
                                 * (spawn); -1: pipes (input below, output kept) */
    const char *input;          /* written to stdin (pipe mode), may be NULL */
    size_t input_len;
    long time_limit;            /* seconds for the whole run; <= 0 means 1000 */
    size_t output_max;          /* bytes of output kept (more is read and dropped) */
};

enum pipe_command_outcome {
    PIPE_CMD_EXITED,            /* exited; exit_code holds the status */
    PIPE_CMD_SIGNALED,          /* killed by a signal (not ours) */
    PIPE_CMD_TIMEOUT,           /* time limit: the group was killed */
    PIPE_CMD_SETUP,             /* never ran: why holds the reason */
};

struct pipe_command_result {
    enum pipe_command_outcome outcome;
    int exit_code;              /* EXITED */
    int signal;                 /* SIGNALED */
    struct sbuf *output;        /* caller's buffer: stdout+stderr, at most output_max */
    struct sbuf *why;           /* caller's buffer: SETUP reason */
};

/* Runs spec->argv and fills res (whose output and why buffers the caller
 * provides; they are replaced). Returns only after the command's process is
 * reaped (or was never started). Returns 0; -1 exactly when the outcome is
 * PIPE_CMD_SETUP. */
int pipe_command_run(const struct pipe_command_spec *spec, struct pipe_command_result *res);

/* Delivery verdict for a finished command. */
enum pipe_command_kind {
    PIPE_CMD_OK,
    PIPE_CMD_DEFER,
    PIPE_CMD_BOUNCE,
};

/* Maps res to a verdict the way Postfix's pipe and local agents do:
 * exit 0 is success; a sysexits code uses its enhanced status and text
 * (EX_TEMPFAIL and EX_OSERR defer, the others bounce); another status
 * bounces with 5.3.0; a signal defers with 4.3.0; the time limit bounces
 * with 5.3.0; a setup failure defers with 4.3.0. When the command failed
 * and its output starts with an enhanced status code of class 4 or 5, that
 * code (and its class) wins over the exit status. cmd is the command text
 * shown in reasons. Fills dsn ("X.Y.Z"), reason (the text for the log and
 * the DSN, with ". Command output: ..." when there was output) and diag (the
 * output cleaned to one printable line, or the sysexits text). */
enum pipe_command_kind pipe_command_verdict(const struct pipe_command_result *res,
                                            const char *cmd, struct sbuf *dsn,
                                            struct sbuf *reason, struct sbuf *diag);

/* The enhanced status code and text for a sysexits.h code (64..78), or
 * NULL for another value. Borrowed. */
const char *pipe_command_sysexit(int code, const char **text);

/* Resolves a master.cf "user=NAME" or "user=NAME:GROUP" value: fills uid,
 * gid (GROUP's when given, else NAME's login group) and *name (returns new).
 * Refuses root, group 0 and the ids of $mail_owner, as Postfix's pipe and
 * spawn do. 0, or -1 with why filled. */
int pipe_command_user(const char *value, uid_t *uid, gid_t *gid, char **name, struct sbuf *why);

/* The environment for a command: the $export_environment variables that
 * are set (a "NAME=value" item is taken as it is; mail_env_resolve()) plus
 * PATH=/usr/bin:/bin unless PATH is among them. Returns a new NULL-terminated vector of
 * NAME=value strings (free with cfg_list_free). */
char **pipe_command_env(void);

#endif
