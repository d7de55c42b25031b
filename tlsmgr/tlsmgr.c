/*
 * tlsmgr.c - the tlsmgr service: TLS session caches shared by all smtpd
 *            and smtp/lmtp processes, session ticket keys, PRNG seeds
 *
 * Used by: master (`tlsmgr unix - - n 1000? 1 tlsmgr`); clients are smtpd
 *          and smtp/lmtp through lib/mail/tlsmgr_clnt.c.
 * Interface: main(); requests lookup, update, delete, tktkey and seed
 *            (docs/ipc.md "tlsmgr", lib/mail/tlsmgr_clnt.h).
 * Errors: a malformed request (bad cache type, an id or session over the
 *         limits in tlsmgr_clnt.h, bad hex) is logged and closes that
 *         client's connection; a lookup that finds nothing is status=1.
 * Notes: one resident SERVER_MULTI process. A cache type is enabled when
 *        its *_tls_session_cache_database is set and its
 *        *_tls_session_cache_timeout is not 0, as in Postfix. The entries
 *        live in this process's memory, not in the named database file:
 *        Postfix empties that file whenever tlsmgr starts, so a cache that
 *        ends with the process behaves the same; at most TLSMGR_ENTRIES
 *        sessions per type are kept (the one closest to expiry goes
 *        first). Ticket keys: a new key (random name, cipher key and
 *        HMAC key) encrypts for $smtpd_tls_session_cache_timeout and
 *        then still decrypts for as long again. Randomness is libsodium's
 *        (randombytes_buf), mixed with what $tls_random_source gives
 *        (dev:, file:; egd: is not supported and is logged) at start and
 *        every $tls_random_reseed_period; the pool is saved to
 *        $tls_random_exchange_name every $tls_random_prng_update_period
 *        and read back at start, as Postfix does with its PRNG file.
 */
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "params.h"
#include "sbuf.h"
#include "server.h"
#include "tlsmgr_clnt.h"
#include <fcntl.h>
#include <sodium.h>

#define TLSMGR_BUCKETS 1024
#define TLSMGR_ENTRIES 20000        /* sessions per cache type */
#define TLSMGR_KEYS 3               /* ticket keys kept */
#define TLSMGR_CIPHER_KEY_LEN 64    /* enough for any cipher (TLS_TKT_KEY_MAX) */
#define TLSMGR_POOL_LEN 32
#define TLSMGR_SOURCE_MAX 1024      /* bytes read from tls_random_source at once */

struct tlsmgr_entry {
    char *id;
    unsigned char *der;
    size_t len;
    time_t expires;
    struct tlsmgr_entry *next;
};

struct tlsmgr_cache {
    const char *type;               /* "smtpd", "smtp", "lmtp" */
    const char *db_param, *timeout_param;
    bool enabled;
    long timeout;
    size_t count;
    struct tlsmgr_entry *table[TLSMGR_BUCKETS];
};

static struct tlsmgr_cache tlsmgr_caches[] = {
    { .type = "smtpd",
      .db_param = P_SMTPD_TLS_SESSION_CACHE_DATABASE,
      .timeout_param = P_SMTPD_TLS_SESSION_CACHE_TIMEOUT },
    { .type = "smtp",
      .db_param = P_SMTP_TLS_SESSION_CACHE_DATABASE,
      .timeout_param = P_SMTP_TLS_SESSION_CACHE_TIMEOUT },
    { .type = "lmtp",
      .db_param = P_LMTP_TLS_SESSION_CACHE_DATABASE,
      .timeout_param = P_LMTP_TLS_SESSION_CACHE_TIMEOUT },
};
#define TLSMGR_NCACHES (sizeof(tlsmgr_caches) / sizeof(tlsmgr_caches[0]))

struct tlsmgr_key {
    struct tls_tktkey k;
    time_t dead;                    /* no longer decrypts after this */
};
static struct tlsmgr_key tlsmgr_keys[TLSMGR_KEYS]; /* [0] is the newest */
static size_t tlsmgr_nkeys;
static long tlsmgr_key_life;

