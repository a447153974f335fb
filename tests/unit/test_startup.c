/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ephcrypt-helper's start-up as an operator meets it, through the built
 * binary (or $EPHCRYPT_HELPER): helper.conf, the refusal of arguments that
 * would widen trust when started through sudo, the "ephcrypt-helper: "
 * prefix on every start-up error line, and the audit records of a refused
 * caller and of a refused Nova call, found with ephcrypt-audit.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../protocol/mp.h"
#include "../../helper/startup.h"
#include "../../protocol/privsep.h"

#define OUT_MAX (64u << 10)

static char dir[64], policy[96], audit_log[96], conf[96];

static const char *
helper(void)
{
	const char *p = getenv("EPHCRYPT_HELPER");

	return p && *p ? p : "build/ephcrypt-helper";
}

static void
writefile(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
	cr_assert_eq(chmod(path, mode), 0);
}

static void
setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ephcrypt-startup-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(policy, sizeof(policy), "%s/policy.conf", dir);
	snprintf(audit_log, sizeof(audit_log), "%s/audit.log", dir);
	snprintf(conf, sizeof(conf), "%s/helper.conf", dir);
}

static void
teardown(void)
{
	unlink(policy);
	unlink(audit_log);
	unlink(conf);
	rmdir(dir);
}

TestSuite(startup, .init = setup, .fini = teardown, .timeout = 60);

struct run {
	int status;	   /* exit status, or -1 if killed */
	char err[OUT_MAX]; /* its standard error */
	char chan[OUT_MAX];
	size_t chan_len; /* what it sent on the channel (raw msgpack) */
};

/* Read fd until EOF into buf (NUL-terminated); returns the length. */
static size_t
slurp(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	ssize_t k;

	while (n + 1 < cap &&
	       ((k = read(fd, buf + n, cap - 1 - n)) > 0 || (k < 0 && errno == EINTR)))
		n += k > 0 ? (size_t)k : 0;
	buf[n] = '\0';
	return n;
}

/*
 * Start the helper with env (NULL-terminated "K=V" list) and args, its
 * channel on fd 3; send input, close our writing side, collect everything.
 */
