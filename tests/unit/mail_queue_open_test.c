/*
 * mail_queue_open_test.c - unit tests for mail_queue_openat(), the open a
 *                          delivery agent or a status log makes by queue ID
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: runs in a temporary queue directory. Whichever way the open is made
 *        (one openat2 call, or a walk one directory at a time), a symbolic
 *        link anywhere on the path is refused, so that a path mail_owner can
 *        change never leads a root agent outside the queue; and what is
 *        opened is a regular file of the queue's owner with one name.
 */
#include "harness.h"
#include "mail_queue.h"
#include <fcntl.h>
#include <sys/stat.h>

#define ID "6B0000000000000A1C"    /* hashed queues: deferred/C/ID, defer/C/ID */

static void make_file(const char *path)
{
    int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0600);
    if (fd >= 0) {
        if (write(fd, "x", 1) != 1)
            perror(path);
        close(fd);
    }
}

/* mail_queue_openat() of queue/ID for reading: 1 opened (and closed
 * again), 0 refused. */
static int opens(const char *queue)
{
    int fd = mail_queue_openat(queue, ID, O_RDONLY, 0);
    if (fd < 0)
        return 0;
    close(fd);
    return 1;
}

int main(void)
{
    harness_init();
    if (harness_enter_tmpdir("mail_queue_open_test") < 0)
        return 1;
    mkdir("active", 0700);
    mkdir("deferred", 0700);
    mkdir("deferred/C", 0700);
    mkdir("outside", 0700);
    mkdir("outside/C", 0700);
    make_file("outside/" ID);
    make_file("outside/C/" ID);

    /* The plain cases. */
    make_file("active/" ID);
    EXPECT_EQ_INT(opens("active"), 1);
    make_file("deferred/C/" ID);
    EXPECT_EQ_INT(opens("deferred"), 1);
    EXPECT_EQ_INT(mail_queue_openat("active", "6B0000000000000A1D", O_RDONLY, 0), -1);
    EXPECT_EQ_INT(errno, ENOENT);

    /* A link as the file, as a hash directory, as the queue directory. */
    unlink("active/" ID);
    EXPECT_EQ_INT(symlink("../outside/" ID, "active/" ID), 0);
    EXPECT_EQ_INT(opens("active"), 0);
    unlink("active/" ID);
    unlink("deferred/C/" ID);
    rmdir("deferred/C");
    EXPECT_EQ_INT(symlink("../outside/C", "deferred/C"), 0);
    EXPECT_EQ_INT(opens("deferred"), 0);
    EXPECT_EQ_INT(mail_queue_openat("deferred", ID, O_WRONLY | O_APPEND | O_CREAT, 0600), -1);
    rename("active", "active.real");
    EXPECT_EQ_INT(symlink("outside", "active"), 0);
    EXPECT_EQ_INT(opens("active"), 0);
    unlink("active");
    rename("active.real", "active");

    /* Not a regular file, or a second name: refused after the open. */
    mkdir("active/" ID, 0700);
    EXPECT_EQ_INT(opens("active"), 0);
    rmdir("active/" ID);
    make_file("active/" ID);
    EXPECT_EQ_INT(link("active/" ID, "outside/second"), 0);
    EXPECT_EQ_INT(opens("active"), 0);
    EXPECT_EQ_INT(errno, EPERM);
    unlink("outside/second");
    EXPECT_EQ_INT(opens("active"), 1);

    /* A status log is made where its hash directory is missing. */
    unlink("deferred/C");
    int fd = mail_queue_openat("deferred", ID, O_WRONLY | O_APPEND | O_CREAT, 0600);
    EXPECT_TRUE(fd >= 0);
    if (fd >= 0)
        close(fd);
    struct stat st;
    EXPECT_TRUE(lstat("deferred/C", &st) == 0 && S_ISDIR(st.st_mode));
    EXPECT_TRUE(lstat("deferred/C/" ID, &st) == 0 && S_ISREG(st.st_mode));
    /* ... and through a linked hash directory it is not. */
    unlink("deferred/C/" ID);
    rmdir("deferred/C");
    EXPECT_EQ_INT(symlink("../outside/C", "deferred/C"), 0);
    unlink("outside/C/" ID);
    EXPECT_EQ_INT(mail_queue_openat("deferred", ID, O_WRONLY | O_APPEND | O_CREAT, 0600), -1);
    EXPECT_TRUE(access("outside/C/" ID, F_OK) < 0);
    return harness_done();
}
