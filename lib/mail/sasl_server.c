/*
 * sasl_server.c - SASL server front end: back-end choice and common checks
 *
 * Used by: smtpd (through sasl_server.h).
 * Interface: see sasl_server.h.
 * Errors: an unknown smtpd_sasl_type or a back end that cannot start is
 *         logged and reported as -1 by sasl_srv_init(); a server that
 *         was never initialised makes sasl_srv_new() return NULL.
 * Notes: the mechanism restriction (smtpd_sasl_mechanism_filter) is
 *        enforced here so that both back ends refuse a mechanism that was
 *        not announced, each with its own wording.
 */
#include "sasl_priv.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include <ctype.h>
#include <strings.h>

static const struct sasl_srv_backend *sasl_backend;

int sasl_srv_init(const char *type, const char *path, const char *config_path)
{
    const struct sasl_srv_backend *all[] = { &sasl_cyrus_backend, &sasl_dovecot_backend };
    const struct sasl_srv_backend *be = NULL;
    for (size_t i = 0; i < ARRAY_LEN(all); i++)
        if (strcasecmp(type, all[i]->name) == 0)
            be = all[i];
    if (be == NULL) {
        log_warn("unsupported SASL server implementation: %s", type);
        return -1;
    }
    if (be->init(path, config_path) < 0)
        return -1;
    sasl_backend = be;
    return 0;
}

struct sasl_srv *sasl_srv_new(const struct sasl_srv_args *args)
{
    if (sasl_backend == NULL) {
        log_warn("SASL server used before initialisation");
        return NULL;
    }
    struct sasl_srv *s = xcalloc(1, sizeof(*s));
    s->be = sasl_backend;
    s->mechs = sbuf_new(64);
    if (s->be->create(s, args) < 0) {
        sasl_srv_free(s);
        return NULL;
    }
    return s;
}

const char *sasl_srv_mechs(const struct sasl_srv *s)
{
    return sbuf_str(s->mechs);
}

void sasl_srv_restrict(struct sasl_srv *s, const char *mechs)
{
    sbuf_set(s->mechs, mechs);
}

/* True when mech is a word of the offered list (case-insensitive). */
static bool sasl_srv_offered(const struct sasl_srv *s, const char *mech)
{
    size_t n = strlen(mech);
    const char *p = sbuf_str(s->mechs);
    while (*p) {
        size_t w = strcspn(p, " ");
        if (w == n && strncasecmp(p, mech, n) == 0)
            return true;
        p += w;
        while (*p == ' ')
            p++;
    }
    return false;
}

enum sasl_srv_status sasl_srv_start(struct sasl_srv *s, const char *mech,
                                          const char *init_b64, struct sbuf *reply)
{
    xfree(s->method);
    s->method = xstrdup(mech);
    for (char *p = s->method; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    xfree(s->username);
    s->username = NULL;
    sbuf_reset(reply);
    if (!sasl_srv_offered(s, s->method)) {
        sbuf_set(reply, s->be->nomech_text);
        return SASL_SRV_FAIL;
    }
    return s->be->start(s, s->method, init_b64, reply);
}

enum sasl_srv_status sasl_srv_step(struct sasl_srv *s, const char *resp_b64,
                                         struct sbuf *reply)
{
    return s->be->step(s, resp_b64, reply);
}

const char *sasl_srv_username(const struct sasl_srv *s)
{
    return s->username;
}

const char *sasl_srv_method(const struct sasl_srv *s)
{
    return s->method ? s->method : "";
}

void sasl_srv_free(struct sasl_srv *s)
{
    if (s == NULL)
        return;
    if (s->be && s->priv)
        s->be->destroy(s);
    sbuf_free(s->mechs);
    xfree(s->method);
    xfree(s->username);
    xfree(s);
}

int sasl_srv_security_parse(const char *param, const char *value)
{
    static const struct {
        const char *word;
        int flag;
    } words[] = {
        { "noplaintext", SASL_SRV_SEC_NOPLAINTEXT },
        { "noactive", SASL_SRV_SEC_NOACTIVE },
        { "nodictionary", SASL_SRV_SEC_NODICTIONARY },
        { "noanonymous", SASL_SRV_SEC_NOANONYMOUS },
        { "forward_secrecy", SASL_SRV_SEC_FORWARD_SECRECY },
        { "mutual_auth", SASL_SRV_SEC_MUTUAL_AUTH },
    };
    char **list = cfg_list(value);
    int mask = 0;
    for (char **p = list; *p; p++) {
        size_t i;
        for (i = 0; i < ARRAY_LEN(words); i++)
            if (strcasecmp(*p, words[i].word) == 0)
                break;
        if (i == ARRAY_LEN(words)) {
            log_warn("unknown %s value \"%s\"", param, *p);
            mask = -1;
            break;
        }
        mask |= words[i].flag;
    }
    cfg_list_free(list);
    return mask;
}

bool sasl_srv_b64_valid(const char *text)
{
    size_t n = strlen(text), pad = 0;
    if (n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '=') {
            /* Padding only at the end, at most two. */
            if (i + 2 < n || (i + 1 < n && text[i + 1] != '='))
                return false;
            pad++;
        } else if (!(isalnum(c) || c == '+' || c == '/'))
            return false;
    }
    return pad <= 2;
}
