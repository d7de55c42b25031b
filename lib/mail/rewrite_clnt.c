/*
 * rewrite_clnt.c - persistent client of private/rewrite with a resolve cache
 *
 * Used by: cleanup, qmgr, smtpd.
 * Interface: see rewrite_clnt.h.
 * Errors: -1 after a warning; the connection is dropped and reopened on
 *         the next call.
 * Notes: rewrite and resolve answers share one LRU cache (see
 *        rewrite_clnt.h); failed resolves are not cached.
 */
#include "rewrite_clnt.h"
#include "alloc.h"
#include "attr.h"
#include "log.h"
#include "mail_proto.h"

struct rewrite_cache_entry {
    char *key;          /* request NUL sender NUL address, as one string with \1 */
    char *transport, *nexthop, *recipient;
    int flags;
    char class_[16];
    time_t when;
    unsigned long used;
};

static struct stream *rewrite_stream;
static struct attr_list *rewrite_reply;
static struct rewrite_cache_entry rewrite_cache[RESOLVE_CACHE_SIZE];
static unsigned long rewrite_clock;

void resolve_reply_init(struct resolve_reply *reply)
{
    reply->transport = sbuf_new(32);
    reply->nexthop = sbuf_new(64);
    reply->recipient = sbuf_new(64);
    reply->flags = 0;
    reply->class_[0] = 0;
}

void resolve_reply_free(struct resolve_reply *reply)
{
    sbuf_free(reply->transport);
    sbuf_free(reply->nexthop);
    sbuf_free(reply->recipient);
    memset(reply, 0, sizeof(*reply));
}

void rewrite_clnt_disconnect(void)
{
    stream_close(rewrite_stream);
    rewrite_stream = NULL;
}

static void rewrite_cache_clear(struct rewrite_cache_entry *e)
{
    xfree(e->key);
    xfree(e->transport);
    xfree(e->nexthop);
    xfree(e->recipient);
    memset(e, 0, sizeof(*e));
}

void rewrite_clnt_cache_flush(void)
{
    for (size_t i = 0; i < RESOLVE_CACHE_SIZE; i++)
        rewrite_cache_clear(&rewrite_cache[i]);
}

/* Sends one request (NULL-terminated name/value pairs in ap) and reads the
 * reply into rewrite_reply; reconnects once when the connection broke. */
static int rewrite_clnt_call(const char *what, const char *const *pairs)
{
    if (rewrite_reply == NULL)
        rewrite_reply = attr_list_new();
    for (int attempt = 0; attempt < 2; attempt++) {
        if (rewrite_stream == NULL) {
            rewrite_stream = mail_connect(MAIL_CLASS_PRIVATE, MAIL_SERVICE_REWRITE,
                                          MAIL_PROTO_REWRITE);
            if (rewrite_stream == NULL)
                return -1;      /* mail_connect() logged it */
        }
        struct attr_list *req = attr_list_new();
        for (size_t i = 0; pairs[i]; i += 2)
            attr_add(req, pairs[i], pairs[i + 1]);
        int r = attr_write(rewrite_stream, req);
        attr_list_free(req);
        if (r == 0)
            r = attr_read(rewrite_stream, rewrite_reply);
        if (r == 0)
            return 0;
        rewrite_clnt_disconnect();
        if (attempt == 1)
            log_warn("%s: trivial-rewrite service: %s", what,
                     r <= ATTR_E_FORMAT ? "malformed reply" : stream_strerror(r));
    }
    return -1;
}

/*
 * Returns the fresh cache entry for key (marked used), or NULL; *victim is
 * then the slot to fill: the stale entry for key, an empty slot, or the
 * least recently used one.
 */
static struct rewrite_cache_entry *rewrite_cache_find(const char *key, time_t now,
                                                      struct rewrite_cache_entry **victim)
{
    *victim = &rewrite_cache[0];
    for (size_t i = 0; i < RESOLVE_CACHE_SIZE; i++) {
        struct rewrite_cache_entry *e = &rewrite_cache[i];
        if (e->key && strcmp(e->key, key) == 0) {
            if (now - e->when <= RESOLVE_CACHE_TTL && now >= e->when) {
                e->used = ++rewrite_clock;
                return e;
            }
            *victim = e;        /* stale: refresh this slot */
            return NULL;
        }
        if ((*victim)->key && (e->key == NULL || e->used < (*victim)->used))
            *victim = e;
    }
    return NULL;
}

