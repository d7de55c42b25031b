/*
 * smtpd_verify.c - reject_unverified_recipient and reject_unverified_sender
 *
 * Used by: smtpd_check.c (the restriction table and smtpd_check_init()).
 * Interface: smtpd_verify_init(), smtpd_verify_rcpt(), smtpd_verify_sender().
 * Errors: when the verify service cannot be reached the address gets
 *         "450 ... address verification problem", applied according to
 *         unverified_*_tempfail_action (default: defer_if_permit).
 * Notes: asks verify(8) what is known about the address (which sends a
 *        probe when nothing is), polling up to $address_verify_poll_count
 *        times $address_verify_poll_delay apart while the answer is "in
 *        progress". Then, as Postfix: deliverable goes on (DUNNO);
 *        undeliverable answers unverified_*_reject_code with "<a>: Recipient
 *        address rejected: undeliverable address: REASON"; a temporary
 *        failure or a probe still in progress answers
 *        unverified_*_defer_code with "... unverified address: REASON".
 *        A 4xx reply follows the tempfail action (defer_if_permit: only if
 *        the restrictions would otherwise accept). A non-empty
 *        unverified_*_reject_reason replaces REASON. The enhanced code is
 *        4.1.1 for recipients and 4.1.7 for senders, its class following the
 *        reply code.
 */
#include "smtpd_check.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "params.h"
#include "verify_clnt.h"
#include <strings.h>

/* The settings of one of the two restrictions. */
struct smtpd_verify_cfg {
    int reject_code, defer_code;
    bool tempfail_dip;          /* tempfail action defer_if_permit (else defer) */
    char *reason;               /* unverified_*_reject_reason */
};

static struct {
    struct smtpd_verify_cfg rcpt, sender;
    int poll_count;
    long poll_delay;
} smtpd_vrfy;

static bool smtpd_verify_dip(const char *param)
{
    const char *v = cfg_str(param);
    if (strcasecmp(v, "defer") == 0)
        return false;
    if (strcasecmp(v, "defer_if_permit") != 0)
        log_warn("%s = %s: expected defer or defer_if_permit; using defer_if_permit", param, v);
    return true;
}

void smtpd_verify_init(void)
{
    smtpd_vrfy.rcpt.reject_code = cfg_int(P_UNVERIFIED_RECIPIENT_REJECT_CODE);
    smtpd_vrfy.rcpt.defer_code = cfg_int(P_UNVERIFIED_RECIPIENT_DEFER_CODE);
    smtpd_vrfy.rcpt.tempfail_dip = smtpd_verify_dip(P_UNVERIFIED_RECIPIENT_TEMPFAIL_ACTION);
    smtpd_vrfy.rcpt.reason = xstrdup(cfg_str(P_UNVERIFIED_RECIPIENT_REJECT_REASON));
    smtpd_vrfy.sender.reject_code = cfg_int(P_UNVERIFIED_SENDER_REJECT_CODE);
    smtpd_vrfy.sender.defer_code = cfg_int(P_UNVERIFIED_SENDER_DEFER_CODE);
    smtpd_vrfy.sender.tempfail_dip = smtpd_verify_dip(P_UNVERIFIED_SENDER_TEMPFAIL_ACTION);
    smtpd_vrfy.sender.reason = xstrdup(cfg_str(P_UNVERIFIED_SENDER_REJECT_REASON));
    smtpd_vrfy.poll_count = cfg_int(P_ADDRESS_VERIFY_POLL_COUNT);
    smtpd_vrfy.poll_delay = cfg_time(P_ADDRESS_VERIFY_POLL_DELAY);
}

/* A 4xx verdict: remembered (defer_if_permit) or given now (defer). */
static enum smtpd_verdict smtpd_verify_defer(struct smtpd_check_ctx *c, enum smtpd_stage subj,
                                             bool dip, int code, const char *dsn,
                                             const char *text)
{
    if (dip) {
        smtpd_delay(c, true, code, dsn, subj, text);
        return SMTPD_DUNNO;
    }
    return smtpd_reject(c, subj, code, dsn, smtpd_stage_what(subj), text);
}

static enum smtpd_verdict smtpd_verify(struct smtpd_check_ctx *c, enum smtpd_stage subj,
                                       const char *addr, const struct smtpd_verify_cfg *vc)
{
    if (addr == NULL || *addr == 0)
        return SMTPD_DUNNO;
    const char *dsn = subj == SMTPD_STAGE_SENDER ? "4.1.7" : "4.1.1";
    struct sbuf *why = sbuf_new(128), *text = sbuf_new(256);
    int status = VERIFY_ADDR_TODO, r;
    for (int count = 1;; count++) {
        r = verify_clnt_query(addr, &status, why);
        if (r != VERIFY_CLNT_OK || status != VERIFY_ADDR_TODO || smtpd_vrfy.poll_delay <= 0
            || count >= smtpd_vrfy.poll_count)
            break;
        sleep((unsigned)smtpd_vrfy.poll_delay);
    }
    enum smtpd_verdict v = SMTPD_DUNNO;
    if (r != VERIFY_CLNT_OK) {
        log_warn("%s service failure", cfg_str(P_ADDRESS_VERIFY_SERVICE_NAME));
        v = smtpd_verify_defer(c, subj, vc->tempfail_dip, 450, dsn,
                               "address verification problem");
        goto out;
    }
    int code = status == VERIFY_ADDR_OK ? 0
               : status == VERIFY_ADDR_BOUNCE ? vc->reject_code : vc->defer_code;
    if (code >= 400 && *vc->reason)
        sbuf_set(why, vc->reason);
    if (code / 100 == 4) {
        sbuf_printf(text, "unverified address: %.250s", sbuf_str(why));
        v = smtpd_verify_defer(c, subj, vc->tempfail_dip, code, dsn, sbuf_str(text));
    } else if (code >= 500) {
        sbuf_printf(text, "undeliverable address: %.250s", sbuf_str(why));
        v = smtpd_reject(c, subj, code, dsn, smtpd_stage_what(subj), sbuf_str(text));
    }
out:
    sbuf_free(why);
    sbuf_free(text);
    return v;
}

enum smtpd_verdict smtpd_verify_rcpt(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    return smtpd_verify(c, SMTPD_STAGE_RCPT, c->rcpt, &smtpd_vrfy.rcpt);
}

enum smtpd_verdict smtpd_verify_sender(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    return smtpd_verify(c, SMTPD_STAGE_SENDER, c->st->sender, &smtpd_vrfy.sender);
}
