/*
 * path_reach.c - can a given user reach a path (search permission on every parent)?
 *
 * Used by: postfix check/start (queue, data and spool directories), tests.
 * Interface: path_reach().
 * Notes: the check runs in a forked child that switches to the user's ids
 *        and stats each prefix of the path in turn; the first prefix that
 *        fails with EACCES names the parent that lacks search permission.
 *        The child reports through a pipe; the parent never changes ids.
 */
#include "path_reach.h"
#include "log.h"
#include <errno.h>
#include <grp.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

enum { REACH_MAX_PATH = 4096 };

/* Runs in the child: writes the blocking directory (empty when none) to FD. */
static int path_reach_child(int fd, const char *path, const char *name, uid_t uid, gid_t gid)
{
    if (setgid(gid) < 0 || initgroups(name, gid) < 0 || setuid(uid) < 0)
        return 2;
    if (uid != 0 && setuid(0) == 0)
        return 2;                           /* the switch did not stick */
    char buf[REACH_MAX_PATH];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf))
        return 2;
    memcpy(buf, path, len + 1);
    /* Stat each prefix ending before a '/', then the whole path. */
    for (size_t i = 1; i <= len; i++) {
        if (i < len && buf[i] != '/')
            continue;
        char saved = buf[i];
        buf[i] = 0;
        struct stat st;
        int rc = stat(buf, &st);
        int err = errno;
        buf[i] = saved;
        if (rc == 0)
            continue;
        if (err != EACCES)
            break;                          /* missing: reachable as far as it goes */
        /* The prefix could not be looked up: its parent denies search. */
        size_t end = i;
        while (end > 0 && buf[end - 1] == '/')
            end--;
        while (end > 0 && buf[end - 1] != '/')
            end--;
        while (end > 1 && buf[end - 1] == '/')
            end--;
        if (end == 0)
            end = 1;
        if (write(fd, buf, end) != (ssize_t)end)
            return 2;
        return 1;
    }
    return 0;
}

int path_reach(struct sbuf *blocked, const char *path, const char *name, uid_t uid, gid_t gid)
{
    sbuf_set(blocked, "");
    if (path[0] != '/') {
        log_warn("path_reach: %s: not an absolute path", path);
        return -1;
    }
    int p[2];
    if (pipe(p) < 0) {
        log_warn("path_reach: pipe: %m");
        return -1;
    }
    pid_t pid = fork();
    if (pid < 0) {
        log_warn("path_reach: fork: %m");
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        _exit(path_reach_child(p[1], path, name, uid, gid));
    }
    close(p[1]);
    char buf[REACH_MAX_PATH];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(p[0], buf + got, sizeof(buf) - 1 - got);
        if (n > 0 && (got += (size_t)n) < sizeof(buf) - 1)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        break;
    }
    close(p[0]);
    buf[got] = 0;
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!WIFEXITED(status) || WEXITSTATUS(status) > 1) {
        log_warn("path_reach: cannot check %s as user %s", path, name);
        return -1;
    }
    if (WEXITSTATUS(status) == 1) {
        sbuf_set(blocked, buf);
        return 0;
    }
    return 1;
}
