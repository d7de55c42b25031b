/*
 * bounce_test.c - DSN text generation, NOTIFY/RET parsing, notify_classes
 *
 * Used by: make unit.
 * Notes: includes bounce/bounce_dsn.c (pure functions). The generated DSN
 *        is also parsed with Python's email package when python3 exists.
 */
#include "harness.h"
#include "../../bounce/bounce_dsn.c"
#include "dsn_notify.h"
#include "qfile.h"

static const char orig_msg[] = "From: alice@example.com\n"
                               "To: bob@example.org\n"
                               "Subject: hello\n"
                               "\n"
                               "body line one\n"
                               "SECRET body line two\n";

static struct dsn_entry entries[2] = {
    { .recipient = "bob@example.org", .orig_rcpt = "bob@example.org",
      .dsn_orcpt = "rfc822;bob@example.org", .notify = 0, .offset = 100, .status = "5.1.1",
      .action = "failed", .reason = "host mx.example.org[192.0.2.1] said: 550 5.1.1 no such user",
      .mta = "mx.example.org", .diag_type = "smtp", .diag_text = "550 5.1.1 no such user" },
    { .recipient = "carol@local.example", .orig_rcpt = "c@local.example", .dsn_orcpt = "",
      .notify = DSN_NOTIFY_FAILURE, .offset = 200, .status = "5.1.1", .action = "failed",
      .reason = "unknown user: \"carol\"", .mta = "", .diag_type = "", .diag_text = "" },
};

static struct bounce_msg base_msg(void)
{
    struct bounce_msg m = {
        .kind = BOUNCE_KIND_FAILED,
        .queue_id = "65A1B2C3D4E5F60789",
        .hostname = "mx.local.example",
        .from = "MAILER-DAEMON@local.example",
        .sender = "alice@example.com",
        .to = "alice@example.com",
        .envid = "ENV123",
        .boundary = "B0UND.1700000000/mx.local.example",
        .message_id = "<20231114221320.X@mx.local.example>",
        .arrival = 1700000000,
        .now = 1700000100,
        .ret = 0,
        .size_limit = 50000,
    };
    return m;
}

static int count_str(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static bool has_line(const char *text, const char *line)
{
    size_t len = strlen(line);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, line, len) == 0 && (p[len] == '\n' || p[len] == 0))
            return true;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return false;
}