static unsigned char tlsmgr_pool[TLSMGR_POOL_LEN];
static uint64_t tlsmgr_counter;
static struct attr_list *tlsmgr_req;

/* ---- randomness -------------------------------------------------------- */

/* Mixes len bytes into the pool (BLAKE2b keyed with the old pool). */
static void tlsmgr_pool_mix(const unsigned char *buf, size_t len)
{
    unsigned char fresh[TLSMGR_POOL_LEN];
    randombytes_buf(fresh, sizeof(fresh));
    crypto_generichash_state st;
    crypto_generichash_init(&st, tlsmgr_pool, sizeof(tlsmgr_pool), sizeof(tlsmgr_pool));
    crypto_generichash_update(&st, fresh, sizeof(fresh));
    if (buf && len)
        crypto_generichash_update(&st, buf, len);
    crypto_generichash_final(&st, tlsmgr_pool, sizeof(tlsmgr_pool));
    sodium_memzero(fresh, sizeof(fresh));
}

/* Fills out with len bytes: the pool and a counter through BLAKE2b,
 * mixed with fresh libsodium bytes. */
static void tlsmgr_random(unsigned char *out, size_t len)
{
    randombytes_buf(out, len);
    unsigned char block[64];
    for (size_t off = 0; off < len; off += sizeof(block)) {
        uint64_t n = ++tlsmgr_counter;
        crypto_generichash(block, sizeof(block), (const unsigned char *)&n, sizeof(n), tlsmgr_pool,
                           sizeof(tlsmgr_pool));
        for (size_t i = 0; i < sizeof(block) && off + i < len; i++)
            out[off + i] ^= block[i];
    }
    sodium_memzero(block, sizeof(block));
}

/* Reads up to max bytes from a file or device name into buf. */
static ssize_t tlsmgr_read_file(const char *path, unsigned char *buf, size_t max)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, max);
    close(fd);
    return n;
}

/* tls_random_source: "dev:/dev/urandom", "file:/path" (egd: is not
 * supported: libsodium alone then). */
static void tlsmgr_reseed(void *unused)
{
    (void)unused;
    const char *src = cfg_str(P_TLS_RANDOM_SOURCE);
    long want = cfg_long(P_TLS_RANDOM_BYTES);
    if (want <= 0)
        want = 32;
    if (want > TLSMGR_SOURCE_MAX)
        want = TLSMGR_SOURCE_MAX;
    unsigned char buf[TLSMGR_SOURCE_MAX];
    if (strncmp(src, "dev:", 4) == 0 || strncmp(src, "file:", 5) == 0) {
        const char *path = strchr(src, ':') + 1;
        ssize_t n = tlsmgr_read_file(path, buf, (size_t)want);
        if (n < 0)
            log_warn("cannot read %s %s: %m; using libsodium's generator alone",
                     P_TLS_RANDOM_SOURCE, path);
        else
            tlsmgr_pool_mix(buf, (size_t)n);
    } else if (*src) {
        static bool warned;
        if (!warned)
            log_warn("%s = %s: only dev: and file: sources are supported; "
                     "using libsodium's generator alone", P_TLS_RANDOM_SOURCE, src);
        warned = true;
        tlsmgr_pool_mix(NULL, 0);
    }
    sodium_memzero(buf, sizeof(buf));
    long period = cfg_time(P_TLS_RANDOM_RESEED_PERIOD);
    event_timer_add((double)(period > 0 ? period : 3600), tlsmgr_reseed, NULL);
}

