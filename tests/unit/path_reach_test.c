/*
 * path_reach_test.c - path_reach() as user nobody against real directories
 *
 * Used by: make unit (run from the repository root).
 * Notes: path_reach switches ids in a child, so the cases need root; as
 *        another user the program says "skip" and exits 77. The user is
 *        nobody (uid 65534 in Debian), looked up with getpwnam.
 */
#include "harness.h"
#include "alloc.h"
#include "path_reach.h"
#include "sbuf.h"
#include "ut_ipc.h"
#include <pwd.h>

static struct passwd *nobody;

static int reach(struct sbuf *blocked, const char *path)
{
    return path_reach(blocked, path, nobody->pw_name, nobody->pw_uid, nobody->pw_gid);
}

int main(void)
{
    harness_init();
    if (geteuid() != 0 || (nobody = getpwnam("nobody")) == NULL) {
        printf("skip: path_reach_test needs root and a user nobody\n");
        return 77;
    }
    char *tmp = ut_tmpdir();
    struct sbuf *blocked = sbuf_new(64);
    struct sbuf *p = sbuf_new(64);

    /* tmp/a/b/c, all 0755: reachable, nothing blocks. */
    sbuf_printf(p, "%s/a/b/c", tmp);
    char mk[256];
    snprintf(mk, sizeof(mk), "%s/a", tmp);
    EXPECT_EQ_INT(mkdir(mk, 0755), 0);
    snprintf(mk, sizeof(mk), "%s/a/b", tmp);
    EXPECT_EQ_INT(mkdir(mk, 0755), 0);
    EXPECT_EQ_INT(mkdir(sbuf_str(p), 0755), 0);
    EXPECT_EQ_INT(reach(blocked, sbuf_str(p)), 1);
    EXPECT_EQ_STR(sbuf_str(blocked), "");

    /* tmp/a 0700 (root's): tmp/a blocks, also with a trailing slash and
     * for a path below it that does not exist. */
    snprintf(mk, sizeof(mk), "%s/a", tmp);
    EXPECT_EQ_INT(chmod(mk, 0700), 0);
    EXPECT_EQ_INT(reach(blocked, sbuf_str(p)), 0);
    EXPECT_EQ_STR(sbuf_str(blocked), mk);
    sbuf_addch(p, '/');
    EXPECT_EQ_INT(reach(blocked, sbuf_str(p)), 0);
    EXPECT_EQ_STR(sbuf_str(blocked), mk);
    sbuf_set(p, "");
    sbuf_printf(p, "%s/a/b/missing/deeper", tmp);
    EXPECT_EQ_INT(reach(blocked, sbuf_str(p)), 0);
    EXPECT_EQ_STR(sbuf_str(blocked), mk);

    /* 0711 (search, no read) is enough. */
    EXPECT_EQ_INT(chmod(mk, 0711), 0);
    EXPECT_EQ_INT(reach(blocked, sbuf_str(p)), 1);
    EXPECT_EQ_STR(sbuf_str(blocked), "");

    /* The group that owns it with 0710 lets nobody through only when
     * nobody is in that group: here the group is root's, so it blocks. */
    EXPECT_EQ_INT(chmod(mk, 0710), 0);
    EXPECT_EQ_INT(reach(blocked, sbuf_str(p)), 0);
    EXPECT_EQ_STR(sbuf_str(blocked), mk);
    /* Owned by nobody: reachable again. */
    EXPECT_EQ_INT(chown(mk, nobody->pw_uid, 0), 0);
    EXPECT_EQ_INT(reach(blocked, sbuf_str(p)), 1);

    /* A missing path under a reachable one is reachable as far as it goes. */
    sbuf_set(p, "");
    sbuf_printf(p, "%s/nothing/here", tmp);
    EXPECT_EQ_INT(reach(blocked, sbuf_str(p)), 1);

    /* Not absolute: the check itself fails. */
    EXPECT_EQ_INT(reach(blocked, "relative/path"), -1);

    sbuf_free(p);
    sbuf_free(blocked);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
