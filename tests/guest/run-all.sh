#!/bin/bash
# Every guest scenario, one after another in one guest; each cleans up after itself.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
passed=0 failed=0 skipped=0
for t in storage policy sandbox hardening sudo_star nova nova_forward barbican faults; do
    script=tests/guest/$t.sh
    [[ -x $script ]] || continue
    echo "=== guest: $t"
    "$script"
    case $? in
        0) passed=$((passed + 1)) ;;
        77) skipped=$((skipped + 1)); echo "=== guest: $t skipped" ;;
        *) failed=$((failed + 1)); echo "=== guest: $t FAILED" ;;
    esac
done
echo "guest suites: $passed passed, $failed failed, $skipped skipped"
[[ $failed == 0 ]]
