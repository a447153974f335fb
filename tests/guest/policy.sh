#!/bin/bash
# Policy enforcement on a real kernel: every refused request changes nothing.
# Run with: tests/vm/run tests/guest/policy.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_root_and_dm
setup_vg
K1=$WORK/k1; make_key "$K1" 64
AES=(s:aes-xts-plain64 i:512 key:$K1)

# An LV the policy does not cover (made behind the helper's back), and a disk.
lvcreate -q -L 8M -n other "$VG" >/dev/null
on_exit lvremove -q -y "$VG/other"
call ephcrypt.lv_create s:$VG s:t1 i:$((8 << 20)) >/dev/null
on_exit call ephcrypt.lv_remove s:$VG s:t1

long=$(printf 't%.0s' {1..130})
for lv in "t/x" ".." "-t1" "t 1" "t$(printf '\xc3\xa9')" "$long" "snapshot" "t_tmeta" "t_rimage_0" "pvmove0"; do
    expect_error builtins.ValueError "" ephcrypt.lv_create s:$VG "s:$lv" i:4194304
done
expect_error builtins.ValueError "" ephcrypt.lv_create s:$VG "s:t
x" i:4194304
ok "bad LV names ('/', '..', leading '-', space, unicode, 130 bytes, reserved, newline): ValueError"

expect_error builtins.PermissionError "[volumes]" ephcrypt.lv_create s:$VG s:x1 i:4194304
expect_error builtins.PermissionError "[volumes]" ephcrypt.lv_remove s:$VG s:other
expect_error builtins.PermissionError "[volume-groups]" ephcrypt.vg_info s:othervg
expect_error builtins.PermissionError "[volume-groups]" ephcrypt.lv_create s:othervg s:t1 i:4194304
ok "LV and VG names outside the policy: PermissionError naming the section"

expect_error builtins.PermissionError "[mappings]" ephcrypt.crypt_open s:x1-dmcrypt s:/dev/$VG/t1 "${AES[@]}"
expect_error builtins.PermissionError "cipher" ephcrypt.crypt_open s:t1-dmcrypt s:/dev/$VG/t1 \
    s:aes-cbc-essiv:sha256 i:512 key:$K1
make_key "$WORK/k16" 16
expect_error builtins.PermissionError "128-bit" ephcrypt.crypt_open s:t1-dmcrypt s:/dev/$VG/t1 \
    s:aes-xts-plain64 i:128 key:"$WORK/k16"
ok "mapping names and ciphers outside the policy: PermissionError"

ln -s /dev/$VG/other /dev/innocent-lv
on_exit rm -f /dev/innocent-lv
expect_error builtins.PermissionError "[volumes]" ephcrypt.crypt_open s:t1-dmcrypt s:/dev/innocent-lv "${AES[@]}"
expect_error builtins.PermissionError "not under /dev" ephcrypt.crypt_open s:t1-dmcrypt \
    s:$WORK/../../dev/$VG/t1 "${AES[@]}"
expect_error builtins.PermissionError "" ephcrypt.crypt_open s:t1-dmcrypt s:/dev/$VG/other "${AES[@]}"
ln -s "$DISK" /dev/innocent-disk
on_exit rm -f /dev/innocent-disk
expect_error builtins.PermissionError "not an LVM logical volume" \
    ephcrypt.crypt_open s:t1-dmcrypt s:/dev/innocent-disk "${AES[@]}"
expect_error builtins.PermissionError "" ephcrypt.crypt_open s:t1-dmcrypt \
    s:/dev/$VG/../ubda "${AES[@]}"
ok "devices: a symlink to an LV outside the policy, a raw disk, '..' paths: PermissionError"

# A dm device whose name the [mappings] patterns allow but that is no
# dm-crypt mapping (made behind the helper's back): not the helper's to close.
dmsetup create t5-dmcrypt --table "0 8 zero"
on_exit dmsetup remove t5-dmcrypt
expect_error builtins.PermissionError "not a dm-crypt mapping" ephcrypt.crypt_close s:t5-dmcrypt
expect_error builtins.PermissionError "not a dm-crypt mapping" ephcrypt.crypt_status s:t5-dmcrypt
dmsetup info t5-dmcrypt >/dev/null 2>&1 || fail "crypt_close removed a non-crypt dm device"
ok "close and status refuse a dm device that is not a dm-crypt mapping, and leave it"

[[ $(call ephcrypt.lv_list s:$VG) == '["t1"]' ]] || fail "lv_list shows LVs the policy hides"
ok "lv_list shows only what the policy allows"

grep -q '"reasonCode":"denied"' "$AUDIT" || fail "no denied record in the audit log"
# Allowed, refused and failed records alike load into pycadf's CADF Event model.
/usr/bin/python3 "$(dirname "${BASH_SOURCE[0]}")/../audit/check-cadf.py" \
    --expect success,failure,denied "$AUDIT" || fail "audit records that pycadf does not accept"
ok "every audit record (allowed, refused, failed) is a valid CADF event for pycadf"
keyhex=$(od -An -tx1 "$K1" | tr -d ' \n')
grep -q -e "$keyhex" -e "$(base64 -w0 "$K1")" "$AUDIT" && fail "key material in the audit log"
ok "refusals are in the audit log as denied; no key material there"

run_cleanups || fail "cleanup failed"
echo "policy: $_vm_ok_count passed, 0 failed"
