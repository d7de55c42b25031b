/*
 * log_addr.h - envelope addresses in log lines (info_log_address_format)
 *
 * Used by: delivery_log (to=, orig_to=), qmgr, pickup, bounce, cleanup and
 *          smtpd (from=, to= in their log lines).
 * Interface: log_addr().
 * Errors: an unknown info_log_address_format value is logged once and
 *         treated as "external", the default.
 * Notes: "external" (Postfix 3.5 and later) quotes a local part that needs
 *        it, as in from=<"name with spaces"@example.com>; "internal" logs
 *        the address as it is stored, without quotes. The null address
 *        stays empty either way. The parameter is read on first use.
 */
#ifndef POSTERN_LOG_ADDR_H
#define POSTERN_LOG_ADDR_H
#include "sys_compat.h"
#include "sbuf.h"

/* Fills buf with addr in the form info_log_address_format asks for and
 * returns its text (NULL addr counts as the null address). */
const char *log_addr(struct sbuf *buf, const char *addr);

#endif
