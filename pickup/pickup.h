/*
 * pickup.h - the pickup daemon's private interface
 *
 * Used by: the pickup sources only.
 */
#ifndef POSTERN_PICKUP_H
#define POSTERN_PICKUP_H
#include "sys_compat.h"

/* pickup_unavail.c: extra cleanup flags for settings Postern cannot honour
 * (non_smtpd_milters: CLEANUP_FLAG_HOLD unless milter_default_action is
 * accept). Reads the configuration; call once at start. */
int pickup_unavail_flags(void);

#endif
