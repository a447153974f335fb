/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox, applied once before the first request is read:
 *  0. a private mount namespace, read-only except where LVM, libdevmapper
 *     and libcryptsetup write (uid 0 still owns /etc/passwd and /proc/sys
 *     without CAP_DAC_OVERRIDE); lvm shares it;
 *  1. capabilities: keep only what device-mapper and LVM need, in every set
 *     (ambient too, so the lvm child gets exactly the same and no more), with
 *     the securebits locked so uid 0 gains nothing back on exec;
 *  2. no_new_privs, not dumpable, no core files;
 *  3. a seccomp allowlist in named groups (systemd-style), native arch only,
 *     killing the process on anything else. It is inherited by lvm.
 * Every step is fatal on failure; there is no switch that turns it off.
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/securebits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

/* Before seccomp.h, whose linux/audit.h makes AUDIT_SUCCESS and friends macros. */
#include "../audit/audit.h"

#include <cap-ng.h>
#include <seccomp.h>

#include "ops/lvm.h"
#include "sandbox.h"

/*
 * The filesystem. Every mount of a private namespace is made read-only; then
 * each folder below is bound onto itself (with its submounts, which stay
 * read-only: /dev/shm, /dev/pts) and only that bind is made writable again.
 * A missing folder is made first; one whose parent is missing, or that is
 * on a read-only mount already, is left out.
 * Writes through descriptors opened earlier (the audit log) are unaffected:
 * they belong to the host's mounts, not to the namespace's copies.
 */
#define WRITABLE_MAX 7

/* LVM's: its system dir is lvm.c's LVM_SYSTEM_DIR when lvm gets one, else /etc/lvm. */
static size_t
writable_dirs(char dirs[WRITABLE_MAX][PATH_MAX])
{
	static const char *const fixed[] = {
		"/dev",		   /* device nodes and /dev/VG links without udev */
		"/run/lock/lvm",   /* LVM's locks */
		"/run/lvm",	   /* LVM's hints */
		"/run/cryptsetup", /* libcryptsetup's locks */
	};
	const char *sys = getenv("LVM_SYSTEM_DIR");
	size_t n = 0;

	if (!sys || strlen(sys) >= LVM_SYSTEM_DIR_MAX || sys[0] != '/') /* as lvm.c passes it on */
		sys = "/etc/lvm";
	for (size_t k = 0; k < sizeof(fixed) / sizeof(fixed[0]); k++)
		snprintf(dirs[n++], PATH_MAX, "%s", fixed[k]);
	snprintf(dirs[n++], PATH_MAX, "%s/archive", sys);
	snprintf(dirs[n++], PATH_MAX, "%s/backup", sys);
	/* The audit log's: after a rotation the helper opens (creates) the log again. */
	if (audit_log_dir(dirs[n], PATH_MAX) == 0)
		n++;
	return n;
}

/* Make dir (0700, as LVM would) if missing; false if it cannot be written. */
static bool
prepare_dir(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	size_t len = slash > dir ? (size_t)(slash - dir) : 1; /* the parent of "/dev" is "/" */
	char parent[PATH_MAX];
	struct stat st;

	memcpy(parent, dir, len); /* dir is shorter than PATH_MAX */
	parent[len] = '\0';
	if (stat(parent, &st) < 0 && (errno == ENOENT || errno == ENOTDIR))
		return false;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST && errno != EROFS)
		err(1, "sandbox: cannot create %s", dir);
	/* Read-only already, even for LVM: the bind must not make it writable. */
	if (access(dir, W_OK) < 0 && (errno == EROFS || errno == ENOENT))
		return false;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
		errx(1, "sandbox: %s is not a directory", dir);
	return true;
}

static void
private_namespace(void)
{
	if (unshare(CLONE_NEWNS) < 0)
		err(1, "sandbox: unshare(CLONE_NEWNS)");
	/* Host mounts still come in (a new /dev/pts); nothing we do goes out. "none", not
	 * NULL: valgrind reads the type string even where the kernel ignores it. */
	if (mount("none", "/", "none", MS_SLAVE | MS_REC, NULL) < 0)
		err(1, "sandbox: cannot make / a recursive slave mount");
}

/* The remount mount_setattr(2) replaced; the mount's other flags are kept. */
static int
remount_bind(const char *path, bool rdonly)
{
	static const struct {
		unsigned long st, ms;
	} same[] = { { ST_NOSUID, MS_NOSUID },	       { ST_NODEV, MS_NODEV },
		     { ST_NOEXEC, MS_NOEXEC },	       { ST_NOATIME, MS_NOATIME },
		     { ST_NODIRATIME, MS_NODIRATIME }, { ST_RELATIME, MS_RELATIME } };
	unsigned long flags = MS_REMOUNT | MS_BIND | (rdonly ? MS_RDONLY : 0);
	struct statvfs sv;

	if (statvfs(path, &sv) < 0)
		return -1;
	for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++)
		if (sv.f_flag & same[k].st)
			flags |= same[k].ms;
	return mount("none", path, "none", flags, NULL);
}

