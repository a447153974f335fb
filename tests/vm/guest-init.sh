# Guest init (PID 1) for tests/vm/run, which prepends the variables host_share,
# repo, modules_dir, modprobe, modules, cmd and the exported environment.
# Not run on the host.
#
# PID 1 must never exit (the kernel would panic) and must end in a forced halt,
# so there is no set -e here: each step reports its own failure.

# The kernel starts init with a bare environment.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/tmp LANG=C.UTF-8 TMPDIR=/tmp
share=/run/ephcrypt-vm

halt_guest() {
    sync    # hostfs writes sit in the guest's page cache until synced
    halt -f -d >/dev/null 2>&1 || poweroff -f
    echo o >/proc/sysrq-trigger
    sleep 10
}

warn() { echo "guest-init: $*" >&2; }

mount_filesystems() {
    mount -t proc proc /proc
    mount -t sysfs sysfs /sys
    # Writable places on the read-only host root.
    mount -t tmpfs -o mode=0755 tmpfs /run
    mkdir -p "$share" && mount -t hostfs none "$share" -o "$host_share" || return 1
    : >"$share/started"
    mount -t tmpfs -o mode=1777 tmpfs /tmp
    mkdir -p /dev/shm /dev/pts
    mount -t tmpfs -o mode=1777 tmpfs /dev/shm
    mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
}

load_modules() {
    local m
    for m in "${modules[@]}"; do
        insmod "$m" || warn "cannot load ${m##*/}"
    done
}

# Let the kernel load other modules on demand (say, another cipher).  It runs
# the host's modprobe, which looks in /lib/modules/VERSION on the read-only
# host root; give it a root whose lib/modules holds UML's modules instead.
# Tests can do the same: modprobe -d /run/uml-modroot NAME.
enable_module_autoload() {
    mkdir -p /run/uml-modroot/lib/modules &&
        ln -s "$modules_dir" "/run/uml-modroot/lib/modules/$(uname -r)" &&
        printf '#!/bin/sh\nexec %s -d /run/uml-modroot "$@"\n' "$modprobe" >/run/modprobe &&
        chmod +x /run/modprobe &&
        echo /run/modprobe >/proc/sys/kernel/modprobe ||
        warn "cannot set up module autoloading"
}

# LVM without udev and with a read-only /etc: our own config under /run.
setup_lvm() {
    export LVM_SYSTEM_DIR=/run/lvm
    mkdir -p /run/lvm /run/lock/lvm /run/cryptsetup
    cat >/run/lvm/lvm.conf <<'EOF'
devices {
    obtain_device_list_from_udev = 0
}
activation {
    udev_sync = 0
    udev_rules = 0
}
EOF
}

run_command() {
    cd "$repo" || return
    # Kernel console output uses bare \n; make the tty layer match so host logs
    # carry no \r.
    stty -onlcr </dev/console 2>/dev/null
    : >"$share/running"
    (exec "${cmd[@]}") </dev/null
    echo "$?" >"$share/status.tmp" && mv "$share/status.tmp" "$share/status"
}

if mount_filesystems; then
    hostname ephcrypt-guest
    load_modules
    enable_module_autoload
    setup_lvm
    run_command
else
    warn "cannot mount the host's shared folder $host_share"
fi
halt_guest
