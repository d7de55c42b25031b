/*
 * sendmail.c - the Sendmail-compatible submission command (also mailq,
 *              newaliases)
 *
 * Used by: users and programs that submit mail locally.
 * Interface: sendmail [options] [recipient ...]; mailq; newaliases.
 *            See man/man1/sendmail.1.
 * Errors: "sendmail: fatal: ..." on stderr (and the mail log) with a
 *         sysexits exit status: EX_USAGE for bad usage, EX_TEMPFAIL for
 *         configuration or queue trouble; otherwise postdrop's status.
 * Notes: sendmail itself is unprivileged: it builds the record stream
 *        (lib/mail/maildrop.h) and hands it to the setgid postdrop
 *        command found in $command_directory. Other modes exec postqueue,
 *        postalias or postfix.
 */
#include "alloc.h"
#include "cleanup_proto.h"
#include "config.h"
#include "log.h"
#include "mail_log.h"
#include "mail_env.h"
#include "mail_proto.h"
#include "maildrop.h"
#include "qfile.h"
#include "sendmail.h"
#include "verp.h"
#include <pwd.h>
#include <signal.h>
#include <sysexits.h>

static int sm_exit_code = EX_TEMPFAIL;

static void sm_on_fatal(void)
{
    exit(sm_exit_code);
}

