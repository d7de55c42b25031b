/*
 * bounce.h - the bounce daemon's private interface
 *
 * Used by: the bounce daemon sources and tests/unit/bounce_test.c.
 * Interface: bounce_dsn_build() (pure text generation, bounce_dsn.c),
 *            bounce_rfc822_date(), bounce_entry_wanted(), bounce_message_id();
 *            bounce_request() (bounce_service.c).
 * Notes: a DSN is an RFC 3464 multipart/report message: a human-readable
 *        text part, a message/delivery-status part and the returned message
 *        (message/rfc822) or its headers (text/rfc822-headers).
 */
#ifndef POSTERN_BOUNCE_H
#define POSTERN_BOUNCE_H
#include "sys_compat.h"
#include "dsn_log.h"
#include "sbuf.h"
#include "attr.h"

enum bounce_kind {
    BOUNCE_KIND_FAILED,     /* non-delivery (flush, expire) */
    BOUNCE_KIND_DELAYED,    /* delay warning */
    BOUNCE_KIND_DELIVERED,  /* success notice (NOTIFY=SUCCESS, trace) */
    BOUNCE_KIND_REPORT,     /* sendmail -bv: what delivery would do (trace) */
};

/* One template of bounce_template_file (bounce_template.c). */
struct bounce_template {
    bool loaded;
    char *charset;              /* of the text ("us-ascii" when not given) */
    char *from;                 /* From: header value, or NULL (built-in) */
    char *subject;              /* Subject:, or NULL */
    char *postmaster_subject;   /* Subject: of postmaster copies, or NULL */
    char *text;                 /* before $name expansion */
};

/* Reads bounce_template_file (before the chroot); problems are logged and
 * leave the built-in wording. */
void bounce_template_load(const char *path);
/* The administrator's template for kind, or NULL. */
const struct bounce_template *bounce_template_get(enum bounce_kind kind);
/* Appends text with $name and ${name} replaced by their values. */
void bounce_template_expand(struct sbuf *out, const char *text);

struct bounce_msg {
    enum bounce_kind kind;
    bool postmaster_copy;   /* copy for $bounce_notice_recipient etc.: headers only */
    const char *queue_id;   /* of the original message */
    const char *hostname;   /* $myhostname: Reporting-MTA */
    const char *from;       /* full From: address, e.g. MAILER-DAEMON@example.com */
    const char *sender;     /* original envelope sender ("" = null sender) */
    const char *to;         /* recipient of the DSN */
    const char *envid;      /* ENVID or NULL */
    const char *boundary;   /* MIME boundary (no quotes) */
    const char *message_id; /* Message-Id value with <>, or NULL */
    const char *thread_id;  /* enable_threaded_bounces: the original's Message-ID
                               for In-Reply-To: and References:, or NULL */
    long arrival;           /* original arrival time */
    long now;               /* for Date: */
    long retry_until;       /* delay warnings: Will-Retry-Until, 0 = none */
    int ret;                /* DSN_RET_* of the original message, 0 = default (full) */
    long size_limit;        /* $bounce_size_limit: larger messages return headers only */
    const struct bounce_template *tmpl; /* bounce_template_file's, or NULL: built-in */
    const char *tmpl_text;  /* its text, expanded */
};

/* Builds the whole notification (headers and body, LF line ends) into out
 * (replaced). e/n are the recipients to report, in order. orig (orig_len
 * bytes, LF line ends) is the original message; NULL sends no third part.
 * Pure: no I/O, no configuration reads. */
void bounce_dsn_build(struct sbuf *out, const struct bounce_msg *m, const struct dsn_entry *e,
                      int n, const char *orig, size_t orig_len);
/* The Message-ID of a message (msg, len bytes, LF line ends): the value
 * of its first Message-ID: header, unfolded, white space trimmed. Fills
 * out and returns true; false (out empty) when there is none, or when the
 * value is empty, longer than BOUNCE_THREAD_ID_MAX or has control
 * characters. Pure. */
#define BOUNCE_THREAD_ID_MAX 998
bool bounce_message_id(struct sbuf *out, const char *msg, size_t len);
/* Fills out with an RFC 5322 date for t in local time. */
void bounce_rfc822_date(struct sbuf *out, long t);
/* True when a status-log entry should be reported for kind, given the
 * recipient's NOTIFY bits (0 = not specified: failure and delay reported). */
bool bounce_entry_wanted(enum bounce_kind kind, int notify);

/* enable_threaded_bounces, read once at start (bounce_main.c). */
extern bool bounce_threaded;

/* Serves one request (bounce_service.c); returns the reply status. */
int bounce_request(const struct attr_list *req);

#endif
