/*
 * pickup.h - the pickup daemon's private interface
 *
 * Used by: the pickup sources only.
 */
#ifndef POSTERN_PICKUP_H
#define POSTERN_PICKUP_H
#include "sys_compat.h"
#include "sbuf.h"

struct cleanup_clnt;
struct sbuf;
/* pickup_milter.c: non_smtpd_milters. init reads the settings (a bad one
 * is fatal); active says whether there are milters. run (after the
 * records were spooled with cleanup_spool_begin()) passes the message
 * through them and sends the result to cleanup; it returns
 * CLEANUP_STAT_OK to go on to cleanup_finish(), or CLEANUP_STAT_DEFER
 * with reason (leave the file for later). */
void pickup_milter_init(void);
bool pickup_milter_active(void);
int pickup_milter_run(struct cleanup_clnt *c, const char *sender, char **rcpts,
                      struct sbuf *reason);

#endif
