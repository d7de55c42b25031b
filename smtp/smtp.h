/*
 * smtp.h - private interface of the smtp/lmtp delivery agent
 *
 * Used by: smtp.c (main, one delivery request), smtp_addr.c (next-hop
 *          parsing and MX ordering: pure functions), smtp_dns.c (MX and
 *          address lookups), smtp_connect.c (TCP and UNIX connections),
 *          smtp_proto.c (one SMTP or LMTP conversation), smtp_checks.c
 *          (smtp_header_checks and friends on the content sent),
 *          smtp_tls_policy.c (TLS level and settings, smtp_tls_policy_maps),
 *          smtp_cache.c (the scache connection cache), smtp_generic.c
 *          (smtp_generic_maps).
 * Notes: one binary; it runs in LMTP mode when its program name is not
 *        "smtp" (master.cf runs it as "lmtp"), as Postfix does. Parameters
 *        are read once into struct smtp_cfg from the smtp_* or lmtp_* names.
 */
#ifndef POSTERN_SMTP_H
#define POSTERN_SMTP_H
#include "sys_compat.h"
#include "deliver_request.h"
#include "sbuf.h"
#include "stream.h"

/* Longest host name or path accepted in a next hop or DNS answer. */
#define SMTP_HOST_MAX 1025
/* Longest server reply line we keep; longer ones are cut (and logged). */
#define SMTP_REPLY_LINE_MAX 2048
/* Most lines of one multi-line reply. */
#define SMTP_REPLY_LINES_MAX 1000
/* Most destinations in a next-hop list and addresses from one lookup. */
#define SMTP_DEST_MAX 32
#define SMTP_ADDR_MAX 256

/* ---- next hop (smtp_addr.c) ---- */

enum smtp_dest_kind {
    SMTP_DEST_INET,     /* host or domain, with a port */
    SMTP_DEST_UNIX,     /* unix:/path (LMTP) */
};

struct smtp_dest {
    enum smtp_dest_kind kind;
    char *host;         /* domain, host name, address literal or socket path */
    char *port;         /* service name or number; NULL for UNIX */
    bool no_mx;         /* [host] or LMTP: look up addresses, not MX */
};

/* Parses one next-hop element: "domain", "[host]", "[addr]", with
 * ":port" after either; "inet:" and "unix:" prefixes (unix: only when lmtp);
 * "[ipv6:addr]" and "[addr]" forms of IPv6 literals. dflt_port applies when
 * none is given. LMTP destinations never get MX lookups. Fills *d (members
 * new, free with smtp_dest_free()) and returns 0, or -1 with why filled. */
int smtp_dest_parse(const char *text, bool lmtp, const char *dflt_port, struct smtp_dest *d,
                    struct sbuf *why);
void smtp_dest_free(struct smtp_dest *d);
/* Splits a next-hop list ("[a]:25, b" - commas and blanks) and parses each
 * element. Returns the count (>= 1, *out new array), or -1 with why filled.
 * At most SMTP_DEST_MAX elements are used. */
int smtp_dest_list_parse(const char *text, bool lmtp, const char *dflt_port,
                         struct smtp_dest **out, struct sbuf *why);
void smtp_dest_list_free(struct smtp_dest *v, int n);

struct smtp_mx {
    char *host;
    int pref;
};

/* Sorts MX records by preference; records of equal preference are put in
 * random order with rnd(n) (returns 0..n-1; NULL keeps the given order). */
void smtp_mx_sort(struct smtp_mx *mx, size_t n, unsigned (*rnd)(unsigned n));
/* Drops this host and everything not better than it ("myself" as an MX):
 * returns the new count. Host names compare without case and trailing dot. */
size_t smtp_mx_truncate_self(struct smtp_mx *mx, size_t n, const char *myhostname);
struct smtp_addr;
/* smtp_address_preference: within each run of equal MX preference, moves
 * the addresses of family (AF_INET or AF_INET6) first, keeping their order
 * otherwise. family 0 ("any") leaves v alone. */
void smtp_addr_prefer(struct smtp_addr *v, size_t n, int family);
/* Parses an smtp_address_preference value: 0 with *family set, -1 bad. */
int smtp_addr_pref_parse(const char *value, int *family);
/* Host names equal, ignoring case and one trailing dot. */
bool smtp_host_equal(const char *a, const char *b);

