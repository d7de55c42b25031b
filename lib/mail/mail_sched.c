/*
 * mail_sched.c - the CPU scheduling policy of master and the daemons
 *
 * Interface: see mail_sched.h.
 */
#include "mail_sched.h"
#include "config.h"
#include "log.h"
#include "mastercf.h"
#include "params.h"
#include "sbuf.h"
#include <sched.h>

/* The policy asked for, or -1 for a value that is not a boolean. */
static int mail_sched_wanted(void)
{
    bool batch;

    if (!config_parse_bool(cfg_str(P_POSTERN_BATCH_SCHEDULING), &batch))
        return -1;
    return batch ? SCHED_BATCH : SCHED_OTHER;
}

/* One service's -o options: a bad postern_batch_scheduling is counted. */
struct mail_sched_bad {
    const struct mastercf_service *s;
    int count;
};

static void mail_sched_override(const char *name, const char *value, void *ctx)
{
    struct mail_sched_bad *bad = ctx;
    bool batch;

    /* A $name value is expanded only in the daemon, which checks it then. */
    if (strcmp(name, P_POSTERN_BATCH_SCHEDULING) != 0 || strchr(value, '$')
        || config_parse_bool(value, &batch))
        return;
    log_warn("%s:%d: service %s: bad boolean value: -o %s=%s (yes or no)", bad->s->file,
             bad->s->line, bad->s->name, name, value);
    bad->count++;
}

int mail_sched_check(const struct mastercf *m)
{
    const char *name = P_POSTERN_BATCH_SCHEDULING, *file = NULL;
    int line = 0;
    struct mail_sched_bad bad = { NULL, 0 };

    for (const struct mastercf_service *s = m ? m->head : NULL; s; s = s->next) {
        bad.s = s;
        mastercf_overrides_quiet(s, mail_sched_override, &bad);
    }
    if (mail_sched_wanted() >= 0)
        return bad.count ? -1 : 0;
    /* A daemon's -o value overrides main.cf's line: do not blame the line. */
    struct sbuf *where = sbuf_new(64);
    if (cfg_is_overridden(name))
        sbuf_set(where, "master.cf -o option: ");
    else if (cfg_in_main_cf(name, &file, &line))
        sbuf_printf(where, "%s:%d: ", file, line);
    log_warn("%sbad boolean value: %s = %s (yes or no)", sbuf_str(where), name, cfg_str(name));
    sbuf_free(where);
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
