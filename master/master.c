/*
 * master.c - the Postern supervisor: owns every listener, starts services
 *
 * Used by: the postfix command (postfix start runs master).
 * Interface: master [-c config_dir] [-d] [-t] [-v]
 *            -d stay in the foreground; -t exit 0 if no master runs for
 *            this queue, 1 if one does.
 * Errors: configuration errors at start are fatal; at reload the old
 *         services keep running and the error is logged.
 * Notes: SIGHUP re-reads main.cf and master.cf; SIGTERM stops the children
 *        and exits. $queue_directory/pid/master.pid and
 *        $data_directory/master.lock are locked for the life of the process,
 *        so two masters can never share one queue. Both are opened without
 *        following links and must be plain files of their owner (root for
 *        the pid file; mail_owner for master.lock, which is opened as
 *        mail_owner because data_directory is mail_owner's).
 */
#include "alloc.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "mail_log.h"
#include "mail_owner.h"
#include "mail_sched.h"
#include "mail_proto.h"
#include "mail_env.h"
#include "mail_flow.h"
#include "mail_trust.h"
#include "master.h"
#include "queue_layout.h"
#include "sbuf.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>

static int master_sig_pipe[2];
static volatile sig_atomic_t master_got_hup, master_got_term, master_got_chld;
static int master_pid_fd = -1, master_lock_fd = -1;

static void master_signal(int sig)
{
    int saved = errno;
    if (sig == SIGHUP)
        master_got_hup = 1;
    else if (sig == SIGCHLD)
        master_got_chld = 1;
    else
        master_got_term = sig;
    char c = (char)sig;
    /* A full pipe means a wake-up is already pending. */
    ssize_t ignored = write(master_sig_pipe[1], &c, 1);
    (void)ignored;
    errno = saved;
}

static void master_sig_drain(int fd, int events, void *ctx)
{
    char buf[64];
    (void)events;
    (void)ctx;
    while (read(fd, buf, sizeof(buf)) > 0)
        ;
}

/*
 * Opens the lock file NAME in directory DIR (DIR itself not a symlink) for
 * master: never through a symlink, never a FIFO or device, and only a
 * regular file with one link owned by OWNER is accepted, so a link planted
 * there cannot make master lock, truncate or write another file. Creates
 * the file (mode MODE) when missing. Fatal on anything unexpected.
 */
static int master_open_lock(const char *dir, const char *name, uid_t owner, mode_t mode)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        log_fatal("open directory %s: %m", dir);
    int fd = openat(dfd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
                    mode);
    if (fd < 0)
        log_fatal("open lock file %s/%s: %m", dir, name);
    close(dfd);
    struct stat st;
    if (fstat(fd, &st) < 0)
        log_fatal("fstat %s/%s: %m", dir, name);
    if (!S_ISREG(st.st_mode) || st.st_nlink != 1 || st.st_uid != owner)
        log_fatal("lock file %s/%s: not a regular file with one link owned by uid %ld; "
                  "remove it and start again", dir, name, (long)owner);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

/* Locks fd exclusively and, when asked, writes our pid (the file is known to
 * be a plain file of the expected owner); returns fd, or -1 if it is held. */
static int master_lock_fd_pid(int fd, const char *what, bool write_pid)
{
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        close(fd);
        return -1;
    }
    if (write_pid) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "%10ld\n", (long)getpid());
        if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) != n)
            log_fatal("write %s: %m", what);
    }
    return fd;
}

/* $queue_directory/pid/master.pid: root's, in the root-owned pid/. */
static int master_lock_pid_file(bool write_pid)
{
    int fd = master_open_lock("pid", "master.pid", 0, 0644);
    return master_lock_fd_pid(fd, "pid/master.pid", write_pid);
}

/* $data_directory/master.lock: the directory is mail_owner's, so the file is
 * opened (and created) as mail_owner, as Postfix does. */
static int master_lock_data_file(void)
{
    const char *dir = cfg_str(P_DATA_DIRECTORY);
    if (mail_owner_begin() < 0)
        log_fatal("cannot switch to mail_owner to open %s/master.lock", dir);
    int fd = master_open_lock(dir, "master.lock", mail_owner_uid(), 0600);
    mail_owner_end();
    return master_lock_fd_pid(fd, "master.lock", true);
}

static void usage(void)
{
    log_fatal("usage: master [-c config_dir] [-d] [-t] [-v]");
}

