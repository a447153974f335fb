# SPDX-License-Identifier: Apache-2.0
# The Debian package (debian/): `make package` builds it out of tree, in
# build/pkg, from the files git tracks (plus new, unignored ones), so the work
# tree stays clean.  `make check-package` (a stage of make check) tries make
# install/uninstall in a DESTDIR for two prefixes, builds the package,
# runs lintian (errors fail), checks its contents, and runs an encrypted-disk
# lifecycle in the guest with the helper and ephcrypt-audit the package ships.

PKG_DIR := $(B)/pkg
PKG_TOOLS := debhelper devscripts lintian fakeroot dpkg-dev logrotate sudo
PKG_ROOT := $(PKG_DIR)/root

.PHONY: package check-package check-docs deps-package

deps-package:
	$(call install_missing,$(BUILD_PKGS) $(PKG_TOOLS))

package: deps-package
	rm -rf $(PKG_DIR)
	mkdir -p $(PKG_DIR)/ephcrypt
	tests/package/source-files.sh | tar -c --no-recursion -T - -f - | tar -x -C $(PKG_DIR)/ephcrypt
	cd $(PKG_DIR)/ephcrypt && nice -n 10 dpkg-buildpackage -us -uc -b >../build.log 2>&1 || \
		{ tail -n 40 ../build.log >&2; echo "dpkg-buildpackage failed: $(PKG_DIR)/build.log" >&2; exit 1; }
	@ls $(PKG_DIR)/*.deb

check-package: package
	MAKE="$(MAKE)" tests/package/check-install.sh
	@echo "lintian (errors fail; the tags, if any, are in $(PKG_DIR)/lintian.log):"
	@nice -n 10 lintian --fail-on error --info $(PKG_DIR)/*.changes >$(PKG_DIR)/lintian.log 2>&1; \
		rc=$$?; grep -v '^running with root privileges' $(PKG_DIR)/lintian.log; exit $$rc
	rm -rf $(PKG_ROOT)
	dpkg-deb -x $(PKG_DIR)/ephcrypt_*.deb $(PKG_ROOT)
	tests/package/check-contents.sh $(PKG_DIR)/ephcrypt_*.deb $(PKG_ROOT)
	tests/package/check-client-debs.sh $(PKG_DIR)
	EPHCRYPT_PKG_ROOT=$(abspath $(PKG_ROOT)) nice -n 10 tests/vm/run --timeout 600 \
		tests/package/guest-lifecycle.sh

# Manual pages: lint clean, and in step with each program's options and --help.
check-docs: $(B)/ephcrypt-helper $(B)/ephcrypt-audit
	@for m in man/*.[0-9]; do w=$$(groff -man -ww -z $$m 2>&1); \
		[ -z "$$w" ] || { echo "groff -man -ww $$m:"; echo "$$w"; exit 1; }; done
	B=$(B) tests/man/check-options.sh

CHECK_STAGES += check-docs check-package
