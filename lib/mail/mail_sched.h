/*
 * mail_sched.h - the CPU scheduling policy of master and the daemons
 *
 * Used by: master (at start and reload), the server skeleton (every daemon
 *          at start, with its own -o options), pipe_command (a command's
 *          child).
 * Interface: mail_sched_check(), mail_sched_apply(), mail_sched_raise(),
 *            mail_sched_probe(), mail_sched_restore().
 * Errors: a postern_batch_scheduling value that is not a boolean, or a
 *         postern_delivery_priority that is not a whole number from 0 to 20, in
 *         main.cf or a master.cf -o, is reported by mail_sched_check()
 *         (postfix check; master refuses to start and warns at reload; a
 *         daemon at start); the processes then keep the policy and nice
 *         value they have. A policy the kernel refuses is logged as a
 *         warning; a nice value it does not permit is said once by master
 *         (mail_sched_probe), other refusals by the daemon.
 * Notes: with postern_batch_scheduling = yes (the default) the process is
 *        put under SCHED_BATCH. Postern's daemons hand each message along
 *        a chain of processes over sockets; under the normal policy each
 *        hand-off lets the woken process preempt the one that woke it,
 *        which is then switched back in to finish its turn. SCHED_BATCH
 *        keeps the CPU share and nice value and drops only that wake-up
 *        preemption (sched(7)). A policy other than normal or batch that
 *        the administrator gave master (chrt) is left alone. Children
 *        (local and pipe commands included) inherit the policy.
 *        With postern_delivery_priority = N (default 10), qmgr and the
 *        local, virtual, pipe, discard and error agents (server_ops.delivery)
 *        lower their nice value by N at start, while still root (any other
 *        service does when its master.cf line has -o): under a
 *        burst of arrivals the many smtpd and cleanup processes otherwise
 *        keep them waiting for the CPU at every hand-off, and local delivery
 *        stalls until the burst ends (bench/README.md, session 10). Commands
 *        they run get the old value back (mail_sched_restore).
 */
#ifndef POSTERN_MAIL_SCHED_H
#define POSTERN_MAIL_SCHED_H

struct mastercf;

/* Returns -1 after a warning when postern_batch_scheduling is not a
 * boolean or postern_delivery_priority not a whole number from 0 to 20
 * (config_value_problem() judges and words both): the value
 * in effect ("FILE:LINE: ..." for main.cf's line,
 * "master.cf -o option: ..." for a daemon's own -o) and, when m is not
 * NULL, each service's -o value ("FILE:LINE: service NAME: ..."); else 0. */
int mail_sched_check(const struct mastercf *m);

/* Puts the calling process under the policy postern_batch_scheduling asks
 * for, unless it runs under a policy other than normal or batch or the value
 * is not a boolean. */
void mail_sched_apply(void);

/* qmgr and the delivery agents (or a service with its own -o), at start
 * while still root: lowers the nice value by postern_delivery_priority (at
 * most to -20). When the kernel refuses, the process runs on as it is. */
void mail_sched_raise(void);

/* master, at start and reload: says once, as a warning, when the kernel
 * does not let this machine's processes lower their nice value (a container
 * without CAP_SYS_NICE), so that the daemons need not say it each time. */
void mail_sched_probe(void);

/* In a child about to run a command (local, pipe): the nice value the
 * process had before mail_sched_raise(). Async-signal-safe. */
void mail_sched_restore(void);

#endif
