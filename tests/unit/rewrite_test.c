/*
 * rewrite_test.c - trivial-rewrite's rewrite and resolve decisions, and
 *                  cleanup's virtual alias expansion, against golden files
 *
 * Used by: make unit / tests/run-all (run from the top of the tree).
 * Interface: main(); "rewrite_test --update" rewrites the .out files.
 * Notes: each tests/golden/rewrite/NAME.in runs in its own child process
 *        (fresh configuration). Lines:
 *          # comment                 copied to the output
 *          set NAME = VALUE          a main.cf setting (before the first query)
 *          rewrite local|remote ADDR
 *          resolve ADDR
 *          virtual ADDR              cleanup's virtual_alias_maps expansion
 *        The output echoes each query and the answer; it is compared with
 *        NAME.out. The pure functions are compiled in from the daemons'
 *        sources, so no socket or running service is needed.
 */
#include "harness.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "maps.h"
#include "sbuf.h"
#include <dirent.h>
#include <sys/wait.h>

#include "../../trivial-rewrite/trivial_rewrite_rewrite.c"
#include "../../trivial-rewrite/trivial_rewrite_resolve.c"
#include "../../cleanup/cleanup_addr.c"

/* rewrite_clnt is not used by the functions under test, but cleanup_addr.c
 * refers to it; the library provides it. */

static const char *golden_dir = "tests/golden/rewrite";

static void flags_text(struct sbuf *out, int flags)
{
    sbuf_reset(out);
    if (flags & TR_FLAG_FINAL)
        sbuf_cat(out, "final,");
    if (flags & TR_FLAG_ROUTED)
        sbuf_cat(out, "routed,");
    if (flags & TR_FLAG_ERROR)
        sbuf_cat(out, "error,");
    if (flags & TR_FLAG_FAIL)
        sbuf_cat(out, "fail,");
    if (sbuf_len(out))
        sbuf_truncate(out, sbuf_len(out) - 1);
    else
        sbuf_cat(out, "none");
}

/* Runs one .in file, writing the transcript to out (child process). */
static void golden_run(FILE *in, FILE *out)
{
    char line[4096];
    bool loaded = false;
    struct tr_config cfg;
    struct sbuf *b = sbuf_new(256), *fl = sbuf_new(32);
    struct tr_result res;
    tr_result_init(&res);
    while (fgets(line, sizeof(line), in)) {
        size_t n = strlen(line);
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
            line[--n] = 0;
        if (n == 0 || line[0] == '#') {
            fprintf(out, "%s\n", line);
            continue;
        }
        if (strncmp(line, "set ", 4) == 0) {
            char *eq = strchr(line, '=');
            if (eq == NULL || loaded) {
                fprintf(out, "bad set line: %s\n", line);
                continue;
            }
            char *name = line + 4, *end = eq;
            while (end > name && end[-1] == ' ')
                end--;
            *end = 0;
            char *value = eq + 1;
            while (*value == ' ')
                value++;
            config_set(name, value);
            fprintf(out, "set %s = %s\n", name, value);
            continue;
        }
        if (!loaded) {
            tr_config_load(&cfg);
            cleanup_cfg_load();
            loaded = true;
        }
        fprintf(out, "> %s\n", line);
        if (strncmp(line, "rewrite ", 8) == 0) {
            char *rule = line + 8, *sp = strchr(rule, ' ');
            const char *addr = "";
            if (sp) {
                *sp = 0;
                addr = sp + 1;
            }
            int r = tr_rewrite(&cfg, rule, addr, b);
            fprintf(out, "%s\n", r < 0 ? "(unknown rule)" : sbuf_str(b));
        } else if (strncmp(line, "resolve ", 8) == 0 || strcmp(line, "resolve") == 0) {
            tr_resolve(&cfg, "", line[7] ? line + 8 : "", &res);
            flags_text(fl, res.flags);
            fprintf(out, "class=%s transport=%s nexthop=%s recipient=%s flags=%s\n", res.class_,
                    sbuf_str(res.transport), sbuf_str(res.nexthop), sbuf_str(res.recipient),
                    sbuf_str(fl));
        } else if (strncmp(line, "resolvefrom ", 12) == 0) {
            /* "resolvefrom SENDER ADDR": SENDER "<>" is the null sender. */
            char *snd = line + 12, *sp = strchr(snd, ' ');
            const char *addr = "";
            if (sp) {
                *sp = 0;
                addr = sp + 1;
            }
            tr_resolve(&cfg, strcmp(snd, "<>") == 0 ? "" : snd, addr, &res);
            flags_text(fl, res.flags);
            fprintf(out, "class=%s transport=%s nexthop=%s recipient=%s flags=%s\n", res.class_,
                    sbuf_str(res.transport), sbuf_str(res.nexthop), sbuf_str(res.recipient),
                    sbuf_str(fl));
        } else if (strncmp(line, "virtual ", 8) == 0) {
            struct cleanup_rcpt_list l = { 0 };
            int s = cleanup_virtual_expand(cleanup_cfg.virtual_alias, line + 8,
                                           cleanup_cfg.virt_recursion_limit,
                                           cleanup_cfg.virt_expansion_limit,
                                           cleanup_cfg.prop_virtual, &l, b);
            if (s)
                fprintf(out, "defer: %s\n", sbuf_str(b));
            for (size_t i = 0; i < l.n; i++)
                fprintf(out, "%s%s", i ? ", " : "", l.v[i].addr);
            fprintf(out, "%s", l.n || !s ? "\n" : "");
            cleanup_rcpt_list_free(&l);
        } else {
            fprintf(out, "unknown command\n");
        }
    }
    tr_result_free(&res);
    sbuf_free(b);
    sbuf_free(fl);
}

