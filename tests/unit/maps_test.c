/*
 * maps_test.c - unit tests for table lists and the address lookup order
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: uses inline: and regexp: tables so that no .db file is needed.
 */
#include "maps.h"
#include "alloc.h"
#include "harness.h"
#include "log.h"


#define CHECK(cond, what) harness_report((cond), __FILE__, __LINE__, (what))

static bool streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* Runs maps_find_addr and checks value and extension. */
static void addr_case(struct maps *m, const char *addr, const char *delims, int flags,
                      const char *want, const char *want_ext, const char *what)
{
    char *ext = (char *)"unset";
    const char *v = maps_find_addr(m, addr, delims, flags, &ext);
    bool ok = want ? streq(v, want) : v == NULL;
    ok = ok && (want_ext ? streq(ext, want_ext) : ext == NULL);
    CHECK(ok && maps_error(m) == DICT_ERR_NONE, what);
    if (!ok)
        printf("#   %s -> %s (ext %s)\n", addr, v ? v : "NULL", ext ? ext : "NULL");
    xfree(ext);
}

int main(void)
{
    char dir[] = "/tmp/maps_test.XXXXXX";
    char re[256], spec[512];
    harness_init();

    log_set_tag("postfix/maps_test");
    log_close_syslog();
    if (mkdtemp(dir) == NULL)
        return 2;
    snprintf(re, sizeof(re), "%s/re", dir);
    FILE *fp = fopen(re, "w");
    /* Matches only keys without '@': must never see the stripped forms. */
    fputs("/^[^@]*$/  pattern-saw-localpart\n/^full@pat\\.org$/ pattern-full\n", fp);
    fclose(fp);

    struct maps *m = maps_create("test_maps",
                                 "inline:{ user+ext@d.org=full, user@d.org=noext, "
                                 "{ user+ext = local ext }, user=local, @d.org=catchall, "
                                 "joe-list@d.org=list, bob=bob-local, @other.org=other }",
                                 DICT_F_FOLD);
    CHECK(maps_count(m) == 1, "one inline table with braces and commas stays one table");

    addr_case(m, "user+ext@d.org", "+", 0, "full", NULL, "1: full address first");
    addr_case(m, "user+other@d.org", "+", 0, "noext", "+other", "2: address without extension");
    addr_case(m, "USER+other@D.ORG", "+", 0, "noext", "+other", "keys folded for fixed tables");
    addr_case(m, "nobody@d.org", "+", 0, "catchall", NULL, "5: @domain");
    addr_case(m, "nobody@d.org", "+", MAPS_ADDR_NO_DOMAIN, NULL, NULL, "no @domain when asked");
    addr_case(m, "bob@x.org", "+", 0, NULL, NULL, "local part not tried for a remote domain");
    addr_case(m, "bob@x.org", "+", MAPS_ADDR_LOCAL, "bob-local", NULL, "3: local part, local domain");
    addr_case(m, "bob+x@x.org", "+", MAPS_ADDR_LOCAL, "bob-local", "+x",
              "4: local part without extension");
    addr_case(m, "bob+x", "+", 0, "bob-local", "+x", "unqualified address: local part lookups");
    addr_case(m, "user-ext@d.org", "+-", 0, "noext", "-ext", "several delimiter characters");
    addr_case(m, "user+ext@d.org", "", 0, "full", NULL, "empty delimiter: no extension split");
    addr_case(m, "user+zz@d.org", "", 0, "catchall", NULL, "empty delimiter: no stripped lookup");
    addr_case(m, "+abc@other.org", "+", 0, "other", NULL, "leading delimiter is not an extension");
    addr_case(m, "joe-list@d.org", "-", 0, "list", NULL, "exact match before splitting");
    maps_free(m);

    /* owner-foo and foo-request are not split at '-'. */
    m = maps_create("t", "inline:{ owner@d.org=wrong, list@d.org=wrong2 }", DICT_F_FOLD);
    addr_case(m, "owner-list@d.org", "-", 0, NULL, NULL, "owner- prefix not split");
    addr_case(m, "list-request@d.org", "-", 0, NULL, NULL, "-request suffix not split");
    maps_free(m);

    /* Pattern tables see the full address only. */
    snprintf(spec, sizeof(spec), "regexp:%s inline:{ u@pat.org=fixed }", re);
    m = maps_create("t", spec, DICT_F_FOLD);
    CHECK(maps_count(m) == 2, "two tables split on white space");
    addr_case(m, "u+e@pat.org", "+", MAPS_ADDR_LOCAL, "fixed", "+e",
              "pattern table skipped for stripped forms");
    addr_case(m, "full@pat.org", "+", 0, "pattern-full", NULL, "pattern table gets the full address");
    addr_case(m, "localonly", "+", 0, "pattern-saw-localpart", NULL,
              "unqualified full key goes to pattern tables too");
    CHECK(maps_find(m, "u@pat.org", DICT_F_PATTERN) == NULL &&
              streq(maps_find(m, "u@pat.org", DICT_F_FIXED), "fixed"),
          "maps_find flags select table kinds");
    maps_free(m);

    /* First table that answers wins; an error stops the search. */
    m = maps_create("t", "inline:{ a=first } static:second", DICT_F_FOLD);
    CHECK(streq(maps_find(m, "a", 0), "first") && streq(maps_find(m, "b", 0), "second"),
          "first answering table wins");
    maps_free(m);
    m = maps_create("t", "fail:down, static:never", DICT_F_FOLD);
    CHECK(maps_find(m, "a", 0) == NULL && maps_error(m) == DICT_ERR_RETRY,
          "a failing table stops the search with a temporary error");
    char *ext = NULL;
    CHECK(maps_find_addr(m, "a+b@c.d", "+", MAPS_ADDR_LOCAL, &ext) == NULL &&
              maps_error(m) == DICT_ERR_RETRY && ext == NULL,
          "address lookup stops at the first error");
    maps_free(m);
    m = maps_create("t", "hash:/nonexistent/table, static:x", DICT_F_FOLD);
    CHECK(maps_find(m, "a", 0) == NULL && maps_error(m) == DICT_ERR_RETRY,
          "a table that failed to open answers with a temporary error");
    maps_free(m);
    m = maps_create("t", "", DICT_F_FOLD);
    CHECK(maps_count(m) == 0 && maps_find(m, "a", 0) == NULL && maps_error(m) == 0,
          "empty list finds nothing without error");
    maps_free(m);
    m = maps_create("t", " static:{ a b } ,, inline:{ { k = v w } }", DICT_F_FOLD);
    CHECK(maps_count(m) == 2 && streq(maps_find(m, "z", 0), "a b"), "braces keep static whole");
    maps_free(m);

    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return harness_done();
}
