/* SPDX-License-Identifier: Apache-2.0 */
/* Typed calls for the helper's native ephcrypt.* entrypoints (helper/native.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib.h"

#define ARGS_MAX (1u << 20)

static int
bad_reply(const char *name, struct ephcrypt_error *err)
{
	return ec_fail(err, EPHCRYPT_E_CHANNEL, EPROTO,
		       "%s: the helper's reply has the wrong shape", name);
}

static uint64_t
map_uint(const struct mp_value *m, const char *key)
{
	const struct mp_value *v = mp_map_get(m, key);
	return v && v->type == MP_UINT ? v->v.u : 0;
}

static bool
map_bool(const struct mp_value *m, const char *key)
{
	const struct mp_value *v = mp_map_get(m, key);
	return v && v->type == MP_BOOL && v->v.b;
}

static void
map_str(char *dst, size_t cap, const struct mp_value *m, const char *key)
{
	ec_copy_str(dst, cap, mp_map_get(m, key));
}

/* Call with n string arguments; the reply must be of type want (or any, if want < 0). */
static int
call_strs(struct ephcrypt_helper *h, const char *name, const char *const *strs, uint32_t n,
	  int want, struct ec_reply *r, struct ephcrypt_error *err)
{
	struct mp_buf b;
	int rc;

	mp_buf_init(&b, ARGS_MAX);
	mp_put_array(&b, n);
	for (uint32_t k = 0; k < n; k++)
		mp_put_str(&b, strs[k]);
	rc = ec_call(h, name, &b, r, err);
	mp_buf_free(&b);
	if (rc == 0 && want >= 0 && r->value->type != (enum mp_type)want) {
		ec_reply_free(r);
		return bad_reply(name, err);
	}
	return rc;
}

int
ephcrypt_version(struct ephcrypt_helper *h, char *buf, size_t cap, struct ephcrypt_error *err)
{
	struct ec_reply r;

	if (call_strs(h, "ephcrypt.version", NULL, 0, MP_STR, &r, err) < 0)
		return -1;
	ec_copy_str(buf, cap, r.value);
	ec_reply_free(&r);
	return 0;
}

int
ephcrypt_vg_info(struct ephcrypt_helper *h, const char *vg, struct ephcrypt_vg_info *out,
		 struct ephcrypt_error *err)
{
	struct ec_reply r;
	const char *a[] = { vg };

	if (call_strs(h, "ephcrypt.vg_info", a, 1, MP_MAP, &r, err) < 0)
		return -1;
	map_str(out->name, sizeof(out->name), r.value, "name");
	out->size = map_uint(r.value, "size");
	out->free = map_uint(r.value, "free");
	out->extent_size = map_uint(r.value, "extent_size");
	ec_reply_free(&r);
	return 0;
}

static void
lv_info_from(struct ephcrypt_lv_info *out, const struct mp_value *m, const char *vg, const char *lv)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->vg, sizeof(out->vg), "%s", vg);
	snprintf(out->name, sizeof(out->name), "%s", lv);
	map_str(out->path, sizeof(out->path), m, "path");
	out->size = map_uint(m, "size");
	out->active = mp_map_get(m, "active") ? map_bool(m, "active") : true;
	out->open = map_bool(m, "open");
}

int
ephcrypt_lv_create(struct ephcrypt_helper *h, const char *vg, const char *lv, uint64_t size,
		   struct ephcrypt_lv_info *out, struct ephcrypt_error *err)
{
	struct ec_reply r;
	struct mp_buf b;
	int rc;

	mp_buf_init(&b, ARGS_MAX);
	mp_put_array(&b, 3), mp_put_str(&b, vg), mp_put_str(&b, lv), mp_put_uint(&b, size);
	rc = ec_call(h, "ephcrypt.lv_create", &b, &r, err);
	mp_buf_free(&b);
	if (rc < 0)
		return -1;
	if (r.value->type != MP_MAP) {
		ec_reply_free(&r);
		return bad_reply("ephcrypt.lv_create", err);
	}
	if (out)
		lv_info_from(out, r.value, vg, lv);
	ec_reply_free(&r);
	return 0;
}

int
ephcrypt_lv_remove(struct ephcrypt_helper *h, const char *vg, const char *lv,
		   struct ephcrypt_error *err)
{
	struct ec_reply r;
	const char *a[] = { vg, lv };

	if (call_strs(h, "ephcrypt.lv_remove", a, 2, -1, &r, err) < 0)
		return -1;
	ec_reply_free(&r);
	return 0;
}

int
ephcrypt_lv_info(struct ephcrypt_helper *h, const char *vg, const char *lv,
		 struct ephcrypt_lv_info *out, struct ephcrypt_error *err)
{
	struct ec_reply r;
	const char *a[] = { vg, lv };

	if (call_strs(h, "ephcrypt.lv_info", a, 2, MP_MAP, &r, err) < 0)
		return -1;
	lv_info_from(out, r.value, vg, lv);
	ec_reply_free(&r);
	return 0;
}

static int
names_from(const struct mp_value *v, struct ephcrypt_names *out, struct ephcrypt_error *err)
{
	out->count = 0;
	out->names = calloc(v->len + 1u, sizeof(char *));
	if (!out->names)
		return ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "out of memory");
	for (uint32_t k = 0; k < v->len; k++) {
		const struct mp_value *s = &v->v.items[k];
		char *copy = s->type == MP_STR ? strndup((const char *)s->v.bytes, s->len) : NULL;
		if (copy)
			out->names[out->count++] = copy;
	}
	return 0;
}

