/*
 * local_resolve.c - from a local address to mailboxes, files, commands and
 *                   forwarded copies: aliases, .forward and :include:
 *
 * Used by: local.c (per recipient), tests/unit/local_alias_test.c.
 * Interface: local_resolve(), local_resolve_token(), local_seen(),
 *            local_outcome_free().
 * Errors: every outcome goes through ops->report() or a leaf operation;
 *         table and user-database failures are temporary (4.3.0).
 * Notes: order for user+ext@domain: Delivered-To loop check, alias_maps
 *        ("user+ext", then "user"), the password file, the first .forward
 *        found on forward_path, then the mailbox. An alias or .forward that
 *        names its own user again goes straight on to the next step (a
 *        self-reference means "also keep a copy here"). Within one queue
 *        recipient each destination is delivered at most once. The
 *        Delivered-To: value is the queue recipient (frozen_delivered_to =
 *        yes) or the last local address expanded (no).
 */
#include "local.h"
#include "alloc.h"
#include "addr.h"
#include "dict.h"
#include "log.h"

bool local_seen(struct local_outcome *out, const char *key, int limit)
{
    for (size_t i = 0; i < out->nseen; i++)
        if (strcmp(out->seen[i], key) == 0)
            return true;
    if (limit > 0 && out->nseen >= (size_t)limit)
        return false;       /* filter full: no longer remembers (may duplicate) */
    if (out->nseen == out->seen_cap) {
        out->seen_cap = out->seen_cap ? out->seen_cap * 2 : 8;
        out->seen = xreallocarray(out->seen, out->seen_cap, sizeof(*out->seen));
    }
    out->seen[out->nseen++] = xstrdup(key);
    return false;
}

void local_outcome_free(struct local_outcome *out)
{
    for (size_t i = 0; i < out->nseen; i++)
        xfree(out->seen[i]);
    xfree(out->seen);
    memset(out, 0, sizeof(*out));
}

static bool local_has_parent(const struct local_state *st, int type, const char *name)
{
    for (const struct local_parent *p = st->parents; p; p = p->up)
        if (p->type == type && strcmp(p->name, name) == 0)
            return true;
    return false;
}

static bool local_dup(struct local_state *st, const struct local_config *cfg, const char *kind,
                      const char *what)
{
    struct sbuf *k = sbuf_new(64);
    sbuf_printf(k, "%s:%s", kind, what);
    bool dup = local_seen(st->out, sbuf_str(k), cfg->dup_limit);
    sbuf_free(k);
    return dup;
}

/* allow_mail_to_* class for how st was reached. */
static int local_exp_class(const struct local_state *st)
{
    switch (st->exp_type) {
    case LOCAL_EXP_ALIAS:
        return LOCAL_ALLOW_ALIAS;
    case LOCAL_EXP_FORWARD:
        return LOCAL_ALLOW_FORWARD;
    case LOCAL_EXP_INCLUDE:
        return LOCAL_ALLOW_INCLUDE;
    default:
        return 0;
    }
}

/* Expands every token of text below st. */
static void local_resolve_text(struct local_state *child, const struct local_ops *ops,
                               const struct local_config *cfg, const char *text)
{
    char **toks = local_tokenize(text, NULL);
    for (char **t = toks; *t; t++)
        local_resolve_token(child, ops, cfg, *t);
    local_tokens_free(toks);
}

