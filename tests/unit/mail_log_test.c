/*
 * mail_log_test.c - the log tag and the syslog / postlog destination switch
 *
 * Used by: make unit.
 * Notes: a datagram socket in a temporary directory stands in for syslog
 *        (log_open_syslog() is pointed at it first; mail_log_init() then
 *        reconnects to the same path), and one at $queue_directory/public/
 *        postlog stands in for postlogd.
 */
#include "harness.h"
#include "config.h"
#include "log.h"
#include "mail_log.h"
#include "mail_proto.h"
#include "ut_ipc.h"

static int dgram_at(const char *path)
{
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        perror(path);
        exit(2);
    }
    return fd;
}

int main(void)
{
    harness_init();
    alarm(30);
    char *tmp = ut_tmpdir();
    char path[300], want[300];
    struct sbuf *line = sbuf_new(256);
    long pid = (long)getpid();

    snprintf(path, sizeof(path), "%s/syslog", tmp);
    int sys = dgram_at(path);
    log_open_syslog(path);
    config_set(P_QUEUE_DIRECTORY, tmp);
    config_set(P_MYHOSTNAME, "mail.example.com");

    /* Default: tag postfix/PROGRAM, lines to syslog, facility mail. */
    mail_log_init("smtpd");
    EXPECT_EQ_STR(log_tag(), "postfix/smtpd");
    log_info("connect from %s", "localhost[127.0.0.1]");
    EXPECT_TRUE(ut_recv_dgram(sys, line, 1000) > 0);
    EXPECT_TRUE(strncmp(sbuf_str(line), "<22>", 4) == 0);   /* LOG_MAIL | LOG_INFO */
    snprintf(want, sizeof(want), " postfix/smtpd[%ld]: connect from localhost[127.0.0.1]", pid);
    EXPECT_TRUE(strstr(sbuf_str(line), want) != NULL);
    log_warn("careful");
    EXPECT_TRUE(ut_recv_dgram(sys, line, 1000) > 0);
    EXPECT_TRUE(strncmp(sbuf_str(line), "<20>", 4) == 0);   /* LOG_MAIL | LOG_WARNING */
    snprintf(want, sizeof(want), "postfix/smtpd[%ld]: warning: careful", pid);
    EXPECT_TRUE(strstr(sbuf_str(line), want) != NULL);

    /* -o syslog_name=postfix/submission: the service name joins the tag. */
    config_set(P_SYSLOG_NAME, "postfix/submission");
    mail_log_init("smtpd");
    EXPECT_EQ_STR(log_tag(), "postfix/submission/smtpd");
    log_info("hello");
    EXPECT_TRUE(ut_recv_dgram(sys, line, 1000) > 0);
    snprintf(want, sizeof(want), " postfix/submission/smtpd[%ld]: hello", pid);
    EXPECT_TRUE(strstr(sbuf_str(line), want) != NULL);
    /* $name references in syslog_name expand. */
    config_set("test_instance", "postfix-two");
    config_set(P_SYSLOG_NAME, "${test_instance}");
    mail_log_init("qmgr");
    EXPECT_EQ_STR(log_tag(), "postfix-two/qmgr");
    config_set(P_SYSLOG_NAME, "postfix");

    /* maillog_file set: lines go to public/postlog in postlogd's format
     * (time, host, tag, text, newline) and no longer to syslog. */
    snprintf(path, sizeof(path), "%s/public", tmp);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/public/%s", tmp, MAIL_SERVICE_POSTLOG);
    int plog = dgram_at(path);
    config_set(P_MAILLOG_FILE, "/var/log/postern-test.log");
    mail_log_init("qmgr");
    EXPECT_EQ_STR(log_tag(), "postfix/qmgr");
    log_info("ABC123: from=<a@b>, size=10, nrcpt=1 (queue active)");
    EXPECT_TRUE(ut_recv_dgram(plog, line, 1000) > 0);
    snprintf(want, sizeof(want),
             " mail.example.com postfix/qmgr[%ld]: ABC123: from=<a@b>, size=10, nrcpt=1 (queue "
             "active)\n",
             pid);
    EXPECT_TRUE(strstr(sbuf_str(line), want) != NULL);
    /* It ends with exactly one newline and starts with the time stamp. */
    EXPECT_TRUE(sbuf_len(line) > 16 && sbuf_str(line)[sbuf_len(line) - 1] == '\n' &&
                sbuf_str(line)[3] == ' ' && sbuf_str(line)[15] == ' ');
    EXPECT_TRUE(strchr(sbuf_str(line), '<') == strstr(sbuf_str(line), "<a@b>"));
    /* Nothing reached syslog. */
    EXPECT_EQ_INT(ut_recv_dgram(sys, line, 200), -1);

    /* Peer text cannot forge a second line. */
    log_warn("bad\nfake line");
    EXPECT_TRUE(ut_recv_dgram(plog, line, 1000) > 0);
    EXPECT_TRUE(strstr(sbuf_str(line), "warning: bad?fake line\n") != NULL);

    close(sys);
    close(plog);
    sbuf_free(line);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
