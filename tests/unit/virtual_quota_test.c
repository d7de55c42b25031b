/*
 * virtual_quota_test.c - unit tests for the virtual agent's Maildir++ quota
 *
 * Covers: choosing the limit (global, per-user, override, bad values),
 *         maildirsize parsing (quota line, signed deltas, malformed files)
 *         and formatting, ",S=" sizes in file names, counting a Maildir with
 *         folders and trash, the over-quota test, and keeping maildirsize up
 *         to date (append, rewrite on a changed limit or an oversized file).
 * Interface: main() (tests/harness.h).
 * Notes: compiles virtual/virtual_quota.c in directly (it is not part of
 *        libpostern.a).
 */
#include "harness.h"
#include "../../virtual/virtual_quota.c"
#include <fcntl.h>

static void test_limit(void)
{
    bool bad = true;
    EXPECT_EQ_INT(virtual_quota_limit(1000, NULL, false, &bad), 1000);
    EXPECT_TRUE(!bad);
    EXPECT_EQ_INT(virtual_quota_limit(1000, "500", false, &bad), 500);
    EXPECT_EQ_INT(virtual_quota_limit(1000, "5000", false, &bad), 1000);
    EXPECT_EQ_INT(virtual_quota_limit(1000, "5000", true, &bad), 5000);
    EXPECT_EQ_INT(virtual_quota_limit(1000, "0", true, &bad), 0);
    EXPECT_EQ_INT(virtual_quota_limit(1000, "0", false, &bad), 1000);
    EXPECT_EQ_INT(virtual_quota_limit(0, "500", false, &bad), 500);
    EXPECT_EQ_INT(virtual_quota_limit(1000, " 42 ", false, &bad), 42);
    EXPECT_TRUE(!bad);
    EXPECT_EQ_INT(virtual_quota_limit(1000, "10M", true, &bad), 1000);
    EXPECT_TRUE(bad);
    EXPECT_EQ_INT(virtual_quota_limit(1000, "", true, &bad), 1000);
    EXPECT_TRUE(bad);
    EXPECT_EQ_INT(virtual_quota_limit(1000, "-5", true, &bad), 1000);
    EXPECT_TRUE(bad);
    EXPECT_EQ_INT(virtual_quota_limit(1000, "99999999999999999999", true, &bad), 1000);
    EXPECT_TRUE(bad);
    /* the reference configuration: 10 MiB per user, global about 1 GB */
    EXPECT_EQ_INT(virtual_quota_limit(1050576000, "10485760", true, NULL), 10485760);
}

static int parse(const char *s, struct virtual_quota_file *q)
{
    return virtual_quota_parse(s, strlen(s), q);
}

static void test_parse(void)
{
    struct virtual_quota_file q;
    EXPECT_EQ_INT(parse("1000S\n100 2\n-50 -1\n", &q), 0);
    EXPECT_EQ_INT(q.quota_bytes, 1000);
    EXPECT_EQ_INT(q.quota_count, -1);
    EXPECT_EQ_INT(q.used.bytes, 50);
    EXPECT_EQ_INT(q.used.count, 1);
    EXPECT_EQ_INT(q.lines, 2);
    EXPECT_EQ_INT(parse("1000S,10C\n", &q), 0);
    EXPECT_EQ_INT(q.quota_count, 10);
    EXPECT_EQ_INT(q.used.bytes, 0);
    EXPECT_EQ_INT(parse("20C,300S\n  12   1\n", &q), 0);
    EXPECT_EQ_INT(q.quota_bytes, 300);
    EXPECT_EQ_INT(q.used.bytes, 12);
    /* more removed than added never goes below zero */
    EXPECT_EQ_INT(parse("10S\n5 1\n-9 -2\n", &q), 0);
    EXPECT_EQ_INT(q.used.bytes, 0);
    EXPECT_EQ_INT(q.used.count, 0);

    EXPECT_EQ_INT(parse("", &q), -1);
    EXPECT_EQ_INT(parse("\n", &q), -1);
    EXPECT_EQ_INT(parse("1000S", &q), -1);          /* no newline */
    EXPECT_EQ_INT(parse("abcS\n", &q), -1);
    EXPECT_EQ_INT(parse("100X\n", &q), -1);
    EXPECT_EQ_INT(parse("S\n", &q), -1);
    EXPECT_EQ_INT(parse("100S,\n", &q), -1);
    EXPECT_EQ_INT(parse("100S\n12\n", &q), -1);     /* one field */
    EXPECT_EQ_INT(parse("100S\n12 3", &q), -1);     /* line being written */
    EXPECT_EQ_INT(parse("100S\n1 2 3\n", &q), -1);
    EXPECT_EQ_INT(parse("100S\n1x 2\n", &q), -1);
}

