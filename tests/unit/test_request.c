/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request layer on the host, without a kernel: the errno -> exception
 * table, argument binding as Python would do it, and the guard (grammar,
 * policy, device paths) against a real policy file.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <libcryptsetup.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../helper/call.h"
#include "../../helper/guard.h"

#define POLICY_TEXT                                                                                \
	"[volume-groups]\n"                                                                        \
	"vg vgok max-lv-size 1G\n"                                                                 \
	"[volumes]\n"                                                                              \
	"lv ^disk[0-9]+$\n"                                                                        \
	"[mappings]\n"                                                                             \
	"mapping ^disk[0-9]+-dmcrypt$\n"                                                           \
	"[crypto]\n"                                                                               \
	"cipher aes-xts-plain64 key-sizes 256,512\n"                                               \
	"sector-sizes 512,4096\n"                                                                  \
	"allow-discards no\n"                                                                      \
	"no-read-workqueue yes\n"

static struct options opt;
static struct call c;

static void
setup(void)
{
	char path[] = "/tmp/ephcrypt-request-test-XXXXXX";
	int fd = mkstemp(path);
	FILE *err = fopen("/dev/null", "w");

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, POLICY_TEXT, strlen(POLICY_TEXT)), (ssize_t)strlen(POLICY_TEXT));
	close(fd);
	memset(&opt, 0, sizeof(opt));
	cr_assert_eq(policy_load(path, false, err, &opt.policy), 0, "the test policy loads");
	unlink(path);
	fclose(err);
	memset(&c, 0, sizeof(c));
	c.name = "test";
	c.opt = &opt;
}

static void
teardown(void)
{
	call_error_clear(&c.err);
	policy_free(opt.policy);
}

/* The error the caller would see: class, errno, message. */
static void
assert_error(const char *cls, int errnum, const char *msg_part)
{
	cr_assert_str_eq(c.err.cls, cls, "class %s, want %s (%s)", c.err.cls, cls, c.err.msg);
	cr_assert_eq(c.err.errnum, errnum, "errno %d, want %d", c.err.errnum, errnum);
	cr_assert_not_null(strstr(c.err.msg, msg_part), "'%s' not in '%s'", msg_part, c.err.msg);
}

/* --- errno -> exception ------------------------------------------------- */

Test(errno_table, picks_the_subclass_python_would)
{
	cr_assert_str_eq(call_errno_class(ENOENT), EXC_NOENT);
	cr_assert_str_eq(call_errno_class(EEXIST), EXC_EXIST);
	cr_assert_str_eq(call_errno_class(EACCES), EXC_PERM);
	cr_assert_str_eq(call_errno_class(EPERM), EXC_PERM);
	cr_assert_str_eq(call_errno_class(EIO), EXC_OS);
	cr_assert_str_eq(call_errno_class(EBUSY), EXC_OS);
	cr_assert_str_eq(call_errno_class(ETIMEDOUT), EXC_OS);
	cr_assert_str_eq(call_errno_class(0), EXC_OS);
}

Test(errno_table, os_errors_carry_errno_argument_errors_do_not)
{
	cr_assert(call_is_oserror(EXC_OS));
	cr_assert(call_is_oserror(EXC_NOENT));
	cr_assert(call_is_oserror(EXC_PERM));
	cr_assert_not(call_is_oserror(EXC_VALUE));
	cr_assert_not(call_is_oserror(EXC_TYPE));
	cr_assert_not(call_is_oserror(NULL));
}

Test(errno_table, op_failure_becomes_the_calls_error, .init = setup, .fini = teardown)
{
	struct op_error e;

	cr_assert_eq(op_fail(&e, ENOENT, "lv_remove: '%s' gone", "vg/lv"), -ENOENT);
	cr_assert_eq(call_op_fail(&c, -ENOENT, &e), -1);
	assert_error(EXC_NOENT, ENOENT, "lv_remove: 'vg/lv' gone");
}

