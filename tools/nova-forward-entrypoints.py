#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Derive the [forward] list: which nova.privsep.sys_admin_pctxt entrypoints
Nova's libvirt driver reaches for instances on LVM (images_type = lvm).

How (all static, on the installed python3-nova; nothing is imported):
 1. Every function in nova/privsep/*.py decorated with
    nova.privsep.sys_admin_pctxt.entrypoint (or entrypoint_with_timeout(...))
    is an entrypoint; its wire name is module + "." + function name, as
    oslo.privsep builds it.
 2. Every function and method in nova/ (tests excluded) is parsed; each call
    is resolved to a qualified name where the source says which one it is:
    a dotted module path (import x.y.z, from x import y as z), a function of
    the same module, or self./cls. for a method of the same class.  Calls
    through other objects (image.create_image(...)) are not resolved: the
    trace stops there and names the last function it could.
 3. Callers are walked backwards from each entrypoint.  An entrypoint is
    reachable if some chain reaches code under nova/virt/libvirt/,
    nova/virt/images.py, nova/virt/disk/ or nova/virt/configdrive.py.
 4. Chains that only run for something other than an instance on LVM are
    set aside by the EXCLUDE table below, each with its reason (another
    images_type, Cinder volume drivers, LXC, file injection, vGPU ...).
    An entrypoint stays on the list if one chain survives.
 5. Names ephcrypt serves itself (STORAGE below, helper/nova.c) are listed
    separately: they are never forwarded.

Usage: tools/nova-forward-entrypoints.py [--nova DIR] [--chains]
"""
import argparse
import ast
import os
import re
import sys

SCOPE = re.compile(r'^nova\.virt\.(libvirt\.|images\.|disk\.|configdrive\.)')

# Served natively by ephcrypt (helper/nova.c): never forwarded.
STORAGE = {
    'nova.privsep.fs.vginfo', 'nova.privsep.fs.lvlist', 'nova.privsep.fs.lvinfo',
    'nova.privsep.fs.blockdev_size', 'nova.privsep.fs.lvcreate',
    'nova.privsep.fs.lvremove', 'nova.privsep.fs.clear',
    'nova.privsep.libvirt.dmcrypt_create_volume',
    'nova.privsep.libvirt.dmcrypt_delete_volume',
}

# (pattern on a function in a chain, why such a chain is not an LVM instance's)
EXCLUDE = [
    (r'^nova\.virt\.libvirt\.imagebackend\.(Flat|Qcow2|Rbd|Ploop)\.',
     'another images_type (flat, qcow2, rbd, ploop)'),
    (r'^nova\.virt\.libvirt\.volume\.',
     'Cinder volume drivers (NFS, Quobyte, ... mounts), not ephemeral storage'),
    (r'^nova\.virt\.libvirt\.vif\.',
     'VIF types Nova plugs itself (SR-IOV macvtap, tap, legacy midonet/plumgrid/'
     'infiniband); os-vif plugs OVS and Linux bridge in its own context'),
    (r'^nova\.virt\.disk\.mount\.|^nova\.virt\.disk\.api\.(inject_data|setup_container|'
     r'teardown_container|clean_lxc_namespace|_setup_container|_inject)',
     'file injection ([libvirt] inject_partition, off by default) and LXC'),
    (r'^nova\.virt\.disk\.api\.(extend|resize2fs)$|^nova\.virt\.disk\.api\.is_image_extendable',
     None),  # shared helpers: judged by their callers, see below
    (r'ploop|^nova\.virt\.libvirt\.utils\.create_ploop_image',
     'virt_type = parallels (ploop images)'),
    (r'^nova\.virt\.libvirt\.utils\.chown_for_id_maps|idmapshift',
     'LXC user namespaces'),
    (r'vtpm|swtpm', 'vTPM (hw:tpm_version)'),
    (r'vpmem|pmem', 'virtual persistent memory (hw:pmem)'),
    (r'mdev|mediated_device', 'vGPU / mediated devices'),
    (r'^nova\.virt\.configdrive\.ConfigDriveBuilder\._make_vfat',
     'config_drive_format = vfat (default iso9660 is built unprivileged)'),
    (r'^nova\.virt\.libvirt\.driver\.LibvirtDriver\._live_snapshot|'
     r'^nova\.virt\.libvirt\.driver\.LibvirtDriver\.(_swap_volume|_rebase_with_qemu_img)',
     'live snapshot and volume swap: not used for LVM-backed disks'),
    (r'^nova\.virt\.libvirt\.driver\.LibvirtDriver\._get_luks_payload_offset|'
     r'^nova\.virt\.libvirt\.driver\.LibvirtDriver\._allow_native_luksv1|'
     r'^nova\.virt\.libvirt\.driver\.LibvirtDriver\._attach_encryptor|'
     r'^nova\.virt\.libvirt\.driver\.LibvirtDriver\._connect_volume',
     'encrypted Cinder volumes (LUKS payload offset)'),
    (r'^nova\.virt\.libvirt\.driver\.LibvirtDriver\.(_resize_attached_encrypted_volume|'
     r'extend_volume)$', 'extending an attached encrypted Cinder volume'),
]

# Reachable, but only when an option is set: the privsep function itself
# picks them (fs.configurable_mkfs calls _inner_configurable_mkfs only for an
# os_type that [DEFAULT] virt_mkfs names, and mkfs otherwise).
CONFIG_ONLY = {
    'nova.privsep.fs._inner_configurable_mkfs': '[DEFAULT] virt_mkfs set',
}
EXCLUDE = [(re.compile(p), why) for p, why in EXCLUDE]


def module_name(root, path):
    rel = os.path.relpath(path, os.path.dirname(root))[:-3].replace(os.sep, '.')
    return rel[:-len('.__init__')] if rel.endswith('.__init__') else rel


def dotted(node):
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return '.'.join(reversed(parts))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == 'super':
        return None
    return None


def is_sys_admin_entrypoint(dec):
    target = dec.func if isinstance(dec, ast.Call) else dec
    name = dotted(target) or ''
    return re.search(r'(^|\.)sys_admin_pctxt\.(entrypoint|entrypoint_with_timeout)$', name)


class Module:
    def __init__(self, name, tree):
        self.name, self.tree = name, tree
        self.aliases = {}  # local name -> qualified
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        top = a.name.split('.')[0]
                        self.aliases.setdefault(top, top)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for a in node.names:
                    self.aliases[a.asname or a.name] = node.module + '.' + a.name

    def resolve(self, name, cls):
        head, _, rest = name.partition('.')
        if head in ('self', 'cls') and cls and rest and '.' not in rest:
            return '%s.%s.%s' % (self.name, cls, rest)
        if head in self.aliases:
            return self.aliases[head] + ('.' + rest if rest else '')
        if not rest:
            return self.name + '.' + name
        return None


def functions(mod):
    """(qualified name, class name or None, node) for every def."""
    for node in mod.tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield mod.name + '.' + node.name, None, node
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    yield '%s.%s.%s' % (mod.name, node.name, sub.name), node.name, sub


def load(nova):
    mods = {}
    for dirpath, dirnames, files in os.walk(nova):
        dirnames[:] = [d for d in dirnames if d not in ('tests', '__pycache__')]
        for f in files:
            if f.endswith('.py'):
                path = os.path.join(dirpath, f)
                with open(path, encoding='utf-8') as fh:
                    tree = ast.parse(fh.read(), path)
                name = module_name(nova, path)
                mods[name] = Module(name, tree)
    return mods


def graph(mods):
    entrypoints, callers = {}, {}
    for mod in mods.values():
        for qual, cls, node in functions(mod):
            if mod.name.startswith('nova.privsep.') and any(
                    is_sys_admin_entrypoint(d) for d in node.decorator_list):
                entrypoints[qual] = node.lineno
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call):
                    name = dotted(sub.func)
                    target = name and mod.resolve(name, cls)
                    if target:
                        callers.setdefault(target, set()).add(qual)
    return entrypoints, callers


def chains(ep, callers, limit=12):
    """Caller chains from ep up to the last function with no known caller."""
    out, stack = [], [[ep]]
    while stack and len(out) < 400:
        chain = stack.pop()
        ups = [c for c in callers.get(chain[-1], ()) if c not in chain]
        if not ups or len(chain) >= limit:
            out.append(chain)
        for c in sorted(ups):
            stack.append(chain + [c])
    return out


def judge(chain):
    """None if an LVM instance can take this chain, else why not."""
    for fn in chain[1:]:
        for pat, why in EXCLUDE:
            if why and pat.search(fn):
                return why
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--nova', default='/usr/lib/python3/dist-packages/nova')
    ap.add_argument('--chains', action='store_true', help='print every caller chain')
    opt = ap.parse_args()
    mods = load(opt.nova)
    entrypoints, callers = graph(mods)
    print('# %d entrypoints in nova.privsep.sys_admin_pctxt (%s)' % (len(entrypoints), opt.nova))
    verdict = {}
    for ep in sorted(entrypoints):
        in_scope = [c for c in chains(ep, callers) if any(SCOPE.search(f) for f in c[1:])]
        kept = [c for c in in_scope if judge(c) is None]
        why = sorted({judge(c) for c in in_scope if judge(c)})
        if ep in STORAGE:
            state = 'native'
        elif kept and ep in CONFIG_ONLY:
            state = 'optional'
            why = ['only with ' + CONFIG_ONLY[ep]]
        elif kept:
            state = 'forward'
        elif in_scope:
            state = 'deny-feature'
        else:
            state = 'deny-unreached'
        verdict[ep] = state
        print('%-15s %s' % (state, ep))
        shown = kept if (kept and not opt.chains) else in_scope
        for c in shown[:None if opt.chains else 3]:
            ours = [f for f in c[1:] if SCOPE.search(f)] or c[1:]
            print('    via %s%s' % (' <- '.join(ours[:4]),
                                    '' if judge(c) is None else '   [excluded: %s]' % judge(c)))
        if (not kept or state == 'optional') and why:
            print('    only for: %s' % '; '.join(why))
    print('# forward: %d, optional: %d, native: %d, denied: %d' % (
        sum(v == 'forward' for v in verdict.values()),
        sum(v == 'optional' for v in verdict.values()),
        sum(v == 'native' for v in verdict.values()),
        sum(v.startswith('deny') for v in verdict.values())))
    return 0


if __name__ == '__main__':
    sys.exit(main())
