/*
 * mail_flow.c - in_flow_delay: tokens between the queue manager and cleanup
 *
 * Used by: see mail_flow.h.
 * Interface: see mail_flow.h.
 * Errors: see mail_flow.h.
 * Notes: a token is one zero byte; at most a few hundred are ever in the
 *        pipe ($default_process_limit), far below its capacity.
 */
#include "mail_flow.h"

#include <fcntl.h>
#include <sys/ioctl.h>

static int flow_fd[2] = { -1, -1 };

int mail_flow_master_init(void)
{
    return pipe2(flow_fd, O_CLOEXEC | O_NONBLOCK);
}

bool mail_flow_master_fds(int *rfd, int *wfd)
{
    *rfd = flow_fd[0];
    *wfd = flow_fd[1];
    return flow_fd[0] >= 0;
}

void mail_flow_child_init(int rfd, bool keep)
{
    /* Both ends are non-blocking already: master made the pipe so, and
     * the file status flags go with the descriptors. */
    for (int i = 0; i < 2; i++) {
        if (!keep) {
            close(rfd + i);
            continue;
        }
        fcntl(rfd + i, F_SETFD, FD_CLOEXEC);
        flow_fd[i] = rfd + i;
    }
}

/* Takes (get) or gives n tokens through fd: how many, or -1 when none. */
static ssize_t mail_flow_move(int fd, size_t n, bool get)
{
    static const char zeros[256];
    char buf[sizeof(zeros)];
    size_t done = 0;
    if (fd < 0)
        return -1;
    while (done < n) {
        size_t want = n - done < sizeof(buf) ? n - done : sizeof(buf);
        ssize_t r = get ? read(fd, buf, want) : write(fd, zeros, want);
        if (r <= 0)
            break;
        done += (size_t)r;
    }
    return done ? (ssize_t)done : -1;
}

ssize_t mail_flow_get(size_t n)
{
    return mail_flow_move(flow_fd[0], n, true);
}

ssize_t mail_flow_put(size_t n)
{
    return mail_flow_move(flow_fd[1], n, false);
}

size_t mail_flow_count(void)
{
    int n = 0;
    if (flow_fd[0] < 0 || ioctl(flow_fd[0], FIONREAD, &n) < 0 || n < 0)
        return 0;
    return (size_t)n;
}
