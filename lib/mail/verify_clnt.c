/*
 * verify_clnt.c - client of the address verification service
 *
 * Used by: smtpd, qmgr, the delivery agents (deliver_request.c).
 * Interface: see verify_clnt.h.
 * Errors: VERIFY_CLNT_FAIL after one warning naming the service and what
 *         went wrong.
 * Notes: connects to private/$address_verify_service_name for each call
 *        (mail_connect() retries briefly while the service starts).
 */
#include "verify_clnt.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"
#include "params.h"
#include "stream.h"

/* One request, one reply; the reply list is filled on success. */
static int verify_clnt_request(struct attr_list *req, struct attr_list *reply)
{
    const char *service = cfg_str(P_ADDRESS_VERIFY_SERVICE_NAME);
    struct stream *s = mail_connect(MAIL_CLASS_PRIVATE, service, VERIFY_PROTO);
    if (s == NULL)
        return VERIFY_CLNT_FAIL;    /* mail_connect() said why */
    int result = VERIFY_CLNT_FAIL;
    long status = -1;
    if (attr_write(s, req) < 0 || attr_read(s, reply) < 0)
        log_warn("problem talking to service private/%s: %s", service,
                 stream_strerror(stream_error(s)));
    else if (attr_get_long(reply, "status", &status) < 0 || status != VERIFY_STAT_OK)
        log_warn("service private/%s: request %s failed (status %ld)", service,
                 attr_get_def(req, "request", "?"), status);
    else
        result = VERIFY_CLNT_OK;
    stream_close(s);
    return result;
}

int verify_clnt_query(const char *addr, int *status, struct sbuf *why)
{
    struct attr_list *req = attr_list_new(), *reply = attr_list_new();
    attr_add(req, "request", VERIFY_REQ_QUERY);
    attr_add(req, "address", addr);
    int r = verify_clnt_request(req, reply);
    long st = -1;
    if (r == VERIFY_CLNT_OK) {
        if (attr_get_long(reply, "addr_status", &st) < 0 || st < VERIFY_ADDR_OK
            || st > VERIFY_ADDR_TODO) {
            log_warn("service private/%s: malformed query reply",
                     cfg_str(P_ADDRESS_VERIFY_SERVICE_NAME));
            r = VERIFY_CLNT_FAIL;
        } else {
            *status = (int)st;
            sbuf_set(why, attr_get_def(reply, "reason", ""));
        }
    }
    attr_list_free(req);
    attr_list_free(reply);
    return r;
}

int verify_clnt_update(const char *addr, int status, const char *why)
{
    struct attr_list *req = attr_list_new(), *reply = attr_list_new();
    attr_add(req, "request", VERIFY_REQ_UPDATE);
    attr_add(req, "address", addr);
    attr_add_long(req, "addr_status", status);
    attr_add(req, "reason", why);
    int r = verify_clnt_request(req, reply);
    attr_list_free(req);
    attr_list_free(reply);
    return r;
}
