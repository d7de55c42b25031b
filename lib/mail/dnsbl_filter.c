/*
 * dnsbl_filter.c - match a DNS list's A-record answer against a reply filter
 *
 * Used by: smtpd (reject_rbl_client domain=filter), postscreen
 *          (postscreen_dnsbl_sites domain=filter*weight).
 * Interface: dnsbl_filter_match().
 * Errors: a malformed filter never matches.
 * Notes: the filter matches the answer octet by octet: a number, "[a..b]",
 *        "[a;b;c]" or combinations ("127.0.0.[2..11]",
 *        "127.0.[0..255].[2;4]"), as Postfix's DNSBL reply filters do.
 */
#include "dnsbl_filter.h"
#include <ctype.h>

/* One octet pattern: number, or "[" items "]" with items "a", "a..b"
 * separated by ";". */
static bool dnsbl_filter_octet(const char *pat, size_t len, unsigned val)
{
    if (len == 0)
        return false;
    if (pat[0] != '[') {
        unsigned n = 0;
        for (size_t i = 0; i < len; i++) {
            if (!isdigit((unsigned char)pat[i]) || n > 255)
                return false;
            n = n * 10 + (unsigned)(pat[i] - '0');
        }
        return n == val;
    }
    if (pat[len - 1] != ']')
        return false;
    const char *p = pat + 1, *end = pat + len - 1;
    while (p < end) {
        const char *semi = memchr(p, ';', (size_t)(end - p));
        const char *ie = semi ? semi : end;
        unsigned lo = 0, hi;
        const char *q = p;
        while (q < ie && isdigit((unsigned char)*q))
            lo = lo * 10 + (unsigned)(*q++ - '0');
        hi = lo;
        if (q + 1 < ie && q[0] == '.' && q[1] == '.') {
            q += 2;
            hi = 0;
            while (q < ie && isdigit((unsigned char)*q))
                hi = hi * 10 + (unsigned)(*q++ - '0');
        }
        if (q == ie && val >= lo && val <= hi)
            return true;
        p = ie + 1;
    }
    return false;
}

/* True when the dotted-quad answer matches the filter. */
bool dnsbl_filter_match(const char *filter, const char *answer)
{
    unsigned oct[4];
    if (sscanf(answer, "%u.%u.%u.%u", &oct[0], &oct[1], &oct[2], &oct[3]) != 4)
        return false;
    const char *p = filter;
    for (int i = 0; i < 4; i++) {
        size_t n = 0;
        if (*p == '[') {
            const char *close = strchr(p, ']');
            if (close == NULL)
                return false;
            n = (size_t)(close - p) + 1;
        } else
            n = strcspn(p, ".");
        if (!dnsbl_filter_octet(p, n, oct[i]))
            return false;
        p += n;
        if (i < 3) {
            if (*p != '.')
                return false;
            p++;
        }
    }
    return *p == 0;
}
