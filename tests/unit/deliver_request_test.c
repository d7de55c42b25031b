/*
 * deliver_request_test.c - unit tests for lib/mail/deliver_request.c
 *
 * Covers: request parsing (valid and hostile lists), DSN splitting, delay
 *         formatting, opening a real queue file, the content walk (N and L
 *         records), the status helpers (log files, R -> D marking), and
 *         the delivery status filter turning bounces into deferrals and back.
 * Interface: main() (tests/harness.h).
 */
#include "harness.h"
#include "alloc.h"
#include "attr.h"
#include "deliver_request.h"
#include "dsn_filter.h"
#include "delivery_log.h"
#include "dsn_log.h"
#include "mail_queue.h"
#include "qfile.h"
#include <fcntl.h>
#include <sys/stat.h>

static struct attr_list *base_list(const char *count)
{
    struct attr_list *l = attr_list_new();
    attr_add(l, "queue_name", "active");
    attr_add(l, "queue_id", "ABCDEF0123");
    attr_add(l, "nexthop", "5.1.1 User unknown");
    attr_add(l, "sender", "alice@example.org");
    attr_add(l, "flags", "0");
    attr_add(l, "arrival", "1700000000");
    if (count)
        attr_add(l, "rcpt_count", count);
    return l;
}

static void add_rcpt(struct attr_list *l, const char *addr, const char *off)
{
    attr_add(l, "rcpt_address", addr);
    attr_add(l, "rcpt_orig", "orig@example.org");
    attr_add(l, "rcpt_notify", "6");
    if (off)
        attr_add(l, "rcpt_offset", off);
}

static bool parses(struct attr_list *l)
{
    struct sbuf *why = sbuf_new(64);
    struct deliver_request *r = deliver_request_parse(l, why);
    bool ok = r != NULL;
    if (!ok && getenv("HARNESS_VERBOSE"))
        printf("why: %s\n", sbuf_str(why));
    deliver_request_free(r);
    sbuf_free(why);
    attr_list_free(l);
    return ok;
}

