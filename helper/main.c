/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ephcrypt-helper: the privileged half of encrypted ephemeral disks.
 * main() is a list of start-up steps; only start-up may exit on error.
 */
#include <err.h>
#include <errno.h>
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
#include "../policy/settings.h"
#include "helper.h"
#include "relay.h"
#include "sandbox.h"
#include "startup.h"

#define LOG_FRAME_MAX	4096 /* one LOG message to the caller */
#define LOG_LEVEL_INFO	20   /* Python's logging.INFO */
#define CONFIG_ARGS_MAX 16   /* --config-file/--config-dir options passed on */
/* The context a [forward] section stands in front of (doc/relay.rst). */
#define FORWARD_CONTEXT "nova.privsep.sys_admin_pctxt"

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
	OPT_HELPER_CONF,
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
	{ "helper-conf", required_argument, NULL, OPT_HELPER_CONF },
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
		"       ephcrypt-helper --help | --version\n"
		"options: --helper-conf FILE (default " SETTINGS_DEFAULT_PATH ")\n"
		"         --policy PATH  --audit-log PATH  --lvm PATH  --max-message BYTES\n"
		"         (started through sudo, only to repeat or narrow the helper.conf values)\n"
		"         --config-file F  --config-dir D (passed on to privsep-helper when\n"
		"         the policy has a [forward] section)\n"
		"         --help  --version\n");
	exit(status);
}

static void
option_number(const char *name, const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
	if (parse_u64(arg, min, max, out) < 0)
		errx(2, "--%s: '%s' is not a number in [%llu, %llu]", name, arg,
		     (unsigned long long)min, (unsigned long long)max);
}

/* oslo.config's options: nothing for us in them, but privsep-helper reads them. */
static void
config_arg(struct options *opt, const char *option, const char *value)
{
	static const char *args[2 * CONFIG_ARGS_MAX + 1];
	static size_t n;

	if (n + 2 > 2 * CONFIG_ARGS_MAX)
		errx(2, "%s: at most %d --config-file and --config-dir options", option,
		     CONFIG_ARGS_MAX);
	args[n++] = option;
	args[n++] = value;
	opt->config_args = args;
}

/* What the command line said about the deployer's settings (NULL/0: nothing). */
struct cmdline {
	const char *helper_conf, *policy, *audit_log, *lvm;
	uint64_t max_message;
};

/* getopt's own messages would start with argv[0], not the program's name. */
static void __attribute__((noreturn)) bad_option(int ch, char **argv)
{
	if (ch == ':')
		errx(2, "option '%s' needs an argument (see --help)", argv[optind - 1]);
	errx(2, "unknown option '%s' (see --help)", argv[optind - 1]);
}

static void
parse_args(int argc, char **argv, struct options *opt, struct cmdline *cl)
{
	uint64_t v;
	int ch;

	memset(opt, 0, sizeof(*opt));
	memset(cl, 0, sizeof(*cl));
	opt->fd = -1;
	cl->helper_conf = SETTINGS_DEFAULT_PATH;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, ":", longopts, NULL)) != -1) {
		switch (ch) {
		case OPT_FD:
			option_number("fd", optarg, 0, 65535, &v);
			opt->fd = (int)v;
			break;
		case OPT_CONTEXT: opt->context = optarg; break;
		case OPT_SOCK: opt->sock_path = optarg; break;
		case OPT_CONFIG_FILE: config_arg(opt, "--config-file", optarg); break;
		case OPT_CONFIG_DIR: config_arg(opt, "--config-dir", optarg); break;
		case OPT_HELPER_CONF: cl->helper_conf = optarg; break;
		case OPT_POLICY: cl->policy = optarg; break;
		case OPT_AUDIT: cl->audit_log = optarg; break;
		case OPT_LVM: cl->lvm = optarg; break;
		case OPT_MAX_MESSAGE:
			option_number("max-message", optarg, SETTINGS_MESSAGE_MIN,
				      SETTINGS_MESSAGE_MAX, &cl->max_message);
			break;
		case OPT_CHECK_POLICY: opt->check_policy = optarg; break;
		case OPT_VERSION: printf("ephcrypt-helper %s\n", EPHCRYPT_VERSION); exit(0);
		case OPT_HELP: usage(0);
		default: bad_option(ch, argv);
		}
	}
	if (optind != argc)
		errx(2, "unexpected argument '%s'", argv[optind]);
	if (!opt->check_policy && (opt->fd < 0) == (opt->sock_path == NULL))
		errx(2, "give exactly one of --fd N or --privsep_sock_path PATH");
	if (cl->lvm && cl->lvm[0] != '/')
		errx(2, "--lvm: '%s' must be an absolute path", cl->lvm);
}

