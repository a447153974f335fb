/* SPDX-License-Identifier: Apache-2.0 */
/* Bounded, resumable msgpack decoder: see mp.h for why it is our own. */
#include <stdlib.h>
#include <string.h>

#include "mp.h"

#define READ_CHUNK_MIN 4096

struct hdr {
	uint8_t size; /* header bytes */
	enum mp_type type;
	uint64_t payload; /* STR/BIN bytes after the header */
	uint64_t count;	  /* child items: array items, or 2 x map pairs */
	uint64_t len;	  /* declared length (bytes or items or pairs) */
	union {
		bool b;
		int64_t i;
		uint64_t u;
		double f;
	} v;
};

enum hdr_result { HDR_OK, HDR_SHORT, HDR_BAD };

static uint64_t
be(const uint8_t *p, unsigned n)
{
	uint64_t x = 0;
	for (unsigned k = 0; k < n; k++)
		x = x << 8 | p[k];
	return x;
}

static double
be_double(const uint8_t *p)
{
	uint64_t bits = be(p, 8);
	double d;
	memcpy(&d, &bits, sizeof(d));
	return d;
}

static float
be_float(const uint8_t *p)
{
	uint32_t bits = (uint32_t)be(p, 4);
	float f;
	memcpy(&f, &bits, sizeof(f));
	return f;
}

static void
set_signed(struct hdr *h, int64_t x)
{
	/* Normalise: any non-negative integer is MP_UINT, whatever its encoding. */
	if (x >= 0) {
		h->type = MP_UINT;
		h->v.u = (uint64_t)x;
	} else {
		h->type = MP_INT;
		h->v.i = x;
	}
}

/* Sized forms: str8/16/32, bin8/16/32, array16/32, map16/32. */
static enum hdr_result
sized(struct hdr *h, const uint8_t *p, size_t avail, unsigned n, enum mp_type t)
{
	h->size = (uint8_t)(1 + n);
	if (avail < h->size)
		return HDR_SHORT;
	h->type = t;
	h->len = be(p + 1, n);
	if (t == MP_STR || t == MP_BIN)
		h->payload = h->len;
	else
		h->count = t == MP_MAP ? 2 * h->len : h->len;
	return HDR_OK;
}

static enum hdr_result
number(struct hdr *h, const uint8_t *p, size_t avail, uint8_t b)
{
	static const uint8_t width[] = { 1, 2, 4, 8 };
	unsigned n = b >= 0xd0 ? width[b - 0xd0] : b >= 0xcc ? width[b - 0xcc] : b == 0xca ? 4 : 8;

	h->size = (uint8_t)(1 + n);
	if (avail < h->size)
		return HDR_SHORT;
	if (b == 0xca) {
		h->type = MP_FLOAT;
		h->v.f = be_float(p + 1);
	} else if (b == 0xcb) {
		h->type = MP_FLOAT;
		h->v.f = be_double(p + 1);
	} else if (b <= 0xcf) {
		h->type = MP_UINT;
		h->v.u = be(p + 1, n);
	} else {
		uint64_t raw = be(p + 1, n);
		unsigned shift = 64 - 8 * n; /* sign-extend from n bytes */
		set_signed(h, (int64_t)(raw << shift) >> shift);
	}
	return HDR_OK;
}

