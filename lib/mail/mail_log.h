/*
 * mail_log.h - where a Postern program's log lines go
 *
 * Used by: master, the daemon skeleton, and the commands that log
 *          (postdrop, sendmail, postqueue, postsuper).
 * Interface: mail_log_init().
 * Notes: the tag is "$syslog_name/PROGRAM" (postfix/smtpd, or
 *        postfix/submission/smtpd with -o syslog_name=postfix/submission).
 *        With $maillog_file set, lines go to the postlog service's datagram
 *        socket (public/postlog) instead of syslog, as Postfix 3.4+ does.
 */
#ifndef POSTERN_MAIL_LOG_H
#define POSTERN_MAIL_LOG_H
#include "sys_compat.h"

/* Sets the tag and the destination from the loaded configuration. */
void mail_log_init(const char *program);

#endif
