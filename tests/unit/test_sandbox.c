/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp filter (helper/sandbox.c, helper/syscalls.c), kept honest as
 * systemd's test-seccomp and bubblewrap's try-syscall.c do:
 *  - shape: groups sorted by name, each with a help line; syscalls sorted
 *    within a group, none listed twice, every name known on x86_64;
 *  - death: for each forbidden syscall a child loads the real filter and
 *    makes the call with a bad fd, pointer or flag, so that it would fail
 *    harmlessly if it were allowed; it must die of SIGSYS instead;
 *  - errno section: the filter's own errno, chosen so the kernel would have
 *    answered something else for the same arguments;
 *  - positive controls: what the helper and lvm need still works.
 * Capabilities are not dropped here: the filter alone must do the refusing.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <linux/blkpg.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <seccomp.h>

#include "../../helper/sandbox.h"

#define BADFD		(-1L)
#define X32_SYSCALL_BIT 0x40000000L

/* --- running one call under the filter ------------------------------------ */

struct outcome {
	bool loaded;   /* the filter was loaded before the call */
	bool returned; /* the call returned (the child was not killed by it) */
	long ret;
	int err;
	int status; /* the child's wait status */
};

typedef long (*probe_fn)(const void *arg);

/*
 * Fork; the child sets no_new_privs, turns off core dumps (SIGSYS from
 * KILL_PROCESS would otherwise dump), loads the filter built here in the
 * parent, reports that it did, makes the call and reports its result.
 */
static struct outcome
under_filter(probe_fn fn, const void *arg)
{
	scmp_filter_ctx ctx = sandbox_filter(SCMP_ACT_KILL_PROCESS);
	struct outcome o = { 0 };
	struct {
		long ret;
		int err;
	} res;
	int p[2];
	char mark;
	pid_t pid;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0, "pipe2: %s", strerror(errno));
	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		struct rlimit none = { 0, 0 };

		close(p[0]);
		if (setrlimit(RLIMIT_CORE, &none) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 ||
		    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_load(ctx) < 0)
			_exit(120);
		mark = 'L';
		if (write(p[1], &mark, 1) != 1)
			_exit(121);
		errno = 0;
		res.ret = fn(arg);
		res.err = errno;
		_exit(write(p[1], &res, sizeof(res)) == (ssize_t)sizeof(res) ? 0 : 122);
	}
	seccomp_release(ctx);
	close(p[1]);
	o.loaded = read(p[0], &mark, 1) == 1 && mark == 'L';
	o.returned = read(p[0], &res, sizeof(res)) == (ssize_t)sizeof(res);
	close(p[0]);
	cr_assert_eq(waitpid(pid, &o.status, 0), pid, "waitpid: %s", strerror(errno));
	if (o.returned) {
		o.ret = res.ret;
		o.err = res.err;
	}
	return o;
}

static const char *
describe(const struct outcome *o, char *buf, size_t cap)
{
	if (!o->loaded)
		snprintf(buf, cap, "the filter did not load (wait status 0x%x)", o->status);
	else if (o->returned)
		snprintf(buf, cap, "the call returned %ld (errno %d, %s)", o->ret, o->err,
			 strerror(o->err));
	else if (WIFSIGNALED(o->status))
		snprintf(buf, cap, "the child died of signal %d (%s)", WTERMSIG(o->status),
			 strsignal(WTERMSIG(o->status)));
	else
		snprintf(buf, cap, "the child exited with status %d", WEXITSTATUS(o->status));
	return buf;
}

static bool
killed_by_filter(const struct outcome *o)
{
	return o->loaded && !o->returned && WIFSIGNALED(o->status) && WTERMSIG(o->status) == SIGSYS;
}

/* --- the probes -------------------------------------------------------------- */

struct probe {
	const char *what; /* the call as written below */
	const char *why;  /* why the helper and lvm must never make it */
	long nr;
	long args[6];
	int err; /* the errno expected, where the call must return */
};

