/*
 * queue_recycle.h - reuse the files of delivered messages for new ones
 *
 * Used by: qmgr (put), cleanup (take).
 * Interface: queue_recycle_put(), queue_recycle_take().
 * Errors: -1: the caller does what it did without recycling (unlink,
 *         create).
 * Notes: a queue file is a new inode per message: cleanup allocates it and
 *        qmgr frees it after delivery, with its blocks. Allocating and
 *        freeing cost file system work per message, and on ext4 without a
 *        journal much more: for a minute or more after an inode is freed
 *        the allocator skips it, checking every such inode of the group
 *        again for each new file (measured: 15% to a third of all CPU on
 *        the relay path). So a delivered file is moved to recycle/ (at most
 *        postern_queue_file_recycling of them) and cleanup takes one from
 *        there before it creates a file:
 *          - put: rename(queue/ID, recycle/SLOT), never replacing a name,
 *            for messages up to QUEUE_RECYCLE_MAX_SIZE; a slot is a number
 *            below the limit, so a take can name a pool file without
 *            reading the directory;
 *          - take: try a few slots (else read the directory);
 *            open recycle/NAME, lock it (LOCK_EX|LOCK_NB), check that
 *            recycle/NAME is still that file (another cleanup may have
 *            taken, filled and released it since our open), a plain file
 *            with one link owned by us; make it incomplete (mode 0600),
 *            rename it to incoming/NEWID; the writer overwrites it from offset 0 and
 *            qfile_commit() cuts it to the new length before the fsync.
 *        While it waits in recycle/ a file keeps its old contents and mode;
 *        it is made incomplete before it gets a name any queue scan reads,
 *        and a file that after a crash has a second name (link count 2) is
 *        never taken.
 */
#ifndef POSTERN_QUEUE_RECYCLE_H
#define POSTERN_QUEUE_RECYCLE_H
#include "sys_compat.h"
#include "sbuf.h"

/* Files of messages larger than this are removed, not kept: the pool is
 * never more than limit times this much disk. */
#define QUEUE_RECYCLE_MAX_SIZE (1024L * 1024L)

/* Moves the delivered file queue/id (size: its message's content size) to
 * recycle/ when there is room (limit: postern_queue_file_recycling). 0 when
 * moved, -1 when the caller is to remove it. */
int queue_recycle_put(const char *queue, const char *id, long size, long limit);

/* A recycled file renamed to queue/NEWID (id_out), open read-write, locked,
 * mode 0600, its length in *old_size; or -1 when there is none to take.
 * limit: postern_queue_file_recycling (the slots tried are below it). */
int queue_recycle_take(const char *queue, struct sbuf *id_out, off_t *old_size, long limit);

/* The claim step of queue_recycle_take() for a file already opened as path
 * (public for tests): returns fd, locked and mode 0600, when path still
 * names it and it may be reused (its length in *size); else closes fd and
 * returns -1. */
int queue_recycle_claim_fd(int fd, const char *path, off_t *size);

#endif
