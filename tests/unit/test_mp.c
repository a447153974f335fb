/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The msgpack codec (protocol/mp_*.c) and the privsep envelope
 * (protocol/privsep.c): every type and width, the bytes the real Python
 * client and daemon put on the wire (docs/privsep-and-nova.md 5.1), every
 * malformed form, and the streaming reader's resynchronisation after a
 * message over a limit. Encodings the encoder never produces (str16 of three
 * bytes, array32 of two items ...) are written out by hand.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../protocol/mp.h"
#include "../../protocol/privsep.h"

/* --- byte strings ----------------------------------------------------------- */

struct bytes {
	uint8_t *d;
	size_t n, cap;
};

static void
b_add(struct bytes *b, const void *p, size_t n)
{
	if (b->n + n > b->cap) {
		size_t ncap = b->cap ? b->cap : 64;

		while (ncap < b->n + n)
			ncap *= 2;
		b->d = realloc(b->d, ncap);
		cr_assert_not_null(b->d, "realloc(%zu) for a test buffer", ncap);
		b->cap = ncap;
	}
	if (n)
		memcpy(b->d + b->n, p, n);
	b->n += n;
}

static void
b_byte(struct bytes *b, uint8_t x)
{
	b_add(b, &x, 1);
}

static void
b_fill(struct bytes *b, uint8_t x, size_t n)
{
	for (size_t k = 0; k < n; k++)
		b_byte(b, x);
}

/* Hex pairs; spaces are ignored. */
static void
b_hex(struct bytes *b, const char *hex)
{
	while (*hex) {
		unsigned v;

		if (*hex == ' ') {
			hex++;
			continue;
		}
		cr_assert(sscanf(hex, "%2x", &v) == 1, "bad hex in test: '%s'", hex);
		b_byte(b, (uint8_t)v);
		hex += 2;
	}
}

/* Raw bytes of a C string (no header, no NUL). */
static void
b_str(struct bytes *b, const char *s)
{
	b_add(b, s, strlen(s));
}

static void
b_free(struct bytes *b)
{
	free(b->d);
	memset(b, 0, sizeof(*b));
}

static struct bytes
from_hex(const char *hex)
{
	struct bytes b = { 0 };

	b_hex(&b, hex);
	return b;
}

/* Printable hex for failure messages (one static buffer per process is enough). */
static const char *
hexs(const uint8_t *p, size_t n)
{
	static char out[2 * 96 + 8];
	size_t k, o = 0;

	for (k = 0; k < n && k < 96; k++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%02x", p[k]);
	if (k < n)
		snprintf(out + o, sizeof(out) - o, "...");
	return out;
}

static void
assert_bytes(const uint8_t *got, size_t gotlen, const uint8_t *want, size_t wantlen,
	     const char *what)
{
	char w[2 * 96 + 8];

	snprintf(w, sizeof(w), "%s", hexs(want, wantlen));
	cr_assert(gotlen == wantlen && memcmp(got, want, wantlen) == 0,
		  "%s: got %zu bytes %s, want %zu bytes %s", what, gotlen, hexs(got, gotlen),
		  wantlen, w);
}

static void
assert_buf_hex(const struct mp_buf *b, const char *hex, const char *what)
{
	struct bytes want = from_hex(hex);

	cr_assert(!b->overflow, "%s: encoder overflowed", what);
	assert_bytes(b->data, b->len, want.d, want.n, what);
	b_free(&want);
}

/* --- decoding helpers ----------------------------------------------------------- */

static struct mp_limits
limits(size_t max_message, size_t max_items, unsigned max_depth)
{
	struct mp_limits l = { max_message, max_items, max_depth };

	return l;
}

static enum mp_status
decode_status(const uint8_t *p, size_t n, const struct mp_limits *lim)
{
	struct mp_frame *f = NULL;
	enum mp_status st = mp_decode(p, n, lim, &f);

	if (st == MP_OK)
		cr_assert_not_null(f, "mp_decode returned MP_OK without a frame");
	else
		cr_assert_null(f, "mp_decode returned %s with a frame", mp_status_str(st));
	mp_frame_free(f);
	return st;
}

static struct mp_frame *
decode_ok(const uint8_t *p, size_t n, const struct mp_limits *lim)
{
	struct mp_frame *f = NULL;
	enum mp_status st = mp_decode(p, n, lim, &f);

	cr_assert_eq(st, MP_OK, "mp_decode(%s) must succeed, got '%s'", hexs(p, n),
		     mp_status_str(st));
	cr_assert_eq(f->len, n, "mp_decode(%s) consumed %zu of %zu bytes", hexs(p, n), f->len, n);
	cr_assert_arr_eq(f->bytes, p, n, "frame bytes must be the input bytes");
	return f;
}

static void
expect_status(const struct bytes *b, const struct mp_limits *lim, enum mp_status want,
	      const char *why)
{
	enum mp_status st = decode_status(b->d, b->n, lim);

	cr_assert_eq(st, want, "mp_decode(%s) must fail with '%s' (%s), got '%s'", hexs(b->d, b->n),
		     mp_status_str(want), why, mp_status_str(st));
}

/* As expect_status, but the test goes on (and frees) after a failure: for open bugs. */
static void
expect_status_soft(const struct bytes *b, const struct mp_limits *lim, enum mp_status want,
		   const char *why)
{
	enum mp_status st = decode_status(b->d, b->n, lim);

	cr_expect_eq(st, want, "mp_decode(%s) must fail with '%s' (%s), got '%s'", hexs(b->d, b->n),
		     mp_status_str(want), why, mp_status_str(st));
}

/* Structural equality; doubles are compared bit for bit (NaN, -0.0). */
static bool
value_eq(const struct mp_value *a, const struct mp_value *b)
{
	if (a->type != b->type)
		return false;
	switch (a->type) {
	case MP_NIL: return true;
	case MP_BOOL: return a->v.b == b->v.b;
	case MP_INT: return a->v.i == b->v.i;
	case MP_UINT: return a->v.u == b->v.u;
	case MP_FLOAT: return memcmp(&a->v.f, &b->v.f, sizeof(double)) == 0;
	case MP_STR:
	case MP_BIN: return a->len == b->len && memcmp(a->v.bytes, b->v.bytes, a->len) == 0;
	case MP_ARRAY:
	case MP_MAP: {
		uint32_t n = a->type == MP_MAP ? 2 * a->len : a->len;

		if (a->len != b->len)
			return false;
		for (uint32_t k = 0; k < n; k++)
			if (!value_eq(&a->v.items[k], &b->v.items[k]))
				return false;
		return true;
	}
	default: return false;
	}
}

/* Re-encode with mp_put_value; the result must equal `want` byte for byte. */
static void
assert_reencodes_to(const struct mp_value *v, const uint8_t *want, size_t n, const char *what)
{
	struct mp_buf b;

	mp_buf_init(&b, 1u << 26);
	cr_assert_eq(mp_put_value(&b, v), 0, "mp_put_value(%s) must succeed", what);
	assert_bytes(b.data, b.len, want, n, what);
	mp_buf_free(&b);
}

static void
assert_str(const struct mp_value *v, const char *s, const char *what)
{
	cr_assert(mp_str_eq(v, s), "%s must be the str '%s' (type %d, len %u)", what, s,
		  (int)v->type, v->len);
}

/* --- round trips: integers ------------------------------------------------------- */

static const struct {
	uint64_t u;
	const char *hex;
} uints[] = {
	{ 0, "00" },
	{ 1, "01" },
	{ 127, "7f" },
	{ 128, "cc80" },
	{ 255, "ccff" },
	{ 256, "cd0100" },
	{ 65535, "cdffff" },
	{ 65536, "ce00010000" },
	{ UINT32_MAX, "ceffffffff" },
	{ (uint64_t)UINT32_MAX + 1, "cf0000000100000000" },
	{ (uint64_t)INT64_MAX, "cf7fffffffffffffff" },
	{ UINT64_MAX, "cfffffffffffffffff" },
};

Test(mp_roundtrip, uint_every_width)
{
	for (size_t k = 0; k < sizeof(uints) / sizeof(uints[0]); k++) {
		struct mp_buf b;
		struct mp_frame *f;

		mp_buf_init(&b, 64);
		cr_assert_eq(mp_put_uint(&b, uints[k].u), 0, "mp_put_uint(%llu)",
			     (unsigned long long)uints[k].u);
		assert_buf_hex(&b, uints[k].hex, "mp_put_uint picks the smallest width");
		f = decode_ok(b.data, b.len, NULL);
		cr_assert_eq(f->root->type, MP_UINT, "%s decodes as MP_UINT", uints[k].hex);
		cr_assert_eq(f->root->v.u, uints[k].u, "%s decodes to %llu, got %llu", uints[k].hex,
			     (unsigned long long)uints[k].u, (unsigned long long)f->root->v.u);
		assert_reencodes_to(f->root, b.data, b.len, "uint re-encoding");
		mp_frame_free(f);
		mp_buf_free(&b);
	}
}

static const struct {
	int64_t i;
	const char *hex;
} ints[] = {
	{ -1, "ff" },
	{ -32, "e0" },
	{ -33, "d0df" },
	{ -128, "d080" },
	{ -129, "d1ff7f" },
	{ -32768, "d18000" },
	{ -32769, "d2ffff7fff" },
	{ INT32_MIN, "d280000000" },
	{ (int64_t)INT32_MIN - 1, "d3ffffffff7fffffff" },
	{ INT64_MIN, "d38000000000000000" },
	/* Non-negative values through mp_put_int use the unsigned forms. */
	{ 0, "00" },
	{ 127, "7f" },
	{ 128, "cc80" },
	{ 255, "ccff" },
	{ 256, "cd0100" },
	{ 65535, "cdffff" },
	{ 65536, "ce00010000" },
	{ INT64_MAX, "cf7fffffffffffffff" },
};

Test(mp_roundtrip, int_every_width_and_boundary)
{
	for (size_t k = 0; k < sizeof(ints) / sizeof(ints[0]); k++) {
		struct mp_buf b;
		struct mp_frame *f;

		mp_buf_init(&b, 64);
		cr_assert_eq(mp_put_int(&b, ints[k].i), 0, "mp_put_int(%lld)",
			     (long long)ints[k].i);
		assert_buf_hex(&b, ints[k].hex, "mp_put_int picks the smallest width");
		f = decode_ok(b.data, b.len, NULL);
		if (ints[k].i < 0) {
			cr_assert_eq(f->root->type, MP_INT, "%s decodes as MP_INT", ints[k].hex);
			cr_assert_eq(f->root->v.i, ints[k].i, "%s decodes to %lld, got %lld",
				     ints[k].hex, (long long)ints[k].i, (long long)f->root->v.i);
		} else {
			cr_assert_eq(f->root->type, MP_UINT, "%s (non-negative) decodes as MP_UINT",
				     ints[k].hex);
			cr_assert_eq(f->root->v.u, (uint64_t)ints[k].i, "%s decodes to %lld",
				     ints[k].hex, (long long)ints[k].i);
		}
		assert_reencodes_to(f->root, b.data, b.len, "int re-encoding");
		mp_frame_free(f);
		mp_buf_free(&b);
	}
}

/* Wider-than-needed encodings (other msgpack writers use them) normalise. */
Test(mp_decode, int_non_minimal_widths_normalise)
{
	static const struct {
		const char *hex;
		enum mp_type type;
		int64_t i;
		const char *minimal;
	} cases[] = {
		{ "cc05", MP_UINT, 5, "05" },
		{ "cd0005", MP_UINT, 5, "05" },
		{ "ce00000005", MP_UINT, 5, "05" },
		{ "cf0000000000000005", MP_UINT, 5, "05" },
		{ "d005", MP_UINT, 5, "05" },
		{ "d07f", MP_UINT, 127, "7f" },
		{ "d10080", MP_UINT, 128, "cc80" },
		{ "d3000000000000ffff", MP_UINT, 65535, "cdffff" },
		{ "d37fffffffffffffff", MP_UINT, INT64_MAX, "cf7fffffffffffffff" },
		{ "d0ff", MP_INT, -1, "ff" },
		{ "d1ffff", MP_INT, -1, "ff" },
		{ "d2ffffffff", MP_INT, -1, "ff" },
		{ "d3ffffffffffffffff", MP_INT, -1, "ff" },
		{ "d1ffe0", MP_INT, -32, "e0" },
		{ "d2ffffffdf", MP_INT, -33, "d0df" },
		{ "d3ffffffffffff7fff", MP_INT, -32769, "d2ffff7fff" },
		{ "d3ffffffff7fffffff", MP_INT, (int64_t)INT32_MIN - 1, "d3ffffffff7fffffff" },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct bytes in = from_hex(cases[k].hex), want = from_hex(cases[k].minimal);
		struct mp_frame *f = decode_ok(in.d, in.n, NULL);

		cr_assert_eq(f->root->type, cases[k].type, "%s: type", cases[k].hex);
		if (cases[k].type == MP_INT)
			cr_assert_eq(f->root->v.i, cases[k].i, "%s decodes to %lld", cases[k].hex,
				     (long long)cases[k].i);
		else
			cr_assert_eq(f->root->v.u, (uint64_t)cases[k].i, "%s decodes to %lld",
				     cases[k].hex, (long long)cases[k].i);
		assert_reencodes_to(f->root, want.d, want.n, cases[k].hex);
		mp_frame_free(f);
		b_free(&in);
		b_free(&want);
	}
}

Test(mp_roundtrip, every_fixint_byte)
{
	for (unsigned x = 0; x < 256; x++) {
		uint8_t byte = (uint8_t)x;
		struct mp_frame *f;

		if (x >= 0x80 && x < 0xe0)
			continue;
		f = decode_ok(&byte, 1, NULL);
		if (x < 0x80) {
			cr_assert_eq(f->root->type, MP_UINT, "%02x is a positive fixint", x);
			cr_assert_eq(f->root->v.u, x, "%02x decodes to %u", x, x);
		} else {
			cr_assert_eq(f->root->type, MP_INT, "%02x is a negative fixint", x);
			cr_assert_eq(f->root->v.i, (int64_t)x - 256, "%02x decodes to %d", x,
				     (int)x - 256);
		}
		assert_reencodes_to(f->root, &byte, 1, "fixint re-encoding");
		mp_frame_free(f);
	}
}

/* --- round trips: nil, bool, float ----------------------------------------------- */

Test(mp_roundtrip, nil_true_false)
{
	struct mp_buf b;
	struct mp_frame *f;

	mp_buf_init(&b, 64);
	cr_assert_eq(mp_put_array(&b, 3) || mp_put_nil(&b) || mp_put_bool(&b, true) ||
			     mp_put_bool(&b, false),
		     0, "encoding [nil, true, false]");
	assert_buf_hex(&b, "93c0c3c2", "[nil, true, false]");
	f = decode_ok(b.data, b.len, NULL);
	cr_assert_eq(f->root->type, MP_ARRAY);
	cr_assert_eq(f->root->len, 3);
	cr_assert_eq(f->root->v.items[0].type, MP_NIL);
	cr_assert_eq(f->root->v.items[1].type, MP_BOOL);
	cr_assert(f->root->v.items[1].v.b, "c3 is true");
	cr_assert_eq(f->root->v.items[2].type, MP_BOOL);
	cr_assert(!f->root->v.items[2].v.b, "c2 is false");
	cr_assert_eq(f->nvals, 4, "a frame holds one value per item (root + 3), got %zu", f->nvals);
	assert_reencodes_to(f->root, b.data, b.len, "[nil, true, false]");
	mp_frame_free(f);
	mp_buf_free(&b);
}

Test(mp_roundtrip, float64)
{
	const double vals[] = { 0.0,
				-0.0,
				1.5,
				-2.25,
				1e300,
				-1e-300,
				5e-324 /* denormal */,
				1.7976931348623157e308,
				INFINITY,
				-INFINITY,
				NAN };

	for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
		struct mp_buf b;
		struct mp_frame *f;
		uint64_t bits;
		uint8_t want[9] = { 0xcb };

		memcpy(&bits, &vals[k], 8);
		for (int j = 0; j < 8; j++)
			want[1 + j] = (uint8_t)(bits >> (56 - 8 * j));
		mp_buf_init(&b, 64);
		cr_assert_eq(mp_put_double(&b, vals[k]), 0, "mp_put_double(%g)", vals[k]);
		assert_bytes(b.data, b.len, want, 9,
			     "float64 is cb + 8 big-endian bytes (Python's form)");
		f = decode_ok(b.data, b.len, NULL);
		cr_assert_eq(f->root->type, MP_FLOAT, "cb decodes as MP_FLOAT");
		cr_assert(memcmp(&f->root->v.f, &vals[k], 8) == 0, "%g must round-trip bit for bit",
			  vals[k]);
		assert_reencodes_to(f->root, want, 9, "float64 re-encoding");
		mp_frame_free(f);
		mp_buf_free(&b);
	}
}

