/*
 * maildir.c - Maildir delivery
 *
 * Used by: local, virtual.
 * Interface: see maildir.h.
 * Errors: see maildir.h.
 * Notes: link() rather than rename() into new/ so that a name collision
 *        can never replace an existing message.
 */
#include "maildir.h"
#include "dir_sync.h"
#include "alloc.h"
#include "log.h"
#include <fcntl.h>
#include <sys/time.h>

static unsigned long maildir_count;

/* mkdir -p with mode 0700 for the components that are missing. */
static int maildir_mkdirs(const char *path, struct sbuf *why)
{
    struct stat st;
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode))
            return 0;
        sbuf_printf(why, "create maildir %s: %s", path, strerror(ENOTDIR));
        errno = ENOTDIR;
        return -1;
    }
    char *copy = xstrdup(path);
    for (char *p = copy + 1; ; p++) {
        if (*p == '/' || *p == 0) {
            char save = *p;
            *p = 0;
            if (mkdir(copy, 0700) < 0 && errno != EEXIST) {
                int err = errno;
                sbuf_printf(why, "create maildir %s: %s", copy, strerror(err));
                xfree(copy);
                errno = err;
                return -1;
            }
            *p = save;
            if (save == 0)
                break;
        }
    }
    xfree(copy);
    return 0;
}

int maildir_make(const char *dir, struct sbuf *why)
{
    static const char *const subs[] = { "tmp", "new", "cur" };
    struct sbuf *p = sbuf_new(strlen(dir) + 8);
    int r = maildir_mkdirs(dir, why);
    for (size_t i = 0; r == 0 && i < ARRAY_LEN(subs); i++) {
        sbuf_printf(p, "%s/%s", dir, subs[i]);
        r = maildir_mkdirs(sbuf_str(p), why);
    }
    sbuf_free(p);
    return r;
}

void maildir_unique_name(struct sbuf *out, long sec, long usec, unsigned long dev,
                         unsigned long ino, long pid, unsigned long count, const char *host)
{
    sbuf_printf(out, "%ld.", sec);
    if (dev || ino)
        sbuf_catf(out, "V%lxI%lx", dev, ino);
    sbuf_catf(out, "M%ldP%ldQ%lu.", usec, pid, count);
    for (const char *h = host; *h; h++) {
        if (*h == '/')
            sbuf_cat(out, "\\057");
        else if (*h == ':')
            sbuf_cat(out, "\\072");
        else
            sbuf_addch(out, *h);
    }
}

/* Strips trailing slashes (but keeps "/"). */
static char *maildir_base(const char *dir)
{
    char *d = xstrdup(dir);
    size_t n = strlen(d);
    while (n > 1 && d[n - 1] == '/')
        d[--n] = 0;
    return d;
}

/* Opens path (a file in DIR/tmp) with flags, creating the Maildir's
 * directories only when the open says they are missing: the common case,
 * a Maildir that exists, costs no stat() of dir, tmp, new and cur. */
static int maildir_open_tmp(const char *base, const char *path, int flags, struct sbuf *why)
{
    int fd = open(path, flags, 0600);
    if (fd < 0 && errno == ENOENT) {
        if (maildir_make(base, why) < 0)
            return -2;
        fd = open(path, flags, 0600);
    }
    return fd;
}

/* Gives tmp its name fin in new/ without ever replacing a file there:
 * renameat2() with RENAME_NOREPLACE (one call instead of link and unlink,
 * and one change to the file's inode instead of two), or link() where the
 * file system has no such rename (the caller then removes tmp). Creates
 * the Maildir's directories when new/ is missing (somebody removed it
 * after tmp/ was made). 1: moved, 0: linked, -1: failed (errno; EEXIST
 * when fin exists), -2: the directories could not be made (why set). */
static int maildir_link(const char *base, const char *tmp, const char *fin, struct sbuf *why)
{
    for (int attempt = 0;; attempt++) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, fin, RENAME_NOREPLACE) == 0)
            return 1;
        if ((errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP) && link(tmp, fin) == 0)
            return 0;
        if (errno != ENOENT || attempt > 0)
            return -1;
        if (maildir_make(base, why) < 0)
            return -2;
    }
}

int maildir_deliver(const char *dir, const char *host, maildir_write_fn fn, void *ctx,
                    struct sbuf *path_out, struct sbuf *why)
{
    char *base = maildir_base(dir);
    struct sbuf *name = sbuf_new(128), *tmp = sbuf_new(256), *fin = sbuf_new(256);
    struct timeval tv;
    struct stat st;
    int fd = -1, err = 0, result = -1;

