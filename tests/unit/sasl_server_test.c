/*
 * sasl_server_test.c - unit tests for lib/mail/sasl_server.c and its back ends
 *
 * Covers: security option parsing, the base64 check, the Dovecot back end
 *         against a scripted fake auth server (hand-shake, mechanism
 *         flags, CONT/OK/FAIL, escapes, what we send), and the Cyrus back
 *         end with a real sasldb (skipped when saslpasswd2 is missing).
 */
#include "harness.h"
#include "alloc.h"
#include "log.h"
#include "sasl_server.h"
#include "sbuf.h"
#include "sock.h"
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

static char tmpdir[256];

static void test_security_parse(void)
{
    EXPECT_EQ_INT(sasl_srv_security_parse("x", ""), 0);
    EXPECT_EQ_INT(sasl_srv_security_parse("x", "noanonymous, noplaintext"),
                  SASL_SRV_SEC_NOANONYMOUS | SASL_SRV_SEC_NOPLAINTEXT);
    EXPECT_EQ_INT(sasl_srv_security_parse("x", "noactive nodictionary mutual_auth forward_secrecy"),
                  SASL_SRV_SEC_NOACTIVE | SASL_SRV_SEC_NODICTIONARY | SASL_SRV_SEC_MUTUAL_AUTH
                      | SASL_SRV_SEC_FORWARD_SECRECY);
    EXPECT_EQ_INT(sasl_srv_security_parse("x", "NoPlainText"), SASL_SRV_SEC_NOPLAINTEXT);
    EXPECT_EQ_INT(sasl_srv_security_parse("x", "noanonymous, bogus"), -1);
}

static void test_b64(void)
{
    EXPECT_TRUE(sasl_srv_b64_valid(""));
    EXPECT_TRUE(sasl_srv_b64_valid("QQ=="));
    EXPECT_TRUE(sasl_srv_b64_valid("QUI="));
    EXPECT_TRUE(sasl_srv_b64_valid("AGFsaWNlAHB3"));
    EXPECT_TRUE(!sasl_srv_b64_valid("QQ="));
    EXPECT_TRUE(!sasl_srv_b64_valid("Q=Q="));
    EXPECT_TRUE(!sasl_srv_b64_valid("QQ\tA"));
    EXPECT_TRUE(!sasl_srv_b64_valid("QQ==QQ=="));
    EXPECT_TRUE(!sasl_srv_b64_valid("Q==="));
    EXPECT_TRUE(!sasl_srv_b64_valid("ab\ncd=="));
}

/* ---- a scripted Dovecot auth server ----------------------------------- */

/* Reads one line from fd (without LF) into buf; false at EOF. */
static bool fake_getline(int fd, char *buf, size_t len)
{
    size_t n = 0;
    for (;;) {
        char c;
        if (read(fd, &c, 1) != 1)
            return false;
        if (c == '\n')
            break;
        if (n + 1 < len)
            buf[n++] = c;
    }
    buf[n] = 0;
    return true;
}

static void fake_say(int fd, const char *s)
{
    if (write(fd, s, strlen(s)) < 0)
        _exit(3);
}

