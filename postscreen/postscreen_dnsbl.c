/*
 * postscreen_dnsbl.c - postscreen_dnsbl_sites: weighted DNS list scores
 *
 * Used by: postscreen_early.c.
 * Interface: ps_dnsbl_init(), ps_dnsbl_start(), ps_dnsbl_cancel().
 * Errors: a malformed site is fatal at start. A list that does not answer
 *         (dnsblog down, DNS failure, postscreen_dnsbl_timeout) adds
 *         nothing to the score, as in Postfix.
 * Notes: an entry is "domain[=filter][*weight]": the filter matches the
 *        A-record answer as reject_rbl_client's does (lib/mail/dnsbl_filter.c,
 *        e.g. 127.0.0.[2..11]); the weight (default 1) may be negative for
 *        an allow list. One dnsblog(8) query goes out per distinct domain,
 *        each on its own connection to private/dnsblog, read on the event
 *        loop; every entry of that domain whose filter matches adds its
 *        weight. When the last answer is in (or the timeout fires),
 *        ps_early_dnsbl_done() decides.
 */
#include "postscreen.h"
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "dnsbl_filter.h"
#include "dnsblog_proto.h"
#include "events.h"
#include "log.h"
#include "mail_proto.h"
#include "maps.h"
#include "params.h"
#include "sock.h"
#include <sys/socket.h>

struct ps_dnsbl_query {
    struct ps_dnsbl_query *next;
    struct ps_state *st;
    int fd;
    char *domain;
    struct sbuf *in;
    bool greeted;
};

static char **ps_domains;        /* distinct domains of the sites */
static size_t ps_ndomains;

/* Parses one site; fatal on junk. */
static void ps_dnsbl_site(const char *item, struct ps_site *s)
{
    char *copy = xstrdup(item);
    char *star = strrchr(copy, '*');
    s->weight = 1;
    if (star) {
        long w;
        *star = 0;
        const char *ws = star[1] == '-' ? star + 2 : star + 1;
        if (!config_parse_long(ws, &w) || w > 1000000)
            log_fatal("%s: bad weight in \"%s\"", P_POSTSCREEN_DNSBL_SITES, item);
        s->weight = star[1] == '-' ? -(int)w : (int)w;
    }
    char *eq = strchr(copy, '=');
    s->filter = NULL;
    if (eq) {
        *eq = 0;
        s->filter = xstrdup(eq + 1);
    }
    if (*copy == 0 || strchr(copy, '/') || strchr(copy, ':'))
        log_fatal("%s: bad domain in \"%s\"", P_POSTSCREEN_DNSBL_SITES, item);
    s->domain = copy;
}

void ps_dnsbl_init(void)
{
    char **items = cfg_list(cfg_str(P_POSTSCREEN_DNSBL_SITES));
    for (char **p = items; *p; p++) {
        ps_cfg.sites = xrealloc(ps_cfg.sites, (ps_cfg.nsites + 1) * sizeof(*ps_cfg.sites));
        struct ps_site *s = &ps_cfg.sites[ps_cfg.nsites++];
        ps_dnsbl_site(*p, s);
        size_t i;
        for (i = 0; i < ps_ndomains && strcmp(ps_domains[i], s->domain) != 0; i++)
            ;
        if (i == ps_ndomains) {
            ps_domains = xrealloc(ps_domains, (ps_ndomains + 1) * sizeof(*ps_domains));
            ps_domains[ps_ndomains++] = s->domain;
        }
    }
    cfg_list_free(items);
    ps_cfg.dnsbl_threshold = cfg_int(P_POSTSCREEN_DNSBL_THRESHOLD);
    ps_cfg.dnsbl_allow_threshold = cfg_int(P_POSTSCREEN_DNSBL_ALLOWLIST_THRESHOLD);
    ps_cfg.dnsbl_timeout = cfg_time(P_POSTSCREEN_DNSBL_TIMEOUT);
    ps_cfg.dnsbl_min_ttl = cfg_time(P_POSTSCREEN_DNSBL_MIN_TTL);
    ps_cfg.dnsbl_max_ttl = cfg_time(P_POSTSCREEN_DNSBL_MAX_TTL);
    if (*cfg_str(P_POSTSCREEN_DNSBL_REPLY_MAP))
        ps_cfg.dnsbl_reply_map = maps_create(P_POSTSCREEN_DNSBL_REPLY_MAP,
                                             cfg_str(P_POSTSCREEN_DNSBL_REPLY_MAP), DICT_F_FOLD);
}

static void ps_dnsbl_query_free(struct ps_dnsbl_query *q)
{
    if (q->fd >= 0) {
        event_fd_del(q->fd);
        close(q->fd);
    }
    sbuf_free(q->in);
    xfree(q);
}

/* Takes q off its session's list, frees it, and tells the session when it
 * was the last one. */
static void ps_dnsbl_finish(struct ps_dnsbl_query *q)
{
    struct ps_state *st = q->st;
    for (struct ps_dnsbl_query **pp = &st->queries; *pp; pp = &(*pp)->next)
        if (*pp == q) {
            *pp = q->next;
            break;
        }
    ps_dnsbl_query_free(q);
    if (--st->dnsbl_pending == 0)
        ps_early_dnsbl_done(st);
}

