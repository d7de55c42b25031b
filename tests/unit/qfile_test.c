/*
 * qfile_test.c - unit tests for queue files, queue IDs and status logs
 */
#include "alloc.h"
#include "config.h"
#include "dsn_log.h"
#include "harness.h"
#include "mail_queue.h"
#include "qfile.h"
#include <fcntl.h>
#include <sys/stat.h>

static void make_dirs(void)
{
    const char *dirs[] = { "incoming", "active", "deferred", "bounce", "defer" };
    for (size_t i = 0; i < ARRAY_LEN(dirs); i++)
        mkdir(dirs[i], 0700);
}

static void test_ids(void)
{
    struct sbuf *a = sbuf_new(32), *b = sbuf_new(32);
    mail_queue_id_new(a);
    mail_queue_id_new(b);
    EXPECT_EQ_INT(sbuf_len(a), 18);
    EXPECT_TRUE(mail_queue_id_ok(sbuf_str(a)));
    EXPECT_TRUE(strcmp(sbuf_str(a), sbuf_str(b)) != 0);
    EXPECT_TRUE(!mail_queue_id_ok("../etc/passwd"));
    EXPECT_TRUE(!mail_queue_id_ok(""));
    EXPECT_TRUE(!mail_queue_id_ok("ABCDEFABCDEFABCDEFABCDEFABCDEFABCDEF"));
    EXPECT_TRUE(mail_queue_hashed("deferred"));
    EXPECT_TRUE(!mail_queue_hashed("incoming"));
    mail_queue_path(a, "deferred", "ABCDEF");
    EXPECT_EQ_STR(sbuf_str(a), "deferred/F/ABCDEF");
    mail_queue_path(a, "active", "ABCDEF");
    EXPECT_EQ_STR(sbuf_str(a), "active/ABCDEF");
    sbuf_free(a);
    sbuf_free(b);
}

