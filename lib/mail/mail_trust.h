/*
 * mail_trust.h - trust checks shared by the set-gid submission commands
 *
 * Used by: postdrop, postqueue.
 * Interface: mail_config_dir_trusted(), mail_user_authorized(), mail_user_anyone(),
 *            mail_sanitize_fds(), mail_sanitize_env().
 * Errors: mail_user_authorized() returns -1 when a table in the list cannot
 *         be opened or fails a lookup; it says which in *err and leaves the
 *         message and exit status to the caller.
 * Notes: the commands run with the caller's uid and the postdrop group, so
 *        they must not honour a configuration directory or an inherited
 *        descriptor layout that the caller controls.
 */
#ifndef POSTERN_MAIL_TRUST_H
#define POSTERN_MAIL_TRUST_H
#include "sys_compat.h"

/* What went wrong in mail_user_authorized() when it returned -1. */
enum mail_trust_err_kind {
    MAIL_TRUST_ERR_NONE,
    MAIL_TRUST_ERR_OPEN,    /* the table could not be opened */
    MAIL_TRUST_ERR_LOOKUP,  /* the table reported a lookup error */
};

struct mail_trust_err {
    enum mail_trust_err_kind kind;
    char item[1024];        /* the list element ("type:name"), truncated */
};

/* True when dir may serve as configuration directory for a non-root
 * caller: it is the default directory, or the loaded main.cf lists it in
 * alternate_config_directories or multi_instance_directories (exact
 * string match). Needs the default configuration to be loaded. */
bool mail_config_dir_trusted(const char *dir);

/* Matches user against the list in parameter param (an authorized_*_users
 * parameter): plain names, "!" negations, static:anyone (or static:all)
 * and type:table lookups (case-folded). The first matching element
 * decides; no match denies. Returns 1 (allowed), 0 (denied) or -1 (table
 * error, described in *err, which may be NULL). */
int mail_user_authorized(const char *param, const char *user, struct mail_trust_err *err);

/* True when the list in param admits everybody at its first element
 * (static:anyone or static:all, the default), so that a caller can skip
 * looking up its user name (a passwd lookup through NSS). */
bool mail_user_anyone(const char *param);

/* Makes sure descriptors 0-2 are open (on /dev/null when they were closed)
 * and closes every descriptor above 2. Returns 0, or -1 when one of 0-2
 * could not be put in place (the rest is still done). */
int mail_sanitize_fds(void);

/* Replaces the inherited environment with TZ (when it was set) and
 * PATH=/usr/bin:/bin. Returns a copy of the caller's MAIL_CONFIG (for the
 * caller to vet and xfree), or NULL when it was not set. */
char *mail_sanitize_env(void);

#endif
