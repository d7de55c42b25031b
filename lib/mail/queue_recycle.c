/*
 * queue_recycle.c - reuse the files of delivered messages for new ones
 *
 * Used by: qmgr, cleanup.
 * Interface: see queue_recycle.h.
 * Errors: -1 (the caller falls back to unlink or create).
 * Notes: paths are relative to $queue_directory (the daemons' cwd).
 */
#include "queue_recycle.h"
#include "alloc.h"
#include "mail_queue.h"
#include "sodium_dl.h"
#include <fcntl.h>
#include <sys/file.h>

/* Pool names are slots: "0" .. limit-1 (decimal). qmgr gives a file the
 * name of a slot it believes free; cleanup finds one by trying a few slot
 * names from a random place, and reads the directory only when that fails
 * (a nearly empty pool, or files named otherwise: slots beyond a lowered
 * limit, or IDs from before slots). A directory read for every take cost
 * cleanup about 25 us with ~50 files there (ext4 returns entries in hash
 * order and builds a sorted tree of the whole block each time a read
 * starts from the top), and twenty cleanups reading in the same order
 * went for the same files: on the relay path 5 opens and 5 flocks per
 * take, most of them lost races. */
#define QUEUE_RECYCLE_PROBES 4

/* put: qmgr's idea of which slots hold a file (1) and which are free (0).
 * It fills slots it thinks free, and cleanup takes them without telling,
 * so the map is made again from the directory every QUEUE_RECYCLE_RECOUNT
 * puts, and when it shows no free slot (cleanup may well have taken them
 * all); but a count that itself found the pool full holds for the rest of
 * that second. (Counting at every put while
 * full cost qmgr an opendir, a read of the whole pool and a closedir per
 * message once a backlog was being delivered and nothing new came in: 6%
 * of its CPU on the SMTP -> Maildir path.) */
#define QUEUE_RECYCLE_RECOUNT 32
static unsigned char *queue_recycle_used;   /* limit entries; NULL: not counted yet */
static long queue_recycle_size;             /* the limit the map was made for */
static long queue_recycle_free;             /* how many more files the pool takes */
static long queue_recycle_next;             /* where the search for a free slot starts */
static int queue_recycle_puts;
static time_t queue_recycle_full_at = -1;   /* when a count last found it full */

/* The slot a pool name stands for, or -1 for any other name. */
static long queue_recycle_slot_of(const char *name, long limit)
{
    char *end;
    if (*name < '0' || *name > '9' || (name[0] == '0' && name[1] != 0))
        return -1;
    errno = 0;
    long n = strtol(name, &end, 10);
    return *end == 0 && errno == 0 && n < limit ? n : -1;
}

/* Every file there counts against the limit; those with a slot's name
 * also mark it. */
static int queue_recycle_mark(const char *name, const char *path, void *ctx)
{
    (void)path;
    (void)ctx;
    long slot = queue_recycle_slot_of(name, queue_recycle_size);
    if (slot >= 0)
        queue_recycle_used[slot] = 1;
    queue_recycle_free--;
    return 0;
}

/* Makes the map from the directory: 0, or -1 when it cannot be read. */
static int queue_recycle_count(long limit)
{
    if (queue_recycle_size != limit) {
        free(queue_recycle_used);
        queue_recycle_used = xmalloc((size_t)limit);
        queue_recycle_size = limit;
        queue_recycle_next = 0;
    }
    memset(queue_recycle_used, 0, (size_t)limit);
    queue_recycle_free = limit;
    if (mail_queue_dir_scan(MAIL_QUEUE_RECYCLE, queue_recycle_mark, NULL) < 0) {
        queue_recycle_free = 0;
        return -1;
    }
    return 0;
}

/* Renames from to the slot: 0, or -1 with errno (EEXIST: taken). */
static int queue_recycle_fill(const char *from, struct sbuf *to, long slot)
{
    sbuf_reset(to);
    sbuf_printf(to, "%s/%ld", MAIL_QUEUE_RECYCLE, slot);
    return renameat2(AT_FDCWD, from, AT_FDCWD, sbuf_str(to), RENAME_NOREPLACE);
}

/* A slot the map calls free: 0 when filled, 1 when there is none, -1 when
 * a rename failed. (A name already there, which an earlier count missed,
 * marks its slot and the search goes on.) */
static int queue_recycle_fill_free(const char *from, struct sbuf *to, long limit)
{
    for (long i = 0; queue_recycle_free > 0 && i < limit; i++) {
        long slot = queue_recycle_next;
        queue_recycle_next = slot + 1 < limit ? slot + 1 : 0;
        if (queue_recycle_used[slot])
            continue;
        int r = queue_recycle_fill(from, to, slot);
        if (r < 0 && errno != EEXIST)
            return -1;
        queue_recycle_used[slot] = 1;
        queue_recycle_free--;
        if (r == 0)
            return 0;
    }
    return 1;
}

