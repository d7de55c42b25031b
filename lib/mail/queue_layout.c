/*
 * queue_layout.c - create and check the queue and data directories
 *
 * Used by: master, postfix.
 * Interface: see queue_layout.h.
 * Errors: logged as warnings; the return value counts what is still wrong.
 */
#include "queue_layout.h"
#include "config.h"
#include "log.h"
#include "sbuf.h"
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

enum { OWN_ROOT, OWN_MAIL };

struct queue_dir {
    const char *name;
    int owner;
    bool setgid_group;
    mode_t mode;
};

static const struct queue_dir queue_dirs[] = {
    { "maildrop", OWN_MAIL, true, 01730 },
    { "incoming", OWN_MAIL, false, 0700 },
    { "active", OWN_MAIL, false, 0700 },
    { "deferred", OWN_MAIL, false, 0700 },
    { "hold", OWN_MAIL, false, 0700 },
    { "corrupt", OWN_MAIL, false, 0700 },
    { "saved", OWN_MAIL, false, 0700 },
    { "bounce", OWN_MAIL, false, 0700 },
    { "defer", OWN_MAIL, false, 0700 },
    { "trace", OWN_MAIL, false, 0700 },
    { "flush", OWN_MAIL, false, 0700 },
    { "private", OWN_MAIL, false, 0700 },
    { "public", OWN_MAIL, true, 0710 },
    { "pid", OWN_ROOT, false, 0755 },
};

static int queue_layout_one(const char *path, uid_t uid, gid_t gid, mode_t mode, int flags)
{
    struct stat st;
    if (stat(path, &st) < 0) {
        if (!(flags & QUEUE_LAYOUT_FIX)) {
            log_warn("%s: missing directory (postfix start or postfix check creates it)", path);
            return 1;
        }
        if (mkdir(path, mode & 0777) < 0 && errno != EEXIST) {
            log_warn("create directory %s: %m", path);
            return 1;
        }
        if (stat(path, &st) < 0)
            return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        log_warn("%s: not a directory", path);
        return 1;
    }
    int bad = 0;
    if (st.st_uid != uid || st.st_gid != gid) {
        if ((flags & QUEUE_LAYOUT_FIX) && chown(path, uid, gid) == 0)
            ;
        else {
            if (flags & QUEUE_LAYOUT_REPORT)
                log_warn("%s: owner is uid %ld gid %ld, should be uid %ld gid %ld", path,
                         (long)st.st_uid, (long)st.st_gid, (long)uid, (long)gid);
            bad = 1;
        }
    }
    if ((st.st_mode & 07777) != mode) {
        if ((flags & QUEUE_LAYOUT_FIX) && chmod(path, mode) == 0)
            ;
        else {
            if (flags & QUEUE_LAYOUT_REPORT)
                log_warn("%s: mode is %04o, should be %04o", path, (unsigned)(st.st_mode & 07777),
                         (unsigned)mode);
            bad = 1;
        }
    }
    return bad;
}

int queue_layout_apply(int flags)
{
    const char *owner = cfg_str(P_MAIL_OWNER);
    const char *group = cfg_str(P_SETGID_GROUP);
    struct passwd *pw = getpwnam(owner);
    struct group *gr = getgrnam(group);
    int problems = 0;
    if (pw == NULL) {
        log_warn("mail_owner %s: no such user", owner);
        return 1;
    }
    if (gr == NULL) {
        log_warn("setgid_group %s: no such group", group);
        return 1;
    }
    uid_t muid = pw->pw_uid;
    gid_t mgid = pw->pw_gid;
    gid_t sgid = gr->gr_gid;
    const char *qdir = cfg_str(P_QUEUE_DIRECTORY);
    struct sbuf *path = sbuf_new(128);

    problems += queue_layout_one(qdir, 0, 0, 0755, flags);
    for (size_t i = 0; i < ARRAY_LEN(queue_dirs); i++) {
        const struct queue_dir *d = &queue_dirs[i];
        sbuf_printf(path, "%s/%s", qdir, d->name);
        uid_t uid = d->owner == OWN_ROOT ? 0 : muid;
        gid_t gid = d->owner == OWN_ROOT ? 0 : (d->setgid_group ? sgid : mgid);
        problems += queue_layout_one(sbuf_str(path), uid, gid, d->mode, flags);
    }
    problems += queue_layout_one(cfg_str(P_DATA_DIRECTORY), muid, mgid, 0700, flags);
    sbuf_free(path);
    return problems;
}
