#!/usr/bin/python3
"""make bench: the relay's cost per call (issue 15).

The same oslo.privsep client, in the same run, calls the same real Nova
entrypoint (nova.privsep.path.last_bytes on a small file) in the
nova.privsep.sys_admin_pctxt context two ways:

  direct   [nova_sys_admin] helper_command = privsep-helper alone
  relayed  helper_command = ephcrypt-helper with a policy whose [forward]
           allows last_bytes: two more socket hops, ephcrypt's poll loop and
           the call's audit record (written and fdatasync'd, as every record)
  relayed_audit_in_ram  the same with the audit log in /dev/shm: the relay's
           own cost without the disk's sync

Rounds alternate the order of the two routes.  Each round: a cold start (the
first call, which starts the helper(s)), then --calls timed round trips.
Prints p50/p99 of each route, the relay's added latency at p50 and the
ratio relayed/direct, and writes them as JSON.  A benchmark, not a test:
no thresholds.  Needs root and python3-nova.

  relay.py [--helper build/ephcrypt-helper] [--calls N] [--rounds R] [--json FILE]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

POLICY = """[volume-groups]
vg nova-ephemeral max-lv-size 2T
[forward]
entrypoint nova\\.privsep\\.path\\.last_bytes
"""


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * (len(xs) - 1) + 0.5))]


def one_round(cfg, ctx, ppath, command, log, calls):
    cfg.CONF.set_override('helper_command', command, group='nova_sys_admin')
    t0 = time.perf_counter()
    ppath.last_bytes(log, 4)
    cold = time.perf_counter() - t0
    times = []
    for _ in range(calls):
        t0 = time.perf_counter()
        ppath.last_bytes(log, 4)
        times.append((time.perf_counter() - t0) * 1e6)
    ctx.stop()
    return cold, times


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--helper', default='build/ephcrypt-helper')
    p.add_argument('--calls', type=int, default=1000)
    p.add_argument('--rounds', type=int, default=5)
    p.add_argument('--json')
    args = p.parse_args()
    try:
        from oslo_config import cfg
        import nova.privsep
        import nova.privsep.path as ppath
    except ImportError:
        print('relay bench: skipped (needs python3-nova)')
        return 0
    if os.geteuid() != 0:
        print('relay bench: skipped (needs root)')
        return 0
    work = tempfile.mkdtemp(prefix='bench-relay.')
    os.chmod(work, 0o755)
    policy, conf = os.path.join(work, 'policy.conf'), os.path.join(work, 'nova.conf')
    audit, log = os.path.join(work, 'audit', 'audit.log'), os.path.join(work, 'console.log')
    os.mkdir(os.path.dirname(audit), 0o700)
    for path, text in ((policy, POLICY), (conf, '[nova_sys_admin]\n'), (log, '0123456789')):
        with open(path, 'w') as f:
            f.write(text)
        os.chmod(path, 0o644)
    cfg.CONF([], project='nova', default_config_files=[])
    relayed = '%s --policy %s --audit-log %%s --config-file %s' % (
        os.path.abspath(args.helper), policy, conf)
    routes = {'direct': 'privsep-helper --config-file %s' % conf, 'relayed': relayed % audit}
    shm = None
    if os.path.isdir('/dev/shm'):
        shm = tempfile.mkdtemp(prefix='bench-relay.', dir='/dev/shm')
        routes['relayed_audit_in_ram'] = relayed % os.path.join(shm, 'audit.log')
    cold = {k: [] for k in routes}
    rt = {k: [] for k in routes}
    names = list(routes)
    for r in range(args.rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            c, t = one_round(cfg, nova.privsep.sys_admin_pctxt, ppath, routes[name], log,
                             args.calls)
            cold[name].append(c)
            rt[name].extend(t)
    res = {'calls_per_round': args.calls, 'rounds': args.rounds}
    for name in routes:
        res[name] = {'p50_us': round(statistics.median(rt[name]), 1),
                     'p99_us': round(pct(rt[name], 0.99), 1),
                     'cold_start_s_median': round(statistics.median(cold[name]), 3)}
    res['relay_overhead_p50_us'] = round(res['relayed']['p50_us'] - res['direct']['p50_us'], 1)
    if 'relayed_audit_in_ram' in res:
        res['relay_overhead_audit_in_ram_p50_us'] = round(
            res['relayed_audit_in_ram']['p50_us'] - res['direct']['p50_us'], 1)
    res['relayed_over_direct_p50'] = round(res['relayed']['p50_us'] / res['direct']['p50_us'], 3)
    res['relayed_over_direct_cold_start'] = round(
        res['relayed']['cold_start_s_median'] / res['direct']['cold_start_s_median'], 3)
    print('relay: last_bytes round trip, %d rounds x %d calls, same client, same run'
          % (args.rounds, args.calls))
    for name in routes:
        print('  %-20s p50 %7.1f us  p99 %8.1f us  cold start %.3f s' % (
            name, res[name]['p50_us'], res[name]['p99_us'], res[name]['cold_start_s_median']))
    print('  the relay adds %.1f us per call at p50 (relayed/direct x%.2f); cold start x%.2f'
          % (res['relay_overhead_p50_us'], res['relayed_over_direct_p50'],
             res['relayed_over_direct_cold_start']))
    if 'relayed_audit_in_ram' in res:
        print('  with the audit log in RAM: %.1f us per call at p50'
              % res['relay_overhead_audit_in_ram_p50_us'])
    if args.json:
        with open(args.json, 'w') as f:
            json.dump(res, f, indent=1)
    for d in (work, shm):
        if d:
            shutil.rmtree(d, ignore_errors=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
