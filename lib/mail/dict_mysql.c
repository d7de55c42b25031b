/*
 * dict_mysql.c - mysql:/path/file.cf tables (MariaDB/MySQL through libmariadb)
 *
 * Used by: dict.c (type table); virtual_*_maps, transport_maps and other
 *          maps kept in a database.
 * Interface: dict_type_mysql.
 * Errors: a bad or unreadable .cf file fails the open. A lookup that cannot
 *         reach any server or whose query fails returns DICT_ERR_RETRY, never
 *         "not found"; so does a result with more values than
 *         expansion_limit.
 * Notes: .cf parameters: hosts, user, password, dbname, query (or the old
 *        table/select_field/where_field/additional_conditions), result_format,
 *        expansion_limit, domain, option_file, option_group,
 *        require_result_set, retry_interval, idle_interval. In query, %s is
 *        the key, %u its local part, %d its domain, %1..%9 domain labels from
 *        the right, %% a percent sign, all escaped with
 *        mysql_real_escape_string(); when %d or %n cannot be filled the query
 *        is not sent (not found). In result_format, %s/%u/%d/%n apply to the
 *        result value and %S/%U/%D to the key. Several values (rows, columns)
 *        are joined with ", ". Connections stay open; UNIX-socket hosts are
 *        tried first, then TCP hosts in random order; a host that fails is
 *        skipped for retry_interval seconds. TLS settings are not supported yet.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif
/* mysql.h mentions strcpy in a macro; include it before the poison pragma. */
#include <mysql.h>

#include "dict.h"
#include "dict_priv.h"
#include "alloc.h"
#include "dynlib.h"
#include "log.h"

/*
 * libmariadb is loaded when the first mysql: table is opened, not at exec
 * time (dynlib.h says why). Each call below goes through the pointer that
 * dynlib_load() filled in.
 */
#define MY_API(X) X(mysql_init) X(mysql_close) X(mysql_errno) X(mysql_error) \
    X(mysql_fetch_row) X(mysql_field_count) X(mysql_free_result) X(mysql_num_fields) \
    X(mysql_options) X(mysql_real_connect) X(mysql_real_escape_string) \
    X(mysql_real_query) X(mysql_store_result)
DYNLIB_DEFINE(my_api, MY_API, "libmariadb.so.3", "libmariadb.so");
#define MY_FN(f) DYNLIB_FN(my_api, f)
#define mysql_init MY_FN(mysql_init)
#define mysql_close MY_FN(mysql_close)
#define mysql_errno MY_FN(mysql_errno)
#define mysql_error MY_FN(mysql_error)
#define mysql_fetch_row MY_FN(mysql_fetch_row)
#define mysql_field_count MY_FN(mysql_field_count)
#define mysql_free_result MY_FN(mysql_free_result)
#define mysql_num_fields MY_FN(mysql_num_fields)
#define mysql_options MY_FN(mysql_options)
#define mysql_real_connect MY_FN(mysql_real_connect)
#define mysql_real_escape_string MY_FN(mysql_real_escape_string)
#define mysql_real_query MY_FN(mysql_real_query)
#define mysql_store_result MY_FN(mysql_store_result)

#include <ctype.h>

#define MY_HOST_UNIX 1
#define MY_HOST_INET 2

struct my_host {
    char *label;                /* as written in hosts */
    int kind;
    char *name;                 /* socket path or host name */
    unsigned port;
    MYSQL *db;                  /* NULL when not connected */
    time_t dead_until;
    time_t last_used;
};

struct dict_mysql {
    char *cf;
    char *user, *password, *dbname, *query, *result_format;
    char *option_file, *option_group;
    long expansion_limit;
    long retry_interval, idle_interval;
    bool require_result_set;
    char **domains;             /* NULL: every key is eligible */
    struct my_host *hosts;
    size_t nhosts;
    struct sbuf *sql, *tmp;
    unsigned int seed;          /* private rand_r() state for host order */
};

