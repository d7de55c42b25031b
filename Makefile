# Postern top-level build. One non-recursive make: lib/ becomes
# $(B)/libpostern.a; every directory listed in DAEMONS, cmd/NAME and
# tools/NAME becomes one program from all the .c files in it.
#
#   make            build everything into build/
#   make run        install build dependencies, build, start a sandboxed instance
#   make test       install test dependencies, build, run every test
#   make install    install under $(DESTDIR)$(PREFIX) (default /usr)
#   make SAN=1      build with AddressSanitizer + UBSan into build-asan/

include mk/config.mk

LIB_SRCS := $(sort $(wildcard lib/util/*.c lib/mail/*.c lib/server/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(B)/obj/%.o)

# Daemon directories sit at the top level (ARCHITECTURE.md section 5).
DAEMON_LIST := master smtpd cleanup qmgr pickup local virtual bounce trivial-rewrite \
	showq error discard postlogd flush anvil proxymap smtp pipe spawn scache tlsmgr tlsproxy verify \
	qmqpd postscreen dnsblog
DAEMONS := $(sort $(patsubst %/,%,$(dir $(wildcard $(addsuffix /*.c,$(DAEMON_LIST))))))
COMMANDS := $(patsubst cmd/%/,%,$(sort $(dir $(wildcard cmd/*/*.c))))
TOOLS := $(patsubst tools/%/,%,$(sort $(dir $(wildcard tools/*/*.c))))

DAEMON_BINS := $(DAEMONS:%=$(B)/libexec/%)
COMMAND_BINS := $(COMMANDS:%=$(B)/sbin/%) $(TOOLS:%=$(B)/sbin/%)

UNIT_SRCS := $(sort $(wildcard tests/unit/*_test.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

all: $(DAEMON_BINS) $(COMMAND_BINS) $(B)/sbin/mailq $(B)/sbin/newaliases $(if $(filter smtp,$(DAEMONS)),$(B)/libexec/lmtp) \
	$(if $(filter qmgr,$(DAEMONS)),$(B)/libexec/oqmgr)

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/libpostern.a: $(LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

define program_rule
$(1): $$(patsubst %.c,$(B)/obj/%.o,$$(wildcard $(2)/*.c)) $(B)/libpostern.a
	@mkdir -p $$(dir $$@)
	@echo "  LD      $$@"
	@$$(CC) $$(LDFLAGS) -o $$@ $$(filter %.o,$$^) $(B)/libpostern.a $$(LDLIBS)
endef
$(foreach d,$(DAEMONS),$(eval $(call program_rule,$(B)/libexec/$(d),$(d))))
$(foreach c,$(COMMANDS),$(eval $(call program_rule,$(B)/sbin/$(c),cmd/$(c))))
$(foreach t,$(TOOLS),$(eval $(call program_rule,$(B)/sbin/$(t),tools/$(t))))

$(B)/sbin/mailq $(B)/sbin/newaliases: $(B)/sbin/sendmail
	ln -sf sendmail $@

# One binary speaks SMTP or LMTP depending on the name it runs under.
$(B)/libexec/lmtp: $(B)/libexec/smtp
	ln -sf smtp $@

# Postfix's older queue manager: Postern's qmgr answers to both names
# (qmgr(8) says how it schedules), so master.cf lines naming oqmgr work.
$(B)/libexec/oqmgr: $(B)/libexec/qmgr
	ln -sf qmgr $@

$(B)/tests/%: $(B)/obj/tests/unit/%.o $(B)/obj/tests/harness.o $(B)/libpostern.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $(filter %.o,$^) $(B)/libpostern.a $(LDLIBS)

unit: $(UNIT_BINS)

deps:
	scripts/install-deps build

test-deps:
	scripts/install-deps test

# The whole suite: unit tests (plain and sanitized), fuzz smoke runs, golden
# files, end-to-end. The tree must also build warning-free with clang and the
# release flags (STYLE.md section 12); that build is only compiled.
# The builds use every core (JOBS), which saves minutes on a two-core CI machine.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
test: test-deps
	$(MAKE) -j$(JOBS) all unit WERROR=1
	$(MAKE) -j$(JOBS) B=build-clang CC=clang all WERROR=1
	$(MAKE) -j$(JOBS) SAN=1 unit WERROR=1
	$(MAKE) -j$(JOBS) fuzz WERROR=1
	tests/run-all

check-unit: unit
	tests/run-all unit $(B)/tests

golden-update: all
	tests/golden/run --update

run: deps
	$(MAKE) all WERROR=1
	scripts/run-sandbox

stop:
	scripts/run-sandbox stop

install: all
	scripts/install "$(DESTDIR)" "$(PREFIX)" "$(B)"

clean:
	rm -rf build build-asan build-clang build-fuzz run

.PHONY: all unit deps test-deps test check-unit golden-update run stop install clean

include mk/fuzz.mk

-include $(LIB_OBJS:.o=.d)
-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
