/*
 * netstring.c - read and write netstrings on a stream
 *
 * Used by: qmqpd.
 * Interface: see netstring.h.
 * Errors: see netstring.h; nothing is logged here (the caller knows where
 *         in its protocol the error happened).
 */
#include "netstring.h"
#include <limits.h>

#define NETSTRING_MAX_DIGITS 20

ssize_t netstring_get_len(struct stream *s, size_t limit)
{
    size_t len = 0;
    int digits = 0;
    for (;;) {
        int c = stream_getc(s);
        if (c < 0)
            return c;
        if (c == ':')
            return digits ? (ssize_t)len : NETSTRING_E_FORMAT;
        if (c < '0' || c > '9' || ++digits > NETSTRING_MAX_DIGITS)
            return NETSTRING_E_FORMAT;
        if (digits == 2 && len == 0)    /* "extra zeros at the front are prohibited" */
            return NETSTRING_E_FORMAT;
        if (len > (SSIZE_MAX - 9) / 10)
            return NETSTRING_E_SIZE;
        len = len * 10 + (size_t)(c - '0');
        if (len > limit)
            return NETSTRING_E_SIZE;
    }
}

int netstring_get_data(struct stream *s, size_t len, struct sbuf *out)
{
    char buf[8192];
    sbuf_reset(out);
    while (len > 0) {
        size_t n = len < sizeof(buf) ? len : sizeof(buf);
        ssize_t r = stream_read(s, buf, n);
        if (r < 0)
            return (int)r;
        sbuf_append(out, buf, n);
        len -= n;
    }
    int c = stream_getc(s);
    if (c < 0)
        return c;
    return c == ',' ? 0 : NETSTRING_E_FORMAT;
}

ssize_t netstring_get(struct stream *s, struct sbuf *out, size_t limit)
{
    ssize_t len = netstring_get_len(s, limit);
    if (len < 0)
        return len;
    int r = netstring_get_data(s, (size_t)len, out);
    return r < 0 ? r : len;
}

int netstring_put(struct stream *s, const void *data, size_t len)
{
    int r = stream_printf(s, "%zu:", len);
    if (r == 0 && len > 0)
        r = stream_write(s, data, len);
    if (r == 0)
        r = stream_write(s, ",", 1);
    return r;
}

const char *netstring_strerror(int err)
{
    switch (err) {
    case NETSTRING_E_FORMAT:
        return "netstring format error";
    case NETSTRING_E_SIZE:
        return "netstring length exceeds storage limit";
    case STREAM_E_EOF:
        return "lost connection";
    case STREAM_E_TIMEOUT:
        return "read/write timeout";
    default:
        return stream_strerror(err);
    }
}
