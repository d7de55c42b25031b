/*
 * config.c - main.cf parameters: reading, layering, $name expansion, typed access
 *
 * Used by: every daemon and command (through config.h).
 * Interface: see config.h.
 * Errors: syntax errors in main.cf are logged as "FILE:LINE: what" and make
 *         config_load() return -1 (the other lines still load). A value that
 *         does not parse as its type, is out of bounds, or expands in a loop is
 *         log_fatal, naming the parameter.
 * Notes: each parameter has one entry in a chained hash table, holding up to
 *        three layers: -o override, main.cf value, and the "-c dir" value of
 *        config_directory; below them is the table default. Expanded values are
 *        cached per entry and tagged with a generation number that every set,
 *        override and load bumps, so cfg_str() on a hot path is one hash
 *        lookup and a compare. A cached string that changes is retired, not
 *        freed, so pointers handed out stay valid until the next config_load().
 */
#include "config.h"

#include <ctype.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <net/if.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "alloc.h"
#include "lline.h"
#include "log.h"
#include "param_table.h"
#include "sbuf.h"
#include "transport_param.h"

#define CFG_BUCKETS 4096            /* power of two */
#define CFG_MAX_DEPTH 100           /* $name nesting limit */
#define CFG_MAX_LINE (64 * 1024 * 1024) /* longest logical main.cf line (long mynetworks) */
#define CFG_DEFAULT_DIR "/etc/postfix"

struct cfg_ent {
    char *name;
    const struct param_def *def;    /* NULL when not in the table */
    char *ovr_val;                  /* -o override */
    char *file_val;                 /* main.cf */
    char *dir_val;                  /* config_directory from config_load(dir) */
    const char *file;               /* where file_val came from (borrowed from cfg_files) */
    int line;
    bool in_order;                  /* listed in cfg_order */
    char *cache;                    /* expanded value */
    unsigned long cache_gen;
    bool busy;                      /* being expanded (loop detection) */
    struct cfg_ent *next;
};

static struct cfg_ent *cfg_hash[CFG_BUCKETS];
static unsigned long cfg_gen = 1;

/* main.cf entries in file order, for config_foreach(). */
static struct cfg_ent **cfg_order;
static size_t cfg_order_len, cfg_order_cap;

/* Strings handed out that changed since; freed at the next config_load(). */
static char **cfg_retired;
static size_t cfg_retired_len, cfg_retired_cap;

static char *cfg_dir;               /* directory in use */
static char *cfg_file_name;         /* DIR/main.cf of the last load */
static char *cfg_hostname;          /* computed default of myhostname */
static char *cfg_dyn_domain;        /* computed default of mydomain */
static char *cfg_dyn_networks;      /* computed default of mynetworks */
static char *cfg_dyn_pid;
static char **cfg_service_names;    /* master.cf service names (for config_known) */

static const char *cfg_service_default(const char *name);

static const char *cfg_value_of(const char *name, int depth);

/*
 * What an expansion in progress has allocated: buffers and strings that a
 * log_fatal() hook which longjmps out (tests, config_fuzz) would otherwise
 * lose. Pushed before recursing, popped after; config_load() frees what a
 * fatal left here.
 */
struct cfg_held {
    void *p;
    bool is_sbuf;
};
static struct cfg_held *cfg_inflight;
static size_t cfg_inflight_len, cfg_inflight_cap;

static void cfg_hold(void *p, bool is_sbuf)
{
    if (p == NULL)
        return;
    if (cfg_inflight_len == cfg_inflight_cap) {
        cfg_inflight_cap = cfg_inflight_cap ? 2 * cfg_inflight_cap : 32;
        cfg_inflight = xreallocarray(cfg_inflight, cfg_inflight_cap, sizeof(*cfg_inflight));
    }
    cfg_inflight[cfg_inflight_len].p = p;
    cfg_inflight[cfg_inflight_len++].is_sbuf = is_sbuf;
}

/* Forgets p (the caller frees it); normally the last one held. */
static void cfg_unhold(const void *p)
{
    if (p == NULL)
        return;
    for (size_t i = cfg_inflight_len; i > 0; i--)
        if (cfg_inflight[i - 1].p == p) {
            memmove(&cfg_inflight[i - 1], &cfg_inflight[i],
                    (cfg_inflight_len - i) * sizeof(*cfg_inflight));
            cfg_inflight_len--;
            return;
        }
}

/* Frees what expansions that ended in log_fatal() left held. */
static void cfg_free_held(void)
{
    while (cfg_inflight_len > 0) {
        struct cfg_held *h = &cfg_inflight[--cfg_inflight_len];

        if (h->is_sbuf)
            sbuf_free(h->p);
        else
            xfree(h->p);
    }
}

/* FNV-1a. */
static unsigned cfg_hash_name(const char *s)
{
    uint32_t h = 2166136261u;

    for (; *s; s++) {
        h ^= (unsigned char) *s;
        h *= 16777619u;
    }
    return h & (CFG_BUCKETS - 1);
}

static struct cfg_ent *cfg_lookup(const char *name, bool create)
{
    unsigned h = cfg_hash_name(name);
    struct cfg_ent *e;

    for (e = cfg_hash[h]; e; e = e->next)
        if (strcmp(e->name, name) == 0)
            return e;
    if (!create && param_find(name) == NULL && cfg_service_default(name) == NULL)
        return NULL;
    e = xcalloc(1, sizeof(*e));
    e->name = xstrdup(name);
    e->def = param_find(name);
    e->next = cfg_hash[h];
    cfg_hash[h] = e;
    return e;
}

