/*
 * dict_db_fuzz.c - libFuzzer target: the NAME.db reader (hash:/btree:)
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: a .db file may be replaced by anyone who can write the table's
 *        directory and is mapped by daemons, so the reader must refuse any
 *        inconsistent file instead of reading out of bounds. Random bytes
 *        would almost never pass the header checks (magic, version, stored
 *        size, FNV-1a checksum), so when the input is at least a header long
 *        those fields are patched to be right before the file is written;
 *        everything behind the header stays as the fuzzer made it. When the
 *        reader accepts the file, every entry must be found again by key,
 *        in ascending order, and the hash: table type and its walk are
 *        exercised too.
 */
#include "fuzz_common.h"
#include "dict.h"
#include "dict_db.h"
#include "sbuf.h"

static uint64_t dict_db_fuzz_fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 14695981039346656037ULL;

    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static void dict_db_fuzz_put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++, v >>= 8)
        p[i] = (unsigned char)v;
}

static int dict_db_fuzz_walk(const char *key, const char *value, void *ctx)
{
    size_t *n = ctx;

    if (key == NULL || value == NULL)
        abort();
    (*n)++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    unsigned char *buf = xmalloc(size ? size : 1);

    fuzz_init();
    if (size)
        memcpy(buf, data, size);
    if (size >= DICT_DB_HEADER_SIZE) {
        memcpy(buf, DICT_DB_MAGIC, 8);
        buf[8] = DICT_DB_VERSION;
        buf[9] = buf[10] = buf[11] = 0;
        dict_db_fuzz_put64(buf + 32, size);
        dict_db_fuzz_put64(buf + 56, dict_db_fuzz_fnv(buf, 56));
    }
    fuzz_write_file("input.db", buf, size, path, sizeof(path));
    xfree(buf);

    struct sbuf *err = sbuf_new(64);
    struct dict_db *db = dict_db_open(path, err);

    if (db != NULL) {
        size_t n = dict_db_count(db);
        const char *prev = NULL;

        for (size_t i = 0; i < n; i++) {
            const char *key, *val, *found;

            dict_db_entry(db, i, &key, &val);
            if (key == NULL || val == NULL)
                abort();
            if (prev && strcmp(prev, key) >= 0)
                abort();            /* keys are unique and ascending */
            prev = key;
            if (dict_db_get(db, key, strlen(key), &found) != 1 || found != val)
                abort();
        }
        (void)dict_db_get(db, "postmaster", 10, &prev);
        (void)dict_db_get(db, "", 0, &prev);
        (void)dict_db_flags(db);
        (void)dict_db_changed(db);
        dict_db_close(db);

        /* The same file through the table layer. */
        struct sbuf *spec = sbuf_new(64);

        path[strlen(path) - 3] = 0;     /* hash:NAME opens NAME.db */
        sbuf_printf(spec, "hash:%s", path);
        struct dict *d = dict_open(sbuf_str(spec), DICT_F_FOLD);

        if (d == NULL)
            abort();                    /* dict_db_open accepted it a moment ago */
        size_t walked = 0;

        if (dict_sequence(d, dict_db_fuzz_walk, &walked) != 0 || walked != n)
            abort();
        (void)dict_lookup(d, "Root");
        (void)dict_lookup(d, "user@example.com");
        dict_close(d);
        sbuf_free(spec);
    } else if (sbuf_len(err) == 0) {
        abort();                        /* refused without a reason */
    }
    sbuf_free(err);
    return 0;
}
