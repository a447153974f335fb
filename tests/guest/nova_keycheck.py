#!/usr/bin/python3
"""Does ephcrypt open Nova's dm-crypt mapping with the key cryptsetup gives it?

Run by tests/guest/nova.sh, as root in the UML guest:

  nova_keycheck.py --device /dev/VG/LV --mapping NAME \\
                   --helper HASH=HELPER_COMMAND [--helper HASH=HELPER_COMMAND ...] \\
                   [--no-key-in FILE ...]

For one random 64-byte key and each HASH (ripemd160: cryptsetup 2.6's default,
so no --hash, exactly Nova's command; sha256: --hash sha256), it opens DEVICE
as MAPPING twice: with `cryptsetup create` fed hexlify(key) on stdin as
nova.privsep.libvirt.dmcrypt_create_volume does, and with Nova's own
dmcrypt_create_volume entrypoint served by HELPER_COMMAND (whose policy must
name that nova-passphrase-hash).  After each open it captures
`dmsetup table --showkeys` in memory and closes the mapping.  The two tables
must be identical.  As controls, the two hashes must give different keys and
neither may be the raw key, so a helper that used the wrong hash, or no hash,
would be caught.  Last, each --no-key-in FILE (the audit log) must hold
neither the key nor a dm-crypt key, in raw bytes or in hex.

Key material never leaves this process: no table, key or hash of either is
printed, logged or written; only field names and "identical" or "differ".
"""

import argparse
import binascii
import os
import subprocess
import sys

CIPHER, KEY_SIZE = 'aes-xts-plain64', 512


def table(name):
    """`dmsetup table --showkeys` split in fields; field 4 is the key."""
    return subprocess.run(['dmsetup', 'table', '--showkeys', name], check=True,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True).stdout.split()


def cryptsetup_open(name, device, key, hash_name):
    cmd = ['cryptsetup', 'create', name, device, '--cipher=' + CIPHER,
           '--key-size=%d' % KEY_SIZE, '--key-file=-']
    if hash_name != 'ripemd160':
        cmd.append('--hash=' + hash_name)
    subprocess.run(cmd, input=binascii.hexlify(key), check=True)


def close(name):
    subprocess.run(['cryptsetup', 'remove', name], check=True)


def describe(a, b):
    """Which fields of two tables differ; the key field only by name."""
    if len(a) != len(b):
        return 'differ in length (%d vs %d fields)' % (len(a), len(b))
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            out.append('key field differs' if i == 4 else
                       'field %d differs: %r vs %r' % (i, x, y))
    return '; '.join(out) or 'identical'


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--device', required=True)
    p.add_argument('--mapping', required=True)
    p.add_argument('--helper', action='append', required=True, metavar='HASH=COMMAND')
    p.add_argument('--no-key-in', action='append', default=[], metavar='FILE')
    args = p.parse_args()

    from oslo_config import cfg
    import nova.privsep
    import nova.privsep.libvirt
    cfg.CONF([], project='nova', default_config_files=[])

    key = os.urandom(KEY_SIZE // 8)
    refs, failed = {}, False
    for spec in args.helper:
        hash_name, helper = spec.split('=', 1)
        cryptsetup_open(args.mapping, args.device, key, hash_name)
        try:
            ref = table(args.mapping)
        finally:
            close(args.mapping)
        cfg.CONF.set_override('helper_command', helper, group='nova_sys_admin')
        ctx = nova.privsep.sys_admin_pctxt
        try:
            nova.privsep.libvirt.dmcrypt_create_volume(args.mapping, args.device, CIPHER,
                                                       KEY_SIZE, key)
            try:
                got = table(args.mapping)
            finally:
                nova.privsep.libvirt.dmcrypt_delete_volume(args.mapping)
        finally:
            ctx.stop()  # the next hash needs a helper with another policy
        verdict = describe(ref, got)
        raw = ref[4] == key.hex()
        print('  %s: cryptsetup create%s vs ephcrypt dmcrypt_create_volume: table %s'
              '%s' % (hash_name, '' if hash_name == 'ripemd160' else ' --hash=' + hash_name,
                      verdict, '; ERROR: the table key is the raw key' if raw else ''))
        failed |= verdict != 'identical' or raw
        refs[hash_name] = ref[4]
        del ref, got
    secrets = [key, key.hex().encode()]
    for k in refs.values():
        secrets += [k.encode(), bytes.fromhex(k)]
    for path in args.no_key_in:
        with open(path, 'rb') as f:
            data = f.read()
        leaked = any(x in data or x.upper() in data for x in secrets)
        print('  %s: %s' % (path, 'KEY MATERIAL FOUND' if leaked else 'no key material'))
        failed |= leaked
        del data
    del secrets
    if len(refs) > 1:
        distinct = len(set(refs.values())) == len(refs)
        print('  control: %s give %s keys for the same passphrase'
              % (' and '.join(refs), 'different' if distinct else 'THE SAME'))
        failed |= not distinct
    del key, refs
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
