# mk/fuzz.mk - libFuzzer targets (STYLE.md section 11), included by the top-level Makefile.
#
#   make fuzz         build every tests/fuzz/NAME_fuzz.c into $(FUZZ_B)/NAME_fuzz with clang,
#                     -fsanitize=fuzzer,address,undefined; libpostern is rebuilt into
#                     $(FUZZ_B)/libpostern-fuzz.a with -fsanitize=fuzzer-no-link,address,undefined
#   make fuzz-smoke   run each target for FUZZ_TIME seconds (default 5) from the seeds in
#                     tests/fuzz/corpus/NAME/; prints "ok NAME" / "FAIL NAME", fails on a crash
#   make fuzz-smoke FUZZ_TIME=60 FUZZ_ONLY="attr qfile"   longer runs, a subset
#
# Crash inputs are left in $(FUZZ_B)/artifacts/. The seed directories are never written to;
# new inputs found during a run go to a temporary directory that is removed afterwards.

# This file defines rules; keep whatever the including Makefile chose as its default goal.
fuzz_saved_goal := $(.DEFAULT_GOAL)

FUZZ_B ?= build-fuzz
FUZZ_CC ?= clang
FUZZ_TIME ?= 5
FUZZ_ONLY ?=
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -std=c11 -O1 -g $(WARN) $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_LDLIBS := $(LDLIBS)

FUZZ_LIB_SRCS := $(sort $(wildcard lib/util/*.c lib/mail/*.c lib/server/*.c))
FUZZ_LIB_OBJS := $(FUZZ_LIB_SRCS:%.c=$(FUZZ_B)/obj/%.o)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/*_fuzz.c))
FUZZ_NAMES := $(patsubst tests/fuzz/%_fuzz.c,%,$(FUZZ_SRCS))
FUZZ_BINS := $(FUZZ_NAMES:%=$(FUZZ_B)/%_fuzz)

$(FUZZ_B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(CPPFLAGS) -Itests/fuzz $(FUZZ_CFLAGS) -MMD -MP -c -o $@ $<

$(FUZZ_B)/libpostern-fuzz.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(FUZZ_B)/%_fuzz: $(FUZZ_B)/obj/tests/fuzz/%_fuzz.o $(FUZZ_B)/libpostern-fuzz.a
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $< $(FUZZ_B)/libpostern-fuzz.a $(FUZZ_LDLIBS)

fuzz: $(FUZZ_BINS)

# The targets' objects are intermediate files of a chain; keep them between builds.
.SECONDARY: $(FUZZ_NAMES:%=$(FUZZ_B)/obj/tests/fuzz/%_fuzz.o)

fuzz-smoke: fuzz
	tests/fuzz/run $(FUZZ_B) $(FUZZ_TIME) $(or $(FUZZ_ONLY),$(FUZZ_NAMES))

.PHONY: fuzz fuzz-smoke

-include $(shell find $(FUZZ_B)/obj -name '*.d' 2>/dev/null)

.DEFAULT_GOAL := $(fuzz_saved_goal)
