/*
 * smtpd_tls.c - TLS in the SMTP server: STARTTLS, smtps wrapper mode,
 *               the encrypt security level, TLS logging and Received: text
 *
 * Used by: smtpd.c (pre_jail, session start/end, the encrypt-level gate),
 *          smtpd_cmd.c (STARTTLS, the EHLO keyword), smtpd_data.c
 *          (Received: header).
 * Interface: smtpd_tls_pre_jail(), smtpd_tls_offer(),
 *            smtpd_tls_wrapper_start(), smtpd_tls_required_ok(),
 *            smtpd_cmd_starttls(), smtpd_tls_received_proto(),
 *            smtpd_tls_received_lines(), smtpd_tls_end().
 * Errors: a certificate or key that cannot be loaded is logged once at
 *         start-up and TLS is then "not available" (STARTTLS gets 454);
 *         a failed handshake ends the session.
 * Notes: the security level comes from smtpd_tls_security_level, else the
 *        legacy smtpd_enforce_tls / smtpd_use_tls. Protocols default to
 *        TLS 1.2 and 1.3: while the protocols parameter in effect is not
 *        set in main.cf or master.cf, older versions are off even though
 *        Postfix's default text (">=TLSv1") would allow them; likewise the
 *        server's cipher order wins unless tls_preempt_cipherlist is set. After
 *        STARTTLS every piece of session state learned in plaintext (HELO
 *        name, transaction) is discarded, as is plaintext the client
 *        pipelined behind the command (RFC 3207 section 4.2). Sessions
 *        are resumed across smtpd processes through tlsmgr: its session
 *        cache (smtpd_tls_session_cache_database) and its ticket keys
 *        (tls_session_ticket_cipher); see tls_server.h.
 */
#include "smtpd.h"
#include "alloc.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "tls_common.h"
#include "tls_param.h"
#include "tls_sni.h"
#include "tls_server.h"
#include "tlsmgr_clnt.h"

static struct {
    enum tls_param_level level;
    bool wrapper;               /* smtpd_tls_wrappermode */
    bool ask_ccert, req_ccert;
    bool received_header;
    int loglevel;
    int starttls_timeout;
    struct tls_server_ctx *ctx; /* NULL: TLS not available (local problem) */
    struct tlsmgr_clnt *tlsmgr; /* shared sessions, ticket keys, PRNG seed */
    struct tls_cache_ops cache;
    struct tls_sni_ops sni;     /* tls_server_sni_maps */
} smtpd_tls;

/* ---- configuration ---------------------------------------------------- */


