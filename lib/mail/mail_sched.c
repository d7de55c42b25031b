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
 * that is not a whole number from 0 to MAIL_SCHED_MAX_RAISE. */
#define MAIL_SCHED_MAX_RAISE 20
static long mail_sched_raise_wanted(const char *value)
{
    long v;

    if (!config_parse_long(value, &v) || v < 0 || v > MAIL_SCHED_MAX_RAISE)
        return -1;
    return v;
}

/* Whether value is good for name, one of the two settings checked here. */
static bool mail_sched_value_ok(const char *name, const char *value)
{
    bool b;

    if (strcmp(name, P_POSTERN_BATCH_SCHEDULING) == 0)
        return config_parse_bool(value, &b);
    return mail_sched_raise_wanted(value) >= 0;
}

static const char *mail_sched_expect(const char *name)
{
    return strcmp(name, P_POSTERN_BATCH_SCHEDULING) == 0 ? "yes or no" : "a number from 0 to 20";
}

/* One service's -o options: a bad value of either setting is counted. */
struct mail_sched_bad {
    const struct mastercf_service *s;
    int count;
};

static void mail_sched_override(const char *name, const char *value, void *ctx)
{
    struct mail_sched_bad *bad = ctx;

    /* A $name value is expanded only in the daemon, which checks it then. */
    if ((strcmp(name, P_POSTERN_BATCH_SCHEDULING) != 0
         && strcmp(name, P_POSTERN_DELIVERY_PRIORITY) != 0)
        || strchr(value, '$') || mail_sched_value_ok(name, value))
        return;
    log_warn("%s:%d: service %s: bad %s value: -o %s=%s (%s)", bad->s->file, bad->s->line,
             bad->s->name, strcmp(name, P_POSTERN_BATCH_SCHEDULING) == 0 ? "boolean" : "numerical",
             name, value, mail_sched_expect(name));
    bad->count++;
}

/* Warns about the value in effect for name when it is bad; returns -1 then. */
static int mail_sched_check_one(const char *name)
{
    const char *file = NULL;
    int line = 0;

    if (mail_sched_value_ok(name, cfg_str(name)))
        return 0;
    /* A daemon's -o value overrides main.cf's line: do not blame the line. */
    struct sbuf *where = sbuf_new(64);
    if (cfg_is_overridden(name))
        sbuf_set(where, "master.cf -o option: ");
    else if (cfg_in_main_cf(name, &file, &line))
        sbuf_printf(where, "%s:%d: ", file, line);
    log_warn("%sbad %s value: %s = %s (%s)", sbuf_str(where),
             strcmp(name, P_POSTERN_BATCH_SCHEDULING) == 0 ? "boolean" : "numerical", name,
             cfg_str(name), mail_sched_expect(name));
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
    int a = mail_sched_check_one(P_POSTERN_BATCH_SCHEDULING);
    int b = mail_sched_check_one(P_POSTERN_DELIVERY_PRIORITY);
    return bad.count || a < 0 || b < 0 ? -1 : 0;
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

void mail_sched_raise(void)
{
    long boost = mail_sched_raise_wanted(cfg_str(P_POSTERN_DELIVERY_PRIORITY));
    if (boost <= 0)
        return;     /* off, or not a number (mail_sched_check() said so) */
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    if (base == -1 && errno != 0)
        return;
    int want = base - (int)boost < -20 ? -20 : base - (int)boost;
    if (want >= base)
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
    long boost = mail_sched_raise_wanted(cfg_str(P_POSTERN_DELIVERY_PRIORITY));
    if (boost <= 0)
        return;
    errno = 0;
    int base = getpriority(PRIO_PROCESS, 0);
    if ((base == -1 && errno != 0) || base <= -20)
        return;
    int want = base - (int)boost < -20 ? -20 : base - (int)boost;
    if (setpriority(PRIO_PROCESS, 0, want) < 0) {
        log_warn("%s = %ld: this system does not let Postern lower a nice value (%m); "
                 "qmgr and the delivery agents run at master's", P_POSTERN_DELIVERY_PRIORITY,
                 boost);
        return;
    }
    (void)setpriority(PRIO_PROCESS, 0, base);     /* raising it back needs no privilege */
}
