/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log (audit.h): one JSON object per line, hash-chained, written
 * with one write(2) and fdatasync(2) per record, plus a syslog summary.
 *
 * Strings come from an untrusted peer. They are escaped byte by byte: " and \
 * as \" and \\, C0 controls and DEL as \u00XX, the C1 controls, U+2028/U+2029
 * and the bidirectional overrides as \uXXXX (so that `cat` and `less` show the
 * log as it is), valid UTF-8 otherwise verbatim, and every byte that is not
 * part of a valid UTF-8 sequence (stray continuation bytes, overlong forms,
 * surrogates, > U+10FFFF, a cut-off sequence) as one U+FFFD each.
 * Each field has an output budget; a longer value is cut at a character
 * boundary and ends in "...[truncated]", so a record is always < 8 KiB.
 *
 * Several helpers may append to one file: each record is written under
 * flock(2), and when the file grew behind our back the chain is picked up
 * again from its real last line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "../protocol/utf8.h"
#include "audit.h"
#include "../protocol/version.h"
#include "chain.h"

#define AUDIT_DEFAULT_PATH "/var/log/ephcrypt/audit.log"
#define AUDIT_TYPE_URI	   "http://schemas.dmtf.org/cloud/audit/1.0/event"
#define AUDIT_LINE_MAX	   8192	       /* a record, newline included, is shorter */
#define AUDIT_TAIL_MAX	   (64 * 1024) /* how far back audit_open looks for the last line */
#define TRUNC_MARK	   "...[truncated]"

/*
 * Output budgets per string (escaped, quotes included). The peer's strings add
 * up to < 6 KiB, which leaves room for the fixed fields under AUDIT_LINE_MAX;
 * test_audit.c fills every field with its worst case to keep that true.
 */
#define CAP_SHORT   128
#define CAP_TAG	    (CAP_SHORT + 32) /* "entrypoint?value=" and the name */
#define CAP_NAME    384
#define CAP_MESSAGE 2048

#define TAG_ENTRYPOINT "entrypoint?value="

static struct {
	int wfd, rfd;	/* append-only writer; reader for the tail (regular files only) */
	bool regular;	/* a regular file: flock, fstat, fdatasync apply */
	off_t end;	/* file size after our last record */
	bool carry;	/* reopened after a rotation: an empty file continues lg.prev */
	int broken_err; /* the first failure, returned from then on */
	char broken_why[512];
	char prev[AUDIT_HASH_HEX];
	char host[256];
	char path[PATH_MAX];
} lg = { .wfd = -1, .rfd = -1 };

static int __attribute__((format(printf, 4, 5)))
fail(int err, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	if (why && whylen) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -err;
}

/* --- JSON writing -------------------------------------------------------- */

struct jw {
	char *buf;
	size_t len, cap;
	bool full;     /* something did not fit: the record is refused */
	bool first[4]; /* per nesting level: no comma before the next key */
	unsigned depth;
};

static void
jw_raw(struct jw *w, const char *s, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
}

static void jw_fmt(struct jw *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
jw_fmt(struct jw *w, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		w->full = true;
	else
		jw_raw(w, tmp, (size_t)n);
}

/* Escape the character at s into out (>= 7 bytes); returns its length, *used the input taken. */
static size_t
esc_unit(const unsigned char *s, size_t n, char *out, size_t *used)
{
	unsigned cp;
	size_t len = utf8_seq(s, n, &cp);

	if (len == 0) {
		*used = 1;
		return (size_t)sprintf(out, "\\ufffd");
	}
	*used = len;
	if (cp == '"' || cp == '\\')
		return (size_t)sprintf(out, "\\%c", (char)cp);
	if (utf8_cp_misleads(cp)) /* valid JSON, but it would fool a terminal */
		return (size_t)sprintf(out, "\\u%04x", cp);
	memcpy(out, s, len);
	return len;
}

/* A quoted, escaped string taking at most cap output bytes. */
static void
jw_str(struct jw *w, const char *str, size_t cap)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t n = strlen(str), total = 2, used, k, limit;
	char u[8];

	for (size_t i = 0; i < n; i += used)
		total += esc_unit(s + i, n - i, u, &used);
	/* Cut only when it does not fit, and then leave room for the mark. */
	limit = total <= cap ? total : cap - strlen(TRUNC_MARK);
	jw_raw(w, "\"", 1);
	for (size_t i = 0, out = 2; i < n; i += used) {
		k = esc_unit(s + i, n - i, u, &used);
		if (out + k > limit)
			break;
		jw_raw(w, u, k);
		out += k;
	}
	if (total > cap)
		jw_raw(w, TRUNC_MARK, strlen(TRUNC_MARK));
	jw_raw(w, "\"", 1);
}