static void cfg_retire(char *s)
{
    if (s == NULL)
        return;
    if (cfg_retired_len == cfg_retired_cap) {
        cfg_retired_cap = cfg_retired_cap ? 2 * cfg_retired_cap : 64;
        cfg_retired = xreallocarray(cfg_retired, cfg_retired_cap, sizeof(*cfg_retired));
    }
    cfg_retired[cfg_retired_len++] = s;
}

static void cfg_changed(void)
{
    cfg_gen++;
}

/* A character of a bare $name reference. */
static bool cfg_name_char(int c)
{
    return isalnum(c) || c == '_';
}

bool config_name_char(int c)
{
    /* Postfix takes everything before '=' as the name, so user-defined names
     * such as policyd-spf_time_limit or smtp-amavis_destination_... work. */
    return c > ' ' && c < 0x7f && c != '=';
}

/* ---- run-time defaults ---------------------------------------------------- */

static const char *cfg_default_hostname(void)
{
    char buf[256];
    struct addrinfo hints, *res = NULL;

    if (cfg_hostname)
        return cfg_hostname;
    if (gethostname(buf, sizeof(buf) - 1) < 0 || buf[0] == 0)
        strlcpy(buf, "localhost", sizeof(buf));
    buf[sizeof(buf) - 1] = 0;
    if (strchr(buf, '.') == NULL) {
        memset(&hints, 0, sizeof(hints));
        hints.ai_flags = AI_CANONNAME;
        hints.ai_family = AF_UNSPEC;
        if (getaddrinfo(buf, NULL, &hints, &res) == 0 && res && res->ai_canonname
            && strchr(res->ai_canonname, '.') != NULL) {
            cfg_hostname = xstrdup(res->ai_canonname);
        }
        if (res)
            freeaddrinfo(res);
        if (cfg_hostname == NULL) {
            struct sbuf *b = sbuf_new(64);

            sbuf_printf(b, "%s.localdomain", buf);
            cfg_hostname = sbuf_detach(b);
        }
    } else {
        cfg_hostname = xstrdup(buf);
    }
    for (char *p = cfg_hostname; *p; p++)
        *p = (char) tolower((unsigned char) *p);
    return cfg_hostname;
}

static const char *cfg_default_domain(void)
{
    const char *host = cfg_value_of(P_MYHOSTNAME, 1);
    const char *dot = strchr(host, '.');

    cfg_retire(cfg_dyn_domain);     /* may still be borrowed */
    cfg_dyn_domain = xstrdup(dot && dot[1] ? dot + 1 : "localdomain");
    return cfg_dyn_domain;
}

static void cfg_net_add(struct sbuf *b, int family, const void *addr, int bits)
{
    char text[INET6_ADDRSTRLEN];
    unsigned char bytes[16];
    size_t len = family == AF_INET ? 4 : 16;
    struct sbuf *item = sbuf_new(64);

    memcpy(bytes, addr, len);
    for (size_t i = 0; i < len; i++) {
        int keep = bits - (int) (i * 8);

        if (keep <= 0)
            bytes[i] = 0;
        else if (keep < 8)
            bytes[i] &= (unsigned char) (0xff << (8 - keep));
    }
    if (inet_ntop(family, bytes, text, sizeof(text)) == NULL) {
        sbuf_free(item);
        return;
    }
    if (family == AF_INET)
        sbuf_printf(item, "%s/%d", text, bits);
    else
        sbuf_printf(item, "[%s]/%d", text, bits);
    /* Skip duplicates (two addresses in one subnet). */
    const char *hay = sbuf_str(b);
    size_t n = sbuf_len(item);

    for (const char *p = hay; (p = strstr(p, sbuf_str(item))) != NULL; p += n) {
        if ((p == hay || p[-1] == ' ') && (p[n] == 0 || p[n] == ' ')) {
            sbuf_free(item);
            return;
        }
    }
    if (sbuf_len(b))
        sbuf_addch(b, ' ');
    sbuf_cat(b, sbuf_str(item));
    sbuf_free(item);
}

static int cfg_prefix_len(const unsigned char *mask, size_t len)
{
    int bits = 0;

    for (size_t i = 0; i < len; i++) {
        unsigned char m = mask[i];

        while (m & 0x80) {
            bits++;
            m = (unsigned char) (m << 1);
        }
        if (mask[i] != 0xff)
            break;
    }
    return bits;
}

/* Does inet_interfaces let the mail system use this interface address? */
static bool cfg_iface_wanted(const char *ifaces, int family, const void *addr, bool loopback)
{
    char text[INET6_ADDRSTRLEN];
    char **list;
    bool want = false;

    if (strcasecmp(ifaces, "all") == 0 || *ifaces == 0)
        return true;
    if (strcasecmp(ifaces, "loopback-only") == 0)
        return loopback;
    if (inet_ntop(family, addr, text, sizeof(text)) == NULL)
        return false;
    list = cfg_list(ifaces);
    for (char **p = list; *p && !want; p++) {
        const char *item = *p;
        size_t len = strlen(item);

        if (item[0] == '[' && len > 2 && item[len - 1] == ']') {
            if (strlen(text) == len - 2 && strncasecmp(item + 1, text, len - 2) == 0)
                want = true;
        } else if (strcasecmp(item, text) == 0) {
            want = true;
        } else if (strcasecmp(item, "localhost") == 0 && loopback) {
            want = true;
        }
    }
    cfg_list_free(list);
    return want;
}

