/*
 * mbox_lock.c - mailbox locking (fcntl, flock, dotlock)
 *
 * Used by: local, virtual.
 * Interface: see mbox_lock.h.
 * Errors: see mbox_lock.h; mbox_dotlock() keeps errno of the last attempt.
 * Notes: retries sleep deliver_lock_delay between attempts; a stale dot lock
 *        (mtime older than stale_lock_time) is unlinked and retried at once.
 */
#include "mbox_lock.h"
#include "config.h"
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

int mbox_lock_mask(const char *list, const char **bad)
{
    char **words = cfg_list(list);
    int mask = 0;
    for (char **w = words; w && *w; w++) {
        if (strcasecmp(*w, "fcntl") == 0)
            mask |= MBOX_LOCK_FCNTL;
        else if (strcasecmp(*w, "flock") == 0)
            mask |= MBOX_LOCK_FLOCK;
        else if (strcasecmp(*w, "dotlock") == 0)
            mask |= MBOX_LOCK_DOTLOCK;
        else {
            if (bad)
                *bad = "unknown lock method (expected fcntl, flock, dotlock)";
            mask = -1;
            break;
        }
    }
    cfg_list_free(words);
    return mask;
}

void mbox_lock_opts_init(struct mbox_lock_opts *o)
{
    o->attempts = cfg_int(P_DELIVER_LOCK_ATTEMPTS);
    if (o->attempts < 1)
        o->attempts = 1;
    o->delay_ms = cfg_time(P_DELIVER_LOCK_DELAY) * 1000;
    o->stale_sec = cfg_time(P_STALE_LOCK_TIME);
}

static void mbox_sleep_ms(long ms)
{
    if (ms <= 0)
        return;
    struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int mbox_dotlock(const char *path, const struct mbox_lock_opts *o, struct sbuf *why)
{
    struct sbuf *lock = sbuf_new(strlen(path) + 8);
    sbuf_printf(lock, "%s.lock", path);
    int result = -1, err = 0, breaks = 0;
    for (int attempt = 0; attempt < o->attempts; attempt++) {
        int fd = open(sbuf_str(lock), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            /* pid for humans; the lock is the file's existence */
            char pid[32];
            int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
            if (n > 0 && write(fd, pid, (size_t)n) < 0)
                (void)0;
            close(fd);
            result = 0;
            break;
        }
        err = errno;
        if (err != EEXIST)
            break;      /* permission, missing directory: retrying will not help */
        struct stat st;
        if (lstat(sbuf_str(lock), &st) == 0 && o->stale_sec > 0
            && time(NULL) - st.st_mtime > o->stale_sec) {
            /* A crashed writer left it: take it over. */
            if ((unlink(sbuf_str(lock)) == 0 || errno == ENOENT) && breaks++ < o->attempts) {
                attempt--;  /* this does not count as a wait */
                continue;
            }
        }
        if (attempt + 1 < o->attempts)
            mbox_sleep_ms(o->delay_ms);
    }
    if (result < 0)
        sbuf_printf(why, "unable to create lock file %s: %s", sbuf_str(lock),
                    err == EEXIST ? "file exists" : strerror(err));
    sbuf_free(lock);
    if (result < 0)
        errno = err;
    return result;
}

void mbox_dotunlock(const char *path)
{
    struct sbuf *lock = sbuf_new(strlen(path) + 8);
    sbuf_printf(lock, "%s.lock", path);
    unlink(sbuf_str(lock));
    sbuf_free(lock);
}

static int mbox_try_kernel(int fd, int which)
{
    if (which == MBOX_LOCK_FCNTL) {
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        return fcntl(fd, F_SETLK, &fl);
    }
    return flock(fd, LOCK_EX | LOCK_NB);
}

static void mbox_release_kernel(int fd, int which)
{
    if (which == MBOX_LOCK_FCNTL) {
        struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        (void)fcntl(fd, F_SETLK, &fl);
    } else
        (void)flock(fd, LOCK_UN);
}

int mbox_kernel_lock(int fd, int mask, const struct mbox_lock_opts *o, struct sbuf *why)
{
    static const int kinds[] = { MBOX_LOCK_FCNTL, MBOX_LOCK_FLOCK };
    int held = 0;
    for (size_t k = 0; k < ARRAY_LEN(kinds); k++) {
        int which = kinds[k];
        if (!(mask & which))
            continue;
        int ok = -1, err = 0;
        for (int attempt = 0; attempt < o->attempts; attempt++) {
            if ((ok = mbox_try_kernel(fd, which)) == 0)
                break;
            err = errno;
            if (err != EAGAIN && err != EACCES && err != EWOULDBLOCK && err != EINTR)
                break;
            if (attempt + 1 < o->attempts)
                mbox_sleep_ms(o->delay_ms);
        }
        if (ok < 0) {
            sbuf_printf(why, "unable to lock for exclusive access: %s (%s)",
                        err == EAGAIN || err == EACCES || err == EWOULDBLOCK
                            ? "Resource temporarily unavailable" : strerror(err),
                        which == MBOX_LOCK_FCNTL ? "fcntl" : "flock");
            mbox_kernel_unlock(fd, held);
            return -1;
        }
        held |= which;
    }
    return 0;
}

void mbox_kernel_unlock(int fd, int mask)
{
    if (mask & MBOX_LOCK_FLOCK)
        mbox_release_kernel(fd, MBOX_LOCK_FLOCK);
    if (mask & MBOX_LOCK_FCNTL)
        mbox_release_kernel(fd, MBOX_LOCK_FCNTL);
}

int mbox_lock(int fd, const char *path, int mask, const struct mbox_lock_opts *o,
              struct sbuf *why)
{
    if ((mask & MBOX_LOCK_DOTLOCK) && mbox_dotlock(path, o, why) < 0)
        return -1;
    if (mbox_kernel_lock(fd, mask, o, why) < 0) {
        if (mask & MBOX_LOCK_DOTLOCK)
            mbox_dotunlock(path);
        return -1;
    }
    return 0;
}

void mbox_unlock(int fd, const char *path, int mask)
{
    mbox_kernel_unlock(fd, mask);
    if (mask & MBOX_LOCK_DOTLOCK)
        mbox_dotunlock(path);
}
