/*
 * transport_param.h - per-transport parameters (TRANSPORT_destination_...)
 *
 * Used by: qmgr (limits and windows per transport), config.c (which
 *          SERVICE_suffix names exist and their defaults), postconf,
 *          param_support.c (is a per-transport setting implemented?).
 * Interface: enum transport_param, transport_param_suffix(),
 *            transport_param_fallback(), transport_param_parse(),
 *            transport_param_name(), transport_param_is_set(),
 *            transport_param_long(), transport_param_time(),
 *            transport_param_str().
 * Errors: a value that does not parse, or is out of the fallback
 *         parameter's bounds, is log_fatal naming the parameter (read these
 *         at start, never in a callback).
 * Notes: Postfix defines 17 suffixes. TRANSPORT_suffix, when not set,
 *        takes the value of its main.cf fallback (default_..., or
 *        initial_destination_concurrency, or command_time_limit), whose
 *        type, unit and bounds it shares. The transport name is anything
 *        master.cf allows in column 1 (smtp-amavis, relay, ...).
 */
#ifndef POSTERN_TRANSPORT_PARAM_H
#define POSTERN_TRANSPORT_PARAM_H
#include "sys_compat.h"

struct sbuf;

enum transport_param {
    TP_DESTINATION_CONCURRENCY_LIMIT,
    TP_DESTINATION_RECIPIENT_LIMIT,
    TP_INITIAL_DESTINATION_CONCURRENCY,
    TP_DESTINATION_CONCURRENCY_FAILED_COHORT_LIMIT,
    TP_DESTINATION_CONCURRENCY_NEGATIVE_FEEDBACK,
    TP_DESTINATION_CONCURRENCY_POSITIVE_FEEDBACK,
    TP_DESTINATION_RATE_DELAY,
    TP_EXTRA_RECIPIENT_LIMIT,
    TP_RECIPIENT_LIMIT,
    TP_RECIPIENT_REFILL_LIMIT,
    TP_RECIPIENT_REFILL_DELAY,
    TP_TIME_LIMIT,
    TP_MINIMUM_DELIVERY_SLOTS,
    TP_DELIVERY_SLOT_COST,
    TP_DELIVERY_SLOT_DISCOUNT,
    TP_DELIVERY_SLOT_LOAN,
    TP_TRANSPORT_RATE_DELAY,
    TP_COUNT
};

/* "_destination_concurrency_limit" etc. (static). */
const char *transport_param_suffix(enum transport_param p);
/* The main.cf parameter used when TRANSPORT_suffix is not set
 * ("default_destination_concurrency_limit"; static). */
const char *transport_param_fallback(enum transport_param p);
/* When name is TRANSPORT_suffix with a non-empty TRANSPORT, returns the
 * suffix and sets *tlen to the length of TRANSPORT; else -1. The longest
 * matching suffix wins (..._destination_concurrency_limit, not ..._limit). */
int transport_param_parse(const char *name, size_t *tlen);
/* Fills out with TRANSPORT_suffix. */
void transport_param_name(struct sbuf *out, const char *transport, enum transport_param p);
/* True when TRANSPORT_suffix is set (main.cf or -o). */
bool transport_param_is_set(const char *transport, enum transport_param p);
/* Value of TRANSPORT_suffix, else of its fallback: a number, a time in
 * seconds (bare numbers in the fallback's unit), or the expanded string
 * (borrowed, as cfg_str()). */
long transport_param_long(const char *transport, enum transport_param p);
long transport_param_time(const char *transport, enum transport_param p);
const char *transport_param_str(const char *transport, enum transport_param p);

#endif
