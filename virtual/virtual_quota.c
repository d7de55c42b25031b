/*
 * virtual_quota.c - Maildir++ quota: limits, maildirsize, usage counts
 *
 * Used by: virtual_deliver.c, tests/unit/virtual_quota_test.c.
 * Interface: virtual_quota_limit(), virtual_quota_parse(),
 *            virtual_quota_format(), virtual_quota_name_size(),
 *            virtual_quota_scan(), virtual_quota_over(),
 *            virtual_quota_read(), virtual_quota_update().
 * Errors: file functions return -1 with errno (and why where given); a
 *         maildirsize that does not parse is not an error, it is replaced.
 * Notes: maildirsize (Maildir++): the first line states the quota as a
 *        comma-separated list of "<n>S" (bytes) and "<n>C" (messages); each
 *        later line is "<bytes> <messages>", signed deltas that add up to
 *        the usage. Deliveries append one line with a single O_APPEND
 *        write; when the file grows past VIRTUAL_MAILDIRSIZE_MAX bytes, is
 *        malformed or states another limit, it is replaced (tmp/ then
 *        rename()) from a fresh count. Message sizes come from ",S=<n>" in
 *        file names when present. The caller runs as the mailbox owner.
 */
#include "virtual.h"
#include "alloc.h"
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>

/* Parses a non-negative decimal number filling the whole of s. */
static bool virtual_parse_ll(const char *s, size_t len, long long *out)
{
    long long v = 0;
    if (len == 0 || len > 18)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

long long virtual_quota_limit(long long global, const char *user, bool override, bool *bad)
{
    long long v;
    if (bad)
        *bad = false;
    if (user == NULL)
        return global;
    while (*user == ' ' || *user == '\t')
        user++;
    size_t n = strlen(user);
    while (n > 0 && (user[n - 1] == ' ' || user[n - 1] == '\t'))
        n--;
    if (!virtual_parse_ll(user, n, &v)) {
        if (bad)
            *bad = true;
        return global;
    }
    if (override)
        return v;
    /* Without override a per-user value may only tighten the limit. */
    if (v == 0)
        return global;
    if (global == 0 || v < global)
        return v;
    return global;
}

/* Parses a signed decimal number from [p, end). */
static bool virtual_parse_signed(const char *p, const char *end, long long *out)
{
    bool neg = false;
    if (p < end && (*p == '-' || *p == '+')) {
        neg = *p == '-';
        p++;
    }
    long long v;
    if (!virtual_parse_ll(p, (size_t)(end - p), &v))
        return false;
    *out = neg ? -v : v;
    return true;
}

int virtual_quota_parse(const char *text, size_t len, struct virtual_quota_file *q)
{
    const char *end = text + len, *p = text;
    memset(q, 0, sizeof(*q));
    q->quota_bytes = q->quota_count = -1;

    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl == NULL || nl == p)
        return -1;
    /* Quota line: items separated by commas. */
    for (const char *item = p; item < nl;) {
        const char *comma = memchr(item, ',', (size_t)(nl - item));
        const char *stop = comma ? comma : nl;
        long long v;
        if (stop - item < 2 || !virtual_parse_ll(item, (size_t)(stop - item - 1), &v))
            return -1;
        if (stop[-1] == 'S')
            q->quota_bytes = v;
        else if (stop[-1] == 'C')
            q->quota_count = v;
        else
            return -1;
        if (comma && comma + 1 == nl)
            return -1;      /* trailing comma */
        item = comma ? comma + 1 : nl;
    }
    /* Usage lines; every one must be complete (a line still being written
     * by another process makes the file untrustworthy for now). */
    for (p = nl + 1; p < end; p = nl + 1) {
        nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return -1;
        const char *s = p;
        while (s < nl && (*s == ' ' || *s == '\t'))
            s++;
        const char *e1 = s;
        while (e1 < nl && *e1 != ' ' && *e1 != '\t')
            e1++;
        const char *s2 = e1;
        while (s2 < nl && (*s2 == ' ' || *s2 == '\t'))
            s2++;
        const char *e2 = s2;
        while (e2 < nl && *e2 != ' ' && *e2 != '\t')
            e2++;
        const char *rest = e2;
        while (rest < nl && (*rest == ' ' || *rest == '\t'))
            rest++;
        long long b, c;
        if (rest != nl || !virtual_parse_signed(s, e1, &b) || !virtual_parse_signed(s2, e2, &c))
            return -1;
        q->used.bytes += b;
        q->used.count += c;
        q->lines++;
    }
    if (q->used.bytes < 0)
        q->used.bytes = 0;
    if (q->used.count < 0)
        q->used.count = 0;
    return 0;
}

