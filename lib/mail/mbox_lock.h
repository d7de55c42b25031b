/*
 * mbox_lock.h - mailbox locking (fcntl, flock, dotlock) per mailbox_delivery_lock
 *
 * Used by: local (mbox delivery and /file delivery), virtual.
 * Interface: mbox_lock_mask(), mbox_lock_opts_init(), mbox_dotlock(),
 *            mbox_dotunlock(), mbox_kernel_lock(), mbox_kernel_unlock(),
 *            mbox_lock(), mbox_unlock().
 * Errors: a lock that cannot be had after the configured attempts returns
 *         -1 with why filled ("unable to lock for exclusive access: ...");
 *         callers treat that as a temporary failure (4.2.0). Nothing is
 *         logged here.
 * Notes: the order is dot lock first, then the kernel lock(s) on the open
 *        file, as mail readers expect. A dot lock older than
 *        stale_lock_time is removed ("stale") and taken over. Dot locks are
 *        created with O_EXCL in the mailbox's directory, so the caller must
 *        hold privileges that can write there.
 */
#ifndef POSTERN_MBOX_LOCK_H
#define POSTERN_MBOX_LOCK_H
#include "sys_compat.h"
#include "sbuf.h"

#define MBOX_LOCK_FCNTL 0x1
#define MBOX_LOCK_FLOCK 0x2
#define MBOX_LOCK_DOTLOCK 0x4

struct mbox_lock_opts {
    int attempts;       /* deliver_lock_attempts */
    long delay_ms;      /* deliver_lock_delay, in milliseconds */
    long stale_sec;     /* stale_lock_time */
};

/* Parses a list such as "fcntl, dotlock" (white space or commas). Returns
 * the MBOX_LOCK_* bits, or -1 with *bad pointing at a static copy of the
 * first unknown word's description. */
int mbox_lock_mask(const char *list, const char **bad);

/* Fills o from deliver_lock_attempts, deliver_lock_delay, stale_lock_time. */
void mbox_lock_opts_init(struct mbox_lock_opts *o);

/* Creates PATH.lock exclusively, retrying and breaking stale locks.
 * 0, or -1 with why filled. */
int mbox_dotlock(const char *path, const struct mbox_lock_opts *o, struct sbuf *why);
/* Removes PATH.lock (ignores a missing file). */
void mbox_dotunlock(const char *path);

/* Takes exclusive fcntl and/or flock locks on fd (mask bits), retrying.
 * 0, or -1 with why filled. */
int mbox_kernel_lock(int fd, int mask, const struct mbox_lock_opts *o, struct sbuf *why);
void mbox_kernel_unlock(int fd, int mask);

/* All of the above in order: dot lock (if in mask), then kernel locks on
 * fd. On failure nothing is left locked. 0 or -1 with why filled. */
int mbox_lock(int fd, const char *path, int mask, const struct mbox_lock_opts *o,
              struct sbuf *why);
void mbox_unlock(int fd, const char *path, int mask);

#endif