    gettimeofday(&tv, NULL);
    unsigned long count = ++maildir_count;
    maildir_unique_name(name, (long)tv.tv_sec, (long)tv.tv_usec, 0, 0, log_pid(), count, host);
    sbuf_printf(tmp, "%s/tmp/%s", base, sbuf_str(name));
    fd = maildir_open_tmp(base, sbuf_str(tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                          why);
    if (fd < 0) {
        err = errno;
        if (fd == -1)
            sbuf_printf(why, "create maildir file %s: %s", sbuf_str(tmp), strerror(err));
        fd = -1;
        goto out;
    }
    if (fn(fd, ctx) < 0 || fsync(fd) < 0 || fstat(fd, &st) < 0) {
        err = errno;
        sbuf_printf(why, "write maildir file %s: %s", sbuf_str(tmp), strerror(err));
        goto undo;
    }
    if (close(fd) < 0) {
        fd = -1;
        err = errno;
        sbuf_printf(why, "close maildir file %s: %s", sbuf_str(tmp), strerror(err));
        goto undo;
    }
    fd = -1;
    maildir_unique_name(name, (long)tv.tv_sec, (long)tv.tv_usec, (unsigned long)st.st_dev,
                        (unsigned long)st.st_ino, log_pid(), count, host);
    sbuf_printf(fin, "%s/new/%s", base, sbuf_str(name));
    int lr = maildir_link(base, sbuf_str(tmp), sbuf_str(fin), why);
    if (lr == -2) {
        err = errno;
        goto undo;
    }
    if (lr < 0) {
        /* some file systems have no hard links: rename, still O_EXCL-like
         * because the name embeds the inode of a file that exists now */
        if (errno == EEXIST || rename(sbuf_str(tmp), sbuf_str(fin)) < 0) {
            err = errno;
            sbuf_printf(why, "create maildir file %s: %s", sbuf_str(fin), strerror(err));
            goto undo;
        }
    } else if (lr == 0)
        unlink(sbuf_str(tmp));
    sbuf_printf(name, "%s/new", base);
    if (dir_sync(sbuf_str(name)) < 0 && errno != ENOENT) {
        err = errno;
        sbuf_printf(why, "fsync maildir %s: %s", sbuf_str(name), strerror(err));
        unlink(sbuf_str(fin));
        goto out;
    }
    if (path_out)
        sbuf_set(path_out, sbuf_str(fin));
    result = 0;
    goto out;

undo:
    if (fd >= 0)
        close(fd);
    unlink(sbuf_str(tmp));
out:
    xfree(base);
    sbuf_free(name);
    sbuf_free(tmp);
    sbuf_free(fin);
    if (result < 0)
        errno = err;
    return result;
}

int maildir_deliver_once(const char *dir, const char *host, const char *tag, long arrival,
                         maildir_write_fn fn, void *ctx, struct sbuf *path_out,
                         struct sbuf *why)
{
    char *base = maildir_base(dir);
    struct sbuf *tmp = sbuf_new(256), *fin = sbuf_new(256), *ndir = sbuf_new(256);
    int fd = -1, err = 0, result = -1;

    sbuf_printf(fin, "%s/new/%ld.%s.%s", base, arrival, tag, host);
    sbuf_printf(ndir, "%s/new", base);
    /* No lstat() of fin first: a retry after a crash that had delivered
     * (rare) writes the copy again and finds fin there (EEXIST below). */
    sbuf_printf(tmp, "%s/tmp/%ld.%s.%ld.%s", base, arrival, tag, log_pid(), host);
    fd = maildir_open_tmp(base, sbuf_str(tmp), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
                          why);
    if (fd < 0) {
        err = errno;
        if (fd == -1)
            sbuf_printf(why, "create maildir file %s: %s", sbuf_str(tmp), strerror(err));
        fd = -1;
        goto out;
    }
    if (fn(fd, ctx) < 0 || fsync(fd) < 0) {
        err = errno;
        sbuf_printf(why, "write maildir file %s: %s", sbuf_str(tmp), strerror(err));
        close(fd);
        unlink(sbuf_str(tmp));
        goto out;
    }
    close(fd);
    int lr = maildir_link(base, sbuf_str(tmp), sbuf_str(fin), why);
    if (lr < 0 && (lr == -2 || errno != EEXIST)) {
        err = errno;
        if (lr == -1)
            sbuf_printf(why, "create maildir file %s: %s", sbuf_str(fin), strerror(err));
        unlink(sbuf_str(tmp));
        goto out;
    }
    if (lr != 1)
        unlink(sbuf_str(tmp));      /* linked, or already delivered (EEXIST) */
    if (dir_sync(sbuf_str(ndir)) < 0 && errno != ENOENT) {
        err = errno;
        sbuf_printf(why, "fsync maildir %s: %s", sbuf_str(ndir), strerror(err));
        goto out;
    }
    if (path_out)
        sbuf_set(path_out, sbuf_str(fin));
    result = 0;
out:
    xfree(base);
    sbuf_free(tmp);
    sbuf_free(fin);
    sbuf_free(ndir);
    if (result < 0)
        errno = err;
    return result;
}