Test(mp_decode, float32)
{
	static const struct {
		const char *hex;
		float f;
	} cases[] = {
		{ "ca3fc00000", 1.5f },
		{ "cabf800000", -1.0f },
		{ "ca00000000", 0.0f },
		{ "ca80000000", -0.0f },
		{ "ca7f800000", INFINITY },
		{ "caff800000", -INFINITY },
		{ "ca00000001", 1.4e-45f }, /* smallest denormal */
		{ "ca7f7fffff", 3.4028234663852886e38f },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct bytes in = from_hex(cases[k].hex);
		struct mp_frame *f = decode_ok(in.d, in.n, NULL);
		double want = (double)cases[k].f;
		struct mp_buf b;
		struct mp_frame *g;

		cr_assert_eq(f->root->type, MP_FLOAT, "%s decodes as MP_FLOAT", cases[k].hex);
		cr_assert(memcmp(&f->root->v.f, &want, 8) == 0, "%s decodes to %g, got %g",
			  cases[k].hex, want, f->root->v.f);
		/* Re-encoded as float64 with the same value. */
		mp_buf_init(&b, 64);
		cr_assert_eq(mp_put_value(&b, f->root), 0);
		cr_assert_eq(b.len, 9, "a float32 re-encodes as float64");
		cr_assert_eq(b.data[0], 0xcb);
		g = decode_ok(b.data, b.len, NULL);
		cr_assert(value_eq(f->root, g->root), "%s: float32 -> float64 keeps the value",
			  cases[k].hex);
		mp_frame_free(g);
		mp_buf_free(&b);
		mp_frame_free(f);
		b_free(&in);
	}
	{
		struct bytes nan32 = from_hex("ca7fc00000");
		struct mp_frame *f = decode_ok(nan32.d, nan32.n, NULL);

		cr_assert(isnan(f->root->v.f), "ca 7fc00000 is a NaN");
		mp_frame_free(f);
		b_free(&nan32);
	}
}

/* --- round trips: str and bin ------------------------------------------------------ */

static void
check_sized(bool bin, size_t n, const char *hdr_hex)
{
	struct bytes want = from_hex(hdr_hex), payload = { 0 };
	struct mp_buf b;
	struct mp_frame *f;
	struct mp_limits lim = limits(1u << 20, 1u << 16, MP_MAX_DEPTH);
	const uint8_t *src;

	for (size_t k = 0; k < n; k++)
		b_byte(&payload, (uint8_t)(k * 7 + 1));
	b_add(&want, payload.d, payload.n);
	mp_buf_init(&b, 1u << 20);
	/* a real pointer even for 0 bytes: NULL is tested in empty_from_null */
	src = n ? payload.d : (const uint8_t *)"";
	cr_assert_eq(bin ? mp_put_bin(&b, src, n) : mp_put_strn(&b, src, n), 0,
		     "mp_put_%s(%zu bytes)", bin ? "bin" : "strn", n);
	cr_assert(b.len == want.n && memcmp(b.data, want.d, want.n) == 0,
		  "%s of %zu bytes must encode with header %s, got %s", bin ? "bin" : "str", n,
		  hdr_hex, hexs(b.data, b.len < 8 ? b.len : 8));
	f = decode_ok(b.data, b.len, &lim);
	cr_assert_eq(f->root->type, bin ? MP_BIN : MP_STR, "type of a %zu-byte %s", n,
		     bin ? "bin" : "str");
	cr_assert_eq(f->root->len, n, "length of a %zu-byte %s", n, bin ? "bin" : "str");
	cr_assert(n == 0 || memcmp(f->root->v.bytes, payload.d, n) == 0, "payload round trip");
	assert_reencodes_to(f->root, b.data, b.len, "str/bin re-encoding");
	mp_frame_free(f);
	mp_buf_free(&b);
	b_free(&want);
	b_free(&payload);
}

Test(mp_roundtrip, str_every_width)
{
	check_sized(false, 0, "a0");
	check_sized(false, 1, "a1");
	check_sized(false, 31, "bf");
	check_sized(false, 32, "d920");
	check_sized(false, 255, "d9ff");
	check_sized(false, 256, "da0100");
	check_sized(false, 65535, "daffff");
	check_sized(false, 65536, "db00010000");
	check_sized(false, 70000, "db00011170");
}

Test(mp_roundtrip, bin_every_width)
{
	check_sized(true, 0, "c400");
	check_sized(true, 1, "c401");
	check_sized(true, 255, "c4ff");
	check_sized(true, 256, "c50100");
	check_sized(true, 65535, "c5ffff");
	check_sized(true, 65536, "c600010000");
}

/*
 * Empty str/bin/raw from a NULL pointer, a usual way to say "no bytes"
 * (dispatch replies with ps_ret_raw(out, id, ret.data, ret.len), and
 * ret.data is NULL if a handler wrote nothing). memcpy(dst, NULL, 0) is
 * undefined behaviour: run under UBSan (check-asan), this test aborted
 * before buf_write() returned early for n == 0.
 */
Test(mp_roundtrip, empty_from_null)
{
	struct mp_buf b;

	mp_buf_init(&b, 64);
	cr_assert_eq(mp_put_bin(&b, NULL, 0), 0, "mp_put_bin(NULL, 0)");
	cr_assert_eq(mp_put_strn(&b, NULL, 0), 0, "mp_put_strn(NULL, 0)");
	cr_assert_eq(mp_put_raw(&b, NULL, 0), 0, "mp_put_raw(NULL, 0)");
	assert_buf_hex(&b, "c400 a0", "empty bin and str");
	mp_buf_free(&b);
	mp_buf_init(&b, 64);
	cr_assert_eq(mp_put_raw(&b, NULL, 0), 0, "mp_put_raw(NULL, 0) on an empty buffer");
	cr_assert_eq(b.len, 0);
	mp_buf_free(&b);
}

Test(mp_roundtrip, str_invalid_utf8_and_nul_pass_through)
{
	/* Lone surrogate (ed a0 80), overlong NUL (c0 80), bare continuation, ff, fe, NUL. */
	static const uint8_t raw[] = { 'a',  0,	   'b',	 0xff, 0xfe, 0xc0, 0x80,
				       0xed, 0xa0, 0x80, 0x80, 'z',  0 };
	struct mp_buf b;
	struct mp_frame *f;
	const struct mp_value *s, *m;

	mp_buf_init(&b, 1024);
	/* ["...", {"...": "..."}] : in a value, as a map key and as a map value */
	cr_assert_eq(mp_put_array(&b, 2) || mp_put_strn(&b, raw, sizeof(raw)) ||
			     mp_put_map(&b, 1) || mp_put_strn(&b, raw, sizeof(raw)) ||
			     mp_put_strn(&b, raw, sizeof(raw)),
		     0);
	f = decode_ok(b.data, b.len, NULL);
	s = &f->root->v.items[0];
	m = &f->root->v.items[1];
	cr_assert_eq(s->type, MP_STR, "invalid UTF-8 is still a str");
	assert_bytes(s->v.bytes, s->len, raw, sizeof(raw), "str bytes kept");
	assert_bytes(m->v.items[0].v.bytes, m->v.items[0].len, raw, sizeof(raw), "map key kept");
	assert_bytes(m->v.items[1].v.bytes, m->v.items[1].len, raw, sizeof(raw), "map value kept");
	assert_reencodes_to(f->root, b.data, b.len, "non-UTF-8 strs re-encode unchanged");
	mp_frame_free(f);
	mp_buf_free(&b);
}

