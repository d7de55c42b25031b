/*
 * postqueue_test.c - postqueue -p and -j formatting against Postfix output
 *
 * Used by: make unit.
 * Notes: the expected text was produced by Postfix 3.7's postqueue from the
 *        same showq records (TZ=UTC); includes cmd/postqueue/postqueue_fmt.c.
 */
#include "harness.h"
#include "../../cmd/postqueue/postqueue_fmt.c"

static struct attr_list *mk(const char *const *kv)
{
    struct attr_list *l = attr_list_new();
    for (; kv[0]; kv += 2)
        attr_add(l, kv[0], kv[1]);
    return l;
}

static const char *const msg_active[] = {
    "queue_name", "active", "queue_id", "3F0C4200A7", "time", "1700000000", "size", "428",
    "forced_expire", "0", "sender", "alice@example.com", "recipient", "bob@example.org",
    "reason", "", "recipient", "carol@example.org", "reason", "", NULL
};
static const char *const msg_deferred[] = {
    "queue_name", "deferred", "queue_id", "AAAA", "time", "1700000000", "size", "1",
    "forced_expire", "0", "sender", "a@b",
    "recipient", "r1@x", "reason", "x",
    "recipient", "r78@x", "reason",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "recipient", "same1@x", "reason", "same",
    "recipient", "same2@x", "reason", "same",
    "recipient", "tab@x", "reason", "a\tb\001c \xc3\xbc", NULL
};
static const char *const msg_hold[] = {
    "queue_name", "hold", "queue_id", "BBBB", "time", "1700000000", "size", "1",
    "forced_expire", "1", "sender", "a@b", "recipient", "q\"@x", "reason", "", NULL
};

static const char expect_list[] =
    "-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------\n"
    "3F0C4200A7*     428 Tue Nov 14 22:13:20  alice@example.com\n"
    "                                         bob@example.org\n"
    "                                         carol@example.org\n"
    "\n"
    "AAAA              1 Tue Nov 14 22:13:20  a@b\n"
    "                                                                           (x)\n"
    "                                         r1@x\n"
    "(xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx)\n"
    "                                         r78@x\n"
    "                                                                        (same)\n"
    "                                         same1@x\n"
    "                                         same2@x\n"
    "                                                                    (a?b?c \xc3\xbc)\n"
    "                                         tab@x\n"
    "\n"
    "BBBB!#            1 Tue Nov 14 22:13:20  a@b\n"
    "                                         q\"@x\n"
    "\n"
    "-- 0 Kbytes in 3 Requests.\n";

static const char expect_json[] =
    "{\"queue_name\": \"active\", \"queue_id\": \"3F0C4200A7\", \"arrival_time\": 1700000000, "
    "\"message_size\": 428, \"forced_expire\": false, \"sender\": \"alice@example.com\", "
    "\"recipients\": [{\"address\": \"bob@example.org\"}, {\"address\": \"carol@example.org\"}]}\n"
    "{\"queue_name\": \"hold\", \"queue_id\": \"BBBB\", \"arrival_time\": 1700000000, "
    "\"message_size\": 1, \"forced_expire\": true, \"sender\": \"a@b\", "
    "\"recipients\": [{\"address\": \"q\\\"@x\"}]}\n";

static void test_list(void)
{
    const char *const *msgs[] = { msg_active, msg_deferred, msg_hold };
    struct sbuf *out = sbuf_new(1024);
    unsigned long bytes = 0;
    pq_list_header(out, false);
    for (size_t i = 0; i < ARRAY_LEN(msgs); i++) {
        struct attr_list *l = mk(msgs[i]);
        struct pq_msg m;
        EXPECT_EQ_INT(pq_msg_from_attrs(&m, l), 0);
        pq_list_msg(out, &m, false);
        bytes += (unsigned long)m.size;
        pq_msg_free(&m);
        attr_list_free(l);
    }
    pq_list_summary(out, bytes, 3);
    EXPECT_EQ_STR(sbuf_str(out), expect_list);

    sbuf_reset(out);
    pq_list_summary(out, 0, 0);
    EXPECT_EQ_STR(sbuf_str(out), "Mail queue is empty\n");
    sbuf_reset(out);
    pq_list_summary(out, 13772, 1);
    EXPECT_EQ_STR(sbuf_str(out), "-- 13 Kbytes in 1 Request.\n");

    sbuf_reset(out);
    pq_list_header(out, true);
    EXPECT_EQ_STR(sbuf_str(out), "-Queue ID-        --Size-- ----Arrival Time---- "
                                 "-Sender/Recipient-------\n");
    sbuf_free(out);
}

static void test_json(void)
{
    const char *const *msgs[] = { msg_active, msg_hold };
    struct sbuf *out = sbuf_new(1024);
    for (size_t i = 0; i < ARRAY_LEN(msgs); i++) {
        struct attr_list *l = mk(msgs[i]);
        struct pq_msg m;
        EXPECT_EQ_INT(pq_msg_from_attrs(&m, l), 0);
        pq_json_msg(out, &m);
        pq_msg_free(&m);
        attr_list_free(l);
    }
    EXPECT_EQ_STR(sbuf_str(out), expect_json);

    /* delay reasons are sanitized the same way as in the listing */
    struct attr_list *l = mk(msg_deferred);
    struct pq_msg m;
    sbuf_reset(out);
    EXPECT_EQ_INT(pq_msg_from_attrs(&m, l), 0);
    pq_json_msg(out, &m);
    EXPECT_TRUE(strstr(sbuf_str(out), "{\"address\": \"tab@x\", \"delay_reason\": "
                                      "\"a?b?c \xc3\xbc\"}]}\n") != NULL);
    pq_msg_free(&m);
    attr_list_free(l);

    /* a record without sender is rejected */
    static const char *const bad[] = { "queue_name", "active", "queue_id", "X", NULL };
    l = mk(bad);
    EXPECT_EQ_INT(pq_msg_from_attrs(&m, l), -1);
    attr_list_free(l);
    sbuf_free(out);
}

int main(void)
{
    harness_init();
    setenv("TZ", "UTC", 1);
    tzset();
    test_list();
    test_json();
    return harness_done();
}