static long
raw_syscall(const void *arg)
{
	const struct probe *c = arg;
	const long *a = c->args;

	return syscall(c->nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}

static struct outcome
run_call(const struct probe *c)
{
	return under_filter(raw_syscall, c);
}

static void
expect_killed(const struct probe *calls, size_t n)
{
	char why[160];

	for (size_t k = 0; k < n; k++) {
		struct outcome o = run_call(&calls[k]);

		cr_expect(killed_by_filter(&o), "%s must be killed with SIGSYS (%s), but %s",
			  calls[k].what, calls[k].why, describe(&o, why, sizeof(why)));
	}
}

TestSuite(sandbox, .timeout = 60);

/* Skip when this kernel or libseccomp cannot do what the helper does. */
static void
require_seccomp(void)
{
	if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0 && errno == EINVAL)
		cr_skip_test("the kernel has no seccomp");
	if (seccomp_api_get() < 3)
		cr_skip_test("libseccomp API level %u: no SCMP_ACT_KILL_PROCESS",
			     seccomp_api_get());
}

/* --- shape (systemd's filter_sets_ordered) ------------------------------------ */

static const char *const arg_pinned[] = { "clone",  "ioctl",	  "prctl",
					  "socket", "socketpair", "tgkill" };

static bool
resolves(const char *name)
{
	return seccomp_syscall_resolve_name_arch(SCMP_ARCH_X86_64, name) != __NR_SCMP_ERROR;
}

Test(sandbox, groups_sorted_by_name_with_help)
{
	cr_assert_gt(sandbox_groups_len, 0);
	for (size_t g = 0; g < sandbox_groups_len; g++) {
		const struct syscall_group *grp = &sandbox_groups[g];

		cr_expect(grp->name && grp->name[0] == '@', "group %zu: name must start with '@'",
			  g);
		cr_expect(grp->help && grp->help[0], "group %s has no help line", grp->name);
		cr_expect(grp->syscalls && grp->syscalls[0], "group %s is empty", grp->name);
		if (g > 0)
			cr_expect_lt(strcmp(sandbox_groups[g - 1].name, grp->name), 0,
				     "groups out of order: %s before %s",
				     sandbox_groups[g - 1].name, grp->name);
	}
}

Test(sandbox, syscalls_sorted_unique_and_known_on_x86_64)
{
	for (size_t g = 0; g < sandbox_groups_len; g++) {
		const struct syscall_group *grp = &sandbox_groups[g];

		for (const char *const *s = grp->syscalls; *s; s++) {
			cr_expect(resolves(*s), "%s in %s is not a syscall on x86_64", *s,
				  grp->name);
			if (s != grp->syscalls)
				cr_expect_lt(strcmp(s[-1], *s), 0,
					     "%s: '%s' must come before '%s' (sorted, no repeats)",
					     grp->name, *s, s[-1]);
			/* Every later group: no name may be allowed twice. */
			for (size_t h = g + 1; h < sandbox_groups_len; h++)
				for (const char *const *t = sandbox_groups[h].syscalls; *t; t++)
					cr_expect_str_neq(*s, *t, "%s is in both %s and %s", *s,
							  grp->name, sandbox_groups[h].name);
		}
	}
}

/* A group entry for an arg-pinned or errno syscall would silently undo its rule. */
Test(sandbox, pinned_and_errno_syscalls_are_in_no_group)
{
	const char *special[sizeof(arg_pinned) / sizeof(arg_pinned[0]) + 8];
	size_t n = 0;

	for (size_t k = 0; k < sizeof(arg_pinned) / sizeof(arg_pinned[0]); k++)
		special[n++] = arg_pinned[k];
	cr_assert_leq(sandbox_errno_len, 8);
	for (size_t k = 0; k < sandbox_errno_len; k++) {
		cr_expect(resolves(sandbox_errno[k].name), "errno entry %s is not a syscall",
			  sandbox_errno[k].name);
		cr_expect(sandbox_errno[k].err > 0 && sandbox_errno[k].why &&
				  sandbox_errno[k].why[0],
			  "errno entry %s needs an errno and a reason", sandbox_errno[k].name);
		special[n++] = sandbox_errno[k].name;
	}
	for (size_t g = 0; g < sandbox_groups_len; g++)
		for (const char *const *s = sandbox_groups[g].syscalls; *s; s++)
			for (size_t k = 0; k < n; k++)
				cr_expect_str_neq(
					*s, special[k],
					"%s is in %s but has its own rule (args or errno)", *s,
					sandbox_groups[g].name);
}

