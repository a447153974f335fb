/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log (helper/audit.c) and the reviewer's tool (tools/ephcrypt-audit.c).
 * The audit state is process-global; criterion runs each test in its own process.
 * The tool is run as a program, found next to the build's tests directory
 * (build/tests/test_audit -> build/ephcrypt-audit) or at $EPHCRYPT_AUDIT_TOOL.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <limits.h>
#include <regex.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <openssl/evp.h>

#include "../../audit/audit.h"
#include "../../protocol/version.h"

extern char **environ;

static char dir[PATH_MAX];
static char logpath[PATH_MAX + 32];

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ephcrypt-audit-test-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
	snprintf(logpath, sizeof(logpath), "%s/audit.log", dir);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

/* What read_lines hands out, freed after the test (a test may keep lines to the end). */
static struct {
	char **lines;
	size_t n;
} kept[16];
static size_t nkept;

static void
teardown(void)
{
	for (size_t i = 0; i < nkept; i++) {
		for (size_t j = 0; j < kept[i].n; j++)
			free(kept[i].lines[j]);
		free(kept[i].lines);
	}
	audit_close();
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(audit, .init = setup, .fini = teardown);

/* --- helpers ------------------------------------------------------------- */

static void
open_log(const char *path)
{
	char why[512] = "";
	int r = audit_open(path, why, sizeof(why));

	cr_assert_eq(r, 0, "audit_open(%s) = %d: %s", path, r, why);
}

static struct audit_event
crypt_event(enum audit_outcome outcome)
{
	return (struct audit_event){
		.action = "create_encrypted_lv",
		.outcome = outcome,
		.uid = 1000,
		.gid = 1001,
		.pid = 4242,
		.request_id = "req-3f1c2d4e-0000-4000-8000-000000000001",
		.vg = "nova",
		.lv = "instance-0001_disk.eph0",
		.mapping = "crypt-instance-0001_disk.eph0",
		.device = "/dev/nova/instance-0001_disk.eph0",
		.policy_rule = "/etc/ephcrypt/policy.conf:12",
		.err_no = outcome == AUDIT_SUCCESS  ? 0
			  : outcome == AUDIT_DENIED ? EACCES
						    : ENOSPC,
		.message =
			outcome == AUDIT_SUCCESS ? NULL : "volume group nova has too little space",
		.duration_us = 123456,
		.cipher = "aes-xts-plain64",
		.key_size = 512,
		.sector_size = 4096,
		.flags = "allow_discards,no_read_workqueue",
		.key_id = "6c1f7a3e-2b4d-4c8e-9f10-1a2b3c4d5e6f",
	};
}

static void
record_ok(const struct audit_event *ev)
{
	int r = audit_record(ev);

	cr_assert_eq(r, 0, "audit_record(%s) = %d (%s)", ev->action, r, strerror(-r));
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t cap = 0, n = 0, k;

	cr_assert_not_null(f, "fopen %s: %s", path, strerror(errno));
	do {
		buf = realloc(buf, cap = cap + 65536 + 1);
		cr_assert_not_null(buf);
		k = fread(buf + n, 1, cap - n - 1, f);
		n += k;
	} while (k > 0);
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Split the file into lines (newlines kept out); asserts it ends in a newline. */
static size_t
read_lines(const char *path, char ***out)
{
	size_t len, n = 0;
	char *buf = slurp(path, &len), *p, *nl;
	char **lines = NULL;

	cr_assert(len == 0 || buf[len - 1] == '\n', "%s does not end in a newline", path);
	for (p = buf; (nl = memchr(p, '\n', (size_t)(buf + len - p))); p = nl + 1) {
		lines = realloc(lines, (n + 1) * sizeof(*lines));
		cr_assert_not_null(lines);
		lines[n++] = strndup(p, (size_t)(nl - p));
	}
	free(buf);
	cr_assert_lt(nkept, sizeof(kept) / sizeof(kept[0]));
	kept[nkept].lines = lines;
	kept[nkept++].n = n;
	*out = lines;
	return n;
}

static void
write_lines(const char *path, char **lines, const size_t *order, size_t n)
{
	FILE *f = fopen(path, "we");

	cr_assert_not_null(f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", lines[order[i]]);
	cr_assert_eq(fclose(f), 0);
}

/* Strict JSON, valid UTF-8, the whole line, an object. */
static struct json_object *
parse_line(const char *line)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o;

	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	o = json_tokener_parse_ex(tok, line, (int)strlen(line));
	cr_assert_not_null(o, "not JSON (%s): %s",
			   json_tokener_error_desc(json_tokener_get_error(tok)), line);
	cr_assert_eq(json_tokener_get_parse_end(tok), strlen(line),
		     "trailing bytes after the object");
	cr_assert(json_object_is_type(o, json_type_object));
	json_tokener_free(tok);
	return o;
}

static struct json_object *
member(struct json_object *o, const char *path)
{
	char buf[128], *save = NULL, *k;
	struct json_object *v = o;

	snprintf(buf, sizeof(buf), "%s", path);
	for (k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
		if (!json_object_object_get_ex(v, k, &v))
			return NULL;
	return v;
}

static const char *
str_at(struct json_object *o, const char *path)
{
	struct json_object *v = member(o, path);

	cr_assert_not_null(v, "field %s is missing", path);
	cr_assert(json_object_is_type(v, json_type_string), "field %s is not a string", path);
	return json_object_get_string(v);
}

static long long
int_at(struct json_object *o, const char *path)
{
	struct json_object *v = member(o, path);

	cr_assert_not_null(v, "field %s is missing", path);
	cr_assert(json_object_is_type(v, json_type_int), "field %s is not an integer", path);
	return json_object_get_int64(v);
}

static void
sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned mdlen;

	cr_assert(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL));
	for (unsigned i = 0; i < 32; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static bool
matches_re(const char *s, const char *re)
{
	regex_t rx;
	bool ok;

	cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0);
	ok = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return ok;
}

/* Each line's prev is the hash of the line before it; the first's, of the marker. */
static void
assert_chain(char **lines, size_t n)
{
	char expect[65];

	sha256_hex("ephcrypt-audit-v1", strlen("ephcrypt-audit-v1"), expect);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = parse_line(lines[i]);

		cr_assert_str_eq(str_at(o, "prev"), expect, "line %zu does not chain", i + 1);
		json_object_put(o);
		sha256_hex(lines[i], strlen(lines[i]), expect);
	}
}

/* As assert_chain, for a file whose chain continues the last line of older. */
static void
assert_chain_from(char **lines, size_t n, const char *older)
{
	char **old_lines, expect[65];
	size_t n_old = read_lines(older, &old_lines);

	cr_assert_gt(n_old, 0);
	sha256_hex(old_lines[n_old - 1], strlen(old_lines[n_old - 1]), expect);
	for (size_t i = 0; i < n; i++) {
		struct json_object *o = parse_line(lines[i]);

		cr_assert_str_eq(str_at(o, "prev"), expect, "line %zu does not chain", i + 1);
		json_object_put(o);
		sha256_hex(lines[i], strlen(lines[i]), expect);
	}
}

#define UUID_RE "^[0-9a-f]{8}-[0-9a-f]{4}-%c[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"

static bool
is_uuid(const char *s, char version)
{
	char re[96];

	snprintf(re, sizeof(re), UUID_RE, version);
	return matches_re(s, re);
}

/* The record's one tag, "entrypoint?value=NAME". */
static const char *
tag_of(struct json_object *o)
{
	struct json_object *tags = member(o, "tags");

	cr_assert(tags && json_object_is_type(tags, json_type_array) &&
			  json_object_array_length(tags) == 1,
		  "tags must be an array of one");
	return json_object_get_string(json_object_array_get_idx(tags, 0));
}

/* CADF resources: a stable id (a UUID derived from what they name) and a typeURI. */
static void
assert_cadf_resources(struct json_object *o, const char *target_type)
{
	static const char *const res[] = { "initiator", "target", "observer" };
	char path[32];

	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s.id", res[i]);
		cr_assert(is_uuid(str_at(o, path), '8'), "%s %s is not a derived UUID", path,
			  str_at(o, path));
	}
	cr_assert_str_eq(str_at(o, "initiator.typeURI"), "compute/process");
	cr_assert_str_eq(str_at(o, "target.typeURI"), target_type);
	cr_assert_str_eq(str_at(o, "observer.typeURI"), "service/security");
	cr_assert_str_eq(str_at(o, "observer.name"), "ephcrypt-helper");
}

