/*
 * queue_layout_test.c - creating and checking the queue and data directories
 *
 * Used by: make unit (as root; skipped with exit 77 otherwise).
 * Notes: runs in a temporary $queue_directory with the test accounts
 *        (mail_owner "postfix", setgid_group "postdrop"), created here when
 *        missing the way tests/e2e/lib.sh does. Warnings are read back from
 *        a log file.
 */
#include "harness.h"
#include "config.h"
#include "log.h"
#include "queue_layout.h"
#include "ut_ipc.h"
#include <dirent.h>
#include <grp.h>
#include <pwd.h>

static char *tmp;
static char qdir[300], ddir[300], logpath[300];

struct want {
    const char *name;
    bool root_owned;
    bool postdrop_group;
    mode_t mode;
};

/* The layout the header documents. */
static const struct want layout[] = {
    { "maildrop", false, true, 01730 }, { "incoming", false, false, 0700 },
    { "active", false, false, 0700 },   { "deferred", false, false, 0700 },
    { "hold", false, false, 0700 },     { "corrupt", false, false, 0700 },
    { "saved", false, false, 0700 },    { "recycle", false, false, 0700 },
    { "bounce", false, false, 0700 },
    { "defer", false, false, 0700 },    { "trace", false, false, 0700 },
    { "flush", false, false, 0700 },    { "private", false, false, 0700 },
    { "public", false, true, 0710 },    { "pid", true, false, 0755 },
};

static int run(const char *cmd)
{
    int r = system(cmd);
    return r;
}

static void ensure_accounts(void)
{
    if (getgrnam("postdrop") == NULL)
        run("groupadd -r postdrop >/dev/null 2>&1");
    if (getpwnam("postfix") == NULL)
        run("useradd -r -M -d /nonexistent -s /usr/sbin/nologin postfix >/dev/null 2>&1");
}

static bool log_has(const char *needle)
{
    struct sbuf *b = sbuf_new(256);
    bool found = ut_load(logpath, b) == 0 && strstr(sbuf_str(b), needle) != NULL;
    sbuf_free(b);
    return found;
}

static void log_clear(void)
{
    EXPECT_EQ_INT(truncate(logpath, 0), 0);
}

static bool dir_is(const char *path, uid_t uid, gid_t gid, mode_t mode)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        printf("# %s: missing\n", path);
        return false;
    }
    bool ok = S_ISDIR(st.st_mode) && st.st_uid == uid && st.st_gid == gid &&
              (st.st_mode & 07777) == mode;
    if (!ok)
        printf("# %s: uid %ld gid %ld mode %04o\n", path, (long)st.st_uid, (long)st.st_gid,
               (unsigned)(st.st_mode & 07777));
    return ok;
}

