/*
 * local_alias_test.c - unit tests for the local agent's alias expansion
 *
 * Covers: tokenizing alias values, token kinds, extension splitting,
 *         forward_path expansion, and local_resolve() against a texthash
 *         alias table with recorded (stubbed) deliveries: plain aliases,
 *         self-reference, loops, files and commands (allowed/restricted),
 *         :include:, .forward, owner- senders, unknown users, luser_relay,
 *         Delivered-To loops and extension propagation.
 * Interface: main() (tests/harness.h).
 * Notes: compiles the local agent's pure modules in directly (they are not
 *        part of libpostern.a).
 */
#include "harness.h"
#include "../../local/local_token.c"
#include "../../local/local_resolve.c"
#include <sys/stat.h>

static struct dict *aliases;
static struct sbuf *trace;
static const char *fwd_home = "/home/fwd";
static const char *delivered_hdr = "";
static bool alias_fail;

static int stub_getpw(const char *name, struct local_pw *pw)
{
    if (strcmp(name, "bob") && strcmp(name, "carol") && strcmp(name, "fwd") && strcmp(name, "self"))
        return 0;
    pw->name = xstrdup(name);
    pw->home = xstrdup(strcmp(name, "fwd") == 0 ? fwd_home : "/home/x");
    pw->shell = xstrdup("/bin/sh");
    pw->uid = 1000;
    pw->gid = 1000;
    return 1;
}

static const char *stub_alias(const char *key, int *err)
{
    *err = alias_fail ? -1 : 0;
    return alias_fail ? NULL : dict_lookup(aliases, key);
}

static uid_t fwd_owner = 1000;      /* owner of /home/fwd/.forward */

static int stub_getpwuid(uid_t uid, struct local_pw *pw)
{
    if (uid != 2000)
        return 0;
    pw->name = xstrdup("listowner");
    pw->home = xstrdup("/home/listowner");
    pw->shell = xstrdup("/bin/sh");
    pw->uid = 2000;
    pw->gid = 2000;
    return 1;
}

static char *stub_read_file(const char *path, uid_t uid, gid_t gid, uid_t *owner, int *err)
{
    (void)gid;
    if (strcmp(path, "/home/fwd/.forward") && strcmp(path, "/etc/list.inc")
        && strcmp(path, "/etc/user.inc") && strcmp(path, "/etc/ghost.inc")) {
        *err = ENOENT;
        return NULL;
    }
    sbuf_catf(trace, "read(%s,%ld) ", path, (long)(int)uid);
    if (strcmp(path, "/home/fwd/.forward") == 0) {
        *owner = fwd_owner;
        return xstrdup("# comment\ncarol, \\fwd\n\"|/usr/bin/vacation fwd\"\n");
    }
    if (strcmp(path, "/etc/list.inc") == 0) {
        *owner = 0;
        return xstrdup("bob\ncarol\n/var/log/list\n");
    }
    if (strcmp(path, "/etc/user.inc") == 0) {
        *owner = 2000;
        return xstrdup("/var/log/ulist\n\"|/bin/ulist\"\n");
    }
    if (strcmp(path, "/etc/ghost.inc") == 0) {
        *owner = 3000;      /* no such user */
        return xstrdup("bob\n");
    }
    *err = ENOENT;
    return NULL;
}

static bool stub_has_dt(const char *address)
{
    return strcasecmp(address, delivered_hdr) == 0;
}

static int stub_is_local(const char *domain)
{
    return strcasecmp(domain, "here.org") == 0;
}

static bool show_dt;        /* also trace the Delivered-To: value */

static void stub_mailbox(struct local_state *st, const struct local_pw *pw)
{
    sbuf_catf(trace, "mailbox(%s,%s,from=%s", pw->name, st->address, st->sender);
    if (show_dt)
        sbuf_catf(trace, ",dt=%s", st->delivered);
    sbuf_cat(trace, ") ");
}

static void stub_file(struct local_state *st, const char *path)
{
    if (st->have_privs && st->uid != 1000)
        sbuf_catf(trace, "file(%s,uid %ld) ", path, (long)st->uid);
    else
        sbuf_catf(trace, "file(%s,%s) ", path, st->have_privs ? "user" : "default");
}

