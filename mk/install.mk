# SPDX-License-Identifier: Apache-2.0
# make install / uninstall: what a distribution package installs, for any
# PREFIX.  Needs only coreutils and sed (and visudo, if present, to check the
# sudoers file before it goes live).  The client library, its header,
# pkg-config file and CLI come from mk/client.mk (install-client).
#
#   install-helper   helper, ephcrypt-audit, man pages, sudoers, tmpfiles.d,
#                    logrotate, helper.conf (unless one is there), example
#                    policy, rsyslog note, Nova contrib, docs
#   install          install-helper plus install-client (mk/client.mk)
#   uninstall        removes all of it; the audit logs in /var/log/ephcrypt stay

TMPFILESDIR ?= $(PREFIX)/lib/tmpfiles.d
SUDOERSDIR ?= $(SYSCONFDIR)/sudoers.d
LOGROTATEDIR ?= $(SYSCONFDIR)/logrotate.d
GEN := $(B)/gen

.PHONY: install install-helper uninstall

# Files that name the helper's path are written for this SBINDIR every time.
$(GEN)/%: contrib/nova/%.in FORCE
	@mkdir -p $(dir $@)
	@sed 's|@SBINDIR@|$(SBINDIR)|g' $< >$@.tmp && mv $@.tmp $@
FORCE:

install-helper: $(B)/ephcrypt-helper $(B)/ephcrypt-audit $(GEN)/sudoers.d-ephcrypt \
		$(GEN)/nova.conf.snippet
	@if command -v visudo >/dev/null; then visudo -c -q -f $(GEN)/sudoers.d-ephcrypt; fi
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)/contrib/nova \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(LOGROTATEDIR)
	install -d -m 0750 $(DESTDIR)$(SUDOERSDIR)
	install -m 0755 $(B)/ephcrypt-helper $(B)/ephcrypt-audit $(DESTDIR)$(SBINDIR)/
	install -m 0644 man/*.5 $(DESTDIR)$(MANDIR)/man5/
	install -m 0644 man/*.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0440 $(GEN)/sudoers.d-ephcrypt $(DESTDIR)$(SUDOERSDIR)/ephcrypt
	install -m 0644 contrib/system/tmpfiles.conf $(DESTDIR)$(TMPFILESDIR)/ephcrypt.conf
	install -m 0644 contrib/system/logrotate $(DESTDIR)$(LOGROTATEDIR)/ephcrypt
	install -m 0644 policy/examples/*.conf $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 contrib/system/rsyslog.conf $(DESTDIR)$(DOCDIR)/examples/rsyslog-ephcrypt.conf
	install -m 0644 contrib/system/helper.conf $(DESTDIR)$(DOCDIR)/examples/helper.conf
	@# The deployer's own settings are never overwritten (the package makes it a conffile).
	install -d -m 0755 $(DESTDIR)$(SYSCONFDIR)/ephcrypt
	@if [ -e $(DESTDIR)$(SYSCONFDIR)/ephcrypt/helper.conf ]; then \
		echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/ephcrypt/helper.conf"; \
	else \
		echo "install -m 0644 contrib/system/helper.conf $(DESTDIR)$(SYSCONFDIR)/ephcrypt/helper.conf"; \
		install -m 0644 contrib/system/helper.conf $(DESTDIR)$(SYSCONFDIR)/ephcrypt/helper.conf; \
	fi
	install -m 0644 contrib/nova/README.rst contrib/nova/*.patch $(GEN)/sudoers.d-ephcrypt \
		$(GEN)/nova.conf.snippet $(DESTDIR)$(DOCDIR)/contrib/nova/
	install -m 0644 README.rst LICENSE $(DESTDIR)$(DOCDIR)/

install: install-helper

uninstall: uninstall-client
	rm -f $(DESTDIR)$(SBINDIR)/ephcrypt-helper $(DESTDIR)$(SBINDIR)/ephcrypt-audit \
		$(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(wildcard man/*.5))) \
		$(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(wildcard man/*.8))) \
		$(DESTDIR)$(SUDOERSDIR)/ephcrypt $(DESTDIR)$(TMPFILESDIR)/ephcrypt.conf \
		$(DESTDIR)$(LOGROTATEDIR)/ephcrypt
	rm -rf $(DESTDIR)$(DOCDIR)
	@# helper.conf goes only as installed; an edited one is the deployer's.
	@if cmp -s contrib/system/helper.conf $(DESTDIR)$(SYSCONFDIR)/ephcrypt/helper.conf; then \
		echo "rm -f $(DESTDIR)$(SYSCONFDIR)/ephcrypt/helper.conf"; \
		rm -f $(DESTDIR)$(SYSCONFDIR)/ephcrypt/helper.conf; \
		rmdir $(DESTDIR)$(SYSCONFDIR)/ephcrypt 2>/dev/null || true; \
	fi
	@echo "uninstall: /var/log/ephcrypt (the audit logs), /etc/ephcrypt/policy.conf and an edited /etc/ephcrypt/helper.conf are left in place"
