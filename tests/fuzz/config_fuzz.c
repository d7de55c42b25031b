/*
 * config_fuzz.c - libFuzzer target: the main.cf reader and $name expansion
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: main.cf is the administrator's file, but postconf -e, -o options
 *        and shared hosting put other people's text in it, and a bad line
 *        must be a warning, never a crash. The input becomes DIR/main.cf and
 *        is loaded with config_load(); every entry is then expanded, split
 *        as a list, and a few typed accessors are tried. log_fatal() is
 *        the documented answer to an expansion loop or a bad typed value,
 *        so it is caught here (longjmp) and counts as a clean result;
 *        log_panic() still aborts.
 */
#include "fuzz_common.h"
#include "config.h"
#include <setjmp.h>

static jmp_buf config_fuzz_jmp;
static bool config_fuzz_armed;

static void config_fuzz_hook(int is_panic, const char *text)
{
    (void)text;
    if (!is_panic && config_fuzz_armed)
        longjmp(config_fuzz_jmp, 1);
}

static void config_fuzz_entry(const struct config_entry *e, void *ctx)
{
    (void)ctx;
    if (e->name == NULL || e->value == NULL || e->file == NULL || e->line < 1)
        abort();
    config_fuzz_armed = true;
    if (setjmp(config_fuzz_jmp) == 0) {
        const char *v = cfg_str(e->name);
        char **list = cfg_list(v);

        cfg_list_free(list);
        (void)config_known(e->name);
    }
    config_fuzz_armed = false;
}

/* Typed reads of parameters of each kind; each may log_fatal on junk. */
static void config_fuzz_typed(void)
{
    static const char *const bools[] = { "biff", "smtpd_use_tls", NULL };
    static const char *const ints[] = { "smtpd_recipient_limit", "default_process_limit", NULL };
    static const char *const times[] = { "queue_run_delay", "smtpd_timeout", NULL };

    for (int i = 0; bools[i]; i++) {
        config_fuzz_armed = true;
        if (setjmp(config_fuzz_jmp) == 0)
            (void)cfg_bool(bools[i]);
        config_fuzz_armed = false;
    }
    for (int i = 0; ints[i]; i++) {
        config_fuzz_armed = true;
        if (setjmp(config_fuzz_jmp) == 0)
            (void)cfg_int(ints[i]);
        config_fuzz_armed = false;
    }
    for (int i = 0; times[i]; i++) {
        config_fuzz_armed = true;
        if (setjmp(config_fuzz_jmp) == 0)
            (void)cfg_time(times[i]);
        config_fuzz_armed = false;
    }
    config_fuzz_armed = true;
    if (setjmp(config_fuzz_jmp) == 0) {
        char *x = cfg_expand("$myhostname ${mydomain} ${biff?yes} ${biff:no} $(queue_directory)");

        xfree(x);
    }
    config_fuzz_armed = false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool hooked;
    char path[256];

    fuzz_init();
    if (!hooked) {
        log_set_fatal_hook(config_fuzz_hook);
        hooked = true;
    }
    fuzz_write_file("main.cf", data, size, path, sizeof(path));
    (void)config_load(fuzz_dir);
    config_foreach(config_fuzz_entry, NULL);
    config_fuzz_typed();
    (void)config_check();
    return 0;
}
