/*
 * param_support.h - settings Postern does not implement: report or refuse
 *
 * Used by: postfix check/start/reload, master (start and reload), every
 *          daemon at start (the server skeleton), cleanup.
 * Interface: param_unsupported(), param_support_report(),
 *            param_support_refused().
 * Errors: reports are log_warn lines "FILE:LINE: NAME is not supported by
 *         Postern: WHAT IT WOULD DO"; refusals are returned to the caller,
 *         which decides between log_fatal (start) and log_warn (reload).
 * Notes: the mark comes from the parameter table (param_def.unsupported,
 *        generated from docs/unimplemented-parameters.txt). A per-transport
 *        name (TRANSPORT_delivery_slot_cost, ...) is as supported as its
 *        main.cf fallback (transport_param.h). Only non-default settings
 *        are reported: a main.cf line that restates the default is fine.
 */
#ifndef POSTERN_PARAM_SUPPORT_H
#define POSTERN_PARAM_SUPPORT_H
#include "sys_compat.h"

struct mastercf;
struct sbuf;

/* What the parameter would do when Postern does not implement it (static
 * text); NULL for an implemented, user-defined or unknown name. */
const char *param_unsupported(const char *name);

/* Warns once for each non-default setting of an unsupported parameter in
 * main.cf (as loaded) and in master.cf -o options: of every service in m,
 * or, when service is not NULL, only of the service with that name (and
 * type, when not NULL). m may be NULL (main.cf only). Returns the number
 * of warnings. */
int param_support_report(const struct mastercf *m, const char *service, const char *type);

/* The content-inspection settings Postern cannot apply and will not run
 * without (header_checks, body_checks, mime_header_checks,
 * nested_header_checks): when one is set to a non-empty value in main.cf,
 * or in a -o of a service in m, fills where ("FILE:LINE") and returns its
 * name; else NULL. With m NULL (a daemon) the effective values count:
 * main.cf and the daemon's own -o options. */
const char *param_support_refused(const struct mastercf *m, struct sbuf *where);
/* Tests: judge refusal by list (NULL-terminated parameter names) instead
 * of the built-in list (NULL: back to it). Every built-in entry is
 * implemented today, so only a test can make the refusal happen. */
void param_support_set_refused(const char *const *list);

#endif