/* Reads a whole file; returns new or NULL. */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return NULL;
    struct sbuf *b = sbuf_new(4096);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        sbuf_append(b, buf, n);
    fclose(fp);
    return sbuf_detach(b);
}

static void golden_case(const char *name, bool update)
{
    char in_path[512], out_path[512], got_path[] = "/tmp/rewrite_test.XXXXXX";
    snprintf(in_path, sizeof(in_path), "%s/%s.in", golden_dir, name);
    snprintf(out_path, sizeof(out_path), "%s/%s.out", golden_dir, name);
    int fd = mkstemp(got_path);
    if (fd < 0) {
        harness_report(false, __FILE__, __LINE__, "mkstemp");
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *in = fopen(in_path, "r");
        FILE *out = fdopen(fd, "w");
        if (in == NULL || out == NULL)
            _exit(2);
        golden_run(in, out);
        fclose(out);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    close(fd);
    char *got = slurp(got_path);
    char *want = slurp(out_path);
    char what[600];
    snprintf(what, sizeof(what), "golden %s", name);
    if (update && got) {
        FILE *fp = fopen(out_path, "w");
        if (fp) {
            fputs(got, fp);
            fclose(fp);
        }
        printf("updated %s\n", out_path);
    } else {
        bool ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && got && want &&
                  strcmp(got, want) == 0;
        harness_report(ok, __FILE__, __LINE__, what);
        if (!ok) {
            char cmd[1200];
            snprintf(cmd, sizeof(cmd), "diff -u %s %s | head -40", out_path, got_path);
            if (system(cmd) < 0)
                printf("# diff failed\n");
        }
    }
    unlink(got_path);
    xfree(got);
    xfree(want);
}

/* Direct checks of the parts the golden files cannot show well. */
static void unit_cases(void)
{
    struct sbuf *t = sbuf_new(32), *h = sbuf_new(32);
    tr_split_transport("smtp:[1.2.3.4]:2025", t, h);
    EXPECT_EQ_STR(sbuf_str(t), "smtp");
    EXPECT_EQ_STR(sbuf_str(h), "[1.2.3.4]:2025");
    tr_split_transport("local", t, h);
    EXPECT_EQ_STR(sbuf_str(t), "local");
    EXPECT_EQ_STR(sbuf_str(h), "");
    tr_split_transport(":", t, h);
    EXPECT_EQ_STR(sbuf_str(t), "");
    EXPECT_EQ_STR(sbuf_str(h), "");
    sbuf_free(t);
    sbuf_free(h);
}

int main(int argc, char **argv)
{
    bool update = argc > 1 && strcmp(argv[1], "--update") == 0;
    harness_init();
    log_set_tag("rewrite_test");
    unit_cases();
    DIR *d = opendir(golden_dir);
    if (d == NULL) {
        printf("# %s: not found (run from the top of the tree)\n", golden_dir);
        harness_report(false, __FILE__, __LINE__, "golden directory");
        return harness_done();
    }
    struct dirent *de;
    char *names[256];
    size_t n = 0;
    while ((de = readdir(d)) != NULL && n < ARRAY_LEN(names)) {
        size_t len = strlen(de->d_name);
        if (len > 3 && strcmp(de->d_name + len - 3, ".in") == 0)
            names[n++] = xstrndup(de->d_name, len - 3);
    }
    closedir(d);
    for (size_t i = 0; i < n; i++) {
        golden_case(names[i], update);
        xfree(names[i]);
    }
    EXPECT_TRUE(n > 0);
    return harness_done();
}
