/*
 * smtp_unavail.c - client settings Postern cannot honour: defer, never weaken
 *
 * Used by: smtp.c (smtp_pre_jail, smtp_service).
 * Interface: smtp_load_unavailable().
 * Errors: logs one warning at start; deliveries are then deferred with the
 *         reason in smtp_cfg.unavail_reason.
 * Notes: files named *_unavail.c hold the code that treats an unimplemented
 *        parameter as an unavailable feature (tests/golden/unimplemented.sh
 *        allows references to listed parameters only there). Postfix defers
 *        mail when an "encrypt" policy cannot be met; a TLS policy table
 *        Postern cannot apply is handled the same way rather than sending
 *        the mail with less protection.
 */
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "param_support.h"
#include "params.h"
#include "sbuf.h"
#include "smtp.h"

#define SMTP_P(smtp_name, lmtp_name) (c->lmtp ? (lmtp_name) : (smtp_name))

/* Settings Postern's client does not implement, but without which mail
 * would go out less protected than the file says: defer, as Postfix does
 * for an unmet "encrypt" policy. */
void smtp_load_unavailable(struct smtp_cfg *c)
{
    const char *per_site = SMTP_P(P_SMTP_TLS_PER_SITE, P_LMTP_TLS_PER_SITE);
    struct sbuf *b = sbuf_new(128);

    if (param_unsupported(per_site) && *cfg_str(per_site)) {
        c->unavail_dsn = "4.7.5";
        sbuf_printf(b, "TLS policy table %s is not supported by Postern; "
                    "mail deferred rather than sent without it", per_site);
    }
    if (c->unavail_dsn) {
        c->unavail_reason = sbuf_detach(b);
        log_warn("%s", c->unavail_reason);
    } else {
        sbuf_free(b);
    }
}
