# Compiler and library settings shared by every program (STYLE.md section 12).
PREFIX ?= /usr
CC ?= cc
AR ?= ar
SAN ?= 0
ifeq ($(SAN),1)
B := build-asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1
else
B := build
SANFLAGS :=
OPT := -O2 -D_FORTIFY_SOURCE=2
endif
WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wvla -Wimplicit-fallthrough -fno-common -Wno-format-nonliteral
ifeq ($(WERROR),1)
WARN += -Werror
endif
MARIADB_CFLAGS := $(shell mariadb_config --cflags 2>/dev/null || mysql_config --cflags 2>/dev/null)
MARIADB_LIBS := $(shell mariadb_config --libs 2>/dev/null || echo -lmariadb)
CPPFLAGS += -Ilib/util -Ilib/mail -Ilib/server -Itests $(MARIADB_CFLAGS) \
	-DDEF_PREFIX='"$(PREFIX)"'
CFLAGS += -std=c11 $(OPT) -g $(WARN) -fstack-protector-strong -fPIE $(SANFLAGS)
LDFLAGS += -pie -Wl,-z,relro,-z,now -Wl,--as-needed $(SANFLAGS)
LDLIBS += -lssl -lcrypto -lsodium -lpcre2-8 $(MARIADB_LIBS) -lsasl2 -lz -lresolv -lm
