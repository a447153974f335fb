# shellcheck shell=bash
# tests/guest/nova_lib.sh: what the Nova scenarios (nova.sh, nova_forward.sh)
# share; source after lib.sh and common.sh, with PY, HELPER and VG set.

# A check that fails is reported and counted; the run goes on, so one run
# shows every difference.  Cleanups run at exit whatever happens.
not_ok() {
    echo "not ok - $*"
    failures=$((failures + 1))
}

# Skip without Nova and privsep-helper; fail without a built helper.
require_nova_and_helper() {
    require_root_and_dm
    "$PY" -c 'import nova.privsep.fs, oslo_privsep' 2>/dev/null ||
        skip "needs Debian's python3-nova and python3-oslo.privsep"
    command -v privsep-helper >/dev/null || skip "needs privsep-helper (python3-oslo.privsep)"
    [[ -x $HELPER ]] || fail "no $HELPER: run make first"
    grep -q nova.privsep.fs.vginfo "$HELPER" ||
        fail "$HELPER does not serve Nova's entrypoints (no nova.privsep.fs.vginfo in it)"
}

# The test policy: nova.conf's example with uid 0 as the caller (the driver
# runs as root here; there is no nova user) and the hash as given.
write_nova_policy() {
    cat >"$1" <<POL
# test policy for tests/guest/nova*.sh: policy/examples/nova.conf for uid 0
[callers]
uid 0
[volume-groups]
vg $VG max-lv-size 1G
[volumes]
lv ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}_disk(\.local|\.swap|\.eph[0-9]+|\.rescue)?\$
[mappings]
mapping ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}_disk(\.local|\.swap|\.eph[0-9]+|\.rescue)?-dmcrypt\$
[crypto]
cipher aes-xts-plain64 key-sizes 256,512
sector-sizes 512,4096
nova-passphrase-hash $2
POL
    chmod 0644 "$1"
}

# Whatever a failed run left: mappings, then the VG with its LVs, then the PV.
cleanup_storage() {
    local m
    for m in $(dmsetup ls --target crypt 2>/dev/null | awk '$1 ~ /-dmcrypt$/ { print $1 }'); do
        cryptsetup remove "$m"
    done
    vgremove -q -f "$VG" >/dev/null 2>&1
    pvremove -q -ff -y "$DISK" >/dev/null
}


# sudo as the nova user would meet FILE (a rule for "nova"), asked for
# nobody, who stands in for nova (no such user here): the rule over
# /etc/sudoers and the helper as /usr/local/sbin/ephcrypt-helper, both
# mounted over the guest's read-only root and undone at exit.
sudoers_for_nobody() {
    sed 's/^nova /nobody /; s|@SBINDIR@|/usr/local/sbin|g' "$1" >"$WORK/sudoers"
    chmod 0440 "$WORK/sudoers"
    visudo -c -q -f "$WORK/sudoers" || fail "visudo rejects $1"
    mount --bind "$WORK/sudoers" /etc/sudoers
    on_exit umount /etc/sudoers
    mount -t tmpfs -o mode=0755 none /usr/local/sbin
    on_exit umount /usr/local/sbin
    install -m 0755 "$HELPER" /usr/local/sbin/ephcrypt-helper
}

# Would sudo let nobody run the helper with these arguments?  (Runs nothing.)
sudo_allows() {
    sudo -l -U nobody /usr/local/sbin/ephcrypt-helper "$@" >/dev/null 2>&1
}