static const char *const my_params[] = {
    "hosts", "user", "password", "dbname", "query", "table", "select_field", "where_field",
    "additional_conditions", "result_format", "expansion_limit", "domain", "option_file",
    "option_group", "require_result_set", "retry_interval", "idle_interval", "tls_cert_file",
    "tls_key_file", "tls_CAfile", "tls_CApath", "tls_ciphers", "tls_verify_cert", "charset",
};

/* ---- .cf file ---- */

struct my_cf {
    char *names[ARRAY_LEN(my_params)];
};

static const char *cf_get(const struct my_cf *c, const char *name, const char *dflt)
{
    for (size_t i = 0; i < ARRAY_LEN(my_params); i++)
        if (strcmp(my_params[i], name) == 0 && c->names[i] != NULL)
            return c->names[i];
    return dflt;
}

static int cf_read(const char *path, struct my_cf *c)
{
    struct dict_reader *r = dict_reader_open(path);
    struct sbuf *line;
    int lineno, rc;

    if (r == NULL) {
        log_warn("open %s: %m", path);
        return -1;
    }
    line = sbuf_new(256);
    while ((rc = dict_reader_next(r, line, &lineno)) > 0) {
        char *s = sbuf_data(line);
        char *eq = strchr(s, '=');
        if (eq == NULL) {
            log_warn("%s:%d: expected \"name = value\"; ignoring this line", path, lineno);
            continue;
        }
        char *ne = eq;
        while (ne > s && isspace((unsigned char)ne[-1]))
            ne--;
        *ne = 0;
        char *v = eq + 1;
        v += strspn(v, " \t");
        size_t i;
        for (i = 0; i < ARRAY_LEN(my_params); i++)
            if (strcmp(my_params[i], s) == 0)
                break;
        if (i == ARRAY_LEN(my_params)) {
            log_warn("%s:%d: unknown parameter \"%s\"; ignored", path, lineno, s);
            continue;
        }
        xfree(c->names[i]);
        c->names[i] = xstrdup(v);
    }
    sbuf_free(line);
    dict_reader_close(r);
    if (rc < 0) {
        log_warn("read %s: %m", path);
        return -1;
    }
    return 0;
}

static void cf_free(struct my_cf *c)
{
    for (size_t i = 0; i < ARRAY_LEN(my_params); i++) {
        if (c->names[i] && strcmp(my_params[i], "password") == 0)
            memset(c->names[i], 0, strlen(c->names[i]));
        xfree(c->names[i]);
    }
}

/* Splits a list on white space and commas; returns new NULL-terminated array. */
static char **my_split(const char *s)
{
    size_t n = 0, cap = 4;
    char **v = xcalloc(cap, sizeof(*v));
    while (*s) {
        s += strspn(s, " \t,");
        size_t len = strcspn(s, " \t,");
        if (len == 0)
            break;
        if (n + 2 > cap) {
            cap *= 2;
            v = xreallocarray(v, cap, sizeof(*v));
        }
        v[n++] = xstrndup(s, len);
        v[n] = NULL;
        s += len;
    }
    return v;
}

static void my_split_free(char **v)
{
    for (char **p = v; p && *p; p++)
        xfree(*p);
    xfree(v);
}

static bool my_parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != 0 || v < 0)
        return false;
    *out = v;
    return true;
}

/* Checks the % sequences of a template; returns NULL or the bad char. */
static const char *my_check_template(const char *t, bool result)
{
    for (const char *p = t; *p; p++) {
        if (*p != '%')
            continue;
        p++;
        if (*p == 0)
            return "template ends with '%'";
        if (strchr("%sudSUD123456789", *p) == NULL)
            return result ? "bad % sequence in result_format" : "bad % sequence in query";
    }
    return NULL;
}