static void
jw_key(struct jw *w, const char *key)
{
	if (!w->first[w->depth])
		jw_raw(w, ",", 1);
	w->first[w->depth] = false;
	jw_fmt(w, "\"%s\":", key);
}

static void
jw_open(struct jw *w, const char *key)
{
	if (key)
		jw_key(w, key);
	jw_raw(w, "{", 1);
	if (w->depth + 1 >= sizeof(w->first)) {
		w->full = true;
		return;
	}
	w->first[++w->depth] = true;
}

static void
jw_close(struct jw *w)
{
	jw_raw(w, "}", 1);
	if (w->depth > 0)
		w->depth--;
}

/* A string member, left out when the value is NULL or empty ("omit absent ones"). */
static void
jw_kstr(struct jw *w, const char *key, const char *val, size_t cap)
{
	if (!val || !*val)
		return;
	jw_key(w, key);
	jw_str(w, val, cap);
}

static void
jw_knum(struct jw *w, const char *key, long long v)
{
	jw_key(w, key);
	jw_fmt(w, "%lld", v);
}

/* --- the record ---------------------------------------------------------- */

static int
make_uuid(char out[37])
{
	unsigned char b[16];
	ssize_t n;

	do
		n = getrandom(b, sizeof(b), 0);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(b))
		return n < 0 ? -errno : -EIO;
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	sprintf(out, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0],
		b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13],
		b[14], b[15]);
	return 0;
}

static void
format_time(char out[32])
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, 13, ".%06uZ", (unsigned)(ts.tv_nsec / 1000) % 1000000u);
}

/* CADF's outcome; a denial is a failure with reason code "denied". */
static const char *
outcome_name(enum audit_outcome o, bool cadf)
{
	switch (o) {
	case AUDIT_SUCCESS: return "success";
	case AUDIT_FAILURE: return "failure";
	case AUDIT_DENIED: return cadf ? "failure" : "denied";
	default: return "failure"; /* an out-of-range value is not a success */
	}
}

/*
 * Entrypoint names end in what they do (lv_create, lvcreate, crypt_open,
 * dmcrypt_delete_volume, vginfo, blockdev_size, clear...): the first suffix
 * that fits gives the CADF action. Longer suffixes come first.
 */
static const struct {
	const char *suffix, *action;
} cadf_actions[] = {
	{ "create_volume", "create" },
	{ "delete_volume", "delete" },
	{ "create", "create" },
	{ "open", "create" },
	{ "remove", "delete" },
	{ "destroy", "delete" },
	{ "close", "delete" },
	{ "list", "read/list" },
	{ "info", "read" },
	{ "status", "read" },
	{ "size", "read" },
	{ "clear", "update" },
};

/* word ends (at_end) or begins with what, as a whole word of the name. */
static bool
word_fits(const char *word, size_t n, const char *what, bool at_end)
{
	size_t m = strlen(what);

	if (n < m)
		return false;
	if (at_end)
		return strcmp(word + n - m, what) == 0;
	return strncmp(word, what, m) == 0 && (word[m] == '_' || word[m] == '\0');
}

const char *
audit_cadf_action(const char *entrypoint)
{
	const char *dot = entrypoint ? strrchr(entrypoint, '.') : NULL;
	const char *word = dot ? dot + 1 : entrypoint;
	size_t n = word ? strlen(word) : 0;

	/* By how the name ends (lv_create, vginfo), then by its first word (list_lvs). */
	for (int at_end = 1; at_end >= 0; at_end--)
		for (size_t k = 0; k < sizeof(cadf_actions) / sizeof(cadf_actions[0]); k++)
			if (word_fits(word, n, cadf_actions[k].suffix, at_end))
				return cadf_actions[k].action;
	return "unknown";
}

/*
 * A CADF resource id that names the same thing in every record: a UUID
 * (version 8, RFC 9562) made of the first 128 bits of the SHA-256 of the kind
 * and the parts, NUL-separated. Parts longer than the buffer are cut, which
 * only makes two very long names share an id.
 */
static void
derived_id(char out[37], const char *kind, const char *const *parts, size_t n)
{
	char buf[2048], hex[AUDIT_HASH_HEX];
	size_t len = (size_t)snprintf(buf, sizeof(buf), "%s", kind) + 1; /* kind is short */

	for (size_t k = 0; k < n && len < sizeof(buf); k++) {
		int w = snprintf(buf + len, sizeof(buf) - len, "%s", parts[k] ? parts[k] : "");

		len += (size_t)w + 1;
	}
	if (len > sizeof(buf))
		len = sizeof(buf);
	if (audit_chain_hash(buf, len, hex) < 0)
		memset(hex, '0', 32);
	hex[12] = '8';								     /* version 8 */
	hex[16] = "89ab"[(hex[16] <= '9' ? hex[16] - '0' : hex[16] - 'a' + 10) & 3]; /* variant */
	snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12, hex + 16, hex + 20);
}

