# SPDX-License-Identifier: Apache-2.0
"""PNG charts for make bench, drawn with Debian's python3-matplotlib from the
halves' JSON (see report.py).  Each function draws one chart and returns its
path; a part that did not run draws nothing."""
import os
import statistics

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

OURS, NOVA, CLI, FLOOR = "#1b7837", "#c51b7d", "#e08214", "#4d4d4d"
STORAGE_OPS = ["disk_create", "disk_destroy", "lv_create", "lv_remove", "vg_info"]


def _save(fig, d, name):
    path = os.path.join(d, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _strip(ax, pos, values, color, label=None):
    """Each sample as a dot, the median as a bar."""
    n = len(values)
    xs = [pos + (k - (n - 1) / 2) * 0.03 for k in range(n)]
    ax.scatter(xs, values, s=14, color=color, alpha=0.6, label=label, zorder=3)
    m = statistics.median(values)
    ax.hlines(m, pos - 0.17, pos + 0.17, color=color, linewidth=2.5, zorder=4)


def storage_chart(d, s):
    """Latency distributions of the storage operations, three ways."""
    ops = s["ops"]
    fig, ax = plt.subplots(figsize=(9, 4.6))
    sides = [("ours", OURS, "ephcrypt-helper (long-lived)"),
             ("cli", CLI, "Nova's commands exec'd directly"),
             ("nova", NOVA, "Nova 26's code in privsep-helper")]
    for k, op in enumerate(STORAGE_OPS):
        for j, (side, color, label) in enumerate(sides):
            vals = ops.get(op, {}).get(side)
            if vals:
                _strip(ax, k + (j - 1) * 0.27, vals, color, label if k == 0 else None)
    ax.set_xticks(range(len(STORAGE_OPS)), STORAGE_OPS)
    ax.set_ylabel("ms per operation (dots: rounds; bar: median)")
    ax.set_ylim(bottom=0)
    ax.set_title("Storage operations in the UML guest, %d alternating rounds, 64 MiB disks"
                 % s["rounds"])
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, d, "storage.png")


def erase_chart(d, s):
    """disk_destroy per disk size: crypto-erase against volume_clear = zero."""
    e = s["erase"]
    sizes = sorted(int(k) for k in e)
    fig, ax = plt.subplots(figsize=(7.5, 4.4))
    for side, color, label in [("ours", OURS, "ephcrypt disk_destroy (crypto-erase)"),
                               ("nova", NOVA, "Nova, volume_clear = zero")]:
        med = [statistics.median(e[str(k)][side]) / 1e3 for k in sizes]
        ax.plot(sizes, med, "o-", color=color, label=label)
        for k in sizes:
            ax.scatter([k] * len(e[str(k)][side]), [v / 1e3 for v in e[str(k)][side]],
                       s=10, color=color, alpha=0.4)
    ax.set_xscale("log", base=2)
    ax.set_xticks(sizes, ["%d MiB" % k if k < 1024 else "%g GiB" % (k / 1024) for k in sizes])
    ax.set_xlabel("disk size")
    ax.set_ylabel("seconds to destroy (median, dots: rounds)")
    ax.set_ylim(bottom=0)
    ax.set_title("Destroying a disk in the UML guest: constant vs linear")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, d, "erase.png")


def cold_start_chart(d, h):
    c = h["cold_ms"]
    fig, ax = plt.subplots(figsize=(7, 3.6))
    rows = [("floor (bench/floor.c)", c["floor"], FLOOR), ("ephcrypt-helper", c["ours"], OURS),
            ("privsep-helper", c["peer"], NOVA)]
    for k, (label, vals, color) in enumerate(rows):
        ax.scatter(vals, [k] * len(vals), s=16, color=color, alpha=0.6)
        ax.vlines(statistics.median(vals), k - 0.25, k + 0.25, color=color, linewidth=2.5)
        ax.annotate("%.1f ms" % statistics.median(vals), (statistics.median(vals), k + 0.28),
                    fontsize=8, ha="center")
    ax.set_xscale("log")
    ax.margins(x=0.12)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_ylim(-0.6, len(rows) - 0.2)
    ax.set_xlabel("ms from ctx.start() to the first reply (log scale)")
    ax.set_title("Cold start through oslo.privsep's client, %d starts each (host)" % h["starts"])
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, d, "cold_start.png")