void sm_fatal(int code, const char *fmt, ...)
{
    char text[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    sm_exit_code = code;
    log_fatal("%s", text);
}

/* Replaces this process with $command_directory/prog args... */
static void sm_exec(const char *prog, char **args) NORETURN;
static void sm_exec(const char *prog, char **args)
{
    struct sbuf *path = sbuf_new(128);
    sbuf_printf(path, "%s/%s", cfg_str(P_COMMAND_DIRECTORY), prog);
    fflush(NULL);
    execv(sbuf_str(path), args);
    sm_fatal(EX_OSERR, "unable to execute %s: %m", sbuf_str(path));
}

static void sm_setup_logging(void)
{
    mail_log_init("sendmail");
}

/* Full name from -F, $NAME, or the GECOS field (up to the first comma). */
static char *sm_fullname(const struct sendmail_opts *o, const struct passwd *pw)
{
    if (o->fullname)
        return xstrdup(o->fullname);
    const char *env = getenv("NAME");
    if (env && *env)
        return xstrndup(env, 512);
    if (pw && pw->pw_gecos && *pw->pw_gecos) {
        size_t n = strcspn(pw->pw_gecos, ",");
        return n ? xstrndup(pw->pw_gecos, n < 512 ? n : 512) : NULL;
    }
    return NULL;
}

static void sm_put_fullname(struct sm_drop *d, const char *name)
{
    /* Envelope values are single-line: control characters become spaces. */
    char *copy = xstrdup(name);
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = ' ';
    sm_drop_rec(d, REC_FULLNAME, copy, strlen(copy));
    xfree(copy);
}

static void sm_put_str(struct sm_drop *d, int type, const char *s)
{
    sm_drop_rec(d, type, s, strlen(s));
}

static int sm_enqueue(const struct sendmail_opts *o, const char *postdrop, const char *sender,
                      const char *fullname)
{
    int status;
    /* Checked before postdrop runs, so a bad value leaves nothing behind. */
    const char *fix = cfg_str(P_SENDMAIL_FIX_LINE_ENDINGS);
    int crlf = sm_crlf_mode(fix);
    if (crlf < 0)
        sm_fatal(EX_USAGE, "%s = %s: expected always, strict or never", P_SENDMAIL_FIX_LINE_ENDINGS,
                 fix);
    const char *verp = NULL;
    if (o->verp) {
        verp = *o->verp ? o->verp : cfg_str(P_DEFAULT_VERP_DELIMITERS);
        const char *why = verp_delims_check(verp, cfg_str(P_VERP_DELIMITER_FILTER));
        if (why)
            sm_fatal(EX_USAGE, "-XV%s: %s (%s = %s)", o->verp, why, P_VERP_DELIMITER_FILTER,
                     cfg_str(P_VERP_DELIMITER_FILTER));
        if (*sender == 0)
            sm_fatal(EX_USAGE, "-XV: VERP needs a sender other than the null sender");
    }
    struct sm_drop *d = sm_drop_open(postdrop, o->verbose, &status);
    if (d == NULL)
        return status;
    char num[16];
    if (fullname && *fullname)
        sm_put_fullname(d, fullname);
    bool verify = o->mode == SM_MODE_VERIFY;
    if (o->extract || verify) {
        int fl = (o->extract ? CLEANUP_FLAG_EXTRACT : 0) | (verify ? MAILDROP_FLAG_USER_VERIFY : 0);
        snprintf(num, sizeof(num), "%d", fl);
        sm_put_str(d, MAILDROP_REC_FLAGS, num);
    }
    sm_put_str(d, REC_SENDER, sender);
    if (o->ret) {
        snprintf(num, sizeof(num), "%d", o->ret);
        sm_put_str(d, REC_DSN_RET, num);
    }
    if (o->envid)
        sm_put_str(d, REC_DSN_ENVID, o->envid);
    if (verp)
        sm_put_str(d, REC_VERP, verp);
    for (size_t i = 0; i < o->nrcpt; i++) {
        if (o->notify) {
            snprintf(num, sizeof(num), "%d", o->notify);
            sm_put_str(d, REC_DSN_NOTIFY, num);
        }
        sm_put_str(d, REC_RCPT, o->rcpts[i]);
    }
    sm_drop_rec(d, REC_MESG, "", 0);
    if (verify) {
        /* -bv: no message is read; the report needs none. */
        sm_drop_rec(d, REC_XTRA, "", 0);
        sm_drop_rec(d, REC_END, "", 0);
        struct sbuf *reason = sbuf_new(64);
        status = sm_drop_finish(d, reason);
        if (status != 0)
            log_debug(1, "postdrop: status %d: %s", status, sbuf_str(reason));
        else
            printf("Mail Delivery Status Report will be mailed to <%s>.\n", sender);
        sbuf_free(reason);
        return status;
    }
    struct sm_input *in = xmalloc(sizeof(*in));
    sm_input_init(in, 0, 0);
    in->crlf = (enum sm_crlf)crlf;
    int r = sendmail_copy_message(in, o->dot_ends, sm_drop_rec, d);
    xfree(in);
    if (r == -1) {
        int saved = errno;
        sm_drop_abort(d);
        errno = saved;
        sm_fatal(EX_TEMPFAIL, "%s(%ld): error reading input: %m", sender, (long)getuid());
    }
    sm_drop_rec(d, REC_XTRA, "", 0);
    sm_drop_rec(d, REC_END, "", 0);
    struct sbuf *reason = sbuf_new(64);
    status = sm_drop_finish(d, reason);
    if (status != 0)
        log_debug(1, "postdrop: status %d: %s", status, sbuf_str(reason));
    sbuf_free(reason);
    return status;
}

int main(int argc, char **argv)
{
    struct sendmail_opts o;
    struct sbuf *err = sbuf_new(128);

    signal(SIGPIPE, SIG_IGN);
    log_set_tag("sendmail");
    log_set_stderr(true);
    log_set_exit_hook(sm_on_fatal);

    int rc = sendmail_parse_args(&o, argc, argv, err);
    if (rc != 0)
        sm_fatal(rc, "%s", sbuf_str(err));
    log_verbose = o.verbose;
    if (o.config_dir)
        setenv("MAIL_CONFIG", o.config_dir, 1);
    if (config_load(NULL) < 0)
        sm_fatal(EX_TEMPFAIL, "%s/main.cf: configuration errors", config_dir());
    mail_env_update();
    sm_setup_logging();

    struct sbuf *pd = sbuf_new(128);
    sbuf_printf(pd, "%s/postdrop", cfg_str(P_COMMAND_DIRECTORY));

    switch (o.mode) {
    case SM_MODE_MAILQ: {
        char *args[] = { (char *)"postqueue", (char *)"-p", NULL };
        sm_exec("postqueue", args);
    }
    case SM_MODE_FLUSH: {
        char *args[] = { (char *)"postqueue", (char *)"-f", NULL };
        sm_exec("postqueue", args);
    }
    case SM_MODE_FLUSH_SITE:
    case SM_MODE_FLUSH_ID: {
        char *args[] = { (char *)"postqueue", (char *)(o.mode == SM_MODE_FLUSH_SITE ? "-s" : "-i"),
                         o.site, NULL };
        sm_exec("postqueue", args);
    }
    case SM_MODE_DAEMON: {
        char *args[] = { (char *)"postfix", (char *)"start", NULL };
        sm_exec("postfix", args);
    }
    case SM_MODE_NEWALIASES: {
        char **dbs = cfg_list(o.alias_file ? o.alias_file : cfg_str(P_ALIAS_DATABASE));
        size_t n = 0;
        while (dbs && dbs[n])
            n++;
        if (n == 0)
            return 0;
        char **args = xcalloc(n + 2, sizeof(char *));
        args[0] = (char *)"postalias";
        for (size_t i = 0; i < n; i++)
            args[i + 1] = dbs[i];
        sm_exec("postalias", args);
    }
    case SM_MODE_VERIFY:    /* enqueued as a delivery report request */
        break;
    case SM_MODE_NOTHING:
        return 0;
    case SM_MODE_SMTP:
        return sendmail_smtp(&o, sbuf_str(pd));
    case SM_MODE_ENQUEUE:
        break;
    }

    uid_t uid = getuid();
    struct passwd *pw = getpwuid(uid);
    char *login = pw ? xstrdup(pw->pw_name) : NULL;
    if (login == NULL) {
        login = xmalloc(32);
        snprintf(login, 32, "uid%ld", (long)uid);
    }
    const char *sender = o.sender ? o.sender : login;
    if (o.nrcpt == 0 && !o.extract)
        sm_fatal(EX_USAGE, "%s(%ld): Recipient addresses must be specified on the command line "
                 "or via the -t option", sender, (long)uid);
    char *fullname = sm_fullname(&o, pw);
    rc = sm_enqueue(&o, sbuf_str(pd), sender, fullname);
    xfree(fullname);
    xfree(login);
    sbuf_free(pd);
    sbuf_free(err);
    sendmail_opts_free(&o);
    return rc;
}