/* The count the report quotes; also a tripwire for an accidental mass addition. */
Test(sandbox, allowlist_size)
{
	size_t n = 0;

	for (size_t g = 0; g < sandbox_groups_len; g++)
		for (const char *const *s = sandbox_groups[g].syscalls; *s; s++)
			n++;
	cr_log_info("allowlist: %zu syscalls in %zu groups + %zu arg-pinned = %zu allowed; "
		    "%zu answered with an errno",
		    n, sandbox_groups_len, sizeof(arg_pinned) / sizeof(arg_pinned[0]),
		    n + sizeof(arg_pinned) / sizeof(arg_pinned[0]), sandbox_errno_len);
	cr_expect_leq(n, 150, "the allowlist grew to %zu syscalls: review it", n);
}

/* --- forbidden: the child dies of SIGSYS ------------------------------------- */

#define CALL(name, why, ...)                                                                       \
	{                                                                                          \
#name "(" #__VA_ARGS__ ")", why, SYS_##name, { __VA_ARGS__ }, 0                    \
	}

Test(sandbox, kernel_code_boot_and_swap_are_killed, .init = require_seccomp)
{
	static const struct probe calls[] = {
		CALL(init_module, "loads kernel code", 0, 0, 0),
		CALL(finit_module, "loads kernel code", BADFD, 0, 0),
		CALL(delete_module, "unloads kernel code", 0, 0),
		CALL(kexec_load, "replaces the kernel", 0, 1000, 0, 0),
		CALL(kexec_file_load, "replaces the kernel", BADFD, BADFD, 0, 0, 0),
		CALL(reboot, "stops the machine", 0, 0, 0, 0),
		CALL(swapon, "writes memory (keys) to a disk", 0, 0),
		CALL(swapoff, "changes the machine's swap", 0),
		CALL(bpf, "loads kernel programs", -1, 0, 0),
		CALL(perf_event_open, "observes other processes", 0, 0, -1, -1, 0),
		CALL(iopl, "raw port I/O", 99),
		CALL(ioperm, "raw port I/O", 0, 0, 0),
		CALL(acct, "changes process accounting", 1),
		CALL(syslog, "reads or clears the kernel log", 99, 0, 0),
		CALL(settimeofday, "sets the clock", 0, 0),
		CALL(clock_settime, "sets the clock", -1, 0),
		CALL(sethostname, "renames the host", 0, -1),
		CALL(quotactl, "changes disk quotas", 0, 0, 0, 0),
	};

	expect_killed(calls, sizeof(calls) / sizeof(calls[0]));
}

Test(sandbox, mounts_are_killed, .init = require_seccomp)
{
	static const struct probe calls[] = {
		CALL(mount, "changes what files are", 0, 0, 0, 0, 0),
		CALL(umount2, "changes what files are", 0, 0),
		CALL(pivot_root, "changes the root", 0, 0),
		CALL(chroot, "changes the root", 0),
		CALL(fsopen, "the new mount API", 0, 0),
		CALL(fspick, "the new mount API", BADFD, 0, 0),
		CALL(fsconfig, "the new mount API", BADFD, 0, 0, 0, 0),
		CALL(fsmount, "the new mount API", BADFD, 0, 0),
		CALL(move_mount, "the new mount API", BADFD, 0, BADFD, 0, 0),
		CALL(open_tree, "the new mount API", BADFD, 0, 0),
		CALL(mount_setattr, "the new mount API", BADFD, 0, 0, 0, 0),
		CALL(open_by_handle_at, "opens files around path checks (shocker)", BADFD, 0, 0),
		CALL(name_to_handle_at, "file handles: only useful with open_by_handle_at", BADFD,
		     0, 0, 0, 0),
	};

	expect_killed(calls, sizeof(calls) / sizeof(calls[0]));
}

