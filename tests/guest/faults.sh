#!/bin/bash
# Faults and load on the guest kernel (issue 13): a caller hanging up during
# disk_create, lvm failing mid-create, the helper SIGKILLed mid-create, and
# EPHCRYPT_LOAD_CALLERS (8) concurrent callers (each with its own helper, one shared audit
# log) running EPHCRYPT_LOAD_ROUNDS (5) full lifecycles each (make check-load: 50).
# Run with: tests/vm/run --mem 1G tests/guest/faults.sh   (EPHCRYPT_LOAD_ROUNDS=50: make check-load)
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

LOAD_CALLERS=${EPHCRYPT_LOAD_CALLERS:-8}
LOAD_ROUNDS=${EPHCRYPT_LOAD_ROUNDS:-5}
HELPER=${EPHCRYPT_HELPER:-$REPO/build/ephcrypt-helper}
require_root_and_dm
/usr/bin/python3 -c 'import msgpack' 2>/dev/null || skip "needs python3-msgpack"
setup_vg
K=$WORK/k
make_key "$K" 64
before=$(snapshot_state)
# Whatever a scenario leaves behind goes, even when it fails.
cleanup_disks() {
    local lv
    for lv in $(lvs --noheadings -o lv_name "$VG" 2>/dev/null); do
        dmsetup remove "$lv-dmcrypt" 2>/dev/null || true
        lvremove -q -f "$VG/$lv" >/dev/null 2>&1 || true
    done
}
on_exit cleanup_disks

raw_call() {
    /usr/bin/python3 "$REPO/tests/guest/faults_call.py" "$@" -- \
        "$HELPER" --policy "$POLICY" --audit-log "$AUDIT"
}
records() {
    "$REPO/build/ephcrypt-audit" list --json "$AUDIT" 2>/dev/null | grep -c . || true
}
create_args() { echo "s:$VG s:$1 i:$((8 << 20)) s:aes-xts-plain64 i:512 key:$K"; }

# --- 1. The caller hangs up after sending disk_create, before the reply.
n0=$(records)
# shellcheck disable=SC2046 # create_args is a list of arguments
out=$(raw_call hangup ephcrypt.disk_create $(create_args th_disk))
[[ $(snapshot_state) == "$before" ]] ||
    fail "a disk_create whose caller hung up left: $(snapshot_state)"
[[ $out == "exit "[01] ]] || fail "the helper did not exit after the hang-up: $out"
last=$("$REPO/build/ephcrypt-audit" list --json "$AUDIT" | tail -1)
[[ $(records) == $((n0 + 1)) && $last == *'ephcrypt.disk_create'* &&
   $last == *'hung up before the reply; rolled back'* ]] ||
    fail "the rolled-back create is not recorded as such: $last"
ok "a caller gone before the reply: disk_create rolled back (LV and mapping), recorded, helper exited"

# A caller that only shut its write side after sending still gets its disk.
# shellcheck disable=SC2046
out=$(raw_call halfclose ephcrypt.disk_create $(create_args th2_disk))
[[ $out == 'ok {'*'"path": "/dev/mapper/th2_disk-dmcrypt"'* ]] || fail "half-closed caller: $out"
[[ -b /dev/mapper/th2_disk-dmcrypt ]] || fail "half-closed caller: no mapping"
call ephcrypt.disk_destroy s:$VG s:th2_disk >/dev/null
[[ $(snapshot_state) == "$before" ]] || fail "disk_destroy left: $(snapshot_state)"
ok "a caller that half-closed after sending is answered and keeps its disk"

# --- 2. lvm fails mid-create: the VG (1 GiB) is too small for an allowed 1.5 GiB.
# shellcheck disable=SC2046
expect_error builtins.OSError "insufficient free space" ephcrypt.disk_create s:$VG s:tbig_disk \
    i:$((1536 << 20)) s:aes-xts-plain64 i:512 key:$K
ok "lvcreate failing on a full VG: a clear error, nothing left"

# --- 3. The helper SIGKILLed mid-create: a new helper's disk_destroy removes what is left.
for round in 1 2 3; do
    # shellcheck disable=SC2046
    raw_call halfclose ephcrypt.disk_create $(create_args tk_disk) >/dev/null 2>&1 &
    driver=$!
    for _ in $(seq 400); do
        [[ -e /dev/$VG/tk_disk ]] && break
        sleep 0.05
    done
    pkill -KILL -P "$driver" || true
    wait "$driver" || true
    left=$(snapshot_state)
    [[ $left == *"lv $VG tk_disk"* ]] || fail "round $round: the helper was not killed mid-create: $left"
    out=$(call ephcrypt.disk_destroy s:$VG s:tk_disk)
    [[ $out == *'"removed": true'* ]] || fail "disk_destroy after the kill: $out"
    [[ $(snapshot_state) == "$before" ]] || fail "after the kill, disk_destroy left: $(snapshot_state)"
    ok "SIGKILLed mid-create (left: $(grep -c . <<<"$left") LV/dm lines); disk_destroy removed it ($out)"
done

# --- 4. Load: concurrent callers, each with its own helper, one audit log.
lifecycle() { # CALLER: LOAD_ROUNDS full lifecycles; prints one "answered N" line
    local c=$1 r lv dev answered=0
    for r in $(seq "$LOAD_ROUNDS"); do
        lv=tl${c}_${r}_disk dev=/dev/mapper/tl${c}_${r}_disk-dmcrypt
        # shellcheck disable=SC2046
        call ephcrypt.disk_create $(create_args "$lv") >/dev/null || return 1
        answered=$((answered + 1))
        head -c 1M /dev/urandom >"$WORK/data$c"
        dd if="$WORK/data$c" of="$dev" bs=1M oflag=direct status=none || return 1
        cmp -s -n 1048576 "$WORK/data$c" "$dev" || { echo "caller $c: $dev reads back wrong"; return 1; }
        call ephcrypt.crypt_status s:"$lv-dmcrypt" >/dev/null || return 1
        answered=$((answered + 1))
        call ephcrypt.disk_destroy s:$VG s:"$lv" >/dev/null || return 1
        answered=$((answered + 1))
    done
    echo "answered $answered"
}
n0=$(records)
t0=$(date +%s)
pids=()
for c in $(seq "$LOAD_CALLERS"); do
    lifecycle "$c" >"$WORK/load$c" 2>&1 &
    pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
t1=$(date +%s)
expect=$((LOAD_CALLERS * LOAD_ROUNDS * 3))
answered=$(cat "$WORK"/load* | awk '/^answered/ { n += $2 } END { print n + 0 }')
((failed == 0)) || fail "$failed of $LOAD_CALLERS callers failed: $(cat "$WORK"/load*)"
((answered == expect)) || fail "$answered of $expect calls answered"
[[ $(snapshot_state) == "$before" ]] || fail "the load left: $(snapshot_state)"
[[ $(records) == $((n0 + expect)) ]] || fail "$(records) records, expected $((n0 + expect))"
"$REPO/build/ephcrypt-audit" verify "$AUDIT" >/dev/null || fail "the audit chain is broken"
ok "load: $LOAD_CALLERS callers x $LOAD_ROUNDS lifecycles in $((t1 - t0)) s: $answered calls answered, one record each, chain intact, nothing leaked"
