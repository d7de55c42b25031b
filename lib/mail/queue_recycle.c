/*
 * queue_recycle.c - reuse the files of delivered messages for new ones
 *
 * Used by: qmgr, cleanup.
 * Interface: see queue_recycle.h.
 * Errors: -1 (the caller falls back to unlink or create).
 * Notes: paths are relative to $queue_directory (the daemons' cwd).
 */
#include "queue_recycle.h"
#include "mail_queue.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>

/* put: qmgr's idea of how many files wait in recycle/. cleanup takes them
 * without telling, so it is counted again every QUEUE_RECYCLE_RECOUNT puts,
 * and while it says full also once a second. (Counting at every put while
 * full cost qmgr an opendir, a read of the whole pool and a closedir per
 * message once a backlog was being delivered and nothing new came in: 6% of
 * its CPU on the SMTP -> Maildir path.) */
#define QUEUE_RECYCLE_RECOUNT 32
static long queue_recycle_est = -1;
static int queue_recycle_puts;
static time_t queue_recycle_counted;

static long queue_recycle_count(void)
{
    DIR *d = opendir(MAIL_QUEUE_RECYCLE);
    long n = 0;
    if (d == NULL)
        return -1;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

int queue_recycle_put(const char *queue, const char *id, long size, long limit)
{
    if (limit <= 0 || size > QUEUE_RECYCLE_MAX_SIZE)
        return -1;
    time_t now = time(NULL);
    if (queue_recycle_est < 0 || ++queue_recycle_puts % QUEUE_RECYCLE_RECOUNT == 0
        || (queue_recycle_est >= limit && now != queue_recycle_counted)) {
        queue_recycle_est = queue_recycle_count();
        queue_recycle_counted = now;
    }
    if (queue_recycle_est < 0 || queue_recycle_est >= limit)
        return -1;
    struct sbuf *from = sbuf_new(64), *to = sbuf_new(64);
    mail_queue_path(from, queue, id);
    sbuf_printf(to, "%s/%s", MAIL_QUEUE_RECYCLE, id);
    int r = renameat2(AT_FDCWD, sbuf_str(from), AT_FDCWD, sbuf_str(to), RENAME_NOREPLACE);
    sbuf_free(from);
    sbuf_free(to);
    if (r < 0)
        return -1;
    queue_recycle_est++;
    return 0;
}

/* take: the directory stays open; each take reads it from the start. */
static DIR *queue_recycle_dir;

/* Claims fd, opened as path (recycle/NAME): -1 (fd closed) unless it is
 * ours to reuse.
 * The lock alone is not a claim: another cleanup may have opened the same
 * file, locked it, taken it to incoming/, written and committed a message
 * and closed it (lock released) between our open and our flock. So after
 * the lock, the name must still be this file: nobody renames a pool name
 * without holding the lock, and qmgr never gives a name that exists. Only
 * then is the file made incomplete. */
int queue_recycle_claim_fd(int fd, const char *path, off_t *size)
{
    struct stat st, named;
    if (flock(fd, LOCK_EX | LOCK_NB) < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)
        || st.st_nlink != 1 || st.st_uid != geteuid()
        || lstat(path, &named) < 0 || named.st_ino != st.st_ino || named.st_dev != st.st_dev
        || fchmod(fd, MAIL_QUEUE_MODE_BUILDING) < 0) {
        close(fd);
        return -1;
    }
    *size = st.st_size;
    return fd;
}

static int queue_recycle_claim(const char *path, off_t *size)
{
    int fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    return fd < 0 ? -1 : queue_recycle_claim_fd(fd, path, size);
}

int queue_recycle_take(const char *queue, struct sbuf *id_out, off_t *old_size)
{
    if (queue_recycle_dir == NULL && (queue_recycle_dir = opendir(MAIL_QUEUE_RECYCLE)) == NULL)
        return -1;
    rewinddir(queue_recycle_dir);
    struct dirent *e;
    while ((e = readdir(queue_recycle_dir)) != NULL) {
        if (e->d_name[0] == '.' || !mail_queue_id_ok(e->d_name))
            continue;
        char from[sizeof(MAIL_QUEUE_RECYCLE) + 258];    /* + NAME_MAX, "/", NUL */
        snprintf(from, sizeof(from), "%s/%s", MAIL_QUEUE_RECYCLE, e->d_name);
        int fd = queue_recycle_claim(from, old_size);
        if (fd < 0)
            continue;
        struct sbuf *to = sbuf_new(64);
        int r = -1;
        for (int tries = 0; r < 0 && tries < 8; tries++) {
            mail_queue_id_new(id_out);
            mail_queue_path(to, queue, sbuf_str(id_out));
            r = renameat2(AT_FDCWD, from, AT_FDCWD, sbuf_str(to), RENAME_NOREPLACE);
            if (r < 0 && errno == ENOENT && mail_queue_hashed(queue)
                && mail_queue_mkdirs(sbuf_str(to)) == 0)
                r = renameat2(AT_FDCWD, from, AT_FDCWD, sbuf_str(to), RENAME_NOREPLACE);
            if (r < 0 && errno != EEXIST)
                break;
        }
        sbuf_free(to);
        if (r == 0)
            return fd;
        close(fd);
    }
    return -1;
}