int queue_recycle_put(const char *queue, const char *id, long size, long limit)
{
    if (limit <= 0 || size > QUEUE_RECYCLE_MAX_SIZE)
        return -1;
    time_t now = time(NULL);
    if (queue_recycle_size != limit || ++queue_recycle_puts % QUEUE_RECYCLE_RECOUNT == 0) {
        if (queue_recycle_count(limit) < 0)
            return -1;
        queue_recycle_full_at = queue_recycle_free <= 0 ? now : -1;
    }
    if (queue_recycle_free <= 0 && now == queue_recycle_full_at)
        return -1;
    struct sbuf *from = sbuf_new(64), *to = sbuf_new(64);
    mail_queue_path(from, queue, id);
    int r = queue_recycle_fill_free(sbuf_str(from), to, limit);
    if (r > 0 && queue_recycle_count(limit) == 0) {
        queue_recycle_full_at = queue_recycle_free <= 0 ? now : -1;
        r = queue_recycle_fill_free(sbuf_str(from), to, limit);
    }
    sbuf_free(from);
    sbuf_free(to);
    return r == 0 ? 0 : -1;
}

/* Claims fd, opened as path (recycle/NAME): -1 (fd closed) unless it is
 * ours to reuse.
 * The lock alone is not a claim: another cleanup may have opened the same
 * file, locked it, taken it to incoming/, written and committed a message
 * and closed it (lock released) between our open and our flock. So after
 * the lock, the name must still be this file: nobody renames a pool name
 * without holding the lock, and qmgr never gives a name that exists. (qmgr
 * gives a slot's name again once it is free: if it names this very file
 * again, the file is back in the pool and ours to take.) Only then is the
 * file made incomplete. */
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

/* One pool file, recycle/NAME: claimed and renamed to queue/NEWID (c->fd
 * set), or left alone. */
static void queue_recycle_take_one(struct queue_recycle_take_ctx *c, const char *from)
{
    int fd = queue_recycle_claim(from, c->old_size);
    if (fd < 0)
        return;
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
        return;
    }
    c->fd = fd;
}

/* The directory's pool files, up to QUEUE_RECYCLE_LISTED of them. */
#define QUEUE_RECYCLE_LISTED 64
struct queue_recycle_list {
    char *paths[QUEUE_RECYCLE_LISTED];
    int n;
};

static int queue_recycle_list_one(const char *name, const char *path, void *ctx)
{
    struct queue_recycle_list *l = ctx;
    (void)name;
    l->paths[l->n++] = xstrdup(path);
    return l->n >= QUEUE_RECYCLE_LISTED;
}

/* A random place in 0 .. n-1 to start looking from: cleanups take at the
 * same time, and starting where the others do they would go for the same
 * files. */
static long queue_recycle_start(long n)
{
    sodium_dl_need();
    return (long)randombytes_uniform((uint32_t)n);
}

/* Is a directory modification time old enough that any later change gets
 * another? File systems stamp changes with a clock that may advance only
 * once per timer tick (a few ms); one 50 ms old is settled. */
static bool queue_recycle_settled(const struct timespec *mtime)
{
    struct timespec now;
    if (clock_gettime(CLOCK_REALTIME, &now) < 0)
        return false;
    double age = (double)(now.tv_sec - mtime->tv_sec) + (double)(now.tv_nsec - mtime->tv_nsec) / 1e9;
    return age >= 0.05;
}

/* A few slots first, from a random place; then the directory's listing,
 * also from a random place, which finds any pool file. A listing that
 * found none sends the next take straight to the directory, and only when
 * its modification time has changed since (a file put or taken): where the
 * pool stays empty (mail kept on hold, or never delivered), that one stat
 * replaces the slot tries and the read (open, stat, two reads, close per
 * message on the ingest path). Only a settled time is trusted, so that a
 * file put within the timestamp tick of the listing is not overlooked. */
int queue_recycle_take(const char *queue, struct sbuf *id_out, off_t *old_size, long limit)
{
    static bool was_empty;
    static struct timespec empty_mtime;     /* the directory's, when found empty */
    struct queue_recycle_take_ctx c = { queue, id_out, old_size, -1 };
    struct stat dir;
    if (was_empty) {
        if (stat(MAIL_QUEUE_RECYCLE, &dir) == 0 && dir.st_mtim.tv_sec == empty_mtime.tv_sec
            && dir.st_mtim.tv_nsec == empty_mtime.tv_nsec)
            return -1;
    } else if (limit > 0) {
        long slot = queue_recycle_start(limit);
        struct sbuf *path = sbuf_new(32);
        for (int i = 0; i < QUEUE_RECYCLE_PROBES && i < limit && c.fd < 0; i++) {
            sbuf_reset(path);
            sbuf_printf(path, "%s/%ld", MAIL_QUEUE_RECYCLE, slot);
            queue_recycle_take_one(&c, sbuf_str(path));
            slot = slot + 1 < limit ? slot + 1 : 0;
        }
        sbuf_free(path);
        if (c.fd >= 0)
            return c.fd;
    }
    struct queue_recycle_list l = { .n = 0 };
    bool dated = stat(MAIL_QUEUE_RECYCLE, &dir) == 0;    /* before the listing */
    mail_queue_dir_scan(MAIL_QUEUE_RECYCLE, queue_recycle_list_one, &l);
    int start = l.n > 0 ? (int)queue_recycle_start(l.n) : 0;
    for (int i = 0; i < l.n && c.fd < 0; i++)
        queue_recycle_take_one(&c, l.paths[(start + i) % l.n]);
    for (int i = 0; i < l.n; i++)
        free(l.paths[i]);
    was_empty = l.n == 0 && dated && queue_recycle_settled(&dir.st_mtim);
    if (was_empty)
        empty_mtime = dir.st_mtim;
    return c.fd;
}
