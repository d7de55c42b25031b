/*
 * milter.c - the list of milters and the stage driver (connect, HELO,
 *            MAIL, RCPT, DATA, unknown command), macros, default actions
 *
 * Used by: smtpd, pickup.
 * Interface: see milter.h (milters_message() is in milter_message.c).
 * Errors: see milter.h.
 * Notes: each event goes to the milters in list order; the first one that
 *        does not answer "continue" decides. A milter that answered
 *        "accept" at connect or HELO is left out for the session, one
 *        that accepted a message for the rest of that message. Macros are
 *        sent before each command with the command's letter: the list of
 *        the stage (milter_*_macros, or the milter's own SETSYMLIST), each
 *        name with a value from the caller, from j/v/{daemon_name}, or from
 *        milter_macro_defaults; names without a value are left out.
 */
#include "milter.h"
#include "milter_priv.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "maps.h"
#include "params.h"
#include <arpa/inet.h>
#include <strings.h>

#define MILTER_REPLY_REJECT "550 5.7.1 Command rejected"
#define MILTER_REPLY_TEMPFAIL "451 4.7.1 Service unavailable - try again later"
#define MILTER_REPLY_SHUTDOWN "421 4.7.0 Server closing connection"

static const char *const milter_macro_params[MILTER8_NSTAGES + 1] = {
    [SMFIM_CONNECT] = P_MILTER_CONNECT_MACROS,
    [SMFIM_HELO] = P_MILTER_HELO_MACROS,
    [SMFIM_ENVFROM] = P_MILTER_MAIL_MACROS,
    [SMFIM_ENVRCPT] = P_MILTER_RCPT_MACROS,
    [SMFIM_DATA] = P_MILTER_DATA_MACROS,
    [SMFIM_EOM] = P_MILTER_END_OF_DATA_MACROS,
    [SMFIM_EOH] = P_MILTER_END_OF_HEADER_MACROS,
    [MILTER8_NSTAGES] = P_MILTER_UNKNOWN_COMMAND_MACROS,
};

static bool milter_default_ok(const char *a)
{
    return strcasecmp(a, "accept") == 0 || strcasecmp(a, "reject") == 0
           || strcasecmp(a, "tempfail") == 0 || strcasecmp(a, "quarantine") == 0;
}

struct milters *milters_new(const char *param, const char *value)
{
    char **list = cfg_list(value);
    if (list[0] == NULL) {
        cfg_list_free(list);
        return NULL;
    }
    struct milters *ms = xcalloc(1, sizeof(*ms));
    const char *def = cfg_str(P_MILTER_DEFAULT_ACTION);
    if (!milter_default_ok(def))
        log_fatal("bad %s value: %s", P_MILTER_DEFAULT_ACTION, def);
    const char *proto = cfg_str(P_MILTER_PROTOCOL);
    int version = 0;
    if (strcmp(proto, "2") == 0 || strcmp(proto, "3") == 0 || strcmp(proto, "4") == 0
        || strcmp(proto, "6") == 0)
        version = proto[0] - '0';
    else
        log_fatal("bad %s value: %s (use 2, 3, 4 or 6)", P_MILTER_PROTOCOL, proto);
    long ct = cfg_time(P_MILTER_CONNECT_TIMEOUT), mt = cfg_time(P_MILTER_COMMAND_TIMEOUT),
         bt = cfg_time(P_MILTER_CONTENT_TIMEOUT);
    struct sbuf *err = sbuf_new(64);
    for (char **p = list; *p; p++) {
        struct milter8 *m = milter8_new(*p, (int)ct, (int)mt, (int)bt, version, def, err);
        if (m == NULL)
            log_fatal("%s: %s", param, sbuf_str(err));
        ms->v = xreallocarray(ms->v, ms->n + 1, sizeof(*ms->v));
        memset(&ms->v[ms->n], 0, sizeof(ms->v[0]));
        ms->v[ms->n++].m = m;
    }
    sbuf_free(err);
    cfg_list_free(list);
    for (int i = 0; i <= MILTER8_NSTAGES; i++)
        ms->macros[i] = cfg_list(cfg_str(milter_macro_params[i]));
    ms->daemon_name = xstrdup(cfg_str(P_MILTER_MACRO_DAEMON_NAME));
    ms->macro_v = xstrdup(cfg_str(P_MILTER_MACRO_V));
    ms->myhostname = xstrdup(cfg_str(P_MYHOSTNAME));
    ms->defaults = cfg_list(cfg_str(P_MILTER_MACRO_DEFAULTS));
    ms->reply = sbuf_new(64);
    ms->hold_reason = sbuf_new(32);
    const char *hc = cfg_str(P_MILTER_HEADER_CHECKS);
    if (*hc)
        ms->hdr_checks = maps_create(P_MILTER_HEADER_CHECKS, hc, DICT_F_FOLD);
    return ms;
}