void cfg_inet_protocols(const char *value, bool *want4, bool *want6)
{
    *want4 = strstr(value, "all") || strstr(value, "ipv4");
    *want6 = strstr(value, "all") || strstr(value, "ipv6");
    if (!*want4 && !*want6)
        *want4 = true;
}

static const char *cfg_default_networks(void)
{
    const char *style = cfg_value_of(P_MYNETWORKS_STYLE, 1);
    const char *protos = cfg_value_of(P_INET_PROTOCOLS, 1);
    const char *ifaces = cfg_value_of(P_INET_INTERFACES, 1);
    bool want4, want6;
    cfg_inet_protocols(protos, &want4, &want6);
    struct ifaddrs *ifa = NULL;
    struct sbuf *b = sbuf_new(128);
    int pass;

    if (getifaddrs(&ifa) < 0) {
        log_warn("getifaddrs: %m");
        ifa = NULL;
    }
    /* IPv4 first, then IPv6, as Postfix lists them. */
    for (pass = 0; pass < 2; pass++) {
        for (struct ifaddrs *i = ifa; i; i = i->ifa_next) {
            if (i->ifa_addr == NULL || !(i->ifa_flags & IFF_UP))
                continue;
            bool lo = (i->ifa_flags & IFF_LOOPBACK) != 0;

            if (i->ifa_addr->sa_family == AF_INET
                && !cfg_iface_wanted(ifaces, AF_INET,
                                     &((const struct sockaddr_in *) (const void *) i->ifa_addr)
                                          ->sin_addr, lo))
                continue;
            if (i->ifa_addr->sa_family == AF_INET6
                && !cfg_iface_wanted(ifaces, AF_INET6,
                                     &((const struct sockaddr_in6 *) (const void *) i->ifa_addr)
                                          ->sin6_addr, lo))
                continue;
            if (pass == 0 && i->ifa_addr->sa_family == AF_INET && want4) {
                const struct sockaddr_in *a = (const void *) i->ifa_addr;
                const struct sockaddr_in *m = (const void *) i->ifa_netmask;
                const unsigned char *ab = (const unsigned char *) &a->sin_addr;
                int bits = 32;

                if (strcasecmp(style, "host") == 0)
                    bits = 32;
                else if (strcasecmp(style, "class") == 0 && ab[0] != 127)
                    bits = ab[0] < 128 ? 8 : ab[0] < 192 ? 16 : ab[0] < 224 ? 24 : 32;
                else if (m)
                    bits = cfg_prefix_len((const unsigned char *) &m->sin_addr, 4);
                cfg_net_add(b, AF_INET, &a->sin_addr, bits);
            } else if (pass == 1 && i->ifa_addr->sa_family == AF_INET6 && want6) {
                const struct sockaddr_in6 *a = (const void *) i->ifa_addr;
                const struct sockaddr_in6 *m = (const void *) i->ifa_netmask;
                int bits = 128;

                if (strcasecmp(style, "host") != 0 && m)
                    bits = cfg_prefix_len((const unsigned char *) &m->sin6_addr, 16);
                cfg_net_add(b, AF_INET6, &a->sin6_addr, bits);
            }
        }
    }
    if (ifa)
        freeifaddrs(ifa);
    if (sbuf_len(b) == 0)
        sbuf_cat(b, strcasecmp(style, "host") == 0 ? "127.0.0.1/32" : "127.0.0.0/8");
    cfg_retire(cfg_dyn_networks);
    cfg_dyn_networks = sbuf_detach(b);
    return cfg_dyn_networks;
}

const char *config_default(const char *name)
{
    const struct param_def *def = param_find(name);

    if (def == NULL)
        return NULL;
    if (def->flags & PARAM_F_DYNAMIC) {
        if (strcmp(name, P_MYHOSTNAME) == 0)
            return cfg_default_hostname();
        if (strcmp(name, P_MYDOMAIN) == 0)
            return cfg_default_domain();
        if (strcmp(name, P_MYNETWORKS) == 0)
            return cfg_default_networks();
        if (strcmp(name, P_PROCESS_ID) == 0) {
            struct sbuf *b = sbuf_new(16);

            cfg_retire(cfg_dyn_pid);
            sbuf_printf(b, "%ld", (long) getpid());
            cfg_dyn_pid = sbuf_detach(b);
            return cfg_dyn_pid;
        }
        if (strcmp(name, P_PROCESS_NAME) == 0) {
            const char *tag = log_tag();
            const char *slash = tag ? strrchr(tag, '/') : NULL;

            return slash ? slash + 1 : tag ? tag : "";
        }
    }
    return def->dflt;
}

/* ---- expansion ------------------------------------------------------------ */

/* Raw value by layer: override, main.cf, config dir, default. NULL if none. */
static const char *cfg_raw_ent(struct cfg_ent *e)
{
    if (e->ovr_val)
        return e->ovr_val;
    if (e->file_val)
        return e->file_val;
    if (e->dir_val)
        return e->dir_val;
    if (e->def)
        return config_default(e->name);
    return cfg_service_default(e->name);
}

static void cfg_expand_into(struct sbuf *out, const char *s, int depth);

/* Finds the '}' or ')' that closes the opener just before p; returns NULL if
 * unbalanced. Nested braces of the same kind are counted. */
