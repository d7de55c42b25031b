/*
 * verp_test.c - unit tests for VERP sender encoding and delimiter checks
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: the cases follow Postfix's documented example (owner-listname@origin
 *        to user@domain with "+=" gives owner-listname+user=domain@origin) and
 *        its edge cases: addresses without '@', the null sender.
 */
#include "verp.h"
#include "harness.h"

#define CHECK(cond, what) harness_report((cond), __FILE__, __LINE__, (what))

static bool enc(const char *delims, const char *sender, const char *rcpt, const char *want)
{
    struct sbuf *b = sbuf_new(16);
    verp_sender(b, delims, sender, rcpt);
    bool ok = strcmp(sbuf_str(b), want) == 0;
    if (!ok)
        fprintf(stderr, "verp_sender(%s, %s, %s) = %s, want %s\n", delims, sender, rcpt,
                sbuf_str(b), want);
    sbuf_free(b);
    return ok;
}

int main(void)
{
    harness_init();
    CHECK(enc("+=", "owner-listname@origin", "user@domain", "owner-listname+user=domain@origin"),
          "documented example");
    CHECK(enc("-=", "bounces@lists.example", "a.b@c.example", "bounces-a.b=c.example@lists.example"),
          "other first delimiter");
    CHECK(enc("+=", "owner", "user@domain", "owner+user=domain"), "sender without domain");
    CHECK(enc("+=", "owner@origin", "user", "owner+user@origin"), "recipient without domain");
    CHECK(enc("+=", "owner@origin", "\"a@b\"@domain", "owner+\"a@b\"=domain@origin"),
          "the last '@' of the recipient splits it");
    CHECK(enc("+=", "", "user@domain", ""), "null sender stays null");
    CHECK(enc("+=", "owner@", "user@", "owner+user"), "empty domains are left out");

    CHECK(verp_delims_check("+=", "-=+") == NULL, "default pair accepted");
    CHECK(verp_delims_check("-=", "-=+") == NULL, "other pair accepted");
    CHECK(verp_delims_check("+", "-=+") != NULL, "one character refused");
    CHECK(verp_delims_check("+=-", "-=+") != NULL, "three characters refused");
    CHECK(verp_delims_check("", "-=+") != NULL, "none refused");
    CHECK(verp_delims_check("+@", "-=+") != NULL, "character outside the filter refused");
    CHECK(verp_delims_check("+=", "+") != NULL, "filter narrowed by the administrator");
    return harness_done();
}
