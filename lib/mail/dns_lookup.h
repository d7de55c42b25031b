/*
 * dns_lookup.h - small resolver wrapper with bounded waiting
 *
 * Used by: smtpd (reject_rbl_client, reject_rhsbl_*, permit_dnswl_client,
 *          reject_unknown_*_hostname, reject_unknown_*_domain, check_*_access
 *          by MX/NS/A), smtp (MX lookups; DANE: DNSSEC-validated MX, address
 *          and TLSA lookups), dnsblog.
 * Interface: dns_lookup(), dns_lookup_sec(), dns_lookup_x(), dns_rr_list_free(),
 *            dns_host_exists(), dns_ptr_name(), dns_reverse_addr(),
 *            dns_reply_filter_set(), dns_rr_text(), dns_rr_filter(), dns_type_name().
 * Errors: DNS_NOTFOUND (NXDOMAIN or no data of that type) and DNS_TEMPFAIL
 *         (timeout, SERVFAIL, malformed answer, no resolver) are distinct:
 *         a failure is never reported as "not found". DNS_POLICY: the
 *         *_dns_reply_filter removed every record of an answer.
 * Notes: every query uses the system resolver (resolv.conf) through
 *        res_nquery() with a short per-try timeout and one retry, so one
 *        lookup never waits more than about DNS_MAX_WAIT seconds whatever
 *        resolv.conf says. Answers are parsed by hand (no libresolv ns_*
 *        parser), with every length checked against the message.
 */
#ifndef POSTERN_DNS_LOOKUP_H
#define POSTERN_DNS_LOOKUP_H
#include "sys_compat.h"
#include "sbuf.h"

struct maps;

#define DNS_OK 0
#define DNS_NOTFOUND 1
#define DNS_TEMPFAIL -1
#define DNS_INVAL -2            /* the name itself is unusable */
#define DNS_POLICY -3           /* the reply filter dropped every record (Postfix DNS_POLICY) */

#define DNS_T_A 1
#define DNS_T_NS 2
#define DNS_T_CNAME 5
#define DNS_T_PTR 12
#define DNS_T_MX 15
#define DNS_T_TXT 16
#define DNS_T_AAAA 28
#define DNS_T_TLSA 52

#define DNS_MAX_WAIT 6          /* seconds, worst case per lookup */

struct dns_rr {
    char *name; /* owner name as in the answer, no trailing dot (may be NULL) */
    int type;
    unsigned ttl;
    int pref;                   /* MX preference */
    char *data;                 /* A/AAAA: numeric address; MX/NS/CNAME/PTR: name; TXT: text;
                                 * TLSA: "" (the record is in the fields below) */
    /* TLSA (RFC 6698): certificate usage, selector, matching type and the
     * association data (bin, binlen bytes; new, freed with the list). */
    unsigned char usage, selector, mtype;
    unsigned char *bin;
    size_t binlen;
    struct dns_rr *next;
};

/* Looks name up for records of type (DNS_T_*). On DNS_OK *out (when not
 * NULL) gets a new list (dns_rr_list_free()); otherwise *out is NULL. why
 * (when not NULL) gets a short reason for logs. */
int dns_lookup(const char *name, int type, struct dns_rr **out, struct sbuf *why);
/* The A (want4) and AAAA (want6) records of name in one list, A first.
 * DNS_OK when there is at least one record; otherwise, in this order of
 * precedence, DNS_TEMPFAIL, DNS_POLICY or DNS_NOTFOUND, and why (when not
 * NULL) gets the text of the lookup that decided. */
int dns_lookup_addrs(const char *name, bool want4, bool want6, struct dns_rr **out,
                     struct sbuf *why);
/* dns_lookup() asking for DNSSEC validation (the DO bit, and RES_TRUSTAD
 * so that glibc keeps the resolver's AD bit, as Postfix does): *secure is
 * true when the answer - records or a negative answer - carried the AD
 * bit, i.e. the (local, trusted) resolver validated it. A failure
 * (DNS_TEMPFAIL, a bogus answer gets SERVFAIL) leaves *secure false. */
int dns_lookup_sec(const char *name, int type, struct dns_rr **out, struct sbuf *why,
                   bool *secure);
void dns_rr_list_free(struct dns_rr *rr);

/* dns_lookup_x() request flags and result bits. */
#define DNS_F_DNSSEC 0x1   /* ask for DNSSEC validation, as dns_lookup_sec() */
#define DNS_R_SECURE 0x1   /* the answer carried the AD bit */
#define DNS_R_NXDOMAIN 0x2 /* DNS_NOTFOUND because the name does not exist */
/* dns_lookup() with request flags (DNS_F_*); *result (when not NULL) gets
 * DNS_R_* bits. */
int dns_lookup_x(const char *name, int type, unsigned flags, struct dns_rr **out, struct sbuf *why,
                 unsigned *result);

/* *_dns_reply_filter (Postfix 3.0): the daemon hands its table over once,
 * in pre_jail (borrowed: it must outlive every lookup; NULL: no filter).
 * From then on every answer of dns_lookup*() and dns_host_exists() except
 * PTR lookups (Postfix finds client names through the system resolver,
 * which no filter sees) passes through dns_rr_filter() before the caller
 * sees it. A lookup whose records all went returns DNS_POLICY; a filter
 * that fails returns DNS_TEMPFAIL. */
void dns_reply_filter_set(struct maps *filter);
/* The record as the filter sees it, into out (fills caller's buffer):
 * "name. ttl IN TYPE data" where data is the address (A, AAAA), the
 * preference and host with a final dot (MX: "10 mx.example.com."), a name
 * with a final dot (NS, CNAME, PTR), the text (TXT) or usage, selector,
 * matching type and the data in hex (TLSA: "3 1 1 ab01..."). */
void dns_rr_text(struct sbuf *out, const struct dns_rr *rr);
/* Looks each record of *list up in filter by its dns_rr_text() form. A
 * result whose first word is IGNORE (any case) removes the record (logged);
 * any other result is an unknown action: warned, and -1. A failed table
 * lookup is -1 as well. 0 otherwise; *list may become NULL. */
int dns_rr_filter(struct maps *filter, struct dns_rr **list);
/* "A", "MX", ... for a DNS_T_* value; "?" for another type. Borrowed constant. */
const char *dns_type_name(int type);
/* Parses the answer section of the reply msg (len bytes, untrusted: every
 * length is checked) for records of type: DNS_OK with *out new,
 * DNS_NOTFOUND (none of that type) or DNS_TEMPFAIL (malformed), *out NULL.
 * Exposed for the unit tests and the fuzz target; dns_lookup() uses it. */
int dns_parse_reply(const unsigned char *msg, size_t len, int type, struct dns_rr **out);
/* A or AAAA (or MX when mx is true) exists for name: DNS_OK, DNS_NOTFOUND,
 * DNS_TEMPFAIL, or DNS_POLICY (the reply filter dropped every MX record, or
 * every address record when there were no MX records). With mx, a name
 * without MX but with an address is DNS_OK (RFC 5321 implicit MX). */
int dns_host_exists(const char *name, bool mx);
/* Reverse-DNS name of a numeric address into out (fills caller's buffer). */
int dns_ptr_name(const char *addr, struct sbuf *out);
/* Writes the reversed-octet (IPv4) or reversed-nibble (IPv6) form of addr
 * into out, without a trailing dot; -1 when addr is not numeric. */
int dns_reverse_addr(const char *addr, struct sbuf *out);

#endif