static const char *cfg_match(const char *p, char open, char close)
{
    int level = 1;

    for (; *p; p++) {
        if (*p == open)
            level++;
        else if (*p == close && --level == 0)
            return p;
    }
    return NULL;
}

/* Reads "{text}" at *pp (after optional white space) into a new string. */
static char *cfg_braced(const char **pp)
{
    const char *p = *pp, *end;

    while (isspace((unsigned char) *p))
        p++;
    if (*p != '{')
        return NULL;
    if ((end = cfg_match(p + 1, '{', '}')) == NULL)
        return NULL;
    *pp = end + 1;
    return xstrndup(p + 1, (size_t) (end - p - 1));
}

/* Compares dotted compatibility levels: -1, 0, 1. */
static int cfg_level_cmp(const char *a, const char *b)
{
    for (int i = 0; i < 3; i++) {
        long x = strtol(a, (char **) &a, 10), y = strtol(b, (char **) &b, 10);

        if (x != y)
            return x < y ? -1 : 1;
        if (*a == '.')
            a++;
        if (*b == '.')
            b++;
    }
    return 0;
}

/* ${{a} op {b} ? {t} : {f}}; inner is the text between "${" and the final "}". */
static void cfg_expand_logic(struct sbuf *out, const char *inner, int depth)
{
    const char *p = inner;
    char *a = NULL, *b = NULL, *t = NULL, *f = NULL, op[16];
    struct sbuf *ea = NULL, *eb = NULL;
    size_t n = 0;
    bool truth = false;

    if ((a = cfg_braced(&p)) == NULL)
        goto bad;
    while (isspace((unsigned char) *p))
        p++;
    while (*p && !isspace((unsigned char) *p) && *p != '{' && n < sizeof(op) - 1)
        op[n++] = *p++;
    op[n] = 0;
    if ((b = cfg_braced(&p)) == NULL)
        goto bad;
    while (isspace((unsigned char) *p))
        p++;
    if (*p++ != '?')
        goto bad;
    if ((t = cfg_braced(&p)) == NULL)
        goto bad;
    while (isspace((unsigned char) *p))
        p++;
    if (*p == ':') {
        p++;
        if ((f = cfg_braced(&p)) == NULL)
            goto bad;
    }
    ea = sbuf_new(32);
    eb = sbuf_new(32);
    cfg_hold(a, false);
    cfg_hold(b, false);
    cfg_hold(t, false);
    cfg_hold(f, false);
    cfg_hold(ea, true);
    cfg_hold(eb, true);
    cfg_expand_into(ea, a, depth + 1);
    cfg_expand_into(eb, b, depth + 1);
    {
        const char *x = sbuf_str(ea), *y = sbuf_str(eb);
        long lx = strtol(x, NULL, 10), ly = strtol(y, NULL, 10);

        if (strcmp(op, "==") == 0)
            truth = strcmp(x, y) == 0;
        else if (strcmp(op, "!=") == 0)
            truth = strcmp(x, y) != 0;
        else if (strcmp(op, "<") == 0)
            truth = lx < ly;
        else if (strcmp(op, "<=") == 0)
            truth = lx <= ly;
        else if (strcmp(op, ">") == 0)
            truth = lx > ly;
        else if (strcmp(op, ">=") == 0)
            truth = lx >= ly;
        else if (strcmp(op, "<level") == 0)
            truth = cfg_level_cmp(x, y) < 0;
        else if (strcmp(op, "<=level") == 0)
            truth = cfg_level_cmp(x, y) <= 0;
        else if (strcmp(op, ">level") == 0)
            truth = cfg_level_cmp(x, y) > 0;
        else if (strcmp(op, ">=level") == 0)
            truth = cfg_level_cmp(x, y) >= 0;
        else if (strcmp(op, "==level") == 0)
            truth = cfg_level_cmp(x, y) == 0;
        else if (strcmp(op, "!=level") == 0)
            truth = cfg_level_cmp(x, y) != 0;
        else
            log_warn("unknown operator \"%s\" in \"${%s}\"", op, inner);
    }
    if (truth)
        cfg_expand_into(out, t, depth + 1);
    else if (f)
        cfg_expand_into(out, f, depth + 1);
    cfg_unhold(eb);
    cfg_unhold(ea);
    cfg_unhold(f);
    cfg_unhold(t);
    cfg_unhold(b);
    cfg_unhold(a);
    goto done;
bad:
    log_warn("malformed conditional expression \"${%s}\"", inner);
done:
    sbuf_free(ea);
    sbuf_free(eb);
    xfree(a);
    xfree(b);
    xfree(t);
    xfree(f);
}

