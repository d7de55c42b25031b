/*
 * dict_pcre_fuzz.c - libFuzzer target: pcre: rule files (PCRE2)
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput() (dict_pattern_fuzz.h).
 * Notes: same rule syntax as regexp: with the PCRE flag letters.
 */
#define DICT_FUZZ_TYPE "pcre"
#define DICT_FUZZ_KEYS "user@example.com", "MAILER-DAEMON", "", "Subject: hello", \
    "a+b@sub.example.org", "192.0.2.1"
#include "dict_pattern_fuzz.h"