static void
assert_common(struct json_object *o, const char *entrypoint, const char *outcome)
{
	char host[256] = "", tag[256];

	cr_assert(is_uuid(str_at(o, "id"), '4'), "id %s is not a UUID v4", str_at(o, "id"));
	cr_assert(matches_re(str_at(o, "eventTime"),
			     "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{6}Z$"),
		  "eventTime %s is not RFC 3339 UTC with microseconds", str_at(o, "eventTime"));
	cr_assert_str_eq(str_at(o, "eventType"), "activity");
	cr_assert_str_eq(str_at(o, "typeURI"), "http://schemas.dmtf.org/cloud/audit/1.0/event");
	cr_assert_str_eq(str_at(o, "action"), audit_cadf_action(entrypoint));
	snprintf(tag, sizeof(tag), "entrypoint?value=%s", entrypoint);
	cr_assert_str_eq(tag_of(o), tag);
	cr_assert_str_eq(str_at(o, "outcome"), outcome);
	cr_assert_eq(int_at(o, "observer.pid"), getpid());
	gethostname(host, sizeof(host) - 1);
	cr_assert_str_eq(str_at(o, "observer.host.address"), host);
	cr_assert_str_eq(str_at(o, "observer.version"), EPHCRYPT_VERSION);
	cr_assert_eq(strlen(str_at(o, "prev")), 64);
}

static void
assert_crypt_fields(struct json_object *o)
{
	cr_assert_eq(int_at(o, "initiator.uid"), 1000);
	cr_assert_eq(int_at(o, "initiator.gid"), 1001);
	cr_assert_eq(int_at(o, "initiator.pid"), 4242);
	cr_assert_str_eq(str_at(o, "initiator.request_id"),
			 "req-3f1c2d4e-0000-4000-8000-000000000001");
	cr_assert_str_eq(str_at(o, "target.vg"), "nova");
	cr_assert_str_eq(str_at(o, "target.lv"), "instance-0001_disk.eph0");
	cr_assert_str_eq(str_at(o, "target.mapping"), "crypt-instance-0001_disk.eph0");
	cr_assert_str_eq(str_at(o, "target.device"), "/dev/nova/instance-0001_disk.eph0");
	cr_assert_str_eq(str_at(o, "policy_rule"), "/etc/ephcrypt/policy.conf:12");
	cr_assert_eq(int_at(o, "duration_us"), 123456);
	cr_assert_str_eq(str_at(o, "cipher"), "aes-xts-plain64");
	cr_assert_eq(int_at(o, "key_size"), 512);
	cr_assert_eq(int_at(o, "sector_size"), 4096);
	cr_assert_str_eq(str_at(o, "flags"), "allow_discards,no_read_workqueue");
	cr_assert_str_eq(str_at(o, "key_id"), "6c1f7a3e-2b4d-4c8e-9f10-1a2b3c4d5e6f");
}

/* The log holds exactly n records, chained; the last one, parsed. */
static struct json_object *
last_record(size_t n)
{
	char **lines;
	size_t got = read_lines(logpath, &lines);

	cr_assert_eq(got, n, "expected %zu records, found %zu lines", n, got);
	assert_chain(lines, got);
	return parse_line(lines[got - 1]);
}

/* --- records ------------------------------------------------------------- */

Test(audit, success_record_has_every_field)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	struct json_object *o;
	char marker[65];

	open_log(logpath);
	record_ok(&ev);
	o = last_record(1);
	assert_common(o, "create_encrypted_lv", "success");
	cr_assert_str_eq(str_at(o, "action"), "create");
	assert_cadf_resources(o, "storage/volume");
	assert_crypt_fields(o);
	sha256_hex("ephcrypt-audit-v1", 17, marker);
	cr_assert_str_eq(str_at(o, "prev"), marker, "the first record chains to the start marker");
	cr_assert_null(member(o, "errno"), "no errno on success");
	cr_assert_null(member(o, "message"), "no message on success");
	cr_assert_null(member(o, "reason"), "no reason on success");
	cr_assert_not(audit_is_broken());
	json_object_put(o);
}

Test(audit, failure_record_has_errno_and_message)
{
	struct audit_event ev = crypt_event(AUDIT_FAILURE);
	struct json_object *o;

	open_log(logpath);
	record_ok(&ev);
	o = last_record(1);
	assert_common(o, "create_encrypted_lv", "failure");
	assert_crypt_fields(o);
	cr_assert_eq(int_at(o, "errno"), ENOSPC);
	cr_assert_str_eq(str_at(o, "message"), "volume group nova has too little space");
	cr_assert_str_eq(str_at(o, "reason.reasonType"), "errno");
	cr_assert_str_eq(str_at(o, "reason.reasonCode"), "ENOSPC");
	cr_assert_null(member(o, "reason.policyId"), "not the policy's doing");
	json_object_put(o);
}

Test(audit, denied_record_says_why_and_which_rule)
{
	struct audit_event ev = crypt_event(AUDIT_DENIED);
	struct json_object *o;

	ev.policy_rule = "default deny";
	ev.message = "mapping name 'x' matches no [mappings] pattern";
	open_log(logpath);
	record_ok(&ev);
	o = last_record(1);
	assert_common(o, "create_encrypted_lv", "failure");
	cr_assert_str_eq(str_at(o, "reason.reasonType"), "ephcrypt-policy");
	cr_assert_str_eq(str_at(o, "reason.reasonCode"), "denied");
	cr_assert_str_eq(str_at(o, "reason.policyType"), "ephcrypt-policy");
	cr_assert_str_eq(str_at(o, "reason.policyId"), "default deny");
	cr_assert_str_eq(str_at(o, "policy_rule"), "default deny");
	cr_assert_eq(int_at(o, "errno"), EACCES);
	cr_assert_str_eq(str_at(o, "message"), "mapping name 'x' matches no [mappings] pattern");
	json_object_put(o);
}

Test(audit, absent_fields_are_omitted)
{
	struct audit_event ev = { .action = "list_lvs",
				  .outcome = AUDIT_SUCCESS,
				  .uid = 7,
				  .request_id = "",
				  .vg = "nova" };
	struct json_object *o;

	open_log(logpath);
	record_ok(&ev);
	o = last_record(1);
	assert_common(o, "list_lvs", "success");
	cr_assert_str_eq(str_at(o, "action"), "read/list");
	assert_cadf_resources(o, "storage/container");
	cr_assert_null(member(o, "initiator.request_id"), "an empty request_id is left out");
	cr_assert_str_eq(str_at(o, "target.vg"), "nova");
	cr_assert_eq(json_object_object_length(member(o, "target")), 3,
		     "only id, typeURI and vg: the one name given");
	cr_assert_null(member(o, "policy_rule"));
	cr_assert_null(member(o, "cipher"), "not a crypt operation");
	cr_assert_null(member(o, "key_size"));
	cr_assert_null(member(o, "key_id"));
	cr_assert_eq(int_at(o, "duration_us"), 0);
	json_object_put(o);
}

