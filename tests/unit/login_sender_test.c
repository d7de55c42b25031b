/*
 * login_sender_test.c - unit tests for local_login_sender_maps matching
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: inline: and fail: tables only; the cases follow postconf(5)'s
 *        description of the patterns (*, <>, @domain, literal addresses
 *        without their extension, case-insensitive).
 */
#include "login_sender.h"
#include "harness.h"
#include "log.h"

#define CHECK(cond, what) harness_report((cond), __FILE__, __LINE__, (what))

#define TABLE "inline:{ { root = * }, { joe = joe, joe@example.com }, nobody=<>, " \
              "ann=@example.org, { bea = \"b b\"@example.com } }"

static int match(struct maps *m, const char *login, const char *sender)
{
    return login_sender_match(m, login, sender, "+-", "<>");
}

int main(void)
{
    harness_init();
    log_set_tag("postfix/login_sender_test");
    log_close_syslog();
    struct maps *m = maps_create("local_login_sender_maps", TABLE, DICT_F_FOLD);

    CHECK(match(m, "root", "anyone@anywhere.example") == 1, "wildcard admits any sender");
    CHECK(match(m, "root", "") == 1, "wildcard admits the null sender");
    CHECK(match(m, "toor", "toor") == 0, "unknown login: nothing allowed");
    CHECK(match(m, "joe", "joe") == 1, "bare login name");
    CHECK(match(m, "joe", "joe@example.com") == 1, "user@domain");
    CHECK(match(m, "joe", "Joe@Example.COM") == 1, "case does not matter");
    CHECK(match(m, "joe", "joe+lists@example.com") == 1, "extension ignored");
    CHECK(match(m, "joe", "joe-x@example.com") == 1, "second delimiter ignored too");
    CHECK(match(m, "joe", "jane@example.com") == 0, "other user refused");
    CHECK(match(m, "joe", "joe@example.net") == 0, "other domain refused");
    CHECK(match(m, "joe", "") == 0, "null sender needs <>");
    CHECK(match(m, "nobody", "") == 1, "<> admits the null sender");
    CHECK(match(m, "nobody", "nobody") == 0, "<> admits nothing else");
    CHECK(match(m, "ann", "anyone@example.org") == 1, "@domain admits the domain");
    CHECK(match(m, "ann", "anyone@sub.example.org") == 0, "@domain: not a subdomain");
    CHECK(match(m, "ann", "example.org") == 0, "@domain needs an @");
    CHECK(match(m, "bea", "b b@example.com") == 1, "quoted local part compared in external form");
    CHECK(match(m, "bea", "bb@example.com") == 0, "unquoted form differs");
    CHECK(login_sender_match(m, "nobody", "", "+", "[null]") == 0,
          "another null-sender key: <> is a literal then");
    maps_free(m);

    m = maps_create("local_login_sender_maps", "inline:{ root=* }, fail:down", DICT_F_FOLD);
    CHECK(match(m, "root", "x@example.com") == 1, "answer before the failing table");
    CHECK(match(m, "joe", "joe") == -1, "lookup error reported");
    maps_free(m);
    return harness_done();
}
