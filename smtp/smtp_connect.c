/*
 * smtp_connect.c - open a connection to one server address
 *
 * Used by: smtp.c.
 * Interface: smtp_connect().
 * Errors: -1 with a Postfix-shaped reason ("connect to H[A]:P: Connection
 *         refused"); nothing is logged here.
 * Notes: TCP connects are non-blocking with $smtp_connect_timeout
 *        ($lmtp_connect_timeout, 0 = no limit); smtp_bind_address /
 *        smtp_bind_address6 choose the source address. When that address
 *        cannot be bound, the connection is made from the default one
 *        (with a warning) unless smtp_bind_address_enforce is on, which
 *        fails the attempt instead (the mail is deferred). A non-zero
 *        tcp_windowsize sets the socket's buffer sizes before connect()
 *        (a setsockopt failure is a warning, as in Postfix).
 */
#include "smtp.h"
#include "alloc.h"
#include "log.h"
#include "sock.h"
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Waits for a non-blocking connect; 0 or -1 with errno. */
static int smtp_connect_wait(int fd, long timeout)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    int ms = timeout > 0 ? (int)(timeout > 86400 ? 86400000 : timeout * 1000) : -1;
    for (;;) {
        int n = log_poll(&pfd, 1, ms);
        if (n > 0)
            break;
        if (n == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (errno != EINTR)
            return -1;
    }
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

static int smtp_bind(int fd, int family, const char *addr)
{
    struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST | AI_PASSIVE };
    struct addrinfo *res;
    if (getaddrinfo(addr, NULL, &hints, &res) != 0) {
        errno = EADDRNOTAVAIL;
        return -1;
    }
    int rc = bind(fd, res->ai_addr, res->ai_addrlen);
    freeaddrinfo(res);
    return rc;
}

static int smtp_connect_unix(const struct smtp_cfg *cfg, const struct smtp_addr *a,
                             struct sbuf *why)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlcpy(sun.sun_path, a->addr, sizeof(sun.sun_path)) >= sizeof(sun.sun_path)) {
        sbuf_printf(why, "connect to %s: socket path too long", a->addr);
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        sbuf_printf(why, "connect to %s: socket: %m", a->addr);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0
        && (errno != EINPROGRESS || smtp_connect_wait(fd, cfg->connect_timeout) < 0)) {
        sbuf_printf(why, "connect to %s: %m", a->addr);
        close(fd);
        return -1;
    }
    return fd;
}

int smtp_connect(const struct smtp_cfg *cfg, const struct smtp_addr *a, struct sbuf *why)
{
    if (a->family == AF_UNIX)
        return smtp_connect_unix(cfg, a, why);

    struct addrinfo hints = { .ai_family = a->family, .ai_socktype = SOCK_STREAM,
                              .ai_flags = AI_NUMERICHOST };
    struct addrinfo *res;
    int gerr = getaddrinfo(a->addr, a->port, &hints, &res);
    if (gerr != 0) {
        sbuf_printf(why, "connect to %s[%s]:%s: %s", a->host, a->addr, a->port,
                    gerr == EAI_SERVICE ? "unknown service" : gai_strerror(gerr));
        return -1;
    }
    int port = ntohs(res->ai_family == AF_INET ? ((struct sockaddr_in *)res->ai_addr)->sin_port
                                               : ((struct sockaddr_in6 *)res->ai_addr)->sin6_port);
    int fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        sbuf_printf(why, "connect to %s[%s]:%d: socket: %m", a->host, a->addr, port);
        freeaddrinfo(res);
        return -1;
    }
    if (cfg->windowsize > 0 && sock_set_windowsize(fd, cfg->windowsize) < 0)
        log_warn("setsockopt SO_SNDBUF/SO_RCVBUF %d: %m", cfg->windowsize);
    const char *bind_addr = res->ai_family == AF_INET ? cfg->bind_address : cfg->bind_address6;
    if (bind_addr && *bind_addr && smtp_bind(fd, res->ai_family, bind_addr) < 0) {
        /* *_bind_address_enforce: no connection from any other address;
         * otherwise the system picks the source address, as in Postfix. */
        if (cfg->bind_enforce) {
            sbuf_printf(why, "connect to %s[%s]:%d: bind %s: %m", a->host, a->addr, port,
                        bind_addr);
            goto fail;
        }
        log_warn("%s: bind %s: %m; connecting from the default address", a->addr, bind_addr);
    }
    if (connect(fd, res->ai_addr, res->ai_addrlen) < 0
        && (errno != EINPROGRESS || smtp_connect_wait(fd, cfg->connect_timeout) < 0)) {
        sbuf_printf(why, "connect to %s[%s]:%d: %m", a->host, a->addr, port);
        goto fail;
    }
    int on = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    freeaddrinfo(res);
    return fd;
fail:
    close(fd);
    freeaddrinfo(res);
    return -1;
}
