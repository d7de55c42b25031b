/*
 * mail_queue.h - queue directory names, queue IDs and queue file paths
 *
 * Used by: cleanup, qmgr, delivery agents, bounce, showq, postsuper, postqueue,
 *          postdrop, pickup, postcat.
 * Interface: mail_queue_id_new(), mail_queue_id_ok(), mail_queue_path(),
 *            mail_queue_create(), mail_queue_rename(), mail_queue_remove(),
 *            mail_queue_hashed(), mail_queue_dir_scan(), mail_queue_openat().
 * Errors: functions return -1 with errno set; they do not log.
 * Notes: paths are relative to $queue_directory: every program that uses
 *        these chdir()s there first (the daemon skeleton does). A queue ID is
 *        18 upper-case hex digits: 8 of seconds, 5 of microseconds, 5 random
 *        (libsodium), so IDs sort by arrival time. Hashed queues
 *        ($hash_queue_names) put a file in a subdirectory named by the ID's
 *        last character(s) ($hash_queue_depth levels).
 */
#ifndef POSTERN_MAIL_QUEUE_H
#define POSTERN_MAIL_QUEUE_H
#include "sys_compat.h"
#include "sbuf.h"
#include <sys/stat.h>

#define MAIL_QUEUE_MAILDROP "maildrop"
#define MAIL_QUEUE_INCOMING "incoming"
#define MAIL_QUEUE_ACTIVE "active"
#define MAIL_QUEUE_DEFERRED "deferred"
#define MAIL_QUEUE_HOLD "hold"
#define MAIL_QUEUE_CORRUPT "corrupt"
#define MAIL_QUEUE_SAVED "saved"
#define MAIL_QUEUE_BOUNCE "bounce"
#define MAIL_QUEUE_DEFER "defer"
#define MAIL_QUEUE_TRACE "trace"
#define MAIL_QUEUE_FLUSH "flush"
#define MAIL_QUEUE_RECYCLE "recycle"     /* Postern: delivered files kept for reuse */

#define MAIL_QUEUE_ID_MAX 32

/* Mode bits: a queue file is complete only when the owner-execute bit is set. */
#define MAIL_QUEUE_MODE_BUILDING 0600
#define MAIL_QUEUE_MODE_COMPLETE 0700
#define MAIL_QUEUE_IS_COMPLETE(st) (((st)->st_mode & S_IXUSR) != 0)
/* When a queue file last changed: its contents (mtime) or its name or mode
 * (ctime: a file taken from recycle/ has an old mtime but a new ctime). */
#define MAIL_QUEUE_CHANGED(st) ((st)->st_mtime > (st)->st_ctime ? (st)->st_mtime : (st)->st_ctime)

/* Reads hash_queue_names / hash_queue_depth from the configuration. */
void mail_queue_init(void);
/* Fills out with a fresh queue ID. */
void mail_queue_id_new(struct sbuf *out);
/* True when id is a well-formed queue ID ([0-9A-Za-z], 1..MAIL_QUEUE_ID_MAX). */
bool mail_queue_id_ok(const char *id);
bool mail_queue_hashed(const char *queue_name);
/* Fills out with "queue_name/[h/]id". */
void mail_queue_path(struct sbuf *out, const char *queue_name, const char *id);
/* Creates the missing hash subdirectories leading to a queue path. */
int mail_queue_mkdirs(const char *path);
/* Creates a new empty file in queue_name with a fresh ID (mode 0600, O_EXCL).
 * Returns the descriptor and fills id_out; -1 on error. */
int mail_queue_create(const char *queue_name, struct sbuf *id_out);
/* Opens queue_name/[h/]id without following a symlink anywhere on the
 * way: each directory is opened from its parent's descriptor with
 * O_DIRECTORY|O_NOFOLLOW, the file with O_NOFOLLOW|O_NONBLOCK|O_NOCTTY.
 * With O_CREAT in oflags a missing hash subdirectory is made (mode 0700,
 * owned by the caller's effective ids). The file must then be a regular
 * file with one link owned by mail_owner_uid() (mail_owner.h); anything
 * else is refused with EPERM. Returns the descriptor (close-on-exec) or -1
 * with errno set. */
int mail_queue_openat(const char *queue_name, const char *id, int oflags, mode_t mode);
/* Moves id between queues (creating a hash subdirectory when needed). */
int mail_queue_rename(const char *id, const char *from_queue, const char *to_queue);
/* Removes the file id from queue_name; ENOENT is not an error. */
int mail_queue_remove(const char *queue_name, const char *id);
/* Calls fn(id, path, ctx) for each regular file in a queue (descending into
 * hash subdirectories). Stops early when fn returns non-zero. */
typedef int (*mail_queue_scan_fn)(const char *id, const char *path, void *ctx);
int mail_queue_dir_scan(const char *queue_name, mail_queue_scan_fn fn, void *ctx);
#define MAIL_QUEUE_PROBE_ABSENT 0      /* in no queue (never made, or delivered and gone) */
#define MAIL_QUEUE_PROBE_INCOMPLETE 1  /* exists, not marked complete */
#define MAIL_QUEUE_PROBE_COMPLETE 2    /* exists and complete */
/* Looks for id in incoming, active, deferred and hold (paths relative to
 * $queue_directory, or absolute when the cwd is elsewhere: see
 * mail_queue_probe_dir()). Returns MAIL_QUEUE_PROBE_*. */
int mail_queue_probe(const char *id);
/* True when path (with stat st) is an incomplete queue file at least
 * min_age seconds old whose writer is gone (nobody holds its lock). */
bool mail_queue_abandoned(const char *path, const struct stat *st, int min_age);
/* Makes durable a name made in dir (create, or rename into dir) for a queue
 * file that is fsynced after the name was made: fsync(dir) unless the file
 * system commits that name with the file's fsync (lib/util/dir_sync.h,
 * dir_sync_new_name). Not for names made after the file's last fsync. */
int mail_queue_sync_dir(const char *dir);

#endif
