/*
 * dict_unix.c - unix:passwd.byname and unix:group.byname
 *
 * Used by: dict.c (type table); local_recipient_maps = unix:passwd.byname.
 * Interface: dict_type_unix.
 * Errors: an unknown map name fails the open; a failing name service
 *         (errno other than "not found") is DICT_ERR_RETRY.
 * Notes: results look like the files: "name:x:uid:gid:gecos:dir:shell" and
 *        "name:x:gid:member,member".
 */
#include "dict.h"
#include "dict_priv.h"
#include "log.h"
#include "sbuf.h"

#include <grp.h>
#include <pwd.h>

#define UNIX_PASSWD 1
#define UNIX_GROUP 2

static int dict_unix_open(struct dict *d, const char *name)
{
    static int which_passwd = UNIX_PASSWD, which_group = UNIX_GROUP;

    if (strcmp(name, "passwd.byname") == 0)
        d->impl = &which_passwd;
    else if (strcmp(name, "group.byname") == 0)
        d->impl = &which_group;
    else {
        log_warn("%s: unknown unix map (expected passwd.byname or group.byname)", d->spec);
        return -1;
    }
    return 0;
}

/* errno values that only mean "no such entry" */
static bool dict_unix_notfound(int e)
{
    return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

static const char *dict_unix_lookup(struct dict *d, const char *key)
{
    errno = 0;
    if (*(const int *)d->impl == UNIX_PASSWD) {
        struct passwd *pw = getpwnam(key);
        if (pw == NULL) {
            if (!dict_unix_notfound(errno))
                d->error = DICT_ERR_RETRY;
            return NULL;
        }
        sbuf_printf(d->result, "%s:%s:%ld:%ld:%s:%s:%s", pw->pw_name, "x", (long)pw->pw_uid,
                    (long)pw->pw_gid, pw->pw_gecos ? pw->pw_gecos : "", pw->pw_dir,
                    pw->pw_shell);
    } else {
        struct group *gr = getgrnam(key);
        if (gr == NULL) {
            if (!dict_unix_notfound(errno))
                d->error = DICT_ERR_RETRY;
            return NULL;
        }
        sbuf_printf(d->result, "%s:x:%ld:", gr->gr_name, (long)gr->gr_gid);
        for (char **m = gr->gr_mem; m && *m; m++)
            sbuf_catf(d->result, "%s%s", m == gr->gr_mem ? "" : ",", *m);
    }
    return sbuf_str(d->result);
}

const struct dict_type dict_type_unix = {
    "unix", DICT_F_FIXED, dict_unix_open, dict_unix_lookup, NULL, NULL,
};