Test(errno_table, process_error_drops_yes_from_cmd, .init = setup, .fini = teardown)
{
	const char *argv[] = { "lvcreate", "--yes", "-L", "1b", "-n", "x", "vg", NULL };

	cr_assert_eq(call_process_error(&c, "out", "err", 5, argv), -1);
	cr_assert_str_eq(c.err.cls, EXC_PROCESS);
	cr_assert_eq(c.err.exit_code, 5);
	cr_assert_eq(c.err.errnum, 0);
	cr_assert_str_eq(c.err.cmd, "lvcreate -L 1b -n x vg");
	cr_assert_str_eq(c.err.out, "out");
	cr_assert_str_eq(c.err.err, "err");
	cr_assert_str_eq(c.err.msg, "lvcreate: exit 5");
}

/* --- argument binding ----------------------------------------------------- */

static const struct param params[] = {
	{ "vg", P_STR, false, false },
	{ "size", P_INT, false, false },
	{ "options", P_MAP, true, true },
};
static const struct entrypoint ep = { "test.ep", 0, params, 3, NULL, NULL };

static struct mp_value
str(const char *s)
{
	return (struct mp_value){ .type = MP_STR,
				  .len = (uint32_t)strlen(s),
				  .v.bytes = (const uint8_t *)s };
}

static struct mp_value
num(uint64_t u)
{
	return (struct mp_value){ .type = MP_UINT, .v.u = u };
}

static int
bind_call(struct mp_value *pos, uint32_t npos, struct mp_value *kw, uint32_t nkw)
{
	static struct mp_value args, kwargs;

	args = (struct mp_value){ .type = MP_ARRAY, .len = npos, .v.items = pos };
	kwargs = (struct mp_value){ .type = MP_MAP, .len = nkw, .v.items = kw };
	c.args = &args;
	c.kwargs = &kwargs;
	c.ep = &ep;
	c.name = ep.name;
	return args_bind(&c, &ep);
}

Test(args, positional_and_keyword_bind_by_name, .init = setup, .fini = teardown)
{
	struct mp_value pos[] = { str("vgok") };
	struct mp_value kw[] = { str("size"), num(42), str("request_id"), str("req\n1") };
	char vg[16];
	uint64_t size;

	cr_assert_eq(bind_call(pos, 1, kw, 2), 0, "%s", c.err.msg);
	cr_assert_eq(arg_cstr(&c, 0, vg, sizeof(vg)), 0);
	cr_assert_str_eq(vg, "vgok");
	cr_assert_eq(arg_u64(&c, 1, 1, 100, &size), 0);
	cr_assert_eq(size, 42);
	cr_assert_null(arg_get(&c, 2), "an omitted optional argument is NULL");
	cr_assert_str_eq(c.request_id, "req?1", "request_id is kept printable for the log");
}

Test(args, too_many_positional_is_type_error, .init = setup, .fini = teardown)
{
	struct mp_value pos[] = { str("a"), num(1), str("c"), str("d") };

	cr_assert_eq(bind_call(pos, 4, NULL, 0), -1);
	assert_error(EXC_TYPE, 0, "test.ep() takes 3 positional arguments but 4 were given");
}

Test(args, missing_required_is_type_error, .init = setup, .fini = teardown)
{
	struct mp_value pos[] = { str("a") };

	cr_assert_eq(bind_call(pos, 1, NULL, 0), -1);
	assert_error(EXC_TYPE, 0, "test.ep() missing required argument: 'size'");
}

Test(args, twice_and_unknown_keywords_are_type_errors, .init = setup, .fini = teardown)
{
	struct mp_value pos[] = { str("a") };
	struct mp_value twice[] = { str("vg"), str("b") };
	struct mp_value unknown[] = { str("size"), num(1), str("colour"), str("red") };

	cr_assert_eq(bind_call(pos, 1, twice, 1), -1);
	assert_error(EXC_TYPE, 0, "test.ep() got multiple values for argument 'vg'");
	cr_assert_eq(bind_call(pos, 1, unknown, 2), -1);
	assert_error(EXC_TYPE, 0, "test.ep() got an unexpected keyword argument 'colour'");
}

