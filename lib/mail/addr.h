/*
 * addr.h - RFC 5321/5322 address helpers: quoting, splitting, header lists
 *
 * Used by: cleanup (header addresses, -t extraction), trivial-rewrite,
 *          smtpd (MAIL FROM/RCPT TO), local, bounce.
 * Interface: addr_at(), addr_split(), addr_fold_domain(), addr_quote(),
 *            addr_unquote(), addr_needs_quote(), addr_parse_list(),
 *            addr_items_free().
 * Errors: nothing is logged here; the list parser never fails, it skips
 *         what it cannot use (over-long addresses, junk) and stops at the
 *         caller's count limit.
 * Notes: Postern keeps addresses in the internal form: the local part is
 *        unquoted ("a b"@x is stored as a b@x), the domain is kept as
 *        written. The separator is the LAST '@'. External form is what goes
 *        into headers and SMTP: the local part quoted when it is not a
 *        dot-atom.
 */
#ifndef POSTERN_ADDR_H
#define POSTERN_ADDR_H
#include "sys_compat.h"
#include "sbuf.h"

#define ADDR_MAX_LEN 2048       /* longest single address accepted anywhere */

/* The '@' that separates local part and domain (the last one), or NULL.
 * Borrows from addr. */
const char *addr_at(const char *addr);
/* Splits addr into local part and domain (either output may be NULL).
 * Returns true when addr has an '@'; otherwise local gets all of addr and
 * domain is emptied. */
bool addr_split(const char *addr, struct sbuf *local, struct sbuf *domain);
/* Folds the domain part of addr to lower case, in place (ASCII only). */
void addr_fold_domain(char *addr);
/* True when the local part (len bytes) must be quoted in external form. */
bool addr_needs_quote(const char *local, size_t len);
/* Internal -> external: fills out with addr, the local part quoted when
 * needed ("a b"@x). An empty address stays empty. */
void addr_quote(struct sbuf *out, const char *addr);
/* External -> internal: fills out with addr, the local part without
 * quotes and backslash escapes ("a b"@x -> a b@x). The local part ends at
 * the first '@' outside quotes; the domain after it is copied unchanged,
 * so addr_unquote() of addr_quote(a) gives a back for every a. */
void addr_unquote(struct sbuf *out, const char *addr);

/* One address found in a header value. */
struct addr_item {
    char *addr;         /* internal form (new, owned by the list) */
    size_t start;       /* byte span of the address text in the value, */
    size_t len;         /* for in-place rewriting of headers */
    bool angle;         /* the address was written inside <...> */
};

struct addr_items {
    struct addr_item *v;
    size_t n;
    size_t cap;
};

/* Parses an RFC 5322 address list (a header value such as
 * "\"A B\" <a@b>, c@d (comment), group: x@y;") and appends each address
 * to out. Display names, comments, group names and source routes are
 * dropped. Empty addresses (<>) are skipped, as are addresses longer than
 * ADDR_MAX_LEN. At most max_items are appended. Returns the number added.
 * The value may contain folded lines (CR/LF count as white space). */
size_t addr_parse_list(const char *value, size_t len, size_t max_items, struct addr_items *out);
/* The same, reading at most max_tokens tokens (header_address_token_limit;
 * a token is a dot-atom such as "example.com", a quoted string, a domain
 * literal or a special such as "@" or ","): an address not followed by
 * its "," (or ";", or the end) within the limit is dropped, and the rest
 * of the value is not looked at. 0 means no limit. */
size_t addr_parse_list_limit(const char *value, size_t len, size_t max_items, size_t max_tokens,
                             struct addr_items *out);
/* Frees the addresses and empties the list (the struct itself is the
 * caller's). */
void addr_items_free(struct addr_items *items);

#endif