static void test_format(void)
{
    struct sbuf *b = sbuf_new(32);
    struct virtual_usage u = { 12345, 7 };
    virtual_quota_format(b, 10485760, &u);
    EXPECT_EQ_STR(sbuf_str(b), "10485760S\n12345 7\n");
    struct virtual_quota_file q;
    EXPECT_EQ_INT(virtual_quota_parse(sbuf_str(b), sbuf_len(b), &q), 0);
    EXPECT_EQ_INT(q.quota_bytes, 10485760);
    EXPECT_EQ_INT(q.used.bytes, 12345);
    EXPECT_EQ_INT(q.used.count, 7);
    sbuf_free(b);
}

static void test_name_size(void)
{
    EXPECT_EQ_INT(virtual_quota_name_size("1700000000.V801I12M5P9Q1.host,S=456"), 456);
    EXPECT_EQ_INT(virtual_quota_name_size("1700000000.M5P9Q1.host,S=456:2,S"), 456);
    EXPECT_EQ_INT(virtual_quota_name_size("1700000000.M5P9Q1.host,S=456,W=470:2,"), 456);
    EXPECT_EQ_INT(virtual_quota_name_size("1700000000.M5P9Q1.host"), -1);
    EXPECT_EQ_INT(virtual_quota_name_size("1700000000.M5P9Q1.host:2,S"), -1);
    EXPECT_EQ_INT(virtual_quota_name_size("x,S="), -1);
    EXPECT_EQ_INT(virtual_quota_name_size("x,S=12y"), -1);
    /* ",S=" only counts before the flags */
    EXPECT_EQ_INT(virtual_quota_name_size("x:2,S=5"), -1);
}

static char tdir[64];

static void put(const char *rel, size_t size)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tdir, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) {
        harness_report(false, __FILE__, __LINE__, p);
        return;
    }
    char buf[64];
    memset(buf, 'x', sizeof(buf));
    while (size > 0) {
        size_t n = size < sizeof(buf) ? size : sizeof(buf);
        if (write(fd, buf, n) != (ssize_t)n)
            break;
        size -= n;
    }
    close(fd);
}

static void mk(const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tdir, rel);
    mkdir(p, 0700);
}

static char *slurp(const char *rel)
{
    char p[256];
    snprintf(p, sizeof(p), "%s/%s", tdir, rel);
    struct sbuf *b = sbuf_new(64);
    FILE *f = fopen(p, "r");
    if (f) {
        int ch;
        while ((ch = fgetc(f)) != EOF)
            sbuf_addch(b, (char)ch);
        fclose(f);
    }
    return sbuf_detach(b);
}

