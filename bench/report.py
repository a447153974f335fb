#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""make bench's last step: the JSON the host and guest halves left in DIR
(host.json from bench.py; storage.json, erase.json, lvmshell.json, fio.json
from the guest) become DIR/results.json (one entry per result: name, ours, peer, unit,
ratio, goal, n, and what the peer was), DIR/results.txt (the table, also
printed), DIR/results.rst (the README's table) and PNG charts in DIR.  A half that did not run is left out.

  report.py DIR

ratio is always "how many times better ours is": peer / ours for times and
memory, ours / peer for throughput.  goal is the issue's threshold on that
ratio (or, for crypto-erase, on ours' growth), null where the issue sets none.
"""
import json
import os
import statistics
import sys

MIB = 1 << 20
NOVA_OPS = ["nova.lvcreate", "nova.vginfo", "nova.lvlist", "nova.lvinfo", "nova.blockdev_size",
            "nova.dmcrypt_create_volume", "nova.dmcrypt_delete_volume", "nova.lvremove"]
STORAGE_GOALS = {"disk_create": 3.0, "disk_destroy": 3.0}
ERASE_GOAL = 1.2  # disk_destroy(largest) / disk_destroy(smallest), at most


def med(xs):
    return statistics.median(xs) if xs else None


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


class Results:
    def __init__(self):
        self.rows = []

    def add(self, name, ours, peer, unit, n, peer_name, goal=None, higher_is_better=False,
            ratio=None, met=None, section=""):
        if ratio is None and ours and peer:
            ratio = ours / peer if higher_is_better else peer / ours
        if met is None and goal is not None and ratio is not None:
            met = ratio >= goal
        self.rows.append({"name": name, "ours": ours, "peer": peer, "unit": unit,
                          "ratio": ratio, "goal": goal, "met": met, "n": n,
                          "peer_name": peer_name, "section": section})


def host_results(R, h):
    c, n = h["cold_ms"], h["starts"]
    sec = "start (host, oslo.privsep client)"
    R.add("cold_start", med(c["ours"]), med(c["peer"]), "ms", n, "privsep-helper", 150.0,
          section=sec)
    R.add("cold_start.floor", med(c["floor"]), med(c["peer"]), "ms", n,
          "privsep-helper (ours = bench/floor.c, the least a helper can do)", section=sec)
    R.add("cold_start.over_floor", med(c["ours"]) - med(c["floor"]), None, "ms", n,
          "ephcrypt-helper minus the floor: what start-up steps cost", section=sec)
    rt = h["rt_us"]
    R.add("round_trip_p50", rt["ours"][len(rt["ours"]) // 2], rt["peer"][len(rt["peer"]) // 2],
          "us", h["calls"], "privsep-helper", section=sec)
    m = h["mem_kb"]
    R.add("daemon_pss", m["ours"]["Pss"], m["peer"]["Pss"], "kB", 1, "privsep-helper", 15.0,
          section=sec)
    R.add("daemon_private_dirty", m["ours"]["Private_Dirty"], m["peer"]["Private_Dirty"], "kB",
          1, "privsep-helper", 50.0, section=sec)
    cc = h["c_client"]["pinned"]
    R.add("c_client_round_trip_p50", cc["p50_us"], None, "us", cc.get("calls"),
          "goal: at most 20 us, one CPU", met=cc["p50_us"] <= 20.0, section=sec)
    bd = h["startup"]
    runs, stop = bd["runs"], bd["stop_cost_us"]
    sec = "start-up breakdown (host, strace; net = min less the step's tracer stops)"
    for step in runs[0]["ms"]:
        vals = [r["ms"][step] for r in runs]
        stops = med([r["stops"][step] for r in runs])
        R.add("startup." + step, max(0.0, min(vals) - stops * stop / 1e3), None, "ms",
              len(runs), "net; median %.2f, min %.2f ms, %d stops" % (med(vals), min(vals), stops),
              section=sec)
    R.add("startup.total", med([r["total_ms"] for r in runs]), None, "ms", len(runs),
          "median, traced", section=sec)
    R.add("startup.stop_cost", stop, None, "us", 2000, "one traced syscall stop", section=sec)
    for key, label in (("helper", "ephcrypt-helper --version"), ("floor", "bench/floor"),
                       ("true", "/bin/true")):
        R.add("exec." + key, med(bd["exec_ms"][key]), None, "ms", len(bd["exec_ms"][key]),
              "fork + exec + exit of %s, untraced" % label, section=sec)
    for key in ("helper", "floor"):
        ld = bd.get("loader", {}).get(key)
        if ld:
            R.add("ld.so." + key, ld["ms"], None, "ms", 30, "dynamic loader alone, fastest; "
                  "%d relocations (LD_DEBUG=statistics)" % ld["relocations"], section=sec)
    f = sorted(h["audit_fdatasync_us"])
    R.add("audit_append_fdatasync_p50", f[len(f) // 2], None, "us", len(f),
          "one 300-byte append + fdatasync on the host's disk", section=sec)


def storage_results(R, s):
    if "erase" in s:  # storage.py wrote both into one file
        erase_results(R, s)
    if "ops" not in s:
        return
    sec = "storage (UML guest, one long-lived helper)"
    ops = s["ops"]
    for op in ["disk_create", "disk_destroy", "lv_create", "lv_remove", "vg_info"]:
        o = ops.get(op, {})
        R.add(op, med(o.get("ours")), med(o.get("cli")), "ms", len(o.get("ours", [])),
              "Nova's commands exec'd directly (lvm, cryptsetup)", STORAGE_GOALS.get(op),
              section=sec)
        R.add(op + ".vs_nova_privsep", med(o.get("ours")), med(o.get("nova")), "ms",
              len(o.get("ours", [])), "Nova 26's code in a long-lived privsep-helper",
              section=sec)
    for op in NOVA_OPS:
        o = ops.get(op, {})
        R.add(op, med(o.get("ours")), med(o.get("nova")), "ms", len(o.get("ours", [])),
              "the same entrypoint in privsep-helper (Nova 26's code)", section=sec)
    for op in ["version", "crypt_open", "crypt_status", "crypt_close"]:
        o = ops.get(op, {})
        R.add("ours." + op, med(o.get("ours")), None, "ms", len(o.get("ours", [])),
              "ephcrypt alone: where an operation's time goes", section=sec)
    R.add("daemon_start_in_guest", s["start_ms"]["ours"], s["start_ms"]["nova"], "ms", 1,
          "privsep-helper importing nova.privsep", section=sec)


def erase_results(R, s):
    e, n = s["erase"], s["erase_rounds"]
    sec = "crypto-erase (UML guest)"
    sizes = sorted(int(k) for k in e)
    if len(sizes) < 2:
        return
    lo, hi = str(sizes[0]), str(sizes[-1])
    for k in map(str, sizes):
        R.add("disk_destroy.%sMiB" % k, med(e[k]["ours"]), med(e[k]["nova"]), "ms", n,
              "Nova's remove with volume_clear = zero (dmcrypt delete, shred -n0 -z, lvremove)",
              section=sec)
    growth_ours = med(e[hi]["ours"]) / med(e[lo]["ours"])
    growth_nova = med(e[hi]["nova"]) / med(e[lo]["nova"])
    R.add("disk_destroy.growth_%s_over_%sMiB" % (hi, lo), growth_ours, growth_nova, "x", n,
          "Nova's volume_clear = zero; goal: ours at most 1.2x", ERASE_GOAL,
          ratio=growth_nova / growth_ours, met=growth_ours <= ERASE_GOAL, section=sec)
    rate = wipe_rate(e, lo, hi)
    R.add("nova_wipe_rate", rate / MIB, None, "MiB/s", n,
          "shred -n0 -z in the guest, from the %s and %s MiB runs" % (lo, hi), section=sec)
    fixed = med(e[lo]["nova"]) - med(e[lo]["wipe"])
    R.add("disk_destroy.50GB_projected", med(e[hi]["ours"]) / 1e3,
          (fixed + 50e9 / rate * 1e3) / 1e3, "s", n,
          "Nova's volume_clear = zero, projected at the guest's wipe rate", section=sec)


def wipe_rate(e, lo, hi):
    """Bytes per second of Nova's wipe, from the difference between two sizes
    (the constant per-call cost cancels out)."""
    dt = (med(e[hi]["wipe"]) - med(e[lo]["wipe"])) / 1e3
    return (int(hi) - int(lo)) * MIB / dt if dt > 0 else float("nan")


def lvmshell_results(R, s):
    sec = "lvm: one process per command vs one lvm shell (UML guest)"
    for cmd in ["lvs", "vgs", "fullreport", "lvcreate", "lvremove"]:
        o = s[cmd]
        R.add("lvm." + cmd, med(o["shell"]), med(o["fresh"]), "ms", len(o["shell"]),
              "a fresh lvm process (ours = the same command in one lvm shell)", section=sec)
    R.add("lvm.shell_start", med(s["shell_start"]), None, "ms", 1,
          "starting the shell and its first vgs", section=sec)
    R.add("exec_bin_true", med(s["exec_true"]), None, "ms", len(s["exec_true"]),
          "fork + exec of /bin/true from Python in the guest", section=sec)


def fio_results(R, f):
    sec = "dm-crypt throughput, fio (UML guest, generic AES: ratios only)"
    res = f["results"]
    for m in [k for k in res if k != "raw"]:
        for job in f["jobs"]:
            R.add("fio.%s.%s" % (m, job), med(res[m][job]), med(res["raw"][job]), "MB/s",
                  len(res[m][job]), "the raw LV", higher_is_better=True, section=sec)


def fmt(v, unit):
    if v is None:
        return "-"
    if unit == "x":
        return "%.2fx" % v
    if abs(v) >= 100:
        return "%.0f %s" % (v, unit)
    return "%.2f %s" % (v, unit) if abs(v) < 10 else "%.1f %s" % (v, unit)


def table(R):
    lines = []
    section = None
    w = max(len(r["name"]) for r in R.rows) + 2
    for r in R.rows:
        if r["section"] != section:
            section = r["section"]
            lines += ["", section,
                      "  %-*s %12s %12s %9s %8s %4s  %s" % (w, "name", "ours", "peer", "ratio",
                                                            "goal", "n", "peer is")]
        goal = "-" if r["goal"] is None else "%g%s" % (r["goal"], "x")
        met = {True: " met", False: " MISS", None: ""}[r["met"]]
        lines.append("  %-*s %12s %12s %9s %8s %4s  %s%s" % (
            w, r["name"], fmt(r["ours"], r["unit"]), fmt(r["peer"], r["unit"]),
            "-" if r["ratio"] is None else "%.2fx" % r["ratio"], goal,
            r["n"] if r["n"] is not None else "-", r["peer_name"], met))
    return "\n".join(lines) + "\n"


PS, CLI, NOVA = "privsep-helper", "Nova's commands", "Nova's code in privsep-helper"
README_ROWS = [  # result name, label in README.rst, what the peer is
    ("cold_start", "cold start to first reply (host)", PS),
    ("cold_start.floor", "cold start of the floor, bench/floor.c", PS),
    ("daemon_pss", "serving daemon's PSS (host)", PS),
    ("round_trip_p50", "round trip p50, Python client (host)", PS),
    ("disk_create", "disk_create (64 MiB)", CLI),
    ("disk_create.vs_nova_privsep", "disk_create", NOVA),
    ("disk_destroy", "disk_destroy (64 MiB)", CLI),
    ("disk_destroy.vs_nova_privsep", "disk_destroy", NOVA),
    ("lv_create", "lv_create", CLI), ("lv_remove", "lv_remove", CLI), ("vg_info", "vg_info", CLI),
    ("nova.lvcreate", "nova.privsep.fs.lvcreate", NOVA),
    ("nova.lvremove", "nova.privsep.fs.lvremove", NOVA),
    ("nova.vginfo", "nova.privsep.fs.vginfo", NOVA),
    ("nova.lvinfo", "nova.privsep.fs.lvinfo", NOVA),
    ("nova.dmcrypt_create_volume", "...libvirt.dmcrypt_create_volume", NOVA),
    ("nova.dmcrypt_delete_volume", "...libvirt.dmcrypt_delete_volume", NOVA),
    ("disk_destroy.growth_2048_over_64MiB", "disk_destroy growth, 2 GiB / 64 MiB",
     "volume_clear = zero"),
    ("disk_destroy.50GB_projected", "disk_destroy of 50 GB (projected)", "volume_clear = zero"),
    ("lvm.lvcreate", "lvcreate in one lvm shell", "an lvm process"),
    ("lvm.lvs", "lvs in one lvm shell", "an lvm process"),
]


def rst_table(R):
    """The README's table: the rows that answer the issue's goals."""
    by = {r["name"]: r for r in R.rows}
    rows = [("result", "ephcrypt", "peer", "peer is", "ratio", "goal")]
    for name, label, peer_is in README_ROWS:
        r = by.get(name)
        if r is None:
            continue
        goal = "-" if r["goal"] is None else "%s %gx%s" % (
            "<=" if r["unit"] == "x" else ">=", r["goal"],
            {True: " met", False: " MISS", None: ""}[r["met"]])
        rows.append((label, fmt(r["ours"], r["unit"]), fmt(r["peer"], r["unit"]), peer_is,
                     "-" if r["ratio"] is None else "%.1fx" % r["ratio"], goal))
    w = [max(len(r[k]) for r in rows) for k in range(6)]
    rule = "  ".join("=" * n for n in w)
    line = lambda r: "  ".join(c.ljust(n) for c, n in zip(r, w)).rstrip()  # noqa: E731
    return "\n".join([rule, line(rows[0]), rule] + [line(r) for r in rows[1:]] + [rule]) + "\n"


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    R = Results()
    parts = {}
    docs = {name: load(d, name) for name in
            ("host.json", "storage.json", "erase.json", "lvmshell.json", "fio.json")}
    if docs["storage.json"] and docs["erase.json"]:
        docs["storage.json"].pop("erase", None)  # an older run's, in the storage part
    for name, fn in [("host.json", host_results), ("storage.json", storage_results),
                     ("erase.json", storage_results),
                     ("lvmshell.json", lvmshell_results), ("fio.json", fio_results)]:
        if docs[name] is not None:
            parts[name] = docs[name]
            fn(R, docs[name])
    if not parts:
        print("report: nothing in %s (run make bench)" % d, file=sys.stderr)
        return 1
    with open(os.path.join(d, "results.json"), "w") as f:
        json.dump({"results": R.rows, "parts": sorted(parts)}, f, indent=1)
    text = table(R)
    with open(os.path.join(d, "results.txt"), "w") as f:
        f.write(text)
    with open(os.path.join(d, "results.rst"), "w") as f:
        f.write(rst_table(R))
    print(text)
    import charts  # matplotlib is slow to import: only now
    for png in charts.draw(d, parts):
        print("chart: %s" % png)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main())
