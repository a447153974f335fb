/* SPDX-License-Identifier: Apache-2.0 */
/* Errors, locked key memory, JSON rendering of replies, and the small pure parsers. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "lib.h"

void
ec_error_clear(struct ephcrypt_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

int
ec_fail(struct ephcrypt_error *err, enum ephcrypt_status st, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->status = st;
	err->errnum = errnum;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	va_end(ap);
	return -1;
}

const char *
ephcrypt_status_name(enum ephcrypt_status st)
{
	static const char *const names[] = {
		[EPHCRYPT_OK] = "ok",
		[EPHCRYPT_E_USAGE] = "usage",
		[EPHCRYPT_E_AUTH] = "authentication",
		[EPHCRYPT_E_FORBIDDEN] = "forbidden",
		[EPHCRYPT_E_NOT_FOUND] = "not found",
		[EPHCRYPT_E_REFUSED] = "refused by policy",
		[EPHCRYPT_E_HELPER] = "helper error",
		[EPHCRYPT_E_CHANNEL] = "helper channel",
		[EPHCRYPT_E_TIMEOUT] = "timeout",
		[EPHCRYPT_E_NETWORK] = "network",
		[EPHCRYPT_E_SERVER] = "server",
		[EPHCRYPT_E_KEY] = "key",
		[EPHCRYPT_E_SYSTEM] = "system",
	};
	return (unsigned)st < sizeof(names) / sizeof(names[0]) ? names[st] : "unknown";
}

enum ephcrypt_status
ec_status_for_exception(const char *cls)
{
	if (strcmp(cls, "builtins.PermissionError") == 0)
		return EPHCRYPT_E_REFUSED;
	if (strcmp(cls, "builtins.FileNotFoundError") == 0)
		return EPHCRYPT_E_NOT_FOUND;
	return EPHCRYPT_E_HELPER;
}

enum ephcrypt_status
ec_status_for_http(long code)
{
	if (code == 401)
		return EPHCRYPT_E_AUTH;
	if (code == 403)
		return EPHCRYPT_E_FORBIDDEN;
	if (code == 404)
		return EPHCRYPT_E_NOT_FOUND;
	if (code == 400 || code == 413 || code == 415)
		return EPHCRYPT_E_USAGE;
	return EPHCRYPT_E_SERVER;
}

/*
 * Keys get their own pages: locked (never swapped), left out of core dumps,
 * and wiped before they go back.
 */
int
ephcrypt_key_alloc(size_t len, struct ephcrypt_key **out, struct ephcrypt_error *err)
{
	struct ephcrypt_key *k;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), size;
	void *p;

	*out = NULL;
	if (len == 0 || len > 4096)
		return ec_fail(err, EPHCRYPT_E_USAGE, EINVAL, "key size %zu bytes out of range",
			       len);
	size = (len + page - 1) / page * page;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return ec_fail(err, EPHCRYPT_E_SYSTEM, errno, "key memory: %s", strerror(errno));
	if (mlock(p, size) < 0) {
		int e = errno;
		munmap(p, size);
		return ec_fail(err, EPHCRYPT_E_SYSTEM, e, "cannot lock key memory: %s",
			       strerror(e));
	}
	madvise(p, size, MADV_DONTDUMP);
	k = calloc(1, sizeof(*k));
	if (!k) {
		munmap(p, size);
		return ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "out of memory");
	}
	k->data = p;
	k->len = len;
	*out = k;
	return 0;
}

void
ephcrypt_key_free(struct ephcrypt_key *k)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	if (!k)
		return;
	if (k->data) {
		size_t size = (k->len + page - 1) / page * page;
		explicit_bzero(k->data, size);
		munlock(k->data, size);
		munmap(k->data, size);
	}
	free(k);
}

void
ec_copy_str(char *dst, size_t cap, const struct mp_value *v)
{
	size_t n = 0;

	if (v && v->type == MP_STR) {
		n = v->len < cap - 1 ? v->len : cap - 1;
		memcpy(dst, v->v.bytes, n);
	}
	dst[n] = '\0';
}