void smtpd_tls_pre_jail(void)
{
    smtpd_tls.level = tls_param_server_level(P_SMTPD_TLS_SECURITY_LEVEL, P_SMTPD_ENFORCE_TLS,
                                             P_SMTPD_USE_TLS);
    smtpd_tls.wrapper = cfg_bool(P_SMTPD_TLS_WRAPPERMODE);
    smtpd_tls.loglevel = cfg_int(P_SMTPD_TLS_LOGLEVEL);
    smtpd_tls.received_header = cfg_bool(P_SMTPD_TLS_RECEIVED_HEADER);
    smtpd_tls.starttls_timeout = (int)cfg_time(P_SMTPD_STARTTLS_TIMEOUT);
    smtpd_tls.req_ccert = cfg_bool(P_SMTPD_TLS_REQ_CCERT);
    smtpd_tls.ask_ccert = cfg_bool(P_SMTPD_TLS_ASK_CCERT) || smtpd_tls.req_ccert;
    if (smtpd_tls.wrapper && smtpd_tls.level == TLS_PARAM_NONE) {
        log_warn("%s = yes needs TLS: using %s = may", P_SMTPD_TLS_WRAPPERMODE,
                 P_SMTPD_TLS_SECURITY_LEVEL);
        smtpd_tls.level = TLS_PARAM_MAY;
    }
    if (smtpd_tls.req_ccert && smtpd_tls.level != TLS_PARAM_ENCRYPT) {
        log_warn("%s = yes is ignored unless %s = encrypt", P_SMTPD_TLS_REQ_CCERT,
                 P_SMTPD_TLS_SECURITY_LEVEL);
        smtpd_tls.req_ccert = false;
    }
    if (smtpd_tls.level == TLS_PARAM_NONE)
        return;

    bool mandatory = smtpd_tls.level == TLS_PARAM_ENCRYPT;
    char *ciphers = mandatory ? tls_param_cipherlist(P_SMTPD_TLS_MANDATORY_CIPHERS,
                                                     P_SMTPD_TLS_EXCLUDE_CIPHERS,
                                                     P_SMTPD_TLS_MANDATORY_EXCLUDE_CIPHERS)
                              : tls_param_cipherlist(P_SMTPD_TLS_CIPHERS,
                                                     P_SMTPD_TLS_EXCLUDE_CIPHERS, NULL);
    struct sbuf *sctx = sbuf_new(64);
    sbuf_printf(sctx, "%s/%s", server_program_name() ? server_program_name() : "smtpd",
                server_service_name() ? server_service_name() : "smtp");
    /* tlsmgr: the session cache when smtpd_tls_session_cache_database is
     * set, ticket keys always (tls_session_ticket_cipher decides). */
    smtpd_tls.tlsmgr = tlsmgr_clnt_new("smtpd");
    tlsmgr_clnt_ops(smtpd_tls.tlsmgr, *cfg_str(P_SMTPD_TLS_SESSION_CACHE_DATABASE) != 0, true,
                    &smtpd_tls.cache);
    struct tls_server_opts o = {
        .cache = &smtpd_tls.cache,
        .ticket_cipher = cfg_str(P_TLS_SESSION_TICKET_CIPHER),
        .cert_file = cfg_str(P_SMTPD_TLS_CERT_FILE),
        .key_file = cfg_str(P_SMTPD_TLS_KEY_FILE),
        .eccert_file = cfg_str(P_SMTPD_TLS_ECCERT_FILE),
        .eckey_file = cfg_str(P_SMTPD_TLS_ECKEY_FILE),
        .dcert_file = cfg_str(P_SMTPD_TLS_DCERT_FILE),
        .dkey_file = cfg_str(P_SMTPD_TLS_DKEY_FILE),
        .chain_files = cfg_str(P_SMTPD_TLS_CHAIN_FILES),
        .ca_file = cfg_str(P_SMTPD_TLS_CAFILE),
        .append_default_ca = cfg_bool(P_TLS_APPEND_DEFAULT_CA),
        .ca_path = cfg_str(P_SMTPD_TLS_CAPATH),
        .ask_ccert = smtpd_tls.ask_ccert,
        .verify_depth = cfg_int(P_SMTPD_TLS_CCERT_VERIFYDEPTH),
        .protocols = tls_param_protocols(mandatory ? P_SMTPD_TLS_MANDATORY_PROTOCOLS
                                                   : P_SMTPD_TLS_PROTOCOLS),
        .ciphers = ciphers,
        .groups = tls_param_groups(P_SMTPD_TLS_EECDH_GRADE),
        /* Our order unless told otherwise: a client must not be able to
         * pick the weakest suite we allow (Postfix's default is "no"). */
        .server_cipher_order = cfg_is_set(P_TLS_PREEMPT_CIPHERLIST)
                                   ? cfg_bool(P_TLS_PREEMPT_CIPHERLIST)
                                   : true,
        .session_timeout = cfg_time(P_SMTPD_TLS_SESSION_CACHE_TIMEOUT),
        .no_local_session_ids = !cfg_bool(P_SMTPD_TLS_ALWAYS_ISSUE_SESSION_IDS),
        .session_context = sbuf_str(sctx),
        .fingerprint_digest = cfg_str(P_SMTPD_TLS_FINGERPRINT_DIGEST),
        .ssl_options = tls_param_ssl_options(),
        .dh_file = cfg_str(P_SMTPD_TLS_DH1024_PARAM_FILE),
        .dh_warning = sbuf_new(64),
        .sni = tls_sni_init(&smtpd_tls.sni) ? &smtpd_tls.sni : NULL,
    };
    struct sbuf *why = sbuf_new(128);
    smtpd_tls.ctx = tls_server_ctx_new(&o, why);
    if (sbuf_len(o.dh_warning))
        log_warn("%s: %s", P_SMTPD_TLS_DH1024_PARAM_FILE, sbuf_str(o.dh_warning));
    sbuf_free(o.dh_warning);
    if (smtpd_tls.ctx == NULL)
        log_warn("TLS library problem: %s: disabling TLS support", sbuf_str(why));
    sbuf_free(why);
    sbuf_free(sctx);
    xfree(ciphers);
}

/* ---- session ---------------------------------------------------------- */

bool smtpd_tls_offer(const struct smtpd_state *st)
{
    return smtpd_tls.level != TLS_PARAM_NONE && !st->tls_active;
}

