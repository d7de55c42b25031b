/*
 * pass_fd.h - hand an accepted SMTP connection to a master.cf "pass" service
 *
 * Used by: postscreen (sender: passes a client that passed its tests to the
 *          smtpd pass service), lib/server/server.c (receiver: every
 *          program run as a type "pass" service).
 * Interface: pass_fd_send(), pass_fd_request(), pass_fd_reply(),
 *            pass_fd_receive().
 * Errors: -1 after logging one warning; the caller closes what it owns.
 * Notes: the protocol (docs/postscreen.md): the sender connects to the pass
 *        service's UNIX socket and sends one byte 'P' carrying the client's
 *        TCP descriptor (SCM_RIGHTS, sock_send_fd()), then one attribute
 *        list (lib/util/attr.h framing) naming the client and server
 *        endpoints as the sender saw them (client_address, client_port,
 *        server_address, server_port: after a PROXY header these differ
 *        from getpeername()). The receiver answers "status=0" and both
 *        sides close the UNIX connection; the receiver then serves the TCP
 *        descriptor as if it had accepted it itself.
 */
#ifndef POSTERN_PASS_FD_H
#define POSTERN_PASS_FD_H
#include "sys_compat.h"
#include "attr.h"

#define PASS_FD_BYTE 'P'
#define PASS_ATTR_CLIENT_ADDRESS "client_address"
#define PASS_ATTR_CLIENT_PORT "client_port"
#define PASS_ATTR_SERVER_ADDRESS "server_address"
#define PASS_ATTR_SERVER_PORT "server_port"
#define PASS_ATTR_STATUS "status"

/* Sends fd to the pass service whose socket is at path (relative to the
 * queue directory or absolute), with the endpoint attributes in attrs,
 * and waits at most timeout seconds in all for the answer. 0 when the
 * receiver took the descriptor (the caller then closes its copy), -1 (logged). */
int pass_fd_send(const char *path, int fd, const struct attr_list *attrs, int timeout);

/* The first half of pass_fd_send() for an event loop: connects, sends fd
 * and attrs, and returns the connection (blocking, close-on-exec) on which
 * the answer will come, or -1 (logged). The caller keeps its copy of fd
 * until the answer. */
int pass_fd_request(const char *path, int fd, const struct attr_list *attrs, int timeout);
/* Checks the answer collected so far (len bytes at buf): 1 the receiver
 * took the descriptor, 0 incomplete, -1 refused or malformed. */
int pass_fd_reply(const char *buf, size_t len);

/* Receiver side on a connection just accepted on a pass listener: reads the
 * descriptor and the attributes into attrs (reset first), answers, and
 * closes conn. Returns the received descriptor (close-on-exec), or -1 (logged). */
int pass_fd_receive(int conn, struct attr_list *attrs, int timeout);

#endif
