/*
 * bounce_dsn.c - delivery status notification text (RFC 3464)
 *
 * Used by: bounce_service.c; tests/unit/bounce_test.c (includes this file).
 * Interface: bounce_dsn_build(), bounce_rfc822_date(), bounce_entry_wanted(),
 *            bounce_message_id().
 * Errors: none; everything here is pure text generation.
 * Notes: the human-readable part is our own wording; the machine-readable
 *        part follows RFC 3464 with Postfix's extension fields
 *        (X-Postfix-Queue-ID, X-Postfix-Sender) so tools that parse
 *        Postfix DSNs keep working. Lines end in LF; cleanup stores them.
 */
#include "bounce.h"
#include "base64.h"
#include <strings.h>
#include "qfile.h"

void bounce_rfc822_date(struct sbuf *out, long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[128];
    localtime_r(&tt, &tm);
    if (strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm) == 0)
        buf[0] = 0;
    sbuf_set(out, buf);
}

bool bounce_entry_wanted(enum bounce_kind kind, int notify)
{
    if (notify & DSN_NOTIFY_NEVER)
        return false;
    switch (kind) {
    case BOUNCE_KIND_FAILED:
        return notify == 0 || (notify & DSN_NOTIFY_FAILURE);
    case BOUNCE_KIND_DELAYED:
        return notify == 0 || (notify & DSN_NOTIFY_DELAY);
    case BOUNCE_KIND_DELIVERED:
    case BOUNCE_KIND_REPORT:
        return true;    /* the trace log only holds requested notices */
    }
    return false;
}

static bool bounce_has_8bit(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] & 0x80)
            return true;
    return false;
}

/* Length of the header section of a message (up to, not including, the
 * empty line that ends it). */
static size_t bounce_header_len(const char *msg, size_t len)
{
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(msg + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - msg) : len;
        size_t linelen = end - pos;
        if (linelen == 0 || (linelen == 1 && msg[pos] == '\r'))
            return pos;
        pos = nl ? end + 1 : len;
    }
    return len;
}

bool bounce_message_id(struct sbuf *out, const char *msg, size_t len)
{
    size_t hlen = bounce_header_len(msg, len), pos = 0;
    bool in_value = false;

    sbuf_reset(out);
    while (pos < hlen) {
        const char *line = msg + pos;
        const char *nl = memchr(line, '\n', hlen - pos);
        size_t n = nl ? (size_t)(nl - line) : hlen - pos;
        pos += n + (nl ? 1 : 0);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        if (in_value && n > 0 && (line[0] == ' ' || line[0] == '\t')) {
            sbuf_append(out, line, n);      /* a folded continuation */
            continue;
        }
        if (in_value)
            break;
        size_t name = sizeof("Message-ID") - 1, i = name;
        if (n < name || strncasecmp(line, "Message-ID", name) != 0)
            continue;
        while (i < n && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == n || line[i] != ':')
            continue;
        sbuf_append(out, line + i + 1, n - i - 1);
        in_value = true;
    }
    /* Tabs from folding become spaces; any other control character (a
     * bare CR, say) makes the value unusable in a header of ours. */
    char *v = sbuf_data(out);
    for (size_t i = 0; i < sbuf_len(out); i++) {
        if (v[i] == '\t')
            v[i] = ' ';
        else if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
            sbuf_reset(out);
            return false;
        }
    }
    sbuf_trim(out);
    size_t lead = strspn(sbuf_str(out), " ");
    if (lead > 0) {
        memmove(v, v + lead, sbuf_len(out) - lead + 1);
        sbuf_truncate(out, sbuf_len(out) - lead);
    }
    if (sbuf_len(out) == 0 || sbuf_len(out) > BOUNCE_THREAD_ID_MAX) {
        sbuf_reset(out);
        return false;
    }
    return true;
}

