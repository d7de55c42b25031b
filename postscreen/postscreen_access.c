/*
 * postscreen_access.c - postscreen_access_list: permanent allow and deny
 *
 * Used by: postscreen.c before any test.
 * Interface: ps_access_init(), ps_access_check().
 * Errors: a bad item is fatal at start; a table that fails during a lookup
 *         is logged and the list answers "neither" (the tests then decide).
 * Notes: the list is read left to right and the first match decides:
 *          permit_mynetworks  the client is in $mynetworks: permit
 *          type:table         the client address is looked up (cidr: is
 *                             the usual type); the answer is permit,
 *                             reject or dunno (go on), as in Postfix
 *        Anything else is refused at start.
 */
#include "postscreen.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "mynetworks.h"
#include "params.h"
#include <strings.h>

struct ps_access_item {
    struct dict *table;          /* NULL: permit_mynetworks */
};

static struct ps_access_item *ps_access;
static size_t ps_naccess;
static struct mynetworks *ps_mynetworks;

void ps_access_init(void)
{
    char **items = cfg_list(cfg_str(P_POSTSCREEN_ACCESS_LIST));
    for (char **p = items; *p; p++) {
        ps_access = xrealloc(ps_access, (ps_naccess + 1) * sizeof(*ps_access));
        struct ps_access_item *it = &ps_access[ps_naccess++];
        it->table = NULL;
        if (strcasecmp(*p, "permit_mynetworks") == 0) {
            if (ps_mynetworks == NULL)
                /* postscreen knows addresses only: name items never match */
                ps_mynetworks = mynetworks_new(P_MYNETWORKS, cfg_str(P_MYNETWORKS), true);
        } else if (strchr(*p, ':') != NULL) {
            it->table = dict_open(*p, DICT_F_FOLD);
            if (it->table == NULL)
                log_fatal("%s: cannot open table %s", P_POSTSCREEN_ACCESS_LIST, *p);
        } else
            log_fatal("%s: unknown item \"%s\" (expected permit_mynetworks or type:table)",
                      P_POSTSCREEN_ACCESS_LIST, *p);
    }
    cfg_list_free(items);
}

int ps_access_check(const char *addr)
{
    for (size_t i = 0; i < ps_naccess; i++) {
        struct ps_access_item *it = &ps_access[i];
        if (it->table == NULL) {
            if (mynetworks_match(ps_mynetworks, addr, NULL) == 1)
                return 1;
            continue;
        }
        const char *v = dict_lookup(it->table, addr);
        if (v == NULL) {
            if (dict_error(it->table) < 0)
                log_warn("%s: table %s lookup error for %s", P_POSTSCREEN_ACCESS_LIST,
                         dict_name(it->table), addr);
            continue;
        }
        /* The first word decides; Postfix allows a comment after it. */
        size_t n = strcspn(v, " \t");
        if (n == 6 && strncasecmp(v, "permit", 6) == 0)
            return 1;
        if (n == 6 && strncasecmp(v, "reject", 6) == 0)
            return -1;
        if (n == 5 && strncasecmp(v, "dunno", 5) == 0)
            continue;
        log_warn("%s: table %s: unexpected result \"%s\" for %s (expected permit, reject "
                 "or dunno)", P_POSTSCREEN_ACCESS_LIST, dict_name(it->table), v, addr);
    }
    return 0;
}
