/*
 * mastercf_test.c - unit and golden tests for the master.cf reader
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main([golden_dir]); prints "ok N - what" / "FAIL N - what",
 *            then "N passed, N failed"; exits non-zero when a check failed.
 * Notes: every tests/golden/config/NAME.in is parsed and dumped (services,
 *        fields, argv, -o overrides, the postconf -M and -Mf renderings and
 *        any warnings) and compared with NAME.out. Set
 *        POSTERN_GOLDEN_UPDATE=1 to rewrite the .out files instead.
 */
#include "mastercf.h"
#include "config.h"
#include "alloc.h"
#include "log.h"
#include "sbuf.h"

#include <dirent.h>
#include <fcntl.h>

static int t_n, t_fail;
static char t_tmp[256];

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        t_n++;                                                                 \
        if (cond)                                                              \
            printf("ok %d - %s\n", t_n, what);                                 \
        else {                                                                 \
            t_fail++;                                                          \
            printf("FAIL %d - %s (%s:%d)\n", t_n, what, __FILE__, __LINE__);   \
        }                                                                      \
    } while (0)

/* ---- stderr capture --------------------------------------------------------- */

static int cap_saved = -1;
static char cap_path[400];

static void cap_start(void)
{
    int fd;

    snprintf(cap_path, sizeof(cap_path), "%s/stderr.txt", t_tmp);
    fflush(stderr);
    cap_saved = dup(2);
    fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || cap_saved < 0) {
        perror("capture");
        exit(2);
    }
    dup2(fd, 2);
    close(fd);
}

/* Returns new string with the captured text. */
static char *cap_end(void)
{
    struct sbuf *b = sbuf_new(256);
    char buf[4096];
    size_t n;
    FILE *fp;

    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    fp = fopen(cap_path, "r");
    while (fp && (n = fread(buf, 1, sizeof(buf), fp)) > 0)
        sbuf_append(b, buf, n);
    if (fp)
        fclose(fp);
    return sbuf_detach(b);
}

static char *read_file(const char *path)
{
    struct sbuf *b = sbuf_new(4096);
    char buf[4096];
    size_t n;
    FILE *fp = fopen(path, "r");

    if (fp == NULL) {
        sbuf_free(b);
        return NULL;
    }
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        sbuf_append(b, buf, n);
    fclose(fp);
    return sbuf_detach(b);
}

/* Replaces every occurrence of from with to in text (returns new). */
static char *replace_all(const char *text, const char *from, const char *to)
{
    struct sbuf *b = sbuf_new(strlen(text) + 1);
    size_t fl = strlen(from);

    for (const char *p = text, *q; *p; p = q + fl) {
        q = strstr(p, from);
        if (q == NULL || fl == 0) {
            sbuf_cat(b, p);
            break;
        }
        sbuf_append(b, p, (size_t) (q - p));
        sbuf_cat(b, to);
    }
    return sbuf_detach(b);
}

/* ---- the dump ---------------------------------------------------------------- */

static void dump_ovr(const char *name, const char *value, void *ctx)
{
    sbuf_catf(ctx, "  override %s = [%s]\n", name, value);
}

static void dump(struct sbuf *out, const struct mastercf *m, int rc, const char *warnings)
{
    struct sbuf *line = sbuf_new(256);
    char **names;

    sbuf_catf(out, "rc=%d services=%zu\n", rc, m->count);
    for (const struct mastercf_service *s = m->head; s; s = s->next) {
        sbuf_catf(out, "%s/%s line=%d private=%c unpriv=%c chroot=%c wakeup=%d%s maxproc=",
                  s->name, s->type, s->line, s->private_ ? 'y' : 'n', s->unpriv ? 'y' : 'n',
                  s->chroot ? 'y' : 'n', s->wakeup, s->wakeup_conditional ? "?" : "");
        if (s->maxproc < 0)
            sbuf_cat(out, "default");
        else
            sbuf_catf(out, "%d", s->maxproc);
        sbuf_catf(out, " program=%s\n  argv:", mastercf_program(s));
        for (int i = 0; i < s->argc; i++)
            sbuf_catf(out, " [%s]", s->argv[i]);
        sbuf_addch(out, '\n');
        mastercf_overrides(s, dump_ovr, out);
        mastercf_format_line(line, s, false);
        sbuf_catf(out, "  -M: %s\n", sbuf_str(line));
        mastercf_format_line(line, s, true);
        sbuf_catf(out, "  -Mf: %s\n", sbuf_str(line));
    }
    names = mastercf_service_names(m);
    sbuf_cat(out, "names:");
    for (char **p = names; *p; p++)
        sbuf_catf(out, " %s", *p);
    sbuf_addch(out, '\n');
    cfg_list_free(names);
    if (*warnings)
        sbuf_catf(out, "warnings:\n%s", warnings);
    sbuf_free(line);
}

