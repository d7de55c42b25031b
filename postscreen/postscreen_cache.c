/*
 * postscreen_cache.c - postscreen_cache_map: clients that passed recently
 *
 * Used by: postscreen.c (lookup), postscreen_early.c (store).
 * Interface: ps_cache_init(), ps_cache_start(), ps_cache_todo(),
 *            ps_cache_pass(), ps_cache_pass_deep().
 * Errors: a cache file that cannot be read at start is logged and the
 *         cache starts empty; one that cannot be written is logged and
 *         kept in memory. A map type other than btree:/hash: is fatal.
 * Notes: the value for a client address is "GREET;DNSBL;PIPE;NSMTP;BARELF",
 *        the time (seconds since the epoch) until which each test's pass
 *        stays valid (Postfix's layout; 0: never passed). The cache lives in memory and, as verify(8) keeps
 *        its cache, in Postern's own indexed file (NAME.db of the btree: or
 *        hash: map; docs/table-format.md) that is loaded at start and
 *        rewritten atomically at most once a second after a change. An entry
 *        is dropped by the postscreen_cache_cleanup_interval sweep once every
 *        one of its times is postscreen_cache_retention_time in the past.
 *        Chrooted (master.cf chroot = y) the file usually lies outside the
 *        jail ($data_directory): a descriptor of its directory is opened
 *        before the chroot and each save fchdir()s there and back, as
 *        Postfix keeps its cache database open across the chroot.
 */
#include "postscreen.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "dict_db.h"
#include "events.h"
#include "log.h"
#include "params.h"
#include <fcntl.h>
#include <time.h>

static struct dict_db_builder *ps_cache;
static char *ps_cache_name;      /* file name in its directory, NULL: memory only */
static char *ps_cache_shown;     /* the path for log lines */
static int ps_cache_dirfd = -1;
static bool ps_cache_dirty;

void ps_cache_init(void)
{
    const char *spec = cfg_str(P_POSTSCREEN_CACHE_MAP);
    ps_cache = dict_db_builder_new();
    if (*spec == 0)
        return;
    struct sbuf *type = sbuf_new(16);
    const char *name = dict_split_spec(spec, type);
    if (name && strncmp(spec, "proxy:", 6) == 0)
        name = dict_split_spec(spec + 6, type);
    if (name == NULL || *name != '/'
        || (strcmp(sbuf_str(type), "btree") != 0 && strcmp(sbuf_str(type), "hash") != 0))
        log_fatal("%s = %s: Postern keeps this cache only in a btree: or hash: file named "
                  "by an absolute path (or, with an empty value, in memory)",
                  P_POSTSCREEN_CACHE_MAP, spec);
    sbuf_free(type);
    struct sbuf *p = sbuf_new(128);
    sbuf_printf(p, "%s.db", name);
    ps_cache_shown = sbuf_detach(p);
    const char *slash = strrchr(ps_cache_shown, '/');
    char *dir = xstrndup(ps_cache_shown, (size_t)(slash - ps_cache_shown));
    ps_cache_name = xstrdup(slash + 1);
    ps_cache_dirfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (ps_cache_dirfd < 0)
        log_fatal("%s: open directory %s: %m", P_POSTSCREEN_CACHE_MAP, dir);
    xfree(dir);
    if (access(ps_cache_shown, F_OK) == 0) {
        struct sbuf *err = sbuf_new(64);
        struct dict_db *db = dict_db_open(ps_cache_shown, err);
        if (db == NULL)
            log_warn("postscreen cache %s: %s; starting with an empty cache", ps_cache_shown,
                     sbuf_str(err));
        else {
            dict_db_builder_load_db(ps_cache, db);
            dict_db_close(db);
        }
        sbuf_free(err);
    }
}

static void ps_cache_save(void *ctx)
{
    (void)ctx;
    if (ps_cache_name == NULL || !ps_cache_dirty)
        return;
    ps_cache_dirty = false;
    int here = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (here < 0 || fchdir(ps_cache_dirfd) < 0) {
        log_warn("postscreen cache %s: cannot reach its directory: %m", ps_cache_shown);
    } else {
        if (dict_db_builder_write(ps_cache, ps_cache_name, 0, 0600, (uid_t)-1, (gid_t)-1) < 0)
            log_warn("cannot update the postscreen cache %s", ps_cache_shown);
        if (fchdir(here) < 0)
            log_fatal("fchdir back from the cache directory: %m");
    }
    if (here >= 0)
        close(here);
}

/* Parses "a;b;c;d;e" into t[5]; false when malformed. */
static bool ps_cache_parse(const char *v, long t[5])
{
    for (int i = 0; i < 5; i++) {
        char *end;
        errno = 0;
        t[i] = strtol(v, &end, 10);
        if (end == v || errno || (i < 4 && *end != ';') || (i == 4 && *end != 0))
            return false;
        v = end + (i < 4);
    }
    return true;
}

