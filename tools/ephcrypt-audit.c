/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ephcrypt-audit: read the helper's audit log (ephcrypt-audit(8)).
 *   verify FILE...            check the hash chain
 *   [list] [filters] FILE...  one readable line per record, or --json verbatim
 *   summary [filters] FILE... a per-action table
 * Exit status: 0 fine, 1 a broken chain or an unparsable line, 2 usage or I/O.
 *
 * The log is evidence and its strings came from an untrusted peer, so nothing
 * from it reaches the terminal unescaped. Shares no code with the helper: a
 * reviewer's copy must not depend on the binary it checks.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <json-c/json.h>

#include "../audit/chain.h"
#include "../protocol/utf8.h"

/* helper.h would pull in msgpack; test_audit.c keeps the two versions equal. */
#define TOOL_VERSION "0.1.0"

enum verb { VERB_LIST, VERB_VERIFY, VERB_SUMMARY };
enum exit_code { EX_FINE = 0, EX_BAD = 1, EX_USAGE = 2 };

struct filter {
	bool denied, failed;
	bool has_since, has_until, has_uid;
	long long since, until; /* microseconds since the epoch, UTC */
	unsigned long long uid;
	const char *vg, *action, *request_id;
};

struct opts {
	enum verb verb;
	bool json;
	bool local;			   /* --local: local time in and out */
	const char *since_arg, *until_arg; /* read once every option is known */
	bool filtered;			   /* any filter given (refused for verify) */
	struct filter f;
	const char *expect; /* verify: a record's sha256 that must be in the file */
	const char *after;  /* verify: the sha256 the first file's chain continues */
};

struct reader {
	FILE *f;
	const char *name;
	char *line;
	size_t cap, len;
	unsigned long lineno;
	bool newline; /* the line ended in '\n' (it was stripped) */
};

struct action_count {
	char *action;
	unsigned long n[3]; /* success, failure (not denied), denied */
};

struct table {
	struct action_count *rows;
	size_t len, cap;
};

/* --- input --------------------------------------------------------------- */

static int
reader_open(struct reader *r, const char *name)
{
	memset(r, 0, sizeof(*r));
	r->name = name;
	r->f = strcmp(name, "-") == 0 ? stdin : fopen(name, "re");
	if (!r->f) {
		fprintf(stderr, "ephcrypt-audit: %s: %s\n", name, strerror(errno));
		return -1;
	}
	return 0;
}

/* 1: a line (without its newline) in r->line; 0: end of file; -1: read error. */
static int
reader_next(struct reader *r)
{
	ssize_t n;

	errno = 0;
	n = getline(&r->line, &r->cap, r->f);
	if (n < 0) {
		if (errno == 0 || feof(r->f))
			return 0;
		fprintf(stderr, "ephcrypt-audit: %s: %s\n", r->name, strerror(errno));
		return -1;
	}
	r->lineno++;
	r->newline = n > 0 && r->line[n - 1] == '\n';
	r->len = (size_t)n - r->newline;
	r->line[r->len] = '\0';
	return 1;
}

static void
reader_close(struct reader *r)
{
	if (r->f && r->f != stdin)
		fclose(r->f);
	free(r->line);
	r->line = NULL;
}

/* The line as a JSON object, parsed strictly and to its last byte, or NULL. */
static struct json_object *
parse_record(const char *line, size_t len)
{
	struct json_tokener *tok;
	struct json_object *o;

	if (len == 0 || memchr(line, '\0', len) || len > INT32_MAX)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	o = json_tokener_parse_ex(tok, line, (int)len);
	if (o &&
	    (json_tokener_get_parse_end(tok) != len || !json_object_is_type(o, json_type_object))) {
		json_object_put(o);
		o = NULL;
	}
	json_tokener_free(tok);
	return o;
}