static void test_parse(void)
{
    struct sbuf *why = sbuf_new(64);
    struct attr_list *l = base_list("2");
    add_rcpt(l, "bob@example.org", "120");
    add_rcpt(l, "carol@example.org", "150");
    struct deliver_request *r = deliver_request_parse(l, why);
    EXPECT_TRUE(r != NULL);
    if (r) {
        EXPECT_EQ_INT(r->nrcpt, 2);
        EXPECT_EQ_STR(r->rcpts[1].address, "carol@example.org");
        EXPECT_EQ_INT(r->rcpts[1].offset, 150);
        EXPECT_EQ_INT(r->rcpts[0].notify, 6);
        EXPECT_EQ_STR(r->rcpts[0].orig, "orig@example.org");
        EXPECT_EQ_STR(r->rcpts[0].dsn_orcpt, "");
        EXPECT_EQ_STR(r->sender, "alice@example.org");
        EXPECT_EQ_STR(r->nexthop, "5.1.1 User unknown");
        EXPECT_EQ_INT(r->arrival_sec, 1700000000);
        EXPECT_TRUE(attr_get(r->attrs, "rcpt_address") == NULL);
    }
    deliver_request_free(r);
    attr_list_free(l);
    sbuf_free(why);

    /* hostile or broken lists: an error, never a crash */
    l = base_list(NULL);
    add_rcpt(l, "bob@x", "10");
    EXPECT_TRUE(!parses(l));                                /* no rcpt_count */
    l = base_list("999999999999999999999");
    add_rcpt(l, "bob@x", "10");
    EXPECT_TRUE(!parses(l));                                /* overflow */
    l = base_list("100000");
    add_rcpt(l, "bob@x", "10");
    EXPECT_TRUE(!parses(l));                                /* above DELIVER_RCPT_MAX */
    l = base_list("3");
    add_rcpt(l, "bob@x", "10");
    EXPECT_TRUE(!parses(l));                                /* fewer than announced */
    l = base_list("1");
    add_rcpt(l, "bob@x", "10");
    add_rcpt(l, "carol@x", "20");
    EXPECT_TRUE(!parses(l));                                /* more than announced */
    l = base_list("0");
    EXPECT_TRUE(!parses(l));
    l = base_list("-1");
    add_rcpt(l, "bob@x", "10");
    EXPECT_TRUE(!parses(l));
    l = base_list("1");
    add_rcpt(l, "bob@x", NULL);
    EXPECT_TRUE(!parses(l));                                /* no offset */
    l = base_list("1");
    add_rcpt(l, "bob@x", "12x");
    EXPECT_TRUE(!parses(l));                                /* junk offset */
    l = base_list("1");
    attr_add(l, "rcpt_offset", "10");
    add_rcpt(l, "bob@x", "10");
    EXPECT_TRUE(!parses(l));                                /* field before its group */
    l = base_list("1");
    add_rcpt(l, "", "10");
    EXPECT_TRUE(!parses(l));                                /* empty address */
    l = attr_list_new();
    attr_add(l, "queue_name", "../../etc");
    attr_add(l, "queue_id", "ABC");
    attr_add(l, "sender", "");
    attr_add(l, "rcpt_count", "1");
    add_rcpt(l, "bob@x", "10");
    EXPECT_TRUE(!parses(l));                                /* bad queue name */
    l = attr_list_new();
    attr_add(l, "queue_name", "active");
    attr_add(l, "queue_id", "../passwd");
    attr_add(l, "sender", "");
    attr_add(l, "rcpt_count", "1");
    add_rcpt(l, "bob@x", "10");
    EXPECT_TRUE(!parses(l));                                /* bad queue id */
    l = attr_list_new();
    attr_add(l, "queue_name", "active");
    attr_add(l, "queue_id", "ABC");
    attr_add(l, "rcpt_count", "1");
    add_rcpt(l, "bob@x", "10");
    EXPECT_TRUE(!parses(l));                                /* no sender */
    l = base_list("1");
    add_rcpt(l, "bob@x", "10");
    attr_add(l, "rcpt_notify", "lots");
    EXPECT_TRUE(!parses(l));
    l = base_list("1");
    add_rcpt(l, "bob@x", "10");
    attr_add(l, "rcpt_future_field", "ignored");
    EXPECT_TRUE(parses(l));                                 /* lenient on new rcpt_ fields */
}

