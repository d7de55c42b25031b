/*
 * smtpd_peer.c - who is the client: address, port and verified name
 *
 * Used by: smtpd.c at the start of each session.
 * Interface: smtpd_peer_init().
 * Errors: lookup failures only make the name "unknown"; a name whose
 *         forward lookup does not give the address back is logged and not
 *         trusted (Postfix's "does not resolve to address" check).
 * Notes: smtpd_peername_lookup = no skips DNS entirely. A stream that is
 *        not a socket (smtpd -S on a pipe) is treated as localhost[127.0.0.1].
 *        With smtpd_upstream_proxy_protocol = haproxy the connection comes
 *        from a proxy and starts with a PROXY header (version 1 or 2, read
 *        within smtpd_upstream_proxy_timeout) that names the real client:
 *        that address is the client for logs, restrictions ($mynetworks),
 *        limits and the Received: header. A missing or malformed header is
 *        logged ("haproxy read: ...") and the session ends before the
 *        greeting, with the client "unknown[unknown]", as in Postfix.
 *        On a master.cf "pass" service (behind postscreen) the client is
 *        the address the sender passed with the descriptor (pass_fd.h).
 */
#include "smtpd.h"
#include "config.h"
#include "events.h"
#include "haproxy.h"
#include "log.h"
#include "pass_fd.h"
#include "peer_name.h"
#include "server.h"
#include "sock.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

/* Fills addr, port and (with smtpd_peername_lookup) the verified name from
 * a TCP endpoint. */
static void smtpd_peer_from_sockaddr(struct smtpd_state *st, const struct sockaddr *sa,
                                     socklen_t len)
{
    char host[INET6_ADDRSTRLEN], serv[16];
    if (getnameinfo(sa, len, host, sizeof(host), serv, sizeof(serv),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0)
        strlcpy(host, "unknown", sizeof(host));
    /* Report IPv4-mapped IPv6 clients as IPv4. */
    sock_addr_unmap(host);
    strlcpy(st->addr, host, sizeof(st->addr));
    st->port = (int)strtol(serv, NULL, 10);
    if (smtpd_cfg.peername_lookup)
        peer_name_lookup(sa, len, st->addr, st->name, sizeof(st->name));
}

/* The client is the numeric address addr, port port (from a PROXY header
 * or a pass service's sender). False when addr is not numeric. */
static bool smtpd_peer_from_text(struct smtpd_state *st, const char *addr, unsigned port)
{
    struct sockaddr_storage cs;
    socklen_t cl;
    memset(&cs, 0, sizeof(cs));
    if (strchr(addr, ':') == NULL) {
        struct sockaddr_in *in = (struct sockaddr_in *)&cs;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, addr, &in->sin_addr) != 1)
            return false;
        cl = sizeof(*in);
    } else {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&cs;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, addr, &in6->sin6_addr) != 1)
            return false;
        cl = sizeof(*in6);
    }
    smtpd_peer_from_sockaddr(st, (struct sockaddr *)&cs, cl);
    return true;
}

/* Reads the PROXY header within smtpd_upstream_proxy_timeout. True with
 * info filled, false (after a warning) on a bad or missing header. */
static bool smtpd_peer_read_proxy(struct smtpd_state *st, struct haproxy_info *info)
{
    unsigned char buf[HAPROXY_MAX_LEN];
    size_t len = 0;
    double deadline = event_now() + smtpd_cfg.proxy_timeout;
    const char *why = NULL;
    bool ok = false;
    for (;;) {
        double left = deadline - event_now();
        if (left <= 0) {
            why = "timeout error";
            break;
        }
        stream_set_timeout(st->client, (int)left + 1);
        int c = stream_getc(st->client);
        if (c < 0) {
            why = stream_error(st->client) == STREAM_E_TIMEOUT ? "timeout error"
                                                                : "lost connection";
            break;
        }
        buf[len++] = (unsigned char)c;
        ssize_t r = haproxy_parse(buf, len, info, &why);
        if (r > 0) {
            ok = true;
            break;
        }
        if (r < 0)
            break;
        if (len >= sizeof(buf)) {
            why = "header too long";
            break;
        }
    }
    stream_set_timeout(st->client, smtpd_cfg.timeout);
    if (!ok)
        log_warn("haproxy read: %s", why ? why : "malformed header");
    return ok;
}

bool smtpd_peer_init(struct smtpd_state *st)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    int fd = stream_fd(st->client);
    bool ok = true;

    strlcpy(st->name, "unknown", sizeof(st->name));
    bool tcp = getpeername(fd, (struct sockaddr *)&ss, &len) == 0
               && (ss.ss_family == AF_INET || ss.ss_family == AF_INET6);
    st->peer_tcp = tcp ? 1 : 2;     /* for smtpd_limits: no second getpeername */
    if (!tcp) {
        strlcpy(st->addr, "127.0.0.1", sizeof(st->addr));
        strlcpy(st->name, "localhost", sizeof(st->name));
        st->port = 0;
    } else if (smtpd_cfg.proxy_protocol) {
        /* The endpoint is the proxy; the header names the real client. */
        struct haproxy_info info;
        if (!smtpd_peer_read_proxy(st, &info)) {
            /* As Postfix: nothing is known about the client; hang up. */
            strlcpy(st->addr, "unknown", sizeof(st->addr));
            st->port = 0;
            ok = false;
        } else if (info.local) {
            smtpd_peer_from_sockaddr(st, (struct sockaddr *)&ss, len);
        } else if (!smtpd_peer_from_text(st, info.client_addr, info.client_port)) {
            strlcpy(st->addr, "unknown", sizeof(st->addr));
            ok = false;
        }
    } else if (server_pass_attr(PASS_ATTR_CLIENT_ADDRESS) != NULL) {
        /* Handed over by postscreen: its idea of the client (after its own
         * PROXY header, the real one) is authoritative. */
        long port = 0;
        const char *p = server_pass_attr(PASS_ATTR_CLIENT_PORT);
        if (p == NULL || !config_parse_long(p, &port) || port < 0 || port > 65535
            || !smtpd_peer_from_text(st, server_pass_attr(PASS_ATTR_CLIENT_ADDRESS),
                                     (unsigned)port))
            smtpd_peer_from_sockaddr(st, (struct sockaddr *)&ss, len);
    } else
        smtpd_peer_from_sockaddr(st, (struct sockaddr *)&ss, len);
    if (strchr(st->addr, ':'))
        snprintf(st->rfc_addr, sizeof(st->rfc_addr), "IPv6:%s", st->addr);
    else
        strlcpy(st->rfc_addr, st->addr, sizeof(st->rfc_addr));
    smtpd_peer_namaddr(st);
    return ok;
}

void smtpd_peer_namaddr(struct smtpd_state *st)
{
    if (smtpd_cfg.client_port_logging)
        snprintf(st->namaddr, sizeof(st->namaddr), "%s[%s]:%d", st->name, st->addr, st->port);
    else
        snprintf(st->namaddr, sizeof(st->namaddr), "%s[%s]", st->name, st->addr);
}
