/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ephcrypt-helper: the privileged half of encrypted ephemeral disks.
 * main() is a list of start-up steps; only start-up may exit on error.
 */
#include <err.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cap-ng.h>

#include "../audit/audit.h"
#include "../policy/number.h"
#include "../policy/policy.h"
#include "helper.h"
#include "sandbox.h"

#define LVM_TIMEOUT_S  120  /* a run of lvm is killed after this long */
#define LOG_FRAME_MAX  4096 /* one LOG message to the caller */
#define LOG_LEVEL_INFO 20   /* Python's logging.INFO */

enum {
	OPT_FD = 256,
	OPT_CONTEXT,
	OPT_SOCK,
	OPT_CONFIG_FILE,
	OPT_CONFIG_DIR,
	OPT_POLICY,
	OPT_AUDIT,
	OPT_LVM,
	OPT_MAX_MESSAGE,
	OPT_CHECK_POLICY,
	OPT_VERSION,
	OPT_HELP,
};

static const struct option longopts[] = {
	{ "fd", required_argument, NULL, OPT_FD },
	{ "privsep_context", required_argument, NULL, OPT_CONTEXT },
	{ "privsep_sock_path", required_argument, NULL, OPT_SOCK },
	{ "config-file", required_argument, NULL, OPT_CONFIG_FILE },
	{ "config-dir", required_argument, NULL, OPT_CONFIG_DIR },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "audit-log", required_argument, NULL, OPT_AUDIT },
	{ "lvm", required_argument, NULL, OPT_LVM },
	{ "max-message", required_argument, NULL, OPT_MAX_MESSAGE },
	{ "check-policy", required_argument, NULL, OPT_CHECK_POLICY },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* A closed 0, 1 or 2 would be reused by the next open (say, the audit log) and clobbered later. */
static void
standard_fds(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) != fd)
			_exit(1);
}

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: ephcrypt-helper --fd N [options]\n"
		"       ephcrypt-helper [options] --privsep_context CTX --privsep_sock_path PATH\n"
		"       ephcrypt-helper --check-policy PATH\n"
		"options: --policy PATH  --audit-log PATH  --lvm PATH  --max-message BYTES\n"
		"         --config-file F  --config-dir D (accepted, ignored)\n");
	exit(status);
}

static void
option_number(const char *name, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	if (parse_u64(arg, min, max, out) < 0)
		errx(2, "--%s: '%s' is not a number in [%llu, %llu]", name, arg,
		     (unsigned long long)min, (unsigned long long)max);
}

static void
parse_args(int argc, char **argv, struct options *opt)
{
	uint64_t v;
	int ch;

	memset(opt, 0, sizeof(*opt));
	opt->fd = -1;
	opt->lvm.path = "/sbin/lvm";
	opt->policy_path = "/etc/ephcrypt/policy.conf";
	opt->audit_path = "/var/log/ephcrypt/audit.log";
	opt->max_message = MP_DEFAULT_MAX_MESSAGE;
	opt->lvm.timeout_s = LVM_TIMEOUT_S;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_FD:
			option_number("fd", optarg, 0, 65535, &v);
			opt->fd = (int)v;
			break;
		case OPT_CONTEXT: opt->context = optarg; break;
		case OPT_SOCK: opt->sock_path = optarg; break;
		case OPT_CONFIG_FILE:
		case OPT_CONFIG_DIR: break; /* oslo.config's; nothing for us in them */
		case OPT_POLICY: opt->policy_path = optarg; break;
		case OPT_AUDIT: opt->audit_path = optarg; break;
		case OPT_LVM: opt->lvm.path = optarg; break;
		case OPT_MAX_MESSAGE:
			option_number("max-message", optarg, 4096, 64u << 20, &v);
			opt->max_message = v;
			break;
		case OPT_CHECK_POLICY: opt->check_policy = optarg; break;
		case OPT_VERSION: printf("ephcrypt-helper %s\n", EPHCRYPT_VERSION); exit(0);
		case OPT_HELP: usage(0);
		default: usage(2);
		}
	}
	if (optind != argc)
		errx(2, "unexpected argument '%s'", argv[optind]);
	if (!opt->check_policy && (opt->fd < 0) == (opt->sock_path == NULL))
		errx(2, "give exactly one of --fd N or --privsep_sock_path PATH");
	if (opt->lvm.path[0] != '/')
		errx(2, "--lvm: '%s' must be an absolute path", opt->lvm.path);
}

/* The ROOTWRAP start: the caller listens on PATH and waits for us to exit 0. */
static int
connect_back(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		errx(1, "--privsep_sock_path: '%s' is too long", path);
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err(1, "connect %s", path);
	return fd;
}

