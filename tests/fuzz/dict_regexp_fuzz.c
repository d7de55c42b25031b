/*
 * dict_regexp_fuzz.c - libFuzzer target: regexp: rule files (POSIX ERE)
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput() (dict_pattern_fuzz.h).
 * Notes: rule syntax in docs/table-format.md; header_checks and access
 *        tables use it, often edited by hand.
 */
#define DICT_FUZZ_TYPE "regexp"
#define DICT_FUZZ_KEYS "user@example.com", "MAILER-DAEMON", "", "Subject: hello", \
    "a+b@sub.example.org", "192.0.2.1"
#include "dict_pattern_fuzz.h"
