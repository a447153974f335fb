#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# make install and make uninstall into a DESTDIR, for PREFIX=/usr and the
# default /usr/local: the files that name the helper name it where it was
# installed, the sudoers file is 0440, and uninstall leaves no file behind.
# Run from the top of the tree after `make`; MAKE may name the make to use.
set -u
cd "$(dirname "$0")/../.." || exit 1
MAKE=${MAKE:-make}
status=0
fail() { echo "FAIL: $*" >&2; status=1; }
dest=$(mktemp -d) || exit 1
trap 'rm -rf "$dest"' EXIT

# check_prefix PREFIX TMPFILES: install, look, uninstall, look again.
check_prefix() {
	local prefix=$1 tmpfiles=$2 root=$dest/${1//\//_} f
	$MAKE -s --no-print-directory install DESTDIR="$root" PREFIX="$prefix" >/dev/null ||
		{ fail "make install PREFIX=$prefix"; return; }
	for f in "$prefix/sbin/ephcrypt-helper" "$prefix/sbin/ephcrypt-audit" \
		"$prefix/share/man/man8/ephcrypt-helper.8" /etc/logrotate.d/ephcrypt \
		"$tmpfiles/ephcrypt.conf" "$prefix/share/doc/ephcrypt/examples/nova.conf" \
		/etc/ephcrypt/helper.conf "$prefix/share/doc/ephcrypt/examples/helper.conf"; do
		[[ -f $root$f ]] || fail "PREFIX=$prefix: no $f"
	done
	[[ $(stat -c %a "$root/etc/sudoers.d/ephcrypt" 2>/dev/null) == 440 ]] ||
		fail "PREFIX=$prefix: /etc/sudoers.d/ephcrypt is not mode 0440"
	grep -q "NOPASSWD: $prefix/sbin/ephcrypt-helper ^--policy" "$root/etc/sudoers.d/ephcrypt" ||
		fail "PREFIX=$prefix: the sudoers rule does not name $prefix/sbin/ephcrypt-helper"
	grep -q "^helper_command = sudo $prefix/sbin/ephcrypt-helper " \
		"$root$prefix/share/doc/ephcrypt/contrib/nova/nova.conf.snippet" ||
		fail "PREFIX=$prefix: nova.conf.snippet does not name $prefix/sbin/ephcrypt-helper"
	[[ $prefix == /usr/local ]] || ! grep -rlI /usr/local "$root/etc" \
		"$root$prefix/share/doc/ephcrypt/contrib/nova/"{nova.conf.snippet,sudoers.d-ephcrypt} ||
		fail "PREFIX=$prefix: the files above name /usr/local"
	# A second install keeps the deployer's helper.conf, and uninstall leaves it.
	echo "lvm-timeout = 60" >>"$root/etc/ephcrypt/helper.conf"
	$MAKE -s --no-print-directory install DESTDIR="$root" PREFIX="$prefix" >/dev/null ||
		fail "make install PREFIX=$prefix (again)"
	grep -q '^lvm-timeout = 60$' "$root/etc/ephcrypt/helper.conf" ||
		fail "PREFIX=$prefix: make install overwrote an edited /etc/ephcrypt/helper.conf"
	$MAKE -s --no-print-directory uninstall DESTDIR="$root" PREFIX="$prefix" >/dev/null ||
		fail "make uninstall PREFIX=$prefix"
	[[ -f $root/etc/ephcrypt/helper.conf ]] ||
		fail "PREFIX=$prefix: make uninstall removed an edited /etc/ephcrypt/helper.conf"
	rm -f "$root/etc/ephcrypt/helper.conf"
	$MAKE -s --no-print-directory install DESTDIR="$root" PREFIX="$prefix" >/dev/null &&
		$MAKE -s --no-print-directory uninstall DESTDIR="$root" PREFIX="$prefix" >/dev/null ||
		fail "make install and uninstall PREFIX=$prefix (unedited helper.conf)"
	left=$(find "$root" ! -type d)
	[[ -z $left ]] || fail "PREFIX=$prefix: make uninstall left: $left"
}

check_prefix /usr /usr/lib/tmpfiles.d
check_prefix /usr/local /usr/local/lib/tmpfiles.d
[[ $status == 0 ]] && echo "ok: make install and uninstall for PREFIX=/usr and /usr/local"
exit $status