/* clone is allowed for fork and threads, never with a namespace flag. */
Test(sandbox, namespaces_are_killed, .init = require_seccomp)
{
	/* CLONE_THREAD without CLONE_SIGHAND: EINVAL, should the filter let it through. */
#define CLONE_NS(flag)                                                                             \
	{                                                                                          \
		"clone(" #flag " | CLONE_THREAD)", "a new namespace", SYS_clone,                   \
			{ flag | CLONE_THREAD }, 0                                                 \
	}
	static const struct probe calls[] = {
		CALL(unshare, "new namespaces", -1),
		CALL(setns, "enters other namespaces", BADFD, 0),
		CLONE_NS(CLONE_NEWUSER),
		CLONE_NS(CLONE_NEWNS),
		CLONE_NS(CLONE_NEWPID),
		CLONE_NS(CLONE_NEWNET),
		CLONE_NS(CLONE_NEWIPC),
		CLONE_NS(CLONE_NEWUTS),
		CLONE_NS(CLONE_NEWCGROUP),
	};
#undef CLONE_NS

	expect_killed(calls, sizeof(calls) / sizeof(calls[0]));
}

Test(sandbox, tracing_and_other_processes_are_killed, .init = require_seccomp)
{
	static const struct probe calls[] = {
		CALL(ptrace, "reads and changes other processes", PTRACE_PEEKDATA, 0, 0, 0),
		CALL(process_vm_readv, "reads other processes", 0, 0, 0, 0, 0, 0),
		CALL(process_vm_writev, "changes other processes", 0, 0, 0, 0, 0, 0),
		CALL(kcmp, "compares other processes' files", 0, 0, -1, 0, 0),
		CALL(pidfd_open, "handles on other processes", -1, 0),
		CALL(pidfd_getfd, "steals other processes' descriptors", BADFD, BADFD, 0),
		CALL(process_madvise, "changes other processes' memory", BADFD, 0, 0, 0, 0),
		CALL(personality, "turns off ASLR (even a query is refused)", 0xffffffff),
		CALL(userfaultfd, "stalls the kernel at will (exploit aid)", -1),
		CALL(io_uring_setup, "a second syscall interface, unfiltered", 0, 0),
		CALL(modify_ldt, "16-bit segments (exploit aid)", 99, 0, 0),
		CALL(seccomp, "a new filter could hide calls", 99, 0, 0),
		CALL(execveat, "exec by descriptor; lvm is exec'd by path", BADFD, 0, 0, 0, 0),
		CALL(memfd_create, "anonymous executable files", 0, 0),
	};

	expect_killed(calls, sizeof(calls) / sizeof(calls[0]));
}

Test(sandbox, identity_and_keyring_changes_are_killed, .init = require_seccomp)
{
	static const struct probe calls[] = {
		CALL(setresuid, "changes identity (even a no-op)", -1, -1, -1),
		CALL(setresgid, "changes identity (even a no-op)", -1, -1, -1),
		CALL(setuid, "changes identity", -1),
		CALL(setgroups, "changes groups", -1, 0),
		CALL(capset, "capabilities are final once sandboxed", 0, 0),
		CALL(add_key, "the kernel keyring is not used", 0, 0, 0, 0, 0),
		CALL(keyctl, "the kernel keyring is not used", -1, 0, 0, 0, 0),
		CALL(request_key, "the kernel keyring is not used", 0, 0, 0, 0),
	};

	expect_killed(calls, sizeof(calls) / sizeof(calls[0]));
}

