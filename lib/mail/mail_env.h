/*
 * mail_env.h - the process environment a Postern program runs with
 *
 * Used by: master, postfix, postsuper, postdrop, postqueue (mail_env_import);
 *          sendmail, postmap, postalias (mail_env_update); pipe_command.c
 *          (mail_env_list, for $export_environment).
 * Interface: mail_env_list(), mail_env_import(), mail_env_update().
 * Notes: $import_environment lists NAME entries (keep the variable when it
 *        is set) and NAME=value entries (set it); "{ NAME=value }" protects
 *        spaces and commas in the value. A privileged program keeps only what
 *        the list names, so nothing from the shell that started it (a proxy
 *        setting, LD_LIBRARY_PATH, MALLOC_* tuning) reaches the daemons; an
 *        unprivileged utility only applies the NAME=value entries, as Postfix
 *        does. Call both after the configuration is loaded.
 */
#ifndef POSTERN_MAIL_ENV_H
#define POSTERN_MAIL_ENV_H
#include "sys_compat.h"

/* Splits an environment list (import_environment, export_environment) into
 * NAME and NAME=value items, the braces of "{ NAME = value }" removed with
 * the space inside them and around its '='. Free with cfg_list_free(). */
char **mail_env_list(const char *value);

/* True when item (from mail_env_list) names a variable that setenv()
 * accepts: a non-empty name before any '='. */
bool mail_env_item_ok(const char *item);

/* Replaces the environment with what $import_environment keeps and sets.
 * Items with a bad name are skipped with a warning. */
void mail_env_import(void);

/* Sets only the NAME=value items of $import_environment; the rest of the
 * environment stays as it is. */
void mail_env_update(void);

#endif
