/*
 * cleanup.h - cleanup's private interfaces
 *
 * Used by: the cleanup sources, tests/unit/cleanup_test.c (which links
 *          cleanup_addr.c's table functions).
 * Interface: struct cleanup_cfg (main.cf, tables), struct cleanup_state (one
 *            message); cleanup_cfg_load(), cleanup_map11(),
 *            cleanup_masquerade(), cleanup_virtual_expand(),
 *            cleanup_sender(), cleanup_recipient(), cleanup_header_addr(),
 *            cleanup_envelope(), cleanup_message(), cleanup_extracted(),
 *            cleanup_drain() (the record handlers), cleanup_check_header(),
 *            cleanup_check_body(), cleanup_bounce(), cleanup_dkim_*() (DKIM
 *            signing).
 * Notes: protocol in docs/ipc.md "cleanup"; queue file layout in
 *        docs/queue-file.md. Address classes (canonical_classes etc.) are
 *        CLEANUP_CLASS_* bits.
 */
#ifndef POSTERN_CLEANUP_H
#define POSTERN_CLEANUP_H
#include "sys_compat.h"
#include "sbuf.h"
#include "dkim_sign.h"

struct attr_list;
struct maps;
struct mime_state;
struct qfile_writer;
struct stream;

#define CLEANUP_CLASS_ENV_SENDER 0x1
#define CLEANUP_CLASS_ENV_RCPT 0x2
#define CLEANUP_CLASS_HDR_SENDER 0x4
#define CLEANUP_CLASS_HDR_RCPT 0x8

/* Longest client record accepted (a content chunk is QFILE_LINE_CHUNK). */
#define CLEANUP_REC_MAX 65536
#define CLEANUP_MAP11_MAX 10    /* canonical mapping rounds */

struct cleanup_cfg {
    struct maps *canonical, *send_canonical, *rcpt_canonical;
    int canonical_classes, send_canonical_classes, rcpt_canonical_classes;
    struct maps *virtual_alias;
    struct maps *send_bcc, *rcpt_bcc;
    char *always_bcc;
    char **masq_domains;            /* NULL-terminated, folded */
    char **masq_exceptions;
    int masq_classes;
    bool prop_canonical, prop_virtual;  /* propagate_unmatched_extensions */
    char *delims;                   /* recipient_delimiter */
    char *myhostname, *myorigin;
    long header_size_limit;
    long message_size_limit;
    int hopcount_limit;
    long delay_warning_time;
    long dup_limit;
    bool enable_orcpt;              /* enable_original_recipient */
    long virt_recursion_limit, virt_expansion_limit;
    long virt_addrlen_limit;        /* virtual_alias_address_length_limit */
    char *undisclosed_header;
    bool always_add_missing;
    bool from_obsolete;             /* header_from_format = obsolete: "addr (name)" */
    bool reject_chars[256], strip_chars[256];   /* message_reject/strip_characters */
    bool have_reject_chars, have_strip_chars;
    char *content_filter;
    char *verp_filter;          /* verp_delimiter_filter */
    long recycle;               /* postern_queue_file_recycling */
    bool remote_rewrite_domain_set;
    struct maps *header_checks, *mime_header_checks, *nested_header_checks, *body_checks;
    long body_checks_size_limit;
    bool disable_mime;          /* disable_mime_input_processing */
    bool replace_stray_cr_lf;   /* cleanup_replace_stray_cr_lf */
    long attr_count_limit;      /* queue_file_attribute_count_limit */
    int strict_mime;            /* MIME_OPT_REPORT_* from the strict_* settings */
    int mime_nesting_limit;
    long mime_boundary_limit;       /* mime_boundary_length_limit */
    long header_token_limit;        /* header_address_token_limit */
    int override_mask;          /* CLEANUP_FLAG_* bits receive_override_options clears */
    char **drop_headers;            /* message_drop_headers, lower case */
    bool dkim_enable;               /* postern_dkim_enable */
    struct maps *dkim_keys;         /* postern_dkim_key_maps */
    struct dkim_opts dkim_opts;
};

extern struct cleanup_cfg cleanup_cfg;

struct cleanup_rcpt {
    char *addr;
    char *orig;
    char *dsn_orcpt;
    int notify;
    long offset;                /* of its R record (written recipients only) */
};

struct cleanup_rcpt_list {
    struct cleanup_rcpt *v;
    size_t n, cap;
};

struct cleanup_state;

/* A record handler: what the service loop calls for each client record.
 * The handler for the current part of the message is in state->action and
 * is replaced as the message goes from one part to the next. */
typedef void (*cleanup_action_fn)(struct cleanup_state *st, int type, const char *data,
                                  size_t len);

