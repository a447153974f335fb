/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LVM through its command-line tool, the supported programmatic interface
 * (liblvm2app is gone): exec by absolute path, fixed argv, a minimal
 * environment, no inherited descriptors, a time limit, and JSON reports read
 * with json-c instead of parsing text.
 *
 * A process start is most of an operation's time (in a small VM, 0.4 s of a
 * 0.5 s lvcreate), so commands whose text nobody reads (lvcreate, lvremove,
 * JSON reports) go to one long-lived lvm in LVM's own shell mode, as lvmdbusd
 * drives it: a command a line on its stdin, the result as one JSON document
 * on LVM_REPORT_FD (Debian's lvmdbusd profile turns on the command log whose
 * status entry ends each command). The shell is our child: same namespace,
 * capabilities and seccomp filter as an lvm process. Its line is built only
 * from words that LVM's splitter cannot read otherwise (no space, quote, '#'),
 * anything else runs as a process. A command that fails in the shell is run
 * once more as a process, so refusals keep LVM's exact words and exit code.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json.h>

#include "../../policy/number.h"
#include "lvm.h"

#define LVM_ENV_MAX    6 /* entries of the child's environment, NULL included */
#define RETRY_PAUSE_NS (200 * 1000 * 1000)

extern char **environ;

/* LC_ALL=C keeps messages stable; LVM_SYSTEM_DIR is passed on when the deployer set it. */
static int
make_env(char *env[LVM_ENV_MAX], char sysdir[LVM_SYSTEM_DIR_MAX + 16])
{
	const char *dir = getenv("LVM_SYSTEM_DIR");
	int n = 0;

	env[n++] = "LC_ALL=C";
	env[n++] = "LVM_SUPPRESS_FD_WARNINGS=1";
	if (dir && strlen(dir) < LVM_SYSTEM_DIR_MAX && dir[0] == '/') {
		snprintf(sysdir, LVM_SYSTEM_DIR_MAX + 16, "LVM_SYSTEM_DIR=%s", dir);
		env[n++] = sysdir;
	}
	env[n] = NULL;
	return n;
}

static void __attribute__((noreturn))
child(const char *path, const char *const argv[], char *const env[], int out, int errfd)
{
	int devnull = open("/dev/null", O_RDONLY);

	if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(126);
	close_range(3, ~0U, 0);
	execve(path, (char *const *)argv, env);
	_exit(127);
}

static int
append(char **buf, size_t *len, int fd)
{
	char chunk[8192];
	ssize_t n = read(fd, chunk, sizeof(chunk));

	if (n <= 0)
		return n < 0 && errno == EINTR ? 1 : 0;
	if (*len + (size_t)n < LVM_OUT_CAP) { /* past the cap, output is dropped */
		char *nb = realloc(*buf, *len + (size_t)n + 1);
		if (!nb)
			return 0;
		memcpy(nb + *len, chunk, (size_t)n);
		*len += (size_t)n;
		nb[*len] = '\0';
		*buf = nb;
	}
	return 1;
}

static long
ms_left(const struct timespec *deadline)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
}

/* The child, by its pidfd: a signal that reaches no other process, even once the pid is reused. */
static void
kill_child(int pidfd)
{
	if (pidfd >= 0)
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
}

/*
 * fork(), plus a pidfd for the child from clone itself (CLONE_PIDFD, Linux
 * 5.2): the filter allows neither kill nor pidfd_open, so no other process
 * can be signalled. The child only execs, so glibc's fork handlers are not
 * needed.
 */
static pid_t
fork_with_pidfd(int *pidfd)
{
	return (pid_t)syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, pidfd, 0, 0);
}

static void
collect(struct lvm_out *o, int outfd, int errfd, unsigned timeout_s, int pidfd)
{
	struct pollfd pfd[2] = { { .fd = outfd, .events = POLLIN },
				 { .fd = errfd, .events = POLLIN } };
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		long left = ms_left(&deadline);

		if (left <= 0) {
			kill_child(pidfd);
			o->timed_out = true;
			break;
		}
		if (poll(pfd, 2, (int)left) < 0 && errno != EINTR)
			break;
		for (int k = 0; k < 2; k++)
			if (pfd[k].fd >= 0 && (pfd[k].revents & (POLLIN | POLLHUP | POLLERR)) &&
			    !append(k ? &o->err : &o->out, k ? &o->errlen : &o->outlen, pfd[k].fd))
				pfd[k].fd = -1;
	}
}