/* Every entrypoint the helper serves gets an action from the CADF taxonomy. */
Test(audit, every_entrypoint_has_a_cadf_action)
{
	static const char *const map[][2] = {
		{ "ephcrypt.vg_info", "read" },
		{ "ephcrypt.lv_create", "create" },
		{ "ephcrypt.lv_remove", "delete" },
		{ "ephcrypt.lv_list", "read/list" },
		{ "ephcrypt.lv_info", "read" },
		{ "ephcrypt.crypt_open", "create" },
		{ "ephcrypt.crypt_close", "delete" },
		{ "ephcrypt.crypt_status", "read" },
		{ "ephcrypt.disk_create", "create" },
		{ "ephcrypt.disk_destroy", "delete" },
		{ "nova.privsep.fs.vginfo", "read" },
		{ "nova.privsep.fs.lvlist", "read/list" },
		{ "nova.privsep.fs.lvinfo", "read" },
		{ "nova.privsep.fs.blockdev_size", "read" },
		{ "nova.privsep.fs.lvcreate", "create" },
		{ "nova.privsep.fs.lvremove", "delete" },
		{ "nova.privsep.fs.clear", "update" },
		{ "nova.privsep.libvirt.dmcrypt_create_volume", "create" },
		{ "nova.privsep.libvirt.dmcrypt_delete_volume", "delete" },
		{ "nova.privsep.fs.nope", "unknown" },
		{ "", "unknown" },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		cr_assert_str_eq(audit_cadf_action(map[i][0]), map[i][1], "for '%s'", map[i][0]);
	cr_assert_str_eq(audit_cadf_action(NULL), "unknown");
}

/* A caller may name its own CADF action (e.g. a relay's forwarded call). */
Test(audit, a_given_cadf_action_is_used)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	struct json_object *o;

	ev.cadf_action = "authenticate";
	open_log(logpath);
	record_ok(&ev);
	o = last_record(1);
	cr_assert_str_eq(str_at(o, "action"), "authenticate");
	cr_assert_str_eq(tag_of(o), "entrypoint?value=create_encrypted_lv");
	json_object_put(o);
}

/* The same volume, caller or helper keeps its id from record to record; another gets another. */
Test(audit, resource_ids_name_the_same_thing_in_every_record)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	struct json_object *o[3];
	char **lines;

	open_log(logpath);
	record_ok(&ev);
	record_ok(&ev);
	ev.lv = "instance-0002_disk.eph0";
	ev.pid = 4343;
	record_ok(&ev);
	cr_assert_eq(read_lines(logpath, &lines), 3);
	for (size_t i = 0; i < 3; i++)
		o[i] = parse_line(lines[i]);
	cr_assert_str_neq(str_at(o[0], "id"), str_at(o[1], "id"), "events have their own ids");
	cr_assert_str_eq(str_at(o[0], "target.id"), str_at(o[1], "target.id"));
	cr_assert_str_eq(str_at(o[0], "initiator.id"), str_at(o[1], "initiator.id"));
	cr_assert_str_eq(str_at(o[0], "observer.id"), str_at(o[2], "observer.id"));
	cr_assert_str_neq(str_at(o[1], "target.id"), str_at(o[2], "target.id"));
	cr_assert_str_neq(str_at(o[1], "initiator.id"), str_at(o[2], "initiator.id"));
	cr_assert_str_neq(str_at(o[0], "target.id"), str_at(o[0], "initiator.id"));
	for (size_t i = 0; i < 3; i++)
		json_object_put(o[i]);
}

Test(audit, chain_continues_across_reopen)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char **lines;
	size_t n;

	open_log(logpath);
	for (int i = 0; i < 3; i++)
		record_ok(&ev);
	audit_close();
	open_log(logpath); /* a restart */
	ev.outcome = AUDIT_DENIED;
	record_ok(&ev);
	record_ok(&ev);
	n = read_lines(logpath, &lines);
	cr_assert_eq(n, 5);
	assert_chain(lines, n);
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			cr_assert_neq(strncmp(lines[i], lines[j], 48), 0, "ids must be unique");
}

Test(audit, hostile_names_stay_one_valid_line)
{
	const char *vg = "a\"b\\c\nd\re\tf\x1b[31mg\x7f\x01";
	const char *lv = "\xff\xfe\xc3(\xc0\xaf\xed\xa0\x80\xe6\x97";
	const char *lv_seen = "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd(" /* 3 x U+FFFD, then ( */
			      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
			      "\xef\xbf\xbd\xef\xbf\xbd"; /* 7 more: one per stray byte */
	const char *mapping =
		"ok-\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac-\xf0\x9f\x98\x80-\xc2\x9b-\xe2\x80\xae";
	const char *device = "/dev/x\n{\"forged\":true,\"outcome\":\"success\"}";
	struct audit_event ev = { .action = "open\"\n",
				  .outcome = AUDIT_FAILURE,
				  .vg = vg,
				  .lv = lv,
				  .mapping = mapping,
				  .device = device,
				  .message = "bad \x1b]0;title\x07 name" };
	struct json_object *o;
	size_t len;
	char *raw;

	open_log(logpath);
	record_ok(&ev);
	record_ok(&ev);
	raw = slurp(logpath, &len);
	for (size_t i = 0; i < len; i++)
		cr_assert(raw[i] == '\n' || (unsigned char)raw[i] >= 0x20,
			  "raw control byte at %zu", i);
	cr_assert_null(memmem(raw, len, "\xc2\x9b", 2), "C1 CSI must be escaped");
	cr_assert_null(memmem(raw, len, "\xe2\x80\xae", 3), "RLO must be escaped");
	free(raw);
	o = last_record(2);
	cr_assert_str_eq(tag_of(o), "entrypoint?value=open\"\n");
	cr_assert_str_eq(str_at(o, "target.vg"), vg);
	cr_assert_str_eq(str_at(o, "target.lv"), lv_seen, "invalid UTF-8: one U+FFFD per byte");
	cr_assert_str_eq(str_at(o, "target.mapping"), mapping, "valid UTF-8 round-trips");
	cr_assert_str_eq(str_at(o, "target.device"), device);
	cr_assert_null(member(o, "forged"));
	json_object_put(o);
}

Test(audit, long_values_are_cut_and_the_record_stays_under_8k)
{
	static char huge[20000], ctl[10000];
	struct audit_event ev = crypt_event(AUDIT_FAILURE);
	struct json_object *o;
	char **lines;
	const char *msg;

	memset(huge, 'x', sizeof(huge) - 1);
	memset(ctl, 0x01, sizeof(ctl) - 1); /* 6 output bytes per input byte: the worst case */
	ev.message = huge;
	ev.action = ev.request_id = ev.vg = ev.lv = ev.mapping = ev.device = ctl;
	ev.policy_rule = ev.cipher = ev.flags = ev.key_id = ctl;
	open_log(logpath);
	record_ok(&ev);
	cr_assert_eq(read_lines(logpath, &lines), 1);
	cr_assert_lt(strlen(lines[0]) + 1, 8192, "record is %zu bytes", strlen(lines[0]) + 1);
	o = last_record(1);
	msg = str_at(o, "message");
	cr_assert_lt(strlen(msg), 2048);
	cr_assert_str_eq(msg + strlen(msg) - 14, "...[truncated]");
	cr_assert_eq(strspn(msg, "x"), strlen(msg) - 14);
	cr_assert_str_eq(str_at(o, "target.vg") + strlen(str_at(o, "target.vg")) - 14,
			 "...[truncated]");
	cr_assert_eq(strspn(str_at(o, "target.vg"), "\x01"), strlen(str_at(o, "target.vg")) - 14,
		     "cut between escapes, never inside one");
	json_object_put(o);
}

Test(audit, key_material_never_reaches_the_file)
{
	unsigned char key[64];
	char hex[129], HEX[129], b64[96], keyhash[65];
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	size_t len;
	char *raw;

	for (int i = 0; i < 64; i++)
		key[i] = (unsigned char)(0xa5 ^ (i * 37));
	for (int i = 0; i < 64; i++) {
		sprintf(hex + 2 * i, "%02x", key[i]);
		sprintf(HEX + 2 * i, "%02X", key[i]);
	}
	EVP_EncodeBlock((unsigned char *)b64, key, sizeof(key));
	sha256_hex(key, sizeof(key), keyhash);
	open_log(logpath);
	for (int i = 0; i < 3; i++) {
		ev.outcome = (enum audit_outcome)i;
		ev.key_id = i == 2 ? "barbican:6c1f7a3e" : "6c1f7a3e-2b4d-4c8e-9f10-1a2b3c4d5e6f";
		record_ok(&ev);
	}
	raw = slurp(logpath, &len);
	cr_assert_not_null(strstr(raw, "\"key_id\":\"barbican:6c1f7a3e\""), "key_id is recorded");
	cr_assert_null(memmem(raw, len, key, sizeof(key)), "raw key bytes in the log");
	cr_assert_null(memmem(raw, len, key, 16), "a raw key prefix in the log");
	cr_assert_null(strstr(raw, hex), "hex key in the log");
	cr_assert_null(strstr(raw, HEX), "upper-case hex key in the log");
	cr_assert_null(strstr(raw, b64), "base64 key in the log");
	cr_assert_null(strstr(raw, keyhash), "a hash of the key in the log");
	free(raw);
}

