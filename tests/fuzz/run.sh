#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tests/fuzz/run.sh [SECONDS]: build the libFuzzer harness and run it for SECONDS (default 60).
# FUZZ_RELAXED=1 skips the properties that known open bugs break (see README).
# Exit 0 when no crash was found, 1 otherwise (the crash input is printed as hex).
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
case $secs in '' | *[!0-9]*) echo "usage: $0 [SECONDS]" >&2; exit 2 ;; esac
CLANG=${CLANG:-clang}
if ! command -v "$CLANG" >/dev/null 2>&1; then
	echo "fuzz: $CLANG not found; install clang and libclang-rt-14-dev" >&2
	exit 77
fi
extra=
bin=build/fuzz_mp
if [ "${FUZZ_RELAXED:-0}" = 1 ]; then
	extra=-DFUZZ_RELAXED
	bin=build/fuzz_mp_relaxed
fi
mkdir -p build/fuzz-corpus build/fuzz-artifacts
# shellcheck disable=SC2086 # $extra is one flag or nothing
"$CLANG" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -D_GNU_SOURCE $extra \
	-Iprotocol tests/fuzz/fuzz_mp.c protocol/*.c -o "$bin"
log=build/fuzz-artifacts/last-run.log
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
before=$(newest)
set +e
"$bin" -dict=tests/fuzz/fuzz_mp.dict -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix=build/fuzz-artifacts/ \
	build/fuzz-corpus tests/fuzz/corpus >"$log" 2>&1
rc=$?
set -e
grep -E '^#[0-9]+.*(DONE|pulse)|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb' "$log" | tail -4
grep -E 'fuzz_mp:|ERROR:|runtime error' "$log" | head -5 || true
after=$(newest)
if [ "$rc" -ne 0 ] || [ "$after" != "$before" ]; then
	if [ -n "$after" ]; then
		echo "fuzz: crash input $after ($(wc -c <"$after") bytes):"
		xxd -p "$after" | head -20
	fi
	echo "fuzz: FAILED (exit $rc), full log in $log"
	echo "0 passed, 1 failed"
	exit 1
fi
echo "fuzz: no crash in ${secs}s"
echo "1 passed, 0 failed"
