#!/bin/bash
# Encrypted-disk lifecycle through the helper's socket, on a real kernel.
# Run with: tests/vm/run tests/guest/storage.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_root_and_dm
setup_vg
K1=$WORK/k1 K2=$WORK/k2 K32=$WORK/k32
make_key "$K1" 64; make_key "$K2" 64; make_key "$K32" 32
before=$(snapshot_state)

out=$(call ephcrypt.vg_info s:$VG)
[[ $(json_get name <<<"$out") == "$VG" && $(json_get extent_size <<<"$out") == 4194304 ]] ||
    fail "vg_info: $out"
free0=$(json_get free <<<"$out")
ok "vg_info reports $VG: $out"

t0=$(date +%s%N)
out=$(call ephcrypt.disk_create s:$VG s:t1_disk i:$((50 << 20)) s:aes-xts-plain64 i:512 key:$K1)
t1=$(date +%s%N)
on_exit call ephcrypt.disk_destroy s:$VG s:t1_disk
[[ $(json_get path <<<"$out") == /dev/mapper/t1_disk-dmcrypt &&
   $(json_get lv_path <<<"$out") == /dev/$VG/t1_disk ]] || fail "disk_create: $out"
[[ -b /dev/mapper/t1_disk-dmcrypt ]] || fail "no /dev/mapper/t1_disk-dmcrypt"
ok "disk_create made LV and mapping in $(( (t1 - t0) / 1000000 )) ms: $out"

out=$(call ephcrypt.lv_info s:$VG s:t1_disk)
[[ $(json_get size <<<"$out") == $((52 << 20)) && $(json_get open <<<"$out") == True ]] ||
    fail "lv_info (size rounded up to 4 MiB extents, open): $out"
ok "lv_info: size rounded up to the extent, open under the mapping"

# A known plaintext through the mapping; it must not appear on the raw LV.
write_plaintext /dev/mapper/t1_disk-dmcrypt /dev/$VG/t1_disk
ok "plaintext reads back through the mapping; the raw LV holds only ciphertext"

out=$(call ephcrypt.crypt_status s:t1_disk-dmcrypt)
[[ $(json_get cipher <<<"$out") == aes-xts-plain64 && $(json_get key_size <<<"$out") == 512 &&
   $(json_get sector_size <<<"$out") == 512 ]] || fail "crypt_status: $out"
