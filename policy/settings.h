/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper.conf: the deployer's settings for ephcrypt-helper (where the policy,
 * the lvm binary and the audit log are, and the limits), in a root-owned file
 * rather than on a command line that a sudo rule may let the caller extend.
 * "key = value" lines, '#' comments; ephcrypt-helper(8) lists the keys.
 */
#ifndef EPHCRYPT_SETTINGS_H
#define EPHCRYPT_SETTINGS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define SETTINGS_DEFAULT_PATH "/etc/ephcrypt/helper.conf"

/* Limits a setting may take (the command line has the same). */
#define SETTINGS_MESSAGE_MIN	 4096
#define SETTINGS_MESSAGE_MAX	 (64u << 20)
#define SETTINGS_LVM_TIMEOUT_MAX 3600

enum setting_key { SK_POLICY, SK_AUDIT_LOG, SK_LVM, SK_MAX_MESSAGE, SK_LVM_TIMEOUT, SK_COUNT };

struct settings {
	char policy[PATH_MAX], audit_log[PATH_MAX], lvm[PATH_MAX];
	uint64_t max_message;
	uint64_t lvm_timeout_s;
	unsigned line[SK_COUNT]; /* where each was set; 0: the built-in default */
};

/* The key as written in the file ("audit-log"). */
const char *settings_key_name(enum setting_key k);

void settings_default(struct settings *s);

/*
 * Read path over the defaults in s. A missing file is no error (the defaults
 * stand) when missing_ok. With check_owner, the file must be root's and not
 * writable by group or others. Each error is printed to err as
 * "file:line: message" and reading goes on; returns the number of errors.
 */
int settings_load(const char *path, bool missing_ok, bool check_owner, FILE *err,
		  struct settings *s);

#endif
