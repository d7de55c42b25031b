/*
 * smtpd_sasl.h - SASL restrictions for the restriction evaluator
 *
 * Used by: smtpd_check.c (restriction table), smtpd_sasl.c.
 * Interface: smtpd_sasl_permit(), smtpd_sasl_login_mismatch().
 * Notes: the rest of the SASL module's interface (AUTH, EHLO, logging,
 *        cleanup attributes) is in smtpd.h with the other modules.
 */
#ifndef POSTERN_SMTPD_SASL_H
#define POSTERN_SMTPD_SASL_H
#include "smtpd_check.h"

/* Which of the sender/login checks to run. */
enum smtpd_sasl_login_check {
    SMTPD_SASL_LOGIN_ALL,       /* reject_sender_login_mismatch */
    SMTPD_SASL_LOGIN_AUTH,      /* reject_authenticated_sender_login_mismatch */
    SMTPD_SASL_LOGIN_KNOWN,     /* reject_known_sender_login_mismatch */
    SMTPD_SASL_LOGIN_UNAUTH,    /* reject_unauthenticated_sender_login_mismatch */
};

/* permit_sasl_authenticated: PERMIT when the client logged in (with any
 * mechanism but ANONYMOUS), else DUNNO. */
enum smtpd_verdict smtpd_sasl_permit(struct smtpd_check_ctx *c);
/* The *_sender_login_mismatch restrictions against smtpd_sender_login_maps:
 * "553 5.7.1 <sender>: Sender address rejected: not owned by user NAME"
 * or "...: not logged in"; 451 4.3.0 when a lookup fails; DUNNO for the
 * null sender or without smtpd_sender_login_maps. */
enum smtpd_verdict smtpd_sasl_login_mismatch(struct smtpd_check_ctx *c,
                                             enum smtpd_sasl_login_check which);

#endif