/* ${name}, ${name?text}, ${name:text}, ${name?{t}:{f}}; inner as above. */
static void cfg_expand_named(struct sbuf *out, const char *inner, int depth)
{
    const char *p = inner;
    size_t n = 0;
    char name[256];

    /* Inside braces a name may hold any character a main.cf name may hold
     * (${policyd-spf_time_limit}), up to the ?/: operator. */
    while (config_name_char((unsigned char) *p) && *p != '?' && *p != ':' && n < sizeof(name) - 1)
        name[n++] = *p++;
    name[n] = 0;
    if (n == 0) {
        log_warn("empty parameter name in \"${%s}\"", inner);
        return;
    }
    const char *val = cfg_value_of(name, depth + 1);

    if (*p == 0) {
        sbuf_cat(out, val);
        return;
    }
    if (*p != '?' && *p != ':') {
        log_warn("bad character after parameter name in \"${%s}\"", inner);
        return;
    }
    bool cond = (*p == '?') ? val[0] != 0 : val[0] == 0;
    const char *rest = p + 1, *q = rest;

    while (isspace((unsigned char) *q))
        q++;
    if (*q == '{') {
        /* Braced form: {t} or {t}:{f} (the latter only after '?'). */
        char *t = cfg_braced(&q), *f = NULL;

        if (t) {
            while (isspace((unsigned char) *q))
                q++;
            if (*q == ':') {
                q++;
                f = cfg_braced(&q);
            }
            cfg_hold(t, false);
            cfg_hold(f, false);
            if (cond)
                cfg_expand_into(out, t, depth + 1);
            else if (f)
                cfg_expand_into(out, f, depth + 1);
            cfg_unhold(f);
            cfg_unhold(t);
            xfree(t);
            xfree(f);
            return;
        }
    }
    if (cond)
        cfg_expand_into(out, rest, depth + 1);
}

static void cfg_expand_into(struct sbuf *out, const char *s, int depth)
{
    if (depth > CFG_MAX_DEPTH)
        log_fatal("unreasonable $name nesting (more than %d levels) in \"%.100s\"",
                  CFG_MAX_DEPTH, s);
    while (*s) {
        const char *dollar = strchr(s, '$');

        if (dollar == NULL) {
            sbuf_cat(out, s);
            return;
        }
        sbuf_append(out, s, (size_t) (dollar - s));
        s = dollar + 1;
        if (*s == '$') {
            sbuf_addch(out, '$');
            s++;
        } else if (*s == '{' || *s == '(') {
            char open = *s, close = open == '{' ? '}' : ')';
            const char *end = cfg_match(s + 1, open, close);

            if (end == NULL) {
                log_warn("missing '%c' in \"%.100s\"", close, dollar);
                sbuf_cat(out, dollar);
                return;
            }
            char *inner = xstrndup(s + 1, (size_t) (end - s - 1));

            cfg_hold(inner, false);
            if (open == '{' && inner[0] == '{')
                cfg_expand_logic(out, inner, depth);
            else
                cfg_expand_named(out, inner, depth);
            cfg_unhold(inner);
            xfree(inner);
            s = end + 1;
        } else if (cfg_name_char((unsigned char) *s)) {
            char name[256];
            size_t n = 0;

            while (cfg_name_char((unsigned char) *s)) {
                if (n < sizeof(name) - 1)
                    name[n++] = *s;
                s++;
            }
            name[n] = 0;
            sbuf_cat(out, cfg_value_of(name, depth + 1));
        } else {
            sbuf_addch(out, '$');   /* a lone '$' stays as it is */
        }
    }
}

/* Expanded value of one entry, through the cache. Never NULL. */
static const char *cfg_ent_value(struct cfg_ent *e, int depth)
{
    const char *raw;

    if (e->cache && e->cache_gen == cfg_gen)
        return e->cache;
    if (e->busy)
        log_fatal("parameter %s: $name expansion loop (%s refers back to itself)",
                  e->name, e->name);
    raw = cfg_raw_ent(e);
    if (raw == NULL)
        raw = "";
    struct sbuf *b = sbuf_new(strlen(raw) + 1);

    if (e->def && (e->def->flags & PARAM_F_RAW)) {
        sbuf_cat(b, raw);
    } else {
        /* Remember the buffer while recursing: a fatal hook that longjmps
         * out (tests) leaves it here for config_load() to free. */
        cfg_hold(b, true);
        e->busy = true;
        cfg_expand_into(b, raw, depth);
        e->busy = false;
        cfg_unhold(b);
    }
    if (e->cache && strcmp(e->cache, sbuf_str(b)) == 0) {
        sbuf_free(b);
    } else {
        cfg_retire(e->cache);
        e->cache = sbuf_detach(b);
    }
    e->cache_gen = cfg_gen;
    return e->cache;
}

static const char *cfg_value_of(const char *name, int depth)
{
    struct cfg_ent *e = cfg_lookup(name, false);

    if (e == NULL)
        return "";
    return cfg_ent_value(e, depth);
}

/* ---- main.cf reading ------------------------------------------------------ */

static void cfg_order_add(struct cfg_ent *e)
{
    if (e->in_order)
        return;
    if (cfg_order_len == cfg_order_cap) {
        cfg_order_cap = cfg_order_cap ? 2 * cfg_order_cap : 64;
        cfg_order = xreallocarray(cfg_order, cfg_order_cap, sizeof(*cfg_order));
    }
    cfg_order[cfg_order_len++] = e;
    e->in_order = true;
}

static void cfg_set_file(const char *name, const char *value, const char *file, int line)
{
    struct cfg_ent *e = cfg_lookup(name, true);

    xfree(e->file_val);
    e->file_val = xstrdup(value);
    e->file = file;
    e->line = line;
    cfg_order_add(e);
    cfg_changed();
}

/* Parses one logical line; returns 0 or -1 after logging. */
static int cfg_parse_line(const char *text, const char *file, int line)
{
    const char *p = text, *name_end, *val;
    size_t vlen;

    while (config_name_char((unsigned char) *p))
        p++;
    name_end = p;
    while (isspace((unsigned char) *p))
        p++;
    if (*p != '=') {
        log_warn("%s:%d: missing '=' after parameter name: \"%.100s\"", file, line, text);
        return -1;
    }
    if (name_end == text) {
        log_warn("%s:%d: missing parameter name before '=': \"%.100s\"", file, line, text);
        return -1;
    }
    val = p + 1;
    while (isspace((unsigned char) *val))
        val++;
    vlen = strlen(val);
    while (vlen > 0 && isspace((unsigned char) val[vlen - 1]))
        vlen--;
    char *name = xstrndup(text, (size_t) (name_end - text));
    char *value = xstrndup(val, vlen);

    cfg_set_file(name, value, file, line);
    xfree(name);
    xfree(value);
    return 0;
}

