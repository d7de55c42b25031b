/*
 * dict_db.c - read, build and write Postern's indexed table files
 *
 * Used by: hash:/btree: tables, texthash:, inline:, postmap, postalias.
 * Interface: see dict_db.h.
 * Errors: readers never trust the file: the header checksum, every offset,
 *         every length and the key order are checked at open, so lookups on
 *         an opened file cannot go out of bounds. Writers log and return -1.
 * Notes: all integers are little-endian. Layout (docs/table-format.md):
 *          0  magic "PSTRNDB\n"       8  u32 version   12 u32 flags
 *         16  u64 count              24  u64 index offset
 *         32  u64 file size          40  u64 data offset (64)
 *         48  u64 reserved (0)       56  u64 FNV-1a of bytes 0..55
 *        record: u32 key length, u32 value length, key, NUL, value, NUL.
 *        index: count u64 record offsets in ascending key order (bytewise).
 */
#include "dict_db.h"
#include "dict_file.h"
#include "dict.h"
#include "alloc.h"
#include "log.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* ---- little-endian helpers ---- */

static uint64_t db_get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t db_get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void db_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static void db_put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static uint64_t db_fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* Compares two byte strings: bytewise, a prefix sorts first. */
static int db_keycmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* ---- reader ---- */

struct db_ent {
    const char *key;
    size_t klen;
    const char *val;
};

struct dict_db {
    char *path;
    const unsigned char *map;
    size_t size;
    unsigned flags;
    size_t count;
    struct db_ent *ents;        /* decoded index, in key order */
    dev_t dev;
    ino_t ino;
    struct timespec mtime;
};

/* Checks the header and every record. Returns NULL or a reason. */
static const char *db_check(struct dict_db *db)
{
    const unsigned char *m = db->map;
    uint64_t size = db->size;

    if (size < DICT_DB_HEADER_SIZE)
        return "corrupt: file shorter than its header";
    if (memcmp(m, DICT_DB_MAGIC, 8) != 0)
        return "not a Postern table file (bad magic); rebuild it with postmap";
    if (db_get32(m + 8) != DICT_DB_VERSION)
        return "unsupported table file version; rebuild it with postmap";
    if (db_get64(m + 56) != db_fnv(m, 56))
        return "corrupt: header checksum mismatch";
    uint64_t count = db_get64(m + 16);
    uint64_t index = db_get64(m + 24);
    uint64_t fsize = db_get64(m + 32);
    uint64_t data = db_get64(m + 40);
    if (fsize != size)
        return "corrupt: file size differs from the header (truncated?)";
    if (data != DICT_DB_HEADER_SIZE || index < data || index > size)
        return "corrupt: bad data or index offset";
    if (count > (size - index) / 8 || index + count * 8 != size)
        return "corrupt: index does not fit the file";
    db->flags = db_get32(m + 12);
    db->count = (size_t)count;
    db->ents = xcalloc(db->count ? db->count : 1, sizeof(*db->ents));
    for (size_t i = 0; i < db->count; i++) {
        uint64_t off = db_get64(m + index + 8 * i);
        if (off < data || off > index || index - off < 10)
            return "corrupt: record offset out of range";
        uint64_t klen = db_get32(m + off);
        uint64_t vlen = db_get32(m + off + 4);
        if (klen + vlen + 10 > index - off)
            return "corrupt: record runs past the data area";
        const char *k = (const char *)m + off + 8;
        if (k[klen] != 0 || k[klen + 1 + vlen] != 0 || memchr(k, 0, klen) != NULL)
            return "corrupt: record is not terminated";
        db->ents[i].key = k;
        db->ents[i].klen = (size_t)klen;
        db->ents[i].val = k + klen + 1;
        if (i > 0 && db_keycmp(db->ents[i - 1].key, db->ents[i - 1].klen, k, klen) >= 0)
            return "corrupt: index is not in key order";
    }
    return NULL;
}

