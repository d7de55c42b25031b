/*
 * ehlo_discard.h - EHLO keywords to act as if they were not there
 *
 * Used by: smtpd (keyword matching for smtpd_discard_ehlo_keywords),
 *          postscreen (postscreen_discard_ehlo_keywords and its maps),
 *          smtp/lmtp (smtp_discard_ehlo_keywords, lmtp_discard_lhlo_keywords
 *          and their _address_maps: keywords of the server's reply ignored).
 * Interface: ehlo_discard_new(), ehlo_discard_lookup(), ehlo_discard_has(),
 *            ehlo_discard_free().
 * Errors: a map that fails a lookup (the maps layer logs it) counts as no
 *         answer: the keyword list is used.
 * Notes: keywords compare without regard to case. The pseudo keyword
 *        "silent-discard" (EHLO_DISCARD_SILENT) asks that nothing be
 *        logged about the keywords dropped. A map answer for the peer
 *        address replaces the list (Postfix's rule), it does not add to it.
 */
#ifndef POSTERN_EHLO_DISCARD_H
#define POSTERN_EHLO_DISCARD_H
#include "sys_compat.h"

#define EHLO_DISCARD_SILENT "silent-discard"

struct ehlo_discard;

/* list: the keyword list parameter's value; maps_name/maps_value: the
 * address maps parameter (empty value: none). Opens the maps now (call it
 * before the jail). Returns new (never NULL). */
struct ehlo_discard *ehlo_discard_new(const char *list, const char *maps_name,
                                      const char *maps_value);
/* The keywords to discard for peer address addr: the map's answer when it
 * has one, else the list. Returns new (free with cfg_list_free()). d may be
 * NULL (nothing is discarded). */
char **ehlo_discard_lookup(const struct ehlo_discard *d, const char *addr);
/* Is kw one of words (case-insensitive)? words may be NULL. */
bool ehlo_discard_has(char *const *words, const char *kw);
void ehlo_discard_free(struct ehlo_discard *d);

#endif
