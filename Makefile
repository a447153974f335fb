# SPDX-License-Identifier: Apache-2.0
# ephcrypt: `make` builds, `make check` runs every test, `make demo` shows a
# full encrypted-disk lifecycle on a real kernel. `make`, `make install` and
# `make uninstall` need only a C toolchain and pkg-config with the -dev packages
# below. `make deps` (and demo, check, bench, fuzz) install missing Debian
# packages with apt-get when run as root (the exact command is printed otherwise).

PREFIX ?= /usr/local
DESTDIR ?=
SBINDIR ?= $(PREFIX)/sbin
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DOCDIR ?= $(PREFIX)/share/doc/ephcrypt
SYSCONFDIR ?= /etc

CC ?= cc
B := build
PYTHON := /usr/bin/python3

BUILD_PKGS := build-essential pkg-config libcryptsetup-dev libseccomp-dev libcap-ng-dev \
	libmsgpack-dev libjson-c-dev libssl-dev libdevmapper-dev
# libcurl and libyaml: the client library (mk/client.mk) that fetches keys from Barbican.
TEST_PKGS := libcriterion-dev lvm2 python3-oslo.privsep python3-msgpack cryptsetup-bin \
	user-mode-linux kmod valgrind clang-format groff-base libcurl4-openssl-dev libyaml-dev \
	python3-pycadf
NOVA_PKGS := python3-nova
FUZZ_PKGS := clang libclang-rt-14-dev
FUZZ_SECONDS ?= 60

LIBS_HELPER := libcryptsetup libseccomp libcap-ng json-c libcrypto devmapper
WARN := -Wall -Wextra -Werror -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
	-Wformat=2 -Wswitch-enum -Werror=switch-default -Wvla -Wpointer-arith
HARDEN := -D_FORTIFY_SOURCE=3 -fstack-protector-strong -fstack-clash-protection \
	-fcf-protection -fPIE
CFLAGS ?= -O2 -g
ALL_CFLAGS := -std=gnu11 $(CFLAGS) $(WARN) $(HARDEN) -D_GNU_SOURCE
LDHARDEN := -pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack
# pkg-config module -> the Debian package that ships it (for the error message).
PC_PACKAGES := libcryptsetup:libcryptsetup-dev libseccomp:libseccomp-dev libcap-ng:libcap-ng-dev \
	json-c:libjson-c-dev libcrypto:libssl-dev devmapper:libdevmapper-dev msgpack:libmsgpack-dev
PKG_CFLAGS = $(shell pkg-config --cflags $(LIBS_HELPER) msgpack 2>/dev/null)
# libcryptsetup is compiled against but opened at run time (helper/ops/crypt.c).
PKG_LIBS = $(shell pkg-config --libs $(filter-out libcryptsetup,$(LIBS_HELPER)) 2>/dev/null)

