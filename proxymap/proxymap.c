/*
 * proxymap.c - the proxymap and proxywrite services: table lookups on
 *              behalf of other daemons
 *
 * Used by: master (`proxymap unix - - n - - proxymap` and
 *          `proxywrite unix - - n - 1 proxymap`); clients are the
 *          proxy:TYPE:NAME tables of every program (lib/mail/dict_proxy.c).
 * Interface: main().
 * Errors: a malformed request is answered with status 4; a table that is
 *         not approved or cannot be opened with status 3 (and a warning);
 *         a failed lookup with status 2. A broken conversation closes that
 *         client's connection only.
 * Notes: protocol in docs/ipc.md "proxymap". Two reasons for this service:
 *        a chrooted daemon cannot read tables outside its jail (the system
 *        passwd file for local_recipient_maps), and database tables
 *        (proxy:mysql:) should share one set of connections per proxymap
 *        process instead of one per smtpd/cleanup/trivial-rewrite process.
 *        Only tables listed with a proxy: prefix in $proxy_read_maps
 *        ($proxy_write_maps for the proxywrite service) are opened; entries
 *        without the prefix do not count, as in Postfix. A table is opened at
 *        its first request, after the privilege drop, and kept for the life
 *        of the process (one instance per TYPE:NAME and client flags); there
 *        is no close request. Updates (proxywrite) are refused for now.
 */
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "dict.h"
#include "dict_proxy.h"
#include "log.h"
#include "sbuf.h"
#include "server.h"

struct pm_table {
    char *key;                  /* "FLAGS:TYPE:NAME" */
    struct dict *dict;
};

struct pm_state {
    bool writer;                /* running as the proxywrite service */
    const char *param;          /* proxy_read_maps or proxy_write_maps */
    char **approved;            /* "TYPE:NAME" from the parameter (owned) */
    size_t napproved;
    struct pm_table *tables;    /* opened tables, kept for the process life */
    size_t ntables;
    struct attr_list *req;
    struct sbuf *key;
};

static struct pm_state pm;

/* Collects the proxy:TYPE:NAME entries of the approving parameter. */
static void pm_load_approved(void)
{
    char **list = cfg_list(cfg_str(pm.param));
    size_t n = 0;

    for (size_t i = 0; list[i]; i++)
        n++;
    pm.approved = xcalloc(n + 1, sizeof(*pm.approved));
    for (size_t i = 0; list[i]; i++) {
        const char *item = list[i];
        if (strncmp(item, DICT_PROXY_PREFIX, strlen(DICT_PROXY_PREFIX)) != 0)
            continue;           /* not proxied: proxymap never serves it */
        while (strncmp(item, DICT_PROXY_PREFIX, strlen(DICT_PROXY_PREFIX)) == 0)
            item += strlen(DICT_PROXY_PREFIX);
        if (strchr(item, ':') == NULL)
            continue;
        bool dup = false;
        for (size_t j = 0; j < pm.napproved && !dup; j++)
            dup = strcmp(pm.approved[j], item) == 0;
        if (!dup)
            pm.approved[pm.napproved++] = xstrdup(item);
    }
    cfg_list_free(list);
    log_debug(1, "%zu table(s) approved by %s", pm.napproved, pm.param);
}

static bool pm_is_approved(const char *table)
{
    for (size_t i = 0; i < pm.napproved; i++)
        if (strcmp(pm.approved[i], table) == 0)
            return true;
    return false;
}

/* Finds or opens table with flags. Returns a borrowed dict, or NULL with
 * *status set (DENY after a warning, BAD for a malformed name). */
static struct dict *pm_find(const char *table, int flags, long *status)
{
    while (strncmp(table, DICT_PROXY_PREFIX, strlen(DICT_PROXY_PREFIX)) == 0)
        table += strlen(DICT_PROXY_PREFIX);
    if (strchr(table, ':') == NULL || strlen(table) > DICT_PROXY_TABLE_MAX) {
        log_warn("malformed table name in request: \"%.100s\"", table);
        *status = DICT_PROXY_STAT_BAD;
        return NULL;
    }
    if (!pm_is_approved(table)) {
        log_warn("request for unapproved table: \"%s\"; to approve it for %s access, list "
                 "proxy:%s in %s in main.cf",
                 table, pm.writer ? "read-write" : "read-only", table, pm.param);
        *status = DICT_PROXY_STAT_DENY;
        return NULL;
    }
    sbuf_printf(pm.key, "%d:%s", flags, table);
    for (size_t i = 0; i < pm.ntables; i++)
        if (strcmp(pm.tables[i].key, sbuf_str(pm.key)) == 0)
            return pm.tables[i].dict;
    /* Not cached: a table that fails to open is tried again next time
     * (the file or database may come back); dict_open() logged why. */
    struct dict *d = dict_open(table, flags);
    if (d == NULL) {
        *status = DICT_PROXY_STAT_DENY;
        return NULL;
    }
    pm.tables = xreallocarray(pm.tables, pm.ntables + 1, sizeof(*pm.tables));
    pm.tables[pm.ntables].key = xstrdup(sbuf_str(pm.key));
    pm.tables[pm.ntables].dict = d;
    pm.ntables++;
    return d;
}