static void
jw_kid(struct jw *w, const char *kind, const char *const *parts, size_t n)
{
	char id[37];

	derived_id(id, kind, parts, n);
	jw_kstr(w, "id", id, CAP_SHORT);
}

/* The peer process (SO_PEERCRED), one id per process on this host. */
static void
put_initiator(struct jw *w, const struct audit_event *ev)
{
	char uid[24], pid[24];
	const char *parts[] = { lg.host, uid, pid };

	snprintf(uid, sizeof(uid), "%u", (unsigned)ev->uid);
	snprintf(pid, sizeof(pid), "%d", (int)ev->pid);
	jw_open(w, "initiator");
	jw_kid(w, "initiator", parts, 3);
	jw_kstr(w, "typeURI", "compute/process", CAP_SHORT);
	jw_knum(w, "uid", ev->uid);
	jw_knum(w, "gid", ev->gid);
	jw_knum(w, "pid", ev->pid);
	jw_kstr(w, "request_id", ev->request_id, CAP_NAME);
	jw_close(w);
}

/* What the call named: a volume (LV, mapping, device), else a VG, else the node's storage. */
static void
put_target(struct jw *w, const struct audit_event *ev)
{
	const char *parts[] = { lg.host, ev->vg, ev->lv, ev->mapping, ev->device };
	bool volume =
		(ev->lv && *ev->lv) || (ev->mapping && *ev->mapping) || (ev->device && *ev->device);

	jw_open(w, "target");
	jw_kid(w, "target", parts, 5);
	jw_kstr(w, "typeURI",
		volume		    ? "storage/volume"
		: ev->vg && *ev->vg ? "storage/container"
				    : "storage",
		CAP_SHORT);
	jw_kstr(w, "vg", ev->vg, CAP_NAME);
	jw_kstr(w, "lv", ev->lv, CAP_NAME);
	jw_kstr(w, "mapping", ev->mapping, CAP_NAME);
	jw_kstr(w, "device", ev->device, CAP_NAME);
	jw_close(w);
}

/* This helper process; "host" is a CADF Host, so the name goes in its address. */
static void
put_observer(struct jw *w)
{
	char pid[24];
	const char *parts[] = { lg.host, pid };

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	jw_open(w, "observer");
	jw_kid(w, "observer", parts, 2);
	jw_kstr(w, "typeURI", "service/security", CAP_SHORT);
	jw_kstr(w, "name", "ephcrypt-helper", CAP_SHORT);
	jw_knum(w, "pid", getpid());
	jw_open(w, "host");
	jw_kstr(w, "address", lg.host, CAP_NAME);
	jw_close(w);
	jw_kstr(w, "version", EPHCRYPT_VERSION, CAP_SHORT);
	jw_close(w);
}

/* CADF's {reasonType, reasonCode}: a denial (with the deciding rule), or the errno. */
static void
put_reason(struct jw *w, const struct audit_event *ev)
{
	const char *name = ev->err_no > 0 ? strerrorname_np(ev->err_no) : NULL;
	char code[24];

	if (ev->outcome == AUDIT_SUCCESS)
		return;
	jw_open(w, "reason");
	if (ev->outcome == AUDIT_DENIED) {
		jw_kstr(w, "reasonType", "ephcrypt-policy", CAP_SHORT);
		jw_kstr(w, "reasonCode", "denied", CAP_SHORT);
		if (ev->policy_rule && *ev->policy_rule) {
			jw_kstr(w, "policyType", "ephcrypt-policy", CAP_SHORT);
			jw_kstr(w, "policyId", ev->policy_rule, CAP_NAME);
		}
	} else if (ev->err_no > 0) {
		snprintf(code, sizeof(code), "%d", ev->err_no);
		jw_kstr(w, "reasonType", "errno", CAP_SHORT);
		jw_kstr(w, "reasonCode", name ? name : code, CAP_SHORT);
	} else {
		jw_kstr(w, "reasonType", "ephcrypt", CAP_SHORT);
		jw_kstr(w, "reasonCode", "failed", CAP_SHORT);
	}
	jw_close(w);
}

/* The entrypoint, as a CADF tag "entrypoint?value=NAME". */
static void
put_tags(struct jw *w, const struct audit_event *ev)
{
	char tag[CAP_TAG + 16];

	snprintf(tag, sizeof(tag), "%s%s", TAG_ENTRYPOINT, ev->action);
	jw_key(w, "tags");
	jw_raw(w, "[", 1);
	jw_str(w, tag, CAP_TAG);
	jw_raw(w, "]", 1);
}

