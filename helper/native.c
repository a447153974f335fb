/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Native entrypoints (wire names ephcrypt.*). Each handler parses its
 * arguments into the call's target, checks every one of them (guard.c),
 * acts, and encodes its reply; a failure leaves nothing half-made.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include <libcryptsetup.h>

#include "guard.h"
#include "helper.h"
#include "ops/crypt.h"
#include "ops/dm.h"
#include "ops/lvm.h"

#define MAX_LV_SIZE  (UINT64_C(1) << 60)
#define CRYPT_SUFFIX "-dmcrypt"
#define LIST_MAX     1024 /* mappings one crypt_list reports */

static int
ephcrypt_version(struct call *c)
{
	return mp_put_str(c->ret, EPHCRYPT_VERSION);
}

/* One "key": value pair of a reply map. */
static int
put_kstr(struct mp_buf *b, const char *key, const char *val)
{
	return mp_put_str(b, key) || mp_put_str(b, val);
}

static int
put_kuint(struct mp_buf *b, const char *key, uint64_t val)
{
	return mp_put_str(b, key) || mp_put_uint(b, val);
}

static int
put_kbool(struct mp_buf *b, const char *key, bool val)
{
	return mp_put_str(b, key) || mp_put_bool(b, val);
}

/* Positional parameter i as a VG / LV / mapping name into the call's target. */
static int
vg_arg(struct call *c, unsigned i)
{
	return arg_cstr(c, i, c->t.vg, sizeof(c->t.vg));
}

static int
vg_lv_args(struct call *c)
{
	if (vg_arg(c, 0) < 0 || arg_cstr(c, 1, c->t.lv, sizeof(c->t.lv)) < 0)
		return -1;
	return guard_lv(c, c->t.vg, c->t.lv);
}

static int
ephcrypt_vg_info(struct call *c)
{
	struct vg_info vi;
	struct op_error e;
	int rc;

	if (vg_arg(c, 0) < 0 || guard_vg(c, c->t.vg) < 0)
		return -1;
	if ((rc = lvm_vg_info(&c->opt->lvm, c->t.vg, &vi, &e)) < 0)
		return call_op_fail(c, rc, &e);
	mp_put_map(c->ret, 4);
	put_kstr(c->ret, "name", c->t.vg);
	put_kuint(c->ret, "size", vi.size);
	put_kuint(c->ret, "free", vi.free);
	return put_kuint(c->ret, "extent_size", vi.extent_size);
}

/* Undo lvcreate after a failed open or a timeout; the caller sees the original error. */
static void
rollback_lv(struct call *c)
{
	size_t n = strlen(c->err.msg);
	struct op_error e;
	int rc = lvm_lv_remove(&c->opt->lvm, c->t.vg, c->t.lv, &e);

	/* ENOENT: a timed-out lvcreate that had not made it yet. */
	if (rc < 0 && rc != -ENOENT)
		snprintf(c->err.msg + n, sizeof(c->err.msg) - n, " (rollback failed: %s)", e.why);
}

/*
 * lvcreate alone (each lvm run costs a process start and a device scan): it
 * refuses a missing VG, an existing LV and a full VG cleanly, and those map to
 * FileNotFoundError, FileExistsError and ENOSPC. The size LVM rounded up to
 * is read from the new device itself.
 */
static int
create_lv(struct call *c, uint64_t size, struct lv_info *li)
{
	struct op_error e;
	int fd, rc;

	if (guard_lv_size(c, c->t.vg, size) < 0)
		return -1;
	if ((rc = lvm_lv_create(&c->opt->lvm, c->t.vg, c->t.lv, size, &e)) < 0) {
		call_op_fail(c, rc, &e);
		/* Killed at its time limit, lvcreate may have made the LV already. */
		if (rc == -ETIMEDOUT)
			rollback_lv(c);
		return -1;
	}
	snprintf(li->path, sizeof(li->path), "/dev/%s/%s", c->t.vg, c->t.lv);
	li->size = size;
	li->active = true;
	li->open = false;
	fd = open(li->path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (ioctl(fd, BLKGETSIZE64, &li->size) < 0)
			li->size = size;
		close(fd);
	}
	return 0;
}

