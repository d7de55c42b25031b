/*
 * verify.c - the address verification service: a cache of what is known
 *            about addresses, filled by probe messages
 *
 * Used by: master (`verify unix - - n - 1 verify`); clients are smtpd
 *          (reject_unverified_recipient / _sender: query) and the delivery
 *          agents and qmgr (probe results: update), lib/mail/verify_clnt.c.
 * Interface: main(); requests query and update (docs/ipc.md "verify").
 * Errors: a malformed request closes that client's connection; a cache file
 *         that cannot be read at start is logged and the cache starts empty;
 *         one that cannot be written is logged and kept in memory.
 * Notes: one resident SERVER_MULTI process. The cache maps an address to
 *        "STATUS:PROBED:UPDATED:TEXT" (status VERIFY_ADDR_*, the times of the
 *        last probe and of the last result, the reason text). It lives in
 *        memory and, unless $address_verify_map is empty, in a hash:/btree:
 *        file (lib/mail/dict_cache.c) that is loaded at start and rewritten
 *        (atomically) at most once a second after results arrive, after
 *        each cleanup run and when the process ends (SIGTERM included), so
 *        results survive a restart without a full rewrite per result.
 *        A query for an unknown or expired address answers "in progress"
 *        and submits a probe through cleanup: a message from
 *        $address_verify_sender whose queue file carries the attribute
 *        trace_flags=DELIVER_REQ_F_VERIFY. qmgr routes it like any other
 *        mail; the delivery agent checks the address without delivering
 *        and reports the outcome here (deliver_request.c). A known result
 *        is answered as it is, and a probe refreshes it once it is older
 *        than the refresh time; past the expire time it is forgotten.
 *        At most one probe per address is in flight per VERIFY_PROBE_TTL,
 *        and at most $address_verify_pending_request_limit altogether.
 *        With address_verify_negative_cache = no, failed results are kept
 *        in memory only and every query for such an address probes again.
 */
#include "alloc.h"
#include "attr.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "config.h"
#include "deliver_request.h"
#include "dict_cache.h"
#include "events.h"
#include "log.h"
#include "params.h"
#include "qfile.h"
#include "sbuf.h"
#include "server.h"
#include "verify_clnt.h"

/* A probe still unanswered after this long may be sent again. */
#define VERIFY_PROBE_TTL 1000
/* Text of an address whose first probe is on its way. */
#define VERIFY_TEXT_PENDING "Address verification in progress"

static struct {
    long pos_expire, pos_refresh;
    long neg_expire, neg_refresh;
    bool neg_cache;
    long cleanup_interval;
    char *sender;               /* "" = the null sender */
    long sender_ttl;
    long pending_limit;
} verify_cfg;

static struct dict_cache *verify_cache;
static struct attr_list *verify_req;

/* Probes sent and not yet answered (address, when). */
struct verify_pending {
    char *addr;
    time_t when;
};
static struct verify_pending *verify_pend;
static size_t verify_npend, verify_pend_cap;

/* ---- cache entries ---------------------------------------------------- */

struct verify_entry {
    int status;
    long probed;                /* 0: no probe sent */
    long updated;               /* 0: no result yet */
    const char *text;           /* borrowed from the value */
};

/* Parses a cache value; false when it is not ours. */
static bool verify_parse(const char *value, struct verify_entry *e)
{
    char *end;
    long v[3];
    const char *p = value;
    for (int i = 0; i < 3; i++) {
        errno = 0;
        v[i] = strtol(p, &end, 10);
        if (errno || end == p || *end != ':' || v[i] < 0)
            return false;
        p = end + 1;
    }
    if (v[0] > VERIFY_ADDR_TODO)
        return false;
    e->status = (int)v[0];
    e->probed = v[1];
    e->updated = v[2];
    e->text = p;
    return true;
}

static void verify_store(const char *addr, int status, long probed, long updated, const char *text)
{
    struct sbuf *v = sbuf_new(128);
    sbuf_printf(v, "%d:%ld:%ld:%s", status, probed, updated, text);
    dict_cache_put(verify_cache, addr, sbuf_str(v));
    sbuf_free(v);
}

/* Expired entries are forgotten: a result after its expire time, a probe
 * that never came back after VERIFY_PROBE_TTL. */
static bool verify_expired(const struct verify_entry *e, time_t now)
{
    if (e->status == VERIFY_ADDR_TODO)
        return now - e->probed > VERIFY_PROBE_TTL;
    long limit = e->status == VERIFY_ADDR_OK ? verify_cfg.pos_expire : verify_cfg.neg_expire;
    return now - e->updated > limit;
}

