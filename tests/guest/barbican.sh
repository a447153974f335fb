#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# tests/guest/barbican.sh: the whole key path in one guest. A real Barbican (no-auth)
# started here, `ephcrypt key new`, `ephcrypt create` with that key through the helper,
# the dm-crypt key equal to Barbican's payload (compared in memory), data written and
# read back, `ephcrypt destroy --delete-key`: no LV, no mapping, a 404 for the secret.
# While the CLI runs the key is in no /proc/*/cmdline or environ, nor in any output or log.
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
require_root_and_dm
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
. "$REPO/tests/barbican/lib.sh"
[[ -r /usr/lib/python3/dist-packages/barbican/__init__.py ]] || skip "barbican not installed"

setup_vg
ip link set lo up
BB=$WORK/bb
BP=$(free_port)
URL=http://127.0.0.1:$BP
barbican_setup "$BB" "$BP"
on_exit kill_servers "$BB"
t0=$(date +%s%N)
server_start barbican "$BB" "$BP" 300 || fail "barbican did not start"
echo "# barbican ready in $((($(date +%s%N) - t0) / 1000000)) ms"

ec() { $(helper_cmd) --no-auth --endpoint "$URL" --os-project-id proj-a "$@"; }
KEYCHECK=$REPO/tests/guest/barbican_keycheck.py
LOGS=(--file "$AUDIT" --file "$BB/barbican/barbican-api.log" --file "$BB/barbican/server.log")
ms() { echo $((($(date +%s%N) - $1) / 1000000)); }

# 1. A key made by Barbican (an order, as castellan makes Nova's).
t=$(date +%s%N)
REF=$(ec key new --name tdisk) || fail "key new"
T_NEW=$(ms "$t")
[[ $REF == "$URL/v1/secrets/"* ]] || fail "key new printed '$REF'"
ec key show "$REF" | grep -q '^bit_length *512$' || fail "key show"
ok "key new: $REF ($T_NEW ms)"

# 2. The disk, keyed from Barbican, while every process's argv and environment is scanned.
t=$(date +%s%N)
$PY "$KEYCHECK" scan "$URL" proj-a "$REF" "$WORK" "${LOGS[@]}" -- \
    $(helper_cmd) --no-auth --endpoint "$URL" --os-project-id proj-a \
    create $VG tdisk 64M --key "$REF" >"$WORK/scan" || fail "create: $(cat "$WORK/err" "$WORK/scan")"
T_CREATE=$(ms "$t")
SCAN=$(cat "$WORK/scan")
remove_mapping() { [[ ! -e /dev/mapper/tdisk-dmcrypt ]] || dmsetup remove -f tdisk-dmcrypt; }
on_exit remove_mapping
[[ $(cat "$WORK/out") == /dev/mapper/tdisk-dmcrypt ]] || fail "create printed '$(cat "$WORK/out")'"
[[ $SCAN == *"key absent" ]] || fail "$SCAN"
ok "create 64M with the key: /dev/mapper/tdisk-dmcrypt ($T_CREATE ms); $SCAN"

[[ $($PY "$KEYCHECK" table "$URL" proj-a "$REF" tdisk-dmcrypt) == match ]] ||
    fail "the dm-crypt key is not Barbican's payload"
ok "the dm-crypt table's key equals Barbican's payload (compared in memory)"

head -c $((1 << 20)) /dev/urandom >"$WORK/data"
dd if="$WORK/data" of=/dev/mapper/tdisk-dmcrypt bs=64k oflag=direct status=none
cmp -n $((1 << 20)) "$WORK/data" /dev/mapper/tdisk-dmcrypt || fail "read back differs"
cmp -s -n $((1 << 20)) "$WORK/data" "/dev/$VG/tdisk" && fail "plaintext on the LV"
ok "1 MiB written through the mapping reads back; the LV holds only ciphertext"