Test(args, wrong_type_names_both_types, .init = setup, .fini = teardown)
{
	struct mp_value pos[] = { str("a"), str("42") };

	cr_assert_eq(bind_call(pos, 2, NULL, 0), -1);
	assert_error(EXC_TYPE, 0, "test.ep() argument 'size' must be int, not str");
}

Test(args, strings_with_nul_or_too_long_are_value_errors, .init = setup, .fini = teardown)
{
	static const uint8_t nul[] = { 'a', 0, 'b' };
	struct mp_value pos[] = { { .type = MP_STR, .len = 3, .v.bytes = nul }, num(1) };
	char small[2];

	cr_assert_eq(bind_call(pos, 2, NULL, 0), 0);
	cr_assert_eq(arg_cstr(&c, 0, small, sizeof(small)), -1);
	assert_error(EXC_VALUE, 0, "argument 'vg' is too long (3 bytes, limit 1)");
	cr_assert_eq(arg_cstr(&c, 0, (char[8]){ 0 }, 8), -1);
	assert_error(EXC_VALUE, 0, "argument 'vg' contains a NUL byte");
}

Test(args, numbers_out_of_range_are_value_errors, .init = setup, .fini = teardown)
{
	struct mp_value pos[] = { str("a"), num(4097) };
	uint64_t v;

	cr_assert_eq(bind_call(pos, 2, NULL, 0), 0);
	cr_assert_eq(arg_u64(&c, 1, 8, 4096, &v), -1);
	assert_error(EXC_VALUE, 0, "argument 'size' is out of range [8, 4096]");
}

/* --- the guard ------------------------------------------------------------ */

Test(guard, grammar_before_policy, .init = setup, .fini = teardown)
{
	cr_assert_eq(guard_vg(&c, "bad/name"), -1);
	assert_error(EXC_VALUE, EINVAL, "bad/name");
	cr_assert_not(c.denied, "a bad name is not a policy refusal");
	/* The LV's grammar too, before the VG's policy. */
	cr_assert_eq(guard_lv(&c, "vg-not-in-policy", "bad/lv"), -1);
	assert_error(EXC_VALUE, EINVAL, "bad/lv");
	cr_assert_not(c.denied);
}

Test(guard, policy_refusal_is_permission_error, .init = setup, .fini = teardown)
{
	cr_assert_eq(guard_vg(&c, "vgok"), 0);
	cr_assert_neq(c.rule[0], '\0', "the allowing rule is kept for the audit record");
	cr_assert_eq(guard_vg(&c, "other"), -1);
	assert_error(EXC_PERM, EACCES, "other");
	cr_assert(c.denied);
}

Test(guard, lv_names_and_sizes, .init = setup, .fini = teardown)
{
	cr_assert_eq(guard_lv(&c, "vgok", "disk1"), 0);
	cr_assert_eq(guard_lv(&c, "vgok", "root"), -1);
	assert_error(EXC_PERM, EACCES, "root");
	cr_assert_eq(guard_lv_size(&c, "vgok", 0), -1);
	assert_error(EXC_VALUE, EINVAL, "size must be greater than 0");
	cr_assert_eq(guard_lv_size(&c, "vgok", 1u << 30), 0);
	cr_assert_eq(guard_lv_size(&c, "vgok", (1u << 30) + 1), -1);
	assert_error(EXC_PERM, EACCES, "");
}

Test(guard, mappings, .init = setup, .fini = teardown)
{
	cr_assert_eq(guard_mapping(&c, "disk1-dmcrypt"), 0);
	cr_assert_eq(guard_mapping(&c, "swap-dmcrypt"), -1);
	assert_error(EXC_PERM, EACCES, "swap-dmcrypt");
	cr_assert_eq(guard_mapping(&c, "control"), -1, "device-mapper's own node");
	assert_error(EXC_VALUE, EINVAL, "control");
}

