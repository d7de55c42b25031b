/*
 * postdrop.c - write a locally submitted message into maildrop/
 *
 * Used by: sendmail (normal submission and -bs), installed setgid postdrop
 *          (mode 2755) so that any user can create files in maildrop/
 *          (mail_owner:postdrop, mode 1730).
 * Interface: postdrop [-rv] [-c config_dir]
 *            Reads the maildrop record stream (lib/mail/maildrop.h) on
 *            stdin. With -r it also reports on stdout, as attribute lists:
 *            "queue_id=ID" once the file exists, then "status=N" and
 *            "reason=TEXT" at the end (status 0 = queued).
 * Errors: malformed input, an unauthorized user, a sender address that
 *         local_login_sender_maps does not give the user, or an untrusted
 *         config directory are refused with a message on stderr (and the mail
 *         log); the file is removed. Exit status: 0 queued, EX_USAGE,
 *         EX_NOPERM, EX_DATAERR (bad or too large input), EX_CONFIG,
 *         EX_TEMPFAIL (I/O).
 * Notes: runs with the caller's uid and the postdrop group, so it trusts
 *        nothing it inherits: it closes stray descriptors, clears the
 *        environment, and honours MAIL_CONFIG / -c only for root or for a
 *        directory listed in alternate_config_directories (or
 *        multi_instance_directories) of the default main.cf. The file is
 *        acknowledged (exit 0) only after fsync; it becomes mode 0744 so
 *        that pickup (mail_owner) can read it.
 */
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "login_sender.h"
#include "mail_log.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "mail_env.h"
#include "mail_trust.h"
#include "maildrop.h"
#include "qfile.h"
#include "sbuf.h"
#include "stream.h"
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sysexits.h>

static int postdrop_exit_code = EX_TEMPFAIL;   /* used by the fatal hook */
static char postdrop_path[PATH_MAX];           /* file to remove on failure */
static struct stream *postdrop_out;            /* -r replies, or NULL */
static char postdrop_reason[256] = "4.3.0 queue file write error";

static void postdrop_reply(int status, const char *reason)
{
    char num[16];
    if (postdrop_out == NULL)
        return;
    snprintf(num, sizeof(num), "%d", status);
    attr_send(postdrop_out, "status", num, "reason", reason, (char *)NULL);
    stream_close(postdrop_out);
    postdrop_out = NULL;
}

/* Runs inside log_fatal(): remove the partial file, tell sendmail, exit. */
static void postdrop_on_fatal(void)
{
    if (postdrop_path[0])
        unlink(postdrop_path);
    postdrop_path[0] = 0;
    postdrop_reply(postdrop_exit_code, postdrop_reason);
    exit(postdrop_exit_code);
}

static void postdrop_fail(int code, const char *reason, const char *fmt, ...) PRINTF_LIKE(3, 4) NORETURN;
static void postdrop_fail(int code, const char *reason, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    postdrop_exit_code = code;
    strlcpy(postdrop_reason, reason, sizeof(postdrop_reason));
    log_fatal("%s", text);
}

static void postdrop_sig(int sig)
{
    (void)sig;
    if (postdrop_path[0])
        unlink(postdrop_path);      /* async-signal-safe */
    _exit(EX_TEMPFAIL);
}

/* authorized_submit_users (mail_trust.h); a table problem is fatal. */
static bool postdrop_user_allowed(const char *user)
{
    struct mail_trust_err err;
    int res = mail_user_authorized(P_AUTHORIZED_SUBMIT_USERS, user, &err);
    if (res < 0 && err.kind == MAIL_TRUST_ERR_OPEN)
        postdrop_fail(EX_CONFIG, "4.3.0 configuration error",
                      "%s: cannot open %s", P_AUTHORIZED_SUBMIT_USERS, err.item);
    if (res < 0)
        postdrop_fail(EX_TEMPFAIL, "4.3.0 table lookup error",
                      "%s: lookup error in %s", P_AUTHORIZED_SUBMIT_USERS, err.item);
    return res > 0;
}

/* The caller's login name, or "uid:N" when the uid has no passwd entry
 * (Postfix's key for local_login_sender_maps). New string. */
static char *postdrop_login(uid_t uid)
{
    struct passwd *pw = getpwuid(uid);
    if (pw)
        return xstrdup(pw->pw_name);
    char *name = xmalloc(32);
    snprintf(name, 32, "uid:%ld", (long)uid);
    return name;
}

/* local_login_sender_maps: may this login use sender? With the default
 * static:* everyone may use any sender and nothing is looked up. */
