/*
 * mail_sched.h - the CPU scheduling policy of master and the daemons
 *
 * Used by: master (at start and reload), the server skeleton (every daemon
 *          at start, with its own -o options).
 * Interface: mail_sched_check(), mail_sched_apply().
 * Errors: a value that is not a boolean, in main.cf or a master.cf -o, is
 *         reported by mail_sched_check() (postfix check; master refuses to
 *         start and warns at reload; a daemon at start); the processes then
 *         keep the policy they have. A policy the kernel
 *         refuses is logged once per process as a warning.
 * Notes: with postern_batch_scheduling = yes (the default) the process is
 *        put under SCHED_BATCH. Postern's daemons hand each message along
 *        a chain of processes over sockets; under the normal policy each
 *        hand-off lets the woken process preempt the one that woke it,
 *        which is then switched back in to finish its turn. SCHED_BATCH
 *        keeps the CPU share and nice value and drops only that wake-up
 *        preemption (sched(7)). A policy other than normal or batch that
 *        the administrator gave master (chrt) is left alone. Children
 *        (local and pipe commands included) inherit the policy.
 */
#ifndef POSTERN_MAIL_SCHED_H
#define POSTERN_MAIL_SCHED_H

struct mastercf;

/* Returns -1 after a warning when postern_batch_scheduling is not a
 * boolean: the value in effect ("FILE:LINE: ..." for main.cf's line,
 * "master.cf -o option: ..." for a daemon's own -o) and, when m is not
 * NULL, each service's -o value ("FILE:LINE: service NAME: ..."); else 0. */
int mail_sched_check(const struct mastercf *m);

/* Puts the calling process under the policy postern_batch_scheduling asks
 * for, unless it runs under a policy other than normal or batch or the value
 * is not a boolean. */
void mail_sched_apply(void);

#endif