/* --- round trips: containers ------------------------------------------------------- */

static void
check_container(bool map, uint32_t n, const char *hdr_hex)
{
	struct bytes want = from_hex(hdr_hex);
	struct mp_buf b;
	struct mp_frame *f;
	struct mp_limits lim = limits(1u << 22, 1u << 20, MP_MAX_DEPTH);

	mp_buf_init(&b, 1u << 22);
	cr_assert_eq(map ? mp_put_map(&b, n) : mp_put_array(&b, n), 0);
	for (uint32_t k = 0; k < (map ? 2 * n : n); k++)
		cr_assert_eq(mp_put_uint(&b, k & 0x7f), 0);
	cr_assert(b.len >= want.n && memcmp(b.data, want.d, want.n) == 0,
		  "%s of %u must start with %s, got %s", map ? "map" : "array", n, hdr_hex,
		  hexs(b.data, b.len < 8 ? b.len : 8));
	f = decode_ok(b.data, b.len, &lim);
	cr_assert_eq(f->root->type, map ? MP_MAP : MP_ARRAY);
	cr_assert_eq(f->root->len, n, "%s length %u", map ? "map" : "array", n);
	cr_assert_eq(f->nvals, 1 + (size_t)(map ? 2 * n : n), "values in the frame");
	for (uint32_t k = 0; k < (map ? 2 * n : n); k++)
		cr_assert(f->root->v.items[k].type == MP_UINT &&
				  f->root->v.items[k].v.u == (k & 0x7f),
			  "item %u", k);
	assert_reencodes_to(f->root, b.data, b.len, "container re-encoding");
	mp_frame_free(f);
	mp_buf_free(&b);
	b_free(&want);
}

Test(mp_roundtrip, array_every_width)
{
	check_container(false, 0, "90");
	check_container(false, 15, "9f");
	check_container(false, 16, "dc0010");
	check_container(false, 65535, "dcffff");
	check_container(false, 65536, "dd00010000");
}

Test(mp_roundtrip, map_every_width)
{
	check_container(true, 0, "80");
	check_container(true, 15, "8f");
	check_container(true, 16, "de0010");
	check_container(true, 65535, "deffff");
	check_container(true, 65536, "df00010000");
}

Test(mp_roundtrip, nested_arrays_and_maps)
{
	struct mp_buf b;
	struct mp_frame *f;
	const struct mp_value *r, *inner, *m, *v;

	/* [1, [2, [3, {"k": [nil, true, -1, 1.5, b"\x00"], 7: {}}]], {}, "x"] */
	mp_buf_init(&b, 1024);
	cr_assert_eq(mp_put_array(&b, 4) || mp_put_uint(&b, 1) || mp_put_array(&b, 2) ||
			     mp_put_uint(&b, 2) || mp_put_array(&b, 2) || mp_put_uint(&b, 3) ||
			     mp_put_map(&b, 2) || mp_put_str(&b, "k") || mp_put_array(&b, 5) ||
			     mp_put_nil(&b) || mp_put_bool(&b, true) || mp_put_int(&b, -1) ||
			     mp_put_double(&b, 1.5) || mp_put_bin(&b, "", 1) ||
			     mp_put_uint(&b, 7) || mp_put_map(&b, 0) || mp_put_map(&b, 0) ||
			     mp_put_str(&b, "x"),
		     0);
	f = decode_ok(b.data, b.len, NULL);
	r = f->root;
	cr_assert_eq(r->type, MP_ARRAY);
	cr_assert_eq(r->len, 4);
	cr_assert_eq(r->v.items[0].v.u, 1);
	inner = &r->v.items[1].v.items[1];
	cr_assert_eq(inner->type, MP_ARRAY);
	cr_assert_eq(inner->v.items[0].v.u, 3);
	m = &inner->v.items[1];
	cr_assert_eq(m->type, MP_MAP);
	cr_assert_eq(m->len, 2);
	v = mp_map_get(m, "k");
	cr_assert_not_null(v, "mp_map_get(m, \"k\")");
	cr_assert_eq(v->len, 5);
	cr_assert_eq(v->v.items[2].type, MP_INT);
	cr_assert_eq(v->v.items[2].v.i, -1);
	cr_assert_eq(v->v.items[4].type, MP_BIN);
	cr_assert_eq(v->v.items[4].len, 1);
	cr_assert_null(mp_map_get(m, "nope"), "absent key");
	cr_assert_null(mp_map_get(r, "k"), "mp_map_get on an array is NULL");
	cr_assert_eq(m->v.items[2].type, MP_UINT, "a non-str key (7) is kept");
	cr_assert_eq(r->v.items[2].type, MP_MAP);
	cr_assert_eq(r->v.items[2].len, 0);
	assert_str(&r->v.items[3], "x", "last item");
	assert_reencodes_to(r, b.data, b.len, "nested value");
	mp_frame_free(f);
	mp_buf_free(&b);
}

/* Forms our encoder never writes, written by hand: they decode, and re-encode minimally. */
Test(mp_decode, hand_crafted_wide_headers)
{
	static const struct {
		const char *in, *minimal;
		enum mp_type type;
		uint32_t len;
	} cases[] = {
		{ "d903616263", "a3616263", MP_STR, 3 },
		{ "da0003616263", "a3616263", MP_STR, 3 },
		{ "db00000003616263", "a3616263", MP_STR, 3 },
		{ "d900", "a0", MP_STR, 0 },
		{ "da0000", "a0", MP_STR, 0 },
		{ "db00000000", "a0", MP_STR, 0 },
		{ "c50003616263", "c403616263", MP_BIN, 3 },
		{ "c600000003616263", "c403616263", MP_BIN, 3 },
		{ "c50000", "c400", MP_BIN, 0 },
		{ "c600000000", "c400", MP_BIN, 0 },
		{ "dc00020102", "920102", MP_ARRAY, 2 },
		{ "dd000000020102", "920102", MP_ARRAY, 2 },
		{ "dc0000", "90", MP_ARRAY, 0 },
		{ "dd00000000", "90", MP_ARRAY, 0 },
		{ "de0001a16b01", "81a16b01", MP_MAP, 1 },
		{ "df00000001a16b01", "81a16b01", MP_MAP, 1 },
		{ "de0000", "80", MP_MAP, 0 },
		{ "df00000000", "80", MP_MAP, 0 },
		/* nested wide forms */
		{ "dd00000002 dc0001 da0001 78 df00000001 db00000001 6b c50001 00",
		  "92 91 a1 78 81 a1 6b c4 01 00", MP_ARRAY, 2 },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct bytes in = from_hex(cases[k].in), want = from_hex(cases[k].minimal);
		struct mp_frame *f = decode_ok(in.d, in.n, NULL), *g;

		cr_assert_eq(f->root->type, cases[k].type, "%s: type", cases[k].in);
		cr_assert_eq(f->root->len, cases[k].len, "%s: length", cases[k].in);
		assert_reencodes_to(f->root, want.d, want.n, cases[k].in);
		g = decode_ok(want.d, want.n, NULL);
		cr_assert(value_eq(f->root, g->root), "%s and %s are the same value", cases[k].in,
			  cases[k].minimal);
		mp_frame_free(g);
		mp_frame_free(f);
		b_free(&in);
		b_free(&want);
	}
}

Test(mp_decode, str_helpers)
{
	struct bytes in = from_hex("93 a3616263 c403616263 a0");
	struct mp_frame *f = decode_ok(in.d, in.n, NULL);

	cr_assert(mp_str_eq(&f->root->v.items[0], "abc"), "str 'abc'");
	cr_assert(!mp_str_eq(&f->root->v.items[0], "ab"), "a prefix is not equal");
	cr_assert(!mp_str_eq(&f->root->v.items[0], "abcd"), "a longer string is not equal");
	cr_assert(!mp_str_eq(&f->root->v.items[1], "abc"), "bin is never a str");
	cr_assert(mp_str_eq(&f->root->v.items[2], ""), "empty str");
	cr_assert(!mp_str_eq(NULL, ""), "NULL is not a str");
	mp_frame_free(f);
	b_free(&in);
}

/* --- golden bytes: docs/privsep-and-nova.md 5.1 ------------------------------------ */

#define ID_HEX	    "d924 39343264353039632d353636622d346561352d616463662d316638346330343230646561"
#define ID_STR	    "942d509c-566b-4ea5-adcf-1f84c0420dea"
#define CALL_ID_HEX "d924 36373665626239372d363236632d346437612d393236302d386163666336323034636362"
#define CALL_ID_STR "676ebb97-626c-4d7a-9260-8acfc6204ccb"

static const char ping_hex[] = "92 " ID_HEX " 91 01";
static const char pong_hex[] = "92 " ID_HEX " 91 02";
static const char call_hex[] =
	"92 " CALL_ID_HEX " 94 03 b6 6e6f76612e707269767365702e66732e6c766c697374"
	" 91 ac 2f6465762f6e6f76612d7667 80";
static const char ret_hex[] =
	"92 " CALL_ID_HEX
	" 92 04 92 d920 202075756964315f6469736b0a202075756964315f6469736b2e6c6f63616c0a a0";

static struct bytes
golden_err(void)
{
	struct bytes b = from_hex("92 " CALL_ID_HEX " 93 05 d933");

	b_str(&b, "oslo_concurrency.processutils.ProcessExecutionError");
	b_hex(&b, "95 a4");
	b_str(&b, "out\n");
	b_hex(&b, "a4");
	b_str(&b, "err\n");
	b_hex(&b, "04 d924");
	b_str(&b, "sh -c echo out; echo err >&2; exit 4");
	b_hex(&b, "c0");
	return b;
}

/* nova.privsep.libvirt.dmcrypt_create_volume(target, device, cipher, 512, key[64]) */
static struct bytes
golden_dmcrypt(void)
{
	struct bytes b = from_hex("92 " CALL_ID_HEX " 94 03 d9 2a");

	b_str(&b, "nova.privsep.libvirt.dmcrypt_create_volume");
	b_hex(&b, "95 b2");
	b_str(&b, "uuid1_disk-dmcrypt");
	b_hex(&b, "bd");
	b_str(&b, "/dev/nova-vg/uuid1_disk.local");
	b_hex(&b, "af");
	b_str(&b, "aes-xts-plain64");
	b_hex(&b, "cd0200 c440");
	for (unsigned k = 0; k < 64; k++)
		b_byte(&b, (uint8_t)k);
	b_hex(&b, "80");
	return b;
}

static struct bytes
golden_lvcreate(void)
{
	struct bytes b = from_hex("92 " CALL_ID_HEX " 94 03 b8");

	b_str(&b, "nova.privsep.fs.lvcreate");
	b_hex(&b, "93 ce40000000 b0");
	b_str(&b, "uuid1_disk.local");
	b_hex(&b, "a7");
	b_str(&b, "nova-vg");
	b_hex(&b, "81 ac");
	b_str(&b, "preallocated");
	b_hex(&b, "ce04000000");
	return b;
}

static struct bytes
golden_clear(void)
{
	struct bytes b = from_hex("92 " CALL_ID_HEX " 94 03 b5");

	b_str(&b, "nova.privsep.fs.clear");
	b_hex(&b, "92 bd");
	b_str(&b, "/dev/nova-vg/uuid1_disk.local");
	b_hex(&b, "ce40000000 81 a5");
	b_str(&b, "shred");
	b_hex(&b, "c2");
	return b;
}

static struct bytes
golden_log(void)
{
	struct bytes b = from_hex("92 c0 92 06 85 a4");

	b_str(&b, "name");
	b_hex(&b, "ab");
	b_str(&b, "fake_helper");
	b_hex(&b, "a7");
	b_str(&b, "levelno");
	b_hex(&b, "14 a9");
	b_str(&b, "levelname");
	b_hex(&b, "a4");
	b_str(&b, "INFO");
	b_hex(&b, "a3");
	b_str(&b, "msg");
	b_hex(&b, "d92b");
	b_str(&b, "fake privsep helper running as uid 0, pid 1");
	b_hex(&b, "a4");
	b_str(&b, "args");
	b_hex(&b, "90");
	return b;
}

