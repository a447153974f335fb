/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for argument binding (helper/args.c) and the guard's
 * name and path checks (helper/guard.c, policy/names.c): see tests/fuzz/README.
 * The input is a msgpack [args, kwargs] pair bound to an entrypoint with one
 * parameter of each type, as a CALL's would be; its strings (and, when it is
 * not such a pair, the raw bytes split at NULs) go through the guard.
 * Properties checked on every input:
 *   1. nothing crashes, leaks or reads out of bounds;
 *   2. args_bind() either binds every required parameter with a value of the
 *      declared type, or fails with a TypeError and a message; twice the same;
 *   3. arg_cstr() gives the exact bytes or a TypeError/ValueError;
 *   4. a name the guard accepts obeys the grammar, checked here independently
 *      (A-Z a-z 0-9 + _ . -, 1..127 bytes, no leading '-', not '.' or '..',
 *      no reserved name), and is one the policy allows; a refusal is a
 *      ValueError (grammar) or a PermissionError (policy) with a printable message;
 *   5. a device path the guard accepts is under /dev with no empty, '.' or
 *      '..' component.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../helper/call.h"
#include "../../helper/guard.h"
#include "../../policy/names.h"
#include "../../protocol/utf8.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_guard: %s:%d: ", __FILE__, __LINE__);                \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* Allows one VG and any LV or mapping name, so the grammar alone decides names. */
static const char policy_text[] = "[callers]\nuser root\n"
				  "[volume-groups]\nvg vg0 max-lv-size 1G\n"
				  "[volumes]\nlv ^.*$\n"
				  "[mappings]\nmapping ^[a-z].*$\n"
				  "[crypto]\ncipher aes-xts-plain64 key-sizes 512\n"
				  "sector-sizes 512\n";

static struct options opt;

static const struct param params[] = {
	{ "vg", P_STR, false, false },	   { "lv", P_STR, false, false },
	{ "size", P_INT, false, false },   { "mapping", P_STR, true, true },
	{ "device", P_STR, true, false },  { "discard", P_BOOL, true, false },
	{ "options", P_MAP, true, false }, { "blob", P_ANY, true, true },
};
static const struct entrypoint ep = { "fuzz_call", 0, params, 8, NULL, NULL };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/fuzz_guard_policyXXXXXX";
	int fd = mkstemp(path);

	(void)argc, (void)argv;
	CHECK(fd >= 0, "mkstemp");
	CHECK(write(fd, policy_text, sizeof(policy_text) - 1) == sizeof(policy_text) - 1, "write");
	close(fd);
	CHECK(policy_load(path, false, stderr, &opt.policy) == 0, "the harness policy loads");
	unlink(path);
	return 0;
}

static bool
type_matches(enum param_type t, bool nullable, const struct mp_value *v)
{
	if (v->type == MP_NIL && nullable)
		return true;
	switch (t) {
	case P_STR: return v->type == MP_STR;
	case P_INT: return v->type == MP_INT || v->type == MP_UINT;
	case P_BIN: return v->type == MP_BIN;
	case P_BOOL: return v->type == MP_BOOL;
	case P_MAP: return v->type == MP_MAP;
	default: return true;
	}
}

static void
check_message(const struct call *c, bool printable)
{
	size_t n = strnlen(c->err.msg, sizeof(c->err.msg));

	struct call_error shown = { .cls = c->err.cls };
	unsigned cp;
	size_t len;

	CHECK(n > 0 && n < sizeof(c->err.msg), "an error has a terminated message");
	for (size_t k = 0; printable && k < n; k++)
		CHECK(c->err.msg[k] >= 0x20 && c->err.msg[k] < 0x7f,
		      "byte %zu of a name error is not printable", k);
	/* What the reply carries: valid UTF-8, no controls, whatever the caller sent. */
	memcpy(shown.msg, c->err.msg, n + 1);
	call_error_printable(&shown);
	for (size_t k = 0; shown.msg[k]; k += len) {
		len = utf8_seq((const unsigned char *)shown.msg + k, strlen(shown.msg + k), &cp);
		CHECK(len > 0, "byte %zu of the reply's message is not UTF-8", k);
		CHECK(cp >= 0x20 && cp != 0x7f && (cp < 0x80 || cp > 0x9f) &&
			      (cp < 0x202a || cp > 0x202e),
		      "the reply's message carries control U+%04X", cp);
	}
}

static void
call_init(struct call *c, const struct mp_value *args, const struct mp_value *kwargs)
{
	memset(c, 0, sizeof(*c));
	c->name = ep.name;
	c->ep = &ep;
	c->args = args;
	c->kwargs = kwargs;
	c->opt = &opt;
}

static void
call_done(struct call *c)
{
	call_error_clear(&c->err);
}

static bool
grammar_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > NAME_MAX_LEN || s[0] == '-' || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (size_t k = 0; k < n; k++) {
		char ch = s[k];
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '+' || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return true;
}

static bool
is_reserved_dev(const char *s)
{
	static const char *const dev[] = { "block",  "bus", "char",	 "cpu",	  "disk",
					   "dri",    "fd",  "hugepages", "input", "mapper",
					   "mqueue", "net", "pts",	 "shm",	  "snd" };

	for (size_t k = 0; k < sizeof(dev) / sizeof(dev[0]); k++)
		if (!strcmp(s, dev[k]))
			return true;
	return false;
}

