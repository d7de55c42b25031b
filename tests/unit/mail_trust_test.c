/*
 * mail_trust_test.c - unit tests for lib/mail/mail_trust.c
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: the lists are set with config_set(); tables are inline:, static:
 *        and fail: so that no file is needed. The descriptor test closes
 *        stdin and stderr in a child process.
 */
#include "mail_trust.h"
#include "alloc.h"
#include "config.h"
#include "harness.h"
#include "log.h"
#include <fcntl.h>
#include <sys/wait.h>

static int auth(const char *list, const char *user, struct mail_trust_err *err)
{
    config_set(P_AUTHORIZED_SUBMIT_USERS, list);
    return mail_user_authorized(P_AUTHORIZED_SUBMIT_USERS, user, err);
}

static void test_user_authorized(void)
{
    struct mail_trust_err err;
    EXPECT_EQ_INT(auth("static:anyone", "alice", &err), 1);
    EXPECT_EQ_INT(err.kind, MAIL_TRUST_ERR_NONE);
    EXPECT_EQ_INT(auth("static:all", "alice", NULL), 1);
    EXPECT_EQ_INT(auth("", "alice", &err), 0);
    EXPECT_EQ_INT(auth("bob, carol", "alice", &err), 0);
    EXPECT_EQ_INT(auth("bob, alice", "alice", &err), 1);
    /* First match wins, in both directions. */
    EXPECT_EQ_INT(auth("!alice, static:anyone", "alice", &err), 0);
    EXPECT_EQ_INT(auth("!alice, static:anyone", "bob", &err), 1);
    EXPECT_EQ_INT(auth("alice, !alice", "alice", &err), 1);
    EXPECT_EQ_INT(auth("!!alice", "alice", &err), 1);
    EXPECT_EQ_INT(auth("!static:anyone", "alice", &err), 0);
    /* Names are exact; tables fold case. */
    EXPECT_EQ_INT(auth("Alice", "alice", &err), 0);
    EXPECT_EQ_INT(auth("inline:{ Alice=yes }", "ALICE", &err), 1);
    EXPECT_EQ_INT(auth("inline:{ bob=yes }", "alice", &err), 0);
    EXPECT_EQ_INT(auth("!inline:{ alice=yes }, static:anyone", "alice", &err), 0);
    /* A decision before a broken table never reaches it. */
    EXPECT_EQ_INT(auth("alice, fail:x", "alice", &err), 1);
    EXPECT_EQ_INT(auth("bob, fail:broken", "alice", &err), -1);
    EXPECT_EQ_INT(err.kind, MAIL_TRUST_ERR_LOOKUP);
    EXPECT_EQ_STR(err.item, "fail:broken");
    EXPECT_EQ_INT(auth("!nosuchtype:tbl, static:anyone", "alice", &err), -1);
    EXPECT_EQ_INT(err.kind, MAIL_TRUST_ERR_OPEN);
    EXPECT_EQ_STR(err.item, "nosuchtype:tbl");
    EXPECT_EQ_INT(auth("fail:x", "alice", NULL), -1);
}

static void test_config_dir_trusted(void)
{
    config_set(P_ALTERNATE_CONFIG_DIRECTORIES, "/etc/pa, /etc/pb");
    config_set(P_MULTI_INSTANCE_DIRECTORIES, "/etc/pm");
    EXPECT_TRUE(mail_config_dir_trusted(config_dir()));
    EXPECT_TRUE(mail_config_dir_trusted("/etc/pa"));
    EXPECT_TRUE(mail_config_dir_trusted("/etc/pb"));
    EXPECT_TRUE(mail_config_dir_trusted("/etc/pm"));
    EXPECT_TRUE(!mail_config_dir_trusted("/etc/pa/"));
    EXPECT_TRUE(!mail_config_dir_trusted("/etc/p"));
    EXPECT_TRUE(!mail_config_dir_trusted("/tmp/evil"));
    config_set(P_ALTERNATE_CONFIG_DIRECTORIES, "");
    config_set(P_MULTI_INSTANCE_DIRECTORIES, "");
    EXPECT_TRUE(!mail_config_dir_trusted("/etc/pa"));
    EXPECT_TRUE(mail_config_dir_trusted(config_dir()));
}

/* In a child: close 0 and 2, open a spare descriptor, sanitize; exit code
 * bits report what was found. */
static void test_sanitize_fds(void)
{
    pid_t pid = fork();
    if (pid == 0) {
        int spare = open("/dev/null", O_RDONLY);
        int high = dup2(spare, 20);
        close(0);
        close(2);
        int code = 0;
        if (spare < 0 || high != 20)
            _exit(100);
        if (mail_sanitize_fds() != 0)
            code |= 1;
        if (fcntl(0, F_GETFD) < 0 || fcntl(1, F_GETFD) < 0 || fcntl(2, F_GETFD) < 0)
            code |= 2;
        if (fcntl(spare, F_GETFD) >= 0 || fcntl(20, F_GETFD) >= 0)
            code |= 4;
        int fl = fcntl(0, F_GETFL);
        if (fl < 0 || (fl & O_ACCMODE) != O_RDWR)
            code |= 8;
        _exit(code);
    }
    int status = -1;
    EXPECT_TRUE(pid > 0 && waitpid(pid, &status, 0) == pid);
    EXPECT_TRUE(WIFEXITED(status));
    EXPECT_EQ_INT(WEXITSTATUS(status), 0);
}

static void test_sanitize_env(void)
{
    setenv("MAIL_CONFIG", "/etc/pa", 1);
    setenv("TZ", "UTC", 1);
    setenv("LD_PRELOAD", "/tmp/evil.so", 1);
    setenv("PATH", "/tmp/evil", 1);
    char *mc = mail_sanitize_env();
    EXPECT_EQ_STR(mc, "/etc/pa");
    EXPECT_TRUE(getenv("MAIL_CONFIG") == NULL);
    EXPECT_TRUE(getenv("LD_PRELOAD") == NULL);
    EXPECT_EQ_STR(getenv("TZ"), "UTC");
    EXPECT_EQ_STR(getenv("PATH"), "/usr/bin:/bin");
    xfree(mc);
    mc = mail_sanitize_env();
    EXPECT_TRUE(mc == NULL);
    unsetenv("TZ");
    mc = mail_sanitize_env();
    EXPECT_TRUE(getenv("TZ") == NULL);
    EXPECT_EQ_STR(getenv("PATH"), "/usr/bin:/bin");
    xfree(mc);
}

int main(void)
{
    harness_init();
    log_set_tag("postfix/mail_trust_test");
    log_close_syslog();
    test_user_authorized();
    test_config_dir_trusted();
    test_sanitize_fds();
    test_sanitize_env();
    return harness_done();
}