static void
run(struct run *r, const char *const env[], const char *const args[], const void *input, size_t len)
{
	const char *argv[32] = { helper() };
	int sv[2], ep[2];
	size_t n = 1;
	pid_t pid;

	for (size_t k = 0; args[k] && n < 28; k++)
		argv[n++] = args[k];
	argv[n++] = "--fd";
	argv[n++] = "3";
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	cr_assert_eq(pipe2(ep, O_CLOEXEC), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		if (dup2(sv[1], 3) < 0 || dup2(ep[1], 2) < 0)
			_exit(127);
		execve(argv[0], (char *const *)argv, (char *const *)env);
		_exit(127);
	}
	close(sv[1]);
	close(ep[1]);
	if (len)
		cr_assert_eq(write(sv[0], input, len), (ssize_t)len);
	shutdown(sv[0], SHUT_WR);
	r->chan_len = slurp(sv[0], r->chan, sizeof(r->chan));
	slurp(ep[0], r->err, sizeof(r->err));
	close(sv[0]);
	close(ep[0]);
	cr_assert_eq(waitpid(pid, &r->status, 0), pid);
	r->status = WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

static const char *const no_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
/* What sudo puts in every command's environment, whatever the rule says. */
static const char *const sudo_env[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
					"SUDO_USER=nova",
					"SUDO_UID=64055",
					"SUDO_GID=64055",
					"SUDO_COMMAND=/usr/sbin/ephcrypt-helper --lvm /bin/sh",
					NULL };

/* Every line of text starts with "ephcrypt-helper: ". */
static void
assert_prefixed(const char *text)
{
	for (const char *l = text; *l; l = strchr(l, '\n') + 1) {
		cr_assert_eq(strncmp(l, "ephcrypt-helper: ", 17), 0, "unprefixed line in:\n%s",
			     text);
		cr_assert_not_null(strchr(l, '\n'), "a line without its newline in:\n%s", text);
	}
}

/* --- sudo with a plain '*' rule ---------------------------------------------- */

Test(startup, under_sudo_lvm_from_the_command_line_is_refused)
{
	static const char *const args[] = { "--lvm", "/bin/sh", NULL };
	struct run r;

	run(&r, sudo_env, args, NULL, 0);
	cr_assert_eq(r.status, 2, "status %d, stderr:\n%s", r.status, r.err);
	cr_assert_str_eq(
		r.err, "ephcrypt-helper: --lvm '/bin/sh' refused: started by sudo "
		       "(SUDO_USER=nova), whose caller may not change 'lvm' (it is /sbin/lvm, the "
		       "default; no line in /etc/ephcrypt/helper.conf); only 'lvm = ...' in "
		       "/etc/ephcrypt/helper.conf (root's) can\n");
	cr_assert_eq(r.chan_len, 0, "nothing was served");
}

Test(startup, under_sudo_every_widening_argument_is_refused)
{
	static const char *const widen[][3] = {
		{ "--policy", "/tmp/mine.conf", "may not change 'policy'" },
		{ "--audit-log", "/dev/null", "may not change 'audit-log'" },
		{ "--helper-conf", "/tmp/mine.conf", "may not choose the settings file" },
		{ "--max-message", "67108864", "may only lower it (it is 1048576)" },
	};
	const char *const doas_env[] = { "DOAS_USER=nova", NULL };
	struct run r;

	for (size_t k = 0; k < sizeof(widen) / sizeof(widen[0]); k++) {
		const char *const args[] = { widen[k][0], widen[k][1], NULL };

		run(&r, sudo_env, args, NULL, 0);
		cr_assert_eq(r.status, 2, "%s %s: status %d", widen[k][0], widen[k][1], r.status);
		cr_assert_not_null(strstr(r.err, widen[k][2]), "%s: %s", widen[k][0], r.err);
		assert_prefixed(r.err);
	}
	run(&r, doas_env, (const char *const[]){ "--lvm", "/bin/sh", NULL }, NULL, 0);
	cr_assert_not_null(strstr(r.err, "refused: started by doas (DOAS_USER=nova)"), "%s", r.err);
}

/* The refusal comes before the file is read: its errors would quote a root-only file. */
Test(startup, under_sudo_a_named_settings_file_is_not_even_read)
{
	const char *const args[] = { "--helper-conf", conf, NULL };
	struct run r;

	writefile(conf, "root-only-secret = value\n", 0600);
	run(&r, sudo_env, args, NULL, 0);
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "may not choose the settings file"), "%s", r.err);
	cr_assert_null(strstr(r.err, "secret"), "the file's contents leaked:\n%s", r.err);
}

/* The real sudo, run by root with the stock rule "root ALL=(ALL) ALL": no sudoers edit. */
Test(startup, under_the_real_sudo_lvm_from_the_command_line_is_refused)
{
	char cmd[512], out[2048];
	FILE *p;
	size_t n;
	int status;

	if (geteuid() != 0 || system("command -v sudo >/dev/null && sudo -n true 2>/dev/null") != 0)
		cr_skip_test("needs root and sudo");
	snprintf(cmd, sizeof(cmd), "sudo -n %s --lvm /bin/sh --fd 0 2>&1 </dev/null", helper());
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, sizeof(out) - 1, p);
	out[n] = '\0';
	status = pclose(p);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 2, "status 0x%x: %s", status, out);
	cr_assert_not_null(strstr(out, "ephcrypt-helper: --lvm '/bin/sh' refused: started by sudo "
				       "(SUDO_USER=root)"),
			   "%s", out);
}

Test(startup, under_sudo_repeating_or_narrowing_a_setting_is_accepted)
{
	static const char *const args[] = {
		"--lvm",	 "/sbin/lvm", "--policy", "/etc/ephcrypt/policy.conf",
		"--max-message", "65536",     NULL
	};
	struct run r;

	run(&r, sudo_env, args, NULL, 0);
	cr_assert_null(strstr(r.err, "refused"), "%s", r.err);
}

