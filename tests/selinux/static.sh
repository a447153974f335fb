#!/bin/bash
# tests/selinux/static.sh POLICY ROOT MODDIR: the module, linked into Debian's
# full policy (POLICY, built in the private store ROOT by store.sh with
# expand-check=1), analysed with setools: one way out of ephcrypt_t (lvm_t),
# no network, no shadow_t, no ptrace, exactly the sandbox's capabilities, and
# the rules the job needs. Then the neverallow rules are shown to bite: each
# module in MODDIR/forbidden_*.pp must fail to link into ROOT.
set -euo pipefail
policy=${1:?usage: static.sh POLICY ROOT MODDIR} root=${2:?} moddir=${3:?}
n=0

ok() {
    n=$((n + 1))
    echo "ok $n - $*"
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# none WHAT SESEARCH-ARGS...: no rule matches.
none() {
    local what=$1 out
    shift
    out=$(sesearch "$@" "$policy") || fail "sesearch $*"
    [[ -z $out ]] || fail "$what:"$'\n'"$out"
}

# some WHAT SESEARCH-ARGS...: a rule matches.
some() {
    local what=$1 out
    shift
    out=$(sesearch "$@" "$policy") || fail "sesearch $*"
    [[ -n $out ]] || fail "missing: $what (sesearch $*)"
}

out=$(sedta -p "$policy" -s ephcrypt_t)
grep -q '^Transition 1: ephcrypt_t -> lvm_t$' <<<"$out" && grep -q '^1 domain transition(s) found' <<<"$out" ||
    fail "domain transitions out of ephcrypt_t:"$'\n'"$out"
ok "sedta: exactly one transition out of ephcrypt_t, into lvm_t"

net=$(seinfo "$policy" -c | sed -n 's/^ *\([a-z0-9_]*_socket\)$/\1/p' |
    grep -v -x -E 'unix_stream_socket|unix_dgram_socket|netlink_kobject_uevent_socket|key_socket|alg_socket' |
    paste -s -d,)
[[ $net == *tcp_socket* && $net == *udp_socket* ]] || fail "cannot list the socket classes: $net"
none "network sockets for ephcrypt_t" -A -s ephcrypt_t -c "$net" -p create
none "tcp name_connect/name_bind for ephcrypt_t" -A -s ephcrypt_t -c tcp_socket,udp_socket -p name_connect,name_bind
ok "sesearch: ephcrypt_t may create no network socket ($(tr , '\n' <<<"$net" | grep -c .) classes)"

none "shadow_t for ephcrypt_t" -A -s ephcrypt_t -t shadow_t
ok "sesearch: no rule lets ephcrypt_t at shadow_t"

none "ptrace for ephcrypt_t" -A -s ephcrypt_t -c process -p ptrace
none "sys_ptrace/sys_module for ephcrypt_t" -A -s ephcrypt_t -c capability -p sys_ptrace,sys_module
ok "sesearch: no ptrace, no sys_ptrace or sys_module"

caps=$(sesearch -A -s ephcrypt_t -c capability,capability2,cap_userns,cap2_userns "$policy" |
    sed -n 's/.*{ \(.*\) };.*/\1/p; s/.*:capability \([a-z_]*\);.*/\1/p' | tr ' ' '\n' | grep . | sort -u | paste -s -d' ')
[[ $caps == 'ipc_lock mknod setpcap sys_admin' ]] || fail "ephcrypt_t's capabilities: '$caps'"
ok "sesearch: capabilities exactly the sandbox's: $caps"

none "write to its own policy file" -A -s ephcrypt_t -t ephcrypt_conf_t -c file,lnk_file \
    -p write,append,setattr,unlink,rename,create
none "changes in its policy file's folder" -A -s ephcrypt_t -t ephcrypt_conf_t -c dir -p write,add_name,remove_name
# O_TRUNC and ftruncate are checked as file write.
none "truncating or replacing the audit log" -A -s ephcrypt_t -t ephcrypt_log_t -c file \
    -p write,setattr,unlink,rename,link
none "removing the audit log from its folder" -A -s ephcrypt_t -t ephcrypt_log_t -c dir -p remove_name,rmdir,rename
ok "sesearch: the policy file is read only; the audit log is never written over, truncated or unlinked"

some "read the policy file" -A -s ephcrypt_t -t ephcrypt_conf_t -c file -p read
some "create the audit log" -A -s ephcrypt_t -t ephcrypt_log_t -c file -p create
some "append to the audit log" -A -s ephcrypt_t -t ephcrypt_log_t -c file -p append
some "the audit log's folder made as ephcrypt_log_t" -T -s ephcrypt_t -t var_log_t -c dir -D ephcrypt_log_t
some "syslog" -A -s ephcrypt_t -t devlog_t -c sock_file -p write
some "device-mapper control" -A -s ephcrypt_t -t lvm_control_t -c chr_file -p ioctl
some "LV block devices" -A -s ephcrypt_t -t fixed_disk_device_t -c blk_file -p write
some "dm nodes made as fixed_disk_device_t" -T -s ephcrypt_t -t device_t -c blk_file -D fixed_disk_device_t
some "run lvm" -A -s ephcrypt_t -t lvm_exec_t -c file -p execute
some "into lvm_t" -T -s ephcrypt_t -t lvm_exec_t -c process -D lvm_t
some "into lvm_t with no_new_privs" -A -s ephcrypt_t -t lvm_t -c process2 -p nnp_transition
some "the namespace's bind on /" -A -s ephcrypt_t -t root_t -c dir -p mounton
some "the namespace's bind on /dev" -A -s ephcrypt_t -t device_t -c dir -p mounton
some "the namespace's bind on /run/lock/lvm" -A -s ephcrypt_t -t lvm_lock_t -c dir -p mounton
some "the namespace's bind on /run/lvm" -A -s ephcrypt_t -t lvm_runtime_t -c dir -p mounton
some "the crypto API's module requests" -A -s ephcrypt_t -t kernel_t -c system -p module_request
ok "sesearch: the rules the job needs are there (policy, log, syslog, dm, LVs, lvm_t, mounts)"

direct=$(sesearch -A -s ephcrypt_t -ds "$policy" | grep -c .)
all=$(sesearch -A -s ephcrypt_t "$policy" | grep -c .)
echo "static: $direct allow rules name ephcrypt_t itself ($all with the rules of its attributes)"

# One link attempt with every forbidden module (linking is the slow part):
# the check reports each neverallow broken, and each must be reported.
forbidden=("$moddir"/forbidden_*.pp)
args=()
for pp in "${forbidden[@]}"; do args+=(-i "$pp"); done
if out=$(semodule -p "$root" -s default -n "${args[@]}" 2>&1); then
    fail "${forbidden[*]##*/} linked: the neverallow rules did not bite"
fi
for pp in "${forbidden[@]}"; do
    name=${pp##*/}
    name=${name%.pp}
    grep -q "allow at .*/modules/400/$name/cil" <<<"$out" ||
        fail "no neverallow refused $name:"$'\n'"$out"
    rule=$(grep -A3 'neverallow check failed' <<<"$out" | grep -B3 "/$name/cil" | grep -m1 -o '(neverallow [a-z_]* [a-z_]* ([a-z_0-9]*')
    ok "the neverallow rules refuse $name.pp: $rule ...)"
done
echo "static: $n passed, 0 failed"
