#!/bin/bash
# The plain sudo rule older sudo needs ("... *"), for real: sudo runs the helper
# for an unprivileged user, who appends options that would widen its settings;
# the helper refuses each before reading anything.  Nothing on disk changes.
# Run with: tests/vm/run tests/guest/sudo_star.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"

[[ $(id -u) == 0 ]] || skip "needs root"
command -v sudo >/dev/null || skip "needs sudo"
command -v visudo >/dev/null || skip "needs visudo"
command -v runuser >/dev/null || skip "needs runuser"
REPO=$PWD
HELPER=${EPHCRYPT_HELPER:-$REPO/build/ephcrypt-helper}
[[ -x $HELPER ]] || fail "no $HELPER: run make first"
WORK=$(mktemp -d /tmp/ephcrypt.XXXXXX)
on_exit rm -rf "$WORK"
chmod 0755 "$WORK"

# nobody stands in for nova; the rule is the README's for sudo < 1.9.10.
echo "nobody ALL = (root) NOPASSWD: $HELPER --policy /etc/ephcrypt/policy.conf *" >"$WORK/sudoers"
chmod 0440 "$WORK/sudoers"
visudo -c -q -f "$WORK/sudoers" || fail "visudo rejects the plain rule"
mount --bind "$WORK/sudoers" /etc/sudoers
on_exit umount /etc/sudoers

# as_nova ARGS...: the helper through sudo as nobody; prints stderr, returns the status.
as_nova() {
    # shellcheck disable=SC2069 # stderr captured, stdout dropped
    runuser -u nobody -- sudo -n "$HELPER" --policy /etc/ephcrypt/policy.conf "$@" \
        --privsep_context nova.privsep.ephemeral_storage_pctxt \
        --privsep_sock_path "$WORK/no-such.sock" 2>&1 >/dev/null
}

n=0
for bad in "--lvm /bin/sh" "--audit-log /dev/null" "--policy /tmp/mine.conf" \
    "--helper-conf /etc/shadow" "--max-message 67108864"; do
    rc=0
    # shellcheck disable=SC2086 # each is an option and its value
    out=$(as_nova $bad) || rc=$?
    [[ $rc == 2 ]] || fail "$bad: exit $rc, expected 2: $out"
    grep -q "^ephcrypt-helper: ${bad%% *} .* refused: started by sudo (SUDO_USER=nobody)" <<<"$out" ||
        fail "$bad: not refused as expected: $out"
    grep -q root: <<<"$out" && fail "$bad: the output quotes /etc/shadow: $out"
    n=$((n + 1))
done
ok "sudo with a plain '*' rule: $n widening options refused (exit 2, one line naming the setting)"

# The configured values themselves are no widening: the helper goes on, and
# stops only where this guest has no policy.
rc=0
out=$(as_nova --lvm /sbin/lvm --max-message 65536) || rc=$?
grep -q refused <<<"$out" && fail "repeating the settings was refused: $out"
grep -q "/etc/ephcrypt/policy.conf" <<<"$out" || fail "expected the missing policy next: $out"
ok "sudo with a plain '*' rule: repeating lvm and lowering max-message are accepted"

run_cleanups || fail "cleanup failed"