void milters_free(struct milters *ms)
{
    if (ms == NULL)
        return;
    milters_disconnect(ms);
    for (size_t i = 0; i < ms->n; i++)
        milter8_free(ms->v[i].m);
    xfree(ms->v);
    for (int i = 0; i <= MILTER8_NSTAGES; i++)
        cfg_list_free(ms->macros[i]);
    cfg_list_free(ms->defaults);
    xfree(ms->daemon_name);
    xfree(ms->macro_v);
    xfree(ms->myhostname);
    sbuf_free(ms->reply);
    sbuf_free(ms->hold_reason);
    maps_free(ms->hdr_checks);
    xfree(ms->redirect);
    xfree(ms->filter);
    xfree(ms);
}

void milters_set_macros(struct milters *ms, milter_macro_fn fn, void *ctx)
{
    ms->macro_fn = fn;
    ms->macro_ctx = ctx;
}

bool milters_hold(const struct milters *ms, const char **reason)
{
    if (reason)
        *reason = sbuf_str(ms->hold_reason);
    return ms->hold;
}

void milters_reset(struct milters *ms)
{
    ms->hold = false;
    ms->discard = false;
    sbuf_reset(ms->hold_reason);
    xfree(ms->redirect);
    xfree(ms->filter);
    ms->redirect = ms->filter = NULL;
    for (size_t i = 0; i < ms->n; i++) {
        ms->v[i].msg_accept = false;
        ms->v[i].in_msg = false;
    }
}

/* ---- macros ------------------------------------------------------------ */

static const char *milter_macro_value(struct milters *ms, const char *name)
{
    const char *v = ms->macro_fn ? ms->macro_fn(ms->macro_ctx, name) : NULL;
    if (v && *v)
        return v;
    if (strcmp(name, "j") == 0 || strcmp(name, "{j}") == 0)
        return ms->myhostname;
    if (strcmp(name, "v") == 0 || strcmp(name, "{v}") == 0)
        return ms->macro_v;
    if (strcmp(name, "{daemon_name}") == 0)
        return ms->daemon_name;
    /* milter_macro_defaults: name=value, the name with or without braces. */
    size_t n = strlen(name);
    const char *bare = name;
    size_t bn = n;
    if (n > 2 && name[0] == '{' && name[n - 1] == '}') {
        bare++;
        bn -= 2;
    }
    for (char **d = ms->defaults; d && *d; d++) {
        if (strncmp(*d, name, n) == 0 && (*d)[n] == '=')
            return *d + n + 1;
        if (strncmp(*d, bare, bn) == 0 && (*d)[bn] == '=')
            return *d + bn + 1;
    }
    return NULL;
}

/* Sends the macros of stage (MILTER8_NSTAGES: unknown command) before
 * command cmd. */
int milter_send_macros_stage(struct milters *ms, struct milter_one *mo, int stage, int cmd)
{
    char **names = ms->macros[stage];
    char **own = NULL;
    if (stage < MILTER8_NSTAGES && mo->m->symlists[stage])
        names = own = cfg_list(mo->m->symlists[stage]);
    struct sbuf *b = sbuf_new(128);
    sbuf_addch(b, (char)cmd);
    for (char **p = names; p && *p; p++) {
        const char *v = milter_macro_value(ms, *p);
        if (v == NULL)
            continue;
        sbuf_append(b, *p, strlen(*p) + 1);
        sbuf_append(b, v, strlen(v) + 1);
    }
    int r = 0;
    if (sbuf_len(b) > 1)
        r = milter8_send(mo->m, SMFIC_MACRO, sbuf_str(b), sbuf_len(b), false);
    sbuf_free(b);
    cfg_list_free(own);
    return r;
}

/* ---- events ------------------------------------------------------------ */

/* A milter failed: log once, close, and from now on its default action
 * answers for it. Returns that answer for the current event. */
const char *milter_fail(struct milters *ms, struct milter_one *mo)
{
    if (mo->state != MILTER_S_FAILED)
        log_warn("milter %s: unavailable: applying default_action %s", mo->m->name,
                 mo->m->def_action);
    mo->state = MILTER_S_FAILED;
    milter8_close(mo->m, false);
    return milter_default_reply(ms, mo);
}

