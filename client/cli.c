/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ephcrypt-client: start the helper over a socketpair and make one call.
 *   ephcrypt-client [--helper PATH] [--helper-arg ARG]... [--as-user USER] call NAME [ARG...]
 *   ephcrypt-client ... ping | bench N
 * ARG: s:TEXT  i:NUMBER  true  false  nil  key:FILE (raw bytes, never printed)
 *      map:K=ARG,K=ARG (a dict; values without commas)
 *      NAME=ARG for a keyword argument.
 */
#include <err.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "client.h"

#define MAX_HELPER_ARGS 32

static void
put_key_file(struct mp_buf *b, const char *path)
{
	uint8_t key[1024];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, key, sizeof(key));

	if (n <= 0)
		err(2, "key file %s", path);
	close(fd);
	mp_put_bin(b, key, (size_t)n);
	explicit_bzero(key, sizeof(key));
}

static void put_arg(struct mp_buf *b, const char *a);

/* map:K=ARG,K=ARG */
static void
put_map(struct mp_buf *b, const char *spec)
{
	char copy[1024], *save = NULL;
	uint32_t n = spec[0] ? 1 : 0;

	if (strlen(spec) >= sizeof(copy))
		errx(2, "map argument too long");
	for (const char *p = spec; *p; p++)
		n += *p == ',';
	mp_put_map(b, n);
	strcpy(copy, spec);
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			errx(2, "map entry '%s' is not K=ARG", kv);
		mp_put_strn(b, kv, (size_t)(eq - kv));
		put_arg(b, eq + 1);
	}
}

/* NAME=ARG: a keyword if NAME is an identifier and '=' comes before any ':'. */
static const char *
keyword_value(const char *a)
{
	size_t n = strspn(a, "abcdefghijklmnopqrstuvwxyz_0123456789");

	return n > 0 && a[n] == '=' ? a + n + 1 : NULL;
}

static void
put_arg(struct mp_buf *b, const char *a)
{
	char *end;

	if (strncmp(a, "map:", 4) == 0)
		put_map(b, a + 4);
	else if (strncmp(a, "s:", 2) == 0)
		mp_put_str(b, a + 2);
	else if (strncmp(a, "i:", 2) == 0) {
		long long v = strtoll(a + 2, &end, 10);
		if (*end || end == a + 2)
			errx(2, "bad integer argument '%s'", a);
		if (v < 0)
			mp_put_int(b, v);
		else
			mp_put_uint(b, (uint64_t)v);
	} else if (strncmp(a, "key:", 4) == 0)
		put_key_file(b, a + 4);
	else if (strcmp(a, "true") == 0 || strcmp(a, "false") == 0)
		mp_put_bool(b, a[0] == 't');
	else if (strcmp(a, "nil") == 0)
		mp_put_nil(b);
	else
		errx(2, "argument '%s': use s:TEXT, i:N, key:FILE, true, false or nil", a);
}

static void
print_value(FILE *f, const struct mp_value *v)
{
	switch (v->type) {
	case MP_NIL: fprintf(f, "null"); break;
	case MP_BOOL: fprintf(f, v->v.b ? "true" : "false"); break;
	case MP_INT: fprintf(f, "%lld", (long long)v->v.i); break;
	case MP_UINT: fprintf(f, "%llu", (unsigned long long)v->v.u); break;
	case MP_FLOAT: fprintf(f, "%g", v->v.f); break;
	case MP_STR:
		fputc('"', f);
		for (uint32_t k = 0; k < v->len; k++) {
			unsigned char ch = v->v.bytes[k];
			if (ch == '"' || ch == '\\')
				fprintf(f, "\\%c", ch);
			else if (ch < 0x20 || ch >= 0x7f)
				fprintf(f, "\\u%04x", ch);
			else
				fputc(ch, f);
		}
		fputc('"', f);
		break;
	case MP_BIN: fprintf(f, "\"<%u bytes>\"", v->len); break;
	case MP_ARRAY:
	case MP_MAP: {
		bool map = v->type == MP_MAP;
		fputc(map ? '{' : '[', f);
		for (uint32_t k = 0; k < v->len; k++) {
			if (k)
				fprintf(f, ", ");
			print_value(f, &v->v.items[map ? 2 * k : k]);
			if (map) {
				fprintf(f, ": ");
				print_value(f, &v->v.items[2 * k + 1]);
			}
		}
		fputc(map ? '}' : ']', f);
		break;
	}
	default: fprintf(f, "?");
	}
}

static void
drop_to(const struct passwd *pw)
{
	if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
		err(2, "dropping to %s", pw->pw_name);
}