/* Everything but "prev" and the closing brace. */
static int
put_body(struct jw *w, const struct audit_event *ev, const char *id)
{
	char when[32];

	format_time(when);
	jw_open(w, NULL);
	jw_kstr(w, "id", id, CAP_SHORT);
	jw_kstr(w, "eventTime", when, CAP_SHORT);
	jw_kstr(w, "eventType", "activity", CAP_SHORT);
	jw_kstr(w, "typeURI", AUDIT_TYPE_URI, CAP_SHORT);
	jw_kstr(w, "action", ev->cadf_action ? ev->cadf_action : audit_cadf_action(ev->action),
		CAP_SHORT);
	jw_kstr(w, "outcome", outcome_name(ev->outcome, true), CAP_SHORT);
	put_reason(w, ev);
	put_initiator(w, ev);
	put_target(w, ev);
	put_observer(w);
	put_tags(w, ev);
	jw_kstr(w, "policy_rule", ev->policy_rule, CAP_NAME);
	if (ev->outcome != AUDIT_SUCCESS) {
		if (ev->err_no)
			jw_knum(w, "errno", ev->err_no);
		jw_kstr(w, "message", ev->message, CAP_MESSAGE);
	}
	jw_knum(w, "duration_us", (long long)ev->duration_us);
	jw_kstr(w, "route", ev->route, CAP_SHORT);
	jw_kstr(w, "context", ev->context, CAP_NAME);
	jw_kstr(w, "reply", ev->reply, CAP_SHORT);
	jw_kstr(w, "exception", ev->exception, CAP_NAME);
	if (ev->cipher) {
		/* Parameters only: the API has no key field, and nothing derived from one. */
		jw_kstr(w, "cipher", ev->cipher, CAP_SHORT);
		jw_knum(w, "key_size", ev->key_size);
		jw_knum(w, "sector_size", ev->sector_size);
		jw_kstr(w, "flags", ev->flags, CAP_NAME);
		jw_kstr(w, "key_id", ev->key_id, CAP_NAME);
	}
	return w->full ? -EMSGSIZE : 0;
}

/* --- the file ------------------------------------------------------------ */

