/*
 * smtpd_unavail.c - filters named for this SMTP server that Postern cannot run
 *
 * Used by: smtpd.c (cleanup stream set-up), smtpd_cmd.c (MAIL FROM).
 * Interface: smtpd_filter_init(), smtpd_filter_mail(),
 *            smtpd_filter_envelope(), smtpd_filter_cleanup_flags().
 * Errors: refusals are SMTP replies (451/550 at MAIL FROM), logged as
 *         "NOQUEUE: milter-reject: MAIL from ..." like other rejects.
 * Notes: files named *_unavail.c hold the code that treats an unimplemented
 *        parameter as an unavailable feature (tests/golden/unimplemented.sh
 *        allows references to listed parameters only there).
 *        content_filter is this service's own (main.cf or -o): smtpd writes
 *        it into the envelope itself and asks cleanup not to add main.cf's,
 *        so "-o content_filter=" on a re-injection service really means no
 *        filter. Postern does not speak the milter protocol
 *        (docs/unimplemented-parameters.txt), and mail must not pass
 *        without it: smtpd_milters set means every
 *        milter is unreachable and milter_default_action applies as in
 *        Postfix (tempfail: "451 4.7.1 Service unavailable - try again
 *        later" at MAIL FROM, EHLO answered normally; reject: 550 5.7.1;
 *        quarantine: accepted into the hold queue; accept: no effect).
 *        The before-queue proxy filter is smtpd_proxy.c's.
 */
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "config.h"
#include "log.h"
#include "param_support.h"
#include "qfile.h"
#include "smtpd.h"

static struct {
    const char *content_filter;     /* "" = none */
    const char *milter_reply;       /* reply at MAIL FROM, NULL = none */
    bool milter_hold;               /* quarantine */
} smtpd_filter_cfg;

void smtpd_filter_init(void)
{
    smtpd_filter_cfg.content_filter = cfg_str(P_CONTENT_FILTER);
    /* receive_override_options = no_milters (a re-injection port after a
     * content filter) switches milters off for this service: nothing to
     * be unavailable. */
    if (*cfg_str(P_SMTPD_MILTERS) && param_unsupported(P_SMTPD_MILTERS)
        && !receive_override_has("no_milters")) {
        const char *action = cfg_str(P_MILTER_DEFAULT_ACTION);

        if (strcasecmp(action, "accept") == 0) {
            smtpd_filter_cfg.milter_reply = NULL;
        } else if (strcasecmp(action, "reject") == 0) {
            smtpd_filter_cfg.milter_reply = "550 5.7.1 Command rejected";
        } else if (strcasecmp(action, "quarantine") == 0) {
            smtpd_filter_cfg.milter_hold = true;
        } else {
            if (strcasecmp(action, "tempfail") != 0)
                log_warn("bad %s value \"%s\"; using tempfail", P_MILTER_DEFAULT_ACTION,
                         action);
            smtpd_filter_cfg.milter_reply = "451 4.7.1 Service unavailable - try again later";
        }
        log_warn("%s: Postern cannot speak to milters; treating them as unreachable "
                 "(%s = %s)", P_SMTPD_MILTERS, P_MILTER_DEFAULT_ACTION, action);
    }
}

bool smtpd_filter_mail(struct smtpd_state *st)
{
    const char *reply = smtpd_filter_cfg.milter_reply;
    const char *kind = "milter-reject";

    if (reply == NULL)
        return false;
    smtpd_log_reject(st, kind, "MAIL", reply, NULL);
    smtpd_reply(st, "%s", reply);
    return true;
}

int smtpd_filter_cleanup_flags(int flags)
{
    return flags & ~CLEANUP_FLAG_FILTER;
}

void smtpd_filter_envelope(struct cleanup_clnt *c)
{
    if (*smtpd_filter_cfg.content_filter)
        cleanup_recs(c, REC_FILTER, smtpd_filter_cfg.content_filter);
    if (smtpd_filter_cfg.milter_hold)
        cleanup_recf(c, CLEANUP_REC_FLAGS, "%d", CLEANUP_FLAG_HOLD);
}