/* --- failure and refusal ------------------------------------------------- */

Test(audit, write_failure_returns_errno_and_breaks_for_good)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);

	open_log("/dev/full"); /* O_APPEND works there; write(2) fails with ENOSPC */
	cr_assert_not(audit_is_broken());
	cr_assert_eq(audit_record(&ev), -ENOSPC);
	cr_assert(audit_is_broken());
	cr_assert_eq(audit_record(&ev), -ENOSPC, "stays refused, with the first cause");
	cr_assert(audit_is_broken());
}

Test(audit, record_without_open_is_refused)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);

	cr_assert_eq(audit_record(&ev), -EBADF);
	cr_assert(audit_is_broken(), "nothing may run unrecorded");
	cr_assert_eq(audit_record(NULL), -EINVAL);
}

Test(audit, open_twice_is_refused)
{
	char why[256] = "";

	open_log(logpath);
	cr_assert_eq(audit_open(logpath, why, sizeof(why)), -EBUSY);
	cr_assert_not_null(strstr(why, "already open"), "why: %s", why);
}

static void
assert_open_fails(const char *path, int err, const char *needle)
{
	char why[512] = "";
	int r = audit_open(path, why, sizeof(why));

	cr_assert_eq(r, -err, "audit_open(%s) = %d (%s), want -%d; why: %s", path, r, strerror(-r),
		     err, why);
	cr_assert_not_null(strstr(why, needle), "why should mention '%s': %s", needle, why);
}

static void
write_file(const char *path, const char *content, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, content, strlen(content)), (ssize_t)strlen(content));
	cr_assert_eq(fchmod(fd, mode), 0);
	close(fd);
}

Test(audit, corrupt_tail_is_refused)
{
	write_file(logpath, "{\"prev\":\"00\"}\n{\"prev\":\"torn", 0600);
	assert_open_fails(logpath, EBADMSG, "not newline-terminated");
	write_file(logpath, "{\"a\":1}\nnot json\n", 0600);
	assert_open_fails(logpath, EBADMSG, "not a JSON object");
	write_file(logpath, "{\"a\":1}\n\n", 0600);
	assert_open_fails(logpath, EBADMSG, "not a JSON object");
}

Test(audit, last_line_longer_than_the_window_is_refused)
{
	static char big[70000];

	memset(big, 'x', sizeof(big) - 2);
	big[0] = '{', big[sizeof(big) - 3] = '}', big[sizeof(big) - 2] = '\n';
	write_file(logpath, big, 0600);
	assert_open_fails(logpath, EFBIG, "longer than");
}

Test(audit, unsafe_files_are_refused)
{
	char other[PATH_MAX + 32], lnk[PATH_MAX + 32], fifo[PATH_MAX + 32];

	snprintf(other, sizeof(other), "%s/other.log", dir);
	snprintf(lnk, sizeof(lnk), "%s/link.log", dir);
	snprintf(fifo, sizeof(fifo), "%s/fifo.log", dir);
	write_file(other, "", 0600);
	cr_assert_eq(symlink(other, lnk), 0);
	assert_open_fails(lnk, ELOOP, "symbolic link");
	write_file(logpath, "", 0620);
	assert_open_fails(logpath, EPERM, "writable by its group (mode 0620)");
	cr_assert_eq(chmod(logpath, 0600), 0);
	cr_assert_eq(unlink(lnk), 0);
	cr_assert_eq(link(logpath, lnk) == 0 || errno == EPERM, 1);
	if (access(lnk, F_OK) == 0)
		assert_open_fails(logpath, EPERM, "hard links");
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	assert_open_fails(fifo, EINVAL, "not a regular file"); /* and did not hang */
}

Test(audit, missing_directory_is_created_0700)
{
	char path[PATH_MAX + 64];
	struct stat st;
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);

	snprintf(path, sizeof(path), "%s/ephcrypt/audit.log", dir);
	open_log(path);
	record_ok(&ev);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 07777, 0600, "log mode %o", st.st_mode & 07777);
	snprintf(path, sizeof(path), "%s/ephcrypt", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 077, 0, "directory mode %o", st.st_mode & 07777);
	audit_close();
	snprintf(path, sizeof(path), "%s/no/such/audit.log", dir);
	assert_open_fails(path, ENOENT, "cannot create the directory");
}

/* --- concurrency --------------------------------------------------------- */

/* 50 records from one writer (each of several processes). */
static void *
recorder(void *arg)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);

	ev.pid = (pid_t)(intptr_t)arg;
	for (int i = 0; i < 50; i++)
		if (audit_record(&ev) != 0)
			return (void *)1;
	return NULL;
}

Test(audit, helpers_in_several_processes_share_one_chain)
{
	pid_t kids[3];
	int status;
	char **lines;

	open_log(logpath);
	for (int k = 0; k < 3; k++) {
		kids[k] = fork();
		cr_assert_geq(kids[k], 0);
		if (kids[k] == 0) {
			char why[256];

			audit_close(); /* an own open file, as a separate helper has */
			if (audit_open(logpath, why, sizeof(why)) != 0 || recorder(NULL))
				_exit(1);
			_exit(0);
		}
	}
	cr_assert_null(recorder(NULL));
	for (int k = 0; k < 3; k++) {
		cr_assert_eq(waitpid(kids[k], &status, 0), kids[k]);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "writer %d failed", k);
	}
	cr_assert_eq(read_lines(logpath, &lines), 200);
	assert_chain(lines, 200);
}

/* --- the reviewer's tool ------------------------------------------------- */

static const char *
tool_path(void)
{
	static char path[PATH_MAX + 32];
	char self[PATH_MAX];
	const char *env = getenv("EPHCRYPT_AUDIT_TOOL");
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	cr_assert_gt(n, 0);
	self[n] = '\0';
	snprintf(path, sizeof(path), "%s/../ephcrypt-audit", dirname(self));
	cr_assert_eq(
		access(path, X_OK), 0,
		"%s: %s; build it first (make build/ephcrypt-audit) or set EPHCRYPT_AUDIT_TOOL",
		path, strerror(errno));
	return path;
}

/* Run the tool with argv (NULL-terminated, without argv[0]); stdout+stderr in *out. */
static int
run_tool(char **out, const char *const *args)
{
	const char *argv[16] = { "ephcrypt-audit" };
	posix_spawn_file_actions_t fa;
	int p[2], status, n = 1;
	size_t len = 0, cap = 65536;
	ssize_t k;
	pid_t pid;

	while (args[n - 1] && n < 15)
		argv[n] = args[n - 1], n++;
	argv[n] = NULL;
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, p[1], 1);
	posix_spawn_file_actions_adddup2(&fa, p[1], 2);
	cr_assert_eq(posix_spawn(&pid, tool_path(), &fa, NULL, (char **)argv, environ), 0);
	posix_spawn_file_actions_destroy(&fa);
	close(p[1]);
	*out = malloc(cap + 1);
	while ((k = read(p[0], *out + len, cap - len)) > 0)
		if ((len += (size_t)k) == cap)
			*out = realloc(*out, (cap *= 2) + 1);
	(*out)[len] = '\0';
	close(p[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status));
	return WEXITSTATUS(status);
}

#define TOOL(out, ...) run_tool(out, (const char *const[]){ __VA_ARGS__, NULL })

static size_t
five_records(char ***lines)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);

	open_log(logpath);
	for (int i = 0; i < 5; i++) {
		ev.outcome = (enum audit_outcome)(i % 3);
		record_ok(&ev);
	}
	audit_close();
	return read_lines(logpath, lines);
}