static void test_helpers(void)
{
    struct sbuf *b = sbuf_new(16);
    const char *t = deliver_split_dsn("5.1.1 User unknown", "4.0.0", b);
    EXPECT_EQ_STR(sbuf_str(b), "5.1.1");
    EXPECT_EQ_STR(t, "User unknown");
    t = deliver_split_dsn("4.7.100  slow down", "5.0.0", b);
    EXPECT_EQ_STR(sbuf_str(b), "4.7.100");
    EXPECT_EQ_STR(t, "slow down");
    t = deliver_split_dsn("User unknown", "5.0.0", b);
    EXPECT_EQ_STR(sbuf_str(b), "5.0.0");
    EXPECT_EQ_STR(t, "User unknown");
    t = deliver_split_dsn("3.1.1 nope", "5.0.0", b);
    EXPECT_EQ_STR(sbuf_str(b), "5.0.0");
    t = deliver_split_dsn("5.1.1234 x", "5.0.0", b);
    EXPECT_EQ_STR(sbuf_str(b), "5.0.0");
    t = deliver_split_dsn("", "2.0.0", b);
    EXPECT_EQ_STR(sbuf_str(b), "2.0.0");
    EXPECT_EQ_STR(t, "");

    delivery_log_format_delay(b, 0.034);
    EXPECT_EQ_STR(sbuf_str(b), "0.03");
    delivery_log_format_delay(b, 0.001);
    EXPECT_EQ_STR(sbuf_str(b), "0");
    delivery_log_format_delay(b, 0.1);
    EXPECT_EQ_STR(sbuf_str(b), "0.1");
    delivery_log_format_delay(b, 1.26);
    EXPECT_EQ_STR(sbuf_str(b), "1.3");
    delivery_log_format_delay(b, 3.0);
    EXPECT_EQ_STR(sbuf_str(b), "3");
    delivery_log_format_delay(b, 42.7);
    EXPECT_EQ_STR(sbuf_str(b), "43");
    delivery_log_format_delay(b, -5);
    EXPECT_EQ_STR(sbuf_str(b), "0");
    /* Postfix's format_tv(): 120 s is "120", never "1.2e+02". */
    delivery_log_format_delay(b, 120.4);
    EXPECT_EQ_STR(sbuf_str(b), "120");
    delivery_log_format_delay(b, 86400.0);
    EXPECT_EQ_STR(sbuf_str(b), "86400");
    delivery_log_format_delay(b, 9.96);
    EXPECT_EQ_STR(sbuf_str(b), "10");
    delivery_log_format_delay(b, 0.996);
    EXPECT_EQ_STR(sbuf_str(b), "1");
    delivery_log_format_delay(b, 0.0092);
    EXPECT_EQ_STR(sbuf_str(b), "0.01");
    delivery_log_format_delay(b, 1.05);
    EXPECT_EQ_STR(sbuf_str(b), "1.1");
    /* With more decimals allowed: two significant digits. */
    sbuf_reset(b);
    delivery_log_format_tv(b, 0, 123, 2, 6);
    EXPECT_EQ_STR(sbuf_str(b), "0.00012");
    sbuf_reset(b);
    delivery_log_format_tv(b, 0, 99999, 2, 6);
    EXPECT_EQ_STR(sbuf_str(b), "0.1");
    sbuf_reset(b);
    delivery_log_format_tv(b, 3, 250000, 2, 0);
    EXPECT_EQ_STR(sbuf_str(b), "3");
    sbuf_free(b);
}

/* Builds active/ID with two recipients; returns their R offsets. */
static void make_queue_file(const char *id, off_t *off1, off_t *off2)
{
    struct sbuf *path = sbuf_new(64);
    mail_queue_path(path, "active", id);
    int fd = open(sbuf_str(path), O_RDWR | O_CREAT | O_TRUNC, 0600);
    EXPECT_TRUE(fd >= 0);
    struct qfile_writer *w = qfile_writer_new(fd);
    qfile_putf(w, REC_SIZE, QFILE_SIZE_FMT, 0L, 0L, 2L, 0L, 0L, 0L);
    qfile_putf(w, REC_TIME, "%ld %ld", (long)time(NULL) - 2, 0L);
    qfile_puts(w, REC_SENDER, "alice@example.org");
    qfile_puts(w, REC_ORCPT, "Bob@Example.org");
    *off1 = qfile_writer_offset(w);
    qfile_puts(w, REC_RCPT, "bob@example.org");
    *off2 = qfile_writer_offset(w);
    qfile_puts(w, REC_RCPT, "carol@example.org");
    qfile_put(w, REC_MESG, "", 0);
    qfile_put_line(w, "Subject: hi", 11);
    qfile_put_line(w, "", 0);
    qfile_put(w, REC_CONT, "first half ", 11);
    qfile_put(w, REC_NORM, "second half", 11);
    qfile_put_line(w, "From here", 9);
    qfile_put(w, REC_XTRA, "", 0);
    qfile_put(w, REC_END, "", 0);
    EXPECT_EQ_INT(qfile_commit(w), 0);
    qfile_writer_free(w);
    sbuf_free(path);
}

static int collect(const char *line, size_t len, void *ctx)
{
    struct sbuf *b = ctx;
    sbuf_append(b, line, len);
    sbuf_addch(b, '|');
    return 0;
}