static enum hdr_result
header(const uint8_t *p, size_t avail, struct hdr *h)
{
	uint8_t b;

	memset(h, 0, sizeof(*h));
	if (avail < 1)
		return HDR_SHORT;
	b = p[0];
	h->size = 1;
	if (b <= 0x7f || b >= 0xe0) {
		set_signed(h, (int8_t)b);
		if (b <= 0x7f) {
			h->v.u = b;
			h->type = MP_UINT;
		}
		return HDR_OK;
	}
	if (b <= 0x8f) {
		h->type = MP_MAP;
		h->len = b & 0x0f;
		h->count = 2 * h->len;
		return HDR_OK;
	}
	if (b <= 0x9f) {
		h->type = MP_ARRAY;
		h->len = b & 0x0f;
		h->count = h->len;
		return HDR_OK;
	}
	if (b <= 0xbf) {
		h->type = MP_STR;
		h->len = h->payload = b & 0x1f;
		return HDR_OK;
	}
	switch (b) {
	case 0xc0: h->type = MP_NIL; return HDR_OK;
	case 0xc2: h->type = MP_BOOL, h->v.b = false; return HDR_OK;
	case 0xc3: h->type = MP_BOOL, h->v.b = true; return HDR_OK;
	case 0xc4: return sized(h, p, avail, 1, MP_BIN);
	case 0xc5: return sized(h, p, avail, 2, MP_BIN);
	case 0xc6: return sized(h, p, avail, 4, MP_BIN);
	case 0xd9: return sized(h, p, avail, 1, MP_STR);
	case 0xda: return sized(h, p, avail, 2, MP_STR);
	case 0xdb: return sized(h, p, avail, 4, MP_STR);
	case 0xdc: return sized(h, p, avail, 2, MP_ARRAY);
	case 0xdd: return sized(h, p, avail, 4, MP_ARRAY);
	case 0xde: return sized(h, p, avail, 2, MP_MAP);
	case 0xdf: return sized(h, p, avail, 4, MP_MAP);
	default: break;
	}
	if ((b >= 0xca && b <= 0xd3))
		return number(h, p, avail, b);
	return HDR_BAD; /* 0xc1 (never used) and ext types, which Python never sends */
}

void
mp_limits_default(struct mp_limits *lim)
{
	lim->max_message = MP_DEFAULT_MAX_MESSAGE;
	lim->max_items = MP_DEFAULT_MAX_ITEMS;
	lim->max_depth = MP_MAX_DEPTH;
}

const char *
mp_status_str(enum mp_status st)
{
	switch (st) {
	case MP_OK: return "ok";
	case MP_NEED_MORE: return "incomplete message";
	case MP_EOF: return "end of stream";
	case MP_E_TRUNCATED: return "stream ended inside a message";
	case MP_E_TOO_BIG: return "message exceeds the size limit";
	case MP_E_TOO_DEEP: return "message nested too deeply";
	case MP_E_TOO_MANY: return "message has too many items";
	case MP_E_BAD_BYTE: return "invalid or unsupported msgpack type byte";
	case MP_E_NOMEM: return "out of memory";
	default: break;
	}
	return "unknown error";
}

static void
scan_reset(struct mp_reader *r)
{
	r->pos = 0;
	r->items = 0;
	r->declared = 0; /* the root is not counted */
	r->depth = 0;
	r->remaining[0] = 1;
	r->discarding = false;
	r->skip = 0;
	r->pending = 0;
	r->msgid_pending = false;
	r->msgid_len = 0;
	r->msgid_known = false;
}

int
mp_reader_init(struct mp_reader *r, const struct mp_limits *lim)
{
	memset(r, 0, sizeof(*r));
	if (lim)
		r->lim = *lim;
	else
		mp_limits_default(&r->lim);
	if (r->lim.max_depth > MP_MAX_DEPTH)
		r->lim.max_depth = MP_MAX_DEPTH;
	if (r->lim.max_items > UINT32_MAX)
		r->lim.max_items = UINT32_MAX;
	if (r->lim.max_message < 64)
		r->lim.max_message = 64;
	r->cap = READ_CHUNK_MIN < r->lim.max_message ? READ_CHUNK_MIN : r->lim.max_message;
	r->buf = r->mem = malloc(r->cap);
	if (!r->buf)
		return -1;
	r->mem_cap = r->cap;
	scan_reset(r);
	return 0;
}

