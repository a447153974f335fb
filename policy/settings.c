/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper.conf, strictly: an unknown key (with the one it was probably meant
 * to be), a key given twice, a relative path or a number out of range is an
 * error naming the line, and one run shows them all.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../protocol/mp.h"
#include "hint.h"
#include "names.h"
#include "number.h"
#include "rootfile.h"
#include "settings.h"

#define SETTINGS_LINE_MAX   (PATH_MAX + 64)
#define DEFAULT_MAX_MESSAGE MP_DEFAULT_MAX_MESSAGE
#define DEFAULT_LVM_TIMEOUT 120

static const char *const keys[SK_COUNT] = {
	[SK_POLICY] = "policy",		  [SK_AUDIT_LOG] = "audit-log",	    [SK_LVM] = "lvm",
	[SK_MAX_MESSAGE] = "max-message", [SK_LVM_TIMEOUT] = "lvm-timeout",
};

struct reader {
	const char *path;
	FILE *err;
	unsigned line;
	int nerr;
	struct settings *s;
};

const char *
settings_key_name(enum setting_key k)
{
	return (unsigned)k < SK_COUNT ? keys[k] : "?";
}

void
settings_default(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->policy, sizeof(s->policy), "/etc/ephcrypt/policy.conf");
	snprintf(s->audit_log, sizeof(s->audit_log), "/var/log/ephcrypt/audit.log");
	snprintf(s->lvm, sizeof(s->lvm), "/sbin/lvm");
	s->max_message = DEFAULT_MAX_MESSAGE;
	s->lvm_timeout_s = DEFAULT_LVM_TIMEOUT;
}

static int __attribute__((format(printf, 2, 3))) serr(struct reader *r, const char *fmt, ...)
{
	va_list ap;

	fprintf(r->err, r->line ? "%s:%u: " : "%s: ", r->path, r->line);
	va_start(ap, fmt);
	vfprintf(r->err, fmt, ap);
	va_end(ap);
	fputc('\n', r->err);
	r->nerr++;
	return -1;
}

static void
report_file(void *ctx, const char *msg)
{
	serr(ctx, "%s", msg);
}

static int
set_path(struct reader *r, enum setting_key k, const char *v)
{
	char *dst = k == SK_POLICY ? r->s->policy : k == SK_AUDIT_LOG ? r->s->audit_log : r->s->lvm;
	char b[NAME_SHOW_CAP];

	name_show(v, b, sizeof(b));
	if (v[0] != '/')
		return serr(r, "%s: '%s' is not an absolute path", keys[k], b);
	if (strlen(v) >= PATH_MAX)
		return serr(r, "%s: the path is longer than %d bytes", keys[k], PATH_MAX - 1);
	memcpy(dst, v, strlen(v) + 1);
	return 0;
}

static int
set_number(struct reader *r, enum setting_key k, const char *v)
{
	uint64_t min = k == SK_MAX_MESSAGE ? SETTINGS_MESSAGE_MIN : 1;
	uint64_t max = k == SK_MAX_MESSAGE ? SETTINGS_MESSAGE_MAX : SETTINGS_LVM_TIMEOUT_MAX;
	uint64_t *dst = k == SK_MAX_MESSAGE ? &r->s->max_message : &r->s->lvm_timeout_s;
	char b[NAME_SHOW_CAP];

	name_show(v, b, sizeof(b));
	if (parse_u64(v, min, max, dst) < 0)
		return serr(r, "%s: '%s' is not a number in [%llu, %llu]%s", keys[k], b,
			    (unsigned long long)min, (unsigned long long)max,
			    k == SK_LVM_TIMEOUT ? " (seconds)" : " (bytes)");
	return 0;
}

static int
unknown_key(struct reader *r, const char *key)
{
	const char *near = hint_closest(key, keys, SK_COUNT);
	char b[NAME_SHOW_CAP];

	name_show(key, b, sizeof(b));
	if (near)
		return serr(r, "unknown key '%s'; did you mean '%s'?", b, near);
	return serr(r, "unknown key '%s' (known: policy, audit-log, lvm, max-message, lvm-timeout)",
		    b);
}

/* "key = value": one word each side, no quotes. */
static int
setting(struct reader *r, char *line)
{
	char *eq = strchr(line, '='), *key = line, *val, *end;
	size_t klen;
	unsigned k;

	if (!eq)
		return serr(r, "expected 'key = value'");
	*eq = '\0';
	klen = strcspn(key, " \t");
	if (key[klen + strspn(key + klen, " \t")] != '\0' || klen == 0)
		return serr(r, "expected 'key = value' (one word before '=')");
	key[klen] = '\0';
	val = eq + 1 + strspn(eq + 1, " \t");
	end = val + strcspn(val, " \t");
	if (*end && end[strspn(end, " \t")])
		return serr(r, "%s: one value only, got more after '%.*s'", key, (int)(end - val),
			    val);
	*end = '\0';
	for (k = 0; k < SK_COUNT && strcmp(key, keys[k]); k++)
		;
	if (k == SK_COUNT)
		return unknown_key(r, key);
	if (r->s->line[k])
		return serr(r, "duplicate '%s' (first at line %u)", keys[k], r->s->line[k]);
	if (!*val)
		return serr(r, "%s: missing value", keys[k]);
	if ((k <= SK_LVM ? set_path(r, k, val) : set_number(r, k, val)) < 0)
		return -1;
	r->s->line[k] = r->line;
	return 0;
}

static void
read_lines(struct reader *r, FILE *f)
{
	char *line = NULL, *s;
	size_t cap = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, f)) > 0) {
		r->line++;
		if (strlen(line) != (size_t)len) {
			serr(r, "NUL byte in the line");
			continue;
		}
		if (len > SETTINGS_LINE_MAX) {
			serr(r, "line longer than %d bytes", SETTINGS_LINE_MAX);
			continue;
		}
		line[strcspn(line, "#\r\n")] = '\0';
		s = line + strspn(line, " \t");
		if (*s)
			setting(r, s);
	}
	free(line);
	r->line = 0;
	if (ferror(f))
		serr(r, "read error");
}

int
settings_load(const char *path, bool missing_ok, bool check_owner, FILE *err, struct settings *s)
{
	struct reader r = { .path = path, .err = err ? err : stderr, .s = s };
	struct stat st;
	int problems, fd;
	FILE *f;

	if (missing_ok && lstat(path, &st) < 0 && errno == ENOENT)
		return 0; /* no file: the defaults stand */
	fd = rootfile_open(path, check_owner, report_file, &r, &problems);
	if (fd < 0)
		return r.nerr;
	if (!(f = fdopen(fd, "r"))) {
		serr(&r, "fdopen: %s", strerror(errno));
		close(fd);
		return r.nerr;
	}
	read_lines(&r, f);
	fclose(f);
	return r.nerr;
}
