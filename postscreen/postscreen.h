/*
 * postscreen.h - private interface of postscreen(8), the SMTP front door
 *
 * Used by: the postscreen sources only.
 * Interface: struct ps_state (one per client connection), ps_cfg, and the
 *            entry points of each concern: ps_access_*, ps_cache_*,
 *            ps_dnsbl_*, ps_early_*, ps_smtpd_*, ps_starttls_*, ps_session_*.
 * Notes: see postscreen.c for the life of a connection.
 */
#ifndef POSTERN_POSTSCREEN_H
#define POSTERN_POSTSCREEN_H
#include "sys_compat.h"
#include "sbuf.h"
#include "tls_param.h"

/* What to do with a client that failed a test (postscreen_*_action). */
enum ps_action { PS_ACT_IGNORE, PS_ACT_ENFORCE, PS_ACT_DROP };

/* Where a connection is in its life. */
enum ps_phase { PS_PH_PROXY, PS_PH_EARLY, PS_PH_SMTP, PS_PH_TLS, PS_PH_PASS };


/* Test bits (flags below). */
#define PS_T_GREET 0x1
#define PS_T_DNSBL 0x2
#define PS_T_PIPE 0x4            /* after 220: command pipelining */
#define PS_T_NSMTP 0x8           /* after 220: non-SMTP command */
#define PS_T_BARELF 0x10         /* after 220: bare newline */
#define PS_T_DEEP (PS_T_PIPE | PS_T_NSMTP | PS_T_BARELF)

struct ps_state {
    struct ps_state *next, *prev; /* all live connections (postscreen.c) */
    int fd;
    int pass_conn;               /* PS_PH_PASS: the connection to smtpd */
    int tls_conn;                /* PS_PH_TLS: the connection to tlsproxy, or -1 */
    bool tls_on;                 /* fd is tlsproxy's plaintext side of a TLS session */
    enum ps_phase phase;
    char addr[64];               /* client, numeric */
    char port[8];
    char saddr[64];              /* server side, numeric */
    char sport[8];
    double start;                /* event_now() at connect */
    struct sbuf *in;             /* bytes read and not yet used */
    /* before-220 tests */
    unsigned failed;             /* PS_T_* that failed */
    bool denylisted;             /* the access list rejected the client */
    bool veto;                   /* server address not in postscreen_allowlist_interfaces:
                                  * never cached, never handed to smtpd */
    enum ps_action action;       /* strongest action of the failed tests */
    char *reply;                 /* new: the 550/521 text of that failure */
    bool greet_done;
    bool read_paused;           /* input_max reached: the fd is not watched */
    int dnsbl_pending;           /* dnsblog queries without an answer */
    int dnsbl_score;
    int dnsbl_top_weight;        /* largest positive weight that hit */
    char *dnsbl_name;            /* new: the list with that weight */
    long dnsbl_ttl;              /* smallest TTL of the hits, -1: none */
    struct ps_dnsbl_query *queries;
    /* dummy SMTP engine */
    bool deep;                   /* running the after-220 tests */
    unsigned deep_on;            /* PS_T_PIPE/NSMTP/BARELF this session runs */
    char last_cmd[16];           /* verb of the previous command, for logs */
    unsigned cmd_count;
    char *helo;
    char *sender;
    bool esmtp;
    char **discard;              /* EHLO keywords left out for this client (NULL:
                                  * not yet looked up) */
};

struct cmd_filter;
struct ehlo_discard;
struct mynetworks;
struct reply_expand;
struct reply_footer;

struct ps_site {                 /* one postscreen_dnsbl_sites entry */
    char *domain;
    char *filter;                /* NULL: any answer */
    int weight;
};

