#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Checks a built ephcrypt .deb: the files a compute node needs, their owners
# and modes (sudoers 0440), nothing under /usr/local and no /usr/local in the
# files it writes, conffiles, and that what it ships parses (visudo, logrotate,
# systemd-tmpfiles, the helper's --check-policy on the example policy).
# usage: tests/package/check-contents.sh DEB EXTRACTED-ROOT
set -u
deb=${1:?usage: $0 DEB ROOT} root=${2:?usage: $0 DEB ROOT}
status=0 checked=0
fail() { echo "FAIL: $*" >&2; status=1; }
pass() { checked=$((checked + 1)); }

root=$(cd "$root" && pwd) || exit 1 # systemd-tmpfiles --root wants absolute paths
listing=$(dpkg-deb -c "$deb") || { echo "FAIL: dpkg-deb -c $deb" >&2; exit 1; }

# expect MODE OWNER PATH: the package holds PATH with that mode and owner.
expect() {
	local line
	line=$(awk -v p="./$3" '$6 == p { print $1, $2 }' <<<"$listing")
	[[ -n $line ]] || { fail "$3 is not in the package"; return; }
	[[ $line == "$1 $2" ]] || fail "$3 is '$line', expected '$1 $2'"
	pass
}
expect -rwxr-xr-x root/root usr/sbin/ephcrypt-helper
expect -rwxr-xr-x root/root usr/sbin/ephcrypt-audit
expect -r--r----- root/root etc/sudoers.d/ephcrypt
expect -rw-r--r-- root/root etc/logrotate.d/ephcrypt
expect -rw-r--r-- root/root etc/ephcrypt/helper.conf
expect -rw-r--r-- root/root usr/share/doc/ephcrypt/examples/helper.conf
expect -rw-r--r-- root/root usr/lib/tmpfiles.d/ephcrypt.conf
expect -rw-r--r-- root/root usr/share/man/man8/ephcrypt-helper.8.gz
expect -rw-r--r-- root/root usr/share/man/man8/ephcrypt-audit.8.gz
expect -rw-r--r-- root/root usr/share/man/man5/ephcrypt-policy.5.gz
expect -rw-r--r-- root/root usr/share/doc/ephcrypt/examples/nova.conf
expect -rw-r--r-- root/root usr/share/doc/ephcrypt/examples/rsyslog-ephcrypt.conf
expect -rw-r--r-- root/root usr/share/doc/ephcrypt/contrib/nova/nova.conf.snippet
expect -rw-r--r-- root/root usr/share/doc/ephcrypt/copyright

grep -q ' \./usr/local' <<<"$listing" && fail "files under /usr/local: $(grep ' \./usr/local' <<<"$listing")"
for f in etc/sudoers.d/ephcrypt etc/logrotate.d/ephcrypt usr/lib/tmpfiles.d/ephcrypt.conf \
	usr/share/doc/ephcrypt/contrib/nova/nova.conf.snippet \
	usr/share/doc/ephcrypt/contrib/nova/sudoers.d-ephcrypt; do
	grep -n '/usr/local\|@[A-Z]*@' "$root/$f" && fail "$f names /usr/local or an unfilled @VAR@"
done
grep -q '^nova ALL = (root) NOPASSWD: /usr/sbin/ephcrypt-helper ^--policy ' "$root/etc/sudoers.d/ephcrypt" ||
	fail "the sudoers rule does not name /usr/sbin/ephcrypt-helper"
grep -q '^helper_command = sudo /usr/sbin/ephcrypt-helper ' \
	"$root/usr/share/doc/ephcrypt/contrib/nova/nova.conf.snippet" ||
	fail "nova.conf.snippet's helper_command does not name /usr/sbin/ephcrypt-helper"
pass

conffiles=$(dpkg-deb -f "$deb" Package >/dev/null && dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles)
for c in /etc/sudoers.d/ephcrypt /etc/logrotate.d/ephcrypt /etc/ephcrypt/helper.conf; do
	grep -qx "$c" <<<"$conffiles" || fail "$c is not a conffile"
done
pass

# Every program has its manual page.
for p in "$root"/usr/sbin/* "$root"/usr/bin/*; do
	[[ -e $p ]] || continue
	ls "$root"/usr/share/man/man*/"${p##*/}".*.gz >/dev/null 2>&1 || fail "${p##*/} has no manual page"
done
pass

if command -v visudo >/dev/null; then
	visudo -c -q -f "$root/etc/sudoers.d/ephcrypt" || fail "visudo rejects etc/sudoers.d/ephcrypt"
	pass
fi
if command -v logrotate >/dev/null; then
	out=$(logrotate -d -s /dev/null "$root/etc/logrotate.d/ephcrypt" 2>&1)
	grep -qi 'error' <<<"$out" && fail "logrotate -d: $out"
	grep -q 'rotating pattern: /var/log/ephcrypt/audit.log' <<<"$out" || fail "logrotate -d: $out"
	grep -v '^[[:space:]]*#' "$root/etc/logrotate.d/ephcrypt" | grep -qw copytruncate &&
		fail "the logrotate file truncates"
	pass
fi
if command -v systemd-tmpfiles >/dev/null; then
	tmp=$(mktemp -d) || exit 1
	systemd-tmpfiles --create --root="$tmp" "$root/usr/lib/tmpfiles.d/ephcrypt.conf" ||
		fail "systemd-tmpfiles rejects usr/lib/tmpfiles.d/ephcrypt.conf"
	[[ $(stat -c '%a %U' "$tmp/var/log/ephcrypt") == "700 root" ]] ||
		fail "tmpfiles.d makes /var/log/ephcrypt $(stat -c '%a %U' "$tmp/var/log/ephcrypt")"
	# A deployer's 0750 and reviewers' group stay; the owner is root's again.
	chmod 0750 "$tmp/var/log/ephcrypt" && chgrp adm "$tmp/var/log/ephcrypt" &&
		chown nobody "$tmp/var/log/ephcrypt"
	systemd-tmpfiles --create --root="$tmp" "$root/usr/lib/tmpfiles.d/ephcrypt.conf"
	[[ $(stat -c '%a %U %G' "$tmp/var/log/ephcrypt") == "750 root adm" ]] ||
		fail "tmpfiles.d changed a reviewers' /var/log/ephcrypt to $(stat -c '%a %U %G' "$tmp/var/log/ephcrypt")"
	rm -rf "$tmp"
	pass
fi

# The shipped binaries run, and the helper accepts the example policy.
v=$(dpkg-deb -f "$deb" Version)
[[ $("$root/usr/sbin/ephcrypt-helper" --version) == "ephcrypt-helper $v" ]] ||
	fail "ephcrypt-helper --version is not $v"
[[ $("$root/usr/sbin/ephcrypt-audit" --version) == "ephcrypt-audit $v" ]] ||
	fail "ephcrypt-audit --version is not $v"
# Without a nova user (a build machine) the example's caller becomes root.
policy=$(mktemp) || exit 1
sed "$(getent passwd nova >/dev/null || echo 's/^user nova$/user root/')" \
	"$root/usr/share/doc/ephcrypt/examples/nova.conf" >"$policy"
chmod 0644 "$policy" # --check-policy reads it as nobody when run as root
out=$("$root/usr/sbin/ephcrypt-helper" --check-policy "$policy" 2>&1) ||
	fail "--check-policy on the example policy: $out"
rm -f "$policy"
pass

[[ $status == 0 ]] && echo "ok: ${deb##*/}: $checked checks passed ($(grep -c '^-' <<<"$listing") files)"
exit $status
