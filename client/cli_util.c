/* SPDX-License-Identifier: Apache-2.0 */
/* The CLI's plumbing: exit codes, error lines, the helper and Barbican set-up, progress. */
#include <err.h>
#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ephcrypt%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ephcrypt %s%s--help'.\n", cmd ? cmd : "", cmd ? " " : "");
	return EXIT_USAGE;
}

int
cli_exit_code(const struct ephcrypt_error *e, bool from_helper)
{
	switch (e->status) {
	case EPHCRYPT_OK: return EXIT_OK;
	case EPHCRYPT_E_USAGE: return from_helper ? EXIT_HELPER : EXIT_USAGE;
	case EPHCRYPT_E_AUTH:
	case EPHCRYPT_E_FORBIDDEN: return EXIT_AUTH;
	case EPHCRYPT_E_NOT_FOUND: return EXIT_NOTFOUND;
	case EPHCRYPT_E_REFUSED: return EXIT_REFUSED;
	case EPHCRYPT_E_HELPER:
	case EPHCRYPT_E_CHANNEL: return EXIT_HELPER;
	case EPHCRYPT_E_TIMEOUT: return from_helper ? EXIT_HELPER : EXIT_KEYMGR;
	case EPHCRYPT_E_NETWORK:
	case EPHCRYPT_E_SERVER: return EXIT_KEYMGR;
	case EPHCRYPT_E_KEY:
	case EPHCRYPT_E_SYSTEM: return EXIT_FAIL;
	default: return EXIT_FAIL;
	}
}

/* One error line (and a JSON object on stdout with --json); the exit code for it. */
int
cli_fail(const struct cli *c, const struct ephcrypt_error *e, bool from_helper)
{
	int code = cli_exit_code(e, from_helper);

	if (e->exc_class[0])
		fprintf(stderr, "ephcrypt: %s (%s)\n", e->message, e->exc_class);
	else
		fprintf(stderr, "ephcrypt: %s\n", e->message);
	if (c->json) {
		printf("{\"error\": ");
		cli_json_str(stdout, ephcrypt_status_name(e->status));
		printf(", \"message\": ");
		cli_json_str(stdout, e->message);
		printf(", \"http_status\": %ld, \"exception\": ", e->http_status);
		cli_json_str(stdout, e->exc_class);
		printf(", \"errno\": %d, \"exit\": %d}\n", e->errnum, code);
	}
	return code;
}

void
cli_json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