struct dict_db *dict_db_open(const char *path, struct sbuf *err)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        sbuf_printf(err, "open %s: %m", path);
        return NULL;
    }
    if (fstat(fd, &st) < 0) {
        sbuf_printf(err, "fstat %s: %m", path);
        close(fd);
        return NULL;
    }
    if (!S_ISREG(st.st_mode)) {
        sbuf_printf(err, "%s: not a regular file", path);
        close(fd);
        return NULL;
    }
    struct dict_db *db = xcalloc(1, sizeof(*db));
    db->path = xstrdup(path);
    db->size = (size_t)st.st_size;
    db->dev = st.st_dev;
    db->ino = st.st_ino;
    db->mtime = st.st_mtim;
    if (db->size > 0) {
        void *m = mmap(NULL, db->size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            sbuf_printf(err, "mmap %s: %m", path);
            close(fd);
            xfree(db->path);
            xfree(db);
            return NULL;
        }
        db->map = m;
    }
    close(fd);
    const char *why = db->map ? db_check(db) : "corrupt: empty file";
    if (why != NULL) {
        sbuf_printf(err, "%s: %s", path, why);
        dict_db_close(db);
        return NULL;
    }
    return db;
}

int dict_db_get(const struct dict_db *db, const char *key, size_t klen, const char **val)
{
    size_t lo = 0, hi = db->count;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = db_keycmp(key, klen, db->ents[mid].key, db->ents[mid].klen);
        if (c == 0) {
            *val = db->ents[mid].val;
            return 1;
        }
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return 0;
}

size_t dict_db_count(const struct dict_db *db)
{
    return db->count;
}

unsigned dict_db_flags(const struct dict_db *db)
{
    return db->flags;
}

void dict_db_entry(const struct dict_db *db, size_t i, const char **key, const char **val)
{
    *key = db->ents[i].key;
    *val = db->ents[i].val;
}

bool dict_db_changed(const struct dict_db *db)
{
    struct stat st;

    if (stat(db->path, &st) < 0)
        return true;
    return st.st_ino != db->ino || st.st_dev != db->dev || (size_t)st.st_size != db->size ||
           st.st_mtim.tv_sec != db->mtime.tv_sec || st.st_mtim.tv_nsec != db->mtime.tv_nsec;
}

void dict_db_close(struct dict_db *db)
{
    if (db == NULL)
        return;
    if (db->map)
        munmap((void *)db->map, db->size);
    xfree(db->ents);
    xfree(db->path);
    xfree(db);
}

/* ---- in-memory builder: open addressing over an entry array ---- */

struct bent {
    char *key;
    char *val;
    size_t klen;
    bool dead;
};

struct dict_db_builder {
    struct bent *ents;
    size_t nents, cap;
    size_t live;
    size_t *slots;              /* index+1 into ents; 0 = empty */
    size_t nslots;              /* power of two */
};

struct dict_db_builder *dict_db_builder_new(void)
{
    struct dict_db_builder *b = xcalloc(1, sizeof(*b));
    b->nslots = 64;
    b->slots = xcalloc(b->nslots, sizeof(*b->slots));
    return b;
}

void dict_db_builder_free(struct dict_db_builder *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->nents; i++) {
        xfree(b->ents[i].key);
        xfree(b->ents[i].val);
    }
    xfree(b->ents);
    xfree(b->slots);
    xfree(b);
}

/* Slot for key: the one holding it, or the empty one where it would go. */
static size_t builder_slot(const struct dict_db_builder *b, const char *key, size_t klen)
{
    size_t i = (size_t)db_fnv((const unsigned char *)key, klen) & (b->nslots - 1);
    while (b->slots[i] != 0) {
        const struct bent *e = &b->ents[b->slots[i] - 1];
        if (e->klen == klen && memcmp(e->key, key, klen) == 0)
            break;
        i = (i + 1) & (b->nslots - 1);
    }
    return i;
}

static void builder_grow(struct dict_db_builder *b)
{
    xfree(b->slots);
    b->nslots *= 2;
    b->slots = xcalloc(b->nslots, sizeof(*b->slots));
    for (size_t n = 0; n < b->nents; n++) {
        size_t i = builder_slot(b, b->ents[n].key, b->ents[n].klen);
        b->slots[i] = n + 1;
    }
}

int dict_db_builder_add(struct dict_db_builder *b, const char *key, const char *value,
                        bool replace)
{
    size_t klen = strlen(key);
    size_t i = builder_slot(b, key, klen);

    if (b->slots[i] != 0) {
        struct bent *e = &b->ents[b->slots[i] - 1];
        if (e->dead) {
            e->dead = false;
            b->live++;
            xfree(e->val);
            e->val = xstrdup(value);
            return 0;
        }
        if (replace) {
            xfree(e->val);
            e->val = xstrdup(value);
        }
        return 1;
    }
    if (b->nents == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 64;
        b->ents = xreallocarray(b->ents, b->cap, sizeof(*b->ents));
    }
    b->ents[b->nents] = (struct bent){ xstrdup(key), xstrdup(value), klen, false };
    b->slots[i] = ++b->nents;
    b->live++;
    if (b->nents * 2 > b->nslots)
        builder_grow(b);
    return 0;
}

