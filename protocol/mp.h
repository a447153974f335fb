/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bounded msgpack codec shared by the helper and the client library.
 *
 * Decoding is our own: msgpack-c's C unpacker buffers a whole object before
 * any size check and has no string-length limit, while a privileged reader
 * must refuse an oversized or over-deep message before it allocates for it.
 * The scanner is resumable (it only ever advances over complete items), so a
 * message arriving in many reads is scanned once in total.
 *
 * Encoding uses msgpack-c's packer over a buffer of our own with a size cap.
 */
#ifndef EPHCRYPT_MP_H
#define EPHCRYPT_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack/pack.h>

#define MP_DEFAULT_MAX_MESSAGE (1u << 20) /* 1 MiB */
#define MP_DEFAULT_MAX_ITEMS   (1u << 16)
#define MP_MAX_DEPTH	       32
#define MP_MAX_MSGID	       255 /* raw encoded bytes of a msgid we will echo */

enum mp_type {
	MP_NIL,
	MP_BOOL,
	MP_INT,	 /* negative integers */
	MP_UINT, /* non-negative integers */
	MP_FLOAT,
	MP_STR,
	MP_BIN,
	MP_ARRAY,
	MP_MAP,
};

struct mp_value {
	enum mp_type type;
	uint32_t len; /* bytes for STR/BIN, items for ARRAY, pairs for MAP */
	union {
		bool b;
		int64_t i;
		uint64_t u;
		double f;
		const uint8_t *bytes;	/* STR/BIN: points into the frame, not NUL-terminated */
		struct mp_value *items; /* ARRAY: len items; MAP: key, value, key, value ... */
	} v;
};

enum mp_status {
	MP_OK = 0,
	MP_NEED_MORE,	/* no complete message yet */
	MP_EOF,		/* clean end of stream between messages */
	MP_E_TRUNCATED, /* end of stream inside a message */
	MP_E_TOO_BIG,	/* message over max_message bytes */
	MP_E_TOO_DEEP,	/* nesting over max_depth */
	MP_E_TOO_MANY,	/* more than max_items items */
	MP_E_BAD_BYTE,	/* 0xc1 or an ext type: nothing the Python side sends */
	MP_E_NOMEM,
};

struct mp_limits {
	size_t max_message;
	size_t max_items;
	unsigned max_depth; /* at most MP_MAX_DEPTH */
};

/* One complete message, decoded. Owns its bytes; freed with wiping. */
struct mp_frame {
	struct mp_value *root;
	uint8_t *bytes;
	size_t len;
	size_t nvals;
	struct mp_value vals[]; /* root is vals[0]; bytes follow the array */
};

struct mp_reader {
	struct mp_limits lim;
	uint8_t *mem;	 /* the allocation, mem_cap bytes */
	size_t mem_cap;	 /* buf points into it: consuming a message moves no bytes */
	uint8_t *buf;	 /* start of the current message */
	size_t cap, len; /* room from buf; buffered bytes of the message (and beyond) */
	size_t pos;	 /* bytes of complete items scanned so far */
	size_t items;	 /* items scanned */
	size_t declared; /* items announced so far below the root */
	unsigned depth;
	uint32_t remaining[MP_MAX_DEPTH + 1];
	/* Over-limit handling: skip the rest of the message without buffering it. */
	bool discarding;
	uint64_t skip;	  /* payload bytes still to drop */
	uint64_t pending; /* items still to drop */
	enum mp_status discard_reason;
	/* Raw encoding of the current message's msgid, once it has been scanned;
	 * after MP_E_TOO_BIG or MP_E_TOO_MANY, that of the dropped message. */
	bool msgid_pending;
	size_t msgid_start;
	uint8_t msgid[MP_MAX_MSGID];
	size_t msgid_len;
	bool msgid_known;
};

void mp_limits_default(struct mp_limits *lim);
const char *mp_status_str(enum mp_status st);

int mp_reader_init(struct mp_reader *r, const struct mp_limits *lim);
void mp_reader_free(struct mp_reader *r);
/* Room to read into (at least 1 byte unless a message is complete). */
uint8_t *mp_reader_space(struct mp_reader *r, size_t *room);
void mp_reader_commit(struct mp_reader *r, size_t n);
/*
 * Next complete message. MP_E_TOO_BIG, MP_E_TOO_MANY and MP_E_TOO_DEEP leave
 * the reader in sync: it drops the rest of that message as it arrives, and
 * msgid_known says whether an error reply can be addressed. Every other error
 * is fatal to the stream.
 */
enum mp_status mp_reader_next(struct mp_reader *r, struct mp_frame **out);
/* Call at end of stream: MP_EOF if clean, MP_E_TRUNCATED otherwise. */
enum mp_status mp_reader_eof(const struct mp_reader *r);
void mp_frame_free(struct mp_frame *f);

/* Decode one complete buffer (tests, fuzzing). */
enum mp_status mp_decode(const uint8_t *data, size_t len, const struct mp_limits *lim,
			 struct mp_frame **out);

/* Value helpers. */
bool mp_str_eq(const struct mp_value *v, const char *s);
const struct mp_value *mp_map_get(const struct mp_value *map, const char *key);

/* Encoding: a capped, growable buffer driven by msgpack-c's packer. */
struct mp_buf {
	uint8_t *data;
	size_t len, cap, max;
	bool overflow;
	msgpack_packer pk;
};

void mp_buf_init(struct mp_buf *b, size_t max);
void mp_buf_reset(struct mp_buf *b);
void mp_buf_free(struct mp_buf *b); /* wipes */
int mp_put_raw(struct mp_buf *b, const void *p, size_t n);
int mp_put_str(struct mp_buf *b, const char *s);
int mp_put_strn(struct mp_buf *b, const void *s, size_t n);
int mp_put_bin(struct mp_buf *b, const void *p, size_t n);
int mp_put_uint(struct mp_buf *b, uint64_t u);
int mp_put_int(struct mp_buf *b, int64_t i);
int mp_put_bool(struct mp_buf *b, bool v);
int mp_put_nil(struct mp_buf *b);
int mp_put_double(struct mp_buf *b, double d);
int mp_put_array(struct mp_buf *b, uint32_t n);
int mp_put_map(struct mp_buf *b, uint32_t n);
/* Re-encode a decoded value (tests, pass-through). */
int mp_put_value(struct mp_buf *b, const struct mp_value *v);

#endif
