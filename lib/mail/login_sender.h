/*
 * login_sender.h - may this login use that envelope sender?
 *
 * Used by: cmd/postdrop (local_login_sender_maps).
 * Interface: login_sender_match().
 * Errors: -1 when a table lookup fails (the caller refuses, temporarily).
 * Notes: the tables are searched by login name and answer with sender
 *        patterns separated by white space or commas (not inside a
 *        quoted local part):
 *          "*"        any sender;
 *          null_key   (empty_address_local_login_sender_maps_lookup_key,
 *                     "<>" by default) the null sender;
 *          "@domain"  any sender whose '@' and domain are these;
 *          otherwise  the sender in external form with its address
 *                     extension (recipient_delimiter) removed, compared
 *                     without regard to case.
 *        A login the tables do not know may use no sender at all.
 */
#ifndef POSTERN_LOGIN_SENDER_H
#define POSTERN_LOGIN_SENDER_H
#include "sys_compat.h"
#include "maps.h"

/* 1 when login may use sender (internal form, "" for the null sender),
 * 0 when not, -1 on a table lookup error. delims: recipient_delimiter. */
int login_sender_match(struct maps *m, const char *login, const char *sender, const char *delims,
                       const char *null_key);

#endif
