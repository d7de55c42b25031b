/*
 * dir_sync.h - make a new directory entry durable, cheaply where possible
 *
 * Used by: lib/mail/mail_queue.c (new queue files), lib/mail/maildir.c
 *          (delivered Maildir files).
 * Interface: dir_sync(), dir_sync_new_name().
 * Errors: -1 with errno from open/fsync.
 * Notes: on journaling file systems that commit a new name together with
 *        the file's own fsync (ext3, ext4, xfs, btrfs), the extra directory
 *        fsync buys nothing and costs a journal commit per message, so it is
 *        skipped there. Anything else, or a file system we cannot identify
 *        (e.g. /proc not visible inside a chroot), gets the directory fsync.
 */
#ifndef POSTERN_DIR_SYNC_H
#define POSTERN_DIR_SYNC_H
#include "sys_compat.h"

/* Ensures entries created in dir are durable once their files are fsynced:
 * fsync(dir), unless the file system already guarantees it. 0 or -1. */
int dir_sync(const char *dir);
/* The same for a name made in dir (create, or rename into dir) BEFORE the
 * file's fsync, by a caller that fsyncs the file afterwards and relies on
 * the name only after that: also skipped on an ext4 without a journal,
 * whose file fsync writes the directory of a name added since the file's
 * last fsync. 0 or -1. */
int dir_sync_new_name(const char *dir);

#endif