keyhex=$(od -An -tx1 "$K1" | tr -d ' \n')
[[ $out != *"$keyhex"* && $out != *key\"* ]] || fail "crypt_status shows key material"
ok "crypt_status: aes-xts-plain64, 512-bit key, no key in the reply"

[[ $(call ephcrypt.crypt_list) == *'"t1_disk-dmcrypt"'* ]] || fail "crypt_list misses the mapping"
[[ $(call ephcrypt.lv_list s:$VG) == '["t1_disk"]' ]] || fail "lv_list: $(call ephcrypt.lv_list s:$VG)"
ok "crypt_list and lv_list show the disk"

call ephcrypt.crypt_close s:t1_disk-dmcrypt >/dev/null
call ephcrypt.crypt_open s:t1_disk-dmcrypt s:/dev/$VG/t1_disk s:aes-xts-plain64 i:512 key:$K1 >/dev/null
cmp -s -n 4194304 "$WORK/plain" /dev/mapper/t1_disk-dmcrypt || fail "re-open with the same key"
call ephcrypt.crypt_close s:t1_disk-dmcrypt >/dev/null
call ephcrypt.crypt_open s:t1_disk-dmcrypt s:/dev/$VG/t1_disk s:aes-xts-plain64 i:512 key:$K2 >/dev/null
head -c 4M /dev/mapper/t1_disk-dmcrypt | grep -q -a "$marker" && fail "another key reads the plaintext"
ok "close and re-open: the same key reads the plaintext, another key does not"

out=$(call ephcrypt.disk_destroy s:$VG s:t1_disk)
[[ $out == '{"closed": true, "removed": true}' ]] || fail "disk_destroy: $out"
out=$(call ephcrypt.disk_destroy s:$VG s:t1_disk)
[[ $out == '{"closed": false, "removed": false}' ]] || fail "second disk_destroy: $out"
[[ $(snapshot_state) == "$before" ]] || fail "disk_destroy left something: $(snapshot_state)"
[[ $(json_get free <<<"$(call ephcrypt.vg_info s:$VG)") == "$free0" ]] || fail "VG space not returned"
ok "disk_destroy closed and removed; again is a no-op; the VG is as before"

# Options and flags, by keyword.
out=$(call ephcrypt.disk_create vg=s:$VG lv=s:t7 size=i:$((8 << 20)) cipher=s:aes-xts-plain64 \
    key_size=i:256 key=key:$K32 \
    options=map:sector_size=i:4096,no_read_workqueue=true,no_write_workqueue=true)
out=$(call ephcrypt.crypt_status s:t7-dmcrypt)
[[ $(json_get sector_size <<<"$out") == 4096 && $(json_get key_size <<<"$out") == 256 &&
   $(json_get flags <<<"$out") == no_read_workqueue,no_write_workqueue ]] || fail "options: $out"
dmsetup table t7-dmcrypt | grep -q 'sector_size:4096' || fail "no sector_size:4096 in the table"
call ephcrypt.disk_destroy s:$VG s:t7 >/dev/null
ok "keyword arguments and options: 256-bit key, 4096-byte sectors, no workqueues"
expect_error builtins.PermissionError "discards" ephcrypt.disk_create s:$VG s:t7 i:$((8 << 20)) \
    s:aes-xts-plain64 i:512 key:$K1 options=map:allow_discards=true
expect_error builtins.ValueError "sector_size" ephcrypt.disk_create s:$VG s:t7 i:$((8 << 20)) \
    s:aes-xts-plain64 i:512 key:$K1 options=map:sector_size=i:1000
expect_error builtins.ValueError "unknown crypt option" ephcrypt.disk_create s:$VG s:t7 \
    i:$((8 << 20)) s:aes-xts-plain64 i:512 key:$K1 options=map:fast=true
expect_error builtins.TypeError "argument 'options' must be dict" ephcrypt.disk_create s:$VG \
    s:t7 i:$((8 << 20)) s:aes-xts-plain64 i:512 key:$K1 options=s:x
ok "refused options: discards by policy, bad sector size, unknown option, wrong type"
call ephcrypt.lv_create s:$VG s:t2 i:$((8 << 20)) >/dev/null
on_exit call ephcrypt.lv_remove s:$VG s:t2
ok "lv_create alone"

# Errors: each one leaves LVM and the kernel exactly as they were.
call ephcrypt.crypt_open s:t2-dmcrypt s:/dev/$VG/t2 s:aes-xts-plain64 i:512 key:$K1 >/dev/null
expect_error builtins.OSError "open" ephcrypt.lv_remove s:$VG s:t2
ok "lv_remove under an open mapping: OSError EBUSY"
expect_error builtins.FileExistsError "already exists" \
    ephcrypt.crypt_open s:t2-dmcrypt s:/dev/$VG/t2 s:aes-xts-plain64 i:512 key:$K1
ok "crypt_open of an existing mapping: FileExistsError"
call ephcrypt.crypt_close s:t2-dmcrypt >/dev/null
expect_error builtins.FileNotFoundError "not active" ephcrypt.crypt_close s:t2-dmcrypt
ok "crypt_close of a missing mapping: FileNotFoundError"
expect_error builtins.FileExistsError "already exists" ephcrypt.lv_create s:$VG s:t2 i:4194304
ok "lv_create of an existing LV: FileExistsError"
expect_error builtins.FileNotFoundError "not found" ephcrypt.lv_remove s:$VG s:t3
expect_error builtins.FileNotFoundError "not found" ephcrypt.lv_info s:$VG s:t3
ok "lv_remove and lv_info of a missing LV: FileNotFoundError"
expect_error builtins.OSError "free" ephcrypt.lv_create s:$VG s:t3 i:$((1536 << 20))
expect_error builtins.OSError "free" ephcrypt.disk_create s:$VG s:t5 i:$((1536 << 20)) \
    s:aes-xts-plain64 i:512 key:$K1
ok "lv_create and disk_create beyond the free space: OSError ENOSPC"
expect_error builtins.PermissionError "exceeds" ephcrypt.lv_create s:$VG s:t3 i:$((3 << 30))
ok "lv_create beyond the policy's largest LV: PermissionError"
expect_error builtins.ValueError "key is 32 bytes but key_size is 512 bits" \
    ephcrypt.crypt_open s:t2-dmcrypt s:/dev/$VG/t2 s:aes-xts-plain64 i:512 key:$K32
expect_error builtins.TypeError "missing required argument: 'key'" \
    ephcrypt.crypt_open s:t2-dmcrypt s:/dev/$VG/t2 s:aes-xts-plain64 i:512
expect_error builtins.TypeError "argument 'key' must be bytes, not str" \
    ephcrypt.crypt_open s:t2-dmcrypt s:/dev/$VG/t2 s:aes-xts-plain64 i:512 s:notakey
ok "bad keys and arguments: ValueError / TypeError naming the argument"
expect_error builtins.PermissionError "not named /dev/VG/LV" \
    ephcrypt.crypt_open s:t9-dmcrypt s:$DISK s:aes-xts-plain64 i:512 key:$K1
ln -sf $DISK "$WORK/link-to-disk"
expect_error builtins.PermissionError "not" \
    ephcrypt.crypt_open s:t9-dmcrypt s:/dev/../dev/ubda s:aes-xts-plain64 i:512 key:$K1
expect_error builtins.FileNotFoundError "does not exist" \
    ephcrypt.crypt_open s:t9-dmcrypt s:/dev/$VG/tnope s:aes-xts-plain64 i:512 key:$K1
ok "crypt_open on a raw disk or a missing device is refused"

# Rollback: no kernel has this cipher, so activation fails after the LV exists.
on_exit call ephcrypt.disk_destroy s:$VG s:t6_disk
expect_error builtins.OSError "t6_disk-dmcrypt" ephcrypt.disk_create s:$VG s:t6_disk \
    i:$((8 << 20)) s:nosuchcipher-xts-plain64 i:512 key:$K1
ok "a failed disk_create removes its LV again (nothing half-made)"

# The helper's lvm shell reads a command line: names that LVM's splitter would read
# as more words, a comment, a quote or an option are refused before any lvm runs
# (the name grammar; the line builder refuses them too, tests/unit/test_ops.c).
long=$(printf 'a%.0s' {1..300})
for bad in "x;lvremove" $'x\nlvremove --yes '"$VG" "x'y" 'x"y' "--" "-ff" "x y" $'x\ty' "#x" \
    "x#y" '$(id)' "x\\y" "$long"; do
    expect_error builtins.ValueError "" ephcrypt.lv_create s:$VG "s:$bad" i:4194304
    expect_error builtins.ValueError "" ephcrypt.lv_remove s:$VG "s:$bad"
done
expect_error builtins.ValueError "" ephcrypt.vg_info "s:$VG;lvs"
expect_error builtins.ValueError "" ephcrypt.vg_info "s:$VG --yes"
ok "names with ; newline tab quotes # -- spaces or 300 bytes: ValueError, nothing changed"

run_cleanups || fail "cleanup failed"
echo "storage: $_vm_ok_count passed, 0 failed"
