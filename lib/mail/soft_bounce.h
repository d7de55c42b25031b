/*
 * soft_bounce.h - soft_bounce: the safety net that turns bounces into
 *                 deferrals and 5xx replies into 4xx
 *
 * Used by: deliver_request (agents' bounces), smtpd (its replies and
 *          reject log lines).
 * Interface: soft_bounce_enabled(), soft_bounce_text(), soft_bounce_dsn().
 * Errors: none.
 * Notes: as Postfix documents soft_bounce: every would-be bounce is deferred
 *        with its status class changed to 4, and smtpd answers 4xx where it
 *        would answer 5xx, so mail stays queued (here or at the client)
 *        while a configuration is being tried.
 */
#ifndef POSTERN_SOFT_BOUNCE_H
#define POSTERN_SOFT_BOUNCE_H
#include "sys_compat.h"

/* $soft_bounce, read once. */
bool soft_bounce_enabled(void);
/* "5yz 5.a.b text" -> "4yz 4.a.b text" in place (also "5yz-" lines and a
 * reply without an enhanced code); anything else is left alone. */
void soft_bounce_text(char *reply);
/* "5.a.b" -> "4.a.b" in place. */
void soft_bounce_dsn(char *dsn);

#endif
