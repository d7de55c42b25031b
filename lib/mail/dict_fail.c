/*
 * dict_fail.c - fail:name, every lookup is a temporary failure
 *
 * Used by: dict.c (type table); tests and sites that want mail to wait.
 * Interface: dict_type_fail.
 * Errors: every lookup returns NULL with DICT_ERR_RETRY.
 * Notes: the name is only a label.
 */
#include "dict.h"
#include "dict_priv.h"

static int dict_fail_open(struct dict *d, const char *name)
{
    UNUSED(d);
    UNUSED(name);
    return 0;
}

static const char *dict_fail_lookup(struct dict *d, const char *key)
{
    UNUSED(key);
    d->error = DICT_ERR_RETRY;
    return NULL;
}

static int dict_fail_sequence(struct dict *d, dict_walk_fn fn, void *ctx)
{
    UNUSED(fn);
    UNUSED(ctx);
    d->error = DICT_ERR_RETRY;
    return -1;
}

const struct dict_type dict_type_fail = {
    "fail", DICT_F_FIXED, dict_fail_open, dict_fail_lookup, dict_fail_sequence, NULL,
};
