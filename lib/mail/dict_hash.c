/*
 * dict_hash.c - hash: and btree: tables (Postern's indexed NAME.db file)
 *
 * Used by: dict.c (type table).
 * Interface: dict_type_hash, dict_type_btree.
 * Errors: a missing or corrupt NAME.db makes the open fail ("type:name:
 *         reason"). When the file is replaced by a bad one later, the old
 *         mapping keeps answering and a warning is logged.
 * Notes: "hash:/etc/postfix/x" reads /etc/postfix/x.db. Each lookup does
 *        one stat() and re-opens the file when postmap has replaced it.
 */
#include "dict.h"
#include "dict_priv.h"
#include "dict_db.h"
#include "alloc.h"
#include "log.h"

struct dict_hash {
    char *path;
    struct dict_db *db;
    bool warned;                /* about a bad replacement file */
};

static int dict_hash_open(struct dict *d, const char *name)
{
    struct sbuf *path = sbuf_new(128);
    struct sbuf *err = sbuf_new(128);

    sbuf_printf(path, "%s.db", name);
    struct dict_db *db = dict_db_open(sbuf_str(path), err);
    if (db == NULL) {
        log_warn("%s: %s", d->spec, sbuf_str(err));
        sbuf_free(path);
        sbuf_free(err);
        return -1;
    }
    sbuf_free(err);
    struct dict_hash *h = xcalloc(1, sizeof(*h));
    h->path = sbuf_detach(path);
    h->db = db;
    d->impl = h;
    return 0;
}

/* Switches to a rebuilt file; keeps the old one when the new is unusable. */
static void dict_hash_refresh(struct dict *d, struct dict_hash *h)
{
    if (!dict_db_changed(h->db))
        return;
    struct sbuf *err = sbuf_new(128);
    struct dict_db *db = dict_db_open(h->path, err);
    if (db != NULL) {
        dict_db_close(h->db);
        h->db = db;
        h->warned = false;
        log_debug(1, "%s: re-opened %s", d->spec, h->path);
    } else if (!h->warned) {
        log_warn("%s: %s; still using the previous version", d->spec, sbuf_str(err));
        h->warned = true;
    }
    sbuf_free(err);
}

static const char *dict_hash_lookup(struct dict *d, const char *key)
{
    struct dict_hash *h = d->impl;
    const char *val;

    dict_hash_refresh(d, h);
    if (dict_db_get(h->db, key, strlen(key), &val))
        return val;
    return NULL;
}

static int dict_hash_sequence(struct dict *d, dict_walk_fn fn, void *ctx)
{
    struct dict_hash *h = d->impl;
    const char *k, *v;

    dict_hash_refresh(d, h);
    for (size_t i = 0; i < dict_db_count(h->db); i++) {
        dict_db_entry(h->db, i, &k, &v);
        if (fn(k, v, ctx) != 0)
            break;
    }
    return 0;
}

static void dict_hash_close(struct dict *d)
{
    struct dict_hash *h = d->impl;
    dict_db_close(h->db);
    xfree(h->path);
    xfree(h);
}

const struct dict_type dict_type_hash = {
    "hash", DICT_F_FIXED, dict_hash_open, dict_hash_lookup, dict_hash_sequence, dict_hash_close,
};
const struct dict_type dict_type_btree = {
    "btree", DICT_F_FIXED, dict_hash_open, dict_hash_lookup, dict_hash_sequence, dict_hash_close,
};