struct ps_sweep {
    char **keys;
    size_t n;
    long now;
};

static int ps_cache_sweep_one(const char *key, const char *value, void *ctx)
{
    struct ps_sweep *sw = ctx;
    long t[5];
    bool keep = false;
    if (ps_cache_parse(value, t))
        for (int i = 0; i < 5; i++)
            keep |= t[i] + ps_cfg.cache_retention > sw->now;
    if (!keep) {
        sw->keys = xrealloc(sw->keys, (sw->n + 1) * sizeof(*sw->keys));
        sw->keys[sw->n++] = xstrdup(key);
    }
    return 0;
}

static void ps_cache_cleanup(void *ctx)
{
    struct ps_sweep sw = { .now = (long)time(NULL) };
    dict_db_builder_walk(ps_cache, ps_cache_sweep_one, &sw);
    for (size_t i = 0; i < sw.n; i++) {
        dict_db_builder_delete(ps_cache, sw.keys[i]);
        xfree(sw.keys[i]);
    }
    xfree(sw.keys);
    log_info("cache %s full cleanup: retained=%zu dropped=%zu entries",
             ps_cache_shown ? ps_cache_shown : "(memory)", dict_db_builder_count(ps_cache), sw.n);
    if (sw.n > 0) {
        ps_cache_dirty = true;
        ps_cache_save(NULL);
    }
    if (ps_cfg.cache_cleanup > 0)
        event_timer_add((double)ps_cfg.cache_cleanup, ps_cache_cleanup, ctx);
}

void ps_cache_start(void)
{
    ps_cfg.cache_retention = cfg_time(P_POSTSCREEN_CACHE_RETENTION_TIME);
    ps_cfg.cache_cleanup = cfg_time(P_POSTSCREEN_CACHE_CLEANUP_INTERVAL);
    if (ps_cfg.cache_cleanup > 0)
        event_timer_add((double)ps_cfg.cache_cleanup, ps_cache_cleanup, NULL);
}

unsigned ps_cache_todo(const char *addr)
{
    const char *v = dict_db_builder_get(ps_cache, addr);
    long t[5], now = (long)time(NULL);
    unsigned todo = PS_T_GREET | (ps_cfg.nsites > 0 ? PS_T_DNSBL : 0) | ps_cfg.deep_enabled;
    if (v == NULL || !ps_cache_parse(v, t))
        return todo;
    static const unsigned bit[5] = { PS_T_GREET, PS_T_DNSBL, PS_T_PIPE, PS_T_NSMTP,
                                     PS_T_BARELF };
    for (int i = 0; i < 5; i++)
        if (t[i] > now)
            todo &= ~bit[i];
    return todo;
}

/* Stores t[] for addr and schedules a save. */
static void ps_cache_store(const char *addr, const long t[5])
{
    struct sbuf *v = sbuf_new(64);
    sbuf_printf(v, "%ld;%ld;%ld;%ld;%ld", t[0], t[1], t[2], t[3], t[4]);
    dict_db_builder_add(ps_cache, addr, sbuf_str(v), true);
    sbuf_free(v);
    if (ps_cache_name && !ps_cache_dirty) {
        ps_cache_dirty = true;
        event_timer_add(1.0, ps_cache_save, NULL);
    }
}

/* The entry for addr, or all zeros. */
static void ps_cache_get(const char *addr, long t[5])
{
    const char *v = dict_db_builder_get(ps_cache, addr);
    if (v == NULL || !ps_cache_parse(v, t))
        memset(t, 0, 5 * sizeof(*t));
}

void ps_cache_pass(const char *addr, long dnsbl_ttl)
{
    long t[5], now = (long)time(NULL);
    ps_cache_get(addr, t);
    t[0] = now + ps_cfg.greet_ttl;
    t[1] = ps_cfg.nsites > 0 ? now + dnsbl_ttl : now + ps_cfg.greet_ttl;
    ps_cache_store(addr, t);
}

void ps_cache_pass_deep(const char *addr)
{
    long t[5], now = (long)time(NULL);
    ps_cache_get(addr, t);
    if (ps_cfg.deep_enabled & PS_T_PIPE)
        t[2] = now + ps_cfg.pipe_ttl;
    if (ps_cfg.deep_enabled & PS_T_NSMTP)
        t[3] = now + ps_cfg.nsmtp_ttl;
    if (ps_cfg.deep_enabled & PS_T_BARELF)
        t[4] = now + ps_cfg.barelf_ttl;
    ps_cache_store(addr, t);
}