static void test_write_read(void)
{
    struct sbuf *id = sbuf_new(32);
    int fd = mail_queue_create("incoming", id);
    EXPECT_TRUE(fd >= 0);
    struct qfile_writer *w = qfile_writer_new(fd);
    qfile_putf(w, REC_SIZE, QFILE_SIZE_FMT, 0L, 0L, 0L, 0L, 0L, 0L);
    qfile_puts(w, REC_TIME, "1700000000 123456");
    qfile_puts(w, REC_SENDER, "alice@example.test");
    qfile_puts(w, REC_VERP, "+=");      /* cleanup's order: V, then A, then i */
    qfile_puts(w, REC_ATTR, "rewrite_context=local");
    qfile_puts(w, REC_DSN_ENVID, "env-1");
    qfile_puts(w, REC_DSN_NOTIFY, "6");
    qfile_puts(w, REC_ORCPT, "Bob@Example.Test");
    qfile_puts(w, REC_RCPT, "bob@example.test");
    qfile_puts(w, REC_RCPT, "carol@example.test");
    qfile_putf(w, REC_WARN, QFILE_WARN_FMT, 1700003600L);
    qfile_put(w, REC_MESG, "", 0);
    long data_off = (long)qfile_writer_offset(w);
    qfile_put_line(w, "Subject: hi", 11);
    qfile_put_line(w, "", 0);
    char big[5000];
    memset(big, 'y', sizeof(big));
    qfile_put_line(w, big, sizeof(big));
    qfile_put(w, REC_XTRA, "", 0);
    qfile_puts(w, REC_RCPT, "dave@example.test");
    qfile_put(w, REC_END, "", 0);
    /* The in-place updates a writer may make before commit. */
    struct qfile_size sz = { .content_size = 77, .data_offset = data_off, .rcpt_count = 3,
                             .content_length = 5020 };
    EXPECT_EQ_INT(qfile_writer_set_size(w, &sz), 0);
    struct sbuf *path = sbuf_new(64);
    mail_queue_path(path, "incoming", sbuf_str(id));
    struct stat st;
    EXPECT_TRUE(stat(sbuf_str(path), &st) == 0 && !MAIL_QUEUE_IS_COMPLETE(&st));
    EXPECT_EQ_INT(qfile_commit(w), 0);
    EXPECT_TRUE(stat(sbuf_str(path), &st) == 0 && MAIL_QUEUE_IS_COMPLETE(&st));
    qfile_writer_free(w);

    struct qfile_reader *r = qfile_open(sbuf_str(path), O_RDWR);
    EXPECT_TRUE(r != NULL);
    struct qenv env;
    EXPECT_EQ_INT(qenv_load(r, &env), 0);
    EXPECT_EQ_STR(env.sender, "alice@example.test");
    EXPECT_EQ_STR(env.verp_delims, "+=");
    EXPECT_EQ_STR(env.envid, "env-1");
    EXPECT_EQ_INT(env.arrival_sec, 1700000000);
    EXPECT_EQ_INT(env.arrival_usec, 123456);
    EXPECT_EQ_INT(env.nrcpt, 3);
    EXPECT_EQ_STR(env.rcpts[0].address, "bob@example.test");
    EXPECT_EQ_STR(env.rcpts[0].orig, "Bob@Example.Test");
    EXPECT_EQ_INT(env.rcpts[0].notify, 6);
    EXPECT_TRUE(env.rcpts[1].orig == NULL);
    EXPECT_EQ_STR(env.rcpts[2].address, "dave@example.test");
    EXPECT_EQ_INT(env.warn_time, 1700003600);
    EXPECT_EQ_STR(attr_get(env.attrs, "rewrite_context"), "local");
    EXPECT_EQ_INT(env.content_size, 77);
    EXPECT_EQ_INT(env.content_offset, data_off);
    EXPECT_EQ_INT(env.rcpt_total, 3);
    /* The warning time, rewritten in place (0 = warning sent). */
    EXPECT_EQ_INT(qfile_set_warn(qfile_reader_fd(r), env.warn_offset, 0L), 0);
    EXPECT_TRUE(!qfile_rcpt_is_done(qfile_reader_fd(r), env.rcpts[1].offset));
    /* Mark carol done in place and read again. */
    EXPECT_EQ_INT(qfile_mark_done(qfile_reader_fd(r), env.rcpts[1].offset), 0);
    off_t content = env.content_offset;
    qenv_free(&env);
    EXPECT_EQ_INT(qenv_load(r, &env), 0);
    EXPECT_TRUE(!env.rcpts[0].done && env.rcpts[1].done);
    EXPECT_TRUE(qfile_rcpt_is_done(qfile_reader_fd(r), env.rcpts[1].offset));
    EXPECT_EQ_INT(env.warn_time, 0);
    EXPECT_EQ_INT(env.content_size, 77);    /* the W rewrite left the C record alone */
    qenv_free(&env);
    /* Content records: N, N, then L L N for the long line. */
    struct sbuf *data = sbuf_new(64);
    qfile_seek(r, content);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_NORM);
    EXPECT_EQ_STR(sbuf_str(data), "Subject: hi");
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_NORM);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_CONT);
    EXPECT_EQ_INT(sbuf_len(data), QFILE_LINE_CHUNK);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_CONT);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_NORM);
    EXPECT_EQ_INT(sbuf_len(data), 5000 - 2 * QFILE_LINE_CHUNK);
    qfile_close(r);

    /* Marked done through another descriptor while the reader still holds
     * the start of the file in its buffer: qenv_load() must see it
     * (fuzzer find: it returned the stale buffered 'R'). */
    r = qfile_open(sbuf_str(path), O_RDONLY);
    EXPECT_TRUE(r != NULL);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_SIZE);     /* buffer holds offset 0 */
    int other = open(sbuf_str(path), O_RDWR);
    EXPECT_TRUE(other >= 0);
    EXPECT_EQ_INT(qenv_load(r, &env), 0);
    off_t dave = env.rcpts[2].offset;
    EXPECT_TRUE(!env.rcpts[2].done);
    qenv_free(&env);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), QFILE_E_EOF);
    qfile_seek(r, 0);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_SIZE);
    EXPECT_EQ_INT(qfile_mark_done(other, dave), 0);
    EXPECT_EQ_INT(qenv_load(r, &env), 0);
    EXPECT_TRUE(env.nrcpt == 3 && env.rcpts[1].done && env.rcpts[2].done);
    qenv_free(&env);
    /* qfile_seek() keeps buffered bytes; qfile_seek_reread() drops them. */
    qfile_seek(r, 0);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_SIZE);
    EXPECT_EQ_INT(pwrite(other, "T", 1, 0), 1);          /* first record's type */
    qfile_seek_reread(r, 0);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_TIME);
    EXPECT_EQ_INT(pwrite(other, "C", 1, 0), 1);
    qfile_seek_reread(r, 0);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), REC_SIZE);
    close(other);
    qfile_close(r);

    /* A truncated copy is refused, not half-read. */
    int in = open(sbuf_str(path), O_RDONLY);
    int out = open("truncated", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    char buf[100];
    EXPECT_TRUE(read(in, buf, sizeof(buf)) == sizeof(buf));
    EXPECT_TRUE(write(out, buf, sizeof(buf)) == sizeof(buf));
    close(in);
    close(out);
    r = qfile_open("truncated", O_RDONLY);
    EXPECT_TRUE(qenv_load(r, &env) < 0);
    qenv_free(&env);
    qfile_close(r);
    /* Garbage with an absurd length varint. */
    out = open("garbage", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_TRUE(write(out, "S\xff\xff\xff\xff\xff\x01", 7) == 7);
    close(out);
    r = qfile_open("garbage", O_RDONLY);
    EXPECT_EQ_INT(qfile_get(r, data, NULL), QFILE_E_CORRUPT);
    qfile_close(r);
    sbuf_free(data);
    sbuf_free(path);
    sbuf_free(id);
}

/* The size record set after part of the file has gone to disk (a message
 * larger than the writer's buffer), and a reused file cut to its new
 * length only when that is shorter than the old one. */
static void test_set_size_flushed(void)
{
    struct sbuf *id = sbuf_new(32), *path = sbuf_new(64);
    int fd = mail_queue_create("incoming", id);
    mail_queue_path(path, "incoming", sbuf_str(id));
    struct qfile_writer *w = qfile_writer_new(fd);
    qfile_writer_set_reused(w, 10);     /* as if 10 old bytes were there */
    qfile_putf(w, REC_SIZE, QFILE_SIZE_FMT, 0L, 0L, 0L, 0L, 0L, 0L);
    qfile_puts(w, REC_TIME, "1700000000 0");
    qfile_puts(w, REC_SENDER, "alice@example.test");
    qfile_puts(w, REC_RCPT, "bob@example.test");
    qfile_put(w, REC_MESG, "", 0);
    long data_off = (long)qfile_writer_offset(w);
    char line[1000];
    memset(line, 'z', sizeof(line));
    for (int i = 0; i < 100; i++)       /* 100 KB: more than one buffer */
        qfile_put_line(w, line, sizeof(line));
    qfile_put(w, REC_XTRA, "", 0);
    qfile_put(w, REC_END, "", 0);
    off_t end = qfile_writer_offset(w);
    struct qfile_size sz = { .content_size = 100000, .data_offset = data_off, .rcpt_count = 1 };
    EXPECT_EQ_INT(qfile_writer_set_size(w, &sz), 0);
    EXPECT_EQ_INT(qfile_commit(w), 0);
    qfile_writer_free(w);
    struct stat st;
    EXPECT_TRUE(stat(sbuf_str(path), &st) == 0 && st.st_size == end);
    struct qfile_reader *r = qfile_open(sbuf_str(path), O_RDONLY);
    struct qenv env;
    EXPECT_EQ_INT(qenv_load(r, &env), 0);
    EXPECT_EQ_INT(env.content_size, 100000);
    EXPECT_EQ_INT(env.content_offset, data_off);
    qenv_free(&env);
    qfile_close(r);

    /* Reused again for a short message: cut from end to its new length. */
    fd = open(sbuf_str(path), O_RDWR);
    w = qfile_writer_new(fd);
    qfile_writer_set_reused(w, (off_t)st.st_size);
    qfile_putf(w, REC_SIZE, QFILE_SIZE_FMT, 0L, 0L, 0L, 0L, 0L, 0L);
    qfile_puts(w, REC_TIME, "1700000001");     /* no microseconds */
    qfile_puts(w, REC_SENDER, "carol@example.test");
    qfile_put(w, REC_END, "", 0);
    off_t short_end = qfile_writer_offset(w);
    sz.content_size = 5;
    EXPECT_EQ_INT(qfile_writer_set_size(w, &sz), 0);
    EXPECT_EQ_INT(qfile_commit(w), 0);
    qfile_writer_free(w);
    EXPECT_TRUE(stat(sbuf_str(path), &st) == 0 && st.st_size == short_end);
    r = qfile_open(sbuf_str(path), O_RDONLY);
    EXPECT_EQ_INT(qenv_load(r, &env), 0);
    EXPECT_EQ_STR(env.sender, "carol@example.test");
    EXPECT_EQ_INT(env.content_size, 5);
    EXPECT_EQ_INT(env.arrival_sec, 1700000001);
    EXPECT_EQ_INT(env.arrival_usec, 0);     /* a missing field reads as 0 */
    qenv_free(&env);
    qfile_close(r);
    unlink(sbuf_str(path));
    sbuf_free(id);
    sbuf_free(path);
}

static void test_dsn_log(void)
{
    struct dsn_entry e = { .recipient = "bob@example.test", .orig_rcpt = "", .dsn_orcpt = "",
                           .notify = 4, .offset = 77, .status = "5.1.1", .action = "failed",
                           .reason = "unknown user: \"bob\"\nsecond line", .mta = "",
                           .diag_type = "", .diag_text = "" };
    EXPECT_EQ_INT(dsn_log_append("bounce", "ABC123", &e), 0);
    e.recipient = "carol@example.test";
    e.status = "5.2.2";
    EXPECT_EQ_INT(dsn_log_append("bounce", "ABC123", &e), 0);
    struct dsn_entry *v;
    int n = dsn_log_read("bounce", "ABC123", &v);
    EXPECT_EQ_INT(n, 2);
    if (n == 2) {
        EXPECT_EQ_STR(v[0].recipient, "bob@example.test");
        EXPECT_EQ_STR(v[0].reason, "unknown user: \"bob\"\nsecond line");
        EXPECT_EQ_INT(v[0].offset, 77);
        EXPECT_EQ_STR(v[1].status, "5.2.2");
    }
    dsn_entries_free(v, n);
    EXPECT_EQ_INT(dsn_log_read("bounce", "NOSUCH", &v), 0);
    EXPECT_EQ_INT(dsn_log_remove("bounce", "ABC123"), 0);
    EXPECT_EQ_INT(dsn_log_read("bounce", "ABC123", &v), 0);
    /* Hashed queue: the subdirectory is made on demand. */
    EXPECT_EQ_INT(dsn_log_append("defer", "ABC123", &e), 0);
    EXPECT_TRUE(access("defer/3/ABC123", F_OK) == 0);
}

int main(void)
{
    harness_init();
    if (harness_enter_tmpdir("qfile_test") < 0)
        return 1;
    make_dirs();
    test_ids();
    test_write_read();
    test_set_size_flushed();
    test_dsn_log();
    return harness_done();
}
