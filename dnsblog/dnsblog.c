/*
 * dnsblog.c - DNS list lookups for postscreen(8)
 *
 * Used by: master (`dnsblog unix - - y - 0 dnsblog`); the only client is
 *          postscreen, which asks once per client and DNS list.
 * Interface: main(); the request and reply in lib/mail/dnsblog_proto.h.
 * Errors: a malformed request closes that connection without an answer
 *         (postscreen then counts the list as not answering); a DNS failure
 *         is answered as status=tempfail, never as "not listed".
 * Notes: one request per connection and one connection at a time per
 *        process (SERVER_SINGLE): a lookup may wait for the resolver for
 *        several seconds and master starts more processes as needed. The
 *        lookups are smtpd's (lib/mail/dns_lookup.c): the reversed client
 *        address under the list's domain, A records, then TXT when asked.
 *        A listed address is logged as Postfix's dnsblog does:
 *        "addr 192.0.2.1 listed by domain zen.example as 127.0.0.2".
 *        dnsblog_reply_delay delays every answer (a testing aid).
 */
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "dns_lookup.h"
#include "dnsblog_proto.h"
#include "log.h"
#include "params.h"
#include "sbuf.h"
#include "server.h"
#include <ctype.h>
#include <time.h>

/* Longest TXT text passed on (the reply text quotes it). */
#define DNSBLOG_TXT_MAX 500

static long dnsblog_delay;

static bool dnsblog_valid_domain(const char *d)
{
    size_t n = strlen(d);
    if (n == 0 || n > 253)
        return false;
    for (const char *p = d; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-' || *p == '_'))
            return false;
    return true;
}

/* Looks the client up in one list and fills the reply. */
static void dnsblog_query(const char *domain, const char *addr, bool want_txt,
                          struct attr_list *reply)
{
    struct sbuf *name = sbuf_new(128), *list = sbuf_new(64), *why = sbuf_new(64);
    struct dns_rr *rr = NULL;
    const char *status = DNSBLOG_STATUS_NOTFOUND;
    unsigned ttl = 0;

    if (dns_reverse_addr(addr, name) < 0) {
        status = DNSBLOG_STATUS_NOTFOUND;
    } else {
        sbuf_catf(name, ".%s", domain);
        int r = dns_lookup(sbuf_str(name), DNS_T_A, &rr, why);
        if (r == DNS_TEMPFAIL) {
            status = DNSBLOG_STATUS_TEMPFAIL;
            log_warn("dnsblog_query: lookup error for DNS query %s: %s", sbuf_str(name),
                     sbuf_str(why));
        } else if (r == DNS_OK) {
            status = DNSBLOG_STATUS_OK;
            ttl = rr->ttl;
            for (struct dns_rr *p = rr; p; p = p->next) {
                if (sbuf_len(list))
                    sbuf_cat(list, " ");
                sbuf_cat(list, p->data);
                if (p->ttl < ttl)
                    ttl = p->ttl;
            }
            log_info("addr %s listed by domain %s as %s", addr, domain, sbuf_str(list));
        }
    }
    attr_add(reply, DNSBLOG_ATTR_STATUS, status);
    attr_add(reply, DNSBLOG_ATTR_ADDRESSES, sbuf_str(list));
    attr_add_long(reply, DNSBLOG_ATTR_TTL, (long)ttl);
    if (want_txt && rr != NULL) {
        struct dns_rr *t = NULL;
        struct sbuf *txt = sbuf_new(128);
        if (dns_lookup(sbuf_str(name), DNS_T_TXT, &t, NULL) == DNS_OK) {
            for (struct dns_rr *p = t; p && sbuf_len(txt) < DNSBLOG_TXT_MAX; p = p->next) {
                if (sbuf_len(txt))
                    sbuf_cat(txt, " ");
                sbuf_cat(txt, p->data);
            }
        }
        dns_rr_list_free(t);
        /* XXX: a long TXT is cut at DNSBLOG_TXT_MAX bytes on purpose: it
         * only decorates a reply text. */
        if (sbuf_len(txt) > DNSBLOG_TXT_MAX)
            sbuf_truncate(txt, DNSBLOG_TXT_MAX);
        attr_add(reply, DNSBLOG_ATTR_TXT, sbuf_str(txt));
        sbuf_free(txt);
    }
    dns_rr_list_free(rr);
    sbuf_free(name);
    sbuf_free(list);
    sbuf_free(why);
}

static void dnsblog_service(struct stream *client)
{
    struct attr_list *req = attr_list_new(), *reply = attr_list_new();
    if (attr_send_proto(client, DNSBLOG_PROTO) < 0 || attr_read(client, req) < 0)
        goto out;
    const char *domain = attr_get(req, DNSBLOG_ATTR_DOMAIN);
    const char *addr = attr_get(req, DNSBLOG_ATTR_ADDRESS);
    const char *id = attr_get_def(req, DNSBLOG_ATTR_ID, "");
    const char *txt = attr_get_def(req, DNSBLOG_ATTR_WANT_TXT, "0");
    if (domain == NULL || addr == NULL || !dnsblog_valid_domain(domain)) {
        log_warn("malformed request: missing or bad %s or %s", DNSBLOG_ATTR_DOMAIN,
                 DNSBLOG_ATTR_ADDRESS);
        goto out;
    }
    attr_add(reply, DNSBLOG_ATTR_DOMAIN, domain);
    attr_add(reply, DNSBLOG_ATTR_ADDRESS, addr);
    attr_add(reply, DNSBLOG_ATTR_ID, id);
    dnsblog_query(domain, addr, strcmp(txt, "1") == 0, reply);
    if (dnsblog_delay > 0) {
        struct timespec ts = { .tv_sec = dnsblog_delay };
        nanosleep(&ts, NULL);
    }
    attr_write(client, reply);
out:
    attr_list_free(req);
    attr_list_free(reply);
}

static void dnsblog_post_jail(void)
{
    dnsblog_delay = cfg_time(P_DNSBLOG_REPLY_DELAY);
}

static const struct server_ops dnsblog_ops = {
    .model = SERVER_SINGLE,
    .post_jail = dnsblog_post_jail,
    .service = dnsblog_service,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &dnsblog_ops);
}
