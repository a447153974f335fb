/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `ephcrypt call NAME [ARG...]` and `ephcrypt bench N`: the old
 * ephcrypt-client's raw calls, kept for tests and debugging.
 * ARG: s:TEXT  i:NUMBER  true  false  nil  key:FILE (raw bytes, never printed)
 *      map:K=ARG,K=ARG (a dict; values without commas); NAME=ARG for a keyword.
 */
#include <err.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lib.h"

static void
put_key_file(struct mp_buf *b, const char *path)
{
	struct ephcrypt_key *key;
	struct ephcrypt_error e;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		err(EXIT_USAGE, "key file %s", path);
	if (ephcrypt_key_alloc(1024, &key, &e) < 0)
		errx(EXIT_FAIL, "%s", e.message);
	n = read(fd, key->data, key->len);
	close(fd);
	if (n <= 0)
		errx(EXIT_USAGE, "key file %s: empty or unreadable", path);
	mp_put_bin(b, key->data, (size_t)n);
	ephcrypt_key_free(key);
}

static void put_arg(struct mp_buf *b, const char *a);

/* map:K=ARG,K=ARG */
static void
put_map(struct mp_buf *b, const char *spec)
{
	char copy[1024], *save = NULL;
	uint32_t n = spec[0] ? 1 : 0;

	if (strlen(spec) >= sizeof(copy))
		errx(EXIT_USAGE, "map argument too long");
	for (const char *p = spec; *p; p++)
		n += *p == ',';
	mp_put_map(b, n);
	strcpy(copy, spec);
	for (char *kv = strtok_r(copy, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(kv, '=');
		if (!eq)
			errx(EXIT_USAGE, "map entry '%s' is not K=ARG", kv);
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
put_int(struct mp_buf *b, const char *a)
{
	char *end;
	long long v = strtoll(a + 2, &end, 10);

	if (*end || end == a + 2)
		errx(EXIT_USAGE, "bad integer argument '%s'", a);
	if (v < 0)
		mp_put_int(b, v);
	else
		mp_put_uint(b, (uint64_t)v);
}

static void
put_arg(struct mp_buf *b, const char *a)
{
	if (strncmp(a, "map:", 4) == 0)
		put_map(b, a + 4);
	else if (strncmp(a, "s:", 2) == 0)
		mp_put_str(b, a + 2);
	else if (strncmp(a, "i:", 2) == 0)
		put_int(b, a);
	else if (strncmp(a, "key:", 4) == 0)
		put_key_file(b, a + 4);
	else if (strcmp(a, "true") == 0 || strcmp(a, "false") == 0)
		mp_put_bool(b, a[0] == 't');
	else if (strcmp(a, "nil") == 0)
		mp_put_nil(b);
	else
		errx(EXIT_USAGE, "argument '%s': use s:TEXT, i:N, key:FILE, true, false or nil", a);
}

static void
print_value(FILE *f, const struct mp_value *v)
{
	struct ec_str s = { NULL, 0, 0 };

	if (ec_value_json(&s, v) < 0)
		errx(EXIT_FAIL, "out of memory");
	fputs(s.s, f);
	free(s.s);
}

static void
encode_args(int argc, char **argv, struct mp_buf *args, struct mp_buf *kwargs)
{
	uint32_t nargs = 0, nkw = 0;

	for (int k = 1; k < argc; k++)
		keyword_value(argv[k]) ? nkw++ : nargs++;
	mp_put_array(args, nargs);
	mp_put_map(kwargs, nkw);
	for (int k = 1; k < argc; k++) {
		const char *val = keyword_value(argv[k]);
		if (val) {
			mp_put_strn(kwargs, argv[k], (size_t)(val - 1 - argv[k]));
			put_arg(kwargs, val);
		} else {
			put_arg(args, argv[k]);
		}
	}
}

static int
print_reply(const struct ec_raw_reply *r)
{
	char msg[1024] = "";
	const struct mp_value *a = r->exc_args;

	if (r->ok) {
		print_value(stdout, r->value);
		putchar('\n');
		return 0;
	}
	for (uint32_t k = 0; a && k < a->len; k++)
		if (a->v.items[k].type == MP_STR) {
			ec_copy_str(msg, sizeof(msg), &a->v.items[k]);
			break;
		}
	fprintf(stderr, "error: %s: %s", r->exc, msg);
	if (a && a->len > 1) { /* errno, or stdout/stderr/exit/cmd */
		fprintf(stderr, " ");
		print_value(stderr, a);
	}
	fprintf(stderr, "\n");
	return EXIT_FAIL;
}

/* argv: NAME ARG... */
int
cli_call(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_helper *h;
	struct mp_buf args, kwargs;
	struct ec_raw_reply r;
	struct ephcrypt_error e;
	int rc;

	mp_buf_init(&args, 1u << 20);
	mp_buf_init(&kwargs, 1u << 20);
	encode_args(argc, argv, &args, &kwargs);
	if ((rc = cli_open_helper(c, &h)) != 0)
		return rc;
	if (ec_call_raw(h, argv[0], args.data, args.len, kwargs.data, kwargs.len, &r, &e) < 0) {
		fprintf(stderr, "%s\n", e.message);
		rc = EXIT_FAIL;
	} else {
		rc = print_reply(&r);
		mp_frame_free(r.frame);
	}
	mp_buf_free(&args); /* wipes: may hold a key */
	mp_buf_free(&kwargs);
	return cli_close_helper(h, rc) ? EXIT_FAIL : 0;
}

static int
cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Round trips of ephcrypt.version: p50 and p99 in microseconds. */
int
cli_bench(struct cli *c, int argc, char **argv)
{
	static const uint8_t empty_args[] = { 0x90 }, empty_kwargs[] = { 0x80 };
	long n = strtol(argv[0], NULL, 10);
	struct ephcrypt_helper *h;
	struct ephcrypt_error e;
	uint64_t *ns;
	int rc;

	(void)argc;
	if (n < 10 || n > 10000000)
		return cli_usage_error("bench", "count must be 10..10000000");
	if ((rc = cli_open_helper(c, &h)) != 0)
		return rc;
	if (!(ns = calloc((size_t)n, sizeof(*ns))))
		errx(EXIT_FAIL, "out of memory");
	for (long k = 0; k < n; k++) {
		struct timespec t0, t1;
		struct ec_raw_reply r;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (ec_call_raw(h, "ephcrypt.version", empty_args, 1, empty_kwargs, 1, &r, &e) <
			    0 ||
		    !r.ok)
			errx(EXIT_FAIL, "bench call failed: %s", e.message);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		mp_frame_free(r.frame);
		ns[k] = (uint64_t)(t1.tv_sec - t0.tv_sec) * 1000000000u +
			(uint64_t)(t1.tv_nsec - t0.tv_nsec);
	}
	qsort(ns, (size_t)n, sizeof(*ns), cmp_u64);
	printf("{\"calls\": %ld, \"p50_us\": %.2f, \"p99_us\": %.2f}\n", n, ns[n / 2] / 1e3,
	       ns[n * 99 / 100] / 1e3);
	free(ns);
	return cli_close_helper(h, 0);
}
