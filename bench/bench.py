#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""make bench: ephcrypt-helper against Debian's privsep-helper, both driven in
one run by the same oslo.privsep client (Method.ROOTWRAP via helper_command,
no sudo/rootwrap in front of either), plus the C client over --fd.

Measures: cold start to first reply (ctx.start() + first call, median of
--starts starts) of ephcrypt-helper, privsep-helper and the floor (bench/floor.c:
connect back, fork, answer PING and one call, nothing else); call round trip
p50/p99 (ephcrypt.version vs an equivalent no-op entrypoint on privsep-helper);
PSS and Private_Dirty of each serving daemon (/proc/PID/smaps_rollup); round
trip from build/ephcrypt-client; the start-up breakdown (bench/startup.py, under
strace) with the tracer's own cost; one audit record's append + fdatasync on
this machine's disk. Prints PASS/MISS per goal; exits 0 unless something failed
to run. --json FILE keeps every sample for bench/report.py.

The ephcrypt-helper command line is built in ONE place, ephcrypt_helper_argv():
  EPHCRYPT_HELPER       helper path (default <repo>/build/ephcrypt-helper)
  EPHCRYPT_HELPER_ARGS  extra arguments, shell-split. When unset: a minimal
                        policy ([callers] uid 0) and an audit log in a private
                        temp dir. Set it (even to "") to replace those.
Run as root: /usr/bin/python3 bench/bench.py [--starts N] [--calls N] [--c-calls N]
             [--traced-starts N] [--json FILE] [--smoke]
"""
import argparse
import importlib.metadata
import json
import logging
import os
import platform
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)

# privsep-helper imports the context by python path: it must find our module.
sys.path.insert(0, BENCH_DIR)
os.environ["PYTHONPATH"] = os.pathsep.join(
    [BENCH_DIR] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])

from oslo_config import cfg  # noqa: E402
from oslo_privsep.daemon import FailedToDropPrivileges  # noqa: E402

import ephcrypt_bench_ctx as bctx  # noqa: E402
import startup  # noqa: E402

# The interop tests' helper arguments: a private policy ([callers] uid 0) and audit log.
sys.path.insert(0, os.path.join(REPO, "tests", "interop"))
from helpers import default_helper_args  # noqa: E402

GOALS = {  # name: threshold
    "cold_start_ratio": 150.0,    # privsep-helper / ephcrypt-helper, at least (issue 14)
    "pss_ratio": 15.0,            # privsep-helper / ephcrypt-helper, at least
    "private_dirty_ratio": 50.0,  # privsep-helper / ephcrypt-helper, at least
    "c_p50_us": 20.0,             # C client round trip p50, at most
}
CALL_TIMEOUT = 30.0


class BenchError(Exception):
    pass


# --- the ephcrypt-helper command line: the one place -----------------------

def ephcrypt_helper_argv():
    """argv[0] and options; the privsep client appends its two options, the
    C client appends --fd 3."""
    path = os.path.abspath(os.environ.get("EPHCRYPT_HELPER") or
                           os.path.join(REPO, "build", "ephcrypt-helper"))
    env = os.environ.get("EPHCRYPT_HELPER_ARGS")
    return [path] + (default_helper_args() if env is None else shlex.split(env))


def privsep_helper_path():
    for p in ("/usr/bin/privsep-helper", shutil.which("privsep-helper")):
        if p and os.access(p, os.X_OK):
            return p
    raise BenchError("privsep-helper not found (apt-get install python3-oslo.privsep)")


def floor_path():
    p = os.path.join(REPO, "build", "bench", "floor")
    if not os.access(p, os.X_OK):
        raise BenchError("%s not built: run make build/bench/floor" % p)
    return p


def option_value(argv, name):
    for k in range(len(argv) - 1):
        if argv[k] == name:
            return argv[k + 1]
    raise BenchError("the helper's command line has no %s" % name)


# --- plumbing ------------------------------------------------------------------

def bounded(fn, *args, timeout=60.0, what="call"):
    box = {}

    def body():
        try:
            box["v"] = fn(*args)
        except BaseException as e:  # noqa: B902 - re-raised below
            box["e"] = e

    t = threading.Thread(target=body, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise BenchError("%s hung for %.0f s" % (what, timeout))
    if "e" in box:
        raise box["e"]
    return box.get("v")


class HelperCommandLog(logging.Handler):
    """Catches the client's 'Running privsep helper: [argv]' to learn the sock path."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.last_argv = None

    def emit(self, record):
        if record.msg == "Running privsep helper: %s" and record.args:
            self.last_argv = list(record.args[0] if isinstance(record.args, tuple)
                                  else record.args)


