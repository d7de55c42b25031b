/*
 * mbox_lock_test.c - unit tests for lib/mail/mbox_lock.c
 *
 * Covers: lock list parsing, fcntl and flock locks held by another process
 *         (refused, then granted after release), dot locks (held, stale
 *         ones broken), and mbox_lock() leaving nothing locked on failure.
 * Interface: main() (tests/harness.h).
 */
#include "harness.h"
#include "mbox_lock.h"
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>

static const struct mbox_lock_opts fast = { .attempts = 3, .delay_ms = 10, .stale_sec = 500 };

/* Child holds mask on path until told to release (one byte on rel). */
static pid_t holder(const char *path, int mask, int *go_fd, int *rel_fd)
{
    int ready[2], rel[2];
    if (pipe(ready) < 0 || pipe(rel) < 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(path, O_RDWR);
        struct sbuf *why = sbuf_new(64);
        char c = mbox_kernel_lock(fd, mask, &fast, why) == 0 ? 'y' : 'n';
        if (write(ready[1], &c, 1) < 0 || read(rel[0], &c, 1) < 0)
            _exit(1);
        _exit(0);
    }
    close(ready[1]);
    close(rel[0]);
    *go_fd = ready[0];
    *rel_fd = rel[1];
    return pid;
}

static void kernel_case(const char *path, int mask)
{
    int go = -1, rel = -1;
    char c = 0;
    pid_t pid = holder(path, mask, &go, &rel);
    EXPECT_TRUE(pid > 0);
    EXPECT_EQ_INT(read(go, &c, 1), 1);
    EXPECT_EQ_INT(c, 'y');
    int fd = open(path, O_RDWR);
    struct sbuf *why = sbuf_new(64);
    EXPECT_EQ_INT(mbox_kernel_lock(fd, mask, &fast, why), -1);
    EXPECT_TRUE(strstr(sbuf_str(why), "unable to lock for exclusive access") != NULL);
    EXPECT_EQ_INT(write(rel, "x", 1), 1);
    int status;
    waitpid(pid, &status, 0);
    EXPECT_EQ_INT(mbox_kernel_lock(fd, mask, &fast, why), 0);
    mbox_kernel_unlock(fd, mask);
    close(fd);
    close(go);
    close(rel);
    sbuf_free(why);
}

int main(void)
{
    harness_init();
    const char *bad = NULL;
    EXPECT_EQ_INT(mbox_lock_mask("fcntl, dotlock", &bad), MBOX_LOCK_FCNTL | MBOX_LOCK_DOTLOCK);
    EXPECT_EQ_INT(mbox_lock_mask("flock", &bad), MBOX_LOCK_FLOCK);
    EXPECT_EQ_INT(mbox_lock_mask("", &bad), 0);
    EXPECT_EQ_INT(mbox_lock_mask("fcntl, lockf", &bad), -1);
    EXPECT_TRUE(bad != NULL);

    char dir[] = "/tmp/mbox_lock_test.XXXXXX";
    EXPECT_TRUE(mkdtemp(dir) != NULL);
    char path[256], lock[256];
    snprintf(path, sizeof(path), "%s/mbox", dir);
    snprintf(lock, sizeof(lock), "%s/mbox.lock", dir);
    close(open(path, O_CREAT | O_RDWR, 0600));

    kernel_case(path, MBOX_LOCK_FCNTL);
    kernel_case(path, MBOX_LOCK_FLOCK);

    /* dot lock: exclusive, removed on unlock */
    struct sbuf *why = sbuf_new(64);
    EXPECT_EQ_INT(mbox_dotlock(path, &fast, why), 0);
    EXPECT_EQ_INT(access(lock, F_OK), 0);
    EXPECT_EQ_INT(mbox_dotlock(path, &fast, why), -1);
    EXPECT_TRUE(strstr(sbuf_str(why), "mbox.lock") != NULL);
    /* mbox_lock fails as a whole and leaves no kernel lock behind */
    int fd = open(path, O_RDWR);
    EXPECT_EQ_INT(mbox_lock(fd, path, MBOX_LOCK_DOTLOCK | MBOX_LOCK_FCNTL, &fast, why), -1);
    mbox_dotunlock(path);
    EXPECT_TRUE(access(lock, F_OK) < 0);

    /* a stale dot lock (older than stale_sec) is broken */
    close(open(lock, O_CREAT | O_WRONLY, 0600));
    struct timeval old[2] = { { .tv_sec = time(NULL) - 3600 }, { .tv_sec = time(NULL) - 3600 } };
    EXPECT_EQ_INT(utimes(lock, old), 0);
    EXPECT_EQ_INT(mbox_dotlock(path, &fast, why), 0);
    struct stat st;
    EXPECT_EQ_INT(stat(lock, &st), 0);
    EXPECT_TRUE(st.st_mtime > time(NULL) - 60);

    /* full lock and unlock */
    mbox_dotunlock(path);
    EXPECT_EQ_INT(mbox_lock(fd, path, MBOX_LOCK_DOTLOCK | MBOX_LOCK_FCNTL | MBOX_LOCK_FLOCK, &fast,
                            why), 0);
    EXPECT_EQ_INT(access(lock, F_OK), 0);
    mbox_unlock(fd, path, MBOX_LOCK_DOTLOCK | MBOX_LOCK_FCNTL | MBOX_LOCK_FLOCK);
    EXPECT_TRUE(access(lock, F_OK) < 0);
    close(fd);

    /* missing directory: fails at once (no retries needed) */
    char nodir[300];
    snprintf(nodir, sizeof(nodir), "%s/nodir/mbox", dir);
    EXPECT_EQ_INT(mbox_dotlock(nodir, &fast, why), -1);

    sbuf_free(why);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    EXPECT_EQ_INT(system(cmd), 0);
    return harness_done();
}