/* Parses the first line(s) of a server reply: the 3-digit code and, when
 * present, the enhanced status code ("5.1.1"). Returns the code or -1. */
int smtp_reply_code(const char *line, struct sbuf *dsn);
/* Appends text to out encoded as RFC 3461 xtext. */
void smtp_xtext_encode(struct sbuf *out, const char *text);

/* ---- addresses to try (smtp_dns.c) ---- */

struct smtp_addr {
    char *host;         /* MX or host name as looked up */
    char *addr;         /* numeric address or UNIX path */
    char *port;
    int family;         /* AF_INET, AF_INET6, AF_UNIX */
    int pref;           /* MX preference, 0 without MX */
    char *nexthop;      /* the next-hop domain or [host] it was found for */
    const struct smtp_tls_policy *tls; /* its TLS policy (borrowed, or tls_own) */
    struct smtp_tls_policy *tls_own;   /* a policy of this server's own (the
                                        * per-site table), freed with it */
    char *dest;         /* that next hop as written ("[host]:port"), for SASL */
    bool via_mx;        /* host came from an MX record of nexthop */
    bool mx_secure;     /* ... and that MX RRset was DNSSEC-validated */
};

struct smtp_cfg;
/* Looks up the addresses for one destination and appends them to *v (grown
 * as needed; *n updated). Returns 0 (maybe nothing appended), or -1 with
 * dsn ("4.4.3" or "5.4.4") and why filled (a Postfix-shaped "Host or
 * domain name not found..." text). */
int smtp_dns_lookup(const struct smtp_cfg *cfg, const struct smtp_dest *d, struct smtp_addr **v,
                    size_t *n, struct sbuf *dsn, struct sbuf *why);
void smtp_addr_list_free(struct smtp_addr *v, size_t n);
/* Frees what one entry holds and zeroes it (the array stays). */
void smtp_addr_clear(struct smtp_addr *a);

/* ---- connections (smtp_connect.c) ---- */

/* Connects to a; returns a blocking-free fd (stream_open makes it
 * non-blocking) or -1 with why filled ("connect to H[A]:P: Connection
 * refused"). Binds to smtp_bind_address(6) first when configured. */
int smtp_connect(const struct smtp_cfg *cfg, const struct smtp_addr *a, struct sbuf *why);

/* One connection as a conversation sees it: fresh, or taken from the
 * scache connection cache (smtp_cache.c) with what its first conversation
 * learned. */
struct smtp_conn {
    int fd;
    bool reused;            /* from the cache: greeted and past EHLO */
    unsigned features;      /* SMTP_F_* bits of its EHLO reply (smtp_proto.c) */
    unsigned xforward;      /* the XFORWARD attributes it offered */
    long size_limit;        /* its SIZE, 0 = none */
    int reuse_count;        /* completed conversations before this one */
    time_t started;         /* when it was opened */
    bool keep;              /* out: left idle and clean, fd still open */
    /* TLS through tlsproxy: tls_trust is "Verified", "Trusted",
     * "Untrusted" or "Anonymous" ("" = plaintext). */
    char tls_trust[16];
    char tls_proto[32];
    char tls_cipher[80];
    int tls_bits, tls_alg_bits;
};

/* ---- configuration ---- */

struct ehlo_discard;
struct maps;
struct known_ports;

enum smtp_tls_level {
    SMTP_TLS_NONE,
    SMTP_TLS_MAY,
    SMTP_TLS_ENCRYPT,
    SMTP_TLS_DANE,      /* RFC 7672 opportunistic DANE (smtp_dane.c) */
    SMTP_TLS_DANE_ONLY, /* mandatory DANE */
    SMTP_TLS_FINGERPRINT, /* the certificate or its public key has a
                           * listed digest (*_tls_fingerprint_cert_match) */
    SMTP_TLS_VERIFY,    /* chain and a smtp_tls_verify_cert_match name */
    SMTP_TLS_SECURE,    /* chain and a smtp_tls_secure_cert_match name */
    SMTP_TLS_UNAVAILABLE, /* an unknown level: required but not
                           * known: every delivery is deferred */
};

