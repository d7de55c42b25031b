/*
 * mime_state.h - MIME structure of a message as its content records go by
 *
 * Used by: cleanup (header_checks, mime_header_checks, nested_header_checks,
 *          body_checks and its own header processing).
 * Interface: mime_state_new(), mime_state_update(), mime_state_end(),
 *            mime_state_free(), mime_header_is_mime().
 * Errors: nothing is logged here; mime_state_update() and mime_state_end()
 *         return MIME_ERR_* bits for the caller to log (a header cut at the
 *         size limit, nesting deeper than the limit).
 * Notes: input is queue-file content records: REC_NORM ends a line, REC_CONT
 *        is a piece of a long line that the next record continues. Header
 *        blocks are the message's own (MIME_HDR_PRIMARY), those after a
 *        multipart boundary (MIME_HDR_MULTIPART) and those of an attached
 *        message/rfc822 (MIME_HDR_NESTED). Each logical header goes to the
 *        header callback whole, its physical lines joined with '\n'; every
 *        other line (blank separators, boundaries, part bodies) goes to the
 *        body callback record by record, unchanged, with the byte offset of
 *        the record inside its body segment (reset after each header block)
 *        so that body_checks_size_limit can be applied per segment. With
 *        MIME_OPT_DISABLE_MIME only the primary header block is recognised
 *        (disable_mime_input_processing). A boundary is recognised only at
 *        the start of a complete record ("--boundary" or "--boundary--",
 *        trailing white space allowed); a closing boundary of an outer
 *        multipart also ends the inner ones.
 */
#ifndef POSTERN_MIME_STATE_H
#define POSTERN_MIME_STATE_H
#include "sys_compat.h"
#include "sbuf.h"

#define MIME_HDR_PRIMARY 1
#define MIME_HDR_MULTIPART 2
#define MIME_HDR_NESTED 3

#define MIME_OPT_DISABLE_MIME 0x1
#define MIME_OPT_REPORT_8BIT_IN_HEADER 0x2      /* strict_7bit_headers */
#define MIME_OPT_REPORT_8BIT_IN_7BIT_BODY 0x4   /* strict_8bitmime_body */
#define MIME_OPT_REPORT_ENCODING_DOMAIN 0x8     /* strict_mime_encoding_domain */

#define MIME_ERR_TRUNC_HEADER 0x1   /* a header longer than the limit was cut */
#define MIME_ERR_NESTING 0x2        /* deeper than the nesting limit: taken as body */
/* Raised only with the matching MIME_OPT_REPORT_* option: */
#define MIME_ERR_8BIT_IN_HEADER 0x4     /* a header with a byte >= 0x80 */
#define MIME_ERR_8BIT_IN_7BIT_BODY 0x8  /* 8-bit body text, encoding 7bit (said or default) */
#define MIME_ERR_ENCODING_DOMAIN 0x10   /* multipart/message with base64, quoted-printable... */

struct mime_state_ops {
    /* One logical header of a block of class hdr_class. The callback may
     * change or reuse header; it is reset afterwards. */
    void (*header)(void *ctx, int hdr_class, struct sbuf *header);
    /* End of a header block, before the line that ended it reaches body. */
    void (*header_end)(void *ctx, int hdr_class);
    /* One body record: rec_type REC_NORM or REC_CONT, offset = bytes of the
     * current body segment before this record. */
    void (*body)(void *ctx, int rec_type, const char *data, size_t len, long offset);
};

struct mime_state;

/* Starts parsing a message. header_limit bounds one logical header (the
 * excess is dropped, MIME_ERR_TRUNC_HEADER); nesting_limit bounds multipart
 * and message/rfc822 nesting. Returns new. */
struct mime_state *mime_state_new(const struct mime_state_ops *ops, void *ctx, int opts,
                                  size_t header_limit, int nesting_limit);
/* mime_boundary_length_limit (default 2048): boundaries are told apart by
 * their first limit characters only; a line that starts with "--" and
 * those characters of a longer boundary is that boundary. */
void mime_state_set_boundary_limit(struct mime_state *m, size_t limit);
/* The text of the last reported 8-bit or encoding error (at most 100
 * bytes: the header, body record or encoding), for the log line. */
const char *mime_state_error_text(const struct mime_state *m);
/* Postfix's words for one MIME_ERR_* bit ("improper use of 8-bit data in
 * message header"). */
const char *mime_state_error(int err);
/* Feeds one content record. Returns the MIME_ERR_* bits it raised. */
int mime_state_update(struct mime_state *m, int rec_type, const char *data, size_t len);
/* End of content: delivers a header still being collected (and the end of
 * its block). Returns MIME_ERR_* bits. */
int mime_state_end(struct mime_state *m);
void mime_state_free(struct mime_state *m);
/* True when a header (name first) is a MIME header: MIME-Version or
 * Content-* other than Content-Length. Such headers are inspected with
 * mime_header_checks. */
bool mime_header_is_mime(const char *header, size_t len);
/* Length of the header name when LINE starts a header ("Name:", white
 * space allowed before the colon), else 0. */
size_t mime_header_name_len(const char *line, size_t len);

#endif
