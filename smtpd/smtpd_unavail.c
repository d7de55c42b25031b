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
 *        filter. Postern does not run a before-queue proxy filter
 *        (docs/unimplemented-parameters.txt), and mail must not pass
 *        without it: smtpd_proxy_filter set refuses MAIL FROM with 451
 *        4.3.0. (Milters: smtpd_milter.c.)
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
    bool proxy_filter;
} smtpd_filter_cfg;

void smtpd_filter_init(void)
{
    smtpd_filter_cfg.content_filter = cfg_str(P_CONTENT_FILTER);
    smtpd_filter_cfg.proxy_filter = *cfg_str(P_SMTPD_PROXY_FILTER)
                                    && param_unsupported(P_SMTPD_PROXY_FILTER);
}

bool smtpd_filter_mail(struct smtpd_state *st)
{
    if (!smtpd_filter_cfg.proxy_filter)
        return false;
    const char *reply = "451 4.3.0 Error: before-queue content filter (smtpd_proxy_filter) is "
                        "not available";
    smtpd_log_reject(st, "reject", "MAIL", reply, NULL);
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
}
