/*
 * mail_queue.c - queue IDs, paths, creation, moves and scans
 *
 * Used by: everything that touches the queue.
 * Interface: see mail_queue.h.
 * Errors: -1 with errno; no logging here.
 */
#include "mail_queue.h"
#include "alloc.h"
#include "config.h"
#include "dir_sync.h"
#include "mail_owner.h"
#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include "sodium_dl.h"
#include <sys/file.h>
#include <sys/time.h>
#include <sys/syscall.h>
#if defined(__has_include)
#if __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define MAIL_QUEUE_OPENAT2 1
#endif
#endif

static char **mail_queue_hash_names;
static int mail_queue_hash_depth = 1;

void mail_queue_init(void)
{
    cfg_list_free(mail_queue_hash_names);
    mail_queue_hash_names = cfg_list(cfg_str(P_HASH_QUEUE_NAMES));
    mail_queue_hash_depth = cfg_int(P_HASH_QUEUE_DEPTH);
    if (mail_queue_hash_depth < 1)
        mail_queue_hash_depth = 1;
    if (mail_queue_hash_depth > 4)
        mail_queue_hash_depth = 4;
}

void mail_queue_id_new(struct sbuf *out)
{
    struct timeval tv;
    sodium_dl_need();
    gettimeofday(&tv, NULL);
    uint32_t rnd = randombytes_uniform(1u << 20);
    sbuf_printf(out, "%08lX%05lX%05X", (unsigned long)tv.tv_sec & 0xffffffffUL,
                (unsigned long)tv.tv_usec, (unsigned)rnd);
}

bool mail_queue_id_ok(const char *id)
{
    size_t n = 0;
    for (const char *p = id; *p; p++, n++) {
        if (n >= MAIL_QUEUE_ID_MAX)
            return false;
        if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
            return false;
    }
    return n > 0;
}

bool mail_queue_hashed(const char *queue_name)
{
    if (mail_queue_hash_names == NULL)
        mail_queue_init();
    for (char **p = mail_queue_hash_names; p && *p; p++)
        if (strcmp(*p, queue_name) == 0)
            return true;
    return false;
}

void mail_queue_path(struct sbuf *out, const char *queue_name, const char *id)
{
    sbuf_printf(out, "%s/", queue_name);
    if (mail_queue_hashed(queue_name)) {
        size_t len = strlen(id);
        for (int i = 0; i < mail_queue_hash_depth && (size_t)i < len; i++) {
            sbuf_addch(out, id[len - 1 - (size_t)i]);
            sbuf_addch(out, '/');
        }
    }
    sbuf_cat(out, id);
}

/* Creates the hash subdirectories leading to path. */
int mail_queue_mkdirs(const char *path)
{
    char tmp[PATH_MAX];
    if (strlcpy(tmp, path, sizeof(tmp)) >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = strchr(tmp, '/'); p; p = strchr(p + 1, '/')) {
        *p = 0;
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    return 0;
}

int mail_queue_create(const char *queue_name, struct sbuf *id_out)
{
    struct sbuf *path = sbuf_new(64);
    int fd = -1;
    for (int tries = 0; tries < 100; tries++) {
        mail_queue_id_new(id_out);
        mail_queue_path(path, queue_name, sbuf_str(id_out));
        fd = open(sbuf_str(path), O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC, MAIL_QUEUE_MODE_BUILDING);
        if (fd >= 0) {
            /* Held while the file is being written: a file that is still
             * incomplete and unlocked was left by a writer that died. */
            flock(fd, LOCK_EX | LOCK_NB);
            break;
        }
        if (errno == ENOENT && mail_queue_hashed(queue_name)) {
            if (mail_queue_mkdirs(sbuf_str(path)) < 0)
                break;
            continue;
        }
        if (errno != EEXIST)
            break;
    }
    sbuf_free(path);
    return fd;
}

/* Opens name below dirfd as a directory, making it first when asked. */
static int mail_queue_subdir(int dirfd, const char *name, bool create)
{
    int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT && create) {
        if (mkdirat(dirfd, name, 0700) < 0 && errno != EEXIST)
            return -1;
        fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    }
    return fd;
}

static int mail_queue_open_checked(int fd);

/* The same open in one call where the kernel has openat2 (Linux 5.6): the
 * whole relative path is resolved with no symbolic link anywhere on it and
 * without leaving the queue directory, which is what the walk in
 * mail_queue_openat() checks one directory at a time (an open, and a close,
 * per directory: two calls per delivery saved). -1 with errno ENOSYS when
 * the walk must do it instead (no openat2 in the kernel or its headers, a
 * system call filter refuses it, or it takes the request as invalid). */
