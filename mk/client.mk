# SPDX-License-Identifier: Apache-2.0
# The caller's half: libephcrypt (shared + static, one header, pkg-config file)
# and the ephcrypt CLI. Included by the top-level Makefile.

LIBDIR ?= $(if $(DEB_HOST_MULTIARCH),$(PREFIX)/lib/$(DEB_HOST_MULTIARCH),$(PREFIX)/lib)
INCLUDEDIR ?= $(PREFIX)/include
PKGCONFIGDIR ?= $(LIBDIR)/pkgconfig

CLIENT_PKGS := libcurl4-openssl-dev libjson-c-dev libyaml-dev libmsgpack-dev
# A real Keystone and Barbican for the caller's tests (tests/barbican, tests/guest/barbican.sh).
CLIENT_TEST_PKGS := barbican-api python3-barbican python3-waitress python3-keystone python3-paste \
	python3-pastedeploy groff-base iproute2

CLIENT_LIBS := libcurl json-c yaml-0.1
CLIENT_CFLAGS = $(shell pkg-config --cflags $(CLIENT_LIBS) msgpack 2>/dev/null)
CLIENT_LDLIBS = $(shell pkg-config --libs $(CLIENT_LIBS) 2>/dev/null) -lpthread

LIB_SRCS := client/channel.c client/calls.c client/util.c client/config.c client/http.c \
	client/barbican.c
CLI_SRCS := client/cli.c client/cli_cmds.c client/cli_raw.c client/cli_util.c
LIB_SOVERSION := 0
LIB_VERSION := 0.1.0
LIB_SONAME := libephcrypt.so.$(LIB_SOVERSION)

# Position-independent objects for both library flavours; only ephcrypt_* is exported.
$(B)/pic/%.o: %.c $(wildcard protocol/*.h client/*.h) | pkg-config-check-client
	@mkdir -p $(dir $@)
	@echo "  CC      $< (pic)"
	@$(CC) $(ALL_CFLAGS) -fPIC $(CLIENT_CFLAGS) -c -o $@ $<

LIB_OBJS := $(LIB_SRCS:%.c=$(B)/pic/%.o) $(PROTO_SRCS:%.c=$(B)/pic/%.o)

$(B)/libephcrypt.a: $(LIB_OBJS)
	@echo "  AR      $@"
	@rm -f $@ && ar rcs $@ $^

$(B)/libephcrypt.so.$(LIB_VERSION): $(LIB_OBJS) client/libephcrypt.map
	@echo "  CCLD    $@"
	@$(CC) -shared -Wl,-soname,$(LIB_SONAME) -Wl,--version-script=client/libephcrypt.map \
		-Wl,-z,relro,-z,now -Wl,-z,noexecstack -Wl,--no-undefined -o $@ $(LIB_OBJS) \
		$(CLIENT_LDLIBS) $(shell pkg-config --libs msgpack 2>/dev/null)

$(B)/libephcrypt.so: $(B)/libephcrypt.so.$(LIB_VERSION)
	@ln -sf libephcrypt.so.$(LIB_VERSION) $(B)/$(LIB_SONAME)
	@ln -sf $(LIB_SONAME) $@

# Written at install time too: PREFIX and LIBDIR may differ from the build's.
define write_pc
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
		-e 's|@VERSION@|$(LIB_VERSION)|' client/ephcrypt.pc.in >$(1)
endef
$(B)/ephcrypt.pc: client/ephcrypt.pc.in
	@mkdir -p $(dir $@)
	@$(call write_pc,$@)

# The CLI links the library statically: one file to install, no run-time path.
$(B)/ephcrypt: $(CLI_SRCS:%.c=$(B)/pic/%.o) $(B)/libephcrypt.a
	@echo "  CCLD    $@"
	@$(CC) $(LDHARDEN) -o $@ $^ $(CLIENT_LDLIBS) $(shell pkg-config --libs msgpack 2>/dev/null)

# The old name, kept for scripts that still call it.
$(B)/ephcrypt-client: $(B)/ephcrypt
	@ln -sf ephcrypt $@

client: $(B)/ephcrypt $(B)/ephcrypt-client $(B)/libephcrypt.a $(B)/libephcrypt.so $(B)/ephcrypt.pc
all: client

# Like pkg-config-check: the build only asks pkg-config; deps-client installs.
pkg-config-check-client: pkg-config-check
	@pkg-config --exists $(CLIENT_LIBS) msgpack || { echo "pkg-config cannot find" \
		"$(CLIENT_LIBS): install $(CLIENT_PKGS) (make deps-client)" >&2; exit 1; }

deps-client: deps
	$(call install_missing,$(CLIENT_PKGS))
deps-client-test: deps-client deps-test
	$(call install_missing,$(CLIENT_TEST_PKGS))

# Unit tests of the pure parts, linked against the static library.
$(B)/tests/test_client: tests/unit/test_client.c $(B)/libephcrypt.a | pkg-config-check-client
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(CLIENT_CFLAGS) -Wno-missing-prototypes $(LDHARDEN) -o $@ $< \
		$(B)/libephcrypt.a $(CLIENT_LDLIBS) $(shell pkg-config --libs msgpack 2>/dev/null) -lcriterion

check-client: deps-client-test client $(B)/ephcrypt-helper $(B)/tests/test_client
	$(B)/tests/test_client --jobs 2
	tests/barbican/check-exports.sh $(B)/libephcrypt.so.$(LIB_VERSION)
	tests/barbican/check-install.sh
	@w=$$(groff -man -ww -z man/ephcrypt.1 2>&1); [ -z "$$w" ] || { echo "man/ephcrypt.1: $$w"; exit 1; }
	tests/barbican/keystone.sh
CHECK_STAGES += check-client
# tests/guest/barbican.sh and make demo start Barbican inside the guest.
check-guest: deps-client-test

install: install-client
install-client: client
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(B)/ephcrypt $(DESTDIR)$(BINDIR)/ephcrypt
	install -m 0644 $(B)/libephcrypt.so.$(LIB_VERSION) $(B)/libephcrypt.a $(DESTDIR)$(LIBDIR)/
	ln -sf libephcrypt.so.$(LIB_VERSION) $(DESTDIR)$(LIBDIR)/$(LIB_SONAME)
	ln -sf $(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libephcrypt.so
	install -m 0644 client/ephcrypt.h $(DESTDIR)$(INCLUDEDIR)/ephcrypt.h
	$(call write_pc,$(DESTDIR)$(PKGCONFIGDIR)/ephcrypt.pc)
	install -m 0644 man/ephcrypt.1 $(DESTDIR)$(MANDIR)/man1/ephcrypt.1

uninstall-client:
	rm -f $(DESTDIR)$(BINDIR)/ephcrypt $(DESTDIR)$(LIBDIR)/libephcrypt.so.$(LIB_VERSION) \
		$(DESTDIR)$(LIBDIR)/$(LIB_SONAME) $(DESTDIR)$(LIBDIR)/libephcrypt.so \
		$(DESTDIR)$(LIBDIR)/libephcrypt.a $(DESTDIR)$(INCLUDEDIR)/ephcrypt.h \
		$(DESTDIR)$(PKGCONFIGDIR)/ephcrypt.pc $(DESTDIR)$(MANDIR)/man1/ephcrypt.1

.PHONY: client deps-client deps-client-test check-client install-client uninstall-client \
	pkg-config-check-client
