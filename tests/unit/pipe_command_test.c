/*
 * pipe_command_test.c - unit tests for lib/mail/pipe_command.c and the pipe
 *                       agent's attribute parser and argv macros
 *
 * Covers: input and output of a real /bin/sh command, exit status, the
 *         time limit killing a background child too, setup failures (no
 *         such program, bad directory), the sysexits verdicts and the
 *         output's enhanced status code; pipe_attr_parse() accepts and
 *         refuses; pipe_expand_argv() for every macro form, one argument
 *         per recipient, flags h q u, the Postfix stock master.cf examples.
 */
#include "harness.h"
#include "config.h"
#include "pipe_command.h"
#include "../../pipe/pipe_attr.c"
#include "../../pipe/pipe_expand.c"
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>

static uid_t t_uid;
static gid_t t_gid;
static char *t_env[] = { "PATH=/usr/bin:/bin", "MARK=seen", NULL };

static int run(const char *script, const char *input, long limit, struct pipe_command_result *res)
{
    char *argv[] = { "/bin/sh", "-c", (char *)script, NULL };
    struct pipe_command_spec spec = {
        .argv = argv, .env = t_env, .uid = t_uid, .gid = t_gid, .stdio_fd = -1,
        .input = input, .input_len = input ? strlen(input) : 0, .time_limit = limit,
        .output_max = 64,
    };
    return pipe_command_run(&spec, res);
}

static void test_run(void)
{
    struct pipe_command_result res = { .output = sbuf_new(16), .why = sbuf_new(16) };
    EXPECT_EQ_INT(run("tr a-z A-Z; echo \"$MARK\" >&2", "hello\n", 10, &res), 0);
    EXPECT_EQ_INT(res.outcome, PIPE_CMD_EXITED);
    EXPECT_EQ_INT(res.exit_code, 0);
    EXPECT_EQ_STR(sbuf_str(res.output), "HELLO\nseen\n");

    run("cat >/dev/null; echo 'no such mailbox'; exit 67", "x\n", 10, &res);
    EXPECT_EQ_INT(res.exit_code, 67);
    struct sbuf *dsn = sbuf_new(8), *reason = sbuf_new(64), *diag = sbuf_new(64);
    EXPECT_EQ_INT(pipe_command_verdict(&res, "cmd", dsn, reason, diag), PIPE_CMD_BOUNCE);
    EXPECT_EQ_STR(sbuf_str(dsn), "5.1.1");
    EXPECT_EQ_STR(sbuf_str(reason), "user unknown. Command output: no such mailbox");
    EXPECT_EQ_STR(sbuf_str(diag), "no such mailbox");

    run("exit 75", NULL, 10, &res);
    EXPECT_EQ_INT(pipe_command_verdict(&res, "cmd", dsn, reason, diag), PIPE_CMD_DEFER);
    EXPECT_EQ_STR(sbuf_str(dsn), "4.3.0");
    EXPECT_EQ_STR(sbuf_str(reason), "temporary failure");

    run("echo '4.2.2 mailbox full'; exit 1", NULL, 10, &res);
    EXPECT_EQ_INT(pipe_command_verdict(&res, "cmd", dsn, reason, diag), PIPE_CMD_DEFER);
    EXPECT_EQ_STR(sbuf_str(dsn), "4.2.2");
    EXPECT_EQ_STR(sbuf_str(reason), "mailbox full");

    run("exit 3", NULL, 10, &res);
    EXPECT_EQ_INT(pipe_command_verdict(&res, "cmd x", dsn, reason, diag), PIPE_CMD_BOUNCE);
    EXPECT_EQ_STR(sbuf_str(reason), "Command died with status 3: \"cmd x\"");

    run("kill -TERM $$", NULL, 10, &res);
    EXPECT_EQ_INT(res.outcome, PIPE_CMD_SIGNALED);
    EXPECT_EQ_INT(pipe_command_verdict(&res, "c", dsn, reason, diag), PIPE_CMD_DEFER);

    /* Output beyond output_max is read and dropped; the command is not stuck. */
    run("head -c 200000 /dev/zero | tr '\\0' x", NULL, 10, &res);
    EXPECT_EQ_INT(res.exit_code, 0);
    EXPECT_EQ_INT(sbuf_len(res.output), 64);

    /* A command that stops reading its input early is judged by its status. */
    static char big[300000];
    memset(big, 'y', sizeof(big) - 1);
    run("head -c 10 >/dev/null; exit 0", big, 10, &res);
    EXPECT_EQ_INT(res.outcome, PIPE_CMD_EXITED);
    EXPECT_EQ_INT(res.exit_code, 0);

    /* The time limit kills the background child as well. */
    char tmp[] = "/tmp/pipe_command_test.XXXXXX";
    int fd = mkstemp(tmp);
    close(fd);
    chmod(tmp, 0666);
    struct sbuf *script = sbuf_new(64);
    sbuf_printf(script, "sleep 60 & echo $! > %s; sleep 60", tmp);
    time_t t0 = time(NULL);
    run(sbuf_str(script), NULL, 1, &res);
    EXPECT_EQ_INT(res.outcome, PIPE_CMD_TIMEOUT);
    EXPECT_TRUE(time(NULL) - t0 < 10);
    EXPECT_EQ_INT(pipe_command_verdict(&res, "c", dsn, reason, diag), PIPE_CMD_BOUNCE);
    EXPECT_EQ_STR(sbuf_str(dsn), "5.3.0");
    FILE *fp = fopen(tmp, "r");
    long bg = 0;
    EXPECT_TRUE(fp && fscanf(fp, "%ld", &bg) == 1 && bg > 0);
    if (fp)
        fclose(fp);
    unlink(tmp);
    bool gone = false;
    for (int i = 0; i < 50 && !gone && bg > 0; i++) {
        char path[64], st[256] = "";
        snprintf(path, sizeof(path), "/proc/%ld/status", bg);
        FILE *s = fopen(path, "r");
        if (s == NULL) {
            gone = true;
            break;
        }
        while (fgets(st, sizeof(st), s))
            if (strncmp(st, "State:", 6) == 0 && strchr(st, 'Z'))
                gone = true;
        fclose(s);
        usleep(100000);
    }
    EXPECT_TRUE(gone);

    /* Failures before the command runs. */
    char *none[] = { "/nonexistent/program", NULL };
    struct pipe_command_spec spec = { .argv = none, .env = t_env, .uid = t_uid, .gid = t_gid,
                                      .stdio_fd = -1, .time_limit = 5 };
    EXPECT_EQ_INT(pipe_command_run(&spec, &res), -1);
    EXPECT_EQ_INT(res.outcome, PIPE_CMD_SETUP);
    EXPECT_TRUE(strstr(sbuf_str(res.why), "execvp /nonexistent/program") != NULL);
    EXPECT_EQ_INT(pipe_command_verdict(&res, "x", dsn, reason, diag), PIPE_CMD_DEFER);
    char *sh[] = { "/bin/sh", "-c", "true", NULL };
    spec.argv = sh;
    spec.directory = "/nonexistent/dir";
    EXPECT_EQ_INT(pipe_command_run(&spec, &res), -1);
    EXPECT_TRUE(strstr(sbuf_str(res.why), "change directory to /nonexistent/dir") != NULL);
    if (getuid() == 0) {
        spec.directory = NULL;
        spec.uid = 0;
        EXPECT_EQ_INT(pipe_command_run(&spec, &res), -1);
        EXPECT_TRUE(strstr(sbuf_str(res.why), "root") != NULL);
    }

    const char *text = NULL;
    EXPECT_EQ_STR(pipe_command_sysexit(68, &text), "5.1.2");
    EXPECT_TRUE(pipe_command_sysexit(1, NULL) == NULL);
    sbuf_free(script);
    sbuf_free(dsn);
    sbuf_free(reason);
    sbuf_free(diag);
    sbuf_free(res.output);
    sbuf_free(res.why);
}

