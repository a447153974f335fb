#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# libephcrypt exports its API under one prefix and nothing else; its SONAME is libephcrypt.so.0.
set -eu
lib=${1:-build/libephcrypt.so.0.1.0}
bad=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRVW]$/ && $3 !~ /^ephcrypt_/ && $3 !~ /^LIBEPHCRYPT_/ {print $3}')
if [ -n "$bad" ]; then
	echo "FAIL: $lib exports symbols outside ephcrypt_: $bad" >&2
	exit 1
fi
n=$(nm -D --defined-only "$lib" | awk '$3 ~ /^ephcrypt_/' | wc -l)
[ "$n" -ge 30 ] || { echo "FAIL: only $n ephcrypt_ symbols exported" >&2; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ "$soname" = libephcrypt.so.0 ] || { echo "FAIL: SONAME is '$soname'" >&2; exit 1; }
echo "ok - $lib: $n symbols, all ephcrypt_*, SONAME $soname"
