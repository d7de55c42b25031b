/*
 * base64.c - base64 (RFC 4648, standard alphabet, padded) without a library
 *
 * Used by: lib/mail/dict_file.c.
 * Interface: see base64.h.
 * Errors: see base64.h.
 */
#include "base64.h"
#include <ctype.h>

static const char base64_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void base64_encode(struct sbuf *out, const void *p, size_t n)
{
    const unsigned char *s = p;
    sbuf_reserve(out, (n + 2) / 3 * 4);
    for (; n >= 3; s += 3, n -= 3) {
        unsigned v = (unsigned)s[0] << 16 | (unsigned)s[1] << 8 | s[2];
        sbuf_addch(out, base64_alpha[v >> 18]);
        sbuf_addch(out, base64_alpha[(v >> 12) & 63]);
        sbuf_addch(out, base64_alpha[(v >> 6) & 63]);
        sbuf_addch(out, base64_alpha[v & 63]);
    }
    if (n > 0) {
        unsigned v = (unsigned)s[0] << 16 | (n > 1 ? (unsigned)s[1] << 8 : 0);
        sbuf_addch(out, base64_alpha[v >> 18]);
        sbuf_addch(out, base64_alpha[(v >> 12) & 63]);
        sbuf_addch(out, n > 1 ? base64_alpha[(v >> 6) & 63] : '=');
        sbuf_addch(out, '=');
    }
}

static int base64_value(int c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int base64_decode(struct sbuf *out, const char *s, size_t n)
{
    unsigned v = 0;
    int have = 0, pad = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (isspace(c))
            continue;
        if (c == '=') {
            if (have < 2)
                return -1;
            pad++;
            have++;
            v <<= 6;
        } else {
            int d = base64_value(c);
            if (d < 0 || pad > 0)
                return -1;  /* outside the alphabet, or data after padding */
            v = v << 6 | (unsigned)d;
            have++;
        }
        if (have == 4) {
            sbuf_addch(out, (int)(v >> 16 & 255));
            if (pad < 2)
                sbuf_addch(out, (int)(v >> 8 & 255));
            if (pad < 1)
                sbuf_addch(out, (int)(v & 255));
            v = 0;
            have = 0;
            if (pad > 0)
                pad = 3;    /* nothing may follow a padded group */
        }
    }
    return have == 0 ? 0 : -1;
}