static void golden_one(const char *dir, const char *base, bool update)
{
    char in[600], outp[600], what[700];
    struct mastercf *m = NULL;
    struct sbuf *got = sbuf_new(4096);
    int rc;

    snprintf(in, sizeof(in), "%s/%s.in", dir, base);
    snprintf(outp, sizeof(outp), "%s/%s.out", dir, base);
    cap_start();
    rc = mastercf_load(in, &m);
    char *raw = cap_end();
    /* Messages name the file; make them independent of where we run. */
    char *warn1 = replace_all(raw, in, "FILE");
    char *warn = replace_all(warn1, "mastercf_test: ", "");

    dump(got, m, rc, warn);
    mastercf_free(m);
    xfree(raw);
    xfree(warn1);
    xfree(warn);

    snprintf(what, sizeof(what), "golden %s", base);
    if (update) {
        FILE *fp = fopen(outp, "w");

        CHECK(fp && fputs(sbuf_str(got), fp) >= 0 && fclose(fp) == 0, what);
    } else {
        char *want = read_file(outp);

        CHECK(want && strcmp(want, sbuf_str(got)) == 0, what);
        if (want && strcmp(want, sbuf_str(got)) != 0) {
            char tmp[700];
            FILE *fp;

            snprintf(tmp, sizeof(tmp), "%s/%s.got", t_tmp, base);
            if ((fp = fopen(tmp, "w")) != NULL) {
                fputs(sbuf_str(got), fp);
                fclose(fp);
                printf("#   diff %s %s\n", outp, tmp);
            }
        }
        xfree(want);
    }
    sbuf_free(got);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *) a, *(char *const *) b);
}

static void test_golden(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char *names[256];
    size_t n = 0;
    bool update = getenv("POSTERN_GOLDEN_UPDATE") != NULL;

    CHECK(d != NULL, "golden directory exists");
    if (d == NULL)
        return;
    while ((de = readdir(d)) != NULL && n < ARRAY_LEN(names)) {
        size_t len = strlen(de->d_name);

        if (len > 3 && strcmp(de->d_name + len - 3, ".in") == 0)
            names[n++] = xstrndup(de->d_name, len - 3);
    }
    closedir(d);
    qsort(names, n, sizeof(*names), name_cmp);
    CHECK(n >= 4, "at least four golden cases");
    for (size_t i = 0; i < n; i++) {
        golden_one(dir, names[i], update);
        xfree(names[i]);
    }
}

/* ---- API cases ------------------------------------------------------------ */

static struct mastercf *parse(const char *text, int *rc, char **warn)
{
    FILE *fp = fmemopen((void *) text, strlen(text), "r");
    struct mastercf *m = NULL;

    cap_start();
    *rc = mastercf_read(fp, "test.cf", &m);
    *warn = cap_end();
    fclose(fp);
    return m;
}

static void count_ovr(const char *name, const char *value, void *ctx)
{
    UNUSED(name);
    UNUSED(value);
    (*(int *) ctx)++;
}

