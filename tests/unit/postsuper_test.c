/*
 * postsuper_test.c - postsuper argument handling and summary wording
 *
 * Used by: make unit. Includes cmd/postsuper/postsuper_args.c.
 */
#include "harness.h"
#include "../../cmd/postsuper/postsuper_args.c"

static int parse(struct ps_args *a, struct sbuf *err, const char *const *v)
{
    static char *argv[32];     /* a.queues borrows from it */
    int argc = 0;
    for (; v[argc]; argc++)
        argv[argc] = (char *)v[argc];
    argv[argc] = NULL;
    return ps_parse_args(a, argc, argv, err);
}

int main(void)
{
    struct ps_args a;
    struct sbuf *err = sbuf_new(64);
    harness_init();

    static const char *const v1[] = { "postsuper", "-d", "ABC123", "-d", "ALL", "-h", "-",
                                      "-r", "DEF", "-s", "-v", "deferred", "hold", NULL };
    EXPECT_EQ_INT(parse(&a, err, v1), 0);
    EXPECT_EQ_INT(a.nids[PS_DELETE], 2);
    EXPECT_EQ_STR(a.ids[PS_DELETE][0], "ABC123");
    EXPECT_EQ_STR(a.ids[PS_DELETE][1], "ALL");
    EXPECT_EQ_STR(a.ids[PS_HOLD][0], "-");
    EXPECT_EQ_STR(a.ids[PS_REQUEUE][0], "DEF");
    EXPECT_EQ_INT(a.nids[PS_RELEASE], 0);
    EXPECT_TRUE(a.structure);
    EXPECT_EQ_INT(a.verbose, 1);
    EXPECT_TRUE(a.queues != NULL && strcmp(a.queues[0], "deferred") == 0
                && strcmp(a.queues[1], "hold") == 0 && a.queues[2] == NULL);
    ps_args_free(&a);

    static const char *const v2[] = { "postsuper", "-f", "X1", "-c", "/etc/pf", "-p", NULL };
    EXPECT_EQ_INT(parse(&a, err, v2), 0);
    EXPECT_EQ_STR(a.ids[PS_EXPIRE][0], "X1");
    EXPECT_EQ_STR(a.ids[PS_RELEASE][0], "X1");
    EXPECT_EQ_STR(a.config_dir, "/etc/pf");
    EXPECT_TRUE(a.purge && a.queues == NULL);
    ps_args_free(&a);

    static const char *const bad_id[] = { "postsuper", "-d", "../etc/passwd", NULL };
    EXPECT_EQ_INT(parse(&a, err, bad_id), -1);
    EXPECT_TRUE(strstr(sbuf_str(err), "invalid mail queue id") != NULL);
    ps_args_free(&a);

    static const char *const bad_q[] = { "postsuper", "-d", "ALL", "bounce", NULL };
    EXPECT_EQ_INT(parse(&a, err, bad_q), -1);
    EXPECT_TRUE(strstr(sbuf_str(err), "unknown queue: bounce") != NULL);
    ps_args_free(&a);

    static const char *const bad_opt[] = { "postsuper", "-x", NULL };
    EXPECT_EQ_INT(parse(&a, err, bad_opt), -1);
    EXPECT_TRUE(strncmp(sbuf_str(err), "usage: postsuper", 16) == 0);
    ps_args_free(&a);

    ps_count_text(err, "Deleted", 1);
    EXPECT_EQ_STR(sbuf_str(err), "Deleted: 1 message");
    ps_count_text(err, "Released from hold", 3);
    EXPECT_EQ_STR(sbuf_str(err), "Released from hold: 3 messages");
    sbuf_free(err);
    return harness_done();
}