static void postdrop_check_sender(uid_t uid, const char *sender)
{
    const char *value = cfg_str(P_LOCAL_LOGIN_SENDER_MAPS);
    value += strspn(value, " \t,");
    if (strcmp(value, "static:*") == 0)
        return;
    char *login = postdrop_login(uid);
    struct maps *m = maps_create(P_LOCAL_LOGIN_SENDER_MAPS, value, DICT_F_FOLD);
    int r = login_sender_match(m, login, sender, cfg_str(P_RECIPIENT_DELIMITER),
                               cfg_str(P_EMPTY_ADDRESS_LOCAL_LOGIN_SENDER_MAPS_LOOKUP_KEY));
    maps_free(m);
    if (r < 0)
        postdrop_fail(EX_TEMPFAIL, "4.3.0 table lookup error", "%s: lookup error for %s",
                      P_LOCAL_LOGIN_SENDER_MAPS, login);
    if (r == 0)
        postdrop_fail(EX_NOPERM, "5.7.1 sender address not allowed for this user",
                      "uid=%ld: user %s may not use sender address <%s> (%s)", (long)uid, login,
                      sender, P_LOCAL_LOGIN_SENDER_MAPS);
    xfree(login);
}

static void postdrop_setup_logging(void)
{
    mail_log_init("postdrop");
}

