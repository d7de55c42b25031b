/*
 * sbuf.h - growable, always NUL-terminated byte buffer
 *
 * Used by: everything that builds strings or carries binary data.
 * Interface: sbuf_new(), sbuf_free(), sbuf_reset(), sbuf_str(), sbuf_len(),
 *            sbuf_append(), sbuf_addch(), sbuf_cat(), sbuf_printf(), sbuf_catf(),
 *            sbuf_vcatf(), sbuf_vformat_small(), sbuf_truncate(), sbuf_detach(),
 *            sbuf_trim().
 * Notes: the contents may hold NUL bytes; use sbuf_len(), not strlen().
 */
#ifndef POSTERN_SBUF_H
#define POSTERN_SBUF_H
#include "sys_compat.h"

struct sbuf {
    char *data;
    size_t len;
    size_t cap;
};

/* Returns new buffer with room for at least hint bytes. */
struct sbuf *sbuf_new(size_t hint);
void sbuf_free(struct sbuf *b);
/* Empties the buffer, keeps the memory. */
void sbuf_reset(struct sbuf *b);
/* Borrowed pointer to the contents, valid until the next modification. */
static inline const char *sbuf_str(const struct sbuf *b) { return b->data; }
static inline char *sbuf_data(struct sbuf *b) { return b->data; }
static inline size_t sbuf_len(const struct sbuf *b) { return b->len; }
/* Makes room for n more bytes beyond len. */
void sbuf_reserve(struct sbuf *b, size_t n);
void sbuf_append(struct sbuf *b, const void *p, size_t n);
void sbuf_addch(struct sbuf *b, int ch);
void sbuf_cat(struct sbuf *b, const char *s);
/* Replaces the contents with formatted text. */
void sbuf_printf(struct sbuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Appends formatted text. */
void sbuf_catf(struct sbuf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void sbuf_vcatf(struct sbuf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);
/* Formats into stack (size bytes) when the text fits, else into a new
 * buffer left in *spill (NULL otherwise; sbuf_free() takes either): for
 * short texts formatted per message or request without a malloc. Returns
 * the text (length in *len), or NULL when fmt cannot be formatted. */
const char *sbuf_vformat_small(char *stack, size_t size, struct sbuf **spill, size_t *len,
                               const char *fmt, va_list ap) PRINTF_LIKE(5, 0);
/* Shortens to n bytes (n <= len). */
void sbuf_truncate(struct sbuf *b, size_t n);
/* Returns the contents as a new string (caller frees) and frees the buffer. */
char *sbuf_detach(struct sbuf *b);
/* Removes trailing white space (including CR/LF). */
void sbuf_trim(struct sbuf *b);
/* Replaces the contents with s. */
void sbuf_set(struct sbuf *b, const char *s);

#endif
