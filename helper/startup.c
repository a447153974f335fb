/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pwd.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "../policy/number.h"
#include "startup.h"

#define PROG	     "ephcrypt-helper"
#define LOG_LINE_MAX 2048
#define HELP_MAX     (64u << 10) /* cryptsetup --help is about 6 KiB */

extern char **environ;

/* Set by the one who runs a command for someone else, and never by the caller. */
static const char *const behalf_vars[] = { "SUDO_USER", "SUDO_UID",  "SUDO_COMMAND",
					   "SUDO_GID",	"DOAS_USER", "PKEXEC_UID" };

bool
startup_on_behalf(char *who, size_t cap)
{
	for (size_t k = 0; k < sizeof(behalf_vars) / sizeof(behalf_vars[0]); k++) {
		const char *v = getenv(behalf_vars[k]);

		if (v) {
			snprintf(who, cap, "%s (%s=%.64s)",
				 k < 4	 ? "sudo"
				 : k < 5 ? "doas"
					 : "pkexec",
				 behalf_vars[k], v);
			return true;
		}
	}
	if (getauxval(AT_SECURE)) {
		snprintf(who, cap, "a set-id or file-capability exec (AT_SECURE)");
		return true;
	}
	if (getuid() != 0) {
		snprintf(who, cap, "uid %u, not root", (unsigned)getuid());
		return true;
	}
	return false;
}

/* The uid the helper was started for, and the variable that says so; -1 if unknown. */
static int
invoker(uid_t *uid, const char **from)
{
	const char *v;
	struct passwd *pw;
	uint64_t n;

	if ((v = getenv("SUDO_UID")) != NULL || (v = getenv("PKEXEC_UID")) != NULL) {
		*from = getenv("SUDO_UID") ? "SUDO_UID" : "PKEXEC_UID";
		if (parse_u64(v, 0, (uid_t)-2, &n) < 0)
			return -1;
		*uid = (uid_t)n;
		return 0;
	}
	if ((v = getenv("DOAS_USER")) != NULL) {
		*from = "DOAS_USER";
		if (!(pw = getpwnam(v)))
			return -1;
		*uid = pw->pw_uid;
		return 0;
	}
	*from = "the real uid";
	*uid = getuid();
	return 0;
}

int
startup_check_peer(uid_t peer, char *why, size_t cap)
{
	const char *from = "";
	char who[160];
	uid_t uid;

	if (!startup_on_behalf(who, sizeof(who)))
		return 0;
	if (invoker(&uid, &from) < 0) {
		snprintf(why, cap, "started by %s, but %s names no user", who, from);
		return -1;
	}
	if (peer == uid)
		return 0;
	snprintf(why, cap,
		 "the channel's peer is uid %u, not uid %u (%s) that %s ran the helper for",
		 (unsigned)peer, (unsigned)uid, from, who);
	return -1;
}

/* --- the start-up error log ---------------------------------------------- */

static FILE *real_stderr, *log_tee;
static char pending[LOG_LINE_MAX];
static size_t npending;

static void
flush_line(void)
{
	size_t plen = strlen(PROG ": ");
	bool prefixed = npending >= plen && memcmp(pending, PROG ": ", plen) == 0;

	pending[npending] = '\0';
	fprintf(real_stderr, "%s%s\n", prefixed ? "" : PROG ": ", pending);
	fflush(real_stderr);
	/* syslog's tag already names the program. */
	syslog(LOG_ERR, "%s", pending + (prefixed ? plen : 0));
	npending = 0;
}

static ssize_t
tee_write(void *cookie, const char *buf, size_t size)
{
	(void)cookie;
	for (size_t k = 0; k < size; k++) {
		if (buf[k] == '\n' || npending == sizeof(pending) - 1)
			flush_line();
		if (buf[k] != '\n')
			pending[npending++] = buf[k];
	}
	return (ssize_t)size;
}

void
startup_log_begin(void)
{
	cookie_io_functions_t io = { .write = tee_write };

	/* authpriv, as the audit summaries: root-only files, one rule for both. */
	openlog(PROG, LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
	log_tee = fopencookie(NULL, "w", io);
	if (!log_tee)
		return; /* plain standard error, then */
	setvbuf(log_tee, NULL, _IONBF, 0);
	real_stderr = stderr;
	stderr = log_tee;
}

void
startup_log_end(void)
{
	if (!log_tee)
		return;
	if (npending)
		flush_line();
	stderr = real_stderr;
	fclose(log_tee);
	log_tee = NULL;
}

/* --- the host's cryptsetup default --------------------------------------- */

/* Run argv with its standard output in buf (NUL-terminated). */
static int
capture(char *const argv[], char *buf, size_t cap, char *why, size_t whylen)
{
	posix_spawn_file_actions_t fa;
	int pfd[2], status, rc;
	size_t n = 0;
	ssize_t k;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(why, whylen, "pipe: %s", strerror(errno));
		return -1;
	}
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, pfd[1], 1);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	close(pfd[1]);
	if (rc != 0) {
		close(pfd[0]);
		snprintf(why, whylen, "cannot run %s: %s", argv[0], strerror(rc));
		return -1;
	}
	while (n + 1 < cap &&
	       ((k = read(pfd[0], buf + n, cap - 1 - n)) > 0 || (k < 0 && errno == EINTR)))
		n += k > 0 ? (size_t)k : 0;
	buf[n] = '\0';
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return 0;
}

int
startup_plain_hash(char *hash, size_t cap, char *why, size_t whylen)
{
	char *const argv[] = { "cryptsetup", "--help", NULL };
	char *help = malloc(HELP_MAX), *plain, *at;
	int rc = -1;

	if (!help) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	if (capture(argv, help, HELP_MAX, why, whylen) == 0) {
		/* "\tplain: aes-cbc-essiv:sha256, Key: 256 bits, Password hashing: ripemd160" */
		plain = strstr(help, "\tplain:");
		at = plain ? strstr(plain, "Password hashing: ") : NULL;
		if (at && memchr(plain, '\n', (size_t)(at - plain)) == NULL) {
			at += strlen("Password hashing: ");
			snprintf(hash, cap, "%.*s", (int)strcspn(at, " ,\n"), at);
			rc = 0;
		} else {
			snprintf(why, whylen,
				 "'cryptsetup --help' names no plain-mode password hash");
		}
	}
	free(help);
	return rc;
}