Test(guard, crypt_key_cipher_and_flags, .init = setup, .fini = teardown)
{
	static const uint8_t key[64];
	struct dmcrypt_req r = { .cipher = "aes-xts-plain64",
				 .key = key,
				 .key_len = 64,
				 .key_bits = 512,
				 .sector_size = 512 };

	cr_assert_eq(guard_crypt(&c, &r), 0, "%s", c.err.msg);
	r.flags = CRYPT_ACTIVATE_NO_READ_WORKQUEUE;
	cr_assert_eq(guard_crypt(&c, &r), 0, "no-read-workqueue yes");
	r.flags = CRYPT_ACTIVATE_ALLOW_DISCARDS;
	cr_assert_eq(guard_crypt(&c, &r), -1);
	assert_error(EXC_PERM, EACCES, "allow_discards");
	r.flags = 0;
	r.key_bits = 256;
	cr_assert_eq(guard_crypt(&c, &r), -1);
	assert_error(EXC_VALUE, EINVAL, "key is 64 bytes but key_size is 256 bits");
	r.cipher = "aes-cbc-plain";
	r.key_len = 32;
	cr_assert_eq(guard_crypt(&c, &r), -1);
	assert_error(EXC_PERM, EACCES, "aes-cbc-plain");
}

Test(guard, device_paths_must_be_plain_and_under_dev, .init = setup, .fini = teardown)
{
	static const char *const bad[] = { "/etc/passwd", "/dev/../etc/passwd",
					   "/dev//sda",	  "/dev/./sda",
					   "/dev/",	  "/dev/x/.." };

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		c.denied = false;
		cr_assert_eq(guard_dev_path(&c, bad[k]), -1, "%s is refused", bad[k]);
		assert_error(EXC_PERM, EACCES, bad[k]);
		cr_assert(c.denied, "a refusal by a built-in rule is recorded as denied");
		cr_assert_str_eq(c.rule, "built-in: device paths are plain paths under /dev");
	}
	cr_assert_eq(guard_dev_path(&c, "/dev/vgok/disk1"), 0);
}

/* What a caller planted in a name comes back to it, and to Nova's log, harmless. */
Test(guard, error_text_is_printable_utf8, .init = setup, .fini = teardown)
{
	char cut[ERR_MSG_MAX + 8];
	size_t n;

	cr_assert_eq(guard_dev_path(&c, "/etc/\x1b[2J\r\xc2\x9b\xe2\x80\xae"
					"evil\xff"),
		     -1);
	call_error_printable(&c.err);
	cr_assert_str_eq(c.err.msg, "device '/etc/?[2J???evil?' is not under /dev");
	/* A long name of two-byte characters, cut by the message's size mid-character. */
	memcpy(cut, "/", 1);
	for (n = 1; n + 2 < sizeof(cut); n += 2)
		memcpy(cut + n, "\xc3\xa9", 2);
	cut[n] = '\0';
	cr_assert_eq(guard_dev_path(&c, cut), -1);
	call_error_printable(&c.err);
	n = strlen(c.err.msg);
	cr_assert_gt(n, 0);
	cr_assert(strstr(c.err.msg, "\xc3\xa9\xc3\xa9"), "whole characters are kept");
	cr_assert_neq((unsigned char)c.err.msg[n - 1], 0xc3, "no half character at the end");
	/* Process output keeps its lines. */
	cr_assert_eq(call_process_error(&c, "a\nb\x1b", "c\td\n", 3,
					(const char *const[]){ "lvm", "lvs", NULL }),
		     -1);
	call_error_printable(&c.err);
	cr_assert_str_eq(c.err.out, "a\nb?");
	cr_assert_str_eq(c.err.err, "c\td\n");
}

Test(guard, device_is_resolved_not_trusted, .init = setup, .fini = teardown)
{
	/* Named like an allowed LV: only then is what exists behind the path told. */
	cr_assert_eq(guard_device(&c, "/dev/vgok/disk7"), -1);
	assert_error(EXC_NOENT, ENOENT, "does not exist");
	cr_assert_eq(guard_device(&c, "/dev/null"), -1);
	assert_error(EXC_PERM, EACCES, "'/dev/null' is not named /dev/VG/LV");
	cr_assert_eq(guard_device(&c, "/dev/ephcrypt-no-such-device"), -1);
	assert_error(EXC_PERM, EACCES, "is not named /dev/VG/LV");
}

