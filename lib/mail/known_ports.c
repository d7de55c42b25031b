/*
 * known_ports.c - TCP port numbers for service names ($known_tcp_ports)
 *
 * Used by: see known_ports.h.
 * Interface: see known_ports.h.
 * Errors: see known_ports.h; nothing here is fatal.
 * Notes: the table is a handful of entries, searched linearly.
 */
#include "known_ports.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "params.h"
#include "sbuf.h"
#include <netdb.h>
#include <netinet/in.h>

#define KNOWN_PORTS_MAX 1024    /* entries kept; more is surely a mistake */

struct known_port {
    char *name;
    char *port;         /* decimal, 0..65535 */
};

struct known_ports {
    struct known_port *v;
    size_t n;
};

static bool known_ports_all_digits(const char *s)
{
    return *s != 0 && strspn(s, "0123456789") == strlen(s);
}

/* A decimal port number: at most five digits and 65535. -1 otherwise. */
static int known_ports_decimal(const char *s)
{
    if (!known_ports_all_digits(s))
        return -1;
    while (*s == '0' && s[1] != 0)
        s++;
    if (strlen(s) > 5)
        return -1;
    long n = 0;
    for (; *s; s++)
        n = n * 10 + (*s - '0');
    return n > 65535 ? -1 : (int)n;
}

static const struct known_port *known_ports_find(const struct known_ports *kp, const char *name)
{
    for (size_t i = 0; kp && i < kp->n; i++)
        if (strcmp(kp->v[i].name, name) == 0)
            return &kp->v[i];
    return NULL;
}

/* Adds name -> port; NULL, or what is wrong with them. */
static const char *known_ports_add(struct known_ports *kp, const char *name, const char *port)
{
    if (known_ports_all_digits(name))
        return "numerical service name";
    if (!known_ports_all_digits(port))
        return "non-numerical service port";
    if (known_ports_decimal(port) < 0)
        return "port number out of range";
    if (known_ports_find(kp, name))
        return "duplicate service name";
    if (kp->n >= KNOWN_PORTS_MAX)
        return "too many service names";
    kp->v = xreallocarray(kp->v, kp->n + 1, sizeof(*kp->v));
    kp->v[kp->n].name = xstrdup(name);
    kp->v[kp->n].port = xstrdup(port);
    kp->n++;
    return NULL;
}

/* Trims the blanks around one fragment in place; *err is set when blanks
 * remain inside it (what names the fragment in the message). Returns the
 * fragment, "" when it was all blank. */
static char *known_ports_word(char *s, const char *what, const char **err)
{
    s += strspn(s, " \t\r\n");
    size_t n = strlen(s);
    while (n > 0 && strchr(" \t\r\n", s[n - 1]))
        s[--n] = 0;
    if (strpbrk(s, " \t\r\n"))
        *err = what;
    return s;
}

/* One "name = ... = port" entry (modified in place). NULL, or the first
 * problem; the valid names are added even when another one is bad. */
static const char *known_ports_entry(struct known_ports *kp, char *entry)
{
    char *eq = strrchr(entry, '=');
    if (eq == NULL)
        return "not in \"name = value\" form";
    *eq = 0;
    const char *err = NULL;
    char *port = known_ports_word(eq + 1, "whitespace in port number", &err);
    if (*port == 0)
        return "missing port value after \"=\"";
    if (err)
        return err;
    for (char *p = entry; p;) {
        char *next = strchr(p, '=');
        if (next)
            *next++ = 0;
        const char *bad = NULL;
        char *name = known_ports_word(p, "whitespace in service name", &bad);
        if (*name == 0)
            bad = "missing service name before \"=\"";
        else if (bad == NULL)
            bad = known_ports_add(kp, name, port);
        if (bad && err == NULL)
            err = bad;
        p = next;
    }
    return err;
}

struct known_ports *known_ports_parse(const char *settings, struct sbuf *errs)
{
    struct known_ports *kp = xcalloc(1, sizeof(*kp));
    char *copy = xstrdup(settings ? settings : "");
    for (char *p = copy; p;) {
        char *comma = strchr(p, ',');
        if (comma)
            *comma++ = 0;
        if (p[strspn(p, " \t\r\n")] != 0) {
            char *shown = xstrdup(p);
            const char *err = known_ports_entry(kp, p);
            if (err && errs) {
                const char *s = shown + strspn(shown, " \t\r\n");
                size_t n = strlen(s);
                while (n > 0 && strchr(" \t\r\n", s[n - 1]))
                    n--;
                sbuf_catf(errs, "in \"%.*s\": %s\n", (int)n, s, err);
            }
            xfree(shown);
        }
        p = comma;
    }
    xfree(copy);
    return kp;
}

struct known_ports *known_ports_load(void)
{
    struct sbuf *errs = sbuf_new(64);
    struct known_ports *kp = known_ports_parse(cfg_str(P_KNOWN_TCP_PORTS), errs);
    char *s = sbuf_data(errs);
    for (char *nl; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
        *nl = 0;
        log_warn("%s: %s", P_KNOWN_TCP_PORTS, s);
    }
    sbuf_free(errs);
    return kp;
}

void known_ports_free(struct known_ports *kp)
{
    if (kp == NULL)
        return;
    for (size_t i = 0; i < kp->n; i++) {
        xfree(kp->v[i].name);
        xfree(kp->v[i].port);
    }
    xfree(kp->v);
    xfree(kp);
}

const char *known_ports_filter(const struct known_ports *kp, const char *name)
{
    if (name == NULL || known_ports_all_digits(name))
        return name;
    const struct known_port *k = known_ports_find(kp, name);
    return k ? k->port : name;
}

int known_ports_number(const struct known_ports *kp, const char *service)
{
    if (service == NULL || *service == 0)
        return -1;
    service = known_ports_filter(kp, service);
    if (known_ports_all_digits(service))
        return known_ports_decimal(service);
    struct servent *se = getservbyname(service, "tcp");
    return se ? ntohs((uint16_t)se->s_port) : -1;
}