/* A string member of obj (or of obj[outer] when outer is set), or NULL. */
static const char *
get_str(struct json_object *obj, const char *outer, const char *key)
{
	struct json_object *v;

	if (outer && !json_object_object_get_ex(obj, outer, &obj))
		return NULL;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool
get_int(struct json_object *obj, const char *outer, const char *key, long long *out)
{
	struct json_object *v;

	if (outer && !json_object_object_get_ex(obj, outer, &obj))
		return false;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
		return false;
	*out = json_object_get_int64(v);
	return true;
}

/* --- verify -------------------------------------------------------------- */

/* chain_check's answer for a first line that continues the previous file. */
static const char CONTINUES[] = "continues";

/*
 * Why line r->lineno does not continue the chain, or NULL when it does. The
 * first line of a file that follows another in a rotated set may also chain
 * to that file's last record (carried, "" for the first file).
 */
static const char *
chain_check(const struct reader *r, const char *expect, const char *carried, char *why,
	    size_t whylen)
{
	struct json_object *o;
	const char *prev;
	bool ok, continues = false;

	if (!r->newline) /* the helper writes whole lines: this one was cut */
		return "last line is not newline-terminated (a torn write, or the file was cut)";
	o = parse_record(r->line, r->len);
	if (!o)
		return "not a JSON object";
	prev = get_str(o, NULL, "prev");
	ok = prev && strcmp(prev, expect) == 0;
	if (!ok && r->lineno == 1 && *carried)
		ok = continues = prev && strcmp(prev, carried) == 0;
	json_object_put(o);
	if (ok)
		return continues ? CONTINUES : NULL;
	if (r->lineno == 1 && *carried)
		return "chain broken: prev is neither the hash of the previous file's last record "
		       "nor of the start marker (a file of the rotated set is missing, out of "
		       "order, or its head was edited)";
	if (r->lineno == 1)
		return "chain broken: prev is not the hash of the start marker "
		       "(the head of the file was edited, deleted or reordered)";
	snprintf(why, whylen,
		 "chain broken: prev does not match line %lu (edited, deleted or reordered)",
		 r->lineno - 1);
	return why;
}

/*
 * A chain proves order, not completeness: whoever can write the file can cut
 * its tail or rewrite it whole.  The helper sends each record's sha256 to
 * syslog; --expect checks that the record syslog saw is still in the file.
 */
static int
expect_found(const char *name, const char *want, unsigned long at, unsigned long records)
{
	if (!want)
		return EX_FINE;
	if (at) {
		printf("%s: the expected record is line %lu of %lu\n", name, at, records);
		return EX_FINE;
	}
	fprintf(stderr,
		"%s: no record has sha256 %s: records were cut from the file, or it was "
		"rewritten\n",
		name, want);
	return EX_BAD;
}

/* How a file of a rotated set begins: where its chain comes from. */
static const char *
chain_origin(const char *prev_name, bool continues)
{
	static char buf[PATH_MAX + 32];

	if (!prev_name)
		return "";
	if (!continues)
		return " (a new chain: the helper was restarted)";
	snprintf(buf, sizeof(buf), " (continues %s)", prev_name);
	return buf;
}

/*
 * carried: the hash of the previous file's last record ("" for the first
 * file), updated to this file's; a rotated set is given oldest first.
 */
static int
verify_file(const char *name, const char *want, char carried[AUDIT_HASH_HEX], const char *prev_name)
{
	char expect[AUDIT_HASH_HEX], why[160];
	const char *bad = NULL;
	unsigned long at = 0;
	bool continues = false;
	struct reader r;
	int rc = 0;

	if (reader_open(&r, name) < 0)
		return EX_USAGE;
	if (audit_chain_start(expect) < 0) {
		reader_close(&r);
		fprintf(stderr, "ephcrypt-audit: SHA-256 is not available\n");
		return EX_USAGE;
	}
	while (!bad && (rc = reader_next(&r)) > 0) {
		bad = chain_check(&r, expect, carried, why, sizeof(why));
		if (bad == CONTINUES)
			bad = NULL, continues = true;
		if (!bad && audit_chain_hash(r.line, r.len, expect) < 0)
			bad = "cannot hash the line";
		if (!bad && want && !at && strcmp(expect, want) == 0)
			at = r.lineno;
	}
	if (bad)
		fprintf(stderr, "%s:%lu: %s\n", name, r.lineno, bad);
	else if (rc == 0)
		printf("%s: %lu record%s, chain intact%s\n", name, r.lineno,
		       r.lineno == 1 ? "" : "s",
		       chain_origin(r.lineno ? prev_name : NULL, continues));
	reader_close(&r);
	if (bad || rc < 0)
		return bad ? EX_BAD : EX_USAGE;
	if (r.lineno)
		memcpy(carried, expect, AUDIT_HASH_HEX);
	return expect_found(name, want, at, r.lineno);
}

/* --- time ---------------------------------------------------------------- */

/* n decimal digits at s into *v; returns the end or NULL. */
static const char *
digits(const char *s, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++, s++) {
		if (*s < '0' || *s > '9')
			return NULL;
		*v = *v * 10 + (*s - '0');
	}
	return s;
}

