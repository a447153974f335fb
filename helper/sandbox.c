/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The sandbox, applied once before the first request is read:
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
#include <linux/securebits.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cap-ng.h>
#include <seccomp.h>

#include "sandbox.h"

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

#define SECBITS_NOROOT                                                                      \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                    \
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
		    seccomp_rule_add(ctx, SCMP_ACT_ERRNO((uint32_t)sandbox_errno[k].err), nr, 0) < 0)
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
sandbox_apply(const struct options *opt)
{
	(void)opt;
	drop_capabilities();
	harden_process();
	sandbox_seccomp();
}