/* The TLS policy of a destination (smtp_tls_policy.c). */
struct smtp_tls_policy {
    enum smtp_tls_level level;
    char *level_name;           /* as configured, for messages */
    char **match;               /* cert match strategies (verify, secure), or
                                 * fingerprints (upper-case hex without colons) */
    unsigned protocols;         /* TLS_PROTO_* mask, 0 = library default */
    char *ciphers;              /* OpenSSL cipher list, NULL = default */
    char *servername;           /* SNI: a name, "hostname", "nexthop", NULL = none */
    bool config_error;          /* protocols/ciphers unusable: TLS fails */
    char **tafiles;             /* verify, secure: trust anchor files (tafile=,
                                 * else *_tls_trust_anchor_file), or NULL */
    int connection_reuse;       /* connection_reuse=: 1 yes, -1 no, 0 unset
                                 * (*_tls_connection_reuse decides) */
};

struct smtp_cfg {
    bool lmtp;
    long tls_verify_depth;      /* *_tls_scert_verifydepth */
    const char *proto_name;     /* "SMTP" or "LMTP" */
    long connect_timeout, helo_timeout, mail_timeout, rcpt_timeout;
    long data_init_timeout, data_xfer_timeout, data_done_timeout;
    long quit_timeout, starttls_timeout, xforward_timeout, rset_timeout;
    bool per_request_deadline;  /* *_per_request_deadline: timeouts per request */
    int min_data_rate;          /* *_min_data_rate: body bytes/s that extend it */
    struct dsn_filter *status_filter; /* *_delivery_status_filter, or NULL */
    char *helo_name;
    char *bind_address, *bind_address6;
    long line_length_limit;
    bool skip_5xx_greeting;
    bool send_xforward;
    bool verify_data;           /* *_address_verify_target = data: probes end at DATA */
    bool never_send_ehlo;
    bool always_send_ehlo;             /* smtp_always_send_ehlo (no: only after an
                                        * "ESMTP" greeting); always true for LMTP */
    bool skip_quit_response;           /* *_skip_quit_response: QUIT without waiting */
    bool quote_envelope;               /* *_quote_rfc821_envelope */
    bool dummy_mail_auth;              /* *_send_dummy_mail_auth: AUTH=<> after a login */
    struct ehlo_discard *ehlo_discard; /* *_discard_{ehlo,lhlo}_keywords and maps */
    struct maps *reply_filter;         /* *_reply_filter, NULL = none */
    bool dns_enabled;           /* MX lookups allowed */
    struct maps *dns_reply_filter; /* *_dns_reply_filter, NULL = none */
    bool defer_no_mx_address;      /* *_defer_if_no_mx_address_found */
    bool dnssec;                /* *_dns_support_level = dnssec */
    int dane_insecure_mx;       /* smtp_tls_dane_insecure_mx_policy: MAY, ENCRYPT or DANE */
    bool dane_force_tlsa;       /* *_tls_force_insecure_host_tlsa_lookup */
    bool want_ipv4, want_ipv6;
    long mx_address_limit, mx_session_limit;
    bool randomize_addresses;
    bool ignore_mx_error;       /* ignore_mx_lookup_error: on an MX tempfail, use the address */
    bool balance_inet;          /* *_balance_inet_protocols */
    int prefer_family;      /* smtp_address_preference: AF_INET, AF_INET6, 0 = any */
    char *myhostname;
    char *default_port;         /* $smtp_tcp_port / $lmtp_tcp_port */
    struct known_ports *known_ports;    /* $known_tcp_ports: service names first */
    int windowsize;             /* tcp_windowsize, 0 = the system's buffers */
    bool assume_final;          /* lmtp_assume_final (LMTP only) */
    struct smtp_tls_policy tls_default; /* *_tls_security_level and friends */
    bool tls_wrapper;                   /* *_tls_wrappermode: TLS from the start */
    char *tls_ca_file, *tls_ca_path, *tls_cert_file, *tls_key_file;
    char *tls_eccert_file, *tls_eckey_file, *tls_dcert_file, *tls_dkey_file, *tls_chain_files;
    int tls_loglevel;
    bool tls_note_offer;                /* *_tls_note_starttls_offer */
    bool tls_reuse;                     /* *_tls_connection_reuse: TLS through tlsproxy */
    char *tlsproxy_service;             /* tlsproxy_service_name */
    struct tls_client_ctx *tls_ctx;     /* NULL when TLS is off or broken */
    char *fallback_relay;               /* *_fallback_relay: next hops after the real ones */
    bool bind_enforce;                  /* *_bind_address_enforce */
    /* Connection cache (smtp_cache.c). */
    bool cache_on_demand;               /* *_connection_cache_on_demand */
    char **cache_destinations;          /* *_connection_cache_destinations */
    long cache_time_limit;              /* *_connection_cache_time_limit */
    long reuse_count_limit;             /* *_connection_reuse_count_limit, 0 = none */
    long reuse_time_limit;              /* *_connection_reuse_time_limit */
    char *cache_service;                /* connection_cache_service_name */
    long cache_timeout;                 /* connection_cache_protocol_timeout */
};