/* Bounded, EINTR-safe pread of exactly n bytes. */
static int
pread_full(int fd, char *buf, size_t n, off_t off)
{
	ssize_t r;

	for (size_t got = 0; got < n; got += (size_t)r) {
		r = pread(fd, buf + got, n - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			r = 0;
		else if (r < 0)
			return -errno;
		else if (r == 0)
			return -EIO; /* shrank while we read it */
	}
	return 0;
}

/* Find the last line in buf[0..n) (n > 0); whole says buf starts the file. */
static int
last_line(const char *buf, size_t n, bool whole, size_t *start, char *why, size_t whylen)
{
	size_t i = n - 1;

	if (buf[n - 1] != '\n')
		return fail(
			EBADMSG, why, whylen,
			"corrupt tail: the last line is not newline-terminated (a torn write?); "
			"check the file with 'ephcrypt-audit verify' and move it aside");
	while (i > 0 && buf[i - 1] != '\n')
		i--;
	if (i == 0 && !whole)
		return fail(
			EFBIG, why, whylen,
			"corrupt tail: the last line is longer than %d bytes: not an audit record",
			AUDIT_TAIL_MAX);
	if (n - 1 - i < 2 || buf[i] != '{' || buf[n - 2] != '}')
		return fail(EBADMSG, why, whylen,
			    "corrupt tail: the last line is not a JSON object");
	*start = i;
	return 0;
}

/* Set lg.prev from the file's last line (or the start marker) and lg.end to size. */
static int
chain_from_tail(off_t size, char *why, size_t whylen)
{
	size_t n, start = 0;
	char *buf;
	int r;

	if (size == 0) {
		lg.end = 0;
		/* After a rotation the new file's first record chains to the old file's last. */
		return lg.carry ? 0 : audit_chain_start(lg.prev);
	}
	/* One byte more than the longest line we accept, for the newline before it. */
	n = size > AUDIT_TAIL_MAX ? AUDIT_TAIL_MAX + 1 : (size_t)size;
	buf = malloc(n);
	if (!buf)
		return fail(ENOMEM, why, whylen, "out of memory");
	r = pread_full(lg.rfd, buf, n, size - (off_t)n);
	if (r < 0)
		fail(-r, why, whylen, "reading the last line: %s", strerror(-r));
	else
		r = last_line(buf, n, (off_t)n == size, &start, why, whylen);
	if (r == 0)
		r = audit_chain_hash(buf + start, n - 1 - start, lg.prev);
	free(buf);
	if (r == 0)
		lg.end = size;
	return r;
}

/*
 * Under flock: another helper may have appended since our last record. A file
 * shorter than that has lost records (cut, or truncated as logrotate's
 * copytruncate does), which no chain can show later: the log is broken from
 * then on. A file renamed or replaced is follow_rotation's business.
 */
static int
resync(char *why, size_t whylen)
{
	struct stat st;

	if (fstat(lg.wfd, &st) < 0)
		return fail(errno, why, whylen, "fstat: %s", strerror(errno));
	if (st.st_size == lg.end)
		return 0;
	if (st.st_size < lg.end)
		return fail(EBADMSG, why, whylen,
			    "shrank from %lld to %lld bytes since our last record "
			    "(truncated, or records cut from its end)",
			    (long long)lg.end, (long long)st.st_size);
	return chain_from_tail(st.st_size, why, whylen);
}

static int
resync_locked(char *why, size_t whylen)
{
	int r;

	if (flock(lg.wfd, LOCK_EX) < 0)
		return fail(errno, why, whylen, "flock: %s", strerror(errno));
	r = resync(why, whylen);
	flock(lg.wfd, LOCK_UN);
	return r;
}

/*
 * Does the path still name the file we write? logrotate's rename (then, or
 * not, a new file made by its create) and an unlink both say no.
 */
static int
path_moved(bool *moved, char *why, size_t whylen)
{
	struct stat at_path, held;

	if (fstat(lg.wfd, &held) < 0)
		return fail(errno, why, whylen, "fstat: %s", strerror(errno));
	if (lstat(lg.path, &at_path) < 0) {
		if (errno != ENOENT)
			return fail(errno, why, whylen, "%s", strerror(errno));
		*moved = true;
		return 0;
	}
	*moved = at_path.st_dev != held.st_dev || at_path.st_ino != held.st_ino;
	return 0;
}

static int open_in_dir(const char *path, char *why, size_t whylen);
static void close_files(void);

/*
 * Follow a rotation: take the old file's real last line (another helper may
 * have appended to it since our last record), then open the path again,
 * creating it 0600 when nobody did, and carry the chain into it. A record
 * written between our check and a rename lands in the renamed file; the
 * next one notices, so nothing is written where nobody will look.
 */
static int
follow_rotation(char *why, size_t whylen)
{
	bool moved = false;
	int r;

	if (!lg.regular)
		return 0;
	r = path_moved(&moved, why, whylen);
	if (r < 0 || !moved)
		return r;
	r = resync_locked(why, whylen);
	if (r < 0)
		return r;
	close_files();
	lg.carry = true;
	r = open_in_dir(lg.path, why, whylen);
	lg.carry = false;
	if (r < 0)
		close_files();
	else
		syslog(LOG_NOTICE, "audit log %s was rotated; continuing its chain in a new file",
		       lg.path);
	return r;
}

/* Split path into its directory ("." or "/" or without trailing slashes) and last name. */
static int
split_path(const char *path, char dir[PATH_MAX], const char **base)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	*base = slash ? slash + 1 : path;
	n = slash ? (size_t)(slash - path) : 0;
	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n >= PATH_MAX)
		return -ENAMETOOLONG;
	if (n == 0) {
		strcpy(dir, slash ? "/" : ".");
		return 0;
	}
	memcpy(dir, path, n);
	dir[n] = '\0';
	return 0;
}

/* One level only: a missing grandparent means a wrong path, not a fresh install. */
static int
make_dir(const char *dir, char *why, size_t whylen)
{
	char up[PATH_MAX];
	const char *name;
	int ufd, r = 0;

	if (split_path(dir, up, &name) < 0)
		return fail(ENAMETOOLONG, why, whylen, "the path is too long");
	ufd = open(up, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd < 0)
		return fail(errno, why, whylen, "cannot create the directory %s: %s", dir,
			    strerror(errno));
	if (mkdirat(ufd, name, 0700) < 0) {
		if (errno != EEXIST) /* EEXIST: made meanwhile; open_dir checks it */
			r = fail(errno, why, whylen, "cannot create the directory %s: %s", dir,
				 strerror(errno));
	} else if (fsync(ufd) < 0) { /* the new entry must survive a crash */
		r = fail(errno, why, whylen, "fsync of %s: %s", up, strerror(errno));
	}
	close(ufd);
	return r;
}

static int
dir_open_failed(const char *dir, char *why, size_t whylen)
{
	int err = errno;
	struct stat st;

	/* O_DIRECTORY|O_NOFOLLOW says ENOTDIR for a symlink; lstat only picks the message. */
	if ((err == ENOTDIR || err == ELOOP) && lstat(dir, &st) == 0 && S_ISLNK(st.st_mode))
		return fail(ELOOP, why, whylen,
			    "the directory %s is a symbolic link; refusing to follow it", dir);
	return fail(err, why, whylen, "the directory %s: %s", dir, strerror(err));
}