static const char *bounce_subject(const struct bounce_msg *m)
{
    if (m->tmpl && m->postmaster_copy && m->tmpl->postmaster_subject)
        return m->tmpl->postmaster_subject;
    if (m->tmpl && m->tmpl->subject)
        return m->tmpl->subject;
    switch (m->kind) {
    case BOUNCE_KIND_DELAYED:
        return m->postmaster_copy ? "Postmaster Warning: Delayed Mail"
                                  : "Delayed Mail (still being retried)";
    case BOUNCE_KIND_DELIVERED:
        return "Successful Mail Delivery Report";
    case BOUNCE_KIND_REPORT:
        return "Mail Delivery Status Report";
    case BOUNCE_KIND_FAILED:
    default:
        return m->postmaster_copy ? "Postmaster Copy: Undelivered Mail"
                                  : "Undelivered Mail Returned to Sender";
    }
}

static const char *bounce_default_action(enum bounce_kind kind)
{
    return kind == BOUNCE_KIND_DELAYED ? "delayed"
           : kind == BOUNCE_KIND_DELIVERED ? "delivered"
           : kind == BOUNCE_KIND_REPORT ? "deliverable" : "failed";
}

/* One line per recipient with the reason. */
static void bounce_text_recipients(struct sbuf *out, const struct dsn_entry *e, int n)
{
    for (int i = 0; i < n; i++) {
        sbuf_catf(out, "<%s>", e[i].recipient);
        if (e[i].orig_rcpt && *e[i].orig_rcpt && strcmp(e[i].orig_rcpt, e[i].recipient) != 0)
            sbuf_catf(out, " (expanded from <%s>)", e[i].orig_rcpt);
        sbuf_catf(out, ": %s\n", e[i].reason && *e[i].reason ? e[i].reason : "(no reason given)");
    }
}

/* The human-readable part: our own words, one paragraph per kind, then one
 * line per recipient with the reason. */
static void bounce_text_part(struct sbuf *out, const struct bounce_msg *m,
                             const struct dsn_entry *e, int n)
{
    if (m->tmpl_text) {
        /* bounce_template_file: its text, then the recipients. */
        sbuf_cat(out, m->tmpl_text);
        if (sbuf_len(out) && sbuf_str(out)[sbuf_len(out) - 1] != '\n')
            sbuf_addch(out, '\n');
        sbuf_addch(out, '\n');
        bounce_text_recipients(out, e, n);
        return;
    }
    sbuf_catf(out, "This is the mail delivery system at host %s.\n\n", m->hostname);
    switch (m->kind) {
    case BOUNCE_KIND_FAILED:
        if (m->postmaster_copy)
            sbuf_cat(out, "This is a copy for the postmaster of a non-delivery report. The\n"
                          "headers of the returned message are attached below.\n\n");
        sbuf_cat(out, "Your message could not be delivered to one or more of its recipients.\n"
                      "Each affected recipient is listed below with the reason reported by\n"
                      "the system that refused or gave up on it. Your message (or its\n"
                      "headers) is attached to this report.\n\n"
                      "If you need help, contact the postmaster of this system and include\n"
                      "this report. You may remove the attached message first.\n");
        break;
    case BOUNCE_KIND_DELAYED: {
        struct sbuf *d = sbuf_new(64);
        sbuf_cat(out, "Your message has not been delivered yet to the recipients listed\n"
                      "below. This is only a warning: you do not need to send the message\n"
                      "again.\n\n");
        if (m->retry_until > 0) {
            bounce_rfc822_date(d, m->retry_until);
            sbuf_catf(out, "The mail system will keep trying until %s;\n"
                           "after that it will return the message to you.\n",
                      sbuf_str(d));
        }
        sbuf_free(d);
        break;
    }
    case BOUNCE_KIND_DELIVERED:
        sbuf_cat(out, "Your message was delivered to the recipients listed below, as you\n"
                      "asked when you sent it. This report is for your information only.\n");
        break;
    case BOUNCE_KIND_REPORT:
        sbuf_cat(out, "This is the delivery report you asked for (sendmail -bv). Nothing\n"
                      "was delivered: each address was only checked. Below, each one is\n"
                      "listed with what the mail system would do with mail for it.\n");
        break;
    }
    sbuf_cat(out, "\n                   The mail delivery system\n\n");
    bounce_text_recipients(out, e, n);
}

