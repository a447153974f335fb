# shellcheck shell=bash disable=SC2154  # variables are set by tests/vm/run
# Guest init (PID 1) for tests/vm/run, which puts this after the variables
# fstab, share, repo, modules_dir, modprobe, modules, cmd and the exported
# environment.  Not run on the host.
#
# PID 1 must never exit (the kernel would panic) and must end in a forced halt,
# so there is no set -e here: each step reports its own failure.  Every exec
# costs ~30-100 ms in the guest, so builtins are used where they will do.

# The kernel starts init with a bare environment.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 TMPDIR=/tmp

warn() { echo "guest-init: $*" >&2; }

halt_guest() {
    sync    # hostfs writes sit in the guest's page cache until synced
    echo 0 >/proc/sys/kernel/printk   # hide "reboot: System halted"
    halt -f -d >/dev/null 2>&1 || poweroff -f
    echo o >/proc/sysrq-trigger
    sleep 10
}

# proc, sysfs, devpts, tmpfs on /run, /tmp, /dev/shm and the shared folder:
# one mount -a (the fstab is read before /tmp hides it).  The fstab lives in
# the shared folder, so seeing it there proves the share is mounted.
mount_filesystems() {
    mount -a -T "$fstab" && [[ -e $share/${fstab##*/} ]] || return 1
    : >"$share/started"
    # devtmpfs lacks the links udev would add; bash's <(...) needs /dev/fd.
    ln -sfn /proc/self/fd /dev/fd
    ln -sf /proc/self/fd/0 /dev/stdin
    ln -sf /proc/self/fd/1 /dev/stdout
    ln -sf /proc/self/fd/2 /dev/stderr
    mkdir -p /run/lvm /run/lock/lvm /run/cryptsetup /run/uml-modroot/lib/modules
}

# The guest's /lib/modules is the host's (and absent), so give modprobe a root
# whose lib/modules holds UML's modules; it reads modules.dep there.  The
# kernel's own module requests (say, for another cipher) go through it too.
# Tests can do the same: modprobe -d /run/uml-modroot NAME.
load_modules() {
    ln -s "$modules_dir" "/run/uml-modroot/lib/modules/$(</proc/sys/kernel/osrelease)"
    printf '#!/bin/sh\nexec %s -d /run/uml-modroot "$@"\n' "$modprobe" >/run/modprobe
    chmod +x /run/modprobe && echo /run/modprobe >/proc/sys/kernel/modprobe
    /run/modprobe -a "${modules[@]}" || warn "some kernel modules did not load"
}

# LVM with no udev and a read-only /etc/lvm: a config of our own under /run.
# Without udev_rules=0 lvcreate waits for udev to make /dev/VG/LV and fails.
setup_lvm() {
    export LVM_SYSTEM_DIR=/run/lvm
    printf '%s\n' 'devices { obtain_device_list_from_udev = 0 }' \
        'activation { udev_sync = 0  udev_rules = 0 }' >/run/lvm/lvm.conf
    # Profiles (the helper's lvm shell uses lvmdbusd's) live beside lvm.conf;
    # a copy, not a link: SELinux's lvm_t may not follow links in /run/lvm.
    cp -r /etc/lvm/profile /run/lvm/profile
}

run_command() {
    cd "$repo" || return
    # Kernel messages on the console end lines in bare \n; make the tty layer
    # match, so output copied to files carries no \r.
    stty -onlcr </dev/console 2>/dev/null
    : >"$share/running"
    (exec "${cmd[@]}") </dev/null
    echo "$?" >"$share/status"
}

if mount_filesystems; then
    echo ephcrypt-guest >/proc/sys/kernel/hostname   # instead of "(none)"
    load_modules
    setup_lvm
    run_command
else
    warn "cannot mount the host's shared folder"
fi
halt_guest
