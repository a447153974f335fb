#!/bin/bash
# The sandbox as the kernel sees it, on a running helper and on the lvm it execs:
# the exact capability sets, no_new_privs and a seccomp filter; a private mount
# namespace, read-only but for LVM's and cryptsetup's folders; and lvm is run by
# its absolute path only, never looked up on PATH.
# Run with: tests/vm/run tests/guest/sandbox.sh
. "$(dirname "${BASH_SOURCE[0]}")/../vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

require_root_and_dm
setup_vg
LVM=$(readlink -f /sbin/lvm)

# CAP_SYS_ADMIN (21) and CAP_IPC_LOCK (14); without udev, libdevmapper makes the
# /dev/mapper nodes itself, which adds CAP_MKNOD (27).
if [[ -e /run/udev/control ]]; then
    mask=$(printf '%016x' $(((1 << 21) | (1 << 14))))
    caps="CAP_SYS_ADMIN CAP_IPC_LOCK (udev runs)"
else
    mask=$(printf '%016x' $(((1 << 21) | (1 << 14) | (1 << 27))))
    caps="CAP_SYS_ADMIN CAP_IPC_LOCK CAP_MKNOD (no udev)"
fi

# check_status PID WHO: every capability set is exactly $mask, no_new_privs is
# on and a seccomp filter (mode 2) is loaded.
check_status() {
    local pid=$1 who=$2 key value want seen=0
    while IFS=$'\t' read -r key value; do
        case $key in
            CapInh: | CapPrm: | CapEff: | CapBnd: | CapAmb:) want=$mask ;;
            NoNewPrivs:) want=1 ;;
            Seccomp:) want=2 ;;
            *) continue ;;
        esac
        seen=$((seen + 1))
        [[ $value == "$want" ]] || fail "$who (pid $pid): $key is $value, want $want"
    done <"/proc/$pid/status" || fail "$who (pid $pid) is gone: cannot read its status"
    ((seen == 7)) || fail "$who (pid $pid): $seen of the 7 status lines found"
}

# check_mounts PID WHO WRITABLE...: every mount PID sees is read-only except the
# WRITABLE ones, and each WRITABLE folder has a read-write mount.
check_mounts() {
    local pid=$1 who=$2 id parent dev root mnt opts rest w
    local -A allowed=() seen=()
    shift 2
    for w; do allowed[$w]=1; done
    while read -r id parent dev root mnt opts rest; do
        case $opts in
            ro | ro,*) ;;
            rw | rw,*)
                [[ -n ${allowed[$mnt]:-} ]] || fail "$who (pid $pid): $mnt is read-write ($opts)"
                seen[$mnt]=1 ;;
            *) fail "$who (pid $pid): $mnt has options '$opts'" ;;
        esac
    done <"/proc/$pid/mountinfo" || fail "$who (pid $pid) is gone: cannot read its mountinfo"
    for w; do # the ones writable out here; the helper leaves the others out
        [[ -w $w && -z ${seen[$w]:-} ]] && fail "$who (pid $pid): $w has no read-write mount"
    done
    return 0
}

# in_ns PID CMD: run sh -c CMD as full root inside PID's mount namespace.
in_ns() {
    nsenter --target "$1" --mount -- sh -c "$2" 2>&1
}

# child_of PID: the first child of PID, or nothing.
child_of() {
    pgrep -P "$1" | head -n 1 || true
}

# Let go of LVM's lock first, else the other cleanups (vgremove) wait for it.
release() {
    flock -u "$lockfd" 2>/dev/null
    kill "$client" 2>/dev/null
    return 0
}

# Hold LVM's lock on the VG, so that the lvm the helper execs for vg_info
# blocks in flock() and can be looked at while it runs.
exec {lockfd}>"/run/lock/lvm/V_$VG"
flock -x "$lockfd"
$(helper_cmd) call ephcrypt.vg_info s:$VG >"$WORK/held.out" 2>&1 {lockfd}>&- &
client=$!
on_exit release
helper='' lvm=''
for ((i = 0; i < 200; i++)); do
    [[ -n $helper ]] || helper=$(child_of "$client")
    [[ -n $helper ]] && lvm=$(child_of "$helper")
    # Until the exec, the child is still a copy of the helper.
    # The lvm that serves vg_info (the long-lived shell, or a vgs process), not
    # an lvm config the helper may run at start, before its sandbox.
    [[ -n $lvm && $(readlink "/proc/$lvm/exe" || true) == "$LVM" &&
        $(tr '\0' ' ' <"/proc/$lvm/cmdline" 2>/dev/null || true) != *" config "* ]] && break
    lvm=''
    sleep 0.05
done
[[ -n $helper ]] || fail "no helper started by the client (pid $client)"
[[ -n $lvm ]] || fail "no lvm child of the helper (pid $helper) ran $LVM"

[[ $(readlink "/proc/$helper/exe") == "$(readlink -f "${EPHCRYPT_HELPER:-$REPO/build/ephcrypt-helper}")" ]] ||
    fail "pid $helper is not the helper: $(readlink "/proc/$helper/exe")"
check_status "$helper" "the helper"
ok "the running helper has exactly $caps in every set ($mask), NoNewPrivs 1, Seccomp 2"

check_status "$lvm" "lvm"
ok "the lvm it runs (pid $lvm, $LVM) has the same sets, NoNewPrivs 1, Seccomp 2"

