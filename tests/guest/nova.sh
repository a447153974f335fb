#!/bin/bash
# Nova 26's own LVM and dm-crypt storage code (Debian's python3-nova, through
# oslo.privsep's real client) served by ephcrypt-helper, compared call by
# call with the same code served by Debian's privsep-helper in the same run;
# then a patched copy of Nova that sends only those calls to ephcrypt; then
# the sudoers rule of contrib/nova.  Run with: tests/vm/run tests/guest/nova.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

PY=/usr/bin/python3
HERE=$REPO/tests/guest
HELPER=${EPHCRYPT_HELPER:-$REPO/build/ephcrypt-helper}
PATCH=$REPO/contrib/nova/nova-26-ephemeral-storage-pctxt.patch
SUDOERS=$REPO/contrib/nova/sudoers.d-ephcrypt.in
NOVA_SRC=/usr/lib/python3/dist-packages/nova
VG=nova-ephemeral
U=0b3e4f6a-1c2d-4e5f-8a9b-0c1d2e3f4a5b      # the instance of every driver run
UK=7d1c9e2b-5a4f-4b3e-9c8d-1e2f3a4b5c6d     # the key check's LV
SHA_POLICY=$WORK/policy-sha256.conf
EPH="$HELPER --policy $POLICY --audit-log $AUDIT"
failures=0

. "$(dirname "${BASH_SOURCE[0]}")/nova_lib.sh"
require_nova_and_helper

elapsed_ms() {
    echo $(( ($(date +%s%N) - $1) / 1000000 ))
}

# driver NAME ARGS...: one run of nova_compare.py, results in $WORK/NAME.json.
driver() {
    local name=$1 t0 rc=0
    shift
    t0=$(date +%s%N)
    "$PY" "$HERE/nova_compare.py" run --vg "$VG" --uuid "$U" --out "$WORK/$name.json" "$@" ||
        rc=$?
    echo "  $name run: $(elapsed_ms "$t0") ms in all; $("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
t = d["timing"]
print("Nova import %(import_s)s s, calls %(calls_s)s s, stop %(stop_s)s s" % t,
      "(first call, with the helper start: %s s)" % d["times"]["vg_info.before"])
for p in d["daemons"]:
    print("    %s served by %s (CapEff %s)" % (p["context"], p["program"], p["cap_eff"]))' \
        "$WORK/$name.json" 2>/dev/null || echo 'no results')"
    return "$rc"
}

check_run() {
    "$PY" "$HERE/nova_compare.py" check "$WORK/$1.json" --uuid "$U" "${@:2}"
}

compare_runs() {
    "$PY" "$HERE/nova_compare.py" compare "$WORK/$1.json" "$WORK/$2.json"
}

