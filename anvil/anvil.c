/*
 * anvil.c - the anvil service: per-client connection counts and event
 *           rates for smtpd's client limits
 *
 * Used by: master (`anvil unix - - n - 1 anvil`); clients are smtpd
 *          processes through lib/mail/anvil_clnt.c.
 * Interface: main(); requests connect, disconnect, message, recipient,
 *            newtls, newtls_report, auth and lookup (docs/ipc.md "anvil").
 * Errors: a malformed request closes that client's connection; unknown
 *         requests are logged and answered with status=1.
 * Notes: one resident SERVER_MULTI process keeps every counter in memory,
 *        keyed by "service:address". Rates are counted in fixed windows of
 *        $anvil_rate_time_unit that start with the first event; the
 *        concurrent count goes down on "disconnect" or when the smtpd
 *        process that registered the connection closes its anvil stream.
 *        Idle entries are dropped after a window without connections.
 *        Every $anvil_status_update_time (and at exit) the maxima seen are
 *        logged as "statistics: ..." lines, then reset.
 */
#include "alloc.h"
#include "anvil_clnt.h"
#include "attr.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "sbuf.h"
#include "server.h"

#define ANVIL_BUCKETS 1024
#define ANVIL_IDENT_MAX 300         /* "service:address" length limit */

struct anvil_remote {
    char *ident;
    long count;                     /* concurrent connections */
    time_t start;                   /* start of the current rate window */
    long rate, message, recipient, newtls, auth;
    struct anvil_remote *next;      /* hash chain */
};

/* Connections one client stream registered, to undo when it goes away. */
struct anvil_local {
    struct stream *s;
    struct anvil_remote **conns;    /* one entry per open connection */
    size_t nconns, cap;
    struct anvil_local *next;
};

/* The largest value of one statistic since the last report. */
struct anvil_max {
    const char *what;               /* "connection rate" ... */
    bool is_rate;
    long value;
    char ident[ANVIL_IDENT_MAX + 1];
    time_t when;
};

enum { ANVIL_MAX_RATE, ANVIL_MAX_COUNT, ANVIL_MAX_MESSAGE, ANVIL_MAX_RECIPIENT, ANVIL_MAX_NEWTLS,
       ANVIL_MAX_AUTH, ANVIL_MAX_N };

static struct anvil_remote *anvil_table[ANVIL_BUCKETS];
static size_t anvil_nremote;
static struct anvil_local *anvil_locals;
static struct attr_list *anvil_req;
static long anvil_time_unit;
static long anvil_status_time;
static struct anvil_max anvil_max[ANVIL_MAX_N] = {
    [ANVIL_MAX_RATE] = { "connection rate", true, 0, "", 0 },
    [ANVIL_MAX_COUNT] = { "connection count", false, 0, "", 0 },
    [ANVIL_MAX_MESSAGE] = { "message rate", true, 0, "", 0 },
    [ANVIL_MAX_RECIPIENT] = { "recipient rate", true, 0, "", 0 },
    [ANVIL_MAX_NEWTLS] = { "newtls rate", true, 0, "", 0 },
    [ANVIL_MAX_AUTH] = { "auth rate", true, 0, "", 0 },
};
static size_t anvil_max_cache;
static time_t anvil_max_cache_when;

/* ---- the table -------------------------------------------------------- */

static unsigned anvil_hash(const char *s)
{
    unsigned h = 2166136261u;
    while (*s)
        h = (h ^ (unsigned char)*s++) * 16777619u;
    return h % ANVIL_BUCKETS;
}

static struct anvil_remote *anvil_find(const char *ident, bool create)
{
    unsigned h = anvil_hash(ident);
    for (struct anvil_remote *r = anvil_table[h]; r; r = r->next)
        if (strcmp(r->ident, ident) == 0)
            return r;
    if (!create)
        return NULL;
    struct anvil_remote *r = xcalloc(1, sizeof(*r));
    r->ident = xstrdup(ident);
    r->start = time(NULL);
    r->next = anvil_table[h];
    anvil_table[h] = r;
    anvil_nremote++;
    if (anvil_nremote > anvil_max_cache) {
        anvil_max_cache = anvil_nremote;
        anvil_max_cache_when = time(NULL);
    }
    return r;
}

/* Starts a new rate window when the old one is over. */
static void anvil_window(struct anvil_remote *r, time_t now)
{
    if (now - r->start >= anvil_time_unit || now < r->start) {
        r->start = now;
        r->rate = r->message = r->recipient = r->newtls = r->auth = 0;
    }
}