/* Scores one answer. */
static void ps_dnsbl_score(struct ps_state *st, const struct attr_list *r)
{
    const char *domain = attr_get(r, DNSBLOG_ATTR_DOMAIN);
    const char *status = attr_get(r, DNSBLOG_ATTR_STATUS);
    if (domain == NULL || status == NULL || strcmp(status, DNSBLOG_STATUS_OK) != 0)
        return;
    char **addrs = cfg_list(attr_get_def(r, DNSBLOG_ATTR_ADDRESSES, ""));
    long ttl = 0;
    attr_get_long(r, DNSBLOG_ATTR_TTL, &ttl);
    for (size_t i = 0; i < ps_cfg.nsites; i++) {
        struct ps_site *s = &ps_cfg.sites[i];
        if (strcmp(s->domain, domain) != 0)
            continue;
        bool hit = false;
        for (char **a = addrs; *a && !hit; a++)
            hit = s->filter == NULL || dnsbl_filter_match(s->filter, *a);
        if (!hit)
            continue;
        st->dnsbl_score += s->weight;
        if (s->weight > st->dnsbl_top_weight) {
            st->dnsbl_top_weight = s->weight;
            xfree(st->dnsbl_name);
            st->dnsbl_name = xstrdup(s->domain);
        }
        if (st->dnsbl_ttl < 0 || ttl < st->dnsbl_ttl)
            st->dnsbl_ttl = ttl;
    }
    cfg_list_free(addrs);
}

static void ps_dnsbl_read(int fd, int events, void *ctx)
{
    struct ps_dnsbl_query *q = ctx;
    char buf[1024];
    (void)events;
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n <= 0) {
        log_warn("dnsblog: no answer for %s about %s", q->domain, q->st->addr);
        ps_dnsbl_finish(q);
        return;
    }
    sbuf_append(q->in, buf, (size_t)n);
    if (sbuf_len(q->in) > 65536) {
        log_warn("dnsblog: answer too long");
        ps_dnsbl_finish(q);
        return;
    }
    struct attr_list *l = attr_list_new();
    size_t used = 0;
    int r;
    while ((r = attr_decode(sbuf_str(q->in), sbuf_len(q->in), l, &used)) == 1) {
        struct sbuf *rest = sbuf_new(64);
        sbuf_append(rest, sbuf_str(q->in) + used, sbuf_len(q->in) - used);
        sbuf_free(q->in);
        q->in = rest;
        if (!q->greeted) {
            if (strcmp(attr_get_def(l, "proto", ""), DNSBLOG_PROTO) != 0) {
                log_warn("dnsblog: unexpected protocol");
                break;
            }
            q->greeted = true;
            continue;
        }
        ps_dnsbl_score(q->st, l);
        attr_list_free(l);
        ps_dnsbl_finish(q);
        return;
    }
    attr_list_free(l);
    if (r != 0) {
        log_warn("dnsblog: malformed answer");
        ps_dnsbl_finish(q);
    }
}

int ps_dnsbl_start(struct ps_state *st)
{
    struct sbuf *path = sbuf_new(64), *req = sbuf_new(128);
    mail_service_path(path, "private", "dnsblog", false);
    for (size_t i = 0; i < ps_ndomains; i++) {
        int fd = sock_unix_connect(sbuf_str(path), 2);
        if (fd < 0) {
            log_warn("connect to %s: %m", sbuf_str(path));
            continue;
        }
        struct attr_list *a = attr_list_new();
        attr_add(a, DNSBLOG_ATTR_DOMAIN, ps_domains[i]);
        attr_add(a, DNSBLOG_ATTR_ADDRESS, st->addr);
        attr_add_long(a, DNSBLOG_ATTR_ID, (long)i);
        attr_add(a, DNSBLOG_ATTR_WANT_TXT, "0");
        struct stream *s = stream_open(fd);
        stream_set_timeout(s, 2);
        int w = attr_write(s, a);
        stream_free_keep_fd(s);
        attr_list_free(a);
        if (w < 0) {
            log_warn("write to %s: failed", sbuf_str(path));
            close(fd);
            continue;
        }
        struct ps_dnsbl_query *q = xcalloc(1, sizeof(*q));
        q->st = st;
        q->fd = fd;
        q->domain = ps_domains[i];
        q->in = sbuf_new(256);
        q->next = st->queries;
        st->queries = q;
        st->dnsbl_pending++;
        event_fd_add(fd, EVENT_READ, ps_dnsbl_read, q);
    }
    sbuf_free(path);
    sbuf_free(req);
    return st->dnsbl_pending;
}

void ps_dnsbl_cancel(struct ps_state *st)
{
    while (st->queries) {
        struct ps_dnsbl_query *q = st->queries;
        st->queries = q->next;
        ps_dnsbl_query_free(q);
    }
    st->dnsbl_pending = 0;
}
