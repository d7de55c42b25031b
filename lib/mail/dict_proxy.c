/*
 * dict_proxy.c - proxy:TYPE:NAME tables: lookups through the proxymap service
 *
 * Used by: dict.c (type table) for every "proxy:" table; smtpd's default
 *          local_recipient_maps = proxy:unix:passwd.byname $alias_maps.
 * Interface: dict_type_proxy, dict_proxy_disconnect().
 * Errors: a proxymap that cannot be reached, a broken conversation, a
 *         malformed reply, a table error (status 2) and a refused table
 *         (status 3) all make the lookup DICT_ERR_RETRY, never "not found".
 *         The open fails only for an unknown inner type.
 * Notes: the connection to private/$proxymap_service_name is made at the
 *        first lookup (so a chrooted daemon connects from inside the jail by
 *        a relative path) and shared by every proxy: table of the process.
 *        A request that meets a broken connection (proxymap exited after
 *        max_use, or was restarted) is sent once more on a new connection.
 *        A connection idle longer than $ipc_idle or older than $ipc_ttl is
 *        replaced before use, so proxymap processes can retire. There is no
 *        in-process fallback: like Postfix, postmap -q proxy:... asks
 *        proxymap too. Keys are folded here (dict_lookup(), DICT_F_FOLD with
 *        the inner type's DICT_F_FIXED) before they are sent.
 */
#include "dict_proxy.h"
#include "dict.h"
#include "dict_priv.h"
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"

struct dict_proxy {
    char *table;                /* inner "TYPE:NAME", proxy: prefixes removed */
    bool warned_deny;           /* status 3 was reported once already */
};

/* The process's one connection to proxymap, shared by all proxy: tables. */
static struct stream *dict_proxy_stream;
static struct attr_list *dict_proxy_reply;
static time_t dict_proxy_born, dict_proxy_used;

void dict_proxy_disconnect(void)
{
    stream_close(dict_proxy_stream);
    dict_proxy_stream = NULL;
}

/* Connects unless a fresh connection exists. 0, or -1 (mail_connect logged). */
static int dict_proxy_connect(void)
{
    time_t now = time(NULL);

    if (dict_proxy_stream != NULL &&
        (now - dict_proxy_used > cfg_time(P_IPC_IDLE) || now - dict_proxy_born > cfg_time(P_IPC_TTL)
         || now < dict_proxy_born))
        dict_proxy_disconnect();
    if (dict_proxy_stream == NULL) {
        dict_proxy_stream =
            mail_connect(MAIL_CLASS_PRIVATE, cfg_str(P_PROXYMAP_SERVICE_NAME), DICT_PROXY_PROTO);
        if (dict_proxy_stream == NULL)
            return -1;
        dict_proxy_born = now;
    }
    dict_proxy_used = now;
    return 0;
}

/* Sends req and reads the reply into dict_proxy_reply. A conversation that
 * breaks (proxymap retired after max_use, or was restarted) is tried once
 * more on a new connection. 0, or -1 after a warning. */
static int dict_proxy_call(const char *spec, const struct attr_list *req)
{
    if (dict_proxy_reply == NULL)
        dict_proxy_reply = attr_list_new();
    for (int attempt = 0; attempt < 2; attempt++) {
        if (dict_proxy_connect() < 0)
            return -1;
        int r = attr_write(dict_proxy_stream, req);
        if (r == 0)
            r = attr_read(dict_proxy_stream, dict_proxy_reply);
        if (r == 0)
            return 0;
        dict_proxy_disconnect();
        /* Only a connection that went away is worth a second try; a
         * timeout would just double the wait, a bad reply is a bug. */
        if (attempt == 1 || (r != STREAM_E_EOF && r != STREAM_E_IO)) {
            log_warn("%s: lookup through the %s service failed: %s", spec,
                     cfg_str(P_PROXYMAP_SERVICE_NAME),
                     r <= ATTR_E_FORMAT ? "malformed reply" : stream_strerror(r));
            return -1;
        }
        log_debug(1, "%s: %s connection broken (%s); reconnecting", spec,
                  cfg_str(P_PROXYMAP_SERVICE_NAME), stream_strerror(r));
    }
    return -1;
}

