/*
 * sock.h - UNIX-domain and TCP socket helpers
 *
 * Used by: master (listeners), every IPC client, smtp client, tools.
 * Interface: sock_unix_listen(), sock_unix_dgram_listen(), sock_unix_connect(),
 *            sock_unix_connect_nb(),
 *            sock_inet_listen(), sock_inet_connect(), sock_trigger(),
 *            sock_set_windowsize(),
 *            sock_set_nonblock(), sock_peer_addr(), sock_local_addr(),
 *            sock_addr_unmap(), sock_send_fd(), sock_recv_fd().
 * Errors: -1 with errno; no logging.
 */
#ifndef POSTERN_SOCK_H
#define POSTERN_SOCK_H
#include "sys_compat.h"
#include <sys/socket.h>

/* Creates a listening stream socket at path (removing a stale one). The
 * file is created with exactly the bits of mode (set through the umask at
 * bind time, never chmod by name) and the caller's effective uid/gid. */
int sock_unix_listen(const char *path, int backlog, int mode);
/* Creates a datagram socket bound at path, mode and owner as above. */
int sock_unix_dgram_listen(const char *path, int mode);
/* Connects to a stream socket; waits at most timeout seconds. Blocking fd. */
int sock_unix_connect(const char *path, int timeout);
/* The same, but the fd is non-blocking (for stream_open_nonblock): two
 * system calls when the listener has room (socket, connect) instead of
 * six; a full listen queue is waited for as above. */
int sock_unix_connect_nb(const char *path, int timeout);
/* Binds host:port (host "" or NULL = all, or an IPv4/IPv6 literal or name).
 * windowsize > 0 sets the socket's buffer sizes before listen() (see
 * sock_set_windowsize; accepted connections inherit them); a failure to set
 * them does not fail the listener (XXX: not reported: no logging here, and
 * Linux clamps rather than refuses a size). */
int sock_inet_listen(const char *host, const char *port, int backlog, int windowsize);
/* Connects to host:port with a timeout; returns a blocking fd. */
int sock_inet_connect(const char *host, const char *port, int timeout);
/* Writes one trigger byte to the FIFO or stream socket at path without
 * waiting long. Writes to nothing but a FIFO or a socket (the file is
 * opened first, then checked with fstat) and does not follow a symlink at
 * path, except that a path that was a socket at the previous call is
 * connected to directly (as mail_connect() would: callers run as
 * mail_owner, who alone can replace what is in public/ and private/). */
int sock_trigger(const char *path, char byte);
/* As sock_trigger(), but the connection to a socket stays open for the
 * next call with the same path (one per process; a server keeps it and
 * reads every later byte from it: lib/server). Bytes that find the
 * connection's buffer full are dropped: the unread ones wake the server
 * as well. A server that has gone away is connected to again once. */
int sock_trigger_held(const char *path, char byte);
int sock_set_nonblock(int fd, bool on);
/* tcp_windowsize: sets both SO_SNDBUF and SO_RCVBUF to size (> 0), before
 * connect() or listen(), so that the TCP window offered stays below what
 * needs window scaling (a workaround for routers that break it). The
 * kernel may round the size (Linux doubles it and keeps a small minimum).
 * 0, or -1 with errno after the first setsockopt that failed (both are
 * tried). */
int sock_set_windowsize(int fd, int size);
/* Fills buf with the peer's numeric address and *port; 0 or -1. For UNIX
 * sockets returns "127.0.0.1"-less "local" marker "unix" with port 0. */
int sock_peer_addr(int fd, char *buf, size_t len, int *port);
int sock_local_addr(int fd, char *buf, size_t len, int *port);
/* Rewrites an IPv4-mapped IPv6 address in text form ("::ffff:192.0.2.1")
 * as the IPv4 address it carries, in place. True when it did. */
bool sock_addr_unmap(char *addr);
/* Descriptor passing over a UNIX stream socket: sends one data byte with
 * fd attached (fd < 0: the byte alone), waiting at most timeout seconds.
 * The receiver must read that byte with sock_recv_fd(), never through a
 * buffered stream, or the descriptor is lost: protocols send it only when
 * the receiver has nothing else unread. 0 or -1 with errno. */
int sock_send_fd(int sock, int fd, char byte, int timeout);
/* Receives one byte and the descriptor sent with it (*fd = -1 when none;
 * close-on-exec set). 0, or -1 with errno (ECONNRESET at end of file). */
int sock_recv_fd(int sock, char *byte, int *fd, int timeout);

#endif