/*
 * No kill at all: the lvm child is signalled through its pidfd. tgkill
 * reaches only the thread group that built the filter (the test process,
 * the probe's parent); probes signal 0, so one let through would do nothing.
 */
Test(sandbox, signals_to_other_processes_are_killed, .init = require_seccomp)
{
	static const struct probe calls[] = {
		CALL(kill, "pid -1 signals every process uid 0 may signal", -1, 0),
		CALL(kill, "a negative pid signals a whole process group", -2, 0),
		CALL(kill, "pid 1, init", 1, 0),
		CALL(kill, "pid 0, our own process group", 0, 0),
		CALL(kill, "the kernel reads only the low half: pid 1", (1L << 32) | 1, 0),
		CALL(tkill, "a thread by its id alone", 1, 0),
		CALL(tgkill, "another thread group: init", 1, 1, 0),
		CALL(tgkill, "the low half is pid 1", (1L << 32) | 1, 1, 0),
		CALL(rt_sigqueueinfo, "a signal with data to init", 1, 0, 0),
	};

	expect_killed(calls, sizeof(calls) / sizeof(calls[0]));
}

/* socket() and socketpair() are pinned to AF_UNIX; AF_ALG is in the errno section. */
Test(sandbox, network_is_killed, .init = require_seccomp)
{
	/* A type of -1 would be EINVAL, should the filter let it through. */
	static const struct probe calls[] = {
		CALL(socket, "IPv4 network", AF_INET, -1, 0),
		CALL(socket, "IPv6 network", AF_INET6, -1, 0),
		CALL(socket,
		     "netlink: neither the helper nor lvm (udev_sync uses semaphores) needs it",
		     AF_NETLINK, -1, 0),
		CALL(socket, "raw packets", AF_PACKET, -1, 0),
		CALL(socket, "host-guest sockets", AF_VSOCK, -1, 0),
		CALL(socketpair, "only AF_UNIX pairs", AF_INET, -1, 0, 0),
		CALL(bind, "the helper serves one inherited channel", BADFD, 0, 0),
		CALL(listen, "the helper serves one inherited channel", BADFD, 0),
		CALL(accept4, "the helper serves one inherited channel", BADFD, 0, 0, 0),
	};

	expect_killed(calls, sizeof(calls) / sizeof(calls[0]));
}

/*
 * ioctl is allowed for device-mapper (0xfd), six named read-only block
 * queries, BLKZEROOUT (lvcreate's wipe), TCGETS and TIOCGWINSZ: nothing else
 * that changes a block device.
 */
Test(sandbox, other_ioctls_are_killed, .init = require_seccomp)
{
	static const struct probe calls[] = {
		CALL(ioctl, "TIOCSTI pushes input into a terminal", BADFD, TIOCSTI, 0),
		CALL(ioctl, "TIOCLINUX reads the console", BADFD, TIOCLINUX, 0),
		CALL(ioctl, "TIOCSETD changes the line discipline", BADFD, TIOCSETD, 0),
		CALL(ioctl, "LOOP_SET_FD: no loop devices", BADFD, 0x4c00, 0),
		CALL(ioctl, "FICLONE: no file ioctls", BADFD, FICLONE, 0),
		CALL(ioctl, "SIOCGIFCONF: no socket ioctls", BADFD, 0x8912, 0),
		CALL(ioctl, "BLKDISCARD throws data away", BADFD, BLKDISCARD, 0),
		CALL(ioctl, "BLKSECDISCARD throws data away", BADFD, BLKSECDISCARD, 0),
		CALL(ioctl, "BLKPG changes partitions", BADFD, BLKPG, 0),
		CALL(ioctl, "BLKRRPART rereads partitions", BADFD, BLKRRPART, 0),
		CALL(ioctl, "BLKROSET flips a device read-write", BADFD, BLKROSET, 0),
		CALL(ioctl, "BLKFLSBUF drops a device's cache", BADFD, BLKFLSBUF, 0),
		CALL(ioctl, "BLKRASET changes read-ahead", BADFD, BLKRASET, 0),
		CALL(ioctl, "BLKBSZSET changes the block size", BADFD, BLKBSZSET, 0),
		CALL(ioctl, "an unnamed block ioctl (type 0x12, number 200)", BADFD, _IO(0x12, 200),
		     0),
	};

	expect_killed(calls, sizeof(calls) / sizeof(calls[0]));
}