# The mounts: the helper's own namespace, shared by lvm; all read-only except
# the folders LVM, libdevmapper and libcryptsetup write (the helper's list).
sysdir=$(tr '\0' '\n' <"/proc/$helper/environ" | sed -n 's/^LVM_SYSTEM_DIR=//p')
sysdir=${sysdir:-/etc/lvm}
# The audit log's folder too: after a rotation the helper makes the log again there.
writable=(/dev /run/lock/lvm /run/lvm /run/cryptsetup "$sysdir/archive" "$sysdir/backup"
    "$(dirname "$AUDIT")")
ns=$(readlink "/proc/$helper/ns/mnt")
[[ $ns != "$(readlink /proc/self/ns/mnt)" ]] || fail "the helper shares our mount namespace ($ns)"
[[ $(readlink "/proc/$lvm/ns/mnt") == "$ns" ]] || fail "lvm is not in the helper's mount namespace"
check_mounts "$helper" "the helper" "${writable[@]}"
check_mounts "$lvm" "lvm" "${writable[@]}"
ok "the helper and lvm share a private mount namespace, read-only but ${writable[*]}"

# The proof: even full root in that namespace cannot open core_pattern or a file
# in /etc for writing (>> writes nothing, should it open), nor create one in /run
# or /tmp; out here core_pattern opens. LVM's lock folder still takes a file.
: >>/proc/sys/kernel/core_pattern || fail "core_pattern does not open here: no control"
for f in /etc/passwd /proc/sys/kernel/core_pattern /run/ephcrypt-probe /tmp/ephcrypt-probe; do
    out=$(in_ns "$lvm" ": >>$f") && { rm -f "$f"; fail "lvm's namespace opened $f for writing"; }
    [[ $out == *"Read-only file system"* ]] || fail "$f in lvm's namespace: $out"
done
out=$(in_ns "$lvm" 'f=/run/lock/lvm/ephcrypt-probe && : >$f && rm $f') ||
    fail "lvm's namespace cannot write /run/lock/lvm: $out"
ok "in lvm's namespace /etc/passwd, core_pattern, /run and /tmp are read-only (EROFS); /run/lock/lvm is not"

# lvm gets a fixed environment (no PATH) and not the helper's channel.
mapfile -d '' env <"/proc/$lvm/environ"
for var in "${env[@]}"; do
    [[ $var == LC_ALL=C || $var == LVM_SUPPRESS_FD_WARNINGS=1 || $var == LVM_SYSTEM_DIR=* ||
        $var == LVM_REPORT_FD=3 || $var == LVM_COMMAND_PROFILE=lvmdbusd ]] ||
        fail "lvm's environment has $var"
done
# vg_info went to the helper's long-lived lvm shell: no arguments, commands on its stdin.
[[ $(tr '\0' ' ' <"/proc/$lvm/cmdline") == "lvm " ]] ||
    fail "the lvm child is not LVM's shell: $(tr '\0' ' ' <"/proc/$lvm/cmdline")"
[[ $(readlink "/proc/$lvm/fd/0") == pipe:* && $(readlink "/proc/$lvm/fd/3") == pipe:* ]] ||
    fail "the lvm shell's stdin and report fd are not pipes"
ok "vg_info ran in the helper's lvm shell (stdin and LVM_REPORT_FD pipes)"

chan=$(readlink "/proc/$helper/fd/3")
[[ $chan == socket:* ]] || fail "the helper's fd 3 is $chan, not its channel"
for fd in "/proc/$lvm/fd/"*; do
    [[ $(readlink "$fd" || true) != "$chan" ]] || fail "lvm inherited the channel as $fd"
done
ok "lvm's environment is LC_ALL, LVM_SUPPRESS_FD_WARNINGS, LVM_SYSTEM_DIR and the shell's LVM_REPORT_FD, LVM_COMMAND_PROFILE only; no channel"

flock -u "$lockfd"
exec {lockfd}>&-
wait "$client" || fail "vg_info with the lock released: $(<"$WORK/held.out")"
[[ $(json_get name <"$WORK/held.out") == "$VG" ]] || fail "vg_info: $(<"$WORK/held.out")"
ok "the held vg_info completes once LVM's lock is released"

# A fake lvm first on PATH: the helper runs the configured absolute path, never a
# PATH lookup, and no shell.
mkdir "$WORK/bin"
printf '#!/bin/sh\ntouch %q\nexit 1\n' "$WORK/fake-lvm-ran" >"$WORK/bin/lvm"
chmod 0755 "$WORK/bin/lvm"
cp "$WORK/bin/lvm" "$WORK/bin/sh"
rc=0
out=$(PATH=$WORK/bin:$PATH call ephcrypt.vg_info s:$VG 2>&1) || rc=$?
[[ ! -e $WORK/fake-lvm-ran ]] || fail "the helper ran the lvm (or sh) found on PATH: $out"
((rc == 0)) && [[ $(json_get name <<<"$out") == "$VG" ]] ||
    fail "vg_info with a fake lvm on PATH: $out"
ok "with a fake lvm and sh first on PATH, vg_info works and the fake never runs"

out=$($(helper_cmd) --helper-arg --lvm --helper-arg lvm call ephcrypt.vg_info s:$VG 2>&1) &&
    fail "the helper started with --lvm lvm: $out"
[[ $out == *"must be an absolute path"* ]] || fail "--lvm lvm: $out"
ok "--lvm with a relative name is refused at start-up"

run_cleanups || fail "cleanup failed"
echo "sandbox: $_vm_ok_count passed, 0 failed"