/* Envelope as sent by the client, before it is written. */
struct cleanup_env {
    char *sender;
    char *fullname;
    char *filter;
    char *envid;
    char *redirect;             /* CLEANUP_REC_REDIRECT (smtpd REDIRECT action) */
    char *verp;                 /* REC_VERP: VERP delimiters asked for */
    int ret;
    struct attr_list *attrs;
    char *orig, *orcpt;         /* for the R record that follows */
    int notify;
    long arrival_sec, arrival_usec;
};

/* One message in progress. */
struct cleanup_state {
    const char *queue_id;
    cleanup_action_fn action;   /* handler for the next record */
    bool end;                   /* E seen: the loop stops */
    int flags;                  /* CLEANUP_FLAG_* */
    int errs;                   /* CLEANUP_STAT_* */
    struct sbuf *reason;        /* first error's reply text */
    struct qfile_writer *w;
    struct cleanup_env env;
    char *sender;               /* after rewriting (NULL until S) */
    char *fullname;
    const char *hdr_context;    /* "local", "remote" or NULL (no header rewriting) */
    bool add_missing;           /* add Message-Id/Date/From */
    struct cleanup_rcpt_list env_rcpts;     /* envelope recipients as sent */
    struct cleanup_rcpt_list extra_rcpts;   /* -t, bcc: extracted segment */
    long rcpt_count;            /* R records written (and not since marked done) */
    struct cleanup_rcpt_list written;   /* those recipients, for cleanup_bounce() */
    void *dups;                 /* duplicate filter */
    size_t ndups;
    off_t data_offset, xtra_offset;     /* first content record, X record */
    /* content state */
    struct mime_state *mime;
    int hops;
    unsigned seen;              /* CLEANUP_SEEN_* */
    bool resent;
    bool headers_done;          /* the primary header block has ended */
    struct cleanup_rcpt_list xtract, xtract_resent;   /* -t candidates */
    long content_bytes;         /* RFC 822 size so far (lines + LF) */
    long attr_names;            /* different attribute names so far */
    bool pending_cont;          /* last body record written was L */
    bool trunc_logged, nesting_logged;
    /* header/body checks (cleanup_checks.c) */
    bool checks;                /* this message is inspected */
    char *hbc_filter;           /* FILTER action */
    char *hbc_redirect;         /* REDIRECT action */
    bool hbc_logged;            /* HOLD/DISCARD came with their own log line */
    bool keep_asked;            /* the client keeps the connection for its next
                                 * message when offered (cleanup_clnt.h) */
    time_t arrival;
    /* DKIM signing (cleanup_dkim.c) */
    struct dkim_msg *dkim;
    bool dkim_done;
    off_t dkim_offset;          /* DKIM-Signature records: the content starts here */
};

#define CLEANUP_SEEN_FROM 0x1
#define CLEANUP_SEEN_DATE 0x2
#define CLEANUP_SEEN_MSGID 0x4
#define CLEANUP_SEEN_TO 0x8       /* To: or Cc: */
#define CLEANUP_SEEN_RFROM 0x10
#define CLEANUP_SEEN_RDATE 0x20
#define CLEANUP_SEEN_RMSGID 0x40
#define CLEANUP_SEEN_RTO 0x80

/* cleanup_addr.c */
/* Reads main.cf and opens the tables (pre_jail). */
void cleanup_cfg_load(void);
/* Parses a class list ("envelope_sender, header_recipient") into bits. */
int cleanup_parse_classes(const char *param, const char *value);
/* One-to-one mapping (canonical): replaces addr by the table's answer,
 * repeated up to CLEANUP_MAP11_MAX times. Returns 1 changed, 0 not, -1 table
 * failure. */
int cleanup_map11(struct maps *m, struct sbuf *addr, bool propagate);
/* Strips subdomains per masquerade_domains / masquerade_exceptions. */
void cleanup_masquerade(struct sbuf *addr);
/* Expands addr through virtual_alias_maps into out (appends new strings).
 * Returns 0, or a CLEANUP_STAT_* bit (DEFER) with reason filled. */
int cleanup_virtual_expand(struct maps *m, const char *addr, long recursion_limit,
                           long expansion_limit, bool propagate, struct cleanup_rcpt_list *out,
                           struct sbuf *reason);
void cleanup_rcpt_add(struct cleanup_rcpt_list *l, const char *addr, const char *orig,
                      const char *dsn_orcpt, int notify);
void cleanup_rcpt_list_free(struct cleanup_rcpt_list *l);
/* Rewrites (trivial-rewrite, context), canonical maps (for class) and
 * masquerading. addr is replaced. Returns 0, or -1 when a service or
 * table failed (state->errs gets DEFER). */
int cleanup_rewrite_addr(struct cleanup_state *st, const char *context, int class_,
                         struct sbuf *addr);
