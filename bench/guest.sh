#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# The guest half of `make bench` (tests/vm/run bench/guest.sh; not a test):
# storage operations through one long-lived helper against Nova's own code in
# privsep-helper and the bare commands (storage.py), crypto-erase against
# volume_clear = zero per disk size (storage.py too), lvm process against lvm shell (lvmshell.py),
# dm-crypt throughput (fio.py).  Each writes its JSON into the host folder
# EPHCRYPT_BENCH_OUT, mounted here over hostfs; bench/report.py reads them.
#   EPHCRYPT_BENCH_ROUNDS  rounds of the storage A/B (default 5)
#   EPHCRYPT_BENCH_PARTS   which parts (default "storage erase lvmshell fio")
#   EPHCRYPT_BENCH_ERASE_ROUNDS  crypto-erase rounds (default 5)
#   EPHCRYPT_BENCH_ERASE   crypto-erase disk sizes in MiB (default 64,512,2048)
#   EPHCRYPT_BENCH_FIO_ROUNDS  rounds of every fio job on every device (default 5)
. "$(dirname "${BASH_SOURCE[0]}")/../tests/vm/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/../tests/guest/common.sh"
require_root_and_dm
[[ -n ${EPHCRYPT_BENCH_OUT:-} ]] || fail "EPHCRYPT_BENCH_OUT (a host folder for the results) is not set"
HERE=$REPO/bench
PY=/usr/bin/python3
ROUNDS=${EPHCRYPT_BENCH_ROUNDS:-5}
PARTS=${EPHCRYPT_BENCH_PARTS:-storage erase lvmshell fio}
ERASE=${EPHCRYPT_BENCH_ERASE:-64,512,2048}

OUT=/run/ephcrypt-bench
mkdir -p "$OUT"
mount -t hostfs none "$OUT" -o "$EPHCRYPT_BENCH_OUT"
on_exit umount "$OUT"
setup_vg

# The bench's own policy: names b*, disks up to 2 GiB.
cat >"$POLICY" <<POL
# ephcrypt bench policy (guest only)
[callers]
uid 0
[volume-groups]
vg $VG max-lv-size 4G
[volumes]
lv ^b[a-z0-9_.]*\$
[mappings]
mapping ^b[a-z0-9_.]*-dmcrypt\$
[crypto]
cipher aes-xts-plain64 key-sizes 512
sector-sizes 512,4096
no-read-workqueue yes
no-write-workqueue yes
nova-passphrase-hash ripemd160
POL
# --check-policy reads the file as nobody (like doas -C): let nobody reach it.
chmod o+x "$WORK" && chmod 644 "$POLICY"
"$REPO/build/ephcrypt-helper" --check-policy "$POLICY" >/dev/null ||
    fail "ephcrypt-helper rejects the bench policy"

# Whatever a failed part left behind: mappings first, then LVs go with the VG.
# shellcheck disable=SC2317  # run by on_exit
leftovers() {
    local m
    for m in $(dmsetup ls --target crypt 2>/dev/null | awk '$1 ~ /^(b|fiobench)/ { print $1 }'); do
        cryptsetup close "$m"
    done
}
on_exit leftovers
echo "guest: $(nproc) CPU, kernel $(uname -r), $(grep -m1 MemTotal /proc/meminfo)" |
    tee "$OUT/guest-info.txt"

for part in $PARTS; do
    echo "== $part"
    case $part in
        storage)
            "$PY" "$HERE/storage.py" --vg "$VG" --rounds "$ROUNDS" --erase-rounds 0 \
                --helper "$REPO/build/ephcrypt-helper --policy $POLICY --audit-log $AUDIT" \
                --out "$OUT/storage.json" ;;
        erase)
            "$PY" "$HERE/storage.py" --vg "$VG" --rounds 0 --erase-sizes "$ERASE" \
                --erase-rounds "${EPHCRYPT_BENCH_ERASE_ROUNDS:-5}" \
                --helper "$REPO/build/ephcrypt-helper --policy $POLICY --audit-log $AUDIT" \
                --out "$OUT/erase.json" ;;
        lvmshell) "$PY" "$HERE/lvmshell.py" --vg "$VG" --rounds $((ROUNDS * 2)) --out "$OUT/lvmshell.json" ;;
        fio)      "$PY" "$HERE/fio.py" --vg "$VG" --rounds "${EPHCRYPT_BENCH_FIO_ROUNDS:-5}" \
                      --out "$OUT/fio.json" ;;
        *)        fail "unknown part $part" ;;
    esac
done
