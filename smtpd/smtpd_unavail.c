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
 *        filter. smtpd_milter_maps (per-client milters) is not looked
 *        up: its milters count as unreachable and milter_default_action
 *        answers at MAIL FROM (tempfail 451 4.7.1, reject 550 5.7.1;
 *        quarantine: into the hold queue; accept: no effect). Milters
 *        themselves: smtpd_milter.c; the before-queue proxy filter:
 *        smtpd_proxy.c.
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
    bool milter_maps;               /* smtpd_milter_maps set: per-client milters unknown */
} smtpd_filter_cfg;

void smtpd_filter_init(void)
{
    smtpd_filter_cfg.content_filter = cfg_str(P_CONTENT_FILTER);
    /* Per-client milters Postern does not look up: unreachable milters
     * (milter_default_action applies; with "accept", none). */
    smtpd_filter_cfg.milter_maps = *cfg_str(P_SMTPD_MILTER_MAPS)
                                   && param_unsupported(P_SMTPD_MILTER_MAPS)
                                   && !receive_override_has("no_milters");
}

bool smtpd_filter_mail(struct smtpd_state *st)
{
    const char *reply = NULL, *kind = "reject";
    if (smtpd_filter_cfg.milter_maps) {
        const char *a = cfg_str(P_MILTER_DEFAULT_ACTION);
        kind = "milter-reject";
        if (strcasecmp(a, "reject") == 0)
            reply = "550 5.7.1 Command rejected";
        else if (strcasecmp(a, "accept") != 0 && strcasecmp(a, "quarantine") != 0)
            reply = "451 4.7.1 Service unavailable - try again later";
    }
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
    if (smtpd_filter_cfg.milter_maps
        && strcasecmp(cfg_str(P_MILTER_DEFAULT_ACTION), "quarantine") == 0)
        cleanup_recf(c, CLEANUP_REC_FLAGS, "%d", CLEANUP_FLAG_HOLD);
}