/* Writes the final recipients for one input recipient (virtual aliases,
 * duplicates, recipient_bcc_maps). */
void cleanup_recipient(struct cleanup_state *st, const struct cleanup_rcpt *r);
/* Frees the duplicate filter of st. */
void cleanup_dups_free(struct cleanup_state *st);
/* Sets an error once: status bit and reply text. */
void cleanup_fail(struct cleanup_state *st, int stat, const char *reason);

/* cleanup_envelope.c */
/* Handler for envelope records, up to the client's M; then writes the
 * envelope and hands over to cleanup_message. */
void cleanup_envelope(struct cleanup_state *st, int type, const char *data, size_t len);
/* Frees what cleanup_envelope() collected. */
void cleanup_env_free(struct cleanup_env *e);
/* Recipient records (o, n, O, R) in either segment; true when it was one. */
bool cleanup_rcpt_record(struct cleanup_state *st, struct cleanup_rcpt_list *l, int type,
                         const char *v);

/* cleanup_message.c */
/* True while the content is still to be written: no error yet, or only a
 * hop-count error or a content rejection of a client that asked for
 * bounces (the message is then kept whole for the DSN). */
bool cleanup_keep_writing(const struct cleanup_state *st);
/* Handler for content records (N, L) up to X; then cleanup_extracted. */
void cleanup_message(struct cleanup_state *st, int type, const char *data, size_t len);
/* Writes one content line (no LF), when still writing. */
void cleanup_write_line(struct cleanup_state *st, const char *p, size_t len);
/* Writes a (possibly multi-line, '\n'-separated) header. */
void cleanup_write_header(struct cleanup_state *st, const char *text, size_t len);

/* cleanup_extracted.c */
/* Handler for the client's extracted segment, up to E; then writes the
 * extracted segment (recipients, REDIRECT and FILTER results), E and the
 * final sizes, and sets st->end. */
void cleanup_extracted(struct cleanup_state *st, int type, const char *data, size_t len);
/* Ends the message: what cleanup_extracted() does at E. */
void cleanup_extracted_end(struct cleanup_state *st);
/* Handler after a protocol error: reads to E so the client gets its answer. */
void cleanup_drain(struct cleanup_state *st, int type, const char *data, size_t len);
/* Logs a protocol error, fails the message and switches to cleanup_drain. */
void cleanup_protocol_error(struct cleanup_state *st, int type, const char *where);

/* cleanup_checks.c */
/* header_checks, mime_header_checks or nested_header_checks (by class and
 * header name) on one logical header. May replace the header's text
 * (REPLACE) or write a header before it (PREPEND). Returns false when the
 * header is to be dropped (IGNORE). */
bool cleanup_check_header(struct cleanup_state *st, int hdr_class, struct sbuf *header);
/* body_checks on one body record. May write a line before it (PREPEND) or
 * replace it (REPLACE: out gets the new text). Returns false when the
 * record is to be dropped (IGNORE); *use_out tells whether out replaces it. */
/* message_reject_characters and message_strip_characters on one content
 * record, as it came from the client: false when the message was rejected
 * (logged, cleanup_fail); else *use_out says whether out holds the line
 * with the stripped characters removed. */
bool cleanup_check_chars(struct cleanup_state *st, const char *data, size_t len,
                         struct sbuf *out, bool *use_out);
bool cleanup_check_body(struct cleanup_state *st, const char *data, size_t len, long offset,
                        struct sbuf *out, bool *use_out);
/* Applies a REDIRECT found by the checks: every recipient written so far is
 * marked done and the redirect address is written instead. */
void cleanup_check_redirect(struct cleanup_state *st);

/* cleanup_dkim.c */
/* Reads the postern_dkim_* parameters into c (pre_jail). */
void cleanup_dkim_cfg_load(struct cleanup_cfg *c);
/* Feeds one content record as written (N or L) to the signer. */
void cleanup_dkim_record(struct cleanup_state *st, int type, const char *data, size_t len);
/* End of content, before X: signs and writes the DKIM-Signature headers
 * (after the body, linked by pointer records), sets st->dkim_offset. */
void cleanup_dkim_end(struct cleanup_state *st);
void cleanup_dkim_free(struct cleanup_state *st);

/* cleanup_bounce.c */
/* Returns the message to its sender instead of rejecting it (clients that
 * set CLEANUP_FLAG_BOUNCE, such as pickup): the queue file, complete but not
 * committed, is left in incoming/; every written recipient gets a bounce
 * log entry with dsn/why, the bounce service is asked to send the DSN, and
 * the queue file is removed. Returns 0 when the DSN is queued (the client
 * then gets status 0), or -1 (logs removed; the client gets a temporary
 * error). */
int cleanup_bounce(struct cleanup_state *st, const char *dsn, const char *why);

#endif
