/*
 * mastercf_fuzz.c - libFuzzer target: the master.cf reader
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: master.cf is read by master (as root) and by postconf; a bad line
 *        must be reported and skipped, never crash the reader. Each parsed
 *        service is listed the way postconf -M, -Mf and -F do, its -o
 *        overrides are walked, and the postconf -M output is read back: it
 *        must give the same services (name, type, command arguments).
 */
#include "fuzz_common.h"
#include "config.h"
#include "mastercf.h"
#include "sbuf.h"

static void mastercf_fuzz_override(const char *name, const char *value, void *ctx)
{
    size_t *n = ctx;

    if (name == NULL || value == NULL)
        abort();
    (*n)++;
}

static void mastercf_fuzz_same(const struct mastercf *a, const struct mastercf *b)
{
    const struct mastercf_service *x = a->head, *y = b->head;

    for (; x && y; x = x->next, y = y->next) {
        if (strcmp(x->name, y->name) != 0 || strcmp(x->type, y->type) != 0 ||
            x->argc != y->argc || x->maxproc != y->maxproc || x->wakeup != y->wakeup)
            abort();
        for (int i = 0; i < x->argc; i++)
            if (strcmp(x->argv[i], y->argv[i]) != 0)
                abort();
    }
    if (x || y)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    FILE *fp = fmemopen((void *)data, size ? size : 1, "r");
    struct mastercf *m = NULL;

    if (fp == NULL)
        abort();
    if (size == 0)
        fp = (fclose(fp), fopen("/dev/null", "r"));
    int rc = mastercf_read(fp, "master.cf", &m);

    fclose(fp);
    if (m == NULL)
        abort();

    struct sbuf *out = sbuf_new(256), *all = sbuf_new(256);
    size_t count = 0;

    for (const struct mastercf_service *s = m->head; s; s = s->next) {
        if (s->name == NULL || s->type == NULL || s->argv == NULL || s->argc < 1 ||
            s->argv[s->argc] != NULL)
            abort();
        (void)mastercf_program(s);
        size_t n = 0;

        (void)mastercf_overrides(s, mastercf_fuzz_override, &n);
        mastercf_format_line(out, s, true);
        mastercf_format_command(out, s);
        mastercf_format_line(out, s, false);
        sbuf_cat(all, sbuf_str(out));
        sbuf_addch(all, '\n');
        (void)mastercf_find(m, s->name, s->type);
        count++;
    }
    if (count != m->count)
        abort();
    char **names = mastercf_service_names(m);

    cfg_list_free(names);

    /* What postconf -M prints must read back as the same services. */
    if (rc == 0) {
        struct mastercf *again = NULL;
        FILE *f2 = fmemopen((void *)sbuf_str(all), sbuf_len(all) ? sbuf_len(all) : 1, "r");

        if (sbuf_len(all) == 0)
            f2 = (fclose(f2), fopen("/dev/null", "r"));
        if (mastercf_read(f2, "master.cf-M", &again) != 0)
            abort();
        fclose(f2);
        mastercf_fuzz_same(m, again);
        mastercf_free(again);
    }
    sbuf_free(out);
    sbuf_free(all);
    mastercf_free(m);
    return 0;
}
