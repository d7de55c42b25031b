/*
 * name_list.h - match a name against a Postfix "string list" setting
 *
 * Used by: smtpd (smtpd_log_access_permit_actions).
 * Interface: name_list_new(), name_list_match(), name_list_free().
 * Errors: a table that cannot be opened is logged at name_list_new() and
 *         never matches; a lookup failure makes name_list_match() return -1.
 * Notes: the items are matched left to right and the first that matches
 *        decides: a word (compared without regard to case), "/file/name"
 *        (the words in that file, read once at name_list_new(), '#'
 *        comments), or "type:table" (matches when the name is a key; the
 *        value is ignored, so static:all matches everything). "!item"
 *        inverts an item: a name it matches is not in the list. Tables
 *        are opened by name_list_new(), so call it before a chroot.
 */
#ifndef POSTERN_NAME_LIST_H
#define POSTERN_NAME_LIST_H
#include "sys_compat.h"

struct name_list;

/* Parses value (the setting named title, for logs). Never NULL. */
struct name_list *name_list_new(const char *title, const char *value);
/* 1: name is in the list, 0: it is not, -1: a table lookup failed. */
int name_list_match(const struct name_list *l, const char *name);
/* True when the list has no items at all (the usual default). */
bool name_list_empty(const struct name_list *l);
void name_list_free(struct name_list *l);

#endif