/* mountinfo writes space, tab, newline and backslash as \ooo. */
static void
unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++, w++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w = (char)((s[1] - '0') << 6 | (s[2] - '0') << 3 | (s[3] - '0'));
			s += 3;
		} else {
			*w = *s;
		}
	}
	*w = '\0';
}

/* Kernels before 5.12 (and valgrind 3.19) have no mount_setattr: one mount at a time. */
static void
remount_all_rdonly(void)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char *line = NULL, mnt[PATH_MAX];
	size_t cap = 0;

	if (!f)
		err(1, "sandbox: /proc/self/mountinfo");
	while (getline(&line, &cap, f) > 0) {
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1)
			errx(1, "sandbox: cannot parse /proc/self/mountinfo");
		unescape_octal(mnt);
		/* ENOENT: a mount point deleted underneath; nothing can reach it by path. */
		if (remount_bind(mnt, true) < 0 && errno != ENOENT)
			err(1, "sandbox: cannot make %s read-only", mnt);
	}
	free(line);
	fclose(f);
}

static void
set_rdonly(const char *path, bool rdonly, bool recursive)
{
	struct mount_attr attr = { 0 };

	if (rdonly)
		attr.attr_set = MOUNT_ATTR_RDONLY;
	else
		attr.attr_clr = MOUNT_ATTR_RDONLY;
	if (mount_setattr(AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &attr, sizeof(attr)) == 0)
		return;
	if (errno != ENOSYS)
		err(1, "sandbox: cannot make %s%s %s", path,
		    recursive ? " and every mount below" : "", rdonly ? "read-only" : "writable");
	if (recursive)
		remount_all_rdonly();
	else if (remount_bind(path, rdonly) < 0)
		err(1, "sandbox: cannot make %s %s", path, rdonly ? "read-only" : "writable");
}

static void
confine_filesystem(void)
{
	char dirs[WRITABLE_MAX][PATH_MAX];
	bool found[WRITABLE_MAX];
	size_t n = writable_dirs(dirs);

	private_namespace();
	for (size_t k = 0; k < n; k++)
		found[k] = prepare_dir(dirs[k]); /* while it can still be written */
#ifdef EPHCRYPT_TEST_BUILD_WITHOUT_SECCOMP
	/* valgrind 3.19 knows no mount_setattr, and unlinks its vgdb FIFOs in /tmp at exit. */
	fprintf(stderr, "ephcrypt-helper: TEST BUILD WITH WRITABLE MOUNTS; never install it\n");
	return;
#endif
	set_rdonly("/", true, true);
	for (size_t k = 0; k < n; k++) {
		if (!found[k])
			continue;
		/* A mount of its own (a read-only copy), so that it alone can be made writable. */
		if (mount(dirs[k], dirs[k], "none", MS_BIND | MS_REC, NULL) < 0)
			err(1, "sandbox: cannot bind %s onto itself", dirs[k]);
		set_rdonly(dirs[k], false, false);
	}
}

/*
 * The capability set: none, plus one at a time. Each reason was measured in
 * the guest (storage suite, no udev, RLIMIT_MEMLOCK 8 MiB) with a helper
 * built without that one capability:
 *  CAP_SYS_ADMIN  every device-mapper ioctl (dm-ioctl.c: "only root can play
 *                 with this"). Without it DM_VERSION fails with EPERM: lvm
 *                 and libcryptsetup both give up.
 *  CAP_IPC_LOCK   the helper's mlockall(MCL_FUTURE) (keys never swapped),
 *                 made before this drop, already covers more than
 *                 RLIMIT_MEMLOCK. Without it every later mapping fails and
 *                 start-up dies building the filter. lvm gets it for its
 *                 suspend sections, which lock memory; our calls enter none.
 * Without udev, libdevmapper (in lvm and libcryptsetup) makes the
 * /dev/mapper nodes itself:
 *  CAP_MKNOD      mknod of the node. Without it lvcreate aborts ("mknod ...
 *                 Operation not permitted", "Failed to wipe start of new
 *                 LV"), and a crypt_open mapping is left with no node.
 * Not kept, measured the same way:
 *  CAP_CHOWN      libdevmapper would chown its nodes to group disk; without
 *                 it everything works and the nodes stay root:root 0660
 *                 (it logs "chown failed"). Nothing here needs group disk.
 */
static const unsigned base_caps[] = { CAP_SYS_ADMIN, CAP_IPC_LOCK };
static const unsigned no_udev_caps[] = { CAP_MKNOD };