/* The same refusal, word for word, whatever a caller's link points at. */
static void
refusal_through_link(const char *link, const char *target,
		     int (*guard)(struct call *, const char *), char *msg, size_t cap)
{
	unlink(link);
	cr_assert_eq(symlink(target, link), 0, "symlink %s: %s", link, strerror(errno));
	call_error_clear(&c.err);
	memset(&c.t, 0, sizeof(c.t));
	cr_assert_eq(guard(&c, link), -1, "%s -> %s was accepted", link, target);
	snprintf(msg, cap, "%s %s", c.err.cls, c.err.msg);
	unlink(link);
}

Test(guard, refused_path_answer_ignores_what_exists, .init = setup, .fini = teardown)
{
	/* /dev/shm: a folder under /dev any caller can plant links in. */
	static const char *const links[] = { "/dev/shm/ephcrypt-oracle", "/dev/shm/disk7" };
	int (*guards[])(struct call *, const char *) = { guard_device, guard_block_device,
							 guard_block_device_name };
	char exists[ERR_MSG_MAX + 200], missing[ERR_MSG_MAX + 200];

	for (size_t l = 0; l < 2; l++)
		for (size_t g = 0; g < 3; g++) {
			refusal_through_link(links[l], "/etc/shadow", guards[g], exists,
					     sizeof(exists));
			refusal_through_link(links[l], "/etc/ephcrypt-no-such-file", guards[g],
					     missing, sizeof(missing));
			cr_assert_str_eq(exists, missing,
					 "%s: the answer tells if the target exists", links[l]);
		}
}

Test(guard, listing_filters_set_no_error, .init = setup, .fini = teardown)
{
	cr_assert(guard_lv_visible(&c, "vgok", "disk7"));
	cr_assert_not(guard_lv_visible(&c, "vgok", "swap"));
	cr_assert_not(guard_lv_visible(&c, "vgok", "disk1/.."));
	cr_assert(guard_mapping_visible(&c, "disk7-dmcrypt"));
	cr_assert_not(guard_mapping_visible(&c, "disk7"));
	cr_assert_null(c.err.cls);
}

Test(guard, activation_flags_by_name_comma_separated)
{
	char text[96];

	activation_flags_text(0, text, sizeof(text));
	cr_assert_str_eq(text, "");
	activation_flags_text(CRYPT_ACTIVATE_ALLOW_DISCARDS | CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE,
			      text, sizeof(text));
	cr_assert_str_eq(text, "allow_discards,no_write_workqueue");
}

/* --- --check-policy reads the file without root's privilege (doas -C) ----- */

