/*
 * smtp_generic_test.c - smtp_generic_maps lookups and header rewriting
 *
 * Used by: make unit.
 * Interface: main() (tests/harness.h).
 * Notes: smtp_generic.c belongs to the smtp program, not to libpostern, so
 *        it is compiled into this test directly. The table is inline:, so
 *        the test needs no files.
 */
#include "../../smtp/smtp_generic.c"
#include "harness.h"

static void map_case(int line, const char *in, int want_rc, const char *want)
{
    struct sbuf *a = sbuf_new(64);
    sbuf_set(a, in);
    int rc = smtp_generic_map(a);
    char what[512];
    snprintf(what, sizeof(what), "map <%s> -> rc=%d <%s> (want %d <%s>)", in, rc, sbuf_str(a),
             want_rc, want);
    harness_report(rc == want_rc && strcmp(sbuf_str(a), want) == 0, __FILE__, line, what);
    sbuf_free(a);
}

static void header_case(int line, const char *in, int want_rc, const char *want)
{
    struct sbuf *h = sbuf_new(64);
    sbuf_set(h, in);
    int rc = smtp_generic_header(h);
    char what[512];
    snprintf(what, sizeof(what), "header [%s] -> rc=%d [%s] (want %d [%s])", in, rc, sbuf_str(h),
             want_rc, want);
    harness_report(rc == want_rc && strcmp(sbuf_str(h), want) == 0, __FILE__, line, what);
    sbuf_free(h);
}

int main(void)
{
    harness_init();
    config_set(P_MYORIGIN, "example.test");
    config_set(P_MYDESTINATION, "example.test, localhost");
    config_set(P_INET_INTERFACES, "127.0.0.1");
    config_set(P_RECIPIENT_DELIMITER, "+");
    config_set(P_SMTP_GENERIC_MAPS,
               "inline:{ {alice@example.test=alice.public@isp.example}, "
               "{bob=robert@isp.example}, {@example.test=@public.example}, "
               "{@old.example=postmaster@isp.example} }");
    smtp_generic_load(false);
    EXPECT_TRUE(smtp_generic_active());

    /* generic(5) order: user@domain, user (own domains only), @domain. */
    map_case(__LINE__, "alice@example.test", 1, "alice.public@isp.example");
    map_case(__LINE__, "bob@example.test", 1, "robert@isp.example");
    map_case(__LINE__, "bob@localhost", 1, "robert@isp.example");
    map_case(__LINE__, "bob@elsewhere.example", 0, "bob@elsewhere.example");
    /* @domain -> @otherdomain keeps the local part, extension included. */
    map_case(__LINE__, "carol@example.test", 1, "carol@public.example");
    map_case(__LINE__, "carol+lists@example.test", 1, "carol+lists@public.example");
    map_case(__LINE__, "anyone@old.example", 1, "postmaster@isp.example");
    /* Extension not propagated by default ("canonical, virtual"). */
    map_case(__LINE__, "alice+x@example.test", 1, "alice.public@isp.example");
    /* The null sender and other domains stay. */
    map_case(__LINE__, "", 0, "");
    map_case(__LINE__, "dave@far.example", 0, "dave@far.example");

    /* Address headers, display names and comments kept; others untouched. */
    header_case(__LINE__, "From: Alice Example <alice@example.test>", 1,
                "From: Alice Example <alice.public@isp.example>");
    header_case(__LINE__, "To: dave@far.example, \"C. Arol\" <carol@example.test> (c)", 1,
                "To: dave@far.example, \"C. Arol\" <carol@public.example> (c)");
    header_case(__LINE__, "Cc: dave@far.example", 0, "Cc: dave@far.example");
    header_case(__LINE__, "Resent-From: bob@example.test", 1, "Resent-From: robert@isp.example");
    header_case(__LINE__, "Subject: alice@example.test", 0, "Subject: alice@example.test");
    header_case(__LINE__, "X-Original-To: alice@example.test", 0,
                "X-Original-To: alice@example.test");
    return harness_done();
}