/* Saves fresh output to the exchange file (read back at the next start). */
static void tlsmgr_exchange_save(void *unused)
{
    (void)unused;
    const char *name = cfg_str(P_TLS_RANDOM_EXCHANGE_NAME);
    if (*name) {
        unsigned char buf[TLSMGR_SOURCE_MAX];
        tlsmgr_random(buf, sizeof(buf));
        struct sbuf *tmp = sbuf_new(128);
        sbuf_printf(tmp, "%s.%ld", name, (long)getpid());
        int fd = open(sbuf_str(tmp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        bool ok = fd >= 0 && write(fd, buf, sizeof(buf)) == (ssize_t)sizeof(buf) && fsync(fd) == 0;
        if (fd >= 0 && close(fd) < 0)
            ok = false;
        if (!ok || rename(sbuf_str(tmp), name) < 0) {
            log_warn("cannot update %s %s: %m", P_TLS_RANDOM_EXCHANGE_NAME, name);
            unlink(sbuf_str(tmp));
        }
        sbuf_free(tmp);
        sodium_memzero(buf, sizeof(buf));
    }
    long period = cfg_time(P_TLS_RANDOM_PRNG_UPDATE_PERIOD);
    event_timer_add((double)(period > 0 ? period : 3600), tlsmgr_exchange_save, NULL);
}

/* ---- session caches ---------------------------------------------------- */

static unsigned tlsmgr_hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % TLSMGR_BUCKETS;
}

static struct tlsmgr_cache *tlsmgr_cache_find(const char *type)
{
    for (size_t i = 0; type && i < TLSMGR_NCACHES; i++)
        if (strcmp(tlsmgr_caches[i].type, type) == 0)
            return &tlsmgr_caches[i];
    return NULL;
}

static void tlsmgr_entry_free(struct tlsmgr_entry *e)
{
    sodium_memzero(e->der, e->len);
    xfree(e->der);
    xfree(e->id);
    xfree(e);
}

/* Unlinks and frees the entry *pp points at. */
static void tlsmgr_entry_drop(struct tlsmgr_cache *c, struct tlsmgr_entry **pp)
{
    struct tlsmgr_entry *e = *pp;
    *pp = e->next;
    tlsmgr_entry_free(e);
    c->count--;
}

/* Drops expired entries; with force, also the one closest to expiry. */
static void tlsmgr_cache_purge(struct tlsmgr_cache *c, time_t now, bool force)
{
    struct tlsmgr_entry **oldest = NULL;
    for (size_t b = 0; b < TLSMGR_BUCKETS; b++) {
        for (struct tlsmgr_entry **pp = &c->table[b]; *pp;) {
            if ((*pp)->expires <= now) {
                tlsmgr_entry_drop(c, pp);
                continue;
            }
            if (oldest == NULL || (*pp)->expires < (*oldest)->expires)
                oldest = pp;
            pp = &(*pp)->next;
        }
        /* A pointer into an earlier bucket stays valid: buckets already
         * walked are not changed again. */
    }
    if (force && oldest && c->count >= TLSMGR_ENTRIES)
        tlsmgr_entry_drop(c, oldest);
}

static struct tlsmgr_entry **tlsmgr_cache_slot(struct tlsmgr_cache *c, const char *id)
{
    struct tlsmgr_entry **pp = &c->table[tlsmgr_hash(id)];
    while (*pp && strcmp((*pp)->id, id) != 0)
        pp = &(*pp)->next;
    return pp;
}

static void tlsmgr_sweep(void *unused)
{
    (void)unused;
    time_t now = time(NULL);
    for (size_t i = 0; i < TLSMGR_NCACHES; i++)
        if (tlsmgr_caches[i].enabled)
            tlsmgr_cache_purge(&tlsmgr_caches[i], now, false);
    event_timer_add(300.0, tlsmgr_sweep, NULL);
}

/* ---- ticket keys ------------------------------------------------------- */

/* The key to encrypt with now: the newest, or a new one when it is
 * past its encryption lifetime. */
static const struct tls_tktkey *tlsmgr_key_current(time_t now)
{
    if (tlsmgr_nkeys > 0 && now < tlsmgr_keys[0].k.expires)
        return &tlsmgr_keys[0].k;
    sodium_memzero(&tlsmgr_keys[TLSMGR_KEYS - 1], sizeof(tlsmgr_keys[0]));
    memmove(tlsmgr_keys + 1, tlsmgr_keys, sizeof(tlsmgr_keys[0]) * (TLSMGR_KEYS - 1));
    struct tlsmgr_key *k = &tlsmgr_keys[0];
    memset(k, 0, sizeof(*k));
    tlsmgr_random(k->k.name, sizeof(k->k.name));
    tlsmgr_random(k->k.key, TLSMGR_CIPHER_KEY_LEN);
    k->k.key_len = TLSMGR_CIPHER_KEY_LEN;
    tlsmgr_random(k->k.hmac, sizeof(k->k.hmac));
    k->k.expires = now + tlsmgr_key_life;
    k->dead = now + 2 * tlsmgr_key_life;
    if (tlsmgr_nkeys < TLSMGR_KEYS)
        tlsmgr_nkeys++;
    log_debug(1, "new session ticket key");
    return &k->k;
}

static const struct tls_tktkey *tlsmgr_key_named(const unsigned char *name, time_t now)
{
    for (size_t i = 0; i < tlsmgr_nkeys; i++)
        if (memcmp(tlsmgr_keys[i].k.name, name, TLS_TKT_NAME_LEN) == 0)
            return now < tlsmgr_keys[i].dead ? &tlsmgr_keys[i].k : NULL;
    return NULL;
}

/* ---- requests ---------------------------------------------------------- */

static int tlsmgr_reply(struct stream *s, struct attr_list *out)
{
    int rc = attr_write(s, out);
    attr_list_free(out);
    return rc < 0 ? -1 : 0;
}

static int tlsmgr_status(struct stream *s, long status)
{
    struct attr_list *out = attr_list_new();
    attr_add_long(out, "status", status);
    return tlsmgr_reply(s, out);
}

/* cache_type and cache_id of a session request, checked; NULL with a
 * warning when malformed. */
static struct tlsmgr_cache *tlsmgr_session_args(const char **id)
{
    const char *type = attr_get(tlsmgr_req, "cache_type");
    *id = attr_get(tlsmgr_req, "cache_id");
    struct tlsmgr_cache *c = tlsmgr_cache_find(type);
    if (c == NULL || *id == NULL || **id == 0 || strlen(*id) > TLSMGR_ID_MAX) {
        log_warn("request with a bad cache_type or cache_id");
        return NULL;
    }
    return c;
}

static int tlsmgr_session_request(struct stream *s, const char *req)
{
    const char *id;
    struct tlsmgr_cache *c = tlsmgr_session_args(&id);
    if (c == NULL)
        return -1;
    if (!c->enabled)
        return tlsmgr_status(s, 1);
    time_t now = time(NULL);
    struct tlsmgr_entry **pp = tlsmgr_cache_slot(c, id);
    if (strcmp(req, TLSMGR_REQ_LOOKUP) == 0) {
        if (*pp && (*pp)->expires <= now)
            tlsmgr_entry_drop(c, pp);
        if (*pp == NULL)
            return tlsmgr_status(s, 1);
        struct attr_list *out = attr_list_new();
        struct sbuf *hex = sbuf_new(2 * (*pp)->len + 1);
        tlsmgr_hex_encode(hex, (*pp)->der, (*pp)->len);
        attr_add_long(out, "status", 0);
        attr_add(out, "session", sbuf_str(hex));
        sbuf_free(hex);
        log_debug(1, "%s: lookup %s: found", c->type, id);
        return tlsmgr_reply(s, out);
    }
    if (strcmp(req, TLSMGR_REQ_DELETE) == 0) {
        if (*pp)
            tlsmgr_entry_drop(c, pp);
        return tlsmgr_status(s, 0);
    }
    /* update */
    const char *hex = attr_get(tlsmgr_req, "session");
    struct sbuf *der = sbuf_new(256);
    if (hex == NULL || tlsmgr_hex_decode(der, hex, TLSMGR_SESSION_MAX) < 0 || sbuf_len(der) == 0) {
        log_warn("%s: update %.100s: malformed or oversized session", c->type, id);
        sbuf_free(der);
        return -1;
    }
    if (*pp)
        tlsmgr_entry_drop(c, pp);
    if (c->count >= TLSMGR_ENTRIES)
        tlsmgr_cache_purge(c, now, true);
    struct tlsmgr_entry *e = xcalloc(1, sizeof(*e));
    e->id = xstrdup(id);
    e->len = sbuf_len(der);
    e->der = xmalloc(e->len);
    memcpy(e->der, sbuf_str(der), e->len);
    e->expires = now + c->timeout;
    sodium_memzero(sbuf_data(der), sbuf_len(der));
    sbuf_free(der);
    pp = tlsmgr_cache_slot(c, id);     /* the purge may have changed the chain */
    e->next = *pp;
    *pp = e;
    c->count++;
    log_debug(1, "%s: update %s (%zu bytes)", c->type, id, e->len);
    return tlsmgr_status(s, 0);
}

static int tlsmgr_tktkey_request(struct stream *s)
{
    const char *hex = attr_get_def(tlsmgr_req, "keyname", "");
    time_t now = time(NULL);
    if (tlsmgr_key_life <= 0)
        return tlsmgr_status(s, 1);         /* tickets off */
    const struct tls_tktkey *k;
    if (*hex == 0)
        k = tlsmgr_key_current(now);
    else {
        struct sbuf *name = sbuf_new(TLS_TKT_NAME_LEN + 1);
        if (tlsmgr_hex_decode(name, hex, TLS_TKT_NAME_LEN) < 0
            || sbuf_len(name) != TLS_TKT_NAME_LEN) {
            log_warn("tktkey request with a malformed key name");
            sbuf_free(name);
            return -1;
        }
        k = tlsmgr_key_named((const unsigned char *)sbuf_str(name), now);
        sbuf_free(name);
    }
    if (k == NULL)
        return tlsmgr_status(s, 1);
    struct attr_list *out = attr_list_new();
    struct sbuf *b = sbuf_new(2 * TLSMGR_CIPHER_KEY_LEN + 1);
    attr_add_long(out, "status", 0);
    tlsmgr_hex_encode(b, k->name, TLS_TKT_NAME_LEN);
    attr_add(out, "keyname", sbuf_str(b));
    sbuf_reset(b);
    tlsmgr_hex_encode(b, k->key, k->key_len);
    attr_add(out, "cipher_key", sbuf_str(b));
    sbuf_reset(b);
    tlsmgr_hex_encode(b, k->hmac, TLS_TKT_HMAC_LEN);
    attr_add(out, "hmac_key", sbuf_str(b));
    attr_add_long(out, "expires", (long)k->expires);
    sodium_memzero(sbuf_data(b), sbuf_len(b));
    sbuf_free(b);
    return tlsmgr_reply(s, out);
}

static int tlsmgr_seed_request(struct stream *s)
{
    long n = 0;
    if (attr_get_long(tlsmgr_req, "size", &n) < 0 || n <= 0 || n > TLSMGR_SEED_MAX) {
        log_warn("seed request with a bad size");
        return -1;
    }
    unsigned char buf[TLSMGR_SEED_MAX];
    tlsmgr_random(buf, (size_t)n);
    struct sbuf *hex = sbuf_new(2 * (size_t)n + 1);
    tlsmgr_hex_encode(hex, buf, (size_t)n);
    sodium_memzero(buf, sizeof(buf));
    struct attr_list *out = attr_list_new();
    attr_add_long(out, "status", 0);
    attr_add(out, "seed", sbuf_str(hex));
    sbuf_free(hex);
    return tlsmgr_reply(s, out);
}

static int tlsmgr_request(struct stream *s)
{
    int rc = attr_read(s, tlsmgr_req);
    if (rc == ATTR_E_FORMAT && tlsmgr_req->count == 0) {
        /* master's wake-up ("W", the "1000?" column): a cache sweep. */
        log_debug(1, "wakeup");
        event_timer_del(tlsmgr_sweep, NULL);
        tlsmgr_sweep(NULL);
        return -1;
    }
    if (rc < 0) {
        if (rc != STREAM_E_EOF)
            log_warn("tlsmgr request: %s",
                     rc <= ATTR_E_FORMAT ? "malformed request" : stream_strerror(rc));
        return -1;
    }
    const char *req = attr_get(tlsmgr_req, "request");
    if (req == NULL) {
        log_warn("tlsmgr request without a request attribute");
        return -1;
    }
    if (strcmp(req, TLSMGR_REQ_LOOKUP) == 0 || strcmp(req, TLSMGR_REQ_UPDATE) == 0
        || strcmp(req, TLSMGR_REQ_DELETE) == 0)
        return tlsmgr_session_request(s, req);
    if (strcmp(req, TLSMGR_REQ_TKTKEY) == 0)
        return tlsmgr_tktkey_request(s);
    if (strcmp(req, TLSMGR_REQ_SEED) == 0)
        return tlsmgr_seed_request(s);
    log_warn("unrecognized request: \"%.30s\", ignored", req);
    return tlsmgr_status(s, 1);
}

static int tlsmgr_connect(struct stream *s)
{
    return attr_send_proto(s, TLSMGR_PROTO) < 0 ? -1 : 0;
}

static void tlsmgr_post_jail(void)
{
    if (sodium_init() < 0)
        log_fatal("libsodium initialization failed");
    tlsmgr_req = attr_list_new();
    tlsmgr_req->max_count = 8;      /* no request has more attributes */
    for (size_t i = 0; i < TLSMGR_NCACHES; i++) {
        struct tlsmgr_cache *c = &tlsmgr_caches[i];
        c->timeout = cfg_time(c->timeout_param);
        c->enabled = *cfg_str(c->db_param) != 0 && c->timeout > 0;
        if (c->enabled)
            log_debug(1, "%s session cache enabled (%s, kept in memory), timeout %lds", c->type,
                      cfg_str(c->db_param), c->timeout);
    }
    /* Ticket keys follow smtpd's session lifetime; none without a cipher. */
    tlsmgr_key_life = *cfg_str(P_TLS_SESSION_TICKET_CIPHER)
                          ? cfg_time(P_SMTPD_TLS_SESSION_CACHE_TIMEOUT)
                          : 0;
    /* The pool: the exchange file from the last run, then the source. */
    const char *xname = cfg_str(P_TLS_RANDOM_EXCHANGE_NAME);
    unsigned char buf[TLSMGR_SOURCE_MAX];
    ssize_t n = *xname ? tlsmgr_read_file(xname, buf, sizeof(buf)) : -1;
    tlsmgr_pool_mix(buf, n > 0 ? (size_t)n : 0);
    sodium_memzero(buf, sizeof(buf));
    tlsmgr_reseed(NULL);
    tlsmgr_exchange_save(NULL);
    event_timer_add(300.0, tlsmgr_sweep, NULL);
}

static void tlsmgr_exit(void)
{
    sodium_memzero(tlsmgr_keys, sizeof(tlsmgr_keys));
    sodium_memzero(tlsmgr_pool, sizeof(tlsmgr_pool));
}

static const struct server_ops tlsmgr_ops = {
    .model = SERVER_MULTI,
    .resident = true,
    .post_jail = tlsmgr_post_jail,
    .connect = tlsmgr_connect,
    .request = tlsmgr_request,
    .on_exit = tlsmgr_exit,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &tlsmgr_ops);
}
