#!/usr/bin/python3
"""Drive Nova 26's own LVM and dm-crypt storage code through a privsep helper.

Run by tests/guest/nova.sh, as root in the UML guest, with Debian's
python3-nova (or a patched copy of it first on PYTHONPATH):

  nova_compare.py run --vg VG --uuid UUID --out FILE --storage-helper CMD
                      [--sys-admin-helper CMD] [--audit-log FILE] [--policy-checks]
                      [--quick]
      Unpatched Nova (no --sys-admin-helper): [nova_sys_admin] helper_command
      is CMD.  Patched Nova (--sys-admin-helper given): [nova_ephemeral_storage]
      helper_command is CMD and [nova_sys_admin] the other one, and one
      sys_admin call is made as well (not with --quick, which runs only the
      QUICK_STEPS).  Writes a JSON document of results.
  nova_compare.py compare REF.json OTHER.json
      Prints every difference between the two runs' results; exits 1 if any.
  nova_compare.py check RUN.json --uuid UUID --serves CONTEXT=KIND... [--patched DIR]
      Checks one run against what Nova's code must give (so that two runs
      agreeing means something), which program served each privsep context
      (KIND: ephcrypt or privsep-helper), and the audit log's record of it.

The same sequence of calls, with the same names and sizes, runs whatever the
helper, so two runs can be compared result by result.  The dm-crypt key is
random, lives only in this process, and is never printed.
"""

import argparse
import collections
import json
import os
import sys
import time

MIB = 1 << 20
PATTERN = b'\xa5' * MIB

# Columns of `lvs -o vg_all,lv_all` (volume_info, lvinfo) that differ between
# two runs of the same sequence whatever the helper, as two runs through
# privsep-helper showed: LV UUID and CTime, as each run makes a new LV; Seq,
# the VG metadata's sequence number, which every change raises, so the second
# run starts higher; Origin UUID, the UUID of a sparse LV's hidden origin,
# also new in each run.  Nothing else is left out.
LVS_RUN_DEPENDENT = ('LV UUID', 'CTime', 'Seq', 'Origin UUID')


def jsonable(v):
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, bytes):
        return {'bytes_hex': v.hex()}
    if v is None or isinstance(v, (str, int, float, bool)):
        return v
    return {'repr': repr(v)}


# The steps of --quick: a lifecycle without the error and wipe variants.
QUICK_STEPS = {
    'vg_info.before', 'create_volume.disk', 'create_volume.local', 'create_volume.swap',
    'vg_info.after_create', 'list_volumes.dev_vg', 'volume_info.disk', 'get_volume_size.disk',
    'clear_volume.zero_all', 'clear_volume.zero_all.data', 'dmcrypt.create_volume',
    'dmcrypt.create_volume.exists', 'get_volume_size.mapper', 'dmcrypt.delete_volume.name',
    'dmcrypt.delete_volume.name.gone', 'dmcrypt.delete_volume.gone', 'remove_volumes',
    'list_volumes.after_remove', 'vg_info.after_remove',
}


class Recorder:
    def __init__(self, only=None):
        self.results = collections.OrderedDict()
        self.times = collections.OrderedDict()
        self.only = only

    def call(self, step, fn, *args, **kwargs):
        """Record what fn returns or raises, under step."""
        assert step not in self.results, step
        if self.only is not None and step not in self.only:
            return None
        t0 = time.monotonic()
        try:
            r = {'ret': jsonable(fn(*args, **kwargs))}
        except Exception as e:  # the exception is the result
            cls = type(e)
            r = {'exc': '%s.%s' % (cls.__module__, cls.__name__),
                 'args': jsonable(e.args), 'str': str(e)}
        self.times[step] = round(time.monotonic() - t0, 3)
        self.results[step] = r
        if os.environ.get('EPHCRYPT_NOVA_TRACE'):
            print('  step %s: %.3f s, %s' % (step, self.times[step], 'exc' if 'exc' in r else 'ret'),
                  file=sys.stderr)
        return r

    def fact(self, step, value):
        assert step not in self.results, step
        if self.only is None or step in self.only:
            self.results[step] = {'ret': jsonable(value)}