/* ---- attributes and macros ---- */

static char **words(const char *s)
{
    return cfg_list(s);     /* white space and commas split; no commas below */
}

static void test_attr(void)
{
    struct pipe_attr a;
    struct sbuf *why = sbuf_new(64);
    char **w = words("flags=DRXhu. user=nobody eol=\\r\\n null_sender= size=1000 argv=/bin/x -d ${user}");
    EXPECT_EQ_INT(pipe_attr_parse(&a, w, why), 0);
    EXPECT_EQ_INT(a.flags, PIPE_F_DELIVERED | PIPE_F_RETURN | PIPE_F_FINAL | PIPE_F_FOLD_HOST
                               | PIPE_F_FOLD_USER | PIPE_F_DOT);
    EXPECT_EQ_STR(sbuf_str(a.eol), "\r\n");
    EXPECT_EQ_STR(a.null_sender, "");
    EXPECT_EQ_INT(a.size_limit, 1000);
    EXPECT_EQ_STR(a.argv[0], "/bin/x");
    EXPECT_EQ_STR(a.argv[2], "${user}");
    EXPECT_EQ_INT(a.uid, getpwnam("nobody")->pw_uid);
    pipe_attr_free(&a);
    cfg_list_free(w);

    static const char *const bad[][2] = {
        { "user=nobody flags=Z argv=/bin/x", "unknown flag: Z" },
        { "user=nobody color=red argv=/bin/x", "unknown attribute name: color=red" },
        { "flags=F argv=/bin/x", "missing user= command-line attribute" },
        { "user=nobody", "missing argv= command-line attribute" },
        { "user=root argv=/bin/x", "user= command-line attribute specifies root privileges" },
        { "user=nobody:root argv=/bin/x", "user= command-line attribute specifies privileged group id 0" },
        { "user=no-such-user-here argv=/bin/x", "unknown user name in user=no-such-user-here" },
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        sbuf_reset(why);
        w = words(bad[i][0]);
        EXPECT_EQ_INT(pipe_attr_parse(&a, w, why), -1);
        EXPECT_EQ_STR(sbuf_str(why), bad[i][1]);
        cfg_list_free(w);
    }
    sbuf_free(why);
}