/* Serves one client; appends every line received to log_path. */
static void fake_dovecot(int lfd, const char *log_path)
{
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0)
        _exit(2);
    FILE *log = fopen(log_path, "w");
    if (log == NULL)
        _exit(2);
    fake_say(fd, "VERSION\t1\t2\nMECH\tPLAIN\tplaintext\nMECH\tLOGIN\tplaintext\n"
                 "MECH\tCRAM-MD5\tdictionary\tactive\nMECH\tSECRET\tprivate\n"
                 "MECH\tANONYMOUS\tanonymous\nSPID\t1\nCUID\t1\nCOOKIE\tabc\nDONE\n");
    char line[1024];
    while (fake_getline(fd, line, sizeof(line))) {
        fprintf(log, "%s\n", line);
        fflush(log);
        char *f[8] = { 0 };
        size_t nf = 0;
        for (char *p = line; p && nf < 8;) {
            f[nf++] = p;
            p = strchr(p, '\t');
            if (p)
                *p++ = 0;
        }
        char out[512];
        if (strcmp(f[0], "AUTH") == 0 && nf > 2 && strcmp(f[2], "PLAIN") == 0) {
            /* resp= is the last field when present */
            const char *resp = strncmp(f[nf - 1], "resp=", 5) == 0 ? f[nf - 1] + 5 : NULL;
            if (resp && strcmp(resp, "AGFsaWNlAGdvb2Q=") == 0)   /* \0alice\0good */
                snprintf(out, sizeof(out), "OK\t%s\tuser=alice\n", f[1]);
            else if (resp && strcmp(resp, "AGFsaWNlAHRlbXA=") == 0)  /* \0alice\0temp */
                snprintf(out, sizeof(out), "FAIL\t%s\treason=Try\001tlater\ttemp\n", f[1]);
            else if (resp == NULL)
                snprintf(out, sizeof(out), "CONT\t%s\t\n", f[1]);
            else
                snprintf(out, sizeof(out), "FAIL\t%s\tuser=alice\n", f[1]);
            /* A reply for another request first: must be skipped. */
            fake_say(fd, "FAIL\t9999\treason=not yours\n");
            fake_say(fd, out);
        } else if (strcmp(f[0], "AUTH") == 0 && nf > 2 && strcmp(f[2], "LOGIN") == 0) {
            snprintf(out, sizeof(out), "CONT\t%s\tVXNlcm5hbWU6\n", f[1]);
            fake_say(fd, out);
        } else if (strcmp(f[0], "CONT") == 0 && nf > 2 && strcmp(f[2], "YWxpY2U=") == 0) {
            snprintf(out, sizeof(out), "CONT\t%s\tUGFzc3dvcmQ6\n", f[1]);
            fake_say(fd, out);
        } else if (strcmp(f[0], "CONT") == 0 && nf > 2 && strcmp(f[2], "Z29vZA==") == 0) {
            snprintf(out, sizeof(out), "OK\t%s\tuser=alice@example.test\n", f[1]);
            fake_say(fd, out);
        } else if (strcmp(f[0], "CONT") == 0 && nf > 1) {
            snprintf(out, sizeof(out), "FAIL\t%s\tuser=alice\n", f[1]);
            fake_say(fd, out);
        }
    }
    fclose(log);
    _exit(0);
}

