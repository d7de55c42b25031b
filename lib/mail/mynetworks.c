/*
 * mynetworks.c - match a client against a host/network list
 *
 * Used by: smtpd.
 * Interface: see mynetworks.h.
 * Errors: see mynetworks.h.
 * Notes: addresses are kept as 16-byte network-order arrays with a family;
 *        IPv4 uses the first 4 bytes.
 */
#include "mynetworks.h"
#include "alloc.h"
#include "dict.h"
#include "log.h"
#include "sbuf.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <strings.h>

enum mynet_kind { MYNET_CIDR, MYNET_TABLE, MYNET_NAME };

struct mynet_item {
    enum mynet_kind kind;
    bool negate;
    int family;                 /* AF_INET or AF_INET6 (CIDR) */
    unsigned char net[16];
    int prefix;
    char *name;                 /* MYNET_NAME: lower-case pattern */
    struct dict *dict;          /* MYNET_TABLE */
};

struct mynetworks {
    char *title;
    bool parent_matches_sub;
    struct mynet_item *items;
    size_t count, cap;
};

#define MYNET_FILE_DEPTH 4

static void mynet_add_list(struct mynetworks *m, const char *list, int depth);

static struct mynet_item *mynet_push(struct mynetworks *m)
{
    if (m->count == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 8;
        m->items = xreallocarray(m->items, m->cap, sizeof(*m->items));
    }
    struct mynet_item *it = &m->items[m->count++];
    memset(it, 0, sizeof(*it));
    return it;
}

/* Parses a numeric address (no brackets) into family/bytes. */
static bool mynet_parse_addr(const char *s, int *family, unsigned char out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out) == 1) {
        *family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, s, out) == 1) {
        *family = AF_INET6;
        /* An IPv4-mapped address is matched as IPv4. */
        static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(out, mapped, 12) == 0) {
            memmove(out, out + 12, 4);
            memset(out + 4, 0, 12);
            *family = AF_INET;
        }
        return true;
    }
    return false;
}

static bool mynet_prefix_match(const unsigned char *a, const unsigned char *net, int prefix)
{
    int full = prefix / 8, rest = prefix % 8;
    if (full && memcmp(a, net, (size_t)full) != 0)
        return false;
    if (rest) {
        unsigned char mask = (unsigned char)(0xff << (8 - rest));
        if ((a[full] & mask) != (net[full] & mask))
            return false;
    }
    return true;
}

/* Tries to parse item as an address or network. Returns 1 done, 0 not an
 * address, -1 malformed (logged). */
static int mynet_try_cidr(struct mynetworks *m, const char *item, bool negate)
{
    char buf[128];
    const char *p = item;
    const char *slash;
    bool bracket = false;

    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close == NULL || (size_t)(close - p - 1) >= sizeof(buf)) {
            log_warn("%s: bad address pattern \"%s\": skipped", m->title, item);
            return -1;
        }
        memcpy(buf, p + 1, (size_t)(close - p - 1));
        buf[close - p - 1] = 0;
        slash = close[1] == '/' ? close + 1 : NULL;
        if (close[1] && close[1] != '/') {
            log_warn("%s: bad address pattern \"%s\": skipped", m->title, item);
            return -1;
        }
        bracket = true;
    } else {
        slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n >= sizeof(buf))
            return 0;
        memcpy(buf, p, n);
        buf[n] = 0;
    }
    int family;
    unsigned char net[16];
    /* A plain item must look numeric: digits, dots, hex and colons only. */
    if (!mynet_parse_addr(buf, &family, net)) {
        if (bracket || (slash && strspn(buf, "0123456789.:abcdefABCDEF") == strlen(buf))) {
            log_warn("%s: bad address pattern \"%s\": skipped", m->title, item);
            return -1;
        }
        return 0;
    }
    int maxbits = family == AF_INET ? 32 : 128;
    int prefix = maxbits;
    if (slash) {
        char *end;
        errno = 0;
        long v = strtol(slash + 1, &end, 10);
        if (slash[1] == 0 || *end != 0 || errno || v < 0 || v > maxbits) {
            log_warn("%s: bad network mask in \"%s\": skipped", m->title, item);
            return -1;
        }
        prefix = (int)v;
    }
    /* Host bits set below the mask: warn, then use the network. */
    unsigned char masked[16];
    memset(masked, 0, sizeof(masked));
    memcpy(masked, net, (size_t)(prefix / 8));
    if (prefix % 8)
        masked[prefix / 8] = (unsigned char)(net[prefix / 8] & (0xff << (8 - prefix % 8)));
    if (memcmp(masked, net, 16) != 0)
        log_warn("%s: non-null host address bits in \"%s\"; using the network part", m->title,
                 item);
    struct mynet_item *it = mynet_push(m);
    it->kind = MYNET_CIDR;
    it->negate = negate;
    it->family = family;
    memcpy(it->net, masked, 16);
    it->prefix = prefix;
    return 1;
}