static void stub_command(struct local_state *st, const char *cmd)
{
    if (st->have_privs && st->uid != 1000)
        sbuf_catf(trace, "command(%s,uid %ld) ", cmd, (long)st->uid);
    else
        sbuf_catf(trace, "command(%s,%s) ", cmd, st->have_privs ? "user" : "default");
}

static void stub_forward(struct local_state *st, const char *address)
{
    sbuf_catf(trace, "forward(%s,from=%s", address, st->sender);
    if (show_dt)
        sbuf_catf(trace, ",dt=%s", st->delivered);
    sbuf_cat(trace, ") ");
}

static void stub_report(struct local_state *st, enum deliver_kind kind, const char *dsn,
                        const char *text)
{
    sbuf_catf(trace, "%s(%s,%s,%s) ", kind == DELIVER_BOUNCED ? "bounce" : kind == DELIVER_DEFERRED ? "defer" : "sent",
              st->address, dsn, text);
}

/* require_home_directory: /home/x is not there, /home/fwd is. */
static int stub_stat_home(const struct local_pw *pw, int *err)
{
    *err = strcmp(pw->home, "/home/x") == 0 ? ENOENT : 0;
    return *err ? -1 : 0;
}

static const struct local_ops stub_ops = {
    .stat_home = stub_stat_home,
    .getpw = stub_getpw,
    .getpwuid = stub_getpwuid,
    .alias = stub_alias,
    .read_file = stub_read_file,
    .has_delivered_to = stub_has_dt,
    .is_local_domain = stub_is_local,
    .mailbox = stub_mailbox,
    .file = stub_file,
    .command = stub_command,
    .forward = stub_forward,
    .report = stub_report,
};

static struct local_config cfg = {
    .recipient_delimiter = "+",
    .myorigin = "here.org",
    .luser_relay = "",
    .forward_path = "$home/.forward${recipient_delimiter}${extension}, $home/.forward",
    .allow_commands = LOCAL_ALLOW_ALIAS | LOCAL_ALLOW_FORWARD,
    .allow_files = LOCAL_ALLOW_ALIAS | LOCAL_ALLOW_FORWARD,
    .owner_request_special = true,
    .dup_limit = 1000,
};

static const char *run(const char *address)
{
    struct deliver_rcpt rc = { .address = (char *)address, .orig = (char *)"",
                               .dsn_orcpt = (char *)"", .offset = 100 };
    struct local_outcome out = { 0 };
    struct local_state st = { .rc = &rc, .address = address, .delivered = address,
                              .sender = "s@x.org", .extension = "", .out = &out };
    sbuf_reset(trace);
    local_resolve(&st, &stub_ops, &cfg);
    local_outcome_free(&out);
    sbuf_trim(trace);
    return sbuf_str(trace);
}

