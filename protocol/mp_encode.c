/* SPDX-License-Identifier: Apache-2.0 */
/* msgpack encoding through msgpack-c's packer, into a buffer with a hard cap. */
#include <stdlib.h>
#include <string.h>

#include "mp.h"

/* Packer callback: append, growing without realloc so nothing stale is left. */
static int
buf_write(void *data, const char *p, size_t n)
{
	struct mp_buf *b = data;

	if (n == 0)
		return b->overflow ? -1 : 0; /* an empty str/bin body may come with p == NULL */
	if (b->overflow || n > b->max - b->len) {
		b->overflow = true;
		return -1;
	}
	if (n > b->cap - b->len) {
		size_t ncap = b->cap ? b->cap : 256;
		uint8_t *nd;

		while (ncap - b->len < n)
			ncap *= 2;
		if (ncap > b->max)
			ncap = b->max;
		nd = malloc(ncap);
		if (!nd) {
			b->overflow = true;
			return -1;
		}
		if (b->data) {
			memcpy(nd, b->data, b->len);
			explicit_bzero(b->data, b->cap);
			free(b->data);
		}
		b->data = nd;
		b->cap = ncap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void
mp_buf_init(struct mp_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
	msgpack_packer_init(&b->pk, b, buf_write);
}

void
mp_buf_reset(struct mp_buf *b)
{
	if (b->data)
		explicit_bzero(b->data, b->len);
	b->len = 0;
	b->overflow = false;
}

void
mp_buf_free(struct mp_buf *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}

int
mp_put_raw(struct mp_buf *b, const void *p, size_t n)
{
	return buf_write(b, p, n);
}

int
mp_put_strn(struct mp_buf *b, const void *s, size_t n)
{
	if (n > UINT32_MAX)
		return -1;
	return msgpack_pack_str_with_body(&b->pk, s, n);
}

int
mp_put_str(struct mp_buf *b, const char *s)
{
	return mp_put_strn(b, s, strlen(s));
}

int
mp_put_bin(struct mp_buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX)
		return -1;
	return msgpack_pack_bin_with_body(&b->pk, p, n);
}

int
mp_put_uint(struct mp_buf *b, uint64_t u)
{
	return msgpack_pack_uint64(&b->pk, u);
}

int
mp_put_int(struct mp_buf *b, int64_t i)
{
	return msgpack_pack_int64(&b->pk, i);
}

int
mp_put_bool(struct mp_buf *b, bool v)
{
	return v ? msgpack_pack_true(&b->pk) : msgpack_pack_false(&b->pk);
}

int
mp_put_nil(struct mp_buf *b)
{
	return msgpack_pack_nil(&b->pk);
}

int
mp_put_double(struct mp_buf *b, double d)
{
	return msgpack_pack_double(&b->pk, d);
}

int
mp_put_array(struct mp_buf *b, uint32_t n)
{
	return msgpack_pack_array(&b->pk, n);
}

int
mp_put_map(struct mp_buf *b, uint32_t n)
{
	return msgpack_pack_map(&b->pk, n);
}

int
mp_put_value(struct mp_buf *b, const struct mp_value *v)
{
	int rc = 0;

	switch (v->type) {
	case MP_NIL: return mp_put_nil(b);
	case MP_BOOL: return mp_put_bool(b, v->v.b);
	case MP_INT: return mp_put_int(b, v->v.i);
	case MP_UINT: return mp_put_uint(b, v->v.u);
	case MP_FLOAT: return mp_put_double(b, v->v.f);
	case MP_STR: return mp_put_strn(b, v->v.bytes, v->len);
	case MP_BIN: return mp_put_bin(b, v->v.bytes, v->len);
	case MP_ARRAY:
		rc = mp_put_array(b, v->len);
		for (uint32_t k = 0; rc == 0 && k < v->len; k++)
			rc = mp_put_value(b, &v->v.items[k]);
		return rc;
	case MP_MAP:
		rc = mp_put_map(b, v->len);
		for (uint32_t k = 0; rc == 0 && k < 2 * v->len; k++)
			rc = mp_put_value(b, &v->v.items[k]);
		return rc;
	default: return -1;
	}
}
