/*
 * smtp_cache.c - SMTP/LMTP connection reuse through the scache service
 *
 * Used by: smtp.c (before connecting and after each conversation).
 * Interface: smtp_cache_load(), smtp_cache_wanted(),
 *            smtp_cache_policy_ok(), smtp_cache_find_dest(),
 *            smtp_cache_find_endp(), smtp_cache_release(),
 *            smtp_cache_idle_due(), smtp_cache_idle(), smtp_cache_flush().
 * Errors: a cache that cannot be reached only means new connections
 *         (lib/mail/scache_clnt.c logs it); nothing here fails a delivery.
 * Notes: as in Postfix, a request uses the cache when qmgr marked it
 *        (DELIVER_REQ_F_CONN_CACHE: the destination has more mail waiting)
 *        and *_connection_cache_on_demand is on, or when its next hop is
 *        listed in *_connection_cache_destinations (next hops as written,
 *        "/file" with more of them, or "type:table" keyed by next hop). Connections are saved
 *        under their endpoint ("service, address, port, HELO name, TLS
 *        level") and, when they went to the first server of the request's
 *        next hop, also under that next hop, for at most
 *        *_connection_cache_time_limit seconds; one that has served
 *        *_connection_reuse_count_limit conversations, or is older than
 *        *_connection_reuse_time_limit, is closed instead. A TLS session
 *        is cached only when tlsproxy runs it (*_tls_connection_reuse or
 *        the policy's connection_reuse=yes): smtp then holds a plaintext
 *        socket to tlsproxy, and the labels carry the TLS level plus a
 *        digest of the rest of the policy (match names, protocols,
 *        ciphers, SNI), so only an identical policy reuses it; a session
 *        that failed its checks is never kept. dane levels are never
 *        cached. None are cached when SASL login is on (a session
 *        logged in for one sender must not carry another's mail). The
 *        properties string saved with a connection carries what the
 *        conversation learned (EHLO features, SIZE, XFORWARD) and, for the
 *        destination form, which server it is.
 */
#include "smtp.h"
#include "alloc.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "maps.h"
#include "params.h"
#include "scache_clnt.h"
#include "server.h"
#include "sock.h"
#include <strings.h>
#include <sys/socket.h>

#define SMTP_P(smtp_name, lmtp_name) (c->lmtp ? (lmtp_name) : (smtp_name))

static struct scache_clnt *smtp_scache;

/* How long the last released connection stays with this process. */
#define SMTP_CACHE_HOLD 0.1

/* That connection, as scache would get it. */
static struct smtp_cache_held {
    int fd;                     /* -1: none */
    char *endp, *dest, *props;
    long ttl;                   /* seconds it may stay cached in all */
    double since;               /* when it was released */
} smtp_held = { .fd = -1 };
/* The type:table entries of *_connection_cache_destinations. */
static struct maps *smtp_cache_dest_maps;

/* A "type:name" table rather than a next hop: "[host]:port", "/file",
 * LMTP's "inet:host:port" and "unix:/path" (or "unix:private/x") are not. */
static bool smtp_cache_dest_is_table(const char *item)
{
    if (item[0] == '[' || item[0] == '/' || strchr(item, ':') == NULL)
        return false;
    if (strncasecmp(item, "inet:", 5) == 0)
        return false;
    if (strncasecmp(item, "unix:", 5) == 0 && strchr(item + 5, '/'))
        return false;
    return true;
}

/* Splits *_connection_cache_destinations: next hops stay in
 * c->cache_destinations (with the names of "/file" entries added), tables
 * ("type:name"; "[host]:port" is a next hop) are opened. */
