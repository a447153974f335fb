#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# Keeps each binary's options, its --help and its manual page in step: every
# long option in the program's getopt table must be in its man page's OPTIONS
# section and in its --help output, and every option the OPTIONS section
# documents must be one the program takes.  Run from anywhere after `make`;
# exits 77 (skip) when a binary is not built.
set -u
cd "$(dirname "$0")/../.." || exit 1
B=${B:-build}
status=0

fail() { echo "FAIL: $*" >&2; status=1; }

# Long option names from `struct option` tables: lines like {"name", no_argument, ...}.
source_options() {
	grep -ho '{ *"[a-z][a-z_-]*", *\(no\|required\|optional\)_argument' "$@" |
		sed 's/{ *"\([^"]*\)".*/--\1/' | sort -u
}

# The OPTIONS section's option names, with groff's \- made plain.
man_options() {
	sed -n '/^\.SH OPTIONS/,/^\.SH /p' "$1" | sed 's/\\-/-/g; s/\\f[BIRP]//g' |
		grep -o -- '--[a-z][a-z_-]*' | sort -u
}

check() {
	local prog=$1 man=$2 help opts documented o
	shift 2
	[[ -x $B/$prog ]] || { echo "SKIP: $B/$prog is not built" >&2; exit 77; }
	opts=$(source_options "$@")
	[[ -n $opts ]] || { fail "no options found in $*"; return; }
	help=$("$B/$prog" --help 2>&1) || fail "$prog --help exits non-zero"
	documented=$(man_options "$man")
	for o in $opts; do
		grep -qx -- "$o" <<<"$documented" || fail "$prog $o is not in the OPTIONS section of $man"
		grep -q -- "$o\b" <<<"$help" || fail "$prog --help does not list $o"
	done
	for o in $documented; do
		grep -qx -- "$o" <<<"$opts" || fail "$man documents $o, which $prog does not take"
	done
	[[ $status == 0 ]] && echo "ok: $prog: $(wc -w <<<"$opts") options in $man and --help"
}

check ephcrypt-helper man/ephcrypt-helper.8 $(grep -rl 'struct option' helper)
check ephcrypt-audit man/ephcrypt-audit.8 tools/ephcrypt-audit.c
exit $status
