/*
 * events.c - poll() event loop with fd callbacks and one-shot timers
 *
 * Used by: master, qmgr, server skeletons, load tools.
 * Interface: see events.h.
 * Notes: sizes are small (tens to a few thousand fds), so linear scans are
 *        fine; the fd table is indexed by descriptor number.
 */
#include "events.h"
#include "alloc.h"
#include "log.h"
#include <poll.h>

struct event_fd {
    int events;
    event_fd_fn fn;
    void *ctx;
};

struct event_timer {
    double when;
    event_timer_fn fn;
    void *ctx;
};

static struct event_fd *event_fds;
static int event_fd_cap;
static struct event_timer *event_timers;
static size_t event_ntimers, event_timer_cap;
static struct pollfd *event_pfds;
static int event_pfd_cap;

double event_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void event_fd_add(int fd, int events, event_fd_fn fn, void *ctx)
{
    if (fd < 0)
        return;
    if (fd >= event_fd_cap) {
        int cap = event_fd_cap ? event_fd_cap : 64;
        while (cap <= fd)
            cap *= 2;
        event_fds = xreallocarray(event_fds, (size_t)cap, sizeof(*event_fds));
        memset(event_fds + event_fd_cap, 0, (size_t)(cap - event_fd_cap) * sizeof(*event_fds));
        event_fd_cap = cap;
    }
    event_fds[fd].events = events;
    event_fds[fd].fn = fn;
    event_fds[fd].ctx = ctx;
}

void event_fd_del(int fd)
{
    if (fd >= 0 && fd < event_fd_cap)
        event_fds[fd].events = 0, event_fds[fd].fn = NULL;
}

void event_timer_del(event_timer_fn fn, void *ctx)
{
    for (size_t i = 0; i < event_ntimers; i++)
        if (event_timers[i].fn == fn && event_timers[i].ctx == ctx) {
            event_timers[i] = event_timers[--event_ntimers];
            return;
        }
}

void event_timer_add(double delay, event_timer_fn fn, void *ctx)
{
    event_timer_del(fn, ctx);
    if (event_ntimers == event_timer_cap) {
        event_timer_cap = event_timer_cap ? event_timer_cap * 2 : 16;
        event_timers = xreallocarray(event_timers, event_timer_cap, sizeof(*event_timers));
    }
    event_timers[event_ntimers].when = event_now() + delay;
    event_timers[event_ntimers].fn = fn;
    event_timers[event_ntimers].ctx = ctx;
    event_ntimers++;
}

static int event_run_timers(void)
{
    int ran = 0;
    double now = event_now();
    for (;;) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < event_ntimers; i++)
            if (event_timers[i].when <= now && (best == SIZE_MAX || event_timers[i].when < event_timers[best].when))
                best = i;
        if (best == SIZE_MAX)
            break;
        struct event_timer t = event_timers[best];
        event_timers[best] = event_timers[--event_ntimers];
        t.fn(t.ctx);
        ran++;
    }
    return ran;
}

int event_loop_once(double max_wait)
{
    int n = 0;
    for (int fd = 0; fd < event_fd_cap; fd++)
        if (event_fds[fd].events)
            n++;
    if (n > event_pfd_cap) {
        event_pfd_cap = n * 2;
        event_pfds = xreallocarray(event_pfds, (size_t)event_pfd_cap, sizeof(*event_pfds));
    }
    int k = 0;
    for (int fd = 0; fd < event_fd_cap; fd++)
        if (event_fds[fd].events) {
            event_pfds[k].fd = fd;
            event_pfds[k].events = (short)(((event_fds[fd].events & EVENT_READ) ? POLLIN : 0) |
                                           ((event_fds[fd].events & EVENT_WRITE) ? POLLOUT : 0));
            event_pfds[k].revents = 0;
            k++;
        }
    double wait = max_wait;
    double now = event_now();
    for (size_t i = 0; i < event_ntimers; i++) {
        double d = event_timers[i].when - now;
        if (d < 0)
            d = 0;
        if (wait < 0 || d < wait)
            wait = d;
    }
    int ms = wait < 0 ? -1 : (int)(wait * 1000 + 0.999);
    int ready = log_poll(event_pfds, (nfds_t)k, ms);
    int ran = 0;
    if (ready > 0) {
        for (int i = 0; i < k; i++) {
            if (!event_pfds[i].revents)
                continue;
            int fd = event_pfds[i].fd;
            if (fd >= event_fd_cap || !event_fds[fd].fn)
                continue;       /* removed by an earlier callback */
            int ev = 0;
            if (event_pfds[i].revents & (POLLIN | POLLHUP | POLLERR))
                ev |= EVENT_READ;
            if (event_pfds[i].revents & (POLLOUT | POLLERR))
                ev |= EVENT_WRITE;
            ev &= event_fds[fd].events | ((event_pfds[i].revents & (POLLHUP | POLLERR)) ? EVENT_READ : 0);
            if (ev == 0)
                continue;
            event_fds[fd].fn(fd, ev, event_fds[fd].ctx);
            ran++;
        }
    }
    ran += event_run_timers();
    return ran;
}
