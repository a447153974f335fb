# SPDX-License-Identifier: Apache-2.0
# SELinux: the module in selinux/ (make -C selinux), its installation, and
# check-selinux: static analysis against Debian's full policy in a private
# store, then enforcing mode in a guest of its own (tests/selinux/check.sh).
SELINUX_PKGS := selinux-policy-dev selinux-policy-default setools policycoreutils \
	selinux-utils checkpolicy semodule-utils
SELINUX_B := $(B)/selinux
SELINUX_PKGDIR ?= $(PREFIX)/share/selinux/packages
SELINUX_IFDIR ?= $(PREFIX)/share/selinux/devel/include/contrib

.PHONY: selinux deps-selinux install-selinux uninstall-selinux check-selinux

deps-selinux:
	$(call install_missing,$(SELINUX_PKGS))

# Like the rest of the build, it needs only what is installed: make deps-selinux installs.
selinux:
	@test -f /usr/share/selinux/devel/Makefile || { echo "selinux: Debian's refpolicy devel" \
		"files are missing: install $(SELINUX_PKGS) (make deps-selinux)" >&2; exit 1; }
	$(MAKE) --no-print-directory -C selinux O=$(abspath $(SELINUX_B))

# Not part of make install: a host without SELinux has no use for it (README.rst).
install-selinux: selinux
	install -d $(DESTDIR)$(SELINUX_PKGDIR) $(DESTDIR)$(SELINUX_IFDIR)
	install -m 0644 $(SELINUX_B)/ephcrypt.pp selinux/ephcrypt.fc $(DESTDIR)$(SELINUX_PKGDIR)/
	install -m 0644 selinux/ephcrypt.if $(DESTDIR)$(SELINUX_IFDIR)/

# make uninstall takes back what install-selinux put (check-install finds leftovers).
uninstall: uninstall-selinux
uninstall-selinux:
	rm -f $(DESTDIR)$(SELINUX_PKGDIR)/ephcrypt.pp $(DESTDIR)$(SELINUX_PKGDIR)/ephcrypt.fc \
		$(DESTDIR)$(SELINUX_IFDIR)/ephcrypt.if

# Tries, in the helper's domain, what the module forbids (tests/guest/selinux.sh).
$(B)/tests/ephcrypt-selinux-probe: tests/selinux/probe.c | deps
	@mkdir -p $(dir $@)
	@echo "  CCLD    $@"
	@$(CC) $(ALL_CFLAGS) $(LDHARDEN) -o $@ $<

CHECK_STAGES += check-selinux
check-selinux: all $(B)/tests/ephcrypt-selinux-probe
	@B=$(B) tests/selinux/check.sh || { rc=$$?; [ $$rc = 77 ] || exit $$rc; $(call skipped,$@); }
