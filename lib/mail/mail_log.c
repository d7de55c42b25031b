/*
 * mail_log.c - where a Postern program's log lines go
 *
 * Used by: master, daemons (via the skeleton), logging commands.
 * Interface: see mail_log.h.
 */
#include "mail_log.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"
#include "sbuf.h"

void mail_log_init(const char *program)
{
    struct sbuf *b = sbuf_new(128);
    sbuf_printf(b, "%s/%s", cfg_str(P_SYSLOG_NAME), program);
    log_set_tag(sbuf_str(b));
    if (log_set_facility(cfg_str(P_SYSLOG_FACILITY)) < 0)
        log_fatal("%s: unknown syslog facility \"%s\"", P_SYSLOG_FACILITY,
                  cfg_str(P_SYSLOG_FACILITY));
    if (*cfg_str(P_MAILLOG_FILE)) {
        mail_service_path(b, MAIL_CLASS_PUBLIC, MAIL_SERVICE_POSTLOG, true);
        log_close_syslog();
        log_open_maillog(sbuf_str(b), cfg_str(P_MYHOSTNAME));
    } else
        log_open_syslog(NULL);
    sbuf_free(b);
}