int main(int argc, char **argv)
{
    bool report = false;
    const char *cflag = NULL;
    int c;

    /* Descriptors 0-2 must exist (else a file we open could become
     * "stderr"); everything above is somebody else's business. */
    if (mail_sanitize_fds() < 0)
        _exit(EX_OSERR);
    umask(077);
    log_set_tag("postdrop");
    log_set_stderr(true);
    log_set_exit_hook(postdrop_on_fatal);
    signal(SIGPIPE, SIG_IGN);

    /* Remember what the caller asked for, then drop the environment. */
    char *env_config = mail_sanitize_env();

    while ((c = getopt(argc, argv, "c:rv")) != -1) {
        switch (c) {
        case 'c':
            cflag = optarg;
            break;
        case 'r':
            report = true;
            break;
        case 'v':
            log_verbose++;
            break;
        default:
            postdrop_fail(EX_USAGE, "5.3.0 usage error", "usage: postdrop [-c config_dir] [-rv]");
        }
    }
    if (optind != argc)
        postdrop_fail(EX_USAGE, "5.3.0 usage error", "usage: postdrop [-c config_dir] [-rv]");
    if (report) {
        postdrop_out = stream_open(1);
        stream_set_timeout(postdrop_out, 3600);
    }

    uid_t uid = getuid();
    const char *want_dir = cflag ? cflag : (env_config && *env_config ? env_config : NULL);

    /* Root may use any directory; anyone else gets the default one or a
     * directory that the default main.cf lists as trusted. */
    if (want_dir && uid == 0) {
        if (config_load(want_dir) < 0)
            postdrop_fail(EX_CONFIG, "4.3.0 configuration error",
                          "%s/main.cf: configuration errors", want_dir);
        setenv("MAIL_CONFIG", want_dir, 1);
    } else {
        if (config_load(NULL) < 0 && want_dir == NULL)
            postdrop_fail(EX_CONFIG, "4.3.0 configuration error",
                          "%s/main.cf: configuration errors", config_dir());
        if (want_dir && strcmp(want_dir, config_dir()) != 0) {
            if (!mail_config_dir_trusted(want_dir))
                postdrop_fail(EX_CONFIG, "4.3.0 configuration error",
                              "untrusted configuration directory %s: not listed in %s or %s of "
                              "%s/main.cf", want_dir, P_ALTERNATE_CONFIG_DIRECTORIES,
                              P_MULTI_INSTANCE_DIRECTORIES, config_dir());
            if (config_load(want_dir) < 0)
                postdrop_fail(EX_CONFIG, "4.3.0 configuration error",
                              "%s/main.cf: configuration errors", want_dir);
            setenv("MAIL_CONFIG", want_dir, 1);
        }
    }
    mail_env_import();
    postdrop_setup_logging();

    /* The user name matters only to a list that names users: with the
     * default static:anyone, no passwd lookup (about 20 system calls). */
    char *user = NULL;
    if (!mail_user_anyone(P_AUTHORIZED_SUBMIT_USERS)) {
        struct passwd *pw = getpwuid(uid);
        user = pw ? xstrdup(pw->pw_name) : NULL;
        if (user == NULL) {
            user = xmalloc(32);
            snprintf(user, 32, "uid%ld", (long)uid);
        }
        if (!postdrop_user_allowed(user))
            postdrop_fail(EX_NOPERM, "5.7.1 not authorized to submit mail",
                          "User %s(%ld) is not allowed to submit mail", user, (long)uid);
    }

    const char *qdir = cfg_str(P_QUEUE_DIRECTORY);
    if (chdir(qdir) < 0)
        postdrop_fail(EX_TEMPFAIL, "4.3.0 queue directory unavailable", "chdir %s: %m", qdir);

    signal(SIGHUP, postdrop_sig);
    signal(SIGINT, postdrop_sig);
    signal(SIGQUIT, postdrop_sig);
    signal(SIGTERM, postdrop_sig);

    struct sbuf *id = sbuf_new(32);
    int fd = mail_queue_create(MAIL_QUEUE_MAILDROP, id);
    if (fd < 0)
        postdrop_fail(EX_TEMPFAIL, "4.3.0 queue file write error",
                      "uid=%ld: create file in %s/%s: %m", (long)uid, qdir, MAIL_QUEUE_MAILDROP);
    snprintf(postdrop_path, sizeof(postdrop_path), "%s/%s", MAIL_QUEUE_MAILDROP, sbuf_str(id));
    if (postdrop_out && attr_send(postdrop_out, "queue_id", sbuf_str(id), (char *)NULL) < 0)
        postdrop_fail(EX_TEMPFAIL, "4.3.0 lost connection", "uid=%ld: lost connection to sendmail",
                      (long)uid);

    struct qfile_writer *w = qfile_writer_new(fd);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (qfile_putf(w, REC_TIME, "%ld %ld", (long)tv.tv_sec, (long)tv.tv_usec) < 0)
        postdrop_fail(EX_TEMPFAIL, "4.3.0 queue file write error", "uid=%ld: write %s: %m",
                      (long)uid, postdrop_path);

    /* Copy the stream, validating each record before it reaches the file. */
    struct stream *in = stream_open(0);
    struct sbuf *rec = sbuf_new(MAILDROP_REC_MAX + 1);
    struct maildrop_check chk;
    long limit = cfg_long(P_MESSAGE_SIZE_LIMIT);
    char *sender = NULL;
    maildrop_check_init(&chk, MAILDROP_FROM_CLIENT, limit);
    while (!maildrop_check_done(&chk)) {
        int type = qfile_get_stream(in, rec, MAILDROP_REC_MAX);
        if (type == QFILE_E_EOF || type == QFILE_E_IO)
            postdrop_fail(EX_DATAERR, "5.3.0 malformed input",
                          "uid=%ld: malformed input: premature end of input", (long)uid);
        if (type < 0)
            postdrop_fail(EX_DATAERR, "5.3.0 malformed input",
                          "uid=%ld: malformed input: bad record length", (long)uid);
        const char *why = maildrop_check_rec(&chk, type, sbuf_str(rec), sbuf_len(rec));
        if (why) {
            if (chk.verdict == MAILDROP_TOOBIG)
                postdrop_fail(EX_DATAERR, "5.3.4 Message size exceeds fixed limit",
                              "uid=%ld: %s (%s = %ld)", (long)uid, why, P_MESSAGE_SIZE_LIMIT, limit);
            postdrop_fail(EX_DATAERR, "5.3.0 malformed input",
                          "uid=%ld: malformed input: %s (record type %d)", (long)uid, why, type);
        }
        if (type == REC_SENDER && sender == NULL) {
            sender = xstrdup(sbuf_str(rec));
            postdrop_check_sender(uid, sender);
        }
        if (qfile_put(w, type, sbuf_str(rec), sbuf_len(rec)) < 0)
            postdrop_fail(EX_TEMPFAIL, "4.3.0 queue file write error", "uid=%ld: write %s: %m",
                          (long)uid, postdrop_path);
    }
    stream_free_keep_fd(in);

    /* Complete bit plus read access for pickup, then make it durable. */
    if (qfile_writer_flush(w) < 0 || fchmod(fd, MAILDROP_MODE_COMPLETE) < 0 || fsync(fd) < 0)
        postdrop_fail(EX_TEMPFAIL, "4.3.0 queue file write error", "uid=%ld: commit %s: %m",
                      (long)uid, postdrop_path);
    /* The group may lack read access to maildrop/; the directory fsync is
     * best effort then (the file itself is durable). */
    (void)mail_queue_sync_dir(MAIL_QUEUE_MAILDROP);
    qfile_writer_free(w);
    postdrop_path[0] = 0;       /* from now on the file is pickup's */

    log_debug(1, "%s: uid=%ld from=<%s>", sbuf_str(id), (long)uid, sender ? sender : "");
    /* A lost trigger only delays pickup until its next periodic scan. */
    if (mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_PICKUP, 'W') < 0)
        log_debug(1, "trigger %s/%s: %m", MAIL_CLASS_PUBLIC, MAIL_SERVICE_PICKUP);
    postdrop_reply(0, "");
    xfree(sender);
    xfree(user);
    xfree(env_config);
    sbuf_free(rec);
    sbuf_free(id);
    return 0;
}
