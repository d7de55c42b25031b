/*
 * mail_queue_scan_test.c - unit tests for mail_queue_dir_scan()
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: the top directory of a queue stays open between scans (rewound,
 *        not reopened, for up to a second): every scan must still see the
 *        directory as it is now, a scan nested in another's callback must
 *        not disturb it, and a directory replaced under it is read afresh
 *        after the second.
 */
#include "harness.h"
#include "mail_queue.h"
#include <fcntl.h>
#include <sys/stat.h>

struct scan_ctx {
    int seen;
    bool saw_new;
    int nested;         /* entries the nested scan saw (-1: none made) */
};

static int count_one(const char *id, const char *path, void *vctx)
{
    struct scan_ctx *c = vctx;
    (void)path;
    c->seen++;
    if (strcmp(id, "6B0000000000000003") == 0)
        c->saw_new = true;
    return 0;
}

static int count_nested(const char *id, const char *path, void *vctx)
{
    struct scan_ctx *c = vctx;
    count_one(id, path, vctx);
    if (c->nested < 0) {
        struct scan_ctx inner = { .nested = 0 };
        mail_queue_dir_scan("incoming", count_one, &inner);
        c->nested = inner.seen;
    }
    return 0;
}

static int scan(const char *queue, struct scan_ctx *c)
{
    memset(c, 0, sizeof(*c));
    c->nested = 0;
    mail_queue_dir_scan(queue, count_one, c);
    return c->seen;
}

static void touch(const char *path)
{
    int fd = open(path, O_CREAT | O_WRONLY, 0700);
    if (fd >= 0)
        close(fd);
}

int main(void)
{
    harness_init();
    if (harness_enter_tmpdir("mail_queue_scan_test") < 0)
        return 1;
    mkdir("incoming", 0700);
    touch("incoming/6B0000000000000001");
    touch("incoming/6B0000000000000002");
    touch("incoming/not-a-queue-id");
    struct scan_ctx c;
    EXPECT_EQ_INT(scan("incoming", &c), 2);
    /* A file added since: seen by the next scan of the kept directory. */
    touch("incoming/6B0000000000000003");
    EXPECT_EQ_INT(scan("incoming", &c), 3);
    EXPECT_TRUE(c.saw_new);
    /* One removed: not seen. */
    unlink("incoming/6B0000000000000001");
    EXPECT_EQ_INT(scan("incoming", &c), 2);
    /* A scan of the same queue inside a scan's callback reads the whole
     * directory, and the outer scan still sees every entry once. */
    memset(&c, 0, sizeof(c));
    c.nested = -1;
    mail_queue_dir_scan("incoming", count_nested, &c);
    EXPECT_EQ_INT(c.seen, 2);
    EXPECT_EQ_INT(c.nested, 2);
    /* Two queues at once (qmgr scans incoming and deferred). */
    mkdir("deferred", 0700);
    touch("deferred/6B0000000000000009");
    EXPECT_EQ_INT(scan("deferred", &c), 1);
    EXPECT_EQ_INT(scan("incoming", &c), 2);
    /* The directory replaced by another (an administrator's doing): read
     * afresh once the kept one is a second old. */
    EXPECT_EQ_INT(rename("incoming", "incoming.old"), 0);
    mkdir("incoming", 0700);
    touch("incoming/6B0000000000000005");
    sleep(2);
    EXPECT_EQ_INT(scan("incoming", &c), 1);
    /* A queue that does not exist: nothing, no error. */
    EXPECT_EQ_INT(mail_queue_dir_scan("hold", count_one, &c), 0);
    return harness_done();
}
