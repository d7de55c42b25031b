/*
 * sbuf.c - growable, always NUL-terminated byte buffer
 *
 * Used by: everything.
 * Interface: see sbuf.h.
 * Errors: allocation failure is fatal (xrealloc).
 */
#include "sbuf.h"
#include "alloc.h"
#include "log.h"
#include <ctype.h>

struct sbuf *sbuf_new(size_t hint)
{
    struct sbuf *b = xmalloc(sizeof(*b));
    b->cap = hint < 16 ? 16 : hint + 1;
    b->data = xmalloc(b->cap);
    b->len = 0;
    b->data[0] = 0;
    return b;
}

void sbuf_free(struct sbuf *b)
{
    if (b == NULL)
        return;
    xfree(b->data);
    xfree(b);
}

void sbuf_reset(struct sbuf *b)
{
    b->len = 0;
    b->data[0] = 0;
}

void sbuf_reserve(struct sbuf *b, size_t n)
{
    if (n >= SIZE_MAX - b->len - 1)
        log_fatal("sbuf: size overflow");
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap * 2;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->data = xrealloc(b->data, cap);
        b->cap = cap;
    }
}

void sbuf_append(struct sbuf *b, const void *p, size_t n)
{
    sbuf_reserve(b, n);
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = 0;
}

void sbuf_addch(struct sbuf *b, int ch)
{
    if (b->len + 2 > b->cap)
        sbuf_reserve(b, 1);
    b->data[b->len++] = (char)ch;
    b->data[b->len] = 0;
}

void sbuf_cat(struct sbuf *b, const char *s)
{
    sbuf_append(b, s, strlen(s));
}

void sbuf_set(struct sbuf *b, const char *s)
{
    sbuf_reset(b);
    sbuf_cat(b, s);
}

void sbuf_vcatf(struct sbuf *b, const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    size_t room = b->cap - b->len;
    int n = vsnprintf(b->data + b->len, room, fmt, aq);
    va_end(aq);
    if (n < 0) {
        b->data[b->len] = 0;
        return;
    }
    if ((size_t)n >= room) {
        sbuf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    }
    b->len += (size_t)n;
}

const char *sbuf_vformat_small(char *stack, size_t size, struct sbuf **spill, size_t *len,
                               const char *fmt, va_list ap)
{
    va_list aq;
    va_copy(aq, ap);
    int n = vsnprintf(stack, size, fmt, aq);
    va_end(aq);
    *spill = NULL;
    if (n < 0)
        return NULL;
    *len = (size_t)n;
    if ((size_t)n < size)
        return stack;
    *spill = sbuf_new((size_t)n + 1);
    sbuf_vcatf(*spill, fmt, ap);
    *len = sbuf_len(*spill);
    return sbuf_str(*spill);
}

void sbuf_catf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sbuf_vcatf(b, fmt, ap);
    va_end(ap);
}

void sbuf_printf(struct sbuf *b, const char *fmt, ...)
{
    va_list ap;
    sbuf_reset(b);
    va_start(ap, fmt);
    sbuf_vcatf(b, fmt, ap);
    va_end(ap);
}

void sbuf_truncate(struct sbuf *b, size_t n)
{
    if (n < b->len) {
        b->len = n;
        b->data[n] = 0;
    }
}

char *sbuf_detach(struct sbuf *b)
{
    char *s = b->data;
    xfree(b);
    return s;
}

void sbuf_trim(struct sbuf *b)
{
    while (b->len > 0 && isspace((unsigned char)b->data[b->len - 1]))
        b->len--;
    b->data[b->len] = 0;
}
