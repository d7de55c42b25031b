/*
 * queue_layout.h - the queue and data directories: names, owners, modes
 *
 * Used by: master (at start), postfix (check, start, set-permissions).
 * Interface: queue_layout_apply().
 * Errors: problems are logged (warnings); returns the number of problems
 *         that remain (0 = all well).
 * Notes: $queue_directory is root:root 0755; the queues, private/ and
 *        recycle/ (Postern's pool of delivered files for reuse,
 *        lib/mail/queue_recycle.h) are mail_owner 0700; maildrop/ is
 *        mail_owner:setgid_group 1730; public/ mail_owner:setgid_group
 *        0710; pid/ root 0755; $data_directory mail_owner 0700. Everything
 *        is opened without following links and repaired through descriptors
 *        (fchown/fchmod); see QUEUE_LAYOUT_DEEP for the contents of the
 *        queues.
 */
#ifndef POSTERN_QUEUE_LAYOUT_H
#define POSTERN_QUEUE_LAYOUT_H
#include "sys_compat.h"

#define QUEUE_LAYOUT_FIX 0x1        /* create missing dirs, repair owners/modes */
#define QUEUE_LAYOUT_REPORT 0x2     /* warn about wrong owners/modes */
#define QUEUE_LAYOUT_DEEP 0x4       /* with FIX: also the files and hash
                                     * subdirectories in the queues */

int queue_layout_apply(int flags);

#endif