/* Whoever can write the directory can swap the log for another file. */
static int
check_dir(const char *dir, const struct stat *st, char *why, size_t whylen)
{
	if (st->st_uid != 0)
		return fail(EPERM, why, whylen, "the directory %s is owned by uid %u, not by root",
			    dir, (unsigned)st->st_uid);
	if (st->st_mode & 022)
		return fail(EPERM, why, whylen,
			    "the directory %s is writable by group or others (mode %04o)", dir,
			    (unsigned)(st->st_mode & 07777));
	return 0;
}

/* Open (creating it 0700 if missing) and check the log's directory; *dfd is -1 or open. */
static int
open_dir(const char *dir, int *dfd, char *why, size_t whylen)
{
	const int fl = O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC;
	struct stat st;
	int r;

	*dfd = open(dir, fl);
	if (*dfd < 0 && errno == ENOENT) {
		r = make_dir(dir, why, whylen);
		if (r < 0)
			return r;
		*dfd = open(dir, fl);
	}
	if (*dfd < 0)
		return dir_open_failed(dir, why, whylen);
	if (fstat(*dfd, &st) < 0)
		return fail(errno, why, whylen, "fstat of %s: %s", dir, strerror(errno));
	return check_dir(dir, &st, why, whylen);
}

/* The file we opened must be ours alone; a character device is allowed (tests, /dev/null). */
static int
check_file(const struct stat *st, char *why, size_t whylen)
{
	if (S_ISCHR(st->st_mode))
		return 0;
	if (!S_ISREG(st->st_mode))
		return fail(EINVAL, why, whylen, "not a regular file");
	if (st->st_uid != geteuid())
		return fail(EPERM, why, whylen, "owned by uid %u, not by us (uid %u)",
			    (unsigned)st->st_uid, (unsigned)geteuid());
	/* Records name callers, volumes and key references: a reviewers' group may read them. */
	if (st->st_mode & 027)
		return fail(EPERM, why, whylen,
			    "%s by %s (mode %04o); it must be mode 0600, or 0640 for a group "
			    "of reviewers: chmod %s it",
			    st->st_mode & 022 ? "writable" : "readable",
			    st->st_mode & 020 ? "its group" : "others",
			    (unsigned)(st->st_mode & 07777), st->st_mode & 040 ? "0640" : "0600");
	if (st->st_nlink != 1)
		return fail(EPERM, why, whylen, "%u hard links; an audit log must have exactly one",
			    (unsigned)st->st_nlink);
	return 0;
}

