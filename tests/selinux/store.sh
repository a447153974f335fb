#!/bin/bash
# tests/selinux/store.sh ROOT MODULE...: a private copy of the host's SELinux
# store (Debian's full policy) under ROOT, with MODULE(s) (.pp or .cil) linked
# in and neverallow rules checked (expand-check=1). The host's own store is
# only read. Prints the built policy's path; fails if linking fails.
set -euo pipefail
root=${1:?usage: store.sh ROOT MODULE...}
shift
for d in /etc/selinux/default /var/lib/selinux/default; do
    [[ -d $d ]] || { echo "store.sh: $d is missing (selinux-policy-default)" >&2; exit 1; }
done
rm -rf "$root"
mkdir -p "$root/etc" "$root/var/lib"
cp -a /etc/selinux "$root/etc/"
cp -a /var/lib/selinux "$root/var/lib/"
# Debian ships expand-check=0: the link would not check neverallow rules.
sed -i 's/^expand-check *=.*/expand-check=1/' "$root/etc/selinux/semanage.conf"
grep -q '^expand-check=1$' "$root/etc/selinux/semanage.conf" ||
    echo 'expand-check=1' >>"$root/etc/selinux/semanage.conf"
rm -f "$root"/etc/selinux/default/policy/policy.*
args=()
for m; do args+=(-i "$m"); done
# libsemanage warns about users of the host's policy with no passwd entry.
rc=0
out=$(semodule -p "$root" -s default "${args[@]}" 2>&1) || rc=$?
grep -v 'not in password file' <<<"$out" >&2 || true
((rc == 0)) || { echo "store.sh: semodule failed (status $rc)" >&2; exit 1; }
policy=$(ls "$root"/etc/selinux/default/policy/policy.* 2>/dev/null | sort -V | tail -n 1)
[[ -n $policy ]] || { echo "store.sh: no policy built in $root" >&2; exit 1; }
echo "$policy"