int dict_db_builder_delete(struct dict_db_builder *b, const char *key)
{
    size_t i = builder_slot(b, key, strlen(key));
    if (b->slots[i] == 0 || b->ents[b->slots[i] - 1].dead)
        return 0;
    b->ents[b->slots[i] - 1].dead = true;
    b->live--;
    return 1;
}

const char *dict_db_builder_get(const struct dict_db_builder *b, const char *key)
{
    size_t i = builder_slot(b, key, strlen(key));
    if (b->slots[i] == 0 || b->ents[b->slots[i] - 1].dead)
        return NULL;
    return b->ents[b->slots[i] - 1].val;
}

size_t dict_db_builder_count(const struct dict_db_builder *b)
{
    return b->live;
}

static int builder_cmp(const void *x, const void *y)
{
    const struct bent *a = *(const struct bent *const *)x;
    const struct bent *c = *(const struct bent *const *)y;
    return db_keycmp(a->key, a->klen, c->key, c->klen);
}

/* Returns new array of live entries in key order (n in *np). */
static struct bent **builder_sorted(struct dict_db_builder *b, size_t *np)
{
    struct bent **v = xcalloc(b->live ? b->live : 1, sizeof(*v));
    size_t n = 0;
    for (size_t i = 0; i < b->nents; i++)
        if (!b->ents[i].dead)
            v[n++] = &b->ents[i];
    qsort(v, n, sizeof(*v), builder_cmp);
    *np = n;
    return v;
}

int dict_db_builder_walk(struct dict_db_builder *b,
                         int (*fn)(const char *key, const char *value, void *ctx), void *ctx)
{
    size_t n;
    struct bent **v = builder_sorted(b, &n);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++)
        rc = fn(v[i]->key, v[i]->val, ctx);
    xfree(v);
    return rc;
}

void dict_db_builder_load_db(struct dict_db_builder *b, const struct dict_db *db)
{
    for (size_t i = 0; i < db->count; i++)
        dict_db_builder_add(b, db->ents[i].key, db->ents[i].val, true);
}

static int db_fsync_dir(const char *path)
{
    char *copy = xstrdup(path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (fd >= 0) {
        rc = fsync(fd);
        close(fd);
    }
    xfree(copy);
    return rc;
}

int dict_db_builder_write(struct dict_db_builder *b, const char *path, unsigned flags,
                          mode_t mode, uid_t owner, gid_t group)
{
    size_t n;
    struct bent **v = builder_sorted(b, &n);
    struct sbuf *tmp = sbuf_new(256);
    unsigned char hdr[DICT_DB_HEADER_SIZE];
    uint64_t *offs = xcalloc(n ? n : 1, sizeof(*offs));
    uint64_t off = DICT_DB_HEADER_SIZE;
    FILE *fp = NULL;
    int fd = -1;
    bool created = false;

    sbuf_printf(tmp, "%s.tmpXXXXXX", path);
    if ((fd = mkstemp(sbuf_data(tmp))) < 0) {
        log_warn("create %s: %m", sbuf_str(tmp));
        goto fail;
    }
    created = true;
    if ((fp = fdopen(fd, "w")) == NULL) {
        log_warn("fdopen %s: %m", sbuf_str(tmp));
        goto fail;
    }
    memset(hdr, 0, sizeof(hdr));
    fwrite(hdr, 1, sizeof(hdr), fp);        /* placeholder, rewritten below */
    for (size_t i = 0; i < n; i++) {
        unsigned char lens[8];
        size_t vlen = strlen(v[i]->val);
        if (v[i]->klen > DICT_DB_KEY_MAX || vlen > DICT_DB_VALUE_MAX) {
            log_warn("%s: entry \"%.64s\" is too long; left out", path, v[i]->key);
            offs[i] = UINT64_MAX;
            continue;
        }
        offs[i] = off;
        db_put32(lens, (uint32_t)v[i]->klen);
        db_put32(lens + 4, (uint32_t)vlen);
        fwrite(lens, 1, 8, fp);
        fwrite(v[i]->key, 1, v[i]->klen + 1, fp);
        fwrite(v[i]->val, 1, vlen + 1, fp);
        off += 8 + v[i]->klen + 1 + vlen + 1;
    }
    uint64_t index = off;
    uint64_t count = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char o[8];
        if (offs[i] == UINT64_MAX)
            continue;
        db_put64(o, offs[i]);
        fwrite(o, 1, 8, fp);
        count++;
    }
    memcpy(hdr, DICT_DB_MAGIC, 8);
    db_put32(hdr + 8, DICT_DB_VERSION);
    db_put32(hdr + 12, flags);
    db_put64(hdr + 16, count);
    db_put64(hdr + 24, index);
    db_put64(hdr + 32, index + 8 * count);
    db_put64(hdr + 40, DICT_DB_HEADER_SIZE);
    db_put64(hdr + 48, 0);
    db_put64(hdr + 56, db_fnv(hdr, 56));
    if (fflush(fp) != 0 || ferror(fp) || fseek(fp, 0, SEEK_SET) != 0 ||
        fwrite(hdr, 1, sizeof(hdr), fp) != sizeof(hdr) || fflush(fp) != 0) {
        log_warn("write %s: %m", sbuf_str(tmp));
        goto fail;
    }
    if (fchmod(fd, mode) < 0) {
        log_warn("chmod %s: %m", sbuf_str(tmp));
        goto fail;
    }
    if (owner != (uid_t)-1 && fchown(fd, owner, group) < 0) {
        log_warn("chown %s: %m", sbuf_str(tmp));
        goto fail;
    }
    if (fsync(fd) < 0) {
        log_warn("fsync %s: %m", sbuf_str(tmp));
        goto fail;
    }
    if (fclose(fp) != 0) {
        fp = NULL;
        log_warn("close %s: %m", sbuf_str(tmp));
        goto fail;
    }
    fp = NULL;
    fd = -1;
    if (rename(sbuf_str(tmp), path) < 0) {
        log_warn("rename %s to %s: %m", sbuf_str(tmp), path);
        goto fail;
    }
    (void)db_fsync_dir(path);
    sbuf_free(tmp);
    xfree(offs);
    xfree(v);
    return 0;

fail:
    if (fp)
        fclose(fp);
    else if (fd >= 0)
        close(fd);
    if (created)
        unlink(sbuf_str(tmp));
    sbuf_free(tmp);
    xfree(offs);
    xfree(v);
    return -1;
}

