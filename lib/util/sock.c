/*
 * sock.c - UNIX-domain and TCP socket helpers
 *
 * Used by: master, IPC clients, smtp client, tools.
 * Interface: see sock.h.
 * Errors: -1 with errno set.
 */
#include "sock.h"
#include "log.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <strings.h>

static int sock_unix_addr(struct sockaddr_un *sun, const char *path)
{
    memset(sun, 0, sizeof(*sun));
    sun->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun->sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun->sun_path, path, strlen(path));
    return 0;
}

int sock_set_nonblock(int fd, bool on)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0)
        return -1;
    int want = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
    return want == fl ? 0 : fcntl(fd, F_SETFL, want);
}

/*
 * Binds fd to sun with exactly the permission bits mode: the kernel creates
 * the socket file under a umask that leaves just those bits, so there is no
 * moment with other bits and no chmod by name afterwards (a name another
 * uid could have swapped by then). The owner is the caller's effective
 * uid and gid.
 */
static int sock_bind_mode(int fd, const struct sockaddr_un *sun, int mode)
{
    mode_t old = umask((mode_t)(~mode & 0777));
    int r = bind(fd, (const struct sockaddr *)sun, sizeof(*sun));
    int e = errno;
    umask(old);
    errno = e;
    return r;
}

int sock_unix_listen(const char *path, int backlog, int mode)
{
    struct sockaddr_un sun;
    if (sock_unix_addr(&sun, path) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(path);
    if (sock_bind_mode(fd, &sun, mode) < 0 || listen(fd, backlog) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int sock_unix_dgram_listen(const char *path, int mode)
{
    struct sockaddr_un sun;
    if (sock_unix_addr(&sun, path) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    unlink(path);
    if (sock_bind_mode(fd, &sun, mode) < 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    int size = 4 * 1024 * 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    return fd;
}

/* Finishes a non-blocking connect within timeout seconds. */
static int sock_wait_connect(int fd, int timeout)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int n;
    do
        n = log_poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
    while (n < 0 && errno == EINTR);
    if (n == 0) {
        errno = ETIMEDOUT;
        return -1;
    }
    if (n < 0)
        return -1;
    int err = 0;
    socklen_t len = sizeof(err);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
        return -1;
    if (err) {
        errno = err;
        return -1;
    }
    return 0;
}

/*
 * A UNIX-domain connect never "progresses" in the background: when the
 * listener's backlog is full a non-blocking connect fails with EAGAIN and
 * leaves the socket unconnected (poll() then reports it writable at once).
 * So connect in blocking mode and let the kernel wait for room in the
 * backlog, bounded by SO_SNDTIMEO; running out of time is ETIMEDOUT.
 */
int sock_unix_connect(const char *path, int timeout)
{
    struct sockaddr_un sun;
    if (sock_unix_addr(&sun, path) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = { .tv_sec = timeout > 0 ? timeout : 0 };
    if (timeout > 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int r;
    do
        r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno == EAGAIN ? ETIMEDOUT : errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (timeout > 0) {
        tv.tv_sec = 0;
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    }
    return fd;
}

int sock_unix_connect_nb(const char *path, int timeout)
{
    struct sockaddr_un sun;
    if (sock_unix_addr(&sun, path) < 0)
        return -1;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int r;
    do
        r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
    while (r < 0 && errno == EINTR);
    if (r == 0)
        return fd;
    int e = errno;
    close(fd);
    if (e != EAGAIN) {
        errno = e;
        return -1;
    }
    /* The listen queue is full: wait for room, at most timeout seconds. */
    fd = sock_unix_connect(path, timeout);
    if (fd >= 0 && sock_set_nonblock(fd, true) < 0) {
        e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int sock_set_windowsize(int fd, int size)
{
    int rc = 0, e = 0;
    if (size <= 0) {
        errno = EINVAL;
        return -1;
    }
    if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size)) < 0)
        rc = -1, e = errno;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)) < 0 && rc == 0)
        rc = -1, e = errno;
    if (rc < 0)
        errno = e;
    return rc;
}

int sock_inet_listen(const char *host, const char *port, int backlog, int windowsize)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_PASSIVE };
    struct addrinfo *res;
    if (host && (*host == 0 || strcmp(host, "*") == 0))
        host = NULL;
    if (host == NULL)
        hints.ai_family = AF_INET;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd < 0)
            continue;
        int on = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (windowsize > 0)
            (void)sock_set_windowsize(fd, windowsize);
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) == 0 && listen(fd, backlog) == 0)
            break;
        int e = errno;
        close(fd);
        errno = e;
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

int sock_inet_connect(const char *host, const char *port, int timeout)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM };
    struct addrinfo *res;
    if (getaddrinfo(host, port, &hints, &res) != 0) {
        errno = EHOSTUNREACH;
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ||
            (errno == EINPROGRESS && sock_wait_connect(fd, timeout) == 0)) {
            sock_set_nonblock(fd, false);
            int on = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
            break;
        }
        int e = errno;
        close(fd);
        errno = e;
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