static void test_tokens(void)
{
    size_t n;
    char **t = local_tokenize("bob, carol@x.org \"|/usr/bin/prog -a b\",/var/log/f,"
                              ":include:/etc/l\n# a comment, not a target\n \\bob", &n);
    EXPECT_EQ_INT(n, 6);
    if (n == 6) {
        EXPECT_EQ_STR(t[0], "bob");
        EXPECT_EQ_STR(t[1], "carol@x.org");
        EXPECT_EQ_STR(t[2], "|/usr/bin/prog -a b");
        EXPECT_EQ_STR(t[3], "/var/log/f");
        EXPECT_EQ_STR(t[4], ":include:/etc/l");
        EXPECT_EQ_STR(t[5], "\\bob");
        const char *rest;
        EXPECT_EQ_INT(local_token_kind(t[0], &rest), LOCAL_TOK_ADDRESS);
        EXPECT_EQ_INT(local_token_kind(t[2], &rest), LOCAL_TOK_COMMAND);
        EXPECT_EQ_STR(rest, "/usr/bin/prog -a b");
        EXPECT_EQ_INT(local_token_kind(t[3], &rest), LOCAL_TOK_FILE);
        EXPECT_EQ_INT(local_token_kind(t[4], &rest), LOCAL_TOK_INCLUDE);
        EXPECT_EQ_STR(rest, "/etc/l");
        EXPECT_EQ_INT(local_token_kind(t[5], &rest), LOCAL_TOK_MAILBOX);
        EXPECT_EQ_STR(rest, "bob");
    }
    local_tokens_free(t);
    t = local_tokenize("\"unterminated, ,,", &n);
    EXPECT_EQ_INT(n, 1);
    local_tokens_free(t);
    t = local_tokenize("", &n);
    EXPECT_EQ_INT(n, 0);
    local_tokens_free(t);

    struct sbuf *u = sbuf_new(16), *e = sbuf_new(16);
    local_split_ext("bob+box", "+", true, u, e);
    EXPECT_EQ_STR(sbuf_str(u), "bob");
    EXPECT_EQ_STR(sbuf_str(e), "+box");
    local_split_ext("bob-x+y", "+-", true, u, e);
    EXPECT_EQ_STR(sbuf_str(u), "bob");
    EXPECT_EQ_STR(sbuf_str(e), "-x+y");
    local_split_ext("+bob", "+", true, u, e);
    EXPECT_EQ_STR(sbuf_str(u), "+bob");
    local_split_ext("owner-list", "-", true, u, e);
    EXPECT_EQ_STR(sbuf_str(u), "owner-list");
    local_split_ext("list-request", "-", true, u, e);
    EXPECT_EQ_STR(sbuf_str(e), "");
    local_split_ext("list-request", "-", false, u, e);
    EXPECT_EQ_STR(sbuf_str(e), "-request");

    const char *names[] = { "home", "extension", "recipient_delimiter", NULL };
    const char *vals[] = { "/home/b", "", "+", NULL };
    EXPECT_EQ_INT(local_expand(u, "$home/.forward${recipient_delimiter}${extension}", names, vals),
                  0);
    EXPECT_EQ_INT(local_expand(u, "$home/.forward", names, vals), 1);
    EXPECT_EQ_STR(sbuf_str(u), "/home/b/.forward");
    EXPECT_EQ_INT(local_expand(u, "${extension?x}${extension:y}$$", names, vals), 1);
    EXPECT_EQ_STR(sbuf_str(u), "y$");
    EXPECT_EQ_INT(local_expand(u, "${unclosed", names, vals), 1);
    sbuf_free(u);
    sbuf_free(e);

    EXPECT_EQ_INT(local_allow_mask("alias, forward"), LOCAL_ALLOW_ALIAS | LOCAL_ALLOW_FORWARD);
    EXPECT_EQ_INT(local_allow_mask("include"), LOCAL_ALLOW_INCLUDE);
}

/* require_home_directory: a user whose home cannot be reached is deferred
 * before .forward and mailbox; one whose home is there is not affected. */
static void test_require_home(void)
{
    cfg.require_home = true;
    EXPECT_EQ_STR(run("bob@here.org"),
                  "defer(bob@here.org,4.3.0,cannot access home directory /home/x: "
                  "No such file or directory)");
    /* fwd's home is there; carol, named in fwd's .forward, has none. */
    EXPECT_EQ_STR(run("fwd@here.org"),
                  "read(/home/fwd/.forward,1000) defer(carol@here.org,4.3.0,cannot access "
                  "home directory /home/x: No such file or directory) "
                  "mailbox(fwd,fwd@here.org,from=s@x.org) command(/usr/bin/vacation fwd,user)");
    cfg.require_home = false;
    EXPECT_EQ_STR(run("bob@here.org"), "mailbox(bob,bob@here.org,from=s@x.org)");
}