static void
assert_verify_says(int want_rc, const char *want)
{
	char *out, expect[PATH_MAX + 256];
	int rc = TOOL(&out, "verify", logpath);

	snprintf(expect, sizeof(expect), "%s%s", logpath, want); /* want: after "FILE" */
	cr_assert_eq(rc, want_rc, "exit %d, want %d: %s", rc, want_rc, out);
	cr_assert_not_null(strstr(out, expect), "output:\n%s\nwant:\n%s", out, expect);
	free(out);
}

Test(audit, tool_verify_passes_a_clean_log)
{
	char **lines;

	five_records(&lines);
	assert_verify_says(0, ": 5 records, chain intact\n");
	write_file(logpath, "", 0600);
	assert_verify_says(0, ": 0 records, chain intact\n");
}

/* What syslog got (each record's sha256) finds a cut tail that the chain cannot show. */
Test(audit, tool_verify_expect_finds_a_cut_tail)
{
	size_t order[] = { 0, 1, 2, 3, 4 };
	char **lines, hash[65], want[PATH_MAX + 200], *out;
	int rc;

	five_records(&lines);
	sha256_hex(lines[3], strlen(lines[3]), hash); /* the line as written, without '\n' */
	rc = TOOL(&out, "verify", "--expect", hash, logpath);
	snprintf(want, sizeof(want), "%s: the expected record is line 4 of 5\n", logpath);
	cr_assert(rc == 0 && strstr(out, want), "exit %d: %s", rc, out);
	free(out);
	write_lines(logpath, lines, order, 3); /* records 4 and 5 cut: the chain still holds */
	assert_verify_says(0, ": 3 records, chain intact\n");
	rc = TOOL(&out, "verify", "--expect", hash, logpath);
	snprintf(want, sizeof(want), "%s: no record has sha256 %s: records were cut", logpath,
		 hash);
	cr_assert(rc == 1 && strstr(out, want), "exit %d: %s", rc, out);
	free(out);
	rc = TOOL(&out, "verify", "--expect", "ABC", logpath);
	cr_assert(rc == 2 && strstr(out, "not a SHA-256"), "a bad hash is a usage error: %s", out);
	free(out);
}

Test(audit, tool_verify_names_the_line_after_an_edit)
{
	size_t order[] = { 0, 1, 2, 3, 4 };
	char **lines;
	char *p;

	five_records(&lines);
	p = strstr(lines[2], "\"uid\":1000");
	cr_assert_not_null(p);
	p[6] = '2'; /* uid 1000 -> 2000: still valid JSON, still a plausible record */
	write_lines(logpath, lines, order, 5);
	assert_verify_says(1, ":4: chain broken: prev does not match line 3 "
			      "(edited, deleted or reordered)\n");
}

Test(audit, tool_verify_names_the_line_after_a_deletion)
{
	size_t order[] = { 0, 1, 3, 4 }, head[] = { 1, 2, 3, 4 };
	char **lines;

	five_records(&lines);
	write_lines(logpath, lines, order, 4);
	assert_verify_says(1, ":3: chain broken: prev does not match line 2 "
			      "(edited, deleted or reordered)\n");
	write_lines(logpath, lines, head, 4);
	assert_verify_says(1, ":1: chain broken: prev is not the hash of the start marker");
}

Test(audit, tool_verify_names_the_line_after_a_reordering)
{
	size_t order[] = { 0, 2, 1, 3, 4 };
	char **lines;

	five_records(&lines);
	write_lines(logpath, lines, order, 5);
	assert_verify_says(1, ":2: chain broken: prev does not match line 1 "
			      "(edited, deleted or reordered)\n");
}

Test(audit, tool_verify_finds_unparsable_and_torn_lines)
{
	size_t order[] = { 0, 1, 5, 2, 3, 4 };
	char **lines, *six[6];
	size_t len;
	char *raw;

	five_records(&lines);
	memcpy(six, lines, 5 * sizeof(*lines));
	six[5] = "{\"prev\": oops";
	write_lines(logpath, six, order, 6);
	assert_verify_says(1, ":3: not a JSON object\n");
	six[5] = "[1,2]";
	write_lines(logpath, six, order, 6);
	assert_verify_says(1, ":3: not a JSON object\n");
	write_lines(logpath, lines, order, 2);
	raw = slurp(logpath, &len);
	raw[len - 1] = '\0'; /* drop the last newline */
	write_file(logpath, raw, 0600);
	assert_verify_says(1, ":2: last line is not newline-terminated");
	free(raw);
}

static void
filter_fixture(char ***lines)
{
	struct audit_event ev = { .action = "create_lv",
				  .outcome = AUDIT_SUCCESS,
				  .uid = 1000,
				  .vg = "nova",
				  .lv = "a" };
	struct timespec ms = { 0, 2000000 }; /* distinct eventTimes for --since/--until */

	open_log(logpath);
	record_ok(&ev);
	nanosleep(&ms, NULL);
	ev.outcome = AUDIT_FAILURE, ev.err_no = ENOSPC, ev.message = "no space";
	record_ok(&ev);
	nanosleep(&ms, NULL);
	ev = (struct audit_event){ .action = "open_mapping",
				   .outcome = AUDIT_DENIED,
				   .uid = 2000,
				   .vg = "other",
				   .mapping = "m",
				   .err_no = EACCES,
				   .request_id = "req-42",
				   .message = "vg 'other' is not allowed" };
	record_ok(&ev);
	nanosleep(&ms, NULL);
	ev = (struct audit_event){ .action = "remove_lv",
				   .outcome = AUDIT_SUCCESS,
				   .uid = 2000,
				   .vg = "nova",
				   .lv = "a" };
	record_ok(&ev);
	audit_close();
	cr_assert_eq(read_lines(logpath, lines), 4);
}

/* The tool's --json output must be exactly these lines of the log, in order. */
static void
assert_json_picks(char **lines, const char *picks, const char *const *args)
{
	char want[16384] = "", *out;
	int rc;

	for (const char *p = picks; *p; p++) {
		strcat(want, lines[*p - '1']);
		strcat(want, "\n");
	}
	rc = run_tool(&out, args);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, out);
	cr_assert_str_eq(out, want, "records %s expected", picks);
	free(out);
}

Test(audit, tool_filters_select_records_verbatim)
{
	char **lines, since[64], until[64];
	struct json_object *o = NULL;

	filter_fixture(&lines);
	o = parse_line(lines[2]);
	snprintf(since, sizeof(since), "%s", str_at(o, "eventTime"));
	snprintf(until, sizeof(until), "%s", since);
	json_object_put(o);
	assert_json_picks(lines, "3", (const char *const[]){ "--denied", "--json", logpath, NULL });
	assert_json_picks(lines, "23",
			  (const char *const[]){ "list", "--failed", "--json", logpath, NULL });
	assert_json_picks(lines, "124",
			  (const char *const[]){ "--vg", "nova", "--json", logpath, NULL });
	assert_json_picks(lines, "34",
			  (const char *const[]){ "--json", "--uid", "2000", logpath, NULL });
	assert_json_picks(
		lines, "12",
		(const char *const[]){ "--action", "create_lv", "--json", logpath, NULL });
	/* CADF's action: create_lv and open_mapping are creates, remove_lv a delete. */
	assert_json_picks(lines, "123",
			  (const char *const[]){ "--action", "create", "--json", logpath, NULL });
	assert_json_picks(lines, "4",
			  (const char *const[]){ "--action", "delete", "--json", logpath, NULL });
	assert_json_picks(
		lines, "3",
		(const char *const[]){ "--request-id", "req-42", "--json", logpath, NULL });
	assert_json_picks(lines, "34",
			  (const char *const[]){ "--since", since, "--json", logpath, NULL });
	assert_json_picks(lines, "12",
			  (const char *const[]){ "--until", until, "--json", logpath, NULL });
	assert_json_picks(lines, "1234",
			  (const char *const[]){ "--since", "2000-01-01", "--until",
						 "2999-12-31T23:00:00+01:00", "--json", logpath,
						 NULL });
	assert_json_picks(
		lines, "",
		(const char *const[]){ "--until", "2000-01-01", "--json", logpath, NULL });
	assert_json_picks(
		lines, "2",
		(const char *const[]){ "--failed", "--vg", "nova", "--json", logpath, NULL });
}

