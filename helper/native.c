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

#include "storage.h"

#define MAX_LV_SIZE (UINT64_C(1) << 60)
#define CRYPT_SUFFIX "-dmcrypt"

static int
ep_version(struct call *c)
{
	return mp_put_str(c->ret, EPHCRYPT_VERSION);
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
ep_vg_info(struct call *c)
{
	struct vg_info vi;

	if (vg_arg(c, 0) < 0 || guard_vg(c, c->t.vg) < 0 || lvm_vg_info(c, c->t.vg, &vi) < 0)
		return -1;
	mp_put_map(c->ret, 4);
	mp_put_str(c->ret, "name"), mp_put_str(c->ret, c->t.vg);
	mp_put_str(c->ret, "size"), mp_put_uint(c->ret, vi.size);
	mp_put_str(c->ret, "free"), mp_put_uint(c->ret, vi.free);
	mp_put_str(c->ret, "extent_size"), mp_put_uint(c->ret, vi.extent_size);
	return 0;
}

/* Undo lvcreate after a failed open or a timeout; the caller sees the original error. */
static void
rollback_lv(struct call *c)
{
	struct call_error first = c->err;
	size_t n = strlen(first.msg);

	memset(&c->err, 0, sizeof(c->err));
	/* ENOENT: a timed-out lvcreate that had not made it yet. */
	if (lvm_lv_remove(c, c->t.vg, c->t.lv) < 0 && c->err.errnum != ENOENT)
		snprintf(first.msg + n, sizeof(first.msg) - n, " (rollback failed: %s)", c->err.msg);
	call_error_clear(&c->err);
	c->err = first;
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
	int fd;

	if (guard_lv_size(c, c->t.vg, size) < 0)
		return -1;
	if (lvm_lv_create(c, c->t.vg, c->t.lv, size) < 0) {
		/* Killed at its time limit, lvcreate may have made the LV already. */
		if (c->err.errnum == ETIMEDOUT)
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
ep_lv_create(struct call *c)
{
	struct lv_info li;
	uint64_t size;

	if (vg_lv_args(c) < 0 || arg_u64(c, 2, 1, MAX_LV_SIZE, &size) < 0 || create_lv(c, size, &li) < 0)
		return -1;
	mp_put_map(c->ret, 2);
	mp_put_str(c->ret, "path"), mp_put_str(c->ret, li.path);
	mp_put_str(c->ret, "size"), mp_put_uint(c->ret, li.size);
	return 0;
}

/* lvremove refuses an open LV by itself; that refusal comes back as EBUSY. */
static int
remove_lv(struct call *c)
{
	return lvm_lv_remove(c, c->t.vg, c->t.lv);
}

static int
ep_lv_remove(struct call *c)
{
	if (vg_lv_args(c) < 0 || remove_lv(c) < 0)
		return -1;
	return mp_put_nil(c->ret);
}

static int
ep_lv_list(struct call *c)
{
	if (vg_arg(c, 0) < 0 || guard_vg(c, c->t.vg) < 0)
		return -1;
	return lvm_lv_list(c, c->t.vg);
}

static int
ep_lv_info(struct call *c)
{
	struct lv_info li;

	if (vg_lv_args(c) < 0 || lvm_lv_info(c, c->t.vg, c->t.lv, &li) < 0)
		return -1;
	mp_put_map(c->ret, 6);
	mp_put_str(c->ret, "name"), mp_put_str(c->ret, c->t.lv);
	mp_put_str(c->ret, "vg"), mp_put_str(c->ret, c->t.vg);
	mp_put_str(c->ret, "path"), mp_put_str(c->ret, li.path);
	mp_put_str(c->ret, "size"), mp_put_uint(c->ret, li.size);
	mp_put_str(c->ret, "active"), mp_put_bool(c->ret, li.active);
	mp_put_str(c->ret, "open"), mp_put_bool(c->ret, li.open);
	return 0;
}

static int
parse_option(struct call *c, const struct mp_value *k, const struct mp_value *v, struct crypt_req *r)
{
	static const struct { const char *name; uint32_t bit; } bools[] = {
		{ "allow_discards", CRYPT_ACTIVATE_ALLOW_DISCARDS },
		{ "no_read_workqueue", CRYPT_ACTIVATE_NO_READ_WORKQUEUE },
		{ "no_write_workqueue", CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE },
	};

	if (mp_str_eq(k, "sector_size")) {
		if (v->type != MP_UINT || v->v.u < 512 || v->v.u > 4096 || (v->v.u & (v->v.u - 1)))
			return call_fail(c, EXC_VALUE, EINVAL,
					 "option 'sector_size' must be a power of two in 512..4096");
		r->sector_size = (unsigned)v->v.u;
		return 0;
	}
	for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		if (!mp_str_eq(k, bools[i].name))
			continue;
		if (v->type != MP_BOOL)
			return call_fail(c, EXC_TYPE, 0, "option '%s' must be bool", bools[i].name);
		r->flags = v->v.b ? r->flags | bools[i].bit : r->flags & ~bools[i].bit;
		return 0;
	}
	return call_fail(c, EXC_VALUE, EINVAL,
			 "unknown crypt option (known: sector_size, allow_discards, "
			 "no_read_workqueue, no_write_workqueue)");
}

/* cipher, key_size, key, options at parameters i..i+3. */
static int
crypt_args(struct call *c, unsigned i, struct crypt_req *r)
{
	const struct mp_value *key, *opts;
	uint64_t bits;

	if (arg_cstr(c, i, c->t.cipher, sizeof(c->t.cipher)) < 0 || arg_u64(c, i + 1, 8, 4096, &bits) < 0)
		return -1;
	key = arg_get(c, i + 2);
	r->cipher = c->t.cipher;
	r->key = key->v.bytes;
	r->key_len = key->len;
	r->key_bits = c->t.key_size = (unsigned)bits;
	r->sector_size = 512;
	opts = arg_get(c, i + 3);
	for (uint32_t k = 0; opts && k < opts->len; k++)
		if (parse_option(c, &opts->v.items[2 * k], &opts->v.items[2 * k + 1], r) < 0)
			return -1;
	c->t.sector_size = r->sector_size;
	snprintf(c->t.flags, sizeof(c->t.flags), "%s%s%s",
		 r->flags & CRYPT_ACTIVATE_ALLOW_DISCARDS ? "allow_discards " : "",
		 r->flags & CRYPT_ACTIVATE_NO_READ_WORKQUEUE ? "no_read_workqueue " : "",
		 r->flags & CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE ? "no_write_workqueue" : "");
	return guard_crypt(c, r);
}

/* Checks every argument, then re-resolves the device at the point of use. */
static int
open_mapping(struct call *c, struct crypt_req *r)
{
	r->name = c->t.mapping;
	if (guard_mapping(c, r->name) < 0 || guard_device(c, c->t.device) < 0)
		return -1;
	r->device = c->t.node;
	if (crypt_mapping_exists(r->name))
		return call_fail(c, EXC_EXIST, EEXIST, "mapping '%s' already exists", r->name);
	return crypt_plain_open(c, r);
}

static int
put_path_map(struct call *c, const char *lv_path)
{
	char path[200];

	snprintf(path, sizeof(path), "/dev/mapper/%s", c->t.mapping);
	mp_put_map(c->ret, lv_path ? 2 : 1);
	if (lv_path)
		mp_put_str(c->ret, "lv_path"), mp_put_str(c->ret, lv_path);
	mp_put_str(c->ret, "path");
	return mp_put_str(c->ret, path);
}

static int
ep_crypt_open(struct call *c)
{
	struct crypt_req r = { .name = NULL };

	if (arg_cstr(c, 0, c->t.mapping, sizeof(c->t.mapping)) < 0 ||
	    arg_cstr(c, 1, c->t.device, sizeof(c->t.device)) < 0 || crypt_args(c, 2, &r) < 0 ||
	    open_mapping(c, &r) < 0)
		return -1;
	return put_path_map(c, NULL);
}

static int
ep_crypt_close(struct call *c)
{
	bool was_open;

	if (arg_cstr(c, 0, c->t.mapping, sizeof(c->t.mapping)) < 0 ||
	    guard_mapping(c, c->t.mapping) < 0 ||
	    crypt_plain_close(c, c->t.mapping, false, &was_open) < 0)
		return -1;
	return mp_put_nil(c->ret);
}

static int
ep_crypt_status(struct call *c)
{
	if (arg_cstr(c, 0, c->t.mapping, sizeof(c->t.mapping)) < 0 ||
	    guard_mapping(c, c->t.mapping) < 0)
		return -1;
	return crypt_plain_status(c, c->t.mapping);
}

static int
ep_crypt_list(struct call *c)
{
	return crypt_mapping_list(c);
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
ep_disk_create(struct call *c)
{
	struct crypt_req r = { .name = NULL };
	struct lv_info li;
	uint64_t size;

	if (vg_lv_args(c) < 0 || arg_u64(c, 2, 1, MAX_LV_SIZE, &size) < 0 || mapping_for_lv(c) < 0 ||
	    crypt_args(c, 3, &r) < 0)
		return -1;
	if (crypt_mapping_exists(c->t.mapping))
		return call_fail(c, EXC_EXIST, EEXIST, "mapping '%s' already exists", c->t.mapping);
	if (create_lv(c, size, &li) < 0)
		return -1;
	snprintf(c->t.device, sizeof(c->t.device), "%s", li.path);
	if (open_mapping(c, &r) == 0)
		return put_path_map(c, li.path);
	rollback_lv(c);
	return -1;
}

static int
ep_disk_destroy(struct call *c)
{
	bool closed = false, exists = true;

	if (vg_lv_args(c) < 0 || mapping_for_lv(c) < 0 ||
	    crypt_plain_close(c, c->t.mapping, true, &closed) < 0)
		return -1;
	if (remove_lv(c) < 0) {
		if (c->err.errnum != ENOENT) /* a missing LV is not an error here */
			return -1;
		call_error_clear(&c->err);
		exists = false;
	}
	mp_put_map(c->ret, 2);
	mp_put_str(c->ret, "closed"), mp_put_bool(c->ret, closed);
	mp_put_str(c->ret, "removed");
	return mp_put_bool(c->ret, exists);
}

static const struct param p_vg[] = { { "vg", P_STR, false, false } };
static const struct param p_vg_lv[] = { { "vg", P_STR, false, false }, { "lv", P_STR, false, false } };
static const struct param p_lv_create[] = { { "vg", P_STR, false, false }, { "lv", P_STR, false, false },
					    { "size", P_INT, false, false } };
static const struct param p_name[] = { { "name", P_STR, false, false } };
static const struct param p_crypt_open[] = {
	{ "name", P_STR, false, false },   { "device", P_STR, false, false },
	{ "cipher", P_STR, false, false }, { "key_size", P_INT, false, false },
	{ "key", P_BIN, false, false },	   { "options", P_MAP, true, true },
};
static const struct param p_disk_create[] = {
	{ "vg", P_STR, false, false },	   { "lv", P_STR, false, false },
	{ "size", P_INT, false, false },   { "cipher", P_STR, false, false },
	{ "key_size", P_INT, false, false }, { "key", P_BIN, false, false },
	{ "options", P_MAP, true, true },
};

#define EP(name, flags, params, fn) { name, flags, params, sizeof(params) / sizeof(params[0]), fn }
#define MUT (EP_STORAGE | EP_MUTATES)

const struct entrypoint native_entrypoints[] = {
	{ "ephcrypt.version", EP_NO_AUDIT, NULL, 0, ep_version },
	EP("ephcrypt.vg_info", EP_STORAGE, p_vg, ep_vg_info),
	EP("ephcrypt.lv_create", MUT, p_lv_create, ep_lv_create),
	EP("ephcrypt.lv_remove", MUT, p_vg_lv, ep_lv_remove),
	EP("ephcrypt.lv_list", EP_STORAGE, p_vg, ep_lv_list),
	EP("ephcrypt.lv_info", EP_STORAGE, p_vg_lv, ep_lv_info),
	EP("ephcrypt.crypt_open", MUT | EP_TAKES_KEY, p_crypt_open, ep_crypt_open),
	EP("ephcrypt.crypt_close", MUT, p_name, ep_crypt_close),
	EP("ephcrypt.crypt_status", EP_STORAGE, p_name, ep_crypt_status),
	{ "ephcrypt.crypt_list", EP_STORAGE, NULL, 0, ep_crypt_list },
	EP("ephcrypt.disk_create", MUT | EP_TAKES_KEY, p_disk_create, ep_disk_create),
	EP("ephcrypt.disk_destroy", MUT, p_vg_lv, ep_disk_destroy),
};
const size_t native_entrypoints_len = sizeof(native_entrypoints) / sizeof(native_entrypoints[0]);
