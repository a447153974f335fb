/* SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "privsep.h"

const char *
ps_status_str(enum ps_status st)
{
	switch (st) {
	case PS_OK: return "ok";
	case PS_E_ENVELOPE: return "message is not a [msgid, body] pair";
	case PS_E_BODY: return "message body is not an array starting with an integer type";
	case PS_E_SHAPE: return "message fields do not match its type";
	case PS_E_KIND: return "unknown message type";
	default: break;
	}
	return "unknown error";
}

static bool
is_array(const struct mp_value *v, uint32_t n)
{
	return v->type == MP_ARRAY && v->len == n;
}

static enum ps_status
parse_call(const struct mp_value *body, struct ps_msg *m)
{
	const struct mp_value *it = body->v.items;

	if (body->len != 4 || it[1].type != MP_STR || it[2].type != MP_ARRAY ||
	    it[3].type != MP_MAP)
		return PS_E_SHAPE;
	m->name = &it[1];
	m->args = &it[2];
	m->kwargs = &it[3];
	return PS_OK;
}

static enum ps_status
parse_body(const struct mp_value *body, struct ps_msg *m)
{
	const struct mp_value *it = body->v.items;

	switch (m->kind) {
	case PS_PING:
	case PS_PONG: return body->len == 1 ? PS_OK : PS_E_SHAPE;
	case PS_CALL: return parse_call(body, m);
	case PS_RET:
	case PS_LOG:
		if (body->len != 2 || (m->kind == PS_LOG && it[1].type != MP_MAP))
			return PS_E_SHAPE;
		m->value = &it[1];
		return PS_OK;
	case PS_ERR:
		if (body->len != 3 || it[1].type != MP_STR || it[2].type != MP_ARRAY)
			return PS_E_SHAPE;
		m->name = &it[1];
		m->args = &it[2];
		return PS_OK;
	default: return PS_E_KIND;
	}
}

enum ps_status
ps_parse(const struct mp_value *root, struct ps_msg *m)
{
	const struct mp_value *body;

	memset(m, 0, sizeof(*m));
	if (!is_array(root, 2))
		return PS_E_ENVELOPE;
	m->msgid = &root->v.items[0];
	m->oob = m->msgid->type == MP_NIL;
	body = &root->v.items[1];
	if (body->type != MP_ARRAY || body->len < 1 || body->v.items[0].type != MP_UINT)
		return PS_E_BODY;
	m->kind = body->v.items[0].v.u;
	return parse_body(body, m);
}

int
ps_put_id(struct mp_buf *b, const struct mp_value *msgid)
{
	return mp_put_array(b, 2) || mp_put_value(b, msgid);
}

int
ps_pong(struct mp_buf *b, const struct mp_value *msgid)
{
	return ps_put_id(b, msgid) || mp_put_array(b, 1) || mp_put_uint(b, PS_PONG);
}

int
ps_ret_raw(struct mp_buf *b, const struct mp_value *msgid, const uint8_t *val, size_t n)
{
	return ps_put_id(b, msgid) || mp_put_array(b, 2) || mp_put_uint(b, PS_RET) ||
	       mp_put_raw(b, val, n);
}

int
ps_err_raw(struct mp_buf *b, const uint8_t *id, size_t idlen, const char *cls, const uint8_t *args,
	   size_t n)
{
	return mp_put_array(b, 2) || mp_put_raw(b, id, idlen) || mp_put_array(b, 3) ||
	       mp_put_uint(b, PS_ERR) || mp_put_str(b, cls) || mp_put_raw(b, args, n);
}

int
ps_err_msg_rawid(struct mp_buf *b, const uint8_t *id, size_t idlen, const char *cls,
		 const char *msg)
{
	return mp_put_array(b, 2) || mp_put_raw(b, id, idlen) || mp_put_array(b, 3) ||
	       mp_put_uint(b, PS_ERR) || mp_put_str(b, cls) || mp_put_array(b, 1) ||
	       mp_put_str(b, msg);
}

static const char *
level_name(int levelno)
{
	if (levelno >= 50)
		return "CRITICAL";
	if (levelno >= 40)
		return "ERROR";
	if (levelno >= 30)
		return "WARNING";
	return levelno >= 20 ? "INFO" : "DEBUG";
}

int
ps_log(struct mp_buf *b, const char *logger, int levelno, const char *msg)
{
	/* levelno must be an integer: a client reader thread dies on anything else. */
	return mp_put_array(b, 2) || mp_put_nil(b) || mp_put_array(b, 2) ||
	       mp_put_uint(b, PS_LOG) || mp_put_map(b, 5) || mp_put_str(b, "name") ||
	       mp_put_str(b, logger) || mp_put_str(b, "levelno") ||
	       mp_put_uint(b, (uint64_t)levelno) || mp_put_str(b, "levelname") ||
	       mp_put_str(b, level_name(levelno)) || mp_put_str(b, "msg") || mp_put_str(b, msg) ||
	       mp_put_str(b, "args") || mp_put_array(b, 0);
}

int
ps_ping(struct mp_buf *b, const char *msgid)
{
	return mp_put_array(b, 2) || mp_put_str(b, msgid) || mp_put_array(b, 1) ||
	       mp_put_uint(b, PS_PING);
}

int
ps_call_begin(struct mp_buf *b, const char *msgid, const char *name, uint32_t nargs)
{
	return mp_put_array(b, 2) || mp_put_str(b, msgid) || mp_put_array(b, 4) ||
	       mp_put_uint(b, PS_CALL) || mp_put_str(b, name) || mp_put_array(b, nargs);
}
