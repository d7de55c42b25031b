/*
 * master_check.c - what master refuses to run, decided before it starts
 *
 * Used by: master.c (at start, while stderr still reaches postfix start; and
 *          at reload, where problems are logged and the rest applies).
 * Interface: master_check_config().
 * Errors: each problem is logged once as "FILE:LINE: what".
 * Notes: refused at start, as Postfix's master refuses them: a master.cf line
 *        that does not parse, a -o that is not name=value, an inet service
 *        whose private column is y or - ("inet service cannot be private"),
 *        the content inspection settings Postern cannot apply
 *        (param_support_refused()), and a postern_batch_scheduling value
 *        that is not a boolean. Settings Postern does not implement are
 *        reported (param_support_report()) but do not stop it, and so are
 *        restriction names smtpd does not know (smtpd_restrictions_check()):
 *        smtpd answers 451 where one is reached, as Postfix's smtpd does.
 */
#include "config.h"
#include "config_values.h"
#include "smtpd_restrictions.h"
#include "log.h"
#include "mail_sched.h"
#include "master.h"
#include "mastercf.h"
#include "param_support.h"
#include "sbuf.h"

int master_check_config(void)
{
    struct sbuf *path = sbuf_new(128);
    struct mastercf *m = NULL;
    int rc = 0;

    sbuf_printf(path, "%s/master.cf", config_dir());
    if (mastercf_load(sbuf_str(path), &m) < 0)
        rc = -1;
    char **names = mastercf_service_names(m);
    config_set_service_names(names);
    cfg_list_free(names);
    for (const struct mastercf_service *s = m->head; s; s = s->next) {
        if (mastercf_overrides(s, NULL, NULL) < 0)
            rc = -1;
        if (mastercf_inet_private(s)) {
            log_warn("%s:%d: service %s: inet service cannot be private", s->file, s->line,
                     s->name);
            rc = -1;
        }
    }
    param_support_report(m, NULL, NULL);
    if (mail_sched_check(m) < 0)
        rc = -1;
    /* Reported, not refused: Postfix runs with such a value until a daemon
     * that reads it starts, and only that daemon stops. */
    config_values_check(m);
    smtpd_restrictions_check(m);
    const char *refused = param_support_refused(m, path);
    if (refused) {
        log_warn("%s: %s is set, but Postern cannot apply it: refusing to run "
                 "(mail would pass unchecked)", sbuf_str(path), refused);
        rc = -1;
    }
    mastercf_free(m);
    sbuf_free(path);
    return rc;
}
