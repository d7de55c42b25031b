/*
 * netstring.h - read and write D. J. Bernstein's netstrings on a stream
 *
 * Used by: qmqpd (QMQP, http://cr.yp.to/proto/qmqp.html).
 * Interface: netstring_get_len(), netstring_get_data(), netstring_get(),
 *            netstring_put().
 * Errors: malformed input is NETSTRING_E_FORMAT, a length above the caller's
 *         limit NETSTRING_E_SIZE (found before any data is read), stream
 *         problems are the stream's STREAM_E_* codes.
 * Notes: a netstring is "LEN:DATA," with LEN in decimal ASCII. The length is
 *        read digit by digit and refused as soon as it passes the limit, so
 *        a hostile peer never makes us reserve more than the limit.
 */
#ifndef POSTERN_NETSTRING_H
#define POSTERN_NETSTRING_H
#include "sys_compat.h"
#include "sbuf.h"
#include "stream.h"

#define NETSTRING_E_FORMAT (-10)    /* not a netstring */
#define NETSTRING_E_SIZE (-11)      /* longer than allowed */

/* Reads "LEN:" and returns LEN (<= limit), or NETSTRING_E_* / STREAM_E_*.
 * At most 20 digits are accepted; an empty length or a leading zero (the
 * netstring definition prohibits them) is a format error, so the length
 * took exactly as many bytes as its decimal form has digits. */
ssize_t netstring_get_len(struct stream *s, size_t limit);
/* Reads LEN bytes of data into out (replacing it) and the closing ",".
 * Returns 0 or NETSTRING_E_FORMAT / STREAM_E_*. */
int netstring_get_data(struct stream *s, size_t len, struct sbuf *out);
/* netstring_get_len() then netstring_get_data(); returns the length or an
 * error code. */
ssize_t netstring_get(struct stream *s, struct sbuf *out, size_t limit);
/* Appends "LEN:DATA," to the stream's output buffer (no flush). 0 or STREAM_E_*. */
int netstring_put(struct stream *s, const void *data, size_t len);
/* Text for a NETSTRING_E_* or STREAM_E_* code. */
const char *netstring_strerror(int err);

#endif