/* One run of the configured lvm binary; never a shell. */
static int
run_once(const struct lvm_config *cfg, const char *const argv[], struct lvm_out *o)
{
	char *env[LVM_ENV_MAX], sysdir[LVM_SYSTEM_DIR_MAX + 16];
	int op[2], ep[2], status, pidfd = -1;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	o->status = -1;
	make_env(env, sysdir);
	if (pipe2(op, O_CLOEXEC) < 0)
		return -EIO;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		close(op[0]);
		close(op[1]);
		return -EIO;
	}
	pid = fork_with_pidfd(&pidfd);
	if (pid == 0)
		child(cfg->path, argv, env, op[1], ep[1]);
	close(op[1]);
	close(ep[1]);
	if (pid > 0)
		collect(o, op[0], ep[0], cfg->timeout_s, pidfd);
	close(op[0]);
	close(ep[0]);
	if (pidfd >= 0)
		close(pidfd);
	if (pid < 0)
		return -EIO;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	o->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

/* Nova's daemon retried reports (bug 1931710: vgs/lvs fail now and then with -11). */
static int
run_process(const struct lvm_config *cfg, const char *const argv[], int attempts, struct lvm_out *o)
{
	for (int k = 1;; k++) {
		struct timespec pause = { 0, RETRY_PAUSE_NS };

		if (run_once(cfg, argv, o) < 0)
			return -EIO;
		if (o->status == 0 || k >= attempts || o->timed_out)
			return 0;
		lvm_out_free(o);
		nanosleep(&pause, NULL);
	}
}

static const char *field_str(json_object *row, const char *name);

/*
 * The long-lived lvm shell. One per helper, started on first use, restarted
 * after it dies or overruns its time limit (it is killed then, as a process
 * would be). `unusable` is set when it cannot work here at all (no lvmdbusd
 * profile, or it died before finishing its first command): from then on every
 * command is a process.
 */
static struct {
	pid_t pid;
	int pidfd;  /* how it is killed: the filter allows no kill(2) */
	int in;	    /* its stdin: one command a line */
	int report; /* our end of its LVM_REPORT_FD */
	unsigned done;
	bool unusable;
} sh = { .pid = -1, .pidfd = -1, .in = -1, .report = -1 };