extern struct smtp_cfg smtp_cfg;

/* ---- one conversation (smtp_proto.c) ---- */

enum smtp_rcpt_state {
    SMTP_RCPT_PENDING,  /* not finished: try the next server */
    SMTP_RCPT_DONE,     /* sent, bounced or deferred for good */
};

struct smtp_state {
    struct deliver_request *req;
    enum smtp_rcpt_state *rcpt_state;   /* one per request recipient */
    size_t pending;                     /* count of PENDING */
    long msg_size;                      /* content_size from qmgr, 0 = unknown */
    struct sbuf *last_dsn;              /* soft error to use for leftovers */
    struct sbuf *last_reason;
    struct sbuf *last_mta;              /* its DSN details: server name or "" */
    struct sbuf *last_diag;             /* the server reply, or "" */
    bool any_session;                   /* some server got past its greeting */
    bool cache;                         /* connections may be kept for reuse */
};

enum smtp_sess_result {
    SMTP_SESS_DONE,     /* every recipient is final */
    SMTP_SESS_NEXT,     /* some recipients wait for another server */
    SMTP_SESS_STALE,    /* a cached connection failed RSET: nothing was
                         * reported, try a fresh connection */
};

/* Runs one conversation on conn->fd with the server at a. final says no
 * other server will be tried (soft errors then defer recipients instead
 * of keeping them). A reused connection is first checked with RSET. When
 * st->cache is set and the conversation ends cleanly on a connection
 * without TLS or AUTH, conn->keep is set and conn->fd stays open (no QUIT)
 * with conn's fields updated for the next user; otherwise conn->fd is
 * closed. */
enum smtp_sess_result smtp_session(struct smtp_state *st, struct smtp_conn *conn,
                                   const struct smtp_addr *a, bool final);
/* Says goodbye (QUIT; its answer awaited only when *_skip_quit_response
 * = no) on an idle connection that is not kept, and closes it. */
void smtp_quit_close(int fd, const struct smtp_addr *a);

/* ---- connection cache (smtp_cache.c) ---- */
/* Reads the *_connection_* settings into c. */
void smtp_cache_load(struct smtp_cfg *c);
/* May request r use the cache: qmgr said the destination has more mail
 * (*_connection_cache_on_demand) or its next hop is listed in
 * *_connection_cache_destinations; and nothing makes reuse unsafe (SASL
 * login on). */
bool smtp_cache_wanted(const struct deliver_request *r);
/* True when a connection under TLS policy pol (NULL = the default) may
 * come from or go to the cache: plaintext levels, and TLS levels when
 * tlsproxy does the TLS (smtp_tls_reuse_wanted); never dane. */
bool smtp_cache_policy_ok(const struct smtp_tls_policy *pol);
/* Does TLS under pol go through tlsproxy (the policy's connection_reuse=,
 * else *_tls_connection_reuse)? */
bool smtp_tls_reuse_wanted(const struct smtp_tls_policy *pol);
/* Appends pol's cache tag: its level name, and for TLS through tlsproxy a
 * digest of the rest of the policy. */
void smtp_cache_policy_tag(struct sbuf *out, const struct smtp_tls_policy *pol);
/* Takes a connection to next hop nexthop (as written in the request) out
 * of the cache: returns its server (new: free with smtp_addr_list_free(a,
 * 1)) with *conn filled, or NULL. tag names the TLS policies in force
 * (connections saved under another tag do not match). */
struct smtp_addr *smtp_cache_find_dest(const char *nexthop, const char *tag,
                                       struct smtp_conn *conn);
/* Takes a connection to server address a out of the cache: 0 with *conn
 * filled, or -1. */
