/*
 * char_filter.h - the set of characters an expansion may carry
 *
 * Used by: reply_expand.c (smtpd_expansion_filter, postscreen_expansion_filter),
 *          local (command_expansion_filter, forward_expansion_filter,
 *          execution_directory_expansion_filter).
 * Interface: char_filter_init(), char_filter_censor(), char_filter_addch().
 * Errors: none.
 * Notes: the set is written as Postfix writes it, with C-like escapes
 *        (unescape.h). A character outside the set becomes "_", so that text
 *        from a client or a sender (HELO names, addresses, DNS records)
 *        cannot shape a reply, a file name or a command's environment.
 */
#ifndef POSTERN_CHAR_FILTER_H
#define POSTERN_CHAR_FILTER_H
#include "sys_compat.h"
#include "sbuf.h"

struct char_filter {
    bool allowed[256];
};

/* Builds the set from spec (NULL or "" allows nothing). */
void char_filter_init(struct char_filter *f, const char *spec);
/* Replaces, in place, every character of s outside the set with '_'. */
void char_filter_censor(const struct char_filter *f, char *s);
/* Appends c to out, or '_' when c is outside the set. */
void char_filter_addch(const struct char_filter *f, struct sbuf *out, int c);

#endif