# --- block device contents (the caller's own view, no privsep) -------------

def write_pattern(path, offsets):
    fd = os.open(path, os.O_WRONLY)
    try:
        for off in offsets:
            os.pwrite(fd, PATTERN, off)
        os.fsync(fd)
    finally:
        os.close(fd)


def classify(path, offset, length=MIB):
    """'zero', 'pattern' or 'other' for length bytes at offset."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        data = os.pread(fd, length, offset)
    finally:
        os.close(fd)
    if data == bytes(len(data)):
        return 'zero'
    if data == PATTERN[:len(data)]:
        return 'pattern'
    return 'other'


def dm_table(name):
    """The mapping's table with the key field blanked and the device named."""
    import subprocess
    # No --showkeys: dmsetup prints the key as zeros; it is blanked anyway.
    out = subprocess.run(['dmsetup', 'table', name], check=True, stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout.split()
    # start length crypt cipher key iv_offset device offset [#opt opts...]
    out[4] = '<key>'
    try:  # the minor differs from run to run: name the device instead
        with open('/sys/dev/block/%s/dm/name' % out[6]) as f:
            out[6] = 'dm:' + f.read().strip()
    except OSError:
        pass
    return ' '.join(out)


# --- which process serves which context -----------------------------------

def privsep_daemons():
    found = []
    for pid in os.listdir('/proc'):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open('/proc/%s/cmdline' % pid, 'rb') as f:
                argv = [a.decode(errors='replace') for a in f.read().split(b'\0')[:-1]]
            exe = os.readlink('/proc/%s/exe' % pid)
            with open('/proc/%s/status' % pid) as f:
                cap_eff = [ln.split()[1] for ln in f if ln.startswith('CapEff:')][0]
        except (OSError, IndexError):
            continue
        if '--privsep_context' not in argv[:-1]:
            continue
        prog = argv[1] if os.path.basename(exe).startswith('python') and len(argv) > 1 \
            else argv[0]
        found.append({'context': argv[argv.index('--privsep_context') + 1],
                      'exe': exe, 'program': prog, 'cap_eff': cap_eff})
    return sorted(found, key=lambda d: d['context'])


def entrypoint(rec):
    """The entrypoint an audit record is about: its CADF tag entrypoint?value=NAME."""
    for tag in rec.get('tags', []):
        if tag.startswith('entrypoint?value='):
            return tag[len('entrypoint?value='):]
    return rec['action']


def audit_actions(path, offset):
    """Counts of the actions recorded in the audit log after offset."""
    counts = collections.Counter()
    with open(path, 'rb') as f:
        f.seek(offset)
        for line in f:
            counts[entrypoint(json.loads(line))] += 1
    return dict(sorted(counts.items()))


# --- the run ---------------------------------------------------------------

def configure(args, patched):
    from oslo_config import cfg
    import nova.conf  # noqa: F401 (registers Nova's options)
    import nova.privsep
    cfg.CONF([], project='nova', default_config_files=[])
    ov = cfg.CONF.set_override
    ov('images_type', 'lvm', group='libvirt')
    ov('images_volume_group', args.vg, group='libvirt')
    ov('volume_clear', 'zero', group='libvirt')
    ov('volume_clear_size', 0, group='libvirt')
    ov('enabled', True, group='ephemeral_storage_encryption')
    ov('cipher', 'aes-xts-plain64', group='ephemeral_storage_encryption')
    ov('key_size', 512, group='ephemeral_storage_encryption')
    if patched:
        ov('helper_command', args.storage_helper, group='nova_ephemeral_storage')
        ov('helper_command', args.sys_admin_helper, group='nova_sys_admin')
    else:
        ov('helper_command', args.storage_helper, group='nova_sys_admin')
    return cfg.CONF, nova.privsep


def lvm_sequence(rec, conf, vg, uuid):
    from nova.privsep import fs
    from nova.virt.libvirt.storage import lvm

    disk, local, swap = uuid + '_disk', uuid + '_disk.local', uuid + '_disk.swap'
    dev = {'disk': '/dev/%s/%s' % (vg, disk), 'local': '/dev/%s/%s' % (vg, local),
           'swap': '/dev/%s/%s' % (vg, swap)}
    missing = '/dev/%s/%s_disk.eph9' % (vg, uuid)

    rec.call('vg_info.before', lvm.get_volume_group_info, vg)
    rec.call('raw.vginfo', fs.vginfo, vg)
    rec.call('create_volume.disk', lvm.create_volume, vg, disk, 64 * MIB)
    rec.call('create_volume.local', lvm.create_volume, vg, local, 32 * MIB)
    rec.call('create_volume.swap', lvm.create_volume, vg, swap, 8 * MIB)
    rec.call('create_volume.exists', lvm.create_volume, vg, disk, 4 * MIB)
    free = lvm.get_volume_group_info(vg)['free']
    rec.call('create_volume.too_big', lvm.create_volume, vg, uuid + '_disk.eph0', free + 1)
    rec.call('vg_info.after_create', lvm.get_volume_group_info, vg)
    rec.call('raw.vginfo.after_create', fs.vginfo, vg)
    rec.call('list_volumes.vg', lvm.list_volumes, vg)
    rec.call('list_volumes.dev_vg', lvm.list_volumes, '/dev/' + vg)
    rec.call('raw.lvlist', fs.lvlist, '/dev/' + vg)
    rec.call('volume_info.disk', lvm.volume_info, dev['disk'])
    rec.call('raw.lvinfo.disk', fs.lvinfo, dev['disk'])
    rec.call('raw.lvinfo.missing', fs.lvinfo, missing)
    rec.call('get_volume_size.disk', lvm.get_volume_size, dev['disk'])
    rec.call('get_volume_size.swap', lvm.get_volume_size, dev['swap'])
    rec.call('get_volume_size.missing', lvm.get_volume_size, missing)
    rec.call('raw.blockdev_size.disk', fs.blockdev_size, dev['disk'])
    rec.call('raw.blockdev_size.missing', fs.blockdev_size, missing)

    # volume_clear = zero, limited to volume_clear_size, then the whole LV.
    write_pattern(dev['disk'], (0, MIB, 63 * MIB))
    conf.set_override('volume_clear_size', 1, group='libvirt')
    rec.call('clear_volume.zero_1MiB', lvm.clear_volume, dev['disk'])
    rec.fact('clear_volume.zero_1MiB.data',
             [classify(dev['disk'], o) for o in (0, MIB, 63 * MIB)])
    conf.set_override('volume_clear_size', 0, group='libvirt')
    rec.call('clear_volume.zero_all', lvm.clear_volume, dev['disk'])
    rec.fact('clear_volume.zero_all.data',
             [classify(dev['disk'], o, 16 * MIB) for o in range(0, 64 * MIB, 16 * MIB)])
    # volume_clear = shred: three passes of random data.
    write_pattern(dev['swap'], range(0, 8 * MIB, MIB))
    conf.set_override('volume_clear', 'shred', group='libvirt')
    rec.call('clear_volume.shred', lvm.clear_volume, dev['swap'])
    rec.fact('clear_volume.shred.data', [classify(dev['swap'], o) for o in range(0, 8 * MIB, MIB)])
    # volume_clear = none: nothing is called, nothing changes.
    write_pattern(dev['local'], (0,))
    conf.set_override('volume_clear', 'none', group='libvirt')
    rec.call('clear_volume.none', lvm.clear_volume, dev['local'])
    rec.fact('clear_volume.none.data', classify(dev['local'], 0))
    conf.set_override('volume_clear', 'zero', group='libvirt')
    rec.call('clear_volume.missing', lvm.clear_volume, missing)
    return dev, missing


def sparse_sequence(rec, conf, vg, uuid):
    """Nova's sparse_logical_volumes: a 64 MiB snapshot of a 256 MiB virtual origin.

    Removed with volume_clear = none: remove_volumes clears first, and zeroing
    all 256 MiB overflows the 64 MiB snapshot, which the kernel then
    invalidates (Nova's own behaviour, whatever the helper).
    """
    from nova.privsep import fs
    from nova.virt.libvirt.storage import lvm
    eph = '/dev/%s/%s_disk.eph0' % (vg, uuid)
    rec.call('create_volume.sparse', lvm.create_volume, vg, os.path.basename(eph), 256 * MIB,
             sparse=True)
    rec.call('volume_info.sparse', lvm.volume_info, eph)
    rec.call('raw.lvinfo.sparse', fs.lvinfo, eph)
    rec.call('get_volume_size.sparse', lvm.get_volume_size, eph)
    write_pattern(eph, (0, 200 * MIB))
    rec.fact('sparse.data', [classify(eph, o) for o in (0, 100 * MIB, 200 * MIB)])
    conf.set_override('volume_clear', 'none', group='libvirt')
    rec.call('remove_volumes.sparse', lvm.remove_volumes, [eph])
    conf.set_override('volume_clear', 'zero', group='libvirt')
    rec.call('list_volumes.after_sparse', lvm.list_volumes, vg)


def dmcrypt_sequence(rec, conf, dev, key):
    from nova.privsep import libvirt as plibvirt
    from nova.virt.libvirt.storage import dmcrypt
    from nova.virt.libvirt.storage import lvm

    lv_path = dev['disk']
    name = dmcrypt.volume_name(os.path.basename(lv_path))
    mapper = '/dev/mapper/' + name
    enc = conf.ephemeral_storage_encryption

    rec.call('dmcrypt.create_volume', dmcrypt.create_volume, name, lv_path, enc.cipher,
             enc.key_size, key)
    rec.fact('dmcrypt.create_volume.exists', os.path.exists(mapper))
    rec.fact('dmcrypt.table', dm_table(name))
    rec.call('dmcrypt.list_volumes', dmcrypt.list_volumes)
    rec.call('get_volume_size.mapper', lvm.get_volume_size, mapper)
    rec.call('dmcrypt.create_volume.again', dmcrypt.create_volume, name, lv_path, enc.cipher,
             enc.key_size, key)
    rec.call('dmcrypt.delete_volume.name', dmcrypt.delete_volume, name)
    rec.fact('dmcrypt.delete_volume.name.gone', not os.path.exists(mapper))
    rec.call('raw.dmcrypt_delete_volume.gone', plibvirt.dmcrypt_delete_volume, name)
    rec.call('dmcrypt.delete_volume.gone', dmcrypt.delete_volume, name)
    rec.call('dmcrypt.create_volume.2', dmcrypt.create_volume, name, lv_path, enc.cipher,
             enc.key_size, key)
    rec.call('dmcrypt.delete_volume.path', dmcrypt.delete_volume, mapper)
    rec.fact('dmcrypt.delete_volume.path.gone', not os.path.exists(mapper))
    rec.call('raw.dmcrypt_delete_volume.path_gone', plibvirt.dmcrypt_delete_volume, mapper)
    rec.call('dmcrypt.delete_volume.path_gone', dmcrypt.delete_volume, mapper)
    rec.call('dmcrypt.list_volumes.after', dmcrypt.list_volumes)


def remove_sequence(rec, vg, dev, missing):
    from nova.virt.libvirt.storage import lvm
    rec.call('remove_volumes', lvm.remove_volumes, [dev['disk'], dev['local'], dev['swap']])
    rec.call('remove_volumes.missing', lvm.remove_volumes, [missing])
    rec.call('list_volumes.after_remove', lvm.list_volumes, vg)
    rec.call('vg_info.after_remove', lvm.get_volume_group_info, vg)


def policy_checks(rec, vg):
    """ephcrypt only: names outside the policy are refused before anything runs."""
    from nova.privsep import fs
    from nova.virt.libvirt.storage import lvm
    rec.call('policy.lvcreate_foreign_name', lvm.create_volume, vg, 'not-a-nova-disk', 4 * MIB)
    rec.call('policy.vginfo_other_vg', fs.vginfo, 'other-vg')
    rec.call('policy.lvremove_foreign_name', fs.lvremove, '/dev/%s/not-a-nova-disk' % vg)
    # A path that leaves /dev: refused before anything looks at it.
    rec.call('policy.blockdev_size_dotdot', fs.blockdev_size, '/dev/../etc/passwd')


def patched_checks(rec, privsep, workdir, sys_admin_call):
    """Patched Nova: the nine entrypoints moved, and a sys_admin call still works."""
    import nova
    from nova.privsep import fs, libvirt as plibvirt, path as ppath
    moved = sorted('%s.%s' % (m.__name__, n) for m in (fs, plibvirt) for n in dir(m)
                   if callable(getattr(m, n)) and
                   privsep.ephemeral_storage_pctxt.is_entrypoint(getattr(m, n)))
    rec.fact('patched.nova_file', nova.__file__)
    rec.fact('patched.storage_entrypoints', moved)
    rec.fact('patched.mount_still_sys_admin', privsep.sys_admin_pctxt.is_entrypoint(fs.mount))
    if not sys_admin_call:
        return
    probe = os.path.join(workdir, 'sys-admin-probe')
    with open(probe, 'wb') as f:
        f.write(b'0123456789abcdef')
    rec.call('sys_admin.path.last_bytes', ppath.last_bytes, probe, 6)


def run(args):
    patched = args.sys_admin_helper is not None
    t_start = time.monotonic()
    conf, privsep = configure(args, patched)
    t_imported = time.monotonic()
    if patched and not hasattr(privsep, 'ephemeral_storage_pctxt'):
        sys.exit('nova_compare.py: %s has no ephemeral_storage_pctxt: not the patched Nova'
                 % privsep.__file__)
    audit_offset = os.path.getsize(args.audit_log) if args.audit_log and \
        os.path.exists(args.audit_log) else 0
    rec = Recorder(QUICK_STEPS if args.quick else None)
    key = os.urandom(conf.ephemeral_storage_encryption.key_size // 8)
    dev, missing = lvm_sequence(rec, conf, args.vg, args.uuid)
    if not args.quick:
        sparse_sequence(rec, conf, args.vg, args.uuid)
    dmcrypt_sequence(rec, conf, dev, key)
    del key
    remove_sequence(rec, args.vg, dev, missing)
    extra = Recorder()
    if args.policy_checks:
        policy_checks(extra, args.vg)
    if patched:
        patched_checks(extra, privsep, os.path.dirname(os.path.abspath(args.out)),
                       sys_admin_call=not args.quick)
    daemons = privsep_daemons()
    t_stop = time.monotonic()
    for ctx in ('sys_admin_pctxt', 'ephemeral_storage_pctxt'):
        if getattr(privsep, ctx, None) is not None:
            getattr(privsep, ctx).stop()
    # stop() returns once the daemon has closed its end; it exits soon after.
    deadline = time.monotonic() + 10
    while privsep_daemons() and time.monotonic() < deadline:
        time.sleep(0.1)
    doc = {
        'quick': args.quick,
        'results': rec.results,
        'extra': extra.results,
        'daemons': daemons,
        'daemons_after_stop': privsep_daemons(),
        'audit_actions': audit_actions(args.audit_log, audit_offset) if args.audit_log
        else None,
        'times': rec.times,
        'timing': {'import_s': round(t_imported - t_start, 2),
                   'calls_s': round(t_stop - t_imported, 2),
                   'stop_s': round(time.monotonic() - t_stop, 2)},
    }
    with open(args.out, 'w') as f:
        json.dump(doc, f, indent=1)


# --- comparing two runs ----------------------------------------------------

def lvs_table(out):
    lines = [ln.split('|') for ln in out.splitlines()]
    return lines[0], (lines[1] if len(lines) > 1 else [])


EXCLUDED_SEEN = set()


def lvs_diff(step, a, b):
    """Differences between two volume_info dicts, leaving out run-dependent columns."""
    diffs = []
    for k in LVS_RUN_DEPENDENT:
        if a.get(k) != b.get(k):
            EXCLUDED_SEEN.add(k)
    if sorted(a) != sorted(b):
        diffs.append('%s: columns differ: only in ref %s, only in other %s'
                     % (step, sorted(set(a) - set(b)), sorted(set(b) - set(a))))
    for k in sorted(set(a) & set(b)):
        if k.strip() not in LVS_RUN_DEPENDENT and a[k] != b[k]:
            diffs.append('%s: column %r: ref %r, other %r' % (step, k, a[k], b[k]))
    return diffs


def compare(ref_path, other_path):
    with open(ref_path) as f:
        ref = json.load(f)['results']
    with open(other_path) as f:
        other_doc = json.load(f)
    other = other_doc['results']
    if other_doc['quick']:
        ref = {s: r for s, r in ref.items() if s in QUICK_STEPS}
    diffs = []
    for step in list(ref) + [s for s in other if s not in ref]:
        a, b = ref.get(step), other.get(step)
        if a is None or b is None:
            diffs.append('%s: only in %s' % (step, 'ref' if b is None else 'other'))
        elif step.startswith('volume_info.') and 'ret' in a and 'ret' in b:
            diffs += lvs_diff(step, a['ret'], b['ret'])
        elif step.startswith('raw.lvinfo.') and 'ret' in a and 'ret' in b:
            (ha, va), (hb, vb) = lvs_table(a['ret'][0]), lvs_table(b['ret'][0])
            if ha != hb:
                diffs.append('%s: header differs: ref %r, other %r' % (step, ha, hb))
            diffs += lvs_diff(step, dict(zip(ha, va)), dict(zip(hb, vb)))
            if a['ret'][1] != b['ret'][1]:
                diffs.append('%s: stderr: ref %r, other %r' % (step, a['ret'][1], b['ret'][1]))
        elif a != b:
            for k in sorted(set(a) | set(b)):
                if a.get(k) != b.get(k):
                    diffs.append('%s: %s: ref %s, other %s'
                                 % (step, k, json.dumps(a.get(k)), json.dumps(b.get(k))))
    for d in diffs:
        print('  DIFF ' + d)
    print('  compared %d results: %d identical, %d difference(s); lvs columns left out: %s'
          ' (of which these did differ: %s)'
          % (len(ref), len(ref) - len({d.split(':')[0] for d in diffs}), len(diffs),
             ', '.join(LVS_RUN_DEPENDENT), ', '.join(sorted(EXCLUDED_SEEN)) or 'none'))
    return 1 if diffs else 0


# --- checking one run -------------------------------------------------------

PEE = 'oslo_concurrency.processutils.ProcessExecutionError'
STORAGE_ENTRYPOINTS = sorted(
    ['nova.privsep.fs.' + n for n in ('blockdev_size', 'clear', 'lvcreate', 'lvinfo', 'lvlist',
                                      'lvremove', 'vginfo')] +
    ['nova.privsep.libvirt.dmcrypt_create_volume', 'nova.privsep.libvirt.dmcrypt_delete_volume'])


def expectations(uuid):
    """step -> predicate on its result, for any correct helper."""
    ret = lambda v: lambda r: r.get('ret', object()) == v  # noqa: E731
    exc = lambda cls, code=None: lambda r: (  # noqa: E731
        r.get('exc') == cls and (code is None or r['args'][2] == code))
    lvs = [uuid + '_disk', uuid + '_disk.local', uuid + '_disk.swap']
    mapping = uuid + '_disk-dmcrypt'
    return {
        'create_volume.disk': ret(None), 'create_volume.local': ret(None),
        'create_volume.swap': ret(None),
        'create_volume.exists': exc(PEE, 5),
        'create_volume.too_big': exc('builtins.RuntimeError'),
        'list_volumes.vg': ret(lvs), 'list_volumes.dev_vg': ret(lvs),
        # lvs -o vg_all,lv_all names the LV VG/LV.
        'volume_info.disk': lambda r: {k.strip(): v for k, v in r['ret'].items()}.get('LV')
        .endswith('/' + lvs[0]),
        'raw.lvinfo.missing': exc(PEE, 5),
        'get_volume_size.disk': ret(64 * MIB), 'get_volume_size.swap': ret(8 * MIB),
        'get_volume_size.missing': exc('nova.exception.VolumeBDMPathNotFound'),
        'raw.blockdev_size.disk': ret(['%d\n' % (64 * MIB), '']),
        'raw.blockdev_size.missing': exc(PEE),
        'clear_volume.zero_1MiB': ret(None),
        'clear_volume.zero_1MiB.data': ret(['zero', 'pattern', 'pattern']),
        'clear_volume.zero_all.data': ret(['zero'] * 4),
        'clear_volume.shred.data': ret(['other'] * 8),
        'clear_volume.none.data': ret('pattern'),
        'clear_volume.missing': ret(None),
        'create_volume.sparse': ret(None),
        # A snapshot of a 256 MiB zero device: the snapshot's own size is its 64 MiB.
        'volume_info.sparse': lambda r: 'vorigin' in {k.strip(): v for k, v in r['ret'].items()}
        .get('Origin'),
        'get_volume_size.sparse': ret(256 * MIB),
        'sparse.data': ret(['pattern', 'zero', 'pattern']),
        'remove_volumes.sparse': ret(None), 'list_volumes.after_sparse': ret(lvs),
        'dmcrypt.create_volume': ret(None), 'dmcrypt.create_volume.exists': ret(True),
        'dmcrypt.list_volumes': ret([mapping]),
        'get_volume_size.mapper': ret(64 * MIB),
        'dmcrypt.create_volume.again': exc(PEE, 5),
        'dmcrypt.delete_volume.name': ret(None), 'dmcrypt.delete_volume.name.gone': ret(True),
        'raw.dmcrypt_delete_volume.gone': exc(PEE, 4),
        'dmcrypt.delete_volume.gone': ret(None),
        'dmcrypt.create_volume.2': ret(None),
        'dmcrypt.delete_volume.path': ret(None), 'dmcrypt.delete_volume.path.gone': ret(True),
        'raw.dmcrypt_delete_volume.path_gone': exc(PEE, 4),
        'dmcrypt.delete_volume.path_gone': ret(None),
        'dmcrypt.list_volumes.after': ret([]),
        'remove_volumes': ret(None),
        'remove_volumes.missing': exc('nova.exception.VolumesNotRemoved'),
        'list_volumes.after_remove': ret([]),
    }


def serves(daemon, kind):
    if kind == 'ephcrypt':
        return os.path.basename(daemon['exe']) == 'ephcrypt-helper'
    return daemon['program'].endswith('/privsep-helper') and 'python' in daemon['exe']


def check(args):
    with open(args.run) as f:
        doc = json.load(f)
    res, extra, bad = doc['results'], doc['extra'], []
    for step, ok in expectations(args.uuid).items():
        if doc['quick'] and step not in QUICK_STEPS:
            continue
        r = res.get(step)
        try:
            good = r is not None and ok(r)
        except (KeyError, IndexError, TypeError, AttributeError):
            good = False
        if not good:
            bad.append('%s: %s' % (step, json.dumps(r)))
    vg = [res.get('vg_info.' + s, {}).get('ret') for s in ('before', 'after_create', 'after_remove')]
    if None in vg or vg[2] != vg[0] or vg[1]['used'] - vg[0]['used'] != 104 * MIB:
        bad.append('vg_info before/after create/after remove: %s' % json.dumps(vg))
    want = dict(s.split('=', 1) for s in args.serves)
    got = {d['context'].rsplit('.', 1)[-1]: d for d in doc['daemons']}
    if len(doc['daemons']) != len(want) or sorted(got) != sorted(want) or \
            not all(serves(got[c], k) for c, k in want.items()):
        bad.append('daemons: want %s, got %s' % (want, json.dumps(doc['daemons'])))
    if doc['daemons_after_stop']:
        bad.append('daemons still running after stop(): %s' % doc['daemons_after_stop'])
    for step, r in extra.items():
        if step.startswith('policy.') and r.get('exc') != 'builtins.PermissionError':
            bad.append('%s: want PermissionError, got %s' % (step, json.dumps(r)))
    storage_kind = want.get('ephemeral_storage_pctxt', want.get('sys_admin_pctxt'))
    audit = doc['audit_actions']
    if storage_kind == 'ephcrypt' and (audit is None or sorted(audit) != STORAGE_ENTRYPOINTS):
        bad.append('audit log actions: want exactly %s, got %s' % (STORAGE_ENTRYPOINTS, audit))
    if args.patched:
        facts = {
            'patched.nova_file': extra.get('patched.nova_file', {}).get('ret', '')
            .startswith(args.patched + '/'),
            'patched.storage_entrypoints':
                extra.get('patched.storage_entrypoints', {}).get('ret') == STORAGE_ENTRYPOINTS,
            'patched.mount_still_sys_admin':
                extra.get('patched.mount_still_sys_admin', {}).get('ret') is True,
            'sys_admin.path.last_bytes': doc['quick'] or
            extra.get('sys_admin.path.last_bytes', {}).get('ret')
            == [{'bytes_hex': b'abcdef'.hex()}, 10],
        }
        bad += ['%s: %s' % (k, json.dumps(extra.get(k))) for k, v in facts.items() if not v]
    for b in bad:
        print('  CHECK FAILED ' + b)
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = p.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run')
    r.add_argument('--vg', required=True)
    r.add_argument('--uuid', required=True)
    r.add_argument('--out', required=True)
    r.add_argument('--storage-helper', required=True)
    r.add_argument('--sys-admin-helper')
    r.add_argument('--audit-log')
    r.add_argument('--policy-checks', action='store_true')
    r.add_argument('--quick', action='store_true',
                   help='only the steps of QUICK_STEPS, and no sys_admin call')
    c = sub.add_parser('compare')
    c.add_argument('ref')
    c.add_argument('other')
    k = sub.add_parser('check')
    k.add_argument('run')
    k.add_argument('--uuid', required=True)
    k.add_argument('--serves', action='append', default=[], metavar='CONTEXT=KIND')
    k.add_argument('--patched', metavar='DIR')
    args = p.parse_args()
    if args.cmd == 'compare':
        return compare(args.ref, args.other)
    if args.cmd == 'check':
        return check(args)
    import logging
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format='  [log] %(name)s %(levelname)s: %(message)s')
    # Their warnings and errors here come from the run's deliberate error
    # steps, whose results are recorded; privsep's and the helpers' still show.
    logging.getLogger('nova.virt.libvirt.storage').setLevel(logging.CRITICAL)
    run(args)
    return 0


if __name__ == '__main__':
    sys.exit(main())
