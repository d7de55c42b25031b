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
 *        stays valid (Postfix's layout; 0: never passed). The cache lives in
 *        memory and, as verify(8) keeps its cache, in Postern's own indexed
 *        file (lib/mail/dict_cache.c: NAME.db of the btree: or hash: map,
 *        loaded at start, rewritten atomically at most once a second after a
 *        change). An entry is dropped by the postscreen_cache_cleanup_interval
 *        sweep once every one of its times is postscreen_cache_retention_time
 *        in the past. Chrooted (master.cf chroot = y) the file usually lies
 *        outside the jail ($data_directory): dict_cache opens its directory
 *        before the chroot (ps_cache_init), as Postfix keeps its cache
 *        database open across the chroot, and reads the file through it
 *        once unprivileged (ps_cache_start).
 */
#include "postscreen.h"
#include "alloc.h"
#include "config.h"
#include "dict_cache.h"
#include "events.h"
#include "log.h"
#include "params.h"
#include <time.h>

static struct dict_cache *ps_cache;

void ps_cache_init(void)
{
    ps_cache = dict_cache_open(P_POSTSCREEN_CACHE_MAP, cfg_str(P_POSTSCREEN_CACHE_MAP),
                               "postscreen cache", true);
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

/* An entry stays while one of its passes is within the retention time. */
static bool ps_cache_keep(const char *key, const char *value, void *ctx)
{
    (void)key;
    long t[5], now = *(long *)ctx;
    bool keep = false;
    if (ps_cache_parse(value, t))
        for (int i = 0; i < 5; i++)
            keep |= t[i] + ps_cfg.cache_retention > now;
    return keep;
}

static void ps_cache_cleanup(void *ctx)
{
    long now = (long)time(NULL);
    dict_cache_sweep(ps_cache, ps_cache_keep, &now);
    if (ps_cfg.cache_cleanup > 0)
        event_timer_add((double)ps_cfg.cache_cleanup, ps_cache_cleanup, ctx);
}

void ps_cache_flush(void)
{
    if (ps_cache)
        dict_cache_flush(ps_cache);
}

void ps_cache_start(void)
{
    dict_cache_load(ps_cache);
    ps_cfg.cache_retention = cfg_time(P_POSTSCREEN_CACHE_RETENTION_TIME);
    ps_cfg.cache_cleanup = cfg_time(P_POSTSCREEN_CACHE_CLEANUP_INTERVAL);
    if (ps_cfg.cache_cleanup > 0)
        event_timer_add((double)ps_cfg.cache_cleanup, ps_cache_cleanup, NULL);
}

unsigned ps_cache_todo(const char *addr)
{
    const char *v = dict_cache_get(ps_cache, addr);
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
    dict_cache_put(ps_cache, addr, sbuf_str(v));
    sbuf_free(v);
    dict_cache_changed(ps_cache);
}

/* The entry for addr, or all zeros. */
static void ps_cache_get(const char *addr, long t[5])
{
    const char *v = dict_cache_get(ps_cache, addr);
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