/* All golden messages, for the truncation and streaming tests. */
static size_t
goldens(struct bytes *out, size_t cap)
{
	size_t n = 0;

	cr_assert(cap >= 9);
	out[n++] = from_hex(ping_hex);
	out[n++] = from_hex(pong_hex);
	out[n++] = from_hex(call_hex);
	out[n++] = from_hex(ret_hex);
	out[n++] = golden_err();
	out[n++] = golden_dmcrypt();
	out[n++] = golden_lvcreate();
	out[n++] = golden_clear();
	out[n++] = golden_log();
	return n;
}

static struct ps_msg
parse_ok(const struct mp_frame *f)
{
	struct ps_msg m;
	enum ps_status st = ps_parse(f->root, &m);

	cr_assert_eq(st, PS_OK, "ps_parse(%s) must succeed, got '%s'", hexs(f->bytes, f->len),
		     ps_status_str(st));
	cr_assert_not_null(m.msgid, "a parsed message has a msgid");
	return m;
}

Test(golden, ping_and_pong)
{
	struct bytes ping = from_hex(ping_hex), pong = from_hex(pong_hex);
	struct mp_frame *f = decode_ok(ping.d, ping.n, NULL);
	struct ps_msg m = parse_ok(f);
	struct mp_buf b;

	cr_assert_eq(ping.n, 41, "the captured PING is 41 bytes");
	cr_assert_eq(m.kind, PS_PING);
	cr_assert(!m.oob);
	assert_str(m.msgid, ID_STR, "PING msgid");
	assert_reencodes_to(f->root, ping.d, ping.n, "captured PING");
	/* Our PONG for it is byte for byte the real daemon's. */
	mp_buf_init(&b, 1024);
	cr_assert_eq(ps_pong(&b, m.msgid), 0, "ps_pong");
	assert_bytes(b.data, b.len, pong.d, pong.n, "ps_pong(captured id) == the daemon's PONG");
	mp_buf_reset(&b);
	cr_assert_eq(ps_ping(&b, ID_STR), 0, "ps_ping");
	assert_bytes(b.data, b.len, ping.d, ping.n, "ps_ping(captured id) == the client's PING");
	mp_buf_free(&b);
	mp_frame_free(f);
	f = decode_ok(pong.d, pong.n, NULL);
	m = parse_ok(f);
	cr_assert_eq(m.kind, PS_PONG);
	mp_frame_free(f);
	b_free(&ping);
	b_free(&pong);
}

Test(golden, call_lvlist)
{
	struct bytes call = from_hex(call_hex);
	struct mp_frame *f = decode_ok(call.d, call.n, NULL);
	struct ps_msg m = parse_ok(f);
	struct mp_buf b;

	cr_assert_eq(m.kind, PS_CALL);
	assert_str(m.msgid, CALL_ID_STR, "CALL msgid");
	assert_str(m.name, "nova.privsep.fs.lvlist", "CALL name");
	cr_assert_eq(m.args->type, MP_ARRAY);
	cr_assert_eq(m.args->len, 1);
	assert_str(&m.args->v.items[0], "/dev/nova-vg", "lvlist arg");
	cr_assert_eq(m.kwargs->type, MP_MAP);
	cr_assert_eq(m.kwargs->len, 0);
	assert_reencodes_to(f->root, call.d, call.n, "captured CALL");
	/* The client-side builder writes the same bytes as oslo.privsep. */
	mp_buf_init(&b, 1024);
	cr_assert_eq(ps_call_begin(&b, CALL_ID_STR, "nova.privsep.fs.lvlist", 1) ||
			     mp_put_str(&b, "/dev/nova-vg") || mp_put_map(&b, 0),
		     0);
	assert_bytes(b.data, b.len, call.d, call.n, "ps_call_begin == the client's CALL");
	mp_buf_free(&b);
	mp_frame_free(f);
	b_free(&call);
}

Test(golden, ret_lvlist)
{
	struct bytes ret = from_hex(ret_hex),
		     val = from_hex(
			     "92 d920 "
			     "202075756964315f6469736b0a202075756964315f6469736b2e6c6f63616c0a a0");
	struct mp_frame *f = decode_ok(ret.d, ret.n, NULL);
	struct ps_msg m = parse_ok(f);
	struct mp_buf b;

	cr_assert_eq(m.kind, PS_RET);
	cr_assert_eq(m.value->type, MP_ARRAY);
	cr_assert_eq(m.value->len, 2);
	assert_str(&m.value->v.items[0], "  uuid1_disk\n  uuid1_disk.local\n", "lvlist stdout");
	assert_str(&m.value->v.items[1], "", "lvlist stderr");
	assert_reencodes_to(f->root, ret.d, ret.n, "captured RET");
	mp_buf_init(&b, 1024);
	cr_assert_eq(ps_ret_raw(&b, m.msgid, val.d, val.n), 0, "ps_ret_raw");
	assert_bytes(b.data, b.len, ret.d, ret.n, "ps_ret_raw == the fake helper's RET");
	mp_buf_free(&b);
	mp_frame_free(f);
	b_free(&ret);
	b_free(&val);
}

Test(golden, err_process_execution_error)
{
	struct bytes err = golden_err();
	struct mp_frame *f = decode_ok(err.d, err.n, NULL);
	struct ps_msg m = parse_ok(f);
	const struct mp_value *a;

	cr_assert_eq(m.kind, PS_ERR);
	assert_str(m.name, "oslo_concurrency.processutils.ProcessExecutionError", "ERR class");
	a = m.args;
	cr_assert_eq(a->type, MP_ARRAY);
	cr_assert_eq(a->len, 5, "ProcessExecutionError carries 5 args");
	assert_str(&a->v.items[0], "out\n", "stdout");
	assert_str(&a->v.items[1], "err\n", "stderr");
	cr_assert(a->v.items[2].type == MP_UINT && a->v.items[2].v.u == 4, "exit_code 4");
	assert_str(&a->v.items[3], "sh -c echo out; echo err >&2; exit 4", "cmd");
	cr_assert_eq(a->v.items[4].type, MP_NIL, "description is nil");
	assert_reencodes_to(f->root, err.d, err.n, "captured ERR");
	mp_frame_free(f);
	b_free(&err);
}

Test(golden, dmcrypt_key_is_bin8)
{
	struct bytes call = golden_dmcrypt();
	struct mp_frame *f = decode_ok(call.d, call.n, NULL);
	struct ps_msg m = parse_ok(f);
	const struct mp_value *key;

	cr_assert_eq(m.kind, PS_CALL);
	assert_str(m.name, "nova.privsep.libvirt.dmcrypt_create_volume", "CALL name");
	cr_assert_eq(m.args->len, 5);
	cr_assert(m.args->v.items[3].type == MP_UINT && m.args->v.items[3].v.u == 512,
		  "key_size 512 (uint16 cd 0200)");
	key = &m.args->v.items[4];
	cr_assert_eq(key->type, MP_BIN, "the key is bin (c4), not str");
	cr_assert_eq(key->len, 64);
	for (unsigned k = 0; k < 64; k++)
		cr_assert_eq(key->v.bytes[k], k, "key byte %u", k);
	cr_assert_eq(m.kwargs->len, 0);
	assert_reencodes_to(f->root, call.d, call.n, "dmcrypt CALL");
	mp_frame_free(f);
	b_free(&call);
}

Test(golden, lvcreate_kwargs_and_clear)
{
	struct bytes call = golden_lvcreate(), clr = golden_clear();
	struct mp_frame *f = decode_ok(call.d, call.n, NULL);
	struct ps_msg m = parse_ok(f);
	const struct mp_value *v;

	assert_str(m.name, "nova.privsep.fs.lvcreate", "CALL name");
	cr_assert_eq(m.args->len, 3);
	cr_assert(m.args->v.items[0].type == MP_UINT && m.args->v.items[0].v.u == 0x40000000,
		  "size 1 GiB as uint32");
	assert_str(&m.args->v.items[1], "uuid1_disk.local", "lv");
	assert_str(&m.args->v.items[2], "nova-vg", "vg");
	v = mp_map_get(m.kwargs, "preallocated");
	cr_assert_not_null(v, "kwargs['preallocated']");
	cr_assert(v->type == MP_UINT && v->v.u == 64u << 20, "preallocated = 64 MiB");
	assert_reencodes_to(f->root, call.d, call.n, "lvcreate CALL");
	mp_frame_free(f);

	f = decode_ok(clr.d, clr.n, NULL);
	m = parse_ok(f);
	assert_str(m.name, "nova.privsep.fs.clear", "CALL name");
	v = mp_map_get(m.kwargs, "shred");
	cr_assert(v && v->type == MP_BOOL && !v->v.b, "kwargs['shred'] is False");
	assert_reencodes_to(f->root, clr.d, clr.n, "clear CALL");
	mp_frame_free(f);
	b_free(&call);
	b_free(&clr);
}

Test(golden, oob_log)
{
	struct bytes log = golden_log();
	struct mp_frame *f = decode_ok(log.d, log.n, NULL);
	struct ps_msg m = parse_ok(f);
	const struct mp_value *lv;
	struct mp_buf b;

	cr_assert(m.oob, "a nil msgid is out of band");
	cr_assert_eq(m.kind, PS_LOG);
	lv = mp_map_get(m.value, "levelno");
	cr_assert(lv && lv->type == MP_UINT && lv->v.u == 20, "levelno is the integer 20");
	assert_reencodes_to(f->root, log.d, log.n, "captured LOG");
	mp_frame_free(f);

	/* Ours has the same minimum: name, levelno (int), levelname, msg, args []. */
	mp_buf_init(&b, 4096);
	cr_assert_eq(ps_log(&b, "ephcrypt", 30, "hello"), 0, "ps_log");
	f = decode_ok(b.data, b.len, NULL);
	m = parse_ok(f);
	cr_assert(m.oob);
	cr_assert_eq(m.kind, PS_LOG);
	lv = mp_map_get(m.value, "levelno");
	cr_assert(lv && lv->type == MP_UINT && lv->v.u == 30, "ps_log levelno is an int");
	assert_str(mp_map_get(m.value, "levelname"), "WARNING", "levelname for 30");
	assert_str(mp_map_get(m.value, "name"), "ephcrypt", "logger name");
	assert_str(mp_map_get(m.value, "msg"), "hello", "msg");
	lv = mp_map_get(m.value, "args");
	cr_assert(lv && lv->type == MP_ARRAY && lv->len == 0, "args is []");
	mp_frame_free(f);
	mp_buf_free(&b);
	b_free(&log);
}

Test(golden, err_builders)
{
	struct bytes id = from_hex(ID_HEX);
	struct mp_buf b;
	struct mp_frame *f;
	struct ps_msg m;
	static const uint8_t args[] = { 0x92, 0x02, 0xa1, 'x' };

	mp_buf_init(&b, 4096);
	cr_assert_eq(ps_err_msg_rawid(&b, id.d, id.n, "builtins.ValueError", "too big"), 0);
	f = decode_ok(b.data, b.len, NULL);
	m = parse_ok(f);
	cr_assert_eq(m.kind, PS_ERR);
	assert_str(m.msgid, ID_STR, "raw id echoed");
	assert_str(m.name, "builtins.ValueError", "class");
	cr_assert_eq(m.args->len, 1);
	assert_str(&m.args->v.items[0], "too big", "message");
	mp_frame_free(f);
	mp_buf_reset(&b);
	cr_assert_eq(ps_err_raw(&b, id.d, id.n, "builtins.OSError", args, sizeof(args)), 0);
	f = decode_ok(b.data, b.len, NULL);
	m = parse_ok(f);
	assert_str(m.name, "builtins.OSError", "class");
	cr_assert(m.args->len == 2 && m.args->v.items[0].v.u == 2, "[errno, msg]");
	mp_frame_free(f);
	mp_buf_free(&b);
	b_free(&id);
}

/* --- malformed input --------------------------------------------------------------- */

Test(malformed, truncated_at_every_prefix)
{
	struct bytes g[16];
	size_t n = goldens(g, 16);

	for (size_t k = 0; k < n; k++) {
		for (size_t len = 0; len < g[k].n; len++) {
			enum mp_status st = decode_status(g[k].d, len, NULL);

			cr_assert_eq(st, MP_E_TRUNCATED,
				     "golden #%zu cut to %zu of %zu bytes must be MP_E_TRUNCATED, "
				     "got '%s'",
				     k, len, g[k].n, mp_status_str(st));
		}
		cr_assert_eq(decode_status(g[k].d, g[k].n, NULL), MP_OK, "golden #%zu whole", k);
		b_free(&g[k]);
	}
}

