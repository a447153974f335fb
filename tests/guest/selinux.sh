#!/bin/bash
# The SELinux module (selinux/) in enforcing mode on the guest's real kernel:
# the helper runs in ephcrypt_t and does a full disk lifecycle with no denial,
# lvm runs in lvm_t, and a program in ephcrypt_t is refused a TCP socket,
# /etc/shadow and ptrace (exactly those three AVCs).
# Run by `make check-selinux` in a guest of its own (a loaded policy would
# change what the other guest suites see):
#   tests/vm/run tests/guest/selinux.sh
# EPHCRYPT_SELINUX_ROOT is the private store make built (Debian's policy,
# the module, the test module and the hostfs labels); the host's is never used.
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_root_and_dm
ROOT=${EPHCRYPT_SELINUX_ROOT:-$REPO/build/selinux/guest-root}
PROBE=${EPHCRYPT_SELINUX_PROBE:-$REPO/build/tests/ephcrypt-selinux-probe}
SE=/run/ephcrypt-selinux # labelled copies, on tmpfs (hostfs keeps no labels)
INIT_CTX=system_u:system_r:init_t:s0
for tool in load_policy setenforce restorecon chcon; do
    command -v "$tool" >/dev/null ||
        skip "$tool is missing (policycoreutils, selinux-utils): SELinux packages not installed"
done
[[ -f $ROOT/etc/selinux/config ]] || skip "no private SELinux store at $ROOT: run make check-selinux"
[[ -x $PROBE ]] || fail "no probe program at $PROBE (make check-selinux builds it)"
[[ -e /sys/kernel/security/lsm ]] || mount -t securityfs none /sys/kernel/security
[[ $(</sys/kernel/security/lsm) == *selinux* ]] || fail "the guest kernel has no SELinux"
[[ ! -e /sys/fs/selinux/enforce ]] || fail "a policy is loaded already"

# LVM set-up is not under test: done before any policy is loaded.
setup_vg
LVM=$(readlink -f /sbin/lvm)
T0=$(date +%s%N)

# --- Follow the kernel log: every AVC, and any report of lost records. ---
KMSG=$WORK/kmsg
echo 0 >/proc/sys/kernel/printk_ratelimit
dmesg -w >"$KMSG" 2>&1 &
dmesg_pid=$!
on_exit kill "$dmesg_pid"

# mark TEXT: a line in the kernel log, after the audit records still queued.
mark() {
    sleep 1 # kauditd prints AVCs from its own thread
    echo "ephcrypt-selinux: $1" >/dev/kmsg
    for ((i = 0; i < 100; i++)); do
        grep -q "ephcrypt-selinux: $1\$" "$KMSG" && return
        sleep 0.1
    done
    fail "mark '$1' never reached the kernel log"
}

# avcs FROM TO: the AVC lines logged between two marks.
avcs() {
    sed -n "/ephcrypt-selinux: $1\$/,/ephcrypt-selinux: $2\$/p" "$KMSG" | grep 'avc: *denied' || true
}

# --- Load the policy (still permissive while things are labelled). ---
mount -t selinuxfs none /sys/fs/selinux
mount --bind "$ROOT/etc/selinux" /etc/selinux
load_policy || fail "load_policy failed"
on_exit setenforce 0 # first among the cleanups: LVM's own clean-up is not under test
ok "policy loaded from the private store ($(ls "$ROOT"/etc/selinux/default/policy/))"

# hostfs has no xattrs: each host folder is mounted again with its type.
label_mount() {
    mount -t hostfs -o "$2,context=system_u:object_r:$3:s0" none "$1"
}
label_mount /usr /usr usr_t
for d in /usr/lib /usr/lib64; do label_mount "$d" "$d" lib_t; done
for d in /usr/bin /usr/sbin; do label_mount "$d" "$d" bin_t; done
label_mount /usr/share /usr/share usr_t
for d in /usr/lib/locale /usr/share/locale /usr/share/zoneinfo; do label_mount "$d" "$d" locale_t; done
label_mount /etc /etc etc_t
label_mount /etc/selinux "$ROOT/etc/selinux" selinux_config_t
label_mount /etc/selinux/default/contexts/files "$ROOT/etc/selinux/default/contexts/files" file_context_t

