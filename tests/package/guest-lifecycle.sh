#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# An encrypted-disk lifecycle on a real kernel with the helper and
# ephcrypt-audit that the Debian package ships (make check-package extracts it
# into EPHCRYPT_PKG_ROOT).  Run with:
#   EPHCRYPT_PKG_ROOT=$PWD/build/pkg/root tests/vm/run tests/package/guest-lifecycle.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
ROOT=${EPHCRYPT_PKG_ROOT:?set EPHCRYPT_PKG_ROOT to the extracted package}
export EPHCRYPT_HELPER=$ROOT/usr/sbin/ephcrypt-helper
AUDIT_TOOL=$ROOT/usr/sbin/ephcrypt-audit
. "$(dirname "${BASH_SOURCE[0]}")/../guest/common.sh"

require_root_and_dm
[[ -x $EPHCRYPT_HELPER && -x $AUDIT_TOOL ]] || fail "no helper or ephcrypt-audit under $ROOT/usr/sbin"
setup_vg
K1=$WORK/k1
make_key "$K1" 64
before=$(snapshot_state)

out=$(call ephcrypt.version)
[[ $out == *"$(dpkg-deb -f "$ROOT/../ephcrypt_"*.deb Version 2>/dev/null || echo 0.1.0)"* ]] ||
    fail "version: $out"
ok "the packaged helper answers: $out"

out=$(call ephcrypt.disk_create s:$VG s:tpkg i:$((16 << 20)) s:aes-xts-plain64 i:512 key:$K1)
destroy_disk() { call ephcrypt.disk_destroy s:$VG s:tpkg >/dev/null; }
on_exit destroy_disk
[[ $(json_get path <<<"$out") == /dev/mapper/tpkg-dmcrypt ]] || fail "disk_create: $out"
marker="EPHCRYPT-PACKAGE-MARKER-$$"
(yes "$marker" || true) | head -c 1M >"$WORK/plain"
dd if="$WORK/plain" of=/dev/mapper/tpkg-dmcrypt bs=1M oflag=direct status=none
cmp -s -n 1048576 "$WORK/plain" /dev/mapper/tpkg-dmcrypt || fail "the mapping does not read back"
head -c 1M /dev/$VG/tpkg | grep -q -a "$marker" && fail "plaintext found on the raw LV"
ok "disk_create: plaintext reads back through the mapping, the raw LV holds ciphertext"

out=$(call ephcrypt.crypt_status s:tpkg-dmcrypt)
[[ $(json_get cipher <<<"$out") == aes-xts-plain64 && $(json_get key_size <<<"$out") == 512 ]] ||
    fail "crypt_status: $out"
expect_error builtins.PermissionError "" ephcrypt.lv_create s:othervg s:tpkg2 i:$((8 << 20))
ok "crypt_status answers; a volume group outside the policy is refused"

out=$(call ephcrypt.disk_destroy s:$VG s:tpkg)
[[ $out == '{"closed": true, "removed": true}' ]] || fail "disk_destroy: $out"
[[ $(snapshot_state) == "$before" ]] || fail "disk_destroy left: $(snapshot_state)"
ok "disk_destroy: closed and removed, LVM and device-mapper as before"

out=$("$AUDIT_TOOL" verify "$AUDIT") || fail "packaged ephcrypt-audit verify: $out"
denied=$("$AUDIT_TOOL" list --denied "$AUDIT")
[[ $denied == *"denied"*"lv_create"*"othervg"* && $(wc -l <<<"$denied") == 1 ]] ||
    fail "list --denied: $denied"
ok "packaged ephcrypt-audit: $out; list --denied finds the refusal"

run_cleanups || fail "cleanup failed"
echo "package lifecycle: $_vm_ok_count passed, 0 failed"
