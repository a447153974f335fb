#!/usr/bin/python3
"""oslo.privsep's real client and Nova 26's own functions through
tests/relay/relay_serve (the reference poll() loop around helper/relay.c)
to Debian's privsep-helper for nova.privsep.sys_admin_pctxt.

  test_relay_oslo.py [RELAY_SERVE] [--calls N]

Needs root and python3-nova; exits 77 without them.  Checks: relayed calls
give privsep-helper's results; a name outside --forward is refused with
privsep-helper's NameError and never runs (writefile writes nothing); a
relayed call blocked in privsep-helper holds up another; one record per
relayed call; killing privsep-helper fails the call in flight at once, and
oslo.privsep's restart brings both back.  Then, for information only (no
threshold: benchmarks are not tests), the round trip of the same call
relayed and straight to privsep-helper, same client, same run.
"""
import json
import os
import shlex
import shutil
import signal
import statistics
import sys
import tempfile
import time

from nova_calls import blocked_last_bytes, raises

FORWARD = r'nova\.privsep\.path\.last_bytes|nova\.privsep\.libvirt\.readpty'
failures = 0


def check(cond, msg):
    global failures
    print('%s - %s' % ('ok' if cond else 'not ok', msg), flush=True)
    failures += 0 if cond else 1


def privsep_helpers(records):
    """The privsep-helper daemons relay_serve started, still running (by the
    pids it logged: other privsep-helpers on this machine are not ours)."""
    pids = set()
    with open(records) as f:
        for line in f:
            pids.add(json.loads(line).get('daemon_pid', 0))
    return sorted(p for p in pids if p and os.path.exists('/proc/%d' % p))


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


def records_check(path):
    with open(path) as f:
        recs = [r for r in map(json.loads, f) if 'entrypoint' in r]
    got = sorted((r['entrypoint'].rsplit('.', 1)[-1], r['outcome'], r['class']) for r in recs)
    want = sorted([('last_bytes', 'RET', ''), ('readpty', 'RET', ''), ('last_bytes', 'RET', ''),
                   ('last_bytes', 'ERR', 'io.UnsupportedOperation')])
    check(got == want, 'one record per relayed call, none for writefile: %s' % got)


def daemon_death(work, records):
    import nova.privsep.path as ppath
    helpers = privsep_helpers(records)
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
    time.sleep(2.5)  # relay_serve closes once the caller has been idle 1 s
    check(raises(ppath.last_bytes, log, 2) == (None, (b'ef', 14)),
          'a call after a pause works: oslo.privsep restarted the helper, and it privsep-helper')


def round_trips(n, work):
    import nova.privsep.path as ppath
    log = os.path.join(work, 'console.log')
    ppath.last_bytes(log, 4)  # the start is not a round trip
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        ppath.last_bytes(log, 4)
        times.append((time.perf_counter() - t0) * 1e6)
    times.sort()
    return statistics.median(times), times[int(0.99 * (len(times) - 1))]


def main():
    serve = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 and not sys.argv[1].startswith('--')
                            else 'build/tests/relay_serve')
    calls = int(sys.argv[sys.argv.index('--calls') + 1]) if '--calls' in sys.argv else 200
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
        return run(work, serve, calls)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(work, serve, calls):
    from oslo_config import cfg
    import nova.privsep
    conf, records = os.path.join(work, 'nova.conf'), os.path.join(work, 'records.jsonl')
    with open(conf, 'w') as f:
        f.write('[nova_sys_admin]\nthread_pool_size = 4\n')
    with open(os.path.join(work, 'console.log'), 'w') as f:
        f.write('0123456789abcdef')
    cfg.CONF([], project='nova', default_config_files=[])
    ctx = nova.privsep.sys_admin_pctxt
    cfg.CONF.set_override('helper_command', '%s --forward %s --record-log %s --config-file %s' % (
        serve, shlex.quote(FORWARD), records, conf), group='nova_sys_admin')
    relayed_and_refused(work)
    records_check(records)
    daemon_death(work, records)
    relayed = round_trips(calls, work)
    ctx.stop()
    cfg.CONF.set_override('helper_command', 'privsep-helper --config-file %s' % conf,
                          group='nova_sys_admin')
    direct = round_trips(calls, work)
    ctx.stop()
    print('info: last_bytes round trip over %d calls, p50/p99 us: relayed %.0f/%.0f, '
          'privsep-helper alone %.0f/%.0f; the relay adds %.0f us at p50 (x%.2f)'
          % (calls, relayed[0], relayed[1], direct[0], direct[1], relayed[0] - direct[0],
             relayed[0] / direct[0]))
    deadline = time.monotonic() + 10
    while privsep_helpers(records) and time.monotonic() < deadline:
        time.sleep(0.1)
    check(not privsep_helpers(records), 'after stop(): no privsep-helper left')
    print('%s: %d failed' % ('FAIL' if failures else 'PASS', failures))
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())