static void smtp_cache_dest_load(struct smtp_cfg *c, const char *param)
{
    char **items = cfg_list(cfg_str(param));
    size_t n = 0, cap = 8;
    c->cache_destinations = xcalloc(cap, sizeof(char *));
    struct sbuf *tables = sbuf_new(64);
    for (char **it = items; *it; it++) {
        char **add = NULL;
        if (smtp_cache_dest_is_table(*it)) {
            sbuf_catf(tables, "%s%s", sbuf_len(tables) ? " " : "", *it);
            continue;
        }
        if ((*it)[0] == '/') {
            FILE *fp = fopen(*it, "r");
            if (fp == NULL) {
                log_warn("%s: open %s: %m", param, *it);
                continue;
            }
            struct sbuf *text = sbuf_new(256);
            char buf[1024];
            while (fgets(buf, sizeof(buf), fp)) {
                char *hash = strchr(buf, '#');
                if (hash)
                    *hash = 0;
                sbuf_cat(text, buf);
                sbuf_addch(text, ' ');
            }
            fclose(fp);
            add = cfg_list(sbuf_str(text));
            sbuf_free(text);
        }
        for (char **a = add ? add : (char *[]){ *it, NULL }; *a; a++) {
            if (n + 1 >= cap) {
                cap *= 2;
                c->cache_destinations = xrealloc(c->cache_destinations, cap * sizeof(char *));
            }
            c->cache_destinations[n++] = xstrdup(*a);
        }
        cfg_list_free(add);
    }
    c->cache_destinations[n] = NULL;
    if (sbuf_len(tables))
        smtp_cache_dest_maps = maps_create(param, sbuf_str(tables), DICT_F_FOLD);
    sbuf_free(tables);
    cfg_list_free(items);
}

void smtp_cache_load(struct smtp_cfg *c)
{
    c->cache_on_demand =
        cfg_bool(SMTP_P(P_SMTP_CONNECTION_CACHE_ON_DEMAND, P_LMTP_CONNECTION_CACHE_ON_DEMAND));
    smtp_cache_dest_load(
        c, SMTP_P(P_SMTP_CONNECTION_CACHE_DESTINATIONS, P_LMTP_CONNECTION_CACHE_DESTINATIONS));
    c->cache_time_limit =
        cfg_time(SMTP_P(P_SMTP_CONNECTION_CACHE_TIME_LIMIT, P_LMTP_CONNECTION_CACHE_TIME_LIMIT));
    c->reuse_count_limit =
        cfg_long(SMTP_P(P_SMTP_CONNECTION_REUSE_COUNT_LIMIT, P_LMTP_CONNECTION_REUSE_COUNT_LIMIT));
    c->reuse_time_limit =
        cfg_time(SMTP_P(P_SMTP_CONNECTION_REUSE_TIME_LIMIT, P_LMTP_CONNECTION_REUSE_TIME_LIMIT));
    c->cache_service = xstrdup(cfg_str(P_CONNECTION_CACHE_SERVICE_NAME));
    c->cache_timeout = cfg_time(P_CONNECTION_CACHE_PROTOCOL_TIMEOUT);
}

/* Is the next hop listed in *_connection_cache_destinations? Entries are
 * compared with the next hop as written, without case; tables are asked
 * for it as the key (any value is a match). A failing table says no: the
 * connection is then simply not cached. */
static bool smtp_cache_listed(const char *nexthop)
{
    for (char **d = smtp_cfg.cache_destinations; d && *d; d++)
        if (strcasecmp(*d, nexthop) == 0)
            return true;
    return smtp_cache_dest_maps && maps_find(smtp_cache_dest_maps, nexthop, 0) != NULL;
}

bool smtp_cache_wanted(const struct deliver_request *r)
{
    if (smtp_sasl_enabled())
        return false;
    if ((r->flags & DELIVER_REQ_F_CONN_CACHE) && smtp_cfg.cache_on_demand)
        return true;
    return smtp_cache_listed(r->nexthop);
}

bool smtp_tls_reuse_wanted(const struct smtp_tls_policy *pol)
{
    if (pol == NULL)
        pol = &smtp_cfg.tls_default;
    /* tlsproxy verifies against CAs only: trust anchors keep TLS here. */
    if (pol->tafiles != NULL)
        return false;
    return pol->connection_reuse ? pol->connection_reuse > 0 : smtp_cfg.tls_reuse;
}