static int mail_queue_open_resolved(const char *queue_name, const char *id, int oflags, mode_t mode)
{
#if defined(SYS_openat2) && defined(MAIL_QUEUE_OPENAT2)
    static bool unavailable;
    if (!unavailable) {
        struct sbuf *path = sbuf_new(64);
        mail_queue_path(path, queue_name, id);
        struct open_how how = {
            .flags = (uint64_t)(oflags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC),
            .mode = (oflags & O_CREAT) ? mode : 0,
            .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_BENEATH,
        };
        int fd = (int)syscall(SYS_openat2, AT_FDCWD, sbuf_str(path), &how, sizeof(how));
        int e = errno;
        sbuf_free(path);
        if (fd >= 0 || (e != ENOSYS && e != EPERM && e != EINVAL)) {
            errno = e;
            return fd;
        }
        unavailable = true;     /* not here, refused by a filter, or not as asked */
    }
#else
    (void)queue_name, (void)id, (void)oflags, (void)mode;
#endif
    errno = ENOSYS;
    return -1;
}

int mail_queue_openat(const char *queue_name, const char *id, int oflags, mode_t mode)
{
    bool create = (oflags & O_CREAT) != 0;
    if (strchr(queue_name, '/') || !mail_queue_id_ok(id)) {
        errno = EINVAL;
        return -1;
    }
    int fd = mail_queue_open_resolved(queue_name, id, oflags, mode);
    if (fd >= 0)
        return mail_queue_open_checked(fd);
    /* A missing hash directory of a file to be made is made by the walk. */
    if (errno != ENOSYS && !(errno == ENOENT && create && mail_queue_hashed(queue_name)))
        return -1;
    int dfd = mail_queue_subdir(AT_FDCWD, queue_name, false);
    if (dfd < 0)
        return -1;
    if (mail_queue_hashed(queue_name)) {
        size_t len = strlen(id);
        for (int i = 0; i < mail_queue_hash_depth && (size_t)i < len; i++) {
            char name[2] = { id[len - 1 - (size_t)i], 0 };
            int sub = mail_queue_subdir(dfd, name, create);
            int e = errno;
            close(dfd);
            if (sub < 0) {
                errno = e;
                return -1;
            }
            dfd = sub;
        }
    }
    fd = openat(dfd, id, oflags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
    int e = errno;
    close(dfd);
    if (fd < 0) {
        errno = e;
        return -1;
    }
    return mail_queue_open_checked(fd);
}

/* A queue file just opened: a regular file of mail_owner's with one name,
 * or it is closed (EPERM). */
static int mail_queue_open_checked(int fd)
{
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1
        || st.st_uid != mail_owner_uid()) {
        close(fd);
        errno = EPERM;
        return -1;
    }
    /* O_NONBLOCK stays: it only kept the open from blocking on a FIFO or
     * device, and has no effect on the reads and writes of a regular file
     * (two fcntl calls per open saved). */
    return fd;
}

int mail_queue_rename(const char *id, const char *from_queue, const char *to_queue)
{
    struct sbuf *from = sbuf_new(64), *to = sbuf_new(64);
    int r;
    mail_queue_path(from, from_queue, id);
    mail_queue_path(to, to_queue, id);
    r = rename(sbuf_str(from), sbuf_str(to));
    if (r < 0 && errno == ENOENT && mail_queue_hashed(to_queue) && access(sbuf_str(from), F_OK) == 0) {
        if (mail_queue_mkdirs(sbuf_str(to)) == 0)
            r = rename(sbuf_str(from), sbuf_str(to));
    }
    sbuf_free(from);
    sbuf_free(to);
    return r;
}

int mail_queue_remove(const char *queue_name, const char *id)
{
    struct sbuf *path = sbuf_new(64);
    mail_queue_path(path, queue_name, id);
    int r = unlink(sbuf_str(path));
    if (r < 0 && errno == ENOENT)
        r = 0;
    sbuf_free(path);
    return r;
}

/* The top directory of a queue stays open between scans of it (qmgr scans
 * incoming/ once per trigger, pickup maildrop/): it is rewound instead of
 * opened, looked at and closed again. It is opened afresh after a second,
 * so that a directory an administrator replaced is not read for long. */
#define MAIL_QUEUE_DIR_CACHE 4
static struct mail_queue_open_dir {
    char name[32];
    DIR *d;
    time_t opened;
    bool busy;          /* being read: a nested scan opens its own */
} mail_queue_dirs[MAIL_QUEUE_DIR_CACHE];

