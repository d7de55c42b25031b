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
#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

enum { OWN_ROOT, OWN_MAIL };

struct queue_dir {
    const char *name;
    int owner;
    bool setgid_group;
    mode_t mode;
    bool deep;          /* QUEUE_LAYOUT_DEEP gives its contents to mail_owner */
};

static const struct queue_dir queue_dirs[] = {
    { "maildrop", OWN_MAIL, true, 01730, false },
    { "incoming", OWN_MAIL, false, 0700, true },
    { "active", OWN_MAIL, false, 0700, true },
    { "deferred", OWN_MAIL, false, 0700, true },
    { "hold", OWN_MAIL, false, 0700, true },
    { "corrupt", OWN_MAIL, false, 0700, true },
    { "saved", OWN_MAIL, false, 0700, true },
    { "recycle", OWN_MAIL, false, 0700, true },
    { "bounce", OWN_MAIL, false, 0700, true },
    { "defer", OWN_MAIL, false, 0700, true },
    { "trace", OWN_MAIL, false, 0700, true },
    { "flush", OWN_MAIL, false, 0700, true },
    { "private", OWN_MAIL, false, 0700, false },
    { "public", OWN_MAIL, true, 0710, false },
    { "pid", OWN_ROOT, false, 0755, false },
};

/*
 * Checks (and with QUEUE_LAYOUT_FIX repairs) one directory. It is opened
 * with O_DIRECTORY|O_NOFOLLOW and repaired through the descriptor
 * (fchown, fchmod), so a name swapped in between can never make root
 * change another file. Returns the descriptor through *dfd_out when
 * asked (else closes it); 1 if something is still wrong.
 */
static int queue_layout_one(const char *path, uid_t uid, gid_t gid, mode_t mode, int flags,
                            int *dfd_out)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) {
        if (!(flags & QUEUE_LAYOUT_FIX)) {
            log_warn("%s: missing directory (postfix start or postfix check creates it)", path);
            return 1;
        }
        if (mkdir(path, mode & 0777) < 0 && errno != EEXIST) {
            log_warn("create directory %s: %m", path);
            return 1;
        }
        fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    if (fd < 0 || fstat(fd, &st) < 0) {
        log_warn("%s: %s", path, errno == ENOTDIR || errno == ELOOP ? "not a directory" : strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    int bad = 0;
    if (st.st_uid != uid || st.st_gid != gid) {
        if ((flags & QUEUE_LAYOUT_FIX) && fchown(fd, uid, gid) == 0)
            ;
        else {
            if (flags & QUEUE_LAYOUT_REPORT)
                log_warn("%s: owner is uid %ld gid %ld, should be uid %ld gid %ld", path,
                         (long)st.st_uid, (long)st.st_gid, (long)uid, (long)gid);
            bad = 1;
        }
    }
    if ((st.st_mode & 07777) != mode) {
        if ((flags & QUEUE_LAYOUT_FIX) && fchmod(fd, mode) == 0)
            ;
        else {
            if (flags & QUEUE_LAYOUT_REPORT)
                log_warn("%s: mode is %04o, should be %04o", path, (unsigned)(st.st_mode & 07777),
                         (unsigned)mode);
            bad = 1;
        }
    }
    if (dfd_out)
        *dfd_out = fd;
    else
        close(fd);
    return bad;
}

/*
 * Gives every file and hash subdirectory below dfd to uid:gid (what
 * Postfix's set-permissions does for the queues). Each entry is opened
 * from its parent's descriptor without following links and changed with
 * fchown: symlinks, FIFOs, devices and files with more than one link
 * (a hard link to a file elsewhere) are reported and left alone. Closes
 * dfd. Returns the number of entries left wrong.
 */
static int queue_layout_deep(int dfd, const char *path, uid_t uid, gid_t gid, int depth)
{
    DIR *d = fdopendir(dfd);
    if (d == NULL) {
        close(dfd);
        return 1;
    }
    int bad = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        int fd = openat(dfd, de->d_name,
                        O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        if (fd < 0 || fstat(fd, &st) < 0 || !(S_ISDIR(st.st_mode)
                                               || (S_ISREG(st.st_mode) && st.st_nlink == 1))) {
            log_warn("%s/%s: not a plain file or directory; left alone", path, de->d_name);
            if (fd >= 0)
                close(fd);
            bad++;
            continue;
        }
        if ((st.st_uid != uid || st.st_gid != gid) && fchown(fd, uid, gid) < 0) {
            log_warn("%s/%s: chown: %m", path, de->d_name);
            bad++;
        }
        if (S_ISDIR(st.st_mode) && depth > 0) {
            struct sbuf *sub = sbuf_new(128);
            sbuf_printf(sub, "%s/%s", path, de->d_name);
            bad += queue_layout_deep(fd, sbuf_str(sub), uid, gid, depth - 1);
            sbuf_free(sub);
        } else
            close(fd);
    }
    closedir(d);
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

    problems += queue_layout_one(qdir, 0, 0, 0755, flags, NULL);
    for (size_t i = 0; i < ARRAY_LEN(queue_dirs); i++) {
        const struct queue_dir *d = &queue_dirs[i];
        sbuf_printf(path, "%s/%s", qdir, d->name);
        uid_t uid = d->owner == OWN_ROOT ? 0 : muid;
        gid_t gid = d->owner == OWN_ROOT ? 0 : (d->setgid_group ? sgid : mgid);
        int dfd = -1;
        bool deep = (flags & QUEUE_LAYOUT_FIX) && (flags & QUEUE_LAYOUT_DEEP) && d->deep;
        problems += queue_layout_one(sbuf_str(path), uid, gid, d->mode, flags, deep ? &dfd : NULL);
        if (dfd >= 0)
            problems += queue_layout_deep(dfd, sbuf_str(path), uid, gid, 4);
    }
    problems += queue_layout_one(cfg_str(P_DATA_DIRECTORY), muid, mgid, 0700, flags, NULL);
    sbuf_free(path);
    return problems;
}