/* The last trigger path found to be a socket (cleanup triggers qmgr once
 * per message): connected to at once next time. connect() itself reaches
 * nothing but a listening socket, and anything else there now fails it,
 * after which the path is looked at afresh. */
static char sock_path[108];

int sock_trigger(const char *path, char byte)
{
    int fd;
    if (strcmp(path, sock_path) == 0) {
        fd = sock_unix_connect_nb(path, 2);
        if (fd >= 0) {
            ssize_t n = write(fd, &byte, 1);
            close(fd);
            return n == 1 ? 0 : -1;
        }
        sock_path[0] = 0;
    }
    /* Open first, then look at what was opened: a FIFO gets the byte, a
     * socket (open fails with ENXIO) gets a connection. O_NOFOLLOW and
     * O_NONBLOCK keep a swapped-in symlink or FIFO without reader from
     * redirecting or blocking us; anything else is refused. */
    fd = open(path, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
    if (fd >= 0) {
        struct stat st;
        if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
            close(fd);
            errno = EPERM;
            return -1;
        }
    } else if (errno == ENXIO) {
        struct stat st;
        /* ENXIO is also a FIFO without a reader: nothing to wake then. */
        if (lstat(path, &st) == 0 && S_ISFIFO(st.st_mode))
            return -1;
        fd = sock_unix_connect(path, 2);
        if (fd < 0)
            return -1;
        if (strlen(path) < sizeof(sock_path))
            strlcpy(sock_path, path, sizeof(sock_path));
    } else
        return -1;
    ssize_t n = write(fd, &byte, 1);
    close(fd);
    return n == 1 ? 0 : -1;
}

int sock_trigger_held(const char *path, char byte)
{
    static int held = -1;
    static char held_path[sizeof(sock_path)];
    if (held >= 0 && strcmp(path, held_path) != 0) {
        close(held);
        held = -1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (held < 0) {
            /* Only a path a one-shot trigger has found to be a socket. */
            if (strcmp(path, sock_path) != 0 || (held = sock_unix_connect_nb(path, 2)) < 0)
                return sock_trigger(path, byte);
            strlcpy(held_path, path, sizeof(held_path));
        }
        ssize_t n = send(held, &byte, 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        /* Full: the server has bytes from us it has not read yet, and
         * they wake it as this one would have. */
        if (n == 1 || (n < 0 && errno == EAGAIN))
            return 0;
        close(held);    /* the server went away or let us go: a new one */
        held = -1;
    }
    return -1;
}

static int sock_addr_str(struct sockaddr_storage *ss, char *buf, size_t len, int *port)
{
    if (ss->ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, buf, (socklen_t)len);
        *port = ntohs(in->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, (socklen_t)len);
        else
            inet_ntop(AF_INET6, &in6->sin6_addr, buf, (socklen_t)len);
        *port = ntohs(in6->sin6_port);
    } else {
        strlcpy(buf, "unix", len);
        *port = 0;
    }
    return 0;
}

int sock_peer_addr(int fd, char *buf, size_t len, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    return sock_addr_str(&ss, buf, len, port);
}

int sock_local_addr(int fd, char *buf, size_t len, int *port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        return -1;
    return sock_addr_str(&ss, buf, len, port);
}

bool sock_addr_unmap(char *addr)
{
    if (strncasecmp(addr, "::ffff:", 7) != 0 || strchr(addr + 7, '.') == NULL)
        return false;
    memmove(addr, addr + 7, strlen(addr + 7) + 1);
    return true;
}

/* ---- descriptor passing (SCM_RIGHTS) ---- */

/* Waits until fd is ready for events, at most timeout seconds (<= 0: no
 * limit). 0, or -1 with errno (ETIMEDOUT). */
static int sock_wait(int fd, short events, int timeout)
{
    struct pollfd pfd = { .fd = fd, .events = events };
    for (;;) {
        int n = log_poll(&pfd, 1, timeout > 0 ? timeout * 1000 : -1);
        if (n > 0)
            return 0;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
}

int sock_send_fd(int sock, int fd, char byte, int timeout)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } ctl;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
    }
    for (;;) {
        ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        if (n == 1)
            return 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (sock_wait(sock, POLLOUT, timeout) < 0)
                return -1;
            continue;
        }
        if (n == 0)
            errno = EPIPE;
        return -1;
    }
}

int sock_recv_fd(int sock, char *byte, int *fd, int timeout)
{
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int) * 4)];
    } ctl;
    struct iovec iov = { .iov_base = byte, .iov_len = 1 };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    *fd = -1;
    for (;;) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        ssize_t n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (sock_wait(sock, POLLIN, timeout) < 0)
                return -1;
            continue;
        }
        if (n <= 0) {
            if (n == 0)
                errno = ECONNRESET;
            return -1;
        }
        break;
    }
    /* Keep the first descriptor; close any extra a peer may have sent. */
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
            continue;
        size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; i++) {
            int got;
            memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
            if (*fd < 0)
                *fd = got;
            else
                close(got);
        }
    }
    if (msg.msg_flags & MSG_CTRUNC) {
        if (*fd >= 0)
            close(*fd);
        *fd = -1;
        errno = EMSGSIZE;
        return -1;
    }
    return 0;
}