Test(audit, tool_list_is_readable_and_terminal_safe)
{
	struct audit_event ev = { .action = "open_mapping",
				  .outcome = AUDIT_DENIED,
				  .uid = 2000,
				  .vg = "evil\x1b]0;pwned\x07",
				  .lv = "x\xe2\x80\xaey mapping=posing device=/dev/sdb",
				  .err_no = EACCES,
				  .message = "refused\nforged line" };
	char **lines, *out;
	int rc;

	filter_fixture(&lines);
	open_log(logpath);
	record_ok(&ev);
	rc = TOOL(&out, logpath);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_not_null(strstr(out, " denied  open_mapping uid=2000 other mapping=m: errno 13 "
				       "(Permission denied): vg 'other' is not allowed\n"),
			   "%s", out);
	cr_assert_not_null(strstr(out, " success create_lv uid=1000 nova/a\n"), "%s", out);
	cr_assert_not_null(strstr(out, " failure create_lv uid=1000 nova/a: errno 28"), "%s", out);
	cr_assert_not_null(strstr(out,
				  "evil\\x1b]0;pwned\\x07/x\\u202ey\\x20mapping=posing\\x20device"
				  "=/dev/sdb: errno"),
			   "a name's spaces are escaped, so it cannot pose as fields: %s", out);
	cr_assert_not_null(strstr(out, "refused\\x0aforged line\n"), "%s", out);
	cr_assert_null(strchr(out, '\x1b'), "an escape reached the terminal");
	cr_assert_null(strstr(out, "\xe2\x80\xae"), "a bidi override reached the terminal");
	free(out);
}

Test(audit, tool_summary_counts_per_action)
{
	char **lines, *out;
	int rc;

	filter_fixture(&lines);
	rc = TOOL(&out, "summary", logpath);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(matches_re(out, "\ncreate_lv +1 +1 +0 +2\n"), "%s", out);
	cr_assert(matches_re(out, "\nopen_mapping +0 +0 +1 +1\n"), "%s", out);
	cr_assert(matches_re(out, "\nremove_lv +1 +0 +0 +1\n"), "%s", out);
	cr_assert(matches_re(out, "\nTOTAL +2 +1 +1 +4\n$"), "%s", out);
	free(out);
	rc = TOOL(&out, "summary", "--uid", "2000", logpath);
	cr_assert(matches_re(out, "\nTOTAL +1 +0 +1 +2\n$"), "filters apply to summary: %s", out);
	free(out);
}

/* The fixture's records were written just now. */
Test(audit, tool_relative_times_count_back_from_now)
{
	char **lines;

	filter_fixture(&lines);
	assert_json_picks(lines, "1234",
			  (const char *const[]){ "--since", "-1h", "--json", logpath, NULL });
	assert_json_picks(lines, "",
			  (const char *const[]){ "--until", "-1h", "--json", logpath, NULL });
	assert_json_picks(lines, "1234",
			  (const char *const[]){ "--since", "yesterday", "--json", logpath, NULL });
	assert_json_picks(lines, "",
			  (const char *const[]){ "--until", "yesterday", "--json", logpath, NULL });
	assert_json_picks(lines, "1234",
			  (const char *const[]){ "--since", "-2d", "--until", "now", "--json",
						 logpath, NULL });
	assert_json_picks(lines, "",
			  (const char *const[]){ "--since", "now", "--json", logpath, NULL });
}

/* Two records either side of midnight UTC; at UTC+1 both are on the 28th. */
static char *
midnight_fixture(char ***lines)
{
	static const char two[] =
		"{\"eventTime\":\"2026-11-27T23:30:00.000000Z\",\"action\":\"create_lv\","
		"\"outcome\":\"success\",\"initiator\":{\"uid\":1000}}\n"
		"{\"eventTime\":\"2026-11-28T01:00:00.250000Z\",\"action\":\"remove_lv\","
		"\"outcome\":\"success\",\"initiator\":{\"uid\":1000}}\n";
	char *old = getenv("TZ") ? strdup(getenv("TZ")) : NULL;

	write_file(logpath, two, 0600);
	cr_assert_eq(read_lines(logpath, lines), 2);
	setenv("TZ", "Etc/GMT-1", 1); /* POSIX sign: UTC+1, no daylight saving */
	return old;
}

Test(audit, tool_local_shows_and_reads_local_time)
{
	char **lines, *out, *old_tz = midnight_fixture(&lines);
	int rc;

	rc = TOOL(&out, "--local", logpath);
	cr_assert(rc == 0 && strstr(out, "2026-11-28T00:30:00.000000+01:00 success create_lv") &&
			  strstr(out, "2026-11-28T02:00:00.250000+01:00 success remove_lv"),
		  "exit %d: %s", rc, out);
	free(out);
	rc = TOOL(&out, logpath);
	cr_assert(rc == 0 && strstr(out, "2026-11-27T23:30:00.000000Z success create_lv"),
		  "UTC without --local: %s", out);
	free(out);
	assert_json_picks(
		lines, "2",
		(const char *const[]){ "--since", "2026-11-28", "--json", logpath, NULL });
	assert_json_picks(lines, "12",
			  (const char *const[]){ "--local", "--since", "2026-11-28", "--json",
						 logpath, NULL });
	assert_json_picks(
		lines, "1",
		(const char *const[]){ "--until", "2026-11-28", "--json", logpath, NULL });
	old_tz ? setenv("TZ", old_tz, 1) : unsetenv("TZ");
	free(old_tz);
}

/* Every line of the table is as long as the header, whatever the names. */
Test(audit, tool_summary_columns_stay_aligned_with_long_names)
{
	struct audit_event ev = { .action = "nova.privsep.libvirt.dmcrypt_create_volume",
				  .outcome = AUDIT_SUCCESS,
				  .uid = 1000 };
	char **lines, *out, *line, *save = NULL;
	size_t width = 0;
	int rc, rows = 0;

	filter_fixture(&lines);
	open_log(logpath);
	record_ok(&ev);
	ev.action = "nova.privsep.fs.lvremove\x1b[2J";
	record_ok(&ev);
	audit_close();
	rc = TOOL(&out, "summary", logpath);
	cr_assert_eq(rc, 0, "%s", out);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), rows++) {
		width = width ? width : strlen(line);
		cr_assert_eq(strlen(line), width, "line %d is %zu wide, the header %zu: '%s'", rows,
			     strlen(line), width, line);
	}
	cr_assert_eq(rows, 7, "header, five actions, total");
	cr_assert_eq(width, strlen("nova.privsep.libvirt.dmcrypt_create_volume") + 4 * 9);
	free(out);
}

Test(audit, tool_refuses_bad_usage)
{
	char **lines, *out;

	filter_fixture(&lines);
	cr_assert_eq(TOOL(&out, "verify", "--denied", logpath), 2, "verify takes no filters: %s",
		     out);
	free(out);
	cr_assert_eq(TOOL(&out, "--since", "last week", logpath), 2, "%s", out);
	cr_assert_not_null(strstr(out, "--since 'last week': not a time"), "%s", out);
	free(out);
	cr_assert_eq(TOOL(&out, "--until", "-1y", logpath), 2, "no unit y: %s", out);
	free(out);
	cr_assert_eq(TOOL(&out, "--since", "2026-02-29", logpath), 2, "not a leap year: %s", out);
	free(out);
	cr_assert_eq(TOOL(&out, "--uid", "-1", logpath), 2, "%s", out);
	free(out);
	cr_assert_eq(TOOL(&out, "verify", "/nonexistent/audit.log"), 2, "%s", out);
	free(out);
	cr_assert_eq(TOOL(&out, "list"), 2, "a FILE is required: %s", out);
	free(out);
}