struct ps_config {
    char *banner;                /* postscreen_greet_banner, "" = none */
    char *smtpd_banner;          /* $smtpd_banner (myhostname ESMTP ...) */
    char *myhostname;
    long greet_wait;
    enum ps_action greet_action, dnsbl_action, deny_action;
    long greet_ttl;
    struct ps_site *sites;
    size_t nsites;
    int dnsbl_threshold;
    int dnsbl_allow_threshold;
    long dnsbl_timeout, dnsbl_min_ttl, dnsbl_max_ttl;
    struct maps *dnsbl_reply_map;
    long cache_retention, cache_cleanup;
    long cmd_count_limit, cmd_time_limit;
    size_t line_limit;          /* $line_length_limit: longest command line */
    size_t input_max;           /* most client bytes kept unread (ps_read_more) */
    long pre_queue_limit, post_queue_limit;
    long client_conn_limit;
    bool proxy;                  /* postscreen_upstream_proxy_protocol = haproxy */
    long proxy_timeout;
    long watchdog;
    unsigned deep_enabled;       /* PS_T_PIPE/NSMTP/BARELF that are on */
    enum ps_action pipe_action, nsmtp_action, barelf_action;
    long pipe_ttl, nsmtp_ttl, barelf_ttl;
    char **forbidden;            /* postscreen_forbidden_commands */
    enum tls_param_level tls_level; /* STARTTLS: offered (may), required (encrypt) */
    char *tls_service;           /* $tlsproxy_service_name */
    bool helo_required;          /* postscreen_helo_required */
    bool disable_vrfy;           /* postscreen_disable_vrfy_command */
    bool respectful;             /* respectful_logging: ALLOWLISTED, not WHITELISTED */
    long size_limit;             /* message_size_limit, for EHLO's SIZE */
    bool smtputf8;               /* smtputf8_enable: EHLO offers SMTPUTF8 */
    struct ehlo_discard *ehlo_discard; /* postscreen_discard_ehlo_keyword* */
    char **ehlo_discard_list;          /* postscreen_discard_ehlo_keywords, split once */
    struct cmd_filter *cmd_filter;     /* postscreen_command_filter, or NULL */
    struct reply_expand *expand;       /* postscreen_expansion_filter */
    struct reply_footer *footer;       /* postscreen_reject_footer, _maps */
    struct mynetworks *allow_if;       /* postscreen_allowlist_interfaces; NULL:
                                        * static:all */
};

extern struct ps_config ps_cfg;

/* postscreen.c */
void ps_session_close(struct ps_state *st);
void ps_session_pass(struct ps_state *st, const char *how);
/* Watches st->fd for client input again (after STARTTLS). */
void ps_session_watch(struct ps_state *st);
void ps_session_input_used(struct ps_state *st);
void ps_send(struct ps_state *st, const char *text);
/* Client text for a log line, as Postfix shows it: at most the first 100
 * bytes of p[0..n), CR and LF as \r and \n, other unprintable bytes as
 * \ooo. out is reset first. */
void ps_escape(struct sbuf *out, const char *p, size_t n);
/* "[addr]:port" of the client, borrowed until the next call. */
const char *ps_client(const struct ps_state *st);
enum ps_action ps_action_parse(const char *param);
/* Records a failed test with its action; the first enforced failure's
 * reply (e.g. "550 5.5.1 Protocol error") is the one RCPT gets. */
void ps_fail(struct ps_state *st, unsigned test, enum ps_action act, const char *reply);

/* postscreen_access.c */
void ps_access_init(void);
/* 1 permit, -1 reject, 0 neither (dunno or no match). */
int ps_access_check(const char *addr);

/* postscreen_cache.c */
void ps_cache_init(void);           /* pre_jail: opens the file's directory */
void ps_cache_start(void);          /* post_jail: loads the file, timers */
void ps_cache_flush(void);          /* exit: unwritten passes to the file */
/* The enabled tests (PS_T_*) whose pass is no longer valid for addr. */
unsigned ps_cache_todo(const char *addr);
/* Records that addr passed the before-220 tests now (dnsbl_ttl: seconds
 * the DNS list verdict stays valid), keeping the after-220 results. */
void ps_cache_pass(const char *addr, long dnsbl_ttl);
/* Records that addr passed the enabled after-220 tests now. */
void ps_cache_pass_deep(const char *addr);

/* postscreen_dnsbl.c */
void ps_dnsbl_init(void);
/* Sends one query per list; returns the number sent. */
int ps_dnsbl_start(struct ps_state *st);
void ps_dnsbl_cancel(struct ps_state *st);

/* postscreen_early.c */
void ps_early_start(struct ps_state *st);
void ps_early_dnsbl_done(struct ps_state *st);
void ps_early_read(struct ps_state *st);
void ps_early_cancel(struct ps_state *st);

/* postscreen_smtpd.c */
void ps_smtpd_pre_jail(void);       /* opens the engine's tables */
void ps_smtpd_init(void);
void ps_smtpd_start(struct ps_state *st);
void ps_smtpd_read(struct ps_state *st);
void ps_smtpd_cancel(struct ps_state *st);
/* After STARTTLS: the dialogue goes on over tlsproxy's plaintext socket. */
void ps_smtpd_resume(struct ps_state *st);

/* postscreen_starttls.c */
void ps_starttls_init(void);
/* Hands the client to tlsproxy (the STARTTLS command was accepted); 0 and
 * the session waits in PS_PH_TLS (the caller sends "220 2.0.0"), or -1
 * (logged; the caller sends 454). */
int ps_starttls_start(struct ps_state *st);
void ps_starttls_cancel(struct ps_state *st);

#endif
