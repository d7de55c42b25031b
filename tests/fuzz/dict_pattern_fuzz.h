/*
 * dict_pattern_fuzz.h - the body shared by the regexp, pcre and cidr targets
 *
 * Used by: dict_regexp_fuzz.c, dict_pcre_fuzz.c, dict_cidr_fuzz.c (each
 *          defines DICT_FUZZ_TYPE and DICT_FUZZ_KEYS, then includes this).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: the input is written as a rule file and opened as TYPE:path; a
 *        table that opens is asked for a fixed set of keys plus the first
 *        line of the input. Bad rules are logged and skipped by the parser,
 *        so an open that fails is only possible for an unreadable file.
 */
#ifndef POSTERN_DICT_PATTERN_FUZZ_H
#define POSTERN_DICT_PATTERN_FUZZ_H
#include "fuzz_common.h"
#include "dict.h"
#include "sbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const keys[] = { DICT_FUZZ_KEYS, NULL };
    char path[256];

    fuzz_init();
    fuzz_write_file("input", data, size, path, sizeof(path));

    struct sbuf *spec = sbuf_new(64);

    sbuf_printf(spec, "%s:%s", DICT_FUZZ_TYPE, path);
    struct dict *d = dict_open(sbuf_str(spec), 0);

    if (d == NULL)
        abort();
    for (int i = 0; keys[i]; i++) {
        const char *v = dict_lookup(d, keys[i]);

        if (v == NULL && dict_error(d) != DICT_ERR_NONE && dict_error(d) != DICT_ERR_RETRY &&
            dict_error(d) != DICT_ERR_CONFIG)
            abort();
    }
    /* The first line of the input as a key: patterns often match it. */
    char *first = fuzz_cstr(data, size < 256 ? size : 256);

    first[strcspn(first, "\n")] = 0;
    (void)dict_lookup(d, first);
    xfree(first);
    dict_close(d);
    sbuf_free(spec);
    return 0;
}

#endif
