/*
 * reply_footer.h - the reject footer after a server's 4xx and 5xx replies
 *
 * Used by: smtpd (smtpd_reject_footer, smtpd_reject_footer_maps),
 *          postscreen (postscreen_reject_footer, postscreen_reject_footer_maps).
 * Interface: reply_footer_new(), reply_footer_apply(), reply_footer_free().
 * Errors: a footer map that fails a lookup (the maps layer logs it) counts
 *         as no answer: the footer parameter is used.
 * Notes: as Postfix documents it: the template is the footer map's answer
 *        for the whole reply text ("550 5.7.1 ..."), else the footer
 *        parameter. "\n" in the template starts a new reply line, which
 *        repeats the reply's code and enhanced status code; a leading "\c"
 *        continues the reply's last line instead of starting a new one.
 *        $name forms expand through reply_expand.c; $localtime is always
 *        there, the caller supplies the rest ($client_address, ...).
 */
#ifndef POSTERN_REPLY_FOOTER_H
#define POSTERN_REPLY_FOOTER_H
#include "sys_compat.h"
#include "reply_expand.h"

struct reply_footer;

/* footer: the footer parameter's raw (unexpanded) value, "" for none;
 * maps_name/maps_value: the footer maps parameter ("" value: none), opened
 * now (call it before the jail); x: the expansion filter (borrowed, must
 * outlive the footer). Returns new (never NULL). */
struct reply_footer *reply_footer_new(const char *footer, const char *maps_name,
                                      const char *maps_value, const struct reply_expand *x);
/* reply: one 4xx/5xx reply line without CR LF (the last line of the
 * reply). When a footer applies, fills out with the reply and the footer,
 * lines separated by "\n" (no CR LF, none at the end), and returns true;
 * otherwise returns false and leaves out alone. */
bool reply_footer_apply(const struct reply_footer *f, const char *reply,
                        const struct reply_vars *v, struct sbuf *out);
void reply_footer_free(struct reply_footer *f);

#endif