bool smtp_cache_policy_ok(const struct smtp_tls_policy *pol)
{
    if (pol == NULL)
        pol = &smtp_cfg.tls_default;
    switch (pol->level) {
    case SMTP_TLS_NONE:
        return !smtp_cfg.tls_wrapper || smtp_tls_reuse_wanted(pol);
    case SMTP_TLS_MAY:
    case SMTP_TLS_ENCRYPT:
    case SMTP_TLS_FINGERPRINT:
    case SMTP_TLS_VERIFY:
    case SMTP_TLS_SECURE:
        /* TLS sessions only through tlsproxy: smtp then holds a plaintext
         * socket that another process can take over. */
        return pol->level == SMTP_TLS_MAY && !smtp_cfg.tls_wrapper ? true
                                                                  : smtp_tls_reuse_wanted(pol);
    default:
        /* dane, dane-only: the level depends on each server's DNS. */
        return false;
    }
}

void smtp_cache_policy_tag(struct sbuf *out, const struct smtp_tls_policy *pol)
{
    if (pol == NULL)
        pol = &smtp_cfg.tls_default;
    sbuf_cat(out, pol->level_name && *pol->level_name ? pol->level_name : "none");
    if (!smtp_tls_reuse_wanted(pol) || pol->level == SMTP_TLS_NONE)
        return;
    /* Everything else in the policy that shaped or checked the session:
     * a connection is reused only under an identical policy (FNV-1a). */
    uint64_t h = 1469598103934665603ULL;
    struct sbuf *t = sbuf_new(128);
    sbuf_printf(t, "%x|%s|%s|%d|", pol->protocols, pol->ciphers ? pol->ciphers : "",
                pol->servername ? pol->servername : "", smtp_cfg.tls_wrapper);
    for (char **m = pol->match; m && *m; m++)
        sbuf_catf(t, "%s,", *m);
    for (size_t i = 0; i < sbuf_len(t); i++) {
        h ^= (unsigned char)sbuf_str(t)[i];
        h *= 1099511628211ULL;
    }
    sbuf_free(t);
    sbuf_catf(out, "/%016llx", (unsigned long long)h);
}

static struct scache_clnt *smtp_cache_clnt(void)
{
    if (smtp_scache == NULL)
        smtp_scache = scache_clnt_new(smtp_cfg.cache_service, (int)smtp_cfg.cache_timeout);
    return smtp_scache;
}

/* "SERVICE|endp|ADDR|PORT|HELO|POLICY": everything that shaped the
 * session. */
static void smtp_cache_endp_label(struct sbuf *out, const struct smtp_addr *a)
{
    sbuf_printf(out, "%s|endp|%s|%s|%s|", server_service_name(), a->addr,
                a->port ? a->port : "", smtp_cfg.helo_name);
    smtp_cache_policy_tag(out, a->tls);
}

static void smtp_cache_dest_label(struct sbuf *out, const char *nexthop, const char *tag)
{
    sbuf_printf(out, "%s|dest|%s|%s|%s", server_service_name(), nexthop, smtp_cfg.helo_name, tag);
}

/* One "name=value" line of a properties string. */
static void smtp_cache_prop(struct sbuf *out, const char *name, const char *value)
{
    sbuf_catf(out, "%s=%s\n", name, value ? value : "");
}

static void smtp_cache_propl(struct sbuf *out, const char *name, long value)
{
    sbuf_catf(out, "%s=%ld\n", name, value);
}

/* The value of name in props (new), or NULL. */
static char *smtp_cache_get(const char *props, const char *name)
{
    size_t nl = strlen(name);
    for (const char *p = props; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            char *v = xmalloc(len - nl);
            memcpy(v, p + nl + 1, len - nl - 1);
            v[len - nl - 1] = 0;
            return v;
        }
        p = eol ? eol + 1 : NULL;
    }
    return NULL;
}

static long smtp_cache_getl(const char *props, const char *name)
{
    char *v = smtp_cache_get(props, name);
    long n = 0;
    if (v) {
        char *end;
        errno = 0;
        n = strtol(v, &end, 10);
        if (errno || *end)
            n = 0;
    }
    xfree(v);
    return n;
}

