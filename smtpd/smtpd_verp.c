/*
 * smtpd_verp.c - the XVERP extension of MAIL FROM
 *
 * Used by: smtpd_cmd.c (EHLO keyword, MAIL parameter).
 * Interface: smtpd_verp_allowed(), smtpd_verp_ehlo(), smtpd_verp_param().
 * Errors: smtpd_verp_param() returns the whole reply for a bad request.
 * Notes: only clients in smtpd_authorized_verp_clients (empty by default)
 *        see XVERP in the EHLO reply or may use it; for everyone else it is
 *        an unknown parameter (555). "XVERP" alone means
 *        default_verp_delimiters; "XVERP=xy" names the two delimiters, which
 *        must come from verp_delimiter_filter. The delimiters travel to
 *        cleanup as a V record; qmgr then delivers each recipient apart with
 *        its own return address (lib/mail/verp.h).
 */
#include "smtpd.h"
#include "config.h"
#include "mynetworks.h"
#include "verp.h"

static struct mynetworks *smtpd_verp_clients;

/* Decided once per session from the real client. */
bool smtpd_verp_allowed(struct smtpd_state *st)
{
    if (smtpd_verp_clients == NULL)
        smtpd_verp_clients = mynetworks_new(P_SMTPD_AUTHORIZED_VERP_CLIENTS,
                                            cfg_str(P_SMTPD_AUTHORIZED_VERP_CLIENTS), false);
    return smtpd_client_listed(st, smtpd_verp_clients, &st->verp_ok);
}

const char *smtpd_verp_ehlo(struct smtpd_state *st)
{
    return smtpd_verp_allowed(st) ? "XVERP" : NULL;
}

const char *smtpd_verp_param(const char *val, bool null_sender, char out[3])
{
    const char *delims = val ? val : cfg_str(P_DEFAULT_VERP_DELIMITERS);
    if (out[0])
        return "501 5.5.4 Error: duplicate XVERP parameter";
    if (null_sender)
        return "503 5.5.4 Error: XVERP requires non-null sender";
    if (verp_delims_check(delims, cfg_str(P_VERP_DELIMITER_FILTER)) != NULL)
        return val ? "501 5.5.4 Error: XVERP needs two characters from verp_delimiter_filter"
                   : "451 4.3.5 Error: default_verp_delimiters is not usable";
    memcpy(out, delims, 3);
    return NULL;
}