CMDLOG = HelperCommandLog()


def setup_logging():
    # Keep the output readable: only errors reach the console.
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(logging.ERROR)
    logging.getLogger().addHandler(console)
    daemon_log = logging.getLogger("oslo.privsep.daemon")  # oslo_log renames oslo_ -> oslo.
    daemon_log.setLevel(logging.INFO)
    daemon_log.addHandler(CMDLOG)


def sock_path_of_last_start():
    argv = CMDLOG.last_argv or []
    for k in range(len(argv) - 1):
        if argv[k] == "--privsep_sock_path":
            return argv[k + 1]
    raise BenchError("could not learn the sock path from the client's log")


def pids_with_arg(arg):
    """Live processes whose argv contains arg (the unique sock path)."""
    want = arg.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % entry) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if want in argv and state not in ("Z", "X"):
            found.append(int(entry))
    return found


def daemon_pid():
    """The process serving the channel just started (the helper's forked child)."""
    sock = sock_path_of_last_start()
    deadline = time.monotonic() + 5
    while True:
        pids = pids_with_arg(sock)
        if len(pids) == 1:
            return pids[0]
        if time.monotonic() > deadline:
            raise BenchError("expected one daemon with %s in its argv, found %r" % (sock, pids))
        time.sleep(0.01)


