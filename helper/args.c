/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Bind a CALL's positional and keyword arguments to an entrypoint's
 * parameters, the way Python would, and refuse anything else with the
 * TypeError text Python would give.
 */
#include <string.h>

#include "call.h"

static const char *
type_name(enum mp_type t)
{
	switch (t) {
	case MP_NIL: return "NoneType";
	case MP_BOOL: return "bool";
	case MP_INT:
	case MP_UINT: return "int";
	case MP_FLOAT: return "float";
	case MP_STR: return "str";
	case MP_BIN: return "bytes";
	case MP_ARRAY: return "tuple";
	case MP_MAP: return "dict";
	default: return "object";
	}
}

static const char *
param_type_name(enum param_type t)
{
	switch (t) {
	case P_STR: return "str";
	case P_INT: return "int";
	case P_BIN: return "bytes";
	case P_BOOL: return "bool";
	case P_MAP: return "dict";
	case P_ANY:
	default: return "object";
	}
}

static bool
type_ok(const struct param *p, const struct mp_value *v)
{
	if (v->type == MP_NIL && p->nullable)
		return true;
	switch (p->type) {
	case P_STR: return v->type == MP_STR;
	case P_INT: return v->type == MP_UINT || v->type == MP_INT;
	case P_BIN: return v->type == MP_BIN;
	case P_BOOL: return v->type == MP_BOOL;
	case P_MAP: return v->type == MP_MAP;
	case P_ANY:
	default: return true;
	}
}

/* request_id and key_id are accepted on every call, for the audit record. */
static int
bind_meta(struct call *c, const struct mp_value *key, const struct mp_value *val)
{
	char *dst = mp_str_eq(key, "request_id") ? c->request_id
		    : mp_str_eq(key, "key_id")	 ? c->key_id
						 : NULL;
	size_t n;

	if (!dst)
		return 0;
	if (val->type != MP_STR)
		return call_fail(c, EXC_TYPE, 0, "%s() argument '%.*s' must be str", c->name,
				 (int)key->len, key->v.bytes);
	n = val->len < META_ARG_MAX - 1 ? val->len : META_ARG_MAX - 1;
	for (size_t k = 0; k < n; k++) /* printable ASCII only: it goes into a log */
		dst[k] = val->v.bytes[k] >= 0x20 && val->v.bytes[k] < 0x7f ? (char)val->v.bytes[k]
									   : '?';
	dst[n] = '\0';
	return 1;
}

static int
bind_kwarg(struct call *c, const struct entrypoint *ep, const struct mp_value *key,
	   const struct mp_value *val)
{
	int meta;

	if (key->type != MP_STR)
		return call_fail(c, EXC_TYPE, 0, "%s() keywords must be strings", c->name);
	for (unsigned i = 0; i < ep->nparams; i++) {
		if (!mp_str_eq(key, ep->params[i].name))
			continue;
		if (c->arg[i])
			return call_fail(c, EXC_TYPE, 0,
					 "%s() got multiple values for argument '%s'", c->name,
					 ep->params[i].name);
		c->arg[i] = val;
		return 0;
	}
	meta = bind_meta(c, key, val);
	if (meta != 0)
		return meta < 0 ? -1 : 0;
	return call_fail(c, EXC_TYPE, 0, "%s() got an unexpected keyword argument '%.*s'", c->name,
			 (int)(key->len > 64 ? 64 : key->len), key->v.bytes);
}

int
args_bind(struct call *c, const struct entrypoint *ep)
{
	uint32_t nargs = c->args->len;

	if (nargs > ep->nparams)
		return call_fail(c, EXC_TYPE, 0,
				 "%s() takes %u positional arguments but %u were given", c->name,
				 ep->nparams, nargs);
	for (uint32_t i = 0; i < nargs; i++)
		c->arg[i] = &c->args->v.items[i];
	for (uint32_t k = 0; k < c->kwargs->len; k++)
		if (bind_kwarg(c, ep, &c->kwargs->v.items[2 * k], &c->kwargs->v.items[2 * k + 1]) <
		    0)
			return -1;
	for (unsigned i = 0; i < ep->nparams; i++) {
		const struct param *p = &ep->params[i];

		if (!c->arg[i] && !p->optional)
			return call_fail(c, EXC_TYPE, 0, "%s() missing required argument: '%s'",
					 c->name, p->name);
		if (c->arg[i] && !type_ok(p, c->arg[i]))
			return call_fail(c, EXC_TYPE, 0, "%s() argument '%s' must be %s, not %s",
					 c->name, p->name, param_type_name(p->type),
					 type_name(c->arg[i]->type));
	}
	return 0;
}

const struct mp_value *
arg_get(const struct call *c, unsigned i)
{
	const struct mp_value *v = c->arg[i];

	return v && v->type != MP_NIL ? v : NULL;
}

/* A string argument as a C string: no NUL inside, and it must fit. */
int
arg_cstr(struct call *c, unsigned i, char *dst, size_t cap)
{
	const struct mp_value *v = arg_get(c, i);
	const char *pname = c->ep->params[i].name;

	if (!v || v->type != MP_STR)
		return call_fail(c, EXC_TYPE, 0, "%s() argument '%s' must be str", c->name, pname);
	if (v->len >= cap)
		return call_fail(c, EXC_VALUE, 0,
				 "%s() argument '%s' is too long (%u bytes, limit %zu)", c->name,
				 pname, v->len, cap - 1);
	if (memchr(v->v.bytes, '\0', v->len))
		return call_fail(c, EXC_VALUE, 0, "%s() argument '%s' contains a NUL byte", c->name,
				 pname);
	memcpy(dst, v->v.bytes, v->len);
	dst[v->len] = '\0';
	return 0;
}

int
arg_u64(struct call *c, unsigned i, uint64_t min, uint64_t max, uint64_t *out)
{
	const struct mp_value *v = arg_get(c, i);

	const char *pname = c->ep->params[i].name;

	if (!v || (v->type != MP_UINT && v->type != MP_INT))
		return call_fail(c, EXC_TYPE, 0, "%s() argument '%s' must be int", c->name, pname);
	if (v->type == MP_INT || v->v.u < min || v->v.u > max)
		return call_fail(c, EXC_VALUE, 0, "%s() argument '%s' is out of range [%llu, %llu]",
				 c->name, pname, (unsigned long long)min, (unsigned long long)max);
	*out = v->v.u;
	return 0;
}

bool
arg_bool(const struct call *c, unsigned i, bool dflt)
{
	const struct mp_value *v = arg_get(c, i);

	return v && v->type == MP_BOOL ? v->v.b : dflt;
}
