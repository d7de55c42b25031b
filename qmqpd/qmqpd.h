/*
 * qmqpd.h - the QMQP server's private interface
 *
 * Used by: qmqpd.c, qmqpd_peer.c.
 * Interface: struct qmqpd_peer, qmqpd_peer_init().
 */
#ifndef POSTERN_QMQPD_H
#define POSTERN_QMQPD_H
#include "sys_compat.h"
#include "stream.h"
#include <netdb.h>

/* Who the client is. name is "unknown" unless the address has a PTR name
 * that forward-resolves to the address again. */
struct qmqpd_peer {
    char addr[64];          /* numeric address */
    char rfc_addr[72];      /* as in a Received: header: IPv6:... for IPv6 */
    char name[NI_MAXHOST];  /* verified name or "unknown" */
    int port;
    char namaddr[NI_MAXHOST + 96];  /* name[addr] or name[addr]:port for logs */
};

/* Fills p from the connected socket; port logging as configured. A stream
 * that is not a TCP socket (qmqpd -S) is localhost[127.0.0.1]. */
void qmqpd_peer_init(struct qmqpd_peer *p, struct stream *client, bool port_logging);

#endif
