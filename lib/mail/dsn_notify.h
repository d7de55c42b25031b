/*
 * dsn_notify.h - DSN NOTIFY= and RET= values, and the notify_classes list
 *
 * Used by: smtpd and sendmail (parsing ESMTP/command-line values), cleanup,
 *          bounce (deciding what to report), postcat (printing flags).
 * Interface: dsn_notify_parse(), dsn_notify_format(), dsn_ret_parse(),
 *            dsn_ret_str(), notify_class_parse(), notify_class_enabled().
 * Errors: parsers return -1 for an invalid value; nothing is logged here.
 * Notes: flag values are the DSN_NOTIFY_* and DSN_RET_* bits of qfile.h
 *        (RFC 3461). NEVER may not be combined with anything else.
 */
#ifndef POSTERN_DSN_NOTIFY_H
#define POSTERN_DSN_NOTIFY_H
#include "sys_compat.h"
#include "sbuf.h"

/* notify_classes members (Postfix names). */
#define NOTIFY_CLASS_BOUNCE 0x01
#define NOTIFY_CLASS_2BOUNCE 0x02
#define NOTIFY_CLASS_DATA 0x04
#define NOTIFY_CLASS_DELAY 0x08
#define NOTIFY_CLASS_POLICY 0x10
#define NOTIFY_CLASS_PROTOCOL 0x20
#define NOTIFY_CLASS_RESOURCE 0x40
#define NOTIFY_CLASS_SOFTWARE 0x80

/* Parses "SUCCESS,FAILURE,DELAY" or "NEVER" (any case) into DSN_NOTIFY_*
 * bits. Returns the bits (> 0), or -1 for an empty, unknown, repeated-NEVER
 * or NEVER-combined value. */
int dsn_notify_parse(const char *value);
/* Fills out with the ESMTP form ("SUCCESS,DELAY,FAILURE" or "NEVER"); an
 * empty string for 0. */
void dsn_notify_format(struct sbuf *out, int bits);
/* Parses "FULL" or "HDRS" (any case): DSN_RET_FULL/DSN_RET_HDRS, or -1. */
int dsn_ret_parse(const char *value);
/* "FULL", "HDRS" or "" (borrowed, static). */
const char *dsn_ret_str(int ret);
/* Parses a notify_classes value ("resource, software") into a
 * NOTIFY_CLASS_* mask. Unknown names are ignored; when bad is not NULL the
 * first one is copied into it (left unchanged when all names are known). */
int notify_class_parse(const char *value, struct sbuf *bad);
/* True when $notify_classes (current configuration) contains class_bit. */
bool notify_class_enabled(int class_bit);

#endif
