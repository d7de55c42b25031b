/*
 * ehlo_discard_test.c - unit tests for the EHLO keyword discard lists
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: inline: and cidr: tables, so that no .db file is needed.
 */
#include "ehlo_discard.h"
#include "config.h"
#include "harness.h"
#include "log.h"

int main(void)
{
    harness_init();
    log_set_tag("postfix/ehlo_discard_test");
    log_close_syslog();

    /* No settings: nothing is discarded; NULL is "no settings". */
    char **w = ehlo_discard_lookup(NULL, "192.0.2.1");
    EXPECT_TRUE(w != NULL && w[0] == NULL);
    EXPECT_TRUE(!ehlo_discard_has(w, "PIPELINING"));
    cfg_list_free(w);
    EXPECT_TRUE(!ehlo_discard_has(NULL, "PIPELINING"));

    /* The list alone, without case. */
    struct ehlo_discard *d = ehlo_discard_new("pipelining, Starttls silent-discard", "maps", "");
    w = ehlo_discard_lookup(d, "192.0.2.1");
    EXPECT_TRUE(ehlo_discard_has(w, "PIPELINING"));
    EXPECT_TRUE(ehlo_discard_has(w, "starttls"));
    EXPECT_TRUE(ehlo_discard_has(w, EHLO_DISCARD_SILENT));
    EXPECT_TRUE(!ehlo_discard_has(w, "PIPE"));
    EXPECT_TRUE(!ehlo_discard_has(w, "AUTH"));
    cfg_list_free(w);
    ehlo_discard_free(d);

    /* A map answer for the address replaces the list; other addresses
     * get the list. */
    d = ehlo_discard_new("chunking", "maps", "inline:{ { 192.0.2.7 = dsn, auth } }");
    w = ehlo_discard_lookup(d, "192.0.2.7");
    EXPECT_TRUE(ehlo_discard_has(w, "DSN") && ehlo_discard_has(w, "auth"));
    EXPECT_TRUE(!ehlo_discard_has(w, "CHUNKING"));
    cfg_list_free(w);
    w = ehlo_discard_lookup(d, "192.0.2.8");
    EXPECT_TRUE(ehlo_discard_has(w, "CHUNKING") && !ehlo_discard_has(w, "DSN"));
    cfg_list_free(w);
    /* No address (a UNIX socket without one): the list. */
    w = ehlo_discard_lookup(d, "");
    EXPECT_TRUE(ehlo_discard_has(w, "CHUNKING"));
    cfg_list_free(w);
    ehlo_discard_free(d);

    /* A table that fails: the list, with a warning. */
    d = ehlo_discard_new("size", "maps", "fail:broken");
    w = ehlo_discard_lookup(d, "192.0.2.7");
    EXPECT_TRUE(ehlo_discard_has(w, "SIZE"));
    cfg_list_free(w);
    ehlo_discard_free(d);
    ehlo_discard_free(NULL);
    return harness_done();
}
