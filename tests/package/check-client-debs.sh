#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Checks the client's .debs: libephcrypt0 (the shared library, by its SONAME),
# libephcrypt-dev (header, static library, link, a pkg-config file that names
# the multiarch folder), ephcrypt-client (the CLI and its manual page); none
# ships anything under /usr/local, and a program builds against the -dev files.
# usage: tests/package/check-client-debs.sh PKG-DIR
set -u
dir=${1:?usage: $0 PKG-DIR}
status=0 checked=0
fail() { echo "FAIL: $*" >&2; status=1; }
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH) || exit 1
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# has DEB MODE PATH: the package holds PATH (a file with MODE, or a link "l").
has() {
	local listing
	listing=$(dpkg-deb -c "$1") || { fail "dpkg-deb -c $1"; return; }
	awk -v p="./$3" '$6 == p { print substr($1, 1, 1) == "l" ? "l" : $1 }' <<<"$listing" |
		grep -qx -- "$2" || fail "${1##*/}: no $3 ($2)"
	grep -q ' \./usr/local' <<<"$listing" && fail "${1##*/}: files under /usr/local"
	checked=$((checked + 1))
}
lib=$(ls "$dir"/libephcrypt0_*.deb) dev=$(ls "$dir"/libephcrypt-dev_*.deb) cli=$(ls "$dir"/ephcrypt-client_*.deb) ||
	{ echo "FAIL: the client packages were not built" >&2; exit 1; }
has "$lib" -rw-r--r-- "usr/lib/$ma/libephcrypt.so.0.1.0"
has "$lib" l "usr/lib/$ma/libephcrypt.so.0"
has "$dev" -rw-r--r-- usr/include/ephcrypt.h
has "$dev" -rw-r--r-- "usr/lib/$ma/libephcrypt.a"
has "$dev" l "usr/lib/$ma/libephcrypt.so"
has "$dev" -rw-r--r-- "usr/lib/$ma/pkgconfig/ephcrypt.pc"
has "$cli" -rwxr-xr-x usr/bin/ephcrypt
has "$cli" -rw-r--r-- usr/share/man/man1/ephcrypt.1.gz

for d in "$lib" "$dev" "$cli"; do dpkg-deb -x "$d" "$tmp/root"; done
objdump -p "$tmp/root/usr/lib/$ma/libephcrypt.so.0.1.0" | grep -q 'SONAME *libephcrypt\.so\.0$' ||
	fail "libephcrypt.so.0.1.0 has no SONAME libephcrypt.so.0"
grep -qx "libdir=/usr/lib/$ma" "$tmp/root/usr/lib/$ma/pkgconfig/ephcrypt.pc" ||
	fail "ephcrypt.pc: $(grep libdir "$tmp/root/usr/lib/$ma/pkgconfig/ephcrypt.pc")"
[[ $(dpkg-deb -f "$cli" Depends) == *libcurl* ]] || fail "ephcrypt-client does not depend on libcurl"
checked=$((checked + 3))

# A program builds and links against the packaged header, pkg-config file and library.
cat >"$tmp/use.c" <<'C'
#include <ephcrypt.h>
int main(void) { return ephcrypt_status_name(EPHCRYPT_OK) ? 0 : 1; }
C
if grep -q 'ephcrypt_status_name' "$tmp/root/usr/include/ephcrypt.h"; then
	r=$tmp/root
	flags=$(PKG_CONFIG_PATH=$r/usr/lib/$ma/pkgconfig pkg-config --cflags --libs ephcrypt) &&
		[[ $flags == *-lephcrypt* ]] || fail "pkg-config ephcrypt: $flags"
	cc -I"$r/usr/include" -o "$tmp/use" "$tmp/use.c" -L"$r/usr/lib/$ma" -lephcrypt &&
		LD_LIBRARY_PATH=$r/usr/lib/$ma "$tmp/use" ||
		fail "a program does not build and run against libephcrypt-dev"
	checked=$((checked + 2))
fi
[[ $status == 0 ]] && echo "ok: client packages: $checked checks passed"
exit $status