/* Rewrite answers share the resolve cache: smtpd and cleanup ask for the
 * same sender and recipients message after message, and each miss costs a
 * round trip to trivial-rewrite. The result address is kept in recipient. */
int rewrite_clnt_rewrite(const char *rule, const char *addr, struct sbuf *out)
{
    struct sbuf *key = sbuf_new(128);
    sbuf_printf(key, "rewrite\001%s\001%s", rule, addr);
    time_t now = time(NULL);
    struct rewrite_cache_entry *victim;
    struct rewrite_cache_entry *e = rewrite_cache_find(sbuf_str(key), now, &victim);
    if (e) {
        sbuf_set(out, e->recipient);
        sbuf_free(key);
        return 0;
    }
    const char *pairs[] = { "request", "rewrite", "rule", rule, "address", addr, NULL };
    if (rewrite_clnt_call("rewrite", pairs) < 0) {
        sbuf_free(key);
        return -1;
    }
    const char *a = attr_get(rewrite_reply, "address");
    if (a == NULL) {
        log_warn("rewrite: trivial-rewrite reply without address");
        rewrite_clnt_disconnect();
        sbuf_free(key);
        return -1;
    }
    sbuf_set(out, a);
    rewrite_cache_clear(victim);
    victim->key = sbuf_detach(key);
    victim->transport = xstrdup("");
    victim->nexthop = xstrdup("");
    victim->recipient = xstrdup(a);
    victim->when = now;
    victim->used = ++rewrite_clock;
    return 0;
}

static int rewrite_clnt_resolve_req(const char *request, const char *sender, const char *addr,
                                    struct resolve_reply *reply)
{
    struct sbuf *key = sbuf_new(128);
    sbuf_printf(key, "%s\001%s\001%s", request, sender ? sender : "", addr);
    time_t now = time(NULL);
    struct rewrite_cache_entry *victim;
    struct rewrite_cache_entry *e = rewrite_cache_find(sbuf_str(key), now, &victim);
    if (e) {
        sbuf_set(reply->transport, e->transport);
        sbuf_set(reply->nexthop, e->nexthop);
        sbuf_set(reply->recipient, e->recipient);
        reply->flags = e->flags;
        memcpy(reply->class_, e->class_, sizeof(reply->class_));
        sbuf_free(key);
        return 0;
    }
    const char *pairs[] = { "request", request, "sender", sender ? sender : "", "address", addr,
                            NULL };
    if (rewrite_clnt_call(request, pairs) < 0) {
        sbuf_free(key);
        return -1;
    }
    long flags;
    const char *cls = attr_get(rewrite_reply, "class");
    const char *tr = attr_get(rewrite_reply, "transport");
    const char *hop = attr_get(rewrite_reply, "nexthop");
    const char *rcpt = attr_get(rewrite_reply, "recipient");
    if (attr_get_long(rewrite_reply, "flags", &flags) < 0 || tr == NULL || hop == NULL ||
        rcpt == NULL) {
        log_warn("resolve: malformed reply from trivial-rewrite");
        rewrite_clnt_disconnect();
        sbuf_free(key);
        return -1;
    }
    sbuf_set(reply->transport, tr);
    sbuf_set(reply->nexthop, hop);
    sbuf_set(reply->recipient, rcpt);
    reply->flags = (int)flags;
    strlcpy(reply->class_, cls ? cls : "", sizeof(reply->class_));
    if (!(reply->flags & RESOLVE_FLAG_FAIL)) {
        rewrite_cache_clear(victim);
        victim->key = sbuf_detach(key);
        key = NULL;
        victim->transport = xstrdup(tr);
        victim->nexthop = xstrdup(hop);
        victim->recipient = xstrdup(rcpt);
        victim->flags = reply->flags;
        memcpy(victim->class_, reply->class_, sizeof(victim->class_));
        victim->when = now;
        victim->used = ++rewrite_clock;
    }
    sbuf_free(key);
    return 0;
}

int rewrite_clnt_resolve(const char *sender, const char *addr, struct resolve_reply *reply)
{
    return rewrite_clnt_resolve_req("resolve", sender, addr, reply);
}

int rewrite_clnt_verify(const char *sender, const char *addr, struct resolve_reply *reply)
{
    return rewrite_clnt_resolve_req("verify", sender, addr, reply);
}
