#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# tests/interop/run-valgrind.sh: the helper under valgrind (memcheck, definite
# leaks are errors), driven by build/ephcrypt: ping, ephcrypt.version,
# an unknown name, a TypeError, an over-limit CALL, and a bench of 200 calls.
#   EPHCRYPT_HELPER       the helper (default build/ephcrypt-helper)
#   EPHCRYPT_HELPER_ARGS  its base arguments, split on spaces (default: a private
#                         policy allowing uid 0 and an audit log in a temp dir)
# Fails if any case fails or valgrind reports anything. Prints "N passed, M failed" last.
set -eu
cd "$(dirname "$0")/../.."
repo=$(pwd)
helper=${EPHCRYPT_HELPER:-build/ephcrypt-helper}
client=build/ephcrypt

if ! command -v valgrind >/dev/null 2>&1; then
	echo "run-valgrind: valgrind is not installed (apt-get install valgrind)" >&2
	exit 77
fi
make --no-print-directory -s B=build build/ephcrypt
if [ "$helper" = build/ephcrypt-helper ]; then
	make --no-print-directory -s B=build build/ephcrypt-helper
fi
case $helper in /*) ;; *) helper=$repo/$helper ;; esac
[ -x "$helper" ] || { echo "run-valgrind: no helper at $helper" >&2; exit 1; }

tmp=$(mktemp -d /tmp/ephcrypt-valgrind-XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
if [ -z "${EPHCRYPT_HELPER_ARGS+set}" ]; then
	(umask 077 && printf '# ephcrypt valgrind run: any call from root, no storage\n[callers]\nuid 0\n' \
		>"$tmp/policy.conf")
	EPHCRYPT_HELPER_ARGS="--policy $tmp/policy.conf --audit-log $tmp/audit.log"
fi

# The client starts whatever --helper names: a wrapper that execs valgrind.
cat >"$tmp/helper-vg" <<WRAP
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \\
	--show-leak-kinds=definite --num-callers=30 --log-file=$tmp/vg.%p.log "$helper" "\$@"
WRAP
chmod 0755 "$tmp/helper-vg"

passed=0
failed=0
# run NAME EXPECTED_RC STDOUT_RE STDERR_RE [HELPER_ARG...] -- CLIENT_ARG...
run() {
	name=$1 want_rc=$2 out_re=$3 err_re=$4
	shift 4
	hargs=$EPHCRYPT_HELPER_ARGS
	while [ "$1" != -- ]; do
		hargs="$hargs $1"
		shift
	done
	shift
	rm -f "$tmp"/vg.*.log
	hopts=
	set -f
	for a in $hargs; do
		hopts="$hopts --helper-arg $a"
	done
	set +e
	# shellcheck disable=SC2086 # $hopts: one word per option (no spaces in them)
	"$client" --helper "$tmp/helper-vg" $hopts "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	set -e
	set +f
	ok=1
	why=
	if [ "$rc" -ne "$want_rc" ]; then ok=0 why="exit $rc, want $want_rc"; fi
	if [ -n "$out_re" ] && ! grep -Eq "$out_re" "$tmp/out"; then ok=0 why="$why; stdout does not match /$out_re/"; fi
	if [ -n "$err_re" ] && ! grep -Eq "$err_re" "$tmp/err"; then ok=0 why="$why; stderr does not match /$err_re/"; fi
	for log in "$tmp"/vg.*.log; do
		[ -e "$log" ] || continue
		if [ -s "$log" ]; then
			ok=0 why="$why; valgrind reported errors"
			sed 's/^/    /' "$log"
			if grep -q 'unhandled amd64-linux syscall: 317' "$log"; then
				why="$why (valgrind cannot run seccomp(2): the helper needs a way to start without its seccomp filter under valgrind)"
			fi
		fi
	done
	if [ "$ok" = 1 ]; then
		passed=$((passed + 1))
		echo "ok   $name"
	else
		failed=$((failed + 1))
		echo "FAIL $name: ${why#; }"
		sed 's/^/    stdout: /' "$tmp/out"
		sed 's/^/    stderr: /' "$tmp/err"
	fi
}

big=$(head -c 10240 /dev/zero | tr '\0' b)
run ping 0 '^pong$' '' -- ping
run version 0 '^"[0-9]+\.[0-9]+\.[0-9]+"$' '' -- call ephcrypt.version
run unknown-name 1 '' '^error: builtins\.NameError: Invalid privsep function: nova\.privsep\.fs\.nope not exported$' \
	-- call nova.privsep.fs.nope s:x
run type-error 1 '' '^error: builtins\.TypeError: ephcrypt\.version\(\)' -- call ephcrypt.version i:1
run over-limit 1 '' '^error: builtins\.ValueError: ' --max-message 4096 -- call ephcrypt.version "s:$big"
run bench-200 0 '"calls": 200' '' -- bench 200

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
