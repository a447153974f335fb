#!/bin/bash
# Smoke test of the guest harness: an LVM + dm-crypt lifecycle on the blank disk.
# Run it with: tests/vm/run tests/vm/smoke.sh
# shellcheck source-path=SCRIPTDIR
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require_root_and_dm
for tool in pvcreate cryptsetup dmsetup blockdev sha256sum; do
    command -v "$tool" >/dev/null || skip "$tool is not installed"
done
disk=/dev/ubda vg=ephtest lv=smoke mapping=ephtest-smoke-crypt
[[ -b $disk ]] || skip "no blank test disk $disk"

before=$(snapshot_state)

pvcreate -q "$disk"
on_exit pvremove -q "$disk"
vgcreate -q "$vg" "$disk"
on_exit vgremove -q "$vg"
lvcreate -q -L 64M -n "$lv" "$vg"
on_exit lvremove -q -y "$vg/$lv"
[[ $(blockdev --getsize64 "/dev/$vg/$lv") == $((64 << 20)) ]] || fail "LV is not 64 MiB"
ok "created $vg/$lv (64 MiB) on $disk"

cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 \
    --key-file <(head -c 64 /dev/urandom) "/dev/$vg/$lv" "$mapping"
on_exit cryptsetup close "$mapping"
dmsetup table "$mapping" | grep -q ' crypt aes-xts-plain64 ' || fail "no aes-xts crypt table"
ok "opened $mapping with aes-xts-plain64, 512-bit key"

state=$(snapshot_state)
if ! grep -qx "lv $vg $lv" <<<"$state" || ! grep -qx "dm $mapping" <<<"$state"; then
    fail "snapshot_state misses the new devices: $state"
fi
ok "snapshot_state shows the LV and the mapping"

head -c 8M /dev/urandom >/tmp/plain
dd if=/tmp/plain of="/dev/mapper/$mapping" bs=1M oflag=direct status=none
[[ $(head -c 8M "/dev/mapper/$mapping" | sha256sum) == $(sha256sum </tmp/plain) ]] ||
    fail "data read back through the mapping differs"
[[ $(head -c 8M "/dev/$vg/$lv" | sha256sum) != $(sha256sum </tmp/plain) ]] ||
    fail "data on the LV is not encrypted"
ok "8 MiB written through the mapping reads back; the LV holds ciphertext"

run_cleanups || fail "teardown failed"
ok "closed the mapping, removed the LV, VG and PV"

after=$(snapshot_state)
[[ $after == "$before" ]] || fail "state changed: before [$before], after [$after]"
ok "LVM and device-mapper state is as before"