static void anvil_note_max(int which, long value, const char *ident)
{
    struct anvil_max *m = &anvil_max[which];
    if (value > m->value) {
        m->value = value;
        strlcpy(m->ident, ident, sizeof(m->ident));
        m->when = time(NULL);
    }
}

/* Drops entries without connections whose rate window is over. */
static void anvil_sweep(void *ctx)
{
    (void)ctx;
    time_t now = time(NULL);
    for (int i = 0; i < ANVIL_BUCKETS; i++) {
        struct anvil_remote **pp = &anvil_table[i], *r;
        while ((r = *pp) != NULL) {
            if (r->count <= 0 && now - r->start >= anvil_time_unit) {
                *pp = r->next;
                xfree(r->ident);
                xfree(r);
                anvil_nremote--;
            } else
                pp = &r->next;
        }
    }
    event_timer_add((double)anvil_time_unit, anvil_sweep, NULL);
}

/* ---- statistics ------------------------------------------------------- */

static void anvil_stamp(char *out, size_t len, time_t when)
{
    char buf[32];
    struct tm tm;
    localtime_r(&when, &tm);
    if (strftime(buf, sizeof(buf), "%b %e %H:%M:%S", &tm) == 0)
        buf[0] = 0;
    strlcpy(out, buf, len);
}

static void anvil_log_stats(void)
{
    char when[32];
    for (int i = 0; i < ANVIL_MAX_N; i++) {
        struct anvil_max *m = &anvil_max[i];
        if (m->value <= 0)
            continue;
        anvil_stamp(when, sizeof(when), m->when);
        if (m->is_rate)
            log_info("statistics: max %s %ld/%lds for (%s) at %s", m->what, m->value,
                     anvil_time_unit, m->ident, when);
        else
            log_info("statistics: max %s %ld for (%s) at %s", m->what, m->value, m->ident, when);
        m->value = 0;
    }
    if (anvil_max_cache > 0) {
        anvil_stamp(when, sizeof(when), anvil_max_cache_when);
        log_info("statistics: max cache size %zu at %s", anvil_max_cache, when);
        anvil_max_cache = 0;    /* report again only after new entries */
    }
}

static void anvil_status_event(void *ctx)
{
    (void)ctx;
    anvil_log_stats();
    event_timer_add((double)anvil_status_time, anvil_status_event, NULL);
}

/* ---- clients ---------------------------------------------------------- */

static struct anvil_local *anvil_local_find(struct stream *s, bool create)
{
    for (struct anvil_local *l = anvil_locals; l; l = l->next)
        if (l->s == s)
            return l;
    if (!create)
        return NULL;
    struct anvil_local *l = xcalloc(1, sizeof(*l));
    l->s = s;
    l->next = anvil_locals;
    anvil_locals = l;
    return l;
}

static void anvil_local_add(struct anvil_local *l, struct anvil_remote *r)
{
    if (l->nconns == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 8;
        l->conns = xrealloc(l->conns, l->cap * sizeof(*l->conns));
    }
    l->conns[l->nconns++] = r;
}

/* Forgets one connection of r registered by l; false when l had none. */
static bool anvil_local_drop(struct anvil_local *l, struct anvil_remote *r)
{
    for (size_t i = 0; i < l->nconns; i++) {
        if (l->conns[i] == r) {
            l->conns[i] = l->conns[--l->nconns];
            return true;
        }
    }
    return false;
}

static void anvil_disconnect_stream(struct stream *s)
{
    struct anvil_local **pp = &anvil_locals, *l;
    while ((l = *pp) != NULL && l->s != s)
        pp = &l->next;
    if (l == NULL)
        return;
    *pp = l->next;
    for (size_t i = 0; i < l->nconns; i++)
        if (l->conns[i]->count > 0)
            l->conns[i]->count--;
    xfree(l->conns);
    xfree(l);
}

/* ---- requests --------------------------------------------------------- */

static int anvil_reply(struct stream *s, long status, const struct anvil_remote *r)
{
    struct attr_list *out = attr_list_new();
    attr_add_long(out, "status", status);
    if (r) {
        attr_add_long(out, "count", r->count);
        attr_add_long(out, "rate", r->rate);
        attr_add_long(out, "message", r->message);
        attr_add_long(out, "recipient", r->recipient);
        attr_add_long(out, "newtls", r->newtls);
        attr_add_long(out, "auth", r->auth);
    }
    int rc = attr_write(s, out);
    attr_list_free(out);
    return rc < 0 ? -1 : 0;
}

