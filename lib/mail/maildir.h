/*
 * maildir.h - Maildir delivery: tmp/, fsync, then new/ under a unique name
 *
 * Used by: local (home_mailbox ending in "/", alias and .forward targets
 *          ending in "/"), virtual.
 * Interface: maildir_make(), maildir_unique_name(), maildir_deliver().
 * Errors: -1 with errno kept and why filled ("create maildir file X: ...").
 *         The caller decides permanent (EDQUOT, EFBIG: mailbox full) or
 *         temporary (anything else). Nothing is logged here.
 * Notes: the caller runs with the mailbox owner's privileges. A message
 *        file is written to DIR/tmp/, fsync()ed, linked (never overwriting)
 *        into DIR/new/ and DIR/new is fsync()ed, so a 0 return means the
 *        message is durable. The directories are made (maildir_make) only
 *        when the open in tmp/ or the link into new/ says ENOENT, as in
 *        Postfix: an existing Maildir costs no stat() calls. Names are
 *        SEC.VdevIinoMusecPpidQcount.HOST (hex dev and ino, decimal usec,
 *        pid and per-process count); "/" and ":" in HOST become \057 and \072.
 */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H
#include "sys_compat.h"
#include "sbuf.h"
#include <sys/stat.h>

/* Writes the whole message to fd. Returns 0, or -1 with errno set. */
typedef int (*maildir_write_fn)(int fd, void *ctx);

/* Creates dir (and missing parents) and dir/tmp, dir/new, dir/cur with mode
 * 0700. 0, or -1 with why filled. */
int maildir_make(const char *dir, struct sbuf *why);

/* Fills out with the base name for a file (see Notes); dev/ino may be 0 for
 * the temporary name, which then has no V/I part. */
void maildir_unique_name(struct sbuf *out, long sec, long usec, unsigned long dev,
                         unsigned long ino, long pid, unsigned long count, const char *host);

/* Delivers one message into the Maildir at dir (trailing "/" optional).
 * path_out (may be NULL) gets the final file name. 0 or -1 (see Errors). */
int maildir_deliver(const char *dir, const char *host, maildir_write_fn fn, void *ctx,
                    struct sbuf *path_out, struct sbuf *why);

/* Like maildir_deliver(), but the file name is derived from tag (unique
 * per message and recipient, e.g. queue ID and recipient offset) and the
 * message's arrival time, so that a retry after a crash between "linked
 * into new/" and "recipient marked done" finds the earlier copy and
 * reports success instead of delivering twice. */
int maildir_deliver_once(const char *dir, const char *host, const char *tag, long arrival,
                         maildir_write_fn fn, void *ctx, struct sbuf *path_out,
                         struct sbuf *why);

#endif