static int
list_call(struct ephcrypt_helper *h, const char *name, const char *const *a, uint32_t n,
	  struct ephcrypt_names *out, struct ephcrypt_error *err)
{
	struct ec_reply r;
	int rc;

	memset(out, 0, sizeof(*out));
	if (call_strs(h, name, a, n, MP_ARRAY, &r, err) < 0)
		return -1;
	rc = names_from(r.value, out, err);
	ec_reply_free(&r);
	return rc;
}

int
ephcrypt_lv_list(struct ephcrypt_helper *h, const char *vg, struct ephcrypt_names *out,
		 struct ephcrypt_error *err)
{
	const char *a[] = { vg };
	return list_call(h, "ephcrypt.lv_list", a, 1, out, err);
}

int
ephcrypt_crypt_list(struct ephcrypt_helper *h, struct ephcrypt_names *out,
		    struct ephcrypt_error *err)
{
	return list_call(h, "ephcrypt.crypt_list", NULL, 0, out, err);
}

/* cipher, key_size, key, options: the tail both crypt_open and disk_create take. */
static int
put_crypt(struct mp_buf *b, const struct ephcrypt_crypt_params *p, struct ephcrypt_error *err)
{
	if (!p || !p->key || !p->key->data || p->key->len == 0)
		return ec_fail(err, EPHCRYPT_E_USAGE, EINVAL, "no key given");
	mp_put_str(b, p->cipher ? p->cipher : "aes-xts-plain64");
	mp_put_uint(b, p->key_bits ? p->key_bits : 8u * p->key->len);
	mp_put_bin(b, p->key->data, p->key->len);
	if (p->sector_size) {
		mp_put_map(b, 1);
		mp_put_str(b, "sector_size"), mp_put_uint(b, p->sector_size);
	} else {
		mp_put_nil(b);
	}
	return 0;
}

static int
path_call(struct ephcrypt_helper *h, const char *name, struct mp_buf *b, char *path, size_t cap,
	  struct ephcrypt_error *err)
{
	struct ec_reply r;
	int rc = ec_call(h, name, b, &r, err);

	mp_buf_free(b); /* wipes the key's copy */
	if (rc < 0)
		return -1;
	if (r.value->type != MP_MAP) {
		ec_reply_free(&r);
		return bad_reply(name, err);
	}
	if (path && cap)
		map_str(path, cap, r.value, "path");
	ec_reply_free(&r);
	return 0;
}

int
ephcrypt_crypt_open(struct ephcrypt_helper *h, const char *name, const char *device,
		    const struct ephcrypt_crypt_params *p, char *path, size_t cap,
		    struct ephcrypt_error *err)
{
	struct mp_buf b;

	ec_error_clear(err);
	mp_buf_init(&b, ARGS_MAX);
	mp_put_array(&b, 6), mp_put_str(&b, name), mp_put_str(&b, device);
	if (put_crypt(&b, p, err) < 0) {
		mp_buf_free(&b);
		return -1;
	}
	return path_call(h, "ephcrypt.crypt_open", &b, path, cap, err);
}

int
ephcrypt_disk_create(struct ephcrypt_helper *h, const char *vg, const char *lv, uint64_t size,
		     const struct ephcrypt_crypt_params *p, char *path, size_t cap,
		     struct ephcrypt_error *err)
{
	struct mp_buf b;

	ec_error_clear(err);
	mp_buf_init(&b, ARGS_MAX);
	mp_put_array(&b, 7), mp_put_str(&b, vg), mp_put_str(&b, lv), mp_put_uint(&b, size);
	if (put_crypt(&b, p, err) < 0) {
		mp_buf_free(&b);
		return -1;
	}
	return path_call(h, "ephcrypt.disk_create", &b, path, cap, err);
}

int
ephcrypt_crypt_close(struct ephcrypt_helper *h, const char *name, struct ephcrypt_error *err)
{
	struct ec_reply r;
	const char *a[] = { name };

	if (call_strs(h, "ephcrypt.crypt_close", a, 1, -1, &r, err) < 0)
		return -1;
	ec_reply_free(&r);
	return 0;
}

int
ephcrypt_crypt_status(struct ephcrypt_helper *h, const char *name,
		      struct ephcrypt_crypt_status *out, struct ephcrypt_error *err)
{
	struct ec_reply r;
	const char *a[] = { name };

	if (call_strs(h, "ephcrypt.crypt_status", a, 1, MP_MAP, &r, err) < 0)
		return -1;
	memset(out, 0, sizeof(*out));
	map_str(out->name, sizeof(out->name), r.value, "name");
	map_str(out->device, sizeof(out->device), r.value, "device");
	map_str(out->cipher, sizeof(out->cipher), r.value, "cipher");
	map_str(out->flags, sizeof(out->flags), r.value, "flags");
	out->key_size = (unsigned)map_uint(r.value, "key_size");
	out->sector_size = (unsigned)map_uint(r.value, "sector_size");
	out->size = map_uint(r.value, "size");
	ec_reply_free(&r);
	return 0;
}

int
ephcrypt_disk_destroy(struct ephcrypt_helper *h, const char *vg, const char *lv, bool *closed,
		      bool *removed, struct ephcrypt_error *err)
{
	struct ec_reply r;
	const char *a[] = { vg, lv };

	if (call_strs(h, "ephcrypt.disk_destroy", a, 2, MP_MAP, &r, err) < 0)
		return -1;
	if (closed)
		*closed = map_bool(r.value, "closed");
	if (removed)
		*removed = map_bool(r.value, "removed");
	ec_reply_free(&r);
	return 0;
}
