/*
 * qmqpd_peer.c - who is the QMQP client: address, port and verified name
 *
 * Used by: qmqpd.c at the start of each connection.
 * Interface: qmqpd_peer_init().
 * Errors: lookup failures only leave the name "unknown"; a PTR name that
 *         does not resolve back to the address is logged and not used.
 * Notes: the name matters for qmqpd_authorized_clients entries that are
 *        host or domain names. XXX: smtpd_peer.c makes the same
 *        forward-confirmed lookup; both should move into one lib/ helper
 *        (smtpd is another helper's area during this change).
 */
#include "qmqpd.h"
#include "log.h"
#include "sock.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>
#include <sys/socket.h>

/* A PTR answer is data the client's owner controls: accept only a
 * plausible host name that is not a numeric address. */
static bool qmqpd_peer_valid_name(const char *name)
{
    size_t n = strlen(name), label = 0;
    if (n == 0 || n > 255)
        return false;
    for (const char *p = name; *p; p++) {
        if (*p == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_') || ++label > 63) {
            return false;
        }
    }
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) != 1 && inet_pton(AF_INET6, name, buf) != 1;
}

static bool qmqpd_peer_confirm(const char *name, const char *addr)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return false;
    bool found = false;
    for (struct addrinfo *ai = res; ai && !found; ai = ai->ai_next) {
        char buf[INET6_ADDRSTRLEN];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof(buf), NULL, 0, NI_NUMERICHOST)
            == 0) {
            sock_addr_unmap(buf);
            found = strcasecmp(buf, addr) == 0;
        }
    }
    freeaddrinfo(res);
    return found;
}

void qmqpd_peer_init(struct qmqpd_peer *p, struct stream *client, bool port_logging)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    strlcpy(p->name, "unknown", sizeof(p->name));
    p->port = 0;
    if (getpeername(stream_fd(client), (struct sockaddr *)&ss, &len) < 0
        || (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        strlcpy(p->addr, "127.0.0.1", sizeof(p->addr));
        strlcpy(p->name, "localhost", sizeof(p->name));
    } else {
        char host[INET6_ADDRSTRLEN], serv[16], name[NI_MAXHOST];
        if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv, sizeof(serv),
                        NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
            strlcpy(host, "unknown", sizeof(host));
            strlcpy(serv, "0", sizeof(serv));
        }
        sock_addr_unmap(host);
        strlcpy(p->addr, host, sizeof(p->addr));
        p->port = (int)strtol(serv, NULL, 10);
        if (getnameinfo((struct sockaddr *)&ss, len, name, sizeof(name), NULL, 0, NI_NAMEREQD)
            == 0) {
            if (!qmqpd_peer_valid_name(name))
                log_warn("numeric or malformed hostname: %.100s for %s", name, p->addr);
            else if (!qmqpd_peer_confirm(name, p->addr))
                log_warn("hostname %s does not resolve to address %s", name, p->addr);
            else
                strlcpy(p->name, name, sizeof(p->name));
        }
    }
    bool v6 = strchr(p->addr, ':') != NULL;
    snprintf(p->rfc_addr, sizeof(p->rfc_addr), "%s%s", v6 ? "IPv6:" : "", p->addr);
    if (port_logging)
        snprintf(p->namaddr, sizeof(p->namaddr), "%s[%s]:%d", p->name, p->addr, p->port);
    else
        snprintf(p->namaddr, sizeof(p->namaddr), "%s[%s]", p->name, p->addr);
}