def wait_gone(pid, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return
        except OSError:
            return
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    raise BenchError("daemon %d did not exit after stop()" % pid)


def smaps_rollup(pid):
    out = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == "kB":
                out[parts[0].rstrip(":")] = int(parts[1])
    return out


def percentile(sorted_vals, q):
    return sorted_vals[min(len(sorted_vals) - 1, int(len(sorted_vals) * q))]


# --- the two daemons ---------------------------------------------------------

class Subject:
    def __init__(self, label, ctx, call_name, helper_command):
        self.label, self.ctx, self.call_name = label, ctx, call_name
        cfg.CONF.set_override("helper_command", helper_command, group=ctx.cfg_section)
        self.cold_ms = []
        self.rt_us = []
        self.mem = None
        self.pid = None
        self.reply = None

    def call(self):
        return self.ctx.channel.remote_call(self.call_name, (), {}, CALL_TIMEOUT)

    def start_and_call(self):
        t0 = time.perf_counter()
        bounded(self.ctx.start, timeout=60, what="%s start" % self.label)
        self.reply = self.call()
        return (time.perf_counter() - t0) * 1e3

    def stop(self):
        pid = daemon_pid()
        bounded(self.ctx.stop, timeout=30, what="%s stop" % self.label)
        wait_gone(pid)

    def one_cold_start(self, record=True):
        ms = self.start_and_call()
        self.stop()
        if record:
            self.cold_ms.append(ms)

    def round_trips_and_memory(self, calls):
        self.start_and_call()
        for _ in range(min(200, calls)):  # warm up (thread pools, caches)
            self.call()
        samples = []
        clock = time.perf_counter_ns
        for _ in range(calls):
            t0 = clock()
            self.call()
            samples.append(clock() - t0)
        samples.sort()
        self.rt_us = [s / 1e3 for s in samples]
        self.pid = daemon_pid()  # measured warm, after the calls
        self.mem = smaps_rollup(self.pid)
        self.stop()


def startup_breakdown(eph, eph_argv, n):
    """n traced starts (bench/startup.py), each next to an untraced one, so
    the tracer's cost is measured in the same conditions."""
    tracer = shutil.which("strace")
    if not tracer:
        raise BenchError("strace not found (apt-get install strace)")
    policy, audit = option_value(eph_argv, "--policy"), option_value(eph_argv, "--audit-log")
    d = tempfile.mkdtemp(prefix="ephcrypt-bench-trace-")
    trace = os.path.join(d, "trace")
    untraced_cmd, traced_cmd = shlex.join(eph_argv), shlex.join(startup.strace_prefix(trace) + eph_argv)
    runs, traced_ms, untraced_ms = [], [], []
    try:
        for _ in range(n):
            cfg.CONF.set_override("helper_command", untraced_cmd, group=eph.ctx.cfg_section)
            untraced_ms.append(eph.start_and_call())
            eph.stop()
            cfg.CONF.set_override("helper_command", traced_cmd, group=eph.ctx.cfg_section)
            traced_ms.append(eph.start_and_call())
            sock = sock_path_of_last_start()
            bounded(eph.ctx.stop, timeout=30, what="traced helper stop")
            for pid in pids_with_arg(sock):  # the helper and its tracer
                wait_gone(pid)
            runs.append(startup.breakdown(trace, policy, audit))
            os.unlink(trace)
    finally:
        cfg.CONF.set_override("helper_command", untraced_cmd, group=eph.ctx.cfg_section)
        shutil.rmtree(d, True)
    return {"runs": runs, "traced_ms": traced_ms, "untraced_ms": untraced_ms,
            "stop_cost_us": startup.stop_cost_us(), "exec_ms": exec_ms(eph_argv[0]),
            "loader": {"helper": startup.loader_ms([eph_argv[0], "--version"]),
                       "floor": startup.loader_ms([floor_path()])}}


def exec_ms(helper, n=30):
    """fork + exec + exit, untraced: the helper's libraries against a
    program with libc alone (the floor) and /bin/true."""
    out = {"helper": [], "floor": [], "true": []}
    for _ in range(n):
        for key, argv in (("helper", [helper, "--version"]), ("floor", [floor_path()]),
                          ("true", ["/bin/true"])):
            t0 = time.perf_counter()
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            out[key].append((time.perf_counter() - t0) * 1e3)
    return out


def audit_fdatasync_us(n=100, record=b"x" * 300 + b"\n"):
    """One audit record's cost on this machine's disk: append + fdatasync
    (the helper's audit log syncs each record before it replies)."""
    d = os.path.join(REPO, "build", "bench")
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, "fdatasync.probe")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
    out = []
    try:
        for _ in range(n):
            t0 = time.perf_counter_ns()
            os.write(fd, record)
            os.fdatasync(fd)
            out.append((time.perf_counter_ns() - t0) / 1e3)
    finally:
        os.close(fd)
        os.unlink(path)
    return out


