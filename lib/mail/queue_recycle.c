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
#include <fcntl.h>
#include <sys/file.h>

/* put: qmgr's idea of how many files wait in recycle/. cleanup takes them
 * without telling, so it is counted again every QUEUE_RECYCLE_RECOUNT puts,
 * and whenever the estimate says full, except that a count which itself
 * found the pool full holds for the rest of that second. (Counting at every
 * put while full cost qmgr an opendir, a read of the whole pool and a
 * closedir per message once a backlog was being delivered and nothing new
 * came in: 6% of its CPU on the SMTP -> Maildir path. An estimate that is
 * full only by qmgr's own puts is counted at once: cleanup may well have
 * taken them all.) */
#define QUEUE_RECYCLE_RECOUNT 32
static long queue_recycle_est = -1;
static int queue_recycle_puts;
static time_t queue_recycle_full_at = -1;   /* when a count last found it full */

static int queue_recycle_count_one(const char *id, const char *path, void *ctx)
{
    (void)id;
    (void)path;
    ++*(long *)ctx;
    return 0;
}

static long queue_recycle_count(void)
{
    long n = 0;
    return mail_queue_dir_scan(MAIL_QUEUE_RECYCLE, queue_recycle_count_one, &n) < 0 ? -1 : n;
}

int queue_recycle_put(const char *queue, const char *id, long size, long limit)
{
    if (limit <= 0 || size > QUEUE_RECYCLE_MAX_SIZE)
        return -1;
    time_t now = time(NULL);
    if (queue_recycle_est < 0 || ++queue_recycle_puts % QUEUE_RECYCLE_RECOUNT == 0
        || (queue_recycle_est >= limit && now != queue_recycle_full_at)) {
        queue_recycle_est = queue_recycle_count();
        queue_recycle_full_at = queue_recycle_est >= limit ? now : -1;
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

struct queue_recycle_take_ctx {
    const char *queue;
    struct sbuf *id_out;
    off_t *old_size;
    int fd;
};

/* One pool file (a mail_queue_dir_scan() callback): claimed and renamed
 * to queue/NEWID, which ends the scan; or left alone. */
static int queue_recycle_take_one(const char *name, const char *from, void *vctx)
{
    struct queue_recycle_take_ctx *c = vctx;
    (void)name;
    int fd = queue_recycle_claim(from, c->old_size);
    if (fd < 0)
        return 0;
    struct sbuf *to = sbuf_new(64);
    int r = -1;
    for (int tries = 0; r < 0 && tries < 8; tries++) {
        mail_queue_id_new(c->id_out);
        mail_queue_path(to, c->queue, sbuf_str(c->id_out));
        r = renameat2(AT_FDCWD, from, AT_FDCWD, sbuf_str(to), RENAME_NOREPLACE);
        if (r < 0 && errno == ENOENT && mail_queue_hashed(c->queue)
            && mail_queue_mkdirs(sbuf_str(to)) == 0)
            r = renameat2(AT_FDCWD, from, AT_FDCWD, sbuf_str(to), RENAME_NOREPLACE);
        if (r < 0 && errno != EEXIST)
            break;
    }
    sbuf_free(to);
    if (r < 0) {
        close(fd);
        return 0;
    }
    c->fd = fd;
    return 1;
}

/* The pool is read from the start for each take, through the scan's kept
 * directory (lib/mail/mail_queue.c). */
int queue_recycle_take(const char *queue, struct sbuf *id_out, off_t *old_size)
{
    struct queue_recycle_take_ctx c = { queue, id_out, old_size, -1 };
    mail_queue_dir_scan(MAIL_QUEUE_RECYCLE, queue_recycle_take_one, &c);
    return c.fd;
}