/* prctl is allowed for a fixed list of options; these change the sandbox itself. */
Test(sandbox, other_prctls_are_killed, .init = require_seccomp)
{
	static const struct probe calls[] = {
		CALL(prctl, "PR_SET_DUMPABLE would allow ptrace and cores", PR_SET_DUMPABLE, 5, 0,
		     0, 0),
		CALL(prctl, "PR_CAPBSET_DROP: the bounding set is final", PR_CAPBSET_DROP, 1000, 0,
		     0, 0),
		CALL(prctl, "PR_SET_SECUREBITS: the securebits are locked", PR_SET_SECUREBITS, -1,
		     0, 0, 0),
		CALL(prctl, "PR_SET_SECCOMP: no second filter", PR_SET_SECCOMP, 99, 0, 0, 0),
		CALL(prctl, "PR_SET_PTRACER opens the helper to ptrace", PR_SET_PTRACER, -2, 0, 0,
		     0),
		CALL(prctl, "PR_SET_MM rewrites the process's memory map", PR_SET_MM, 99, 0, 0, 0),
	};

	expect_killed(calls, sizeof(calls) / sizeof(calls[0]));
}

/* --- foreign arches: SCMP_FLTATR_ACT_BADARCH ---------------------------------- */

/* getpid through the i386 entry point (int $0x80 works from 64-bit code). */
static long
i386_getpid(const void *arg)
{
	long ret = 20; /* __NR_getpid on i386 */

	(void)arg;
	__asm__ volatile("int $0x80" : "+a"(ret) : : "r8", "r9", "r10", "r11", "memory", "cc");
	return ret;
}

static long
x32_getpid(const void *arg)
{
	(void)arg;
	return syscall(X32_SYSCALL_BIT | SYS_getpid);
}

