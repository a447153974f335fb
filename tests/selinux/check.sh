#!/bin/bash
# tests/selinux/check.sh: the SELinux module's proof, run by `make check-selinux`.
#  1. static: the module linked into Debian's full policy in a private store
#     (expand-check=1, so its neverallow rules are checked), analysed with
#     setools, and modules breaking a neverallow shown to fail (static.sh);
#  2. enforcing, in a guest of its own: tests/guest/selinux.sh.
# The host's SELinux store is only read. Exit 77 (skipped) only when the
# SELinux packages are missing and cannot be installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
B=${B:-build}
S=$PWD/$B/selinux
DEVEL=/usr/share/selinux/devel/Makefile
PKGS=(selinux-policy-dev selinux-policy-default setools policycoreutils selinux-utils checkpolicy
    semodule-utils)

missing_packages() {
    local p
    for p in "${PKGS[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || echo "$p"
    done
}

ensure_packages() {
    local missing
    missing=$(missing_packages | paste -s -d' ')
    [[ -z $missing ]] && return
    if ((EUID == 0)); then
        echo "check-selinux: installing $missing"
        # shellcheck disable=SC2086  # a list of package names
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
            { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends $missing >/dev/null; } || true
        missing=$(missing_packages | paste -s -d' ')
    fi
    if [[ -n $missing ]]; then
        echo "check-selinux: SKIPPED: SELinux packages missing and not installable ($missing);" \
            "as root: apt-get install $missing"
        exit 77
    fi
}

ensure_packages
make --no-print-directory -C selinux O="$S" >/dev/null
# The test-only modules, built against the module's interfaces (the devel
# Makefile reads the .if of each .te it finds).
mkdir -p "$S/test"
cp selinux/ephcrypt.te selinux/ephcrypt.if tests/selinux/*.te "$S/test/"
tests=()
for te in tests/selinux/*.te; do
    name=${te##*/}
    tests+=("${name%.te}.pp")
done
make --no-print-directory -s -C "$S/test" -f "$DEVEL" "${tests[@]}" >/dev/null

echo "== check-selinux: static analysis against Debian's policy (private store $S/root)"
policy=$(tests/selinux/store.sh "$S/root" "$S/ephcrypt.pp")
tests/selinux/static.sh "$policy" "$S/root" "$S/test"

echo "== check-selinux: enforcing, in the guest"
tests/selinux/store.sh "$S/guest-root" "$S/ephcrypt.pp" "$S/test/ephcrypt_test.pp" \
    tests/selinux/hostfs.cil >/dev/null
EPHCRYPT_SELINUX_ROOT=$S/guest-root EPHCRYPT_SELINUX_PROBE=$PWD/$B/tests/ephcrypt-selinux-probe \
    nice -n 10 tests/vm/run --timeout 600 tests/guest/selinux.sh