def startup_chart(d, h):
    bd = h["startup"]
    runs, stop = bd["runs"], bd["stop_cost_us"]
    steps = list(runs[0]["ms"])
    net = [max(0.0, min(r["ms"][k] for r in runs) -
               statistics.median(r["stops"][k] for r in runs) * stop / 1e3) for k in steps]
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    ax.barh(range(len(steps)), net, color=OURS)
    for k, v in enumerate(net):
        ax.annotate("%.2f ms" % v, (v, k), xytext=(3, -3), textcoords="offset points", fontsize=8)
    ax.set_yticks(range(len(steps)), steps)
    ax.invert_yaxis()
    ax.set_xlabel("ms: fastest of %d starts under strace, less the tracer's stops" % len(runs))
    ax.set_title("ephcrypt-helper start-up, step by step (host)")
    ax.set_xlim(right=max(net) * 1.3 or 1)
    return _save(fig, d, "startup.png")


def lvmshell_chart(d, s):
    cmds = ["lvs", "vgs", "fullreport", "lvcreate", "lvremove"]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    for k, cmd in enumerate(cmds):
        _strip(ax, k - 0.18, s[cmd]["fresh"], CLI, "a fresh lvm process" if k == 0 else None)
        _strip(ax, k + 0.18, s[cmd]["shell"], OURS, "one lvm shell" if k == 0 else None)
    ax.axhline(statistics.median(s["exec_true"]), color=FLOOR, linestyle=":",
               label="fork + exec of /bin/true")
    ax.set_xticks(range(len(cmds)), cmds)
    ax.set_ylabel("ms per command")
    ax.set_ylim(bottom=0)
    ax.set_title("lvm in the UML guest: a process per command vs LVM's shell")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, d, "lvmshell.png")


def fio_chart(d, f):
    res, jobs = f["results"], f["jobs"]
    maps = [m for m in res if m != "raw"]
    fig, ax = plt.subplots(figsize=(8.5, 4.2))
    width = 0.8 / len(maps)
    colors = ["#762a83", "#1b7837", "#e08214", "#2166ac", "#b2182b"]
    for j, m in enumerate(maps):
        raw = [statistics.median(res["raw"][job]) for job in jobs]
        ratios = [statistics.median(res[m][job]) / r for job, r in zip(jobs, raw)]
        # The whiskers: each round's figure over the raw median, lowest to highest.
        lo = [v - min(res[m][job]) / r for v, job, r in zip(ratios, jobs, raw)]
        hi = [max(res[m][job]) / r - v for v, job, r in zip(ratios, jobs, raw)]
        ax.bar([k + (j - (len(maps) - 1) / 2) * width for k in range(len(jobs))], ratios,
               width, yerr=[lo, hi], capsize=2, error_kw={"elinewidth": 0.8},
               label=m.replace("_", " "), color=colors[j % len(colors)])
    ax.axhline(1.0, color=FLOOR, linestyle=":", label="raw LV")
    ax.set_xticks(range(len(jobs)), jobs)
    ax.set_ylabel("throughput / raw LV's (median; whiskers: rounds)")
    ax.set_title("dm-crypt by flag, fio in the UML guest (generic AES: ratios only)")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, d, "fio.png")


def draw(d, parts):
    out = []
    h = parts.get("host.json")
    if h:
        out += [cold_start_chart(d, h), startup_chart(d, h)]
    for name in ("storage.json", "erase.json"):
        s = parts.get(name) or {}
        if "ops" in s:
            out.append(storage_chart(d, s))
        if "erase" in s:
            out.append(erase_chart(d, s))
    if parts.get("lvmshell.json"):
        out.append(lvmshell_chart(d, parts["lvmshell.json"]))
    if parts.get("fio.json"):
        out.append(fio_chart(d, parts["fio.json"]))
    return out
