/*
 * mail_flow.h - in_flow_delay: tokens between the queue manager and cleanup
 *
 * Used by: master (makes the pipe, master_spawn passes it on), lib/server
 *          (finds it in a child; the single-client skeleton takes a token
 *          per client for servers with in_flow set), cleanup (gives a
 *          token back for mail that does not enter incoming/), qmgr
 *          (produces tokens).
 * Interface: mail_flow_master_init(), mail_flow_master_fds(),
 *            mail_flow_child_init(), mail_flow_get(), mail_flow_put(),
 *            mail_flow_count().
 * Errors: get/put return -1 when no token could be taken or given (an
 *         empty or a full pipe, or no pipe); nothing is logged.
 * Notes: Postfix's mechanism, as a newcomer needs it: master makes one
 *        pipe that every process it starts inherits. qmgr writes a byte
 *        for each message it moves out of incoming/ and tops the pipe up to
 *        $default_process_limit bytes whenever incoming/ is empty; cleanup
 *        reads one byte for each new client and, when there was none, waits
 *        $in_flow_delay before serving it. So receiving slows down only
 *        while it is more than $default_process_limit messages ahead of the
 *        queue manager, and never stops. The pipe reaches a child as two
 *        descriptors after its listeners and status board ("-f" in its
 *        arguments); a child that has no use for them closes them.
 */
#ifndef POSTERN_MAIL_FLOW_H
#define POSTERN_MAIL_FLOW_H
#include "sys_compat.h"

/* master: makes the pipe (both ends non-blocking and close-on-exec).
 * Returns 0, or -1 (errno set). */
int mail_flow_master_init(void);
/* master: the read and write ends to pass to a child; false when there is
 * no pipe. */
bool mail_flow_master_fds(int *rfd, int *wfd);
/* A child: the pipe is on rfd and rfd + 1. keep: the process uses it
 * (marked close-on-exec); otherwise both are closed. */
void mail_flow_child_init(int rfd, bool keep);
/* Takes (reads) n tokens: how many were taken, or -1 when none. */
ssize_t mail_flow_get(size_t n);
/* Gives (writes) n tokens: how many, or -1. */
ssize_t mail_flow_put(size_t n);
/* Tokens in the pipe now (0 without a pipe). */
size_t mail_flow_count(void);

#endif