/* Tries the alias table for key. Returns true when it handled the address. */
static bool local_try_alias(struct local_state *st, const struct local_ops *ops,
                            const struct local_config *cfg, const char *key, const char *ext)
{
    int err = 0;
    if (local_has_parent(st, LOCAL_EXP_ALIAS, key))
        return false;       /* the alias names itself: deliver here */
    const char *v = ops->alias(key, &err);
    if (err < 0) {
        ops->report(st, DELIVER_DEFERRED, "4.3.0", "alias database unavailable");
        return true;
    }
    if (v == NULL)
        return false;
    if (st->req && (st->req->flags & DELIVER_REQ_F_VERIFY)) {
        /* A probe stops at the alias: the address exists. (sendmail -bv
         * goes on, to show where the mail would go.) */
        struct sbuf *t = sbuf_new(128);
        sbuf_printf(t, "aliased to %s", v);
        ops->report(st, DELIVER_SENT, "2.0.0", sbuf_str(t));
        sbuf_free(t);
        return true;
    }
    char *value = xstrdup(v);

    struct local_state child = *st;
    struct local_parent me = { .up = st->parents, .type = LOCAL_EXP_ALIAS, .name = key };
    struct sbuf *owner = sbuf_new(64);
    child.parents = &me;
    child.level = st->level + 1;
    child.exp_type = LOCAL_EXP_ALIAS;
    child.exp_from = key;
    child.have_privs = false;
    child.extension = ext;
    /* owner-KEY takes the bounces for mail expanded from KEY */
    if (cfg->owner_request_special && strncmp(key, "owner-", 6) != 0) {
        struct sbuf *ok = sbuf_new(64);
        sbuf_printf(ok, "owner-%s", key);
        const char *ov = ops->alias(sbuf_str(ok), &err);
        if (err < 0) {
            ops->report(st, DELIVER_DEFERRED, "4.3.0", "alias database unavailable");
            sbuf_free(ok);
            sbuf_free(owner);
            xfree(value);
            return true;
        }
        if (ov) {
            size_t n = 0;
            const char *rest;
            char **t = cfg->expand_owner_alias ? local_tokenize(ov, &n) : NULL;
            if (t && n == 1 && local_token_kind(t[0], &rest) == LOCAL_TOK_ADDRESS)
                sbuf_set(owner, t[0]);
            else
                sbuf_printf(owner, "%s@%s", sbuf_str(ok), cfg->myorigin);
            local_tokens_free(t);
            child.sender = sbuf_str(owner);
        }
        sbuf_free(ok);
    }
    local_resolve_text(&child, ops, cfg, value);
    sbuf_free(owner);
    xfree(value);
    return true;
}