void
mp_reader_free(struct mp_reader *r)
{
	if (r->mem) {
		explicit_bzero(r->mem, r->mem_cap);
		free(r->mem);
	}
	explicit_bzero(r, sizeof(*r));
}

/* Move the open message to the front of the allocation, wiping where it was. */
static void
compact(struct mp_reader *r)
{
	memmove(r->mem, r->buf, r->len);
	explicit_bzero(r->mem + r->len, r->mem_cap - r->len);
	r->buf = r->mem;
	r->cap = r->mem_cap;
}

/*
 * Room after a full buffer: first reclaim the consumed front, else grow
 * (without realloc, so no stale copy of a key is left on the heap).
 */
static int
make_room(struct mp_reader *r)
{
	size_t ncap = r->mem_cap * 2;
	uint8_t *nbuf;

	if (r->buf != r->mem) {
		compact(r);
		return 0;
	}
	if (ncap > r->lim.max_message)
		ncap = r->lim.max_message;
	if (ncap <= r->mem_cap)
		return 0;
	nbuf = malloc(ncap);
	if (!nbuf)
		return -1;
	memcpy(nbuf, r->buf, r->len);
	explicit_bzero(r->mem, r->mem_cap);
	free(r->mem);
	r->buf = r->mem = nbuf;
	r->cap = r->mem_cap = ncap;
	return 0;
}

uint8_t *
mp_reader_space(struct mp_reader *r, size_t *room)
{
	if (r->len == r->cap)
		(void)make_room(r); /* on failure room is 0 and next() reports it */
	*room = r->cap - r->len;
	return r->buf + r->len;
}

void
mp_reader_commit(struct mp_reader *r, size_t n)
{
	r->len += n;
}

/*
 * Drop the first n buffered bytes, wiping them. The rest stays where it is
 * (moving it per message made a burst of small messages cost quadratic time).
 */
static void
consume(struct mp_reader *r, size_t n)
{
	explicit_bzero(r->buf, n);
	r->buf += n;
	r->cap -= n;
	r->len -= n;
	if (r->len == 0) {
		r->buf = r->mem;
		r->cap = r->mem_cap;
	}
}

/* The msgid is the first element of the top-level [msgid, body]. */
static void
maybe_capture_msgid(struct mp_reader *r)
{
	size_t n = r->pos - r->msgid_start;

	if (!r->msgid_pending || r->depth != 1 || r->remaining[1] != 1)
		return;
	r->msgid_pending = false;
	if (n <= sizeof(r->msgid)) {
		memcpy(r->msgid, r->buf + r->msgid_start, n);
		r->msgid_len = n;
		r->msgid_known = true;
	}
}

/*
 * Over a limit: drop the rest of the message as it arrives. Discarding needs
 * no stack, only the number of items still to come, so even an over-deep
 * message can be skipped and the stream stays in sync.
 */
static void
start_discard(struct mp_reader *r, enum mp_status why)
{
	r->discarding = true;
	r->discard_reason = why;
	r->msgid_pending = false; /* its bytes may be dropped from now on */
	r->pending = 0;
	for (unsigned d = 0; d <= r->depth; d++)
		r->pending += r->remaining[d];
}

/* In discard mode, forget scanned bytes and drop payload still to come. */
static void
discard_scanned(struct mp_reader *r)
{
	size_t drop;

	consume(r, r->pos);
	r->pos = 0;
	drop = r->skip < r->len ? (size_t)r->skip : r->len;
	consume(r, drop);
	r->skip -= drop;
}

/* The next item's header, if it has arrived whole. */
static enum mp_status
next_header(const struct mp_reader *r, struct hdr *h)
{
	switch (header(r->buf + r->pos, r->len - r->pos, h)) {
	case HDR_OK: return MP_OK;
	case HDR_SHORT: return MP_NEED_MORE;
	case HDR_BAD:
	default: return MP_E_BAD_BYTE;
	}
}