/* What may be kept on disk: everything but failures when the negative
 * cache is off. */
static bool verify_keep_on_disk(const char *key, const char *value, void *ctx)
{
    (void)key;
    (void)ctx;
    struct verify_entry e;
    return verify_parse(value, &e) && (e.status == VERIFY_ADDR_OK || verify_cfg.neg_cache);
}

/* The end of the process (SIGTERM included: lib/server runs on_exit after
 * its event loop): what is not written yet is written now. */
static void verify_on_exit(void)
{
    if (verify_cache)
        dict_cache_flush(verify_cache);
}

static bool verify_unexpired(const char *key, const char *value, void *ctx)
{
    (void)key;
    struct verify_entry e;
    return verify_parse(value, &e) && !verify_expired(&e, *(time_t *)ctx);
}

/* $address_verify_cache_cleanup_interval: drop what has expired. */
static void verify_cleanup(void *ctx)
{
    (void)ctx;
    time_t now = time(NULL);
    dict_cache_sweep(verify_cache, verify_unexpired, &now);
    if (verify_cfg.cleanup_interval > 0)
        event_timer_add((double)verify_cfg.cleanup_interval, verify_cleanup, NULL);
}

/* ---- probes ----------------------------------------------------------- */

/* Forgets probes answered or too old; returns the index of addr's or -1. */
static long verify_pending_find(const char *addr, time_t now)
{
    long found = -1;
    for (size_t i = 0; i < verify_npend;) {
        if (now - verify_pend[i].when > VERIFY_PROBE_TTL) {
            xfree(verify_pend[i].addr);
            verify_pend[i] = verify_pend[--verify_npend];
            continue;
        }
        if (addr && strcmp(verify_pend[i].addr, addr) == 0)
            found = (long)i;
        i++;
    }
    return found;
}

static void verify_pending_drop(const char *addr)
{
    long i = verify_pending_find(addr, time(NULL));
    if (i >= 0) {
        xfree(verify_pend[i].addr);
        verify_pend[i] = verify_pend[--verify_npend];
    }
}

/* The probe sender: $address_verify_sender, with a part that changes every
 * $address_verify_sender_ttl appended to its local part. */
static void verify_sender(struct sbuf *out)
{
    const char *s = verify_cfg.sender;
    if (*s == 0 || strcmp(s, "<>") == 0) {
        sbuf_reset(out);
        return;
    }
    if (verify_cfg.sender_ttl <= 0) {
        sbuf_set(out, s);
        return;
    }
    const char *at = strrchr(s, '@');
    size_t lp = at ? (size_t)(at - s) : strlen(s);
    static const char digits[] = "0123456789abcdefghijklmnopqrstu";     /* base 31 */
    char buf[32];
    size_t n = 0;
    unsigned long v = (unsigned long)time(NULL) / (unsigned long)verify_cfg.sender_ttl;
    do {
        buf[n++] = digits[v % 31];
        v /= 31;
    } while (v && n < sizeof(buf));
    sbuf_reset(out);
    sbuf_append(out, s, lp);
    while (n > 0)
        sbuf_append(out, &buf[--n], 1);
    if (at)
        sbuf_cat(out, at);
}

/* Submits a probe for addr through cleanup. 0, or -1 (logged). */
static int verify_probe(const char *addr)
{
    struct cleanup_clnt *c = cleanup_open(CLEANUP_FLAG_MASK_INTERNAL);
    if (c == NULL)
        return -1;
    struct sbuf *sender = sbuf_new(64), *reason = sbuf_new(64);
    char *id = xstrdup(cleanup_queue_id(c));
    verify_sender(sender);
    cleanup_recs(c, REC_SENDER, sbuf_str(sender));
    cleanup_recs(c, REC_ATTR, "rewrite_context=local");
    cleanup_recf(c, REC_ATTR, "%s=%d", DELIVER_ATTR_TRACE_FLAGS, DELIVER_REQ_F_VERIFY);
    cleanup_recs(c, REC_RCPT, addr);
    cleanup_rec(c, REC_MESG, "", 0);
    static const char subject[] = "Subject: probe";
    cleanup_line(c, subject, sizeof(subject) - 1);
    int status = cleanup_finish(c, reason);
    int result = 0;
    if (status != CLEANUP_STAT_OK) {
        log_warn("%s: probe for <%s> not queued: %s", id, addr,
                 sbuf_len(reason) ? sbuf_str(reason) : "cleanup failure");
        result = -1;
    } else
        log_info("%s: probe for <%s> queued", id, addr);
    xfree(id);
    sbuf_free(sender);
    sbuf_free(reason);
    return result;
}