Test(audit, tool_version_is_the_helpers)
{
	char *out, want[64];

	snprintf(want, sizeof(want), "ephcrypt-audit %s\n", EPHCRYPT_VERSION);
	cr_assert_eq(TOOL(&out, "--version"), 0);
	cr_assert_str_eq(out, want, "bump TOOL_VERSION in tools/ephcrypt-audit.c");
	free(out);
}

/* --- a shrunk file, the directory, durability ----------------------------- */

static off_t
file_size(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	return st.st_size;
}

/* Broken, refusing with err, and the reason names the file and both sizes. */
static void
assert_refused_after_shrink(off_t expected, off_t found)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char reason[PATH_MAX + 600], sizes[96];

	cr_assert_eq(audit_record(&ev), -EBADMSG, "a shrunk log must not be chained onto");
	cr_assert(audit_is_broken(), "requests must be refused");
	cr_assert_eq(audit_record(&ev), -EBADMSG, "stays refused");
	cr_assert_eq(file_size(logpath), found, "nothing was appended");
	audit_broken_reason(reason, sizeof(reason));
	cr_assert_not_null(strstr(reason, logpath), "the reason names the file: %s", reason);
	snprintf(sizes, sizeof(sizes), "from %lld to %lld bytes", (long long)expected,
		 (long long)found);
	cr_assert_not_null(strstr(reason, sizes), "want '%s' in: %s", sizes, reason);
}

Test(audit, a_log_with_its_last_record_cut_is_broken)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char reason[64] = "x";
	off_t one, two;

	open_log(logpath);
	record_ok(&ev);
	one = file_size(logpath);
	record_ok(&ev);
	two = file_size(logpath);
	audit_broken_reason(reason, sizeof(reason));
	cr_assert_str_eq(reason, "", "not broken yet");
	cr_assert_eq(truncate(logpath, one), 0);
	assert_refused_after_shrink(two, one);
}

Test(audit, a_log_truncated_to_zero_is_broken)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	off_t two;

	open_log(logpath);
	record_ok(&ev);
	record_ok(&ev);
	two = file_size(logpath);
	cr_assert_eq(truncate(logpath, 0), 0); /* logrotate copytruncate */
	assert_refused_after_shrink(two, 0);
}

/* --- rotation ------------------------------------------------------------ */

/* The first line of path chains to the last line of the file before it. */
static void
assert_chains_across(const char *older, const char *newer)
{
	char **old_lines, **new_lines, expect[65];
	size_t n_old = read_lines(older, &old_lines);
	struct json_object *o;

	cr_assert_gt(n_old, 0, "%s is empty", older);
	cr_assert_gt(read_lines(newer, &new_lines), 0, "%s got no record", newer);
	sha256_hex(old_lines[n_old - 1], strlen(old_lines[n_old - 1]), expect);
	o = parse_line(new_lines[0]);
	cr_assert_str_eq(str_at(o, "prev"), expect, "%s does not continue %s's chain", newer,
			 older);
	json_object_put(o);
}

/* ephcrypt-audit verify over a rotated set, oldest first, says it is whole. */
static void
assert_set_verifies(const char *const *files, size_t n)
{
	const char *args[8] = { "verify" };
	char *out, want[PATH_MAX + 64];
	int rc;

	for (size_t i = 0; i < n; i++)
		args[i + 1] = files[i];
	rc = run_tool(&out, args);
	cr_assert_eq(rc, 0, "verify of the rotated set failed: %s", out);
	for (size_t i = 1, last = 0; i < n; i++) {
		if (file_size(files[i]) == 0) /* passes the chain on: not its own link */
			continue;
		snprintf(want, sizeof(want), "chain intact (continues %s)", files[last]);
		cr_assert_not_null(strstr(out, want), "want '%s' in:\n%s", want, out);
		last = i;
	}
	free(out);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	return st.st_mode & 07777;
}

/* logrotate's default: rename, then create (here 0640, for a reviewers' group). */
Test(audit, rename_then_create_moves_to_the_new_file)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char rotated[PATH_MAX + 32];
	char **lines;

	snprintf(rotated, sizeof(rotated), "%s/audit.log.1", dir);
	open_log(logpath);
	record_ok(&ev);
	record_ok(&ev);
	cr_assert_eq(rename(logpath, rotated), 0);
	write_file(logpath, "", 0640);
	record_ok(&ev);
	record_ok(&ev);
	cr_assert_not(audit_is_broken());
	cr_assert_eq(read_lines(rotated, &lines), 2, "nothing more went into the renamed file");
	cr_assert_eq(read_lines(logpath, &lines), 2, "the records went into the new file");
	assert_chains_across(rotated, logpath);
	assert_set_verifies((const char *const[]){ rotated, logpath }, 2);
	cr_assert_eq(file_mode(logpath), 0640, "the creator's mode is kept");
}

/* The shipped logrotate file: rename, nocreate. The helper makes the file, 0600. */
Test(audit, rename_without_create_makes_a_new_file_0600)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char rotated[PATH_MAX + 32];
	char **lines;

	snprintf(rotated, sizeof(rotated), "%s/audit.log-20261130", dir);
	open_log(logpath);
	record_ok(&ev);
	cr_assert_eq(rename(logpath, rotated), 0);
	record_ok(&ev);
	cr_assert_eq(file_mode(logpath), 0600);
	cr_assert_eq(read_lines(logpath, &lines), 1);
	cr_assert_eq(read_lines(rotated, &lines), 1);
	assert_chains_across(rotated, logpath);
	assert_set_verifies((const char *const[]){ rotated, logpath }, 2);
}

/* Once retention dropped the older file, --after names where the oldest one continues. */
Test(audit, tool_verify_after_continues_a_dropped_file)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char rotated[PATH_MAX + 32], hash[65], *out, **lines;
	size_t n;
	int rc;

	snprintf(rotated, sizeof(rotated), "%s/audit.log.1", dir);
	open_log(logpath);
	record_ok(&ev);
	record_ok(&ev);
	cr_assert_eq(rename(logpath, rotated), 0);
	record_ok(&ev);
	n = read_lines(rotated, &lines);
	sha256_hex(lines[n - 1], strlen(lines[n - 1]), hash);
	cr_assert_eq(unlink(rotated), 0);
	rc = TOOL(&out, "verify", logpath);
	cr_assert(rc == 1 && strstr(out, ":1: chain broken"), "exit %d: %s", rc, out);
	free(out);
	rc = TOOL(&out, "verify", "--after", hash, logpath);
	cr_assert(rc == 0 && strstr(out, "1 record, chain intact (continues the --after record)"),
		  "exit %d: %s", rc, out);
	free(out);
	hash[0] = hash[0] == '0' ? '1' : '0';
	rc = TOOL(&out, "verify", "--after", hash, logpath);
	cr_assert(rc == 1 && strstr(out, "neither the hash of the previous file's last record"),
		  "exit %d: %s", rc, out);
	free(out);
}

/* Two rotations, with and without a record in between: never into a lost file. */
Test(audit, two_rotations_keep_every_record_readable)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char one[PATH_MAX + 32], two[PATH_MAX + 32], three[PATH_MAX + 32], four[PATH_MAX + 32];
	char **lines;

	snprintf(one, sizeof(one), "%s/audit.log.1", dir);
	snprintf(two, sizeof(two), "%s/audit.log.2", dir);
	snprintf(three, sizeof(three), "%s/audit.log.3", dir);
	snprintf(four, sizeof(four), "%s/audit.log.4", dir);
	open_log(logpath);
	record_ok(&ev);
	cr_assert_eq(rename(logpath, one), 0);
	record_ok(&ev);
	cr_assert_eq(rename(one, two), 0);
	cr_assert_eq(rename(logpath, one), 0);
	record_ok(&ev);
	assert_set_verifies((const char *const[]){ two, one, logpath }, 3);
	/* Twice with no record between (ifempty, create): the next record follows on
	 * from the file it last wrote, now audit.log.2, past the empty audit.log.1. */
	for (int round = 0; round < 2; round++) {
		cr_assert_eq(rename(round ? three : two, round ? four : three), 0);
		cr_assert_eq(rename(round ? two : one, round ? three : two), 0);
		if (round)
			cr_assert_eq(rename(one, two), 0);
		cr_assert_eq(rename(logpath, one), 0);
		write_file(logpath, "", 0600);
	}
	record_ok(&ev);
	cr_assert_eq(read_lines(logpath, &lines), 1);
	cr_assert_eq(read_lines(one, &lines), 0);
	assert_chains_across(two, logpath);
	assert_set_verifies((const char *const[]){ four, three, two, one, logpath }, 5);
}

