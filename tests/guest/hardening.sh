#!/bin/bash
# Hardening (issue 13) on a real kernel: what an admin hung off or built
# around an allowed name is neither touched nor revealed, and a refused
# device path gets one answer whatever exists behind it.
# Run with: tests/vm/run tests/guest/hardening.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# HARDENING_KEEP_GOING=1 reports every failed check instead of stopping at the
# first: how to see which of them an older helper (EPHCRYPT_HELPER) fails.
failures=0
if [[ -n ${HARDENING_KEEP_GOING:-} ]]; then
    set +e
    trap - ERR
    fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
fi

require_root_and_dm
setup_vg
K1=$WORK/k1; make_key "$K1" 64
AES=(s:aes-xts-plain64 i:512 key:$K1)
NOTHIN=(--config 'global/thin_check_executable=""')
PROC=oslo_concurrency.processutils.ProcessExecutionError
# Cleanups for what a passing run removes itself.
quietly() { "$@" >/dev/null 2>&1 || true; }

# 1. Snapshots an admin hung off an allowed LV: lvremove --yes would take them along.
call ephcrypt.lv_create s:$VG s:t1 i:$((8 << 20)) >/dev/null
on_exit quietly lvremove -q -y "$VG/t1"
call ephcrypt.crypt_open s:t1-dmcrypt s:/dev/$VG/t1 "${AES[@]}" >/dev/null
on_exit quietly cryptsetup close t1-dmcrypt
lvcreate -q -s -L 4M -n adminsnap "$VG/t1" >/dev/null
on_exit quietly lvremove -q -y "$VG/adminsnap"
expect_error builtins.OSError "'adminsnap' depend on it" ephcrypt.lv_remove s:$VG s:t1
expect_error builtins.OSError "'adminsnap' depend on it" ephcrypt.disk_destroy s:$VG s:t1
expect_error $PROC "" nova.privsep.fs.lvremove s:/dev/$VG/t1
call ephcrypt.crypt_close s:t1-dmcrypt >/dev/null
ok "an allowed LV with an admin's snapshot: lv_remove, disk_destroy (its mapping left open), Nova's lvremove refused naming it; nothing changed"

# 2. A thin pool (and a thin volume) with allowed names: never the helper's to remove.
lvcreate -q "${NOTHIN[@]}" --type thin-pool -L 16M -n tpool "$VG" >/dev/null
on_exit quietly lvremove -q -y "${NOTHIN[@]}" "$VG/tpool"
lvcreate -q "${NOTHIN[@]}" -V 16M --thin -n tthin "$VG/tpool" >/dev/null
on_exit quietly lvremove -q -y "${NOTHIN[@]}" "$VG/tthin"
expect_error builtins.OSError "'tthin' depend on it" ephcrypt.disk_destroy s:$VG s:tpool
expect_error builtins.OSError "'tthin' depend on it" ephcrypt.lv_remove s:$VG s:tpool
expect_error builtins.PermissionError "is a thin LV" ephcrypt.lv_remove s:$VG s:tthin
expect_error builtins.PermissionError "is a thin LV" ephcrypt.disk_destroy s:$VG s:tthin
expect_error $PROC "" nova.privsep.fs.lvremove s:/dev/$VG/tthin
lvremove -q -y "${NOTHIN[@]}" "$VG/tthin" >/dev/null
expect_error builtins.PermissionError "is a thin-pool LV" ephcrypt.disk_destroy s:$VG s:tpool
expect_error $PROC "" nova.privsep.fs.lvremove s:/dev/$VG/tpool
ok "a thin pool and a thin volume with allowed names: refused (EBUSY naming the thin volume, then EPERM); nothing changed"

# 3. An admin's snapshot with an allowed name of an LV outside the policy: not
#    removed, and Nova's lvinfo of it does not name its origin.
lvcreate -q -L 8M -n other "$VG" >/dev/null
on_exit quietly lvremove -q -y "$VG/other"
lvcreate -q -s -L 4M -n tsnapother "$VG/other" >/dev/null
on_exit quietly lvremove -q -y "$VG/tsnapother"
expect_error builtins.PermissionError "origin 'other'" ephcrypt.lv_remove s:$VG s:tsnapother
out=$(call nova.privsep.fs.lvinfo s:/dev/$VG/tsnapother)
/usr/bin/python3 -c '
import json, sys
out = json.loads(sys.argv[1])[0]
rows = [line.split("|") for line in out.splitlines()]
assert len(rows) == 2, out
info = dict(zip(*rows))
assert info["Path"] == "/dev/ephtest/tsnapother", info
named = [k for k, v in info.items() if any(t.strip("[] ") == "other" for t in v.split(","))]
assert not named, "cells name the LV outside the policy: %s" % named
' "$out" || fail "Nova's lvinfo names the origin outside the policy: $out"
ok "an allowed snapshot of an LV outside the policy: not removed; lvinfo does not name its origin"

