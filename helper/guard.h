/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The guard: every name, device, size, cipher and flag a call carries passes
 * here before anything is touched. Each check returns 0, or -1 with the
 * call's error set: a bad name is a ValueError, a policy refusal a
 * PermissionError naming the field, the value and the rule.
 */
#ifndef EPHCRYPT_GUARD_H
#define EPHCRYPT_GUARD_H

#include "../policy/policy.h"
#include "call.h"
#include "ops/crypt.h"

/* The one table of dm-crypt activation flags: policy flag (and its name) <-> libcryptsetup bit. */
struct activation_flag {
	enum policy_flag pf;
	uint32_t bit; /* CRYPT_ACTIVATE_* */
};
extern const struct activation_flag activation_flags[PF_COUNT];
/* "allow_discards,no_read_workqueue": the set bits by name, comma-separated. */
void activation_flags_text(uint32_t flags, char *out, size_t cap);

int guard_vg(struct call *c, const char *vg);
int guard_lv(struct call *c, const char *vg, const char *lv);
int guard_lv_size(struct call *c, const char *vg, uint64_t size);
int guard_mapping(struct call *c, const char *name);
int guard_crypt(struct call *c, const struct dmcrypt_req *r);
/* Under /dev and written plainly: no ".", ".." or empty components. */
int guard_dev_path(struct call *c, const char *path);
/*
 * A refusal by a rule built into the helper (no policy can widen it): a
 * PermissionError, recorded as denied under the rule's name, as a policy
 * refusal is, so that `ephcrypt-audit --denied` finds every refusal.
 */
int guard_deny(struct call *c, const char *rule, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/*
 * Re-resolution at the point of privilege: the device (symlinks followed,
 * the kernel asked) must be an LV whose VG and name the policy allows; its
 * own /dev/mapper node goes to c->t.node, which is what operations open.
 */
int guard_device(struct call *c, const char *device);
/* guard_device, or one of the policy's active dm-crypt mappings by its /dev/mapper path. */
int guard_block_device(struct call *c, const char *path);
/* Listing filters: may the caller see this name? (Grammar and policy, no error set.) */
bool guard_lv_visible(const struct call *c, const char *vg, const char *lv);
bool guard_mapping_visible(const struct call *c, const char *name);

#endif
