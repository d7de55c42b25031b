/*
 * mail_env.h - the process environment a Postern program runs with
 *
 * Used by: master, postfix, postsuper, postdrop, postqueue (mail_env_import);
 *          sendmail, postmap, postalias (mail_env_update); pipe_command.c
 *          (mail_env_resolve, for $export_environment).
 * Interface: mail_env_list(), mail_env_resolve(), mail_env_import(),
 *            mail_env_update().
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

/* The list in param (import_environment, export_environment) as
 * "NAME=value" strings: NAME=value items as given, NAME items with the
 * value this process has (left out when unset). Items without a usable
 * name (empty, blanks, '=' first) are warned about and left out. Free with
 * cfg_list_free(). */
char **mail_env_resolve(const char *param);

/* Replaces the environment with what $import_environment keeps and sets.
 * Items with a bad name are skipped with a warning. */
void mail_env_import(void);

/* Sets only the NAME=value items of $import_environment; the rest of the
 * environment stays as it is. */
void mail_env_update(void);

#endif