int dict_db_load_source(struct dict_db_builder *b, const char *path, unsigned how)
{
    struct dict_reader *r = dict_reader_open(path);
    struct sbuf *line, *key, *val, *why;
    int lineno, rc, bad_files = 0;
    const char *why_line;

    if (r == NULL) {
        log_warn("open %s: %m", path);
        return -1;
    }
    line = sbuf_new(256);
    key = sbuf_new(64);
    val = sbuf_new(128);
    why = sbuf_new(128);
    while ((rc = dict_reader_next(r, line, &lineno)) > 0) {
        if (dict_parse_entry(sbuf_str(line), (how & DICT_DB_SRC_ALIAS) != 0, key, val,
                             &why_line) < 0) {
            log_warn("%s:%d: %s -- ignoring this line", path, lineno, why_line);
            continue;
        }
        if ((how & DICT_DB_SRC_FILES) && dict_file_to_b64(sbuf_str(val), val, why) < 0) {
            log_warn("%s:%d: %s", path, lineno, sbuf_str(why));
            bad_files++;
            continue;
        }
        if (sbuf_len(key) > DICT_DB_KEY_MAX || sbuf_len(val) > DICT_DB_VALUE_MAX) {
            log_warn("%s:%d: key or value too long -- ignoring this line", path, lineno);
            continue;
        }
        if (how & DICT_DB_SRC_FOLD)
            dict_fold(sbuf_data(key));
        if (dict_db_builder_add(b, sbuf_str(key), sbuf_str(val), (how & DICT_DB_SRC_REPLACE) != 0)
                == 1 && !(how & DICT_DB_SRC_QUIET_DUPS))
            log_warn("%s:%d: duplicate entry: \"%s\"", path, lineno, sbuf_str(key));
    }
    if (rc < 0)
        log_warn("read %s: %m", path);
    dict_reader_close(r);
    sbuf_free(line);
    sbuf_free(key);
    sbuf_free(val);
    sbuf_free(why);
    return rc < 0 || bad_files > 0 ? -1 : 0;
}

int dict_db_lock(const char *path)
{
    for (int tries = 0; tries < 100; tries++) {
        struct stat a, b;
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return -1;
        if (flock(fd, LOCK_EX) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            return -1;
        }
        /* Someone may have renamed a new file into place while we waited. */
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev)
            return fd;
        close(fd);
    }
    errno = EAGAIN;
    return -1;
}