/* Logs the handshake result and copies it into the session state. */
static void smtpd_tls_record(struct smtpd_state *st)
{
    struct tls_server_info in;
    tls_server_info(st->tls_conn, &in);
    st->tls_active = true;
    strlcpy(st->tls_protocol, in.protocol, sizeof(st->tls_protocol));
    strlcpy(st->tls_cipher, in.cipher, sizeof(st->tls_cipher));
    st->tls_bits = in.bits;
    st->tls_ccert_present = in.have_cert;
    st->tls_ccert_trusted = in.have_cert && in.trusted;
    strlcpy(st->tls_ccert_subject, in.peer_cn, sizeof(st->tls_ccert_subject));
    strlcpy(st->tls_ccert_issuer, in.issuer_cn, sizeof(st->tls_ccert_issuer));
    strlcpy(st->tls_ccert_fingerprint, in.fingerprint, sizeof(st->tls_ccert_fingerprint));
    strlcpy(st->tls_ccert_pubkey_fingerprint, in.pkey_fingerprint,
            sizeof(st->tls_ccert_pubkey_fingerprint));
    tls_sni_log(&in, st->namaddr);
    if (smtpd_tls.loglevel < 1)
        return;
    if (in.have_cert)
        log_info("%s: %s: subject_CN=%s, issuer=%s, fingerprint=%s, pkey_fingerprint=%s%s%s",
                 st->namaddr, in.trusted ? "Trusted" : "Untrusted", in.peer_cn, in.issuer_cn,
                 in.fingerprint, in.pkey_fingerprint, in.trusted ? "" : ", verify error: ",
                 in.trusted ? "" : in.verify_error);
    struct sbuf *b = sbuf_new(256);
    /* " to NAME": the SNI name whose own certificate was presented. */
    bool sni = in.sni_status == TLS_SNI_MATCHED;
    sbuf_printf(b, "%s TLS connection %s from %s%s%s: %s with cipher %s (%d/%d bits)",
                !in.have_cert ? "Anonymous" : in.trusted ? "Trusted" : "Untrusted",
                in.reused ? "reused" : "established", st->namaddr, sni ? " to " : "",
                sni ? in.sni : "", in.protocol, in.cipher, in.bits, in.alg_bits);
    if (in.kex[0])
        sbuf_catf(b, " key-exchange %s", in.kex);
    if (in.sig[0])
        sbuf_catf(b, " server-signature %s (%d bits)", in.sig, in.sig_bits);
    if (in.sig_digest[0])
        sbuf_catf(b, " server-digest %s", in.sig_digest);
    log_info("%s", sbuf_str(b));
    sbuf_free(b);
}

/* Handshake on the client stream; false (logged) when it failed. */
static bool smtpd_tls_handshake(struct smtpd_state *st)
{
    struct sbuf *why = sbuf_new(128);
    size_t junk = 0;
    if (smtpd_tls.loglevel >= 2)
        log_info("setting up TLS connection from %s", st->namaddr);
    tlsmgr_clnt_seed_prng(smtpd_tls.tlsmgr);
    st->tls_conn = tls_server_start(smtpd_tls.ctx, st->client, smtpd_tls.starttls_timeout, &junk,
                                    why);
    if (junk)
        log_info("discarding %zu bytes of plaintext sent after STARTTLS by %s", junk,
                 st->namaddr);
    if (st->tls_conn == NULL) {
        log_info("SSL_accept error from %s: %s", st->namaddr, sbuf_str(why));
        sbuf_free(why);
        return false;
    }
    sbuf_free(why);
    smtpd_tls_record(st);
    return true;
}

/* smtpd_tls_req_ccert: only a verified client certificate may go on.
 * False after replying 421 (the session ends). */
static bool smtpd_tls_ccert_ok(struct smtpd_state *st)
{
    if (!smtpd_tls.req_ccert || st->tls_ccert_trusted)
        return true;
    const char *why = st->tls_ccert_present ? "Client certificate not trusted"
                                            : "No client certificate presented";
    log_info("NOQUEUE: abort: TLS from %s: %s", st->namaddr, why);
    smtpd_reply(st, "421 4.7.1 %s Error: %s", smtpd_cfg.myhostname, why);
    smtpd_flush(st);
    return false;
}

bool smtpd_tls_wrapper_start(struct smtpd_state *st)
{
    if (!smtpd_tls.wrapper)
        return true;
    if (smtpd_tls.ctx == NULL) {
        log_warn("TLS not available for %s (wrapper mode): closing connection", st->namaddr);
        return false;
    }
    st->where = "CONNECT";
    /* smtpd_client_new_tls_session_rate_limit: 421 and close. */
    if (!smtpd_limits_newtls(st, true))
        return false;
    if (!smtpd_tls_handshake(st)) {
        log_info("lost connection after CONNECT from %s", st->namaddr);
        return false;
    }
    return smtpd_tls_ccert_ok(st);
}