static int
ephcrypt_lv_create(struct call *c)
{
	struct lv_info li;
	uint64_t size;

	if (vg_lv_args(c) < 0 || arg_u64(c, 2, 1, MAX_LV_SIZE, &size) < 0 ||
	    create_lv(c, size, &li) < 0)
		return -1;
	mp_put_map(c->ret, 2);
	put_kstr(c->ret, "path", li.path);
	return put_kuint(c->ret, "size", li.size);
}

/*
 * Exactly this LV: one with LVs hanging off it (snapshots, thin volumes) or
 * of a kind the helper does not make (a pool, an admin's snapshot) is
 * refused before lvremove runs. lvremove refuses an open LV by itself; that
 * refusal comes back as EBUSY.
 */
static int
remove_lv(struct call *c)
{
	struct op_error e;
	int rc = lvm_lv_remove_exact(&c->opt->lvm, c->t.vg, c->t.lv, &e);

	return rc < 0 ? call_op_fail(c, rc, &e) : 0;
}

static int
ephcrypt_lv_remove(struct call *c)
{
	if (vg_lv_args(c) < 0 || remove_lv(c) < 0)
		return -1;
	return mp_put_nil(c->ret);
}

/* The names the policy lets this caller see. */
static int
ephcrypt_lv_list(struct call *c)
{
	struct lvm_names ln;
	struct op_error e;
	uint32_t shown = 0;
	int rc;

	if (vg_arg(c, 0) < 0 || guard_vg(c, c->t.vg) < 0)
		return -1;
	if ((rc = lvm_lv_names(&c->opt->lvm, c->t.vg, &ln, &e)) < 0)
		return call_op_fail(c, rc, &e);
	for (size_t k = 0; k < ln.n; k++)
		shown += guard_lv_visible(c, c->t.vg, ln.names[k]);
	mp_put_array(c->ret, shown);
	for (size_t k = 0; k < ln.n; k++)
		if (guard_lv_visible(c, c->t.vg, ln.names[k]))
			mp_put_str(c->ret, ln.names[k]);
	lvm_names_free(&ln);
	return 0;
}

static int
ephcrypt_lv_info(struct call *c)
{
	struct lv_info li;
	struct op_error e;
	int rc;

	if (vg_lv_args(c) < 0)
		return -1;
	if ((rc = lvm_lv_info(&c->opt->lvm, c->t.vg, c->t.lv, &li, &e)) < 0)
		return call_op_fail(c, rc, &e);
	mp_put_map(c->ret, 6);
	put_kstr(c->ret, "name", c->t.lv);
	put_kstr(c->ret, "vg", c->t.vg);
	put_kstr(c->ret, "path", li.path);
	put_kuint(c->ret, "size", li.size);
	put_kbool(c->ret, "active", li.active);
	return put_kbool(c->ret, "open", li.open);
}

/* The ValueError for an option no table row names, listing the ones that exist. */
static int
unknown_option(struct call *c)
{
	char known[160] = "sector_size";
	size_t n = strlen(known);

	for (size_t i = 0; i < PF_COUNT && n < sizeof(known); i++)
		n += (size_t)snprintf(known + n, sizeof(known) - n, ", %s",
				      policy_flag_name(activation_flags[i].pf));
	return call_fail(c, EXC_VALUE, EINVAL, "unknown crypt option (known: %s)", known);
}

