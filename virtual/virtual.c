/*
 * virtual.c - the virtual delivery agent: main(), settings, one request
 *
 * Used by: master (master.cf "virtual unix - n n - - virtual": runs as root).
 * Interface: main(), virtual_cfg.
 * Errors: a bad request is logged and the connection closed (qmgr defers).
 *         Table failures defer the recipient (4.3.0); a uid, gid or
 *         mailbox path the tables should not have given defers it too
 *         (4.3.5 "mail system configuration error", with a warning that
 *         names the table), so a fixed table gets the mail delivered.
 * Notes: for each recipient: Delivered-To loop check, then
 *        virtual_mailbox_maps, virtual_uid_maps and virtual_gid_maps are
 *        looked up with the full address (then without its
 *        recipient_delimiter extension, then @domain); the mailbox is
 *        $virtual_mailbox_base/RESULT, a Maildir when RESULT ends in "/".
 *        Quota (the VDA patch's parameters, see virtual.h): with
 *        virtual_mailbox_extended or virtual_maildir_extended set, the
 *        limit from virtual_mailbox_limit_maps (else virtual_mailbox_limit)
 *        caps the whole Maildir (and an mbox file), and a message that
 *        does not fit bounces (virtual_overquota_bounce = yes, 5.2.2) or
 *        waits (4.2.2) with virtual_maildir_limit_message.
 */
#include "virtual.h"
#include "alloc.h"
#include "config.h"
#include "deliver_common.h"
#include "dsn_filter.h"
#include "log.h"
#include "qfile.h"
#include "server.h"
#include <ctype.h>

struct virtual_config virtual_cfg;

/* ---- settings ---- */

/* A VDA setting: its value when set in main.cf (or -o), else dflt. */
static const char *virtual_vda_str(const char *name, const char *dflt)
{
    return cfg_is_set(name) ? cfg_str(name) : dflt;
}

static bool virtual_vda_bool(const char *name, bool dflt)
{
    bool v;
    if (!cfg_is_set(name))
        return dflt;
    if (!config_parse_bool(cfg_str(name), &v))
        log_fatal("bad boolean configuration: %s = %s", name, cfg_str(name));
    return v;
}

/* Removes one pair of double quotes around s (returns new). main.cf keeps
 * quotes literally, but configurations written for the VDA patch quote
 * this text. */
static char *virtual_unquote(const char *s)
{
    size_t n = strlen(s);
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        char *v = xstrdup(s + 1);
        v[n - 2] = 0;
        return v;
    }
    return xstrdup(s);
}