static bool
sandbox_udev_running(void)
{
	struct stat st;

	return stat("/run/udev/control", &st) == 0;
}

/*
 * Ambient capabilities must also be inheritable (a kernel invariant), so the
 * inheritable set holds exactly the kept set and nothing else.
 */
static void
keep(const unsigned *caps, size_t n)
{
	for (size_t k = 0; k < n; k++)
		if (capng_update(CAPNG_ADD,
				 CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_INHERITABLE |
					 CAPNG_BOUNDING_SET | CAPNG_AMBIENT,
				 caps[k]) < 0)
			errx(1, "sandbox: cannot keep capability %u", caps[k]);
}

static void
set_securebits(unsigned long bits, const char *what)
{
	if (prctl(PR_SET_SECUREBITS, bits) < 0)
		err(1, "sandbox: PR_SET_SECUREBITS (%s)", what);
}

#define SECBITS_NOROOT                                                                             \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                           \
	 SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS | SECBIT_KEEP_CAPS_LOCKED)

static void
drop_capabilities(void)
{
	/* uid 0 gains nothing back on exec: lvm runs with the ambient set only. */
	set_securebits(SECBITS_NOROOT, "noroot");
	capng_clear(CAPNG_SELECT_ALL);
	keep(base_caps, sizeof(base_caps) / sizeof(base_caps[0]));
	if (!sandbox_udev_running())
		keep(no_udev_caps, sizeof(no_udev_caps) / sizeof(no_udev_caps[0]));
	/* CAP_SETPCAP only until the securebits are final; never in bounding or ambient. */
	if (capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SETPCAP) < 0 ||
	    capng_apply(CAPNG_SELECT_ALL) < 0)
		errx(1, "sandbox: cannot apply the capability sets");
	set_securebits(SECBITS_NOROOT | SECBIT_NO_CAP_AMBIENT_RAISE |
			       SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED,
		       "ambient lock");
	if (capng_update(CAPNG_DROP, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_SETPCAP) < 0 ||
	    capng_apply(CAPNG_SELECT_CAPS) < 0)
		errx(1, "sandbox: cannot drop CAP_SETPCAP");
}

static void
harden_process(void)
{
	struct rlimit none = { 0, 0 };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		err(1, "sandbox: PR_SET_NO_NEW_PRIVS");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		err(1, "sandbox: PR_SET_DUMPABLE");
	if (setrlimit(RLIMIT_CORE, &none) < 0)
		err(1, "sandbox: RLIMIT_CORE");
}

/* Add every syscall of every group; names unknown on this arch are skipped. */
static void
add_groups(scmp_filter_ctx ctx)
{
	for (size_t g = 0; g < sandbox_groups_len; g++)
		for (const char *const *s = sandbox_groups[g].syscalls; *s; s++) {
			int nr = seccomp_syscall_resolve_name(*s);

			if (nr == __NR_SCMP_ERROR)
				continue; /* only ever makes the filter stricter */
			if (seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0) < 0)
				errx(1, "sandbox: cannot allow %s", *s);
		}
	for (size_t k = 0; k < sandbox_errno_len; k++) {
		int nr = seccomp_syscall_resolve_name(sandbox_errno[k].name);

		if (nr != __NR_SCMP_ERROR &&
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)sandbox_errno[k].err), nr, 0) <
			    0)
			errx(1, "sandbox: cannot add errno rule for %s", sandbox_errno[k].name);
	}
}

scmp_filter_ctx
sandbox_filter(uint32_t default_action)
{
	scmp_filter_ctx ctx = seccomp_init(default_action);

	if (!ctx)
		errx(1, "sandbox: seccomp_init");
	/* Native arch only: a foreign-arch syscall is killed, not translated. */
	if (seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS) < 0)
		errx(1, "sandbox: SCMP_FLTATR_ACT_BADARCH");
	add_groups(ctx);
	sandbox_add_arg_rules(ctx);
	return ctx;
}

static void
sandbox_seccomp(void)
{
#ifdef EPHCRYPT_TEST_BUILD_WITHOUT_SECCOMP
	/* valgrind cannot emulate seccomp(2): only `make check-valgrind` builds this. */
	fprintf(stderr, "ephcrypt-helper: TEST BUILD WITHOUT SECCOMP; never install it\n");
#else
	scmp_filter_ctx ctx = sandbox_filter(SANDBOX_DEFAULT_ACTION);
	int rc = seccomp_load(ctx);

	seccomp_release(ctx);
	if (rc < 0)
		errx(1, "sandbox: cannot load the seccomp filter: %s", strerror(-rc));
#endif
}

void
sandbox_apply(void)
{
	/* First: mount and unshare need the full CAP_SYS_ADMIN and no seccomp filter yet. */
	confine_filesystem();
	drop_capabilities();
	harden_process();
	sandbox_seccomp();
}
