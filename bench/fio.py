#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""dm-crypt throughput with fio in the UML guest (run by bench/guest.sh; not
a test): the raw LV, then plain aes-xts-plain64/512 mappings of it with
default flags, with no_read_workqueue + no_write_workqueue, with 4096-byte
sectors, and with both.  Only ratios to the raw LV mean anything: the guest
runs the kernel's generic AES (no AES-NI) on one virtual CPU, so absolute
figures say nothing about real hardware.

  fio.py --vg VG --rounds N --out FILE
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

SIZE = "256m"
RUNTIME = 3
JOBS = [  # name, rw, block size, queue depth
    ("seq_read", "read", "1M", 4),
    ("seq_write", "write", "1M", 4),
    ("rand_read_4k", "randread", "4k", 16),
    ("rand_write_4k", "randwrite", "4k", 16),
]
MAPPINGS = [  # name, extra cryptsetup options
    ("default", []),
    ("no_workqueue", ["--perf-no_read_workqueue", "--perf-no_write_workqueue"]),
    ("sector_4096", ["--sector-size", "4096"]),
    ("no_workqueue_4096", ["--perf-no_read_workqueue", "--perf-no_write_workqueue",
                           "--sector-size", "4096"]),
]


def run(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def fio(dev, rw, bs, depth):
    p = subprocess.run(
        ["fio", "--name=b", "--filename=" + dev, "--rw=" + rw, "--bs=" + bs,
         "--iodepth=%d" % depth, "--ioengine=libaio", "--direct=1", "--size=" + SIZE,
         "--runtime=%d" % RUNTIME, "--time_based", "--randrepeat=0",
         "--output-format=json"], check=True, capture_output=True, text=True)
    job = json.loads(p.stdout)["jobs"][0]
    side = job["read"] if "read" in rw else job["write"]
    return side["bw_bytes"] / 1e6  # MB/s


def measure(dev, res, name):
    for job, rw, bs, depth in JOBS:
        res.setdefault(name, {}).setdefault(job, []).append(fio(dev, rw, bs, depth))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vg", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    lv = "fio"
    dev = "/dev/%s/%s" % (args.vg, lv)
    run("lvcreate", "-q", "-y", "-L", SIZE, "-n", lv, args.vg)
    keydir = tempfile.mkdtemp()
    key = os.path.join(keydir, "key")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(64))
    os.close(fd)
    res = {}
    try:
        for r in range(args.rounds):
            measure(dev, res, "raw")
            order = MAPPINGS if r % 2 == 0 else list(reversed(MAPPINGS))
            for name, extra in order:
                m = "fiobench-dmcrypt"
                run("cryptsetup", "open", "--type", "plain", "--cipher", "aes-xts-plain64",
                    "--key-size", "512", "--key-file", key, *extra, dev, m)
                try:
                    measure("/dev/mapper/" + m, res, name)
                finally:
                    run("cryptsetup", "close", m)
            sys.stdout.write(".")
            sys.stdout.flush()
        print()
    finally:
        os.unlink(key)
        os.rmdir(keydir)
        run("lvremove", "-q", "-f", "%s/%s" % (args.vg, lv))
    with open(args.out, "w") as f:
        json.dump({"runtime_s": RUNTIME, "size": SIZE, "jobs": [j[0] for j in JOBS],
                   "results": res}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
