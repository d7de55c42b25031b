/*
 * dict_priv.h - what the table types share with dict.c (not for callers)
 *
 * Used by: dict.c and the dict_*.c table types only.
 * Interface: struct dict, struct dict_type, the dict_type_* descriptors,
 *            dict_pattern_*() (the regexp/pcre file parser), dict_set_result().
 * Notes: a table type fills in d->impl in its open function and returns 0,
 *        or logs "type:name: reason" and returns -1. Lookups set d->error
 *        on a temporary failure and return NULL.
 */
#ifndef POSTERN_DICT_PRIV_H
#define POSTERN_DICT_PRIV_H
#include "sys_compat.h"
#include "sbuf.h"
#include "dict.h"

struct dict;

struct dict_type {
    const char *name;
    int flags;                          /* DICT_F_FIXED or DICT_F_PATTERN */
    /* name is the part after "type:"; returns 0 or -1 after logging */
    int (*open)(struct dict *d, const char *name);
    const char *(*lookup)(struct dict *d, const char *key);
    /* may be NULL when the type cannot list its entries */
    int (*sequence)(struct dict *d, dict_walk_fn fn, void *ctx);
    void (*close)(struct dict *d);
};

struct dict {
    char *spec;                         /* "type:name" as opened (with proxy:) */
    const struct dict_type *type;
    int flags;
    int error;
    struct sbuf *keybuf;                /* folded copy of the key */
    struct sbuf *result;                /* owned result for types that build one */
    void *impl;
};

extern const struct dict_type dict_type_hash, dict_type_btree, dict_type_texthash,
    dict_type_static, dict_type_inline, dict_type_fail, dict_type_unix, dict_type_regexp,
    dict_type_pcre, dict_type_cidr, dict_type_mysql;

/* ---- regexp and pcre share one file syntax (dict_pattern.c) ---- */

#define DICT_PAT_NSUB 10                /* $0..$9 */

struct dict_pat_match {
    int so[DICT_PAT_NSUB];              /* -1 when the group did not take part */
    int eo[DICT_PAT_NSUB];
};

struct dict_pat_engine {
    const char *label;                  /* "regexp" or "pcre" for messages */
    /* Compiles pattern with flag letters; returns new compiled object or NULL
     * with a reason in err. *nsub gets the number of capture groups. */
    void *(*compile)(const char *pattern, const char *flags, struct sbuf *err, int *nsub);
    /* 1 match (m filled), 0 no match, -1 match error (logged). */
    int (*match)(void *re, const char *subject, struct dict_pat_match *m);
    void (*free)(void *re);
};

struct dict_pat_table;

/* Reads a regexp/pcre table file; bad lines are logged "file:line: what"
 * and skipped. Returns new, or NULL when the file cannot be read. */
struct dict_pat_table *dict_pattern_load(const char *path, const struct dict_pat_engine *eng);
/* First matching rule's result with $n substituted into out. 1/0/-1. */
int dict_pattern_lookup(struct dict_pat_table *t, const char *key, struct sbuf *out);

struct dynlib;
/* Loads the library a table type needs (dynlib.h) at the table's open;
 * 0, or -1 after logging "SPEC: why". */
int dict_dynlib_load(struct dict *d, struct dynlib *lib);
void dict_pattern_free(struct dict_pat_table *t);

#endif
