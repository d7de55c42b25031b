/*
 * postfix.c - the postfix control command: start, stop, reload, check, ...
 *
 * Used by: administrators and init scripts.
 * Interface: postfix [-c config_dir] [-Dv] command
 *            commands: start start-fg stop abort reload status check flush
 *            set-permissions upgrade-configuration logrotate
 * Errors: messages go to stderr and syslog as "postfix/postfix-script: ...";
 *         exit status 0 on success, 1 on failure.
 */
#include "alloc.h"
#include "config.h"
#include "config_unused.h"
#include "log.h"
#include "mail_proto.h"
#include "config_values.h"
#include "smtpd_restrictions.h"
#include "mail_env.h"
#include "mail_sched.h"
#include "mastercf.h"
#include "param_support.h"
#include "postfix.h"
#include "queue_layout.h"
#include "sbuf.h"
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

static int postfix_problems;
static int postfix_fatal_problems;     /* problems that must stop a start */

/* The master.cf problems that make master refuse to start: lines that do not
 * parse (reported by the reader) and -o options that are not name=value.
 * Returns the number of bad services. */
static int postfix_check_overrides(const struct mastercf *m)
{
    int bad = 0;

    for (const struct mastercf_service *s = m->head; s; s = s->next)
        if (mastercf_overrides(s, NULL, NULL) < 0)
            bad++;
    return bad;
}

/* Returns the running master's pid, or 0. */
static pid_t postfix_master_pid(void)
{
    struct sbuf *path = sbuf_new(128);
    sbuf_printf(path, "%s/pid/master.pid", cfg_str(P_QUEUE_DIRECTORY));
    /* Read as root: never through a link, never a FIFO or device. */
    int fd = open(sbuf_str(path), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    sbuf_free(path);
    if (fd < 0)
        return 0;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return 0;
    }
    /* The pid counts only while master holds the lock on the file. */
    if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
        close(fd);
        return 0;
    }
    char buf[32] = "";
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    long pid = strtol(buf, NULL, 10);
    return pid > 0 && kill((pid_t)pid, 0) == 0 ? (pid_t)pid : 0;
}

/* maillog_file needs the postlog service (postlogd): without it every
 * line would be lost. True when m has it. */
static bool postfix_has_postlog(const struct mastercf *m)
{
    for (const struct mastercf_service *s = m ? m->head : NULL; s; s = s->next)
        if (strcmp(s->name, "postlog") == 0 && strcmp(s->type, "unix-dgram") == 0)
            return true;
    return false;
}

static const char postfix_postlog_line[] =
    "postlog   unix-dgram n  -       n       -       1       postlogd\n";

/* "postfix upgrade-configuration": adds what master.cf must have for the
 * main.cf it runs with; today that is the postlog service. */
static int postfix_upgrade_configuration(void)
{
    struct sbuf *path = sbuf_new(128);
    struct mastercf *m = NULL;
    sbuf_printf(path, "%s/master.cf", config_dir());
    (void)mastercf_load(sbuf_str(path), &m);
    int rc = 0;
    if (postfix_has_postlog(m)) {
        log_info("%s: nothing to upgrade", sbuf_str(path));
    } else {
        FILE *fp = fopen(sbuf_str(path), "a");
        if (fp == NULL || fputs(postfix_postlog_line, fp) == EOF || fclose(fp) == EOF) {
            log_warn("cannot add the postlog service to %s: %m", sbuf_str(path));
            rc = 1;
        } else
            log_info("%s: added the postlog service (for maillog_file)", sbuf_str(path));
    }
    mastercf_free(m);
    sbuf_free(path);
    return rc;
}