# A hostfs mount of a single file cannot be opened: copy, label, bind.
mkdir -p "$SE"
label_copy() { # FILE TYPE [NAME]: a labelled copy in $SE, bound over FILE unless NAME
    local copy=$SE/${3:-${1##*/}}
    cp "$1" "$copy"
    chcon "system_u:object_r:$2:s0" "$copy"
    [[ -n ${3:-} ]] || mount --bind "$copy" "$1"
}
label_copy "$(readlink -f /lib64/ld-linux-x86-64.so.2)" ld_so_t
label_copy /etc/ld.so.cache ld_so_cache_t
label_copy "$LVM" lvm_exec_t
label_copy /etc/shadow shadow_t
label_copy "$REPO/build/ephcrypt-helper" ephcrypt_exec_t ephcrypt-helper
label_copy "$REPO/build/ephcrypt-client" bin_t ephcrypt-client
label_copy "$PROBE" ephcrypt_exec_t ephcrypt-selinux-probe

# devtmpfs and tmpfs keep labels: the policy's own file contexts.
# /run/cryptsetup has none in Debian's policy: the helper makes it (type transition).
rmdir /run/cryptsetup
restorecon -R -e /run/ephcrypt-vm /dev /run /tmp
# The test's policy file and audit log, as under /etc/ephcrypt and /var/log.
chcon system_u:object_r:tmp_t:s0 "$WORK"
chcon system_u:object_r:ephcrypt_conf_t:s0 "$POLICY"
mkdir -m 0755 "$WORK/log"
chcon system_u:object_r:var_log_t:s0 "$WORK/log"
AUDIT=$WORK/log/ephcrypt/audit.log # its folder is made by the helper
ok "labels: hostfs folders by mount context, copies for ld.so, lvm, shadow, the helper"

# call NAME ARG...: the client runs in init_t, as Nova's domain would in its
# own (Debian's policy moves init_t to initrc_t on any bin_t program, and
# initrc_t is unconfined), and the helper it starts transitions to ephcrypt_t.
call() {
    (
        echo -n "$INIT_CTX" >/proc/self/attr/exec
        exec "$SE/ephcrypt-client" --helper "$SE/ephcrypt-helper" \
            --helper-arg --policy --helper-arg "$POLICY" \
            --helper-arg --audit-log --helper-arg "$AUDIT" \
            --helper-arg --lvm --helper-arg "$LVM" call "$@"
    )
}

# This shell moves to init_t. Stdio inherited from PID 1 (kernel_t) would be
# denied to the helper: ours goes through a pipe made in init_t.
# EPHCRYPT_SELINUX_PERMISSIVE=1 (debugging the module): every denial is
# logged and none enforced; the test still fails on any of them.
[[ ${EPHCRYPT_SELINUX_PERMISSIVE:-0} == 1 ]] || setenforce 1
echo -n "$INIT_CTX" >/proc/self/attr/current
exec </dev/null > >(exec cat) 2>&1
cat_pid=$!
finish_output() {
    exec >&- 2>&-
    wait "$cat_pid" 2>/dev/null || true
}
trap 'run_cleanups || true; finish_output' EXIT
[[ $(</sys/fs/selinux/enforce) == 1 || ${EPHCRYPT_SELINUX_PERMISSIVE:-0} == 1 ]] || fail "not enforcing"
IFS= read -r -d '' ctx </proc/self/attr/current || true # a builtin: our own context
[[ $ctx == "$INIT_CTX" ]] || fail "test shell is $ctx"
ok "enforcing; the test shell runs in init_t"

# --- The lifecycle, enforcing. ---
mark lifecycle-start
K1=$WORK/k1
make_key "$K1" 64
before=$(snapshot_state)
out=$(call ephcrypt.vg_info s:$VG)
[[ $(json_get name <<<"$out") == "$VG" ]] || fail "vg_info: $out"
ok "vg_info: $out"

# Hold LVM's lock on the VG, so the lvm the helper runs blocks and can be seen.
exec {lockfd}>"/run/lock/lvm/V_$VG"
flock -x "$lockfd"
# Through a pipe (made in init_t): a file made here would be denied to the helper.
{ call ephcrypt.vg_info s:$VG 2>&1 | cat >"$WORK/held.out"; } {lockfd}>&- &
held=$!
helper='' lvm=''
for ((i = 0; i < 200; i++)); do
    [[ -n $helper ]] || helper=$(pgrep -f -x "$SE/ephcrypt-helper .*" | head -n 1 || true)
    [[ -n $helper ]] && lvm=$(pgrep -P "$helper" | head -n 1 || true)
    [[ -n $lvm && $(readlink "/proc/$lvm/exe" || true) == "$LVM" ]] && break
    lvm=''
    sleep 0.05
done
[[ -n $helper && -n $lvm ]] || fail "no helper running lvm found (helper '$helper', lvm '$lvm')"
hctx=$(tr -d '\0' <"/proc/$helper/attr/current")
lctx=$(tr -d '\0' <"/proc/$lvm/attr/current")
flock -u "$lockfd"
exec {lockfd}>&-
wait "$held" || fail "vg_info with the lock released: $(<"$WORK/held.out")"
[[ $hctx == system_u:system_r:ephcrypt_t:s0 ]] || fail "the helper (pid $helper) runs in $hctx"
ok "the helper (pid $helper) runs in $hctx"
[[ $lctx == system_u:system_r:lvm_t:s0 ]] || fail "lvm (pid $lvm) runs in $lctx"
ok "the lvm it runs (pid $lvm) runs in $lctx"

out=$(call ephcrypt.disk_create s:$VG s:t1_disk i:$((16 << 20)) s:aes-xts-plain64 i:512 key:$K1)
on_exit call ephcrypt.disk_destroy s:$VG s:t1_disk
[[ $(json_get path <<<"$out") == /dev/mapper/t1_disk-dmcrypt ]] || fail "disk_create: $out"
[[ -b /dev/mapper/t1_disk-dmcrypt ]] || fail "no /dev/mapper/t1_disk-dmcrypt"
node=$(stat -c %C /dev/mapper/t1_disk-dmcrypt)
[[ $node == *:fixed_disk_device_t:* ]] || fail "the mapping's node is $node"
ok "disk_create: $out; its node is $node"

write_plaintext /dev/mapper/t1_disk-dmcrypt /dev/$VG/t1_disk
ok "written and read back through the mapping; the raw LV holds only ciphertext"

out=$(call ephcrypt.crypt_status s:t1_disk-dmcrypt)
[[ $(json_get cipher <<<"$out") == aes-xts-plain64 && $(json_get key_size <<<"$out") == 512 ]] ||
    fail "crypt_status: $out"
ok "crypt_status: $out"
out=$(call ephcrypt.lv_info s:$VG s:t1_disk)
[[ $(json_get open <<<"$out") == True ]] || fail "lv_info: $out"
ok "lv_info: $out"

out=$(call ephcrypt.disk_destroy s:$VG s:t1_disk)
[[ $out == '{"closed": true, "removed": true}' ]] || fail "disk_destroy: $out"
[[ $(snapshot_state) == "$before" ]] || fail "disk_destroy left something: $(snapshot_state)"
ok "disk_destroy: $out; LVM and device-mapper as before"

log=$(ls -Z "$AUDIT")
[[ $log == *:ephcrypt_log_t:* ]] || fail "the audit log is $log"
[[ $(grep -c . "$AUDIT") -ge 4 ]] || fail "the audit log has $(grep -c . "$AUDIT") records"
ok "the audit log was made in ephcrypt_log_t: $log"
mark lifecycle-end

life=$(avcs lifecycle-start lifecycle-end)
life_helper=$(grep -c 'scontext=[^ ]*:ephcrypt_t:' <<<"$life" || true)
life_lvm=$(grep -c 'scontext=[^ ]*:lvm_t:' <<<"$life" || true)
life_all=$(grep -c . <<<"$life" || true)
[[ $life_helper == 0 && $life_lvm == 0 ]] || fail "denials during the lifecycle:"$'\n'"$life"
ok "lifecycle: $life_helper AVC denials from ephcrypt_t, $life_lvm from lvm_t ($life_all in all)"

# --- What the module forbids, tried in ephcrypt_t. ---
mark probe-start
out=$("$SE/ephcrypt-selinux-probe") || fail "the probe was not refused everything: $out"
mark probe-end
echo "$out"
probe=$(avcs probe-start probe-end)
echo "$probe"
probe_all=$(grep -c . <<<"$probe" || true)
[[ $probe_all == 3 ]] || fail "the probe caused $probe_all AVC denials, want 3"
for want in '{ create } .*tcontext=[^ ]*:ephcrypt_t:.* tclass=tcp_socket' \
    '{ read } .*tcontext=[^ ]*:shadow_t:.* tclass=file' '{ ptrace } .*tclass=process'; do
    grep -q "scontext=[^ ]*:ephcrypt_t:" <<<"$probe" && grep -q -- "$want" <<<"$probe" ||
        fail "no AVC matching '$want'"
done
ok "in ephcrypt_t a TCP socket, /etc/shadow and ptrace are refused: exactly 3 AVC denials"

lost=$(grep -E 'audit_lost=|callbacks suppressed|rate limit exceeded|backlog limit exceeded|printk limit' "$KMSG" || true)
[[ -z $lost ]] || fail "the kernel lost audit records: $lost"
ok "no audit records lost"

# However late kauditd prints, a denial cannot hide between the marks.
total=$(grep -c 'avc: *denied' "$KMSG" || true)
total_helper=$(grep -c 'avc: *denied.*scontext=[^ ]*:ephcrypt_t:' "$KMSG" || true)
((total_helper == probe_all)) ||
    fail "$total_helper AVC denials from ephcrypt_t in the whole run, $probe_all from the probe"
others=$(grep 'avc: *denied' "$KMSG" | grep -v 'scontext=[^ ]*:ephcrypt_t:' || true)
[[ -z $others ]] || echo "denials of the test's own tools (not the helper's):"$'\n'"$others"
run_cleanups || fail "cleanup failed"
echo "selinux: AVC denials: lifecycle $life_helper from ephcrypt_t, $life_lvm from lvm_t;" \
    "probe $probe_all; $total in the whole run; $(( ($(date +%s%N) - T0) / 1000000 )) ms"
echo "selinux: $_vm_ok_count passed, 0 failed"