static void test_scan_and_update(void)
{
    snprintf(tdir, sizeof(tdir), "/tmp/vquota.XXXXXX");
    if (mkdtemp(tdir) == NULL) {
        harness_report(false, __FILE__, __LINE__, "mkdtemp");
        return;
    }
    struct virtual_usage u;
    /* an empty or missing Maildir holds nothing */
    EXPECT_EQ_INT(virtual_quota_scan(tdir, false, ".Trash", &u), 0);
    EXPECT_EQ_INT(u.bytes, 0);
    EXPECT_EQ_INT(u.count, 0);

    mk("new"); mk("cur"); mk("tmp"); mk(".Sent"); mk(".Sent/cur"); mk(".Sent/new");
    mk(".Trash"); mk(".Trash/cur");
    put("new/1.M1P1Q1.h,S=10", 3);        /* the name's size wins over the real one */
    put("cur/2.M1P1Q2.h:2,S", 5);         /* no ,S=: real size */
    put(".Sent/cur/3.M1P1Q3.h,S=100:2,S", 1);
    put(".Trash/cur/4.M1P1Q4.h,S=1000:2,ST", 1);
    put("tmp/5.M1P1Q5.h", 50);            /* not delivered yet: not counted */
    put(".hidden-in-root", 7);            /* not a folder */
    EXPECT_EQ_INT(virtual_quota_scan(tdir, false, ".Trash", &u), 0);
    EXPECT_EQ_INT(u.bytes, 115);
    EXPECT_EQ_INT(u.count, 3);
    EXPECT_EQ_INT(virtual_quota_scan(tdir, true, ".Trash", &u), 0);
    EXPECT_EQ_INT(u.bytes, 1115);
    EXPECT_EQ_INT(u.count, 4);

    EXPECT_TRUE(!virtual_quota_over(0, &u, 1LL << 40));     /* 0: no limit */
    u.bytes = 90;
    EXPECT_TRUE(!virtual_quota_over(100, &u, 10));          /* exactly full is allowed */
    EXPECT_TRUE(virtual_quota_over(100, &u, 11));
    EXPECT_TRUE(virtual_quota_over(50, &u, 0));             /* already over */

    /* No maildirsize: the first update writes one from a fresh count. */
    struct sbuf *why = sbuf_new(64);
    bool from_file = true;
    EXPECT_EQ_INT(virtual_quota_read(tdir, true, false, ".Trash", &u, &from_file), 0);
    EXPECT_TRUE(!from_file);
    EXPECT_EQ_INT(u.bytes, 115);
    EXPECT_EQ_INT(virtual_quota_update(tdir, 200, 10, false, ".Trash", why), 0);
    char *t = slurp("maildirsize");
    EXPECT_EQ_STR(t, "200S\n115 3\n");
    xfree(t);
    /* Next delivery: one appended line; the file is then the source. */
    EXPECT_EQ_INT(virtual_quota_update(tdir, 200, 7, false, ".Trash", why), 0);
    t = slurp("maildirsize");
    EXPECT_EQ_STR(t, "200S\n115 3\n7 1\n");
    xfree(t);
    EXPECT_EQ_INT(virtual_quota_read(tdir, true, false, ".Trash", &u, &from_file), 0);
    EXPECT_TRUE(from_file);
    EXPECT_EQ_INT(u.bytes, 122);
    EXPECT_EQ_INT(u.count, 4);
    /* Without use_file the directory is counted. */
    EXPECT_EQ_INT(virtual_quota_read(tdir, false, false, ".Trash", &u, &from_file), 0);
    EXPECT_TRUE(!from_file);
    EXPECT_EQ_INT(u.bytes, 115);
    /* A changed limit rewrites the file from a count. */
    EXPECT_EQ_INT(virtual_quota_update(tdir, 300, 7, false, ".Trash", why), 0);
    t = slurp("maildirsize");
    EXPECT_EQ_STR(t, "300S\n115 3\n");
    xfree(t);
    /* A malformed file is replaced too. */
    put("maildirsize", 0);
    EXPECT_EQ_INT(virtual_quota_update(tdir, 300, 7, false, ".Trash", why), 0);
    t = slurp("maildirsize");
    EXPECT_EQ_STR(t, "300S\n115 3\n");
    xfree(t);
    /* So is one that has grown past the Maildir++ size. */
    int fails = 0;
    for (int i = 0; i < 1000; i++)
        fails += virtual_quota_update(tdir, 300, 1, false, ".Trash", why) != 0;
    EXPECT_EQ_INT(fails, 0);
    t = slurp("maildirsize");
    EXPECT_TRUE(strlen(t) <= VIRTUAL_MAILDIRSIZE_MAX);
    EXPECT_TRUE(strncmp(t, "300S\n", 5) == 0);
    xfree(t);
    /* A missing Maildir cannot be updated: reported, not fatal. */
    EXPECT_EQ_INT(virtual_quota_update("/nonexistent/maildir", 300, 1, false, ".Trash", why), -1);
    EXPECT_TRUE(sbuf_len(why) > 0);
    sbuf_free(why);

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tdir);
    if (system(cmd) != 0)
        harness_report(false, __FILE__, __LINE__, "cleanup");
}

int main(void)
{
    harness_init();
    test_limit();
    test_parse();
    test_format();
    test_name_size();
    test_scan_and_update();
    return harness_done();
}