static void test_failure_dsn(void)
{
    struct sbuf *out = sbuf_new(1024);
    struct bounce_msg m = base_msg();
    bounce_dsn_build(out, &m, entries, 2, orig_msg, strlen(orig_msg));
    const char *t = sbuf_str(out);
    EXPECT_TRUE(has_line(t, "From: MAILER-DAEMON@local.example (Mail Delivery System)"));
    EXPECT_TRUE(has_line(t, "Subject: Undelivered Mail Returned to Sender"));
    EXPECT_TRUE(has_line(t, "To: alice@example.com"));
    EXPECT_TRUE(has_line(t, "Auto-Submitted: auto-replied"));
    EXPECT_TRUE(has_line(t, "MIME-Version: 1.0"));
    EXPECT_TRUE(has_line(t, "Content-Type: multipart/report; report-type=delivery-status;"));
    EXPECT_TRUE(has_line(t, "\tboundary=\"B0UND.1700000000/mx.local.example\""));
    /* three parts and the closing delimiter */
    EXPECT_EQ_INT(count_str(t, "\n--B0UND.1700000000/mx.local.example\n"), 3);
    EXPECT_EQ_INT(count_str(t, "\n--B0UND.1700000000/mx.local.example--\n"), 1);
    const char *p1 = strstr(t, "Content-Type: text/plain");
    const char *p2 = strstr(t, "Content-Type: message/delivery-status");
    const char *p3 = strstr(t, "Content-Type: message/rfc822");
    EXPECT_TRUE(p1 && p2 && p3 && p1 < p2 && p2 < p3);
    EXPECT_TRUE(has_line(t, "Original-Envelope-Id: ENV123"));
    EXPECT_TRUE(has_line(t, "Reporting-MTA: dns; mx.local.example"));
    EXPECT_TRUE(has_line(t, "X-Postfix-Queue-ID: 65A1B2C3D4E5F60789"));
    EXPECT_TRUE(has_line(t, "X-Postfix-Sender: rfc822; alice@example.com"));
    EXPECT_TRUE(strstr(t, "\nArrival-Date: ") != NULL);
    EXPECT_TRUE(has_line(t, "Final-Recipient: rfc822; bob@example.org"));
    EXPECT_TRUE(has_line(t, "Original-Recipient: rfc822;bob@example.org"));
    EXPECT_TRUE(has_line(t, "Remote-MTA: dns; mx.example.org"));
    EXPECT_TRUE(has_line(t, "Diagnostic-Code: smtp; 550 5.1.1 no such user"));
    EXPECT_TRUE(has_line(t, "Final-Recipient: rfc822; carol@local.example"));
    EXPECT_TRUE(has_line(t, "Original-Recipient: rfc822; c@local.example"));
    EXPECT_TRUE(has_line(t, "Diagnostic-Code: X-Postfix; unknown user: \"carol\""));
    EXPECT_EQ_INT(count_str(t, "\nAction: failed\n"), 2);
    EXPECT_EQ_INT(count_str(t, "\nStatus: 5.1.1\n"), 2);
    EXPECT_TRUE(strstr(t, "Will-Retry-Until") == NULL);
    /* the human part names the recipients and the reasons */
    EXPECT_TRUE(strstr(t, "<carol@local.example> (expanded from <c@local.example>): unknown user")
                != NULL);
    /* the whole original message is returned */
    EXPECT_TRUE(strstr(t, "SECRET body line two\n") != NULL);
    /* the per-message block is separated from recipients by a blank line */
    EXPECT_TRUE(strstr(t, "\n\nFinal-Recipient: rfc822; bob@example.org\n") != NULL);
    sbuf_free(out);
}

static void test_headers_only(void)
{
    struct sbuf *out = sbuf_new(1024);
    struct bounce_msg m = base_msg();
    m.ret = DSN_RET_HDRS;
    bounce_dsn_build(out, &m, entries, 1, orig_msg, strlen(orig_msg));
    EXPECT_TRUE(strstr(sbuf_str(out), "Content-Type: text/rfc822-headers") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(out), "Content-Type: message/rfc822") == NULL);
    EXPECT_TRUE(strstr(sbuf_str(out), "Subject: hello\n") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(out), "SECRET") == NULL);

    /* too large for bounce_size_limit: headers only as well */
    m = base_msg();
    m.size_limit = 20;
    bounce_dsn_build(out, &m, entries, 1, orig_msg, strlen(orig_msg));
    EXPECT_TRUE(strstr(sbuf_str(out), "Content-Type: text/rfc822-headers") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(out), "SECRET") == NULL);

    /* postmaster copies never carry the body */
    m = base_msg();
    m.postmaster_copy = true;
    bounce_dsn_build(out, &m, entries, 1, orig_msg, strlen(orig_msg));
    EXPECT_TRUE(has_line(sbuf_str(out), "Subject: Postmaster Copy: Undelivered Mail"));
    EXPECT_TRUE(strstr(sbuf_str(out), "SECRET") == NULL);

    /* no original: two parts only */
    m = base_msg();
    bounce_dsn_build(out, &m, entries, 1, NULL, 0);
    EXPECT_EQ_INT(count_str(sbuf_str(out), "\n--B0UND.1700000000/mx.local.example\n"), 2);
    sbuf_free(out);
}