/* The reader must be the very file the writer has, not whatever the name holds now. */
static int
open_reader(int dfd, const char *base, const struct stat *wst, char *why, size_t whylen)
{
	struct stat st;

	lg.rfd = openat(dfd, base, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (lg.rfd < 0)
		return fail(errno, why, whylen, "%s", strerror(errno));
	if (fstat(lg.rfd, &st) < 0)
		return fail(errno, why, whylen, "fstat: %s", strerror(errno));
	if (st.st_dev != wst->st_dev || st.st_ino != wst->st_ino)
		return fail(EAGAIN, why, whylen, "replaced while being opened");
	return 0;
}

/* Open, or create with O_EXCL: only then do we know that the file is new. */
static int
open_or_create(int dfd, const char *base, bool *created)
{
	/* O_NONBLOCK so that a FIFO planted at the path cannot hang start-up. */
	const int fl = O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK;
	int fd = -1;

	*created = false;
	for (int i = 0; i < 3 && fd < 0; i++) { /* retried only while it vanishes and reappears */
		fd = openat(dfd, base, fl);
		if (fd >= 0 || errno != ENOENT)
			break;
		fd = openat(dfd, base, fl | O_CREAT | O_EXCL, 0600);
		*created = fd >= 0;
		if (fd < 0 && errno != EEXIST)
			break;
	}
	return fd;
}

static int
open_writer(int dfd, const char *base, struct stat *st, char *why, size_t whylen)
{
	bool created;
	int fl;

	lg.wfd = open_or_create(dfd, base, &created);
	if (lg.wfd < 0 && errno == ELOOP)
		return fail(ELOOP, why, whylen, "a symbolic link; refusing to follow it");
	if (lg.wfd < 0 && errno == ENXIO) /* a FIFO with no reader */
		return fail(EINVAL, why, whylen, "not a regular file");
	if (lg.wfd < 0)
		return fail(errno, why, whylen, "%s", strerror(errno));
	if (created && fsync(dfd) < 0) /* the new file's entry must survive a crash */
		return fail(errno, why, whylen, "fsync of its directory: %s", strerror(errno));
	if (fstat(lg.wfd, st) < 0)
		return fail(errno, why, whylen, "fstat: %s", strerror(errno));
	fl = fcntl(lg.wfd, F_GETFL);
	if (fl < 0 || fcntl(lg.wfd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return fail(errno, why, whylen, "fcntl: %s", strerror(errno));
	return check_file(st, why, whylen);
}

static int
open_files(int dfd, const char *base, char *why, size_t whylen)
{
	struct stat st;
	int r;

	r = open_writer(dfd, base, &st, why, whylen);
	if (r < 0)
		return r;
	lg.regular = S_ISREG(st.st_mode);
	if (!lg.regular) /* no tail to read: a fresh chain */
		return chain_from_tail(0, why, whylen);
	r = open_reader(dfd, base, &st, why, whylen);
	if (r < 0)
		return r;
	if (flock(lg.wfd, LOCK_EX) < 0)
		return fail(errno, why, whylen, "flock: %s", strerror(errno));
	r = fstat(lg.wfd, &st) < 0 ? fail(errno, why, whylen, "fstat: %s", strerror(errno))
				   : chain_from_tail(st.st_size, why, whylen);
	flock(lg.wfd, LOCK_UN);
	return r;
}

/* The directory is checked first and the file opened relative to it: the same one. */
static int
open_in_dir(const char *path, char *why, size_t whylen)
{
	char dir[PATH_MAX];
	const char *base;
	int dfd, r;

	if (strlen(path) >= sizeof(lg.path) || split_path(path, dir, &base) < 0)
		return fail(ENAMETOOLONG, why, whylen, "the path is too long");
	if (!*base)
		return fail(EISDIR, why, whylen, "names a directory, not a file");
	r = open_dir(dir, &dfd, why, whylen);
	if (r == 0)
		r = open_files(dfd, base, why, whylen);
	if (dfd >= 0)
		close(dfd);
	return r;
}

static void
close_files(void)
{
	if (lg.wfd >= 0)
		close(lg.wfd);
	if (lg.rfd >= 0)
		close(lg.rfd);
	lg.wfd = lg.rfd = -1;
}

/* Kept absolute: the rotation check looks the path up again after chdir("/"). */
static int
absolute_path(const char *path, char *why, size_t whylen)
{
	char cwd[PATH_MAX];
	int n;

	if (path[0] == '/') {
		n = snprintf(lg.path, sizeof(lg.path), "%s", path);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return fail(errno, why, whylen, "getcwd: %s", strerror(errno));
		n = snprintf(lg.path, sizeof(lg.path), "%s/%s", cwd, path);
	}
	if (n < 0 || (size_t)n >= sizeof(lg.path))
		return fail(ENAMETOOLONG, why, whylen, "the path is too long");
	return 0;
}

/* why does not repeat the path: the caller names the log in its own message. */
int
audit_open(const char *path, char *why, size_t whylen)
{
	int r;

	if (!path || !*path)
		path = AUDIT_DEFAULT_PATH;
	if (lg.wfd >= 0)
		return fail(EBUSY, why, whylen, "already open");
	r = absolute_path(path, why, whylen);
	if (r < 0)
		return r;
	/* The first digest also loads libcrypto's config. */
	r = open_in_dir(path, why, whylen); /* as given, for the messages */
	if (r < 0) {
		close_files();
	} else {
		if (gethostname(lg.host, sizeof(lg.host)) < 0)
			snprintf(lg.host, sizeof(lg.host), "unknown");
		lg.host[sizeof(lg.host) - 1] = '\0';
		/* Both need files or sockets the sandbox will not allow later. */
		tzset();
		openlog("ephcrypt-helper", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
		lg.broken_err = 0;
		lg.broken_why[0] = '\0';
	}
	return r;
}

/* One write, then fdatasync: the record is on disk before the reply goes out. */
static int
append(const char *line, size_t len)
{
	ssize_t n;

	do
		n = write(lg.wfd, line, len);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EIO; /* a short write leaves a torn line: nothing may follow it */
	if (lg.regular && fdatasync(lg.wfd) < 0)
		return -errno;
	lg.end += (off_t)len;
	return 0;
}

/* Resync the chain, add "prev", write, advance the chain. */
static int
write_locked(struct jw *w, char *linehash, char *why, size_t whylen)
{
	int r = 0;

	if (lg.regular && flock(lg.wfd, LOCK_EX) < 0)
		return fail(errno, why, whylen, "flock: %s", strerror(errno));
	if (lg.regular)
		r = resync(why, whylen);
	if (r == 0) {
		jw_kstr(w, "prev", lg.prev, CAP_SHORT);
		jw_close(w);
		r = w->full ? -EMSGSIZE : audit_chain_hash(w->buf, w->len, linehash);
	}
	if (r == 0) {
		jw_raw(w, "\n", 1);
		r = w->full ? -EMSGSIZE : append(w->buf, w->len);
	}
	if (r == 0)
		memcpy(lg.prev, linehash, sizeof(lg.prev));
	if (lg.regular)
		flock(lg.wfd, LOCK_UN);
	return r;
}

/* The syslog copy: enough to find the record, and its hash to pin the file's content. */
static void
summary(const struct audit_event *ev, const char *id, const char *linehash, int r, const char *why)
{
	static const char *const keys[] = { " vg=", " lv=", " mapping=", " device=" };
	const char *vals[] = { ev->vg, ev->lv, ev->mapping, ev->device };
	char buf[2048];
	struct jw w = { .buf = buf, .cap = sizeof(buf) - 1 };

	jw_fmt(&w, "id=%s action=", id);
	jw_str(&w, ev->action, CAP_SHORT);
	jw_fmt(&w, " outcome=%s uid=%u", outcome_name(ev->outcome, false), (unsigned)ev->uid);
	for (size_t i = 0; i < 4; i++) {
		if (vals[i] && *vals[i]) {
			jw_raw(&w, keys[i], strlen(keys[i]));
			jw_str(&w, vals[i], CAP_SHORT);
		}
	}
	if (r == 0) {
		jw_raw(&w, " sha256=", 8);
		jw_raw(&w, linehash, strlen(linehash));
	}
	buf[w.len] = '\0';
	syslog(ev->outcome == AUDIT_SUCCESS ? LOG_INFO : LOG_WARNING, "%s", buf);
	if (r < 0)
		syslog(LOG_ERR, "audit log %s: cannot record %s: %s; refusing further requests",
		       lg.path, id, why);
}

/* The first failure is kept, with its reason, and refuses all later ones. */
static void
set_broken(int r, char *why, size_t whylen)
{
	if (!*why)
		fail(-r, why, whylen, "%s", strerror(-r));
	lg.broken_err = -r;
	snprintf(lg.broken_why, sizeof(lg.broken_why), "%s", why);
}

int
audit_record(const struct audit_event *ev)
{
	char buf[AUDIT_LINE_MAX], id[37] = "-", linehash[sizeof(lg.prev)] = "";
	char why[sizeof(lg.broken_why)] = "";
	struct jw w = { .buf = buf, .cap = sizeof(buf) - 1 }; /* < 8 KiB, newline included */
	int r;

	if (!ev || !ev->action)
		return -EINVAL;
	if (lg.broken_err) {
		/* A torn tail, a lost record or a shrunk file: stay refused. */
		r = -lg.broken_err;
		snprintf(why, sizeof(why), "%s", lg.broken_why);
	} else if (lg.wfd < 0) {
		r = fail(EBADF, why, sizeof(why), "not open");
	} else {
		r = follow_rotation(why, sizeof(why));
		if (r == 0)
			r = make_uuid(id);
		if (r == 0)
			r = put_body(&w, ev, id);
		if (r == 0)
			r = write_locked(&w, linehash, why, sizeof(why));
	}
	if (r < 0 && !lg.broken_err)
		set_broken(r, why, sizeof(why));
	summary(ev, id, linehash, r, why);
	return r;
}

int
audit_ready(char *why, size_t whylen)
{
	char reason[sizeof(lg.broken_why)] = "";
	int r = 0;

	if (lg.broken_err)
		r = -lg.broken_err;
	else if (lg.wfd < 0)
		r = fail(EBADF, reason, sizeof(reason), "not open");
	else
		r = follow_rotation(reason, sizeof(reason));
	if (r == 0 && lg.regular)
		r = resync_locked(reason, sizeof(reason));
	if (r < 0 && !lg.broken_err) {
		set_broken(r, reason, sizeof(reason));
		syslog(LOG_ERR, "audit log %s: %s; refusing further requests", lg.path, reason);
	}
	audit_broken_reason(why, whylen);
	return r;
}

int
audit_log_dir(char *dir, size_t dirlen)
{
	char d[PATH_MAX];
	const char *base;

	if (lg.wfd < 0 || !lg.regular || split_path(lg.path, d, &base) < 0)
		return -ENOENT;
	if ((size_t)snprintf(dir, dirlen, "%s", d) >= dirlen)
		return -ENAMETOOLONG;
	return 0;
}

bool
audit_is_broken(void)
{
	return lg.broken_err != 0;
}

void
audit_broken_reason(char *why, size_t whylen)
{
	if (!why || !whylen)
		return;
	if (lg.broken_err)
		snprintf(why, whylen, "audit log %s: %s", lg.path, lg.broken_why);
	else
		why[0] = '\0';
}

void
audit_close(void)
{
	close_files();
	lg.end = 0;
	closelog();
}
