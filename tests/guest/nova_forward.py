#!/usr/bin/python3
"""Nova's sys_admin context through ephcrypt-helper with its relay: the calls
ephcrypt does not serve itself, through Debian's unchanged python3-nova.

Run by tests/guest/nova_forward.sh (issue 15's proof).

  nova_forward.py --helper CMD --audit-log FILE --vg VG --workdir DIR

CMD is [nova_sys_admin] helper_command.  Prints one "ok"/"not ok" line per
check and exits 1 if any failed.  What it checks, with Nova's own functions
and oslo.privsep's real client:
 - nova.privsep.path.last_bytes and nova.privsep.libvirt.readpty are relayed
   to privsep-helper and give privsep-helper's results;
 - nova.privsep.path.writefile (not in [forward]) is refused with the
   NameError privsep-helper gives a name its context does not export, and
   the file is not written;
 - names privsep-helper would answer differently (ImportError for a missing
   function) get that NameError too: they never reached it;
 - a relayed call blocked in privsep-helper (last_bytes on a FIFO waits in
   open() for a writer) holds up neither a storage call ephcrypt serves
   (vginfo) nor another relayed call;
 - the processes: ephcrypt-helper serves the context, privsep-helper runs
   beside it for the same context, both are gone after stop();
 - the audit log: one record per call, forwarded, refused and native alike,
   relayed ones with route privsep-helper and their reply kind, and none of
   the forwarded calls' arguments (the paths hold a marker);
 - killing privsep-helper under a call in flight: that call fails with
   OSError at once, and a call after a pause works (ephcrypt closes the
   channel once the caller has been idle 1 s; oslo.privsep then restarts
   the helper, and it privsep-helper).
"""

import argparse
import json
import os
import signal
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'relay'))
from nova_calls import blocked_last_bytes, raises  # noqa: E402

MARKER = 'FWDMARK7f3a'  # in every forwarded call's path; never in the audit log
NOT_EXPORTED = 'Invalid privsep function: %s not exported'
failures = 0


def check(cond, msg):
    global failures
    print('%s - %s' % ('ok' if cond else 'not ok', msg))
    if not cond:
        failures += 1


def configure(helper):
    from oslo_config import cfg
    import nova.conf  # noqa: F401 (registers Nova's options)
    import nova.privsep
    cfg.CONF([], project='nova', default_config_files=[])
    cfg.CONF.set_override('helper_command', helper, group='nova_sys_admin')
    return nova.privsep


