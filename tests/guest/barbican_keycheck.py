#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Key checks for tests/guest/barbican.sh; the key is compared in memory and never printed.

  barbican_keycheck.py scan URL PROJECT REF OUTDIR [--file F]... -- CMD [ARG...]
      Fetch REF's payload, run CMD (stdout/stderr to OUTDIR/out, OUTDIR/err) and, while it
      runs, read every /proc/*/cmdline and /proc/*/environ looking for the key (raw, hex,
      base64); afterwards look through OUTDIR/out, OUTDIR/err and each F. Prints a summary;
      exits with CMD's status, or 99 if the key was seen anywhere.
  barbican_keycheck.py table URL PROJECT REF MAPPING
      The key in MAPPING's dm-crypt table (dmsetup table --showkeys) equals REF's payload:
      prints "match" or "mismatch" and exits 0 or 1.
"""
import base64
import binascii
import glob
import subprocess
import sys
import urllib.request


def payload(url, project, ref):
    uuid = ref.rstrip("/").rsplit("/", 1)[-1]
    req = urllib.request.Request("%s/v1/secrets/%s/payload" % (url, uuid),
                                 headers={"X-Project-Id": project, "Accept": "application/octet-stream"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def forms(key):
    hx = binascii.hexlify(key)
    return [key, hx, hx.upper(), base64.b64encode(key)]


def found_in(data, needles):
    return any(n in data for n in needles)


def scan_proc(needles, seen):
    hits = []
    for path in glob.glob("/proc/[0-9]*/cmdline") + glob.glob("/proc/[0-9]*/environ"):
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError:
            continue  # gone, or not ours to read
        seen.add(path.split("/")[2])
        if found_in(data, needles):
            hits.append(path)
    return hits


def scan(argv):
    url, project, ref, outdir = argv[:4]
    rest = argv[4:]
    files = []
    while rest and rest[0] == "--file":
        files.append(rest[1])
        rest = rest[2:]
    assert rest and rest[0] == "--", "missing -- CMD"
    cmd = rest[1:]
    needles = forms(payload(url, project, ref))
    seen, hits, passes = set(), [], 0
    with open(outdir + "/out", "wb") as out, open(outdir + "/err", "wb") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        while proc.poll() is None:
            hits += scan_proc(needles, seen)
            passes += 1
    for f in [outdir + "/out", outdir + "/err"] + files:
        try:
            with open(f, "rb") as fh:
                if found_in(fh.read(), needles):
                    hits.append(f)
        except FileNotFoundError:
            pass
    print("key scan: %d passes over /proc (%d processes seen), %d files: %s" % (
        passes, len(seen), len(files) + 2, "KEY FOUND in " + ", ".join(sorted(set(hits))) if hits else "key absent"))
    if hits:
        return 99
    return proc.returncode


def table(argv):
    url, project, ref, mapping = argv
    key = payload(url, project, ref)
    line = subprocess.run(["dmsetup", "table", "--showkeys", mapping], check=True,
                          capture_output=True).stdout.split()
    # start length crypt cipher KEY iv_offset device offset [options]
    same = len(line) > 4 and line[2] == b"crypt" and line[4].lower() == binascii.hexlify(key)
    print("match" if same else "mismatch")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit({"scan": scan, "table": table}[sys.argv[1]](sys.argv[2:]))
