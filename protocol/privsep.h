/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The oslo.privsep 3.0.1 wire format on top of the msgpack codec.
 * Every message is [msgid, body]; body is [kind, ...]. msgid is opaque and
 * echoed back; a nil msgid marks an out-of-band message (only LOG).
 */
#ifndef EPHCRYPT_PRIVSEP_H
#define EPHCRYPT_PRIVSEP_H

#include "mp.h"

enum ps_kind {
	PS_PING = 1,
	PS_PONG = 2,
	PS_CALL = 3,
	PS_RET = 4,
	PS_ERR = 5,
	PS_LOG = 6,
};

enum ps_status {
	PS_OK = 0,
	PS_E_ENVELOPE, /* not a [msgid, body] pair: framing garbage */
	PS_E_BODY,     /* body not an array starting with an integer kind */
	PS_E_SHAPE,    /* known kind with the wrong fields */
	PS_E_KIND,     /* integer kind we do not handle (the daemon's ProtocolError) */
};

struct ps_msg {
	const struct mp_value *msgid; /* never NULL after a successful parse */
	bool oob;		      /* msgid is nil */
	uint64_t kind;
	const struct mp_value *name;   /* CALL: str; ERR: class name */
	const struct mp_value *args;   /* CALL, ERR: array */
	const struct mp_value *kwargs; /* CALL: map */
	const struct mp_value *value;  /* RET: value; LOG: record map */
};

enum ps_status ps_parse(const struct mp_value *root, struct ps_msg *m);
const char *ps_status_str(enum ps_status st);

/* Reply builders: each writes one complete message into b. */
int ps_put_id(struct mp_buf *b, const struct mp_value *msgid);
int ps_pong(struct mp_buf *b, const struct mp_value *msgid);
/* [id, [4, value]] where value is already-encoded msgpack. */
int ps_ret_raw(struct mp_buf *b, const struct mp_value *msgid, const uint8_t *val, size_t n);
/* [id, [5, cls, args]] with args already-encoded msgpack array. */
int ps_err_raw(struct mp_buf *b, const uint8_t *id, size_t idlen, const char *cls,
	       const uint8_t *args, size_t n);
/* [id, [5, cls, [msg]]] with a raw-encoded id (for over-limit messages). */
int ps_err_msg_rawid(struct mp_buf *b, const uint8_t *id, size_t idlen, const char *cls,
		     const char *msg);
/* [nil, [6, {name, levelno, levelname, msg, args: []}]] */
int ps_log(struct mp_buf *b, const char *logger, int levelno, const char *msg);
/* [id, [1]] and [id, [3, name, args, kwargs]] for the client side. */
int ps_ping(struct mp_buf *b, const char *msgid);
int ps_call_begin(struct mp_buf *b, const char *msgid, const char *name, uint32_t nargs);

#endif