def daemons():
    """(pid, program) of every process serving --privsep_context."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                argv = [a.decode(errors='replace') for a in f.read().split(b'\0')[:-1]]
        except OSError:
            continue
        if '--privsep_context' in argv:
            prog = argv[1] if 'python' in os.path.basename(argv[0]) and len(argv) > 1 else argv[0]
            found.append((int(pid), os.path.basename(prog)))
    return sorted(found)


def relayed_calls(work):
    from nova.privsep import libvirt as plibvirt, path as ppath
    log = os.path.join(work, MARKER + '-console.log')
    with open(log, 'wb') as f:
        f.write(b'0123456789abcdef')
    check(raises(ppath.last_bytes, log, 6) == (None, (b'abcdef', 10)),
          'last_bytes relayed: (b"abcdef", 10), as privsep-helper gives it')
    check(raises(plibvirt.readpty, log) == (None, '0123456789abcdef'),
          'readpty relayed: the file\'s text')
    return 2


def refused_calls(work, privsep):
    from nova.privsep import path as ppath
    target = os.path.join(work, MARKER + '-written-by-writefile')
    name = 'nova.privsep.path.writefile'
    got = raises(ppath.writefile, target, 'w', 'root was here\n')
    check(got == ('builtins.NameError', NOT_EXPORTED % name) and not os.path.exists(target),
          'writefile refused with privsep-helper\'s NameError; the file was not written (%s)'
          % (got,))
    ch = privsep.sys_admin_pctxt.channel
    # privsep-helper answers these with ImportError (no such function): the
    # NameError shows ephcrypt refused them without asking it.
    for wire in ('nova.privsep.path.no_such_function', 'nova.privsep.fs.lvcreate_all'):
        got = raises(ch.remote_call, wire, (MARKER,), {}, None)
        check(got == ('builtins.NameError', NOT_EXPORTED % wire),
              '%s refused before privsep-helper (%s)' % (wire, got))
    return {'nova.privsep.path.writefile': 1, 'nova.privsep.path.no_such_function': 1,
            'nova.privsep.fs.lvcreate_all': 1}


def slow_call(work, vg):
    from nova.privsep import fs, path as ppath
    t, result, fifo = blocked_last_bytes(work, MARKER + 'slow')
    t0 = time.monotonic()
    native = raises(fs.vginfo, vg)
    relayed = raises(ppath.last_bytes, os.path.join(work, MARKER + '-console.log'), 4)
    took = time.monotonic() - t0
    check(native[0] is None and relayed == (None, (b'cdef', 12)) and t.is_alive(),
          'with a relayed call blocked in privsep-helper, vginfo (native) and last_bytes '
          '(relayed) answered in %.2f s' % took)
    fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    os.close(fd)
    t.join(30)
    check(result.get('r', ('',))[0] == 'io.UnsupportedOperation',
          'the blocked call then ends with privsep-helper\'s io.UnsupportedOperation (%s)'
          % (result.get('r'),))
    return {'nova.privsep.fs.vginfo': 1, 'nova.privsep.path.last_bytes': 2}


def entrypoint(rec):
    """The entrypoint an audit record is about: its CADF tag entrypoint?value=NAME."""
    for tag in rec.get('tags', []):
        if tag.startswith('entrypoint?value='):
            return tag[len('entrypoint?value='):]
    return rec['action']


def audit_records(path, offset):
    with open(path, 'rb') as f:
        f.seek(offset)
        raw = f.read()
    return raw, [json.loads(line) for line in raw.splitlines()]


def check_audit(path, offset, want):
    raw, recs = audit_records(path, offset)
    counts = {}
    for r in recs:
        counts[entrypoint(r)] = counts.get(entrypoint(r), 0) + 1
    check(counts == want, 'audit log: one record per call: want %s, got %s' % (want, counts))
    denied = [r for r in recs if (r.get('reason') or {}).get('reasonCode') == 'denied']
    check(sorted(entrypoint(r) for r in denied) == sorted(
        a for a in want if 'writefile' in a or 'no_such' in a or 'lvcreate_all' in a),
        'audit log: the refused calls are recorded as denied')
    check(MARKER.encode() not in raw, 'audit log: no forwarded call\'s arguments in it')
    relayed = sorted((entrypoint(r).rsplit('.', 1)[-1], r.get('reply'), r.get('exception'))
                     for r in recs if r.get('route') == 'privsep-helper')
    check(relayed == [('last_bytes', 'ERR', 'io.UnsupportedOperation'),
                      ('last_bytes', 'RET', None), ('last_bytes', 'RET', None),
                      ('readpty', 'RET', None)],
          'audit log: the relayed calls, route privsep-helper, with reply kind and '
          'exception class: %s' % relayed)
    check(all(r.get('context') == 'nova.privsep.sys_admin_pctxt' for r in recs),
          'audit log: every record names the context nova.privsep.sys_admin_pctxt')


def daemon_death(work):
    from nova.privsep import path as ppath
    helpers = [pid for pid, prog in daemons() if prog == 'privsep-helper']
    t, result, _ = blocked_last_bytes(work, MARKER + 'doomed')
    for pid in helpers:
        os.kill(pid, signal.SIGKILL)
    t.join(30)
    check(len(helpers) == 1 and not t.is_alive() and result.get('r', ('',))[0] in (
        'builtins.OSError', 'builtins.IOError'),
        'privsep-helper killed under a call: the call fails at once (%s)' % (result.get('r'),))
    log = os.path.join(work, MARKER + '-console.log')
    time.sleep(2.5)  # ephcrypt-helper closes once the caller has been idle 1 s
    check(raises(ppath.last_bytes, log, 2) == (None, (b'ef', 14)),
          'a call after a pause works (a new helper and privsep-helper)')


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--helper', required=True)
    p.add_argument('--audit-log', required=True)
    p.add_argument('--vg', required=True)
    p.add_argument('--workdir', required=True)
    args = p.parse_args()
    privsep = configure(args.helper)
    offset = os.path.getsize(args.audit_log) if os.path.exists(args.audit_log) else 0
    want = {'nova.privsep.path.last_bytes': 1, 'nova.privsep.libvirt.readpty': 1}
    relayed_calls(args.workdir)
    progs = sorted(prog for _, prog in daemons())
    check(progs == ['ephcrypt-helper', 'privsep-helper'],
          'ephcrypt-helper serves nova.privsep.sys_admin_pctxt, privsep-helper beside it: %s'
          % progs)
    want.update(refused_calls(args.workdir, privsep))
    for k, v in slow_call(args.workdir, args.vg).items():
        want[k] = want.get(k, 0) + v
    check_audit(args.audit_log, offset, want)
    daemon_death(args.workdir)
    privsep.sys_admin_pctxt.stop()
    # stop() returns once ephcrypt-helper closed its end, which it does once
    # privsep-helper closed its own; the Python exit that follows is slow.
    deadline = time.monotonic() + 30
    while daemons() and time.monotonic() < deadline:
        time.sleep(0.1)
    check(daemons() == [], 'after stop(): no ephcrypt-helper, no privsep-helper left %s'
          % daemons())
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