Test(startup, helper_conf_sets_what_the_command_line_did)
{
	char text[512];
	const char *const args[] = { "--helper-conf", conf, NULL };
	struct run r;

	if (geteuid() != 0)
		cr_skip_test("the helper starts as root only");
	writefile(policy, "[callers]\nuid 0\n", 0644);
	snprintf(text, sizeof(text), "# test\npolicy = %s\naudit-log = %s\nlvm-timeout = 5\n",
		 policy, audit_log);
	writefile(conf, text, 0644);
	run(&r, no_env, args, NULL, 0);
	cr_assert_eq(r.status, 0, "status %d: %s", r.status, r.err);
	cr_assert_not_null(memmem(r.chan, r.chan_len, policy, strlen(policy)),
			   "the LOG record names the policy from helper.conf");
	cr_assert_eq(access(audit_log, F_OK), 0, "the audit log from helper.conf was opened");
}

Test(startup, helper_conf_errors_refuse_the_start)
{
	const char *const args[] = { "--helper-conf", conf, NULL };
	struct run r;

	writefile(conf, "lvm = /sbin/lvm\nlvm-timout = 5\n", 0664);
	run(&r, no_env, args, NULL, 0);
	cr_assert_eq(r.status, 2);
	cr_assert_not_null(strstr(r.err, "helper.conf:2: unknown key 'lvm-timout'; did you mean "
					 "'lvm-timeout'?\n"),
			   "%s", r.err);
	if (geteuid() == 0)
		cr_assert_not_null(strstr(r.err, "(mode 0664): it should be mode 0644"), "%s",
				   r.err);
	cr_assert_not_null(strstr(r.err, "refusing to start"), "%s", r.err);
	assert_prefixed(r.err);
}

