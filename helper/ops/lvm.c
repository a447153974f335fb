/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LVM through its command-line tool, the supported programmatic interface
 * (liblvm2app is gone): exec by absolute path, fixed argv, a minimal
 * environment, no inherited descriptors, a time limit, and JSON reports read
 * with json-c instead of parsing text.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json.h>
#include <libdevmapper.h>

#include "../../policy/number.h"
#include "../storage.h"

#define OUT_CAP (1u << 20)

extern char **environ;

/* LC_ALL=C keeps messages stable; LVM_SYSTEM_DIR is passed on when the deployer set it. */
static void
make_env(char *env[4], char sysdir[300])
{
	const char *dir = getenv("LVM_SYSTEM_DIR");
	int n = 0;

	env[n++] = "LC_ALL=C";
	env[n++] = "LVM_SUPPRESS_FD_WARNINGS=1";
	if (dir && strlen(dir) < 270 && dir[0] == '/') {
		snprintf(sysdir, 300, "LVM_SYSTEM_DIR=%s", dir);
		env[n++] = sysdir;
	}
	env[n] = NULL;
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
	if (*len + (size_t)n < OUT_CAP) { /* past the cap, output is dropped */
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

static void
collect(struct lvm_out *o, int outfd, int errfd, unsigned timeout_s, pid_t pid)
{
	struct pollfd pfd[2] = { { .fd = outfd, .events = POLLIN }, { .fd = errfd, .events = POLLIN } };
	struct timespec deadline;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_s;
	while (pfd[0].fd >= 0 || pfd[1].fd >= 0) {
		long left = ms_left(&deadline);

		if (left <= 0) {
			kill(pid, SIGKILL);
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

/* Run the configured lvm binary with argv (argv[0] is "lvm"); never a shell. */
static int
lvm_run(const struct options *opt, const char *const argv[], struct lvm_out *o)
{
	char *env[4], sysdir[300];
	int op[2], ep[2], status;
	pid_t pid;

	memset(o, 0, sizeof(*o));
	o->status = -1;
	make_env(env, sysdir);
	if (pipe2(op, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		close(op[0]), close(op[1]);
		return -1;
	}
	pid = fork();
	if (pid == 0)
		child(opt->lvm_path, argv, env, op[1], ep[1]);
	close(op[1]), close(ep[1]);
	if (pid > 0)
		collect(o, op[0], ep[0], opt->lvm_timeout, pid);
	close(op[0]), close(ep[0]);
	if (pid < 0)
		return -1;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	o->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	return 0;
}

/* Nova's daemon retried these (bug 1931710: vgs/lvs fail now and then with -11). */
int
lvm_run_retry(const struct options *opt, const char *const argv[], int attempts,
	      struct lvm_out *o)
{
	for (int k = 1;; k++) {
		struct timespec pause = { 0, 200 * 1000 * 1000 };

		if (lvm_run(opt, argv, o) < 0)
			return -1;
		if (o->status == 0 || k >= attempts || o->timed_out)
			return 0;
		lvm_out_free(o);
		nanosleep(&pause, NULL);
	}
}

void
lvm_out_free(struct lvm_out *o)
{
	free(o->out);
	free(o->err);
	o->out = o->err = NULL;
}

/*
 * LVM's own reason: the last line it printed on stderr that is not a warning
 * (every activation warns that setpriority failed: no CAP_SYS_NICE here).
 */
static const char *
reason(const struct lvm_out *o, char *buf, size_t cap)
{
	const char *s = o->err ? o->err : "", *best = NULL, *line = s;
	size_t best_len = 0;

	while (*line) {
		const char *end = strchr(line, '\n'), *text = line + strspn(line, " ");
		size_t len = end ? (size_t)(end - text) : strlen(text);

		if (len && strncmp(text, "WARNING:", 8) != 0)
			best = text, best_len = len;
		if (!end)
			break;
		line = end + 1;
	}
	snprintf(buf, cap, "%.*s", (int)best_len, best ? best : "");
	for (char *p = buf; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			*p = ' ';
	return buf[0] ? buf : "no reason given";
}

/* Map LVM's failure text (LC_ALL=C) to the errno classes callers expect. */
static int
fail_from_lvm(struct call *c, const char *what, const struct lvm_out *o)
{
	char why[400];
	const char *r = reason(o, why, sizeof(why));
	int e = EIO;

	if (o->timed_out)
		return call_fail(c, EXC_OS, ETIMEDOUT, "%s: lvm did not finish in %u s", what,
				 c->opt->lvm_timeout);
	if (o->status < 0)
		return call_fail(c, EXC_OS, EIO, "%s: cannot run %s", what, c->opt->lvm_path);
	if (strstr(r, "not found") || strstr(r, "Failed to find"))
		return call_fail(c, EXC_NOENT, ENOENT, "%s: %s", what, r);
	if (strstr(r, "already exists"))
		return call_fail(c, EXC_EXIST, EEXIST, "%s: %s", what, r);
	if (strstr(r, "nsufficient free") || strstr(r, "insufficient"))
		e = ENOSPC;
	else if (strstr(r, "in use") || strstr(r, "is open") || strstr(r, "used by another device"))
		e = EBUSY;
	return call_fail(c, EXC_OS, e, "%s: %s (lvm exit %d)", what, r, o->status);
}

/* Run a report and return the first row of report[0].<key>, or NULL (error set). */
static json_object *
report_rows(struct call *c, const char *what, const char *const argv[], const char *key,
	    struct lvm_out *o, json_object **root)
{
	json_object *rep, *rows;

	*root = NULL;
	if (lvm_run(c->opt, argv, o) < 0 || o->status != 0) {
		fail_from_lvm(c, what, o);
		return NULL;
	}
	*root = o->out ? json_tokener_parse(o->out) : NULL;
	if (!*root || !json_object_object_get_ex(*root, "report", &rep) ||
	    !json_object_is_type(rep, json_type_array) || json_object_array_length(rep) < 1 ||
	    !json_object_object_get_ex(json_object_array_get_idx(rep, 0), key, &rows) ||
	    !json_object_is_type(rows, json_type_array)) {
		call_fail(c, EXC_OS, EIO, "%s: unexpected lvm report output", what);
		return NULL;
	}
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

int
lvm_vg_info(struct call *c, const char *vg, struct vg_info *vi)
{
	const char *argv[] = { "lvm", "vgs", "--reportformat", "json", "--units", "b", "--nosuffix",
			       "-o", "vg_name,vg_size,vg_free,vg_extent_size", "--", vg, NULL };
	struct lvm_out o;
	json_object *root, *rows = report_rows(c, "vg_info", argv, "vg", &o, &root);
	int rc = -1;

	if ((rows && json_object_array_length(rows) != 1) || (!rows && c->err.errnum == ENOENT))
		call_fail(c, EXC_NOENT, ENOENT, "volume group '%s' not found", vg);
	else if (rows) {
		json_object *row = json_object_array_get_idx(rows, 0);
		rc = field_u64(row, "vg_size", &vi->size) | field_u64(row, "vg_free", &vi->free) |
		     field_u64(row, "vg_extent_size", &vi->extent_size);
		if (rc)
			call_fail(c, EXC_OS, EIO, "vg_info: unexpected lvm report fields");
	}
	json_object_put(root);
	lvm_out_free(&o);
	return rc ? -1 : 0;
}

int
lvm_lv_info(struct call *c, const char *vg, const char *lv, struct lv_info *li)
{
	char full[2 * NAME_MAX_LVM + 2];
	const char *argv[] = { "lvm", "lvs", "--reportformat", "json", "--units", "b", "--nosuffix",
			       "-o", "lv_name,lv_path,lv_size,lv_active,lv_device_open", "--", full,
			       NULL };
	struct lvm_out o;
	json_object *root, *rows;
	int rc = -1;

	snprintf(full, sizeof(full), "%s/%s", vg, lv);
	rows = report_rows(c, "lv_info", argv, "lv", &o, &root);
	if ((rows && json_object_array_length(rows) != 1) || (!rows && c->err.errnum == ENOENT))
		call_fail(c, EXC_NOENT, ENOENT, "logical volume '%s' not found", full);
	else if (rows) {
		json_object *row = json_object_array_get_idx(rows, 0);
		snprintf(li->path, sizeof(li->path), "%s", field_str(row, "lv_path"));
		li->active = strcmp(field_str(row, "lv_active"), "active") == 0;
		li->open = strcmp(field_str(row, "lv_device_open"), "open") == 0;
		rc = field_u64(row, "lv_size", &li->size);
		if (rc)
			call_fail(c, EXC_OS, EIO, "lv_info: unexpected lvm report fields");
	}
	json_object_put(root);
	lvm_out_free(&o);
	return rc ? -1 : 0;
}

int
lvm_lv_create(struct call *c, const char *vg, const char *lv, uint64_t size)
{
	char sz[32];
	/* -y: never prompt (Nova bug 2129678: a wipe-signature prompt hung lvcreate). */
	const char *argv[] = { "lvm", "lvcreate", "--yes", "-L", sz, "-n", lv, "--", vg, NULL };
	struct lvm_out o;
	int rc = 0;

	snprintf(sz, sizeof(sz), "%llub", (unsigned long long)size);
	if (lvm_run(c->opt, argv, &o) < 0 || o.status != 0)
		rc = fail_from_lvm(c, "lv_create", &o);
	lvm_out_free(&o);
	return rc;
}

int
lvm_lv_remove(struct call *c, const char *vg, const char *lv)
{
	char full[2 * NAME_MAX_LVM + 2];
	const char *argv[] = { "lvm", "lvremove", "--yes", "--", full, NULL };
	struct lvm_out o;
	int rc = 0;

	snprintf(full, sizeof(full), "%s/%s", vg, lv);
	if (lvm_run(c->opt, argv, &o) < 0 || o.status != 0)
		rc = fail_from_lvm(c, "lv_remove", &o);
	lvm_out_free(&o);
	if (rc < 0 && c->err.errnum == ENOENT)
		call_fail(c, EXC_NOENT, ENOENT, "logical volume '%s' not found", full);
	else if (rc < 0 && c->err.errnum == EBUSY)
		call_fail(c, EXC_OS, EBUSY, "logical volume '%s' is open (a mapping or a user holds it)",
			  full);
	return rc;
}

/* Encodes the names the policy lets this caller see (policy_visible decides). */
int
lvm_lv_list(struct call *c, const char *vg)
{
	const char *argv[] = { "lvm", "lvs", "--reportformat", "json", "-o", "lv_name", "--", vg,
			       NULL };
	struct lvm_out o;
	json_object *root, *rows = report_rows(c, "lv_list", argv, "lv", &o, &root);
	size_t n = rows ? json_object_array_length(rows) : 0, shown = 0;
	const char **names = rows ? calloc(n + 1, sizeof(*names)) : NULL;
	int rc = rows && names ? 0 : -1;

	for (size_t k = 0; rc == 0 && k < n; k++) {
		const char *name = field_str(json_object_array_get_idx(rows, k), "lv_name");
		if (guard_lv_visible(c, vg, name))
			names[shown++] = name;
	}
	if (rc == 0) {
		mp_put_array(c->ret, (uint32_t)shown);
		for (size_t k = 0; k < shown; k++)
			mp_put_str(c->ret, names[k]);
	} else if (rows)
		call_fail(c, EXC_OS, ENOMEM, "lv_list: out of memory");
	free(names);
	json_object_put(root);
	lvm_out_free(&o);
	return rc;
}

/* "vg-lv" with '-' doubled inside names; a third part is a hidden layer. */
static int
split_dm_lvm_name(const char *dm, char vg[NAME_MAX_LVM], char lv[NAME_MAX_LVM])
{
	char *dst = vg;
	size_t n = 0;
	int part = 0;

	for (const char *p = dm; *p; p++) {
		if (*p == '-' && p[1] == '-')
			p++;
		else if (*p == '-') {
			if (++part > 1)
				return -1;
			dst[n] = '\0';
			dst = lv, n = 0;
			continue;
		}
		if (n + 1 >= NAME_MAX_LVM)
			return -1;
		dst[n++] = *p;
	}
	dst[n] = '\0';
	return part == 1 && vg[0] && lv[0] ? 0 : -1;
}

int
lvm_resolve_device(struct call *c, const char *device, char vg[NAME_MAX_LVM],
		   char lv[NAME_MAX_LVM])
{
	char real[PATH_MAX], dmname[2 * NAME_MAX_LVM + 8];
	struct stat st, node;

	if (!realpath(device, real) || stat(real, &st) < 0)
		return call_fail(c, EXC_NOENT, ENOENT, "device '%s' does not exist", device);
	if (!S_ISBLK(st.st_mode))
		return call_fail(c, EXC_PERM, EPERM, "device '%s' is not a block device", device);
	/* Ask the kernel what this block device is: only LVM's dm devices qualify. */
	if (dm_lvm_name_of(major(st.st_rdev), minor(st.st_rdev), dmname, sizeof(dmname)) < 0 ||
	    split_dm_lvm_name(dmname, vg, lv) < 0)
		return call_fail(c, EXC_PERM, EPERM,
				 "device '%s' (%s) is not an LVM logical volume", device, real);
	/*
	 * The caller's path may be a link it can swap once checked: operations
	 * use the device's own /dev/mapper node, which only root can change,
	 * after confirming it is the device that was checked.
	 */
	snprintf(c->t.node, sizeof(c->t.node), "/dev/mapper/%s", dmname);
	if (stat(c->t.node, &node) < 0 || !S_ISBLK(node.st_mode) || node.st_rdev != st.st_rdev)
		return call_fail(c, EXC_PERM, EPERM, "device '%s' changed while it was checked",
				 device);
	return 0;
}
