/*
 * name_list_test.c - unit tests for string-list matching (name_list.c)
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: uses a temporary /file list, inline: and static: tables.
 */
#include "name_list.h"
#include "harness.h"
#include "log.h"
#include <stdio.h>

int main(void)
{
    harness_init();

    /* Words, without regard to case; first match decides. */
    struct name_list *l = name_list_new("t", "permit_mynetworks, OK  !permit, permit");
    EXPECT_EQ_INT(name_list_match(l, "permit_mynetworks"), 1);
    EXPECT_EQ_INT(name_list_match(l, "PERMIT_MYNETWORKS"), 1);
    EXPECT_EQ_INT(name_list_match(l, "ok"), 1);
    EXPECT_EQ_INT(name_list_match(l, "permit"), 0);      /* !permit comes first */
    EXPECT_EQ_INT(name_list_match(l, "RELAY"), 0);
    EXPECT_TRUE(!name_list_empty(l));
    name_list_free(l);

    /* static:all matches everything, after an exclusion. */
    l = name_list_new("t", "!permit_mynetworks static:all");
    EXPECT_EQ_INT(name_list_match(l, "permit_mynetworks"), 0);
    EXPECT_EQ_INT(name_list_match(l, "permit_sasl_authenticated"), 1);
    name_list_free(l);

    /* A table: a key matches, whatever its value. */
    l = name_list_new("t", "inline:{ ok=anything, relay=x }");
    EXPECT_EQ_INT(name_list_match(l, "OK"), 1);
    EXPECT_EQ_INT(name_list_match(l, "permit"), 0);
    name_list_free(l);

    /* A /file: its words (comments and commas allowed), with the item's "!". */
    char path[] = "/tmp/name_list_test.XXXXXX";
    int fd = mkstemp(path);
    EXPECT_TRUE(fd >= 0);
    FILE *fp = fdopen(fd, "w");
    fputs("# names\nOK, RELAY   # two\n\npermit_dnswl_client\n", fp);
    fclose(fp);
    char spec[64];
    snprintf(spec, sizeof(spec), "!%s static:all", path);
    l = name_list_new("t", spec);
    EXPECT_EQ_INT(name_list_match(l, "relay"), 0);
    EXPECT_EQ_INT(name_list_match(l, "permit_dnswl_client"), 0);
    EXPECT_EQ_INT(name_list_match(l, "permit"), 1);
    name_list_free(l);
    unlink(path);

    /* Missing file and unknown table type: warned about, match nothing. */
    l = name_list_new("t", "/nonexistent/names nosuchtype:x OK");
    EXPECT_EQ_INT(name_list_match(l, "anything"), 0);
    EXPECT_EQ_INT(name_list_match(l, "OK"), 1);
    name_list_free(l);

    l = name_list_new("t", "");
    EXPECT_TRUE(name_list_empty(l));
    EXPECT_EQ_INT(name_list_match(l, "OK"), 0);
    name_list_free(l);
    return harness_done();
}