/*
 * A command line given on someone else's behalf (a plain "ephcrypt-helper *"
 * sudo rule lets the caller append anything) may repeat or narrow the
 * deployer's settings, never change them: another policy, lvm or audit log,
 * or a larger limit, would hand the caller root's trust.
 */
static void
refuse_widening(const char *who, const char *option, const char *given, const char *current,
		const char *conf, const struct settings *s, enum setting_key k)
{
	if (!given || !strcmp(given, current))
		return;
	if (k == SK_COUNT) /* --helper-conf itself */
		errx(2,
		     "%s '%s' refused: started by %s, whose caller may not choose the settings "
		     "file; edit %s instead",
		     option, given, who, current);
	errx(2,
	     "%s '%s' refused: started by %s, whose caller may not change '%s' (it is %s, %s %s); "
	     "only '%s = ...' in %s (root's) can",
	     option, given, who, settings_key_name(k), current,
	     s->line[k] ? "set in" : "the default; no line in", conf, settings_key_name(k), conf);
}

static void
apply_settings(const struct cmdline *cl, struct options *opt, struct settings *s)
{
	const char *conf = cl->helper_conf;
	char who[160];
	bool behalf = startup_on_behalf(who, sizeof(who));
	int errors;

	settings_default(s);
	/* Before it is read: its errors would quote any root-only file the caller named. */
	if (behalf)
		refuse_widening(who, "--helper-conf", conf, SETTINGS_DEFAULT_PATH, conf, s,
				SK_COUNT);
	errors = settings_load(conf, true, true, stderr, s);
	if (errors)
		errx(2, "%s: %d error%s; refusing to start", conf, errors, errors == 1 ? "" : "s");
	if (behalf) {
		refuse_widening(who, "--policy", cl->policy, s->policy, conf, s, SK_POLICY);
		refuse_widening(who, "--audit-log", cl->audit_log, s->audit_log, conf, s,
				SK_AUDIT_LOG);
		refuse_widening(who, "--lvm", cl->lvm, s->lvm, conf, s, SK_LVM);
		if (cl->max_message > s->max_message)
			errx(2,
			     "--max-message %llu refused: started by %s, whose caller may only "
			     "lower it (it is %llu); set 'max-message' in %s instead",
			     (unsigned long long)cl->max_message, who,
			     (unsigned long long)s->max_message, conf);
	}
	opt->policy_path = cl->policy ? cl->policy : s->policy;
	opt->audit_path = cl->audit_log ? cl->audit_log : s->audit_log;
	opt->lvm.path = cl->lvm ? cl->lvm : s->lvm;
	opt->max_message = cl->max_message ? cl->max_message : s->max_message;
	opt->lvm.timeout_s = (unsigned)s->lvm_timeout_s;
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

/* [forward] may not name what the helper serves itself: that would route around its checks. */
static int
forward_overlap(const struct policy *p)
{
	const char *names[128];
	size_t n = dispatch_names(names, sizeof(names) / sizeof(names[0]));

	return policy_forward_overlap(p, names, n, stderr);
}

/*
 * Plain dm-crypt has no header: a disk opened with another passphrase hash
 * than the one that made it opens anyway, as noise. After a rollback to
 * privsep-helper, Nova's cryptsetup uses the host's default, so the policy's
 * hash must be that one.
 */
static void
check_nova_hash(const struct policy *p, const char *path)
{
	char host[32], why[256];

	if (startup_plain_hash(host, sizeof(host), why, sizeof(why)) < 0) {
		fprintf(stderr,
			"%s: note: cannot compare nova-passphrase-hash with the host's cryptsetup "
			"default: %s\n",
			path, why);
		return;
	}
	if (strcmp(host, policy_nova_hash(p)) != 0)
		fprintf(stderr,
			"%s: warning: nova-passphrase-hash is %s, but this host's cryptsetup "
			"hashes plain-mode passphrases with %s: after a rollback to "
			"privsep-helper, Nova's cryptsetup would open ephcrypt's disks as noise "
			"(plain dm-crypt has no header to catch it); write "
			"'nova-passphrase-hash %s' in [crypto] unless disks were made with %s\n",
			path, policy_nova_hash(p), host, host, policy_nova_hash(p));
}

/* --check-policy: like visudo -c; exit 0 with a summary, or 2 with every error. */
static int
check_policy(const char *path)
{
	struct policy *p;

	drop_privileges();
	if (policy_load(path, true, stderr, &p) != 0)
		return 2;
	if (forward_overlap(p) != 0) {
		policy_free(p);
		return 2;
	}
	policy_lint(p, stderr);
	check_nova_hash(p, path);
	printf("%s: OK\n", path);
	policy_summary(p, stdout);
	policy_free(p);
	return 0;
}

static void
load_policy(struct options *opt)
{
	int errors = policy_load(opt->policy_path, true, stderr, &opt->policy);

	if (errors == 0 && (errors = forward_overlap(opt->policy)) != 0) {
		policy_free(opt->policy);
		opt->policy = NULL;
	}
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
	if (startup_check_peer(peer.uid, v.why, sizeof(v.why)) < 0)
		snprintf(v.rule, sizeof(v.rule),
			 "built-in: the peer is the one sudo ran the helper for");
	else if (policy_uid(opt->policy, peer.uid, &v) == 0)
		return;
	/* As sudo logs its rejections: the refusal is on record, not only in the caller's log. */
	if (audit_record(&(struct audit_event){ .action = "connect",
						.cadf_action = "authenticate",
						.outcome = AUDIT_DENIED,
						.uid = peer.uid,
						.gid = peer.gid,
						.pid = peer.pid,
						.policy_rule = v.rule,
						.err_no = EACCES,
						.message = v.why }) < 0)
		errx(1, "%s; refused (and the audit log could not record it)", v.why);
	errx(1, "%s; refused, and recorded in the audit log %s", v.why, opt->audit_path);
}

/* In front of a whole context: the calls it does not serve go to privsep-helper. */
static bool
fronts_context(const struct options *opt)
{
	return policy_forward_count(opt->policy) > 0 && opt->sock_path && opt->context &&
	       strcmp(opt->context, FORWARD_CONTEXT) == 0;
}

/*
 * Before the sandbox: privsep-helper is a fork+exec of ours and would
 * inherit no_new_privs, the seccomp filter and the read-only mounts. After
 * check_peer (nothing is started for a refused caller), before detach (a
 * privsep-helper that cannot start makes us exit non-zero, which
 * oslo.privsep reports with our stderr).
 */
static void
start_relay(struct options *opt)
{
	struct relay_config cfg = {
		.context = opt->context,
		.config_args = opt->config_args,
		.stderr_fd = -1,
		.pass_start_logs = true,
	};
	char why[512];

	if (!fronts_context(opt))
		return;
	mp_limits_default(&cfg.limits);
	cfg.limits.max_message = opt->max_message;
	if (relay_start(&cfg, &opt->relay, why, sizeof(why)) < 0)
		errx(1, "cannot start privsep-helper for %s ([forward] in %s): %s", opt->context,
		     opt->policy_path, why);
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

/* Which route this node is on (README.rst, "Which route a node is on"). */
static void
route_log(int fd, const struct options *opt)
{
	char msg[512];
	struct relay_info info;

	if (opt->relay) {
		relay_info(opt->relay, &info);
		snprintf(msg, sizeof(msg),
			 "route: in front of %s (no Nova patch): storage entrypoints served "
			 "here, %u [forward] pattern(s) relayed to privsep-helper pid %d, "
			 "everything else refused",
			 opt->context, policy_forward_count(opt->policy), (int)info.daemon_pid);
	} else if (policy_forward_count(opt->policy) > 0) {
		snprintf(msg, sizeof(msg),
			 "route: storage calls only; the policy's [forward] section is not used "
			 "(it needs --privsep_context %s and --privsep_sock_path)",
			 FORWARD_CONTEXT);
	} else {
		snprintf(msg, sizeof(msg),
			 "route: storage calls only (context %s; the patch route or ephcrypt's "
			 "own API): nothing is relayed",
			 opt->context ? opt->context : "-");
	}
	send_log(fd, msg);
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
	route_log(fd, opt);
}

int
main(int argc, char **argv)
{
	static struct settings settings;
	struct options opt;
	struct cmdline cl;
	int fd, rc;

	standard_fds();
	startup_log_begin();
	parse_args(argc, argv, &opt, &cl);
	if (opt.check_policy) {
		startup_log_end(); /* a tool run by hand: its output is for the terminal */
		return check_policy(opt.check_policy);
	}
	apply_settings(&cl, &opt, &settings);
	load_policy(&opt);
	open_audit(&opt);
	fd = open_channel(&opt);
	check_peer(fd, &opt);
	start_relay(&opt);
	detach(&opt);
	quiet_stdio();
	lock_memory();
	sandbox_apply();
	hello(fd, &opt);
	startup_log_end();
	rc = serve(fd, &opt);
	policy_free(opt.policy);
	audit_close();
	return rc == 0 ? 0 : 1;
}
