#!/bin/bash
# make demo: a full encrypted ephemeral disk lifecycle on a real kernel (run in
# the UML guest by tests/vm/run). The helper runs as root; the caller on the
# other end of the socketpair drops to "nobody" before it says anything.
. "$(dirname "${BASH_SOURCE[0]}")/vm/lib.sh"
require_root_and_dm

REPO=$PWD
WORK=$(mktemp -d /tmp/demo.XXXXXX) && chmod 0711 "$WORK"
VG=nova-ephemeral DISK=/dev/ubda
LV=6f1b3c2a-8d4e-4f5a-9b7c-1d2e3f4a5b6c_disk.local
MAP=$LV-dmcrypt
step=0

say() { printf '\n\033[1m== %d. %s\033[0m\n' $((step += 1)) "$*"; }
show() { printf '   $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/     /'; }
caller() {
    # The unprivileged side: spawns the helper over a socketpair, then drops to nobody.
    "$REPO/build/ephcrypt-client" --helper "$REPO/build/ephcrypt-helper" \
        --helper-arg --policy --helper-arg "$WORK/policy.conf" \
        --helper-arg --audit-log --helper-arg "$WORK/audit.log" --as-user nobody "$@"
}
timed_call() {
    local t0 t1 out
    printf '   caller> %s\n' "$*"
    t0=$(date +%s%N)
    out=$(caller call "$@" 2>&1) || { echo "     $out"; fail "call $1 failed"; }
    t1=$(date +%s%N)
    printf '     -> %s   (%d ms)\n' "$out" $(((t1 - t0) / 1000000))
}

on_exit rm -rf "$WORK"
say "A real Linux $(uname -r) kernel with device-mapper and dm-crypt; a blank disk $DISK"
show ls -l /dev/mapper/control /dev/ubda

say "The deployer makes the volume group Nova is configured with"
pvcreate -q /dev/ubda && vgcreate -q "$VG" /dev/ubda
on_exit pvremove -q -ff -y /dev/ubda
on_exit vgremove -q -f "$VG"
show vgs "$VG"

say "The deployer's policy (Nova's naming) and the helper's own check of it"
sed "s/^user nova$/uid 65534   # the demo's caller runs as nobody/" \
    "$REPO/policy/examples/nova.conf" >"$WORK/policy.conf"
chmod 0644 "$WORK/policy.conf"
grep -v '^#' "$WORK/policy.conf" | grep -v '^$' | sed 's/^/     /'
show "$REPO/build/ephcrypt-helper" --check-policy "$WORK/policy.conf"

say "The caller's key (in production: fetched from Barbican; never in argv or logs)"
head -c 64 /dev/urandom >"$WORK/key" && chown nobody "$WORK/key" && chmod 0600 "$WORK/key"
echo "     64 random bytes in $WORK/key, readable by the caller only"

say "vg_info, then disk_create: LV + dm-crypt mapping as one operation"
timed_call ephcrypt.vg_info s:$VG
timed_call ephcrypt.disk_create s:$VG s:$LV i:$((64 << 20)) s:aes-xts-plain64 i:512 \
    key:"$WORK/key" key_id=s:barbican-secret-0001 request_id=s:req-demo-1
destroy_quietly() { caller call ephcrypt.disk_destroy s:$VG s:$LV >/dev/null 2>&1 || true; }
on_exit destroy_quietly
show lsblk -o NAME,SIZE,TYPE /dev/ubda

say "The guest writes through the mapping; the raw LV holds only ciphertext"
printf 'Tenant secret: the quick brown fox %.0s' {1..400} | head -c 4096 >"$WORK/plain"
dd if="$WORK/plain" of="/dev/mapper/$MAP" bs=4096 count=1 oflag=direct status=none
echo "   through /dev/mapper/$MAP:"
head -c 64 "/dev/mapper/$MAP" | od -A d -c | head -3 | sed 's/^/     /'
echo "   the same sector on the raw LV /dev/$VG/$LV:"
head -c 64 "/dev/$VG/$LV" | od -A d -t x1 | head -3 | sed 's/^/     /'
head -c 4096 "/dev/$VG/$LV" | grep -q -a "Tenant secret" && fail "plaintext on the raw LV"
echo "     (no 'Tenant secret' anywhere on the raw LV)"

say "crypt_status: what the mapping is, never its key"
timed_call ephcrypt.crypt_status s:$MAP

say "disk_destroy: crypto-erase (close the mapping, remove the LV; the key is gone)"
timed_call ephcrypt.disk_destroy s:$VG s:$LV
show lvs "$VG"
show dmsetup ls

say "A refused request: a name outside the policy, and nothing changes"
out=$(caller call ephcrypt.lv_create s:$VG s:evil i:4194304 2>&1) || true
echo "     -> $out"

say "The audit log a security team reviews (hash-chained JSON lines)"
show "$REPO/build/ephcrypt-audit" list "$WORK/audit.log"
show "$REPO/build/ephcrypt-audit" verify "$WORK/audit.log"
grep -q -e "$(od -An -tx1 "$WORK/key" | tr -d ' \n')" "$WORK/audit.log" && fail "key in the audit log"
echo "     (the key appears nowhere in the log)"

run_cleanups || fail "cleanup failed"
printf '\n\033[1mDemo complete: created, used, inspected and crypto-erased an encrypted ephemeral disk.\033[0m\n'