/* The conversation state of a cached connection. */
static void smtp_cache_conn_props(struct smtp_conn *conn, const char *props, int fd)
{
    memset(conn, 0, sizeof(*conn));
    conn->fd = fd;
    conn->reused = true;
    conn->features = (unsigned)smtp_cache_getl(props, "features");
    conn->xforward = (unsigned)smtp_cache_getl(props, "xforward");
    conn->size_limit = smtp_cache_getl(props, "size");
    conn->reuse_count = (int)smtp_cache_getl(props, "reuse");
    conn->started = (time_t)smtp_cache_getl(props, "started");
    /* TLS through tlsproxy: what its handshake established. */
    char *v = smtp_cache_get(props, "tls");
    if (v && (strcmp(v, "Verified") == 0 || strcmp(v, "Trusted") == 0
              || strcmp(v, "Untrusted") == 0 || strcmp(v, "Anonymous") == 0)) {
        strlcpy(conn->tls_trust, v, sizeof(conn->tls_trust));
        xfree(v);
        v = smtp_cache_get(props, "tls_proto");
        strlcpy(conn->tls_proto, v ? v : "", sizeof(conn->tls_proto));
        xfree(v);
        v = smtp_cache_get(props, "tls_cipher");
        strlcpy(conn->tls_cipher, v ? v : "", sizeof(conn->tls_cipher));
        conn->tls_bits = (int)smtp_cache_getl(props, "tls_bits");
        conn->tls_alg_bits = (int)smtp_cache_getl(props, "tls_alg_bits");
    }
    xfree(v);
}

/* Forgets the held connection (its descriptor is someone else's now). */
static void smtp_cache_held_clear(void)
{
    xfree(smtp_held.endp);
    xfree(smtp_held.dest);
    xfree(smtp_held.props);
    smtp_held.endp = smtp_held.dest = smtp_held.props = NULL;
    smtp_held.fd = -1;
}

/* Hands the held connection to scache with what is left of its time (or
 * closes it when none is). */
void smtp_cache_flush(void)
{
    if (smtp_held.fd < 0)
        return;
    double age = event_now() - smtp_held.since;
    long ttl = smtp_held.ttl - (long)age;
    if (ttl < 1)
        close(smtp_held.fd);    /* its time is up: as scache would drop it */
    else if (scache_clnt_save(smtp_cache_clnt(), smtp_held.endp, smtp_held.dest, smtp_held.props,
                              (int)ttl, smtp_held.fd) == 0)     /* closes our copy either way */
        log_debug(1, "saved connection %s in the cache", smtp_held.endp);
    smtp_cache_held_clear();
}

/* The connection cached under label (the destination form when by_dest):
 * the one this process holds when it matches and is still in time, else
 * scache's (after handing the held one, of no use here, to scache).
 * Returns its descriptor with props filled, or -1. */
static int smtp_cache_take(bool by_dest, const char *label, struct sbuf *props)
{
    if (smtp_held.fd >= 0) {
        const char *held = by_dest ? smtp_held.dest : smtp_held.endp;
        if (*held && strcmp(held, label) == 0
            && event_now() - smtp_held.since < (double)smtp_held.ttl) {
            int fd = smtp_held.fd;
            sbuf_reset(props);
            sbuf_cat(props, smtp_held.props);
            smtp_cache_held_clear();
            return fd;
        }
        smtp_cache_flush();
    }
    /* The session code takes every connection as non-blocking. Ours are
     * made so (the one held here too); one from scache is made sure of. */
    int fd = scache_clnt_find(smtp_cache_clnt(), by_dest, label, props);
    if (fd >= 0)
        sock_set_nonblock(fd, true);
    return fd;
}

struct smtp_addr *smtp_cache_find_dest(const char *nexthop, const char *tag,
                                       struct smtp_conn *conn)
{
    struct sbuf *label = sbuf_new(128), *props = sbuf_new(256);
    smtp_cache_dest_label(label, nexthop, tag);
    int fd = smtp_cache_take(true, sbuf_str(label), props);
    struct smtp_addr *a = NULL;
    if (fd >= 0) {
        const char *p = sbuf_str(props);
        a = xcalloc(1, sizeof(*a));
        a->host = smtp_cache_get(p, "host");
        a->addr = smtp_cache_get(p, "addr");
        a->port = smtp_cache_get(p, "port");
        a->nexthop = smtp_cache_get(p, "nexthop");
        a->dest = smtp_cache_get(p, "dest");
        a->family = (int)smtp_cache_getl(p, "family");
        a->pref = (int)smtp_cache_getl(p, "pref");
        if (a->host == NULL || a->addr == NULL) {
            log_warn("connection cache: malformed entry for %s", nexthop);
            smtp_addr_list_free(a, 1);
            a = NULL;
            close(fd);
        } else {
            if (a->port && *a->port == 0) {
                xfree(a->port);
                a->port = NULL;
            }
            smtp_cache_conn_props(conn, p, fd);
            log_debug(1, "reusing cached connection to %s[%s] for %s", a->host, a->addr, nexthop);
        }
    }
    sbuf_free(label);
    sbuf_free(props);
    return a;
}

