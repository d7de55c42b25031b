/*
 * postfix_reach.c - postfix check: can the mail system's users reach its directories?
 *
 * Used by: postfix check, postfix start.
 * Interface: postfix_check_reach() (postfix.h).
 * Notes: a queue under a mode-0700 home directory is the usual case: master
 *        (root) starts, but every daemon running as mail_owner fails to
 *        connect to private/ sockets and mail is refused with 4xx. Saying so
 *        before start, with the directory to fix, saves the administrator
 *        the hunt. Only meaningful as root (the check switches ids).
 */
#include "postfix.h"
#include "config.h"
#include "log.h"
#include "path_reach.h"
#include "sbuf.h"
#include <pwd.h>
#include <unistd.h>

/* Returns 1 when PARAM's directory is blocked for USER, else 0. */
static int postfix_reach_one(const char *param, const struct passwd *pw, bool fatal)
{
    const char *dir = cfg_str(param);
    if (dir[0] != '/')
        return 0;
    struct sbuf *blocked = sbuf_new(128);
    int rc = path_reach(blocked, dir, pw->pw_name, pw->pw_uid, pw->pw_gid);
    int bad = 0;
    if (rc == 0) {
        const char *fix = fatal ? "no mail can be received or delivered until this is fixed"
                                : "deliveries that need it will fail";
        if (fatal)
            log_warn("%s = %s is not reachable by user %s: directory %s denies it "
                     "search permission; %s. Fix: chmod o+x %s (or a+x on each such parent), "
                     "or move %s to a directory %s can reach (e.g. under /var/spool or /var/lib)",
                     param, dir, pw->pw_name, sbuf_str(blocked), fix, sbuf_str(blocked), param,
                     pw->pw_name);
        else
            log_warn("%s = %s is not reachable by user %s: directory %s denies it search "
                     "permission; %s. Fix: chmod o+x %s, or move %s elsewhere",
                     param, dir, pw->pw_name, sbuf_str(blocked), fix, sbuf_str(blocked), param);
        bad = 1;
    }
    sbuf_free(blocked);
    return bad && fatal ? 1 : 0;
}

int postfix_check_reach(void)
{
    if (geteuid() != 0)
        return 0;
    int fatal = 0;
    const struct passwd *pw = getpwnam(cfg_str(P_MAIL_OWNER));
    if (pw) {
        struct passwd owner = *pw;
        fatal += postfix_reach_one(P_QUEUE_DIRECTORY, &owner, true);
        postfix_reach_one(P_DATA_DIRECTORY, &owner, false);
    }
    /* Deliveries to the spool run as the recipient: any user must get there. */
    const char *privs = cfg_str(P_DEFAULT_PRIVS);
    if ((pw = getpwnam(privs)) != NULL) {
        struct passwd nobody = *pw;
        postfix_reach_one(P_MAIL_SPOOL_DIRECTORY, &nobody, false);
    }
    return fatal;
}