# 4. Nova's sparse LV (snapshot of a virtual origin) is still the helper's to remove.
call nova.privsep.fs.lvcreate i:$((16 << 20)) s:tsparse s:$VG i:$((4 << 20)) >/dev/null
call nova.privsep.fs.lvremove s:/dev/$VG/tsparse >/dev/null
lvs "$VG/tsparse" >/dev/null 2>&1 && fail "Nova's sparse LV was not removed"
lvs -a "$VG" | grep -q tsparse_vorigin && fail "the sparse LV's virtual origin was left"
ok "Nova's sparse LV and its virtual origin removed as before"

# 5. An admin's plain mapping with an allowed name over an LV outside the policy.
cryptsetup open --type plain --cipher aes-xts-plain64 --key-size 512 --key-file "$K1" \
    "/dev/$VG/other" t9-dmcrypt
on_exit quietly cryptsetup close t9-dmcrypt
expect_error builtins.PermissionError "the LV mapping 't9-dmcrypt' sits on" ephcrypt.crypt_status s:t9-dmcrypt
expect_error builtins.PermissionError "the LV mapping 't9-dmcrypt' sits on" ephcrypt.crypt_close s:t9-dmcrypt
expect_error builtins.PermissionError "[volumes]" nova.privsep.libvirt.dmcrypt_delete_volume s:t9-dmcrypt
expect_error builtins.PermissionError "[volumes]" nova.privsep.fs.blockdev_size s:/dev/mapper/t9-dmcrypt
call ephcrypt.crypt_list | grep -q t9-dmcrypt && fail "crypt_list shows t9-dmcrypt, over an LV outside the policy"
ok "a mapping with an allowed name over an LV outside the policy: not listed, shown or closed"

