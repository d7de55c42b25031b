/*
 * mynetworks.h - match a client against a host/network list ($mynetworks style)
 *
 * Used by: smtpd (permit_mynetworks, smtpd_forbid_bare_newline_exclusions),
 *          later qmqpd, postscreen-like checks and debug_peer_list.
 * Interface: mynetworks_new(), mynetworks_match(), mynetworks_free().
 * Errors: a pattern that does not parse is logged once (log_warn) at
 *         mynetworks_new() and never matches; a table that fails during a
 *         lookup makes mynetworks_match() return -1 (try again later).
 * Notes: list items are separated by white space and commas. An item is
 *          - an IPv4 address or network: 10.0.0.1, 10.0.0.0/8
 *          - an IPv6 address or network, bare or in brackets: ::1,
 *            [::1], [2001:db8::]/32, 2001:db8::/32
 *          - /path: a file holding more items (white space separated,
 *            '#' comments), read once at mynetworks_new()
 *          - type:table: the client address (then the client name) is
 *            looked up; any answer is a match
 *          - a host or domain name: matches the client name exactly; with
 *            parent-domain matching (the default for mynetworks) also its
 *            subdomains; ".domain" always matches subdomains only
 *          - !item: a match on item is a definite non-match
 *        The first item that matches decides. An IPv4-mapped IPv6 client
 *        address (::ffff:1.2.3.4) is matched as IPv4.
 */
#ifndef POSTERN_MYNETWORKS_H
#define POSTERN_MYNETWORKS_H
#include "sys_compat.h"

struct mynetworks;

/* Parses list (already $-expanded). title names the parameter in warnings.
 * parent_matches_sub: a plain domain name also matches its subdomains.
 * Returns new (never NULL; bad items are logged and skipped). */
struct mynetworks *mynetworks_new(const char *title, const char *list, bool parent_matches_sub);
/* Matches the client. addr is the numeric address (required); name is the
 * verified client name or NULL/"unknown". Returns 1 on a match, 0 when no
 * item matches (or a negated item matched), -1 when a table lookup failed. */
int mynetworks_match(const struct mynetworks *m, const char *addr, const char *name);
/* Number of usable items (for tests and diagnostics). */
size_t mynetworks_count(const struct mynetworks *m);
void mynetworks_free(struct mynetworks *m);

#endif
