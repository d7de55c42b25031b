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
    for (int i = 0; i < 2; i++) {
        if (!keep) {
            close(rfd + i);
            continue;
        }
        fcntl(rfd + i, F_SETFD, FD_CLOEXEC);
        fcntl(rfd + i, F_SETFL, fcntl(rfd + i, F_GETFL) | O_NONBLOCK);
        flow_fd[i] = rfd + i;
    }
}

ssize_t mail_flow_get(size_t n)
{
    char buf[256];
    size_t got = 0;
    if (flow_fd[0] < 0)
        return -1;
    while (got < n) {
        size_t want = n - got < sizeof(buf) ? n - got : sizeof(buf);
        ssize_t r = read(flow_fd[0], buf, want);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got ? (ssize_t)got : -1;
}

ssize_t mail_flow_put(size_t n)
{
    static const char zeros[256];
    size_t put = 0;
    if (flow_fd[1] < 0)
        return -1;
    while (put < n) {
        size_t want = n - put < sizeof(zeros) ? n - put : sizeof(zeros);
        ssize_t w = write(flow_fd[1], zeros, want);
        if (w <= 0)
            break;
        put += (size_t)w;
    }
    return put ? (ssize_t)put : -1;
}

size_t mail_flow_count(void)
{
    int n = 0;
    if (flow_fd[0] < 0 || ioctl(flow_fd[0], FIONREAD, &n) < 0 || n < 0)
        return 0;
    return (size_t)n;
}