static void bounce_status_part(struct sbuf *out, const struct bounce_msg *m,
                               const struct dsn_entry *e, int n)
{
    struct sbuf *d = sbuf_new(64);
    if (m->envid && *m->envid)
        sbuf_catf(out, "Original-Envelope-Id: %s\n", m->envid);
    sbuf_catf(out, "Reporting-MTA: dns; %s\n", m->hostname);
    sbuf_catf(out, "X-Postfix-Queue-ID: %s\n", m->queue_id);
    sbuf_catf(out, "X-Postfix-Sender: rfc822; %s\n", m->sender);
    if (m->arrival > 0) {
        bounce_rfc822_date(d, m->arrival);
        sbuf_catf(out, "Arrival-Date: %s\n", sbuf_str(d));
    }
    for (int i = 0; i < n; i++) {
        sbuf_catf(out, "\nFinal-Recipient: rfc822; %s\n", e[i].recipient);
        if (e[i].dsn_orcpt && *e[i].dsn_orcpt) {
            if (strchr(e[i].dsn_orcpt, ';'))
                sbuf_catf(out, "Original-Recipient: %s\n", e[i].dsn_orcpt);
            else
                sbuf_catf(out, "Original-Recipient: rfc822; %s\n", e[i].dsn_orcpt);
        } else if (e[i].orig_rcpt && *e[i].orig_rcpt) {
            sbuf_catf(out, "Original-Recipient: rfc822; %s\n", e[i].orig_rcpt);
        }
        sbuf_catf(out, "Action: %s\n",
                  e[i].action && *e[i].action ? e[i].action : bounce_default_action(m->kind));
        sbuf_catf(out, "Status: %s\n", e[i].status && *e[i].status ? e[i].status
                                       : m->kind == BOUNCE_KIND_FAILED ? "5.0.0"
                                       : m->kind == BOUNCE_KIND_DELAYED ? "4.0.0" : "2.0.0");
        if (e[i].mta && *e[i].mta)
            sbuf_catf(out, "Remote-MTA: dns; %s\n", e[i].mta);
        if (e[i].diag_type && *e[i].diag_type && e[i].diag_text && *e[i].diag_text)
            sbuf_catf(out, "Diagnostic-Code: %s; %s\n", e[i].diag_type, e[i].diag_text);
        else if (e[i].reason && *e[i].reason)
            sbuf_catf(out, "Diagnostic-Code: X-Postfix; %s\n", e[i].reason);
        if (m->kind == BOUNCE_KIND_DELAYED && m->retry_until > 0) {
            bounce_rfc822_date(d, m->retry_until);
            sbuf_catf(out, "Will-Retry-Until: %s\n", sbuf_str(d));
        }
    }
    sbuf_free(d);
}