const char *milter_default_reply(struct milters *ms, struct milter_one *mo)
{
    const char *a = mo->m->def_action;
    if (strcasecmp(a, "accept") == 0)
        return NULL;
    if (strcasecmp(a, "quarantine") == 0) {
        if (!ms->hold)
            sbuf_printf(ms->hold_reason, "milter %s is unavailable", mo->m->name);
        ms->hold = true;
        return NULL;
    }
    if (strcasecmp(a, "reject") == 0)
        return MILTER_REPLY_REJECT;
    return MILTER_REPLY_TEMPFAIL;
}

/* Maps a final reply to the stage's result. */
const char *milter_final(struct milters *ms, struct milter_one *mo, const struct milter8_reply *r,
                         bool conn_stage)
{
    switch (r->cmd) {
    case SMFIR_CONTINUE:
        return NULL;
    case SMFIR_ACCEPT:
        if (conn_stage)
            mo->state = MILTER_S_ACCEPT;
        else
            mo->msg_accept = true;
        return NULL;
    case SMFIR_REJECT:
        return MILTER_REPLY_REJECT;
    case SMFIR_TEMPFAIL:
        return MILTER_REPLY_TEMPFAIL;
    case SMFIR_DISCARD:
        ms->discard = true;
        return "D";
    case SMFIR_REPLYCODE:
        sbuf_set(ms->reply, r->s1);
        return sbuf_str(ms->reply);
    case SMFIR_SHUTDOWN:
    case SMFIR_CONN_FAIL:
        milter8_close(mo->m, false);
        mo->state = MILTER_S_FAILED;
        return r->cmd == SMFIR_SHUTDOWN ? MILTER_REPLY_SHUTDOWN : MILTER_REPLY_TEMPFAIL;
    default:
        log_warn("milter %s: unexpected reply '%c'", mo->m->name, r->cmd);
        return milter_fail(ms, mo);
    }
}

/* Is this milter out of the current event? */
bool milter_skipped(const struct milter_one *mo, bool msg_event)
{
    return mo->state == MILTER_S_ACCEPT || (msg_event && mo->msg_accept);
}

/* One event to one milter: macros, command, reply (unless the milter
 * asked for none). */
static const char *milter_event1(struct milters *ms, struct milter_one *mo, int stage, int cmd,
                                 const void *data, size_t len, uint32_t skip, uint32_t noreply,
                                 bool msg_event)
{
    if (mo->state == MILTER_S_FAILED)
        return milter_default_reply(ms, mo);
    if (milter_skipped(mo, msg_event) || mo->state != MILTER_S_READY)
        return NULL;
    if (mo->m->protocol & skip)
        return NULL;
    if (milter_send_macros_stage(ms, mo, stage, cmd) < 0
        || milter8_send(mo->m, cmd, data, len, false) < 0) {
        log_warn("milter %s: error sending command '%c'", mo->m->name, cmd);
        return milter_fail(ms, mo);
    }
    if (cmd == SMFIC_MAIL)
        mo->in_msg = true;
    if (mo->m->protocol & noreply)
        return NULL;
    for (;;) {
        struct milter8_reply r;
        if (milter8_read_reply(mo->m, false, &r) < 0)
            return milter_fail(ms, mo);
        if (r.cmd == SMFIR_PROGRESS) {
            milter8_reply_free(&r);
            continue;
        }
        const char *res = milter_final(ms, mo, &r, stage <= SMFIM_HELO);
        milter8_reply_free(&r);
        return res;
    }
}

/* One event to every milter, in order, until one does not continue. */
static const char *milter_event(struct milters *ms, int stage, int cmd, const void *data,
                                size_t len, uint32_t skip, uint32_t noreply, bool msg_event)
{
    if (ms->discard && msg_event)
        return NULL;
    for (size_t i = 0; i < ms->n; i++) {
        const char *res =
            milter_event1(ms, &ms->v[i], stage, cmd, data, len, skip, noreply, msg_event);
        if (res)
            return res;
    }
    return NULL;
}

