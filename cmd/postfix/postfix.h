/*
 * postfix.h - private interface between the postfix command's modules
 */
#ifndef POSTFIX_H
#define POSTFIX_H
#include <sys/types.h>

/*
 * postfix_check_reach - checks that mail_owner can reach queue_directory and
 * data_directory, and that ordinary users (default_privs) can reach
 * mail_spool_directory. Logs each problem with the blocking directory and
 * the fix. Returns how many problems are fatal (an unreachable queue); the
 * others are warnings only.
 */
int postfix_check_reach(void);

/*
 * postfix_logrotate - "postfix logrotate": renames $maillog_file to
 * FILE.SUFFIX ($maillog_file_rotate_suffix, strftime), makes a running
 * master restart postlogd (SIGHUP) so that it opens a new FILE, waits a
 * second for the old postlogd to finish, and runs $maillog_file_compressor
 * on the old file. master is the running master's pid, or 0. Returns 0;
 * a problem is fatal.
 */
int postfix_logrotate(pid_t master);

#endif
