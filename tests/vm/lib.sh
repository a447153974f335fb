# shellcheck shell=bash
# tests/vm/lib.sh: helpers for test scripts that run inside the guest
# (tests/vm/run tests/vm/SCRIPT).  Source it first; it turns on
# `set -euo pipefail` and takes over the EXIT, INT and TERM traps.
#
#   ok MSG                 print "ok N - MSG"
#   fail MSG               print "FAIL: MSG", exit 1
#   skip MSG               print "SKIP: MSG", exit 77
#   on_exit CMD [ARGS...]  register a cleanup; they run newest first at exit
#   run_cleanups           run (and forget) the registered cleanups now;
#                          returns 1 if any of them failed
#   snapshot_state         LVs and device-mapper devices, sorted, one a line
#   require_root_and_dm    skip unless root with device-mapper available

set -euo pipefail

_vm_ok_count=0
_vm_cleanups=()

ok() {
    _vm_ok_count=$((_vm_ok_count + 1))
    echo "ok $_vm_ok_count - $*"
}

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

skip() {
    echo "SKIP: $*"
    exit 77
}

on_exit() {
    _vm_cleanups+=("$(printf '%q ' "$@")")
}

run_cleanups() {
    local i status=0
    for ((i = ${#_vm_cleanups[@]} - 1; i >= 0; i--)); do
        # Each cleanup runs even if an earlier one failed.
        if ! (set +e; eval "${_vm_cleanups[i]}"); then
            echo "cleanup failed: ${_vm_cleanups[i]}" >&2
            status=1
        fi
    done
    _vm_cleanups=()
    return "$status"
}

# Keep the script's own exit status: the trap's failures are only reported.
trap 'run_cleanups || true' EXIT
# Say which command `set -e` stopped at (failures inside functions show as the
# function's call).
trap 'echo "FAIL: line $LINENO: $BASH_COMMAND (status $?)" >&2' ERR
trap 'exit 130' INT
trap 'exit 143' TERM

# Stable text for before/after comparison: "lv VG LV" and "dm NAME" lines.
# Device numbers are left out: a recreated device may get another minor.
snapshot_state() {
    {
        lvs -a --noheadings -o vg_name,lv_name | awk 'NF { print "lv", $1, $2 }'
        dmsetup ls | awk '$0 != "No devices found" && NF { print "dm", $1 }'
    } | LC_ALL=C sort
}

require_root_and_dm() {
    ((EUID == 0)) || skip "needs root"
    [[ -e /dev/mapper/control ]] ||
        skip "needs device-mapper (/dev/mapper/control); run it with tests/vm/run"
}