static void test_resolve(void)
{
    EXPECT_EQ_STR(run("bob@here.org"), "mailbox(bob,bob@here.org,from=s@x.org)");
    EXPECT_EQ_STR(run("Bob@here.org"), "mailbox(bob,Bob@here.org,from=s@x.org)");
    EXPECT_EQ_STR(run("nosuch@here.org"), "bounce(nosuch@here.org,5.1.1,unknown user: \"nosuch\")");
    /* alias to two local users and a remote address; owner-staff becomes the sender */
    EXPECT_EQ_STR(run("staff@here.org"),
                  "mailbox(bob,bob@here.org,from=owner-staff@here.org) "
                  "mailbox(carol,carol@here.org,from=owner-staff@here.org) "
                  "forward(dave@else.org,from=owner-staff@here.org)");
    /* self-reference: self: self, bob -> self's own mailbox, and bob */
    EXPECT_EQ_STR(run("self@here.org"),
                  "mailbox(self,self@here.org,from=s@x.org) mailbox(bob,bob@here.org,from=s@x.org)");
    /* an alias loop a -> b -> a ends at the mailbox step */
    EXPECT_EQ_STR(run("loopa@here.org"), "bounce(loopa@here.org,5.1.1,unknown user: \"loopa\")");
    /* files and commands from aliases run with default privileges */
    EXPECT_EQ_STR(run("archive@here.org"),
                  "file(/var/spool/archive,default) command(/usr/bin/filter -q,default)");
    /* include: file and command inside an include are restricted by default */
    EXPECT_EQ_STR(run("list@here.org"),
                  "read(/etc/list.inc,-1) mailbox(bob,bob@here.org,from=s@x.org) "
                  "mailbox(carol,carol@here.org,from=s@x.org) "
                  "bounce(list@here.org,5.7.1,mail to file is restricted)");
    cfg.allow_files |= LOCAL_ALLOW_INCLUDE;
    EXPECT_EQ_STR(run("list@here.org"),
                  "read(/etc/list.inc,-1) mailbox(bob,bob@here.org,from=s@x.org) "
                  "mailbox(carol,carol@here.org,from=s@x.org) file(/var/log/list,default)");
    /* an include file owned by a user (listed in a root alias) lends that
     * user's rights; one whose owner has no passwd entry is deferred */
    cfg.allow_commands |= LOCAL_ALLOW_INCLUDE;
    EXPECT_EQ_STR(run("ulist@here.org"),
                  "read(/etc/user.inc,-1) file(/var/log/ulist,uid 2000) "
                  "command(/bin/ulist,uid 2000)");
    EXPECT_EQ_STR(run("ghost@here.org"),
                  "read(/etc/ghost.inc,-1) "
                  "defer(ghost@here.org,4.3.5,mail system configuration error)");
    cfg.allow_commands &= ~LOCAL_ALLOW_INCLUDE;
    cfg.allow_files &= ~LOCAL_ALLOW_INCLUDE;
    cfg.allow_commands = 0;
    EXPECT_EQ_STR(run("archive@here.org"),
                  "file(/var/spool/archive,default) "
                  "bounce(archive@here.org,5.7.1,mail to command is restricted)");
    cfg.allow_commands = LOCAL_ALLOW_ALIAS | LOCAL_ALLOW_FORWARD;
    /* .forward: read as the user; \fwd keeps a copy without re-reading .forward */
    EXPECT_EQ_STR(run("fwd@here.org"),
                  "read(/home/fwd/.forward,1000) mailbox(carol,carol@here.org,from=s@x.org) "
                  "mailbox(fwd,fwd@here.org,from=s@x.org) command(/usr/bin/vacation fwd,user)");
    /* a .forward owned by root counts; one owned by another user is ignored */
    fwd_owner = 0;
    EXPECT_EQ_STR(run("fwd@here.org"),
                  "read(/home/fwd/.forward,1000) mailbox(carol,carol@here.org,from=s@x.org) "
                  "mailbox(fwd,fwd@here.org,from=s@x.org) command(/usr/bin/vacation fwd,user)");
    fwd_owner = 2000;
    EXPECT_EQ_STR(run("fwd@here.org"),
                  "read(/home/fwd/.forward,1000) mailbox(fwd,fwd@here.org,from=s@x.org)");
    fwd_owner = 1000;
    /* extension: .forward+box (missing) is tried first; alias on the base name keeps the extension */
    EXPECT_EQ_STR(run("fwd+box@here.org"),
                  "read(/home/fwd/.forward,1000) "
                  "mailbox(carol,carol@here.org,from=s@x.org) "
                  "mailbox(fwd,fwd@here.org,from=s@x.org) command(/usr/bin/vacation fwd,user)");
    EXPECT_EQ_STR(run("team+x@here.org"), "forward(ann+x@else.org,from=s@x.org)");
    EXPECT_EQ_STR(run("team+exact@here.org"), "mailbox(bob,bob@here.org,from=s@x.org)");
    /* duplicate targets are delivered once */
    EXPECT_EQ_STR(run("dups@here.org"), "mailbox(bob,bob@here.org,from=s@x.org)");
    /* Delivered-To loop */
    delivered_hdr = "bob@here.org";
    EXPECT_EQ_STR(run("bob@here.org"), "bounce(bob@here.org,5.4.6,mail forwarding loop for bob@here.org)");
    delivered_hdr = "";
    /* table failure: try later */
    alias_fail = true;
    EXPECT_EQ_STR(run("bob@here.org"), "defer(bob@here.org,4.3.0,alias database unavailable)");
    alias_fail = false;
    /* luser_relay */
    cfg.luser_relay = "catch+$user@else.org";
    EXPECT_EQ_STR(run("nosuch@here.org"), "forward(catch+nosuch@else.org,from=s@x.org)");
    cfg.luser_relay = "";
    /* a deep chain ends with a loop bounce, not a stack overflow */
    EXPECT_TRUE(strstr(run("deep0@here.org"), "5.4.6") != NULL);
}

