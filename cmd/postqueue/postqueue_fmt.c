/*
 * postqueue_fmt.c - queue listing formats (mailq style and JSON lines)
 *
 * Used by: postqueue.c; tests/unit/postqueue_test.c (includes this file).
 * Interface: see postqueue.h.
 * Errors: pq_msg_from_attrs() returns -1 for a malformed showq record.
 * Notes: the column layout, the right-aligned "(reason)" lines (printed
 *        only when the reason changes within a message), the status marks
 *        ('*' active, '!' hold, '#' forced to expire) and the JSON field
 *        names are what Postfix's postqueue prints, so scripts keep working.
 */
#include "postqueue.h"
#include "alloc.h"

#define PQ_REASON_COLUMN 76     /* "(reason)" ends at column 78 */

void pq_printable(char *s)
{
    for (unsigned char *p = (unsigned char *)s; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static char *pq_dup_printable(const char *s)
{
    char *d = xstrdup(s ? s : "");
    pq_printable(d);
    return d;
}

int pq_msg_from_attrs(struct pq_msg *m, const struct attr_list *l)
{
    long v;
    memset(m, 0, sizeof(*m));
    const char *q = attr_get(l, "queue_name"), *id = attr_get(l, "queue_id");
    const char *sender = attr_get(l, "sender");
    if (q == NULL || id == NULL || sender == NULL)
        return -1;
    m->queue_name = pq_dup_printable(q);
    m->queue_id = pq_dup_printable(id);
    m->sender = pq_dup_printable(sender);
    m->arrival = attr_get_long(l, "time", &v) == 0 ? v : 0;
    m->size = attr_get_long(l, "size", &v) == 0 ? v : 0;
    m->forced_expire = attr_get_long(l, "forced_expire", &v) == 0 && v != 0;
    /* recipient/reason groups, in order */
    for (size_t i = 0; i < l->count; i++) {
        if (strcmp(l->items[i].name, "recipient") != 0)
            continue;
        m->rcpts = xreallocarray(m->rcpts, m->nrcpt + 1, sizeof(*m->rcpts));
        struct pq_rcpt *r = &m->rcpts[m->nrcpt++];
        r->address = pq_dup_printable(l->items[i].value);
        bool has_reason = i + 1 < l->count && strcmp(l->items[i + 1].name, "reason") == 0;
        r->reason = pq_dup_printable(has_reason ? l->items[i + 1].value : "");
    }
    return 0;
}

void pq_msg_free(struct pq_msg *m)
{
    for (size_t i = 0; i < m->nrcpt; i++) {
        xfree(m->rcpts[i].address);
        xfree(m->rcpts[i].reason);
    }
    xfree(m->rcpts);
    xfree(m->queue_name);
    xfree(m->queue_id);
    xfree(m->sender);
    memset(m, 0, sizeof(*m));
}

void pq_list_header(struct sbuf *out, bool long_ids)
{
    if (long_ids)
        sbuf_catf(out, "%-17s %8s %-19s %s\n", "-Queue ID-", "--Size--",
                  "----Arrival Time----", "-Sender/Recipient-------");
    else
        sbuf_catf(out, "%-11s %7s %-20s %s\n", "-Queue ID-", "--Size--",
                  "----Arrival Time----", "-Sender/Recipient-------");
}

void pq_list_msg(struct sbuf *out, const struct pq_msg *m, bool long_ids)
{
    struct sbuf *id = sbuf_new(40);
    char date[64];
    time_t t = (time_t)m->arrival;
    struct tm tm;
    sbuf_set(id, m->queue_id);
    if (strcmp(m->queue_name, "active") == 0)
        sbuf_addch(id, '*');
    else if (strcmp(m->queue_name, "hold") == 0)
        sbuf_addch(id, '!');
    if (m->forced_expire)
        sbuf_addch(id, '#');
    localtime_r(&t, &tm);
    if (strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm) == 0)
        date[0] = 0;
    int indent;
    if (long_ids) {
        sbuf_catf(out, "%-17s %8ld %19.19s %s\n", sbuf_str(id), m->size, date, m->sender);
        indent = 17 + 1 + 8 + 1 + 19 + 1;
    } else {
        sbuf_catf(out, "%-11s %7ld %20.20s %s\n", sbuf_str(id), m->size, date, m->sender);
        indent = 11 + 1 + 7 + 1 + 20 + 1;
    }
    const char *last = "";
    for (size_t i = 0; i < m->nrcpt; i++) {
        const char *why = m->rcpts[i].reason;
        if (*why && strcmp(why, last) != 0) {
            int len = (int)strlen(why);
            int pad = len < PQ_REASON_COLUMN ? PQ_REASON_COLUMN - len : 0;
            sbuf_catf(out, "%*s(%s)\n", pad, "", why);
        }
        last = why;
        sbuf_catf(out, "%*s%s\n", indent, "", m->rcpts[i].address);
    }
    sbuf_addch(out, '\n');
    sbuf_free(id);
}

void pq_list_summary(struct sbuf *out, unsigned long bytes, unsigned long count)
{
    if (count == 0)
        sbuf_cat(out, "Mail queue is empty\n");
    else
        sbuf_catf(out, "-- %lu Kbytes in %lu Request%s.\n", bytes / 1024, count,
                  count == 1 ? "" : "s");
}

static void pq_json_str(struct sbuf *out, const char *s)
{
    sbuf_addch(out, '"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            sbuf_addch(out, '\\');
            sbuf_addch(out, *p);
        } else if (*p < 0x20 || *p == 0x7f) {
            sbuf_catf(out, "\\u%04X", *p);
        } else {
            sbuf_addch(out, *p);
        }
    }
    sbuf_addch(out, '"');
}

void pq_json_msg(struct sbuf *out, const struct pq_msg *m)
{
    sbuf_cat(out, "{\"queue_name\": ");
    pq_json_str(out, m->queue_name);
    sbuf_cat(out, ", \"queue_id\": ");
    pq_json_str(out, m->queue_id);
    sbuf_catf(out, ", \"arrival_time\": %ld, \"message_size\": %ld, \"forced_expire\": %s",
              m->arrival, m->size, m->forced_expire ? "true" : "false");
    sbuf_cat(out, ", \"sender\": ");
    pq_json_str(out, m->sender);
    sbuf_cat(out, ", \"recipients\": [");
    for (size_t i = 0; i < m->nrcpt; i++) {
        sbuf_cat(out, i ? ", {\"address\": " : "{\"address\": ");
        pq_json_str(out, m->rcpts[i].address);
        if (*m->rcpts[i].reason) {
            sbuf_cat(out, ", \"delay_reason\": ");
            pq_json_str(out, m->rcpts[i].reason);
        }
        sbuf_addch(out, '}');
    }
    sbuf_cat(out, "]}\n");
}
