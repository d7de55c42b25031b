/*
 * haproxy.h - parse the PROXY protocol header (HAProxy versions 1 and 2)
 *
 * Used by: smtpd (smtpd_upstream_proxy_protocol = haproxy); later postscreen.
 * Interface: haproxy_parse().
 * Errors: a malformed header is reported with a short reason; no logging.
 * Notes: the header comes first on a connection accepted from a proxy that
 *        speaks it (HAProxy "send-proxy" / "send-proxy-v2", nginx, cloud
 *        load balancers). Version 1 is one text line, at most 107 bytes:
 *          "PROXY TCP4|TCP6 client server client-port server-port\r\n"
 *          or "PROXY UNKNOWN ...\r\n".
 *        Version 2 is binary: a 12-byte signature, a version/command byte
 *        (0x21 PROXY, 0x20 LOCAL), a family/protocol byte (0x11 TCP over
 *        IPv4, 0x21 TCP over IPv6, 0x00 unspecified), a 16-bit big-endian
 *        length, then the addresses and ports and optional TLVs (ignored).
 *        LOCAL, UNKNOWN and the unspecified family mean "not proxied" (a
 *        health check): the caller keeps the socket's own endpoints. UDP and
 *        UNIX-socket families are refused. An IPv4-mapped IPv6 address is
 *        reported as IPv4.
 */
#ifndef POSTERN_HAPROXY_H
#define POSTERN_HAPROXY_H
#include "sys_compat.h"
#include <netinet/in.h>

#define HAPROXY_V1_MAX 107          /* longest version 1 line, CR LF included */
#define HAPROXY_MAX_LEN (16 + 1024) /* longest version 2 header we accept */

struct haproxy_info {
    bool local;                         /* not proxied: use the socket's endpoints */
    int family;                         /* AF_INET or AF_INET6 (when !local) */
    char client_addr[INET6_ADDRSTRLEN]; /* numeric */
    char server_addr[INET6_ADDRSTRLEN];
    unsigned client_port, server_port;
};

/* Parses the header at the start of buf, of which len bytes have arrived.
 * Returns the header's length (> 0) when it is complete and valid (info
 * filled), 0 when more bytes are needed to decide, -1 when it is malformed
 * (*why set to a static reason). Never reads past buf + len. */
ssize_t haproxy_parse(const unsigned char *buf, size_t len, struct haproxy_info *info,
                      const char **why);

#endif
