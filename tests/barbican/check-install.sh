#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# make install-client into a temp prefix, then build a program against it with
# pkg-config, once shared and once with libephcrypt.a (its own deps shared), and run both.
set -eu
cd "$(dirname "$0")/../.."
tmp=$(mktemp -d /tmp/ephcrypt-install.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
make --no-print-directory -s install-client PREFIX="$tmp/usr" DEB_HOST_MULTIARCH=x86_64-test >/dev/null
for f in bin/ephcrypt include/ephcrypt.h lib/x86_64-test/libephcrypt.so.0.1.0 \
	lib/x86_64-test/libephcrypt.a lib/x86_64-test/pkgconfig/ephcrypt.pc share/man/man1/ephcrypt.1; do
	[ -e "$tmp/usr/$f" ] || { echo "FAIL: install-client did not install $f" >&2; exit 1; }
done
[ "$(readlink "$tmp/usr/lib/x86_64-test/libephcrypt.so.0")" = libephcrypt.so.0.1.0 ] ||
	{ echo "FAIL: libephcrypt.so.0 link" >&2; exit 1; }
cat >"$tmp/use.c" <<'C'
#include <ephcrypt.h>
#include <stdio.h>
int main(void)
{
	uint64_t n;
	char u[37];
	if (ephcrypt_parse_size("10G", &n) || n != 10737418240ULL ||
	    ephcrypt_secret_uuid("http://k/v1/secrets/77ad51d5-5c09-40e6-b3a9-e31c4c426ff0", u))
		return 1;
	puts(ephcrypt_status_name(EPHCRYPT_E_REFUSED));
	return 0;
}
C
export PKG_CONFIG_PATH="$tmp/usr/lib/x86_64-test/pkgconfig"
# shellcheck disable=SC2046 # one word per flag
cc -Wall -Werror -o "$tmp/use" "$tmp/use.c" $(pkg-config --cflags --libs ephcrypt)
# shellcheck disable=SC2046
cc -Wall -Werror -o "$tmp/use-static" "$tmp/use.c" $(pkg-config --cflags ephcrypt) \
	"$tmp/usr/lib/x86_64-test/libephcrypt.a" $(pkg-config --libs libcurl json-c yaml-0.1 msgpack) -lpthread
out=$(LD_LIBRARY_PATH="$tmp/usr/lib/x86_64-test" "$tmp/use")
[ "$out" = "refused by policy" ] || { echo "FAIL: shared: '$out'" >&2; exit 1; }
[ "$("$tmp/use-static")" = "refused by policy" ] || { echo "FAIL: static" >&2; exit 1; }
ldd "$tmp/use-static" | grep -q libephcrypt && { echo "FAIL: static build uses the .so" >&2; exit 1; }
echo "ok - install-client: header, libephcrypt.so.0 and .a, ephcrypt.pc (shared and static builds), ephcrypt, ephcrypt.1"