static void mynet_add_file(struct mynetworks *m, const char *path, int depth)
{
    if (depth >= MYNET_FILE_DEPTH) {
        log_warn("%s: %s: files nested too deeply: skipped", m->title, path);
        return;
    }
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        log_warn("%s: open %s: %m", m->title, path);
        return;
    }
    struct sbuf *text = sbuf_new(1024);
    char line[4096];
    while (fgets(line, sizeof(line), fp)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        sbuf_cat(text, line);
        sbuf_addch(text, ' ');
    }
    fclose(fp);
    mynet_add_list(m, sbuf_str(text), depth + 1);
    sbuf_free(text);
}

static void mynet_add_item(struct mynetworks *m, const char *item, int depth)
{
    bool negate = false;
    while (*item == '!') {
        negate = !negate;
        item++;
    }
    if (*item == 0) {
        log_warn("%s: empty pattern after \"!\": skipped", m->title);
        return;
    }
    if (*item == '/') {
        if (negate)
            log_warn("%s: \"!%s\": negation of a file is not supported: skipped", m->title, item);
        else
            mynet_add_file(m, item, depth);
        return;
    }
    int r = mynet_try_cidr(m, item, negate);
    if (r != 0)
        return;
    if (strchr(item, ':')) {
        struct dict *d = dict_open(item, DICT_F_FOLD);
        if (d == NULL)
            return;     /* dict_open logged why */
        struct mynet_item *it = mynet_push(m);
        it->kind = MYNET_TABLE;
        it->negate = negate;
        it->dict = d;
        return;
    }
    struct mynet_item *it = mynet_push(m);
    it->kind = MYNET_NAME;
    it->negate = negate;
    it->name = xstrdup(item);
    dict_fold(it->name);
}

static void mynet_add_list(struct mynetworks *m, const char *list, int depth)
{
    const char *p = list;
    while (*p) {
        p += strspn(p, " \t\r\n,");
        if (*p == 0)
            break;
        size_t n = strcspn(p, " \t\r\n,");
        char *item = xstrndup(p, n);
        mynet_add_item(m, item, depth);
        xfree(item);
        p += n;
    }
}

struct mynetworks *mynetworks_new(const char *title, const char *list, bool parent_matches_sub)
{
    struct mynetworks *m = xcalloc(1, sizeof(*m));
    m->title = xstrdup(title ? title : "mynetworks");
    m->parent_matches_sub = parent_matches_sub;
    mynet_add_list(m, list ? list : "", 0);
    return m;
}

size_t mynetworks_count(const struct mynetworks *m)
{
    return m->count;
}

/* Name pattern against a lower-case client name. */
static bool mynet_name_match(const struct mynetworks *m, const char *pat, const char *name)
{
    size_t nl = strlen(name), pl = strlen(pat);
    if (pat[0] == '.')
        return nl > pl && strcmp(name + nl - pl, pat) == 0;
    if (strcmp(name, pat) == 0)
        return true;
    return m->parent_matches_sub && nl > pl + 1 && name[nl - pl - 1] == '.'
           && strcmp(name + nl - pl, pat) == 0;
}

int mynetworks_match(const struct mynetworks *m, const char *addr, const char *name)
{
    int family = 0;
    unsigned char a[16];
    bool have_addr = addr && mynet_parse_addr(addr, &family, a);
    char lname[256] = "";
    if (name && *name && strcmp(name, "unknown") != 0) {
        strlcpy(lname, name, sizeof(lname));
        dict_fold(lname);
    }
    for (size_t i = 0; i < m->count; i++) {
        const struct mynet_item *it = &m->items[i];
        bool hit = false;
        switch (it->kind) {
        case MYNET_CIDR:
            hit = have_addr && family == it->family && mynet_prefix_match(a, it->net, it->prefix);
            break;
        case MYNET_NAME:
            hit = lname[0] && mynet_name_match(m, it->name, lname);
            break;
        case MYNET_TABLE:
            if (addr && *addr) {
                hit = dict_lookup(it->dict, addr) != NULL;
                if (!hit && dict_error(it->dict) < 0)
                    return -1;
            }
            if (!hit && lname[0]) {
                hit = dict_lookup(it->dict, lname) != NULL;
                if (!hit && dict_error(it->dict) < 0)
                    return -1;
            }
            break;
        }
        if (hit)
            return it->negate ? 0 : 1;
    }
    return 0;
}

void mynetworks_free(struct mynetworks *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->count; i++) {
        xfree(m->items[i].name);
        if (m->items[i].dict)
            dict_close(m->items[i].dict);
    }
    xfree(m->items);
    xfree(m->title);
    xfree(m);
}
