#!/bin/bash
# make demo: a full encrypted ephemeral disk lifecycle on a real kernel (run in
# the UML guest by tests/vm/run), keyed from a real Barbican started in the guest.
# The ephcrypt CLI is the caller: it spawns the helper over a socketpair, drops to
# "nobody", fetches the key from Barbican and hands it to the helper.
. "$(dirname "${BASH_SOURCE[0]}")/vm/lib.sh"
require_root_and_dm
. "$(dirname "${BASH_SOURCE[0]}")/barbican/lib.sh"

REPO=$PWD
WORK=$(mktemp -d /tmp/demo.XXXXXX) && chmod 0711 "$WORK"
VG=nova-ephemeral DISK=/dev/ubda
LV=6f1b3c2a-8d4e-4f5a-9b7c-1d2e3f4a5b6c_disk.local
MAP=$LV-dmcrypt
step=0

say() { printf '\n\033[1m== %d. %s\033[0m\n' $((step += 1)) "$*"; }
show() { printf '   $ %s\n' "$*"; "$@" 2>&1 | sed 's/^/     /'; }
ephcrypt() {
    # The unprivileged caller: helper over a socketpair, then it runs as nobody.
    "$REPO/build/ephcrypt" --helper "$REPO/build/ephcrypt-helper" \
        --helper-arg --policy --helper-arg "$WORK/policy.conf" \
        --helper-arg --audit-log --helper-arg "$WORK/audit.log" --as-user nobody \
        --no-auth --endpoint "$URL" --os-project-id demo-project "$@"
}
# timed ARGS...: run ephcrypt, show what it printed and how long it took.
timed() {
    local t0 rc=0
    printf '   $ ephcrypt %s\n' "$*"
    t0=$(date +%s%N)
    ephcrypt "$@" >"$WORK/out" 2>"$WORK/err" || rc=$?
    sed 's/^/     /' "$WORK/out" "$WORK/err"
    printf '     (%d ms, exit %d)\n' $((($(date +%s%N) - t0) / 1000000)) "$rc"
    return "$rc"
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

say "OpenStack's key manager: a real Barbican $(dpkg-query -W -f '${Version}' barbican-api 2>/dev/null) in this guest"
ip link set lo up
BP=$(free_port)
URL=http://127.0.0.1:$BP
barbican_setup "$WORK" "$BP"
on_exit kill_servers "$WORK"
t0=$(date +%s)
server_start barbican "$WORK" "$BP" 300 || fail "barbican did not start"
echo "     Barbican (no-auth test mode, project demo-project) on $URL, ready in $(($(date +%s) - t0)) s"

say "Barbican makes the disk's key: an order for an AES-XTS-512 key, as castellan does for Nova"
timed key new --name "$LV" || fail "key new"
REF=$(cat "$WORK/out")
timed key show "$REF" || fail "key show"
echo "     (metadata only: ephcrypt never prints a payload)"

say "ephcrypt create: the key goes Barbican -> locked memory -> helper; LV + dm-crypt mapping"
t0=$(date +%s%N)
/usr/bin/python3 "$REPO/tests/guest/barbican_keycheck.py" scan "$URL" demo-project "$REF" "$WORK" \
    --file "$WORK/audit.log" -- "$REPO/build/ephcrypt" --helper "$REPO/build/ephcrypt-helper" \
    --helper-arg --policy --helper-arg "$WORK/policy.conf" --helper-arg --audit-log \
    --helper-arg "$WORK/audit.log" --as-user nobody --no-auth --endpoint "$URL" \
    --os-project-id demo-project create "$VG" "$LV" 64M --key "$REF" >"$WORK/scan" ||
    fail "create failed: $(cat "$WORK/err" "$WORK/scan")"
printf '   $ ephcrypt create %s %s 64M --key %s\n' "$VG" "$LV" "$REF"
sed 's/^/     /' "$WORK/out"
printf '     (%d ms)\n' $((($(date +%s%N) - t0) / 1000000))
echo "     while it ran, $(cat "$WORK/scan")"
echo "     (every /proc/*/cmdline and /proc/*/environ, its output and the audit log)"
destroy_quietly() { ephcrypt destroy "$VG" "$LV" >/dev/null 2>&1 || true; }
on_exit destroy_quietly
show lsblk -o NAME,SIZE,TYPE /dev/ubda
echo "   the mapping's key is Barbican's payload (compared in memory, never shown):"
echo "     $(/usr/bin/python3 "$REPO/tests/guest/barbican_keycheck.py" table "$URL" demo-project "$REF" "$MAP")"

say "The guest writes through the mapping; the raw LV holds only ciphertext"
printf 'Tenant secret: the quick brown fox %.0s' {1..400} | head -c 4096 >"$WORK/plain"
dd if="$WORK/plain" of="/dev/mapper/$MAP" bs=4096 count=1 oflag=direct status=none
echo "   through /dev/mapper/$MAP:"
head -c 64 "/dev/mapper/$MAP" | od -A d -c | head -3 | sed 's/^/     /'
echo "   the same sector on the raw LV /dev/$VG/$LV:"
head -c 64 "/dev/$VG/$LV" | od -A d -t x1 | head -3 | sed 's/^/     /'
head -c 4096 "/dev/$VG/$LV" | grep -q -a "Tenant secret" && fail "plaintext on the raw LV"
echo "     (no 'Tenant secret' anywhere on the raw LV)"

say "ephcrypt status: what the mapping is, never its key"
timed status "$MAP" || fail "status"

say "ephcrypt destroy: crypto-erase (close the mapping, remove the LV, delete the secret)"
timed destroy "$VG" "$LV" --delete-key "$REF" || fail "destroy"
show lvs "$VG"
show dmsetup ls
echo "   the secret is gone from Barbican, so the old ciphertext can never be read again:"
timed key show "$REF" && fail "the secret is still there"

say "A refused request: a name outside the policy; the key made for it is deleted again"
timed create "$VG" evil 4M --new-key && fail "evil was created"
show lvs "$VG"

say "The audit log a security team reviews (hash-chained JSON lines)"
show "$REPO/build/ephcrypt-audit" list "$WORK/audit.log"
show "$REPO/build/ephcrypt-audit" verify "$WORK/audit.log"

run_cleanups || fail "cleanup failed"
printf '\n\033[1mDemo complete: a key made in Barbican, an encrypted disk created and used, crypto-erased, and its secret deleted.\033[0m\n'
