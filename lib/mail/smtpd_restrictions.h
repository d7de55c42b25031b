/*
 * smtpd_restrictions.h - the restriction names smtpd knows, in one list
 *
 * Used by: smtpd (smtpd_check.c dispatches on it), postfix check and
 *          master (smtpd_restrictions_check() reports names smtpd would
 *          not know before a client meets them).
 * Interface: SMTPD_RESTRICTION_LIST(X), smtpd_restriction_takes_arg(),
 *            smtpd_restrictions_check().
 * Errors: reports are log_warn lines "FILE:LINE: PARAM: ..." (main.cf) or
 *         "FILE:LINE: service NAME: -o PARAM: ..." (master.cf).
 * Notes: SMTPD_RESTRICTION_LIST(X) calls X(name, function, takes_arg) for
 *        every restriction; function is smtpd's implementation (only
 *        smtpd_check.c, which has them all in scope, uses that column).
 *        Adding a restriction means adding its row here and its function
 *        in smtpd. Names are matched without case, as smtpd does.
 */
#ifndef POSTERN_SMTPD_RESTRICTIONS_H
#define POSTERN_SMTPD_RESTRICTIONS_H
#include "sys_compat.h"

struct mastercf;

#define SMTPD_RESTRICTION_LIST(X) \
    X("permit", r_permit, 0) \
    X("reject", r_reject, 0) \
    X("defer", r_defer, 0) \
    X("defer_if_permit", r_defer_if_permit, 0) \
    X("defer_if_reject", r_defer_if_reject, 0) \
    X("permit_mynetworks", r_permit_mynetworks, 0) \
    X("permit_sasl_authenticated", r_permit_sasl, 0) \
    X("permit_tls_clientcerts", smtpd_ccert_permit, 0) \
    X("permit_tls_all_clientcerts", smtpd_ccert_permit_all, 0) \
    X("permit_inet_interfaces", r_permit_inet_interfaces, 0) \
    X("reject_unauth_destination", r_reject_unauth_dest, 0) \
    X("defer_unauth_destination", r_defer_unauth_dest, 0) \
    X("permit_auth_destination", r_permit_auth_dest, 0) \
    X("permit_mx_backup", smtpd_mxbackup_permit, 0) \
    X("reject_unauth_pipelining", r_reject_unauth_pipelining, 0) \
    X("reject_plaintext_session", r_reject_plaintext_session, 0) \
    X("sleep", r_sleep, 1) \
    X("reject_non_fqdn_recipient", r_reject_non_fqdn_rcpt, 0) \
    X("reject_non_fqdn_sender", r_reject_non_fqdn_sender, 0) \
    X("reject_non_fqdn_helo_hostname", r_reject_non_fqdn_helo, 0) \
    X("reject_non_fqdn_hostname", r_reject_non_fqdn_helo, 0) /* pre-2.3 name */ \
    X("reject_invalid_helo_hostname", r_reject_invalid_helo, 0) \
    X("reject_invalid_hostname", r_reject_invalid_helo, 0) \
    X("reject_unknown_helo_hostname", r_reject_unknown_helo, 0) \
    X("reject_unknown_hostname", r_reject_unknown_helo, 0) \
    X("reject_unknown_sender_domain", r_reject_unknown_sender_domain, 0) \
    X("reject_unknown_recipient_domain", r_reject_unknown_rcpt_domain, 0) \
    X("reject_unknown_client_hostname", r_reject_unknown_client, 0) \
    X("reject_unknown_client", r_reject_unknown_client, 0) \
    X("reject_unknown_reverse_client_hostname", r_reject_unknown_rev_client, 0) \
    X("reject_unlisted_sender", r_reject_unlisted_sender, 0) \
    X("reject_unlisted_recipient", r_reject_unlisted_rcpt, 0) \
    X("check_recipient_maps", r_reject_unlisted_rcpt, 0) \
    X("reject_multi_recipient_bounce", r_reject_multi_rcpt_bounce, 0) \
    X("reject_unverified_recipient", smtpd_verify_rcpt, 0) \
    X("reject_unverified_sender", smtpd_verify_sender, 0) \
    X("reject_sender_login_mismatch", r_reject_sender_login_mismatch, 0) \
    X("reject_authenticated_sender_login_mismatch", r_reject_auth_login_mismatch, 0) \
    X("reject_known_sender_login_mismatch", r_reject_known_login_mismatch, 0) \
    X("reject_unauthenticated_sender_login_mismatch", r_reject_unauth_login_mismatch, 0) \
    X("check_client_access", r_check_client_access, 1) \
    X("check_reverse_client_hostname_access", r_check_rev_client_access, 1) \
    X("check_helo_access", r_check_helo_access, 1) \
    X("check_sender_access", r_check_sender_access, 1) \
    X("check_recipient_access", r_check_rcpt_access, 1) \
    X("check_sasl_access", r_check_sasl_access, 1) \
    X("check_etrn_access", r_check_etrn_access, 1) \
    X("check_ccert_access", smtpd_ccert_access, 1) \
    X("check_client_a_access", r_check_client_a_access, 1) \
    X("check_client_mx_access", r_check_client_mx_access, 1) \
    X("check_client_ns_access", r_check_client_ns_access, 1) \
    X("check_reverse_client_hostname_a_access", r_check_rev_client_a_access, 1) \
    X("check_reverse_client_hostname_mx_access", r_check_rev_client_mx_access, 1) \
    X("check_reverse_client_hostname_ns_access", r_check_rev_client_ns_access, 1) \
    X("check_helo_a_access", r_check_helo_a_access, 1) \
    X("check_helo_mx_access", r_check_helo_mx_access, 1) \
    X("check_helo_ns_access", r_check_helo_ns_access, 1) \
    X("check_sender_a_access", r_check_sender_a_access, 1) \
    X("check_sender_mx_access", r_check_sender_mx_access, 1) \
    X("check_sender_ns_access", r_check_sender_ns_access, 1) \
    X("check_recipient_a_access", r_check_rcpt_a_access, 1) \
    X("check_recipient_mx_access", r_check_rcpt_mx_access, 1) \
    X("check_recipient_ns_access", r_check_rcpt_ns_access, 1) \
    X("reject_rbl_client", r_rbl_client, 1) \
    X("reject_rbl", r_rbl_client, 1) \
    X("permit_dnswl_client", r_dnswl_client, 1) \
    X("reject_rhsbl_client", r_rhsbl_client, 1) \
    X("reject_rhsbl_reverse_client", r_rhsbl_rev_client, 1) \
    X("reject_rhsbl_helo", r_rhsbl_helo, 1) \
    X("reject_rhsbl_sender", r_rhsbl_sender, 1) \
    X("reject_rhsbl_recipient", r_rhsbl_rcpt, 1) \
    X("permit_rhswl_client", r_rhswl_client, 1) \
    X("check_policy_service", r_policy, 1)

/* 1 when name is a restriction that takes the next list element as its
 * argument, 0 when it takes none, -1 when smtpd does not know it. */
int smtpd_restriction_takes_arg(const char *name);

/* Warns about every word of the smtpd_*_restrictions lists, and of the
 * smtpd_restriction_classes they may name, that smtpd would not know
 * (smtpd answers 451 4.3.5 to a request that reaches it), and about a
 * restriction whose argument is missing: in main.cf (the values in effect)
 * and in master.cf -o options of the services in m (may be NULL). Returns
 * the number of problems reported. */
int smtpd_restrictions_check(const struct mastercf *m);
#endif
