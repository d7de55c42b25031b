/*
 * dict.h - lookup tables named "type:name" (Postfix compatible)
 *
 * Used by: smtpd (access maps), cleanup (canonical, virtual alias), trivial-rewrite
 *          (transport, domains), local (aliases), postmap, postalias.
 * Interface: dict_open(), dict_lookup(), dict_close(), dict_error(),
 *            dict_set_open_fatal(), dict_types(), dict_sequence(), dict_type_of(),
 *            dict_reader_*()
 *            (logical lines of a table source file), dict_parse_entry();
 *            maps_*() in maps.h for lists of tables.
 * Errors: dict_open() returns NULL and logs "type:name: reason" when the table
 *         cannot be opened; dict_lookup() returns NULL with dict_error() set
 *         to DICT_ERR_RETRY on a temporary failure (database down), 0 when
 *         the key is simply not found.
 * Notes: types: hash, btree (Postern's indexed file NAME.db, built by postmap;
 *        see docs/table-format.md), texthash, static, inline, regexp, pcre,
 *        cidr, fail, unix (passwd.byname), mysql, proxy: (prefix). Keys are
 *        folded to lower case unless DICT_F_FOLD is cleared.
 */
#ifndef POSTERN_DICT_H
#define POSTERN_DICT_H
#include "sys_compat.h"

struct sbuf;

#define DICT_ERR_NONE 0
#define DICT_ERR_RETRY -1       /* temporary: try again later */
#define DICT_ERR_CONFIG -2      /* bad table: treat as temporary, log it */

#define DICT_F_FOLD 0x1         /* fold keys to lower case (default on) */
#define DICT_F_FIXED 0x2        /* table matches fixed strings (hash, mysql...) */
#define DICT_F_PATTERN 0x4      /* table matches patterns (regexp, pcre, cidr) */
#define DICT_F_ALIAS 0x8        /* opened as an alias database (postalias format) */
#define DICT_F_NO_PROXY 0x10    /* ignore a proxy: prefix: open the table here */
/* Values name files (tls_server_sni_maps): texthash: and inline: read the
 * files when the table is opened and answer with their base64, the form
 * postmap -F stores in hash: and btree: tables (dict_file.h). Other types
 * answer with what they hold, which must then be that base64. */
#define DICT_F_RHS_FILE 0x20

struct dict;

/* Opens "type:name". Returns new, or NULL after logging why. */
struct dict *dict_open(const char *spec, int flags);
/* daemon_table_open_error_is_fatal: when on, a table that dict_open()
 * cannot open ends the process with a fatal error instead of a NULL
 * return (the daemon skeleton sets it; commands keep the NULL). */
void dict_set_open_fatal(bool on);
/* Looks up key. Returns a borrowed value valid until the next lookup on this
 * dict, or NULL (not found, or dict_error() < 0). */
const char *dict_lookup(struct dict *d, const char *key);
int dict_error(const struct dict *d);
/* The "type:name" this dict was opened with (borrowed). */
const char *dict_name(const struct dict *d);
int dict_flags(const struct dict *d);
void dict_close(struct dict *d);
/* Space-separated list of supported types (postconf -m). */
const char *dict_types(void);

/* Calls fn for every entry in key order where the type can list its entries
 * (hash, btree, texthash, inline). fn returns 0 to go on, non-zero to stop.
 * Returns 0, or -1 when the type cannot be listed or the table is broken. */
typedef int (*dict_walk_fn)(const char *key, const char *value, void *ctx);
int dict_sequence(struct dict *d, dict_walk_fn fn, void *ctx);

/* The type of a "type:name" spec ("hash" for a bare path means the caller's
 * default); fills out with the type and returns the name part (borrowed from
 * spec), or NULL when spec has no "type:" prefix. proxy: is not stripped. */
const char *dict_split_spec(const char *spec, struct sbuf *type_out);

/* Longest logical line accepted in a table source file. */
#define DICT_LINE_MAX 65536

/* Logical lines of a table source file: '#' comment lines and blank lines
 * are skipped, a line that starts with white space continues the previous
 * one (appended as written), trailing white space is removed. */
struct dict_reader;
/* Returns new, or NULL with errno set. path "-" reads standard input. */
struct dict_reader *dict_reader_open(const char *path);
/* Fills line (replacing it) and *lineno (first physical line of the
 * logical line). Returns 1, 0 at end of file, -1 on a read error. A line
 * longer than DICT_LINE_MAX is logged and skipped. */
int dict_reader_next(struct dict_reader *r, struct sbuf *line, int *lineno);
void dict_reader_close(struct dict_reader *r);

/* Splits one logical line into key and value: "key whitespace value"
 * (postmap format) or, with alias set, "name: value" (postalias format; a
 * name may be quoted with "...": the key is then the name without the
 * quotes, a backslash taking the next character as it is). Returns 0, or
 * -1 with *why set to a static description of what is wrong. */
int dict_parse_entry(const char *line, bool alias, struct sbuf *key, struct sbuf *value,
                     const char **why);
/* Folds s to lower case in place (ASCII). */
void dict_fold(char *s);

#endif