rc=0 && ec create $VG tshort 16M --key "$REF" --key-size 256 >/dev/null 2>"$WORK/err" || rc=$?
[[ $rc == 1 ]] && grep -q "the payload is 512 bits, not 256" "$WORK/err" ||
    fail "key size mismatch: exit $rc $(cat "$WORK/err")"
lvs --noheadings "$VG/tshort" >/dev/null 2>&1 && fail "a key of the wrong size made an LV"
ok "a payload of the wrong size for --key-size: exit 1, nothing made"

ec status tdisk-dmcrypt | grep -q '^key size: *512 bits$' || fail "status"
ec --json list | grep -q '"tdisk-dmcrypt"' || fail "list"
ok "status and list"

# 3. Crypto-erase: mapping closed, LV removed, secret deleted.
t=$(date +%s%N)
ec destroy $VG tdisk --delete-key "$REF" >"$WORK/out" || fail "destroy"
T_DESTROY=$(ms "$t")
lvs --noheadings "$VG/tdisk" >/dev/null 2>&1 && fail "LV still there"
[[ -e /dev/mapper/tdisk-dmcrypt ]] && fail "mapping still there"
rc=0 && ec key show "$REF" >/dev/null 2>"$WORK/err" || rc=$?
[[ $rc == 4 ]] && grep -q 'HTTP 404' "$WORK/err" || fail "secret after destroy: exit $rc $(cat "$WORK/err")"
ok "destroy --delete-key ($T_DESTROY ms): no LV, no mapping, secret 404"

# 4. --new-key, and a create that fails after it: the new key is deleted again.
rc=0 && ec create $VG tfail 16M --new-key --cipher nosuchcipher-xts-plain64 >"$WORK/out" \
    2>"$WORK/err" || rc=$?
[[ $rc == 6 ]] || fail "create with a bad cipher: exit $rc: $(cat "$WORK/err")"
grep -q 'deleted the new key .* again' "$WORK/err" || fail "new key not deleted: $(cat "$WORK/err")"
NEWREF=$(sed -n 's/^ephcrypt: new key //p' "$WORK/err")
rc=0 && ec key show "$NEWREF" >/dev/null 2>&1 || rc=$?
[[ $rc == 4 ]] || fail "the failed create's key is still in Barbican"
lvs --noheadings "$VG/tfail" >/dev/null 2>&1 && fail "failed create left an LV"
ok "a create failing after --new-key deletes that key again; exit 6, no LV"

# The same path without the scanner beside it: plain timings of each step.
t=$(date +%s%N)
REF2=$(ec key new --name tplain) || fail "key new"
T_NEW2=$(ms "$t") t=$(date +%s%N)
ec create $VG tplain 16M --key "$REF2" >/dev/null || fail "create tplain"
T_CREATE2=$(ms "$t") t=$(date +%s%N)
ec destroy $VG tplain --delete-key "$REF2" >/dev/null || fail "destroy tplain"
T_DESTROY2=$(ms "$t")
ok "unobserved: key new $T_NEW2 ms, create $T_CREATE2 ms, destroy --delete-key $T_DESTROY2 ms"

json=$(ec --json create $VG tnew 16M --new-key) || fail "create --new-key"
NEWREF=$(json_get key_ref <<<"$json")
ec destroy $VG tnew --delete-key "$NEWREF" >/dev/null || fail "destroy tnew"
ok "create --new-key --json, then destroy --delete-key"

# 5. A name outside the policy: refused with the helper's words, no key left behind.
rc=0 && ec create $VG x1 16M --new-key >/dev/null 2>"$WORK/err" || rc=$?
[[ $rc == 5 ]] && grep -q '\[volumes\]' "$WORK/err" || fail "refusal: exit $rc $(cat "$WORK/err")"
ok "refused by policy: exit 5, '$(grep -m1 volumes "$WORK/err")'"

echo "# times: key new $T_NEW ms, create $T_CREATE ms, destroy $T_DESTROY ms"
