/*
 * log_addr.c - envelope addresses in log lines (info_log_address_format)
 *
 * Used by: see log_addr.h.
 * Interface: see log_addr.h.
 * Errors: see log_addr.h.
 */
#include "log_addr.h"
#include "addr.h"
#include "config.h"
#include "log.h"
#include "params.h"

enum log_addr_form { LOG_ADDR_UNSET, LOG_ADDR_EXTERNAL, LOG_ADDR_INTERNAL };

static enum log_addr_form log_addr_form;

static enum log_addr_form log_addr_form_get(void)
{
    if (log_addr_form == LOG_ADDR_UNSET) {
        const char *v = cfg_str(P_INFO_LOG_ADDRESS_FORMAT);
        if (strcasecmp(v, "internal") == 0) {
            log_addr_form = LOG_ADDR_INTERNAL;
        } else {
            if (strcasecmp(v, "external") != 0)
                log_warn("%s: unknown value \"%s\" (expected external or internal); "
                         "using external", P_INFO_LOG_ADDRESS_FORMAT, v);
            log_addr_form = LOG_ADDR_EXTERNAL;
        }
    }
    return log_addr_form;
}

const char *log_addr(struct sbuf *buf, const char *addr)
{
    if (addr == NULL || *addr == 0)
        sbuf_reset(buf);
    else if (log_addr_form_get() == LOG_ADDR_INTERNAL)
        sbuf_set(buf, addr);
    else
        addr_quote(buf, addr);
    return sbuf_str(buf);
}