/* frozen_delivered_to: the Delivered-To: value through an alias and a
 * .forward; the loop check is the same either way. */
static void test_frozen(void)
{
    show_dt = true;
    cfg.frozen_delivered = false;
    EXPECT_EQ_STR(run("staff@here.org"),
                  "mailbox(bob,bob@here.org,from=owner-staff@here.org,dt=bob@here.org) "
                  "mailbox(carol,carol@here.org,from=owner-staff@here.org,dt=carol@here.org) "
                  "forward(dave@else.org,from=owner-staff@here.org,dt=staff@here.org)");
    EXPECT_EQ_STR(run("fwdalias@here.org"),
                  "read(/home/fwd/.forward,1000) "
                  "mailbox(carol,carol@here.org,from=s@x.org,dt=carol@here.org) "
                  "mailbox(fwd,fwd@here.org,from=s@x.org,dt=fwd@here.org) "
                  "command(/usr/bin/vacation fwd,user)");
    cfg.frozen_delivered = true;
    EXPECT_EQ_STR(run("staff@here.org"),
                  "mailbox(bob,bob@here.org,from=owner-staff@here.org,dt=staff@here.org) "
                  "mailbox(carol,carol@here.org,from=owner-staff@here.org,dt=staff@here.org) "
                  "forward(dave@else.org,from=owner-staff@here.org,dt=staff@here.org)");
    EXPECT_EQ_STR(run("fwdalias@here.org"),
                  "read(/home/fwd/.forward,1000) "
                  "mailbox(carol,carol@here.org,from=s@x.org,dt=fwdalias@here.org) "
                  "mailbox(fwd,fwd@here.org,from=s@x.org,dt=fwdalias@here.org) "
                  "command(/usr/bin/vacation fwd,user)");
    delivered_hdr = "carol@here.org";
    EXPECT_EQ_STR(run("fwdalias@here.org"),
                  "read(/home/fwd/.forward,1000) "
                  "bounce(carol@here.org,5.4.6,mail forwarding loop for carol@here.org) "
                  "mailbox(fwd,fwd@here.org,from=s@x.org,dt=fwdalias@here.org) "
                  "command(/usr/bin/vacation fwd,user)");
    delivered_hdr = "";
    cfg.frozen_delivered = false;
    show_dt = false;
}

int main(void)
{
    harness_init();
    trace = sbuf_new(256);
    char dir[] = "/tmp/local_alias_test.XXXXXX";
    EXPECT_TRUE(mkdtemp(dir) != NULL);
    char path[256], spec[300];
    snprintf(path, sizeof(path), "%s/aliases", dir);
    FILE *fp = fopen(path, "w");
    fprintf(fp, "staff: bob, carol@here.org, dave@else.org\n"
                "owner-staff: bob\n"
                "self: self, bob\n"
                "loopa: loopb\n"
                "loopb: loopa\n"
                "archive: /var/spool/archive, \"|/usr/bin/filter -q\"\n"
                "list: :include:/etc/list.inc\n"
                "ulist: :include:/etc/user.inc\n"
                "ghost: :include:/etc/ghost.inc\n"
                "team: ann@else.org\n"
                "team+exact: bob\n"
                "dups: bob, bob@here.org, \\bob\n"
                "fwdalias: fwd\n");
    for (int i = 0; i < 150; i++)
        fprintf(fp, "deep%d: deep%d\n", i, i + 1);
    fclose(fp);
    snprintf(spec, sizeof(spec), "texthash:%s", path);
    aliases = dict_open(spec, DICT_F_FOLD | DICT_F_ALIAS);
    EXPECT_TRUE(aliases != NULL);
    if (aliases) {
        test_tokens();
        test_resolve();
        test_require_home();
        test_frozen();
        dict_close(aliases);
    }
    unlink(path);
    rmdir(dir);
    sbuf_free(trace);
    return harness_done();
}
