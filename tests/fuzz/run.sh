#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tests/fuzz/run.sh [SECONDS [TARGET...]]: build the libFuzzer harnesses and run
# each for SECONDS (default 60).  TARGET: mp (the msgpack codec and privsep
# envelope), policy (the policy parser) and guard (argument binding and the
# guard's name and path checks); default all three.
# FUZZ_RUNS=N stops each target after N executions instead (SECONDS then
# only bounds the run).
# FUZZ_RELAXED=1 skips the mp properties that known open bugs break (see README).
# Exit 0 when no crash was found, 1 otherwise (the crash input is printed as hex).
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS [mp|policy|guard...]]" >&2; exit 2 ;; esac
[ $# -gt 0 ] && shift
targets=${*:-mp policy guard}
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: $CLANG not found; install clang and libclang-rt-14-dev" >&2
	exit 77
fi
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE"
mkdir -p build/fuzz-artifacts
# Newest crash/leak/timeout/oom artifact, or nothing.
newest() {
	latest=
	for f in build/fuzz-artifacts/crash-* build/fuzz-artifacts/leak-* \
		build/fuzz-artifacts/timeout-* build/fuzz-artifacts/oom-*; do
		[ -e "$f" ] || continue
		if [ -z "$latest" ] || [ "$f" -nt "$latest" ]; then latest=$f; fi
	done
	printf '%s' "$latest"
}
# build TARGET: compile build/fuzz_TARGET; sets bin, dict, seeds.
build() {
	case $1 in
	mp)
		extra=
		bin=build/fuzz_mp
		if [ "${FUZZ_RELAXED:-0}" = 1 ]; then
			extra=-DFUZZ_RELAXED
			bin=build/fuzz_mp_relaxed
		fi
		# shellcheck disable=SC2086 # $FLAGS and $extra are lists of flags
		"$CLANG" $FLAGS $extra -Iprotocol tests/fuzz/fuzz_mp.c protocol/*.c -o "$bin"
		dict=tests/fuzz/fuzz_mp.dict seeds=tests/fuzz/corpus
		;;
	policy)
		bin=build/fuzz_policy
		# shellcheck disable=SC2086
		"$CLANG" $FLAGS -Ipolicy -Iprotocol tests/fuzz/fuzz_policy.c policy/*.c \
			-o "$bin"
		dict=tests/fuzz/fuzz_policy.dict seeds=tests/fuzz/policy-corpus
		;;
	guard)
		bin=build/fuzz_guard
		# guard.c links helper/ops/dm.c (libdevmapper) for the device checks it does
		# not fuzz: those ask the kernel.
		# shellcheck disable=SC2086
		"$CLANG" $FLAGS -Ipolicy -Iprotocol tests/fuzz/fuzz_guard.c helper/args.c \
			helper/call.c helper/guard.c helper/ops/dm.c policy/*.c protocol/*.c \
			-ldevmapper -o "$bin"
		dict=tests/fuzz/fuzz_guard.dict seeds=tests/fuzz/guard-corpus
		;;
	*) echo "fuzz: unknown target '$1' (mp, policy, guard)" >&2; exit 2 ;;
	esac
}
passed=0 failed=0
for t in $targets; do
	build "$t"
	corpus=build/fuzz-corpus-$t
	log=build/fuzz-artifacts/last-run-$t.log
	mkdir -p "$corpus"
	before=$(newest)
	started=$(date +%s)
	set +e
	"$bin" -dict="$dict" -max_total_time="$secs" ${FUZZ_RUNS:+-runs="$FUZZ_RUNS"} \
		-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix=build/fuzz-artifacts/ "$corpus" "$seeds" >"$log" 2>&1
	rc=$?
	set -e
	echo "fuzz $t: $(($(date +%s) - started)) s"
	grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' "$log" |
		sed 's/^/  /'
	grep -E 'fuzz_(mp|policy|guard):|ERROR:|runtime error' "$log" | head -5 || true
	after=$(newest)
	if [ "$rc" -ne 0 ] || [ "$after" != "$before" ]; then
		if [ -n "$after" ]; then
			echo "fuzz $t: crash input $after ($(wc -c <"$after") bytes):"
			xxd -p "$after" | head -20
		fi
		echo "fuzz $t: FAILED (exit $rc), full log in $log"
		failed=$((failed + 1))
	else
		echo "fuzz $t: no crash (${FUZZ_RUNS:+$FUZZ_RUNS executions, at most }${secs} s)"
		passed=$((passed + 1))
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
