/*
 * unescape.c - C-like escapes in configuration values
 *
 * Used by: see unescape.h.
 * Interface: see unescape.h.
 * Errors: none.
 */
#include "unescape.h"

void unescape(struct sbuf *out, const char *s)
{
    static const char named[] = "a\ab\bf\fn\nr\rt\tv\v";
    sbuf_reset(out);
    while (*s) {
        if (*s != '\\' || s[1] == 0) {
            sbuf_addch(out, *s++);
            continue;
        }
        s++;
        const char *n = strchr(named, *s);
        if (n && (n - named) % 2 == 0) {
            sbuf_addch(out, n[1]);
            s++;
        } else if (*s >= '0' && *s <= '7') {
            int v = 0;
            for (int i = 0; i < 3 && *s >= '0' && *s <= '7'; i++)
                v = v * 8 + (*s++ - '0');
            sbuf_addch(out, (char)(v & 0xff));
        } else
            sbuf_addch(out, *s++);      /* \\ and any other character */
    }
}