PROTO_SRCS := protocol/mp_decode.c protocol/mp_encode.c protocol/privsep.c protocol/utf8.c
POLICY_SRCS := $(wildcard policy/*.c)
AUDIT_SRCS := $(wildcard audit/*.c)
HELPER_SRCS := $(POLICY_SRCS) $(AUDIT_SRCS) $(wildcard helper/*.c helper/ops/*.c)
PROTO_OBJS := $(PROTO_SRCS:%.c=$(B)/%.o)
HELPER_OBJS := $(HELPER_SRCS:%.c=$(B)/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c)
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(B)/tests/%)

.PHONY: all deps deps-test deps-nova pkg-config-check check check-unit check-asan \
	check-valgrind check-interop check-guest demo bench fuzz clean format

# mk/client.mk adds the caller's library and the ephcrypt CLI.
all: $(B)/ephcrypt-helper $(B)/ephcrypt-audit

# --- dependencies ----------------------------------------------------------
# The build asks pkg-config only; a missing module names its -dev package.
pkg-config-check:
	@command -v pkg-config >/dev/null || { echo "pkg-config not found: install pkg-config" >&2; exit 1; }
	@pkg-config --exists $(LIBS_HELPER) msgpack || { missing=""; for m in $(PC_PACKAGES); do \
		pkg-config --exists $${m%%:*} || missing="$$missing $${m#*:}"; done; \
		echo "pkg-config cannot find the libraries of:$$missing; install them (apt-get install$$missing)" \
		"or set PKG_CONFIG_PATH" >&2; exit 1; }

# Only deps and the targets that run tests (check, demo, bench, fuzz) install packages.
define install_missing
	@command -v dpkg-query >/dev/null || { \
		echo "not a Debian system (no dpkg-query): make sure these are installed: $(1)" >&2; exit 0; }; \
	missing=""; for p in $(1); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			(apt-get update -qq || true) && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "missing packages; run: sudo apt-get install -y$$missing" >&2; exit 1; \
		fi; \
	fi
endef

deps:
	$(call install_missing,$(BUILD_PKGS))
deps-test: deps
	$(call install_missing,$(TEST_PKGS))
deps-nova: deps-test
	$(call install_missing,$(NOVA_PKGS))

# --- build -----------------------------------------------------------------
$(B)/%.o: %.c $(wildcard protocol/*.h policy/*.h audit/*.h helper/*.h helper/ops/*.h client/*.h) | pkg-config-check
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -c -o $@ $<

$(B)/libephcrypt-proto.a: $(PROTO_OBJS)
	@echo "  AR      $@"
	@ar rcs $@ $^

$(B)/ephcrypt-helper: $(HELPER_OBJS) $(B)/libephcrypt-proto.a
	@echo "  CCLD    $@"
	@$(CC) $(LDHARDEN) -o $@ $^ $(PKG_LIBS)

# The reviewer's tool: its own main and audit/'s hash chain; json-c and libcrypto only.
$(B)/ephcrypt-audit: tools/ephcrypt-audit.c audit/chain.c audit/chain.h protocol/utf8.c \
		protocol/utf8.h | pkg-config-check
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(shell pkg-config --cflags json-c libcrypto) $(LDHARDEN) -o $@ \
		tools/ephcrypt-audit.c audit/chain.c protocol/utf8.c \
		$(shell pkg-config --libs json-c libcrypto)

# --- tests -----------------------------------------------------------------
$(B)/tests/test_%: tests/unit/test_%.c $(B)/libephcrypt-proto.a $(HELPER_OBJS) | pkg-config-check
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(PKG_CFLAGS) -Wno-missing-prototypes $(LDHARDEN) -o $@ $< \
		$(filter-out $(B)/helper/main.o,$(HELPER_OBJS)) $(B)/libephcrypt-proto.a \
		$(PKG_LIBS) -lcriterion

CHECK_STAGES := check-unit check-asan check-valgrind check-interop check-guest
SKIPPED_DIR := $(B)/check-skipped
skipped = mkdir -p $(SKIPPED_DIR) && touch $(SKIPPED_DIR)/$(1)
# Each mk/*.mk adds its own targets and may append to CHECK_STAGES.
-include $(sort $(wildcard mk/*.mk))
# A stage that cannot run here (exit 77: what it needs is missing and cannot be
# installed) leaves its name in $(SKIPPED_DIR), and check counts it as skipped.
check: check-begin deps-test all $(CHECK_STAGES)
	@n=$$(ls $(SKIPPED_DIR) 2>/dev/null | wc -l); which=$$(ls $(SKIPPED_DIR) 2>/dev/null | xargs); \
	echo "check: $$(($(words $(CHECK_STAGES)) - n)) passed, 0 failed, $$n skipped$${which:+ ($$which)}"
check-begin:
	@rm -rf $(SKIPPED_DIR)
.PHONY: check-begin

# test_audit runs the tool; test_channel runs the helper.
$(B)/tests/test_audit: $(B)/ephcrypt-audit
$(B)/tests/test_channel: $(B)/ephcrypt-helper

check-unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do echo "== $$t"; $$t --jobs 2 || exit 1; done
	tests/audit/check-man.sh

# The codec and argument binding again under AddressSanitizer and UBSan.
check-asan: deps-test
	$(MAKE) --no-print-directory B=build/asan \
		CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		LDHARDEN="-fsanitize=address,undefined" build/asan/tests/test_mp build/asan/ephcrypt-helper
	ASAN_OPTIONS=detect_leaks=1 build/asan/tests/test_mp --jobs 1
	EPHCRYPT_HELPER=build/asan/ephcrypt-helper tests/interop/run-c-client.sh

# valgrind cannot emulate seccomp(2), so it runs a test-only build without that one
# step (capabilities, no_new_privs and everything else stay); it is never installed.
check-valgrind: deps-test
	$(MAKE) --no-print-directory B=build/valgrind \
		CFLAGS="-O1 -g -DEPHCRYPT_TEST_BUILD_WITHOUT_SECCOMP" build/valgrind/ephcrypt-helper \
		build/valgrind/ephcrypt
	EPHCRYPT_HELPER=build/valgrind/ephcrypt-helper tests/interop/run-valgrind.sh

check-interop: deps-test all
	$(PYTHON) -m unittest discover -s tests/interop -p 'test_*.py' -v

check-guest: deps-nova all
	tests/vm/run --mem 1G --timeout 2400 tests/guest/run-all.sh

demo: deps-test deps-client-test all
	tests/vm/run --mem 1G --timeout 900 tests/demo.sh

# bench: mk/bench.mk

# libFuzzer on the codec, the policy parser and the guard (tests/fuzz/README); check runs a smoke (mk/faults.mk).
fuzz: deps
	$(call install_missing,$(FUZZ_PKGS))
	tests/fuzz/run.sh $(FUZZ_SECONDS)

format:
	clang-format -i $(FORMAT_FILES)

clean:
	rm -rf build
