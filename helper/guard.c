/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every name, device, size, cipher and flag a call carries passes here before
 * anything is touched: first the fixed LVM/dm name grammar (no policy can
 * widen it: a bad name is a ValueError), then the deployer's policy (a
 * refusal is a PermissionError naming the field, the value and the rule).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libcryptsetup.h>

#include "../policy/names.h"
#include "../policy/policy.h"
#include "storage.h"

static int
decide(struct call *c, int rc, const struct verdict *v)
{
	snprintf(c->rule, sizeof(c->rule), "%s", v->rule);
	if (rc == 0)
		return 0;
	c->denied = true;
	return call_fail(c, EXC_PERM, EACCES, "%s", v->why);
}

static int
bad_name(struct call *c, int rc, const char *why)
{
	return rc == 0 ? 0 : call_fail(c, EXC_VALUE, EINVAL, "%s", why);
}

int
guard_vg(struct call *c, const char *vg)
{
	struct verdict v = { .rule = "" };
	char why[384];

	if (bad_name(c, name_check_vg(vg, why, sizeof(why)), why) < 0)
		return -1;
	return decide(c, policy_vg(c->opt->policy, vg, &v), &v);
}

int
guard_lv(struct call *c, const char *vg, const char *lv)
{
	struct verdict v = { .rule = "" };
	char why[384];

	if (guard_vg(c, vg) < 0 || bad_name(c, name_check_lv(lv, why, sizeof(why)), why) < 0)
		return -1;
	return decide(c, policy_lv(c->opt->policy, vg, lv, &v), &v);
}

int
guard_lv_size(struct call *c, const char *vg, uint64_t size)
{
	struct verdict v = { .rule = "" };

	if (size == 0)
		return call_fail(c, EXC_VALUE, EINVAL, "size must be greater than 0");
	return decide(c, policy_lv_size(c->opt->policy, vg, size, &v), &v);
}

int
guard_mapping(struct call *c, const char *name)
{
	struct verdict v = { .rule = "" };
	char why[384];

	if (bad_name(c, name_check_dm(name, why, sizeof(why)), why) < 0)
		return -1;
	return decide(c, policy_mapping(c->opt->policy, name, &v), &v);
}

static int
guard_flag(struct call *c, uint32_t flags, uint32_t bit, enum policy_flag f)
{
	struct verdict v = { .rule = "" };

	return flags & bit ? decide(c, policy_flag(c->opt->policy, f, &v), &v) : 0;
}

int
guard_crypt(struct call *c, const struct crypt_req *r)
{
	struct verdict v = { .rule = "" };

	/* A Nova passphrase is hashed to key_bits, so only a raw volume key must match. */
	if (r->key_bits % 8 || (!r->passphrase_hash && r->key_len * 8 != r->key_bits))
		return call_fail(c, EXC_VALUE, EINVAL, "key is %zu bytes but key_size is %u bits",
				 r->key_len, r->key_bits);
	if (decide(c, policy_cipher(c->opt->policy, r->cipher, r->key_bits, &v), &v) < 0 ||
	    decide(c, policy_sector_size(c->opt->policy, r->sector_size, &v), &v) < 0)
		return -1;
	return guard_flag(c, r->flags, CRYPT_ACTIVATE_ALLOW_DISCARDS, PF_ALLOW_DISCARDS) ||
			       guard_flag(c, r->flags, CRYPT_ACTIVATE_NO_READ_WORKQUEUE,
					  PF_NO_READ_WORKQUEUE) ||
			       guard_flag(c, r->flags, CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE,
					  PF_NO_WRITE_WORKQUEUE)
		       ? -1
		       : 0;
}

/* Under /dev and written plainly: no ".", ".." or empty components to walk elsewhere. */
int
guard_dev_path(struct call *c, const char *path)
{
	if (strncmp(path, "/dev/", 5) != 0)
		return call_fail(c, EXC_PERM, EACCES, "device '%s' is not under /dev", path);
	for (const char *p = path + 4; p; p = strchr(p + 1, '/'))
		if (p[1] == '/' || p[1] == '\0' ||
		    (p[1] == '.' && (p[2] == '/' || p[2] == '\0' ||
				     (p[2] == '.' && (p[3] == '/' || p[3] == '\0')))))
			return call_fail(c, EXC_PERM, EACCES,
					 "device '%s' is not a plain path under /dev (no '.', '..' "
					 "or empty parts)",
					 path);
	return 0;
}

/* Symlinks resolved, the kernel asked what the device is: an allowed LV or nothing. */
int
guard_device(struct call *c, const char *device)
{
	char vg[NAME_MAX_LVM], lv[NAME_MAX_LVM];

	if (guard_dev_path(c, device) < 0 || lvm_resolve_device(c, device, vg, lv) < 0)
		return -1;
	if (!c->t.vg[0]) /* for the audit record: the LV behind the device */
		snprintf(c->t.vg, sizeof(c->t.vg), "%s", vg), snprintf(c->t.lv, sizeof(c->t.lv), "%s", lv);
	return guard_lv(c, vg, lv);
}

bool
guard_lv_visible(struct call *c, const char *vg, const char *lv)
{
	struct verdict v;
	char why[384];

	return name_check_lv(lv, why, sizeof(why)) == 0 &&
	       policy_lv(c->opt->policy, vg, lv, &v) == 0;
}

bool
guard_mapping_visible(struct call *c, const char *name)
{
	struct verdict v;
	char why[384];

	return name_check_dm(name, why, sizeof(why)) == 0 &&
	       policy_mapping(c->opt->policy, name, &v) == 0;
}
