#!/bin/bash
# Issue 15's proof: Debian's unchanged python3-nova with [nova_sys_admin]
# helper_command pointing at ephcrypt-helper, whose policy has the [forward]
# section of policy/examples/nova.conf:
#  1. Nova's lvm and dmcrypt code gives the same results as through
#     privsep-helper alone (nova_compare.py, as tests/guest/nova.sh does);
#  2. last_bytes and readpty are relayed to privsep-helper, writefile and
#     unknown names are refused and never reach it (the file is not written),
#     a relayed call blocked in privsep-helper holds up nothing else, one
#     audit record per call and no forwarded call's arguments in the log,
#     privsep-helper's death fails the call in flight at once
#     (nova_forward.py);
#  3. the sudo rule contrib/nova/sudoers.d-ephcrypt-sys-admin allows exactly
#     the command line oslo.privsep runs for the sys_admin context.
# Run with: tests/vm/run --timeout 900 tests/guest/nova_forward.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PY=/usr/bin/python3
HERE=$REPO/tests/guest
HELPER=${EPHCRYPT_HELPER:-$REPO/build/ephcrypt-helper}
SUDOERS=$REPO/contrib/nova/sudoers.d-ephcrypt-sys-admin
FORWARD=$REPO/policy/examples/nova.conf
VG=nova-ephemeral
U=0b3e4f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b
NOVA_CONF=$WORK/nova.conf
failures=0

. "$(dirname "${BASH_SOURCE[0]}")/nova_lib.sh"
require_nova_and_helper

# The test policy: tests/guest/nova.sh's (uid 0 as the caller) plus [forward].
write_policy_forward() {
    write_nova_policy "$1" ripemd160
    sed -n '/^\[forward\]/,$p' "$FORWARD" | grep -v '^#' >>"$1"
}

mkdir -p "$WORK"
on_exit rm -rf "$WORK"
write_policy_forward "$POLICY"
grep -q '^entrypoint nova\\.privsep\\.path\\.last_bytes$' "$POLICY" ||
    fail "no [forward] last_bytes line taken from $FORWARD"
chmod 0755 "$WORK" # --check-policy reads the file as nobody
out=$("$HELPER" --check-policy "$POLICY" 2>&1) || fail "ephcrypt-helper rejects the test policy: $out"
# What privsep-helper reads: enough threads that one blocked call leaves
# others free whatever the guest's CPU count.
printf '[nova_sys_admin]\nthread_pool_size = 4\n' >"$NOVA_CONF"
EPH="$HELPER --policy $POLICY --audit-log $AUDIT --config-file $NOVA_CONF"
on_exit cleanup_storage
pvcreate -q "$DISK" >/dev/null
vgcreate -q "$VG" "$DISK" >/dev/null
before=$(snapshot_state)

# 1. Nova's storage code: privsep-helper alone, then ephcrypt with its relay.
SNAPSHOT_LVM=$WORK/lvm-snapshot
mkdir "$SNAPSHOT_LVM"
{ cat "$LVM_SYSTEM_DIR/lvm.conf"; echo 'global { sparse_segtype_default = "snapshot" }'; } \
    >"$SNAPSHOT_LVM/lvm.conf"
run_compare() {
    local name=$1
    shift
    "$PY" "$HERE/nova_compare.py" run --vg "$VG" --uuid "$U" --out "$WORK/$name.json" "$@"
}
if LVM_SYSTEM_DIR=$SNAPSHOT_LVM run_compare ref --storage-helper privsep-helper &&
    run_compare fwd --storage-helper "$EPH" --audit-log "$AUDIT" &&
    "$PY" "$HERE/nova_compare.py" compare "$WORK/ref.json" "$WORK/fwd.json"; then
    ok "unpatched Nova, ephcrypt in front of the sys_admin context: lvm and dmcrypt" \
        "results are privsep-helper's, call for call"
else
    not_ok "Nova's storage code through ephcrypt with the relay differs from privsep-helper"
fi
[[ $(snapshot_state) == "$before" ]] || not_ok "the runs left: $(snapshot_state)"

# 2. The relayed and refused calls.
if "$PY" "$HERE/nova_forward.py" --helper "$EPH" --audit-log "$AUDIT" --vg "$VG" \
    --workdir "$WORK"; then
    ok "relayed last_bytes and readpty, refused writefile (not written) and unknown names," \
        "a blocked relayed call holds up nothing, one audit record per call, daemon death"
else
    not_ok "nova_forward.py (not ok lines above)"
fi

# 3. The sudo rule, asked of sudo without running anything (nobody stands in
# for the nova user; the guest's root is read-only, so it is bind-mounted).
sudoers_for_nobody "$SUDOERS"
ARGS=(--policy /etc/ephcrypt/policy.conf --config-file /etc/nova/nova.conf
      --config-file /etc/nova/nova-compute.conf --privsep_context nova.privsep.sys_admin_pctxt
      --privsep_sock_path /tmp/tmpk3x_9q0a/privsep.sock)
wrongly=()
sudo_allows "${ARGS[@]}" || not_ok "sudoers: refuses the command line oslo.privsep runs"
for extra in "--config-file /tmp/x.conf" "--config-dir /tmp" "--lvm /tmp/x" "--audit-log /dev/null"; do
    # shellcheck disable=SC2086  # an option and its value
    sudo_allows "${ARGS[@]}" $extra && wrongly+=("+ $extra")
done
sudo_allows "${ARGS[@]/sys_admin_pctxt/other_pctxt}" && wrongly+=("another context")
if ((${#wrongly[@]} == 0)); then
    ok "sudoers: the sys_admin command line is allowed, variants refused"
else
    not_ok "sudoers allows: ${wrongly[*]}"
fi

run_cleanups || not_ok "cleanup failed"
echo "nova_forward: $_vm_ok_count passed, $failures failed"
((failures == 0)) || fail "$failures check(s) failed (not ok lines above)"
