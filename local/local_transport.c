/*
 * local_transport.c - local(8) handing mailbox delivery to another transport
 *
 * Used by: local_deliver.c (mailbox step, mailbox command choice) and
 *          local_resolve.c (recipients without a passwd entry), through
 *          local_real_ops.unknown.
 * Interface: local_transport_init(), local_transport_mailbox(),
 *            local_transport_unknown(), local_transport_command().
 * Errors: a table that fails defers the recipient (4.3.0); a transport that
 *         cannot be reached defers it too ("mail transport unavailable").
 * Notes: Postfix's order. For a user with a passwd entry, after aliases and
 *        .forward: mailbox_transport_maps, then mailbox_transport, then
 *        mailbox_command_maps / mailbox_command, then the mailbox itself.
 *        For a user without one: mailbox_transport_maps, mailbox_transport,
 *        fallback_transport_maps, fallback_transport, then luser_relay or
 *        the bounce. The maps are searched with the bare user name (no
 *        extension, no domain). Handing over uses deliver_pass(): the other
 *        agent (lmtp to Dovecot, typically) logs and reports the delivery.
 */
#include "local.h"
#include "config.h"
#include "deliver_pass.h"
#include "log.h"
#include "maps.h"

static struct maps *lt_mailbox_maps;    /* mailbox_transport_maps */
static struct maps *lt_fallback_maps;   /* fallback_transport_maps */
static struct maps *lt_command_maps;    /* mailbox_command_maps */
static const char *lt_mailbox_transport;
static const char *lt_fallback_transport;
static const char *lt_mailbox_command;

void local_transport_init(void)
{
    lt_mailbox_transport = cfg_str(P_MAILBOX_TRANSPORT);
    lt_fallback_transport = cfg_str(P_FALLBACK_TRANSPORT);
    lt_mailbox_command = cfg_str(P_MAILBOX_COMMAND);
    if (*cfg_str(P_MAILBOX_TRANSPORT_MAPS))
        lt_mailbox_maps = maps_create(P_MAILBOX_TRANSPORT_MAPS, cfg_str(P_MAILBOX_TRANSPORT_MAPS),
                                      DICT_F_FOLD);
    if (*cfg_str(P_FALLBACK_TRANSPORT_MAPS))
        lt_fallback_maps = maps_create(P_FALLBACK_TRANSPORT_MAPS,
                                       cfg_str(P_FALLBACK_TRANSPORT_MAPS), DICT_F_FOLD);
    if (*cfg_str(P_MAILBOX_COMMAND_MAPS))
        lt_command_maps = maps_create(P_MAILBOX_COMMAND_MAPS, cfg_str(P_MAILBOX_COMMAND_MAPS),
                                      DICT_F_FOLD);
}

/* Hands st->address to spec and records the outcome in st->out. */
static void local_transport_pass(struct local_state *st, const char *spec)
{
    if (st->req == NULL) {      /* unit tests: nothing to talk to */
        local_real_ops.report(st, DELIVER_DEFERRED, "4.3.0", "mail transport unavailable");
        return;
    }
    struct deliver_rcpt leaf = *st->rc;
    leaf.address = (char *)st->address;
    if (*st->rc->orig == 0 && strcmp(st->address, st->rc->address) != 0)
        leaf.orig = st->rc->address;
    struct sbuf *why = sbuf_new(128);
    int r = deliver_pass(st->req, spec, &leaf, why);
    if (r < 0) {
        local_real_ops.report(st, DELIVER_DEFERRED, "4.3.0", sbuf_str(why));
    } else {
        /* The other agent logged it and wrote the status logs. */
        if (r > 0)
            st->out->deferred = true;
        st->out->leaves++;
    }
    sbuf_free(why);
}

/* Looks user up in m: 1 found (*value set, borrowed), 0 not, -1 after
 * deferring the recipient for a table error. */
static int local_transport_lookup(struct local_state *st, struct maps *m, const char *user,
                                  const char **value)
{
    if (m == NULL)
        return 0;
    *value = maps_find(m, user, 0);
    if (*value && **value)
        return 1;
    if (maps_error(m) != DICT_ERR_NONE) {
        struct sbuf *why = sbuf_new(64);
        sbuf_printf(why, "%s lookup failure", maps_title(m));
        local_real_ops.report(st, DELIVER_DEFERRED, "4.3.0", sbuf_str(why));
        sbuf_free(why);
        return -1;
    }
    return 0;
}

bool local_transport_mailbox(struct local_state *st, const char *user)
{
    const char *v;
    int r = local_transport_lookup(st, lt_mailbox_maps, user, &v);
    if (r < 0)
        return true;
    if (r > 0) {
        local_transport_pass(st, v);
        return true;
    }
    if (*lt_mailbox_transport) {
        local_transport_pass(st, lt_mailbox_transport);
        return true;
    }
    return false;
}

bool local_transport_unknown(struct local_state *st, const char *user)
{
    if (local_transport_mailbox(st, user))
        return true;
    const char *v;
    int r = local_transport_lookup(st, lt_fallback_maps, user, &v);
    if (r < 0)
        return true;
    if (r > 0) {
        local_transport_pass(st, v);
        return true;
    }
    if (*lt_fallback_transport) {
        local_transport_pass(st, lt_fallback_transport);
        return true;
    }
    return false;
}

const char *local_transport_command(struct local_state *st, const char *user, bool *failed)
{
    const char *v;
    *failed = false;
    int r = local_transport_lookup(st, lt_command_maps, user, &v);
    if (r < 0) {
        *failed = true;
        return NULL;
    }
    if (r > 0)
        return v;
    return lt_mailbox_command;
}