/* The channel's peer must be the one sudo ran the helper for (in-process: startup.c). */
Test(startup, under_sudo_the_channels_peer_must_be_the_invoking_user)
{
	char why[256] = "";

	if (getuid() != 0)
		cr_skip_test("as root, the real uid says nothing");
	for (size_t k = 0; k < 3; k++)
		unsetenv((const char *[]){ "SUDO_UID", "SUDO_USER", "DOAS_USER" }[k]);
	cr_assert_eq(startup_check_peer(1234, why, sizeof(why)), 0, "root's own start: any peer");
	setenv("SUDO_USER", "nova", 1);
	setenv("SUDO_UID", "64055", 1);
	cr_assert_eq(startup_check_peer(64055, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(startup_check_peer(0, why, sizeof(why)), -1, "root's socket is refused");
	cr_assert_str_eq(why, "the channel's peer is uid 0, not uid 64055 (SUDO_UID) that sudo "
			      "(SUDO_USER=nova) ran the helper for");
	unsetenv("SUDO_USER");
	unsetenv("SUDO_UID");
	setenv("DOAS_USER", "root", 1);
	cr_assert_eq(startup_check_peer(0, why, sizeof(why)), 0, "%s", why);
	cr_assert_eq(startup_check_peer(7, why, sizeof(why)), -1);
	setenv("DOAS_USER", "no-such-user-here", 1);
	cr_assert_eq(startup_check_peer(0, why, sizeof(why)), -1);
	cr_assert_not_null(strstr(why, "DOAS_USER names no user"), "%s", why);
}

/* --- start-up errors -------------------------------------------------------- */

Test(startup, every_start_up_error_line_names_the_helper)
{
	const char *const args[] = { "--policy", policy, "--audit-log", audit_log, NULL };
	struct run r;

	writefile(policy, "[volume-group]\n[volumes]\nlv *_disk\n", 0666);
	run(&r, no_env, args, NULL, 0);
	cr_assert_eq(r.status, 2);
	assert_prefixed(r.err);
	cr_assert_not_null(strstr(r.err, "policy.conf:1: unknown section [volume-group]; did you "
					 "mean [volume-groups]?\n"),
			   "%s", r.err);
	cr_assert_not_null(strstr(r.err, "did you mean '.*_disk'?"), "%s", r.err);
	cr_assert_not_null(strstr(r.err, "policy.conf: 3 errors; refusing to start\n"), "%s",
			   r.err);
	run(&r, no_env, (const char *const[]){ "--no-such-option", NULL }, NULL, 0);
	cr_assert_str_eq(r.err,
			 "ephcrypt-helper: unknown option '--no-such-option' (see --help)\n");
}

/*
 * In a private mount namespace with a tmpfs on /dev and our own datagram
 * socket as /dev/log, run the helper and keep what it sent to syslog.
 */
static void
syslog_child(int out, const char *const env[], const char *const args[])
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	const char *argv[16] = { helper() };
	int devnull = open("/dev/null", O_WRONLY | O_CLOEXEC), log, n = 1, status;
	char msg[2048];
	ssize_t k;
	pid_t pid;

	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", "/dev", "tmpfs", 0, "mode=0755") < 0)
		_exit(77);
	log = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (log < 0 || bind(log, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		_exit(1);
	for (size_t j = 0; args[j] && n < 14; j++)
		argv[n++] = args[j];
	pid = fork();
	if (pid == 0) {
		dup2(devnull, 2);
		execve(argv[0], (char *const *)argv, (char *const *)env);
		_exit(127);
	}
	waitpid(pid, &status, 0);
	while ((k = recv(log, msg, sizeof(msg) - 1, MSG_DONTWAIT)) > 0) {
		msg[k] = '\0';
		dprintf(out, "%s\n", msg);
	}
	_exit(0);
}

Test(startup, start_up_errors_go_to_syslog_as_authpriv_err)
{
	static const char *const args[] = { "--lvm", "/bin/sh", "--fd", "0", NULL };
	char got[8192];
	int p[2], status;
	pid_t pid;

	if (geteuid() != 0)
		cr_skip_test("needs root for a mount namespace");
	cr_assert_eq(pipe2(p, O_CLOEXEC), 0);
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		syslog_child(p[1], sudo_env, args);
	}
	close(p[1]);
	slurp(p[0], got, sizeof(got));
	close(p[0]);
	waitpid(pid, &status, 0);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("no private mount namespace here");
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* <83>: facility authpriv (10 << 3) + priority err (3); the tag names the helper. */
	cr_assert_not_null(strstr(got, "<83>"), "syslog got:\n%s", got);
	cr_assert_not_null(strstr(got, "ephcrypt-helper["), "syslog got:\n%s", got);
	cr_assert_not_null(strstr(got, "]: --lvm '/bin/sh' refused: started by sudo"),
			   "the line without the stderr prefix (the tag has the name):\n%s", got);
}

/* --- audit records of refusals ----------------------------------------------- */

/* ephcrypt-audit's output for args on the test's audit log. */
static int
audit_tool(const char *args, char *out, size_t cap)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof(cmd), "%s %s %s 2>&1",
		 getenv("EPHCRYPT_AUDIT") ? getenv("EPHCRYPT_AUDIT") : "build/ephcrypt-audit", args,
		 audit_log);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	return pclose(p);
}

Test(startup, refused_caller_leaves_an_audit_record)
{
	const char *const args[] = { "--policy", policy, "--audit-log", audit_log, NULL };
	struct run r;
	char want[256], out[4096];

	if (geteuid() != 0)
		cr_skip_test("the audit log's folder must be root's");
	writefile(policy, "[callers]\nuid 4242\n", 0644);
	run(&r, no_env, args, NULL, 0);
	cr_assert_eq(r.status, 1, "%s", r.err);
	snprintf(want, sizeof(want),
		 "ephcrypt-helper: caller uid 0 is not in [callers]; refused, and recorded in the "
		 "audit log %s\n",
		 audit_log);
	cr_assert_str_eq(r.err, want);
	cr_assert_eq(audit_tool("list --denied", out, sizeof(out)), 0, "%s", out);
	cr_assert_not_null(strstr(out, " denied  connect uid=0"), "ephcrypt-audit --denied:\n%s",
			   out);
	cr_assert_not_null(strstr(out, "caller uid 0 is not in [callers]"), "%s", out);
	cr_assert_eq(audit_tool("verify", out, sizeof(out)), 0, "the chain holds: %s", out);
}

