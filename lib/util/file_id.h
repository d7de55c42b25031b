/*
 * file_id.h - has a file been replaced or rewritten since it was read?
 *
 * Used by: lib/mail/dict_unix.c (passwd/group answer cache),
 *          cleanup/cleanup_dkim.c (parsed DKIM keys).
 * Interface: file_id_same().
 * Errors: none.
 * Notes: for caches of something derived from a file: keep the stat()
 *        taken before reading it, and compare a fresh stat() with it.
 */
#ifndef POSTERN_FILE_ID_H
#define POSTERN_FILE_ID_H
#include "sys_compat.h"
#include <sys/stat.h>

/* True when a and b describe the same file, unchanged: device, inode,
 * size, and modification and change times (to the nanosecond). A file
 * replaced by rename (new inode) or rewritten in place (new ctime) differs. */
bool file_id_same(const struct stat *a, const struct stat *b);

#endif