/* Exit status and the first bytes of stderr of `ephcrypt-helper --check-policy path`. */
/* With PATH=pathenv when given (to choose the cryptsetup the check runs). */
static int
check_policy_env(const char *pathenv, const char *path, char *err, size_t cap)
{
	char cmd[768];
	FILE *p;
	size_t n;
	int status;

	snprintf(cmd, sizeof(cmd), "%s%s %s --check-policy %s 2>&1 >/dev/null",
		 pathenv ? "PATH=" : "", pathenv ? pathenv : "",
		 getenv("EPHCRYPT_HELPER") ? getenv("EPHCRYPT_HELPER") : "build/ephcrypt-helper",
		 path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(err, 1, cap - 1, p);
	err[n] = '\0';
	status = pclose(p);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static int
check_policy(const char *path, char *err, size_t cap)
{
	return check_policy_env(NULL, path, err, cap);
}

/* text as DIR/policy.conf, mode 0644, in a fresh DIR of mode dir_mode. */
static void
policy_in_dir(char *dir, mode_t dir_mode, const char *text, char path[64])
{
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, dir_mode);
	snprintf(path, 64, "%s/policy.conf", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
	chmod(path, 0644);
}

Test(check_policy, root_reads_the_file_as_nobody)
{
	char dir[] = "/tmp/ephcrypt-check-XXXXXX", path[64], err[512];

	if (geteuid() != 0)
		cr_skip_test("needs root: the drop is from root to nobody");
	policy_in_dir(dir, 0711, POLICY_TEXT, path);
	cr_assert_eq(check_policy(path, err, sizeof(err)), 0, "a readable policy checks: %s", err);
	chmod(path, 0600); /* root could read it; nobody cannot */
	cr_assert_eq(check_policy(path, err, sizeof(err)), 2);
	cr_assert_not_null(strstr(err, "Permission denied"), "stderr: %s", err);
	unlink(path);
	rmdir(dir);
}

/*
 * --check-policy's warnings: plain dm-crypt has no header, so a
 * nova-passphrase-hash unlike the host's cryptsetup default would open disks
 * as noise after a rollback. The host's default comes from `cryptsetup
 * --help`; a stand-in on PATH says sha256, as another distribution's might.
 */
static int
check_policy_with_path(const char *pathenv, const char *policy_text, char *err, size_t cap)
{
	char dir[] = "/tmp/ephcrypt-check-XXXXXX", path[64];
	int rc;

	policy_in_dir(dir, 0755, policy_text, path);
	rc = check_policy_env(pathenv, path, err, cap);
	unlink(path);
	rmdir(dir);
	return rc;
}

/* A directory with a `cryptsetup` that prints the plain-mode line with hash. */
static void
fake_cryptsetup(char *dir, const char *hash)
{
	char path[96];
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	chmod(dir, 0755);
	snprintf(path, sizeof(path), "%s/cryptsetup", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"#!/bin/sh\necho 'Default compiled-in device cipher parameters:'\n"
		"printf '\\tplain: aes-cbc-essiv:sha256, Key: 256 bits, Password hashing: %s\\n'\n",
		hash);
	fclose(f);
	chmod(path, 0755);
}

Test(check_policy, warns_when_the_nova_hash_is_not_the_hosts_default)
{
	char dir[] = "/tmp/ephcrypt-fakecs-XXXXXX", pathenv[128], cs[128], err[2048];

	fake_cryptsetup(dir, "sha256");
	snprintf(pathenv, sizeof(pathenv), "%s:/usr/bin:/bin", dir);
	cr_assert_eq(check_policy_with_path(pathenv, POLICY_TEXT, err, sizeof(err)), 0,
		     "a warning does not fail the check: %s", err);
	cr_assert_not_null(strstr(err,
				  "warning: nova-passphrase-hash is ripemd160, but this host's "
				  "cryptsetup hashes plain-mode passphrases with sha256"),
			   "%s", err);
	cr_assert_not_null(strstr(err, "write 'nova-passphrase-hash sha256' in [crypto]"), "%s",
			   err);
	cr_assert_eq(check_policy_with_path(pathenv, POLICY_TEXT "nova-passphrase-hash sha256\n",
					    err, sizeof(err)),
		     0);
	cr_assert_str_empty(err, "the same hash: no warning");
	snprintf(cs, sizeof(cs), "%s/cryptsetup", dir);
	unlink(cs);
	cr_assert_eq(check_policy_with_path(dir, POLICY_TEXT, err, sizeof(err)), 0);
	cr_assert_not_null(strstr(err, "note: cannot compare nova-passphrase-hash with the host's "
				       "cryptsetup default: cannot run cryptsetup"),
			   "%s", err);
	rmdir(dir);
}

Test(check_policy, warns_about_patterns_that_accept_everything)
{
	char err[2048];

	cr_assert_eq(check_policy_with_path("/usr/sbin:/usr/bin:/sbin:/bin",
					    "[volume-groups]\nvg vgok max-lv-size 1G\n[volumes]\n"
					    "lv .*\n[mappings]\nmapping nova-*\n",
					    err, sizeof(err)),
		     0, "%s", err);
	cr_assert_not_null(strstr(err, ":4: warning: [volumes] pattern '.*' accepts every name"),
			   "%s", err);
	cr_assert_not_null(strstr(err, ":6: warning: [mappings] pattern 'nova-*': patterns are "
				       "regular expressions, not globs"),
			   "%s", err);
}
