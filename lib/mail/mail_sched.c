/*
 * mail_sched.c - the CPU scheduling policy of master and the daemons
 *
 * Interface: see mail_sched.h.
 */
#include "mail_sched.h"
#include "config.h"
#include "log.h"
#include "params.h"
#include <sched.h>

/* The policy asked for, or -1 for a value that is not a boolean. */
static int mail_sched_wanted(void)
{
    bool batch;

    if (!config_parse_bool(cfg_str(P_POSTERN_BATCH_SCHEDULING), &batch))
        return -1;
    return batch ? SCHED_BATCH : SCHED_OTHER;
}

int mail_sched_check(void)
{
    if (mail_sched_wanted() >= 0)
        return 0;
    const char *file = NULL;
    int line = 0;
    if (cfg_in_main_cf(P_POSTERN_BATCH_SCHEDULING, &file, &line))
        log_warn("%s:%d: bad boolean value: %s = %s (yes or no)", file, line,
                 P_POSTERN_BATCH_SCHEDULING, cfg_str(P_POSTERN_BATCH_SCHEDULING));
    else
        log_warn("bad boolean value: %s = %s (yes or no)", P_POSTERN_BATCH_SCHEDULING,
                 cfg_str(P_POSTERN_BATCH_SCHEDULING));
    return -1;
}

void mail_sched_apply(void)
{
    static bool warned;
    int want = mail_sched_wanted();
    int have = sched_getscheduler(0);

    if (want < 0 || have == want || (have != SCHED_OTHER && have != SCHED_BATCH))
        return;
    struct sched_param sp = { .sched_priority = 0 };
    if (sched_setscheduler(0, want, &sp) < 0 && !warned) {
        warned = true;
        log_warn("%s = %s: cannot change the scheduling policy: %m", P_POSTERN_BATCH_SCHEDULING,
                 cfg_str(P_POSTERN_BATCH_SCHEDULING));
    }
}