mkdir -p "$WORK"
chmod 0711 "$WORK" # --check-policy reads the file as nobody, as doas -C would
on_exit rm -rf "$WORK"
# EPHCRYPT_NOVA_RESULTS=DIR (a folder the guest can write): keep the runs' JSON.
keep_results() {
    cp "$WORK"/*.json "$EPHCRYPT_NOVA_RESULTS"/
}
[[ -z ${EPHCRYPT_NOVA_RESULTS:-} ]] || on_exit keep_results
write_nova_policy "$POLICY" ripemd160
write_nova_policy "$SHA_POLICY" sha256
"$HELPER" --check-policy "$POLICY" >/dev/null || fail "ephcrypt-helper rejects the test policy"
"$HELPER" --check-policy "$SHA_POLICY" >/dev/null || fail "ephcrypt-helper rejects the sha256 policy"
on_exit cleanup_storage
pvcreate -q "$DISK" >/dev/null
vgcreate -q "$VG" "$DISK" >/dev/null
before=$(snapshot_state)
t_all=$(date +%s%N)

# Nova's sparse LVs (lvcreate -L 64M --virtualsize SIZE): ephcrypt pins
# --type snapshot, a snapshot of a zero device that goes with the LV.  LVM's
# default sparse type is thin, which also makes a pool, lvolN, that outlives
# the LV.  The reference gets snapshot from its config so that the runs can be
# compared; ephcrypt's runs keep the default (and the guest has no
# dm-thin-pool, so only the pinned type can work).
SNAPSHOT_LVM=$WORK/lvm-snapshot
mkdir "$SNAPSHOT_LVM"
{ cat "$LVM_SYSTEM_DIR/lvm.conf"; echo 'global { sparse_segtype_default = "snapshot" }'; } \
    >"$SNAPSHOT_LVM/lvm.conf"

# 1. Unpatched Nova: [nova_sys_admin] helper_command is privsep-helper, then ephcrypt.
if LVM_SYSTEM_DIR=$SNAPSHOT_LVM driver ref --storage-helper privsep-helper &&
    check_run ref --serves sys_admin_pctxt=privsep-helper; then
    ok "unpatched Nova through privsep-helper: every call gives what Nova's code expects"
else
    not_ok "unpatched Nova through privsep-helper (the reference) misbehaves"
fi
[[ $(snapshot_state) == "$before" ]] || not_ok "the reference run left: $(snapshot_state)"

if driver ephcrypt --storage-helper "$EPH" --audit-log "$AUDIT" --policy-checks &&
    check_run ephcrypt --serves sys_admin_pctxt=ephcrypt; then
    ok "unpatched Nova through ephcrypt: every call gives what Nova's code expects," \
        "ephcrypt served the context, the audit log has the 9 entrypoints, foreign names refused"
else
    not_ok "unpatched Nova through ephcrypt"
fi
[[ $(snapshot_state) == "$before" ]] || not_ok "the ephcrypt run left: $(snapshot_state)"
if compare_runs ref ephcrypt; then
    ok "unpatched Nova: ephcrypt's results are privsep-helper's, call for call"
else
    not_ok "unpatched Nova: ephcrypt's results differ from privsep-helper's (above)"
fi

# 2. The dm-crypt key: cryptsetup create as Nova runs it, and ephcrypt.
lvcreate -q -L 8M -n "${UK}_disk" "$VG" >/dev/null
t0=$(date +%s%N)
if "$PY" "$HERE/nova_keycheck.py" --device "/dev/$VG/${UK}_disk" --mapping "${UK}_disk-dmcrypt" \
    --helper "ripemd160=$EPH" --helper "sha256=$HELPER --policy $SHA_POLICY --audit-log $AUDIT" \
    --no-key-in "$AUDIT"
then
    ok "dm-crypt tables (key included) identical to cryptsetup's, for ripemd160 and sha256;" \
        "no key material in the audit log ($(elapsed_ms "$t0") ms)"
else
    not_ok "dm-crypt tables differ from cryptsetup's (above)"
fi
lvremove -q -f "/dev/$VG/${UK}_disk" >/dev/null

# 3. Patched Nova: a copy of the package with contrib/nova's patch.
PATCHED=$WORK/patched
mkdir "$PATCHED"
t0=$(date +%s%N)
cp -a "$NOVA_SRC" "$PATCHED/"
(cd "$PATCHED" && patch -p1 --dry-run -s <"$PATCH" && patch -p1 -s <"$PATCH") ||
    fail "contrib/nova's patch does not apply to $NOVA_SRC"
cmp -s "$NOVA_SRC/privsep/fs.py" "$PATCHED/nova/privsep/fs.py" &&
    fail "the patch left nova/privsep/fs.py unchanged"
ok "the patch applies to a copy of Debian's Nova $(dpkg-query -W -f '${Version}' python3-nova)" \
    "($(elapsed_ms "$t0") ms with the copy)"

AUDIT2=$WORK/audit-patched.log
if PYTHONPATH=$PATCHED driver patched --storage-helper "$HELPER --policy $POLICY --audit-log $AUDIT2" \
    --sys-admin-helper privsep-helper --audit-log "$AUDIT2" &&
    check_run patched --serves ephemeral_storage_pctxt=ephcrypt \
        --serves sys_admin_pctxt=privsep-helper --patched "$PATCHED"; then
    ok "patched Nova: the 9 storage entrypoints went to ephcrypt (process and audit log)," \
        "nova.privsep.path.last_bytes to privsep-helper (and not to ephcrypt's audit log)"
else
    not_ok "patched Nova with ephcrypt"
fi
[[ $(snapshot_state) == "$before" ]] || not_ok "the patched run left: $(snapshot_state)"
if compare_runs ref patched; then
    ok "patched Nova through ephcrypt: results are unpatched privsep-helper's, call for call"
else
    not_ok "patched Nova through ephcrypt: results differ from privsep-helper's (above)"
fi

# The patch alone, without ephcrypt: privsep-helper serves the new context
# with CAP_SYS_ADMIN only, and Nova works as before (a shorter lifecycle).
if PYTHONPATH=$PATCHED driver fallback --quick --storage-helper privsep-helper \
    --sys-admin-helper privsep-helper &&
    check_run fallback --serves ephemeral_storage_pctxt=privsep-helper --patched "$PATCHED" &&
    compare_runs ref fallback; then
    ok "patched Nova without ephcrypt: privsep-helper serves the new context with CapEff" \
        "$("$PY" -c 'import json,sys; print([d["cap_eff"] for d in json.load(open(sys.argv[1]))
            ["daemons"] if d["context"].endswith("ephemeral_storage_pctxt")][0])' \
            "$WORK/fallback.json"); the lifecycle's results as unpatched"
else
    not_ok "patched Nova with privsep-helper for both contexts"
fi
[[ $(snapshot_state) == "$before" ]] || not_ok "the fallback run left: $(snapshot_state)"

# 4. The sudoers rule: sudo -l -U asks sudo whether a user may run a command
# line, without running it.  The guest's root is read-only: the rule and the
# helper are mounted over /etc/sudoers and /usr/local/sbin (nobody stands in
# for the nova user, who does not exist here).
sudoers_for_nobody "$SUDOERS"
ARGS=(--policy /etc/ephcrypt/policy.conf --privsep_context nova.privsep.ephemeral_storage_pctxt)
SOCK=/tmp/tmpk3x_9q0a/privsep.sock
sudo_allows "${ARGS[@]}" --privsep_sock_path "$SOCK" ||
    not_ok "sudoers: refuses the command line oslo.privsep runs"
refused=0 wrongly=()
for bad in "--lvm /tmp/x" "--policy /tmp/p.conf" "--audit-log /dev/null" "--fd 0"; do
    # shellcheck disable=SC2086  # an option and its value
    sudo_allows "${ARGS[@]}" --privsep_sock_path "$SOCK" $bad && wrongly+=("+ $bad")
    refused=$((refused + 1))
done
for sock in /var/tmp/tmpk3x_9q0a/privsep.sock /tmp/tmpk3x_9q0a0/privsep.sock /tmp/../etc/x \
    "/tmp/tmpk3x_9q0a/privsep.sock --lvm /tmp/x"; do
    sudo_allows "${ARGS[@]}" --privsep_sock_path "$sock" && wrongly+=("sock $sock")
    refused=$((refused + 1))
done
sudo_allows --policy /etc/ephcrypt/policy.conf --privsep_context nova.privsep.sys_admin_pctxt \
    --privsep_sock_path "$SOCK" && wrongly+=("the sys_admin context")
refused=$((refused + 1))
((${#wrongly[@]} == 0)) || not_ok "sudoers allows: ${wrongly[*]}"
# Glued arguments still match sudo's joined string, but the helper then fails to start.
glued=("--policy /etc/ephcrypt/policy.conf" "--privsep_context nova.privsep.ephemeral_storage_pctxt"
       --privsep_sock_path "$SOCK")
sudo_allows "${glued[@]}" || not_ok "sudoers: expected the glued form to match the pattern"
rc=0
/usr/local/sbin/ephcrypt-helper "${glued[@]}" >/dev/null 2>&1 || rc=$?
((rc != 0)) || not_ok "ephcrypt-helper started with glued arguments"
# The rule the issue proposed, for contrast: it lets the caller choose lvm.
echo 'nobody ALL = (root) NOPASSWD: /usr/local/sbin/ephcrypt-helper --policy /etc/ephcrypt/policy.conf *' \
    >"$WORK/sudoers"
star=refused
sudo_allows "${ARGS[@]}" --privsep_sock_path "$SOCK" --lvm /tmp/x && star=allowed
((${#wrongly[@]} == 0)) && ok "sudoers: the exact command line is allowed; $refused variants" \
    "refused (--lvm, a second --policy, --audit-log, --fd, other socket paths, sys_admin);" \
    "glued arguments match but the helper exits $rc; (a '... *' rule: --lvm /tmp/x $star)"

run_cleanups || not_ok "cleanup failed"
echo "nova: $_vm_ok_count passed, $failures failed, $(elapsed_ms "$t_all") ms"
((failures == 0)) || fail "$failures check(s) failed (not ok lines above)"
