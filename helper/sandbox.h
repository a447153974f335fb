/* SPDX-License-Identifier: Apache-2.0 */
#ifndef EPHCRYPT_SANDBOX_H
#define EPHCRYPT_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <seccomp.h>

/* A debug build logs what the filter would kill instead (OpenSSH's SANDBOX_SECCOMP_FILTER_DEBUG).
 */
#ifdef EPHCRYPT_SECCOMP_DEBUG
#define SANDBOX_DEFAULT_ACTION SCMP_ACT_LOG
#else
#define SANDBOX_DEFAULT_ACTION SCMP_ACT_KILL_PROCESS
#endif

struct syscall_group {
	const char *name;
	const char *help;
	const char *const *syscalls; /* sorted, NULL-terminated */
};

struct syscall_errno {
	const char *name;
	int err;
	const char *why;
};

extern const struct syscall_group sandbox_groups[];
extern const size_t sandbox_groups_len;
extern const struct syscall_errno sandbox_errno[];
extern const size_t sandbox_errno_len;

struct lvm_config;

/*
 * LVM_SYSTEM_DIR checked, then the mount namespace (LVM's folders as its
 * configuration names them writable), capabilities, no_new_privs, seccomp;
 * fatal on failure.
 */
void sandbox_apply(const struct lvm_config *lvm);

/* Rules that pin arguments (ioctl, socket, prctl, clone, kill). */
void sandbox_add_arg_rules(scmp_filter_ctx ctx);
/* The whole filter, not loaded: for the helper and for the death tests. */
scmp_filter_ctx sandbox_filter(uint32_t default_action);

#endif