static DIR *mail_queue_top_dir(const char *dir)
{
    time_t now = time(NULL);
    struct mail_queue_open_dir *slot = NULL;
    for (int i = 0; i < MAIL_QUEUE_DIR_CACHE; i++) {
        struct mail_queue_open_dir *c = &mail_queue_dirs[i];
        if (c->d != NULL && c->busy)
            continue;
        if (c->d != NULL && strcmp(c->name, dir) == 0) {
            if (now >= c->opened && now - c->opened < 1) {
                rewinddir(c->d);
                c->busy = true;
                return c->d;
            }
            closedir(c->d);
            c->d = NULL;
        }
        if (c->d == NULL && slot == NULL)
            slot = c;
    }
    DIR *d = opendir(dir);
    if (d != NULL && slot != NULL && strlen(dir) < sizeof(slot->name)) {
        strlcpy(slot->name, dir, sizeof(slot->name));
        slot->d = d;
        slot->opened = now;
        slot->busy = true;
    }
    return d;
}

static void mail_queue_top_dir_done(DIR *d)
{
    for (int i = 0; i < MAIL_QUEUE_DIR_CACHE; i++)
        if (mail_queue_dirs[i].d == d) {
            mail_queue_dirs[i].busy = false;
            return;
        }
    closedir(d);
}

static int mail_queue_scan_dir(const char *dir, int depth, mail_queue_scan_fn fn, void *ctx,
                               bool top)
{
    DIR *d = top ? mail_queue_top_dir(dir) : opendir(dir);
    struct dirent *de;
    int r = 0;
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    struct sbuf *path = sbuf_new(64);
    while (r == 0 && (de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        sbuf_printf(path, "%s/%s", dir, de->d_name);
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = lstat(sbuf_str(path), &st) == 0 && S_ISDIR(st.st_mode);
        }
        if (is_dir) {
            if (depth > 0 && strlen(de->d_name) == 1)
                r = mail_queue_scan_dir(sbuf_str(path), depth - 1, fn, ctx, false);
            continue;
        }
        if (mail_queue_id_ok(de->d_name))
            r = fn(de->d_name, sbuf_str(path), ctx);
    }
    if (top)
        mail_queue_top_dir_done(d);
    else
        closedir(d);
    sbuf_free(path);
    return r;
}

int mail_queue_dir_scan(const char *queue_name, mail_queue_scan_fn fn, void *ctx)
{
    int depth = mail_queue_hashed(queue_name) ? mail_queue_hash_depth : 0;
    return mail_queue_scan_dir(queue_name, depth, fn, ctx, true);
}

int mail_queue_sync_dir(const char *dir)
{
    return dir_sync_new_name(dir);
}

int mail_queue_probe(const char *id)
{
    static const char *const queues[] = { MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
                                          MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD };
    struct sbuf *path = sbuf_new(64);
    int result = MAIL_QUEUE_PROBE_ABSENT;
    /* Daemons run in $queue_directory; commands (sendmail -bs) may not. */
    const char *qdir = cfg_str(P_QUEUE_DIRECTORY);
    char cwd[PATH_MAX];
    bool relative = getcwd(cwd, sizeof(cwd)) != NULL && (strcmp(cwd, qdir) == 0 || strcmp(cwd, "/") == 0);
    for (size_t i = 0; i < ARRAY_LEN(queues) && result == MAIL_QUEUE_PROBE_ABSENT; i++) {
        struct stat st;
        mail_queue_path(path, queues[i], id);
        if (!relative) {
            struct sbuf *abs = sbuf_new(128);
            sbuf_printf(abs, "%s/%s", qdir, sbuf_str(path));
            sbuf_set(path, sbuf_str(abs));
            sbuf_free(abs);
        }
        if (stat(sbuf_str(path), &st) == 0)
            result = MAIL_QUEUE_IS_COMPLETE(&st) ? MAIL_QUEUE_PROBE_COMPLETE
                                                 : MAIL_QUEUE_PROBE_INCOMPLETE;
    }
    sbuf_free(path);
    return result;
}

bool mail_queue_abandoned(const char *path, const struct stat *st, int min_age)
{
    if (MAIL_QUEUE_IS_COMPLETE(st) || time(NULL) - MAIL_QUEUE_CHANGED(st) < min_age)
        return false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return false;
    bool abandoned = flock(fd, LOCK_EX | LOCK_NB) == 0;
    close(fd);
    return abandoned;
}
