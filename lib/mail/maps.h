/*
 * maps.h - a list of lookup tables from one parameter value
 *
 * Used by: cleanup (canonical_maps, virtual_alias_maps), smtpd (access maps),
 *          trivial-rewrite (transport_maps), local (alias_maps), virtual.
 * Interface: maps_create(), maps_find(), maps_find_addr(), maps_ext_split(),
 *            maps_error(), maps_title(), maps_free().
 * Errors: a table that cannot be opened is logged once at maps_create() and
 *         then answers every lookup with a temporary failure (maps_error()
 *         DICT_ERR_RETRY), so mail waits instead of taking a wrong path.
 * Notes: the value "hash:/a, mysql:/b" is split on white space and commas;
 *        braces keep "inline:{ a=b, c=d }" and "static:{ x y }" whole. The
 *        first table that answers wins; a table error stops the search.
 *
 *        Address lookup order of maps_find_addr() for user+ext@domain with
 *        recipient_delimiter "+" (first answer wins, an error stops):
 *          1. user+ext@domain        (every table, patterns included)
 *          2. user@domain            (fixed-string tables; only with an extension)
 *          3. user+ext               (fixed-string tables; only with MAPS_ADDR_LOCAL)
 *          4. user                   (fixed-string tables; MAPS_ADDR_LOCAL, extension)
 *          5. @domain                (fixed-string tables; unless MAPS_ADDR_NO_DOMAIN)
 *        Pattern tables (regexp, pcre, cidr) see only the full address, in
 *        step 1. An address without '@' is a local part: steps 3 and 4 only
 *        (step 3 as the full-address lookup). The delimiter set may hold
 *        several characters; the extension starts at the first of them that
 *        is not the first character of the local part. With "-" as a
 *        delimiter, owner-list and list-request are not split.
 */
#ifndef POSTERN_MAPS_H
#define POSTERN_MAPS_H
#include "sys_compat.h"
#include "dict.h"

#define MAPS_ADDR_LOCAL 0x1         /* the domain is local: try local parts too */
#define MAPS_ADDR_NO_DOMAIN 0x2     /* skip the @domain lookup */

struct maps;

/* Opens every table in value with dict flags (DICT_F_FOLD normally).
 * title names the parameter in log lines. Returns new (never NULL). */
struct maps *maps_create(const char *title, const char *value, int flags);
/* Looks key up in each table whose flags match (flags 0: every table, else
 * only tables with one of these DICT_F_FIXED/DICT_F_PATTERN bits). Returns a
 * borrowed value valid until the next lookup, or NULL (see maps_error()). */
const char *maps_find(struct maps *m, const char *key, int flags);
/* The address lookup sequence described above. delims is the
 * recipient_delimiter value (may be empty or NULL). On success with the
 * extension removed, *ext_out (when not NULL) gets a new string holding the
 * extension with its leading delimiter (caller frees); otherwise NULL. */
const char *maps_find_addr(struct maps *m, const char *address, const char *delims, int flags,
                           char **ext_out);
/* Length of the local part lp[0..len) without its extension (the rule
 * above), or len when it has none. */
size_t maps_ext_split(const char *lp, size_t len, const char *delims);
/* DICT_ERR_NONE, or DICT_ERR_RETRY/DICT_ERR_CONFIG after a failed lookup. */
int maps_error(const struct maps *m);
const char *maps_title(const struct maps *m);
/* Number of tables in the list. */
size_t maps_count(const struct maps *m);
void maps_free(struct maps *m);

#endif