static void my_host_parse(struct my_host *h, const char *spec)
{
    h->label = xstrdup(spec);
    if (strncmp(spec, "unix:", 5) == 0) {
        h->kind = MY_HOST_UNIX;
        h->name = xstrdup(spec + 5);
        return;
    }
    if (strncmp(spec, "inet:", 5) == 0)
        spec += 5;
    h->kind = MY_HOST_INET;
    const char *colon = strrchr(spec, ':');
    long port;
    if (colon != NULL && strchr(spec, ':') == colon && my_parse_long(colon + 1, &port) &&
        port > 0 && port < 65536) {
        h->name = xstrndup(spec, (size_t)(colon - spec));
        h->port = (unsigned)port;
    } else if (spec[0] == '[' && (colon = strstr(spec, "]:")) != NULL &&
               my_parse_long(colon + 2, &port) && port > 0 && port < 65536) {
        h->name = xstrndup(spec + 1, (size_t)(colon - spec - 1));
        h->port = (unsigned)port;
    } else {
        h->name = xstrdup(spec);
        h->port = 0;
    }
}

static void my_free(struct dict_mysql *m)
{
    for (size_t i = 0; i < m->nhosts; i++) {
        if (m->hosts[i].db)
            mysql_close(m->hosts[i].db);
        xfree(m->hosts[i].label);
        xfree(m->hosts[i].name);
    }
    xfree(m->hosts);
    if (m->password) {
        memset(m->password, 0, strlen(m->password));
        xfree(m->password);
    }
    xfree(m->cf);
    xfree(m->user);
    xfree(m->dbname);
    xfree(m->query);
    xfree(m->result_format);
    xfree(m->option_file);
    xfree(m->option_group);
    my_split_free(m->domains);
    sbuf_free(m->sql);
    sbuf_free(m->tmp);
    xfree(m);
}

static int dict_mysql_open(struct dict *d, const char *path)
{
    struct my_cf cf = { 0 };
    struct dict_mysql *m;
    const char *bad, *v;

    if (dict_dynlib_load(d, &my_api) < 0)
        return -1;
    if (cf_read(path, &cf) < 0) {
        log_warn("%s: cannot read the configuration file", d->spec);
        cf_free(&cf);
        return -1;
    }
    m = xcalloc(1, sizeof(*m));
    m->cf = xstrdup(path);
    m->user = xstrdup(cf_get(&cf, "user", ""));
    m->password = xstrdup(cf_get(&cf, "password", ""));
    m->dbname = xstrdup(cf_get(&cf, "dbname", ""));
    m->result_format = xstrdup(cf_get(&cf, "result_format", "%s"));
    m->option_file = xstrdup(cf_get(&cf, "option_file", ""));
    m->option_group = xstrdup(cf_get(&cf, "option_group", "client"));
    m->sql = sbuf_new(256);
    m->tmp = sbuf_new(256);
    m->seed = (unsigned int)time(NULL) ^ (unsigned int)getpid() ^ (unsigned int)(uintptr_t)m;
    if ((v = cf_get(&cf, "query", NULL)) != NULL) {
        m->query = xstrdup(v);
    } else {
        const char *table = cf_get(&cf, "table", NULL);
        const char *sel = cf_get(&cf, "select_field", NULL);
        const char *where = cf_get(&cf, "where_field", NULL);
        const char *extra = cf_get(&cf, "additional_conditions", "");
        if (table == NULL || sel == NULL || where == NULL) {
            log_warn("%s: %s: need \"query\", or \"table\", \"select_field\" and "
                     "\"where_field\"", d->spec, path);
            goto bad;
        }
        /* A literal % in the old-style parts must survive the expansion. */
        struct sbuf *q = sbuf_new(128);
        sbuf_printf(q, "SELECT %s FROM %s WHERE %s='%%s'", sel, table, where);
        if (*extra)
            sbuf_catf(q, " %s", extra);
        for (const char *p = sbuf_str(q); *p; p++)
            if (*p == '%' && p[1] != 's' && p[1] != '%') {
                log_warn("%s: %s: '%%' not allowed in old-style table parameters", d->spec,
                         path);
                sbuf_free(q);
                goto bad;
            }
        m->query = sbuf_detach(q);
    }
    if ((bad = my_check_template(m->query, false)) != NULL ||
        (bad = my_check_template(m->result_format, true)) != NULL) {
        log_warn("%s: %s: %s", d->spec, path, bad);
        goto bad;
    }
    if (!my_parse_long(cf_get(&cf, "expansion_limit", "0"), &m->expansion_limit) ||
        !my_parse_long(cf_get(&cf, "retry_interval", "60"), &m->retry_interval) ||
        !my_parse_long(cf_get(&cf, "idle_interval", "60"), &m->idle_interval)) {
        log_warn("%s: %s: bad number in expansion_limit, retry_interval or idle_interval",
                 d->spec, path);
        goto bad;
    }
    v = cf_get(&cf, "require_result_set", "yes");
    m->require_result_set = strcasecmp(v, "no") != 0;
    if ((v = cf_get(&cf, "domain", NULL)) != NULL && *v)
        m->domains = my_split(v);
    for (size_t i = 0; i < ARRAY_LEN(my_params); i++)
        if (strncmp(my_params[i], "tls_", 4) == 0 && cf.names[i] != NULL)
            log_warn("%s: %s: %s is not supported yet; connecting without TLS", d->spec, path,
                     my_params[i]);
    char **hl = my_split(cf_get(&cf, "hosts", "localhost"));
    for (char **p = hl; *p; p++)
        m->nhosts++;
    if (m->nhosts == 0) {
        log_warn("%s: %s: empty hosts list", d->spec, path);
        my_split_free(hl);
        goto bad;
    }
    m->hosts = xcalloc(m->nhosts, sizeof(*m->hosts));
    for (size_t i = 0; i < m->nhosts; i++)
        my_host_parse(&m->hosts[i], hl[i]);
    my_split_free(hl);
    cf_free(&cf);
    d->impl = m;
    return 0;
bad:
    cf_free(&cf);
    my_free(m);
    return -1;
}

