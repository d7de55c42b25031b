/*
 * dsn_filter.h - delivery status filters (*_delivery_status_filter)
 *
 * Used by: deliver_request (each per-recipient result of the agents that
 *          have a filter: smtp, lmtp, local, virtual, pipe).
 * Interface: dsn_filter_new(), dsn_filter_free(), dsn_filter_title(),
 *            dsn_filter_apply(), dsn_filter_check().
 * Errors: a result that is not acceptable is logged as a warning and the
 *         status is kept; a table that fails to answer is logged and
 *         reported to the caller (DSN_FILTER_ERROR), which decides.
 * Notes: as Postfix 3.0 documents the feature: the tables are asked with
 *        "X.Y.Z text" (enhanced status code, one space, explanatory text)
 *        and answer with a replacement of the same form. A success (2.X.X)
 *        may only become another success, a failure (4.X.X or 5.X.X) only
 *        another failure, and the text must not be empty. The first digit
 *        of an accepted result decides between deferral (4) and bounce (5).
 *        Keys are not folded to lower case: $1 in a regexp or pcre result
 *        then copies the text as it was.
 */
#ifndef POSTERN_DSN_FILTER_H
#define POSTERN_DSN_FILTER_H
#include "sys_compat.h"
#include "sbuf.h"

struct dsn_filter;

/* dsn_filter_apply() results. */
#define DSN_FILTER_KEEP 0     /* no match, or a result that was refused */
#define DSN_FILTER_REPLACED 1 /* out_dsn and out_text hold the new status */
#define DSN_FILTER_ERROR (-1) /* a table failed to answer */

/* Opens the tables named in value (type:name list, as for any *_maps
 * parameter); title (the parameter name) appears in log lines. Returns new
 * (free with dsn_filter_free()), or NULL when value names no table. A table
 * that cannot be opened makes every lookup a DSN_FILTER_ERROR (maps.h). */
struct dsn_filter *dsn_filter_new(const char *title, const char *value);

/* Closes the tables and frees f; accepts NULL. */
void dsn_filter_free(struct dsn_filter *f);

/* The title given to dsn_filter_new() (borrowed). */
const char *dsn_filter_title(const struct dsn_filter *f);

/* Looks up "dsn text". f may be NULL (DSN_FILTER_KEEP). On
 * DSN_FILTER_REPLACED, fills out_dsn with the new code and out_text with
 * the new text; otherwise leaves them alone. dsn and text may point into
 * out_dsn and out_text (they are read before either is written). A refused
 * result or a lookup error is logged as a warning, prefixed with id (a
 * queue id, or NULL). */
int dsn_filter_apply(struct dsn_filter *f, const char *id, const char *dsn, const char *text,
                     struct sbuf *out_dsn, struct sbuf *out_text);

/* Checks result, a table's answer for a status whose code is orig_dsn.
 * Returns NULL after filling dsn and text with its parts, or a fixed
 * string saying why it is refused (dsn and text then undefined). */
const char *dsn_filter_check(const char *orig_dsn, const char *result, struct sbuf *dsn,
                             struct sbuf *text);

#endif