static int rec_type_at(const char *id, off_t off)
{
    struct sbuf *path = sbuf_new(64);
    mail_queue_path(path, "active", id);
    int fd = open(sbuf_str(path), O_RDONLY);
    char c = 0;
    if (pread(fd, &c, 1, off) != 1)
        c = 0;
    close(fd);
    sbuf_free(path);
    return c;
}

static int count_log(const char *queue, const char *id)
{
    struct dsn_entry *e = NULL;
    int n = dsn_log_read(queue, id, &e);
    if (n > 0)
        dsn_entries_free(e, n);
    return n;
}

static void test_queue_file(void)
{
    char dir[] = "/tmp/deliver_test.XXXXXX";
    EXPECT_TRUE(mkdtemp(dir) != NULL);
    EXPECT_EQ_INT(chdir(dir), 0);
    mkdir("active", 0700);
    mkdir("bounce", 0700);
    mkdir("defer", 0700);
    mkdir("trace", 0700);
    off_t o1, o2;
    const char *id = "ABCDEF0123";
    make_queue_file(id, &o1, &o2);

    char offs[2][32];
    snprintf(offs[0], sizeof(offs[0]), "%ld", (long)o1);
    snprintf(offs[1], sizeof(offs[1]), "%ld", (long)o2);
    struct attr_list *l = base_list("2");
    add_rcpt(l, "bob@example.org", offs[0]);
    add_rcpt(l, "carol@example.org", offs[1]);
    struct sbuf *why = sbuf_new(64);
    struct deliver_request *r = deliver_request_parse(l, why);
    EXPECT_TRUE(r != NULL);
    EXPECT_EQ_INT(deliver_request_open(r, why), 0);
    EXPECT_TRUE(r->content_offset > o2);

    struct sbuf *content = sbuf_new(128);
    EXPECT_EQ_INT(deliver_content_lines(r, collect, content), 0);
    EXPECT_EQ_STR(sbuf_str(content), "Subject: hi||first half second half|From here|");
    sbuf_reset(content);
    EXPECT_EQ_INT(deliver_content_lines(r, collect, content), 0);   /* repeatable */
    EXPECT_EQ_STR(sbuf_str(content), "Subject: hi||first half second half|From here|");

    /* sent with NOTIFY=SUCCESS: trace entry and R -> D */
    r->rcpts[0].notify = DSN_NOTIFY_SUCCESS;
    EXPECT_EQ_INT(deliver_sent(r, &r->rcpts[0], "2.0.0", "delivered to %s", "mailbox"), 0);
    EXPECT_EQ_INT(rec_type_at(id, o1), REC_DONE);
    EXPECT_EQ_INT(count_log("trace", id), 1);
    EXPECT_TRUE(!r->deferred);

    /* deferred: defer log, R stays */
    EXPECT_EQ_INT(deliver_defer(r, &r->rcpts[1], "4.2.0", "mailbox busy"), 0);
    EXPECT_EQ_INT(rec_type_at(id, o2), REC_RCPT);
    EXPECT_EQ_INT(count_log("defer", id), 1);
    EXPECT_TRUE(r->deferred);

    /* bounced: bounce log, marked done */
    EXPECT_EQ_INT(deliver_bounce(r, &r->rcpts[1], "5.1.1", "unknown user: \"carol\""), 0);
    EXPECT_EQ_INT(rec_type_at(id, o2), REC_DONE);
    struct dsn_entry *e = NULL;
    int n = dsn_log_read("bounce", id, &e);
    EXPECT_EQ_INT(n, 1);
    if (n == 1) {
        EXPECT_EQ_STR(e[0].status, "5.1.1");
        EXPECT_EQ_STR(e[0].action, "failed");
        EXPECT_EQ_STR(e[0].recipient, "carol@example.org");
        EXPECT_EQ_STR(e[0].reason, "unknown user: \"carol\"");
        EXPECT_EQ_INT(e[0].offset, (long)o2);
        dsn_entries_free(e, n);
    }
    deliver_request_free(r);

    /* an offset that is not a recipient record is refused */
    attr_list_free(l);
    l = base_list("1");
    add_rcpt(l, "bob@example.org", "3");
    r = deliver_request_parse(l, why);
    EXPECT_TRUE(r != NULL);
    EXPECT_EQ_INT(deliver_request_open(r, why), -1);
    EXPECT_TRUE(strstr(sbuf_str(why), "not a recipient record") != NULL);
    deliver_request_free(r);
    attr_list_free(l);

    /* a missing queue file is an error, not a crash */
    l = base_list("1");
    add_rcpt(l, "bob@example.org", offs[0]);
    attr_list_reset(l);
    attr_add(l, "queue_name", "active");
    attr_add(l, "queue_id", "NOSUCHFILE");
    attr_add(l, "sender", "");
    attr_add(l, "rcpt_count", "1");
    add_rcpt(l, "bob@x", "10");
    r = deliver_request_parse(l, why);
    EXPECT_TRUE(r != NULL);
    EXPECT_EQ_INT(deliver_request_open(r, why), -1);
    deliver_request_free(r);
    attr_list_free(l);

    sbuf_free(content);
    sbuf_free(why);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    EXPECT_EQ_INT(system(cmd), 0);
}

