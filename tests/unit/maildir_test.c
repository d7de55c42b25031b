/*
 * maildir_test.c - unit tests for lib/mail/maildir.c
 *
 * Covers: directory creation (tmp, new, cur), the unique name layout and
 *         host escaping, delivered content, distinct names for back-to-back
 *         deliveries, an empty tmp/ afterwards, and a failing writer.
 * Interface: main() (tests/harness.h).
 */
#include "harness.h"
#include "alloc.h"
#include "maildir.h"
#include <dirent.h>
#include <sys/stat.h>

static int write_msg(int fd, void *ctx)
{
    const char *m = ctx;
    return write(fd, m, strlen(m)) == (ssize_t)strlen(m) ? 0 : -1;
}

static int write_fail(int fd, void *ctx)
{
    (void)fd;
    (void)ctx;
    errno = EIO;
    return -1;
}

static int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    if (d == NULL)
        return -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static bool is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int main(void)
{
    harness_init();
    struct sbuf *b = sbuf_new(64);
    maildir_unique_name(b, 1700000000, 42, 0x801, 0x1a2b, 1234, 7, "mail.example.org");
    EXPECT_EQ_STR(sbuf_str(b), "1700000000.V801I1a2bM42P1234Q7.mail.example.org");
    maildir_unique_name(b, 1, 2, 0, 0, 3, 4, "a/b:c");
    EXPECT_EQ_STR(sbuf_str(b), "1.M2P3Q4.a\\057b\\072c");

    char root[] = "/tmp/maildir_test.XXXXXX";
    EXPECT_TRUE(mkdtemp(root) != NULL);
    struct sbuf *md = sbuf_new(64), *p = sbuf_new(64), *why = sbuf_new(64);
    struct sbuf *f1 = sbuf_new(64), *f2 = sbuf_new(64);
    sbuf_printf(md, "%s/home/user/Maildir/", root);

    EXPECT_EQ_INT(maildir_deliver(sbuf_str(md), "host", write_msg, "Subject: one\n\nbody\n", f1, why),
                  0);
    sbuf_printf(p, "%s/home/user/Maildir/tmp", root);
    EXPECT_TRUE(is_dir(sbuf_str(p)));
    EXPECT_EQ_INT(count_entries(sbuf_str(p)), 0);
    sbuf_printf(p, "%s/home/user/Maildir/cur", root);
    EXPECT_TRUE(is_dir(sbuf_str(p)));
    sbuf_printf(p, "%s/home/user/Maildir/new/", root);
    EXPECT_TRUE(strncmp(sbuf_str(f1), sbuf_str(p), sbuf_len(p)) == 0);
    const char *base = strrchr(sbuf_str(f1), '/') + 1;
    EXPECT_TRUE(strstr(base, ".V") != NULL && strstr(base, "I") != NULL);
    EXPECT_TRUE(strstr(base, "P") != NULL && strstr(base, "Q") != NULL);
    EXPECT_TRUE(strlen(base) > 5 && strcmp(base + strlen(base) - 5, ".host") == 0);

    FILE *fp = fopen(sbuf_str(f1), "r");
    char buf[128] = "";
    size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
    buf[n] = 0;
    if (fp)
        fclose(fp);
    EXPECT_EQ_STR(buf, "Subject: one\n\nbody\n");

    EXPECT_EQ_INT(maildir_deliver(sbuf_str(md), "host", write_msg, "two\n", f2, why), 0);
    EXPECT_TRUE(strcmp(sbuf_str(f1), sbuf_str(f2)) != 0);
    sbuf_printf(p, "%s/home/user/Maildir/new", root);
    EXPECT_EQ_INT(count_entries(sbuf_str(p)), 2);

    /* many quick deliveries never collide */
    for (int i = 0; i < 50; i++)
        EXPECT_EQ_INT(maildir_deliver(sbuf_str(md), "host", write_msg, "x\n", NULL, why), 0);
    EXPECT_EQ_INT(count_entries(sbuf_str(p)), 52);

    /* a failing writer leaves nothing behind and keeps errno */
    EXPECT_EQ_INT(maildir_deliver(sbuf_str(md), "host", write_fail, NULL, NULL, why), -1);
    EXPECT_EQ_INT(errno, EIO);
    EXPECT_TRUE(strstr(sbuf_str(why), "write maildir file") != NULL);
    EXPECT_EQ_INT(count_entries(sbuf_str(p)), 52);
    sbuf_printf(p, "%s/home/user/Maildir/tmp", root);
    EXPECT_EQ_INT(count_entries(sbuf_str(p)), 0);

    /* maildir_deliver_once: a fixed name from the queue ID; delivering it
     * again (a retry after a crash that had delivered) keeps the copy that
     * is there, unchanged, and leaves tmp/ empty; a missing new/ is made. */
    struct sbuf *once = sbuf_new(64);
    EXPECT_EQ_INT(maildir_deliver_once(sbuf_str(md), "host", "Q1", 1700000000, write_msg,
                                       "first\n", once, why), 0);
    EXPECT_TRUE(strstr(sbuf_str(once), "/new/1700000000.Q1.host") != NULL);
    EXPECT_EQ_INT(maildir_deliver_once(sbuf_str(md), "host", "Q1", 1700000000, write_msg,
                                       "second\n", NULL, why), 0);
    fp = fopen(sbuf_str(once), "r");
    n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
    buf[n] = 0;
    if (fp)
        fclose(fp);
    EXPECT_EQ_STR(buf, "first\n");
    sbuf_printf(p, "%s/home/user/Maildir/tmp", root);
    EXPECT_EQ_INT(count_entries(sbuf_str(p)), 0);
    sbuf_printf(p, "rm -rf %s/home/user/Maildir/new", root);
    EXPECT_EQ_INT(system(sbuf_str(p)), 0);
    EXPECT_EQ_INT(maildir_deliver_once(sbuf_str(md), "host", "Q2", 1700000001, write_msg,
                                       "third\n", NULL, why), 0);
    sbuf_printf(p, "%s/home/user/Maildir/new", root);
    EXPECT_EQ_INT(count_entries(sbuf_str(p)), 1);
    sbuf_printf(p, "%s/home/user/Maildir/tmp", root);
    EXPECT_EQ_INT(count_entries(sbuf_str(p)), 0);
    sbuf_free(once);

    /* a plain file where the Maildir should be is an error */
    sbuf_printf(p, "%s/file", root);
    fclose(fopen(sbuf_str(p), "w"));
    EXPECT_EQ_INT(maildir_deliver(sbuf_str(p), "host", write_msg, "x\n", NULL, why), -1);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
    EXPECT_EQ_INT(system(cmd), 0);
    sbuf_free(b);
    sbuf_free(md);
    sbuf_free(p);
    sbuf_free(why);
    sbuf_free(f1);
    sbuf_free(f2);
    return harness_done();
}