static int postfix_check(bool fix)
{
    struct sbuf *path = sbuf_new(128);
    struct mastercf *m = NULL;
    sbuf_printf(path, "%s/master.cf", config_dir());
    if (mastercf_load(sbuf_str(path), &m) < 0)
        postfix_problems++;
    char **names = mastercf_service_names(m);
    config_set_service_names(names);
    cfg_list_free(names);
    if (postfix_check_overrides(m))
        postfix_problems++;
    /* Every program named in master.cf should exist. */
    for (const struct mastercf_service *s = m->head; s; s = s->next) {
        const char *prog = mastercf_program(s);
        if (prog[0] == '/')
            sbuf_set(path, prog);
        else
            sbuf_printf(path, "%s/%s", cfg_str(P_DAEMON_DIRECTORY), prog);
        if (access(sbuf_str(path), X_OK) < 0)
            log_warn("%s:%d: service %s: program %s not found", s->file, s->line, s->name,
                     sbuf_str(path));
    }
    /* Postfix's postconf warnings, which its postfix check prints too. */
    config_unused_report(m, CONFIG_UNUSED_MAIN | CONFIG_UNUSED_MASTER, NULL);
    param_support_report(m, NULL, NULL);
    if (mail_sched_check(m) < 0)
        postfix_problems++;
    if (config_values_check(m) > 0)
        postfix_problems++;
    if (smtpd_restrictions_check(m) > 0)
        postfix_problems++;
    struct sbuf *where = sbuf_new(64);
    const char *refused = param_support_refused(m, where);
    if (refused) {
        log_warn("%s: %s is set, but Postern cannot apply it; the mail system will not start "
                 "(mail would pass unchecked)", sbuf_str(where), refused);
        postfix_problems++;
    }
    sbuf_free(where);
    if (*cfg_str(P_MAILLOG_FILE) && !postfix_has_postlog(m)) {
        log_warn("missing 'postlog' service in master.cf - run 'postfix upgrade-configuration'");
        postfix_problems++;
        postfix_fatal_problems++;
    }
    mastercf_free(m);
    int layout = queue_layout_apply(fix ? QUEUE_LAYOUT_FIX | QUEUE_LAYOUT_REPORT : QUEUE_LAYOUT_REPORT);
    if (layout)
        postfix_problems++;
    int unreachable = postfix_check_reach();
    postfix_problems += unreachable;
    postfix_fatal_problems += unreachable;
    sbuf_free(path);
    return postfix_problems ? 1 : 0;
}

/* Owner root and mode 0755 for the program at PATH, as the installer left it
 * (Postfix's set-permissions does this for $sendmail_path). Symbolic links
 * and a missing file are left alone; the file is changed through its own
 * descriptor, never by name. Returns the number of problems (0 or 1). */
static int postfix_fix_program(const char *path)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0 && (errno == ENOENT || errno == ELOOP))
        return 0;       /* not installed, or a symbolic link */
    if (fd < 0) {
        log_warn("open %s: %m", path);
        return 1;
    }
    struct stat st;
    int bad = 0;
    if (fstat(fd, &st) < 0) {
        log_warn("fstat %s: %m", path);
        bad = 1;
    } else if (S_ISREG(st.st_mode) && (fchown(fd, 0, (gid_t)-1) < 0 || fchmod(fd, 0755) < 0)) {
        log_warn("set permissions of %s: %m", path);
        bad = 1;
    }
    close(fd);
    return bad;
}

static int postfix_set_permissions(void)
{
    int problems = queue_layout_apply(QUEUE_LAYOUT_FIX | QUEUE_LAYOUT_REPORT | QUEUE_LAYOUT_DEEP);
    struct group *gr = getgrnam(cfg_str(P_SETGID_GROUP));
    struct sbuf *path = sbuf_new(128);
    static const char *setgid_progs[] = { "postdrop", "postqueue" };
    for (size_t i = 0; gr && i < ARRAY_LEN(setgid_progs); i++) {
        sbuf_printf(path, "%s/%s", cfg_str(P_COMMAND_DIRECTORY), setgid_progs[i]);
        if (access(sbuf_str(path), F_OK) < 0)
            continue;
        if (chown(sbuf_str(path), 0, gr->gr_gid) < 0 || chmod(sbuf_str(path), 02755) < 0) {
            log_warn("set permissions of %s: %m", sbuf_str(path));
            problems++;
        }
    }
    sbuf_free(path);
    problems += postfix_fix_program(cfg_str(P_SENDMAIL_PATH));
    return problems ? 1 : 0;
}

static int postfix_wait_gone(pid_t pid, int seconds)
{
    for (int i = 0; i < seconds * 10; i++) {
        if (kill(pid, 0) < 0 && errno == ESRCH)
            return 0;
        if (postfix_master_pid() == 0)
            return 0;
        struct timespec ts = { 0, 100000000L };
        nanosleep(&ts, NULL);
    }
    return -1;
}

