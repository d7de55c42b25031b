/*
 * dict_cidr_fuzz.c - libFuzzer target: cidr: tables
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput() (dict_pattern_fuzz.h).
 * Notes: IPv4 and IPv6 networks, negation and if/endif blocks; keys are
 *        client addresses as smtpd passes them.
 */
#define DICT_FUZZ_TYPE "cidr"
#define DICT_FUZZ_KEYS "192.0.2.7", "10.1.2.3", "0.0.0.0", "255.255.255.255", "2001:db8::1", \
    "::1", "::ffff:192.0.2.7", "[2001:db8::1]", "not-an-address", ""
#include "dict_pattern_fuzz.h"