int smtp_cache_find_endp(const struct smtp_addr *a, struct smtp_conn *conn)
{
    struct sbuf *label = sbuf_new(128), *props = sbuf_new(256);
    smtp_cache_endp_label(label, a);
    int fd = smtp_cache_take(false, sbuf_str(label), props);
    if (fd >= 0) {
        smtp_cache_conn_props(conn, sbuf_str(props), fd);
        log_debug(1, "reusing cached connection to %s[%s]", a->host, a->addr);
    }
    sbuf_free(label);
    sbuf_free(props);
    return fd >= 0 ? 0 : -1;
}

void smtp_cache_release(struct smtp_conn *conn, const struct smtp_addr *a, const char *nexthop,
                        const char *tag)
{
    if (!conn->keep)
        return;
    conn->keep = false;
    time_t now = time(NULL);
    if ((smtp_cfg.reuse_count_limit > 0 && conn->reuse_count >= smtp_cfg.reuse_count_limit)
        || now - conn->started >= smtp_cfg.reuse_time_limit || smtp_cfg.cache_time_limit <= 0) {
        smtp_quit_close(conn->fd, a);
        conn->fd = -1;
        return;
    }
    struct sbuf *endp = sbuf_new(128), *dest = sbuf_new(128), *props = sbuf_new(256);
    smtp_cache_endp_label(endp, a);
    if (nexthop)
        smtp_cache_dest_label(dest, nexthop, tag);
    smtp_cache_prop(props, "host", a->host);
    smtp_cache_prop(props, "addr", a->addr);
    smtp_cache_prop(props, "port", a->port);
    smtp_cache_prop(props, "nexthop", a->nexthop);
    smtp_cache_prop(props, "dest", a->dest);
    smtp_cache_propl(props, "family", a->family);
    smtp_cache_propl(props, "pref", a->pref);
    smtp_cache_propl(props, "features", (long)conn->features);
    smtp_cache_propl(props, "xforward", (long)conn->xforward);
    smtp_cache_propl(props, "size", conn->size_limit);
    smtp_cache_propl(props, "reuse", conn->reuse_count);
    smtp_cache_propl(props, "started", (long)conn->started);
    if (conn->tls_trust[0]) {
        smtp_cache_prop(props, "tls", conn->tls_trust);
        smtp_cache_prop(props, "tls_proto", conn->tls_proto);
        smtp_cache_prop(props, "tls_cipher", conn->tls_cipher);
        smtp_cache_propl(props, "tls_bits", conn->tls_bits);
        smtp_cache_propl(props, "tls_alg_bits", conn->tls_alg_bits);
    }
    smtp_cache_flush();         /* one held connection at most */
    smtp_held.fd = conn->fd;
    smtp_held.endp = sbuf_detach(endp);
    smtp_held.dest = sbuf_detach(dest);
    smtp_held.props = sbuf_detach(props);
    smtp_held.ttl = smtp_cfg.cache_time_limit > 86400 ? 86400 : smtp_cfg.cache_time_limit;
    smtp_held.since = event_now();
    log_debug(1, "holding connection to %s[%s] for reuse", a->host, a->addr);
    conn->fd = -1;
}

double smtp_cache_idle_due(void)
{
    if (smtp_held.fd < 0)
        return -1;
    double left = SMTP_CACHE_HOLD - (event_now() - smtp_held.since);
    return left > 0 ? left : 0;
}

void smtp_cache_idle(void)
{
    if (smtp_held.fd >= 0 && event_now() - smtp_held.since >= SMTP_CACHE_HOLD)
        smtp_cache_flush();
}
