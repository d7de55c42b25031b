/*
 * dict_unix.c - unix:passwd.byname and unix:group.byname
 *
 * Used by: dict.c (type table); local_recipient_maps = unix:passwd.byname.
 * Interface: dict_type_unix.
 * Errors: an unknown map name fails the open; a failing name service
 *         (errno other than "not found") is DICT_ERR_RETRY.
 * Notes: results look like the files: "name:x:uid:gid:gecos:dir:shell" and
 *        "name:x:gid:member,member".
 *        Answers (found and not found) are cached per table: a getpwnam()
 *        through NSS opens and reads nsswitch.conf and the passwd file
 *        every time (about 70 system calls), and local_recipient_maps asks
 *        for every recipient. A cached answer is used only while the
 *        database file (/etc/passwd, /etc/group) has the same device,
 *        inode, size, mtime and ctime as when the answer was read (one
 *        stat per lookup; useradd and vipw replace or rewrite the file),
 *        and for at most DICT_UNIX_TTL seconds, which bounds staleness
 *        for NSS sources other than the files. Temporary failures are
 *        never cached; when the file cannot be stat'ed nothing is.
 */
#include "alloc.h"
#include "dict.h"
#include "dict_priv.h"
#include "events.h"
#include "file_id.h"
#include "log.h"
#include "sbuf.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#define UNIX_PASSWD 1
#define UNIX_GROUP 2

#define DICT_UNIX_SLOTS 256             /* direct-mapped: a collision replaces */
#define DICT_UNIX_TTL 10.0              /* seconds an answer may be reused */

struct dict_unix_slot {
    char *key;                          /* NULL: empty slot */
    char *value;                        /* NULL: "no such entry" was the answer */
    double when;                        /* event_now() when it was looked up */
};

struct dict_unix {
    int which;                          /* UNIX_PASSWD or UNIX_GROUP */
    const char *file;                   /* the file whose identity guards the cache */
    struct stat id;                     /* its identity when the cache was filled */
    bool have_id;
    struct dict_unix_slot slot[DICT_UNIX_SLOTS];
};

static void dict_unix_flush(struct dict_unix *u)
{
    for (size_t i = 0; i < DICT_UNIX_SLOTS; i++) {
        xfree(u->slot[i].key);
        xfree(u->slot[i].value);
        u->slot[i] = (struct dict_unix_slot){ 0 };
    }
}

/* Returns true when the cache may be used (and was emptied if the file changed). */
static bool dict_unix_validate(struct dict_unix *u)
{
    struct stat st;
    if (stat(u->file, &st) < 0) {
        if (u->have_id)
            dict_unix_flush(u);
        u->have_id = false;
        return false;
    }
    if (!u->have_id || !file_id_same(&st, &u->id)) {
        dict_unix_flush(u);
        u->id = st;
        u->have_id = true;
    }
    return true;
}

static struct dict_unix_slot *dict_unix_slot(struct dict_unix *u, const char *key)
{
    uint32_t h = 2166136261u;           /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 16777619u;
    return &u->slot[h % DICT_UNIX_SLOTS];
}

static int dict_unix_open(struct dict *d, const char *name)
{
    struct dict_unix *u;

    if (strcmp(name, "passwd.byname") == 0) {
        u = xcalloc(1, sizeof(*u));
        u->which = UNIX_PASSWD;
        u->file = "/etc/passwd";
    } else if (strcmp(name, "group.byname") == 0) {
        u = xcalloc(1, sizeof(*u));
        u->which = UNIX_GROUP;
        u->file = "/etc/group";
    } else {
        log_warn("%s: unknown unix map (expected passwd.byname or group.byname)", d->spec);
        return -1;
    }
    d->impl = u;
    return 0;
}

static void dict_unix_close(struct dict *d)
{
    struct dict_unix *u = d->impl;
    if (u == NULL)
        return;
    dict_unix_flush(u);
    xfree(u);
    d->impl = NULL;
}

/* errno values that only mean "no such entry" */
static bool dict_unix_notfound(int e)
{
    return e == 0 || e == ENOENT || e == ESRCH || e == EBADF || e == EPERM;
}

/* Asks the name service; fills d->result and returns it, or NULL. */
static const char *dict_unix_query(struct dict *d, int which, const char *key)
{
    errno = 0;
    if (which == UNIX_PASSWD) {
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

static const char *dict_unix_lookup(struct dict *d, const char *key)
{
    struct dict_unix *u = d->impl;
    bool cacheable = dict_unix_validate(u);
    struct dict_unix_slot *sl = dict_unix_slot(u, key);
    double now = event_now();

    if (cacheable && sl->key && strcmp(sl->key, key) == 0 && now - sl->when < DICT_UNIX_TTL) {
        if (sl->value == NULL)
            return NULL;
        sbuf_set(d->result, sl->value);
        return sbuf_str(d->result);
    }
    const char *r = dict_unix_query(d, u->which, key);
    if (cacheable && d->error == DICT_ERR_NONE) {
        xfree(sl->key);
        xfree(sl->value);
        sl->key = xstrdup(key);
        sl->value = r ? xstrdup(r) : NULL;
        sl->when = now;
    }
    return r;
}

const struct dict_type dict_type_unix = {
    "unix", DICT_F_FIXED, dict_unix_open, dict_unix_lookup, NULL, dict_unix_close,
};