/* Files named in error messages and entries; kept until exit. */
static char **cfg_files;
static size_t cfg_files_len;

static const char *cfg_file_keep(const char *path)
{
    for (size_t i = 0; i < cfg_files_len; i++)
        if (strcmp(cfg_files[i], path) == 0)
            return cfg_files[i];
    cfg_files = xreallocarray(cfg_files, cfg_files_len + 1, sizeof(*cfg_files));
    cfg_files[cfg_files_len] = xstrdup(path);
    return cfg_files[cfg_files_len++];
}

int config_read_stream(FILE *fp, const char *path)
{
    const char *file = cfg_file_keep(path);
    struct lline_reader *r = lline_open(fp, file, CFG_MAX_LINE, LLINE_F_JOIN_SPACE);
    struct sbuf *logical = sbuf_new(256);
    int lineno = 0, rc = 0, n;

    while ((n = lline_next(r, logical, &lineno)) > 0)
        if (cfg_parse_line(sbuf_str(logical), file, lineno) < 0)
            rc = -1;
    if (n < 0 || lline_errors(r) > 0)
        rc = -1;
    lline_close(r);
    sbuf_free(logical);
    return rc;
}

static void cfg_drop_file_values(void)
{
    for (size_t i = 0; i < CFG_BUCKETS; i++) {
        for (struct cfg_ent *e = cfg_hash[i]; e; e = e->next) {
            if (e->file_val) {
                cfg_retire(e->file_val);
                e->file_val = NULL;
            }
            e->in_order = false;
            e->file = NULL;
            e->line = 0;
        }
    }
    cfg_order_len = 0;
}

static void cfg_free_retired(void)
{
    for (size_t i = 0; i < cfg_retired_len; i++)
        xfree(cfg_retired[i]);
    cfg_retired_len = 0;
}

int config_load(const char *dir)
{
    FILE *fp;
    int rc = 0;

    if (dir == NULL || *dir == 0) {
        dir = getenv("MAIL_CONFIG");
        if (dir == NULL || *dir == 0)
            dir = CFG_DEFAULT_DIR;
    }
    char *newdir = xstrdup(dir);

    xfree(cfg_dir);
    cfg_dir = newdir;
    cfg_free_retired();
    cfg_free_held();
    cfg_drop_file_values();
    /* Pointers handed out before this load may now be freed (contract). */
    for (size_t i = 0; i < CFG_BUCKETS; i++)
        for (struct cfg_ent *e = cfg_hash[i]; e; e = e->next) {
            xfree(e->cache);
            e->cache = NULL;
            e->busy = false;    /* a fatal expansion may have left it set */
        }
    {
        struct cfg_ent *e = cfg_lookup(P_CONFIG_DIRECTORY, true);

        xfree(e->dir_val);
        e->dir_val = strcmp(cfg_dir, CFG_DEFAULT_DIR) ? xstrdup(cfg_dir) : NULL;
    }
    struct sbuf *path = sbuf_new(128);

    sbuf_printf(path, "%s/main.cf", cfg_dir);
    xfree(cfg_file_name);
    cfg_file_name = xstrdup(sbuf_str(path));
    if ((fp = fopen(sbuf_str(path), "r")) == NULL) {
        log_warn("open %s: %m", sbuf_str(path));
        rc = -1;
    } else {
        rc = config_read_stream(fp, sbuf_str(path));
        fclose(fp);
    }
    sbuf_free(path);
    cfg_changed();
    return rc;
}

const char *config_dir(void)
{
    if (cfg_dir == NULL) {
        const char *env = getenv("MAIL_CONFIG");

        return env && *env ? env : CFG_DEFAULT_DIR;
    }
    return cfg_dir;
}

const char *config_file(void)
{
    return cfg_file_name;
}

void config_override(const char *name, const char *value)
{
    struct cfg_ent *e = cfg_lookup(name, true);

    cfg_retire(e->ovr_val);
    e->ovr_val = xstrdup(value ? value : "");
    cfg_changed();
}

void config_set(const char *name, const char *value)
{
    struct cfg_ent *e = cfg_lookup(name, true);

    cfg_retire(e->file_val);
    e->file_val = xstrdup(value ? value : "");
    cfg_order_add(e);
    cfg_changed();
}

void config_unset(const char *name)
{
    struct cfg_ent *e = cfg_lookup(name, false);

    if (e == NULL)
        return;
    cfg_retire(e->file_val);
    e->file_val = NULL;
    if (e->in_order) {
        for (size_t i = 0; i < cfg_order_len; i++) {
            if (cfg_order[i] == e) {
                memmove(cfg_order + i, cfg_order + i + 1,
                        (cfg_order_len - i - 1) * sizeof(*cfg_order));
                cfg_order_len--;
                break;
            }
        }
        e->in_order = false;
    }
    cfg_changed();
}

