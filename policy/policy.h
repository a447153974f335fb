/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The deployer policy (policy.conf(5) grammar in man/ephcrypt-policy.5).
 * Loaded once at start-up; every check below is pure and thread-safe.
 * A check returns 0 when allowed, -1 when refused; the verdict names the rule
 * that allowed it (for the audit log) or says why it was refused, naming the
 * field, the value and the rule, e.g.
 *   "mapping name 'x' matches no [mappings] pattern".
 */
#ifndef EPHCRYPT_POLICY_H
#define EPHCRYPT_POLICY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "names.h"

struct policy;

struct verdict {
	char rule[160];		/* "file:line" of the rule that decided, or "default deny" */
	char why[NAME_WHY_MAX]; /* on refusal: the message for PermissionError */
};

enum policy_flag { PF_ALLOW_DISCARDS, PF_NO_READ_WORKQUEUE, PF_NO_WRITE_WORKQUEUE, PF_COUNT };

/* The dm-crypt table spelling of a flag ("allow_discards"), as callers and status name it. */
const char *policy_flag_name(enum policy_flag f);

/*
 * Parse PATH. With check_file, refuse a file that is not a regular file owned
 * by root or is writable by group or others (checked with fstat on the open
 * descriptor). Every error is printed to err as "file:line: message"; the
 * return value is the number of errors (0: *out is set).
 */
int policy_load(const char *path, bool check_file, FILE *err, struct policy **out);
void policy_free(struct policy *p);
/* Human summary of what is allowed (for --check-policy). */
void policy_summary(const struct policy *p, FILE *out);

/*
 * Warnings about a policy that loads but may not say what was meant, one
 * "file:line: warning: ..." line each: a pattern that accepts every name, one
 * that looks like a glob. Returns their number.
 */
int policy_lint(const struct policy *p, FILE *out);

int policy_uid(const struct policy *p, uid_t uid, struct verdict *v);
int policy_vg(const struct policy *p, const char *vg, struct verdict *v);
/* May this LV name be created, removed, opened or listed in this VG? */
int policy_lv(const struct policy *p, const char *vg, const char *lv, struct verdict *v);
int policy_lv_size(const struct policy *p, const char *vg, uint64_t bytes, struct verdict *v);
int policy_mapping(const struct policy *p, const char *name, struct verdict *v);
int policy_cipher(const struct policy *p, const char *cipher, unsigned key_bits, struct verdict *v);
int policy_sector_size(const struct policy *p, unsigned bytes, struct verdict *v);
int policy_flag(const struct policy *p, enum policy_flag f, struct verdict *v);
/* Hash for Nova-compatible passphrase keys ("ripemd160" unless set). */
const char *policy_nova_hash(const struct policy *p);

/* [forward]: how many entrypoint patterns (0: nothing is relayed). */
unsigned policy_forward_count(const struct policy *p);
/* May this entrypoint be relayed to privsep-helper? The rule is "file:line"
 * or "default deny ([forward])". */
int policy_forward(const struct policy *p, const char *entrypoint, struct verdict *v);
/*
 * Start-up: print "file:line: pattern ... matches NAME, which is never
 * forwarded" for each [forward] pattern matching one of names[0..n) (the
 * names the helper serves itself); returns how many did.
 */
int policy_forward_overlap(const struct policy *p, const char *const *names, size_t n, FILE *err);

#endif
