/*
 * flush_clnt.c - client of the fast flush service
 *
 * Used by: qmgr, postqueue, smtpd.
 * Interface: see flush_clnt.h.
 * Errors: FLUSH_STAT_* codes.
 */
#include "flush_clnt.h"
#include "attr.h"
#include "mail_proto.h"
#include "stream.h"

static int flush_request(const char *request, const char *name, const char *value)
{
    struct stream *s = mail_connect(MAIL_CLASS_PUBLIC, MAIL_SERVICE_FLUSH, MAIL_PROTO_FLUSH);
    if (s == NULL)
        return FLUSH_STAT_FAIL;
    int r = name ? attr_send(s, "request", request, name, value, (char *)NULL)
                 : attr_send(s, "request", request, (char *)NULL);
    long status = FLUSH_STAT_FAIL;
    if (r == 0) {
        struct attr_list *l = attr_list_new();
        if (attr_read(s, l) != 0 || attr_get_long(l, "status", &status) != 0)
            status = FLUSH_STAT_FAIL;
        attr_list_free(l);
    }
    stream_close(s);
    return (int)status;
}

int flush_add(const char *site, const char *queue_id)
{
    struct stream *s = mail_connect(MAIL_CLASS_PUBLIC, MAIL_SERVICE_FLUSH, MAIL_PROTO_FLUSH);
    if (s == NULL)
        return FLUSH_STAT_FAIL;
    long status = FLUSH_STAT_FAIL;
    if (attr_send(s, "request", "add", "site", site, "queue_id", queue_id, (char *)NULL) == 0) {
        struct attr_list *l = attr_list_new();
        if (attr_read(s, l) != 0 || attr_get_long(l, "status", &status) != 0)
            status = FLUSH_STAT_FAIL;
        attr_list_free(l);
    }
    stream_close(s);
    return (int)status;
}

int flush_send_site(const char *site)
{
    return flush_request("send_site", "site", site);
}

int flush_send_file(const char *queue_id)
{
    return flush_request("send_file", "queue_id", queue_id);
}

int flush_refresh(void)
{
    return flush_request("refresh", NULL, NULL);
}

int flush_purge(void)
{
    return flush_request("purge", NULL, NULL);
}
