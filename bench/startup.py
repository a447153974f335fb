# SPDX-License-Identifier: Apache-2.0
"""Where ephcrypt-helper's start-up time goes, without changing the helper.

bench.py starts the helper through oslo.privsep's client with `strace` in
front of it (helper_command = "strace -D -f -ttt -T --seccomp-bpf -e ... HELPER
..."): -D leaves the helper as the client's own child, so the client still
sees it exit after the fork; --seccomp-bpf stops only at the syscalls listed
below, so every other syscall (library loading's mmap/mprotect, the policy's
reads, libseccomp's work) runs at full speed.  Each step is the time between
the syscalls that bound it (main() in helper/main.c, sandbox_apply() in
helper/sandbox.c):

  exec + library loading   execve .. openat(policy)
  policy                   openat(policy) .. first openat under the audit dir
  audit log + syslog       .. connect(privsep.sock): the log's directory and
                           file, its chain's tail, openlog's /dev/log connect
  connect, fork, stdio     connect(privsep.sock) .. mlockall
  memory locking           mlockall .. unshare
  namespace                unshare .. the first capability call after the mounts
  capabilities             .. the end of the last prctl/capset
  seccomp build            .. seccomp(SECCOMP_SET_MODE_FILTER)
  seccomp load             seccomp(SECCOMP_SET_MODE_FILTER) (its duration)
  hello                    .. the first write on the channel (the LOG record)

The tracer's own cost (a stop at each traced syscall) is measured, not
guessed: bench.py compares traced and untraced cold starts through the same
client, and reports how many syscalls were traced.
"""
import os
import re

TRACED = ("execve,openat,connect,clone,clone3,fork,mlockall,unshare,mount,capset,"
          "prctl,seccomp,write")

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
    i6 = find(ev, i5, lambda e: e.name in ("capset", "prctl"), "capability call")
    i8 = find(ev, i6, lambda e: e.name == "seccomp" and "SET_MODE_FILTER" in e.args,
              "seccomp load")
    caps = [k for k in range(i6, i8) if ev[k].name in ("capset", "prctl")]
    i7 = caps[-1]
    i9 = find(ev, i8, lambda e: e.name == "write", "first write")

    def end(k):
        return ev[k].t + ev[k].dur

    marks = [
        ev[i1].t - ev[i0].t,
        ev[i2].t - ev[i1].t,
        ev[i3].t - ev[i2].t,
        ev[i4].t - ev[i3].t,
        ev[i5].t - ev[i4].t,
        ev[i6].t - ev[i5].t,
        end(i7) - ev[i6].t,
        ev[i8].t - end(i7),
        ev[i8].dur,
        ev[i9].t - end(i8),
    ]
    out = {name: ms * 1e3 for name, ms in zip(STEPS, marks)}
    out["total (execve .. first write)"] = (ev[i9].t - ev[i0].t) * 1e3
    out["traced syscalls"] = len(ev)
    return out
