#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""dm-crypt throughput with fio in the UML guest (run by bench/guest.sh; not
a test): a raw LV, and plain aes-xts-plain64/512 mappings of LVs of their own
with default flags, with no_read_workqueue + no_write_workqueue, with 4096-byte
sectors, and with both.  Only ratios to the raw LV mean anything: the guest
runs the kernel's generic AES (no AES-NI) on one virtual CPU, so absolute
figures say nothing about real hardware.  All devices exist at once and each
job runs on every one of them back to back, round after round, so the noise
of a shared machine hits them alike; every LV is written in full first (the
guest disk is a sparse file: reading a hole would flatter the raw LV).

  fio.py --vg VG --rounds N --out FILE
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

SIZE = "128m"
RUNTIME = 2
JOBS = [  # name, rw, block size, queue depth
    ("seq_write", "write", "1M", 4),
    ("seq_read", "read", "1M", 4),
    ("rand_write_4k", "randwrite", "4k", 16),
    ("rand_read_4k", "randread", "4k", 16),
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


def fio(dev, rw, bs, depth, timed=True):
    p = subprocess.run(
        ["fio", "--name=b", "--filename=" + dev, "--rw=" + rw, "--bs=" + bs,
         "--iodepth=%d" % depth, "--ioengine=libaio", "--direct=1", "--size=" + SIZE,
         "--randrepeat=0", "--output-format=json"] +
        (["--runtime=%d" % RUNTIME, "--time_based"] if timed else []),
        check=True, capture_output=True, text=True)
    job = json.loads(p.stdout)["jobs"][0]
    side = job["read"] if "read" in rw else job["write"]
    return side["bw_bytes"] / 1e6  # MB/s


def open_mapping(name, dev, key, extra):
    m = "fiobench-%s" % name.replace("_", "")
    run("cryptsetup", "open", "--type", "plain", "--cipher", "aes-xts-plain64",
        "--key-size", "512", "--key-file", key, *extra, dev, m)
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vg", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    keydir = tempfile.mkdtemp()
    key = os.path.join(keydir, "key")
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    os.write(fd, os.urandom(64))
    os.close(fd)
    res, lvs, mapped = {}, [], []
    devices = {}
    try:
        for name, extra in [("raw", None)] + MAPPINGS:
            lv = "fio%d" % len(lvs)
            run("lvcreate", "-q", "-y", "-L", SIZE, "-n", lv, args.vg)
            lvs.append(lv)
            dev = "/dev/%s/%s" % (args.vg, lv)
            fio(dev, "write", "1M", 4, timed=False)  # no holes left
            if extra is not None:
                mapped.append(open_mapping(name, dev, key, extra))
                dev = "/dev/mapper/" + mapped[-1]
            devices[name] = dev
        names = list(devices)
        for r in range(args.rounds):
            for job, rw, bs, depth in JOBS:
                for name in names[r % len(names):] + names[:r % len(names)]:
                    res.setdefault(name, {}).setdefault(job, []).append(
                        fio(devices[name], rw, bs, depth))
            sys.stdout.write(".")
            sys.stdout.flush()
        print()
    finally:
        os.unlink(key)
        os.rmdir(keydir)
        for m in mapped:
            run("cryptsetup", "close", m)
        for lv in lvs:
            run("lvremove", "-q", "-f", "%s/%s" % (args.vg, lv))
    with open(args.out, "w") as f:
        json.dump({"runtime_s": RUNTIME, "size": SIZE, "jobs": [j[0] for j in JOBS],
                   "results": res}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
