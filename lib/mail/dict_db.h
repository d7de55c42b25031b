/*
 * dict_db.h - Postern's indexed table file (NAME.db for hash: and btree:)
 *
 * Used by: dict_hash.c (readers), dict_texthash.c and dict_inline.c (the
 *          in-memory builder), postmap and postalias (writers).
 * Interface: dict_db_open(), dict_db_get(), dict_db_count(), dict_db_entry(),
 *            dict_db_changed(), dict_db_close(); dict_db_builder_*();
 *            dict_db_lock(), dict_db_load_source(); dict_tool_main() (the
 *            postmap/postalias command, in dict_tool.c).
 * Errors: dict_db_open() rejects a file whose header, index or records do not
 *         check out (every offset and length is bounds-checked) and returns
 *         NULL with the reason; writers log and return -1.
 * Notes: format in docs/table-format.md: a 64-byte header (magic, version,
 *        flags, count, offsets, size, checksum), records, then an index of
 *        record offsets sorted by key; readers mmap the file and binary-search.
 */
#ifndef POSTERN_DICT_DB_H
#define POSTERN_DICT_DB_H
#include "sys_compat.h"
#include "sbuf.h"

#define DICT_DB_MAGIC "PSTRNDB\n"      /* 8 bytes */
#define DICT_DB_VERSION 1
#define DICT_DB_HEADER_SIZE 64
#define DICT_DB_F_FOLDED 0x1            /* keys were folded to lower case */
#define DICT_DB_F_ALIAS 0x2             /* built by postalias */
#define DICT_DB_KEY_MAX 4096            /* longest key a writer accepts */
#define DICT_DB_VALUE_MAX (1 << 20)     /* longest value a writer accepts */

struct dict_db;

/* Maps path read-only and checks it all. Returns new, or NULL with the
 * reason in err (errno text or "corrupt: ..."). */
struct dict_db *dict_db_open(const char *path, struct sbuf *err);
/* Finds key (klen bytes). Returns 1 and a borrowed NUL-terminated *val
 * (valid until dict_db_close), or 0. */
int dict_db_get(const struct dict_db *db, const char *key, size_t klen, const char **val);
size_t dict_db_count(const struct dict_db *db);
unsigned dict_db_flags(const struct dict_db *db);
/* Entry i in key order (borrowed). */
void dict_db_entry(const struct dict_db *db, size_t i, const char **key, const char **val);
/* True when the file at the opened path is no longer the one mapped
 * (rebuilt by postmap: other inode, size or mtime) or is gone. */
bool dict_db_changed(const struct dict_db *db);
void dict_db_close(struct dict_db *db);

/* In-memory table: built from a source file, then written out or queried. */
struct dict_db_builder;
struct dict_db_builder *dict_db_builder_new(void);
void dict_db_builder_free(struct dict_db_builder *b);
/* Adds key=value. When the key exists: replace it if replace is set, else
 * keep the old value. Returns 0 when added, 1 when the key was a duplicate. */
int dict_db_builder_add(struct dict_db_builder *b, const char *key, const char *value,
                        bool replace);
/* Removes key; returns 1 when it was there, 0 when not. */
int dict_db_builder_delete(struct dict_db_builder *b, const char *key);
/* Borrowed value for key, or NULL. */
const char *dict_db_builder_get(const struct dict_db_builder *b, const char *key);
size_t dict_db_builder_count(const struct dict_db_builder *b);
/* Calls fn for each live entry in key order; stops when fn returns non-zero. */
int dict_db_builder_walk(struct dict_db_builder *b,
                         int (*fn)(const char *key, const char *value, void *ctx), void *ctx);
/* Copies every entry of db into b (replacing). */
void dict_db_builder_load_db(struct dict_db_builder *b, const struct dict_db *db);
/* Writes the table to path atomically (temporary file in the same directory,
 * fsync, rename, fsync of the directory). mode is the file mode; when owner
 * is not (uid_t)-1 the file is given that owner and group. Returns 0, or -1
 * after logging. */
int dict_db_builder_write(struct dict_db_builder *b, const char *path, unsigned flags,
                          mode_t mode, uid_t owner, gid_t group);

/* How dict_db_load_source() reads a source file. */
#define DICT_DB_SRC_ALIAS 0x1       /* postalias format ("name: value") */
#define DICT_DB_SRC_FOLD 0x2        /* fold keys to lower case */
#define DICT_DB_SRC_REPLACE 0x4     /* a duplicate key replaces the earlier value */
#define DICT_DB_SRC_QUIET_DUPS 0x8  /* do not log duplicates */
#define DICT_DB_SRC_FILES 0x10      /* values name files: store their base64 (dict_file.h) */

/* Reads a table source file (postmap format, or postalias format with
 * DICT_DB_SRC_ALIAS) into b. Bad lines are logged as "file:line: what" and
 * skipped; duplicates are logged "file:line: duplicate entry: "key"" (unless
 * DICT_DB_SRC_QUIET_DUPS) and the first value kept, or the last one with
 * DICT_DB_SRC_REPLACE. Returns 0, or -1 when the file cannot be read or,
 * with DICT_DB_SRC_FILES, a file a value names cannot be (all logged). */
int dict_db_load_source(struct dict_db_builder *b, const char *path, unsigned how);

/* Opens and exclusively locks the existing file path for a read-modify-write
 * cycle (flock; retried when the file was replaced while we waited). Returns
 * the descriptor (close it to unlock, after the rename), or -1 with errno. */
int dict_db_lock(const char *path);

/* The whole of postmap (alias false) or postalias (alias true): options,
 * main.cf defaults, building, querying, listing and deleting (dict_tool.c).
 * Returns the exit status. */
int dict_tool_main(int argc, char **argv, bool alias);

#endif