/* Sends a probe unless one is in flight or too many are; true when sent. */
static bool verify_maybe_probe(const char *addr, time_t now)
{
    if (verify_pending_find(addr, now) >= 0)
        return false;
    if (verify_cfg.pending_limit > 0 && (long)verify_npend >= verify_cfg.pending_limit) {
        log_warn("address verification: %zu probes pending (%s); not probing <%s> now",
                 verify_npend, P_ADDRESS_VERIFY_PENDING_REQUEST_LIMIT, addr);
        return false;
    }
    if (verify_probe(addr) < 0)
        return false;
    if (verify_npend == verify_pend_cap) {
        verify_pend_cap = verify_pend_cap ? 2 * verify_pend_cap : 16;
        verify_pend = xrealloc(verify_pend, verify_pend_cap * sizeof(*verify_pend));
    }
    verify_pend[verify_npend].addr = xstrdup(addr);
    verify_pend[verify_npend].when = now;
    verify_npend++;
    return true;
}

/* ---- requests --------------------------------------------------------- */

static int verify_reply(struct stream *s, long status, int addr_status, const char *text)
{
    struct attr_list *out = attr_list_new();
    attr_add_long(out, "status", status);
    if (text) {
        attr_add_long(out, "addr_status", addr_status);
        attr_add(out, "reason", text);
    }
    int rc = attr_write(s, out);
    attr_list_free(out);
    return rc < 0 ? -1 : 0;
}

static int verify_query(struct stream *s, const char *addr)
{
    time_t now = time(NULL);
    struct verify_entry e;
    const char *v = dict_cache_get(verify_cache, addr);
    bool known = v && verify_parse(v, &e) && !verify_expired(&e, now);
    if (!known) {
        if (v)
            dict_cache_delete(verify_cache, addr);
        bool sent = verify_maybe_probe(addr, now);
        if (sent)       /* (without a probe there is nothing to remember) */
            verify_store(addr, VERIFY_ADDR_TODO, (long)now, 0L, VERIFY_TEXT_PENDING);
        log_debug(1, "query <%s>: new, probe %s", addr, sent ? "sent" : "not sent");
        return verify_reply(s, VERIFY_STAT_OK, VERIFY_ADDR_TODO, VERIFY_TEXT_PENDING);
    }
    /* Answer with what is known; refresh it in the background when due. */
    char *text = xstrdup(e.text);
    int status = e.status;
    bool due;       /* (a known TODO entry has its probe in flight) */
    if (e.status == VERIFY_ADDR_TODO)
        due = false;
    else if (e.status == VERIFY_ADDR_OK)
        due = now - e.updated > verify_cfg.pos_refresh;
    else
        due = !verify_cfg.neg_cache || now - e.updated > verify_cfg.neg_refresh;
    if (due && (e.probed == 0 || now - e.probed > VERIFY_PROBE_TTL || !verify_cfg.neg_cache)
        && verify_maybe_probe(addr, now))
        verify_store(addr, e.status, (long)now, e.updated, text);
    log_debug(1, "query <%s>: status %d: %s", addr, status, text);
    int rc = verify_reply(s, VERIFY_STAT_OK, status, text);
    xfree(text);
    return rc;
}

static int verify_update(struct stream *s, const char *addr, long status, const char *text)
{
    if (status != VERIFY_ADDR_OK && status != VERIFY_ADDR_DEFER && status != VERIFY_ADDR_BOUNCE) {
        log_warn("update for <%s> with bad status %ld", addr, status);
        return verify_reply(s, VERIFY_STAT_BAD, 0, NULL);
    }
    time_t now = time(NULL);
    struct verify_entry e;
    const char *v = dict_cache_get(verify_cache, addr);
    long probed = v && verify_parse(v, &e) ? e.probed : (long)now;
    /* A temporary failure does not replace a result that is still good:
     * the address stays what it was known to be (and as old, so that the
     * refresh is tried again). */
    if (status == VERIFY_ADDR_DEFER && v && verify_parse(v, &e) && e.status == VERIFY_ADDR_OK
        && !verify_expired(&e, now)) {
        log_debug(1, "update <%s>: temporary failure ignored: %s", addr, text);
    } else
        verify_store(addr, (int)status, probed, (long)now, text);
    verify_pending_drop(addr);
    log_debug(1, "update <%s>: status %ld: %s", addr, status, text);
    dict_cache_changed(verify_cache);
    return verify_reply(s, VERIFY_STAT_OK, 0, NULL);
}

