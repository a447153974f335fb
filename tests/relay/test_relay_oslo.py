#!/usr/bin/python3
"""oslo.privsep's real client and Nova 26's own functions through
ephcrypt-helper (its serve loop and relay, policy [forward]) to Debian's
privsep-helper for nova.privsep.sys_admin_pctxt, on this machine (no
device-mapper needed: only relayed and refused calls; the guest's
tests/guest/nova_forward.sh adds the storage calls).

  test_relay_oslo.py [EPHCRYPT_HELPER]

Needs root and python3-nova; exits 77 without them.  Checks: relayed calls
give privsep-helper's results; a name outside [forward] is refused with
privsep-helper's NameError and never runs (writefile writes nothing); a
relayed call blocked in privsep-helper holds up another; one audit record
per relayed call (route privsep-helper, reply kind and exception class)
and one (denied) for the refused one; killing privsep-helper fails the call
in flight at once, and oslo.privsep's restart brings both back.  (The relay's cost per call is
bench/relay.py's, in make bench: benchmarks are not tests.)
"""
import json
import os
import shutil
import signal
import sys
import tempfile
import time

from nova_calls import blocked_last_bytes, raises

POLICY = """[volume-groups]
vg nova-ephemeral max-lv-size 2T
[forward]
entrypoint nova\\.privsep\\.path\\.last_bytes
entrypoint nova\\.privsep\\.libvirt\\.readpty
"""
failures = 0


def check(cond, msg):
    global failures
    print('%s - %s' % ('ok' if cond else 'not ok', msg), flush=True)
    failures += 0 if cond else 1


def privsep_helpers(conf):
    """The privsep-helper daemons ephcrypt-helper started, still running (by
    the --config-file it passed on: other privsep-helpers are not ours)."""
    found = []
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                argv = f.read().decode(errors='replace').split('\0')
        except OSError:
            continue
        if any(a.endswith('privsep-helper') for a in argv[:2]) and conf in argv:
            found.append(int(pid))
    return sorted(found)


def relayed_and_refused(work):
    import nova.privsep.libvirt as plibvirt
    import nova.privsep.path as ppath
    log = os.path.join(work, 'console.log')
    check(raises(ppath.last_bytes, log, 6) == (None, (b'abcdef', 10)),
          'last_bytes relayed: (b"abcdef", 10)')
    check(raises(plibvirt.readpty, log) == (None, '0123456789abcdef'),
          'readpty relayed: the file\'s text')
    target = os.path.join(work, 'written')
    got = raises(ppath.writefile, target, 'w', 'x')
    check(got == ('builtins.NameError',
                  'Invalid privsep function: nova.privsep.path.writefile not exported')
          and not os.path.exists(target),
          'writefile (not forwarded): privsep-helper\'s NameError, nothing written')
    t, result, fifo = blocked_last_bytes(work, 'slow')
    t0 = time.monotonic()
    fast = raises(ppath.last_bytes, log, 4)
    took = time.monotonic() - t0
    check(fast == (None, (b'cdef', 12)) and t.is_alive(),
          'a relayed call blocked in privsep-helper: another answered in %.3f s' % took)
    os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    t.join(30)
    check(result.get('r', ('',))[0] == 'io.UnsupportedOperation',
          'the blocked call ends with privsep-helper\'s ERR once a writer came: %s'
          % (result.get('r'),))


def entrypoint_of(rec):
    """The entrypoint a (CADF) audit record is about: its tag entrypoint?value=NAME."""
    for tag in rec.get('tags', []):
        if tag.startswith('entrypoint?value='):
            return tag[len('entrypoint?value='):]
    return ''


def records_check(path):
    with open(path) as f:
        recs = [json.loads(line) for line in f]
    got = sorted((entrypoint_of(r).rsplit('.', 1)[-1], r.get('route'), r.get('reply', ''),
                  r.get('exception', '')) for r in recs)
    want = sorted([('last_bytes', 'privsep-helper', 'RET', ''),
                   ('readpty', 'privsep-helper', 'RET', ''),
                   ('last_bytes', 'privsep-helper', 'RET', ''),
                   ('last_bytes', 'privsep-helper', 'ERR', 'io.UnsupportedOperation'),
                   ('writefile', 'native', '', '')])
    check(got == want, 'audit log: one record per relayed call, one for writefile: %s' % got)
    refused = [r for r in recs if entrypoint_of(r).endswith('writefile')]
    check(refused and (refused[0].get('reason') or {}).get('reasonCode') == 'denied' and
          refused[0].get('policy_rule') == 'default deny ([forward])',
          'audit log: writefile denied by the default deny of [forward]')
    check(all(r.get('context') == 'nova.privsep.sys_admin_pctxt' for r in recs),
          'audit log: every record names the context')


def daemon_death(work, conf):
    import nova.privsep.path as ppath
    helpers = privsep_helpers(conf)
    t, result, _ = blocked_last_bytes(work, 'doomed')
    for pid in helpers:
        os.kill(pid, signal.SIGKILL)
    t.join(30)
    got = result.get('r', ('',))
    check(len(helpers) == 1 and not t.is_alive() and got[0] == 'builtins.OSError' and
          'is gone' in got[1], 'privsep-helper killed: the call in flight fails at once: %s'
          % (got,))
    log = os.path.join(work, 'console.log')
    got = raises(ppath.last_bytes, log, 2)
    check(got[0] == 'builtins.OSError' and 'gone' in got[1],
          'a call right after: the same error at once, the channel still open: %s' % (got,))
    time.sleep(2.5)  # ephcrypt-helper closes once the caller has been idle 1 s
    check(raises(ppath.last_bytes, log, 2) == (None, (b'ef', 14)),
          'a call after a pause works: oslo.privsep restarted the helper, and it privsep-helper')


def main():
    helper = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith('--')
                             else 'build/ephcrypt-helper')
    try:
        import nova.privsep.path  # noqa: F401
        import oslo_config  # noqa: F401
    except ImportError:
        print('SKIP: needs python3-nova')
        return 77
    if os.geteuid() != 0:
        print('SKIP: needs root (privsep-helper keeps capabilities)')
        return 77
    work = tempfile.mkdtemp(prefix='relay-oslo.')
    try:
        return run(work, helper)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work, helper):
    from oslo_config import cfg
    import nova.privsep
    conf, policy = os.path.join(work, 'nova.conf'), os.path.join(work, 'policy.conf')
    audit = os.path.join(work, 'audit', 'audit.log')
    os.mkdir(os.path.dirname(audit), 0o700)
    with open(policy, 'w') as f:
        f.write(POLICY)
    os.chmod(policy, 0o644)
    with open(conf, 'w') as f:
        f.write('[nova_sys_admin]\nthread_pool_size = 4\n')
    with open(os.path.join(work, 'console.log'), 'w') as f:
        f.write('0123456789abcdef')
    cfg.CONF([], project='nova', default_config_files=[])
    ctx = nova.privsep.sys_admin_pctxt
    cfg.CONF.set_override('helper_command', '%s --policy %s --audit-log %s --config-file %s' % (
        helper, policy, audit, conf), group='nova_sys_admin')
    relayed_and_refused(work)
    records_check(audit)
    daemon_death(work, conf)
    ctx.stop()
    deadline = time.monotonic() + 10
    while privsep_helpers(conf) and time.monotonic() < deadline:
        time.sleep(0.1)
    check(not privsep_helpers(conf), 'after stop(): no privsep-helper left')
    print('%s: %d failed' % ('FAIL' if failures else 'PASS', failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
