/*
 * transport_param.c - per-transport parameters (TRANSPORT_destination_...)
 *
 * Used by: qmgr, config.c, postconf, param_support.c.
 * Interface: see transport_param.h.
 * Errors: bad values are log_fatal through the cfg_*_or() accessors.
 * Notes: the table below is the only list of the 17 suffixes and their
 *        fallbacks (postconf(5) of Postfix 3.7: the TRANSPORT_ forms of
 *        the default_* scheduler parameters, plus
 *        TRANSPORT_initial_destination_concurrency and TRANSPORT_time_limit).
 */
#include "transport_param.h"

#include "config.h"
#include "params.h"
#include "sbuf.h"

static const struct {
    const char *suffix;
    const char *fallback;
} tp_table[TP_COUNT] = {
    [TP_DESTINATION_CONCURRENCY_LIMIT] =
        { "_destination_concurrency_limit", P_DEFAULT_DESTINATION_CONCURRENCY_LIMIT },
    [TP_DESTINATION_RECIPIENT_LIMIT] =
        { "_destination_recipient_limit", P_DEFAULT_DESTINATION_RECIPIENT_LIMIT },
    [TP_INITIAL_DESTINATION_CONCURRENCY] =
        { "_initial_destination_concurrency", P_INITIAL_DESTINATION_CONCURRENCY },
    [TP_DESTINATION_CONCURRENCY_FAILED_COHORT_LIMIT] =
        { "_destination_concurrency_failed_cohort_limit",
          P_DEFAULT_DESTINATION_CONCURRENCY_FAILED_COHORT_LIMIT },
    [TP_DESTINATION_CONCURRENCY_NEGATIVE_FEEDBACK] =
        { "_destination_concurrency_negative_feedback",
          P_DEFAULT_DESTINATION_CONCURRENCY_NEGATIVE_FEEDBACK },
    [TP_DESTINATION_CONCURRENCY_POSITIVE_FEEDBACK] =
        { "_destination_concurrency_positive_feedback",
          P_DEFAULT_DESTINATION_CONCURRENCY_POSITIVE_FEEDBACK },
    [TP_DESTINATION_RATE_DELAY] =
        { "_destination_rate_delay", P_DEFAULT_DESTINATION_RATE_DELAY },
    [TP_EXTRA_RECIPIENT_LIMIT] = { "_extra_recipient_limit", P_DEFAULT_EXTRA_RECIPIENT_LIMIT },
    [TP_RECIPIENT_LIMIT] = { "_recipient_limit", P_DEFAULT_RECIPIENT_LIMIT },
    [TP_RECIPIENT_REFILL_LIMIT] =
        { "_recipient_refill_limit", P_DEFAULT_RECIPIENT_REFILL_LIMIT },
    [TP_RECIPIENT_REFILL_DELAY] =
        { "_recipient_refill_delay", P_DEFAULT_RECIPIENT_REFILL_DELAY },
    [TP_TIME_LIMIT] = { "_time_limit", P_COMMAND_TIME_LIMIT },
    [TP_MINIMUM_DELIVERY_SLOTS] =
        { "_minimum_delivery_slots", P_DEFAULT_MINIMUM_DELIVERY_SLOTS },
    [TP_DELIVERY_SLOT_COST] = { "_delivery_slot_cost", P_DEFAULT_DELIVERY_SLOT_COST },
    [TP_DELIVERY_SLOT_DISCOUNT] =
        { "_delivery_slot_discount", P_DEFAULT_DELIVERY_SLOT_DISCOUNT },
    [TP_DELIVERY_SLOT_LOAN] = { "_delivery_slot_loan", P_DEFAULT_DELIVERY_SLOT_LOAN },
    [TP_TRANSPORT_RATE_DELAY] =
        { "_transport_rate_delay", P_DEFAULT_TRANSPORT_RATE_DELAY },
};

const char *transport_param_suffix(enum transport_param p)
{
    return tp_table[p].suffix;
}

const char *transport_param_fallback(enum transport_param p)
{
    return tp_table[p].fallback;
}

int transport_param_parse(const char *name, size_t *tlen)
{
    size_t len = strlen(name), best = 0;
    int found = -1;

    for (int i = 0; i < TP_COUNT; i++) {
        size_t sl = strlen(tp_table[i].suffix);

        if (len > sl && strcmp(name + len - sl, tp_table[i].suffix) == 0 && sl > best) {
            best = sl;
            found = i;
        }
    }
    if (found >= 0)
        *tlen = len - best;
    return found;
}

void transport_param_name(struct sbuf *out, const char *transport, enum transport_param p)
{
    sbuf_printf(out, "%s%s", transport, tp_table[p].suffix);
}

bool transport_param_is_set(const char *transport, enum transport_param p)
{
    struct sbuf *n = sbuf_new(64);

    transport_param_name(n, transport, p);
    bool set = cfg_is_set(sbuf_str(n));

    sbuf_free(n);
    return set;
}

long transport_param_long(const char *transport, enum transport_param p)
{
    struct sbuf *n = sbuf_new(64);

    transport_param_name(n, transport, p);
    long v = cfg_long_or(sbuf_str(n), tp_table[p].fallback);

    sbuf_free(n);
    return v;
}

long transport_param_time(const char *transport, enum transport_param p)
{
    struct sbuf *n = sbuf_new(64);

    transport_param_name(n, transport, p);
    long v = cfg_time_or(sbuf_str(n), tp_table[p].fallback);

    sbuf_free(n);
    return v;
}

const char *transport_param_str(const char *transport, enum transport_param p)
{
    struct sbuf *n = sbuf_new(64);

    transport_param_name(n, transport, p);
    const char *v = cfg_str_or(sbuf_str(n), tp_table[p].fallback);

    sbuf_free(n);
    return v;
}