/* Without a filter, does int $0x80 reach the kernel (IA32 emulation on)? */
static bool
i386_entry_works(void)
{
	int status;
	pid_t pid = fork();

	cr_assert_geq(pid, 0, "fork");
	if (pid == 0)
		_exit(i386_getpid(NULL) == (long)getpid() ? 0 : 1);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

Test(sandbox, i386_syscall_is_killed, .init = require_seccomp)
{
	char why[160];
	struct outcome o;

	if (!i386_entry_works())
		cr_skip_test("this kernel runs no i386 syscalls (IA32 emulation off)");
	o = under_filter(i386_getpid, NULL);
	cr_expect(killed_by_filter(&o),
		  "i386 getpid via int $0x80 must be killed (foreign arch), but %s",
		  describe(&o, why, sizeof(why)));
}

Test(sandbox, x32_syscall_is_killed, .init = require_seccomp)
{
	char why[160];
	struct outcome o = under_filter(x32_getpid, NULL);

	cr_expect(killed_by_filter(&o), "x32 getpid must be killed (foreign ABI), but %s",
		  describe(&o, why, sizeof(why)));
}

/* --- the errno section -------------------------------------------------------- */

#define ERRNO_CALL(e, name, why, ...)                                                              \
	{                                                                                          \
#name "(" #__VA_ARGS__ ")", why, SYS_##name, { __VA_ARGS__ }, e                    \
	}

Test(sandbox, errno_answers, .init = require_seccomp)
{
	/* With these arguments the kernel itself would say EINVAL, EINVAL, EBADF and EINVAL. */
	static const struct probe calls[] = {
		ERRNO_CALL(ENOSYS, clone3,
			   "glibc then falls back to clone, whose flags are checked", 0, 0),
		ERRNO_CALL(EAFNOSUPPORT, socket, "libcryptsetup copes without the crypto API",
			   AF_ALG, -1, 0),
		ERRNO_CALL(ENOTTY, ioctl, "FDGETFDCSTAT: LVM asks every disk if it is a floppy",
			   BADFD, 0x0215, 0),

	};
	char why[160];

	for (size_t k = 0; k < sizeof(calls) / sizeof(calls[0]); k++) {
		struct outcome o = run_call(&calls[k]);

		cr_expect(o.returned && o.ret == -1 && o.err == calls[k].err,
			  "%s must fail with %s (%s), but %s", calls[k].what,
			  strerror(calls[k].err), calls[k].why, describe(&o, why, sizeof(why)));
	}
}

/* --- positive controls: allowed calls are not killed -------------------------- */

/* The kernel's answer for a bad fd or pointer: the filter let the call through. */
Test(sandbox, allowed_calls_reach_the_kernel, .init = require_seccomp)
{
	static const struct probe calls[] = {
		ERRNO_CALL(EBADF, write, "the channel", BADFD, 0, 0),
		ERRNO_CALL(EBADF, read, "the channel", BADFD, 0, 0),
		ERRNO_CALL(EBADF, fstat, "everywhere", BADFD, 0),
		ERRNO_CALL(EBADF, ioctl, "DM_VERSION: device-mapper", BADFD, 0xc138fd00, 0),
		ERRNO_CALL(EBADF, ioctl, "BLKGETSIZE64: block devices", BADFD, BLKGETSIZE64, 0),
		ERRNO_CALL(EBADF, ioctl, "BLKSSZGET: lvm's scan", BADFD, BLKSSZGET, 0),
		ERRNO_CALL(EBADF, ioctl, "BLKPBSZGET: lvm's scan", BADFD, BLKPBSZGET, 0),
		ERRNO_CALL(EBADF, ioctl, "BLKROGET: libcryptsetup", BADFD, BLKROGET, 0),
		ERRNO_CALL(EBADF, ioctl, "BLKRAGET: lvm's activation", BADFD, BLKRAGET, 0),
		ERRNO_CALL(EBADF, ioctl, "BLKZEROOUT: lvcreate's wipe of the new LV's start", BADFD,
			   BLKZEROOUT, 0),
		ERRNO_CALL(EBADF, ioctl, "TCGETS: isatty()", BADFD, 0x5401, 0),
		ERRNO_CALL(EBADF, ioctl, "TIOCGWINSZ: lvm's terminal width", BADFD, 0x5413, 0),
		ERRNO_CALL(EFAULT, semop, "libdevmapper's udev cookies", 0, 0, 1),
		ERRNO_CALL(EBADF, connect, "syslog's /dev/log", BADFD, 0, 0),
		ERRNO_CALL(EFAULT, io_setup, "LVM's aio scanning", 1, 0),
		ERRNO_CALL(EFAULT, mknod, "/dev/mapper nodes without udev", 0, 0, 0),
		ERRNO_CALL(EBADF, pidfd_send_signal, "a timed-out lvm child, by its pidfd", BADFD,
			   0, 0, 0),
	};
	char why[160];

	for (size_t k = 0; k < sizeof(calls) / sizeof(calls[0]); k++) {
		struct outcome o = run_call(&calls[k]);

		cr_expect(o.returned && o.ret == -1 && o.err == calls[k].err,
			  "%s must reach the kernel and fail with %s (%s), but %s", calls[k].what,
			  strerror(calls[k].err), calls[k].why, describe(&o, why, sizeof(why)));
	}
}

static long
do_getpid(const void *arg)
{
	(void)arg;
	return getpid();
}

/* arg: the write end of a pipe the parent reads. */
static long
write_pipe(const void *arg)
{
	return write(*(const int *)arg, "ok", 2);
}

/* The filter was built by the probe's parent: its thread group is the one tgkill may reach. */
static long
tgkill_builder(const void *arg)
{
	(void)arg;
	return syscall(SYS_tgkill, getppid(), getppid(), 0);
}

/* As lvm.c runs lvm: a child with a pidfd from clone (CLONE_PIDFD), killed through it. */
static long
kill_child_by_pidfd(const void *arg)
{
	int pidfd = -1, status;
	pid_t pid = (pid_t)syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, 0, 0);

	(void)arg;
	if (pid == 0)
		for (;;)
			sleep(60);
	if (pid < 0 || syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0) < 0 ||
	    waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL ? 0 : -1;
}

