/*
 * master_spawn.c - starting, tracking, reaping and throttling children
 *
 * Used by: master.
 * Interface: master_spawn(), master_status_read(), master_reap(),
 *            master_kill_children(), master_retire_all(), master_throttle(),
 *            master_child_count().
 * Errors: a program that is missing or dies before serving anything
 *         throttles its service for $service_throttle_time; other services
 *         are not affected.
 * Notes: the child gets fd 3 = status pipe, fds 4.. = listeners, and argv
 *        PROGRAM -n NAME -t TYPE [-u] [-c] -s N [-o stress=yes] [master.cf
 *        args]. See lib/server/server.h and docs/master-protocol.md.
 */
#include "alloc.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "master.h"
#include "master_status.h"
#include "sbuf.h"
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

static struct master_proc *master_procs;
static int master_nprocs;

int master_child_count(void)
{
    return master_nprocs;
}

static void master_unthrottle(void *ctx)
{
    struct master_service *svc = ctx;
    svc->throttled = false;
    svc->missing_reported = false;
    master_service_watch(svc);
}

void master_throttle(struct master_service *svc, const char *why)
{
    if (svc->throttled)
        return;
    long delay = cfg_time(P_SERVICE_THROTTLE_TIME);
    log_warn("service \"%s\" (%s): %s; throttling for %ld seconds", svc->name, svc->path, why, delay);
    svc->throttled = true;
    master_service_watch(svc);
    event_timer_add((double)delay, master_unthrottle, svc);
}

static char **master_child_argv(struct master_service *svc)
{
    size_t n = 0;
    while (svc->argv[n])
        n++;
    char **av = xcalloc(n + 16, sizeof(char *));
    size_t k = 0;
    av[k++] = xstrdup(svc->argv[0]);
    av[k++] = xstrdup("-n");
    av[k++] = xstrdup(svc->name);
    av[k++] = xstrdup("-t");
    av[k++] = xstrdup(svc->type);
    if (svc->unpriv)
        av[k++] = xstrdup("-u");
    if (svc->chroot)
        av[k++] = xstrdup("-c");
    struct sbuf *b = sbuf_new(16);
    sbuf_printf(b, "%d", svc->nlisten);
    av[k++] = xstrdup("-s");
    av[k++] = sbuf_detach(b);
    /* Stress mode (see master_service.c): every process was busy. */
    if (svc->stress_until > event_now()) {
        av[k++] = xstrdup("-o");
        av[k++] = xstrdup("stress=yes");
    }
    for (size_t i = 1; i < n; i++)
        av[k++] = xstrdup(svc->argv[i]);
    av[k] = NULL;
    return av;
}

void master_spawn(struct master_service *svc)
{
    struct stat st;
    if (stat(svc->path, &st) < 0 || !(st.st_mode & S_IXUSR)) {
        if (!svc->missing_reported)
            log_warn("service \"%s\": program %s is not installed (%m)", svc->name, svc->path);
        svc->missing_reported = true;
        master_throttle(svc, "program not available");
        return;
    }
    char **av = master_child_argv(svc);
    /*
     * posix_spawn (a vfork-style clone) instead of fork + exec: master no
     * longer copies its page tables and then takes a copy-on-write fault on
     * every page it touches after each start, which cost more CPU than the
     * child's own exec under a load that recycles processes (max_use).
     * Child: fd 3 = status, 4.. = listeners (dup2 clears close-on-exec;
     * the high temporary copies and everything else close on exec).
     */
    int tmp[MASTER_MAX_LISTEN + 1];
    int ntmp = 0, err = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    tmp[ntmp++] = fcntl(svc->status_fd[1], F_DUPFD_CLOEXEC, 64);
    for (int i = 0; i < svc->nlisten; i++)
        tmp[ntmp++] = fcntl(svc->listen_fds[i], F_DUPFD_CLOEXEC, 64);
    for (int i = 0; i < ntmp && err == 0; i++)
        err = tmp[i] < 0 ? errno
                         : posix_spawn_file_actions_adddup2(&fa, tmp[i],
                                                            i == 0 ? MASTER_STATUS_FD
                                                                   : MASTER_LISTEN_FD + i - 1);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGHUP);
    sigaddset(&dfl, SIGCHLD);
    sigaddset(&dfl, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const char *cd = getenv("MAIL_CONFIG");
    if (cd == NULL || strcmp(cd, config_dir()) != 0)
        setenv("MAIL_CONFIG", config_dir(), 1);
    pid_t pid = -1;
    if (err == 0)
        err = posix_spawn(&pid, svc->path, &fa, &attr, av, environ);
    for (int i = 0; i < ntmp; i++)
        if (tmp[i] >= 0)
            close(tmp[i]);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (err != 0) {
        errno = err;
        log_warn("spawn %s: %m", svc->path);
        cfg_list_free(av);
        master_throttle(svc, "cannot start");
        return;
    }
    cfg_list_free(av);
    struct master_proc *p = xcalloc(1, sizeof(*p));
    p->pid = pid;
    p->svc = svc;
    p->avail = true;    /* counted idle from the start, so one client = one child */
    p->next = master_procs;
    master_procs = p;
    master_nprocs++;
    svc->total++;
    svc->avail++;
    log_debug(1, "spawned %s pid %ld", svc->key, (long)pid);
    master_service_watch(svc);
}