static void test_expand(void)
{
    struct pipe_attr a = { .flags = 0, .null_sender = "MAILER-DAEMON" };
    struct attr_list *req = attr_list_new(), *env = attr_list_new();
    attr_add(req, "content_size", "1234");
    attr_add(req, "log_client_address", "192.0.2.1");
    attr_add(env, "sasl_username", "joe");
    struct deliver_request r = { .queue_id = "QID1", .nexthop = "Hop.Example", .sender = "s@x.example",
                                 .attrs = req, .env_attrs = env };
    struct deliver_rcpt r1 = { .address = "Joe+Ext@Pipe.Example", .orig = "" };
    struct deliver_rcpt r2 = { .address = "+shared@pipe.example", .orig = "alias@pipe.example" };
    const struct deliver_rcpt *rc[] = { &r1, &r2 };
    struct pipe_macros m = { .attr = &a, .req = &r, .rcpts = rc, .nrcpt = 1, .delimiters = "+" };
    struct sbuf *out = sbuf_new(64), *why = sbuf_new(64);

    static const char *const cases[][2] = {
        { "${sender} $sender $(sender)", "s@x.example s@x.example s@x.example" },
        { "${recipient}|${user}|${extension}|${mailbox}|${domain}",
          "Joe+Ext@Pipe.Example|Joe|Ext|Joe+Ext|Pipe.Example" },
        { "${original_recipient}", "Joe+Ext@Pipe.Example" },
        { "${nexthop} ${size} ${queue_id}", "Hop.Example 1234 QID1" },
        { "${client_address}/${client_helo}/${sasl_username}/${sasl_method}", "192.0.2.1//joe/" },
        { "${sasl_method:none} ${sasl_username?user=$sasl_username}", "none user=joe" },
        { "${sasl_method?x} ${sasl_username:y}|", " |" },
        { "$$5 cost", "$5 cost" },
        { "-a$sender - $nexthop!rmail ($recipient)",
          "-as@x.example - Hop.Example!rmail (Joe+Ext@Pipe.Example)" },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        EXPECT_EQ_INT(pipe_expand_one(out, cases[i][0], &m, &r1, why), 0);
        EXPECT_EQ_STR(sbuf_str(out), cases[i][1]);
    }
    EXPECT_EQ_INT(pipe_expand_one(out, "${bogus}", &m, &r1, why), -1);
    EXPECT_EQ_STR(sbuf_str(why), "unknown macro name: \"bogus\"");
    EXPECT_EQ_INT(pipe_expand_one(out, "${sender", &m, &r1, why), -1);

    /* Flags: h folds domains and nexthop, u local parts, q quotes. */
    a.flags = PIPE_F_FOLD_HOST | PIPE_F_FOLD_USER | PIPE_F_QUOTE;
    struct deliver_rcpt r3 = { .address = "A B@Pipe.Example", .orig = "" };
    EXPECT_EQ_INT(pipe_expand_one(out, "${recipient} ${user} ${domain} ${nexthop}", &m, &r3, why), 0);
    EXPECT_EQ_STR(sbuf_str(out), "\"a b\"@pipe.example a b pipe.example hop.example");
    r.sender = "";
    EXPECT_EQ_INT(pipe_expand_one(out, "${sender}", &m, &r3, why), 0);
    EXPECT_EQ_STR(sbuf_str(out), "MAILER-DAEMON");
    a.flags = 0;
    r.sender = "s@x.example";

    /* Recipient arguments repeat; an empty ${user} drops its argument. */
    char *tmpl[] = { "/bin/cmd", "-d", "${user}", "--", "<${recipient}>", "${original_recipient}", NULL };
    a.argv = tmpl;
    m.nrcpt = 2;
    char **v = pipe_expand_argv(&m, why);
    EXPECT_TRUE(v != NULL);
    struct sbuf *all = sbuf_new(128);
    for (char **p = v; p && *p; p++)
        sbuf_catf(all, "[%s]", *p);
    EXPECT_EQ_STR(sbuf_str(all), "[/bin/cmd][-d][Joe][--][<Joe+Ext@Pipe.Example>][<+shared@pipe.example>]"
                                 "[Joe+Ext@Pipe.Example][alias@pipe.example]");
    cfg_list_free(v);
    char *tmpl2[] = { "/bin/cmd", "${nosuch}", NULL };
    a.argv = tmpl2;
    EXPECT_TRUE(pipe_expand_argv(&m, why) == NULL);

    sbuf_free(all);
    sbuf_free(out);
    sbuf_free(why);
    attr_list_free(req);
    attr_list_free(env);
}

int main(void)
{
    harness_init();
    struct passwd *pw = getpwnam("nobody");
    t_uid = getuid() == 0 && pw ? pw->pw_uid : getuid();
    t_gid = getuid() == 0 && pw ? pw->pw_gid : getgid();
    signal(SIGPIPE, SIG_IGN);
    test_run();
    test_attr();
    test_expand();
    return harness_done();
}
