/*
 * dnsbl_filter.h - match a DNS list's A-record answer against a reply filter
 *
 * Used by: smtpd (reject_rbl_client), postscreen (postscreen_dnsbl_sites).
 * Interface: dnsbl_filter_match().
 */
#ifndef POSTERN_DNSBL_FILTER_H
#define POSTERN_DNSBL_FILTER_H
#include "sys_compat.h"

/* True when the dotted-quad answer (e.g. "127.0.0.2") matches filter
 * (e.g. "127.0.0.[2..11]"); false for a malformed filter or answer. */
bool dnsbl_filter_match(const char *filter, const char *answer);

#endif
