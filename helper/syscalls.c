/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The seccomp allowlist, as named groups (systemd's syscall_filter_sets).
 * It covers the helper, libcryptsetup, libdevmapper and the lvm binary the
 * helper execs (the filter is inherited), measured with strace in the guest.
 * One syscall per line, sorted; a comment only where the reason is not obvious.
 */
#include <errno.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <err.h>
#include <linux/dm-ioctl.h>
#include <linux/blkzoned.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sched.h>
#include <unistd.h>

#include "sandbox.h"

/* One syscall per line, sorted, as the shape test checks: not for the formatter to pack. */
/* clang-format off */
static const char *const basic_io[] = {
	"close",
	"close_range",
	"dup",
	"dup2",
	"dup3",
	"fcntl",
	"lseek",
	"pipe",
	"pipe2",
	"poll",
	"ppoll",
	"pread64",
	"pselect6",
	"pwrite64",
	"read",
	"readv",
	"select",
	"write",
	"writev",
	NULL,
};

static const char *const files[] = {
	"access",
	"chdir",
	"chmod",
	"chown",     /* libdevmapper, without udev: the /dev/mapper node's group */
	"faccessat",
	"faccessat2",
	"fadvise64",
	"fchdir",
	"fchmod",
	"fchmodat",
	"fchown",
	"fchownat",
	"fdatasync", /* the audit record reaches the disk before the reply */
	"flock",     /* LVM's metadata locks */
	"fstat",
	"fstatfs",
	"fsync",
	"ftruncate",
	"getcwd",
	"getdents64",
	"link", /* LVM's metadata archive */
	"linkat",
	"lstat",
	"mkdir",
	"mkdirat",
	"mknod",     /* libdevmapper, without udev: /dev/mapper nodes */
	"mknodat",
	"newfstatat",
	"open",
	"openat",
	"readlink",
	"readlinkat",
	"rename",
	"renameat",
	"renameat2",
	"rmdir",
	"stat",
	"statfs",
	"statx",
	"symlink",   /* LVM's /dev/<vg>/<lv> links */
	"symlinkat",
	"umask",
	"unlink",
	"unlinkat",
	"utimensat",
	NULL,
};

static const char *const memory[] = {
	"brk",
	"madvise",
	"mlock",
	"mlock2",
	"mlockall",   /* keys never swapped; LVM locks itself during activation */
	"mmap",
	"mprotect",
	"mremap",
	"munlock",
	"munlockall",
	"munmap",
	NULL,
};

static const char *const process[] = {
	"arch_prctl",
	"capget",
	"execve", /* only the configured lvm, by absolute path (lvm.c) */
	"exit",
	"exit_group",
	"futex",
	"get_robust_list",
	"getegid",
	"geteuid",
	"getgid",
	"getgroups",
	"getpgrp",
	"getpid",
	"getppid",
	"getpriority",
	"getresgid",
	"getresuid",
	"getrlimit",
	"getrusage",
	"gettid",
	"getuid",
	"pidfd_send_signal", /* the lvm child at its time limit, by the pidfd clone gave */
	"prlimit64",
	"rseq",
	"sched_getaffinity",
	"sched_yield",
	"set_robust_list",
	"set_tid_address",
	"setpriority", /* LVM raises its priority while it holds locks */
	"setrlimit",
	"sysinfo",
	"uname",
	"vfork",
	"wait4",
	"waitid",
	NULL,
};

static const char *const signals[] = {
	"restart_syscall", /* poll/nanosleep resumed after SIGSTOP and SIGCONT */
	"rt_sigaction",
	"rt_sigprocmask",
	"rt_sigreturn",
	"rt_sigtimedwait",
	"sigaltstack",
	NULL,
};

static const char *const timing[] = {
	"clock_getres",
	"clock_gettime",
	"clock_nanosleep",
	"gettimeofday",
	"nanosleep",
	"time",
	NULL,
};

static const char *const socket_io[] = {
	"connect", /* syslog's /dev/log (socket() itself is pinned to AF_UNIX) */
	"getpeername",
	"getsockname",
	"getsockopt",
	"recvfrom",
	"recvmsg",
	"sendmmsg",
	"sendmsg",
	"sendto",
	"setsockopt",
	"shutdown",
	NULL,
};

static const char *const dm_lvm[] = {
	"getrandom",
	"io_destroy", /* LVM scans devices with libaio */
	"io_getevents",
	"io_setup",
	"io_submit",
	"semctl", /* libdevmapper's udev cookies are SysV semaphores */
	"semget",
	"semop",
	"semtimedop",
	"sync",
	NULL,
};

/* clang-format on */

const struct syscall_group sandbox_groups[] = {
	{ "@basic-io", "Read, write and multiplex descriptors", basic_io },
	{ "@dm-lvm", "libdevmapper and LVM: aio scanning, udev cookies, randomness", dm_lvm },
	{ "@file", "Files and device nodes (LVM metadata, locks, /dev/mapper)", files },
	{ "@memory", "Memory mapping and locking", memory },
	{ "@process", "Process and thread life cycle, ids and limits", process },
	{ "@signal", "Signal handling", signals },
	{ "@socket-io", "I/O on the channel and on syslog's socket", socket_io },
	{ "@time", "Clocks and sleeping", timing },
};
const size_t sandbox_groups_len = sizeof(sandbox_groups) / sizeof(sandbox_groups[0]);

const struct syscall_errno sandbox_errno[] = {
	/* glibc tries clone3 first; its flags are in memory seccomp cannot read. */
	{ "clone3", ENOSYS, "glibc falls back to clone, whose flags the filter can check" },
};
const size_t sandbox_errno_len = sizeof(sandbox_errno) / sizeof(sandbox_errno[0]);

#define RULE(ctx, action, name, ...)                                                               \
	do {                                                                                       \
		if (seccomp_rule_add(ctx, action, SCMP_SYS(name), __VA_ARGS__) < 0)                \
			errx(1, "sandbox: cannot add the rule for " #name);                        \
	} while (0)

/* An ioctl number's type byte (_IOC_TYPE), and the types and requests allowed. */
#define IOCTL_TYPE_MASK	  (_IOC_TYPEMASK << _IOC_TYPESHIFT)
#define IOCTL_TYPE(t)	  ((t) << _IOC_TYPESHIFT)
#define IOCTL_WHOLE	  0xffffffff
#define FLOPPY_IOCTL_TYPE 0x02 /* FDGETFDCSTAT (linux/fd.h) */

/*
 * Block-device ioctls (type 0x12), each one named: read-only queries, the
 * ones measured with strace -f -e ioctl over the guest's storage suite (the
 * helper, libcryptsetup, libdevmapper and every lvm run). Everything else of
 * type 0x12 is killed: BLKDISCARD, BLKSECDISCARD (data gone), BLKPG,
 * BLKRRPART (partitions), BLKROSET, BLKFLSBUF, BLKRASET, BLKBSZSET.
 * BLKZEROOUT stays: lvcreate zeroes the first 4 KiB of the LV it just made
 * with it and aborts when it fails ("Failed to wipe start of new LV", seen
 * with an EOPNOTSUPP rule); the helper itself never issues it.
 */
static const struct {
	unsigned long cmd;
	const char *why;
} block_ioctls[] = {
	{ BLKGETSIZE64, "a device's size: the helper, libcryptsetup, lvm" },
	{ BLKSSZGET, "logical sector size: libcryptsetup, lvm's scan" },
	{ BLKPBSZGET, "physical sector size: lvm's scan" },
	{ BLKROGET, "read-only flag: libcryptsetup before activation" },
	{ BLKRAGET, "read-ahead: lvm's activation" },
	{ BLKGETZONESZ, "zone size (0: not zoned): lvcreate's wipe of the new LV's start" },
	{ BLKZEROOUT, "lvcreate zeroes the first 4 KiB of the new LV (no fallback)" },
};

#define IOCTL_RULE(ctx, action, mask, value)                                                       \
	RULE(ctx, action, ioctl, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, mask, value))

/* ioctl: device-mapper, the block queries above, and two terminal queries. */
static void
ioctl_rules(scmp_filter_ctx ctx)
{
	IOCTL_RULE(ctx, SCMP_ACT_ALLOW, IOCTL_TYPE_MASK, IOCTL_TYPE(DM_IOCTL));
	for (size_t k = 0; k < sizeof(block_ioctls) / sizeof(block_ioctls[0]); k++)
		IOCTL_RULE(ctx, SCMP_ACT_ALLOW, IOCTL_WHOLE, block_ioctls[k].cmd);
	IOCTL_RULE(ctx, SCMP_ACT_ALLOW, IOCTL_WHOLE, TCGETS);
	IOCTL_RULE(ctx, SCMP_ACT_ALLOW, IOCTL_WHOLE, TIOCGWINSZ);
	/* LVM's device-type probe asks every disk if it is a floppy (FDGETFDCSTAT). */
	IOCTL_RULE(ctx, SCMP_ACT_ERRNO(ENOTTY), IOCTL_TYPE_MASK, IOCTL_TYPE(FLOPPY_IOCTL_TYPE));
}

void
sandbox_add_arg_rules(scmp_filter_ctx ctx)
{
	static const int prctl_ok[] = { PR_GET_DUMPABLE, PR_SET_NAME,	    PR_GET_NAME,
					PR_CAPBSET_READ, PR_GET_SECUREBITS, PR_GET_NO_NEW_PRIVS,
					PR_CAP_AMBIENT,	 PR_SET_VMA };

	ioctl_rules(ctx);
	RULE(ctx, SCMP_ACT_ALLOW, socket, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	RULE(ctx, SCMP_ACT_ALLOW, socketpair, 1, SCMP_A0(SCMP_CMP_EQ, AF_UNIX));
	/* libcryptsetup probes the kernel crypto API; it copes without it. */
	RULE(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), socket, 1, SCMP_A0(SCMP_CMP_EQ, AF_ALG));
	/* Threads and fork only: no new namespaces. */
	RULE(ctx, SCMP_ACT_ALLOW, clone, 1,
	     SCMP_A0(SCMP_CMP_MASKED_EQ,
		     (uint64_t)(CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET |
				CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP),
		     0));
	/*
	 * No kill: the timed-out lvm child is signalled through its pidfd. tgkill
	 * (abort(), raise()) reaches only the helper's own thread group, whose
	 * pid is known now; lvm inherits the filter and may signal no one.
	 */
	RULE(ctx, SCMP_ACT_ALLOW, tgkill, 1, SCMP_A0_64(SCMP_CMP_EQ, (uint64_t)getpid()));
	for (size_t k = 0; k < sizeof(prctl_ok) / sizeof(prctl_ok[0]); k++)
		RULE(ctx, SCMP_ACT_ALLOW, prctl, 1, SCMP_A0(SCMP_CMP_EQ, (uint64_t)prctl_ok[k]));
}