int smtp_cache_find_endp(const struct smtp_addr *a, struct smtp_conn *conn);
/* After a conversation: a kept connection goes to the cache (under a's
 * endpoint, and under nexthop too when that is not NULL) while the reuse
 * limits allow; otherwise it is closed with QUIT. Nothing to do when
 * conn->keep is false. */
void smtp_cache_release(struct smtp_conn *conn, const struct smtp_addr *a, const char *nexthop,
                        const char *tag);
/* The last released connection stays with this process for a moment
 * (smtp_cache.c): seconds until smtp_cache_idle() wants to run (<0: no
 * connection held); smtp_cache_idle() hands it to scache once that time has
 * passed; smtp_cache_flush() does so at once (at exit). */
double smtp_cache_idle_due(void);
void smtp_cache_idle(void);
void smtp_cache_flush(void);

/* ---- smtp_generic_maps (smtp_generic.c) ---- */
/* Opens *_generic_maps at start. */
void smtp_generic_load(bool lmtp);
bool smtp_generic_active(void);
/* Rewrites addr (internal form) in place per generic(5): user@domain,
 * user (for our own domains), @domain. Returns 1 changed, 0 not, -1 when
 * the table failed (the caller defers). */
int smtp_generic_map(struct sbuf *addr);
/* Rewrites the addresses in one header ("Name: value", may be folded) in
 * place when it is an address header. Same results as smtp_generic_map. */
int smtp_generic_header(struct sbuf *header);
/* Reports a soft failure for every pending recipient (final) or remembers
 * it for later. */
void smtp_fail_pending(struct smtp_state *st, const char *relay, const char *dsn,
                       const char *reason);
/* The remembered soft error was not a server reply (DNS, connect): forget
 * the DSN details (Remote-MTA, Diagnostic-Code) of an earlier one. */
void smtp_forget_reply(struct smtp_state *st);

/* ---- content checks on the way out (smtp_checks.c) ---- */
struct smtp_checks;
/* Opens smtp_*_checks (or lmtp_*_checks) at start. */
void smtp_checks_load(bool lmtp);
/* True when any of those tables is set. */
bool smtp_checks_active(void);
/* A filter for one message: smtp_checks_line() (a deliver_line_fn) feeds
 * it, and it calls out for every line to send. */
struct smtp_checks *smtp_checks_new(const char *queue_id, deliver_line_fn out, void *out_ctx);
int smtp_checks_line(const char *line, size_t len, void *ctx);
/* End of content: flushes a header still being collected. Returns 0, or
 * the writer's or a table's failure. */
int smtp_checks_end(struct smtp_checks *c);
void smtp_checks_free(struct smtp_checks *c);

/* ---- TLS policy (smtp_tls_policy.c) ---- */
/* The security level named v; *warn gets a warning for levels Postern
 * does not implement (NULL otherwise). */
enum smtp_tls_level smtp_tls_level_parse(const char *v, const char **warn);
/* The name of a level ("none", "may", ... as in main.cf). */
const char *smtp_tls_level_name(enum smtp_tls_level level);
/* Fills c->tls_default and c->tls_wrapper, opens *_tls_policy_maps. */
void smtp_tls_policy_default(struct smtp_cfg *c);
/* True when *_tls_policy_maps or the older *_tls_per_site is in use. */
bool smtp_tls_policy_active(void);
/* *_tls_per_site, the table of Postfix before 2.3 (used only when
 * *_tls_policy_maps is empty): true when in use. */
bool smtp_tls_site_active(void);
/* The policy for server host (an MX name of next hop dest) when the
 * per-site table gives it a level other than dest's own policy, base:
 * 0 (*p filled: free with smtp_tls_policy_free), 1 (base applies), -1
 * with why filled (lookup error or unknown table value: do not use the
 * server). */
int smtp_tls_site_host(const char *dest, const char *host, const struct smtp_tls_policy *base,
                       struct smtp_tls_policy *p, struct sbuf *why);
/* The table's policy for d: 0 (found, *p filled: free with
 * smtp_tls_policy_free), 1 (no entry or no table: the default applies), or
 * -1 with why filled (lookup failure or unusable entry: defer with 4.7.5). */
int smtp_tls_policy_lookup(const struct smtp_dest *d, const char *dflt_port,
                           struct smtp_tls_policy *p, struct sbuf *why);
