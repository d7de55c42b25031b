/*
 * mail_owner.h - do queue and status-file work as $mail_owner in a root process
 *
 * Used by: the server skeleton (mail_owner_init() for services that keep
 *          root: local, virtual, pipe), deliver_request.c and dsn_log.c
 *          (queue file and status log access), mail_proto.c (connects and
 *          triggers), master (lock file, service endpoints, wake-ups).
 * Interface: mail_owner_init(), mail_owner_active(), mail_owner_uid(),
 *            mail_owner_begin(), mail_owner_begin_group(), mail_owner_end().
 * Errors: mail_owner_begin() returns -1 (errno set, a warning logged) when
 *         the switch cannot be made; the ids are then exactly as before.
 *         mail_owner_end() is fatal when the previous ids cannot be
 *         restored: a process that is half switched must not go on.
 * Notes: ARCHITECTURE.md section 2: everything under the queue directory
 *        belongs to mail_owner, so a root process that touches it with
 *        mail_owner's effective uid, gid and group list can do no more
 *        than a mail_owner process could do itself, whatever symlinks are
 *        planted there. Until mail_owner_init() is called (unprivileged
 *        daemons, commands, unit tests) begin/end do nothing.
 *        Calls nest; only the outermost pair switches.
 */
#ifndef POSTERN_MAIL_OWNER_H
#define POSTERN_MAIL_OWNER_H
#include "sys_compat.h"

/* Looks up $mail_owner and arms begin/end. Fatal when the account is
 * missing or is root. A no-op unless the effective uid is 0. */
void mail_owner_init(void);

/* True after mail_owner_init() armed the switch. */
bool mail_owner_active(void);

/* The uid that owns queue files: mail_owner's when armed, else the
 * process's effective uid (files a test or command created itself). */
uid_t mail_owner_uid(void);

/* Takes on mail_owner's euid, egid and group list (saving the current
 * ones). 0, or -1 after a warning with the ids unchanged. */
int mail_owner_begin(void);

/* The same with gid as effective and only group (master creates public/
 * endpoints as mail_owner:setgid_group this way). */
int mail_owner_begin_group(gid_t gid);

/* Restores the ids saved by the matching mail_owner_begin(). Keeps errno.
 * Fatal on failure. */
void mail_owner_end(void);

#endif
