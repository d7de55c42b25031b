/*
 * postfix.h - private interface between the postfix command's modules
 */
#ifndef POSTFIX_H
#define POSTFIX_H

/*
 * postfix_check_reach - checks that mail_owner can reach queue_directory and
 * data_directory, and that ordinary users (default_privs) can reach
 * mail_spool_directory. Logs each problem with the blocking directory and
 * the fix. Returns how many problems are fatal (an unreachable queue); the
 * others are warnings only.
 */
int postfix_check_reach(void);

#endif