/* The request's table and flags; NULL when missing or malformed. */
static const char *pm_table_flags(int *flags)
{
    const char *table = attr_get(pm.req, "table");
    long f;

    if (table == NULL || attr_get_long(pm.req, "flags", &f) < 0 || f < 0) {
        log_warn("request without a valid table or flags attribute");
        return NULL;
    }
    *flags = (int)(f & DICT_PROXY_CLIENT_FLAGS);
    return table;
}

static int pm_reply_status(struct stream *s, long status)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%ld", status);
    return attr_send(s, "status", buf, (char *)NULL) < 0 ? -1 : 0;
}

static int pm_lookup(struct stream *s)
{
    int flags;
    long status = DICT_PROXY_STAT_BAD;
    const char *table = pm_table_flags(&flags);
    const char *key = attr_get(pm.req, "key");
    struct dict *d;

    if (table == NULL || key == NULL) {
        if (table != NULL)
            log_warn("lookup request without a key");
        return pm_reply_status(s, DICT_PROXY_STAT_BAD);
    }
    if ((d = pm_find(table, flags, &status)) == NULL)
        return pm_reply_status(s, status);
    const char *value = dict_lookup(d, key);
    if (value != NULL) {
        log_debug(1, "%s: `%s' -> `%s'", dict_name(d), key, value);
        return attr_send(s, "status", "0", "value", value, (char *)NULL) < 0 ? -1 : 0;
    }
    status = dict_error(d) != DICT_ERR_NONE ? DICT_PROXY_STAT_RETRY : DICT_PROXY_STAT_NOKEY;
    log_debug(1, "%s: `%s' -> %s", dict_name(d), key,
              status == DICT_PROXY_STAT_NOKEY ? "not found" : "try again");
    return pm_reply_status(s, status);
}

static int pm_open(struct stream *s)
{
    int flags;
    long status = DICT_PROXY_STAT_BAD;
    const char *table = pm_table_flags(&flags);
    struct dict *d;
    char fbuf[24];

    if (table == NULL)
        return pm_reply_status(s, DICT_PROXY_STAT_BAD);
    if ((d = pm_find(table, flags, &status)) == NULL)
        return pm_reply_status(s, status);
    snprintf(fbuf, sizeof(fbuf), "%d", dict_flags(d));
    return attr_send(s, "status", "0", "flags", fbuf, (char *)NULL) < 0 ? -1 : 0;
}

/* XXX: updates (proxywrite: address verification and SASL caches) are not
 * supported yet; refuse them so that the client reports a failure. */
static int pm_update(struct stream *s)
{
    const char *table = attr_get(pm.req, "table");
    log_warn("refusing update request for table %s: table updates through the %s service are "
             "not supported",
             table ? table : "(none)", server_service_name());
    return pm_reply_status(s, DICT_PROXY_STAT_DENY);
}

/* Reads and answers one request. Returns 0, or -1 to close the connection. */
static int pm_request(struct stream *s)
{
    int r = attr_read(s, pm.req);
    if (r < 0) {
        if (r != STREAM_E_EOF)
            log_warn("proxymap request: %s",
                     r <= ATTR_E_FORMAT ? "malformed request" : stream_strerror(r));
        return -1;
    }
    const char *req = attr_get(pm.req, "request");
    if (req == NULL) {
        log_warn("request without a request attribute");
        return pm_reply_status(s, DICT_PROXY_STAT_BAD);
    }
    if (strcmp(req, DICT_PROXY_REQ_LOOKUP) == 0)
        return pm_lookup(s);
    if (strcmp(req, DICT_PROXY_REQ_OPEN) == 0)
        return pm_open(s);
    if (strcmp(req, DICT_PROXY_REQ_UPDATE) == 0)
        return pm_update(s);
    log_warn("unrecognized request: \"%.30s\", ignored", req);
    return pm_reply_status(s, DICT_PROXY_STAT_BAD);
}

static int pm_greet(struct stream *s)
{
    return attr_send_proto(s, DICT_PROXY_PROTO) < 0 ? -1 : 0;
}

static void pm_init(void)
{
    char **args = server_args();
    if (args != NULL && args[0] != NULL)
        log_fatal("unexpected command-line argument: %s", args[0]);
    pm.writer = strcmp(server_service_name(), cfg_str(P_PROXYWRITE_SERVICE_NAME)) == 0;
    pm.param = pm.writer ? P_PROXY_WRITE_MAPS : P_PROXY_READ_MAPS;
    pm.req = attr_list_new();
    pm.key = sbuf_new(128);
    pm_load_approved();
}

static void pm_exit(void)
{
    for (size_t i = 0; i < pm.ntables; i++) {
        dict_close(pm.tables[i].dict);
        xfree(pm.tables[i].key);
    }
    xfree(pm.tables);
    for (size_t i = 0; i < pm.napproved; i++)
        xfree(pm.approved[i]);
    xfree(pm.approved);
    attr_list_free(pm.req);
    sbuf_free(pm.key);
    memset(&pm, 0, sizeof(pm));
}

static const struct server_ops pm_ops = {
    .model = SERVER_MULTI,
    .post_jail = pm_init,
    .connect = pm_greet,
    .request = pm_request,
    .on_exit = pm_exit,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &pm_ops);
}