static int postfix_start(bool foreground)
{
    if (postfix_master_pid()) {
        log_warn("the Postfix mail system is already running");
        return 1;
    }
    if (postfix_check(true) && geteuid() == 0) {
        if (postfix_fatal_problems)
            log_fatal("not starting the mail system: it could not receive or deliver mail "
                      "(see the messages above)");
        log_warn("postfix check found problems; starting anyway");
    }
    log_info("starting the Postfix mail system");
    struct sbuf *path = sbuf_new(128);
    sbuf_printf(path, "%s/master", cfg_str(P_DAEMON_DIRECTORY));
    setenv("MAIL_CONFIG", config_dir(), 1);
    if (foreground) {
        execl(sbuf_str(path), "master", "-d", (char *)NULL);
        log_fatal("exec %s: %m", sbuf_str(path));
    }
    pid_t pid = fork();
    if (pid < 0)
        log_fatal("fork: %m");
    if (pid == 0) {
        execl(sbuf_str(path), "master", (char *)NULL);
        log_fatal("exec %s: %m", sbuf_str(path));
    }
    int status;
    waitpid(pid, &status, 0);
    sbuf_free(path);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        log_warn("mail system startup failed");
        return 1;
    }
    return 0;
}

static void usage(void)
{
    log_fatal("usage: postfix [-c config_dir] [-Dv] start|start-fg|stop|abort|reload|status|check|"
              "flush|set-permissions|logrotate");
}

int main(int argc, char **argv)
{
    int c;
    const char *dir = NULL;
    log_set_tag("postfix/postfix-script");
    log_set_stderr(true);
    while ((c = getopt(argc, argv, "c:Dv")) != -1) {
        switch (c) {
        case 'c':
            dir = optarg;
            break;
        case 'D':
            break;
        case 'v':
            log_verbose++;
            break;
        default:
            usage();
        }
    }
    if (optind >= argc)
        usage();
    const char *cmd = argv[optind];
    if (dir)
        setenv("MAIL_CONFIG", dir, 1);
    if (config_load(dir) < 0)
        postfix_problems++;
    mail_env_import();  /* master starts from this environment */
    if (*cfg_str(P_MAILLOG_FILE) == 0)
        log_open_syslog(NULL);

    if (strcmp(cmd, "check") == 0)
        return postfix_check(true);
    if (strcmp(cmd, "status") == 0) {
        pid_t pid = postfix_master_pid();
        if (pid) {
            log_info("the Postfix mail system is running: PID: %ld", (long)pid);
            return 0;
        }
        log_info("the Postfix mail system is not running");
        return 1;
    }
    if (strcmp(cmd, "set-permissions") == 0)
        return postfix_set_permissions();
    if (geteuid() != 0)
        log_fatal("to %s the mail system you must be root", cmd);
    if (strcmp(cmd, "start") == 0 || strcmp(cmd, "start-fg") == 0) {
        if (postfix_problems)
            log_fatal("%s/main.cf: fix the errors above before starting", config_dir());
        return postfix_start(strcmp(cmd, "start-fg") == 0);
    }
    if (strcmp(cmd, "stop") == 0 || strcmp(cmd, "abort") == 0) {
        pid_t pid = postfix_master_pid();
        if (!pid) {
            log_warn("the Postfix mail system is not running");
            return 1;
        }
        log_info("%s the Postfix mail system", strcmp(cmd, "stop") == 0 ? "stopping" : "aborting");
        kill(pid, strcmp(cmd, "stop") == 0 ? SIGTERM : SIGQUIT);
        if (postfix_wait_gone(pid, 60) < 0) {
            log_warn("master pid %ld did not stop in time", (long)pid);
            return 1;
        }
        return 0;
    }
    if (strcmp(cmd, "reload") == 0) {
        pid_t pid = postfix_master_pid();
        if (!pid) {
            log_warn("the Postfix mail system is not running");
            return 1;
        }
        if (postfix_problems)
            log_fatal("%s/main.cf: fix the errors above before reloading", config_dir());
        if (postfix_check(false))
            log_warn("postfix check found problems; reloading anyway");
        log_info("refreshing the Postfix mail system");
        kill(pid, SIGHUP);
        return 0;
    }
    if (strcmp(cmd, "flush") == 0) {
        if (mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_IGNORE_TIME) < 0 ||
            mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_DEFERRED) < 0) {
            log_warn("cannot flush the mail queue: qmgr is not reachable");
            return 1;
        }
        return 0;
    }
    if (strcmp(cmd, "logrotate") == 0) {
        if (optind + 1 < argc)
            log_fatal("usage postfix logrotate (no arguments)");
        return postfix_logrotate(postfix_master_pid());
    }
    if (strcmp(cmd, "upgrade-configuration") == 0)
        return postfix_upgrade_configuration();
    usage();
    return 1;
}