bool smtpd_tls_required_ok(struct smtpd_state *st, enum smtpd_cmd_id id)
{
    if (smtpd_tls.level != TLS_PARAM_ENCRYPT || st->tls_active)
        return true;
    if (smtpd_cmd_flags(id) & SMTPD_CMD_F_PRE_TLS)
        return true;
    smtpd_reply(st, "530 5.7.0 Must issue a STARTTLS command first");
    return false;
}

enum smtpd_cmd_result smtpd_cmd_starttls(struct smtpd_state *st, const char *args)
{
    if (*args) {
        smtpd_reply(st, "501 5.5.4 Syntax: STARTTLS");
        return SMTPD_R_ERR;
    }
    if (st->tls_active) {
        smtpd_reply(st, "554 5.5.1 Error: TLS already active");
        return SMTPD_R_ERR;
    }
    if (smtpd_tls.level == TLS_PARAM_NONE) {
        smtpd_reply(st, "502 5.5.1 Error: command not implemented");
        return SMTPD_R_ERR;
    }
    if (st->sender) {
        smtpd_reply(st, "503 5.5.1 Error: MAIL transaction in progress");
        return SMTPD_R_ERR;
    }
    if (smtpd_tls.ctx == NULL) {
        smtpd_reply(st, "454 4.7.0 TLS not available due to local problem");
        return SMTPD_R_ERR;
    }
    if (!smtpd_limits_newtls(st, false))
        return SMTPD_R_ERR;
    smtpd_reply(st, "220 2.0.0 Ready to start TLS");
    if (!smtpd_flush(st))
        return SMTPD_R_GONE;
    if (!smtpd_tls_handshake(st))
        return SMTPD_R_GONE;
    /* RFC 3207 4.2: forget what the client said in plaintext. */
    smtpd_reset_transaction(st);
    xfree(st->helo_name);
    st->helo_name = NULL;
    st->protocol = NULL;
    st->ehlo = false;
    if (!smtpd_tls_ccert_ok(st))
        return SMTPD_R_CLOSE;
    return SMTPD_R_OK;
}

/* ---- Received: -------------------------------------------------------- */

const char *smtpd_tls_received_proto(const struct smtpd_state *st)
{
    const char *p = st->protocol ? st->protocol : "SMTP";
    if (strcmp(p, "ESMTP") != 0)
        return p;
    /* RFC 3848 names. */
    bool auth = st->sasl_username != NULL;
    if (st->tls_active)
        return auth ? "ESMTPSA" : "ESMTPS";
    return auth ? "ESMTPA" : "ESMTP";
}

void smtpd_tls_received_lines(struct smtpd_state *st, smtpd_line_fn *emit, void *ctx)
{
    if (!st->tls_active || !smtpd_tls.received_header || st->tls_conn == NULL)
        return;
    struct tls_server_info in;
    tls_server_info(st->tls_conn, &in);
    struct sbuf *h = sbuf_new(256);
    bool detail = in.kex[0] || in.sig[0];
    sbuf_printf(h, "\t(using %s with cipher %s (%d/%d bits)%s", in.protocol, in.cipher, in.bits,
                in.alg_bits, detail ? "" : ")");
    emit(st, ctx, sbuf_str(h), sbuf_len(h));
    if (detail) {
        sbuf_set(h, "\t");
        if (in.kex[0])
            sbuf_catf(h, " key-exchange %s", in.kex);
        if (in.sig[0])
            sbuf_catf(h, " server-signature %s (%d bits)", in.sig, in.sig_bits);
        if (in.sig_digest[0])
            sbuf_catf(h, " server-digest %s", in.sig_digest);
        sbuf_cat(h, ")");
        emit(st, ctx, sbuf_str(h), sbuf_len(h));
    }
    if (!smtpd_tls.ask_ccert)
        sbuf_set(h, "\t(No client certificate requested)");
    else if (!in.have_cert)
        sbuf_set(h, "\t(Client did not present a certificate)");
    else
        sbuf_printf(h, "\t(Client CN \"%s\", Issuer \"%s\" (%s))", in.peer_cn, in.issuer_cn,
                    in.trusted ? "verified OK" : "not verified");
    emit(st, ctx, sbuf_str(h), sbuf_len(h));
    sbuf_free(h);
}

void smtpd_tls_end(struct smtpd_state *st)
{
    tls_server_stop(st->tls_conn, st->client);
    st->tls_conn = NULL;
}
