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
 * Notes: the child gets fd 3 = status pipe, fds 4.. = listeners, the
 *        status board after them, and argv PROGRAM -n NAME -t TYPE [-u] [-c]
 *        -s N [-b SLOT] [-o stress=yes] [master.cf args]. See
 *        lib/server/server.h and docs/master-protocol.md.
 */
#include "alloc.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "mail_flow.h"
#include "master.h"
#include "master_status.h"
#include "sbuf.h"
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
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

/*
 * The status board (lib/server/master_status.h): a child keeps its idle or
 * busy state in its slot and tells master through the pipe only at the
 * edges (no other idle process left, or the first one idle again). master
 * reads the board whenever it decides something (spawn, watch, reap,
 * retire, stress), so it is never woken twice per client to keep count.
 */
void master_board_open(struct master_service *svc)
{
    int fd = memfd_create("postern-board", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)sizeof(struct master_board)) < 0) {
        log_warn("service %s: no status board (%m): its children report every change", svc->key);
        if (fd >= 0)
            close(fd);
        return;
    }
    void *m = mmap(NULL, sizeof(struct master_board), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) {
        log_warn("service %s: no status board (mmap: %m)", svc->key);
        close(fd);
        return;
    }
    svc->board = m;
    svc->board_fd = fd;
    svc->slot_taken = xcalloc(MASTER_BOARD_SLOTS, 1);
}

void master_board_close(struct master_service *svc)
{
    if (svc->board == NULL)
        return;
    munmap(svc->board, sizeof(struct master_board));
    close(svc->board_fd);
    xfree(svc->slot_taken);
    svc->board = NULL;
    svc->board_fd = -1;
    svc->slot_taken = NULL;
    svc->board_hi = 0;
}

static int master_board_take(struct master_service *svc)
{
    if (svc->board == NULL)
        return -1;
    for (int i = 0; i < MASTER_BOARD_SLOTS; i++) {
        if (svc->slot_taken[i])
            continue;
        struct master_board_slot *sl = &svc->board->slot[i];
        svc->slot_taken[i] = 1;
        /* Counted idle from the start, as without a board. */
        __atomic_store_n(&sl->used, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&sl->retire, 0, __ATOMIC_SEQ_CST);
        __atomic_store_n(&sl->avail, 1, __ATOMIC_SEQ_CST);
        if ((uint32_t)i + 1 > svc->board_hi) {
            svc->board_hi = (uint32_t)i + 1;
            __atomic_store_n(&svc->board->hiwater, svc->board_hi, __ATOMIC_SEQ_CST);
        }
        return i;
    }
    return -1;      /* more children than slots: the rest use the pipe */
}

static void master_board_give(struct master_service *svc, int slot)
{
    if (svc->board == NULL || slot < 0)
        return;
    __atomic_store_n(&svc->board->slot[slot].avail, 0, __ATOMIC_SEQ_CST);
    svc->slot_taken[slot] = 0;
    while (svc->board_hi > 0 && !svc->slot_taken[svc->board_hi - 1])
        svc->board_hi--;
    __atomic_store_n(&svc->board->hiwater, svc->board_hi, __ATOMIC_SEQ_CST);
}

/* A child is now idle (ready to accept) or busy, by its report or its
 * board slot. Busy means it has served someone; a retiring child that
 * becomes idle is told to go now. */
static void master_proc_avail(struct master_proc *p, bool avail)
{
    if (avail == p->avail)
        return;
    p->avail = avail;
    p->svc->avail += avail ? 1 : -1;
    if (!avail)
        p->used = true;
    else if (p->retire)
        kill(p->pid, SIGTERM);
}

void master_board_sync(struct master_service *svc)
{
    if (svc->board == NULL)
        return;
    for (struct master_proc *p = master_procs; p; p = p->next) {
        if (p->svc != svc || p->slot < 0)
            continue;
        const struct master_board_slot *sl = &svc->board->slot[p->slot];
        if (__atomic_load_n(&sl->used, __ATOMIC_SEQ_CST))
            p->used = true;
        master_proc_avail(p, __atomic_load_n(&sl->avail, __ATOMIC_SEQ_CST) != 0);
    }
}

static char **master_child_argv(struct master_service *svc, int slot)
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
    if (slot >= 0) {
        b = sbuf_new(16);
        sbuf_printf(b, "%d", slot);
        av[k++] = xstrdup("-b");
        av[k++] = sbuf_detach(b);
    }
    int frd, fwr;
    if (mail_flow_master_fds(&frd, &fwr))
        av[k++] = xstrdup("-f");    /* the in_flow_delay pipe follows the board */
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
    int slot = master_board_take(svc);
    char **av = master_child_argv(svc, slot);
    /*
     * posix_spawn (a vfork-style clone) instead of fork + exec: master no
     * longer copies its page tables and then takes a copy-on-write fault on
     * every page it touches after each start, which cost more CPU than the
     * child's own exec under a load that recycles processes (max_use).
     * Child: fd 3 = status, 4.. = listeners, then the board, then the two
     * ends of the in_flow_delay pipe (dup2 clears close-on-exec; the high
     * temporary copies and everything else close on exec).
     */
    int tmp[MASTER_MAX_LISTEN + 4];
    int ntmp = 0, err = 0;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    tmp[ntmp++] = fcntl(svc->status_fd[1], F_DUPFD_CLOEXEC, 64);
    for (int i = 0; i < svc->nlisten; i++)
        tmp[ntmp++] = fcntl(svc->listen_fds[i], F_DUPFD_CLOEXEC, 64);
    if (slot >= 0)
        tmp[ntmp++] = fcntl(svc->board_fd, F_DUPFD_CLOEXEC, 64);
    int frd, fwr;
    if (mail_flow_master_fds(&frd, &fwr)) {
        tmp[ntmp++] = fcntl(frd, F_DUPFD_CLOEXEC, 64);
        tmp[ntmp++] = fcntl(fwr, F_DUPFD_CLOEXEC, 64);
    }
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
        master_board_give(svc, slot);
        master_throttle(svc, "cannot start");
        return;
    }
    cfg_list_free(av);
    struct master_proc *p = xcalloc(1, sizeof(*p));
    p->pid = pid;
    p->svc = svc;
    p->avail = true;    /* counted idle from the start, so one client = one child */
    p->slot = slot;
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
    if (p->slot < 0)    /* with a slot it is an edge report: the board has the state */
        master_proc_avail(p, st->avail != 0);
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
        master_service_watch(svc);      /* reads the board first */
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
        struct master_service *svc = p->svc;
        master_board_sync(svc);     /* its last state: idle? served anyone? */
        *pp = p->next;
        master_nprocs--;
        svc->total--;
        if (p->avail)
            svc->avail--;
        master_board_give(svc, p->slot);
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
    master_board_sync(svc);
    for (struct master_proc *p = master_procs; p; p = p->next) {
        if (p->svc != svc)
            continue;
        if (sig == 0) {
            /* Retire: idle ones go now, busy ones when they become idle
             * (a child with a board slot looks at its retire flag then). */
            p->retire = true;
            if (p->slot >= 0)
                __atomic_store_n(&svc->board->slot[p->slot].retire, 1, __ATOMIC_SEQ_CST);
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