/* Deleted under the helper: the next record makes a new file instead of vanishing. */
Test(audit, a_deleted_log_is_made_again)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char **lines;

	open_log(logpath);
	record_ok(&ev);
	cr_assert_eq(unlink(logpath), 0);
	record_ok(&ev);
	cr_assert_not(audit_is_broken());
	cr_assert_eq(read_lines(logpath, &lines), 1, "the record is in a file one can read");
}

/* Another helper already moved on to the new file: its records are chained to, not forked. */
Test(audit, a_new_file_written_by_another_helper_is_continued)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char rotated[PATH_MAX + 32], **lines;
	pid_t kid;
	int status;

	snprintf(rotated, sizeof(rotated), "%s/audit.log.1", dir);
	open_log(logpath);
	record_ok(&ev);
	cr_assert_eq(rename(logpath, rotated), 0);
	kid = fork();
	cr_assert_geq(kid, 0);
	if (kid == 0) /* the same open log: the child notices the rotation first */
		_exit(audit_record(&ev) == 0 ? 0 : 1);
	cr_assert_eq(waitpid(kid, &status, 0), kid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	record_ok(&ev);
	cr_assert_eq(read_lines(logpath, &lines), 2);
	assert_chain_from(lines, 2, rotated);
	assert_set_verifies((const char *const[]){ rotated, logpath }, 2);
}

/* A file put in its place that others could read: refused, and saying what mode it needs. */
Test(audit, a_new_file_readable_by_others_breaks_the_log)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char rotated[PATH_MAX + 32], why[512];

	snprintf(rotated, sizeof(rotated), "%s/audit.log.1", dir);
	open_log(logpath);
	record_ok(&ev);
	cr_assert_eq(rename(logpath, rotated), 0);
	write_file(logpath, "", 0644);
	cr_assert_eq(audit_ready(why, sizeof(why)), -EPERM, "why: %s", why);
	cr_assert_not_null(strstr(why, "readable by others (mode 0644)"), "%s", why);
	cr_assert_not_null(strstr(why, "chmod 0640"), "%s", why);
	cr_assert_eq(audit_record(&ev), -EPERM);
	cr_assert_eq(file_size(logpath), 0);
}

/* copytruncate: found before acting, so the caller refuses and nothing is done. */
Test(audit, a_truncated_log_is_found_before_acting)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char why[512];

	open_log(logpath);
	cr_assert_eq(audit_ready(why, sizeof(why)), 0, "%s", why);
	cr_assert_str_eq(why, "");
	record_ok(&ev);
	cr_assert_eq(truncate(logpath, 0), 0);
	cr_assert_eq(audit_ready(why, sizeof(why)), -EBADMSG);
	cr_assert(audit_is_broken());
	cr_assert_not_null(strstr(why, "shrank from"), "%s", why);
	cr_assert_not_null(strstr(why, logpath), "%s", why);
	cr_assert_eq(file_size(logpath), 0, "nothing was written");
}

Test(audit, log_mode_must_keep_others_out)
{
	static const mode_t refused[] = { 0644, 0604, 0606, 0602, 0660, 0620 };
	static const mode_t fine[] = { 0600, 0640, 0400 };
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char needle[64];

	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		write_file(logpath, "", refused[i]);
		snprintf(needle, sizeof(needle), "(mode %04o); it must be mode 0600, or 0640",
			 (unsigned)refused[i]);
		assert_open_fails(logpath, EPERM, needle);
	}
	for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
		write_file(logpath, "", fine[i]);
		open_log(logpath);
		if (fine[i] & 0200)
			record_ok(&ev);
		audit_close();
	}
}

Test(audit, log_directory_must_be_root_owned_and_private)
{
	static const mode_t bad[] = { 0770, 0720, 0702, 0757, 01777 };
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);
	char sub[PATH_MAX + 16], log[PATH_MAX + 32], needle[PATH_MAX + 64];

	snprintf(sub, sizeof(sub), "%s/logs", dir);
	snprintf(log, sizeof(log), "%s/audit.log", sub);
	cr_assert_eq(mkdir(sub, 0700), 0);
	snprintf(needle, sizeof(needle), "%s is writable by group or others", sub);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(chmod(sub, bad[i]), 0);
		assert_open_fails(log, EPERM, needle);
		cr_assert_neq(access(log, F_OK), 0, "a file was created in a refused directory");
	}
	cr_assert_eq(chmod(sub, 0755), 0);
	cr_assert_eq(chown(sub, 1000, 0), 0);
	snprintf(needle, sizeof(needle), "%s is owned by uid 1000, not by root", sub);
	assert_open_fails(log, EPERM, needle);
	cr_assert_eq(chown(sub, 0, 0), 0);
	open_log(log); /* root's, 0755: fine */
	record_ok(&ev);
}

Test(audit, symlinked_log_directory_is_refused)
{
	char real[PATH_MAX + 16], lnk[PATH_MAX + 16], log[PATH_MAX + 32];

	snprintf(real, sizeof(real), "%s/real", dir);
	snprintf(lnk, sizeof(lnk), "%s/lnk", dir);
	cr_assert_eq(mkdir(real, 0700), 0);
	cr_assert_eq(symlink(real, lnk), 0);
	snprintf(log, sizeof(log), "%s/audit.log", lnk);
	assert_open_fails(log, ELOOP, "is a symbolic link");
	snprintf(log, sizeof(log), "%s/audit.log", real);
	cr_assert_neq(access(log, F_OK), 0, "the log was created through the link");
	cr_assert_eq(unlink(lnk), 0);
	cr_assert_eq(symlink("/nonexistent-ephcrypt-dir", lnk), 0); /* dangling: not made */
	snprintf(log, sizeof(log), "%s/audit.log", lnk);
	assert_open_fails(log, ELOOP, "is a symbolic link");
}

Test(audit, a_relative_path_is_checked_too)
{
	struct audit_event ev = crypt_event(AUDIT_SUCCESS);

	cr_assert_eq(chdir(dir), 0);
	open_log("audit.log");
	record_ok(&ev);
	audit_close();
	cr_assert_eq(chmod(dir, 0770), 0);
	assert_open_fails("audit.log", EPERM, "the directory . is writable by group or others");
}

/* Directories passed to fsync(2) by the code under test: it calls this one. */
static struct {
	dev_t dev;
	ino_t ino;
} synced[32];
static size_t nsynced;

int
fsync(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode) && nsynced < 32) {
		synced[nsynced].dev = st.st_dev;
		synced[nsynced++].ino = st.st_ino;
	}
	return (int)syscall(SYS_fsync, fd);
}

static bool
was_synced(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "stat %s: %s", path, strerror(errno));
	for (size_t i = 0; i < nsynced; i++)
		if (synced[i].dev == st.st_dev && synced[i].ino == st.st_ino)
			return true;
	return false;
}

Test(audit, a_new_directory_and_log_are_synced_to_disk)
{
	char sub[PATH_MAX + 16], log[PATH_MAX + 32];

	snprintf(sub, sizeof(sub), "%s/ephcrypt", dir);
	snprintf(log, sizeof(log), "%s/audit.log", sub);
	open_log(log);
	cr_assert(was_synced(dir), "the new directory's entry was not synced (fsync of %s)", dir);
	cr_assert(was_synced(sub), "the new file's entry was not synced (fsync of %s)", sub);
	audit_close();
	nsynced = 0;
	open_log(log);
	cr_assert_eq(nsynced, 0, "nothing was created, nothing to sync");
}