void virtual_quota_format(struct sbuf *out, long long limit, const struct virtual_usage *u)
{
    sbuf_printf(out, "%lldS\n%lld %lld\n", limit, u->bytes, u->count);
}

long long virtual_quota_name_size(const char *name)
{
    /* The size field sits after the unique part: "<unique>,S=<n>[,...][:2,FLAGS]". */
    const char *colon = strchr(name, ':');
    size_t n = colon ? (size_t)(colon - name) : strlen(name);
    for (size_t i = 0; i + 3 <= n; i++) {
        if (name[i] == ',' && name[i + 1] == 'S' && name[i + 2] == '=') {
            size_t j = i + 3;
            while (j < n && name[j] >= '0' && name[j] <= '9')
                j++;
            long long v;
            if (j < n && name[j] != ',')
                return -1;
            return virtual_parse_ll(name + i + 3, j - i - 3, &v) ? v : -1;
        }
    }
    return -1;
}

/* Adds the messages of one new/ or cur/ directory. Missing is fine. */
static int virtual_scan_one(const char *dir, struct virtual_usage *u)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return errno == ENOENT ? 0 : -1;
    struct sbuf *path = sbuf_new(256);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        long long size = virtual_quota_name_size(e->d_name);
        if (size < 0) {
            struct stat st;
            sbuf_printf(path, "%s/%s", dir, e->d_name);
            if (lstat(sbuf_str(path), &st) < 0 || !S_ISREG(st.st_mode))
                continue;       /* gone meanwhile (read and moved) or not a message */
            size = (long long)st.st_size;
        }
        u->bytes += size;
        u->count++;
    }
    closedir(d);
    sbuf_free(path);
    return 0;
}

/* new/ and cur/ of one folder. */
static int virtual_scan_folder(const char *folder, struct virtual_usage *u)
{
    struct sbuf *p = sbuf_new(256);
    int r = 0;
    static const char *const subs[] = { "new", "cur" };
    for (size_t i = 0; r == 0 && i < ARRAY_LEN(subs); i++) {
        sbuf_printf(p, "%s/%s", folder, subs[i]);
        r = virtual_scan_one(sbuf_str(p), u);
    }
    sbuf_free(p);
    return r;
}

int virtual_quota_scan(const char *dir, bool count_trash, const char *trash_name,
                       struct virtual_usage *u)
{
    u->bytes = u->count = 0;
    if (virtual_scan_folder(dir, u) < 0)
        return -1;
    DIR *d = opendir(dir);
    if (d == NULL)
        return -1;
    struct sbuf *path = sbuf_new(256);
    struct dirent *e;
    int r = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.' || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (!count_trash && trash_name && strcmp(e->d_name, trash_name) == 0)
            continue;
        struct stat st;
        sbuf_printf(path, "%s/%s", dir, e->d_name);
        if (lstat(sbuf_str(path), &st) < 0 || !S_ISDIR(st.st_mode))
            continue;
        if (virtual_scan_folder(sbuf_str(path), u) < 0) {
            r = -1;
            break;
        }
    }
    int err = errno;
    closedir(d);
    sbuf_free(path);
    errno = err;
    return r;
}

bool virtual_quota_over(long long limit, const struct virtual_usage *u, long long size)
{
    if (limit <= 0)
        return false;
    return u->bytes + size > limit;
}

/* Reads dir/maildirsize into text (at most VIRTUAL_MAILDIRSIZE_READ_MAX).
 * 0, or -1 with errno (ENOENT: no file; EFBIG: too large). */
static int virtual_quota_slurp(const char *dir, struct sbuf *text)
{
    struct sbuf *path = sbuf_new(256);
    sbuf_printf(path, "%s/maildirsize", dir);
    int fd = open(sbuf_str(path), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    sbuf_free(path);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        errno = EINVAL;
        return -1;
    }
    sbuf_reset(text);
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) {
        if (sbuf_len(text) + (size_t)n > VIRTUAL_MAILDIRSIZE_READ_MAX) {
            close(fd);
            errno = EFBIG;
            return -1;
        }
        sbuf_append(text, buf, (size_t)n);
    }
    int err = errno;
    close(fd);
    if (n < 0) {
        errno = err;
        return -1;
    }
    return 0;
}