static void virtual_init(void)
{
    struct virtual_config *c = &virtual_cfg;
    const char *bad = NULL;

    c->status_filter =
        dsn_filter_new(P_VIRTUAL_DELIVERY_STATUS_FILTER, cfg_str(P_VIRTUAL_DELIVERY_STATUS_FILTER));
    c->base = cfg_str(P_VIRTUAL_MAILBOX_BASE);
    if (*c->base && *c->base != '/')
        log_fatal("do not specify relative pathname: %s = %s", P_VIRTUAL_MAILBOX_BASE, c->base);
    c->delim = cfg_str(P_RECIPIENT_DELIMITER);
    c->hostname = cfg_str(P_MYHOSTNAME);
    c->min_uid = cfg_long(P_VIRTUAL_MINIMUM_UID);
    c->mailbox_limit = cfg_long(P_VIRTUAL_MAILBOX_LIMIT);
    long msg_limit = cfg_long(P_MESSAGE_SIZE_LIMIT);
    if (c->mailbox_limit > 0 && msg_limit == 0)
        log_fatal("configuration error: %s is limited but %s is unlimited",
                  P_VIRTUAL_MAILBOX_LIMIT, P_MESSAGE_SIZE_LIMIT);
    if (c->mailbox_limit > 0 && c->mailbox_limit < msg_limit)
        log_fatal("configuration error: %s is smaller than %s", P_VIRTUAL_MAILBOX_LIMIT,
                  P_MESSAGE_SIZE_LIMIT);
    c->lock_mask = mbox_lock_mask(cfg_str(P_VIRTUAL_MAILBOX_LOCK), &bad);
    if (c->lock_mask < 0)
        log_fatal("%s = %s: %s", P_VIRTUAL_MAILBOX_LOCK, cfg_str(P_VIRTUAL_MAILBOX_LOCK), bad);
    mbox_lock_opts_init(&c->lock_opts);
    c->strict_owner = cfg_bool(P_STRICT_MAILBOX_OWNERSHIP);

    c->extended = virtual_vda_bool(VIRTUAL_P_MAILBOX_EXTENDED, false)
                  || virtual_vda_bool(VIRTUAL_P_MAILDIR_EXTENDED, false);
    c->create_maildirsize = virtual_vda_bool(VIRTUAL_P_CREATE_MAILDIRSIZE, false);
    c->limit_override = virtual_vda_bool(VIRTUAL_P_LIMIT_OVERRIDE, false);
    c->overquota_bounce = virtual_vda_bool(VIRTUAL_P_OVERQUOTA_BOUNCE, false);
    c->trash_count = virtual_vda_bool(VIRTUAL_P_TRASH_COUNT, false);
    c->trash_name = virtual_vda_str(VIRTUAL_P_TRASH_NAME, VIRTUAL_D_TRASH_NAME);
    xfree(c->limit_message);
    c->limit_message = virtual_unquote(virtual_vda_str(VIRTUAL_P_LIMIT_MESSAGE,
                                                       VIRTUAL_D_LIMIT_MESSAGE));

    c->mailbox_maps = maps_create(P_VIRTUAL_MAILBOX_MAPS, cfg_str(P_VIRTUAL_MAILBOX_MAPS),
                                  DICT_F_FOLD);
    c->uid_maps = maps_create(P_VIRTUAL_UID_MAPS, cfg_str(P_VIRTUAL_UID_MAPS),
                              DICT_F_FOLD | DICT_F_NO_PROXY);
    c->gid_maps = maps_create(P_VIRTUAL_GID_MAPS, cfg_str(P_VIRTUAL_GID_MAPS),
                              DICT_F_FOLD | DICT_F_NO_PROXY);
    const char *lm = virtual_vda_str(VIRTUAL_P_LIMIT_MAPS, "");
    c->limit_maps = *lm ? maps_create(VIRTUAL_P_LIMIT_MAPS, lm, DICT_F_FOLD) : NULL;
}

/* ---- one recipient ---- */

/* Looks up a uid or gid; 0 with *out set, or -1 after reporting. */
static int virtual_id(struct deliver_request *r, const struct deliver_rcpt *rc, struct maps *m,
                      const char *kind, const char *key, long min, long *out)
{
    const char *v = maps_find_addr(m, key, virtual_cfg.delim, 0, NULL);
    if (v == NULL) {
        if (maps_error(m) != DICT_ERR_NONE) {
            deliver_defer(r, rc, "4.3.0", "mail system configuration error");
            return -1;
        }
        log_warn("recipient %s: not found in %s", rc->address, maps_title(m));
        deliver_defer(r, rc, "4.3.5", "mail system configuration error");
        return -1;
    }
    long id;
    if (!config_parse_long(v, &id) || id < min) {
        log_warn("recipient %s: bad %s %s in %s", rc->address, kind, v, maps_title(m));
        deliver_defer(r, rc, "4.3.5", "mail system configuration error");
        return -1;
    }
    *out = id;
    return 0;
}

/* True when the table's mailbox path could leave the mailbox base. */
static bool virtual_path_unsafe(const char *p)
{
    for (const char *s = p; *s; s++)
        if ((s == p || s[-1] == '/') && s[0] == '.' && s[1] == '.' && (s[2] == '/' || s[2] == 0))
            return true;
    return false;
}