/* What a single byte decodes to: a whole value, a truncated one, or a refusal. */
static enum mp_status
one_byte_status(unsigned x)
{
	if (x <= 0x80 || x == 0x90 || x == 0xa0 || x == 0xc0 || x == 0xc2 || x == 0xc3 || x >= 0xe0)
		return MP_OK; /* fixint, {}, [], "", nil, false, true */
	if (x == 0xc1 || (x >= 0xc7 && x <= 0xc9) || (x >= 0xd4 && x <= 0xd8))
		return MP_E_BAD_BYTE; /* never used; ext8/16/32; fixext1..16 */
	return MP_E_TRUNCATED;
}

Test(malformed, every_first_byte)
{
	for (unsigned x = 0; x < 256; x++) {
		uint8_t byte = (uint8_t)x;
		enum mp_status st = decode_status(&byte, 1, NULL), want = one_byte_status(x);

		cr_assert_eq(st, want, "mp_decode(%02x) must be '%s', got '%s'", x,
			     mp_status_str(want), mp_status_str(st));
	}
}

Test(malformed, c1_and_ext_types_refused_anywhere)
{
	/* Each with a complete payload, so only the type byte can be the reason. */
	static const char *const ext[] = {
		"c1",
		"d40100",
		"d5010000",
		"d601"
		"00000000",
		"d701"
		"0000000000000000",
		"d801"
		"00000000000000000000000000000000",
		"c7010100",
		"c800010100",
		"c9000000010100",
	};

	for (size_t k = 0; k < sizeof(ext) / sizeof(ext[0]); k++) {
		struct bytes top = from_hex(ext[k]), nested = from_hex("92 a1 78 91"),
			     inmap = from_hex("81 a1 6b");

		b_hex(&nested, ext[k]);
		b_hex(&inmap, ext[k]);
		expect_status(&top, NULL, MP_E_BAD_BYTE, "top-level ext/c1");
		expect_status(&nested, NULL, MP_E_BAD_BYTE, "ext/c1 nested in an array");
		expect_status(&inmap, NULL, MP_E_BAD_BYTE, "ext/c1 as a map value");
		b_free(&top);
		b_free(&nested);
		b_free(&inmap);
	}
	{
		/* c1 inside a str payload is just a byte */
		struct bytes s = from_hex("a3 c1 d4 c7");

		expect_status(&s, NULL, MP_OK, "0xc1 inside a str is data");
		b_free(&s);
	}
}

static struct bytes
nested_arrays(unsigned n, const char *innermost)
{
	struct bytes b = { 0 };

	b_fill(&b, 0x91, n);
	b_hex(&b, innermost);
	return b;
}

Test(malformed, depth_32_ok_33_too_deep)
{
	struct bytes ok = nested_arrays(32, "01"), deep = nested_arrays(33, "01"), maps = { 0 };
	struct mp_frame *f = decode_ok(ok.d, ok.n, NULL);
	const struct mp_value *v = f->root;

	for (unsigned k = 0; k < 32; k++) {
		cr_assert_eq(v->type, MP_ARRAY, "level %u", k);
		v = &v->v.items[0];
	}
	cr_assert(v->type == MP_UINT && v->v.u == 1, "the innermost item");
	assert_reencodes_to(f->root, ok.d, ok.n, "32 nested arrays");
	mp_frame_free(f);
	expect_status(&deep, NULL, MP_E_TOO_DEEP, "33 nested arrays");
	for (unsigned k = 0; k < 33; k++)
		b_hex(&maps, "81 00");
	b_hex(&maps, "00");
	expect_status(&maps, NULL, MP_E_TOO_DEEP, "33 nested maps");
	b_free(&ok);
	b_free(&deep);
	b_free(&maps);
}

/*
 * 33 nested arrays whose innermost one is empty: still 33 levels. (The
 * scanner once counted only containers with items, and accepted this.)
 */
Test(malformed, depth_33_with_empty_innermost)
{
	struct bytes deep = nested_arrays(32, "90"), ok = nested_arrays(31, "90");

	expect_status(&ok, NULL, MP_OK, "32 nested arrays, innermost empty");
	expect_status_soft(&deep, NULL, MP_E_TOO_DEEP, "33 nested arrays, innermost empty");
	b_free(&deep);
	b_free(&ok);
}

Test(malformed, depth_custom_limit)
{
	struct mp_limits lim = limits(4096, 1024, 3);
	struct bytes three = nested_arrays(3, "c0"), four = nested_arrays(4, "c0");

	expect_status(&three, &lim, MP_OK, "3 levels with max_depth 3");
	expect_status(&four, &lim, MP_E_TOO_DEEP, "4 levels with max_depth 3");
	lim.max_depth = 100; /* clamped to MP_MAX_DEPTH */
	b_free(&four);
	four = nested_arrays(33, "c0");
	expect_status(&four, &lim, MP_E_TOO_DEEP, "max_depth above MP_MAX_DEPTH is clamped");
	b_free(&three);
	b_free(&four);
}

/*
 * A str32 declaring 2 GiB, only a few bytes present: refused for its size.
 * The reader knows the limit is broken at the header but reports it once
 * the message has been skipped, so mp_decode() must name the limit rather
 * than MP_E_TRUNCATED when its input ends while the reader is discarding.
 */
Test(malformed, str32_declaring_2gib_too_big)
{
	struct bytes top = from_hex("db80000000 616263"),
		     call = from_hex("92 a1 31 94 03 a1 78 91 db80000000 616263");

	expect_status_soft(&top, NULL, MP_E_TOO_BIG, "str32 declaring 2 GiB at the top level");
	expect_status_soft(&call, NULL, MP_E_TOO_BIG, "str32 declaring 2 GiB inside a CALL");
	b_free(&top);
	b_free(&call);
}

/* ... and the reader never buffers it: its buffer stays at one read chunk. */
Test(malformed, str32_declaring_2gib_not_buffered)
{
	struct mp_reader r;
	struct bytes call = from_hex("92 a1 31 94 03 a1 78 91 db80000000 616263");
	struct mp_frame *f;
	size_t room;
	uint8_t *dst;

	cr_assert_eq(mp_reader_init(&r, NULL), 0);
	dst = mp_reader_space(&r, &room);
	cr_assert(room >= call.n);
	memcpy(dst, call.d, call.n);
	mp_reader_commit(&r, call.n);
	for (int k = 0; k < 64; k++) {
		enum mp_status st = mp_reader_next(&r, &f);

		cr_assert_eq(st, MP_NEED_MORE, "a 2 GiB str is not complete after %d reads", k);
		cr_assert(r.discarding, "the reader drops an over-limit message");
		cr_assert_leq(r.cap, 4096, "the reader buffer must not grow for a dropped message");
		dst = mp_reader_space(&r, &room);
		cr_assert_gt(room, 0);
		memset(dst, 'A', room);
		mp_reader_commit(&r, room);
	}
	mp_reader_free(&r);
	b_free(&call);
}

/* A CALL of exactly `total` bytes: [id, [3, "x", [pad], {}]]. */
static struct bytes
call_of_size(size_t total)
{
	for (size_t pad = 0; pad < total; pad++) {
		struct mp_buf b;
		struct bytes out = { 0 };
		char *s = malloc(pad + 1);

		memset(s, 'p', pad);
		mp_buf_init(&b, 1u << 24);
		cr_assert_eq(ps_call_begin(&b, CALL_ID_STR, "x", 1) || mp_put_strn(&b, s, pad) ||
				     mp_put_map(&b, 0),
			     0);
		free(s);
		if (b.len == total) {
			b_add(&out, b.data, b.len);
			mp_buf_free(&b);
			return out;
		}
		mp_buf_free(&b);
	}
	cr_assert_fail("no CALL of %zu bytes", total);
	return (struct bytes){ 0 };
}

Test(malformed, message_over_max_message)
{
	struct mp_limits lim = limits(4096, 1024, MP_MAX_DEPTH);
	struct bytes fits = call_of_size(4096), over = call_of_size(4097), many = { 0 };

	expect_status(&fits, &lim, MP_OK, "a message of exactly max_message bytes");
	expect_status(&over, &lim, MP_E_TOO_BIG, "a message of max_message + 1 bytes");
	/* Too big by many small items rather than one big str: array16 + nils. */
	lim.max_items = 1u << 20;
	b_hex(&many, "dc 0ffd");
	b_fill(&many, 0xc0, 0x0ffd);
	cr_assert_eq(many.n, 4096);
	expect_status(&many, &lim, MP_OK, "4096 bytes of nils");
	b_free(&many);
	b_hex(&many, "dc 0ffe");
	b_fill(&many, 0xc0, 0x0ffe);
	cr_assert_eq(many.n, 4097);
	expect_status(&many, &lim, MP_E_TOO_BIG, "4097 bytes of nils");
	b_free(&fits);
	b_free(&over);
	b_free(&many);
}

Test(malformed, too_many_map32_pairs)
{
	struct bytes map32 = from_hex("df 80000000 c0 c0");

	expect_status(&map32, NULL, MP_E_TOO_MANY, "map32 declaring 2^31 pairs");
	b_free(&map32);
}

/*
 * An array32 declaring 2^32-1 items (more than max_items), few present:
 * as for the 2 GiB str above, mp_decode() names the limit.
 */
Test(malformed, too_many_array32_declared)
{
	struct bytes arr32 = from_hex("dd ffffffff c0");

	expect_status_soft(&arr32, NULL, MP_E_TOO_MANY, "array32 declaring 2^32-1 items");
	b_free(&arr32);
}

Test(malformed, too_many_small_limit)
{
	struct mp_limits lim = limits(1u << 20, 4, MP_MAX_DEPTH);
	struct bytes five = from_hex("95 c0c0c0c0c0"), three = from_hex("93 c0c0c0"),
		     map = from_hex("83 01c0 02c0 03c0");

	expect_status(&five, &lim, MP_E_TOO_MANY, "5 items with max_items 4");
	expect_status(&map, &lim, MP_E_TOO_MANY, "3 pairs (6 items) with max_items 4");
	expect_status(&three, &lim, MP_OK, "3 items with max_items 4");
	b_free(&five);
	b_free(&three);
	b_free(&map);
}

/*
 * max_items must bound the whole message, not each container on its own:
 * scalars after a nested container count too, and the count must not wrap
 * once it passes the limit (it once did: a 1 MiB message then held a
 * million values, 16 times the default max_items, 17 MB decoded).
 */
Test(malformed, too_many_items_across_nesting)
{
	struct mp_limits lim = limits(1u << 20, 4, MP_MAX_DEPTH);
	struct bytes a = from_hex("94 92c0c0 c0 c0 c0"), b = from_hex("94 93c0c0c0 c0 c0 dc0064");
	struct mp_frame *f = NULL;
	enum mp_status st;

	b_fill(&b, 0xc0, 100);
	st = mp_decode(a.d, a.n, &lim, &f);
	cr_expect_eq(
		st, MP_E_TOO_MANY,
		"[[nil, nil], nil, nil, nil] (7 values) with max_items 4 must be MP_E_TOO_MANY, "
		"got '%s' (%zu values)",
		mp_status_str(st), f ? f->nvals : 0);
	mp_frame_free(f);
	f = NULL;
	st = mp_decode(b.d, b.n, &lim, &f);
	cr_expect_eq(st, MP_E_TOO_MANY,
		     "[[nil x3], nil, nil, [nil x100]] with max_items 4 must be MP_E_TOO_MANY, "
		     "got '%s' (%zu values)",
		     mp_status_str(st), f ? f->nvals : 0);
	mp_frame_free(f);
	f = NULL;
	/* With the default limits: a 1 MiB message holds 16 times max_items values. */
	b_free(&b);
	b_hex(&b, "94 dcfffe");
	b_fill(&b, 0xc0, 0xfffe);
	b_hex(&b, "c0 c0 dd");
	{
		size_t rest = (1u << 20) - b.n - 4;

		b_byte(&b, (uint8_t)(rest >> 24));
		b_byte(&b, (uint8_t)(rest >> 16));
		b_byte(&b, (uint8_t)(rest >> 8));
		b_byte(&b, (uint8_t)rest);
		b_fill(&b, 0xc0, rest);
	}
	st = mp_decode(b.d, b.n, NULL, &f);
	cr_expect_eq(st, MP_E_TOO_MANY,
		     "a 1 MiB message of %zu values with the default max_items %u must be "
		     "MP_E_TOO_MANY, got '%s'",
		     f ? f->nvals : 0, MP_DEFAULT_MAX_ITEMS, mp_status_str(st));
	mp_frame_free(f);
	b_free(&a);
	b_free(&b);
}

