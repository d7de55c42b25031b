/*
 * peer_name.c - the verified host name of a network client
 *
 * Used by: smtpd_peer.c, qmqpd_peer.c.
 * Interface: see peer_name.h.
 * Errors: logged ("numeric or malformed hostname", "hostname X does not
 *         resolve to address Y"); the caller keeps its "unknown".
 * Notes: forward confirmation compares numeric addresses after
 *        sock_addr_unmap(), so an IPv4 client reached over an IPv6 socket
 *        matches its A record. A confirmed name is remembered for
 *        PEER_NAME_CACHE_TTL seconds (a few addresses, per process): a
 *        client that connects again at once (a relay client sending one
 *        message per connection) costs no second PTR and A lookup, which
 *        through glibc is two re-reads of resolv.conf, nsswitch.conf and
 *        /etc/hosts, or two DNS round trips. Failures are not remembered:
 *        the next connection asks again.
 */
#include "peer_name.h"
#include "log.h"
#include "sock.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <strings.h>
#include <time.h>

#define PEER_NAME_CACHE_TTL 5
#define PEER_NAME_CACHE_SIZE 8

static struct peer_name_cached {
    char addr[INET6_ADDRSTRLEN];
    char name[NI_MAXHOST];
    time_t when;
} peer_name_cache[PEER_NAME_CACHE_SIZE];
static unsigned peer_name_cache_next;
static unsigned long peer_name_resolves;

/* The remembered entry of addr (fresh or not), or NULL. */
static struct peer_name_cached *peer_name_cache_find(const char *addr)
{
    for (size_t i = 0; i < PEER_NAME_CACHE_SIZE; i++)
        if (peer_name_cache[i].addr[0] && strcmp(peer_name_cache[i].addr, addr) == 0)
            return &peer_name_cache[i];
    return NULL;
}

unsigned long peer_name_resolver_calls(void)
{
    return peer_name_resolves;
}

bool peer_name_plausible(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > 255)
        return false;
    size_t label = 0;
    for (const char *p = name; *p; p++) {
        if (*p == '.') {
            if (label == 0 || p[-1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!(isalnum((unsigned char)*p) || *p == '-' || *p == '_'))
            return false;
        if ((label == 0 && *p == '-') || ++label > 63)
            return false;
    }
    if (label == 0 || name[n - 1] == '-')
        return false;
    /* A name that parses as a numeric address is a lie. */
    unsigned char buf[16];
    return inet_pton(AF_INET, name, buf) != 1 && inet_pton(AF_INET6, name, buf) != 1;
}

/* Forward-confirms name against the numeric address. */
static bool peer_name_confirm(const char *name, const char *addr)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(name, NULL, &hints, &res) != 0)
        return false;
    bool found = false;
    for (struct addrinfo *ai = res; ai && !found; ai = ai->ai_next) {
        char buf[INET6_ADDRSTRLEN];
        if (getnameinfo(ai->ai_addr, ai->ai_addrlen, buf, sizeof(buf), NULL, 0, NI_NUMERICHOST)
            == 0) {
            sock_addr_unmap(buf);
            found = strcasecmp(buf, addr) == 0;
        }
    }
    freeaddrinfo(res);
    return found;
}

bool peer_name_lookup(const struct sockaddr *sa, socklen_t len, const char *addr, char *out,
                      size_t outlen)
{
    char name[NI_MAXHOST];
    time_t now = time(NULL);
    struct peer_name_cached *c = peer_name_cache_find(addr);
    if (c && now >= c->when && now - c->when < PEER_NAME_CACHE_TTL) {
        strlcpy(out, c->name, outlen);
        return true;
    }
    peer_name_resolves++;
    if (getnameinfo(sa, len, name, sizeof(name), NULL, 0, NI_NAMEREQD) != 0)
        return false;
    if (!peer_name_plausible(name)) {
        log_warn("numeric or malformed hostname: %.100s for %s", name, addr);
        return false;
    }
    if (!peer_name_confirm(name, addr)) {
        log_warn("hostname %s does not resolve to address %s", name, addr);
        return false;
    }
    if (strlen(addr) < sizeof(peer_name_cache[0].addr)) {
        if (c == NULL)      /* else: the same client's expired entry */
            c = &peer_name_cache[peer_name_cache_next++ % PEER_NAME_CACHE_SIZE];
        strlcpy(c->addr, addr, sizeof(c->addr));
        strlcpy(c->name, name, sizeof(c->name));
        c->when = now;
    }
    strlcpy(out, name, outlen);
    return true;
}