/* [msgid, [CALL, name, args, {}]]: args are strings, or a number where size is not 0. */
static size_t
nova_call(uint8_t *buf, size_t cap, const char *name, uint64_t size, const char *const args[])
{
	struct mp_buf b;
	uint32_t nstr = 0;
	size_t len;

	while (args[nstr])
		nstr++;
	mp_buf_init(&b, cap);
	cr_assert_eq(ps_call_begin(&b, "n-1", name, nstr + (size ? 1 : 0)), 0);
	if (size)
		mp_put_uint(&b, size);
	for (size_t k = 0; args[k]; k++)
		mp_put_str(&b, args[k]);
	mp_put_map(&b, 0);
	cr_assert(!b.overflow);
	len = b.len;
	memcpy(buf, b.data, len);
	mp_buf_free(&b);
	return len;
}

static size_t
nova_lvcreate(uint8_t *buf, size_t cap, const char *lv, const char *vg)
{
	return nova_call(buf, cap, "nova.privsep.fs.lvcreate", 1u << 20,
			 (const char *const[]){ lv, vg, NULL });
}

Test(startup, nova_call_refused_by_policy_is_recorded_as_denied_with_its_target)
{
	const char *const args[] = { "--policy", policy, "--audit-log", audit_log, NULL };
	uint8_t call[512];
	size_t len = nova_lvcreate(call, sizeof(call), "disk1", "vgno");
	struct run r;
	char out[4096];

	if (geteuid() != 0)
		cr_skip_test("the helper serves as root only");
	writefile(policy,
		  "[callers]\nuid 0\n[volume-groups]\nvg vgok max-lv-size 1G\n[volumes]\n"
		  "lv ^disk[0-9]+$\n",
		  0644);
	run(&r, no_env, args, call, len);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(memmem(r.chan, r.chan_len, "builtins.PermissionError", 24),
			   "Nova gets a PermissionError");
	cr_assert_eq(audit_tool("list --denied --vg vgno", out, sizeof(out)), 0, "%s", out);
	cr_assert_not_null(strstr(out, " denied  nova.privsep.fs.lvcreate uid=0 vgno/disk1"),
			   "ephcrypt-audit --denied --vg vgno:\n%s", out);
	cr_assert_not_null(strstr(out, "volume group 'vgno' is not in [volume-groups]"), "%s", out);
}

Test(startup, nova_call_refused_by_a_built_in_rule_is_recorded_as_denied_with_its_target)
{
	const char *const args[] = { "--policy", policy, "--audit-log", audit_log, NULL };
	uint8_t call[512];
	size_t len = nova_call(call, sizeof(call), "nova.privsep.fs.lvinfo", 0,
			       (const char *const[]){ "/etc/passwd", NULL });
	struct run r;
	char out[4096];

	if (geteuid() != 0)
		cr_skip_test("the helper serves as root only");
	writefile(policy, "[callers]\nuid 0\n[volume-groups]\nvg vgok max-lv-size 1G\n", 0644);
	run(&r, no_env, args, call, len);
	cr_assert_eq(r.status, 0, "%s", r.err);
	cr_assert_not_null(memmem(r.chan, r.chan_len, "builtins.PermissionError", 24));
	cr_assert_eq(audit_tool("list --denied", out, sizeof(out)), 0, "%s", out);
	cr_assert_not_null(
		strstr(out, " denied  nova.privsep.fs.lvinfo uid=0 - device=/etc/passwd"),
		"ephcrypt-audit --denied:\n%s", out);
	cr_assert_not_null(strstr(out, "path '/etc/passwd' is not /dev/VG/LV"), "%s", out);
}