void local_resolve(struct local_state *st, const struct local_ops *ops,
                   const struct local_config *cfg)
{
    struct sbuf *lp = sbuf_new(64), *user = sbuf_new(64), *ext = sbuf_new(32);
    struct sbuf *tmp = sbuf_new(128);
    struct local_pw pw = { 0 };
    const char *at = strrchr(st->address, '@');
    const char *domain = at ? at + 1 : "";

    if (st->level > LOCAL_LEVEL_MAX) {
        ops->report(st, DELIVER_BOUNCED, "5.4.6", "mail forwarding loop");
        goto out;
    }
    /* frozen_delivered_to = no: each local address on the way (an alias,
     * a user with .forward, the mailbox) becomes the Delivered-To: value
     * of what is delivered or forwarded from it. yes: the queue recipient
     * stays (local.c set it). The loop check looks at every address. */
    if (!cfg->frozen_delivered)
        st->delivered = st->address;
    if (ops->has_delivered_to(st->address)) {
        sbuf_printf(tmp, "mail forwarding loop for %s", st->address);
        ops->report(st, DELIVER_BOUNCED, "5.4.6", sbuf_str(tmp));
        goto out;
    }
    if (at)
        sbuf_append(lp, st->address, (size_t)(at - st->address));
    else
        sbuf_set(lp, st->address);
    dict_fold(sbuf_data(lp));
    local_split_ext(sbuf_str(lp), cfg->recipient_delimiter, cfg->owner_request_special, user,
                    ext);
    if (sbuf_len(user) == 0) {
        sbuf_printf(tmp, "null username in \"%s\"", st->address);
        ops->report(st, DELIVER_BOUNCED, "5.1.3", sbuf_str(tmp));
        goto out;
    }

    /* 1. aliases: the full local part first, then without extension */
    if (sbuf_len(ext) > 0 && local_try_alias(st, ops, cfg, sbuf_str(lp), ""))
        goto out;
    if (local_try_alias(st, ops, cfg, sbuf_str(user), sbuf_str(ext)))
        goto out;

    /* 2. the password file */
    int found = ops->getpw(sbuf_str(user), &pw);
    if (found < 0) {
        ops->report(st, DELIVER_DEFERRED, "4.3.0", "user lookup error");
        goto out;
    }
    if (found == 0) {
        if (ops->unknown && ops->unknown(st, sbuf_str(user)))
            goto out;       /* mailbox_transport or fallback_transport */
        if (cfg->luser_relay && *cfg->luser_relay) {
            const char *names[] = { "user", "local", "extension", "recipient_delimiter",
                                    "domain", "recipient", "home", NULL };
            const char *ext_nodelim = sbuf_len(ext) ? sbuf_str(ext) + 1 : "";
            char dch[2] = { sbuf_len(ext) ? sbuf_str(ext)[0] : 0, 0 };
            const char *values[] = { sbuf_str(user), sbuf_str(lp), ext_nodelim, dch,
                                     domain, st->address, "", NULL };
            struct sbuf *relay = sbuf_new(64);
            local_expand(relay, cfg->luser_relay, names, values);
            struct local_state child = *st;
            child.level = st->level + 1;
            local_resolve_token(&child, ops, cfg, sbuf_str(relay));
            sbuf_free(relay);
        } else {
            sbuf_printf(tmp, "unknown user: \"%s\"", sbuf_str(user));
            ops->report(st, DELIVER_BOUNCED, "5.1.1", sbuf_str(tmp));
        }
        goto out;
    }

    struct local_state self = *st;
    self.user = &pw;
    self.extension = sbuf_str(ext);

    /* require_home_directory: neither .forward nor mailbox while the home
     * directory cannot be reached (an unmounted file system, say). */
    int herr = 0;
    if (cfg->require_home && ops->stat_home && ops->stat_home(&pw, &herr) < 0) {
        sbuf_printf(tmp, "cannot access home directory %s: %s", pw.home, strerror(herr));
        ops->report(st, DELIVER_DEFERRED, "4.3.0", sbuf_str(tmp));
        goto out;
    }

    /* 3. .forward, unless we got here from this user's own .forward */
    if (!local_has_parent(st, LOCAL_EXP_FORWARD, pw.name) && cfg->forward_path
        && *cfg->forward_path) {
        char dch[2] = { sbuf_len(ext) ? sbuf_str(ext)[0] : 0, 0 };
        const char *names[] = { "home", "user", "extension", "recipient_delimiter", "domain",
                                "local", "recipient", "shell", NULL };
        const char *values[] = { pw.home, pw.name, sbuf_len(ext) ? sbuf_str(ext) + 1 : "",
                                 dch, domain, sbuf_str(lp), st->address, pw.shell, NULL };
        char **paths = local_tokenize(cfg->forward_path, NULL);
        for (char **p = paths; *p; p++) {
            /* forward_expansion_filter: a character of a value (the address,
             * its extension) outside the set becomes "_" in the file name. */
            if (!local_expand_filtered(tmp, *p, names, values, cfg->forward_filter))
                continue;   /* refers to something empty (no extension) */
            int err = 0;
            uid_t owner = (uid_t)-1;
            char *text = ops->read_file(sbuf_str(tmp), pw.uid, pw.gid, &owner, &err);
            if (text != NULL && owner != 0 && owner != pw.uid) {
                /* Only the user or root may redirect the user's mail: the
                 * file is ignored and the mail stays here. */
                log_warn("file %s has bad owner uid %ld", sbuf_str(tmp), (long)owner);
                xfree(text);
                break;
            }
            if (text == NULL) {
                if (err == ENOENT || err == ENOTDIR || err == EACCES)
                    continue;
                struct sbuf *why = sbuf_new(128);
                sbuf_printf(why, "cannot open file %s: %s", sbuf_str(tmp), strerror(err));
                ops->report(st, DELIVER_DEFERRED, "4.3.0", sbuf_str(why));
                sbuf_free(why);
                local_tokens_free(paths);
                goto out;
            }
            size_t n;
            char **toks = local_tokenize(text, &n);
            local_tokens_free(toks);
            if (n == 0) {
                xfree(text);
                continue;
            }
            struct local_state child = self;
            struct local_parent me = { .up = st->parents, .type = LOCAL_EXP_FORWARD,
                                       .name = pw.name };
            child.parents = &me;
            child.level = st->level + 1;
            child.exp_type = LOCAL_EXP_FORWARD;
            child.exp_from = pw.name;
            child.have_privs = true;
            child.uid = pw.uid;
            child.gid = pw.gid;
            child.extension = "";
            local_resolve_text(&child, ops, cfg, text);
            xfree(text);
            local_tokens_free(paths);
            goto out;
        }
        local_tokens_free(paths);
    }

    /* 4. the mailbox */
    if (!local_dup(&self, cfg, "mailbox", pw.name))
        ops->mailbox(&self, &pw);
out:
    local_pw_free(&pw);
    sbuf_free(lp);
    sbuf_free(user);
    sbuf_free(ext);
    sbuf_free(tmp);
}