void config_clear_overrides(void)
{
    for (size_t i = 0; i < CFG_BUCKETS; i++)
        for (struct cfg_ent *e = cfg_hash[i]; e; e = e->next) {
            cfg_retire(e->ovr_val);
            e->ovr_val = NULL;
        }
    cfg_changed();
}

/* ---- accessors ------------------------------------------------------------ */

const char *cfg_str(const char *name)
{
    return cfg_value_of(name, 0);
}

const char *cfg_raw(const char *name)
{
    struct cfg_ent *e = cfg_lookup(name, false);

    return e ? cfg_raw_ent(e) : NULL;
}

bool cfg_is_set(const char *name)
{
    struct cfg_ent *e = cfg_lookup(name, false);

    return e && (e->ovr_val || e->file_val || e->dir_val);
}

bool cfg_is_overridden(const char *name)
{
    struct cfg_ent *e = cfg_lookup(name, false);

    return e && e->ovr_val;
}

bool cfg_in_main_cf(const char *name, const char **file, int *line)
{
    struct cfg_ent *e = cfg_lookup(name, false);

    if (e == NULL || e->file_val == NULL)
        return false;
    if (file)
        *file = e->file;
    if (line)
        *line = e->line;
    return true;
}

const char *cfg_str_or(const char *name, const char *fallback)
{
    if (cfg_is_set(name) || param_find(name))
        return cfg_str(name);
    return cfg_str(fallback);
}

bool config_parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "yes") == 0 || strcasecmp(s, "true") == 0) {
        *out = true;
        return true;
    }
    if (strcasecmp(s, "no") == 0 || strcasecmp(s, "false") == 0) {
        *out = false;
        return true;
    }
    return false;
}

bool config_parse_long(const char *s, long *out)
{
    char *end;
    long v;

    while (isspace((unsigned char) *s))
        s++;
    if (*s == 0)
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno == ERANGE || end == s)
        return false;
    while (isspace((unsigned char) *end))
        end++;
    if (*end != 0)
        return false;
    *out = v;
    return true;
}

bool config_parse_time(const char *s, char unit, long *out)
{
    char *end;
    long v, mult;

    while (isspace((unsigned char) *s))
        s++;
    if (!isdigit((unsigned char) *s))
        return false;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno == ERANGE)
        return false;
    if (*end != 0 && !isspace((unsigned char) *end)) {
        unit = *end++;
    }
    while (isspace((unsigned char) *end))
        end++;
    if (*end != 0)
        return false;
    switch (unit ? tolower((unsigned char) unit) : 's') {
    case 's': mult = 1; break;
    case 'm': mult = 60; break;
    case 'h': mult = 3600; break;
    case 'd': mult = 86400; break;
    case 'w': mult = 7 * 86400; break;
    default: return false;
    }
    if (v > LONG_MAX / mult)
        return false;
    *out = v * mult;
    return true;
}

static void cfg_bounds(const char *name, long v)
{
    const struct param_def *def = param_find(name);

    if (def == NULL)
        return;
    if (v < def->min)
        log_fatal("parameter %s: value %ld is less than the minimum %ld", name, v, def->min);
    if (def->max && v > def->max)
        log_fatal("parameter %s: value %ld is greater than the maximum %ld", name, v, def->max);
}

bool cfg_bool(const char *name)
{
    const char *v = cfg_str(name);
    bool b;

    if (!config_parse_bool(v, &b))
        log_fatal("bad boolean configuration: %s = %s", name, v);
    return b;
}

long cfg_long(const char *name)
{
    const char *v = cfg_str(name);
    long n;

    if (!config_parse_long(v, &n))
        log_fatal("bad numerical configuration: %s = %s", name, v);
    cfg_bounds(name, n);
    return n;
}

int cfg_int(const char *name)
{
    long n = cfg_long(name);

    if (n > INT_MAX || n < INT_MIN)
        log_fatal("parameter %s: value %ld is out of range", name, n);
    return (int) n;
}

long cfg_size(const char *name)
{
    return cfg_long(name);
}

static long cfg_time_unit(const char *name, const char *value, char unit)
{
    long t;

    if (!config_parse_time(value, unit, &t))
        log_fatal("bad time value: %s = %s", name, value);
    cfg_bounds(name, t);
    return t;
}

long cfg_time(const char *name)
{
    const struct param_def *def = param_find(name);

    return cfg_time_unit(name, cfg_str(name), def && def->unit ? def->unit : 's');
}

long cfg_time_or(const char *name, const char *fallback)
{
    const struct param_def *def = param_find(name);
    const struct param_def *fdef = param_find(fallback);
    char unit = def && def->unit ? def->unit : fdef && fdef->unit ? fdef->unit : 's';

    if (cfg_is_set(name) || def)
        return cfg_time_unit(name, cfg_str(name), unit);
    return cfg_time(fallback);
}

long cfg_long_or(const char *name, const char *fallback)
{
    if (cfg_is_set(name) || param_find(name))
        return cfg_long(name);
    return cfg_long(fallback);
}

char *cfg_expand(const char *text)
{
    struct sbuf *b = sbuf_new(strlen(text) + 1);

    cfg_hold(b, true);          /* freed by config_load() after a fatal */
    cfg_expand_into(b, text, 0);
    cfg_unhold(b);
    return sbuf_detach(b);
}

