# tests/guest/common.sh: shared set-up for guest scenarios (source after lib.sh).
# A VG "ephtest" on the blank disk, a test policy and audit log under /tmp,
# and `call`, which makes one call through build/ephcrypt (a fresh
# helper over a socketpair each time).

REPO=$PWD
WORK=$(mktemp -d /tmp/ephcrypt.XXXXXX)
POLICY=$WORK/policy.conf
AUDIT=$WORK/audit.log
VG=ephtest
DISK=/dev/ubda

write_policy() {
    cat >"$POLICY" <<POL
# test policy: VG ephtest, LV names t*, their -dmcrypt mappings
[volume-groups]
vg $VG max-lv-size 2G
[volumes]
lv ^t[a-z0-9_.]*\$
[mappings]
mapping ^t[a-z0-9_.]*-dmcrypt\$
[crypto]
cipher aes-xts-plain64 key-sizes 256,512
# no kernel has this cipher: lets a test make activation fail after the LV exists
cipher nosuchcipher-xts-plain64 key-sizes 512
sector-sizes 512,4096
allow-discards no
no-read-workqueue yes
no-write-workqueue yes
POL
    chmod 0644 "$POLICY"
}

helper_cmd() {
    echo "$REPO/build/ephcrypt" --helper "${EPHCRYPT_HELPER:-$REPO/build/ephcrypt-helper}" \
        --helper-arg --policy --helper-arg "$POLICY" \
        --helper-arg --audit-log --helper-arg "$AUDIT"
}

# call NAME ARG...: prints the reply; non-zero with "error: CLASS: msg" on stderr.
call() {
    $(helper_cmd) call "$@"
}

# expect_error CLASS TEXT NAME ARG...: the call fails with CLASS and TEXT in its message,
# and LVM and device-mapper state is exactly as before.
expect_error() {
    local cls=$1 text=$2 before after out
    shift 2
    before=$(snapshot_state)
    if out=$(call "$@" 2>&1); then
        fail "$1 succeeded, expected $cls: $out"
    fi
    [[ $out == *"error: $cls: "* ]] || fail "$1: expected $cls, got: $out"
    [[ $out == *"$text"* ]] || fail "$1: message lacks '$text': $out"
    after=$(snapshot_state)
    [[ $after == "$before" ]] || fail "$1 changed state: before [$before] after [$after]"
}

# json_get KEY: pull a scalar out of the client's JSON-ish reply on stdin.
json_get() {
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

setup_vg() {
    mkdir -p "$WORK"
    write_policy
    pvcreate -q "$DISK" >/dev/null
    on_exit pvremove -q -ff -y "$DISK"
    vgcreate -q "$VG" "$DISK" >/dev/null
    on_exit vgremove -q -f "$VG"
    on_exit rm -rf "$WORK"
}

# Random key files (raw bytes); never printed.
make_key() {
    head -c "$2" /dev/urandom >"$1"
    chmod 0600 "$1"
}

# write_plaintext MAPPING LV: 4 MiB of a known plaintext ($WORK/plain, lines of
# $marker) written through MAPPING; it must read back and never be on the raw LV.
write_plaintext() {
    marker="EPHCRYPT-PLAINTEXT-MARKER-$$"
    (yes "$marker" || true) | head -c 4M >"$WORK/plain"
    dd if="$WORK/plain" of="$1" bs=1M oflag=direct status=none
    cmp -s -n 4194304 "$WORK/plain" "$1" || fail "$1 does not read back"
    head -c 4M "$2" | grep -q -a "$marker" && fail "plaintext found on the raw LV $2"
    return 0
}