Test(malformed, max_items_exact_boundaries)
{
	struct mp_limits lim = limits(1u << 20, 4, MP_MAX_DEPTH);
	struct bytes four = from_hex("94 c0c0c0c0"), nested = from_hex("92 91c0 c0");

	/* max_items counts the children of the root: the root plus 4 is allowed. */
	expect_status(&four, &lim, MP_OK, "4 items with max_items 4");
	expect_status(&nested, &lim, MP_OK, "[[nil], nil]: 4 values");
	b_free(&four);
	b_free(&nested);
}

/* --- the envelope ------------------------------------------------------------------- */

static enum ps_status
parse_hex(const char *hex)
{
	struct bytes in = from_hex(hex);
	struct mp_frame *f = decode_ok(in.d, in.n, NULL);
	struct ps_msg m;
	enum ps_status st = ps_parse(f->root, &m);

	mp_frame_free(f);
	b_free(&in);
	return st;
}

static void
expect_ps(const char *hex, enum ps_status want, const char *why)
{
	enum ps_status st = parse_hex(hex);

	cr_assert_eq(st, want, "ps_parse(%s) (%s) must be '%s', got '%s'", hex, why,
		     ps_status_str(want), ps_status_str(st));
}

Test(envelope, not_a_pair)
{
	expect_ps("c0", PS_E_ENVELOPE, "nil");
	expect_ps("01", PS_E_ENVELOPE, "an int");
	expect_ps("a3616263", PS_E_ENVELOPE, "a str");
	expect_ps("90", PS_E_ENVELOPE, "[]");
	expect_ps("91 01", PS_E_ENVELOPE, "[1]");
	expect_ps("93 01 02 03", PS_E_ENVELOPE, "[1, 2, 3]");
	expect_ps("93 a1 31 91 01 c0", PS_E_ENVELOPE, "[id, [1], nil]");
	expect_ps("81 a1 31 91 01", PS_E_ENVELOPE, "{id: [1]}");
	expect_ps("dc0002 a131 9101", PS_OK, "array16 of 2 is a pair");
}

Test(envelope, bad_body)
{
	expect_ps("92 a131 01", PS_E_BODY, "body is an int");
	expect_ps("92 a131 c0", PS_E_BODY, "body is nil");
	expect_ps("92 a131 81 00 01", PS_E_BODY, "body is a map");
	expect_ps("92 a131 90", PS_E_BODY, "body is []");
	expect_ps("92 a131 91 a131", PS_E_BODY, "kind is a str");
	expect_ps("92 a131 91 ff", PS_E_BODY, "kind is -1");
	expect_ps("92 a131 91 cb3ff0000000000000", PS_E_BODY, "kind is 1.0");
	expect_ps("92 a131 91 c3", PS_E_BODY, "kind is true");
	expect_ps("92 a131 91 c0", PS_E_BODY, "kind is nil");
}

Test(envelope, bad_shape)
{
	expect_ps("92 a131 93 03 a178 90", PS_E_SHAPE, "CALL with 3 fields");
	expect_ps("92 a131 95 03 a178 90 80 c0", PS_E_SHAPE, "CALL with 5 fields");
	expect_ps("92 a131 94 03 05 90 80", PS_E_SHAPE, "CALL name is an int");
	expect_ps("92 a131 94 03 c40178 90 80", PS_E_SHAPE, "CALL name is bin");
	expect_ps("92 a131 94 03 c0 90 80", PS_E_SHAPE, "CALL name is nil");
	expect_ps("92 a131 94 03 a178 80 80", PS_E_SHAPE, "CALL args is a map");
	expect_ps("92 a131 94 03 a178 c0 80", PS_E_SHAPE, "CALL args is nil");
	expect_ps("92 a131 94 03 a178 90 90", PS_E_SHAPE, "CALL kwargs is an array");
	expect_ps("92 a131 94 03 a178 90 c0", PS_E_SHAPE, "CALL kwargs is nil");
	expect_ps("92 a131 92 01 01", PS_E_SHAPE, "PING with an extra field");
	expect_ps("92 a131 92 02 01", PS_E_SHAPE, "PONG with an extra field");
	expect_ps("92 a131 91 04", PS_E_SHAPE, "RET without a value");
	expect_ps("92 a131 93 04 01 02", PS_E_SHAPE, "RET with 2 values");
	expect_ps("92 a131 93 05 a178 80", PS_E_SHAPE, "ERR args is a map");
	expect_ps("92 a131 93 05 01 90", PS_E_SHAPE, "ERR class is an int");
	expect_ps("92 a131 92 05 a178", PS_E_SHAPE, "ERR without args");
	expect_ps("92 c0 92 06 90", PS_E_SHAPE, "LOG record is an array");
	expect_ps("92 c0 91 06", PS_E_SHAPE, "LOG without a record");
}

Test(envelope, unknown_kind)
{
	expect_ps("92 a131 91 09", PS_E_KIND, "kind 9");
	expect_ps("92 a131 91 00", PS_E_KIND, "kind 0");
	expect_ps("92 a131 91 07", PS_E_KIND, "kind 7");
	expect_ps("92 a131 91 cfffffffffffffffff", PS_E_KIND, "kind 2^64-1");
	expect_ps("92 a131 91 cf0000000100000003", PS_E_KIND, "kind 2^32+3 (not CALL)");
	expect_ps("92 a131 94 09 a178 90 80", PS_E_KIND, "kind 9 with CALL's fields");
}

Test(envelope, valid_shapes_and_ids)
{
	struct bytes in = from_hex("92 93 01 02 03 91 01");
	struct mp_frame *f = decode_ok(in.d, in.n, NULL);
	struct ps_msg m = parse_ok(f);

	cr_assert_eq(m.msgid->type, MP_ARRAY, "a msgid may be any value");
	cr_assert(!m.oob);
	mp_frame_free(f);
	b_free(&in);
	expect_ps("92 01 91 01", PS_OK, "int msgid");
	expect_ps("92 c0 91 01", PS_OK, "nil msgid PING (out of band: the caller decides)");
	expect_ps("92 a131 92 04 c0", PS_OK, "RET nil");
	expect_ps("92 a131 93 05 a178 90", PS_OK, "ERR with no args");
	expect_ps("92 c0 92 06 80", PS_OK, "LOG {}");
	expect_ps("92 a131 94 03 a0 90 80", PS_OK, "CALL with an empty name (lookup refuses it)");
	expect_ps("92 a131 91 d001", PS_OK, "kind as int8 1 (normalised)");
	expect_ps("92 a131 91 cf0000000000000001", PS_OK, "kind as uint64 1");
}

Test(envelope, status_strings)
{
	for (int k = MP_OK; k <= MP_E_NOMEM; k++)
		cr_assert(strlen(mp_status_str((enum mp_status)k)) > 0, "mp_status_str(%d)", k);
	for (int k = PS_OK; k <= PS_E_KIND; k++)
		cr_assert(strlen(ps_status_str((enum ps_status)k)) > 0, "ps_status_str(%d)", k);
	cr_assert_str_neq(mp_status_str(MP_E_TOO_BIG), mp_status_str(MP_E_TOO_MANY));
}

/* --- the streaming reader --------------------------------------------------------- */

struct outcome {
	enum mp_status st;
	struct bytes frame; /* MP_OK */
	bool msgid_known;   /* over-limit */
	struct bytes msgid;
};

/*
 * Feed `in` through the reader in chunks of `chunk` bytes (0: as much as
 * there is room for), collecting every outcome other than MP_NEED_MORE.
 * Goes on after a limit error, stops at a fatal one. Returns the number of
 * outcomes.
 */
static size_t
stream(const struct bytes *in, size_t chunk, const struct mp_limits *lim, struct outcome *out,
       size_t cap, size_t *max_cap)
{
	struct mp_reader r;
	size_t off = 0, n = 0;

	cr_assert_eq(mp_reader_init(&r, lim), 0);
	if (max_cap)
		*max_cap = r.cap;
	for (;;) {
		struct mp_frame *f;
		enum mp_status st = mp_reader_next(&r, &f);

		if (max_cap && r.cap > *max_cap)
			*max_cap = r.cap;
		if (st == MP_NEED_MORE) {
			size_t room, take;
			uint8_t *dst;

			if (off == in->n) {
				st = mp_reader_eof(&r);
				memset(&out[n], 0, sizeof(out[n]));
				out[n++].st = st;
				break;
			}
			dst = mp_reader_space(&r, &room);
			cr_assert_gt(room, 0, "mp_reader_space gives room while a message is open");
			take = in->n - off < room ? in->n - off : room;
			if (chunk && take > chunk)
				take = chunk;
			memcpy(dst, in->d + off, take);
			mp_reader_commit(&r, take);
			off += take;
			continue;
		}
		memset(&out[n], 0, sizeof(out[n]));
		out[n].st = st;
		if (st == MP_OK) {
			b_add(&out[n].frame, f->bytes, f->len);
			mp_frame_free(f);
		} else if (st == MP_E_TOO_BIG || st == MP_E_TOO_MANY || st == MP_E_TOO_DEEP) {
			/* limits: mp.h says the reader dropped the message and is in sync */
			out[n].msgid_known = r.msgid_known;
			if (r.msgid_known)
				b_add(&out[n].msgid, r.msgid, r.msgid_len);
			/* A reader that is in sync must have dropped something. */
			cr_assert_null(f);
		} else {
			n++;
			break;
		}
		if (++n == cap)
			break; /* more outcomes than expected: the caller reports them */
	}
	mp_reader_free(&r);
	return n;
}

static void
free_outcomes(struct outcome *o, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		b_free(&o[k].frame);
		b_free(&o[k].msgid);
	}
}

Test(stream, one_byte_at_a_time)
{
	struct bytes g[16], all = { 0 };
	struct outcome o[32];
	size_t n = goldens(g, 16), got;

	for (size_t k = 0; k < n; k++)
		b_add(&all, g[k].d, g[k].n);
	got = stream(&all, 1, NULL, o, 32, NULL);
	cr_assert_eq(got, n + 1, "%zu messages then end of stream, got %zu outcomes", n, got);
	for (size_t k = 0; k < n; k++) {
		cr_assert_eq(o[k].st, MP_OK, "message %zu", k);
		assert_bytes(o[k].frame.d, o[k].frame.n, g[k].d, g[k].n, "frame fed byte by byte");
	}
	cr_assert_eq(o[n].st, MP_EOF, "clean end between messages");
	free_outcomes(o, got);
	for (size_t k = 0; k < n; k++)
		b_free(&g[k]);
	b_free(&all);
}

Test(stream, need_more_until_the_last_byte)
{
	struct bytes call = from_hex(call_hex);
	struct mp_reader r;
	struct mp_frame *f;

	cr_assert_eq(mp_reader_init(&r, NULL), 0);
	cr_assert_eq(mp_reader_next(&r, &f), MP_NEED_MORE, "empty reader");
	cr_assert_eq(mp_reader_eof(&r), MP_EOF, "EOF before anything is clean");
	for (size_t k = 0; k < call.n; k++) {
		size_t room;
		uint8_t *dst = mp_reader_space(&r, &room);
		enum mp_status st;

		cr_assert_geq(room, 1);
		*dst = call.d[k];
		mp_reader_commit(&r, 1);
		st = mp_reader_next(&r, &f);
		if (k + 1 < call.n) {
			cr_assert_eq(st, MP_NEED_MORE, "after %zu of %zu bytes", k + 1, call.n);
			cr_assert_eq(mp_reader_eof(&r), MP_E_TRUNCATED, "EOF after %zu bytes",
				     k + 1);
		} else {
			cr_assert_eq(st, MP_OK, "the last byte completes the message");
			assert_bytes(f->bytes, f->len, call.d, call.n, "frame");
			mp_frame_free(f);
		}
	}
	cr_assert_eq(mp_reader_eof(&r), MP_EOF);
	mp_reader_free(&r);
	b_free(&call);
}

