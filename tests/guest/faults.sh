#!/bin/bash
# Faults and load on the guest kernel (issue 13): a caller hanging up during
# disk_create, lvm failing mid-create (a full VG, a PV going read-only), the helper SIGKILLed mid-create, and
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

# --- 2b. A PV going read-only. A second VG sits on a dm device over a loop file,
# whose table the test swaps: dm-flakey's error_writes fails every write (reads
# still work), as a disk that went read-only does. The PV starts 1 MiB into the
# file, so LVM sees its label only through the dm device.
RO_VG=ephro RO_PV=tro_pv
truncate -s 64M "$WORK/ro.img"
RO_LOOP=$(losetup --find --show "$WORK/ro.img")
on_exit losetup -d "$RO_LOOP"
RO_SECTORS=$(((64 << 20) / 512 - 2048))
dmsetup create "$RO_PV" --table "0 $RO_SECTORS linear $RO_LOOP 2048"
dmsetup mknodes "$RO_PV" # no udev in the guest
on_exit dmsetup remove "$RO_PV"
ro_table() { # rw | ro (every write fails) | ro-data (writes past LVM's first MiB fail)
    local t
    case $1 in
    rw) t="0 $RO_SECTORS linear $RO_LOOP 2048" ;;
    ro) t="0 $RO_SECTORS flakey $RO_LOOP 2048 0 1 1 error_writes" ;;
    ro-data) t="0 2048 linear $RO_LOOP 2048
2048 $((RO_SECTORS - 2048)) flakey $RO_LOOP 4096 0 1 1 error_writes" ;;
    esac
    dmsetup suspend "$RO_PV"
    printf '%s\n' "$t" | dmsetup load "$RO_PV"
    dmsetup resume "$RO_PV"
}
pvcreate -q "/dev/mapper/$RO_PV" >/dev/null
on_exit pvremove -q -ff -y "/dev/mapper/$RO_PV"
vgcreate -q "$RO_VG" "/dev/mapper/$RO_PV" >/dev/null
on_exit vgremove -q -f "$RO_VG"
on_exit ro_table rw
sed "s/^vg $VG .*/&\nvg $RO_VG max-lv-size 2G/" "$POLICY" >"$WORK/ro-policy.conf"
seqno() { vgs --noheadings -o seqno "$RO_VG" | tr -d ' '; }
seq0=$(seqno)
ro_table ro
POLICY=$WORK/ro-policy.conf expect_error builtins.OSError \
    "lv_create: Failed to write VG $RO_VG. Error writing device /dev/mapper/$RO_PV" ephcrypt.disk_create \
    s:$RO_VG s:tro_disk i:$((8 << 20)) s:aes-xts-plain64 i:512 key:$K
ro_table rw
[[ $(seqno) == "$seq0" ]] || fail "a failed lvcreate on a read-only PV changed the VG (seqno $seq0 -> $(seqno))"
ok "the PV read-only before disk_create: lvcreate's error, VG metadata and devices unchanged"
# Metadata writes succeed, the new LV's first write does not: LVM has committed
# the LV by then and must take it out again.
ro_table ro-data
POLICY=$WORK/ro-policy.conf expect_error builtins.OSError \
    "lv_create: Aborting. Failed to wipe start of new LV." ephcrypt.disk_create \
    s:$RO_VG s:tro_disk i:$((8 << 20)) s:aes-xts-plain64 i:512 key:$K
ro_table rw
[[ -z $(lvs --noheadings -o lv_name "$RO_VG") ]] ||
    fail "the failed create left an LV in $RO_VG: $(lvs --noheadings -o lv_name "$RO_VG")"
ok "the PV's data area read-only mid-create (after LVM wrote the LV's metadata): rolled back, nothing left"
# And once the disk is writable again the same call works, from a fresh helper.
out=$(POLICY=$WORK/ro-policy.conf call ephcrypt.disk_create s:$RO_VG s:tro_disk \
    i:$((8 << 20)) s:aes-xts-plain64 i:512 key:$K)
POLICY=$WORK/ro-policy.conf call ephcrypt.disk_destroy s:$RO_VG s:tro_disk >/dev/null
[[ -z $(lvs --noheadings -o lv_name "$RO_VG") && ! -e /dev/mapper/tro_disk-dmcrypt ]] ||
    fail "disk_destroy after the PV came back left: $(snapshot_state)"
ok "the PV writable again: disk_create and disk_destroy work"
before=$(snapshot_state) # the second VG's dm device stays until the end

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