const char *milters_connect(struct milters *ms, const char *name, const char *addr, int port)
{
    for (size_t i = 0; i < ms->n; i++) {
        struct milter_one *mo = &ms->v[i];
        mo->state = milter8_open(mo->m) == 0 ? MILTER_S_READY : MILTER_S_FAILED;
        if (mo->state == MILTER_S_FAILED)
            log_warn("milter %s: unavailable: applying default_action %s", mo->m->name,
                     mo->m->def_action);
    }
    struct sbuf *b = sbuf_new(128);
    struct in6_addr a6;
    struct in_addr a4;
    sbuf_append(b, name, strlen(name) + 1);
    if (addr && inet_pton(AF_INET, addr, &a4) == 1) {
        sbuf_addch(b, '4');
    } else if (addr && inet_pton(AF_INET6, addr, &a6) == 1) {
        sbuf_addch(b, '6');
    } else {
        addr = NULL;
        sbuf_addch(b, 'U');
    }
    if (addr) {
        uint16_t p = htons((uint16_t)port);
        sbuf_append(b, (const char *)&p, 2);
        sbuf_append(b, addr, strlen(addr) + 1);
    }
    const char *res = milter_event(ms, SMFIM_CONNECT, SMFIC_CONNECT, sbuf_str(b), sbuf_len(b),
                                   SMFIP_NOCONNECT, SMFIP_NR_CONN, false);
    sbuf_free(b);
    return res;
}

const char *milters_helo(struct milters *ms, const char *helo)
{
    return milter_event(ms, SMFIM_HELO, SMFIC_HELO, helo, strlen(helo) + 1, SMFIP_NOHELO,
                        SMFIP_NR_HELO, false);
}

/* "<addr>\0" then each ESMTP parameter "\0"-ended. */
static const char *milter_addr_event(struct milters *ms, int stage, int cmd, const char *addr,
                                     const char *args, uint32_t skip, uint32_t noreply)
{
    struct sbuf *b = sbuf_new(128);
    sbuf_printf(b, "<%s>", addr);
    sbuf_addch(b, 0);
    /* ESMTP parameters are separated by spaces only: NOTIFY=SUCCESS,FAILURE
     * is one parameter. */
    for (const char *p = args ? args : ""; *p;) {
        size_t n = strcspn(p, " \t");
        if (n > 0) {
            sbuf_append(b, p, n);
            sbuf_addch(b, 0);
        }
        p += n;
        p += strspn(p, " \t");
    }
    const char *res = milter_event(ms, stage, cmd, sbuf_str(b), sbuf_len(b), skip, noreply, true);
    sbuf_free(b);
    return res;
}

const char *milters_mail(struct milters *ms, const char *sender, const char *args)
{
    milters_reset(ms);
    return milter_addr_event(ms, SMFIM_ENVFROM, SMFIC_MAIL, sender, args, SMFIP_NOMAIL,
                             SMFIP_NR_MAIL);
}

const char *milters_rcpt(struct milters *ms, const char *rcpt, const char *args)
{
    return milter_addr_event(ms, SMFIM_ENVRCPT, SMFIC_RCPT, rcpt, args, SMFIP_NORCPT,
                             SMFIP_NR_RCPT);
}

const char *milters_data(struct milters *ms)
{
    /* DATA exists from protocol version 4 on. */
    const char *res = NULL;
    for (size_t i = 0; i < ms->n && res == NULL && !ms->discard; i++) {
        struct milter_one *mo = &ms->v[i];
        if (mo->m->peer_version < 4 && mo->state == MILTER_S_READY)
            continue;
        res = milter_event1(ms, mo, SMFIM_DATA, SMFIC_DATA, NULL, 0, SMFIP_NODATA, SMFIP_NR_DATA,
                            true);
    }
    return res;
}

const char *milters_unknown(struct milters *ms, const char *command)
{
    const char *res = NULL;
    for (size_t i = 0; i < ms->n && res == NULL; i++) {
        struct milter_one *mo = &ms->v[i];
        if (mo->m->peer_version < 3 && mo->state == MILTER_S_READY)
            continue;
        res = milter_event1(ms, mo, MILTER8_NSTAGES, SMFIC_UNKNOWN, command, strlen(command) + 1,
                            SMFIP_NOUNKNOWN, SMFIP_NR_UNKN, false);
    }
    return res;
}

void milters_abort(struct milters *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        struct milter_one *mo = &ms->v[i];
        if (mo->state == MILTER_S_READY && mo->in_msg
            && milter8_send(mo->m, SMFIC_ABORT, NULL, 0, false) < 0)
            (void)milter_fail(ms, mo);
    }
    milters_reset(ms);
}

void milters_disconnect(struct milters *ms)
{
    for (size_t i = 0; i < ms->n; i++) {
        milter8_close(ms->v[i].m, ms->v[i].state != MILTER_S_FAILED);
        ms->v[i].state = MILTER_S_CLOSED;
    }
    milters_reset(ms);
}
