/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Every name, device, size, cipher and flag a call carries passes here before
 * anything is touched: first the fixed LVM/dm name grammar (no policy can
 * widen it: a bad name is a ValueError), then the deployer's policy (a
 * refusal is a PermissionError naming the field, the value and the rule).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <libcryptsetup.h>

#include "../policy/names.h"
#include "guard.h"

const struct activation_flag activation_flags[PF_COUNT] = {
	{ PF_ALLOW_DISCARDS, CRYPT_ACTIVATE_ALLOW_DISCARDS },
	{ PF_NO_READ_WORKQUEUE, CRYPT_ACTIVATE_NO_READ_WORKQUEUE },
	{ PF_NO_WRITE_WORKQUEUE, CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE },
};

void
activation_flags_text(uint32_t flags, char *out, size_t cap)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t k = 0; k < PF_COUNT && n < cap; k++)
		if (flags & activation_flags[k].bit)
			n += (size_t)snprintf(out + n, cap - n, "%s%s", n ? "," : "",
					      policy_flag_name(activation_flags[k].pf));
}

static int
decide(struct call *c, int rc, const struct verdict *v)
{
	snprintf(c->rule, sizeof(c->rule), "%s", v->rule);
	if (rc == 0)
		return 0;
	c->denied = true;
	return call_oserror(c, EACCES, "%s", v->why);
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
	char why[NAME_WHY_MAX];

	if (bad_name(c, name_check_vg(vg, why, sizeof(why)), why) < 0)
		return -1;
	return decide(c, policy_vg(c->opt->policy, vg, &v), &v);
}