/* Adds ext to the local part of addr when it has none (extension propagation). */
static void local_add_ext(struct sbuf *out, const char *addr, const char *ext,
                          const struct local_config *cfg)
{
    const char *at = strrchr(addr, '@');
    size_t lplen = at ? (size_t)(at - addr) : strlen(addr);
    bool has = false;
    for (size_t i = 1; i < lplen && cfg->recipient_delimiter; i++)
        if (strchr(cfg->recipient_delimiter, addr[i]))
            has = true;
    sbuf_reset(out);
    sbuf_append(out, addr, lplen);
    if (!has && ext && *ext)
        sbuf_cat(out, ext);
    if (at)
        sbuf_cat(out, at);
}

void local_resolve_token(struct local_state *st, const struct local_ops *ops,
                         const struct local_config *cfg, const char *tok)
{
    const char *rest;
    enum local_token kind = local_token_kind(tok, &rest);
    struct sbuf *why = sbuf_new(128);
    struct local_pw pw = { 0 };

    switch (kind) {
    case LOCAL_TOK_ADDRESS: {
        if (*rest == 0 || *rest == '@')
            break;
        struct sbuf *addr = sbuf_new(64);
        local_add_ext(addr, rest, st->extension, cfg);
        if (strchr(sbuf_str(addr), '@') == NULL)
            sbuf_catf(addr, "@%s", cfg->myorigin);
        addr_fold_domain(sbuf_data(addr));
        const char *domain = strrchr(sbuf_str(addr), '@') + 1;
        int loc = ops->is_local_domain(domain);
        struct local_state child = *st;
        child.address = sbuf_str(addr);
        child.level = st->level + 1;
        if (loc < 0)
            ops->report(&child, DELIVER_DEFERRED, "4.3.0", "local domain lookup failure");
        else if (loc > 0) {
            if (!local_dup(st, cfg, "local", sbuf_str(addr)))
                local_resolve(&child, ops, cfg);
        } else if (!local_dup(st, cfg, "forward", sbuf_str(addr)))
            ops->forward(&child, sbuf_str(addr));
        sbuf_free(addr);
        break;
    }
    case LOCAL_TOK_MAILBOX: {
        struct sbuf *user = sbuf_new(64);
        const char *at = strrchr(rest, '@');
        sbuf_set(user, rest);
        if (at)
            sbuf_truncate(user, (size_t)(at - rest));
        dict_fold(sbuf_data(user));
        int found = sbuf_len(user) ? ops->getpw(sbuf_str(user), &pw) : 0;
        struct local_state child = *st;
        struct sbuf *addr = sbuf_new(64);
        sbuf_printf(addr, "%s@%s", sbuf_str(user), cfg->myorigin);
        child.address = sbuf_str(addr);
        if (!cfg->frozen_delivered)
            child.delivered = child.address;
        if (found < 0)
            ops->report(&child, DELIVER_DEFERRED, "4.3.0", "user lookup error");
        else if (found == 0) {
            sbuf_printf(why, "unknown user: \"%s\"", sbuf_str(user));
            ops->report(&child, DELIVER_BOUNCED, "5.1.1", sbuf_str(why));
        } else if (!local_dup(st, cfg, "mailbox", pw.name)) {
            child.user = &pw;
            child.extension = "";
            ops->mailbox(&child, &pw);
        }
        sbuf_free(addr);
        sbuf_free(user);
        break;
    }
    case LOCAL_TOK_FILE:
        if (!(cfg->allow_files & local_exp_class(st)))
            ops->report(st, DELIVER_BOUNCED, "5.7.1", "mail to file is restricted");
        else if (!local_dup(st, cfg, "file", rest))
            ops->file(st, rest);
        break;
    case LOCAL_TOK_COMMAND:
        if (!(cfg->allow_commands & local_exp_class(st)))
            ops->report(st, DELIVER_BOUNCED, "5.7.1", "mail to command is restricted");
        else if (*rest == 0)
            ops->report(st, DELIVER_BOUNCED, "5.3.5", "empty command");
        else if (!local_dup(st, cfg, "command", rest))
            ops->command(st, rest);
        break;
    case LOCAL_TOK_INCLUDE: {
        if (*rest != '/') {
            sbuf_printf(why, "unsupported :include: destination %s", rest);
            ops->report(st, DELIVER_BOUNCED, "5.3.5", sbuf_str(why));
            break;
        }
        if (local_has_parent(st, LOCAL_EXP_INCLUDE, rest) || local_dup(st, cfg, "include", rest))
            break;
        int err = 0;
        uid_t owner = (uid_t)-1;
        char *text = ops->read_file(rest, st->have_privs ? st->uid : (uid_t)-1,
                                    st->have_privs ? st->gid : (gid_t)-1, &owner, &err);
        if (text == NULL) {
            sbuf_printf(why, "cannot open include file %s: %s", rest, strerror(err));
            ops->report(st, err == ENOENT ? DELIVER_BOUNCED : DELIVER_DEFERRED,
                        err == ENOENT ? "5.3.5" : "4.3.0", sbuf_str(why));
            break;
        }
        struct local_state child = *st;
        /* Delivery rights: an include file reached without a user context
         * (from a root-owned alias) lends its owner's rights to the files and
         * commands it names, unless root owns it (then default_privs). With a
         * user context (a .forward) the rights stay that user's: nobody gains
         * another user's rights by including a file the victim owns. */
        if (!st->have_privs && owner != 0) {
            int found = ops->getpwuid(owner, &pw);
            if (found <= 0) {
                log_warn("%s: cannot find :include: file owner username for uid %ld", rest,
                         (long)owner);
                ops->report(st, DELIVER_DEFERRED, "4.3.5", "mail system configuration error");
                xfree(text);
                break;
            }
            child.have_privs = true;
            child.uid = pw.uid;
            child.gid = pw.gid;
        }
        struct local_parent me = { .up = st->parents, .type = LOCAL_EXP_INCLUDE, .name = rest };
        child.parents = &me;
        child.level = st->level + 1;
        child.exp_type = LOCAL_EXP_INCLUDE;
        child.exp_from = rest;
        local_resolve_text(&child, ops, cfg, text);
        xfree(text);
        break;
    }
    }
    local_pw_free(&pw);
    sbuf_free(why);
}
