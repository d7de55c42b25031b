/*
 * reply_expand.h - $name templates in server replies, with an expansion filter
 *
 * Used by: smtpd (default_rbl_reply, rbl_reply_maps), reply_footer.c (the
 *          reject footers of smtpd and postscreen).
 * Interface: reply_vars_add(), reply_expand_new(), reply_expand(),
 *            reply_expand_free().
 * Errors: none: an unknown $name expands to nothing, an unbalanced ${...}
 *         drops the rest of the template.
 * Notes: the forms are Postfix's: $name, ${name}, $(name), ${name?text}
 *        (text when name is non-empty), ${name:text} (text when it is
 *        empty) and $$. Every character of an expanded value that is not in
 *        the filter (smtpd_expansion_filter, postscreen_expansion_filter)
 *        becomes "_", so that client-supplied text (HELO names, DNS TXT
 *        records) cannot shape a reply.
 */
#ifndef POSTERN_REPLY_EXPAND_H
#define POSTERN_REPLY_EXPAND_H
#include "sys_compat.h"
#include "sbuf.h"

/* Names and values for reply_expand() (borrowed; NULL values are ""). */
struct reply_vars {
    const char *names[24];
    const char *values[24];
    size_t n;
};
/* Adds one name; past 24 names the rest are ignored. */
void reply_vars_add(struct reply_vars *v, const char *name, const char *value);

struct reply_expand;

/* filter: the characters allowed in expanded values, with C-like escapes
 * (the raw value of an *_expansion_filter parameter). Returns new. */
struct reply_expand *reply_expand_new(const char *filter);
/* Appends tmpl to out with its $name forms expanded from v. */
void reply_expand(const struct reply_expand *x, struct sbuf *out, const char *tmpl,
                  const struct reply_vars *v);
void reply_expand_free(struct reply_expand *x);

#endif