static long
unix_socket(const void *arg)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int sv[2];

	(void)arg;
	if (fd < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	return 0;
}

static long
allowed_prctls(const void *arg)
{
	char name[16];

	(void)arg;
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 ||
	    prctl(PR_SET_NAME, "sandbox-test", 0, 0, 0) < 0 ||
	    prctl(PR_GET_NAME, name, 0, 0, 0) < 0)
		return -1;
	return 0;
}

/* glibc's fork() is clone(SIGCHLD): allowed; the grandchild runs under the filter too. */
static long
fork_and_wait(const void *arg)
{
	int status;
	pid_t pid = fork();

	(void)arg;
	if (pid == 0)
		_exit(7);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void *
thread_main(void *arg)
{
	return arg;
}

/* pthread_create tries clone3 (ENOSYS from the filter), then clone with CLONE_THREAD. */
static long
start_thread(const void *arg)
{
	pthread_t t;
	void *ret = NULL;

	(void)arg;
	if (pthread_create(&t, NULL, thread_main, (void *)42) != 0 || pthread_join(t, &ret) != 0)
		return -1;
	return (long)ret;
}

/* execve is allowed (lvm): a dynamic binary starts and exits under the inherited filter. */
static long
exec_true(const void *arg)
{
	static char *const argv[] = { "true", NULL };
	static char *const envp[] = { NULL };
	int status;
	pid_t pid = fork();

	(void)arg;
	if (pid == 0) {
		execve("/bin/true", argv, envp);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

Test(sandbox, allowed_calls_work, .init = require_seccomp)
{
	static const struct {
		const char *what;
		probe_fn fn;
		long want;
	} probes[] = {
		{ "getpid()", do_getpid, -2 /* any pid */ },
		{ "tgkill(parent, parent, 0): the thread group that built the filter",
		  tgkill_builder, 0 },
		{ "clone(CLONE_PIDFD) and pidfd_send_signal(SIGKILL) to that child",
		  kill_child_by_pidfd, 0 },
		{ "socket(AF_UNIX) and socketpair(AF_UNIX)", unix_socket, 0 },
		{ "prctl GET_DUMPABLE, GET_NO_NEW_PRIVS, SET_NAME, GET_NAME", allowed_prctls, 0 },
		{ "fork() and waitpid() (clone with SIGCHLD only)", fork_and_wait, 7 },
		{ "pthread_create (clone3 refused, clone with CLONE_THREAD)", start_thread, 42 },
		{ "execve(/bin/true): the filter is inherited and enough for ld.so", exec_true, 0 },
	};
	char why[160];

	for (size_t k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
		struct outcome o = under_filter(probes[k].fn, NULL);

		cr_expect(o.returned &&
				  (probes[k].want == -2 ? o.ret > 0 : o.ret == probes[k].want),
			  "%s must work under the filter, but %s", probes[k].what,
			  describe(&o, why, sizeof(why)));
	}
}

Test(sandbox, write_to_a_pipe_works, .init = require_seccomp)
{
	char why[160], buf[3] = "";
	int p[2];
	struct outcome o;

	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	o = under_filter(write_pipe, &p[1]);
	close(p[1]);
	cr_expect(o.returned && o.ret == 2, "write to a pipe must work, but %s",
		  describe(&o, why, sizeof(why)));
	cr_expect_eq(read(p[0], buf, 2), 2, "the parent reads what the child wrote");
	cr_expect_str_eq(buf, "ok");
	close(p[0]);
}