/* The first entry of QUEUE/ID, as "status action reason" (or ""). */
static void first_entry(struct sbuf *out, const char *queue, const char *id)
{
    struct dsn_entry *e = NULL;
    int n = dsn_log_read(queue, id, &e);
    sbuf_reset(out);
    if (n > 0) {
        sbuf_printf(out, "%s %s %s", e[0].status, e[0].action, e[0].reason);
        dsn_entries_free(e, n);
    }
}

static void test_status_filter(void)
{
    char dir[] = "/tmp/deliver_filter_test.XXXXXX";
    EXPECT_TRUE(mkdtemp(dir) != NULL);
    EXPECT_EQ_INT(chdir(dir), 0);
    mkdir("active", 0700);
    mkdir("bounce", 0700);
    mkdir("defer", 0700);
    mkdir("trace", 0700);
    FILE *fp = fopen("filter.re", "w");
    EXPECT_TRUE(fp != NULL);
    fputs("/^5\\.1\\.1 (.*)/ 4.1.1 soft: $1\n"
          "/^4\\.2\\.0 (.*)/ 5.2.0 hard: $1\n"
          "/^5\\.7\\.1 / 2.0.0 not allowed\n"
          "/^2\\.0\\.0 (delivered to file).*/ 2.0.1 $1\n",
          fp);
    fclose(fp);
    struct sbuf *spec = sbuf_new(64), *e = sbuf_new(128), *why = sbuf_new(64);
    sbuf_printf(spec, "regexp:%s/filter.re", dir);
    struct dsn_filter *f = dsn_filter_new("local_delivery_status_filter", sbuf_str(spec));
    struct dsn_filter *broken = dsn_filter_new("local_delivery_status_filter", "fail:down");
    EXPECT_TRUE(f != NULL && broken != NULL);

    const char *id = "FILTER0123";
    off_t o1, o2;
    make_queue_file(id, &o1, &o2);
    char offs[2][32];
    snprintf(offs[0], sizeof(offs[0]), "%ld", (long)o1);
    snprintf(offs[1], sizeof(offs[1]), "%ld", (long)o2);
    struct attr_list *l = base_list("2");
    attr_list_reset(l);
    attr_add(l, "queue_name", "active");
    attr_add(l, "queue_id", id);
    attr_add(l, "sender", "alice@example.org");
    attr_add(l, "rcpt_count", "2");
    add_rcpt(l, "bob@example.org", offs[0]);
    add_rcpt(l, "carol@example.org", offs[1]);
    struct deliver_request *r = deliver_request_parse(l, why);
    EXPECT_TRUE(r != NULL);
    EXPECT_EQ_INT(deliver_request_open(r, why), 0);
    r->status_filter = f;

    /* a bounce the filter makes a deferral: defer log, R stays */
    EXPECT_EQ_INT(deliver_bounce(r, &r->rcpts[0], "5.1.1", "unknown user: \"Bob\""), 0);
    EXPECT_EQ_INT(r->reported, DELIVER_DEFERRED);
    EXPECT_TRUE(r->deferred);
    EXPECT_EQ_INT(rec_type_at(id, o1), REC_RCPT);
    EXPECT_EQ_INT(count_log("bounce", id), 0);
    first_entry(e, "defer", id);
    EXPECT_EQ_STR(sbuf_str(e), "4.1.1 delayed soft: unknown user: \"Bob\"");

    /* a deferral the filter makes a bounce: bounce log, marked done */
    EXPECT_EQ_INT(deliver_defer(r, &r->rcpts[1], "4.2.0", "mailbox busy"), 0);
    EXPECT_EQ_INT(r->reported, DELIVER_BOUNCED);
    EXPECT_EQ_INT(rec_type_at(id, o2), REC_DONE);
    first_entry(e, "bounce", id);
    EXPECT_EQ_STR(sbuf_str(e), "5.2.0 failed hard: mailbox busy");

    /* failure -> success is refused: the bounce stays a bounce */
    EXPECT_EQ_INT(
        deliver_status(r, &r->rcpts[1], DELIVER_BOUNCED, DELIVER_F_NOMARK, "5.7.1", "relay denied"),
        0);
    EXPECT_EQ_INT(r->reported, DELIVER_BOUNCED);
    EXPECT_EQ_INT(count_log("bounce", id), 2);

    /* a success keeps its kind; the text may change */
    r->rcpts[0].notify = DSN_NOTIFY_SUCCESS;
    EXPECT_EQ_INT(deliver_status(r, &r->rcpts[0], DELIVER_SENT, DELIVER_F_NOMARK, "2.0.0",
                                 "delivered to file: /home/bob/secret"),
                  0);
    EXPECT_EQ_INT(r->reported, DELIVER_SENT);
    first_entry(e, "trace", id);
    EXPECT_EQ_STR(sbuf_str(e), "2.0.1 delivered delivered to file");

    /* the table fails: a bounce is deferred with 4.3.0, a success kept */
    r->status_filter = broken;
    EXPECT_EQ_INT(
        deliver_status(r, &r->rcpts[0], DELIVER_BOUNCED, DELIVER_F_NOMARK, "5.1.1", "unknown user"),
        0);
    EXPECT_EQ_INT(r->reported, DELIVER_DEFERRED);
    EXPECT_EQ_INT(count_log("bounce", id), 2);
    EXPECT_EQ_INT(count_log("defer", id), 2);
    struct dsn_entry *d = NULL;
    int n = dsn_log_read("defer", id, &d);
    EXPECT_EQ_INT(n, 2);
    if (n == 2) {
        EXPECT_EQ_STR(d[1].status, "4.3.0");
        EXPECT_EQ_STR(d[1].reason,
                      "delivery status filter lookup error (original status: 5.1.1 unknown user)");
        dsn_entries_free(d, n);
    }
    EXPECT_EQ_INT(deliver_status(r, &r->rcpts[0], DELIVER_SENT, DELIVER_F_NOMARK, "2.0.0",
                                 "delivered to maildir"),
                  0);
    EXPECT_EQ_INT(r->reported, DELIVER_SENT);
    EXPECT_EQ_INT(count_log("trace", id), 2);

    deliver_request_free(r);
    attr_list_free(l);
    dsn_filter_free(f);
    dsn_filter_free(broken);
    sbuf_free(spec);
    sbuf_free(e);
    sbuf_free(why);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    EXPECT_EQ_INT(system(cmd), 0);
}

int main(void)
{
    harness_init();
    test_parse();
    test_helpers();
    test_queue_file();
    test_status_filter();
    return harness_done();
}
