#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Storage timings in the UML guest (run by bench/guest.sh; not a test).

Two long-lived daemons, each started once and driven by the same oslo.privsep
client, as nova-compute drives its privsep daemon, and the bare commands:
  ours  ephcrypt-helper
  nova  Debian's privsep-helper serving Nova 26's own nova.privsep code
        (context nova.privsep.sys_admin_pctxt): lvcreate, cryptsetup create,
        cryptsetup remove, lvremove, vgs, lvs, shred run by processutils
  cli   the commands Nova's code runs, exec'd directly from this driver: the
        least Nova's path can cost (no Python daemon in between), and the
        peer the issue's goals are set against
Each round runs every operation on each, in rotating order, and the medians
are compared.  The dm-crypt key is random, lives only in this
process and is never printed.

  storage.py --vg VG --helper 'ARGV' --rounds N --out FILE [--smoke]
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

from oslo_config import cfg

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [BENCH_DIR] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])

import nova.privsep  # noqa: E402  (the peer's context: nova_sys_admin)
import ephcrypt_bench_ctx as bctx  # noqa: E402

MIB = 1 << 20
SIZE = 64 * MIB
CIPHER, KEY_BITS = "aes-xts-plain64", 512
TIMEOUT = 600.0


class Daemon:
    """One started context; call() times one round trip in ms."""

    def __init__(self, ctx):
        self.ctx = ctx
        ctx.start()

    def call(self, name, *args):
        return self.ctx.channel.remote_call(name, args, {}, TIMEOUT)

    def timed(self, *calls):
        """calls: (name, args...) tuples run in order; total ms."""
        t0 = time.perf_counter()
        for c in calls:
            self.call(*c)
        return (time.perf_counter() - t0) * 1e3


def cli_timed(*cmds):
    """Run each command (argv, or (argv, stdin text)); total ms."""
    t0 = time.perf_counter()
    for c in cmds:
        argv, text = c if isinstance(c, tuple) else (c, None)
        subprocess.run(argv, input=text, text=True, check=True, stdout=subprocess.DEVNULL)
    return (time.perf_counter() - t0) * 1e3