/* Strips leading "proxy:" prefixes. Returns a pointer into name. */
static const char *dict_proxy_strip(const char *name)
{
    while (strncmp(name, DICT_PROXY_PREFIX, strlen(DICT_PROXY_PREFIX)) == 0)
        name += strlen(DICT_PROXY_PREFIX);
    return name;
}

static int dict_proxy_open(struct dict *d, const char *name)
{
    struct sbuf *type = sbuf_new(16);
    const char *inner = dict_proxy_strip(name);
    const char *rest = dict_split_spec(inner, type);
    const struct dict_type *dt = NULL;

    if (rest == NULL)
        log_warn("%s: table name has no type: prefix (expected proxy:type:name)", d->spec);
    else if ((dt = dict_type_find(sbuf_str(type))) == NULL)
        log_warn("%s: unsupported dictionary type: %s", d->spec, sbuf_str(type));
    else if (strlen(inner) > DICT_PROXY_TABLE_MAX)
        log_warn("%s: table name too long for the proxymap service", d->spec);
    sbuf_free(type);
    if (dt == NULL || strlen(inner) > DICT_PROXY_TABLE_MAX)
        return -1;

    struct dict_proxy *p = xcalloc(1, sizeof(*p));
    p->table = xstrdup(inner);
    d->impl = p;
    /* Folding and pattern semantics are those of the table behind proxymap. */
    d->flags |= dt->flags;
    return 0;
}

static const char *dict_proxy_lookup(struct dict *d, const char *key)
{
    struct dict_proxy *p = d->impl;
    struct attr_list *req = attr_list_new();
    long status;

    attr_add(req, "request", DICT_PROXY_REQ_LOOKUP);
    attr_add(req, "table", p->table);
    attr_add_long(req, "flags", d->flags & DICT_PROXY_CLIENT_FLAGS);
    attr_add(req, "key", key);
    int r = dict_proxy_call(d->spec, req);
    attr_list_free(req);
    if (r < 0) {
        d->error = DICT_ERR_RETRY;
        return NULL;
    }
    if (attr_get_long(dict_proxy_reply, "status", &status) < 0) {
        log_warn("%s: malformed reply from the %s service (no status)", d->spec,
                 cfg_str(P_PROXYMAP_SERVICE_NAME));
        dict_proxy_disconnect();
        d->error = DICT_ERR_RETRY;
        return NULL;
    }
    switch (status) {
    case DICT_PROXY_STAT_OK: {
        const char *v = attr_get(dict_proxy_reply, "value");
        if (v == NULL) {
            log_warn("%s: malformed reply from the %s service (no value)", d->spec,
                     cfg_str(P_PROXYMAP_SERVICE_NAME));
            dict_proxy_disconnect();
            d->error = DICT_ERR_RETRY;
            return NULL;
        }
        sbuf_set(d->result, v);
        return sbuf_str(d->result);
    }
    case DICT_PROXY_STAT_NOKEY:
        return NULL;
    case DICT_PROXY_STAT_RETRY:
        log_debug(1, "%s: lookup of %s: table error at the %s service", d->spec, key,
                  cfg_str(P_PROXYMAP_SERVICE_NAME));
        d->error = DICT_ERR_RETRY;
        return NULL;
    case DICT_PROXY_STAT_DENY:
        if (!p->warned_deny)
            log_warn("%s: the %s service refuses table %s (not listed in %s, or it cannot be "
                     "opened); lookups fail temporarily",
                     d->spec, cfg_str(P_PROXYMAP_SERVICE_NAME), p->table, P_PROXY_READ_MAPS);
        p->warned_deny = true;
        d->error = DICT_ERR_RETRY;
        return NULL;
    default:
        log_warn("%s: the %s service answered status %ld", d->spec,
                 cfg_str(P_PROXYMAP_SERVICE_NAME), status);
        d->error = DICT_ERR_RETRY;
        return NULL;
    }
}

static void dict_proxy_close(struct dict *d)
{
    struct dict_proxy *p = d->impl;
    if (p == NULL)
        return;
    xfree(p->table);
    xfree(p);
    d->impl = NULL;
}

const struct dict_type dict_type_proxy = {
    .name = "proxy",
    .flags = 0,
    .open = dict_proxy_open,
    .lookup = dict_proxy_lookup,
    .sequence = NULL,
    .close = dict_proxy_close,
};