static void test_dovecot(void)
{
    char sock_path[300], log_path[300];
    snprintf(sock_path, sizeof(sock_path), "%s/auth", tmpdir);
    snprintf(log_path, sizeof(log_path), "%s/auth.log", tmpdir);
    int lfd = sock_unix_listen(sock_path, 5, 0600);
    EXPECT_TRUE(lfd >= 0);
    if (lfd < 0)
        return;
    pid_t pid = fork();
    if (pid == 0)
        fake_dovecot(lfd, log_path);
    close(lfd);
    EXPECT_EQ_INT(sasl_srv_init("dovecot", sock_path, ""), 0);

    struct sasl_srv_args a = {
        .service = "smtp", .server_fqdn = "mail.example.test", .realm = "",
        .server_addr = "127.0.0.1", .server_port = 25, .client_addr = "192.0.2.7",
        .client_port = 4711, .security = SASL_SRV_SEC_NOANONYMOUS, .tls_active = false,
        .timeout = 10,
    };
    struct sasl_srv *s = sasl_srv_new(&a);
    EXPECT_TRUE(s != NULL);
    if (s == NULL) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
        return;
    }
    EXPECT_EQ_STR(sasl_srv_mechs(s), "PLAIN LOGIN CRAM-MD5");
    struct sbuf *r = sbuf_new(64);

    EXPECT_EQ_INT(sasl_srv_start(s, "plain", "AGFsaWNlAGdvb2Q=", r), SASL_SRV_DONE);
    EXPECT_EQ_STR(sasl_srv_username(s), "alice");
    EXPECT_EQ_STR(sasl_srv_method(s), "PLAIN");

    EXPECT_EQ_INT(sasl_srv_start(s, "PLAIN", "AGFsaWNlAGJhZA==", r), SASL_SRV_FAIL);
    EXPECT_EQ_STR(sbuf_str(r), "");         /* no reason given */
    EXPECT_EQ_STR(sasl_srv_username(s), "alice");

    EXPECT_EQ_INT(sasl_srv_start(s, "PLAIN", "AGFsaWNlAHRlbXA=", r), SASL_SRV_TEMP);
    EXPECT_EQ_STR(sbuf_str(r), "Try\tlater");

    EXPECT_EQ_INT(sasl_srv_start(s, "PLAIN", NULL, r), SASL_SRV_MORE);
    EXPECT_EQ_STR(sbuf_str(r), "");
    EXPECT_EQ_INT(sasl_srv_step(s, "AGFsaWNlAGJhZA==", r), SASL_SRV_FAIL);

    EXPECT_EQ_INT(sasl_srv_start(s, "LOGIN", NULL, r), SASL_SRV_MORE);
    EXPECT_EQ_STR(sbuf_str(r), "VXNlcm5hbWU6");
    EXPECT_EQ_INT(sasl_srv_step(s, "YWxpY2U=", r), SASL_SRV_MORE);
    EXPECT_EQ_STR(sbuf_str(r), "UGFzc3dvcmQ6");
    EXPECT_EQ_INT(sasl_srv_step(s, "YmFk", r), SASL_SRV_FAIL);
    EXPECT_EQ_STR(sbuf_str(r), "UGFzc3dvcmQ6");     /* the last challenge stays */

    EXPECT_EQ_INT(sasl_srv_start(s, "LOGIN", NULL, r), SASL_SRV_MORE);
    EXPECT_EQ_INT(sasl_srv_step(s, "YWxpY2U=", r), SASL_SRV_MORE);
    EXPECT_EQ_INT(sasl_srv_step(s, "Z29vZA==", r), SASL_SRV_DONE);
    EXPECT_EQ_STR(sasl_srv_username(s), "alice@example.test");

    /* Checked before anything reaches the server. */
    EXPECT_EQ_INT(sasl_srv_start(s, "SECRET", NULL, r), SASL_SRV_FAIL);
    EXPECT_EQ_STR(sbuf_str(r), "Invalid authentication mechanism");
    EXPECT_EQ_INT(sasl_srv_start(s, "ANONYMOUS", NULL, r), SASL_SRV_FAIL);
    EXPECT_EQ_INT(sasl_srv_start(s, "PLAIN", "a\tb", r), SASL_SRV_FAIL);
    EXPECT_EQ_STR(sbuf_str(r), "Invalid base64 data in initial response");
    EXPECT_EQ_INT(sasl_srv_start(s, "LOGIN", NULL, r), SASL_SRV_MORE);
    EXPECT_EQ_INT(sasl_srv_step(s, "x\ny", r), SASL_SRV_FAIL);
    EXPECT_EQ_STR(sbuf_str(r), "Invalid base64 data in continued response");

    /* The restricted list (smtpd_sasl_mechanism_filter). */
    sasl_srv_restrict(s, "LOGIN");
    EXPECT_EQ_INT(sasl_srv_start(s, "PLAIN", "AGFsaWNlAGdvb2Q=", r), SASL_SRV_FAIL);
    EXPECT_EQ_STR(sbuf_str(r), "Invalid authentication mechanism");
    sasl_srv_free(s);

    /* Security options filter by the MECH flags. */
    a.security = SASL_SRV_SEC_NOPLAINTEXT | SASL_SRV_SEC_NOANONYMOUS;
    s = sasl_srv_new(&a);
    EXPECT_TRUE(s && strcmp(sasl_srv_mechs(s), "CRAM-MD5") == 0);
    sasl_srv_free(s);
    a.security = SASL_SRV_SEC_NOPLAINTEXT | SASL_SRV_SEC_NOACTIVE;
    s = sasl_srv_new(&a);
    EXPECT_TRUE(s && strcmp(sasl_srv_mechs(s), "ANONYMOUS") == 0);
    sasl_srv_free(s);
    a.security = SASL_SRV_SEC_NOPLAINTEXT | SASL_SRV_SEC_NOANONYMOUS | SASL_SRV_SEC_NODICTIONARY;
    a.tls_active = true;
    s = sasl_srv_new(&a);
    EXPECT_TRUE(s == NULL);         /* nothing left to offer */
    sbuf_free(r);

    /* What went over the wire. */
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
    FILE *log = fopen(log_path, "r");
    EXPECT_TRUE(log != NULL);
    if (log == NULL)
        return;
    char line[1024];
    bool version = false, cpid = false, auth_line = false, cont_line = false;
    while (fgets(line, sizeof(line), log)) {
        line[strcspn(line, "\n")] = 0;
        if (strcmp(line, "VERSION\t1\t1") == 0)
            version = true;
        else if (strncmp(line, "CPID\t", 5) == 0)
            cpid = true;
        else if (strcmp(line, "AUTH\t1\tPLAIN\tservice=smtp\tnologin\tlip=127.0.0.1\trip=192.0.2.7"
                              "\tresp=AGFsaWNlAGdvb2Q=") == 0)
            auth_line = true;
        else if (strstr(line, "CONT\t") == line && strstr(line, "\tYWxpY2U="))
            cont_line = true;
        EXPECT_TRUE(strstr(line, "SECRET") == NULL && strstr(line, "a\tb") == NULL);
    }
    fclose(log);
    EXPECT_TRUE(version);
    EXPECT_TRUE(cpid);
    EXPECT_TRUE(auth_line);
    EXPECT_TRUE(cont_line);
}