static void
shell_stop(void)
{
	if (sh.pid > 0) {
		kill_child(sh.pidfd);
		while (waitpid(sh.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (sh.pidfd >= 0)
		close(sh.pidfd);
	if (sh.in >= 0)
		close(sh.in);
	if (sh.report >= 0)
		close(sh.report);
	sh.pid = -1;
	sh.pidfd = -1;
	sh.in = -1;
	sh.report = -1;
}

/* stdin from the pipe, stdout and stderr to /dev/null, the report pipe as fd 3. */
static void __attribute__((noreturn)) shell_child(const char *path, int in, int report)
{
	const char *const argv[] = { "lvm", NULL };
	char *env[LVM_ENV_MAX], sysdir[LVM_SYSTEM_DIR_MAX + 16];
	int n = make_env(env, sysdir), devnull = open("/dev/null", O_WRONLY);

	env[n++] = "LVM_REPORT_FD=3";
	env[n++] = "LVM_COMMAND_PROFILE=" LVM_SHELL_PROFILE;
	env[n] = NULL;
	in = fcntl(in, F_DUPFD, 10); /* out of the way of 0-3 before the dup2s */
	report = fcntl(report, F_DUPFD, 10);
	if (devnull < 0 || in < 0 || report < 0 || dup2(in, 0) < 0 || dup2(devnull, 1) < 0 ||
	    dup2(devnull, 2) < 0 || dup2(report, 3) < 0)
		_exit(126);
	close_range(4, ~0U, 0);
	execve(path, (char *const *)argv, env);
	_exit(127);
}

static int
shell_start(const struct lvm_config *cfg)
{
	int in[2], rep[2];

	/*
	 * Without the profile (say, an LVM_SYSTEM_DIR with no profile/ folder)
	 * lvm exits before its first answer, which makes the shell unusable.
	 */
	if (sh.unusable)
		return -1;
	if (sh.pid > 0)
		return 0;
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(rep, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	sh.pid = fork_with_pidfd(&sh.pidfd);
	if (sh.pid == 0)
		shell_child(cfg->path, in[0], rep[1]);
	close(in[0]);
	close(rep[1]);
	sh.in = in[1];
	sh.report = rep[0];
	if (sh.pid < 0) {
		shell_stop();
		return -1;
	}
	return 0;
}

/* A word LVM's shell splits back into exactly itself (lvm_split: no quoting, '#' starts a comment).
 */
static bool
shell_word_ok(const char *w)
{
	size_t len = strlen(w);

	if (len == 0 || len > LVM_SHELL_WORD_MAX)
		return false;
	for (const char *p = w; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || strchr("+-_.,/=:|%@[]", *p)))
			return false;
	return true;
}

int
lvm_shell_line(const char *const argv[], char *line, size_t cap)
{
	size_t n = 0;

	if (!argv[0] || strcmp(argv[0], "lvm") != 0 || !argv[1])
		return -EINVAL;
	for (size_t k = 1; argv[k]; k++) {
		size_t len = strlen(argv[k]);

		if (k > LVM_SHELL_ARGS_MAX || !shell_word_ok(argv[k]) || n + len + 2 > cap)
			return -EINVAL;
		if (n)
			line[n++] = ' ';
		memcpy(line + n, argv[k], len);
		n += len;
	}
	line[n++] = '\n';
	line[n] = '\0';
	return 0;
}

/* Commands whose output is read as JSON or not at all; text reports stay processes. */
static bool
shell_suits(const char *const argv[])
{
	const char *cmd = argv[0] ? argv[1] : NULL;

	if (!cmd)
		return false;
	if (!strcmp(cmd, "lvcreate") || !strcmp(cmd, "lvremove"))
		return true;
	if (strcmp(cmd, "vgs") && strcmp(cmd, "lvs") && strcmp(cmd, "pvs"))
		return false;
	for (size_t k = 2; argv[k] && argv[k + 1]; k++)
		if (!strcmp(argv[k], "--reportformat") && !strcmp(argv[k + 1], "json"))
			return true;
	return false;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static bool
only_space(const char *p, size_t len)
{
	for (size_t k = 0; k < len; k++)
		if (!strchr(" \t\n", p[k]))
			return false;
	return true;
}

/* The shell's status entry: LVM's return code, 1 (ECMD_PROCESSED) meaning exit 0. */
static int
shell_status(json_object *doc)
{
	json_object *log, *e, *f;
	int status = -1;

	if (!json_object_object_get_ex(doc, "log", &log) ||
	    !json_object_is_type(log, json_type_array))
		return -1;
	for (size_t k = 0; k < json_object_array_length(log); k++) {
		e = json_object_array_get_idx(log, k);
		if (strcmp(field_str(e, "log_type"), "status") == 0 &&
		    strcmp(field_str(e, "log_context"), "shell") == 0 &&
		    json_object_object_get_ex(e, "log_ret_code", &f))
			status = atoi(json_object_get_string(f));
	}
	return status == 1 ? 0 : status;
}

/*
 * Read one JSON document from the report pipe into o->out; the command is over
 * when it is complete. -1 when the shell died or said something else.
 */
static int
shell_read(const struct lvm_config *cfg, struct lvm_out *o)
{
	struct pollfd pfd = { .fd = sh.report, .events = POLLIN };
	json_tokener *tok = json_tokener_new();
	json_object *doc = NULL;
	struct timespec deadline;
	size_t parsed = 0, parsed_to = 0;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += cfg->timeout_s;
	while (tok && !doc) {
		long left = ms_left(&deadline);

		if (left <= 0) {
			o->timed_out = true;
			o->status = 128 + SIGKILL;
			break;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			break;
		if (pfd.revents && !append(&o->out, &o->outlen, sh.report))
			break;
		if (o->outlen > parsed) {
			doc = json_tokener_parse_ex(tok, o->out + parsed,
						    (int)(o->outlen - parsed));
			if (!doc && json_tokener_get_error(tok) != json_tokener_continue)
				break;
			parsed_to = parsed + json_tokener_get_parse_end(tok);
			parsed = o->outlen;
		}
		if (!doc && o->outlen + 8192 >= LVM_OUT_CAP) /* append() drops past the cap */
			break;
	}
	if (doc && only_space(o->out + parsed_to, o->outlen - parsed_to))
		o->status = shell_status(doc);
	json_object_put(doc);
	json_tokener_free(tok);
	return o->status >= 0 && !o->timed_out ? 0 : -1;
}

/*
 * One command in the shell: 0 with o filled (o->status as lvm's exit code), or
 * -1 when the shell is not there or broke (o freed; a process should run).
 * A timed-out command is 0 with o->timed_out, as for a process.
 */
static int
shell_run(const struct lvm_config *cfg, const char *line, struct lvm_out *o)
{
	memset(o, 0, sizeof(*o));
	o->status = -1;
	if (shell_start(cfg) < 0)
		return -1;
	if (write_all(sh.in, line, strlen(line)) == 0 && shell_read(cfg, o) == 0) {
		sh.done++;
		return 0;
	}
	/* Dead before it ever answered: it cannot work here, so processes from now on. */
	sh.unusable = sh.done == 0 && !o->timed_out;
	shell_stop();
	if (o->timed_out)
		return 0;
	lvm_out_free(o);
	return -1;
}

int
lvm_run(const struct lvm_config *cfg, const char *const argv[], int attempts, struct lvm_out *o)
{
	char line[LVM_SHELL_LINE_MAX];

	if (!cfg->no_shell && shell_suits(argv) && lvm_shell_line(argv, line, sizeof(line)) == 0 &&
	    shell_run(cfg, line, o) == 0) {
		if (o->status == 0 || o->timed_out)
			return 0;
		lvm_out_free(
			o); /* its refusal again from a process: LVM's own words and exit code */
	}
	return run_process(cfg, argv, attempts, o);
}

void
lvm_out_free(struct lvm_out *o)
{
	free(o->out);
	free(o->err);
	o->out = o->err = NULL;
}

/* The text of one stderr line, without its indent, and its length. */
static const char *
err_line(const char *line, const char **next, size_t *len)
{
	const char *end = strchr(line, '\n'), *text = line + strspn(line, " ");

	*len = end ? (size_t)(end - text) : strlen(text);
	*next = end ? end + 1 : NULL;
	return text;
}

/*
 * LVM's own reason: the last line it printed on stderr that is not a warning
 * (every activation warns that setpriority failed: no CAP_SYS_NICE here),
 * after the first device error, which names the disk that failed ("Failed
 * to write VG" alone does not).
 */
const char *
lvm_reason(const char *err, char *buf, size_t cap)
{
	const char *line = err ? err : "", *best = NULL, *cause = NULL, *text;
	size_t best_len = 0, cause_len = 0, len;

	while (line && *line) {
		text = err_line(line, &line, &len);
		if (!len || !strncmp(text, "WARNING:", 8))
			continue;
		if (!cause && !strncmp(text, "Error ", 6) && strstr(text, " device ")) {
			cause = text;
			cause_len = len;
		}
		best = text;
		best_len = len;
	}
	if (cause && cause != best)
		snprintf(buf, cap, "%.*s %.*s", (int)best_len, best, (int)cause_len, cause);
	else
		snprintf(buf, cap, "%.*s", (int)best_len, best ? best : "");
	for (char *p = buf; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return buf[0] ? buf : "no reason given";
}

/* LVM's failure text (LC_ALL=C) as the errno callers expect. */
static int
lvm_fail(const struct lvm_config *cfg, const char *what, const struct lvm_out *o,
	 struct op_error *e)
{
	char why[OP_REASON_MAX];
	const char *r = lvm_reason(o->err, why, sizeof(why));
	int err = EIO;

	if (o->timed_out)
		return op_fail(e, ETIMEDOUT, "%s: lvm did not finish in %u s", what,
			       cfg->timeout_s);
	if (o->status < 0)
		return op_fail(e, EIO, "%s: cannot run %s", what, cfg->path);
	if (strstr(r, "not found") || strstr(r, "Failed to find"))
		return op_fail(e, ENOENT, "%s: %s", what, r);
	if (strstr(r, "already exists"))
		return op_fail(e, EEXIST, "%s: %s", what, r);
	if (strstr(r, "nsufficient free") || strstr(r, "insufficient"))
		err = ENOSPC;
	else if (strstr(r, "in use") || strstr(r, "is open") || strstr(r, "used by another device"))
		err = EBUSY;
	return op_fail(e, err, "%s: %s (lvm exit %d)", what, r, o->status);
}

/* Run argv once: 0 with o filled, or -errno (o freed). */
static int
run_checked(const struct lvm_config *cfg, const char *what, const char *const argv[],
	    struct lvm_out *o, struct op_error *e)
{
	int rc = lvm_run(cfg, argv, 1, o);

	if (rc < 0 || o->status != 0) {
		rc = lvm_fail(cfg, what, o, e);
		lvm_out_free(o);
	}
	return rc;
}

/* The rows of report[0].<key> in a JSON report, or NULL; *root is the caller's to put. */
static json_object *
report_rows(const char *json, const char *key, json_object **root)
{
	json_object *rep, *rows;

	*root = json ? json_tokener_parse(json) : NULL;
	if (!*root || !json_object_object_get_ex(*root, "report", &rep) ||
	    !json_object_is_type(rep, json_type_array) || json_object_array_length(rep) < 1 ||
	    !json_object_object_get_ex(json_object_array_get_idx(rep, 0), key, &rows) ||
	    !json_object_is_type(rows, json_type_array))
		return NULL;
	return rows;
}

static int
field_u64(json_object *row, const char *name, uint64_t *out)
{
	json_object *f;

	return json_object_object_get_ex(row, name, &f) && json_object_is_type(f, json_type_string)
		       ? parse_u64(json_object_get_string(f), 0, UINT64_MAX, out)
		       : -1;
}

static const char *
field_str(json_object *row, const char *name)
{
	json_object *f;

	return json_object_object_get_ex(row, name, &f) ? json_object_get_string(f) : "";
}

/* The one row a report for one object has, or NULL with e set. */
static json_object *
one_row(json_object *rows, const char *what, const char *kind, const char *name, struct op_error *e,
	int *rc)
{
	if (!rows)
		*rc = op_fail(e, EIO, "%s: unexpected lvm report output", what);
	else if (json_object_array_length(rows) != 1)
		*rc = op_fail(e, ENOENT, "%s '%s' not found", kind, name);
	else
		return json_object_array_get_idx(rows, 0);
	return NULL;
}

int
lvm_parse_vg(const char *json, const char *vg, struct vg_info *vi, struct op_error *e)
{
	json_object *root, *row;
	int rc = 0;

	row = one_row(report_rows(json, "vg", &root), "vg_info", "volume group", vg, e, &rc);
	if (row &&
	    (field_u64(row, "vg_size", &vi->size) < 0 || field_u64(row, "vg_free", &vi->free) < 0 ||
	     field_u64(row, "vg_extent_size", &vi->extent_size) < 0))
		rc = op_fail(e, EIO, "vg_info: unexpected lvm report fields");
	json_object_put(root);
	return rc;
}

int
lvm_parse_lv(const char *json, const char *full, struct lv_info *li, struct op_error *e)
{
	json_object *root, *row;
	int rc = 0;

	row = one_row(report_rows(json, "lv", &root), "lv_info", "logical volume", full, e, &rc);
	if (row) {
		snprintf(li->path, sizeof(li->path), "%s", field_str(row, "lv_path"));
		li->active = strcmp(field_str(row, "lv_active"), "active") == 0;
		li->open = strcmp(field_str(row, "lv_device_open"), "open") == 0;
		if (field_u64(row, "lv_size", &li->size) < 0)
			rc = op_fail(e, EIO, "lv_info: unexpected lvm report fields");
	}
	json_object_put(root);
	return rc;
}

int
lvm_parse_names(const char *json, struct lvm_names *ln, struct op_error *e)
{
	json_object *root, *rows = report_rows(json, "lv", &root);
	size_t n = rows ? json_object_array_length(rows) : 0;
	int rc = 0;

	ln->n = 0;
	ln->names = rows ? calloc(n + 1, sizeof(*ln->names)) : NULL;
	if (!rows)
		rc = op_fail(e, EIO, "lv_list: unexpected lvm report output");
	for (size_t k = 0; ln->names && k < n; k++) {
		ln->names[k] = strdup(field_str(json_object_array_get_idx(rows, k), "lv_name"));
		if (!ln->names[k])
			break;
		ln->n++;
	}
	if (rows && ln->n != n) {
		lvm_names_free(ln);
		rc = op_fail(e, ENOMEM, "lv_list: out of memory");
	}
	json_object_put(root);
	return rc;
}

void
lvm_names_free(struct lvm_names *ln)
{
	for (size_t k = 0; k < ln->n; k++)
		free(ln->names[k]);
	free(ln->names);
	ln->names = NULL;
	ln->n = 0;
}

#define REPORT_ARGS "--reportformat", "json", "--units", "b", "--nosuffix", "-o"

int
lvm_vg_info(const struct lvm_config *cfg, const char *vg, struct vg_info *vi, struct op_error *e)
{
	const char *argv[] = { "lvm", "vgs", REPORT_ARGS, "vg_name,vg_size,vg_free,vg_extent_size",
			       "--",  vg,    NULL };
	struct lvm_out o;
	int rc = run_checked(cfg, "vg_info", argv, &o, e);

	if (rc == -ENOENT)
		return op_fail(e, ENOENT, "volume group '%s' not found", vg);
	if (rc == 0)
		rc = lvm_parse_vg(o.out, vg, vi, e);
	lvm_out_free(&o);
	return rc;
}

int
lvm_lv_info(const struct lvm_config *cfg, const char *vg, const char *lv, struct lv_info *li,
	    struct op_error *e)
{
	char full[2 * OP_NAME_CAP + 2];
	const char *argv[] = { "lvm",	    "lvs",
			       REPORT_ARGS, "lv_name,lv_path,lv_size,lv_active,lv_device_open",
			       "--",	    full,
			       NULL };
	struct lvm_out o;
	int rc;

	snprintf(full, sizeof(full), "%s/%s", vg, lv);
	rc = run_checked(cfg, "lv_info", argv, &o, e);
	if (rc == -ENOENT)
		return op_fail(e, ENOENT, "logical volume '%s' not found", full);
	if (rc == 0)
		rc = lvm_parse_lv(o.out, full, li, e);
	lvm_out_free(&o);
	return rc;
}

int
lvm_lv_create(const struct lvm_config *cfg, const char *vg, const char *lv, uint64_t size,
	      struct op_error *e)
{
	char sz[32];
	/* -y: never prompt (Nova bug 2129678: a wipe-signature prompt hung lvcreate). */
	const char *argv[] = { "lvm", "lvcreate", "--yes", "-L", sz, "-n", lv, "--", vg, NULL };
	struct lvm_out o;
	int rc;

	snprintf(sz, sizeof(sz), "%llub", (unsigned long long)size);
	rc = run_checked(cfg, "lv_create", argv, &o, e);
	lvm_out_free(&o);
	return rc;
}

/*
 * lvremove refuses an open LV by itself; that refusal comes back as EBUSY.
 * LVM_REMOVE_ALONE makes LVM itself skip the LV, under its VG lock, if
 * something hangs off it by then: the dependents check before is not enough,
 * as a snapshot made in between would go with it (--yes).
 */
int
lvm_lv_remove(const struct lvm_config *cfg, const char *vg, const char *lv, struct op_error *e)
{
	char full[2 * OP_NAME_CAP + 2];
	const char *argv[] = {
		"lvm", "lvremove", "--yes", "-S", LVM_REMOVE_ALONE, "--", full, NULL
	};
	struct lvm_out o;
	bool active = lvm_lv_node_exists(vg, lv); /* before: the node goes with the LV */
	int rc;

	snprintf(full, sizeof(full), "%s/%s", vg, lv);
	rc = run_checked(cfg, "lv_remove", argv, &o, e);
	lvm_out_free(&o);
	if (rc == -ENOENT)
		return op_fail(e, ENOENT, "logical volume '%s' not found", full);
	if (rc == -EBUSY)
		return op_fail(e, EBUSY,
			       "logical volume '%s' is open (a mapping or a user holds it)", full);
	return rc < 0 ? rc : lvm_lv_gone(cfg, vg, lv, active, e);
}

bool
lvm_lv_node_exists(const char *vg, const char *lv)
{
	char node[2 * OP_NAME_CAP + 8];
	struct stat st;

	snprintf(node, sizeof(node), "/dev/%s/%s", vg, lv);
	return lstat(node, &st) == 0;
}

/*
 * After an lvremove that exited 0: the LV is gone, or why LVM's selection
 * kept it. An active LV's /dev node goes with it, which saves asking LVM.
 */
int
lvm_lv_gone(const struct lvm_config *cfg, const char *vg, const char *lv, bool was_active,
	    struct op_error *e)
{
	int rc;

	if (was_active && !lvm_lv_node_exists(vg, lv))
		return 0;
	rc = lvm_lv_removable(cfg, vg, lv, e);

	if (rc == -ENOENT)
		return 0;
	if (rc == 0)
		return op_fail(e, EBUSY, "logical volume '%s/%s' was not removed", vg, lv);
	return rc;
}

/* lvs's lv_name column for vg; hidden LVs too (bracketed) when all. */
static int
names_report(const struct lvm_config *cfg, const char *vg, bool all, struct lvm_names *ln,
	     struct op_error *e)
{
	/* "-a", or a harmless "--nosuffix" in its place: before "--", never after it. */
	const char *argv[] = { "lvm",
			       "lvs",
			       all ? "-a" : "--nosuffix",
			       "--reportformat",
			       "json",
			       "-o",
			       "lv_name",
			       "--",
			       vg,
			       NULL };
	struct lvm_out o;
	int rc = run_checked(cfg, "lv_list", argv, &o, e);

	ln->names = NULL;
	ln->n = 0;
	if (rc == 0)
		rc = lvm_parse_names(o.out, ln, e);
	lvm_out_free(&o);
	return rc;
}

int
lvm_lv_names(const struct lvm_config *cfg, const char *vg, struct lvm_names *ln, struct op_error *e)
{
	return names_report(cfg, vg, false, ln, e);
}

/* An LV name as a report gives it: hidden ones come in brackets. */
void
lv_bare_name(const char *in, char out[OP_NAME_CAP])
{
	size_t n = strlen(in);

	if (n >= 2 && in[0] == '[' && in[n - 1] == ']')
		snprintf(out, OP_NAME_CAP, "%.*s", (int)(n - 2), in + 1);
	else
		snprintf(out, OP_NAME_CAP, "%s", in);
}

/* The row whose (bare) lv_name is name, or NULL. */
static json_object *
row_named(json_object *rows, const char *name)
{
	char bare[OP_NAME_CAP];

	for (size_t k = 0; k < json_object_array_length(rows); k++) {
		json_object *row = json_object_array_get_idx(rows, k);

		lv_bare_name(field_str(row, "lv_name"), bare);
		if (strcmp(bare, name) == 0)
			return row;
	}
	return NULL;
}

/* The kinds the helper makes: a plain LV, or Nova's sparse snapshot of a virtual (zero) origin. */
static bool
made_kind(json_object *rows, json_object *row)
{
	const char *origin = field_str(row, "origin"), *role = field_str(row, "lv_role");
	char bare[OP_NAME_CAP];
	json_object *o;

	if (strcmp(field_str(row, "segtype"), "linear") != 0 &&
	    strcmp(field_str(row, "segtype"), "striped") != 0)
		return false;
	if (!origin[0])
		return strstr(role, "snapshot") == NULL;
	lv_bare_name(origin, bare);
	o = row_named(rows, bare);
	return o && strcmp(field_str(o, "segtype"), "zero") == 0;
}

/* Names of the LVs that hang off lv (snapshots, thin volumes, a pool's parts), into out. */
static size_t
dependents(json_object *rows, const char *lv, char *out, size_t cap)
{
	static const char *const refs[] = { "origin", "pool_lv", "data_lv", "metadata_lv" };
	char bare[OP_NAME_CAP];
	size_t n = 0, used = 0;

	out[0] = '\0';
	for (size_t k = 0; k < json_object_array_length(rows); k++) {
		json_object *row = json_object_array_get_idx(rows, k);

		for (size_t f = 0; f < sizeof(refs) / sizeof(refs[0]); f++) {
			lv_bare_name(field_str(row, refs[f]), bare);
			if (strcmp(bare, lv) != 0)
				continue;
			if (used < cap)
				used += (size_t)snprintf(out + used, cap - used, "%s'%s'",
							 n ? ", " : "", field_str(row, "lv_name"));
			n++;
			break;
		}
	}
	return n;
}

int
lvm_parse_removable(const char *json, const char *vg, const char *lv, struct op_error *e)
{
	json_object *root, *rows = report_rows(json, "lv", &root), *row;
	char deps[OP_REASON_MAX];
	int rc = 0;

	if (!rows)
		rc = op_fail(e, EIO, "lv_remove: unexpected lvm report output");
	else if (!(row = row_named(rows, lv)))
		rc = op_fail(e, ENOENT, "logical volume '%s/%s' not found", vg, lv);
	else if (dependents(rows, lv, deps, sizeof(deps)))
		rc = op_fail(e, EBUSY,
			     "logical volume '%s/%s' is not removed: %s depend on it and would "
			     "go with it",
			     vg, lv, deps);
	else if (!made_kind(rows, row))
		rc = op_fail(e, EPERM,
			     "logical volume '%s/%s' is a %s LV (role %s, origin '%s'): only plain "
			     "LVs and sparse snapshots of a virtual origin are removed",
			     vg, lv, field_str(row, "segtype"), field_str(row, "lv_role"),
			     field_str(row, "origin"));
	json_object_put(root);
	return rc;
}

int
lvm_lv_removable(const struct lvm_config *cfg, const char *vg, const char *lv, struct op_error *e)
{
	const char *argv[] = { "lvm",
			       "lvs",
			       "-a",
			       "--reportformat",
			       "json",
			       "-o",
			       "lv_name,segtype,origin,pool_lv,data_lv,metadata_lv,lv_role",
			       "--",
			       vg,
			       NULL };
	struct lvm_out o;
	int rc = run_checked(cfg, "lv_remove", argv, &o, e);

	if (rc == 0)
		rc = lvm_parse_removable(o.out, vg, lv, e);
	lvm_out_free(&o);
	return rc;
}

int
lvm_lv_remove_exact(const struct lvm_config *cfg, const char *vg, const char *lv,
		    struct op_error *e)
{
	int rc = lvm_lv_removable(cfg, vg, lv, e);

	return rc < 0 ? rc : lvm_lv_remove(cfg, vg, lv, e);
}

/* Every LV name in vg, hidden ones too (bracketed): what a report may not reveal. */
int
lvm_lv_names_all(const struct lvm_config *cfg, const char *vg, struct lvm_names *ln,
		 struct op_error *e)
{
	return names_report(cfg, vg, true, ln, e);
}

/* What LVM writes, by configuration key (lvm config --typeconfig full prints key="value"). */
static const char *const config_dir_keys[LVM_CONFIG_DIRS] = {
	"backup/backup_dir",
	"backup/archive_dir",
	"global/locking_dir",
};

/* Absolute, plain (no ".", ".." or empty parts) and below a top-level folder: never "/" or "/etc".
 */
static bool
narrow_dir(const char *dir)
{
	int depth = 0;

	if (dir[0] != '/')
		return false;
	for (const char *p = dir; p; p = strchr(p + 1, '/')) {
		size_t n = strcspn(p + 1, "/");

		if (n == 0 || (p[1] == '.' && (n == 1 || (n == 2 && p[2] == '.'))))
			return false;
		depth++;
	}
	return depth >= 2;
}

int
lvm_parse_config_dirs(const char *text, char dirs[LVM_CONFIG_DIRS][PATH_MAX], struct op_error *e)
{
	for (size_t k = 0; k < LVM_CONFIG_DIRS; k++) {
		const char *key = strchr(config_dir_keys[k], '/') + 1, *at = text;
		size_t klen = strlen(key), n;

		while (at && !(strncmp(at + strspn(at, " \t"), key, klen) == 0 &&
			       strncmp(at + strspn(at, " \t") + klen, "=\"", 2) == 0))
			at = (at = strchr(at, '\n')) ? at + 1 : NULL;
		if (!at)
			return op_fail(e, EIO, "lvm config: no %s in LVM's configuration",
				       config_dir_keys[k]);
		at += strspn(at, " \t") + klen + 2;
		n = strcspn(at, "\"\n");
		if (at[n] != '"' || n >= PATH_MAX)
			return op_fail(e, EIO, "lvm config: %s is not a quoted path",
				       config_dir_keys[k]);
		snprintf(dirs[k], PATH_MAX, "%.*s", (int)n, at);
		if (!narrow_dir(dirs[k]))
			return op_fail(e, EPERM,
				       "lvm config: %s '%s' is not a plain absolute path below a "
				       "top-level folder; the helper will not make it writable",
				       config_dir_keys[k], dirs[k]);
	}
	return 0;
}

int
lvm_config_dirs(const struct lvm_config *cfg, char dirs[LVM_CONFIG_DIRS][PATH_MAX],
		struct op_error *e)
{
	const char *argv[] = { "lvm",
			       "config",
			       "--typeconfig",
			       "full",
			       config_dir_keys[0],
			       config_dir_keys[1],
			       config_dir_keys[2],
			       NULL };
	struct lvm_out o;
	int rc = run_checked(cfg, "lvm config", argv, &o, e);

	if (rc == 0)
		rc = lvm_parse_config_dirs(o.out ? o.out : "", dirs, e);
	lvm_out_free(&o);
	return rc;
}
