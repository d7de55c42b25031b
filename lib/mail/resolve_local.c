/*
 * resolve_local.c - domain lists and the "is this domain ours" test
 *
 * Used by: trivial-rewrite, smtpd, cleanup, local.
 * Interface: see resolve_local.h.
 * Errors: table open failures are logged once; lookups that fail return -1.
 * Notes: interface addresses for inet_interfaces=all come from
 *        getifaddrs() once per resolve_local_init().
 */
#include "resolve_local.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "sbuf.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct domain_pat {
    char *name;         /* folded pattern (without '!') or NULL for a table */
    struct dict *dict;  /* type:table entry; NULL when it failed to open */
    bool is_table;
    bool negate;
};

struct domain_list {
    struct domain_pat *v;
    size_t n, cap;
    bool parent;        /* parameter is in parent_domain_matches_subdomains */
};

static void domain_list_add(struct domain_list *l, const struct domain_pat *p)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
    }
    l->v[l->n++] = *p;
}

static void domain_fold(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

static void domain_list_add_name(struct domain_list *l, const char *word, bool negate)
{
    struct domain_pat p = { 0 };
    p.name = xstrdup(word);
    domain_fold(p.name);
    p.negate = negate;
    domain_list_add(l, &p);
}

/* "/file": every word in the file is a pattern. */
static void domain_list_add_file(struct domain_list *l, const char *param, const char *path,
                                 bool negate)
{
    FILE *fp = fopen(path, "r");
    char line[4096];
    if (fp == NULL) {
        log_warn("%s: open %s: %m", param, path);
        struct domain_pat p = { .is_table = true, .negate = negate };
        domain_list_add(l, &p);     /* a NULL table: every lookup fails */
        return;
    }
    while (fgets(line, sizeof(line), fp)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char **words = cfg_list(line);
        for (char **w = words; *w; w++)
            domain_list_add_name(l, *w, negate);
        cfg_list_free(words);
    }
    fclose(fp);
}

struct domain_list *domain_list_new(const char *param, const char *value)
{
    struct domain_list *l = xcalloc(1, sizeof(*l));
    l->parent = cfg_parent_matches(param);

    char **items = cfg_list(value);
    for (char **it = items; *it; it++) {
        const char *w = *it;
        bool negate = false;
        while (*w == '!') {
            negate = !negate;
            w++;
        }
        if (*w == 0)
            continue;
        if (*w == '/') {
            domain_list_add_file(l, param, w, negate);
        } else if (strchr(w, ':') && *w != '[') {
            struct domain_pat p = { .is_table = true, .negate = negate };
            p.dict = dict_open(w, DICT_F_FOLD);
            if (p.dict == NULL)
                log_warn("%s: table %s is unavailable: lookups will fail", param, w);
            domain_list_add(l, &p);
        } else {
            domain_list_add_name(l, w, negate);
        }
    }
    cfg_list_free(items);
    return l;
}

bool domain_list_empty(const struct domain_list *l)
{
    return l == NULL || l->n == 0;
}

void domain_list_free(struct domain_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        xfree(l->v[i].name);
        if (l->v[i].dict)
            dict_close(l->v[i].dict);
    }
    xfree(l->v);
    xfree(l);
}

/* 1 found, 0 not, -1 error. */
static int domain_table_lookup(struct dict *d, const char *key)
{
    if (d == NULL)
        return -1;
    if (dict_lookup(d, key))
        return 1;
    return dict_error(d) < 0 ? -1 : 0;
}

/* Matches one pattern against a folded domain name. */
static int domain_pat_match(const struct domain_list *l, const struct domain_pat *p,
                            const char *name)
{
    if (p->is_table) {
        int r = domain_table_lookup(p->dict, name);
        if (r != 0)
            return r;
        /* Parent domains: "sub.example.com" -> "example.com" or ".example.com". */
        for (const char *dot = strchr(name + 1, '.'); dot; dot = strchr(dot + 1, '.')) {
            r = domain_table_lookup(p->dict, l->parent ? dot + 1 : dot);
            if (r != 0)
                return r;
        }
        return 0;
    }
    const char *pat = p->name;
    if (strcmp(pat, name) == 0)
        return 1;
    size_t nl = strlen(name), pl = strlen(pat);
    if (pat[0] == '.') {
        /* ".example.com" matches any subdomain of example.com. */
        return nl > pl && strcmp(name + nl - pl, pat) == 0;
    }
    if (l->parent && nl > pl + 1 && name[nl - pl - 1] == '.' && strcmp(name + nl - pl, pat) == 0)
        return 1;
    return 0;
}

int domain_list_match(struct domain_list *l, const char *domain)
{
    if (l == NULL || l->n == 0 || domain == NULL || *domain == 0)
        return 0;
    char *name = xstrdup(domain);
    domain_fold(name);
    size_t len = strlen(name);
    while (len > 1 && name[len - 1] == '.')
        name[--len] = 0;
    int result = 0;
    for (size_t i = 0; i < l->n; i++) {
        int r = domain_pat_match(l, &l->v[i], name);
        if (r < 0) {
            result = -1;
            break;
        }
        if (r > 0) {
            result = l->v[i].negate ? 0 : 1;
            break;
        }
    }
    xfree(name);
    return result;
}

/* ---- local domains ---- */

struct resolve_local_addr {
    int family;
    unsigned char bytes[16];
    bool proxy;         /* from proxy_interfaces, not inet_interfaces */
};