# 6. Existence oracle: links a caller plants in /dev/shm get one answer whatever they point at.
probe() { # probe NAME ARG...: the answer to a call through /dev/shm/tprobe
    local out
    out=$(call "$@" 2>&1) && fail "$1 through /dev/shm/tprobe succeeded: $out"
    echo "$out"
}
answers=()
call ephcrypt.lv_create s:$VG s:t2 i:$((8 << 20)) >/dev/null
on_exit quietly lvremove -q -y "$VG/t2"
for target in /etc/shadow /etc/ephcrypt-no-such-file /root /dev/$VG/t2 /dev/$VG/other; do
    ln -sfn "$target" /dev/shm/tprobe
    answers+=("$(probe nova.privsep.fs.blockdev_size s:/dev/shm/tprobe)
$(probe ephcrypt.crypt_open s:t2-dmcrypt s:/dev/shm/tprobe "${AES[@]}")
$(probe nova.privsep.fs.clear s:/dev/shm/tprobe i:4096)
$(probe nova.privsep.libvirt.dmcrypt_create_volume s:t2-dmcrypt s:/dev/shm/tprobe \
    s:aes-xts-plain64 i:512 key:"$K1")")
done
rm -f /dev/shm/tprobe
for a in "${answers[@]}"; do
    [[ $a == "${answers[0]}" ]] || fail "answers differ by link target: [${answers[0]}] vs [$a]"
done
# A link that takes an allowed LV's name (in /dev/mapper) to another LV.
ln -s "/dev/$VG/other" "/dev/mapper/$VG-t8"
on_exit rm -f "/dev/mapper/$VG-t8"
expect_error builtins.PermissionError "is not the LV $VG/t8 its path names" \
    ephcrypt.crypt_open s:t2-dmcrypt s:/dev/mapper/$VG-t8 "${AES[@]}"
rm -f "/dev/mapper/$VG-t8"
ok "links in /dev/shm (to a root-only file, nothing, a folder, allowed and other LVs): one answer each"

# 7. Nova's passphrase: shorter than the hex of the key size is refused.
make_key "$WORK/p1" 1
expect_error builtins.PermissionError "needs at least 128" nova.privsep.libvirt.dmcrypt_create_volume \
    s:t2-dmcrypt s:/dev/$VG/t2 s:aes-xts-plain64 i:512 key:"$WORK/p1"
# What Nova sends: the key's 64 bytes; the entrypoint makes the passphrase their hex.
head -c 64 /dev/urandom >"$WORK/phex"
chmod 0600 "$WORK/phex"
call nova.privsep.libvirt.dmcrypt_create_volume s:t2-dmcrypt s:/dev/$VG/t2 s:aes-xts-plain64 \
    i:512 key:"$WORK/phex" >/dev/null
call nova.privsep.libvirt.dmcrypt_delete_volume s:t2-dmcrypt >/dev/null
ok "Nova key of 1 byte refused (a 2-character passphrase), the 64 bytes of a 512-bit key accepted"

# 8. lvm.conf moves LVM's folders: the helper's namespace follows them.
SYSDIR=$WORK/lvmsys MOVED=/run/ephtest-moved
mkdir -m 0755 "$SYSDIR" "$MOVED"
on_exit rm -rf "$MOVED"
cp "${LVM_SYSTEM_DIR:-/etc/lvm}/lvm.conf" "$SYSDIR/lvm.conf"
printf 'backup {\n backup_dir = "%s/backup"\n archive_dir = "%s/archive"\n}\n' \
    "$MOVED" "$MOVED" >>"$SYSDIR/lvm.conf"
printf 'global {\n locking_dir = "%s/lock"\n}\n' "$MOVED" >>"$SYSDIR/lvm.conf"
mkdir -m 0700 "$MOVED/lock"
[[ $(LVM_SYSTEM_DIR=$SYSDIR lvmconfig --typeconfig full backup/backup_dir) == *"$MOVED/backup"* ]] ||
    skip "this LVM does not read backup_dir from the test's lvm.conf"
# lvm drops its lock files when done; a read-only locking_dir fails the call
# ("File locking initialisation failed"), as it did before the helper followed it.
LVM_SYSTEM_DIR=$SYSDIR call ephcrypt.lv_create s:$VG s:t3 i:$((8 << 20)) >/dev/null ||
    fail "lv_create with backup_dir, archive_dir and locking_dir moved to $MOVED failed"
on_exit quietly lvremove -q -y "$VG/t3"
[[ -s $MOVED/backup/$VG ]] || fail "no metadata backup in the moved backup_dir"
ls "$MOVED/archive/$VG"_* >/dev/null 2>&1 || fail "no metadata archive in the moved archive_dir"
LVM_SYSTEM_DIR=$SYSDIR call ephcrypt.lv_remove s:$VG s:t3 >/dev/null
ok "backup_dir, archive_dir and locking_dir moved in lvm.conf: written by the helper's lvm"

# 9. An LVM_SYSTEM_DIR that others may write (or not root's) is refused at start-up.
for mode in 0777 0775; do
    chmod "$mode" "$SYSDIR"
    before=$(snapshot_state)
    out=$(LVM_SYSTEM_DIR=$SYSDIR call ephcrypt.lv_create s:$VG s:t4 i:$((8 << 20)) 2>&1) &&
        fail "helper started with LVM_SYSTEM_DIR of mode $mode: $out"
    [[ $out == *"LVM_SYSTEM_DIR '$SYSDIR' must be a folder owned by root"* ]] ||
        fail "mode $mode: the refusal does not say why: $out"
    [[ $(snapshot_state) == "$before" ]] || fail "mode $mode: state changed"
done
chmod 0755 "$SYSDIR"
chown nobody "$SYSDIR"
out=$(LVM_SYSTEM_DIR=$SYSDIR call ephcrypt.version 2>&1) && fail "LVM_SYSTEM_DIR owned by nobody accepted"
[[ $out == *"must be a folder owned by root"* ]] || fail "not-root-owned: the refusal does not say why: $out"
ok "LVM_SYSTEM_DIR writable by group or others, or not root's: the helper does not start"

run_cleanups || fail "cleanup failed"
echo "hardening: $_vm_ok_count sections, $failures failed checks"
((failures == 0))