void smtp_tls_policy_free(struct smtp_tls_policy *p);
struct tls_client_anchors;
/* SMTP_TA_FILES_MAX: most trust anchor files one policy may name. */
#define SMTP_TA_FILES_MAX 16
/* The trust anchors of p's files (read once per process) into out (at most
 * SMTP_TA_FILES_MAX); returns how many (0: p names no files), or -1 with
 * why filled (a file unreadable, malformed or without anchors, too many
 * files): the destination must be deferred. */
int smtp_tls_anchors(const struct smtp_tls_policy *p, const struct tls_client_anchors **out,
                     struct sbuf *why);
struct tls_cache_ops;
/* The tlsmgr session cache for tls_client_ctx_new() (NULL when
 * *_tls_session_cache_database is empty or its timeout 0). */
const struct tls_cache_ops *smtp_tls_cache_ops(void);
/* Once per process, before the first handshake: PRNG seed from tlsmgr. */
void smtp_tls_seed(void);
/* ---- SASL login (smtp_sasl.c) ---- */

struct maps;
/* The conversation, as smtp_sasl_login() drives it (smtp_proto.c). */
struct smtp_sasl_io {
    void *ctx;
    /* Sends one line (never logged: it may hold a password) and reads the
     * reply. Returns the code, or -1 after an I/O failure or a malformed
     * reply (the caller reports it). */
    int (*command)(void *ctx, const char *line);
    const char *(*reply)(void *ctx);        /* last reply, lines joined */
    const char *(*first_text)(void *ctx);   /* its first line after the code */
};
/* What smtp_sasl_login() knows about the server. */
struct smtp_sasl_peer {
    const char *peer;           /* host[addr], for messages */
    const char *host;           /* server host name: password key */
    const char *dest;           /* next hop as written: password key */
    const char *sender;         /* envelope sender: password key */
    const char *mechs;          /* the server's AUTH offer, blank separated */
    bool tls, tls_verified;
};
enum smtp_sasl_result {
    SMTP_SASL_NONE,     /* no login wanted or possible: go on without */
    SMTP_SASL_DONE,     /* logged in */
    SMTP_SASL_FAIL,     /* dsn and why filled: fail the session (our side) */
    SMTP_SASL_REFUSED,  /* dsn and why filled: the server refused the login */
    SMTP_SASL_IO,       /* the conversation broke */
};
/* Reads the *_sasl_* settings and sets up the library (before chroot). */
void smtp_sasl_load(bool lmtp);
bool smtp_sasl_enabled(void);
/* The next hop as written in a destination list: "[host]:port" (new). */
char *smtp_sasl_dest_key(const struct smtp_dest *d, bool lmtp, const char *dflt_port);
/* The password table entry for a server, in Postfix's key order; NULL
 * with *error set when a table failed. */
const char *smtp_sasl_passwd_find(struct maps *m, bool sender_dep, const char *sender,
                                  const char *host, const char *dest, int *error);
enum smtp_sasl_result smtp_sasl_login(const struct smtp_sasl_io *io,
                                      const struct smtp_sasl_peer *p, struct sbuf *dsn,
                                      struct sbuf *why);

/* ---- DANE (smtp_dane.c) ---- */

/* What DANE makes of one server (RFC 7672 and Postfix's rules). */
struct smtp_dane {
    enum smtp_tls_level level;  /* NONE..ENCRYPT, or DANE: authenticate */
    struct dns_rr *tlsa;        /* the usable TLSA records (level DANE) */
    char *base;                 /* the TLSA base domain */
};
/* Works out the effective level of a server whose destination's policy is
 * dane or dane-only: DNSSEC status of its MX and address records, its
 * TLSA records (_PORT._tcp.HOST). Returns 0 with *d filled (free with
 * smtp_dane_free), or -1 with why filled: the server must be deferred
 * with 4.7.5 (dane-only without usable records, a TLSA lookup failure). */
int smtp_dane_resolve(const struct smtp_tls_policy *pol, const struct smtp_addr *a,
                      struct smtp_dane *d, struct sbuf *why);
void smtp_dane_free(struct smtp_dane *d);
/* Checks the DANE settings at start (logs warnings). */
void smtp_dane_load(struct smtp_cfg *c);

#endif
