/*
 * dict_texthash.c - texthash: a postmap source file read into memory
 *
 * Used by: dict.c (type table).
 * Interface: dict_type_texthash.
 * Errors: an unreadable file fails the open; bad lines are logged as
 *         "file:line: what" and skipped; duplicates keep the first value.
 * Notes: same syntax as postmap input ("key whitespace value"); opened with
 *        DICT_F_ALIAS it reads postalias syntax ("name: value"). The file is
 *        read once at open; keys are folded when DICT_F_FOLD is set. With
 *        DICT_F_RHS_FILE each value names files, read at open (dict_file.h).
 */
#include "dict.h"
#include "dict_priv.h"
#include "dict_db.h"
#include "alloc.h"
#include "log.h"

static int dict_texthash_open(struct dict *d, const char *name)
{
    struct dict_db_builder *b = dict_db_builder_new();

    unsigned how = ((d->flags & DICT_F_ALIAS) ? DICT_DB_SRC_ALIAS : 0)
                   | ((d->flags & DICT_F_FOLD) ? DICT_DB_SRC_FOLD : 0)
                   | ((d->flags & DICT_F_RHS_FILE) ? DICT_DB_SRC_FILES : 0);

    if (dict_db_load_source(b, name, how) < 0) {
        log_warn("%s: cannot read the table source file", d->spec);
        dict_db_builder_free(b);
        return -1;
    }
    d->impl = b;
    return 0;
}

static const char *dict_texthash_lookup(struct dict *d, const char *key)
{
    return dict_db_builder_get(d->impl, key);
}

static int dict_texthash_sequence(struct dict *d, dict_walk_fn fn, void *ctx)
{
    dict_db_builder_walk(d->impl, fn, ctx);
    return 0;
}

static void dict_texthash_close(struct dict *d)
{
    dict_db_builder_free(d->impl);
}

const struct dict_type dict_type_texthash = {
    "texthash", DICT_F_FIXED, dict_texthash_open, dict_texthash_lookup,
    dict_texthash_sequence, dict_texthash_close,
};
