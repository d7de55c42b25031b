/*
 * events.h - a small poll() event loop with fd callbacks and timers
 *
 * Used by: master, qmgr, the multi-client and trigger server skeletons,
 *          smtp-sink/smtp-source.
 * Interface: event_fd_add(), event_fd_del(), event_timer_add(),
 *            event_timer_del(), event_loop_once(), event_now().
 * Notes: one loop per process (static state). Callbacks may add or remove
 *        any fd or timer, including their own. Timers are one-shot.
 */
#ifndef POSTERN_EVENTS_H
#define POSTERN_EVENTS_H
#include "sys_compat.h"

#define EVENT_READ 1
#define EVENT_WRITE 2

typedef void (*event_fd_fn)(int fd, int events, void *ctx);
typedef void (*event_timer_fn)(void *ctx);

/* Watches fd for EVENT_READ and/or EVENT_WRITE; replaces an earlier watch. */
void event_fd_add(int fd, int events, event_fd_fn fn, void *ctx);
void event_fd_del(int fd);
/* Calls fn(ctx) once after delay seconds (may be fractional); replaces an
 * existing timer with the same fn and ctx. */
void event_timer_add(double delay, event_timer_fn fn, void *ctx);
void event_timer_del(event_timer_fn fn, void *ctx);
/* Waits at most max_wait seconds (<0: until an event) and runs callbacks.
 * Returns the number of callbacks run. */
int event_loop_once(double max_wait);
/* Monotonic seconds. */
double event_now(void);

#endif