static bool
plain_dev_path(const char *p)
{
	if (strncmp(p, "/dev/", 5) != 0)
		return false;
	for (const char *part = p + 5;; part++) {
		const char *end = strchrnul(part, '/');
		size_t n = (size_t)(end - part);

		if (n == 0 || (n == 1 && part[0] == '.') || (n == 2 && !strncmp(part, "..", 2)))
			return false;
		if (!*end)
			return true;
		part = end;
	}
}

static void
guard_names(const char *a, const char *b)
{
	struct call c;
	int rc;

	call_init(&c, NULL, NULL);
	rc = guard_lv(&c, a, b);
	if (rc == 0) {
		CHECK(grammar_ok(a) && !is_reserved_dev(a) && grammar_ok(b),
		      "guard_lv accepted a name outside the grammar");
		CHECK(!strcmp(a, "vg0"), "guard_lv accepted a VG the policy does not list");
		CHECK(strncmp(b, "pvmove", 6) && strncmp(b, "snapshot", 8) &&
			      !strstr(b, "_tmeta") && !strstr(b, "_rimage"),
		      "guard_lv accepted an LVM-reserved LV name");
	} else {
		CHECK(rc == -1, "guard_lv returned %d", rc);
		CHECK(!strcmp(c.err.cls, EXC_VALUE) || !strcmp(c.err.cls, EXC_PERM),
		      "guard_lv refused with %s", c.err.cls);
		check_message(&c, true);
		/* Both names' grammar comes before either policy. */
		CHECK(grammar_ok(a) || !strcmp(c.err.cls, EXC_VALUE),
		      "a bad VG name refused with %s", c.err.cls);
		CHECK(grammar_ok(b) || !strcmp(c.err.cls, EXC_VALUE),
		      "a bad LV name refused with %s", c.err.cls);
	}
	call_done(&c);

	call_init(&c, NULL, NULL);
	rc = guard_mapping(&c, b);
	if (rc == 0)
		CHECK(grammar_ok(b) && strcmp(b, "control") && b[0] >= 'a' && b[0] <= 'z',
		      "guard_mapping accepted a name outside the grammar or the policy");
	else
		check_message(&c, true);
	call_done(&c);

	call_init(&c, NULL, NULL);
	rc = guard_dev_path(&c, a);
	CHECK((rc == 0) == plain_dev_path(a), "guard_dev_path %s a path it should %s",
	      rc == 0 ? "accepted" : "refused", rc == 0 ? "refuse" : "accept");
	if (rc < 0) {
		CHECK(!strcmp(c.err.cls, EXC_PERM), "guard_dev_path refused with %s", c.err.cls);
		check_message(&c, false);
	}
	call_done(&c);
}

static void
bind_and_guard(const struct mp_value *args, const struct mp_value *kwargs)
{
	struct call c, again;
	char s[2][NAME_MAX_LEN + 2];
	int rc;

	call_init(&c, args, kwargs);
	rc = args_bind(&c, &ep);
	call_init(&again, args, kwargs);
	CHECK(args_bind(&again, &ep) == rc && !strcmp(again.err.msg, c.err.msg),
	      "args_bind is not deterministic");
	call_done(&again);
	if (rc < 0) {
		CHECK(rc == -1 && !strcmp(c.err.cls, EXC_TYPE), "args_bind failed with %s",
		      c.err.cls ? c.err.cls : "(none)");
		check_message(&c, false);
		call_done(&c);
		return;
	}
	CHECK(args->len <= ep.nparams, "more positional arguments than parameters bound");
	for (unsigned i = 0; i < ep.nparams; i++) {
		CHECK(c.arg[i] || params[i].optional, "required '%s' left unbound", params[i].name);
		CHECK(!c.arg[i] || type_matches(params[i].type, params[i].nullable, c.arg[i]),
		      "'%s' bound to a value of the wrong type", params[i].name);
	}
	for (unsigned i = 0; i < 2; i++) {
		const struct mp_value *v = c.arg[i];

		rc = arg_cstr(&c, i, s[i], sizeof(s[i]));
		if (rc == 0) {
			CHECK(strlen(s[i]) == v->len && !memcmp(s[i], v->v.bytes, v->len),
			      "arg_cstr changed the bytes");
		} else {
			CHECK(!strcmp(c.err.cls, EXC_VALUE) || !strcmp(c.err.cls, EXC_TYPE),
			      "arg_cstr failed with %s", c.err.cls);
			call_done(&c);
			return;
		}
	}
	call_done(&c);
	guard_names(s[0], s[1]);
}

/* Not a [args, kwargs] pair: the bytes, cut at NULs, are names and paths. */
static void
raw_names(const uint8_t *data, size_t size)
{
	char a[256], b[256];
	size_t na = strnlen((const char *)data, size < 255 ? size : 255), nb;

	memcpy(a, data, na);
	a[na] = '\0';
	data += na < size ? na + 1 : na;
	size -= na < size ? na + 1 : na;
	nb = strnlen((const char *)data, size < 255 ? size : 255);
	memcpy(b, data, nb);
	b[nb] = '\0';
	guard_names(a, b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mp_limits lim;
	struct mp_frame *f = NULL;
	const struct mp_value *root;

	mp_limits_default(&lim);
	if (mp_decode(data, size, &lim, &f) == MP_OK) {
		root = f->root;
		if (root->type == MP_ARRAY && root->len == 2 && root->v.items[0].type == MP_ARRAY &&
		    root->v.items[1].type == MP_MAP) {
			bind_and_guard(&root->v.items[0], &root->v.items[1]);
			mp_frame_free(f);
			return 0;
		}
	}
	mp_frame_free(f);
	raw_names(data, size);
	return 0;
}