static int
parse_option(struct call *c, const struct mp_value *k, const struct mp_value *v,
	     struct dmcrypt_req *r)
{
	if (mp_str_eq(k, "sector_size")) {
		if (v->type != MP_UINT || v->v.u < 512 || v->v.u > 4096 || (v->v.u & (v->v.u - 1)))
			return call_fail(
				c, EXC_VALUE, EINVAL,
				"option 'sector_size' must be a power of two in 512..4096");
		r->sector_size = (unsigned)v->v.u;
		return 0;
	}
	for (size_t i = 0; i < PF_COUNT; i++) {
		const char *name = policy_flag_name(activation_flags[i].pf);
		uint32_t bit = activation_flags[i].bit;

		if (!mp_str_eq(k, name))
			continue;
		if (v->type != MP_BOOL)
			return call_fail(c, EXC_TYPE, 0, "option '%s' must be bool", name);
		r->flags = v->v.b ? r->flags | bit : r->flags & ~bit;
		return 0;
	}
	return unknown_option(c);
}

/* cipher, key_size, key, options at parameters i..i+3. */
static int
dmcrypt_args(struct call *c, unsigned i, struct dmcrypt_req *r)
{
	const struct mp_value *key, *opts;
	uint64_t bits;

	if (arg_cstr(c, i, c->t.cipher, sizeof(c->t.cipher)) < 0 ||
	    arg_u64(c, i + 1, 8, 4096, &bits) < 0)
		return -1;
	key = arg_get(c, i + 2);
	r->cipher = c->t.cipher;
	r->key = key->v.bytes;
	r->key_len = key->len;
	r->key_bits = (unsigned)bits;
	r->sector_size = DMCRYPT_SECTOR_DEFAULT;
	opts = arg_get(c, i + 3);
	for (uint32_t k = 0; opts && k < opts->len; k++)
		if (parse_option(c, &opts->v.items[2 * k], &opts->v.items[2 * k + 1], r) < 0)
			return -1;
	c->t.key_size = r->key_bits;
	c->t.sector_size = r->sector_size;
	activation_flags_text(r->flags, c->t.flags, sizeof(c->t.flags));
	return guard_crypt(c, r);
}

/* Checks every argument, then re-resolves the device at the point of use. */
static int
open_mapping(struct call *c, struct dmcrypt_req *r)
{
	struct op_error e;
	int rc;

	r->name = c->t.mapping;
	if (guard_mapping(c, r->name) < 0 || guard_device(c, c->t.device) < 0)
		return -1;
	r->device = c->t.node;
	if (mapper_exists(r->name))
		return call_oserror(c, EEXIST, "mapping '%s' already exists", r->name);
	rc = dmcrypt_open(r, &e);
	return rc < 0 ? call_op_fail(c, rc, &e) : 0;
}

static int
put_path_map(struct call *c, const char *lv_path)
{
	char path[DM_NODE_CAP];

	snprintf(path, sizeof(path), "/dev/mapper/%s", c->t.mapping);
	mp_put_map(c->ret, lv_path ? 2 : 1);
	if (lv_path)
		put_kstr(c->ret, "lv_path", lv_path);
	return put_kstr(c->ret, "path", path);
}

static int
ephcrypt_crypt_open(struct call *c)
{
	struct dmcrypt_req r = { .name = NULL };

	if (arg_cstr(c, 0, c->t.mapping, sizeof(c->t.mapping)) < 0 ||
	    arg_cstr(c, 1, c->t.device, sizeof(c->t.device)) < 0 || dmcrypt_args(c, 2, &r) < 0 ||
	    open_mapping(c, &r) < 0)
		return -1;
	return put_path_map(c, NULL);
}

static int
close_mapping(struct call *c)
{
	struct op_error e;
	int rc = dmcrypt_close(c->t.mapping, &e);

	return rc < 0 ? call_op_fail(c, rc, &e) : 0;
}

static int
ephcrypt_crypt_close(struct call *c)
{
	if (arg_cstr(c, 0, c->t.mapping, sizeof(c->t.mapping)) < 0 ||
	    guard_mapping(c, c->t.mapping) < 0 || guard_mapping_backing(c, c->t.mapping) < 0 ||
	    close_mapping(c) < 0)
		return -1;
	return mp_put_nil(c->ret);
}

