/*
 * hostname.h - is a string a syntactically valid host name (Postfix's rules)
 *
 * Used by: trivial-rewrite (recipient domains), smtpd (HELO names,
 *          reject_invalid_helo_hostname and the like).
 * Interface: hostname_valid().
 * Errors: none; the answer is yes or no.
 * Notes: dot-separated labels of letters, digits, '-' and '_', each 1 to
 *        63 characters, 255 in all; no label starts or ends with '-'; no
 *        empty label (so no leading, trailing or double dot); not made of
 *        digits and dots only (an IPv4 address is not a host name). Address
 *        literals ([...]) are the caller's to judge.
 */
#ifndef POSTERN_HOSTNAME_H
#define POSTERN_HOSTNAME_H
#include "sys_compat.h"

/* allow_8bit: bytes >= 0x80 count as letters (UTF-8 domains). */
bool hostname_valid(const char *name, bool allow_8bit);

#endif