/* Discard mode: step over one item's header and as much payload as is here. */
static enum mp_status
skip_item(struct mp_reader *r)
{
	size_t avail = r->len - r->pos;
	struct hdr h;
	enum mp_status st = next_header(r, &h);

	if (st != MP_OK)
		return st;
	if (h.payload > avail - h.size) {
		r->skip = h.payload - (avail - h.size);
		r->pos = r->len;
	} else {
		r->pos += h.size + (size_t)h.payload;
	}
	r->pending += h.count;
	r->pending--;
	return MP_OK;
}

/* Advance over one complete item. Returns MP_OK, MP_NEED_MORE or an error. */
static enum mp_status
scan_item(struct mp_reader *r)
{
	size_t avail = r->len - r->pos;
	struct hdr h;
	enum mp_status st = next_header(r, &h);

	if (st != MP_OK)
		return st;
	if ((h.type == MP_ARRAY || h.type == MP_MAP) && r->depth + 1 > r->lim.max_depth) {
		start_discard(r, MP_E_TOO_DEEP);
		return MP_OK; /* the same item is read again, in discard mode */
	}
	/* Items declared so far, read or not: the decoded tree's size, known in advance. */
	if (h.payload > r->lim.max_message - r->pos - h.size ||
	    h.count > r->lim.max_items - r->declared) {
		start_discard(r, h.count ? MP_E_TOO_MANY : MP_E_TOO_BIG);
		return MP_OK;
	}
	if (h.size + h.payload > avail)
		return MP_NEED_MORE;
	r->pos += h.size + (size_t)h.payload;
	r->items++;
	r->declared += h.count;
	r->remaining[r->depth]--;
	if (r->items == 1 && h.type == MP_ARRAY && h.len == 2) {
		r->msgid_pending = true;
		r->msgid_start = r->pos;
	}
	if (h.count) {
		r->depth++;
		r->remaining[r->depth] = (uint32_t)h.count;
	}
	return MP_OK;
}

static bool
complete(struct mp_reader *r)
{
	if (r->discarding)
		return r->pending == 0 && r->skip == 0;
	while (r->depth > 0 && r->remaining[r->depth] == 0)
		r->depth--;
	maybe_capture_msgid(r);
	return r->depth == 0 && r->remaining[0] == 0;
}

/* Scan until the message is complete; MP_OK means buf[0..pos) holds it. */
static enum mp_status
scan(struct mp_reader *r)
{
	enum mp_status st = MP_OK;

	if (r->discarding)
		discard_scanned(r);
	while (st == MP_OK) {
		if (r->skip) /* payload of the last item still to come */
			st = MP_NEED_MORE;
		else if (complete(r))
			return MP_OK;
		else
			st = r->discarding ? skip_item(r) : scan_item(r);
	}
	if (st == MP_NEED_MORE && r->discarding)
		discard_scanned(r);
	return st;
}

static const uint8_t *
build(const uint8_t *p, struct mp_value *v, struct mp_value **next)
{
	struct hdr h;

	(void)header(p, SIZE_MAX, &h); /* already validated by scan() */
	v->type = h.type;
	v->len = (uint32_t)h.len;
	p += h.size;
	switch (h.type) {
	case MP_STR:
	case MP_BIN: v->v.bytes = p; return p + h.len;
	case MP_ARRAY:
	case MP_MAP:
		v->v.items = *next;
		*next += h.count;
		for (uint64_t k = 0; k < h.count; k++)
			p = build(p, &v->v.items[k], next);
		return p;
	case MP_NIL: return p;
	case MP_BOOL: v->v.b = h.v.b; return p;
	case MP_INT: v->v.i = h.v.i; return p;
	case MP_UINT: v->v.u = h.v.u; return p;
	case MP_FLOAT: v->v.f = h.v.f; return p;
	default: return p;
	}
	return p;
}