/* Everything about an active mapping except its key. */
static int
ephcrypt_crypt_status(struct call *c)
{
	struct dmcrypt_status st;
	struct op_error e;
	char flags[96];
	int rc;

	if (arg_cstr(c, 0, c->t.mapping, sizeof(c->t.mapping)) < 0 ||
	    guard_mapping(c, c->t.mapping) < 0 || guard_mapping_backing(c, c->t.mapping) < 0)
		return -1;
	if ((rc = dmcrypt_status(c->t.mapping, &st, &e)) < 0)
		return call_op_fail(c, rc, &e);
	activation_flags_text(st.flags, flags, sizeof(flags));
	mp_put_map(c->ret, 7);
	put_kstr(c->ret, "name", c->t.mapping);
	put_kstr(c->ret, "device", st.device);
	put_kstr(c->ret, "cipher", st.cipher);
	put_kuint(c->ret, "key_size", st.key_bits);
	put_kuint(c->ret, "sector_size", st.sector_size);
	put_kstr(c->ret, "flags", flags);
	return put_kuint(c->ret, "size", st.size);
}

struct shown {
	const struct call *c;
	char names[LIST_MAX][OP_NAME_CAP]; /* copies: libdevmapper's list is gone after */
	uint32_t n;
};

static bool
show_mapping(const char *name, void *arg)
{
	struct shown *s = arg;

	/* Its name and the LV it sits on (the grammar keeps the name under OP_NAME_CAP). */
	if (guard_mapping_visible(s->c, name) && guard_mapping_backing_visible(s->c, name))
		snprintf(s->names[s->n++], OP_NAME_CAP, "%s", name);
	return s->n < LIST_MAX;
}

static int
ephcrypt_crypt_list(struct call *c)
{
	static struct shown s; /* 128 KiB, off the stack: one call at a time */
	struct op_error e;
	int rc;

	s.c = c;
	s.n = 0;
	if ((rc = mapper_crypt_each(show_mapping, &s, &e)) < 0)
		return call_op_fail(c, rc, &e);
	mp_put_array(c->ret, s.n);
	for (uint32_t k = 0; k < s.n; k++)
		mp_put_str(c->ret, s.names[k]);
	return 0;
}

/* "<lv>-dmcrypt", Nova's naming. */
static int
mapping_for_lv(struct call *c)
{
	size_t n = strlen(c->t.lv);

	if (n + sizeof(CRYPT_SUFFIX) > sizeof(c->t.mapping))
		return call_fail(c, EXC_VALUE, EINVAL, "lv name too long for a mapping name");
	memcpy(c->t.mapping, c->t.lv, n);
	memcpy(c->t.mapping + n, CRYPT_SUFFIX, sizeof(CRYPT_SUFFIX));
	return guard_mapping(c, c->t.mapping);
}

/* LV then mapping, as one operation: a failed mapping removes the LV again. */
static int
ephcrypt_disk_create(struct call *c)
{
	struct dmcrypt_req r = { .name = NULL };
	struct lv_info li;
	uint64_t size;

	if (vg_lv_args(c) < 0 || arg_u64(c, 2, 1, MAX_LV_SIZE, &size) < 0 ||
	    mapping_for_lv(c) < 0 || dmcrypt_args(c, 3, &r) < 0)
		return -1;
	if (mapper_exists(c->t.mapping))
		return call_oserror(c, EEXIST, "mapping '%s' already exists", c->t.mapping);
	if (create_lv(c, size, &li) < 0)
		return -1;
	snprintf(c->t.device, sizeof(c->t.device), "%s", li.path);
	if (open_mapping(c, &r) == 0)
		return put_path_map(c, li.path);
	rollback_lv(c);
	return -1;
}