static void test_delay_and_success(void)
{
    struct sbuf *out = sbuf_new(1024);
    struct bounce_msg m = base_msg();
    struct dsn_entry d = entries[0];
    d.status = "4.4.1";
    d.action = "delayed";
    m.kind = BOUNCE_KIND_DELAYED;
    m.retry_until = 1700432000;
    bounce_dsn_build(out, &m, &d, 1, orig_msg, strlen(orig_msg));
    const char *t = sbuf_str(out);
    EXPECT_TRUE(has_line(t, "Subject: Delayed Mail (still being retried)"));
    EXPECT_TRUE(has_line(t, "Action: delayed"));
    EXPECT_TRUE(has_line(t, "Status: 4.4.1"));
    EXPECT_TRUE(strstr(t, "\nWill-Retry-Until: ") != NULL);
    EXPECT_TRUE(has_line(t, "Content-Description: Delayed Message Headers"));
    EXPECT_TRUE(has_line(t, "Content-Type: text/rfc822-headers"));
    EXPECT_TRUE(strstr(t, "SECRET") == NULL);   /* a warning never carries the body */

    struct dsn_entry s = entries[0];
    s.status = "2.0.0";
    s.action = "";      /* default from the kind */
    m = base_msg();
    m.kind = BOUNCE_KIND_DELIVERED;
    bounce_dsn_build(out, &m, &s, 1, orig_msg, strlen(orig_msg));
    t = sbuf_str(out);
    EXPECT_TRUE(has_line(t, "Subject: Successful Mail Delivery Report"));
    EXPECT_TRUE(has_line(t, "Action: delivered"));
    EXPECT_TRUE(has_line(t, "Status: 2.0.0"));
    EXPECT_TRUE(has_line(t, "Content-Type: text/rfc822-headers"));
    EXPECT_TRUE(strstr(t, "SECRET") == NULL);   /* nor does a success notice */

    /* sendmail -bv: a status report; actions come from the trace log. */
    struct dsn_entry r[2] = { entries[0], entries[0] };
    r[0].status = "2.0.0";
    r[0].action = "deliverable";
    r[0].reason = "delivers to mailbox of user alice";
    r[1].recipient = "nobody@example.org";
    r[1].orig_rcpt = "";
    r[1].status = "5.1.1";
    r[1].action = "undeliverable";
    r[1].reason = "unknown user: \"nobody\"";
    m = base_msg();
    m.kind = BOUNCE_KIND_REPORT;
    bounce_dsn_build(out, &m, r, 2, orig_msg, strlen(orig_msg));
    t = sbuf_str(out);
    EXPECT_TRUE(has_line(t, "Subject: Mail Delivery Status Report"));
    EXPECT_TRUE(has_line(t, "Action: deliverable"));
    EXPECT_TRUE(has_line(t, "Action: undeliverable"));
    EXPECT_TRUE(has_line(t, "<nobody@example.org>: unknown user: \"nobody\""));
    EXPECT_TRUE(has_line(t, "Content-Description: Verified Message Headers"));
    EXPECT_TRUE(strstr(t, "SECRET") == NULL);
    EXPECT_TRUE(bounce_entry_wanted(BOUNCE_KIND_REPORT, DSN_NOTIFY_NEVER) == false);
    EXPECT_TRUE(bounce_entry_wanted(BOUNCE_KIND_REPORT, 0));
    sbuf_free(out);
}

static void test_wanted(void)
{
    EXPECT_TRUE(bounce_entry_wanted(BOUNCE_KIND_FAILED, 0));
    EXPECT_TRUE(bounce_entry_wanted(BOUNCE_KIND_FAILED, DSN_NOTIFY_FAILURE));
    EXPECT_TRUE(!bounce_entry_wanted(BOUNCE_KIND_FAILED, DSN_NOTIFY_NEVER));
    EXPECT_TRUE(!bounce_entry_wanted(BOUNCE_KIND_FAILED, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY));
    EXPECT_TRUE(bounce_entry_wanted(BOUNCE_KIND_DELAYED, 0));
    EXPECT_TRUE(!bounce_entry_wanted(BOUNCE_KIND_DELAYED, DSN_NOTIFY_FAILURE));
    EXPECT_TRUE(bounce_entry_wanted(BOUNCE_KIND_DELAYED, DSN_NOTIFY_DELAY));
}