void bounce_dsn_build(struct sbuf *out, const struct bounce_msg *m, const struct dsn_entry *e,
                      int n, const char *orig, size_t orig_len)
{
    struct sbuf *d = sbuf_new(64);
    /* RET= only governs failure reports; delay warnings and success
     * notices, like postmaster copies, carry the headers alone. */
    bool headers_only = m->postmaster_copy || m->kind != BOUNCE_KIND_FAILED
                        || m->ret == DSN_RET_HDRS
                        || (m->size_limit > 0 && orig_len > (size_t)m->size_limit);
    size_t ret_len = orig ? (headers_only ? bounce_header_len(orig, orig_len) : orig_len) : 0;
    bool eight_bit = (orig && bounce_has_8bit(orig, ret_len));
    bool text_8bit = m->tmpl_text && bounce_has_8bit(m->tmpl_text, strlen(m->tmpl_text));
    for (int i = 0; i < n && !text_8bit; i++)
        text_8bit = e[i].reason && bounce_has_8bit(e[i].reason, strlen(e[i].reason));

    sbuf_reset(out);
    bounce_rfc822_date(d, m->now);
    sbuf_catf(out, "Date: %s\n", sbuf_str(d));
    if (m->tmpl && m->tmpl->from)
        sbuf_catf(out, "From: %s\n", m->tmpl->from);
    else
        sbuf_catf(out, "From: %s (Mail Delivery System)\n", m->from);
    const char *subject = bounce_subject(m);
    if (m->tmpl && bounce_has_8bit(subject, strlen(subject))) {
        /* A template's non-ASCII Subject: one RFC 2047 encoded word. */
        sbuf_catf(out, "Subject: =?%s?B?", m->tmpl->charset);
        base64_encode(out, subject, strlen(subject));
        sbuf_cat(out, "?=\n");
    } else
        sbuf_catf(out, "Subject: %s\n", subject);
    sbuf_catf(out, "To: %s\n", m->to);
    sbuf_cat(out, "Auto-Submitted: auto-replied\n");
    if (m->message_id)
        sbuf_catf(out, "Message-Id: %s\n", m->message_id);
    if (m->thread_id) {
        /* enable_threaded_bounces: mail readers show the notice in the
         * original message's thread. */
        sbuf_catf(out, "In-Reply-To: %s\n", m->thread_id);
        sbuf_catf(out, "References: %s\n", m->thread_id);
    }
    sbuf_cat(out, "MIME-Version: 1.0\n");
    sbuf_catf(out, "Content-Type: multipart/report; report-type=delivery-status;\n"
                   "\tboundary=\"%s\"\n", m->boundary);
    if (eight_bit || text_8bit)
        sbuf_cat(out, "Content-Transfer-Encoding: 8bit\n");
    sbuf_cat(out, "\nThis is a MIME-encapsulated message.\n\n");

    sbuf_catf(out, "--%s\n", m->boundary);
    sbuf_cat(out, "Content-Description: Notification\n");
    /* A template's charset, unless it says us-ascii and a reason is not. */
    const char *charset = text_8bit ? "utf-8" : "us-ascii";
    if (m->tmpl && !(text_8bit && strcasecmp(m->tmpl->charset, "us-ascii") == 0))
        charset = m->tmpl->charset;
    sbuf_catf(out, "Content-Type: text/plain; charset=%s\n\n", charset);
    bounce_text_part(out, m, e, n);

    sbuf_catf(out, "\n--%s\n", m->boundary);
    sbuf_cat(out, "Content-Description: Delivery report\n");
    sbuf_cat(out, "Content-Type: message/delivery-status\n\n");
    bounce_status_part(out, m, e, n);

    if (orig) {
        const char *what = m->kind == BOUNCE_KIND_DELAYED     ? "Delayed"
                           : m->kind == BOUNCE_KIND_DELIVERED ? "Delivered"
                           : m->kind == BOUNCE_KIND_REPORT    ? "Verified"
                                                              : "Undelivered";
        sbuf_catf(out, "\n--%s\n", m->boundary);
        if (headers_only) {
            sbuf_catf(out, "Content-Description: %s Message Headers\n", what);
            sbuf_cat(out, "Content-Type: text/rfc822-headers\n");
        } else {
            sbuf_catf(out, "Content-Description: %s Message\n", what);
            sbuf_cat(out, "Content-Type: message/rfc822\n");
        }
        if (eight_bit)
            sbuf_cat(out, "Content-Transfer-Encoding: 8bit\n");
        sbuf_addch(out, '\n');
        sbuf_append(out, orig, ret_len);
        if (ret_len > 0 && orig[ret_len - 1] != '\n')
            sbuf_addch(out, '\n');
    }
    sbuf_catf(out, "\n--%s--\n", m->boundary);
    sbuf_free(d);
}