/* ".123456" (any number of digits, microseconds kept) and "Z" or "+HH:MM"/"-HH:MM". */
static const char *
frac_and_zone(const char *s, long *us, int *off_s)
{
	int h, m, sign, scale = 100000;

	*us = 0;
	if (*s == '.') {
		if (*++s < '0' || *s > '9')
			return NULL;
		for (; *s >= '0' && *s <= '9'; s++, scale /= 10)
			*us += scale * (*s - '0');
	}
	if (*s == 'Z' || *s == 'z') {
		*off_s = 0;
		return s + 1;
	}
	if (*s != '+' && *s != '-')
		return NULL;
	sign = *s == '-' ? -1 : 1;
	if (!(s = digits(s + 1, 2, &h)) || *s != ':' || !(s = digits(s + 1, 2, &m)) || h > 23 ||
	    m > 59)
		return NULL;
	*off_s = sign * (h * 3600 + m * 60);
	return s;
}

/* RFC 3339 (any offset) or YYYY-MM-DD (midnight UTC) to microseconds since the epoch. */
static int
parse_time(const char *s, long long *out)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0;
	long us = 0;

	if (!(s = digits(s, 4, &y)) || *s != '-' || !(s = digits(s + 1, 2, &mo)) || *s != '-' ||
	    !(s = digits(s + 1, 2, &d)) || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
		return -1;
	if (mo == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400 != 0)))
		return -1;
	if (*s == 'T' || *s == 't' || *s == ' ') {
		if (!(s = digits(s + 1, 2, &h)) || *s != ':' || !(s = digits(s + 1, 2, &mi)) ||
		    *s != ':' || !(s = digits(s + 1, 2, &sec)) || h > 23 || mi > 59 || sec > 60 ||
		    !(s = frac_and_zone(s, &us, &off)))
			return -1;
	}
	if (*s != '\0')
		return -1;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*out = ((long long)timegm(&tm) - off) * 1000000 + us;
	return 0;
}

/* Local midnight of the day holding now, days back (mktime settles DST and month ends). */
static long long
local_midnight(time_t now, int days_back)
{
	struct tm tm;

	localtime_r(&now, &tm);
	tm.tm_hour = tm.tm_min = tm.tm_sec = 0;
	tm.tm_mday -= days_back;
	tm.tm_isdst = -1;
	return (long long)mktime(&tm) * 1000000;
}

