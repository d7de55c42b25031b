/*
 * name_list.c - match a name against a Postfix "string list" setting
 *
 * Used by: see name_list.h.
 * Interface: see name_list.h.
 * Errors: logged once when the list is made; see name_list.h.
 */
#include "name_list.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "sbuf.h"
#include <stdio.h>

struct name_item {
    bool neg;
    char *word;             /* a plain word, or NULL */
    struct dict *table;     /* a type:table, or NULL (and no word: a dead item) */
};

struct name_list {
    struct name_item *items;
    size_t n;
};

static void name_list_add(struct name_list *l, bool neg, const char *word, struct dict *table)
{
    l->items = xreallocarray(l->items, l->n + 1, sizeof(*l->items));
    l->items[l->n].neg = neg;
    l->items[l->n].word = word ? xstrdup(word) : NULL;
    l->items[l->n].table = table;
    l->n++;
}

/* The words of a /file/name item, each with the item's negation. */
static void name_list_add_file(struct name_list *l, const char *title, bool neg, const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        log_warn("%s: cannot open %s: %m", title, path);
        return;
    }
    char line[1024];
    while (fgets(line, sizeof(line), fp)) {
        char *hash = strchr(line, '#');
        if (hash)
            *hash = 0;
        char **words = cfg_list(line);
        for (char **w = words; w && *w; w++)
            name_list_add(l, neg, *w, NULL);
        cfg_list_free(words);
    }
    fclose(fp);
}

struct name_list *name_list_new(const char *title, const char *value)
{
    struct name_list *l = xcalloc(1, sizeof(*l));
    char **items = cfg_list(value);
    for (char **p = items; p && *p; p++) {
        const char *item = *p;
        bool neg = false;
        while (*item == '!') {
            neg = !neg;
            item++;
        }
        if (*item == '/') {
            name_list_add_file(l, title, neg, item);
        } else if (strchr(item, ':')) {
            struct dict *d = dict_open(item, DICT_F_FOLD);
            if (d == NULL)
                log_warn("%s: table %s is unavailable: it matches nothing", title, item);
            name_list_add(l, neg, NULL, d);
        } else if (*item) {
            name_list_add(l, neg, item, NULL);
        }
    }
    cfg_list_free(items);
    return l;
}

int name_list_match(const struct name_list *l, const char *name)
{
    for (size_t i = 0; i < l->n; i++) {
        const struct name_item *it = &l->items[i];
        bool match;
        if (it->word) {
            match = strcasecmp(it->word, name) == 0;
        } else if (it->table) {
            match = dict_lookup(it->table, name) != NULL;
            if (!match && dict_error(it->table) < 0)
                return -1;
        } else {
            match = false;
        }
        if (match)
            return it->neg ? 0 : 1;
    }
    return 0;
}

bool name_list_empty(const struct name_list *l)
{
    return l->n == 0;
}

void name_list_free(struct name_list *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->n; i++) {
        xfree(l->items[i].word);
        if (l->items[i].table)
            dict_close(l->items[i].table);
    }
    xfree(l->items);
    xfree(l);
}