static void virtual_recipient(struct deliver_request *r, const struct deliver_rcpt *rc,
                              char **delivered)
{
    struct virtual_config *c = &virtual_cfg;
    struct sbuf *key = sbuf_new(128), *path = sbuf_new(256), *msg = NULL;

    /* Keys are case-insensitive. */
    sbuf_set(key, rc->address);
    for (char *p = sbuf_data(key); *p; p++)
        *p = (char)tolower((unsigned char)*p);

    for (char **d = delivered; *d; d++) {
        if (strcasecmp(*d, rc->address) == 0) {
            deliver_bounce(r, rc, "5.4.6", "mail forwarding loop for %s", rc->address);
            goto out;
        }
    }
    const char *mb = maps_find_addr(c->mailbox_maps, sbuf_str(key), c->delim, 0, NULL);
    if (mb == NULL) {
        if (maps_error(c->mailbox_maps) != DICT_ERR_NONE) {
            log_warn("table %s: lookup %s: failed", maps_title(c->mailbox_maps), sbuf_str(key));
            deliver_defer(r, rc, "4.3.0", "mail system configuration error");
        } else
            deliver_bounce(r, rc, "5.1.1", "unknown user: \"%s\"", rc->address);
        goto out;
    }
    while (*mb == ' ' || *mb == '\t')
        mb++;
    if (*mb == 0 || virtual_path_unsafe(mb)) {
        log_warn("recipient %s: bad mailbox \"%s\" in %s", rc->address, mb,
                 maps_title(c->mailbox_maps));
        deliver_defer(r, rc, "4.3.5", "mail system configuration error");
        goto out;
    }
    sbuf_printf(path, "%s/%s", c->base, mb);

    struct virtual_dest d = { .path = sbuf_str(path), .limit = c->mailbox_limit };
    long uid, gid;
    if (virtual_id(r, rc, c->uid_maps, "uid", sbuf_str(key), c->min_uid, &uid) < 0
        || virtual_id(r, rc, c->gid_maps, "gid", sbuf_str(key), 1, &gid) < 0)
        goto out;
    d.uid = (uid_t)uid;
    d.gid = (gid_t)gid;

    if (c->extended) {
        d.quota = true;
        if (c->limit_maps) {
            const char *lv = maps_find_addr(c->limit_maps, sbuf_str(key), c->delim, 0, NULL);
            if (lv == NULL && maps_error(c->limit_maps) != DICT_ERR_NONE) {
                deliver_defer(r, rc, "4.3.0", "mail system configuration error");
                goto out;
            }
            bool bad;
            d.limit = virtual_quota_limit(c->mailbox_limit, lv, c->limit_override, &bad);
            if (bad)
                log_warn("recipient %s: bad limit \"%s\" in %s; using %s", rc->address, lv,
                         VIRTUAL_P_LIMIT_MAPS, P_VIRTUAL_MAILBOX_LIMIT);
        }
    }

    bool maildir = sbuf_str(path)[sbuf_len(path) - 1] == '/';
    if (r->flags & DELIVER_REQ_F_CHECK_ONLY) {
        /* A probe: the mailbox is known; nothing is written. */
        deliver_sent(r, rc, "2.0.0", "delivers to %s %s", maildir ? "maildir" : "mailbox",
                     sbuf_str(path));
        goto out;
    }
    msg = sbuf_new(8192);
    if (virtual_render(r, rc, !maildir, msg) < 0) {
        deliver_defer(r, rc, "4.3.0", "queue file read error");
        goto out;
    }
    if (maildir)
        virtual_deliver_maildir(r, rc, &d, msg);
    else
        virtual_deliver_mbox(r, rc, &d, msg);
out:
    sbuf_free(key);
    sbuf_free(path);
    sbuf_free(msg);
}

static void virtual_service(struct stream *client)
{
    struct deliver_request *r = deliver_request_read(client, "virtual", virtual_cfg.status_filter);
    if (r == NULL)
        return;
    char **delivered = deliver_delivered_to(r);
    for (size_t i = 0; i < r->nrcpt; i++)
        virtual_recipient(r, &r->rcpts[i], delivered);
    deliver_strv_free(delivered);
    deliver_request_done(client, r);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .model = SERVER_SINGLE,
        .pre_jail = virtual_init,
        .service = virtual_service,
        .delivery = true,
    };
    return server_main(argc, argv, &ops);
}
