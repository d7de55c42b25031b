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

/* Checks PARAM's directory for USER (a login name); logs a problem with the
 * blocking directory and the fix. Returns 1 when it is blocked, else 0. */
static int postfix_reach_one(const char *param, const char *user, bool fatal)
{
    const char *dir = cfg_str(param);
    const struct passwd *pw = getpwnam(user);
    if (dir[0] != '/' || pw == NULL)
        return 0;
    struct sbuf *blocked = sbuf_new(128);
    int rc = path_reach(blocked, dir, user, pw->pw_uid, pw->pw_gid);
    if (rc == 0)
        log_warn("%s = %s is not reachable by user %s: directory %s denies it search "
                 "permission; %s. Fix: chmod o+x %s (or a+x on each such parent), or move %s "
                 "to a directory %s can reach (e.g. under /var/spool or /var/lib)",
                 param, dir, user, sbuf_str(blocked),
                 fatal ? "no mail can be received or delivered until this is fixed"
                       : "deliveries that need it will fail",
                 sbuf_str(blocked), param, user);
    sbuf_free(blocked);
    return rc == 0;
}

int postfix_check_reach(void)
{
    if (geteuid() != 0)
        return 0;
    int fatal = postfix_reach_one(P_QUEUE_DIRECTORY, cfg_str(P_MAIL_OWNER), true);
    postfix_reach_one(P_DATA_DIRECTORY, cfg_str(P_MAIL_OWNER), false);
    /* Deliveries to the spool run as the recipient: any user must get there. */
    postfix_reach_one(P_MAIL_SPOOL_DIRECTORY, cfg_str(P_DEFAULT_PRIVS), false);
    return fatal;
}
