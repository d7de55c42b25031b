/*
 * cmd_filter.h - rewrite an SMTP client's command line before it is parsed
 *
 * Used by: smtpd (smtpd_command_filter), postscreen's dummy SMTP engine
 *          (postscreen_command_filter).
 * Interface: cmd_filter_new(), cmd_filter_apply(), cmd_filter_free().
 * Errors: a table that fails a lookup is logged here (a warning naming the
 *         parameter) and reported to the caller, which answers the client.
 * Notes: Postfix's last-resort workaround for broken clients: the command
 *        line as received, leading blanks skipped, is looked up (case
 *        folded) and, when the table has an answer, the answer is the
 *        command ("CLIENT: replacing command \"OLD\" with \"NEW\"" is
 *        logged).
 */
#ifndef POSTERN_CMD_FILTER_H
#define POSTERN_CMD_FILTER_H
#include "sys_compat.h"
#include "sbuf.h"

struct cmd_filter;

/* param/value: the filter parameter's name and value. Opens the tables now
 * (call it before the jail). Returns new, or NULL when value is empty. */
struct cmd_filter *cmd_filter_new(const char *param, const char *value);
/* client names the client in log lines ("name[addr]", "[addr]:port").
 * Returns 1 when line is replaced (out holds the new command), 0 when the
 * table has no answer (out untouched), -1 when the lookup failed (logged). */
int cmd_filter_apply(const struct cmd_filter *f, const char *client, const char *line,
                     struct sbuf *out);
void cmd_filter_free(struct cmd_filter *f);

#endif
