# SPDX-License-Identifier: Apache-2.0
"""Where ephcrypt-helper's start-up time goes, without changing the helper.

bench.py starts the helper through oslo.privsep's client with `strace` in
front of it (helper_command = "strace -D -f -ttt -T --seccomp-bpf -e ... HELPER
..."): -D leaves the helper as the client's own child, so the client still
sees it exit after the fork; --seccomp-bpf stops only at the syscalls listed
below, so every other syscall (library loading's mmap/mprotect, the policy's
reads, libseccomp's work) runs at full speed.  Each step is the time between
the syscalls that bound it (main() in helper/main.c, sandbox_apply() in
helper/sandbox.c); only syscalls that mark a step are traced, so that the
tracer's stops inflate the steps as little as it can:

  exec + library loading   execve .. openat(policy) (each library's openat is
                           a stop too: see exec_ms in bench.py for this step
                           untraced)
  policy                   openat(policy) .. first openat under the audit dir
  audit log + syslog       .. connect(privsep.sock): the log's directory and
                           file, its chain's tail, openlog's /dev/log connect
  connect, fork, stdio     connect(privsep.sock) .. mlockall
  memory locking           mlockall .. unshare
  namespace                unshare .. prctl(PR_SET_SECUREBITS) (the mounts
                           are not traced)
  capabilities             .. the end of prctl(PR_SET_DUMPABLE): securebits,
                           capng_apply (one prctl per bounding-set
                           capability: each one a stop), no_new_privs
  seccomp build            .. seccomp(SECCOMP_SET_MODE_FILTER): the rules,
                           libseccomp's API probes and its own prctl
  seccomp load             seccomp(SECCOMP_SET_MODE_FILTER) (its duration)
  hello                    .. the first write on the channel (the LOG record)

The tracer's own cost is measured, not guessed: stop_cost_us() times one
traced syscall stop, breakdown() counts the stops inside each step, and
bench.py prints each step with and without its stops' cost, next to traced
and untraced cold starts through the same client.
"""
import os
import re
import subprocess

TRACED = "execve,openat,connect,mlockall,unshare,prctl,seccomp,write"

STEPS = ["exec + library loading", "policy", "audit log + syslog", "connect, fork, stdio",
         "memory locking", "namespace", "capabilities", "seccomp build", "seccomp load",
         "hello (first write)"]

LINE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(\d+\.\d+)\s+(\w+)\((.*)$")
DURATION = re.compile(r"<(\d+\.\d+)>\s*$")


def strace_prefix(out_path):
    return ["strace", "-D", "-f", "-ttt", "-T", "--seccomp-bpf", "-o", out_path,
            "-e", "trace=" + TRACED]


class Event:
    __slots__ = ("pid", "t", "name", "args", "dur")

    def __init__(self, pid, t, name, args, dur):
        self.pid, self.t, self.name, self.args, self.dur = pid, t, name, args, dur


def parse(path):
    events = []
    with open(path) as f:
        for line in f:
            m = LINE.match(line)
            if not m or "resumed>" in line:
                continue
            d = DURATION.search(line)
            events.append(Event(int(m.group(1)), float(m.group(2)), m.group(3), m.group(4),
                                float(d.group(1)) if d else 0.0))
    return events


def find(events, start, pred, what):
    for k in range(start, len(events)):
        if pred(events[k]):
            return k
    raise ValueError("start-up trace: no %s" % what)


def breakdown(path, policy_path, audit_path):
    """Step name -> ms for one traced start; raises ValueError if a marker is missing."""
    ev = parse(path)
    audit_dir = os.path.dirname(audit_path)
    i0 = find(ev, 0, lambda e: e.name == "execve", "execve")
    i1 = find(ev, i0, lambda e: e.name == "openat" and policy_path in e.args, "policy open")
    i2 = find(ev, i1 + 1, lambda e: e.name == "openat" and audit_dir in e.args and
              policy_path not in e.args, "audit-log open")
    i3 = find(ev, i2, lambda e: e.name == "connect" and "privsep.sock" in e.args,
              "connect to the client's socket")
    i4 = find(ev, i3, lambda e: e.name == "mlockall", "mlockall")
    i5 = find(ev, i4, lambda e: e.name == "unshare", "unshare")
    i6 = find(ev, i5, lambda e: e.name == "prctl" and "PR_SET_SECUREBITS" in e.args,
              "prctl(PR_SET_SECUREBITS)")
    i8 = find(ev, i6, lambda e: e.name == "seccomp" and "SET_MODE_FILTER" in e.args,
              "seccomp load")
    i7 = find(ev, i6, lambda e: e.name == "prctl" and "PR_SET_DUMPABLE" in e.args,
              "prctl(PR_SET_DUMPABLE)")
    i9 = find(ev, i8, lambda e: e.name == "write", "first write")

    def end(k):
        return ev[k].t + ev[k].dur

    bounds = [(i0, ev[i0].t), (i1, ev[i1].t), (i2, ev[i2].t), (i3, ev[i3].t),
              (i4, ev[i4].t), (i5, ev[i5].t), (i6, ev[i6].t), (i7 + 1, end(i7)),
              (i8, ev[i8].t), (i8 + 1, end(i8)), (i9, ev[i9].t)]
    out = {"ms": {}, "stops": {}}
    for name, (a, b) in zip(STEPS, zip(bounds, bounds[1:])):
        out["ms"][name] = (b[1] - a[1]) * 1e3
        out["stops"][name] = b[0] - a[0]
    out["total_ms"] = (ev[i9].t - ev[i0].t) * 1e3
    out["traced"] = len(ev)
    return out


def stop_cost_us(n=2000):
    """One traced syscall's stop under strace --seccomp-bpf: n getppid() calls
    traced, minus the same untraced, over n."""
    code = "import os,time\nt=time.perf_counter()\nfor _ in range(%d): os.getppid()\n" \
           "print((time.perf_counter()-t)*1e6)" % n
    times = []
    for traced in (False, True):
        argv = (["strace", "-f", "--seccomp-bpf", "-o", "/dev/null", "-e", "trace=getppid"]
                if traced else []) + ["/usr/bin/python3", "-c", code]
        p = subprocess.run(argv, check=True, capture_output=True, text=True)
        times.append(float(p.stdout.strip().splitlines()[-1]))
    return (times[1] - times[0]) / n


def cpu_hz():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("cpu MHz"):
                return float(line.split(":")[1]) * 1e6
    return None


def loader_ms(argv, n=30):
    """The dynamic loader's own start-up time (LD_DEBUG=statistics: mapping
    the libraries and binding every symbol now, as -z now asks), fastest of
    n runs, in ms at the CPU's nominal clock; and its relocation count."""
    hz, best, relocs = cpu_hz(), None, None
    for _ in range(n):
        p = subprocess.run(argv, env=dict(os.environ, LD_DEBUG="statistics"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        for line in p.stderr.splitlines():
            if "total startup time in dynamic loader" in line:
                cycles = int(line.split(":")[-1].split()[0])
                best = cycles if best is None else min(best, cycles)
            elif "number of relocations:" in line:
                relocs = int(line.split(":")[-1])
    if best is None or not hz:
        return None
    return {"ms": best / hz * 1e3, "relocations": relocs}
