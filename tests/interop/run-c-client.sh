#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tests/interop/run-c-client.sh: the channel flows (tests/unit/test_channel.c,
# a C client on the shared codec) against a helper binary.
#   EPHCRYPT_HELPER       the helper to test (default build/ephcrypt-helper;
#                         `make check-asan` passes build/asan/ephcrypt-helper)
#   EPHCRYPT_HELPER_ARGS  extra helper arguments (default: a private policy
#                         and audit log made by the test, see test_channel.c)
# Prints "N passed, M failed" last; exits non-zero if any test failed.
set -eu
cd "$(dirname "$0")/../.."
EPHCRYPT_HELPER=${EPHCRYPT_HELPER:-build/ephcrypt-helper}
export EPHCRYPT_HELPER

# The client side is the normal build; the helper is whatever we were given.
make --no-print-directory -s B=build build/tests/test_channel
if [ "$EPHCRYPT_HELPER" = build/ephcrypt-helper ]; then
	make --no-print-directory -s B=build build/ephcrypt-helper
fi
if [ ! -x "$EPHCRYPT_HELPER" ]; then
	echo "run-c-client: no helper at $EPHCRYPT_HELPER" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
echo "run-c-client: build/tests/test_channel against $EPHCRYPT_HELPER"

out=$(mktemp)
trap 'rm -f "$out"' EXIT INT TERM
set +e
# For an ASan helper: LeakSanitizer cannot run inside the helper's seccomp
# sandbox (at exit it calls prctl(PR_SET_DUMPABLE), ptrace and clone, and the
# filter kills the process with SIGSYS), so leak checking is off unless the
# caller sets ASAN_OPTIONS; run-valgrind.sh covers leaks. Every other ASan or
# UBSan report aborts the helper, which the tests see as a failed exit.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0} \
	build/tests/test_channel --jobs 2 >"$out" 2>&1
rc=$?
set -e
grep -v '^\[----\] *$' "$out" || true
line=$(grep 'Synthesis:' "$out" | tail -1)
tested=$(printf '%s\n' "$line" | sed -n 's/.*Tested: \([0-9]*\).*/\1/p')
passing=$(printf '%s\n' "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
if [ -z "$tested" ] || [ -z "$passing" ]; then
	echo "run-c-client: test_channel did not report (exit $rc)" >&2
	echo "0 passed, 1 failed"
	exit 1
fi
failed=$((tested - passing))
if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
	failed=1 # crashed outside any test
fi
echo "$passing passed, $failed failed"
[ "$failed" -eq 0 ]