static int
open_channel(const struct options *opt)
{
	int type;
	socklen_t len = sizeof(type);

	if (opt->sock_path)
		return connect_back(opt->sock_path);
	if (getsockopt(opt->fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
		errx(1, "--fd %d is not a connected stream socket", opt->fd);
	if (fcntl(opt->fd, F_SETFD, FD_CLOEXEC) < 0)
		err(1, "--fd %d", opt->fd);
	return opt->fd;
}

/* Connect, fork, parent exits 0: the client accepts only after we exit. */
static void
detach(const struct options *opt)
{
	pid_t pid;

	if (!opt->sock_path)
		return;
	pid = fork();
	if (pid < 0)
		err(1, "fork");
	if (pid > 0)
		_exit(0);
}

static void
quiet_stdio(void)
{
	int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

	/* stderr stays: oslo.privsep logs each line of it. */
	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0)
		err(1, "/dev/null");
	if (devnull > 2)
		close(devnull);
	if (chdir("/") < 0)
		err(1, "chdir /");
	umask(077);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Like doas -C: whoever runs the check reads the file with their own
 * privilege, never root's (root itself becomes nobody); the root-ownership
 * checks still apply to the file.
 */
static void
drop_privileges(void)
{
	uid_t uid = getuid();
	gid_t gid = getgid();

	if (uid == 0) {
		struct passwd *pw = getpwnam("nobody");

		if (!pw)
			errx(2, "--check-policy: no user 'nobody' to drop privileges to");
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if ((geteuid() == 0 && setgroups(0, NULL) < 0) || setresgid(gid, gid, gid) < 0 ||
	    setresuid(uid, uid, uid) < 0)
		err(2, "--check-policy: dropping privileges");
	if (uid != 0 && (setuid(0) == 0 || seteuid(0) == 0))
		errx(2, "--check-policy: privileges could be regained");
}

/* --check-policy: like visudo -c; exit 0 with a summary, or 2 with every error. */
static int
check_policy(const char *path)
{
	struct policy *p;

	drop_privileges();
	if (policy_load(path, true, stderr, &p) != 0)
		return 2;
	printf("%s: OK\n", path);
	policy_summary(p, stdout);
	policy_free(p);
	return 0;
}

static void
load_policy(struct options *opt)
{
	int errors = policy_load(opt->policy_path, true, stderr, &opt->policy);

	if (errors)
		errx(2, "%s: %d error%s; refusing to start", opt->policy_path, errors,
		     errors == 1 ? "" : "s");
}

static void
open_audit(const struct options *opt)
{
	char why[256];

	if (audit_open(opt->audit_path, why, sizeof(why)) < 0)
		errx(1, "audit log %s: %s; refusing to start", opt->audit_path, why);
}

/* [callers] in the policy: refuse the peer before anything is served. */
static void
check_peer(int fd, const struct options *opt)
{
	struct ucred peer;
	struct verdict v;

	if (peer_of(fd, &peer) < 0)
		err(1, "SO_PEERCRED");
	if (policy_uid(opt->policy, peer.uid, &v) < 0)
		errx(1, "%s", v.why);
}

/* Nothing the helper touches (keys included) may be swapped out. */
static void
lock_memory(void)
{
	if (mlockall(MCL_CURRENT | MCL_FUTURE | MCL_ONFAULT) < 0)
		err(1, "mlockall");
}

static void
send_log(int fd, const char *msg)
{
	struct mp_buf b;

	mp_buf_init(&b, LOG_FRAME_MAX);
	if (ps_log(&b, "ephcrypt", LOG_LEVEL_INFO, msg) == 0 &&
	    write(fd, b.data, b.len) != (ssize_t)b.len)
		errx(1, "cannot write to the channel");
	mp_buf_free(&b);
}

/* Like the real daemon: who is serving, and with what privilege. */
static void
hello(int fd, const struct options *opt)
{
	char msg[512], *caps;

	snprintf(msg, sizeof(msg), "ephcrypt-helper %s serving (pid %d, context %s, policy %s)",
		 EPHCRYPT_VERSION, (int)getpid(), opt->context ? opt->context : "-",
		 opt->policy_path);
	send_log(fd, msg);
	/* Sandbox step 1 sets all five sets alike, and tests/guest/sandbox.sh checks it. */
	caps = capng_print_caps_text(CAPNG_PRINT_BUFFER, CAPNG_EFFECTIVE);
	snprintf(msg, sizeof(msg),
		 "running with capabilities %s, the same in the effective, permitted, "
		 "inheritable, bounding and ambient sets; no_new_privs, seccomp on, "
		 "read-only mounts",
		 caps ? caps : "?");
	free(caps);
	send_log(fd, msg);
}

int
main(int argc, char **argv)
{
	struct options opt;
	int fd, rc;

	standard_fds();
	parse_args(argc, argv, &opt);
	if (opt.check_policy)
		return check_policy(opt.check_policy);
	load_policy(&opt);
	open_audit(&opt);
	fd = open_channel(&opt);
	check_peer(fd, &opt);
	detach(&opt);
	quiet_stdio();
	lock_memory();
	sandbox_apply(&opt.lvm);
	hello(fd, &opt);
	rc = serve(fd, &opt);
	policy_free(opt.policy);
	audit_close();
	return rc == 0 ? 0 : 1;
}