int virtual_quota_read(const char *dir, bool use_file, bool count_trash, const char *trash_name,
                       struct virtual_usage *u, bool *from_file)
{
    *from_file = false;
    if (use_file) {
        struct sbuf *text = sbuf_new(256);
        struct virtual_quota_file q;
        if (virtual_quota_slurp(dir, text) == 0
            && virtual_quota_parse(sbuf_str(text), sbuf_len(text), &q) == 0) {
            *u = q.used;
            *from_file = true;
            sbuf_free(text);
            return 0;
        }
        sbuf_free(text);
    }
    return virtual_quota_scan(dir, count_trash, trash_name, u);
}

/* Replaces dir/maildirsize with a fresh count. */
static int virtual_quota_rewrite(const char *dir, long long limit, bool count_trash,
                                 const char *trash_name, struct sbuf *why)
{
    struct virtual_usage u;
    if (virtual_quota_scan(dir, count_trash, trash_name, &u) < 0) {
        sbuf_printf(why, "count messages in %s: %s", dir, strerror(errno));
        return -1;
    }
    struct sbuf *text = sbuf_new(64), *tmp = sbuf_new(256), *fin = sbuf_new(256);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    virtual_quota_format(text, limit, &u);
    sbuf_printf(tmp, "%s/tmp/%ld.M%ldP%ld.maildirsize", dir, (long)tv.tv_sec, (long)tv.tv_usec,
                (long)getpid());
    sbuf_printf(fin, "%s/maildirsize", dir);
    int r = -1;
    int fd = open(sbuf_str(tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        sbuf_printf(why, "create %s: %s", sbuf_str(tmp), strerror(errno));
        goto out;
    }
    ssize_t w = write(fd, sbuf_str(text), sbuf_len(text));
    if (w != (ssize_t)sbuf_len(text) || close(fd) < 0) {
        sbuf_printf(why, "write %s: %s", sbuf_str(tmp), w < 0 ? strerror(errno) : "short write");
        if (w == (ssize_t)sbuf_len(text))
            fd = -1;
        else
            close(fd);
        unlink(sbuf_str(tmp));
        goto out;
    }
    if (rename(sbuf_str(tmp), sbuf_str(fin)) < 0) {
        sbuf_printf(why, "rename %s to %s: %s", sbuf_str(tmp), sbuf_str(fin), strerror(errno));
        unlink(sbuf_str(tmp));
        goto out;
    }
    r = 0;
out:
    sbuf_free(text);
    sbuf_free(tmp);
    sbuf_free(fin);
    return r;
}

int virtual_quota_update(const char *dir, long long limit, long long size, bool count_trash,
                         const char *trash_name, struct sbuf *why)
{
    struct sbuf *text = sbuf_new(256);
    struct virtual_quota_file q;
    bool append = virtual_quota_slurp(dir, text) == 0
                  && sbuf_len(text) + 32 <= VIRTUAL_MAILDIRSIZE_MAX
                  && virtual_quota_parse(sbuf_str(text), sbuf_len(text), &q) == 0
                  && q.quota_bytes == limit && q.quota_count < 0;
    sbuf_free(text);
    if (!append)
        return virtual_quota_rewrite(dir, limit, count_trash, trash_name, why);

    struct sbuf *path = sbuf_new(256), *line = sbuf_new(32);
    sbuf_printf(path, "%s/maildirsize", dir);
    sbuf_printf(line, "%lld 1\n", size);
    int r = 0;
    int fd = open(sbuf_str(path), O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0 || write(fd, sbuf_str(line), sbuf_len(line)) != (ssize_t)sbuf_len(line)) {
        sbuf_printf(why, "append to %s: %s", sbuf_str(path), strerror(errno));
        r = -1;
    }
    if (fd >= 0 && close(fd) < 0 && r == 0) {
        sbuf_printf(why, "close %s: %s", sbuf_str(path), strerror(errno));
        r = -1;
    }
    sbuf_free(path);
    sbuf_free(line);
    return r;
}
