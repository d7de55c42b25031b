/*
 * mail_sched.c - the CPU scheduling policy of master and the daemons
 *
 * Interface: see mail_sched.h.
 */
#include "mail_sched.h"
#include "config.h"
#include "config_values.h"
#include "log.h"
#include "mastercf.h"
#include "param_table.h"
#include "params.h"
#include "sbuf.h"
#include <sched.h>
#include <sys/resource.h>

/* The nice value before mail_sched_raise(), for mail_sched_restore(). */
static int mail_sched_base_nice;
static bool mail_sched_raised;

/* The policy asked for, or -1 for a value that is not a boolean. */
static int mail_sched_wanted(void)
{
    bool batch;

    if (!config_parse_bool(cfg_str(P_POSTERN_BATCH_SCHEDULING), &batch))
        return -1;
    return batch ? SCHED_BATCH : SCHED_OTHER;
}

/* The nice steps postern_delivery_priority asks for, or -1 for a value
 * outside its table bounds (0..20). */
static long mail_sched_raise_wanted(const char *value)
{
    const struct param_def *def = param_find(P_POSTERN_DELIVERY_PRIORITY);
    long v;

    if (!config_parse_long(value, &v) || v < def->min || v > def->max)
        return -1;
    return v;
}

/* The two settings checked here; config_value_problem() judges and words
 * their values. */
static const char *const mail_sched_names[] = {
    P_POSTERN_BATCH_SCHEDULING,
    P_POSTERN_DELIVERY_PRIORITY,
};

static bool mail_sched_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(mail_sched_names); i++)
        if (strcmp(mail_sched_names[i], name) == 0)
            return true;
    return false;
}

/* One service's -o options: a bad value of either setting is counted. */
struct mail_sched_bad {
    const struct mastercf_service *s;
    struct sbuf *why;
    int count;
};

static void mail_sched_override(const char *name, const char *value, void *ctx)
{
    struct mail_sched_bad *bad = ctx;
    const char *kind;

    /* A $name value is expanded only in the daemon, which checks it then. */
    if (!mail_sched_name(name) || strchr(value, '$')
        || (kind = config_value_problem(name, value, bad->why)) == NULL)
        return;
    log_warn("%s:%d: service %s: bad %s value: -o %s=%s (%s)", bad->s->file, bad->s->line,
             bad->s->name, kind, name, value, sbuf_str(bad->why));
    bad->count++;
}

/* Warns about the value in effect when it is bad; returns -1 then. */
static int mail_sched_check_one(const char *name, struct sbuf *why)
{
    const char *file = NULL, *kind = config_value_problem(name, cfg_str(name), why);
    int line = 0;

    if (kind == NULL)
        return 0;
    /* A daemon's -o value overrides main.cf's line: do not blame the line. */
    struct sbuf *where = sbuf_new(64);
    if (cfg_is_overridden(name))
        sbuf_set(where, "master.cf -o option: ");
    else if (cfg_in_main_cf(name, &file, &line))
        sbuf_printf(where, "%s:%d: ", file, line);
    log_warn("%sbad %s value: %s = %s (%s)", sbuf_str(where), kind, name, cfg_str(name),
             sbuf_str(why));
    sbuf_free(where);
    return -1;
}

int mail_sched_check(const struct mastercf *m)
{
    struct mail_sched_bad bad = { NULL, sbuf_new(64), 0 };

    for (const struct mastercf_service *s = m ? m->head : NULL; s; s = s->next) {
        bad.s = s;
        mastercf_overrides_quiet(s, mail_sched_override, &bad);
    }
    int worst = bad.count ? -1 : 0;
    for (size_t i = 0; i < ARRAY_LEN(mail_sched_names); i++)
        if (mail_sched_check_one(mail_sched_names[i], bad.why) < 0)
            worst = -1;
    sbuf_free(bad.why);
    return worst;
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

/* The nice value postern_delivery_priority asks for: *base is the current
 * one, *want the lower one (at most -20). False when the setting is 0 or
 * bad, or the value cannot go lower. */
static bool mail_sched_target(long *boost, int *base, int *want)
{
    *boost = mail_sched_raise_wanted(cfg_str(P_POSTERN_DELIVERY_PRIORITY));
    if (*boost <= 0)
        return false;   /* off, or bad (mail_sched_check() said so) */
    errno = 0;
    *base = getpriority(PRIO_PROCESS, 0);
    if (*base == -1 && errno != 0)
        return false;
    *want = *base - (int)*boost < -20 ? -20 : *base - (int)*boost;
    return *want < *base;
}

void mail_sched_raise(void)
{
    long boost;
    int base, want;

    if (!mail_sched_target(&boost, &base, &want))
        return;
    if (setpriority(PRIO_PROCESS, 0, want) < 0) {
        /* Not permitted here: master said so once (mail_sched_probe). */
        if (errno == EPERM || errno == EACCES)
            log_debug(1, "%s = %ld: cannot lower the nice value: %m", P_POSTERN_DELIVERY_PRIORITY,
                      boost);
        else
            log_warn("%s = %ld: cannot lower the nice value from %d to %d: %m",
                     P_POSTERN_DELIVERY_PRIORITY, boost, base, want);
        return;
    }
    mail_sched_base_nice = base;
    mail_sched_raised = true;
}

void mail_sched_restore(void)
{
    if (mail_sched_raised)
        (void)setpriority(PRIO_PROCESS, 0, mail_sched_base_nice);
}

void mail_sched_probe(void)
{
    long boost;
    int base, want;

    if (!mail_sched_target(&boost, &base, &want))
        return;
    if (setpriority(PRIO_PROCESS, 0, want) < 0) {
        log_warn("%s = %ld: this system does not let Postern lower a nice value (%m); "
                 "qmgr and the delivery agents run at master's", P_POSTERN_DELIVERY_PRIORITY,
                 boost);
        return;
    }
    (void)setpriority(PRIO_PROCESS, 0, base);     /* raising it back needs no privilege */
}