/* ---- Cyrus with a real sasldb ------------------------------------------ */

static void test_cyrus(void)
{
    if (system("command -v saslpasswd2 >/dev/null 2>&1") != 0) {
        printf("skip cyrus: saslpasswd2 not installed\n");
        return;
    }
    char cmd[1024], path[300];
    snprintf(cmd, sizeof(cmd),
             "echo good-pw | saslpasswd2 -p -c -f %s/sasldb2 -u example.test alice", tmpdir);
    EXPECT_EQ_INT(system(cmd), 0);
    snprintf(path, sizeof(path), "%s/smtpd.conf", tmpdir);
    FILE *f = fopen(path, "w");
    EXPECT_TRUE(f != NULL);
    if (f == NULL)
        return;
    fprintf(f, "pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s/sasldb2\n"
               "mech_list: PLAIN LOGIN CRAM-MD5\n", tmpdir);
    fclose(f);
    EXPECT_EQ_INT(sasl_srv_init("cyrus", "smtpd", tmpdir), 0);
    struct sasl_srv_args a = {
        .service = "smtp", .server_fqdn = "mail.example.test", .realm = "example.test",
        .server_addr = "127.0.0.1", .server_port = 25, .client_addr = "127.0.0.1",
        .client_port = 4711, .security = SASL_SRV_SEC_NOANONYMOUS, .timeout = 10,
    };
    struct sasl_srv *s = sasl_srv_new(&a);
    EXPECT_TRUE(s != NULL);
    if (s == NULL)
        return;
    const char *m = sasl_srv_mechs(s);
    EXPECT_TRUE(strstr(m, "PLAIN") && strstr(m, "LOGIN") && strstr(m, "CRAM-MD5"));
    struct sbuf *r = sbuf_new(64);
    /* \0alice\0good-pw */
    EXPECT_EQ_INT(sasl_srv_start(s, "PLAIN", "AGFsaWNlAGdvb2QtcHc=", r), SASL_SRV_DONE);
    EXPECT_EQ_STR(sasl_srv_username(s), "alice@example.test");
    /* \0alice\0bad (a fresh exchange on the same server) */
    EXPECT_EQ_INT(sasl_srv_start(s, "PLAIN", "AGFsaWNlAGJhZA==", r), SASL_SRV_FAIL);
    EXPECT_EQ_STR(sbuf_str(r), "authentication failure");
    EXPECT_EQ_INT(sasl_srv_start(s, "PLAIN", NULL, r), SASL_SRV_MORE);
    EXPECT_EQ_STR(sbuf_str(r), "");
    EXPECT_EQ_INT(sasl_srv_step(s, "AGFsaWNlAGdvb2QtcHc=", r), SASL_SRV_DONE);
    EXPECT_EQ_INT(sasl_srv_start(s, "LOGIN", NULL, r), SASL_SRV_MORE);
    EXPECT_EQ_STR(sbuf_str(r), "VXNlcm5hbWU6");
    EXPECT_EQ_INT(sasl_srv_step(s, "YWxpY2U=", r), SASL_SRV_MORE);
    EXPECT_EQ_STR(sbuf_str(r), "UGFzc3dvcmQ6");
    EXPECT_EQ_INT(sasl_srv_step(s, "Z29vZC1wdw==", r), SASL_SRV_DONE);
    EXPECT_EQ_INT(sasl_srv_start(s, "NOSUCH", NULL, r), SASL_SRV_FAIL);
    EXPECT_EQ_STR(sbuf_str(r), "no mechanism available");
    EXPECT_EQ_INT(sasl_srv_start(s, "PLAIN", "***", r), SASL_SRV_FAIL);
    sasl_srv_free(s);

    a.security = SASL_SRV_SEC_NOANONYMOUS | SASL_SRV_SEC_NOPLAINTEXT;
    s = sasl_srv_new(&a);
    EXPECT_TRUE(s && strcmp(sasl_srv_mechs(s), "CRAM-MD5") == 0);
    sasl_srv_free(s);
    sbuf_free(r);
}

int main(void)
{
    harness_init();
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/sasl_server_test.XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        return 1;
    }
    EXPECT_EQ_INT(sasl_srv_init("nosuch", "smtpd", ""), -1);
    test_security_parse();
    test_b64();
    test_dovecot();
    test_cyrus();
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
    if (system(cmd) != 0)
        printf("could not remove %s\n", tmpdir);
    return harness_done();
}
