/*
 * param_table_test.c - the parameter table's lookup and iteration helpers
 *
 * Used by: make unit.
 * Notes: config_test checks the table's size, order and a few entries
 *        through param_find(); this test covers param_find() at the edges,
 *        param_foreach() and param_type_name(), and the table's own
 *        invariants (bounds, units, defaults present).
 */
#include "harness.h"
#include "param_table.h"

struct walk {
    size_t count;
    const struct param_def *prev;
    bool ordered;
    bool same_entries;
};

static void walk_fn(const struct param_def *p, void *ctx)
{
    struct walk *w = ctx;
    if (w->prev && strcmp(w->prev->name, p->name) >= 0)
        w->ordered = false;
    if (p != &param_table[w->count])
        w->same_entries = false;
    w->prev = p;
    w->count++;
}

int main(void)
{
    harness_init();

    /* Every entry can be found by its own name, and only that entry. */
    size_t found = 0;
    for (size_t i = 0; i < param_table_count; i++)
        if (param_find(param_table[i].name) == &param_table[i])
            found++;
    EXPECT_EQ_INT(found, param_table_count);
    /* The ends of the binary search. */
    EXPECT_TRUE(param_find(param_table[0].name) == &param_table[0]);
    EXPECT_TRUE(param_find(param_table[param_table_count - 1].name) ==
                &param_table[param_table_count - 1]);
    EXPECT_EQ_STR(param_table[0].name, "2bounce_notice_recipient");
    /* Near misses are not found: exact names only. */
    EXPECT_TRUE(param_find("") == NULL);
    EXPECT_TRUE(param_find("0") == NULL);
    EXPECT_TRUE(param_find("zzzz") == NULL);
    EXPECT_TRUE(param_find("Myhostname") == NULL);
    EXPECT_TRUE(param_find("myhostname ") == NULL);
    EXPECT_TRUE(param_find("myhostnam") == NULL);
    EXPECT_TRUE(param_find("myhostname") != NULL);
    EXPECT_TRUE(param_find(P_QUEUE_DIRECTORY) != NULL);
    const struct param_def *p = param_find(P_MYHOSTNAME);
    EXPECT_TRUE(p && (p->flags & PARAM_F_DYNAMIC));
    p = param_find(P_IPC_TIMEOUT);
    EXPECT_TRUE(p && p->type == PARAM_TIME && strcmp(p->dflt, D_IPC_TIMEOUT) == 0);

    /* param_foreach visits every entry once, in table (name) order. */
    struct walk w = { 0, NULL, true, true };
    param_foreach(walk_fn, &w);
    EXPECT_EQ_INT(w.count, param_table_count);
    EXPECT_TRUE(w.ordered);
    EXPECT_TRUE(w.same_entries);

    /* Type names as postconf and the man pages print them. */
    EXPECT_EQ_STR(param_type_name(PARAM_STR), "string");
    EXPECT_EQ_STR(param_type_name(PARAM_BOOL), "boolean");
    EXPECT_EQ_STR(param_type_name(PARAM_INT), "integer");
    EXPECT_EQ_STR(param_type_name(PARAM_LONG), "long");
    EXPECT_EQ_STR(param_type_name(PARAM_TIME), "time");
    EXPECT_EQ_STR(param_type_name(PARAM_LIST), "list");
    EXPECT_EQ_STR(param_type_name((enum param_type)99), "string");

    /* Table invariants: a default string everywhere, a unit exactly on
     * time parameters, sane bounds, names in the main.cf alphabet
     * (letters, digits, "_"; a few have capitals: smtp_tls_CAfile). */
    size_t bad_default = 0, bad_unit = 0, bad_bounds = 0, bad_name = 0;
    for (size_t i = 0; i < param_table_count; i++) {
        const struct param_def *d = &param_table[i];
        if (d->dflt == NULL)
            bad_default++;
        if ((d->type == PARAM_TIME) != (d->unit != 0) ||
            (d->unit && strchr("smhdw", d->unit) == NULL))
            bad_unit++;
        if (d->max != 0 && d->max < d->min)
            bad_bounds++;
        for (const char *c = d->name; *c; c++)
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') ||
                  *c == '_'))
                bad_name++;
    }
    EXPECT_EQ_INT(bad_default, 0);
    EXPECT_EQ_INT(bad_unit, 0);
    EXPECT_EQ_INT(bad_bounds, 0);
    EXPECT_EQ_INT(bad_name, 0);
    return harness_done();
}