int
ec_str_add(struct ec_str *s, const char *fmt, ...)
{
	va_list ap;
	int n;

	for (;;) {
		size_t room = s->cap - s->len;
		va_start(ap, fmt);
		n = vsnprintf(s->s ? s->s + s->len : NULL, s->s ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
			return -1;
		if (s->s && (size_t)n < room) {
			s->len += (size_t)n;
			return 0;
		}
		size_t cap = s->cap * 2 + (size_t)n + 64;
		char *p = realloc(s->s, cap);
		if (!p)
			return -1;
		s->s = p, s->cap = cap;
	}
}

static int
json_string(struct ec_str *s, const uint8_t *p, uint32_t n)
{
	int rc = ec_str_add(s, "\"");

	for (uint32_t k = 0; k < n && rc == 0; k++) {
		unsigned char ch = p[k];
		if (ch == '"' || ch == '\\')
			rc = ec_str_add(s, "\\%c", ch);
		else if (ch < 0x20 || ch >= 0x7f)
			rc = ec_str_add(s, "\\u%04x", ch);
		else
			rc = ec_str_add(s, "%c", ch);
	}
	return rc ? rc : ec_str_add(s, "\"");
}

static int
json_container(struct ec_str *s, const struct mp_value *v)
{
	bool map = v->type == MP_MAP;
	int rc = ec_str_add(s, map ? "{" : "[");

	for (uint32_t k = 0; k < v->len && rc == 0; k++) {
		if (k)
			rc = ec_str_add(s, ", ");
		rc = rc ? rc : ec_value_json(s, &v->v.items[map ? 2 * k : k]);
		if (map && rc == 0) {
			rc = ec_str_add(s, ": ");
			rc = rc ? rc : ec_value_json(s, &v->v.items[2 * k + 1]);
		}
	}
	return rc ? rc : ec_str_add(s, map ? "}" : "]");
}

int
ec_value_json(struct ec_str *s, const struct mp_value *v)
{
	switch (v->type) {
	case MP_NIL: return ec_str_add(s, "null");
	case MP_BOOL: return ec_str_add(s, v->v.b ? "true" : "false");
	case MP_INT: return ec_str_add(s, "%lld", (long long)v->v.i);
	case MP_UINT: return ec_str_add(s, "%llu", (unsigned long long)v->v.u);
	case MP_FLOAT: return ec_str_add(s, "%g", v->v.f);
	case MP_STR: return json_string(s, v->v.bytes, v->len);
	case MP_BIN: return ec_str_add(s, "\"<%u bytes>\"", v->len); /* never the bytes: keys */
	case MP_ARRAY:
	case MP_MAP: return json_container(s, v);
	default: return ec_str_add(s, "null");
	}
}

int
ephcrypt_parse_size(const char *text, uint64_t *bytes)
{
	static const char units[] = "KMGTPE";
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!text || !isdigit((unsigned char)text[0]))
		return -1;
	errno = 0;
	v = strtoull(text, &end, 10);
	if (errno || v == 0)
		return -1;
	if (*end) {
		const char *u = strchr(units, toupper((unsigned char)*end));
		if (!u || !*u)
			return -1;
		shift = 10u * (unsigned)(u - units + 1);
		end++;
		if (*end == 'i' || *end == 'I')
			end++;
		if (*end == 'b' || *end == 'B')
			end++;
		if (*end)
			return -1;
	}
	if (shift && v > (UINT64_MAX >> shift))
		return -1;
	*bytes = (uint64_t)v << shift;
	return 0;
}

static bool
is_uuid(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t k = 0; k < n; k++) {
		bool dash = k == 8 || k == 13 || k == 18 || k == 23;
		if (dash ? s[k] != '-' : !isxdigit((unsigned char)s[k]))
			return false;
	}
	return true;
}

/* A bare uuid, or an http(s) URL whose path ends in /secrets/UUID (a trailing / allowed). */
int
ephcrypt_secret_uuid(const char *ref, char uuid[37])
{
	const char *tail, *mark;
	size_t n;

	if (!ref)
		return -1;
	n = strlen(ref);
	if (n && ref[n - 1] == '/')
		n--;
	if (is_uuid(ref, n)) {
		tail = ref;
	} else {
		if (strncmp(ref, "http://", 7) != 0 && strncmp(ref, "https://", 8) != 0)
			return -1;
		if (n < 36 + 9)
			return -1;
		tail = ref + n - 36;
		mark = tail - 9;
		if (strncmp(mark, "/secrets/", 9) != 0 || !is_uuid(tail, 36))
			return -1;
	}
	memcpy(uuid, tail, 36);
	uuid[36] = '\0';
	return 0;
}

void
ephcrypt_names_free(struct ephcrypt_names *n)
{
	for (size_t k = 0; n && n->names && k < n->count; k++)
		free(n->names[k]);
	if (n) {
		free(n->names);
		n->names = NULL;
		n->count = 0;
	}
}