static void test_notify_parse(void)
{
    struct sbuf *b = sbuf_new(32);
    EXPECT_EQ_INT(dsn_notify_parse("NEVER"), DSN_NOTIFY_NEVER);
    EXPECT_EQ_INT(dsn_notify_parse("success,Failure"), DSN_NOTIFY_SUCCESS | DSN_NOTIFY_FAILURE);
    EXPECT_EQ_INT(dsn_notify_parse("DELAY"), DSN_NOTIFY_DELAY);
    EXPECT_EQ_INT(dsn_notify_parse("NEVER,DELAY"), -1);
    EXPECT_EQ_INT(dsn_notify_parse(""), -1);
    EXPECT_EQ_INT(dsn_notify_parse("SUCCESS,"), -1);
    EXPECT_EQ_INT(dsn_notify_parse("BOGUS"), -1);
    EXPECT_EQ_INT(dsn_notify_parse("FAIL"), -1);
    dsn_notify_format(b, DSN_NOTIFY_FAILURE | DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY);
    EXPECT_EQ_STR(sbuf_str(b), "SUCCESS,DELAY,FAILURE");
    dsn_notify_format(b, DSN_NOTIFY_NEVER);
    EXPECT_EQ_STR(sbuf_str(b), "NEVER");
    dsn_notify_format(b, 0);
    EXPECT_EQ_STR(sbuf_str(b), "");
    EXPECT_EQ_INT(dsn_ret_parse("hdrs"), DSN_RET_HDRS);
    EXPECT_EQ_INT(dsn_ret_parse("FULL"), DSN_RET_FULL);
    EXPECT_EQ_INT(dsn_ret_parse("FULLX"), -1);
    EXPECT_EQ_STR(dsn_ret_str(DSN_RET_HDRS), "HDRS");

    sbuf_reset(b);
    EXPECT_EQ_INT(notify_class_parse("resource, software", b),
                  NOTIFY_CLASS_RESOURCE | NOTIFY_CLASS_SOFTWARE);
    EXPECT_EQ_STR(sbuf_str(b), "");
    EXPECT_EQ_INT(notify_class_parse("2bounce,bogus bounce", b),
                  NOTIFY_CLASS_2BOUNCE | NOTIFY_CLASS_BOUNCE);
    EXPECT_EQ_STR(sbuf_str(b), "bogus");
    EXPECT_EQ_INT(notify_class_parse("", NULL), 0);
    sbuf_free(b);
}

/* Parses the DSN with Python's email package: the structure a mail client
 * sees must be multipart/report with the three expected parts. */
static void test_python_parse(void)
{
    if (system("command -v python3 >/dev/null 2>&1") != 0) {
        printf("skip: python3 not found\n");
        return;
    }
    char path[] = "/tmp/bounce_test.XXXXXX";
    int fd = mkstemp(path);
    EXPECT_TRUE(fd >= 0);
    if (fd < 0)
        return;
    struct sbuf *out = sbuf_new(1024);
    struct bounce_msg m = base_msg();
    bounce_dsn_build(out, &m, entries, 2, orig_msg, strlen(orig_msg));
    EXPECT_TRUE(write(fd, sbuf_str(out), sbuf_len(out)) == (ssize_t)sbuf_len(out));
    close(fd);
    struct sbuf *cmd = sbuf_new(512);
    sbuf_printf(cmd,
                "python3 -c '\n"
                "import email, sys\n"
                "m = email.message_from_bytes(open(sys.argv[1], \"rb\").read())\n"
                "assert m.get_content_type() == \"multipart/report\", m.get_content_type()\n"
                "assert m.get_param(\"report-type\") == \"delivery-status\"\n"
                "p = m.get_payload()\n"
                "assert [x.get_content_type() for x in p] == [\"text/plain\", "
                "\"message/delivery-status\", \"message/rfc822\"], p\n"
                "ds = p[1].get_payload()\n"
                "assert ds[0][\"Reporting-MTA\"] == \"dns; mx.local.example\"\n"
                "assert len(ds) == 3, len(ds)\n"
                "assert ds[1][\"Final-Recipient\"] == \"rfc822; bob@example.org\"\n"
                "assert ds[2][\"Status\"] == \"5.1.1\"\n"
                "inner = p[2].get_payload()[0]\n"
                "assert inner[\"Subject\"] == \"hello\"\n"
                "' %s",
                path);
    EXPECT_EQ_INT(system(sbuf_str(cmd)), 0);
    unlink(path);
    sbuf_free(cmd);
    sbuf_free(out);
}

