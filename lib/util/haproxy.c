/*
 * haproxy.c - parse the PROXY protocol header (HAProxy versions 1 and 2)
 *
 * Used by: smtpd (smtpd_peer.c).
 * Interface: haproxy_parse().
 * Errors: -1 with a static reason for a malformed header; never logs.
 * Notes: see haproxy.h for the formats. The parser is incremental in the
 *        simplest way: the caller offers the bytes received so far and is
 *        told whether they already make a whole header, cannot be one, or
 *        need more; nothing is kept between calls.
 */
#include "haproxy.h"
#include "sock.h"
#include <arpa/inet.h>
#include <sys/socket.h>

static const unsigned char haproxy_v2_sig[12] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                  0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A };

/* An IPv4-mapped IPv6 address ("::ffff:1.2.3.4") becomes "1.2.3.4". */
static void haproxy_unmap(char *addr, int *family)
{
    if (*family == AF_INET6 && sock_addr_unmap(addr))
        *family = AF_INET;
}

/* Ends a proxied header: both addresses filled in family, mapped IPv4
 * reported as IPv4. */
static void haproxy_proxied(struct haproxy_info *info, int family)
{
    int sfam = family;
    haproxy_unmap(info->client_addr, &family);
    haproxy_unmap(info->server_addr, &sfam);
    info->family = family;
    info->local = false;
}

/* A decimal port 0..65535 without sign, blanks or leading junk. */
static bool haproxy_port(const char *s, size_t n, unsigned *port)
{
    if (n == 0 || n > 5)
        return false;
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > 65535)
        return false;
    *port = v;
    return true;
}

/* A numeric address of the family, into out. */
static bool haproxy_addr(const char *s, size_t n, int family, char *out, size_t size)
{
    unsigned char bin[16];
    if (n == 0 || n >= size)
        return false;
    memcpy(out, s, n);
    out[n] = 0;
    if (inet_pton(family, out, bin) != 1)
        return false;
    /* Canonical text form. */
    return inet_ntop(family, bin, out, (socklen_t)size) != NULL;
}

static ssize_t haproxy_v1(const unsigned char *buf, size_t len, struct haproxy_info *info,
                          const char **why)
{
    const char *s = (const char *)buf;
    const char *lf = memchr(s, '\n', len);
    if (lf == NULL) {
        if (len >= HAPROXY_V1_MAX) {
            *why = "version 1 header line too long";
            return -1;
        }
        return 0;
    }
    size_t total = (size_t)(lf - s) + 1;
    if (total > HAPROXY_V1_MAX) {
        *why = "version 1 header line too long";
        return -1;
    }
    if (total < 2 || lf[-1] != '\r') {
        *why = "version 1 header line does not end in CR LF";
        return -1;
    }
    size_t end = total - 2;         /* text without CR LF */
    if (memchr(s, 0, end) != NULL) {
        *why = "NUL in version 1 header";
        return -1;
    }
    /* Split into at most 6 single-space separated fields. */
    const char *f[6];
    size_t fl[6], nf = 0, i = 0;
    while (i < end && nf < 6) {
        size_t j = i;
        while (j < end && s[j] != ' ')
            j++;
        f[nf] = s + i;
        fl[nf++] = j - i;
        i = j < end ? j + 1 : j;
    }
    if (nf >= 2 && fl[1] == 7 && memcmp(f[1], "UNKNOWN", 7) == 0) {
        info->local = true;     /* the rest of the line is ignored */
        return (ssize_t)total;
    }
    if (nf != 6 || i != end) {
        *why = "version 1 header has the wrong number of fields";
        return -1;
    }
    int family;
    if (fl[1] == 4 && memcmp(f[1], "TCP4", 4) == 0)
        family = AF_INET;
    else if (fl[1] == 4 && memcmp(f[1], "TCP6", 4) == 0)
        family = AF_INET6;
    else {
        *why = "version 1 header: unsupported protocol";
        return -1;
    }
    if (!haproxy_addr(f[2], fl[2], family, info->client_addr, sizeof(info->client_addr))
        || !haproxy_addr(f[3], fl[3], family, info->server_addr, sizeof(info->server_addr))) {
        *why = "version 1 header: bad address";
        return -1;
    }
    if (!haproxy_port(f[4], fl[4], &info->client_port)
        || !haproxy_port(f[5], fl[5], &info->server_port)) {
        *why = "version 1 header: bad port";
        return -1;
    }
    haproxy_proxied(info, family);
    return (ssize_t)total;
}

static ssize_t haproxy_v2(const unsigned char *buf, size_t len, struct haproxy_info *info,
                          const char **why)
{
    if (len < 16)
        return 0;
    unsigned ver = buf[12] >> 4, cmd = buf[12] & 0x0f, fam = buf[13];
    size_t alen = ((size_t)buf[14] << 8) | buf[15];
    size_t total = 16 + alen;
    if (ver != 2) {
        *why = "unsupported version 2 header version";
        return -1;
    }
    if (cmd > 1) {
        *why = "version 2 header: unsupported command";
        return -1;
    }
    if (total > HAPROXY_MAX_LEN) {
        *why = "version 2 header too long";
        return -1;
    }
    if (len < total)
        return 0;
    if (cmd == 0 || fam == 0x00) {      /* LOCAL, or UNSPEC */
        info->local = true;
        return (ssize_t)total;
    }
    /* Both address blocks: client address, server address, client port,
     * server port, in network byte order. */
    static const struct {
        unsigned char fam;
        int family;
        size_t alen;
        const char *short_why;
    } blocks[] = {
        { 0x11, AF_INET, 4, "version 2 header: short IPv4 address block" },
        { 0x21, AF_INET6, 16, "version 2 header: short IPv6 address block" },
    };
    size_t b = 0;
    while (b < ARRAY_LEN(blocks) && blocks[b].fam != fam)
        b++;
    if (b == ARRAY_LEN(blocks)) {
        *why = "version 2 header: unsupported address family or protocol";
        return -1;
    }
    size_t n = blocks[b].alen;
    if (alen < 2 * n + 4) {
        *why = blocks[b].short_why;
        return -1;
    }
    const unsigned char *a = buf + 16, *ports = a + 2 * n;
    inet_ntop(blocks[b].family, a, info->client_addr, sizeof(info->client_addr));
    inet_ntop(blocks[b].family, a + n, info->server_addr, sizeof(info->server_addr));
    info->client_port = ((unsigned)ports[0] << 8) | ports[1];
    info->server_port = ((unsigned)ports[2] << 8) | ports[3];
    haproxy_proxied(info, blocks[b].family);
    return (ssize_t)total;
}

ssize_t haproxy_parse(const unsigned char *buf, size_t len, struct haproxy_info *info,
                      const char **why)
{
    static const char v1_sig[] = "PROXY ";
    memset(info, 0, sizeof(*info));
    *why = NULL;
    size_t n1 = len < 6 ? len : 6, n2 = len < 12 ? len : 12;
    bool v1 = memcmp(buf, v1_sig, n1) == 0, v2 = memcmp(buf, haproxy_v2_sig, n2) == 0;
    if (!v1 && !v2) {
        *why = "not a PROXY protocol header";
        return -1;
    }
    if (len < 6 || (v2 && len < 12))
        return 0;
    return v1 ? haproxy_v1(buf, len, info, why) : haproxy_v2(buf, len, info, why);
}