char *config_norm_assign(const char *text)
{
    const char *eq = strchr(text, '=');

    if (eq == NULL)
        return xstrdup(text);
    const char *ne = eq, *vb = eq + 1;

    while (ne > text && isspace((unsigned char) ne[-1]))
        ne--;
    while (isspace((unsigned char) *vb))
        vb++;
    struct sbuf *b = sbuf_new(strlen(text) + 1);

    sbuf_append(b, text, (size_t) (ne - text));
    sbuf_addch(b, '=');
    sbuf_cat(b, vb);
    return sbuf_detach(b);
}

char **cfg_list(const char *value)
{
    size_t n = 0, cap = 8;
    char **list = xreallocarray(NULL, cap, sizeof(*list));
    const char *p = value ? value : "";

    for (;;) {
        while (*p && (isspace((unsigned char) *p) || *p == ','))
            p++;
        if (*p == 0)
            break;
        const char *start = p;
        int level = 0;

        while (*p) {
            if (*p == '{')
                level++;
            else if (*p == '}' && level > 0)
                level--;
            else if (level == 0 && (isspace((unsigned char) *p) || *p == ','))
                break;
            p++;
        }
        if (n + 1 >= cap) {
            cap *= 2;
            list = xreallocarray(list, cap, sizeof(*list));
        }
        list[n++] = xstrndup(start, (size_t) (p - start));
    }
    list[n] = NULL;
    return list;
}

void cfg_list_free(char **list)
{
    if (list == NULL)
        return;
    for (char **p = list; *p; p++)
        xfree(*p);
    xfree(list);
}

bool cfg_parent_matches(const char *param)
{
    char **list = cfg_list(cfg_str(P_PARENT_DOMAIN_MATCHES_SUBDOMAINS));
    bool found = false;
    for (char **p = list; *p && !found; p++)
        found = strcmp(*p, param) == 0;
    cfg_list_free(list);
    return found;
}

/* ---- names ---------------------------------------------------------------- */

/* "$fallback" defaults of SERVICE_suffix names and the suffix list, built
 * once from transport_param.c (the one table of the 17 suffixes). */
static char *cfg_service_defaults[TP_COUNT];
static const char *cfg_service_suffix_list[TP_COUNT + 1];

static void cfg_service_tables(void)
{
    if (cfg_service_suffix_list[0])
        return;
    for (int i = 0; i < TP_COUNT; i++) {
        struct sbuf *b = sbuf_new(64);

        sbuf_printf(b, "$%s", transport_param_fallback((enum transport_param) i));
        cfg_service_defaults[i] = sbuf_detach(b);
        cfg_service_suffix_list[i] = transport_param_suffix((enum transport_param) i);
    }
    cfg_service_suffix_list[TP_COUNT] = NULL;
}

const char *const *config_service_suffixes(void)
{
    cfg_service_tables();
    return cfg_service_suffix_list;
}

/* The default of a per-service name for a known service; NULL otherwise. */
static const char *cfg_service_default(const char *name)
{
    size_t tlen;
    int id;

    if (cfg_service_names == NULL || (id = transport_param_parse(name, &tlen)) < 0)
        return NULL;
    for (char **s = cfg_service_names; *s; s++) {
        if (strlen(*s) == tlen && strncmp(name, *s, tlen) == 0) {
            cfg_service_tables();
            return cfg_service_defaults[id];
        }
    }
    return NULL;
}

const char *config_service_default(const char *name)
{
    const struct param_def *def = param_find(name);

    return def ? def->dflt : cfg_service_default(name);
}

void config_set_service_names(char **names)
{
    size_t n = 0;

    if (cfg_service_names) {
        for (char **p = cfg_service_names; *p; p++)
            xfree(*p);
        xfree(cfg_service_names);
        cfg_service_names = NULL;
    }
    if (names == NULL)
        return;
    while (names[n])
        n++;
    cfg_service_names = xcalloc(n + 1, sizeof(*cfg_service_names));
    for (size_t i = 0; i < n; i++)
        cfg_service_names[i] = xstrdup(names[i]);
    cfg_changed();
}

bool config_known(const char *name)
{
    return param_find(name) != NULL || cfg_service_default(name) != NULL;
}

void config_scan_refs(const char *text, void (*fn)(const char *name, void *ctx), void *ctx)
{
    for (const char *p = text; (p = strchr(p, '$')) != NULL;) {
        p++;
        if (*p == '$') {
            p++;
            continue;
        }
        bool braced = *p == '{' || *p == '(';

        if (braced)
            p++;
        const char *start = p;

        while (braced ? config_name_char((unsigned char) *p) && !strchr("?:})", *p)
                      : cfg_name_char((unsigned char) *p))
            p++;
        if (p > start && p - start < 256) {
            char *name = xstrndup(start, (size_t) (p - start));

            fn(name, ctx);
            xfree(name);
        }
    }
}

void config_foreach(void (*fn)(const struct config_entry *e, void *ctx), void *ctx)
{
    for (size_t i = 0; i < cfg_order_len; i++) {
        struct cfg_ent *e = cfg_order[i];
        struct config_entry ce = { e->name, e->file_val, e->file ? e->file : "", e->line };

        if (e->file_val)
            fn(&ce, ctx);
    }
}

int config_check(void)
{
    int bad = 0;

    for (size_t i = 0; i < cfg_order_len; i++) {
        struct cfg_ent *e = cfg_order[i];

        if (e->file_val && e->def == NULL && !config_known(e->name)) {
            log_warn("%s:%d: unused parameter: %s=%s", e->file ? e->file : "main.cf",
                     e->line, e->name, e->file_val);
            bad++;
        }
    }
    return bad ? -1 : 0;
}
