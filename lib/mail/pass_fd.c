/*
 * pass_fd.c - hand an accepted SMTP connection to a master.cf "pass" service
 *
 * Used by: postscreen (pass_fd_request, pass_fd_reply), lib/server/server.c
 *          (pass_fd_receive); pass_fd_send for callers that may wait.
 * Interface: see pass_fd.h.
 * Errors: -1 after one log_warn; descriptors the function opened are closed.
 * Notes: the descriptor travels with the first byte, before any buffered
 *        stream exists on the receiving side, so it cannot be lost in a
 *        read-ahead buffer (see sock_recv_fd()).
 */
#include "pass_fd.h"
#include "log.h"
#include "sock.h"
#include "stream.h"

int pass_fd_request(const char *path, int fd, const struct attr_list *attrs, int timeout)
{
    int conn = sock_unix_connect(path, timeout);
    if (conn < 0) {
        log_warn("connect to pass service %s: %m", path);
        return -1;
    }
    if (sock_send_fd(conn, fd, PASS_FD_BYTE, timeout) < 0) {
        log_warn("send connection to pass service %s: %m", path);
        close(conn);
        return -1;
    }
    struct stream *s = stream_open(conn);
    stream_set_timeout(s, timeout);
    int w = attr_write(s, attrs);
    if (w < 0)
        log_warn("pass service %s: write: %s", path, stream_strerror(stream_error(s)));
    stream_free_keep_fd(s);
    if (w < 0) {
        close(conn);
        return -1;
    }
    return conn;
}

int pass_fd_reply(const char *buf, size_t len)
{
    struct attr_list *reply = attr_list_new();
    size_t used = 0;
    long status = -1;
    int r = attr_decode(buf, len, reply, &used);
    if (r == 1 && (attr_get_long(reply, PASS_ATTR_STATUS, &status) < 0 || status != 0))
        r = -1;
    attr_list_free(reply);
    return r == 1 ? 1 : r == 0 ? 0 : -1;
}

int pass_fd_send(const char *path, int fd, const struct attr_list *attrs, int timeout)
{
    int conn = pass_fd_request(path, fd, attrs, timeout);
    if (conn < 0)
        return -1;
    struct stream *s = stream_open(conn);
    stream_set_timeout(s, timeout);
    struct attr_list *reply = attr_list_new();
    int ret = -1;
    long status = -1;
    if (attr_read(s, reply) < 0 || attr_get_long(reply, PASS_ATTR_STATUS, &status) < 0)
        log_warn("pass service %s: no valid answer", path);
    else if (status != 0)
        log_warn("pass service %s refused the connection (status %ld)", path, status);
    else
        ret = 0;
    attr_list_free(reply);
    stream_close(s);
    return ret;
}

int pass_fd_receive(int conn, struct attr_list *attrs, int timeout)
{
    char byte = 0;
    int fd = -1;
    attr_list_reset(attrs);
    sock_set_nonblock(conn, false);
    if (sock_recv_fd(conn, &byte, &fd, timeout) < 0) {
        log_warn("pass connection: receive descriptor: %m");
        close(conn);
        return -1;
    }
    if (fd < 0 || byte != PASS_FD_BYTE) {
        log_warn("pass connection: %s", fd < 0 ? "no descriptor attached" : "bad request byte");
        if (fd >= 0)
            close(fd);
        close(conn);
        return -1;
    }
    struct stream *s = stream_open(conn);
    stream_set_timeout(s, timeout);
    if (attr_read(s, attrs) < 0) {
        log_warn("pass connection: bad attribute list: %s", stream_strerror(stream_error(s)));
        stream_close(s);
        close(fd);
        return -1;
    }
    /* The sender closes its copy only after this answer; a lost answer
     * loses nothing but that one client. */
    attr_send(s, PASS_ATTR_STATUS, "0", (char *)NULL);
    stream_close(s);
    return fd;
}
