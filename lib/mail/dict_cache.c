/*
 * dict_cache.c - a daemon's cache table kept in memory and saved to a file
 *
 * Used by: verify, postscreen.
 * Interface: see dict_cache.h.
 * Errors: see dict_cache.h.
 * Notes: see dict_cache.h; the write timer is lib/util/events'.
 */
#include "dict_cache.h"
#include "alloc.h"
#include "dict.h"
#include "dict_db.h"
#include "events.h"
#include "log.h"
#include "sbuf.h"
#include <fcntl.h>

/* Changes that arrive within this many seconds share one write. */
#define DICT_CACHE_WRITE_DELAY 1.0

struct dict_cache {
    struct dict_db_builder *db;
    char *what;                 /* for log lines */
    char *shown;                /* NAME.db as configured, NULL: memory only */
    char *file;                 /* its last component */
    int dirfd;                  /* its directory, opened before any chroot */
    bool dirty;
    dict_cache_keep_fn filter;
    void *filter_ctx;
};

/* Makes the cache file's directory the current one (the process may be
 * chrooted away from its path); returns the previous one to go back to,
 * or -1 (logged) when it cannot be reached. */
static int dict_cache_enter(const struct dict_cache *c)
{
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (here < 0 || fchdir(c->dirfd) < 0) {
        log_warn("%s %s: cannot reach its directory: %m", c->what, c->shown);
        if (here >= 0)
            close(here);
        return -1;
    }
    return here;
}

static void dict_cache_leave(const struct dict_cache *c, int here)
{
    if (fchdir(here) < 0)
        log_fatal("fchdir back from the directory of %s: %m", c->shown);
    close(here);
}

void dict_cache_load(struct dict_cache *c)
{
    int here;
    if (c->shown == NULL || (here = dict_cache_enter(c)) < 0)
        return;
    if (access(c->file, F_OK) == 0) {
        struct sbuf *err = sbuf_new(64);
        struct dict_db *db = dict_db_open(c->file, err);
        if (db == NULL) {
            log_warn("%s %s: %s; starting with an empty cache", c->what, c->shown, sbuf_str(err));
        } else {
            dict_db_builder_load_db(c->db, db);
            log_debug(1, "%s: %zu entries loaded", c->shown, dict_db_count(db));
            dict_db_close(db);
        }
        sbuf_free(err);
    }
    dict_cache_leave(c, here);
}

struct dict_cache *dict_cache_open(const char *param, const char *spec, const char *what,
                                   bool absolute)
{
    struct dict_cache *c = xcalloc(1, sizeof(*c));
    c->db = dict_db_builder_new();
    c->what = xstrdup(what);
    c->dirfd = -1;
    if (*spec == 0)
        return c;
    struct sbuf *type = sbuf_new(16);
    const char *name = dict_split_spec(spec, type);
    if (name && strncmp(spec, "proxy:", 6) == 0)
        name = dict_split_spec(spec + 6, type);
    if (name == NULL || *name == 0 || (absolute && *name != '/')
        || (strcmp(sbuf_str(type), "btree") != 0 && strcmp(sbuf_str(type), "hash") != 0))
        log_fatal("%s = %s: Postern keeps this cache only in a btree: or hash: file%s (or, "
                  "with an empty value, in memory)", param, spec,
                  absolute ? " named by an absolute path" : "");
    sbuf_free(type);
    struct sbuf *p = sbuf_new(128);
    sbuf_printf(p, "%s.db", name);
    c->shown = sbuf_detach(p);
    const char *slash = strrchr(c->shown, '/');
    char *dir = slash ? xstrndup(c->shown, (size_t)(slash - c->shown)) : xstrdup(".");
    c->file = xstrdup(slash ? slash + 1 : c->shown);
    c->dirfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (c->dirfd < 0)
        log_fatal("%s: open directory %s: %m", param, dir);
    xfree(dir);
    return c;
}

const char *dict_cache_get(const struct dict_cache *c, const char *key)
{
    return dict_db_builder_get(c->db, key);
}

void dict_cache_put(struct dict_cache *c, const char *key, const char *value)
{
    dict_db_builder_add(c->db, key, value, true);
}

void dict_cache_delete(struct dict_cache *c, const char *key)
{
    dict_db_builder_delete(c->db, key);
}

size_t dict_cache_count(const struct dict_cache *c)
{
    return dict_db_builder_count(c->db);
}

void dict_cache_set_filter(struct dict_cache *c, dict_cache_keep_fn keep, void *ctx)
{
    c->filter = keep;
    c->filter_ctx = ctx;
}

struct dict_cache_copy {
    struct dict_cache *c;
    struct dict_db_builder *out;
};

static int dict_cache_copy_kept(const char *key, const char *value, void *ctx)
{
    struct dict_cache_copy *cp = ctx;
    if (cp->c->filter(key, value, cp->c->filter_ctx))
        dict_db_builder_add(cp->out, key, value, true);
    return 0;
}

/* Writes the file (in its directory, reached through dirfd). */
static void dict_cache_write(struct dict_cache *c)
{
    struct dict_db_builder *out = c->db;
    if (c->filter) {
        struct dict_cache_copy cp = { c, dict_db_builder_new() };
        dict_db_builder_walk(c->db, dict_cache_copy_kept, &cp);
        out = cp.out;
    }
    int here = dict_cache_enter(c);
    if (here >= 0) {
        if (dict_db_builder_write(out, c->file, 0, 0600, (uid_t)-1, (gid_t)-1) < 0)
            log_warn("cannot update the %s %s", c->what, c->shown);
        dict_cache_leave(c, here);
    }
    if (out != c->db)
        dict_db_builder_free(out);
}

static void dict_cache_timer(void *ctx)
{
    dict_cache_flush(ctx);
}

void dict_cache_changed(struct dict_cache *c)
{
    if (c->shown == NULL || c->dirty)
        return;
    c->dirty = true;
    event_timer_add(DICT_CACHE_WRITE_DELAY, dict_cache_timer, c);
}

void dict_cache_flush(struct dict_cache *c)
{
    if (c->shown == NULL || !c->dirty)
        return;
    c->dirty = false;
    event_timer_del(dict_cache_timer, c);
    dict_cache_write(c);
}

struct dict_cache_sweep {
    dict_cache_keep_fn keep;
    void *ctx;
    char **drop;
    size_t n, cap;
};

static int dict_cache_sweep_one(const char *key, const char *value, void *ctx)
{
    struct dict_cache_sweep *sw = ctx;
    if (!sw->keep(key, value, sw->ctx)) {
        if (sw->n == sw->cap) {
            sw->cap = sw->cap ? 2 * sw->cap : 64;
            sw->drop = xrealloc(sw->drop, sw->cap * sizeof(*sw->drop));
        }
        sw->drop[sw->n++] = xstrdup(key);
    }
    return 0;
}

size_t dict_cache_sweep(struct dict_cache *c, dict_cache_keep_fn keep, void *ctx)
{
    struct dict_cache_sweep sw = { keep, ctx, NULL, 0, 0 };
    dict_db_builder_walk(c->db, dict_cache_sweep_one, &sw);
    for (size_t i = 0; i < sw.n; i++) {
        dict_db_builder_delete(c->db, sw.drop[i]);
        xfree(sw.drop[i]);
    }
    xfree(sw.drop);
    log_info("cache %s full cleanup: retained=%zu dropped=%zu entries",
             c->shown ? c->shown : "(memory)", dict_db_builder_count(c->db), sw.n);
    if (sw.n > 0) {
        c->dirty = c->shown != NULL;
        dict_cache_flush(c);
    }
    return sw.n;
}
