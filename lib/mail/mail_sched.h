/*
 * mail_sched.h - the CPU scheduling policy of master and the daemons
 *
 * Used by: master (at start and reload), the server skeleton (every daemon
 *          at start, with its own -o options).
 * Interface: mail_sched_check(), mail_sched_apply().
 * Errors: a value that is not a boolean is reported by mail_sched_check()
 *         (postfix check; master refuses to start and warns at reload); the
 *         processes then keep the policy they have. A policy the kernel
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

/* Returns -1 after a warning ("FILE:LINE: ...") when the value of
 * postern_batch_scheduling is not a boolean, else 0. */
int mail_sched_check(void);

/* Puts the calling process under the policy postern_batch_scheduling asks
 * for, unless it runs under a policy other than normal or batch or the value
 * is not a boolean. */
void mail_sched_apply(void);

#endif
