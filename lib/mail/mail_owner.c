/*
 * mail_owner.c - do queue and status-file work as $mail_owner in a root process
 *
 * Used by: see mail_owner.h.
 * Interface: see mail_owner.h.
 * Errors: see mail_owner.h.
 * Notes: only effective ids change (the real and saved uid stay 0), so the
 *        process can always come back; the supplementary group list is
 *        replaced too, or root's groups would still open group-writable
 *        files.
 */
#include "mail_owner.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include <grp.h>
#include <pwd.h>

static bool mail_owner_armed;
static uid_t mail_owner_uid_;
static gid_t mail_owner_gid_;
static int mail_owner_depth;

/* What mail_owner_end() puts back. */
static uid_t mail_owner_saved_euid;
static gid_t mail_owner_saved_egid;
static gid_t *mail_owner_saved_groups;
static int mail_owner_saved_ngroups;

void mail_owner_init(void)
{
    if (geteuid() != 0)
        return;
    const char *owner = cfg_str(P_MAIL_OWNER);
    struct passwd *pw = getpwnam(owner);
    if (pw == NULL)
        log_fatal("mail_owner %s: no such user (fix main.cf or create the account)", owner);
    if (pw->pw_uid == 0)
        log_fatal("mail_owner %s must not be root", owner);
    mail_owner_uid_ = pw->pw_uid;
    mail_owner_gid_ = pw->pw_gid;
    mail_owner_armed = true;
}

bool mail_owner_active(void)
{
    return mail_owner_armed;
}

uid_t mail_owner_uid(void)
{
    return mail_owner_armed ? mail_owner_uid_ : geteuid();
}

/* Puts back the saved ids; false if any step failed. */
static bool mail_owner_restore(void)
{
    bool ok = true;
    if (seteuid(0) < 0)     /* we are mail_owner here: root sets the rest */
        return false;
    if (setgroups((size_t)mail_owner_saved_ngroups, mail_owner_saved_groups) < 0)
        ok = false;
    if (setegid(mail_owner_saved_egid) < 0)
        ok = false;
    if (mail_owner_saved_euid != 0 && seteuid(mail_owner_saved_euid) < 0)
        ok = false;
    xfree(mail_owner_saved_groups);
    mail_owner_saved_groups = NULL;
    mail_owner_saved_ngroups = 0;
    return ok;
}

/* Switches to mail_owner's uid with gid as egid and only group. */
static int mail_owner_switch(gid_t gid)
{
    if (!mail_owner_armed)
        return 0;
    if (mail_owner_depth > 0) {
        mail_owner_depth++;
        return 0;
    }
    mail_owner_saved_euid = geteuid();
    mail_owner_saved_egid = getegid();
    int n = getgroups(0, NULL);
    if (n < 0) {
        log_warn("getgroups: %m");
        return -1;
    }
    mail_owner_saved_groups = xcalloc((size_t)n + 1, sizeof(gid_t));
    mail_owner_saved_ngroups = getgroups(n, mail_owner_saved_groups);
    if (mail_owner_saved_ngroups < 0) {
        log_warn("getgroups: %m");
        xfree(mail_owner_saved_groups);
        mail_owner_saved_groups = NULL;
        mail_owner_saved_ngroups = 0;
        return -1;
    }
    /* From a recipient's ids, go through root: only root may set groups. */
    if ((mail_owner_saved_euid != 0 && seteuid(0) < 0) || setgroups(1, &gid) < 0
        || setegid(gid) < 0 || seteuid(mail_owner_uid_) < 0) {
        int saved = errno;
        if (!mail_owner_restore())
            log_fatal("cannot restore privileges after a failed switch to mail_owner: %m");
        errno = saved;
        log_warn("switch to mail_owner uid %ld gid %ld: %m", (long)mail_owner_uid_, (long)gid);
        errno = saved;
        return -1;
    }
    mail_owner_depth = 1;
    return 0;
}

int mail_owner_begin(void)
{
    return mail_owner_switch(mail_owner_gid_);
}

int mail_owner_begin_group(gid_t gid)
{
    return mail_owner_switch(gid);
}

void mail_owner_end(void)
{
    if (!mail_owner_armed)
        return;
    if (mail_owner_depth <= 0)
        log_panic("mail_owner_end() without mail_owner_begin()");
    if (--mail_owner_depth > 0)
        return;
    int saved = errno;
    if (!mail_owner_restore())
        log_fatal("cannot restore privileges after mail_owner work: %m");
    errno = saved;
}