Test(stream, two_messages_in_one_read)
{
	struct bytes ping = from_hex(ping_hex), call = from_hex(call_hex), both = { 0 };
	struct outcome o[8];
	size_t got;

	b_add(&both, ping.d, ping.n);
	b_add(&both, call.d, call.n);
	got = stream(&both, 0, NULL, o, 8, NULL);
	cr_assert_eq(got, 3, "two frames then EOF");
	cr_assert_eq(o[0].st, MP_OK);
	assert_bytes(o[0].frame.d, o[0].frame.n, ping.d, ping.n, "first frame");
	cr_assert_eq(o[1].st, MP_OK);
	assert_bytes(o[1].frame.d, o[1].frame.n, call.d, call.n, "second frame");
	cr_assert_eq(o[2].st, MP_EOF);
	free_outcomes(o, got);
	b_free(&ping);
	b_free(&call);
	b_free(&both);
}

Test(stream, eof_inside_a_message)
{
	struct bytes call = from_hex(call_hex);
	struct outcome o[4];
	size_t got;

	call.n -= 1;
	got = stream(&call, 0, NULL, o, 4, NULL);
	cr_assert_eq(got, 1);
	cr_assert_eq(o[0].st, MP_E_TRUNCATED, "end of stream inside a message");
	free_outcomes(o, got);
	b_free(&call);
}

Test(stream, fatal_errors_stop)
{
	struct bytes in = from_hex(ping_hex);
	struct outcome o[4];
	size_t got;

	b_hex(&in, "c1");
	got = stream(&in, 0, NULL, o, 4, NULL);
	cr_assert_eq(got, 2);
	cr_assert_eq(o[0].st, MP_OK, "the PING before the garbage");
	cr_assert_eq(o[1].st, MP_E_BAD_BYTE, "then 0xc1");
	free_outcomes(o, got);
	b_free(&in);
}

/* [id, [3, "x", [str of n], {}]] with the given raw-encoded id. */
static void
b_call_with_str(struct bytes *b, const struct bytes *id, size_t n)
{
	struct mp_buf e;
	uint8_t *s = malloc(n + 1);

	memset(s, 's', n);
	mp_buf_init(&e, 1u << 26);
	cr_assert_eq(mp_put_array(&e, 2) || mp_put_raw(&e, id->d, id->n) || mp_put_array(&e, 4) ||
			     mp_put_uint(&e, PS_CALL) || mp_put_str(&e, "x") ||
			     mp_put_array(&e, 1) || mp_put_strn(&e, s, n) || mp_put_map(&e, 0),
		     0);
	b_add(b, e.data, e.len);
	mp_buf_free(&e);
	free(s);
}

Test(stream, resync_after_too_big)
{
	static const size_t chunks[] = { 0, 1, 3, 100, 4095, 4096 };
	struct mp_limits lim = limits(4096, 1024, MP_MAX_DEPTH);
	struct bytes id = from_hex(ID_HEX), ping = from_hex(pong_hex), in = { 0 };

	b_call_with_str(&in, &id, 10 * 1024);
	b_add(&in, ping.d, ping.n);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct outcome o[8];
		size_t maxcap, got = stream(&in, chunks[c], &lim, o, 8, &maxcap);

		cr_assert_eq(got, 3, "chunk %zu: over-limit, next message, EOF; got %zu outcomes",
			     chunks[c], got);
		cr_assert_eq(o[0].st, MP_E_TOO_BIG,
			     "chunk %zu: a 10 KB CALL with max 4096 is too big, got '%s'",
			     chunks[c], mp_status_str(o[0].st));
		cr_assert(o[0].msgid_known, "chunk %zu: the msgid came before the big str",
			  chunks[c]);
		assert_bytes(o[0].msgid.d, o[0].msgid.n, id.d, id.n,
			     "r.msgid is the raw encoding of the dropped message's id");
		cr_assert_eq(o[1].st, MP_OK, "chunk %zu: the next message decodes (resync)",
			     chunks[c]);
		assert_bytes(o[1].frame.d, o[1].frame.n, ping.d, ping.n,
			     "message after the big one");
		cr_assert_eq(o[2].st, MP_EOF, "chunk %zu: clean end after resync", chunks[c]);
		cr_assert_leq(maxcap, 4096, "chunk %zu: never buffered more than max_message",
			      chunks[c]);
		free_outcomes(o, got);
	}
	b_free(&id);
	b_free(&ping);
	b_free(&in);
}

/* Two over-limit messages back to back, then a good one: each is reported once. */
Test(stream, two_over_limit_in_a_row)
{
	struct mp_limits lim = limits(4096, 1024, MP_MAX_DEPTH);
	struct bytes id1 = from_hex("a131"), id2 = from_hex("a132"), ping = from_hex(ping_hex),
		     in = { 0 };
	struct outcome o[8];
	size_t got;

	b_call_with_str(&in, &id1, 5000);
	b_call_with_str(&in, &id2, 9000);
	b_add(&in, ping.d, ping.n);
	got = stream(&in, 0, &lim, o, 8, NULL);
	cr_assert_eq(got, 4);
	cr_assert_eq(o[0].st, MP_E_TOO_BIG);
	assert_bytes(o[0].msgid.d, o[0].msgid.n, id1.d, id1.n, "first id");
	cr_assert_eq(o[1].st, MP_E_TOO_BIG);
	assert_bytes(o[1].msgid.d, o[1].msgid.n, id2.d, id2.n, "second id");
	cr_assert_eq(o[2].st, MP_OK);
	assert_bytes(o[2].frame.d, o[2].frame.n, ping.d, ping.n, "then the PING");
	cr_assert_eq(o[3].st, MP_EOF);
	free_outcomes(o, got);
	b_free(&id1);
	b_free(&id2);
	b_free(&ping);
	b_free(&in);
}

Test(stream, too_big_by_many_small_items_keeps_msgid)
{
	struct mp_limits lim = limits(4096, 1u << 20, MP_MAX_DEPTH);
	struct bytes in = from_hex("92 a3 616263 94 03 a178 dc 1400"), ping = from_hex(ping_hex);
	struct outcome o[8];
	size_t got;

	b_fill(&in, 0x01, 0x1400); /* 5120 one-byte ints: no single item is over the limit */
	b_hex(&in, "80");
	b_add(&in, ping.d, ping.n);
	got = stream(&in, 0, &lim, o, 8, NULL);
	cr_assert_eq(got, 3);
	cr_assert_eq(o[0].st, MP_E_TOO_BIG, "got '%s'", mp_status_str(o[0].st));
	cr_assert(o[0].msgid_known);
	cr_assert(o[0].msgid.n == 4 && memcmp(o[0].msgid.d,
					      "\xa3"
					      "abc",
					      4) == 0,
		  "msgid a3616263");
	cr_assert_eq(o[1].st, MP_OK, "resync");
	free_outcomes(o, got);
	b_free(&in);
	b_free(&ping);
}

Test(stream, huge_msgid_is_not_known)
{
	struct mp_limits lim = limits(4096, 1024, MP_MAX_DEPTH);
	struct bytes ping = from_hex(ping_hex);
	struct {
		size_t idlen, slen;
		bool known;
	} cases[] = {
		{ 5000, 10, false },  /* the id alone is over max_message */
		{ 254, 5000, false }, /* 256 encoded bytes > MP_MAX_MSGID */
		{ 253, 5000, true },  /* 255 encoded bytes: just fits */
		{ 31, 5000, true },
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct bytes id = { 0 }, in = { 0 };
		struct outcome o[8];
		size_t got;
		struct mp_buf e;
		char *s = malloc(cases[k].idlen);

		memset(s, 'i', cases[k].idlen);
		mp_buf_init(&e, 1u << 20);
		cr_assert_eq(mp_put_strn(&e, s, cases[k].idlen), 0);
		b_add(&id, e.data, e.len);
		mp_buf_free(&e);
		free(s);
		b_call_with_str(&in, &id, cases[k].slen);
		b_add(&in, ping.d, ping.n);
		got = stream(&in, 0, &lim, o, 8, NULL);
		cr_assert_eq(got, 3, "id of %zu bytes: outcomes", cases[k].idlen);
		cr_assert_eq(o[0].st, MP_E_TOO_BIG, "id of %zu bytes", cases[k].idlen);
		cr_assert_eq(o[0].msgid_known, cases[k].known,
			     "id of %zu (%zu encoded) bytes: known?", cases[k].idlen, id.n);
		if (cases[k].known)
			assert_bytes(o[0].msgid.d, o[0].msgid.n, id.d, id.n, "msgid bytes");
		cr_assert_eq(o[1].st, MP_OK, "id of %zu bytes: the next message decodes",
			     cases[k].idlen);
		assert_bytes(o[1].frame.d, o[1].frame.n, ping.d, ping.n, "resync");
		free_outcomes(o, got);
		b_free(&id);
		b_free(&in);
	}
	b_free(&ping);
}

/*
 * The over-limit str is the LAST item of the message (here the value in the
 * CALL's kwargs), and its payload is made of CALL messages. The rest of the
 * payload must be skipped before the message counts as complete; once, the
 * reader reset the skip there and decoded the payload as messages: anything
 * inside an over-limit str was smuggled in as privsep calls.
 */
Test(stream, over_limit_str_as_last_item_is_skipped_whole)
{
	struct mp_limits lim = limits(4096, 1024, MP_MAX_DEPTH);
	struct bytes in = from_hex("92 a3 616263 94 03 a178 90 81 a16b da 2710"),
		     evil = from_hex(
			     "92 a4 6576696c 94 03 a178 90 80"), /* ["evil", [3, "x", [], {}]] */
		ping = from_hex(ping_hex);
	struct outcome o[64];
	size_t got, body = 0;

	/* 10000 bytes of str payload, made of back-to-back CALLs */
	while (body + evil.n <= 10000) {
		b_add(&in, evil.d, evil.n);
		body += evil.n;
	}
	b_fill(&in, 0xc0, 10000 - body); /* nils pad it to exactly 10000 */
	b_add(&in, ping.d, ping.n);
	got = stream(&in, 0, &lim, o, 64, NULL);
	cr_assert_eq(o[0].st, MP_E_TOO_BIG, "got '%s'", mp_status_str(o[0].st));
	cr_assert(o[0].msgid_known, "msgid a3616263 is known");
	cr_expect_eq(
		got, 3,
		"over-limit, the PING, EOF: 3 outcomes; got %zu (the str's payload was decoded "
		"as messages: second outcome '%s' %s)",
		got, mp_status_str(o[1].st), hexs(o[1].frame.d, o[1].frame.n));
	if (got == 3) {
		cr_expect_eq(o[1].st, MP_OK);
		assert_bytes(o[1].frame.d, o[1].frame.n, ping.d, ping.n,
			     "the PING after the big CALL");
	}
	free_outcomes(o, got);
	b_free(&in);
	b_free(&evil);
	b_free(&ping);
}

Test(stream, msgid_of_a_message_that_is_not_a_pair_is_unknown)
{
	struct mp_limits lim = limits(4096, 1024, MP_MAX_DEPTH);
	struct bytes in = from_hex("93 a131 a132 da 1388"), ping = from_hex(ping_hex);
	struct outcome o[8];
	size_t got;

	b_fill(&in, 'x', 5000);
	b_add(&in, ping.d, ping.n);
	got = stream(&in, 0, &lim, o, 8, NULL);
	cr_assert_eq(o[0].st, MP_E_TOO_BIG);
	cr_assert(!o[0].msgid_known, "a 3-array has no msgid to answer");
	cr_expect_eq(got, 3,
		     "over-limit, the PING, EOF; got %zu outcomes (the big str is the message's "
		     "last item: its payload was decoded as messages, second outcome '%s' %s)",
		     got, mp_status_str(o[1].st), hexs(o[1].frame.d, o[1].frame.n));
	cr_assert_eq(o[1].st, MP_OK);
	free_outcomes(o, got);
	b_free(&in);
	b_free(&ping);
}

