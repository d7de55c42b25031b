/*
 * dsn_notify.c - DSN NOTIFY= and RET= values, and the notify_classes list
 *
 * Used by: smtpd, sendmail, cleanup, bounce, postcat.
 * Interface: see dsn_notify.h.
 * Errors: parsers return -1; no logging.
 */
#include "dsn_notify.h"
#include "config.h"
#include "qfile.h"
#include <strings.h>

struct dsn_name {
    const char *name;
    int bit;
};

static const struct dsn_name dsn_notify_names[] = {
    { "NEVER", DSN_NOTIFY_NEVER },
    { "SUCCESS", DSN_NOTIFY_SUCCESS },
    { "FAILURE", DSN_NOTIFY_FAILURE },
    { "DELAY", DSN_NOTIFY_DELAY },
};

static const struct dsn_name notify_class_names[] = {
    { "bounce", NOTIFY_CLASS_BOUNCE },     { "2bounce", NOTIFY_CLASS_2BOUNCE },
    { "data", NOTIFY_CLASS_DATA },         { "delay", NOTIFY_CLASS_DELAY },
    { "policy", NOTIFY_CLASS_POLICY },     { "protocol", NOTIFY_CLASS_PROTOCOL },
    { "resource", NOTIFY_CLASS_RESOURCE }, { "software", NOTIFY_CLASS_SOFTWARE },
};

int dsn_notify_parse(const char *value)
{
    int bits = 0;
    const char *p = value;
    if (value == NULL || *value == 0)
        return -1;
    for (;;) {
        size_t n = strcspn(p, ",");
        int bit = 0;
        for (size_t i = 0; i < ARRAY_LEN(dsn_notify_names); i++) {
            if (strlen(dsn_notify_names[i].name) == n
                && strncasecmp(p, dsn_notify_names[i].name, n) == 0)
                bit = dsn_notify_names[i].bit;
        }
        if (bit == 0)
            return -1;
        bits |= bit;
        if (p[n] == 0)
            break;
        p += n + 1;
    }
    /* RFC 3461: NEVER stands alone. */
    if ((bits & DSN_NOTIFY_NEVER) && bits != DSN_NOTIFY_NEVER)
        return -1;
    return bits;
}

void dsn_notify_format(struct sbuf *out, int bits)
{
    sbuf_reset(out);
    if (bits & DSN_NOTIFY_NEVER) {
        sbuf_cat(out, "NEVER");
        return;
    }
    /* Same order as Postfix prints them. */
    static const int order[] = { DSN_NOTIFY_SUCCESS, DSN_NOTIFY_DELAY, DSN_NOTIFY_FAILURE };
    static const char *const names[] = { "SUCCESS", "DELAY", "FAILURE" };
    for (size_t i = 0; i < ARRAY_LEN(order); i++) {
        if (bits & order[i]) {
            if (sbuf_len(out))
                sbuf_addch(out, ',');
            sbuf_cat(out, names[i]);
        }
    }
}

int dsn_ret_parse(const char *value)
{
    if (value && strcasecmp(value, "FULL") == 0)
        return DSN_RET_FULL;
    if (value && strcasecmp(value, "HDRS") == 0)
        return DSN_RET_HDRS;
    return -1;
}

const char *dsn_ret_str(int ret)
{
    return ret == DSN_RET_FULL ? "FULL" : ret == DSN_RET_HDRS ? "HDRS" : "";
}

int notify_class_parse(const char *value, struct sbuf *bad)
{
    char **list = cfg_list(value ? value : "");
    int mask = 0;
    bool reported = false;
    for (char **p = list; p && *p; p++) {
        int bit = 0;
        for (size_t i = 0; i < ARRAY_LEN(notify_class_names); i++)
            if (strcasecmp(*p, notify_class_names[i].name) == 0)
                bit = notify_class_names[i].bit;
        if (bit == 0 && bad && !reported) {
            sbuf_set(bad, *p);
            reported = true;
        }
        mask |= bit;
    }
    cfg_list_free(list);
    return mask;
}

bool notify_class_enabled(int class_bit)
{
    return (notify_class_parse(cfg_str(P_NOTIFY_CLASSES), NULL) & class_bit) != 0;
}