static struct domain_list *rl_mydest;
static struct resolve_local_addr *rl_addrs;
static size_t rl_naddr, rl_addr_cap;
static bool rl_ready;        /* mydestination and the addresses */
static bool rl_addrs_ready;  /* the addresses */

static void rl_add_addr(int family, const void *bytes, bool proxy)
{
    if (rl_naddr == rl_addr_cap) {
        rl_addr_cap = rl_addr_cap ? rl_addr_cap * 2 : 8;
        rl_addrs = xreallocarray(rl_addrs, rl_addr_cap, sizeof(*rl_addrs));
    }
    struct resolve_local_addr *a = &rl_addrs[rl_naddr++];
    memset(a, 0, sizeof(*a));
    a->family = family;
    a->proxy = proxy;
    memcpy(a->bytes, bytes, family == AF_INET ? 4 : 16);
}

static void rl_add_sockaddr(const struct sockaddr *sa, bool proxy)
{
    if (sa == NULL)
        return;
    if (sa->sa_family == AF_INET)
        rl_add_addr(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, proxy);
    else if (sa->sa_family == AF_INET6)
        rl_add_addr(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, proxy);
}

static void rl_add_interfaces(const char *param, const char *value, bool proxy)
{
    char **items = cfg_list(value);
    for (char **it = items; *it; it++) {
        const char *w = *it;
        if (strcmp(w, "all") == 0) {
            struct ifaddrs *ifa = NULL;
            if (getifaddrs(&ifa) < 0) {
                log_warn("%s: getifaddrs: %m", param);
                continue;
            }
            for (struct ifaddrs *p = ifa; p; p = p->ifa_next)
                rl_add_sockaddr(p->ifa_addr, proxy);
            freeifaddrs(ifa);
            continue;
        }
        if (strcmp(w, "loopback-only") == 0) {
            struct in_addr a4;
            inet_pton(AF_INET, "127.0.0.1", &a4);
            rl_add_addr(AF_INET, &a4, proxy);
            rl_add_addr(AF_INET6, &in6addr_loopback, proxy);
            continue;
        }
        /* Host name or address, possibly in brackets. */
        char *host = xstrdup(w[0] == '[' ? w + 1 : w);
        char *rb = strchr(host, ']');
        if (rb)
            *rb = 0;
        struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL;
        if (getaddrinfo(host, NULL, &hints, &res) == 0) {
            for (struct addrinfo *ai = res; ai; ai = ai->ai_next)
                rl_add_sockaddr(ai->ai_addr, proxy);
            freeaddrinfo(res);
        } else {
            log_warn("%s: cannot find the address of %s", param, host);
        }
        xfree(host);
    }
    cfg_list_free(items);
}

void resolve_local_free(void)
{
    domain_list_free(rl_mydest);
    rl_mydest = NULL;
    xfree(rl_addrs);
    rl_addrs = NULL;
    rl_naddr = rl_addr_cap = 0;
    rl_ready = rl_addrs_ready = false;
}

static void rl_addrs_load(void)
{
    rl_add_interfaces(P_INET_INTERFACES, cfg_str(P_INET_INTERFACES), false);
    rl_add_interfaces(P_PROXY_INTERFACES, cfg_str(P_PROXY_INTERFACES), true);
    rl_addrs_ready = true;
}

void resolve_local_init(void)
{
    resolve_local_free();
    rl_mydest = domain_list_new(P_MYDESTINATION, cfg_str(P_MYDESTINATION));
    rl_addrs_load();
    rl_ready = true;
}

void resolve_local_addresses_init(void)
{
    if (!rl_addrs_ready)
        rl_addrs_load();
}

/* "[1.2.3.4]" or "[IPv6:::1]": is it one of our addresses? */
static int resolve_local_literal(const char *domain)
{
    size_t len = strlen(domain);
    if (len < 3 || domain[len - 1] != ']' || len > 80)
        return 0;
    char text[96];
    memcpy(text, domain + 1, len - 2);
    text[len - 2] = 0;
    unsigned char bytes[16];
    int family;
    const char *p = text;
    if (strncasecmp(p, "ipv6:", 5) == 0) {
        p += 5;
        family = AF_INET6;
    } else {
        family = AF_INET;
    }
    if (inet_pton(family, p, bytes) != 1)
        return 0;
    for (size_t i = 0; i < rl_naddr; i++)
        if (rl_addrs[i].family == family &&
            memcmp(rl_addrs[i].bytes, bytes, family == AF_INET ? 4 : 16) == 0)
            return 1;
    return 0;
}

static bool rl_address_match(const char *addr, bool with_proxy)
{
    unsigned char bytes[16];
    int family = strchr(addr, ':') ? AF_INET6 : AF_INET;
    resolve_local_addresses_init();
    if (inet_pton(family, addr, bytes) != 1)
        return false;
    for (size_t i = 0; i < rl_naddr; i++)
        if (rl_addrs[i].family == family && (with_proxy || !rl_addrs[i].proxy) &&
            memcmp(rl_addrs[i].bytes, bytes, family == AF_INET ? 4 : 16) == 0)
            return true;
    return false;
}

bool resolve_local_address(const char *addr)
{
    return rl_address_match(addr, true);
}

bool resolve_local_interface(const char *addr)
{
    return rl_address_match(addr, false);
}

int resolve_local(const char *domain)
{
    if (!rl_ready)
        resolve_local_init();
    if (domain == NULL || *domain == 0)
        return 0;
    if (domain[0] == '[')
        return resolve_local_literal(domain);
    return domain_list_match(rl_mydest, domain);
}