int
guard_lv(struct call *c, const char *vg, const char *lv)
{
	struct verdict v = { .rule = "" };
	char why[NAME_WHY_MAX];

	/* Both names' grammar before either policy: a malformed LV name is a ValueError,
	 * whatever the VG. */
	if (bad_name(c, name_check_vg(vg, why, sizeof(why)), why) < 0 ||
	    bad_name(c, name_check_lv(lv, why, sizeof(why)), why) < 0 || guard_vg(c, vg) < 0)
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
	char why[NAME_WHY_MAX];

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
guard_crypt(struct call *c, const struct dmcrypt_req *r)
{
	struct verdict v = { .rule = "" };

	/* A Nova passphrase is hashed to key_bits, so only a raw volume key must match. */
	if (r->key_bits % 8 || (!r->passphrase_hash && r->key_len * 8 != r->key_bits))
		return call_fail(c, EXC_VALUE, EINVAL, "key is %zu bytes but key_size is %u bits",
				 r->key_len, r->key_bits);
	/* Nova sends its key's bytes; the passphrase is their hex, two characters a byte. */
	if (r->passphrase_hash &&
	    decide(c, policy_nova_passphrase(c->opt->policy, 2 * r->key_len, r->key_bits, &v), &v) <
		    0)
		return -1;
	if (decide(c, policy_cipher(c->opt->policy, r->cipher, r->key_bits, &v), &v) < 0 ||
	    decide(c, policy_sector_size(c->opt->policy, r->sector_size, &v), &v) < 0)
		return -1;
	for (size_t k = 0; k < PF_COUNT; k++)
		if (guard_flag(c, r->flags, activation_flags[k].bit, activation_flags[k].pf) < 0)
			return -1;
	return 0;
}

int
guard_deny(struct call *c, const char *rule, const char *fmt, ...)
{
	char why[ERR_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(c->rule, sizeof(c->rule), "%s", rule);
	c->denied = true;
	return call_oserror(c, EACCES, "%s", why);
}

#define DEV_PATH_RULE "built-in: device paths are plain paths under /dev"

/* Under /dev and written plainly: no ".", ".." or empty components to walk elsewhere. */
int
guard_dev_path(struct call *c, const char *path)
{
	if (strncmp(path, "/dev/", 5) != 0)
		return guard_deny(c, DEV_PATH_RULE, "device '%s' is not under /dev", path);
	for (const char *p = path + 4; p; p = strchr(p + 1, '/'))
		if (p[1] == '/' || p[1] == '\0' ||
		    (p[1] == '.' && (p[2] == '/' || p[2] == '\0' ||
				     (p[2] == '.' && (p[3] == '/' || p[3] == '\0')))))
			return guard_deny(
				c, DEV_PATH_RULE,
				"device '%s' is not a plain path under /dev (no '.', '..' "
				"or empty parts)",
				path);
	return 0;
}

/*
 * The VG and LV a device path names by its own text: /dev/VG/LV or
 * /dev/mapper/VG-LV. Nothing else is looked at, so a refused path gets the
 * same answer whatever exists behind it.
 */
static int
device_text_lv(struct call *c, const char *device, char vg[OP_NAME_CAP], char lv[OP_NAME_CAP])
{
	const char *rest = device + 5, *slash = strchr(rest, '/');

	if (strncmp(device, "/dev/mapper/", 12) == 0) {
		if (mapper_split_lvm_name(device + 12, vg, lv) == 0)
			return 0;
	} else if (slash && !strchr(slash + 1, '/') && (size_t)(slash - rest) < OP_NAME_CAP &&
		   strlen(slash + 1) < OP_NAME_CAP) {
		snprintf(vg, OP_NAME_CAP, "%.*s", (int)(slash - rest), rest);
		snprintf(lv, OP_NAME_CAP, "%s", slash + 1);
		return 0;
	}
	return call_oserror(c, EACCES, "device '%s' is not named /dev/VG/LV or /dev/mapper/VG-LV",
			    device);
}

/* The policy's verdict on the LV the path names, from its text alone. */
static int
guard_device_name(struct call *c, const char *device)
{
	char vg[OP_NAME_CAP], lv[OP_NAME_CAP];

	if (guard_dev_path(c, device) < 0 || device_text_lv(c, device, vg, lv) < 0)
		return -1;
	if (!c->t.vg[0]) { /* for the audit record: the LV behind the device */
		snprintf(c->t.vg, sizeof(c->t.vg), "%s", vg);
		snprintf(c->t.lv, sizeof(c->t.lv), "%s", lv);
	}
	return guard_lv(c, vg, lv);
}

/*
 * First the path's text (an LV the policy allows), then the device behind
 * it, symlinks resolved and the kernel asked: it must be that same LV.
 */
int
guard_device(struct call *c, const char *device)
{
	char vg[OP_NAME_CAP], lv[OP_NAME_CAP], rvg[OP_NAME_CAP], rlv[OP_NAME_CAP];
	struct op_error e;
	int rc;

	if (guard_device_name(c, device) < 0)
		return -1;
	(void)device_text_lv(c, device, vg, lv); /* passed just now */
	rc = mapper_resolve_lv(device, rvg, rlv, c->t.node, &e);
	if (rc < 0)
		return call_op_fail(c, rc, &e);
	if (strcmp(vg, rvg) != 0 || strcmp(lv, rlv) != 0)
		return call_oserror(c, EACCES, "device '%s' is not the LV %s/%s its path names",
				    device, vg, lv);
	return 0;
}

/* /dev/mapper/NAME where NAME is a mapping the policy allows: a crypt mapping's path. */
static const char *
allowed_mapping_path(const struct call *c, const char *path)
{
	const char *name = strncmp(path, "/dev/mapper/", 12) == 0 ? path + 12 : NULL;

	return name && guard_mapping_visible(c, name) ? name : NULL;
}

int
guard_block_device_name(struct call *c, const char *path)
{
	return allowed_mapping_path(c, path) ? 0 : guard_device_name(c, path);
}

/* An allowed LV, or one of the policy's crypt mappings (an encrypted disk's path). */
int
guard_block_device(struct call *c, const char *path)
{
	const char *name = allowed_mapping_path(c, path);

	if (name && mapper_is_crypt(name)) {
		snprintf(c->t.mapping, sizeof(c->t.mapping), "%s", name);
		snprintf(c->t.node, sizeof(c->t.node), "%s", path); /* a root-only directory */
		return guard_mapping(c, name) < 0 ? -1 : guard_mapping_backing(c, name);
	}
	return guard_device(c, path);
}

/*
 * A crypt mapping is the caller's only if what it sits on is: an admin's
 * mapping with an allowed-looking name over an LV outside the policy is
 * neither shown nor closed. A mapping that is not dm-crypt is left for the
 * operation to refuse.
 */
int
guard_mapping_backing(struct call *c, const char *name)
{
	char vg[OP_NAME_CAP], lv[OP_NAME_CAP];
	struct op_error e;
	int rc;

	if (!mapper_is_crypt(name))
		return 0;
	if ((rc = mapper_backing_lv(name, vg, lv, &e)) < 0)
		return call_op_fail(c, rc, &e);
	if (!c->t.vg[0]) { /* for the audit record: the LV behind the mapping */
		snprintf(c->t.vg, sizeof(c->t.vg), "%s", vg);
		snprintf(c->t.lv, sizeof(c->t.lv), "%s", lv);
	}
	if (guard_lv(c, vg, lv) < 0) {
		size_t n = strlen(c->err.msg);

		snprintf(c->err.msg + n, sizeof(c->err.msg) - n, " (the LV mapping '%s' sits on)",
			 name);
		return -1;
	}
	return 0;
}

bool
guard_lv_visible(const struct call *c, const char *vg, const char *lv)
{
	struct verdict v;
	char why[NAME_WHY_MAX];

	return name_check_lv(lv, why, sizeof(why)) == 0 &&
	       policy_lv(c->opt->policy, vg, lv, &v) == 0;
}

bool
guard_mapping_backing_visible(const struct call *c, const char *name)
{
	char vg[OP_NAME_CAP], lv[OP_NAME_CAP];
	struct op_error e;

	return mapper_backing_lv(name, vg, lv, &e) == 0 && guard_lv_visible(c, vg, lv);
}

bool
guard_mapping_visible(const struct call *c, const char *name)
{
	struct verdict v;
	char why[NAME_WHY_MAX];

	return name_check_dm(name, why, sizeof(why)) == 0 &&
	       policy_mapping(c->opt->policy, name, &v) == 0;
}
