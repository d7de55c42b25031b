/*
 * qmqpd_peer.c - who is the QMQP client: address, port and verified name
 *
 * Used by: qmqpd.c at the start of each connection.
 * Interface: qmqpd_peer_init().
 * Errors: lookup failures only leave the name "unknown"; a PTR name that
 *         does not resolve back to the address is logged and not used.
 * Notes: the name matters for qmqpd_authorized_clients entries that are
 *        host or domain names; the checked lookup is peer_name.c's, as
 *        smtpd's.
 */
#include "qmqpd.h"
#include "peer_name.h"
#include "sock.h"
#include <sys/socket.h>

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
        char host[INET6_ADDRSTRLEN], serv[16];
        if (getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), serv, sizeof(serv),
                        NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
            strlcpy(host, "unknown", sizeof(host));
            strlcpy(serv, "0", sizeof(serv));
        }
        sock_addr_unmap(host);
        strlcpy(p->addr, host, sizeof(p->addr));
        p->port = (int)strtol(serv, NULL, 10);
        peer_name_lookup((struct sockaddr *)&ss, len, p->addr, p->name, sizeof(p->name));
    }
    bool v6 = strchr(p->addr, ':') != NULL;
    snprintf(p->rfc_addr, sizeof(p->rfc_addr), "%s%s", v6 ? "IPv6:" : "", p->addr);
    if (port_logging)
        snprintf(p->namaddr, sizeof(p->namaddr), "%s[%s]:%d", p->name, p->addr, p->port);
    else
        snprintf(p->namaddr, sizeof(p->namaddr), "%s[%s]", p->name, p->addr);
}