static enum mp_status
make_frame(struct mp_reader *r, struct mp_frame **out)
{
	size_t nvals = r->items, len = r->pos;
	struct mp_frame *f = malloc(sizeof(*f) + nvals * sizeof(struct mp_value) + len);
	struct mp_value *next;

	if (!f)
		return MP_E_NOMEM;
	f->nvals = nvals;
	f->len = len;
	f->bytes = (uint8_t *)(f->vals + nvals);
	memcpy(f->bytes, r->buf, len);
	f->root = &f->vals[0];
	next = &f->vals[1];
	build(f->bytes, f->root, &next);
	*out = f;
	return MP_OK;
}

/* A message over a limit has been dropped whole: report it, keep its msgid. */
static enum mp_status
finish_discard(struct mp_reader *r)
{
	enum mp_status why = r->discard_reason;
	bool known = r->msgid_known;
	size_t n = r->msgid_len;
	uint8_t id[MP_MAX_MSGID];

	memcpy(id, r->msgid, n);
	discard_scanned(r);
	scan_reset(r);
	memcpy(r->msgid, id, n);
	r->msgid_len = n;
	r->msgid_known = known;
	return why;
}

enum mp_status
mp_reader_next(struct mp_reader *r, struct mp_frame **out)
{
	enum mp_status st;

	*out = NULL;
	if (r->len == 0 && r->items == 0)
		return MP_NEED_MORE;
	if (r->items == 0) { /* a new message begins */
		r->msgid_known = false;
		r->msgid_len = 0;
	}
	st = scan(r);
	if (st == MP_NEED_MORE && !r->discarding && r->len == r->lim.max_message) {
		start_discard(r, MP_E_TOO_BIG); /* buffer full, message still open */
		st = scan(r);
	}
	if (st == MP_NEED_MORE && r->len == r->cap && !r->discarding && make_room(r) < 0)
		return MP_E_NOMEM;
	if (st != MP_OK)
		return st;
	if (r->discarding)
		return finish_discard(r);
	st = make_frame(r, out);
	if (st != MP_OK)
		return st;
	consume(r, r->pos);
	scan_reset(r);
	return MP_OK;
}

enum mp_status
mp_reader_eof(const struct mp_reader *r)
{
	if (r->len == 0 && r->items == 0 && !r->discarding)
		return MP_EOF;
	return MP_E_TRUNCATED;
}

void
mp_frame_free(struct mp_frame *f)
{
	if (!f)
		return;
	explicit_bzero(f, sizeof(*f) + f->nvals * sizeof(struct mp_value) + f->len);
	free(f);
}

enum mp_status
mp_decode(const uint8_t *data, size_t len, const struct mp_limits *lim, struct mp_frame **out)
{
	struct mp_reader r;
	enum mp_status st;
	size_t off = 0;

	*out = NULL;
	if (mp_reader_init(&r, lim) < 0)
		return MP_E_NOMEM;
	do {
		size_t room;
		uint8_t *dst = mp_reader_space(&r, &room);
		size_t n = len - off < room ? len - off : room;

		memcpy(dst, data + off, n);
		mp_reader_commit(&r, n);
		off += n;
		st = mp_reader_next(&r, out);
	} while (st == MP_NEED_MORE && off < len);
	if (st == MP_NEED_MORE) /* a limit already broken beats running out of input */
		st = r.discarding ? r.discard_reason : MP_E_TRUNCATED;
	mp_reader_free(&r);
	return st;
}

bool
mp_str_eq(const struct mp_value *v, const char *s)
{
	size_t n = strlen(s);

	return v && v->type == MP_STR && v->len == n && memcmp(v->v.bytes, s, n) == 0;
}

const struct mp_value *
mp_map_get(const struct mp_value *map, const char *key)
{
	if (!map || map->type != MP_MAP)
		return NULL;
	for (uint32_t k = 0; k < map->len; k++)
		if (mp_str_eq(&map->v.items[2 * k], key))
			return &map->v.items[2 * k + 1];
	return NULL;
}