/* enable_threaded_bounces: the original's Message-ID and the two headers. */
static void test_threaded(void)
{
    struct sbuf *id = sbuf_new(64), *out = sbuf_new(4096);
    static const char folded[] = "From: a@x\nmessage-id :\n\t <abc.123@x.example> \r\n"
                                 "Subject: s\n\nMessage-ID: <body@x>\n";
    EXPECT_TRUE(bounce_message_id(id, folded, sizeof(folded) - 1));
    EXPECT_EQ_STR(sbuf_str(id), "<abc.123@x.example>");
    /* none in the header (one in the body does not count), an empty one,
     * a bare CR inside the value */
    EXPECT_TRUE(!bounce_message_id(id, orig_msg, sizeof(orig_msg) - 1));
    EXPECT_EQ_STR(sbuf_str(id), "");
    static const char body_only[] = "Subject: s\n\nMessage-ID: <body@x>\n";
    EXPECT_TRUE(!bounce_message_id(id, body_only, sizeof(body_only) - 1));
    static const char empty[] = "Message-ID:   \nSubject: s\n\n";
    EXPECT_TRUE(!bounce_message_id(id, empty, sizeof(empty) - 1));
    static const char bad[] = "Message-ID: <a\rb@x>\n\n";
    EXPECT_TRUE(!bounce_message_id(id, bad, sizeof(bad) - 1));
    /* a header name that only starts with Message-ID */
    static const char other[] = "Message-IDs: <no@x>\n\n";
    EXPECT_TRUE(!bounce_message_id(id, other, sizeof(other) - 1));

    struct bounce_msg m = base_msg();
    bounce_dsn_build(out, &m, entries, 2, orig_msg, sizeof(orig_msg) - 1);
    EXPECT_TRUE(strstr(sbuf_str(out), "In-Reply-To:") == NULL);
    EXPECT_TRUE(strstr(sbuf_str(out), "References:") == NULL);
    m.thread_id = "<abc.123@x.example>";
    m.kind = BOUNCE_KIND_DELAYED;
    bounce_dsn_build(out, &m, entries, 2, orig_msg, sizeof(orig_msg) - 1);
    EXPECT_TRUE(has_line(sbuf_str(out), "In-Reply-To: <abc.123@x.example>"));
    EXPECT_TRUE(has_line(sbuf_str(out), "References: <abc.123@x.example>"));
    /* in the notice's own header, before its body */
    const char *body = strstr(sbuf_str(out), "\n\n");
    const char *irt = strstr(sbuf_str(out), "In-Reply-To:");
    EXPECT_TRUE(body && irt && irt < body);
    sbuf_free(id);
    sbuf_free(out);
}

int main(void)
{
    harness_init();
    setenv("TZ", "UTC", 1);
    tzset();
    test_failure_dsn();
    test_headers_only();
    test_delay_and_success();
    test_wanted();
    test_notify_parse();
    test_python_parse();
    test_threaded();
    return harness_done();
}