static void test_api(void)
{
    int rc, count = 0;
    char *warn;
    struct mastercf *m = parse("# c\n"
                               "smtp inet n - n - - smtpd\n"
                               "  -o smtpd_tls_wrappermode=yes\n"
                               "\n"
                               "  -o { smtpd_client_restrictions = permit_sasl_authenticated , reject }\n"
                               "[::1]:2525 inet n - y 0 10 smtpd -v\n"
                               "pickup unix n - n 60 1 pickup\n"
                               "tlsmgr unix - - n 1000? 1 tlsmgr\n",
                               &rc, &warn);
    const struct mastercf_service *s;

    CHECK(rc == 0 && *warn == 0, "clean file parses without warnings");
    CHECK(m->count == 4, "four services");
    s = mastercf_find(m, "smtp", "inet");
    CHECK(s && s->argc == 5 && strcmp(s->argv[4],
                                      "smtpd_client_restrictions=permit_sasl_authenticated , reject")
          == 0, "-o { name = value } becomes one name=value argument");
    CHECK(s && mastercf_overrides(s, count_ovr, &count) == 2 && count == 2, "two overrides");
    CHECK(s && !s->private_ && s->unpriv && !s->chroot && s->maxproc == -1, "defaults and n");
    s = mastercf_find(m, "[::1]:2525", NULL);
    CHECK(s && s->chroot && s->maxproc == 10 && s->wakeup == 0, "IPv6 inet service fields");
    s = mastercf_find(m, "tlsmgr", "unix");
    CHECK(s && s->wakeup == 1000 && s->wakeup_conditional, "conditional wakeup N?");
    CHECK(mastercf_find(m, "smtp", "unix") == NULL, "lookup is by name and type");
    CHECK(strcmp(mastercf_program(mastercf_find(m, "pickup", NULL)), "pickup") == 0, "program");
    char **names = mastercf_service_names(m);

    CHECK(names[0] && strcmp(names[0], "smtp") == 0 && names[1] && strcmp(names[1], "2525") == 0,
          "service names use the port of inet services");
    cfg_list_free(names);
    mastercf_free(m);
    xfree(warn);

    m = parse("a unix - - n - - x -o\nb unix - - n - - x -o novalue\n", &rc, &warn);
    xfree(warn);
    count = 0;
    cap_start();
    CHECK(mastercf_overrides(mastercf_find(m, "a", "unix"), count_ovr, &count) == -1,
          "-o without argument is reported");
    warn = cap_end();
    CHECK(strstr(warn, "test.cf:1: service a/unix: -o without name=value") != NULL,
          "-o without argument names FILE:LINE");
    xfree(warn);
    cap_start();
    CHECK(mastercf_overrides(mastercf_find(m, "b", "unix"), count_ovr, &count) == -1 && count == 0,
          "-o without '=' is reported");
    warn = cap_end();
    CHECK(strstr(warn, "test.cf:2: service b/unix: bad -o argument \"novalue\"") != NULL,
          "-o without '=' names FILE:LINE");
    mastercf_free(m);
    xfree(warn);

    m = parse("x unix - - n - - prog { unbalanced\n", &rc, &warn);
    CHECK(rc == -1 && m->count == 0 && strstr(warn, "test.cf:1: missing '}'"), "unbalanced brace");
    mastercf_free(m);
    xfree(warn);

    m = parse("smtp inet n - n - - smtpd\nsmtp inet n - n - - smtpd\n", &rc, &warn);
    CHECK(rc == -1 && m->count == 1 && strstr(warn, "test.cf:2: duplicate service smtp/inet"),
          "duplicate service is reported and ignored");
    mastercf_free(m);
    xfree(warn);

    /* An empty braced argument survives postconf -M / -Mf output and
     * reading it back (fuzzer find: it used to be printed as nothing). */
    m = parse("smtp inet n - n - - smtpd -o { } -o x=1\n"
              "p unix - n n - - pipe argv=/bin/echo { } {a b} {} z\n",
              &rc, &warn);
    CHECK(rc == 0 && m->count == 2, "empty braced arguments parse");
    xfree(warn);
    s = mastercf_find(m, "p", "unix");
    CHECK(s && s->argc == 6 && s->argv[2][0] == 0 && s->argv[4][0] == 0,
          "{ } and {} are empty arguments");
    {
        struct sbuf *line = sbuf_new(256), *all = sbuf_new(256);

        s = mastercf_find(m, "smtp", "inet");
        mastercf_format_line(line, s, false);
        CHECK(strstr(sbuf_str(line), "smtpd -o { } -o x=1") != NULL, "-M prints -o { }");
        mastercf_format_command(line, mastercf_find(m, "p", "unix"));
        CHECK(strcmp(sbuf_str(line), "pipe argv=/bin/echo { } {a b} { } z") == 0,
              "command field prints { }");
        for (int fold = 0; fold < 2; fold++) {
            sbuf_reset(all);
            for (const struct mastercf_service *t = m->head; t; t = t->next) {
                mastercf_format_line(line, t, fold);
                sbuf_catf(all, "%s\n", sbuf_str(line));
            }
            int rc2;
            char *warn2;
            struct mastercf *again = parse(sbuf_str(all), &rc2, &warn2);
            bool same = rc2 == 0 && again->count == m->count;

            for (const struct mastercf_service *t = m->head; same && t; t = t->next) {
                const struct mastercf_service *u = mastercf_find(again, t->name, t->type);

                same = u && u->argc == t->argc;
                for (int i = 0; same && i < t->argc; i++)
                    same = strcmp(u->argv[i], t->argv[i]) == 0;
            }
            CHECK(same, fold ? "-Mf output reads back the same" : "-M output reads back the same");
            mastercf_free(again);
            xfree(warn2);
        }
        sbuf_free(line);
        sbuf_free(all);
    }
    mastercf_free(m);

    CHECK(mastercf_field_index("process_limit") == MASTERCF_COL_MAXPROC, "field index");
    CHECK(mastercf_field_index("command") == MASTERCF_NCOLS, "command field index");
    CHECK(mastercf_field_index("bogus") == -1, "unknown field");
}

int main(int argc, char **argv)
{
    const char *dir = argc > 1 ? argv[1] : "tests/golden/config";

    snprintf(t_tmp, sizeof(t_tmp), "/tmp/mastercf_test.XXXXXX");
    if (mkdtemp(t_tmp) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    log_set_tag("mastercf_test");
    log_set_stderr(true);
    log_close_syslog();     /* messages go to stderr only */
    test_api();
    test_golden(dir);
    printf("%d passed, %d failed\n", t_n - t_fail, t_fail);
    if (t_fail == 0) {
        char cmd[400];

        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_tmp);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", t_tmp);
    }
    return t_fail ? 1 : 0;
}
