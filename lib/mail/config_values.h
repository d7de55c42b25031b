/*
 * config_values.h - values that a daemon would refuse, found before it runs
 *
 * Used by: postfix check, master at start and reload (master_check.c).
 * Interface: config_values_check(), config_value_problem().
 * Notes: a boolean, number or time parameter whose value does not parse or
 *        is outside the parameter's bounds makes each daemon that reads it
 *        stop with a fatal error, again at every restart. This finds such
 *        values in main.cf (FILE:LINE) and in master.cf -o options
 *        (FILE:LINE and service), for the parameters of the table and for
 *        TRANSPORT_suffix names (checked as their fallback parameter).
 *        Values with a $name are checked in main.cf as expanded, unless
 *        their references could loop (expanding would then be fatal); an
 *        -o value with $name is left to the daemon. Parameters Postern does not
 *        implement are skipped, and config_values_check() leaves the two
 *        that mail_sched_check() reports (with config_value_problem()).
 */
#ifndef POSTERN_CONFIG_VALUES_H
#define POSTERN_CONFIG_VALUES_H
#include "sys_compat.h"

struct mastercf;
struct sbuf;

/* When value is not acceptable for parameter name (a table parameter or a
 * TRANSPORT_suffix name), fills why with what was expected and returns
 * the kind of value ("boolean", "numerical", "time"); NULL when it is
 * acceptable, or when name is not a checked parameter. */
const char *config_value_problem(const char *name, const char *value, struct sbuf *why);

/* Warns about every bad value in main.cf and in m's -o options (m may be
 * NULL). Returns the number of bad values. */
int config_values_check(const struct mastercf *m);

#endif
