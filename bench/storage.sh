#!/bin/bash
# Storage timings on a real kernel (run by `make bench` in the UML guest):
# ephcrypt's disk_create / disk_destroy against the commands Nova's privsep
# daemon execs for the same work, measured in the same run. Not a test.
. "$(dirname "${BASH_SOURCE[0]}")/../tests/vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../tests/guest/common.sh"
require_root_and_dm
setup_vg
KEY=$WORK/key; make_key "$KEY" 64
N=${EPHCRYPT_BENCH_ROUNDS:-5}

ms() { echo $((($(date +%s%N) - $1) / 1000000)); }
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ec_create=() ec_destroy=() cli_create=() cli_destroy=()
for ((i = 0; i < N; i++)); do
    t=$(date +%s%N)
    call ephcrypt.disk_create s:$VG s:t$i i:$((64 << 20)) s:aes-xts-plain64 i:512 key:$KEY >/dev/null
    ec_create+=("$(ms "$t")")
    t=$(date +%s%N)
    call ephcrypt.disk_destroy s:$VG s:t$i >/dev/null
    ec_destroy+=("$(ms "$t")")

    # What Nova 26's daemon runs: lvcreate, then cryptsetup create fed hex on stdin.
    t=$(date +%s%N)
    lvcreate -q -y -L 64M -n p$i $VG >/dev/null
    od -An -tx1 "$KEY" | tr -d ' \n' | cryptsetup create p$i-dmcrypt /dev/$VG/p$i \
        --cipher=aes-xts-plain64 --key-size=512 --key-file=-
    cli_create+=("$(ms "$t")")
    t=$(date +%s%N)
    cryptsetup remove p$i-dmcrypt && lvremove -q -f $VG/p$i >/dev/null
    cli_destroy+=("$(ms "$t")")
done
c1=$(median "${ec_create[@]}") c2=$(median "${cli_create[@]}")
d1=$(median "${ec_destroy[@]}") d2=$(median "${cli_destroy[@]}")
printf '\nstorage, median of %d (UML guest, 64 MiB LV, aes-xts-plain64/512)\n' "$N"
printf '  %-14s %10s %22s %8s\n' operation ephcrypt "lvm+cryptsetup CLIs" ratio
printf '  %-14s %8d ms %19d ms %7.2fx\n' disk_create "$c1" "$c2" "$(awk -v a="$c2" -v b="$c1" 'BEGIN { print a / b }')"
printf '  %-14s %8d ms %19d ms %7.2fx\n' disk_destroy "$d1" "$d2" "$(awk -v a="$d2" -v b="$d1" 'BEGIN { print a / b }')"
echo "  (ephcrypt's figures include starting a fresh helper for each call)"
run_cleanups
