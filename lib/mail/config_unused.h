/*
 * config_unused.h - report main.cf and master.cf settings that nothing uses
 *
 * Used by: postfix check and postconf.
 * Interface: config_unused_report().
 * Errors: none; each unused setting is one log_warn() line in Postfix's
 *         shape: "DIR/main.cf: unused parameter: NAME=VALUE" and
 *         "DIR/master.cf: unused parameter: NAME=VALUE".
 * Notes: a name is in use when Postern's parameter table knows it, when it
 *        is a per-service name of a master.cf service (SERVICE_suffix), when
 *        some main.cf value or master.cf -o value refers to it ($name,
 *        ${name...}, $(name)), or when it is listed in
 *        smtpd_restriction_classes (in main.cf or in a -o): the rules by
 *        which Postfix's postconf tells a user-defined parameter from a typo.
 *        A misspelt -o in master.cf (say smtpd_bind_address for
 *        smtp_bind_address) is thus found, as Postfix finds it.
 */
#ifndef POSTERN_CONFIG_UNUSED_H
#define POSTERN_CONFIG_UNUSED_H
#include "sys_compat.h"
#include "mastercf.h"

#define CONFIG_UNUSED_MAIN 0x1      /* report main.cf entries */
#define CONFIG_UNUSED_MASTER 0x2    /* report master.cf -o entries */

/* Reports unused settings (main.cf as loaded; m may be NULL: no master.cf).
 * known tells the names the program knows without looking at the files
 * (NULL: config_known(), the parameter table and per-service names).
 * Returns how many were reported. */
int config_unused_report(const struct mastercf *m, int what, bool (*known)(const char *name));

#endif