static int verify_request(struct stream *s)
{
    int rc = attr_read(s, verify_req);
    if (rc < 0) {
        if (rc != STREAM_E_EOF)
            log_warn("verify request: %s",
                     rc <= ATTR_E_FORMAT ? "malformed request" : stream_strerror(rc));
        return -1;
    }
    const char *req = attr_get(verify_req, "request");
    const char *addr = attr_get(verify_req, "address");
    if (req == NULL || addr == NULL || strlen(addr) > VERIFY_ADDR_MAX) {
        log_warn("verify request without valid request or address attribute");
        return -1;
    }
    if (strcmp(req, VERIFY_REQ_QUERY) == 0)
        return verify_query(s, addr);
    if (strcmp(req, VERIFY_REQ_UPDATE) == 0) {
        long status = -1;
        const char *text = attr_get_def(verify_req, "reason", "");
        if (attr_get_long(verify_req, "addr_status", &status) < 0)
            return verify_reply(s, VERIFY_STAT_BAD, 0, NULL);
        struct sbuf *t = sbuf_new(128);
        sbuf_set(t, text);
        if (sbuf_len(t) > VERIFY_TEXT_MAX)
            sbuf_truncate(t, VERIFY_TEXT_MAX);
        rc = verify_update(s, addr, status, sbuf_str(t));
        sbuf_free(t);
        return rc;
    }
    log_warn("unrecognized request: \"%.30s\", ignored", req);
    return verify_reply(s, VERIFY_STAT_BAD, 0, NULL);
}

static int verify_connect(struct stream *s)
{
    return attr_send_proto(s, VERIFY_PROTO) < 0 ? -1 : 0;
}

/* ---- start-up --------------------------------------------------------- */

/* Still root and outside any chroot: the cache file usually lies in
 * $data_directory, outside the jail (Debian's master.cf chroots verify). */
static void verify_pre_jail(void)
{
    verify_cache = dict_cache_open(P_ADDRESS_VERIFY_MAP, cfg_str(P_ADDRESS_VERIFY_MAP),
                                   "address verification cache", false);
}

static void verify_post_jail(void)
{
    verify_req = attr_list_new();
    dict_cache_load(verify_cache);
    dict_cache_set_filter(verify_cache, verify_keep_on_disk, NULL);
    verify_cfg.pos_expire = cfg_time(P_ADDRESS_VERIFY_POSITIVE_EXPIRE_TIME);
    verify_cfg.pos_refresh = cfg_time(P_ADDRESS_VERIFY_POSITIVE_REFRESH_TIME);
    verify_cfg.neg_expire = cfg_time(P_ADDRESS_VERIFY_NEGATIVE_EXPIRE_TIME);
    verify_cfg.neg_refresh = cfg_time(P_ADDRESS_VERIFY_NEGATIVE_REFRESH_TIME);
    verify_cfg.neg_cache = cfg_bool(P_ADDRESS_VERIFY_NEGATIVE_CACHE);
    verify_cfg.cleanup_interval = cfg_time(P_ADDRESS_VERIFY_CACHE_CLEANUP_INTERVAL);
    verify_cfg.sender = xstrdup(cfg_str(P_ADDRESS_VERIFY_SENDER));
    verify_cfg.sender_ttl = cfg_time(P_ADDRESS_VERIFY_SENDER_TTL);
    verify_cfg.pending_limit = cfg_long(P_ADDRESS_VERIFY_PENDING_REQUEST_LIMIT);
    if (verify_cfg.pos_refresh > verify_cfg.pos_expire)
        log_warn("%s is larger than %s: results expire before they are refreshed",
                 P_ADDRESS_VERIFY_POSITIVE_REFRESH_TIME, P_ADDRESS_VERIFY_POSITIVE_EXPIRE_TIME);
    if (verify_cfg.cleanup_interval > 0)
        event_timer_add((double)verify_cfg.cleanup_interval, verify_cleanup, NULL);
}

static const struct server_ops verify_ops = {
    .model = SERVER_MULTI,
    .resident = true,
    .pre_jail = verify_pre_jail,
    .post_jail = verify_post_jail,
    .connect = verify_connect,
    .request = verify_request,
    .on_exit = verify_on_exit,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &verify_ops);
}
