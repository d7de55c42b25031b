/*
 * milter_priv.h - state shared by milter.c (events) and milter_message.c
 *                 (the message and its edits)
 *
 * Used by: lib/mail/milter.c, lib/mail/milter_message.c only.
 */
#ifndef POSTERN_MILTER_PRIV_H
#define POSTERN_MILTER_PRIV_H
#include "milter.h"
#include "milter8.h"

struct maps;

enum milter_state {
    MILTER_S_CLOSED,    /* not connected yet */
    MILTER_S_READY,
    MILTER_S_ACCEPT,    /* accepted the session: left out */
    MILTER_S_FAILED,    /* default_action answers for it */
};

struct milter_one {
    struct milter8 *m;
    enum milter_state state;
    bool msg_accept;    /* accepted this message: left out until the next */
    bool in_msg;        /* MAIL sent (ABORT needed to end it) */
};

struct milters {
    struct milter_one *v;
    size_t n;
    char **macros[MILTER8_NSTAGES + 1];     /* per stage; [NSTAGES] = unknown command */
    char **defaults;                        /* milter_macro_defaults name=value */
    char *daemon_name, *macro_v, *myhostname;
    milter_macro_fn macro_fn;
    void *macro_ctx;
    struct sbuf *reply;
    bool hold, discard;
    struct sbuf *hold_reason;
    struct maps *hdr_checks;                /* milter_header_checks, or NULL */
    char *redirect, *filter;                /* its REDIRECT / FILTER actions */
};

const char *milter_fail(struct milters *ms, struct milter_one *mo);
const char *milter_default_reply(struct milters *ms, struct milter_one *mo);
const char *milter_final(struct milters *ms, struct milter_one *mo, const struct milter8_reply *r,
                         bool conn_stage);
bool milter_skipped(const struct milter_one *mo, bool msg_event);
int milter_send_macros_stage(struct milters *ms, struct milter_one *mo, int stage, int cmd);

#endif
