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
 * that is not a whole number from 0 to 20 (the table's bounds, gen.py). */
static long mail_sched_raise_wanted(const char *value)
{
    long v;

    if (!config_parse_long(value, &v) || v < 0 || v > 20)
        return -1;
    return v;
}

/* The two settings checked here: what a bad value is called and what is
 * expected instead. */
static const struct mail_sched_setting {
    const char *name, *kind, *expect;
} mail_sched_settings[] = {
    { P_POSTERN_BATCH_SCHEDULING, "boolean", "yes or no" },
    { P_POSTERN_DELIVERY_PRIORITY, "numerical", "a number from 0 to 20" },
};

static const struct mail_sched_setting *mail_sched_setting(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(mail_sched_settings); i++)
        if (strcmp(mail_sched_settings[i].name, name) == 0)
            return &mail_sched_settings[i];
    return NULL;
}

static bool mail_sched_value_ok(const struct mail_sched_setting *set, const char *value)
{
    bool b;

    if (set == &mail_sched_settings[0])
        return config_parse_bool(value, &b);
    return mail_sched_raise_wanted(value) >= 0;
}

/* One service's -o options: a bad value of either setting is counted. */
struct mail_sched_bad {
    const struct mastercf_service *s;
    int count;
};

static void mail_sched_override(const char *name, const char *value, void *ctx)
{
    struct mail_sched_bad *bad = ctx;
    const struct mail_sched_setting *set = mail_sched_setting(name);

    /* A $name value is expanded only in the daemon, which checks it then. */
    if (set == NULL || strchr(value, '$') || mail_sched_value_ok(set, value))
        return;
    log_warn("%s:%d: service %s: bad %s value: -o %s=%s (%s)", bad->s->file, bad->s->line,
             bad->s->name, set->kind, name, value, set->expect);
    bad->count++;
}

/* Warns about the value in effect when it is bad; returns -1 then. */
static int mail_sched_check_one(const struct mail_sched_setting *set)
{
    const char *name = set->name, *file = NULL;
    int line = 0;

    if (mail_sched_value_ok(set, cfg_str(name)))
        return 0;
    /* A daemon's -o value overrides main.cf's line: do not blame the line. */
    struct sbuf *where = sbuf_new(64);
    if (cfg_is_overridden(name))
        sbuf_set(where, "master.cf -o option: ");
    else if (cfg_in_main_cf(name, &file, &line))
        sbuf_printf(where, "%s:%d: ", file, line);
    log_warn("%sbad %s value: %s = %s (%s)", sbuf_str(where), set->kind, name, cfg_str(name),
             set->expect);
    sbuf_free(where);
    return -1;
}

int mail_sched_check(const struct mastercf *m)
{
    struct mail_sched_bad bad = { NULL, 0 };

    for (const struct mastercf_service *s = m ? m->head : NULL; s; s = s->next) {
        bad.s = s;
        mastercf_overrides_quiet(s, mail_sched_override, &bad);
    }
    int worst = bad.count ? -1 : 0;
    for (size_t i = 0; i < ARRAY_LEN(mail_sched_settings); i++)
        if (mail_sched_check_one(&mail_sched_settings[i]) < 0)
            worst = -1;
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