class Bench:
    def __init__(self, vg, ours, peer):
        self.vg, self.ours, self.peer = vg, ours, peer
        self.key = os.urandom(KEY_BITS // 8)
        self.samples = {}  # op -> {"ours": [ms...], "nova": [...], "cli": [...]}

    def add(self, op, side, ms):
        self.samples.setdefault(op, {})
        self.samples[op].setdefault(side, []).append(ms)

    # --- one side of each operation ------------------------------------------
    def dev(self, lv):
        return "/dev/%s/%s" % (self.vg, lv)

    def ours_round(self, r, size=SIZE, tag="", ops=None):
        d, vg, k = self.ours, self.vg, self.key
        lv = "be%s%d" % (tag, r)
        res = {}
        res["disk_create"] = d.timed(("ephcrypt.disk_create", vg, lv, size, CIPHER, KEY_BITS, k))
        res["disk_destroy"] = d.timed(("ephcrypt.disk_destroy", vg, lv))
        if ops == "erase":
            return res
        res["lv_create"] = d.timed(("ephcrypt.lv_create", vg, lv, size))
        # Where an operation's time goes besides lvm: the round trip alone,
        # an audited read of the kernel's table, libcryptsetup open and close.
        res["version"] = d.timed(("ephcrypt.version",))
        res["crypt_open"] = d.timed(("ephcrypt.crypt_open", lv + "-dmcrypt", self.dev(lv),
                                     CIPHER, KEY_BITS, k))
        res["crypt_status"] = d.timed(("ephcrypt.crypt_status", lv + "-dmcrypt"))
        res["crypt_close"] = d.timed(("ephcrypt.crypt_close", lv + "-dmcrypt"))
        res["lv_remove"] = d.timed(("ephcrypt.lv_remove", vg, lv))
        res["vg_info"] = d.timed(("ephcrypt.vg_info", vg))
        res.update(self.nova_calls(d, "bn%d" % r))
        return res

    def peer_round(self, r, size=SIZE, tag="", ops=None, clear=False):
        d, vg = self.peer, self.vg
        lv = "bp%s%d" % (tag, r)
        res = {}
        res["disk_create"] = d.timed(
            ("nova.privsep.fs.lvcreate", size, lv, vg),
            ("nova.privsep.libvirt.dmcrypt_create_volume", lv + "-dmcrypt", self.dev(lv),
             CIPHER, KEY_BITS, self.key))
        if clear:  # nova's remove_volumes with volume_clear = zero
            t0 = time.perf_counter()
            d.call("nova.privsep.libvirt.dmcrypt_delete_volume", lv + "-dmcrypt")
            t1 = time.perf_counter()
            d.call("nova.privsep.fs.clear", self.dev(lv), size, False)
            t2 = time.perf_counter()
            d.call("nova.privsep.fs.lvremove", self.dev(lv))
            t3 = time.perf_counter()
            res["disk_destroy"] = (t3 - t0) * 1e3
            res["wipe"] = (t2 - t1) * 1e3
            return res
        res["disk_destroy"] = d.timed(
            ("nova.privsep.libvirt.dmcrypt_delete_volume", lv + "-dmcrypt"),
            ("nova.privsep.fs.lvremove", self.dev(lv)))
        if ops == "erase":
            return res
        res["lv_create"] = d.timed(("nova.privsep.fs.lvcreate", size, lv, vg))
        res["lv_remove"] = d.timed(("nova.privsep.fs.lvremove", self.dev(lv)))
        res["vg_info"] = d.timed(("nova.privsep.fs.vginfo", vg))
        res.update(self.nova_calls(d, "bq%d" % r))
        return res

    def cli_round(self, r):
        vg, lv = self.vg, "bc%d" % r
        m, dev = lv + "-dmcrypt", self.dev(lv)
        create = [["lvcreate", "-q", "-y", "-L", "%db" % SIZE, "-n", lv, vg],
                  (["cryptsetup", "create", m, dev, "--cipher=" + CIPHER,
                    "--key-size=%d" % KEY_BITS, "--key-file=-"], self.key.hex())]
        destroy = [["cryptsetup", "remove", m], ["lvremove", "-q", "-f", dev]]
        return {
            "disk_create": cli_timed(*create),
            "disk_destroy": cli_timed(*destroy),
            "lv_create": cli_timed(create[0]),
            "lv_remove": cli_timed(destroy[1]),
            "vg_info": cli_timed(["vgs", "--noheadings", "--nosuffix", "--separator", "|",
                                  "--units", "b", "-o", "vg_size,vg_free", vg]),
        }

    def nova_calls(self, d, lv):
        """Nova's entrypoints by their wire names: the same calls on either daemon."""
        vg, dev, m = self.vg, self.dev(lv), lv + "-dmcrypt"
        steps = [
            ("nova.lvcreate", ("nova.privsep.fs.lvcreate", SIZE, lv, vg)),
            ("nova.vginfo", ("nova.privsep.fs.vginfo", vg)),
            ("nova.lvlist", ("nova.privsep.fs.lvlist", vg)),
            ("nova.lvinfo", ("nova.privsep.fs.lvinfo", dev)),
            ("nova.blockdev_size", ("nova.privsep.fs.blockdev_size", dev)),
            ("nova.dmcrypt_create_volume",
             ("nova.privsep.libvirt.dmcrypt_create_volume", m, dev, CIPHER, KEY_BITS, self.key)),
            ("nova.dmcrypt_delete_volume", ("nova.privsep.libvirt.dmcrypt_delete_volume", m)),
            ("nova.lvremove", ("nova.privsep.fs.lvremove", dev)),
        ]
        return {op: d.timed(c) for op, c in steps}

    def rounds(self, n):
        sides = ["ours", "nova", "cli"]
        for r in range(n):
            for side in sides[r % 3:] + sides[:r % 3]:
                res = {"ours": self.ours_round, "nova": self.peer_round,
                       "cli": self.cli_round}[side](r)
                for op, ms in res.items():
                    self.add(op, side, ms)
            sys.stdout.write(".")
            sys.stdout.flush()
        print()

    def erase(self, sizes_mib, n):
        """disk_destroy per disk size: crypto-erase against volume_clear = zero.
        Every size in every round, in rotating order, so that all sizes see
        the same machine."""
        out = {str(size): {"ours": [], "nova": [], "wipe": []} for size in sizes_mib}
        for r in range(n):
            for size in sizes_mib[r % len(sizes_mib):] + sizes_mib[:r % len(sizes_mib)]:
                e = out[str(size)]
                for side in ("ours", "nova") if r % 2 == 0 else ("nova", "ours"):
                    if side == "ours":
                        res = self.ours_round(r, size * MIB, "e%d" % size, "erase")
                    else:
                        res = self.peer_round(r, size * MIB, "e%d" % size, "erase", clear=True)
                        e["wipe"].append(res["wipe"])
                    e[side].append(res["disk_destroy"])
            sys.stdout.write(".")
            sys.stdout.flush()
        print()
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vg", required=True)
    ap.add_argument("--helper", required=True, help="ephcrypt-helper command line")
    ap.add_argument("--rounds", type=int, default=5, help="storage rounds (0: none)")
    ap.add_argument("--erase-sizes", default="64,512,2048", help="MiB, comma-separated")
    ap.add_argument("--erase-rounds", type=int, default=5, help="crypto-erase rounds (0: none)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    cfg.CONF([], project="ephcrypt-bench", default_config_files=[])
    cfg.CONF.set_override("helper_command", args.helper, group=bctx.ephcrypt_ctx.cfg_section)
    cfg.CONF.set_override("helper_command", "privsep-helper", group="nova_sys_admin")
    t0 = time.perf_counter()
    ours = Daemon(bctx.ephcrypt_ctx)
    t1 = time.perf_counter()
    peer = Daemon(nova.privsep.sys_admin_pctxt)
    t2 = time.perf_counter()
    print("started: ephcrypt-helper %.0f ms, privsep-helper (nova.privsep) %.0f ms" % (
        (t1 - t0) * 1e3, (t2 - t1) * 1e3))
    b = Bench(args.vg, ours, peer)
    doc = {"cipher": CIPHER, "key_bits": KEY_BITS}
    if args.rounds:
        print("storage rounds", end=" ", flush=True)
        b.rounds(args.rounds)
        doc.update(rounds=args.rounds, size_mib=SIZE // MIB, ops=b.samples)
    if args.erase_rounds:
        print("crypto-erase rounds", end=" ", flush=True)
        sizes = [int(s) for s in args.erase_sizes.split(",")]
        doc.update(erase=b.erase(sizes, args.erase_rounds), erase_rounds=args.erase_rounds)
    doc.update({
        "start_ms": {"ours": (t1 - t0) * 1e3, "nova": (t2 - t1) * 1e3},
        "helper": shlex.split(args.helper)[0]})
    with open(args.out, "w") as f:
        json.dump(doc, f, indent=1)
    ours.ctx.stop()
    peer.ctx.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