/* The local midnight of the date whose UTC midnight is utc_us. */
static long long
local_date(long long utc_us)
{
	time_t t = (time_t)(utc_us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	tm.tm_isdst = -1;
	return (long long)mktime(&tm) * 1000000;
}

/* "-90s", "-30m", "-1h", "-2d", "-1w": that long before now. */
static int
parse_ago(const char *s, long long now_us, long long *out)
{
	static const struct {
		char unit;
		long long seconds;
	} units[] = { { 's', 1 }, { 'm', 60 }, { 'h', 3600 }, { 'd', 86400 }, { 'w', 604800 } };
	long long n = 0;
	const char *p = s + 1;

	if (*s != '-' || *p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if ((n = n * 10 + (*p - '0')) > 100LL * 366 * 86400) /* a century of seconds */
			return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (p[0] == units[i].unit && p[1] == '\0' &&
		    n <= 100LL * 366 * 86400 / units[i].seconds) {
			*out = now_us - n * units[i].seconds * 1000000;
			return 0;
		}
	return -1;
}

/*
 * A --since/--until TIME: RFC 3339, YYYY-MM-DD (midnight UTC, or local with
 * --local), now, today, yesterday, or -N followed by s, m, h, d or w.
 */
static int
parse_when(const char *s, bool local, long long *out)
{
	struct timespec ts;
	long long now_us;
	int days_back = -1;

	clock_gettime(CLOCK_REALTIME, &ts);
	now_us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	if (strcmp(s, "now") == 0) {
		*out = now_us;
		return 0;
	}
	if (strcmp(s, "today") == 0)
		days_back = 0;
	else if (strcmp(s, "yesterday") == 0)
		days_back = 1;
	if (days_back >= 0 && local)
		*out = local_midnight(ts.tv_sec, days_back);
	else if (days_back >= 0)
		*out = (now_us / 86400000000LL - days_back) * 86400000000LL;
	else if (*s == '-')
		return parse_ago(s, now_us, out);
	else if (parse_time(s, out) < 0)
		return -1;
	else if (local && strlen(s) == 10) /* a bare date: that day's local midnight */
		*out = local_date(*out);
	return 0;
}

/* An eventTime in local time with its offset (2026-11-27T10:41:18.123456+01:00). */
static bool
format_local(const char *event_time, char *buf, size_t len)
{
	long long us;
	time_t secs;
	struct tm tm;
	long off;

	if (!event_time || parse_time(event_time, &us) < 0)
		return false;
	secs = (time_t)(us / 1000000);
	if (!localtime_r(&secs, &tm))
		return false;
	off = tm.tm_gmtoff / 60;
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06lld%c%02ld:%02ld", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us % 1000000,
		 off < 0 ? '-' : '+', labs(off) / 60, labs(off) % 60);
	return true;
}

/* --- list and summary ---------------------------------------------------- */

/* The CADF outcome plus our reason: 0 success, 1 failure, 2 denied, -1 unknown. */
static int
outcome_of(struct json_object *o)
{
	const char *out = get_str(o, NULL, "outcome");
	/* CADF's {reasonType, reasonCode}; older records had the bare string. */
	const char *reason = get_str(o, NULL, "reason") ? get_str(o, NULL, "reason")
							: get_str(o, "reason", "reasonCode");

	if (out && strcmp(out, "success") == 0)
		return 0;
	if (out && strcmp(out, "failure") == 0)
		return reason && strcmp(reason, "denied") == 0 ? 2 : 1;
	return -1;
}

static bool
str_is(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

/*
 * The entrypoint's wire name: the CADF tag "entrypoint?value=NAME" (action is
 * CADF's create, read, delete...), or, in older records without tags, the action.
 */
static const char *
entrypoint_of(struct json_object *o)
{
	static const char prefix[] = "entrypoint?value=";
	struct json_object *tags, *tag;

	if (!json_object_object_get_ex(o, "tags", &tags) ||
	    !json_object_is_type(tags, json_type_array))
		return get_str(o, NULL, "action");
	for (size_t k = 0; k < json_object_array_length(tags); k++) {
		tag = json_object_array_get_idx(tags, k);
		if (json_object_is_type(tag, json_type_string) &&
		    strncmp(json_object_get_string(tag), prefix, sizeof(prefix) - 1) == 0)
			return json_object_get_string(tag) + sizeof(prefix) - 1;
	}
	return NULL;
}

static bool
matches(struct json_object *o, const struct filter *f)
{
	int outcome = outcome_of(o);
	const char *when = get_str(o, NULL, "eventTime");
	long long t, uid;

	if ((f->denied && outcome != 2) || (f->failed && outcome != 1 && outcome != 2))
		return false;
	if (f->has_since || f->has_until) {
		if (!when || parse_time(when, &t) < 0)
			return false;
		if ((f->has_since && t < f->since) || (f->has_until && t >= f->until))
			return false;
	}
	if (f->vg && !str_is(get_str(o, "target", "vg"), f->vg))
		return false;
	/* The entrypoint (ephcrypt.lv_create), or CADF's action (create, read/list). */
	if (f->action && !str_is(entrypoint_of(o), f->action) &&
	    !str_is(get_str(o, NULL, "action"), f->action))
		return false;
	if (f->request_id && !str_is(get_str(o, "initiator", "request_id"), f->request_id))
		return false;
	if (f->has_uid &&
	    (!get_int(o, "initiator", "uid", &uid) || uid < 0 || (unsigned long long)uid != f->uid))
		return false;
	return true;
}

/*
 * Print a string from the log so that no control or bidi character reaches
 * the terminal.  A word (every field but the closing message) also escapes
 * spaces, so that a caller's name cannot pose as further fields.
 */
static void
put_safe_to(FILE *out, const char *str, bool word)
{
	const unsigned char *s = (const unsigned char *)str, *end = s + strlen(str);
	unsigned cp;
	size_t n;

	for (; *s; s += n ? n : 1) {
		n = utf8_seq(s, (size_t)(end - s), &cp);
		if (n == 0)
			fprintf(out, "\\x%02x", *s);
		else if (cp == '\\')
			fputs("\\\\", out);
		else if (cp < 0x20 || cp == 0x7f || (word && cp == ' '))
			fprintf(out, "\\x%02x", cp);
		else if ((cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 || cp == 0x2029 ||
			 (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
			fprintf(out, "\\u%04x", cp);
		else
			fwrite(s, 1, n, out);
	}
}

static void
put_safe(const char *str, bool word)
{
	put_safe_to(stdout, str, word);
}

static void
put_field(const char *prefix, const char *val)
{
	if (!val)
		return;
	fputs(prefix, stdout);
	put_safe(val, true);
}

/* time outcome action uid=N vg/lv mapping=M device=D via=privsep-helper: errno N: message */
static void
print_record(struct json_object *o, bool local)
{
	static const char *const words[] = { "success", "failure", "denied" };
	const char *vg = get_str(o, "target", "vg"), *lv = get_str(o, "target", "lv");
	const char *msg = get_str(o, NULL, "message");
	const char *when = get_str(o, NULL, "eventTime");
	int outcome = outcome_of(o);
	long long uid, err;
	char local_when[64];

	if (local && format_local(when, local_when, sizeof(local_when)))
		when = local_when;
	put_field("", when ? when : "-");
	printf(" %-7s ", outcome >= 0 ? words[outcome] : "?");
	put_safe(entrypoint_of(o) ? entrypoint_of(o) : "-", true);
	if (get_int(o, "initiator", "uid", &uid))
		printf(" uid=%lld", uid);
	else
		fputs(" uid=?", stdout);
	put_field(" ", vg ? vg : lv ? "" : "-");
	put_field(vg ? "/" : "", lv);
	put_field(" mapping=", get_str(o, "target", "mapping"));
	put_field(" device=", get_str(o, "target", "device"));
	/* Relayed calls (policy [forward]); the native route is the default. */
	if (str_is(get_str(o, NULL, "route"), "privsep-helper"))
		put_field(" via=", "privsep-helper");
	if (get_int(o, NULL, "errno", &err))
		printf(": errno %lld (%s)", err, strerror((int)err));
	if (msg) {
		fputs(": ", stdout);
		put_safe(msg, false);
	}
	putchar('\n');
}

static int
table_add(struct table *t, const char *action, int outcome)
{
	size_t i;

	for (i = 0; i < t->len && strcmp(t->rows[i].action, action) != 0; i++)
		;
	if (i == t->len) {
		if (t->len == t->cap) {
			size_t cap = t->cap ? 2 * t->cap : 16;
			struct action_count *rows = realloc(t->rows, cap * sizeof(*rows));

			if (!rows)
				return -1;
			t->rows = rows;
			t->cap = cap;
		}
		t->rows[i] = (struct action_count){ .action = strdup(action) };
		if (!t->rows[i].action)
			return -1;
		t->len++;
	}
	t->rows[i].n[outcome]++;
	return 0;
}

static int
by_action(const void *a, const void *b)
{
	return strcmp(((const struct action_count *)a)->action,
		      ((const struct action_count *)b)->action);
}

/* The action as printed (escaped), and its width in characters. */
static char *
escaped(const char *str, int *width)
{
	char *buf = NULL;
	size_t len = 0, n;
	FILE *f = open_memstream(&buf, &len);
	unsigned cp;

	if (!f) {
		fprintf(stderr, "ephcrypt-audit: out of memory\n");
		exit(EX_USAGE);
	}
	put_safe_to(f, str, true);
	if (fclose(f) != 0 || !buf) {
		fprintf(stderr, "ephcrypt-audit: out of memory\n");
		exit(EX_USAGE);
	}
	*width = 0;
	for (size_t i = 0; i < len; i += n ? n : 1, ++*width)
		n = utf8_seq((const unsigned char *)buf + i, len - i, &cp);
	return buf;
}

/* Columns as wide as the longest action, so long names keep the numbers aligned. */
static void
table_print(struct table *t)
{
	unsigned long sum[3] = { 0 };
	char **names = calloc(t->len + 1, sizeof(*names));
	int *widths = calloc(t->len + 1, sizeof(*widths)), col = (int)strlen("ACTION");

	if (!names || !widths) {
		fprintf(stderr, "ephcrypt-audit: out of memory\n");
		exit(EX_USAGE);
	}
	qsort(t->rows, t->len, sizeof(*t->rows), by_action);
	for (size_t i = 0; i < t->len; i++) {
		names[i] = escaped(t->rows[i].action, &widths[i]);
		col = widths[i] > col ? widths[i] : col;
	}
	printf("%-*s %8s %8s %8s %8s\n", col, "ACTION", "SUCCESS", "FAILURE", "DENIED", "TOTAL");
	for (size_t i = 0; i < t->len; i++) {
		const unsigned long *n = t->rows[i].n;

		printf("%s%*s %8lu %8lu %8lu %8lu\n", names[i], col - widths[i], "", n[0], n[1],
		       n[2], n[0] + n[1] + n[2]);
		for (int k = 0; k < 3; k++)
			sum[k] += n[k];
		free(names[i]);
		free(t->rows[i].action);
	}
	printf("%-*s %8lu %8lu %8lu %8lu\n", col, "TOTAL", sum[0], sum[1], sum[2],
	       sum[0] + sum[1] + sum[2]);
	free(names);
	free(widths);
	free(t->rows);
}

/* One record of list or summary; returns false when the line is not a record. */
static bool
take_record(const struct reader *r, const struct opts *o, struct table *t)
{
	struct json_object *obj = parse_record(r->line, r->len);
	const char *action;
	int outcome;

	if (!obj)
		return false;
	if (matches(obj, &o->f)) {
		action = entrypoint_of(obj);
		outcome = outcome_of(obj);
		if (o->verb == VERB_SUMMARY && outcome >= 0 &&
		    table_add(t, action ? action : "-", outcome) < 0) {
			fprintf(stderr, "ephcrypt-audit: out of memory\n");
			exit(EX_USAGE);
		} else if (o->verb != VERB_SUMMARY && o->json) {
			fwrite(r->line, 1, r->len, stdout);
			putchar('\n');
		} else if (o->verb != VERB_SUMMARY) {
			print_record(obj, o->local);
		}
	}
	json_object_put(obj);
	return true;
}

static int
scan_file(const char *name, const struct opts *o, struct table *t)
{
	struct reader r;
	int rc, status = EX_FINE;

	if (reader_open(&r, name) < 0)
		return EX_USAGE;
	while ((rc = reader_next(&r)) > 0) {
		if (!r.newline) {
			fprintf(stderr, "%s:%lu: last line is not newline-terminated\n", name,
				r.lineno);
			status = EX_BAD;
		}
		if (!take_record(&r, o, t)) {
			fprintf(stderr, "%s:%lu: not a JSON object (skipped)\n", name, r.lineno);
			status = EX_BAD;
		}
	}
	reader_close(&r);
	return rc < 0 ? EX_USAGE : status;
}

/* --- command line -------------------------------------------------------- */

static void __attribute__((noreturn)) usage(int status)
{
	fprintf(status ? stderr : stdout,
		"usage: ephcrypt-audit verify [--expect SHA256] [--after SHA256] FILE...\n"
		"       ephcrypt-audit [list] [FILTER...] [--json] FILE...\n"
		"       ephcrypt-audit summary [FILTER...] FILE...\n"
		"filters: --denied  --failed  --since TIME  --until TIME  --vg NAME  --uid N\n"
		"         --action NAME  --request-id ID\n"
		"--local: times shown in, and dates read as, local time (default UTC)\n"
		"TIME: RFC 3339 (2026-11-27T09:41:18Z, 2026-11-27T10:41:18+01:00), YYYY-MM-DD "
		"(midnight),\n"
		"      now, today, yesterday, or -N with a unit s, m, h, d, w (-90s, -1h, -2d)\n"
		"FILE '-' reads standard input\n"
		"options: --help  --version\n");
	exit(status);
}

static void __attribute__((noreturn)) bad_arg(const char *opt, const char *arg, const char *what)
{
	fprintf(stderr, "ephcrypt-audit: --%s '%s': %s\n", opt, arg, what);
	exit(EX_USAGE);
}

static unsigned long long
parse_uid(const char *s)
{
	unsigned long long v;
	char *end;

	errno = 0;
	if (*s < '0' || *s > '9')
		bad_arg("uid", s, "not a number");
	v = strtoull(s, &end, 10);
	if (errno || *end || v > UINT32_MAX)
		bad_arg("uid", s, "not a uid in [0, 4294967295]");
	return v;
}

static const struct option longopts[] = {
	{ "denied", no_argument, NULL, 'd' },
	{ "failed", no_argument, NULL, 'f' },
	{ "since", required_argument, NULL, 's' },
	{ "until", required_argument, NULL, 'u' },
	{ "vg", required_argument, NULL, 'g' },
	{ "uid", required_argument, NULL, 'U' },
	{ "action", required_argument, NULL, 'a' },
	{ "request-id", required_argument, NULL, 'r' },
	{ "json", no_argument, NULL, 'j' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "expect", required_argument, NULL, 'E' },
	{ "local", no_argument, NULL, 'L' },
	{ "after", required_argument, NULL, 'A' },
	{ NULL, 0, NULL, 0 },
};

static void
parse_option(int ch, struct opts *o)
{
	o->filtered |= ch != 'j' && ch != 'h' && ch != 'V' && ch != 'E' && ch != 'L' && ch != 'A';
	switch (ch) {
	case 'd': o->f.denied = true; break;
	case 'f': o->f.failed = true; break;
	case 's':
		o->since_arg = optarg;
		o->f.has_since = true;
		break;
	case 'u':
		o->until_arg = optarg;
		o->f.has_until = true;
		break;
	case 'L': o->local = true; break;
	case 'g': o->f.vg = optarg; break;
	case 'U':
		o->f.uid = parse_uid(optarg);
		o->f.has_uid = true;
		break;
	case 'a': o->f.action = optarg; break;
	case 'r': o->f.request_id = optarg; break;
	case 'j': o->json = true; break;
	case 'E':
	case 'A':
		if (strlen(optarg) != 64 || strspn(optarg, "0123456789abcdef") != 64)
			bad_arg(ch == 'E' ? "expect" : "after", optarg,
				"not a SHA-256 in lowercase hex (64 digits)");
		*(ch == 'E' ? &o->expect : &o->after) = optarg;
		break;
	case 'h': usage(EX_FINE);
	case 'V': printf("ephcrypt-audit %s\n", TOOL_VERSION); exit(EX_FINE);
	default: usage(EX_USAGE);
	}
}

/* After every option: --local changes what a date means. */
static void
resolve_when(const char *opt, const char *arg, bool local, long long *out)
{
	static const char time_help[] = "not a time: RFC 3339 (2026-11-27T09:41:18Z), YYYY-MM-DD, "
					"now, today, yesterday or -N[smhdw] (-1h)";

	if (arg && parse_when(arg, local, out) < 0)
		bad_arg(opt, arg, time_help);
}

/* The verb, if any, then options and files in any order (getopt permutes). */
static int
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct {
		const char *name;
		enum verb verb;
	} verbs[] = { { "list", VERB_LIST },
		      { "verify", VERB_VERIFY },
		      { "summary", VERB_SUMMARY } };
	int ch;

	memset(o, 0, sizeof(*o));
	optind = 1;
	for (size_t k = 0; argc > 1 && k < sizeof(verbs) / sizeof(verbs[0]); k++)
		if (strcmp(argv[1], verbs[k].name) == 0) {
			o->verb = verbs[k].verb;
			optind = 2;
		}
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1)
		parse_option(ch, o);
	resolve_when("since", o->since_arg, o->local, &o->f.since);
	resolve_when("until", o->until_arg, o->local, &o->f.until);
	if (optind >= argc)
		usage(EX_USAGE);
	if (o->verb == VERB_VERIFY && (o->filtered || o->json)) {
		fprintf(stderr, "ephcrypt-audit: verify checks whole files; it takes no filters\n");
		exit(EX_USAGE);
	}
	if ((o->expect || o->after) && o->verb != VERB_VERIFY) {
		fprintf(stderr, "ephcrypt-audit: --%s is for verify\n",
			o->expect ? "expect" : "after");
		exit(EX_USAGE);
	}
	if (o->verb == VERB_SUMMARY && o->json) {
		fprintf(stderr, "ephcrypt-audit: --json is for list\n");
		exit(EX_USAGE);
	}
	return optind;
}

int
main(int argc, char **argv)
{
	struct table t = { 0 };
	struct opts o;
	int i, rc, status = EX_FINE;
	bool read_any = false;
	char carried[AUDIT_HASH_HEX] = "";
	const char *prev_name = NULL;

	i = parse_args(argc, argv, &o);
	if (o.after) { /* the oldest file of a set whose predecessor was dropped */
		memcpy(carried, o.after, sizeof(carried));
		prev_name = "the --after record";
	}
	for (; i < argc; i++) {
		if (o.verb == VERB_VERIFY) {
			char before[AUDIT_HASH_HEX];

			memcpy(before, carried, sizeof(before));
			rc = verify_file(argv[i], o.expect, carried, prev_name);
			if (strcmp(before, carried) != 0) /* an empty file passes the chain on */
				prev_name = argv[i];
		} else {
			rc = scan_file(argv[i], &o, &t);
		}
		read_any |= rc != EX_USAGE;
		if (rc > status)
			status = rc;
	}
	if (o.verb == VERB_SUMMARY && read_any) /* no table of zeros for files never read */
		table_print(&t);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "ephcrypt-audit: writing the output: %s\n", strerror(errno));
		return EX_USAGE;
	}
	return status;
}
