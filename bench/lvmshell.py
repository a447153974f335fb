#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""What one lvm command costs in the UML guest: a fresh `lvm` process per
command (what ephcrypt-helper and Nova do today) against the same command
sent to one persistent `lvm` process in LVM's shell mode (what lvmdbusd does).
Run by bench/guest.sh; not a test.

The shell reads one command a line on stdin.  Its configuration (a copy of
$LVM_SYSTEM_DIR/lvm.conf plus log/report_command_log=1, which --config may
not set, and report/output_format = "json": the shell ignores each command's
--reportformat) makes every command end with one JSON document on LVM_REPORT_FD
holding its "log" report, whose "status" entry carries the command's
log_ret_code (1 = success): that document is how we know a command is
finished, as lvmdbusd does (with editline, as Debian builds lvm, no prompt is
printed when stdin is not a terminal).  The fresh processes get the same
configuration and arguments.

  lvmshell.py --vg VG --rounds N --out FILE
"""
import argparse
import json
import os
import select
import subprocess
import sys
import tempfile
import time

LVM = "/sbin/lvm"
JSON_LOG = ["--reportformat", "json"]
SHELL_CONF = """
report {
    output_format = "json"
}
log {
    report_command_log = 1
    command_log_selection = "all"
}
"""


def shell_system_dir():
    """A private LVM_SYSTEM_DIR: the guest's lvm.conf with the command log on."""
    base = os.environ.get("LVM_SYSTEM_DIR", "/etc/lvm")
    d = tempfile.mkdtemp(prefix="lvmshell-")
    for sub in ("backup", "archive"):
        os.mkdir(os.path.join(d, sub))
    with open(os.path.join(base, "lvm.conf")) as f:
        conf = f.read()
    with open(os.path.join(d, "lvm.conf"), "w") as f:
        f.write(conf + SHELL_CONF)
    return d


class ShellError(Exception):
    pass


class LvmShell:
    def __init__(self, env):
        self.report_r, report_w = os.pipe()
        env = dict(env, LVM_REPORT_FD=str(report_w))
        self.p = subprocess.Popen([LVM], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, pass_fds=(report_w,), env=env)
        os.close(report_w)
        self.dec = json.JSONDecoder()

    def run(self, argv, timeout=60.0):
        """One command; returns (status, report dict).  Names here are ours,
        plain [a-z0-9]: nothing needs quoting."""
        self.p.stdin.write((" ".join(argv) + "\n").encode())
        self.p.stdin.flush()
        buf = ""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.report_r], [], [], left)[0]:
                raise ShellError("no report from the lvm shell for %r" % argv)
            chunk = os.read(self.report_r, 65536)
            if not chunk:
                raise ShellError("the lvm shell exited")
            buf += chunk.decode()
            try:
                doc, _ = self.dec.raw_decode(buf.lstrip())
            except ValueError:
                continue
            status = [e for e in doc.get("log", []) if e.get("log_type") == "status"]
            return int(status[-1]["log_ret_code"]) if status else 0, doc

    def close(self):
        self.p.stdin.close()
        self.p.wait(30)
        os.close(self.report_r)


def fresh(argv, env):
    p = subprocess.run([LVM] + argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if p.returncode != 0:
        raise ShellError("lvm %s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr.decode()))


def timed(fn, *a):
    t0 = time.perf_counter()
    fn(*a)
    return (time.perf_counter() - t0) * 1e3


def commands(vg, lv):
    return [
        ("lvs", ["lvs"] + JSON_LOG + [vg]),
        ("vgs", ["vgs"] + JSON_LOG + ["-o", "vg_size,vg_free,vg_extent_size", vg]),
        ("fullreport", ["fullreport"] + JSON_LOG + [vg]),
        ("lvcreate", ["lvcreate"] + JSON_LOG + ["-q", "-y", "-L", "64m", "-n", lv, vg]),
        ("lvremove", ["lvremove"] + JSON_LOG + ["-q", "-f", "%s/%s" % (vg, lv)]),
    ]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vg", required=True)
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    res = {"exec_true": [], "shell_start": []}
    for _ in range(args.rounds):
        res["exec_true"].append(timed(subprocess.run, ["/bin/true"]))
    env = dict(os.environ, LVM_SYSTEM_DIR=shell_system_dir(), LC_ALL="C",
               LVM_SUPPRESS_FD_WARNINGS="1")
    t0 = time.perf_counter()
    shell = LvmShell(env)
    status, _ = shell.run(["vgs"] + JSON_LOG + [args.vg], timeout=30)
    res["shell_start"].append((time.perf_counter() - t0) * 1e3)  # and its first vgs

    for r in range(args.rounds):
        # Alternate which goes first, so neither always sees a warm cache.
        order = ("fresh", "shell") if r % 2 == 0 else ("shell", "fresh")
        for mode in order:
            for name, argv in commands(args.vg, "ls%s%d" % (mode[0], r)):
                if mode == "fresh":
                    ms = timed(fresh, argv, env)
                else:
                    t0 = time.perf_counter()
                    status, _ = shell.run(argv)
                    ms = (time.perf_counter() - t0) * 1e3
                    if status != 1:
                        raise ShellError("%s in the lvm shell: log_ret_code %d" % (name, status))
                res.setdefault(name, {"fresh": [], "shell": []})[mode].append(ms)
        sys.stdout.write(".")
        sys.stdout.flush()
    print()
    shell.close()
    with open(args.out, "w") as f:
        json.dump(res, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