static struct master_proc *master_proc_find(pid_t pid)
{
    for (struct master_proc *p = master_procs; p; p = p->next)
        if (p->pid == pid)
            return p;
    return NULL;
}

/* One report of a child: it is now available, or busy. */
static void master_status_one(struct master_service *svc, const struct master_status *st)
{
    struct master_proc *p = master_proc_find((pid_t)st->pid);
    if (p == NULL)
        return;     /* already reaped */
    /* Each service has its own pipe: a child may speak only for the
     * processes of its own service, never make master count (or kill on
     * retirement) another service's process. */
    if (p->svc != svc) {
        log_warn("service %s: status report for pid %ld of service %s ignored", svc->key,
                 (long)st->pid, p->svc->key);
        return;
    }
    if (st->avail && !p->avail) {
        p->avail = true;
        svc->avail++;
        if (p->retire)
            kill(p->pid, SIGTERM);
    } else if (!st->avail && p->avail) {
        p->avail = false;
        p->used = true;
        svc->avail--;
    }
}

/* Reads the reports waiting in the pipe up to 64 at a time (each is
 * written in one piece, so a read returns whole ones); a short read means
 * the pipe is empty for now, so no read is spent learning that: one read
 * per wake-up instead of one per report plus one (a single-client service
 * sends two reports per client). */
void master_status_read(int fd, int events, void *ctx)
{
    struct master_status buf[64];
    struct master_service *svc = ctx;
    (void)events;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n < (ssize_t)sizeof(buf[0]))
            break;
        for (size_t i = 0; i < (size_t)n / sizeof(buf[0]); i++)
            master_status_one(svc, &buf[i]);
        master_service_watch(svc);
        if ((size_t)n < sizeof(buf))
            break;
    }
}

void master_reap(void)
{
    int status;
    pid_t pid;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct master_proc **pp = &master_procs, *p;
        while ((p = *pp) != NULL && p->pid != pid)
            pp = &p->next;
        if (p == NULL)
            continue;
        *pp = p->next;
        master_nprocs--;
        struct master_service *svc = p->svc;
        svc->total--;
        if (p->avail)
            svc->avail--;
        bool abnormal = WIFSIGNALED(status) || (WIFEXITED(status) && WEXITSTATUS(status) != 0);
        if (abnormal && !p->retire) {
            if (WIFSIGNALED(status) && WTERMSIG(status) != SIGTERM)
                log_warn("process %s pid %ld killed by signal %d", svc->path, (long)pid, WTERMSIG(status));
            else if (WIFEXITED(status))
                log_warn("process %s pid %ld exit status %d", svc->path, (long)pid, WEXITSTATUS(status));
            /* Died before it could serve anyone: probably broken; back off. */
            if (!p->used && !(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM))
                master_throttle(svc, "process died before serving a request");
        }
        xfree(p);
        master_service_watch(svc);
    }
}

void master_kill_children(struct master_service *svc, int sig, bool only_idle)
{
    for (struct master_proc *p = master_procs; p; p = p->next) {
        if (p->svc != svc)
            continue;
        if (sig == 0) {
            /* Retire: idle ones go now, busy ones when they become idle. */
            p->retire = true;
            if (p->avail)
                kill(p->pid, SIGTERM);
            continue;
        }
        if (only_idle && !p->avail)
            continue;
        p->retire = true;
        kill(p->pid, sig);
    }
}

void master_signal_busy(struct master_service *svc, int sig)
{
    for (struct master_proc *p = master_procs; p; p = p->next)
        if (p->svc == svc && !p->avail && !p->retire)
            kill(p->pid, sig);
}

void master_retire_all(void)
{
    for (struct master_service *s = master_services; s; s = s->next)
        master_kill_children(s, 0, false);
}