/* The caller hung up before hearing of the disk: mapping, then LV, removed again. */
static int
ephcrypt_disk_create_undo(struct call *c)
{
	if (close_mapping(c) < 0)
		return -1;
	return remove_lv(c);
}

/*
 * What is in the way (snapshots, a pool's volumes) is found before anything
 * changes: the mapping stays open when its LV may not go. A mapping or an LV
 * already gone is not an error here.
 */
static int
ephcrypt_disk_destroy(struct call *c)
{
	bool closed = false, exists;
	struct op_error e;
	int rc;

	if (vg_lv_args(c) < 0 || mapping_for_lv(c) < 0)
		return -1;
	rc = lvm_lv_removable(&c->opt->lvm, c->t.vg, c->t.lv, &e);
	if (rc < 0 && rc != -ENOENT)
		return call_op_fail(c, rc, &e);
	exists = rc == 0;
	if (mapper_exists(c->t.mapping)) {
		if (guard_mapping_backing(c, c->t.mapping) < 0 || close_mapping(c) < 0)
			return -1;
		closed = true;
	}
	if (exists && (rc = lvm_lv_remove(&c->opt->lvm, c->t.vg, c->t.lv, &e)) < 0) {
		if (rc != -ENOENT)
			return call_op_fail(c, rc, &e);
		exists = false;
	}
	mp_put_map(c->ret, 2);
	put_kbool(c->ret, "closed", closed);
	return put_kbool(c->ret, "removed", exists);
}

static const struct param p_vg[] = { { "vg", P_STR, false, false } };
static const struct param p_vg_lv[] = { { "vg", P_STR, false, false },
					{ "lv", P_STR, false, false } };
static const struct param p_lv_create[] = { { "vg", P_STR, false, false },
					    { "lv", P_STR, false, false },
					    { "size", P_INT, false, false } };
static const struct param p_name[] = { { "name", P_STR, false, false } };
static const struct param p_crypt_open[] = {
	{ "name", P_STR, false, false },   { "device", P_STR, false, false },
	{ "cipher", P_STR, false, false }, { "key_size", P_INT, false, false },
	{ "key", P_BIN, false, false },	   { "options", P_MAP, true, true },
};
static const struct param p_disk_create[] = {
	{ "vg", P_STR, false, false },	     { "lv", P_STR, false, false },
	{ "size", P_INT, false, false },     { "cipher", P_STR, false, false },
	{ "key_size", P_INT, false, false }, { "key", P_BIN, false, false },
	{ "options", P_MAP, true, true },
};

const struct entrypoint native_entrypoints[] = {
	{ "ephcrypt.version", EP_NO_AUDIT, NULL, 0, ephcrypt_version, NULL },
	EP("ephcrypt.vg_info", 0, p_vg, ephcrypt_vg_info),
	EP("ephcrypt.lv_create", 0, p_lv_create, ephcrypt_lv_create),
	EP("ephcrypt.lv_remove", 0, p_vg_lv, ephcrypt_lv_remove),
	EP("ephcrypt.lv_list", 0, p_vg, ephcrypt_lv_list),
	EP("ephcrypt.lv_info", 0, p_vg_lv, ephcrypt_lv_info),
	EP("ephcrypt.crypt_open", 0, p_crypt_open, ephcrypt_crypt_open),
	EP("ephcrypt.crypt_close", 0, p_name, ephcrypt_crypt_close),
	EP("ephcrypt.crypt_status", 0, p_name, ephcrypt_crypt_status),
	{ "ephcrypt.crypt_list", 0, NULL, 0, ephcrypt_crypt_list, NULL },
	EP_UNDO("ephcrypt.disk_create", 0, p_disk_create, ephcrypt_disk_create,
		ephcrypt_disk_create_undo),
	EP("ephcrypt.disk_destroy", 0, p_vg_lv, ephcrypt_disk_destroy),
};
const size_t native_entrypoints_len = sizeof(native_entrypoints) / sizeof(native_entrypoints[0]);