/* ---- lookups ---- */

/* Appends s (n bytes) to out, escaped for an SQL string when db is set. */
static void my_add(struct dict_mysql *m, MYSQL *db, struct sbuf *out, const char *s, size_t n)
{
    if (db == NULL) {
        sbuf_append(out, s, n);
        return;
    }
    sbuf_reset(m->tmp);
    sbuf_reserve(m->tmp, 2 * n + 1);
    unsigned long len = mysql_real_escape_string(db, sbuf_data(m->tmp), s, n);
    sbuf_append(out, sbuf_str(m->tmp), len);
}

/* Expands template t. In a query (db set) every sequence takes the key; in
 * result_format, lower case takes value and upper case the key. Returns 1,
 * or 0 when a part is missing (no domain, too few labels). */
static int my_expand(struct dict_mysql *m, MYSQL *db, const char *t, const char *value,
                     const char *key, struct sbuf *out)
{
    sbuf_reset(out);
    for (const char *p = t; *p; p++) {
        if (*p != '%') {
            sbuf_addch(out, *p);
            continue;
        }
        int c = *++p;
        if (c == '%') {
            sbuf_addch(out, '%');
            continue;
        }
        const char *subj = (db != NULL || islower(c) || isdigit(c)) ? value : key;
        const char *at = strrchr(subj, '@');
        switch (tolower(c)) {
        case 's':
            my_add(m, db, out, subj, strlen(subj));
            break;
        case 'u':
            my_add(m, db, out, subj, at ? (size_t)(at - subj) : strlen(subj));
            break;
        case 'd':
            if (at == NULL || at[1] == 0)
                return 0;
            my_add(m, db, out, at + 1, strlen(at + 1));
            break;
        default: {              /* %1..%9: domain labels counted from the right */
            if (at == NULL || at[1] == 0)
                return 0;
            int want = c - '0';
            const char *dom = at + 1;
            const char *end = dom + strlen(dom);
            const char *s = end;
            for (int i = 1;; i++) {
                const char *dot = s;
                while (dot > dom && dot[-1] != '.')
                    dot--;
                if (i == want) {
                    if (dot == s)
                        return 0;
                    my_add(m, db, out, dot, (size_t)(s - dot));
                    break;
                }
                if (dot == dom)
                    return 0;
                s = dot - 1;
            }
            break;
        }
        }
    }
    return 1;
}

