/*
 * deliver_pass.c - hand a recipient to another delivery transport
 *
 * Used by: local (mailbox_transport, fallback_transport and their _maps).
 * Interface: see deliver_pass.h.
 * Errors: returned (-1 with a reason); nothing is logged here.
 */
#include "deliver_pass.h"
#include "alloc.h"
#include "attr.h"
#include "mail_proto.h"
#include <ctype.h>

/* Attributes that belong to the request as qmgr addressed it, replaced below. */
static bool deliver_pass_own(const char *name)
{
    return strcmp(name, DELIVER_ATTR_NEXTHOP) == 0 || strcmp(name, DELIVER_ATTR_FLAGS) == 0
           || strcmp(name, "transport") == 0 || strncmp(name, "rcpt_", 5) == 0;
}

static bool deliver_pass_name_ok(const char *t, size_t n)
{
    if (n == 0 || n > 64)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)t[i]) && t[i] != '-' && t[i] != '_' && t[i] != '.')
            return false;
    return true;
}

int deliver_pass(struct deliver_request *r, const char *spec, const struct deliver_rcpt *rc,
                 struct sbuf *why)
{
    const char *colon = strchr(spec, ':');
    size_t tlen = colon ? (size_t)(colon - spec) : strlen(spec);
    if (!deliver_pass_name_ok(spec, tlen)) {
        sbuf_printf(why, "bad transport name in \"%.100s\"", spec);
        return -1;
    }
    char *transport = xstrndup(spec, tlen);
    const char *nexthop = colon && colon[1] ? colon + 1 : r->nexthop;

    struct attr_list *l = attr_list_new();
    for (size_t i = 0; r->attrs && i < r->attrs->count; i++)
        if (!deliver_pass_own(r->attrs->items[i].name))
            attr_add(l, r->attrs->items[i].name, r->attrs->items[i].value);
    attr_add(l, DELIVER_ATTR_NEXTHOP, nexthop);
    attr_add(l, "transport", transport);
    attr_add_long(l, DELIVER_ATTR_FLAGS, r->flags | DELIVER_REQ_F_PASSED);
    attr_add_long(l, DELIVER_ATTR_RCPT_COUNT, 1);
    attr_add(l, DELIVER_ATTR_RCPT_ADDRESS, rc->address);
    attr_add(l, DELIVER_ATTR_RCPT_ORIG, rc->orig ? rc->orig : "");
    attr_add(l, DELIVER_ATTR_RCPT_DSN_ORCPT, rc->dsn_orcpt ? rc->dsn_orcpt : "");
    attr_add_long(l, DELIVER_ATTR_RCPT_NOTIFY, rc->notify);
    attr_add_long(l, DELIVER_ATTR_RCPT_OFFSET, rc->offset);

    int result = -1;
    struct stream *s = mail_connect(MAIL_CLASS_PRIVATE, transport, MAIL_PROTO_DELIVERY);
    if (s == NULL) {
        sbuf_printf(why, "mail transport unavailable: cannot connect to %s service", transport);
        goto out;
    }
    int err = attr_write(s, l);
    if (err == 0) {
        attr_list_reset(l);
        err = attr_read(s, l);
    }
    long status;
    if (err != 0 || attr_get_long(l, DELIVER_ATTR_STATUS, &status) < 0) {
        sbuf_printf(why, "mail transport unavailable: %s service: %s", transport,
                    err == 0 ? "malformed reply" : err <= ATTR_E_FORMAT ? "malformed reply"
                                                                        : stream_strerror(err));
    } else
        result = status == 0 ? 0 : 1;
    stream_close(s);
out:
    attr_list_free(l);
    xfree(transport);
    return result;
}