/* No core dumps and no ptrace by other users' tools: this process holds keys. */
void
cli_harden(void)
{
	struct rlimit none = { 0, 0 };

	setrlimit(RLIMIT_CORE, &none);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

static int
drop_to(const struct passwd *pw, struct ephcrypt_error *e)
{
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		e->status = EPHCRYPT_E_SYSTEM;
		snprintf(e->message, sizeof(e->message), "dropping to %s: %s", pw->pw_name,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* --helper "CMD ARGS" (or $EPHCRYPT_HELPER, or the default), then each --helper-arg. */
static int
helper_argv(const struct cli *c, char *copy, size_t cap, char **argv, size_t max)
{
	const char *cmd = c->helper_cmd ? c->helper_cmd : getenv("EPHCRYPT_HELPER");
	char *save = NULL;
	size_t n = 0;

	if (!cmd || !*cmd)
		cmd = EPHCRYPT_DEFAULT_HELPER;
	if (strlen(cmd) >= cap)
		return -1;
	strcpy(copy, cmd);
	for (char *w = strtok_r(copy, " \t", &save); w && n + 1 < max;
	     w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	for (int k = 0; k < c->nhelper_args && n + 1 < max; k++)
		argv[n++] = (char *)c->helper_args[k];
	argv[n] = NULL;
	return n ? 0 : -1;
}

int
cli_open_helper(struct cli *c, struct ephcrypt_helper **h)
{
	char copy[1024], *argv[MAX_HELPER_ARGS + 40];
	struct ephcrypt_error e = { .status = EPHCRYPT_OK };
	struct passwd *pw = NULL;

	if (c->as_user && !(pw = getpwnam(c->as_user)))
		return cli_usage_error(NULL, "--as-user: no user '%s'", c->as_user);
	if (helper_argv(c, copy, sizeof(copy), argv, sizeof(argv) / sizeof(argv[0])) < 0)
		return cli_usage_error(NULL, "--helper: empty or too long");
	if (ephcrypt_helper_spawn_argv(h, argv, pw ? pw->pw_uid : (uid_t)-1,
				       pw ? pw->pw_gid : (gid_t)-1, &e) < 0)
		return cli_fail(c, &e, true);
	/* The helper keeps its privileges; this side speaks unprivileged. */
	if (pw && drop_to(pw, &e) < 0) {
		ephcrypt_helper_close(*h);
		return cli_fail(c, &e, false);
	}
	if (c->timeout_ms)
		ephcrypt_helper_set_timeout(*h, c->timeout_ms);
	ephcrypt_helper_set_context(*h, c->request_id, NULL);
	return 0;
}

/* Close the channel; a helper that exited badly turns success into a helper failure. */
int
cli_close_helper(struct ephcrypt_helper *h, int rc)
{
	int status = ephcrypt_helper_close(h);

	if (status == 0)
		return rc;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		fprintf(stderr,
			"ephcrypt: the helper command could not be run (exit 127: not found?)\n");
	else if (rc == 0 || rc == EXIT_HELPER)
		fprintf(stderr, "ephcrypt: the helper exited with status %d\n",
			WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return rc ? rc : EXIT_HELPER;
}

static void
on_retry(void *arg, unsigned attempt, unsigned delay_ms, const char *why)
{
	const struct cli *c = arg;

	if (!c->quiet)
		fprintf(stderr, "ephcrypt: %s; retry %u in %.1f s\n", why, attempt,
			delay_ms / 1000.0);
}

/* clouds.yaml (--os-cloud / OS_CLOUD), then OS_* variables, then --os-* options. */
int
cli_open_barbican(struct cli *c, struct ephcrypt_barbican **b)
{
	struct ephcrypt_os_config cfg;
	struct ephcrypt_error e = { .status = EPHCRYPT_OK };
	const char *cloud = getenv("OS_CLOUD");
	int rc = 0;

	memset(&cfg, 0, sizeof(cfg));
	for (int k = 0; k < c->nos; k++)
		if (strcmp(c->os_keys[k], "os-cloud") == 0)
			cloud = c->os_values[k];
	if (cloud && *cloud && ephcrypt_os_config_load_cloud(&cfg, cloud, &e) < 0)
		rc = cli_fail(c, &e, false);
	ephcrypt_os_config_from_env(&cfg);
	for (int k = 0; rc == 0 && k < c->nos; k++)
		if (ephcrypt_os_config_set(&cfg, c->os_keys[k], c->os_values[k]) < 0)
			rc = cli_usage_error(NULL, "--%s: bad value '%s'", c->os_keys[k],
					     c->os_values[k]);
	if (rc == 0 && ephcrypt_barbican_open(&cfg, b, &e) < 0)
		rc = cli_fail(c, &e, false);
	if (rc == 0)
		ephcrypt_barbican_on_retry(*b, on_retry, c);
	ephcrypt_os_config_clear(&cfg);
	return rc;
}

/* ---- a progress line on a terminal, for anything that takes over a second ---- */

static struct {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool running, stop, shown;
	const char *what;
} progress = { .lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER };

static void *
progress_main(void *arg)
{
	struct timespec t0, until;
	(void)arg;

	clock_gettime(CLOCK_REALTIME, &t0);
	pthread_mutex_lock(&progress.lock);
	for (long s = 1; !progress.stop; s++) {
		until = t0;
		until.tv_sec += s;
		while (!progress.stop &&
		       pthread_cond_timedwait(&progress.cond, &progress.lock, &until) == 0)
			;
		if (progress.stop)
			break;
		fprintf(stderr, "\r%s... %lds", progress.what, s);
		progress.shown = true;
	}
	pthread_mutex_unlock(&progress.lock);
	return NULL;
}

void
cli_progress_start(const char *what)
{
	if (progress.running || !isatty(STDERR_FILENO))
		return;
	progress.what = what;
	progress.stop = progress.shown = false;
	progress.running = pthread_create(&progress.thread, NULL, progress_main, NULL) == 0;
}

void
cli_progress_stop(void)
{
	if (!progress.running)
		return;
	pthread_mutex_lock(&progress.lock);
	progress.stop = true;
	pthread_cond_signal(&progress.cond);
	pthread_mutex_unlock(&progress.lock);
	pthread_join(progress.thread, NULL);
	progress.running = false;
	if (progress.shown)
		fprintf(stderr, "\r\033[K");
}