def c_client_bench(calls, pin=False):
    """pin: client and helper share CPU 0, so no wakeup crosses cores. On an
    otherwise idle VM, waking the other (idle) core adds ~30 us to each round
    trip; pinned, the figure is the helper's own software path."""
    client = os.path.join(REPO, "build", "ephcrypt")
    argv = ephcrypt_helper_argv()
    cmd = (["taskset", "-c", "0"] if pin else []) + [client, "--helper", argv[0]]
    for a in argv[1:]:
        cmd += ["--helper-arg", a]
    cmd += ["bench", str(calls)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        raise BenchError("%s: exit %d: %s" % (shlex.join(cmd), p.returncode, p.stderr.strip()))
    return json.loads(p.stdout.strip().splitlines()[-1])


# --- report ------------------------------------------------------------------

def fmt_ms(v):
    return "%.1f ms" % v if v >= 10 else "%.2f ms" % v


def fmt_us(v):
    return "%.0f us" % v if v >= 100 else "%.1f us" % v


def fmt_kb(v):
    return "%d kB" % v if v < 10240 else "%.1f MB" % (v / 1024)


def ratio(a, b):
    return a / b if b else float("inf")


def report_breakdown(bd, fsync_us):
    runs, stop = bd["runs"], bd["stop_cost_us"]
    print()
    print("start-up breakdown of ephcrypt-helper (%d starts under strace; bench/startup.py)"
          % len(runs))
    print("  one traced syscall stop costs %.1f us; 'net' takes each step's stops off" % stop)
    print("  %-28s %9s %9s %6s %9s" % ("", "median", "min", "stops", "net min"))
    for name in startup.STEPS:
        vals = [r["ms"][name] for r in runs]
        stops = statistics.median(r["stops"][name] for r in runs)
        print("  %-28s %6.2f ms %6.2f ms %6d %6.2f ms" % (
            name, statistics.median(vals), min(vals), stops, max(0.0, min(vals) - stops * stop / 1e3)))
    tot = [r["total_ms"] for r in runs]
    print("  %-28s %6.2f ms %6.2f ms %6d" % ("total (execve .. first write)", statistics.median(tot),
                                           min(tot), statistics.median(r["traced"] for r in runs)))
    tr, un = statistics.median(bd["traced_ms"]), statistics.median(bd["untraced_ms"])
    print("  cold start through the client: median %.2f ms traced, %.2f ms untraced" % (tr, un))
    ex = bd["exec_ms"]
    print("  fork+exec+exit untraced (median of %d): ephcrypt-helper --version %.2f ms, "
          "bench/floor %.2f ms, /bin/true %.2f ms" % (
              len(ex["helper"]), statistics.median(ex["helper"]), statistics.median(ex["floor"]),
              statistics.median(ex["true"])))
    ld = bd["loader"]
    if ld["helper"] and ld["floor"]:
        print("  dynamic loader (LD_DEBUG=statistics, fastest): ephcrypt-helper %.2f ms for %d "
              "relocations, bench/floor %.2f ms" % (ld["helper"]["ms"], ld["helper"]["relocations"],
                                                    ld["floor"]["ms"]))
    f = sorted(fsync_us)
    print("  audit record append + fdatasync on this disk: p50 %s, p99 %s" % (
        fmt_us(percentile(f, 0.5)), fmt_us(percentile(f, 0.99))))


def report(eph, ps, c_res, args, floor=None):
    eph_cold, ps_cold = statistics.median(eph.cold_ms), statistics.median(ps.cold_ms)
    fl_cold = statistics.median(floor.cold_ms)
    e50, e99 = percentile(eph.rt_us, 0.50), percentile(eph.rt_us, 0.99)
    p50, p99 = percentile(ps.rt_us, 0.50), percentile(ps.rt_us, 0.99)
    rows = [
        ("cold start to first reply (median)", fmt_ms(eph_cold), fmt_ms(ps_cold),
         "%.1fx" % ratio(ps_cold, eph_cold)),
        ("  the floor (bench/floor.c) cold start", "%s = %.0fx" % (fmt_ms(fl_cold), ratio(
            ps_cold, fl_cold)), "", "%.2f ms ours" % (eph_cold - fl_cold)),
        ("  min .. max over %d starts" % args.starts,
         "%s .. %s" % (fmt_ms(min(eph.cold_ms)), fmt_ms(max(eph.cold_ms))),
         "%s .. %s" % (fmt_ms(min(ps.cold_ms)), fmt_ms(max(ps.cold_ms))), ""),
        ("round trip p50 (Python client)", fmt_us(e50), fmt_us(p50), "%.1fx" % ratio(p50, e50)),
        ("round trip p99 (Python client)", fmt_us(e99), fmt_us(p99), "%.1fx" % ratio(p99, e99)),
        ("daemon Rss", fmt_kb(eph.mem["Rss"]), fmt_kb(ps.mem["Rss"]),
         "%.0fx" % ratio(ps.mem["Rss"], eph.mem["Rss"])),
        ("daemon Pss", fmt_kb(eph.mem["Pss"]), fmt_kb(ps.mem["Pss"]),
         "%.0fx" % ratio(ps.mem["Pss"], eph.mem["Pss"])),
        ("daemon Private_Dirty", fmt_kb(eph.mem["Private_Dirty"]), fmt_kb(ps.mem["Private_Dirty"]),
         "%.0fx" % ratio(ps.mem["Private_Dirty"], eph.mem["Private_Dirty"])),
        ("round trip p50 / p99 (C client, --fd)",
         "%s / %s" % (fmt_us(c_res["p50_us"]), fmt_us(c_res["p99_us"])), "-", ""),
        ("  the same, both on one CPU",
         "%s / %s" % (fmt_us(c_res["pinned"]["p50_us"]), fmt_us(c_res["pinned"]["p99_us"])),
         "-", ""),
    ]
    w0 = max(len(r[0]) for r in rows) + 2
    w1 = max(len(r[1]) for r in rows + [("", "ephcrypt-helper")]) + 2
    w2 = max(len(r[2]) for r in rows + [("", "", "privsep-helper")]) + 2
    print()
    print("%-*s%*s%*s%*s" % (w0, "", w1, "ephcrypt-helper", w2, "privsep-helper", 8, "ratio"))
    for r in rows:
        print("%-*s%*s%*s%*s" % (w0, r[0], w1, r[1], w2, r[2], 8, r[3]))
    print("(ratio = privsep-helper / ephcrypt-helper; %d calls each from the Python client, "
          "%d from the C client)" % (args.calls, c_res["calls"]))

    goals = [
        (ratio(ps_cold, eph_cold) >= GOALS["cold_start_ratio"],
         "cold start >= %gx faster than privsep-helper" % GOALS["cold_start_ratio"],
         "%.1fx" % ratio(ps_cold, eph_cold)),
        (eph.mem["Pss"] * GOALS["pss_ratio"] <= ps.mem["Pss"],
         "PSS <= 1/%g of privsep-helper's" % GOALS["pss_ratio"],
         "1/%.1f" % ratio(ps.mem["Pss"], eph.mem["Pss"])),
        (eph.mem["Private_Dirty"] * GOALS["private_dirty_ratio"] <= ps.mem["Private_Dirty"],
         "Private_Dirty <= 1/%g of privsep-helper's" % GOALS["private_dirty_ratio"],
         "1/%.1f" % ratio(ps.mem["Private_Dirty"], eph.mem["Private_Dirty"])),
        (c_res["pinned"]["p50_us"] <= GOALS["c_p50_us"],
         "C-client round trip p50 <= %g us (one CPU)" % GOALS["c_p50_us"],
         "%s (%s across CPUs: idle-core wakeup)" % (fmt_us(c_res["pinned"]["p50_us"]),
                                                   fmt_us(c_res["p50_us"]))),
    ]
    print()
    print("goals")
    wg = max(len(g[1]) for g in goals) + 2
    for ok, name, got in goals:
        print("  %-4s  %-*s%s" % ("PASS" if ok else "MISS", wg, name, got))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--starts", type=int, default=10, help="cold starts per daemon (median)")
    ap.add_argument("--calls", type=int, default=2000, help="round trips per daemon (Python)")
    ap.add_argument("--c-calls", type=int, default=20000, help="round trips (C client)")
    ap.add_argument("--traced-starts", type=int, default=7, help="starts under strace (breakdown)")
    ap.add_argument("--json", help="write every sample to this file")
    ap.add_argument("--smoke", action="store_true",
                    help="one of everything, no goals: checks the bench still runs")
    args = ap.parse_args()
    if args.smoke:
        args.starts, args.calls, args.c_calls, args.traced_starts = 1, 20, 100, 1
    if os.geteuid() != 0:
        raise BenchError("run as root: both helpers start without sudo")
    setup_logging()
    cfg.CONF([], project="ephcrypt-bench", default_config_files=[])

    eph_argv = ephcrypt_helper_argv()
    if not os.access(eph_argv[0], os.X_OK):
        raise BenchError("%s not built: run make" % eph_argv[0])
    ps_path = privsep_helper_path()
    eph = Subject("ephcrypt-helper", bctx.ephcrypt_ctx, "ephcrypt.version", shlex.join(eph_argv))
    ps = Subject("privsep-helper", bctx.privsep_ctx, "ephcrypt_bench_ctx.noop",
                 shlex.quote(ps_path))
    floor = Subject("floor", bctx.floor_ctx, "ephcrypt.version", shlex.quote(floor_path()))

    print("ephcrypt bench: oslo.privsep %s client, Python %s, kernel %s, %d CPUs" % (
        importlib.metadata.version("oslo.privsep"), platform.python_version(),
        platform.release(), os.cpu_count()))
    print("  ephcrypt-helper: %s  [call ephcrypt.version]" % shlex.join(eph_argv))
    print("  privsep-helper:  %s  [context %s, capabilities [], call %s]" % (
        ps_path, bctx.privsep_ctx.pypath, ps.call_name))
    print("  (the client appends --privsep_context P --privsep_sock_path S; no sudo in front)")

    # Cold starts, interleaved so both see the same machine state; one warm-up each.
    sys.stdout.write("cold starts ")
    sys.stdout.flush()
    failed = []
    for k in range(args.starts + 1):
        for s in (eph, ps, floor) if k % 2 else (floor, ps, eph):
            try:
                s.one_cold_start(record=k > 0)
            except (BenchError, FailedToDropPrivileges) as e:
                # On a shared machine a start may be killed from outside; say
                # so, retry once, and give up if it keeps happening.
                failed.append("%s: %s" % (s.label, e))
                if len(failed) > 3:
                    raise BenchError("too many failed starts: %s" % "; ".join(failed))
                s.one_cold_start(record=k > 0)
        sys.stdout.write(".")
        sys.stdout.flush()
    print()
    for f in failed:
        print("  a start failed and was retried: %s" % f)
    for s in (eph, ps, floor):
        if not isinstance(s.reply, str) or not s.reply:
            raise BenchError("%s: %s returned %r" % (s.label, s.call_name, s.reply))
    print("round trips and memory ...")
    eph.round_trips_and_memory(args.calls)
    ps.round_trips_and_memory(args.calls)
    print("C client ...")
    c_res = c_client_bench(args.c_calls)
    c_res["pinned"] = c_client_bench(args.c_calls, pin=True)
    print("start-up breakdown (strace) ...")
    bd = startup_breakdown(eph, eph_argv, args.traced_starts)
    fsync_us = audit_fdatasync_us()
    report(eph, ps, c_res, args, floor)
    report_breakdown(bd, fsync_us)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({
                "cold_ms": {"ours": eph.cold_ms, "peer": ps.cold_ms, "floor": floor.cold_ms},
                "rt_us": {"ours": eph.rt_us, "peer": ps.rt_us},
                "mem_kb": {"ours": eph.mem, "peer": ps.mem},
                "c_client": c_res, "startup": bd, "audit_fdatasync_us": fsync_us,
                "calls": args.calls, "starts": args.starts, "failed_starts": failed,
                "machine": {"cpus": os.cpu_count(), "kernel": platform.release(),
                            "python": platform.python_version(),
                            "oslo.privsep": importlib.metadata.version("oslo.privsep")},
            }, f, indent=1)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        print("bench: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
