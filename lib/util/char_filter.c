/*
 * char_filter.c - the set of characters an expansion may carry
 *
 * Used by: reply_expand.c, local.
 * Interface: see char_filter.h.
 * Errors: none.
 */
#include "char_filter.h"
#include "unescape.h"

void char_filter_init(struct char_filter *f, const char *spec)
{
    struct sbuf *chars = sbuf_new(64);
    memset(f->allowed, 0, sizeof(f->allowed));
    unescape(chars, spec ? spec : "");
    for (size_t i = 0; i < sbuf_len(chars); i++)
        f->allowed[(unsigned char)sbuf_str(chars)[i]] = true;
    sbuf_free(chars);
}

void char_filter_censor(const struct char_filter *f, char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (!f->allowed[*p])
            *p = '_';
}

void char_filter_addch(const struct char_filter *f, struct sbuf *out, int c)
{
    sbuf_addch(out, f->allowed[(unsigned char)c] ? (char)c : '_');
}
