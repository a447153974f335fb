#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# man/ephcrypt-audit.8 must lint clean and document every record field that
# audit/audit.c writes and every option tools/ephcrypt-audit.c accepts.
# Run from the top of the tree; exits 77 (skip) without groff.
set -u
cd "$(dirname "$0")/../.." || exit 1
man=man/ephcrypt-audit.8
status=0

fail() {
	echo "FAIL: $*" >&2
	status=1
}

command -v groff >/dev/null 2>&1 || { echo "SKIP: groff not installed" >&2; exit 77; }

warnings=$(groff -man -ww -z "$man" 2>&1)
[ -z "$warnings" ] || fail "groff -man -ww -z $man:
$warnings"

# Field names: the first string argument of jw_kstr/jw_knum/jw_open/jw_key.
fields=$(sed -n 's/.*jw_\(kstr\|knum\|open\|key\)(w, "\([a-zA-Z_]*\)".*/\2/p' audit/audit.c | sort -u)
[ -n "$fields" ] || fail "no field names found in audit/audit.c"
for f in $fields; do
	grep -q "^\.B[IR]* .*\b$f\b" "$man" || fail "record field '$f' is not documented in $man"
done

# Long options of the tool, from its option table.
opts=$(grep -o '{ *"[a-z-]*", \(no\|required\)_argument' tools/ephcrypt-audit.c | sed 's/{ *"\([a-z-]*\)".*/\1/')
[ -n "$opts" ] || fail "no options found in tools/ephcrypt-audit.c"
for o in $opts; do
	pat=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
	grep -q "\\\\-\\\\-$pat" "$man" || fail "option --$o is not documented in $man"
done

[ $status = 0 ] && echo "ok: $man lints clean; $(echo $fields | wc -w) fields and $(echo $opts | wc -w) options documented"
exit $status
