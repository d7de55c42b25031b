/*
 * dsn_log.c - per-message delivery status logs
 *
 * Used by: delivery agents, qmgr, bounce, showq, postsuper.
 * Interface: see dsn_log.h.
 * Errors: see dsn_log.h.
 */
#include "dsn_log.h"
#include "alloc.h"
#include "attr.h"
#include "log.h"
#include "mail_owner.h"
#include "mail_queue.h"
#include "sbuf.h"
#include "stream.h"
#include <fcntl.h>
#include <sys/stat.h>

int dsn_log_append(const char *queue, const char *id, const struct dsn_entry *e)
{
    struct attr_list *l = attr_list_new();
    attr_add(l, "recipient", e->recipient);
    attr_add(l, "orig_rcpt", e->orig_rcpt);
    attr_add(l, "dsn_orcpt", e->dsn_orcpt);
    attr_add_long(l, "notify", e->notify);
    attr_add_long(l, "offset", e->offset);
    attr_add(l, "status", e->status);
    attr_add(l, "action", e->action);
    attr_add(l, "reason", e->reason);
    attr_add(l, "mta", e->mta);
    attr_add(l, "diag_type", e->diag_type);
    attr_add(l, "diag_text", e->diag_text);
    attr_add_long(l, "time", e->time ? e->time : (long)time(NULL));

    struct sbuf *buf = sbuf_new(512);
    /* Encode into memory first so the entry goes out in one write. */
    for (size_t i = 0; i < l->count; i++) {
        sbuf_catf(buf, "%s=", l->items[i].name);
        for (const char *v = l->items[i].value; *v; v++) {
            unsigned char ch = (unsigned char)*v;
            if (ch == '%' || ch == '\n' || ch == '\r')
                sbuf_catf(buf, "%%%02X", ch);
            else
                sbuf_addch(buf, ch);
        }
        sbuf_addch(buf, '\n');
    }
    sbuf_addch(buf, '\n');

    /* A root agent does this as mail_owner (mail_owner.h), through
     * directory descriptors: no planted link can send the write elsewhere,
     * and a new hash subdirectory belongs to mail_owner. */
    int r = -1;
    if (mail_owner_begin() == 0) {
        int fd = mail_queue_openat(queue, id, O_WRONLY | O_APPEND | O_CREAT, 0600);
        if (fd >= 0) {
            if (write(fd, sbuf_str(buf), sbuf_len(buf)) == (ssize_t)sbuf_len(buf))
                r = 0;
            close(fd);
        }
        mail_owner_end();
    }
    if (r < 0)
        log_warn("%s: append to %s/%s: %m", id, queue, id);
    sbuf_free(buf);
    attr_list_free(l);
    return r;
}

static char *dsn_dup(const struct attr_list *l, const char *name)
{
    return xstrdup(attr_get_def(l, name, ""));
}

int dsn_log_read(const char *queue, const char *id, struct dsn_entry **out)
{
    int fd = -1;
    if (mail_owner_begin() == 0) {
        fd = mail_queue_openat(queue, id, O_RDONLY, 0);
        mail_owner_end();
    }
    *out = NULL;
    if (fd < 0)
        return errno == ENOENT ? 0 : -1;
    struct stream *s = stream_open(fd);
    struct attr_list *l = attr_list_new();
    struct dsn_entry *v = NULL;
    int n = 0, cap = 0;
    while (attr_read(s, l) == 0 && l->count > 0) {
        if (n == cap) {
            cap = cap ? cap * 2 : 8;
            v = xreallocarray(v, (size_t)cap, sizeof(*v));
        }
        struct dsn_entry *e = &v[n++];
        long num = 0;
        e->recipient = dsn_dup(l, "recipient");
        e->orig_rcpt = dsn_dup(l, "orig_rcpt");
        e->dsn_orcpt = dsn_dup(l, "dsn_orcpt");
        e->notify = attr_get_long(l, "notify", &num) == 0 ? (int)num : 0;
        e->offset = attr_get_long(l, "offset", &num) == 0 ? num : 0;
        e->status = dsn_dup(l, "status");
        e->action = dsn_dup(l, "action");
        e->reason = dsn_dup(l, "reason");
        e->mta = dsn_dup(l, "mta");
        e->diag_type = dsn_dup(l, "diag_type");
        e->diag_text = dsn_dup(l, "diag_text");
        e->time = attr_get_long(l, "time", &num) == 0 ? num : 0;
    }
    attr_list_free(l);
    stream_close(s);
    *out = v;
    return n;
}

void dsn_entries_free(struct dsn_entry *v, int n)
{
    for (int i = 0; i < n; i++) {
        xfree(v[i].recipient);
        xfree(v[i].orig_rcpt);
        xfree(v[i].dsn_orcpt);
        xfree(v[i].status);
        xfree(v[i].action);
        xfree(v[i].reason);
        xfree(v[i].mta);
        xfree(v[i].diag_type);
        xfree(v[i].diag_text);
    }
    xfree(v);
}

int dsn_log_remove(const char *queue, const char *id)
{
    return mail_queue_remove(queue, id);
}
