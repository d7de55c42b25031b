/*
 * dict_cache.h - a daemon's cache table kept in memory and saved to a file
 *
 * Used by: verify (address_verify_map), postscreen (postscreen_cache_map).
 * Interface: dict_cache_open(), dict_cache_load(), dict_cache_get(), dict_cache_put(),
 *            dict_cache_delete(), dict_cache_count(), dict_cache_changed(),
 *            dict_cache_flush(), dict_cache_sweep(), dict_cache_set_filter().
 * Errors: a wrong map type is fatal (naming the parameter); a file that
 *         cannot be read at start is logged and the cache starts empty; one
 *         that cannot be written is logged and the cache kept in memory.
 * Notes: Postern's btree:/hash: files are built whole (docs/table-format.md),
 *        so the cache lives in a dict_db_builder, is loaded from NAME.db by
 *        dict_cache_load(), and written anew (atomically) at most once a
 *        second after changes (dict_cache_changed() arms an event timer),
 *        after a sweep that dropped something, and at dict_cache_flush().
 *        Only the directory is opened at dict_cache_open(), which a daemon
 *        calls before its chroot (pre_jail, as root: $data_directory, the
 *        usual place, lies outside the jail); loading and every write
 *        fchdir() there and back, after the privileges are dropped, so
 *        root never opens a file by a name mail_owner controls. An empty
 *        map value keeps the cache in memory only.
 */
#ifndef POSTERN_DICT_CACHE_H
#define POSTERN_DICT_CACHE_H
#include "sys_compat.h"

struct dict_cache;

/* Opens the cache named by spec, the value of param ("", "btree:/path",
 * "hash:path", with or without "proxy:"): checks the type and opens the
 * file's directory (fatal when that fails); what names it in log lines
 * ("address verification cache"). absolute: the path must be absolute. */
struct dict_cache *dict_cache_open(const char *param, const char *spec, const char *what,
                                   bool absolute);
/* Reads the file into memory (after the chroot and privilege drop); a
 * missing file is an empty cache, an unreadable one is logged. */
void dict_cache_load(struct dict_cache *c);
const char *dict_cache_get(const struct dict_cache *c, const char *key);
void dict_cache_put(struct dict_cache *c, const char *key, const char *value);
void dict_cache_delete(struct dict_cache *c, const char *key);
size_t dict_cache_count(const struct dict_cache *c);
/* Something changed: the file is written within a second. */
void dict_cache_changed(struct dict_cache *c);
/* Writes the file now if anything changed since the last write. */
void dict_cache_flush(struct dict_cache *c);
/* Drops every entry keep() refuses, logs "cache NAME full cleanup:
 * retained=N dropped=M entries" and writes the file when it dropped any. */
typedef bool (*dict_cache_keep_fn)(const char *key, const char *value, void *ctx);
size_t dict_cache_sweep(struct dict_cache *c, dict_cache_keep_fn keep, void *ctx);
/* Entries that keep() refuses stay in memory but are not written. */
void dict_cache_set_filter(struct dict_cache *c, dict_cache_keep_fn keep, void *ctx);

#endif
