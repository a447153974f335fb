/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer harness for the policy parser (helper/policy.c): see
 * tests/fuzz/README. Properties checked on every input:
 *   1. policy_load() never crashes or leaks, whatever the bytes (NULs,
 *      overlong lines, bad regexes, huge numbers);
 *   2. it either accepts the file, printing nothing, or refuses it with at
 *      least one message, every line of which is "PATH:LINE: text" with a
 *      line number inside the file;
 *   3. it is deterministic: the same bytes give the same verdict and text
 *      (checked on one input in eight, picked by a hash of the bytes: a
 *      second load doubles the cost of each run);
 *   4. an accepted policy answers every check (names taken from the input,
 *      sizes, ciphers, flags) without crashing, and prints its summary.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_policy: %s:%d: ", __FILE__, __LINE__);               \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

struct outcome {
	int rc;
	char *text;
	size_t len;
};

static void
load(const char *path, struct outcome *o, struct policy **p)
{
	FILE *err = open_memstream(&o->text, &o->len);

	CHECK(err, "open_memstream");
	o->rc = policy_load(path, false, err, p);
	fclose(err);
}

/*
 * Every message line is "PATH:LINE: text" with 1 <= LINE <= lines + 1 (a
 * last line without a newline), or "PATH: text" for the file as a whole.
 * Returns the number of lines.
 */
static size_t
check_messages(const char *path, const struct outcome *o, size_t lines)
{
	size_t plen = strlen(path), count = 0;

	for (const char *s = o->text; *s;) {
		const char *nl = strchr(s, '\n');
		char *end;
		unsigned long n;

		CHECK(nl, "message without a newline: %s", s);
		CHECK(!strncmp(s, path, plen) && s[plen] == ':', "message without the path: %.*s",
		      (int)(nl - s), s);
		count++;
		if (s[plen + 1] != ' ') {
			n = strtoul(s + plen + 1, &end, 10);
			CHECK(end > s + plen + 1 && end[0] == ':' && end[1] == ' ',
			      "message without a line number: %.*s", (int)(nl - s), s);
			CHECK(n >= 1 && n <= lines + 1, "line %lu outside the file's %zu lines", n,
			      lines);
		}
		s = nl + 1;
	}
	return count;
}

/* Ask an accepted policy everything, with names cut from the input. */
static void
exercise(const struct policy *p, const uint8_t *data, size_t size)
{
	char name[160] = "";
	struct verdict v;
	size_t n = size < sizeof(name) - 1 ? size : sizeof(name) - 1;

	memcpy(name, data, n);
	name[n] = '\0';
	(void)policy_uid(p, 0, &v);
	(void)policy_uid(p, (uid_t)size, &v);
	(void)policy_vg(p, name, &v);
	(void)policy_vg(p, "nova-ephemeral", &v);
	(void)policy_lv(p, "nova-ephemeral", name, &v);
	(void)policy_lv(p, name, "x_disk", &v);
	(void)policy_lv_size(p, "nova-ephemeral", UINT64_MAX, &v);
	(void)policy_lv_size(p, name, size, &v);
	(void)policy_mapping(p, name, &v);
	(void)policy_cipher(p, name, 512, &v);
	(void)policy_cipher(p, "aes-xts-plain64", (unsigned)size, &v);
	(void)policy_sector_size(p, (unsigned)size, &v);
	for (int f = PF_ALLOW_DISCARDS; f <= PF_NO_WRITE_WORKQUEUE; f++)
		(void)policy_flag(p, (enum policy_flag)f, &v);
	(void)policy_nova_hash(p);
	FILE *null = fopen("/dev/null", "w");
	CHECK(null, "/dev/null");
	policy_summary(p, null);
	fclose(null);
}

/* One scratch file for the run, on tmpfs (the parser refuses symlinks such as /proc/self/fd/N). */
static int
scratch(char path[64])
{
	static char made[64];
	static int fd = -1;

	if (fd < 0) {
		snprintf(made, sizeof(made), "/dev/shm/fuzz-policy.XXXXXX");
		fd = mkstemp(made);
		CHECK(fd >= 0, "mkstemp");
	}
	memcpy(path, made, sizeof(made));
	return fd;
}

/* FNV-1a: which inputs get the second load. */
static uint32_t
hash(const uint8_t *data, size_t size)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 16777619u;
	return h;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome a = { 0 }, b = { 0 };
	struct policy *p = NULL, *q = NULL;
	char path[64];
	size_t lines = 0;
	int fd = scratch(path);

	CHECK(ftruncate(fd, 0) == 0, "ftruncate");
	CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size, "pwrite");
	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	load(path, &a, &p);
	CHECK(a.rc >= 0, "policy_load returned %d", a.rc);
	CHECK((a.rc == 0) == (p != NULL), "rc %d but policy %p", a.rc, (void *)p);
	CHECK(a.rc == 0 ? a.len == 0 : a.len > 0, "rc %d with %zu bytes of messages", a.rc, a.len);
	if (hash(data, size) % 8 == 0) {
		load(path, &b, &q);
		CHECK(a.rc == b.rc && a.len == b.len && !memcmp(a.text, b.text, a.len),
		      "two loads of the same bytes differ");
	}
	CHECK(check_messages(path, &a, lines) == (size_t)a.rc, "%d errors but not as many lines",
	      a.rc);
	if (p)
		exercise(p, data, size);
	policy_free(p);
	policy_free(q);
	free(a.text);
	free(b.text);
	return 0;
}