int main(void)
{
    harness_init();
    if (geteuid() != 0) {
        printf("# skip: queue_layout_test needs root\n");
        return 77;
    }
    alarm(30);
    ensure_accounts();
    struct passwd *pw = getpwnam("postfix");
    struct group *gr = getgrnam("postdrop");
    if (pw == NULL || gr == NULL) {
        printf("# skip: cannot create the postfix/postdrop accounts\n");
        return 77;
    }
    uid_t muid = pw->pw_uid;
    gid_t mgid = pw->pw_gid, sgid = gr->gr_gid;

    tmp = ut_tmpdir();
    snprintf(qdir, sizeof(qdir), "%s/spool", tmp);
    snprintf(ddir, sizeof(ddir), "%s/data", tmp);
    snprintf(logpath, sizeof(logpath), "%s/log", tmp);
    log_open_file(logpath, "testhost");
    config_set(P_QUEUE_DIRECTORY, qdir);
    config_set(P_DATA_DIRECTORY, ddir);
    config_set(P_MAIL_OWNER, "postfix");
    config_set(P_SETGID_GROUP, "postdrop");
    umask(022);

    /* Nothing exists yet: REPORT alone counts each missing directory
     * (queue dir, 15 queues, data dir) and creates nothing. */
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_REPORT), 17);
    EXPECT_TRUE(access(qdir, F_OK) < 0);
    EXPECT_TRUE(log_has("spool: missing directory"));
    log_clear();

    /* FIX creates every directory with the documented owner and mode. */
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_FIX | QUEUE_LAYOUT_REPORT), 0);
    EXPECT_TRUE(dir_is(qdir, 0, 0, 0755));
    char path[400];
    for (size_t i = 0; i < ARRAY_LEN(layout); i++) {
        const struct want *w = &layout[i];
        snprintf(path, sizeof(path), "%s/%s", qdir, w->name);
        uid_t uid = w->root_owned ? 0 : muid;
        gid_t gid = w->root_owned ? 0 : w->postdrop_group ? sgid : mgid;
        EXPECT_TRUE(dir_is(path, uid, gid, w->mode));
    }
    EXPECT_TRUE(dir_is(ddir, muid, mgid, 0700));
    /* Nothing else was created in the queue directory. */
    int entries = 0;
    DIR *d = opendir(qdir);
    for (struct dirent *de; d && (de = readdir(d)) != NULL;)
        if (de->d_name[0] != '.')
            entries++;
    if (d)
        closedir(d);
    EXPECT_EQ_INT(entries, (int)ARRAY_LEN(layout));

    /* All well: REPORT finds nothing and says nothing. */
    log_clear();
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_REPORT), 0);
    EXPECT_TRUE(!log_has("warning"));

    /* Wrong modes and owners are counted and named by REPORT ... */
    snprintf(path, sizeof(path), "%s/maildrop", qdir);
    chmod(path, 0777);
    snprintf(path, sizeof(path), "%s/public", qdir);
    EXPECT_EQ_INT(chown(path, 0, 0), 0);
    snprintf(path, sizeof(path), "%s/pid", qdir);
    chmod(path, 0700);
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_REPORT), 3);
    EXPECT_TRUE(log_has("maildrop: mode is 0777, should be 1730"));
    EXPECT_TRUE(log_has("pid: mode is 0700, should be 0755"));
    char owner_msg[200];
    snprintf(owner_msg, sizeof(owner_msg),
             "public: owner is uid 0 gid 0, should be uid %ld gid %ld", (long)muid, (long)sgid);
    EXPECT_TRUE(log_has(owner_msg));
    /* ... not repaired by REPORT, and counted silently without it. */
    log_clear();
    EXPECT_EQ_INT(queue_layout_apply(0), 3);
    EXPECT_TRUE(!log_has("mode is"));
    /* FIX repairs them. */
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_FIX), 0);
    snprintf(path, sizeof(path), "%s/maildrop", qdir);
    EXPECT_TRUE(dir_is(path, muid, sgid, 01730));
    snprintf(path, sizeof(path), "%s/public", qdir);
    EXPECT_TRUE(dir_is(path, muid, sgid, 0710));
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_REPORT), 0);

    /* A file where a directory belongs cannot be fixed: it is counted. */
    snprintf(path, sizeof(path), "%s/hold", qdir);
    rmdir(path);
    ut_save(path, "x", 1);
    log_clear();
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_FIX | QUEUE_LAYOUT_REPORT), 1);
    EXPECT_TRUE(log_has("hold: not a directory"));
    unlink(path);
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_FIX), 0);

    /* Unknown accounts: one problem, nothing touched. */
    config_set(P_MAIL_OWNER, "no-such-user-xyz");
    log_clear();
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_FIX), 1);
    EXPECT_TRUE(log_has("mail_owner no-such-user-xyz: no such user"));
    config_set(P_MAIL_OWNER, "postfix");
    config_set(P_SETGID_GROUP, "no-such-group-xyz");
    EXPECT_EQ_INT(queue_layout_apply(QUEUE_LAYOUT_FIX), 1);
    EXPECT_TRUE(log_has("setgid_group no-such-group-xyz: no such group"));

    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
