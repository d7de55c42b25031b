/*
 * resolve_local.h - is a domain ours? (mydestination, our IP literals) and
 *                   Postfix-style domain lists
 *
 * Used by: trivial-rewrite (address classes), smtpd (local recipient
 *          checks), cleanup (masquerading decisions), local.
 * Interface: domain_list_new(), domain_list_match(), domain_list_empty(),
 *            domain_list_free(); resolve_local_init(), resolve_local(),
 *            resolve_local_free().
 * Errors: domain_list_new() logs a warning for a table that cannot be
 *         opened and treats it as failing every lookup (-1, "try later").
 * Notes: a domain list is the value of a parameter such as mydestination
 *        or relay_domains: names (case-insensitive), ".parent" patterns,
 *        "/file" (more names, one or more per line, # comments),
 *        "type:table" (any value for the domain is a match) and "!pattern"
 *        (negation: the first matching pattern decides). When the parameter
 *        is named in $parent_domain_matches_subdomains, "example.com" also
 *        matches "sub.example.com"; table lookups then try parent domains
 *        without the leading dot, else with it.
 */
#ifndef POSTERN_RESOLVE_LOCAL_H
#define POSTERN_RESOLVE_LOCAL_H
#include "sys_compat.h"

struct domain_list;

/* Builds a list from the (expanded) value of parameter param. Returns new. */
struct domain_list *domain_list_new(const char *param, const char *value);
/* 1 when domain matches, 0 when not, -1 when a table lookup failed. */
int domain_list_match(struct domain_list *l, const char *domain);
bool domain_list_empty(const struct domain_list *l);
void domain_list_free(struct domain_list *l);

/* Reads mydestination, inet_interfaces and proxy_interfaces (call again
 * after a configuration change). */
void resolve_local_init(void);
/* Is domain final for this host? domain may be an address literal
 * "[1.2.3.4]" or "[IPv6:...]" (matched against our interface addresses)
 * and may end in a dot. Returns 1, 0, or -1 (table lookup failed). */
int resolve_local(const char *domain);
/* Is the numeric address (no brackets) one of $inet_interfaces or
 * $proxy_interfaces? */
bool resolve_local_address(const char *addr);
/* Is it one of $inet_interfaces (permit_inet_interfaces)? */
bool resolve_local_interface(const char *addr);
/* Reads only the interface addresses (getifaddrs for "all"), for the two
 * tests above, unless they are already read; no mydestination tables are
 * opened. A chrooted process calls it before chroot. */
void resolve_local_addresses_init(void);
void resolve_local_free(void);

#endif