/* Reply with "rate" set to value (the other counters as they are). */
static int anvil_reply_rate(struct stream *s, const struct anvil_remote *r, long value)
{
    struct attr_list *out = attr_list_new();
    attr_add_long(out, "status", 0);
    attr_add_long(out, "count", r->count);
    attr_add_long(out, "rate", value);
    int rc = attr_write(s, out);
    attr_list_free(out);
    return rc < 0 ? -1 : 0;
}

static int anvil_request(struct stream *s)
{
    int rc = attr_read(s, anvil_req);
    if (rc < 0) {
        if (rc != STREAM_E_EOF)
            log_warn("anvil request: %s",
                     rc <= ATTR_E_FORMAT ? "malformed request" : stream_strerror(rc));
        return -1;
    }
    const char *req = attr_get(anvil_req, "request");
    const char *ident = attr_get(anvil_req, "ident");
    if (req == NULL || ident == NULL || *ident == 0 || strlen(ident) > ANVIL_IDENT_MAX) {
        log_warn("anvil request without valid request or ident attribute");
        return -1;
    }
    time_t now = time(NULL);
    log_debug(1, "request=%s ident=%s", req, ident);

    if (strcmp(req, ANVIL_REQ_LOOKUP) == 0) {
        struct anvil_remote *r = anvil_find(ident, false);
        if (r)
            anvil_window(r, now);
        struct anvil_remote zero = { 0 };
        return anvil_reply(s, 0, r ? r : &zero);
    }
    if (strcmp(req, ANVIL_REQ_DISCONNECT) == 0) {
        struct anvil_remote *r = anvil_find(ident, false);
        struct anvil_local *l = anvil_local_find(s, false);
        if (r && l && anvil_local_drop(l, r) && r->count > 0)
            r->count--;
        return anvil_reply(s, 0, NULL);
    }
    struct anvil_remote *r = anvil_find(ident, true);
    anvil_window(r, now);
    if (strcmp(req, ANVIL_REQ_CONNECT) == 0) {
        r->count++;
        r->rate++;
        anvil_local_add(anvil_local_find(s, true), r);
        anvil_note_max(ANVIL_MAX_COUNT, r->count, ident);
        anvil_note_max(ANVIL_MAX_RATE, r->rate, ident);
        return anvil_reply(s, 0, r);
    }
    if (strcmp(req, ANVIL_REQ_MESSAGE) == 0) {
        r->message++;
        anvil_note_max(ANVIL_MAX_MESSAGE, r->message, ident);
        return anvil_reply_rate(s, r, r->message);
    }
    if (strcmp(req, ANVIL_REQ_RECIPIENT) == 0) {
        r->recipient++;
        anvil_note_max(ANVIL_MAX_RECIPIENT, r->recipient, ident);
        return anvil_reply_rate(s, r, r->recipient);
    }
    if (strcmp(req, ANVIL_REQ_NEWTLS) == 0) {
        r->newtls++;
        anvil_note_max(ANVIL_MAX_NEWTLS, r->newtls, ident);
        return anvil_reply_rate(s, r, r->newtls);
    }
    if (strcmp(req, ANVIL_REQ_NEWTLS_REPORT) == 0)
        return anvil_reply_rate(s, r, r->newtls);
    if (strcmp(req, ANVIL_REQ_AUTH) == 0) {
        r->auth++;
        anvil_note_max(ANVIL_MAX_AUTH, r->auth, ident);
        return anvil_reply_rate(s, r, r->auth);
    }
    log_warn("unrecognized request: \"%.30s\", ignored", req);
    return anvil_reply(s, 1, NULL);
}

static int anvil_connect(struct stream *s)
{
    return attr_send_proto(s, ANVIL_PROTO) < 0 ? -1 : 0;
}

static void anvil_post_jail(void)
{
    anvil_req = attr_list_new();
    anvil_time_unit = cfg_time(P_ANVIL_RATE_TIME_UNIT);
    if (anvil_time_unit < 1)
        anvil_time_unit = 1;
    anvil_status_time = cfg_time(P_ANVIL_STATUS_UPDATE_TIME);
    if (anvil_status_time < 1)
        anvil_status_time = 1;
    event_timer_add((double)anvil_time_unit, anvil_sweep, NULL);
    event_timer_add((double)anvil_status_time, anvil_status_event, NULL);
}

static void anvil_exit(void)
{
    anvil_log_stats();
}

static const struct server_ops anvil_ops = {
    .model = SERVER_MULTI,
    .resident = true,
    .post_jail = anvil_post_jail,
    .connect = anvil_connect,
    .request = anvil_request,
    .disconnect = anvil_disconnect_stream,
    .on_exit = anvil_exit,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &anvil_ops);
}
