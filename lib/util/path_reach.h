/*
 * path_reach.h - can a given user reach a path (search permission on every parent)?
 *
 * Used by: postfix check/start (queue, data and spool directories), tests.
 * Interface: path_reach().
 */
#ifndef PATH_REACH_H
#define PATH_REACH_H

#include "sbuf.h"
#include <stdbool.h>
#include <sys/types.h>

/*
 * path_reach - finds out whether user NAME (uid, gid and its supplementary
 * groups) can look up PATH: every directory on the way must grant it search
 * permission. The answer comes from the kernel, not from mode arithmetic: a
 * child process takes on the user's ids and tries, so ACLs and unusual
 * mounts count. A path that does not exist yet is reachable as far as it
 * goes (the part that exists is what matters). Must run as root.
 * Fills BLOCKED (caller's buffer) with the first directory that denies
 * search permission. Returns 1 when reachable, 0 when blocked, -1 when the
 * check itself failed (logged).
 */
int path_reach(struct sbuf *blocked, const char *path, const char *name, uid_t uid, gid_t gid);

#endif
