#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The helper's layers, bottom first, and two checks on them.
#   tests/layers.sh check [OBJ...]  the object files' symbol graph (nm: a symbol
#       defined in one object and used by another is an edge) has no cycle,
#       and no object uses one in a higher layer; the cycle or edge is printed.
#   tests/layers.sh loc            lines of code per layer (comments and blank
#       lines not counted: gcc strips comments, then non-blank lines count).
set -eu
export LC_ALL=C # sort and join must agree on the order
cd "$(dirname "$0")/.."

# The one map from a file to its layer (rank, name); bottom first.
LAYERS="protocol policy audit mechanisms request handlers dispatch sandbox startup"
layer_of() {
	case $1 in
	protocol/* | */protocol/*) echo protocol ;;
	policy/* | */policy/* | */names.* | */policy.* | */util.* | */number.*) echo policy ;;
	audit/* | */audit/* | */audit.*) echo audit ;;
	*/ops/* | */lvm.* | */crypt.* | */storage.h) echo mechanisms ;;
	*/call.* | */args.* | */guard.*) echo request ;;
	*/native.* | */nova.*) echo handlers ;;
	*/dispatch.* | */serve.* | */helper.h | */relay.* | */forward.*) echo dispatch ;;
	*/main.* | */startup.*) echo startup ;;
	*/sandbox.* | */syscalls.*) echo sandbox ;;
	*) echo unknown ;;
	esac
}
rank_of() {
	r=0
	for l in $LAYERS; do
		[ "$l" = "$1" ] && { echo $r; return; }
		r=$((r + 1))
	done
	echo 99
}
sources() {
	find protocol policy audit helper -name '*.[ch]' 2>/dev/null | sort
}

loc() {
	printf '%-11s %6s  %s\n' layer lines files
	total=0 path=0
	for l in $LAYERS; do
		n=0 files=""
		for f in $(sources); do
			[ "$(layer_of "$f")" = "$l" ] || continue
			c=$(gcc -fpreprocessed -dD -E -P "$f" 2>/dev/null | grep -c '[^[:space:]]' || true)
			n=$((n + c))
			files="$files ${f##*/}"
		done
		total=$((total + n))
		case $l in request | dispatch) path=$((path + n)) ;; esac
		printf '%-11s %6d %s\n' "$l" "$n" "$files"
	done
	printf '%-11s %6d  (request + dispatch: the path a call takes)\n' "req. path" "$path"
	printf '%-11s %6d\n' total "$total"
}

check() {
	if [ $# -gt 0 ]; then
		objs=$(printf '%s\n' "$@" | sort)
	else
		objs=$(find build/protocol build/policy build/audit build/helper -name '*.o' 2>/dev/null | sort)
	fi
	[ -n "$objs" ] || { echo "layers: no objects (run make first)" >&2; exit 2; }
	tmp=$(mktemp -d)
	trap 'rm -rf "$tmp"' EXIT
	for o in $objs; do
		nm --defined-only -g "$o" | awk -v o="$o" 'NF == 3 { print $3, o }'
	done | sort >"$tmp/defs"
	for o in $objs; do
		nm -u "$o" | awk -v o="$o" '{ print $NF, o }'
	done | sort >"$tmp/uses"
	# user -> definer, for symbols defined in one of our objects.
	join "$tmp/uses" "$tmp/defs" | awk '$2 != $3 { print $2, $3, $1 }' | sort -u >"$tmp/edges"
	status=0
	while read -r from to sym; do
		lf=$(layer_of "$from") lt=$(layer_of "$to")
		if [ "$(rank_of "$lf")" -lt "$(rank_of "$lt")" ]; then
			echo "layers: $from ($lf) uses $sym from $to ($lt), a higher layer"
			status=1
		fi
	done <"$tmp/edges"
	awk '{ print $1, $2 }' "$tmp/edges" | sort -u >"$tmp/pairs"
	if ! tsort "$tmp/pairs" >/dev/null 2>"$tmp/tsort"; then
		echo "layers: cycle among the objects:"
		sed -n 's/^tsort: //p' "$tmp/tsort" | grep -v 'input contains a loop' | sed 's/^/  /'
		status=1
	fi
	n=$(wc -l <"$tmp/pairs")
	[ $status = 0 ] && echo "layers: $(echo "$objs" | wc -l) objects, $n edges, no cycle, all downward"
	return $status
}

case ${1:-} in
check) shift; check "$@" ;;
loc) loc ;;
*) echo "usage: $0 check [OBJ...] | loc" >&2; exit 2 ;;
esac
