/*
 * pickup_unavail.c - local-submission settings Postern cannot honour
 *
 * Used by: pickup.c (at start).
 * Interface: pickup_unavail_flags().
 * Errors: one warning at start.
 * Notes: files named *_unavail.c hold the code that treats an unimplemented
 *        parameter as an unavailable feature (tests/golden/unimplemented.sh
 *        allows references to listed parameters only there).
 *        non_smtpd_milters: Postern cannot speak to milters, so they are
 *        unreachable and milter_default_action applies, as in Postfix for an
 *        unavailable milter. Anything but "accept" sends local submissions to
 *        the hold queue (postsuper -H releases them), so they are never
 *        delivered unchecked.
 */
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "config.h"
#include "log.h"
#include "param_support.h"
#include "params.h"
#include "pickup.h"

int pickup_unavail_flags(void)
{
    if (*cfg_str(P_NON_SMTPD_MILTERS) == 0 || param_unsupported(P_NON_SMTPD_MILTERS) == NULL
        || receive_override_has("no_milters"))
        return 0;
    const char *action = cfg_str(P_MILTER_DEFAULT_ACTION);
    if (strcasecmp(action, "accept") == 0) {
        log_warn("%s: Postern cannot speak to milters; %s = accept: mail is not filtered",
                 P_NON_SMTPD_MILTERS, P_MILTER_DEFAULT_ACTION);
        return 0;
    }
    log_warn("%s: Postern cannot speak to milters; %s = %s: local submissions go to the "
             "hold queue", P_NON_SMTPD_MILTERS, P_MILTER_DEFAULT_ACTION, action);
    return CLEANUP_FLAG_HOLD;
}