Test(stream, resync_after_too_many)
{
	struct mp_limits lim = limits(1u << 20, 16, MP_MAX_DEPTH);
	struct bytes in = from_hex("92 a3 616263 94 03 a178 dc 0028"), ping = from_hex(ping_hex);
	struct outcome o[8];
	size_t got;

	b_fill(&in, 0xc0, 40);
	b_hex(&in, "80");
	b_add(&in, ping.d, ping.n);
	got = stream(&in, 7, &lim, o, 8, NULL);
	cr_assert_eq(got, 3);
	cr_assert_eq(o[0].st, MP_E_TOO_MANY, "40 args with max_items 16, got '%s'",
		     mp_status_str(o[0].st));
	cr_assert(o[0].msgid_known);
	cr_assert(o[0].msgid.n == 4 && memcmp(o[0].msgid.d,
					      "\xa3"
					      "abc",
					      4) == 0,
		  "msgid a3616263");
	cr_assert_eq(o[1].st, MP_OK, "resync after too many");
	assert_bytes(o[1].frame.d, o[1].frame.n, ping.d, ping.n, "next message");
	free_outcomes(o, got);
	b_free(&in);
	b_free(&ping);
}

/* Over-deep is a limit like the others: the message is dropped whole, in sync. */
Test(stream, resync_after_too_deep)
{
	static const size_t chunks[] = { 0, 1, 5 };
	struct bytes in = from_hex("92 a3 616263 94 03 a178 91"), ping = from_hex(ping_hex);

	b_fill(&in, 0x91, 40);
	b_hex(&in, "01 80");
	b_add(&in, ping.d, ping.n);
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		struct outcome o[8];
		size_t got = stream(&in, chunks[c], NULL, o, 8, NULL);

		cr_assert_eq(got, 3, "chunk %zu: over-deep, the PING, EOF; got %zu outcomes",
			     chunks[c], got);
		cr_assert_eq(o[0].st, MP_E_TOO_DEEP, "chunk %zu: got '%s'", chunks[c],
			     mp_status_str(o[0].st));
		cr_assert(o[0].msgid_known && o[0].msgid.n == 4 &&
				  memcmp(o[0].msgid.d,
					 "\xa3"
					 "abc",
					 4) == 0,
			  "chunk %zu: msgid of the over-deep CALL", chunks[c]);
		cr_assert_eq(o[1].st, MP_OK, "chunk %zu: resync", chunks[c]);
		assert_bytes(o[1].frame.d, o[1].frame.n, ping.d, ping.n, "the PING after it");
		cr_assert_eq(o[2].st, MP_EOF);
		free_outcomes(o, got);
	}
	b_free(&in);
	b_free(&ping);
}

/* Dropping a message never reads past it, whatever limit it broke and wherever. */
Test(stream, every_limit_at_every_chunk_size)
{
	struct mp_limits lim = limits(4096, 64, 8);
	struct bytes msgs[4] = { { 0 } }, ping = from_hex(ping_hex), id = from_hex("a2 6964");
	const enum mp_status why[4] = { MP_E_TOO_BIG, MP_E_TOO_MANY, MP_E_TOO_DEEP, MP_E_TOO_BIG };

	b_call_with_str(&msgs[0], &id, 6000);		/* one big str */
	b_hex(&msgs[1], "92 a26964 94 03 a178 dc0100"); /* 256 args > 64 items */
	b_fill(&msgs[1], 0xc0, 256);
	b_hex(&msgs[1], "80");
	b_hex(&msgs[2], "92 a26964 94 03 a178 91"); /* 12 levels > 8 */
	b_fill(&msgs[2], 0x91, 10);
	b_hex(&msgs[2], "c0 80");
	b_hex(&msgs[3], "92 a26964 94 03 a178 90 81 a16b da 1f40"); /* big str, last item */
	b_fill(&msgs[3], 0x92, 8000);				    /* payload looks like arrays */
	for (size_t k = 0; k < 4; k++) {
		b_add(&msgs[k], ping.d, ping.n);
		for (size_t chunk = 1; chunk <= 4096; chunk = chunk * 3 + 1) {
			struct outcome o[8];
			size_t got = stream(&msgs[k], chunk, &lim, o, 8, NULL);

			cr_assert(got == 3 && o[0].st == why[k] && o[1].st == MP_OK &&
					  o[2].st == MP_EOF,
				  "message %zu, chunks of %zu: want '%s', PING, EOF; got %zu "
				  "outcomes, "
				  "first '%s', second '%s'",
				  k, chunk, mp_status_str(why[k]), got, mp_status_str(o[0].st),
				  got > 1 ? mp_status_str(o[1].st) : "-");
			cr_assert(o[0].msgid_known && o[0].msgid.n == id.n &&
					  memcmp(o[0].msgid.d, id.d, id.n) == 0,
				  "message %zu, chunks of %zu: msgid", k, chunk);
			assert_bytes(o[1].frame.d, o[1].frame.n, ping.d, ping.n,
				     "the PING after it");
			free_outcomes(o, got);
		}
		b_free(&msgs[k]);
	}
	b_free(&ping);
	b_free(&id);
}

/*
 * A map32 declaring 2^31 pairs inside a CALL: 2^32 items cannot be
 * counted in 32 bits. The reader once reported MP_E_TOO_MANY for it
 * without dropping anything, so every later mp_reader_next() reported it
 * again, and the helper (which takes MP_E_TOO_MANY as recoverable) answered
 * it forever. Whatever the reader does (discard, or a fatal error), a
 * recoverable error must not come back for the same bytes with the reader
 * where it was.
 */
Test(stream, too_many_pairs_reported_once)
{
	struct bytes in = from_hex("92 a3 616263 94 03 a178 90 df 80000000"),
		     ping = from_hex(ping_hex);
	struct mp_reader r;
	struct mp_frame *f;
	size_t room;
	uint8_t *dst;
	enum mp_status prev = MP_OK;

	b_add(&in, ping.d, ping.n);
	cr_assert_eq(mp_reader_init(&r, NULL), 0);
	dst = mp_reader_space(&r, &room);
	memcpy(dst, in.d, in.n);
	mp_reader_commit(&r, in.n);
	for (int k = 0; k < 4; k++) {
		size_t pos = r.pos, len = r.len, items = r.items;
		enum mp_status st = mp_reader_next(&r, &f);

		mp_frame_free(f);
		cr_expect(
			!((st == MP_E_TOO_MANY || st == MP_E_TOO_BIG) && st == prev &&
			  pos == r.pos && len == r.len && items == r.items),
			"call %d: mp_reader_next() reports '%s' again for the same message with no "
			"progress (r.pos %zu, r.items %zu, discarding %d): the reader is stuck",
			k, mp_status_str(st), r.pos, r.items, (int)r.discarding);
		if (st != MP_E_TOO_MANY && st != MP_E_TOO_BIG && st != MP_OK)
			break; /* MP_NEED_MORE (discarding) or fatal: both fine */
		prev = st;
	}
	mp_reader_free(&r);
	b_free(&in);
	b_free(&ping);
}

/* Skip a real 2 GiB str without buffering it, then the next message decodes. */
Test(stream, skips_2gib_str, .timeout = 120)
{
	struct bytes head = from_hex("92 a3 616263 94 03 a178 91 db 80000000"),
		     tail = from_hex("80"), ping = from_hex(ping_hex);
	struct mp_reader r;
	struct mp_frame *f;
	uint64_t left = 1ull << 31;
	enum mp_status st;
	size_t room;
	uint8_t *dst;

	cr_assert_eq(mp_reader_init(&r, NULL), 0);
	dst = mp_reader_space(&r, &room);
	memcpy(dst, head.d, head.n);
	mp_reader_commit(&r, head.n);
	while (left) {
		st = mp_reader_next(&r, &f);
		cr_assert_eq(st, MP_NEED_MORE, "inside the 2 GiB str (%llu bytes to go)",
			     (unsigned long long)left);
		cr_assert_leq(r.cap, 4096,
			      "the reader buffers no more than one chunk of a dropped str");
		dst = mp_reader_space(&r, &room);
		if (room > left)
			room = (size_t)left;
		memset(dst, 'A', room);
		mp_reader_commit(&r, room);
		left -= room;
	}
	st = mp_reader_next(&r, &f);
	cr_assert_eq(st, MP_NEED_MORE, "the CALL's kwargs are still to come");
	dst = mp_reader_space(&r, &room);
	cr_assert_geq(room, tail.n + ping.n);
	memcpy(dst, tail.d, tail.n);
	memcpy(dst + tail.n, ping.d, ping.n);
	mp_reader_commit(&r, tail.n + ping.n);
	st = mp_reader_next(&r, &f);
	cr_assert_eq(st, MP_E_TOO_BIG, "got '%s'", mp_status_str(st));
	cr_assert(r.msgid_known && r.msgid_len == 4 &&
			  memcmp(r.msgid,
				 "\xa3"
				 "abc",
				 4) == 0,
		  "msgid of the dropped CALL");
	st = mp_reader_next(&r, &f);
	cr_assert_eq(st, MP_OK, "the PING after 2 GiB of dropped str, got '%s'", mp_status_str(st));
	assert_bytes(f->bytes, f->len, ping.d, ping.n, "PING");
	mp_frame_free(f);
	cr_assert_eq(mp_reader_eof(&r), MP_EOF);
	mp_reader_free(&r);
	b_free(&head);
	b_free(&tail);
	b_free(&ping);
}

/* --- the encoder's cap ------------------------------------------------------------ */

Test(mp_buf, cap_sets_overflow)
{
	struct mp_buf b;

	mp_buf_init(&b, 11);
	cr_assert_eq(mp_put_str(&b, "0123456789"), 0, "11 bytes fit a cap of 11");
	cr_assert_eq(b.len, 11);
	cr_assert(!b.overflow);
	cr_assert_neq(mp_put_nil(&b), 0, "one byte more must fail");
	cr_assert(b.overflow, "and set overflow");
	cr_assert_eq(b.len, 11, "a failed write appends nothing");
	cr_assert_neq(mp_put_raw(&b, "", 0), 0, "after an overflow every write fails");
	mp_buf_reset(&b);
	cr_assert(!b.overflow, "mp_buf_reset clears overflow");
	cr_assert_eq(b.len, 0);
	cr_assert_eq(mp_put_uint(&b, 1), 0);
	cr_assert_neq(mp_put_str(&b, "0123456789"), 0, "12 bytes do not fit");
	cr_assert(b.overflow);
	mp_buf_free(&b);

	mp_buf_init(&b, 4);
	cr_assert_neq(mp_put_bin(&b, "abcd", 4), 0, "bin of 4 is 6 bytes");
	cr_assert(b.overflow);
	mp_buf_free(&b);

	mp_buf_init(&b, 0);
	cr_assert_neq(mp_put_nil(&b), 0, "a cap of 0 takes nothing");
	cr_assert(b.overflow);
	mp_buf_free(&b);
}

Test(mp_buf, grows_across_many_writes)
{
	struct mp_buf b;

	mp_buf_init(&b, 1u << 20);
	for (unsigned k = 0; k < 100000; k++)
		cr_assert_eq(mp_put_uint(&b, k), 0);
	cr_assert(!b.overflow);
	cr_assert_leq(b.cap, 1u << 20);
	cr_assert_geq(b.cap, b.len);
	mp_buf_free(&b);
	cr_assert_null(b.data, "mp_buf_free releases the data");
}

Test(mp_buf, put_value_over_cap_fails)
{
	struct bytes call = from_hex(call_hex);
	struct mp_frame *f = decode_ok(call.d, call.n, NULL);

	for (size_t cap = 0; cap < call.n; cap++) {
		struct mp_buf b;

		mp_buf_init(&b, cap);
		cr_assert_neq(mp_put_value(&b, f->root), 0,
			      "re-encoding %zu bytes into a cap of %zu", call.n, cap);
		cr_assert(b.overflow, "cap %zu", cap);
		cr_assert_leq(b.len, cap);
		mp_buf_free(&b);
	}
	assert_reencodes_to(f->root, call.d, call.n, "with room");
	mp_frame_free(f);
	b_free(&call);
}