int main(int argc, char **argv)
{
    int c;
    bool foreground = false, test_only = false;
    const char *dir = NULL;

    /* Descriptors inherited from whoever started master (a lock a shell
     * holds, a pipe) would otherwise stay open for the daemon's lifetime
     * and be passed on to no purpose. */
    (void)mail_sanitize_fds();
    log_set_tag("postfix/master");
    log_set_stderr(true);
    while ((c = getopt(argc, argv, "c:dDtvw")) != -1) {
        switch (c) {
        case 'c':
            dir = optarg;
            break;
        case 'd':
            foreground = true;
            break;
        case 't':
            test_only = true;
            break;
        case 'v':
            log_verbose++;
            break;
        case 'D':
        case 'w':
            break;
        default:
            usage();
        }
    }
    if (geteuid() != 0)
        log_fatal("the master program must be run as root");
    if (dir)
        setenv("MAIL_CONFIG", dir, 1);
    if (config_load(dir) < 0)
        log_fatal("%s/main.cf: configuration errors; run \"postfix check\"", config_dir());
    mail_env_import();          /* what every daemon inherits */
    const char *qdir = cfg_str(P_QUEUE_DIRECTORY);
    if (chdir(qdir) < 0)
        log_fatal("chdir %s: %m", qdir);

    struct sbuf *pid_path = sbuf_new(128);
    sbuf_printf(pid_path, "%s/pid/master.pid", qdir);
    if (test_only) {
        int fd = master_lock_pid_file(false);
        exit(fd < 0 ? 1 : 0);
    }
    if (master_check_config() < 0)
        log_fatal("%s: configuration errors above; not starting", config_dir());
    queue_layout_apply(QUEUE_LAYOUT_FIX);
    mail_owner_init();
    mail_sched_apply();         /* before the first fork: children inherit it */
    /* Say it here, while stderr still reaches the user; the daemon re-checks. */
    int probe = master_lock_pid_file(false);
    if (probe < 0)
        log_fatal("the Postfix mail system is already running (%s is locked)", sbuf_str(pid_path));
    close(probe);

    /* Daemonize before taking the locks so that the lock holder is the daemon. */
    int ready[2] = { -1, -1 };
    if (!foreground) {
        if (pipe(ready) < 0)
            log_fatal("pipe: %m");
        pid_t pid = fork();
        if (pid < 0)
            log_fatal("fork: %m");
        if (pid > 0) {
            char ok = 0;
            close(ready[1]);
            if (read(ready[0], &ok, 1) != 1 || ok != 'y')
                exit(1);
            exit(0);
        }
        close(ready[0]);
        setsid();
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
            if (!log_verbose)
                dup2(null, 2);
            if (null > 2)
                close(null);
        }
    }
    master_pid_fd = master_lock_pid_file(true);
    if (master_pid_fd < 0)
        log_fatal("the Postfix mail system is already running (%s is locked)", sbuf_str(pid_path));
    master_lock_fd = master_lock_data_file();
    if (master_lock_fd < 0)
        log_fatal("another master owns %s/master.lock", cfg_str(P_DATA_DIRECTORY));

    if (pipe2(master_sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        log_fatal("pipe: %m");
    if (mail_flow_master_init() < 0)
        log_fatal("in_flow_delay pipe: %m");
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = master_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGQUIT, &sa, NULL);
    sigaction(SIGCHLD, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    event_fd_add(master_sig_pipe[0], EVENT_READ, master_sig_drain, NULL);
    umask(022);

    if (master_services_load(false) < 0)
        log_warn("%s/master.cf: errors found; the services that could be read are running",
                 config_dir());
    mail_log_init("master");
    log_info("daemon started -- version %s, configuration %s", POSTERN_VERSION, config_dir());
    mail_sched_probe();
    if (!foreground) {
        log_set_stderr(false);
        if (write(ready[1], "y", 1) != 1)
            log_warn("cannot tell the starting command that master is ready: %m");
        close(ready[1]);
    }

    for (;;) {
        event_loop_once(-1);
        if (master_got_chld) {
            master_got_chld = 0;
            master_reap();
        }
        if (master_got_term) {
            log_info("terminating on signal %d", (int)master_got_term);
            master_services_stop();
            /* Give children a moment to go, then make sure. */
            for (int i = 0; i < 50 && master_child_count() > 0; i++) {
                struct timespec ts = { 0, 50000000L };
                nanosleep(&ts, NULL);
                master_reap();
            }
            for (struct master_service *s = master_services; s; s = s->next)
                master_kill_children(s, SIGKILL, false);
            /* pid/ is root's: nobody else can have swapped the name. */
            unlink(sbuf_str(pid_path));
            exit(0);
        }
        if (master_got_hup) {
            master_got_hup = 0;
            log_info("reload -- version %s, configuration %s", POSTERN_VERSION, config_dir());
            if (config_load(dir) < 0) {
                log_warn("%s/main.cf: errors found; reload applied what could be read", config_dir());
            }
            mail_env_import();
            mail_log_init("master");
            mail_owner_init();
            mail_sched_apply();
            mail_sched_probe();
            if (master_check_config() < 0)
                log_warn("%s: configuration errors found during reload", config_dir());
            if (master_services_load(true) < 0)
                log_warn("%s/master.cf: errors found during reload", config_dir());
            master_retire_all();
        }
    }
}