/* True when the key may be looked up under the domain restriction. */
static bool my_domain_ok(const struct dict_mysql *m, const char *key)
{
    if (m->domains == NULL)
        return true;
    const char *at = strrchr(key, '@');
    if (at == NULL || at == key || at[1] == 0)
        return false;
    for (char **p = m->domains; *p; p++)
        if (strcasecmp(*p, at + 1) == 0)
            return true;
    return false;
}

static void my_disconnect(struct my_host *h)
{
    if (h->db) {
        mysql_close(h->db);
        h->db = NULL;
    }
}

static void my_mark_dead(struct dict *d, struct dict_mysql *m, struct my_host *h,
                         const char *what)
{
    log_warn("%s: %s: %s; trying other hosts for %lds", d->spec, h->label, what,
             m->retry_interval);
    my_disconnect(h);
    h->dead_until = time(NULL) + m->retry_interval;
}

static bool my_connect(struct dict *d, struct dict_mysql *m, struct my_host *h)
{
    unsigned int connect_timeout = 10, rw_timeout = 30;

    h->db = mysql_init(NULL);
    if (h->db == NULL)
        log_fatal("mysql_init: out of memory");
    mysql_options(h->db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(h->db, MYSQL_OPT_READ_TIMEOUT, &rw_timeout);
    mysql_options(h->db, MYSQL_OPT_WRITE_TIMEOUT, &rw_timeout);
    if (*m->option_file)
        mysql_options(h->db, MYSQL_READ_DEFAULT_FILE, m->option_file);
    if (*m->option_group)
        mysql_options(h->db, MYSQL_READ_DEFAULT_GROUP, m->option_group);
    mysql_options(h->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    MYSQL *ok = h->kind == MY_HOST_UNIX
                    ? mysql_real_connect(h->db, NULL, m->user, m->password, m->dbname, 0,
                                         h->name, 0)
                    : mysql_real_connect(h->db, h->name, m->user, m->password, m->dbname,
                                         h->port, NULL, 0);
    if (ok == NULL) {
        struct sbuf *why = sbuf_new(128);
        sbuf_printf(why, "cannot connect: %s", mysql_error(h->db));
        my_mark_dead(d, m, h, sbuf_str(why));
        sbuf_free(why);
        return false;
    }
    log_debug(1, "%s: connected to %s", d->spec, h->label);
    return true;
}

/* Runs the query on h. Returns 1 found, 0 not found, -1 connection failure
 * (h is disconnected; try again or another host), -2 failure that another
 * host will not fix (SQL error, too many results). */
static int my_query(struct dict *d, struct dict_mysql *m, struct my_host *h, const char *key)
{
    if (!my_expand(m, h->db, m->query, key, key, m->sql))
        return 0;
    if (mysql_real_query(h->db, sbuf_str(m->sql), sbuf_len(m->sql)) != 0) {
        unsigned err = mysql_errno(h->db);
        /* 2000-2999 are client/connection errors; others are SQL errors. */
        if (err >= 2000 && err < 3000) {
            log_warn("%s: %s: query failed: %s", d->spec, h->label, mysql_error(h->db));
            my_disconnect(h);
            return -1;
        }
        log_warn("%s: query \"%s\" failed: %s", d->spec, sbuf_str(m->sql), mysql_error(h->db));
        return -2;
    }
    MYSQL_RES *res = mysql_store_result(h->db);
    if (res == NULL) {
        if (mysql_field_count(h->db) == 0) {
            if (!m->require_result_set)
                return 0;
            log_warn("%s: query \"%s\" returned no result set", d->spec, sbuf_str(m->sql));
            return -2;
        }
        log_warn("%s: %s: reading the result failed: %s", d->spec, h->label,
                 mysql_error(h->db));
        my_disconnect(h);
        return -1;
    }
    unsigned nf = mysql_num_fields(res);
    long nvalues = 0;
    struct sbuf *one = sbuf_new(128);
    MYSQL_ROW row;
    sbuf_reset(d->result);
    while ((row = mysql_fetch_row(res)) != NULL) {
        for (unsigned j = 0; j < nf; j++) {
            if (row[j] == NULL || row[j][0] == 0)
                continue;
            if (!my_expand(m, NULL, m->result_format, row[j], key, one) || sbuf_len(one) == 0)
                continue;
            if (m->expansion_limit > 0 && ++nvalues > m->expansion_limit) {
                log_warn("%s: %s: result limit (expansion_limit = %ld) exceeded for key \"%s\"",
                         d->spec, m->cf, m->expansion_limit, key);
                mysql_free_result(res);
                sbuf_free(one);
                return -2;
            }
            if (sbuf_len(d->result) > 0)
                sbuf_cat(d->result, ", ");
            sbuf_append(d->result, sbuf_str(one), sbuf_len(one));
        }
    }
    mysql_free_result(res);
    sbuf_free(one);
    return sbuf_len(d->result) > 0 ? 1 : 0;
}

static const char *dict_mysql_lookup(struct dict *d, const char *key)
{
    struct dict_mysql *m = d->impl;
    time_t now = time(NULL);
    size_t order[64];
    size_t n = 0;

    if (!my_domain_ok(m, key))
        return NULL;
    /* A query that needs a domain part the key lacks is not sent at all. */
    if (!my_expand(m, NULL, m->query, key, key, m->sql))
        return NULL;

    /* Connected hosts first, then UNIX sockets, then TCP in random order. */
    for (size_t i = 0; i < m->nhosts && n < ARRAY_LEN(order); i++)
        if (m->hosts[i].db)
            order[n++] = i;
    for (size_t i = 0; i < m->nhosts && n < ARRAY_LEN(order); i++)
        if (!m->hosts[i].db && m->hosts[i].kind == MY_HOST_UNIX && m->hosts[i].dead_until <= now)
            order[n++] = i;
    size_t first_inet = n;
    for (size_t i = 0; i < m->nhosts && n < ARRAY_LEN(order); i++)
        if (!m->hosts[i].db && m->hosts[i].kind == MY_HOST_INET && m->hosts[i].dead_until <= now)
            order[n++] = i;
    for (size_t i = n; i > first_inet + 1; i--) {
        size_t j = first_inet + (size_t)rand_r(&m->seed) % (i - first_inet);
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }

    for (size_t k = 0; k < n; k++) {
        struct my_host *h = &m->hosts[order[k]];
        if (h->db && m->idle_interval > 0 && now - h->last_used > m->idle_interval)
            my_disconnect(h);   /* the server may have dropped it meanwhile */
        if (h->db == NULL && h->dead_until > now)
            continue;
        bool was_open = h->db != NULL;
        if (h->db == NULL && !my_connect(d, m, h))
            continue;
        h->last_used = now;
        int rc = my_query(d, m, h, key);
        /* A kept connection may have been dropped by the server: one fresh try. */
        if (rc == -1 && was_open && my_connect(d, m, h))
            rc = my_query(d, m, h, key);
        if (rc == -1 && h->dead_until <= now) {
            log_warn("%s: %s: unusable; trying other hosts for %lds", d->spec, h->label,
                     m->retry_interval);
            h->dead_until = now + m->retry_interval;
        }
        if (rc >= 0)
            return rc == 1 ? sbuf_str(d->result) : NULL;
        if (rc == -2) {
            d->error = DICT_ERR_RETRY;
            return NULL;
        }
    }
    log_warn("%s: no database server available for key \"%s\"", d->spec, key);
    d->error = DICT_ERR_RETRY;
    return NULL;
}

static void dict_mysql_close(struct dict *d)
{
    my_free(d->impl);
}

const struct dict_type dict_type_mysql = {
    "mysql", DICT_F_FIXED, dict_mysql_open, dict_mysql_lookup, NULL, dict_mysql_close,
};