static int
do_call(struct ec_client *c, int argc, char **argv)
{
	struct mp_buf args, kwargs;
	struct ec_reply r;
	int nargs = 0, nkw = 0, rc = 0;
	char msg[1024];

	mp_buf_init(&args, 1u << 20);
	mp_buf_init(&kwargs, 1u << 20);
	for (int k = 1; k < argc; k++)
		keyword_value(argv[k]) ? nkw++ : nargs++;
	mp_put_array(&args, (uint32_t)nargs);
	mp_put_map(&kwargs, (uint32_t)nkw);
	for (int k = 1; k < argc; k++) {
		const char *val = keyword_value(argv[k]);
		if (val) {
			mp_put_strn(&kwargs, argv[k], (size_t)(val - 1 - argv[k]));
			put_arg(&kwargs, val);
		} else
			put_arg(&args, argv[k]);
	}
	if (ec_call_raw(c, argv[0], args.data, args.len, kwargs.data, kwargs.len, &r) < 0)
		errx(1, "%s", c->err);
	if (r.ok) {
		print_value(stdout, r.value);
		putchar('\n');
	} else {
		fprintf(stderr, "error: %s: %s", r.exc, ec_reply_message(&r, msg, sizeof(msg)));
		if (r.exc_args && r.exc_args->len > 1) { /* errno, or stdout/stderr/exit/cmd */
			fprintf(stderr, " ");
			print_value(stderr, r.exc_args);
		}
		fprintf(stderr, "\n");
		rc = 1;
	}
	ec_reply_free(&r);
	mp_buf_free(&args);
	mp_buf_free(&kwargs);
	return rc;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Round trips of ephcrypt.version: p50 and p99 in microseconds. */
static int
do_bench(struct ec_client *c, const char *count)
{
	static const uint8_t empty_args[] = { 0x90 }, empty_kwargs[] = { 0x80 };
	long n = strtol(count, NULL, 10);
	uint64_t *ns;

	if (n < 10 || n > 10000000)
		errx(2, "bench: count must be 10..10000000");
	ns = calloc((size_t)n, sizeof(*ns));
	for (long k = 0; k < n; k++) {
		struct timespec t0, t1;
		struct ec_reply r;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (ec_call_raw(c, "ephcrypt.version", empty_args, 1, empty_kwargs, 1, &r) < 0 || !r.ok)
			errx(1, "bench call failed: %s", c->err);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ec_reply_free(&r);
		ns[k] = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u + (uint64_t)(t1.tv_nsec - t0.tv_nsec);
	}
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	printf("{\"calls\": %ld, \"p50_us\": %.2f, \"p99_us\": %.2f}\n", n, ns[n / 2] / 1e3,
	       ns[n * 99 / 100] / 1e3);
	free(ns);
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "helper", required_argument, NULL, 'H' },
		{ "helper-arg", required_argument, NULL, 'a' },
		{ "as-user", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	char *helper_argv[MAX_HELPER_ARGS + 2] = { "/usr/local/sbin/ephcrypt-helper" };
	const char *as_user = NULL;
	struct passwd *pw;
	struct ec_client c;
	int nha = 1, ch, rc;

	while ((ch = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (ch == 'H')
			helper_argv[0] = optarg;
		else if (ch == 'a' && nha < MAX_HELPER_ARGS)
			helper_argv[nha++] = optarg;
		else if (ch == 'u')
			as_user = optarg;
		else
			errx(2, "usage: ephcrypt-client [--helper PATH] [--helper-arg A]... [--as-user U] call NAME [ARG...] | ping | bench N");
	}
	argc -= optind, argv += optind;
	if (argc < 1)
		errx(2, "missing command: call, ping or bench");
	pw = as_user ? getpwnam(as_user) : NULL;
	if (as_user && !pw)
		errx(2, "--as-user: no user '%s'", as_user);
	if (ec_spawn_for(&c, helper_argv, pw ? pw->pw_uid : (uid_t)-1, pw ? pw->pw_gid : (gid_t)-1) < 0)
		err(1, "starting %s", helper_argv[0]);
	if (pw)
		drop_to(pw); /* the helper keeps root; this side speaks unprivileged */
	if (strcmp(argv[0], "ping") == 0)
		rc = ec_ping(&c) == 0 ? (puts("pong"), 0) : 1;
	else if (strcmp(argv[0], "bench") == 0 && argc == 2)
		rc = do_bench(&c, argv[1]);
	else if (strcmp(argv[0], "call") == 0 && argc >= 2)
		rc = do_call(&c, argc - 1, argv + 1);
	else
		errx(2, "unknown command '%s'", argv[0]);
	ch = ec_close(&c);
	if (rc == 0 && ch != 0)
		errx(1, "helper exited with status %d", ch);
	return rc;
}
