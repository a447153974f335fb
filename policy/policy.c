/* SPDX-License-Identifier: Apache-2.0 */
/*
 * policy.conf (man/ephcrypt-policy.5): each line is blank, a comment, a
 * "[section]" header or "directive word...". Errors print as
 * "file:line: message" and parsing resumes at the next line, so one run
 * shows them all. What no rule allows is refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <regex.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hint.h"
#include "number.h"
#include "names.h"
#include "pattern.h"
#include "policy.h"
#include "rootfile.h"

#define LINE_MAX_LEN 1024
#define MAX_WORDS    5	/* one more than any directive takes, to show the garbage */
#define MAX_RULES    64 /* per section */
#define MAX_LIST     16 /* values in one comma-separated list */
#define MAX_ERRORS   20 /* reported before the parser stops reading */
#define MAX_KEY_BITS 1024
#define NELEM(a)     (sizeof(a) / sizeof((a)[0]))

enum section { S_NONE, S_CALLERS, S_VGS, S_VOLUMES, S_MAPPINGS, S_CRYPTO, S_FORWARD, S_UNKNOWN };

static const char *const sections[] = {
	[S_NONE] = "",		 [S_CALLERS] = "callers",   [S_VGS] = "volume-groups",
	[S_VOLUMES] = "volumes", [S_MAPPINGS] = "mappings", [S_CRYPTO] = "crypto",
	[S_FORWARD] = "forward",
};

/* [crypto] settings given at most once; the flags come first, as enum policy_flag. */
enum setting { SET_SECTORS = PF_COUNT, SET_HASH, SET_PASS_MIN, SET_COUNT };

/* dm-crypt table spellings of enum policy_flag, for messages. */
static const char *const flagnames[] = {
	[PF_ALLOW_DISCARDS] = "allow_discards",
	[PF_NO_READ_WORKQUEUE] = "no_read_workqueue",
	[PF_NO_WRITE_WORKQUEUE] = "no_write_workqueue",
};

const char *
policy_flag_name(enum policy_flag f)
{
	return (unsigned)f < NELEM(flagnames) ? flagnames[f] : "?";
}

/* The passphrase hash cryptsetup 2.6 (Debian 12) uses, then the other choice. */
static const char *const hashes[] = { "ripemd160", "sha256" };

struct caller {
	uid_t uid;
	char user[64]; /* "" for a uid rule */
	unsigned line;
};

struct vgrule {
	char name[NAME_MAX_LEN + 1];
	uint64_t max;
	unsigned line;
};

struct pattern {
	regex_t re;
	char *src;		   /* as applied, anchors included */
	char vg[NAME_MAX_LEN + 1]; /* "" = any allowed VG */
	unsigned line;
};

struct cipher {
	char name[64];
	bool keys[MAX_KEY_BITS / 8 + 1]; /* by bits / 8 */
	unsigned line;
};

struct policy {
	char *path;
	const char *base; /* the file name alone, for messages sent to callers */
	struct caller callers[MAX_RULES];
	struct vgrule vgs[MAX_RULES];
	struct pattern lvs[MAX_RULES], maps[MAX_RULES];
	struct pattern fwd[MAX_RULES]; /* [forward] entrypoint patterns */
	struct cipher ciphers[MAX_RULES];
	unsigned ncallers, nvgs, nlvs, nmaps, nciphers, nfwd;
	/* flags: 1 = yes; SET_SECTORS: bit n = 512 << n; SET_HASH: index in hashes */
	unsigned set[SET_COUNT], setline[SET_COUNT];
};

struct parser {
	struct policy *p;
	FILE *err;
	unsigned line;
	int nerr;
	enum section sec;
	unsigned opened[S_UNKNOWN]; /* the line each section was first opened at */
};

struct directive {
	const char *name;
	enum section sec;
	int minw, maxw; /* words, the directive included */
	int set;	/* enum setting given once, or -1 */
	const char *usage;
	int (*fn)(struct parser *ps, const struct directive *d, char **w);
};

/* Print one error; returns -1 so that callers can "return perr(...)". */
static int __attribute__((format(printf, 2, 3))) perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	fprintf(ps->err, ps->line ? "%s:%u: " : "%s: ", ps->p->path, ps->line);
	va_start(ap, fmt);
	vfprintf(ps->err, fmt, ap);
	va_end(ap);
	fputc('\n', ps->err);
	ps->nerr++;
	return -1;
}

/* Quote untrusted text (file words, caller names) for a message. */
static const char *
show(const char *s, char buf[NAME_SHOW_CAP])
{
	name_show(s, buf, NAME_SHOW_CAP);
	return buf;
}

static bool
full(struct parser *ps, unsigned n)
{
	if (n >= MAX_RULES)
		perr(ps, "too many rules in [%s] (at most %d)", sections[ps->sec], MAX_RULES);
	return n >= MAX_RULES;
}

static bool
keyword(struct parser *ps, const struct directive *d, const char *w, const char *want)
{
	char b[NAME_SHOW_CAP];

	if (strcmp(w, want))
		perr(ps, "expected '%s', got '%s' (usage: %s)", want, show(w, b), d->usage);
	return !strcmp(w, want);
}

/* Parse "N[,N...]"; returns the count, or -1 after printing the error. */
static int
numlist(struct parser *ps, const char *what, char *s, uint64_t vals[MAX_LIST])
{
	char b[NAME_SHOW_CAP], *tok;
	int n = 0;

	while ((tok = strsep(&s, ",")) != NULL) {
		if (n == MAX_LIST)
			return perr(ps, "too many %ss (at most %d)", what, MAX_LIST);
		if (parse_u64(tok, 0, UINT64_MAX, &vals[n++]) < 0)
			return perr(ps, "bad %s '%s' (expected a number)", what, show(tok, b));
	}
	return n;
}

static int
d_caller(struct parser *ps, const struct directive *d, char **w)
{
	struct caller *c = &ps->p->callers[ps->p->ncallers];
	struct passwd *pw = NULL;
	char b[NAME_SHOW_CAP];
	uint64_t v = 0;

	if (!strcmp(d->name, "user") && !(pw = getpwnam(w[1])))
		return perr(ps, "unknown user '%s'", show(w[1], b));
	/* (uid_t)-1 means "no change" to setresuid and friends: never a caller. */
	if (!pw && parse_u64(w[1], 0, (uid_t)-1 - 1, &v) < 0)
		return perr(ps, "bad uid '%s' (expected a number in 0..%u)", show(w[1], b),
			    (uid_t)-1 - 1);
	if (full(ps, ps->p->ncallers))
		return -1;
	c->uid = pw ? pw->pw_uid : (uid_t)v;
	snprintf(c->user, sizeof(c->user), "%s", pw ? w[1] : "");
	c->line = ps->line;
	ps->p->ncallers++;
	return 0;
}

static const struct vgrule *
findvg(const struct policy *p, const char *vg)
{
	unsigned i;

	for (i = 0; i < p->nvgs; i++)
		if (!strcmp(p->vgs[i].name, vg))
			return &p->vgs[i];
	return NULL;
}

static int
d_vg(struct parser *ps, const struct directive *d, char **w)
{
	struct vgrule *r = &ps->p->vgs[ps->p->nvgs];
	char why[NAME_WHY_MAX], b[NAME_SHOW_CAP];
	const struct vgrule *dup;

	if (name_check_vg(w[1], why, sizeof(why)) < 0)
		return perr(ps, "%s", why);
	if ((dup = findvg(ps->p, w[1])) != NULL)
		return perr(ps, "duplicate vg '%s' (first at line %u)", w[1], dup->line);
	if (!keyword(ps, d, w[2], "max-lv-size") || full(ps, ps->p->nvgs))
		return -1;
	if (parse_size(w[3], &r->max) < 0 || r->max == 0)
		return perr(ps,
			    "bad size '%s' (expected a number > 0 with an optional K, M, G, T "
			    "or P suffix)",
			    show(w[3], b));
	snprintf(r->name, sizeof(r->name), "%s", w[1]);
	r->line = ps->line;
	ps->p->nvgs++;
	return 0;
}

/*
 * Compile "^(core)$". glibc reads an unmatched ')' as a literal, so "x)|.*"
 * would close our group early: "(" core must fail with REG_EPAREN, which
 * holds only when core's own parentheses balance.
 */
static int
compile(struct parser *ps, regex_t *re, const char *core, char *buf, size_t cap)
{
	char msg[160], b[NAME_SHOW_CAP], hint[NAME_WHY_MAX];
	int rc;

	if (pattern_check(core, hint, sizeof(hint)) < 0)
		return perr(ps, "bad pattern '%s': %s", show(core, b), hint);
	snprintf(buf, cap, "(%s", core);
	if ((rc = regcomp(re, core, REG_EXTENDED | REG_NOSUB)) == 0) {
		regfree(re);
		if ((rc = regcomp(re, buf, REG_EXTENDED | REG_NOSUB)) == 0) {
			regfree(re);
			return perr(ps, "bad pattern '%s': unmatched )", show(core, b));
		}
		rc = rc == REG_EPAREN ? 0 : rc;
	}
	snprintf(buf, cap, "^(%s)$", core);
	if (rc == 0 && (rc = regcomp(re, buf, REG_EXTENDED | REG_NOSUB)) == 0)
		return 0;
	regerror(rc, re, msg, sizeof(msg));
	if (hint_glob(core, hint, sizeof(hint)))
		return perr(ps, "bad pattern '%s': %s (%s)", show(core, b), msg, hint);
	return perr(ps, "bad pattern '%s': %s", show(core, b), msg);
}

static int
addpattern(struct parser *ps, struct pattern *list, unsigned *n, const char *vg, const char *src)
{
	char core[LINE_MAX_LEN + 1], buf[LINE_MAX_LEN + 8];
	struct pattern *pt = &list[*n];
	size_t len, bs = 0;

	if (full(ps, *n))
		return -1;
	/* Drop the writer's own anchors: every pattern is anchored here. */
	src += *src == '^';
	len = strlen(src);
	while (bs + 1 < len && src[len - 2 - bs] == '\\')
		bs++;
	len -= len > 0 && src[len - 1] == '$' && bs % 2 == 0;
	if (len == 0)
		return perr(ps, "empty pattern");
	snprintf(core, sizeof(core), "%.*s", (int)len, src);
	if (compile(ps, &pt->re, core, buf, sizeof(buf)) < 0)
		return -1;
	if (!(pt->src = strdup(buf))) {
		regfree(&pt->re);
		return perr(ps, "out of memory");
	}
	snprintf(pt->vg, sizeof(pt->vg), "%s", vg);
	pt->line = ps->line;
	(*n)++;
	return 0;
}

static int
d_pattern(struct parser *ps, const struct directive *d, char **w)
{
	struct policy *p = ps->p;
	char why[NAME_WHY_MAX];

	if (d->sec == S_MAPPINGS)
		return addpattern(ps, p->maps, &p->nmaps, "", w[1]);
	if (d->sec == S_FORWARD)
		return addpattern(ps, p->fwd, &p->nfwd, "", w[1]);
	if (!w[2])
		return addpattern(ps, p->lvs, &p->nlvs, "", w[1]);
	if (!w[3])
		return perr(ps, "missing argument (usage: %s)", d->usage);
	if (!keyword(ps, d, w[1], "in"))
		return -1;
	if (name_check_vg(w[2], why, sizeof(why)) < 0)
		return perr(ps, "%s", why);
	return addpattern(ps, p->lvs, &p->nlvs, w[2], w[3]);
}

/* [a-z0-9:-]+ that splits at its first '-' into a cipher and a mode. */
static bool
ciphername(const char *s)
{
	const char *dash = strchr(s, '-');
	size_t len = strlen(s);

	return len < sizeof(((struct cipher *)0)->name) && dash && dash != s && dash[1] &&
	       strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789:-") == len;
}

static const struct cipher *
findcipher(const struct policy *p, const char *name)
{
	unsigned i;

	for (i = 0; name && i < p->nciphers; i++)
		if (!strcmp(p->ciphers[i].name, name))
			return &p->ciphers[i];
	return NULL;
}

static int
d_cipher(struct parser *ps, const struct directive *d, char **w)
{
	struct cipher *c = &ps->p->ciphers[ps->p->nciphers];
	const struct cipher *dup;
	char b[NAME_SHOW_CAP];
	uint64_t k[MAX_LIST];
	int i, nk;

	if (!ciphername(w[1]))
		return perr(ps,
			    "bad cipher '%s' (expected CIPHER-MODE in [a-z0-9:-], such as "
			    "aes-xts-plain64)",
			    show(w[1], b));
	if ((dup = findcipher(ps->p, w[1])) != NULL)
		return perr(ps, "duplicate cipher '%s' (first at line %u)", w[1], dup->line);
	if (!keyword(ps, d, w[2], "key-sizes") || full(ps, ps->p->nciphers) ||
	    (nk = numlist(ps, "key size", w[3], k)) < 0)
		return -1;
	memset(c, 0, sizeof(*c));
	for (i = 0; i < nk; i++) {
		if (k[i] % 8 || k[i] < 128 || k[i] > MAX_KEY_BITS)
			return perr(ps, "key size %llu is not a multiple of 8 in 128..%d",
				    (unsigned long long)k[i], MAX_KEY_BITS);
		c->keys[k[i] / 8] = true;
	}
	snprintf(c->name, sizeof(c->name), "%s", w[1]);
	c->line = ps->line;
	ps->p->nciphers++;
	return 0;
}

static int
d_sectors(struct parser *ps, const struct directive *d, char **w)
{
	uint64_t s[MAX_LIST];
	int i, ns;

	if ((ns = numlist(ps, "sector size", w[1], s)) < 0)
		return -1;
	for (i = 0; i < ns; i++) {
		if (s[i] < 512 || s[i] > 4096 || (s[i] & (s[i] - 1)))
			return perr(ps, "sector size %llu is not a power of two in 512..4096",
				    (unsigned long long)s[i]);
		ps->p->set[d->set] |= (unsigned)s[i] / 512;
	}
	return 0;
}

/* A two-way choice: yes|no for a flag, ripemd160|sha256 for the hash. */
static int
d_choice(struct parser *ps, const struct directive *d, char **w)
{
	const char *const *ch = d->set == SET_HASH ? hashes : (const char *const[]){ "no", "yes" };
	char b[NAME_SHOW_CAP];

	if (strcmp(w[1], ch[0]) && strcmp(w[1], ch[1]))
		return perr(ps, "expected '%s' or '%s', got '%s'", ch[0], ch[1], show(w[1], b));
	ps->p->set[d->set] = !strcmp(w[1], ch[1]);
	return 0;
}

/* The shortest Nova passphrase, in bytes (Nova sends 2 hex characters a key byte). */
static int
d_pass_min(struct parser *ps, const struct directive *d, char **w)
{
	uint64_t n;
	char b[NAME_SHOW_CAP];

	if (parse_u64(w[1], 1, MAX_KEY_BITS / 4, &n) < 0)
		return perr(ps, "passphrase length '%s' is not a number in 1..%d", show(w[1], b),
			    MAX_KEY_BITS / 4);
	ps->p->set[d->set] = (unsigned)n;
	return 0;
}

static const struct directive directives[] = {
	{ "uid", S_CALLERS, 2, 2, -1, "uid NUMBER", d_caller },
	{ "user", S_CALLERS, 2, 2, -1, "user NAME", d_caller },
	{ "vg", S_VGS, 4, 4, -1, "vg NAME max-lv-size SIZE", d_vg },
	{ "lv", S_VOLUMES, 2, 4, -1, "lv [in VG] PATTERN", d_pattern },
	{ "mapping", S_MAPPINGS, 2, 2, -1, "mapping PATTERN", d_pattern },
	{ "cipher", S_CRYPTO, 4, 4, -1, "cipher NAME key-sizes BITS[,BITS...]", d_cipher },
	{ "sector-sizes", S_CRYPTO, 2, 2, SET_SECTORS, "sector-sizes BYTES[,BYTES...]", d_sectors },
	{ "allow-discards", S_CRYPTO, 2, 2, PF_ALLOW_DISCARDS, "allow-discards yes|no", d_choice },
	{ "no-read-workqueue", S_CRYPTO, 2, 2, PF_NO_READ_WORKQUEUE, "no-read-workqueue yes|no",
	  d_choice },
	{ "no-write-workqueue", S_CRYPTO, 2, 2, PF_NO_WRITE_WORKQUEUE, "no-write-workqueue yes|no",
	  d_choice },
	{ "nova-passphrase-hash", S_CRYPTO, 2, 2, SET_HASH, "nova-passphrase-hash ripemd160|sha256",
	  d_choice },
	{ "entrypoint", S_FORWARD, 2, 2, -1, "entrypoint PATTERN", d_pattern },
	{ "nova-passphrase-min", S_CRYPTO, 2, 2, SET_PASS_MIN, "nova-passphrase-min BYTES",
	  d_pass_min },
};

static int
unknown_directive(struct parser *ps, const char *word)
{
	const char *names[NELEM(directives)], *near;
	char b[NAME_SHOW_CAP];

	for (size_t i = 0; i < NELEM(directives); i++)
		names[i] = directives[i].name;
	near = hint_closest(word, names, NELEM(directives));
	if (near)
		return perr(ps, "unknown directive '%s'; did you mean '%s'?", show(word, b), near);
	return perr(ps, "unknown directive '%s'", show(word, b));
}

static int
directive(struct parser *ps, char **w, int n)
{
	const struct directive *d = NULL;
	char b[NAME_SHOW_CAP];
	size_t i;

	if (ps->sec == S_UNKNOWN) /* its header was reported; one error is enough */
		return -1;
	for (i = 0; i < NELEM(directives); i++)
		if (!strcmp(w[0], directives[i].name))
			d = &directives[i];
	if (!d)
		return unknown_directive(ps, w[0]);
	if (ps->sec == S_NONE)
		return perr(ps, "'%s' before any section (it belongs in [%s])", d->name,
			    sections[d->sec]);
	if (ps->sec != d->sec)
		return perr(ps, "'%s' is not allowed in [%s] (it belongs in [%s])", d->name,
			    sections[ps->sec], sections[d->sec]);
	if (n < d->minw)
		return perr(ps, "missing argument (usage: %s)", d->usage);
	if (n > d->maxw)
		return perr(ps, "trailing garbage '%s' (usage: %s)", show(w[d->maxw], b), d->usage);
	if (d->set >= 0 && ps->p->setline[d->set])
		return perr(ps, "duplicate '%s' (first at line %u)", d->name,
			    ps->p->setline[d->set]);
	if (d->fn(ps, d, w) < 0)
		return -1;
	if (d->set >= 0)
		ps->p->setline[d->set] = ps->line;
	return 0;
}

static int
section(struct parser *ps, char **w, int n)
{
	char b[NAME_SHOW_CAP], h[NAME_SHOW_CAP];
	size_t len = strlen(w[0]);
	enum section s;

	ps->sec = S_UNKNOWN;
	if (n > 1)
		return perr(ps, "trailing garbage '%s' after %s", show(w[1], b), show(w[0], h));
	if (len < 3 || w[0][len - 1] != ']')
		return perr(ps, "bad section header '%s' (expected [NAME])", show(w[0], b));
	w[0][len - 1] = '\0';
	for (s = S_CALLERS; s < S_UNKNOWN && strcmp(w[0] + 1, sections[s]); s++)
		;
	if (s == S_UNKNOWN) {
		const char *near = hint_closest(w[0] + 1, sections, S_UNKNOWN);

		if (near)
			return perr(ps, "unknown section [%s]; did you mean [%s]?",
				    show(w[0] + 1, b), near);
		return perr(ps, "unknown section [%s]", show(w[0] + 1, b));
	}
	ps->sec = s;
	if (ps->opened[s])
		return perr(ps, "duplicate section [%s] (first at line %u)", sections[s],
			    ps->opened[s]);
	ps->opened[s] = ps->line;
	return 0;
}

static int
parseline(struct parser *ps, char *line, size_t len)
{
	char *w[MAX_WORDS + 1] = { NULL }, *s = line;
	int n = 0;

	if (strlen(line) != len)
		return perr(ps, "NUL byte at column %zu", strlen(line) + 1);
	len -= len > 0 && line[len - 1] == '\n';
	if (len > LINE_MAX_LEN)
		return perr(ps, "line longer than %d bytes", LINE_MAX_LEN);
	line[strcspn(line, "#\n")] = '\0';
	while (n < MAX_WORDS && *(s += strspn(s, " \t\r"))) {
		w[n++] = s;
		s += strcspn(s, " \t\r");
		if (*s)
			*s++ = '\0';
	}
	if (n == 0)
		return 0;
	return w[0][0] == '[' ? section(ps, w, n) : directive(ps, w, n);
}

static void
report_file(void *ctx, const char *msg)
{
	perr(ctx, "%s", msg);
}

/*
 * fstat the descriptor we read, so the file checked is the file parsed. A
 * wrong owner or mode is an error, but the contents are still read, so that
 * one run shows every error.
 */
static FILE *
openfile(struct parser *ps, bool check_file)
{
	int problems, fd = rootfile_open(ps->p->path, check_file, report_file, ps, &problems);
	FILE *f;

	if (fd < 0)
		return NULL;
	if ((f = fdopen(fd, "r")) != NULL)
		return f;
	perr(ps, "fdopen: %s", strerror(errno));
	close(fd);
	return NULL;
}

static void
parsefile(struct parser *ps, FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	unsigned i;
	bool stopped = false;

	while (!stopped && (len = getline(&line, &cap, f)) > 0) {
		ps->line++;
		/* So many errors: the wrong file, most likely. Say so, not more. */
		if ((stopped = ps->nerr >= MAX_ERRORS))
			perr(ps, "stopping after %d errors; the rest of the file is not checked",
			     MAX_ERRORS);
		else
			parseline(ps, line, (size_t)len);
	}
	free(line);
	ps->line = 0;
	if (stopped)
		return;
	if (ferror(f))
		perr(ps, "read error");
	/* A VG may be declared after the [volumes] rule that names it. */
	for (i = 0; i < ps->p->nlvs; i++) {
		ps->line = ps->p->lvs[i].line;
		if (ps->p->lvs[i].vg[0] && !findvg(ps->p, ps->p->lvs[i].vg))
			perr(ps, "volume group '%s' is not in [volume-groups]", ps->p->lvs[i].vg);
	}
}

int
policy_load(const char *path, bool check_file, FILE *err, struct policy **out)
{
	struct parser ps = { .err = err ? err : stderr };
	FILE *f;

	*out = NULL;
	if (!(ps.p = calloc(1, sizeof(*ps.p))) || !(ps.p->path = strdup(path))) {
		fprintf(ps.err, "%s: out of memory\n", path);
		free(ps.p);
		return 1;
	}
	ps.p->base = strrchr(ps.p->path, '/') ? strrchr(ps.p->path, '/') + 1 : ps.p->path;
	if ((f = openfile(&ps, check_file)) != NULL) {
		parsefile(&ps, f);
		fclose(f);
	}
	if (ps.nerr) {
		policy_free(ps.p);
		return ps.nerr;
	}
	*out = ps.p;
	return 0;
}

static void
freepatterns(struct pattern *pt, unsigned n)
{
	while (n-- > 0) {
		regfree(&pt[n].re);
		free(pt[n].src);
	}
}

void
policy_free(struct policy *p)
{
	if (!p)
		return;
	freepatterns(p->lvs, p->nlvs);
	freepatterns(p->maps, p->nmaps);
	freepatterns(p->fwd, p->nfwd);
	free(p->path);
	free(p);
}

/* --- checks: pure functions of the loaded policy ------------------------ */

/* Record what decided: a policy line, or (line 0) the default deny. */
static int __attribute__((format(printf, 5, 6)))
verdict(const struct policy *p, unsigned line, int rc, struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (!v)
		return rc;
	if (line)
		snprintf(v->rule, sizeof(v->rule), "%s:%u", p->path, line);
	else
		snprintf(v->rule, sizeof(v->rule), "default deny");
	va_start(ap, fmt);
	vsnprintf(v->why, sizeof(v->why), fmt, ap);
	va_end(ap);
	return rc;
}

#define allow(p, line, v)     verdict(p, line, 0, v, "%s", "")
#define deny(p, line, v, ...) verdict(p, line, -1, v, __VA_ARGS__)

static int
badname(int (*check)(const char *, char *, size_t), const char *name, struct verdict *v)
{
	char why[sizeof(v->why)];

	if (check(name, why, sizeof(why)) == 0)
		return 0;
	if (v) {
		snprintf(v->rule, sizeof(v->rule), "name grammar");
		snprintf(v->why, sizeof(v->why), "%s", why);
	}
	return -1;
}

int
policy_uid(const struct policy *p, uid_t uid, struct verdict *v)
{
	unsigned i;

	if (p->ncallers == 0 && v) {
		snprintf(v->rule, sizeof(v->rule), "%s (no [callers] rule: any uid)", p->path);
		v->why[0] = '\0';
	}
	if (p->ncallers == 0)
		return 0;
	for (i = 0; i < p->ncallers; i++)
		if (p->callers[i].uid == uid)
			return allow(p, p->callers[i].line, v);
	return deny(p, 0, v, "caller uid %u is not in [callers]", (unsigned)uid);
}

int
policy_vg(const struct policy *p, const char *vg, struct verdict *v)
{
	const struct vgrule *r;

	if (badname(name_check_vg, vg, v) < 0)
		return -1;
	if ((r = findvg(p, vg)) == NULL)
		return deny(p, 0, v, "volume group '%s' is not in [volume-groups]", vg);
	return allow(p, r->line, v);
}

int
policy_lv(const struct policy *p, const char *vg, const char *lv, struct verdict *v)
{
	const struct pattern *pt;
	unsigned i;

	if (policy_vg(p, vg, v) < 0 || badname(name_check_lv, lv, v) < 0)
		return -1;
	for (i = 0; i < p->nlvs; i++) {
		pt = &p->lvs[i];
		if ((!pt->vg[0] || !strcmp(pt->vg, vg)) && regexec(&pt->re, lv, 0, NULL, 0) == 0)
			return allow(p, pt->line, v);
	}
	return deny(p, 0, v, "LV name '%s' matches no [volumes] pattern for volume group '%s'", lv,
		    vg);
}

int
policy_lv_size(const struct policy *p, const char *vg, uint64_t bytes, struct verdict *v)
{
	const struct vgrule *r;

	if (policy_vg(p, vg, v) < 0)
		return -1;
	r = findvg(p, vg);
	if (bytes > r->max)
		return deny(p, r->line, v, "LV size %llu exceeds the largest allowed (%llu, %s:%u)",
			    (unsigned long long)bytes, (unsigned long long)r->max, p->base,
			    r->line);
	return allow(p, r->line, v);
}

int
policy_mapping(const struct policy *p, const char *name, struct verdict *v)
{
	unsigned i;

	if (badname(name_check_dm, name, v) < 0)
		return -1;
	for (i = 0; i < p->nmaps; i++)
		if (regexec(&p->maps[i].re, name, 0, NULL, 0) == 0)
			return allow(p, p->maps[i].line, v);
	return deny(p, 0, v, "mapping name '%s' matches no [mappings] pattern", name);
}

int
policy_cipher(const struct policy *p, const char *cipher, unsigned key_bits, struct verdict *v)
{
	const struct cipher *c = findcipher(p, cipher);
	char b[NAME_SHOW_CAP];

	if (c && key_bits % 8 == 0 && key_bits <= MAX_KEY_BITS && c->keys[key_bits / 8])
		return allow(p, c->line, v);
	return deny(p, 0, v, "cipher '%s' with %u-bit key is not allowed by [crypto]",
		    show(cipher, b), key_bits);
}

int
policy_sector_size(const struct policy *p, unsigned bytes, struct verdict *v)
{
	bool pow2 = bytes >= 512 && bytes <= 4096 && !(bytes & (bytes - 1));

	if (pow2 && (p->set[SET_SECTORS] & (bytes / 512)))
		return allow(p, p->setline[SET_SECTORS], v);
	return deny(p, 0, v, "sector size %u is not allowed by [crypto]", bytes);
}

int
policy_flag(const struct policy *p, enum policy_flag f, struct verdict *v)
{
	if ((unsigned)f >= NELEM(flagnames))
		return deny(p, 0, v, "unknown flag %d", (int)f);
	if (p->set[f])
		return allow(p, p->setline[f], v);
	return deny(p, p->setline[f], v, "flag '%s' is not allowed by [crypto]", flagnames[f]);
}

/* Unset, the minimum is what Nova sends for a key of key_bits: its hex, key_bits / 4 bytes. */
int
policy_nova_passphrase(const struct policy *p, size_t len, unsigned key_bits, struct verdict *v)
{
	unsigned min = p->set[SET_PASS_MIN] ? p->set[SET_PASS_MIN] : key_bits / 4;

	if (len >= min)
		return allow(p, p->setline[SET_PASS_MIN], v);
	return deny(p, p->setline[SET_PASS_MIN], v,
		    "Nova passphrase is %zu bytes, [crypto] needs at least %u (%s)", len, min,
		    p->set[SET_PASS_MIN] ? "nova-passphrase-min"
					 : "the hex of a key of key_size bits");
}

const char *
policy_nova_hash(const struct policy *p)
{
	return hashes[p ? p->set[SET_HASH] : 0];
}

unsigned
policy_forward_count(const struct policy *p)
{
	return p ? p->nfwd : 0;
}

int
policy_forward(const struct policy *p, const char *entrypoint, struct verdict *v)
{
	unsigned i;

	for (i = 0; i < p->nfwd; i++)
		if (regexec(&p->fwd[i].re, entrypoint, 0, NULL, 0) == 0)
			return allow(p, p->fwd[i].line, v);
	deny(p, 0, v, "entrypoint '%s' matches no [forward] pattern", entrypoint);
	if (v)
		snprintf(v->rule, sizeof(v->rule), "default deny ([forward])");
	return -1;
}

int
policy_forward_overlap(const struct policy *p, const char *const *names, size_t n, FILE *err)
{
	unsigned i, errors = 0;

	for (i = 0; i < p->nfwd; i++)
		for (size_t k = 0; k < n; k++) {
			if (regexec(&p->fwd[i].re, names[k], 0, NULL, 0) != 0)
				continue;
			fprintf(err, "%s:%u: pattern '%s' matches '%s', which is never forwarded\n",
				p->path, p->fwd[i].line, p->fwd[i].src, names[k]);
			errors++;
			break;
		}
	return (int)errors;
}

/* --- warnings (--check-policy) ----------------------------------------- */

/*
 * Names no deployer means to hand to Nova all at once: a pattern that takes
 * every one of them takes every name the grammar allows.
 */
static const char *const probes[] = { "root", "swap", "x", "Z9", "home.old+1_", "var-lib" };

static bool
accepts_everything(const regex_t *re)
{
	for (size_t k = 0; k < NELEM(probes); k++)
		if (regexec(re, probes[k], 0, NULL, 0) != 0)
			return false;
	return true;
}

static int
lintpatterns(const struct policy *p, const char *sec, const struct pattern *pt, unsigned n,
	     FILE *out)
{
	char core[LINE_MAX_LEN + 1], hint[NAME_WHY_MAX];
	int warnings = 0;

	for (unsigned i = 0; i < n; i++) {
		/* src is "^(core)$" */
		snprintf(core, sizeof(core), "%.*s", (int)strlen(pt[i].src) - 4, pt[i].src + 2);
		if (accepts_everything(&pt[i].re)) {
			fprintf(out,
				"%s:%u: warning: [%s] pattern '%s' accepts every name%s%s: allow "
				"only the names Nova makes (as the example policy does: "
				"^[0-9a-f-]{36}_disk(\\.local|\\.swap)?%s$)\n",
				p->path, pt[i].line, sec, core, pt[i].vg[0] ? " in " : "", pt[i].vg,
				pt == p->maps ? "-dmcrypt" : "");
			warnings++;
		} else if (hint_glob(core, hint, sizeof(hint))) {
			fprintf(out, "%s:%u: warning: [%s] pattern '%s': %s\n", p->path, pt[i].line,
				sec, core, hint);
			warnings++;
		}
	}
	return warnings;
}

int
policy_lint(const struct policy *p, FILE *out)
{
	return lintpatterns(p, "volumes", p->lvs, p->nlvs, out) +
	       lintpatterns(p, "mappings", p->maps, p->nmaps, out);
}

/* --- summary (--check-policy) ------------------------------------------ */

static void
sumpatterns(const char *what, const struct pattern *pt, unsigned n, FILE *out)
{
	unsigned i;

	fprintf(out, "%s: %u pattern(s)%s", what, n, n ? ": " : " (none allowed)");
	for (i = 0; i < n; i++)
		fprintf(out, "%s%s%s%s", i ? ", " : "", pt[i].src, pt[i].vg[0] ? " in " : "",
			pt[i].vg);
	fputc('\n', out);
}

static void
sumcrypto(const struct policy *p, FILE *out)
{
	unsigned i, k, n, j;

	fprintf(out, "ciphers: %s", p->nciphers ? "" : "none");
	for (i = 0; i < p->nciphers; i++) {
		for (n = 0, k = 0; k <= MAX_KEY_BITS / 8; k++)
			n += p->ciphers[i].keys[k];
		fprintf(out, "%s%s with ", i ? ", " : "", p->ciphers[i].name);
		for (j = 0, k = 0; k <= MAX_KEY_BITS / 8; k++)
			if (p->ciphers[i].keys[k])
				fprintf(out, "%s%u", j++ == 0 ? "" : j == n ? " or " : ", ", k * 8);
		fprintf(out, "-bit keys");
	}
	fprintf(out, "; sector sizes %s", p->set[SET_SECTORS] ? "" : "none");
	for (j = 0, k = 512; k <= 4096; k *= 2)
		if (p->set[SET_SECTORS] & (k / 512))
			fprintf(out, "%s%u", j++ ? ", " : "", k);
	fprintf(out, "\nflags: discards %s", p->set[PF_ALLOW_DISCARDS] ? "allowed" : "refused");
	for (i = PF_NO_READ_WORKQUEUE; i < NELEM(flagnames); i++)
		fprintf(out, "; %s %s", flagnames[i], p->set[i] ? "allowed" : "refused");
	fprintf(out, "\nnova passphrase hash: %s\n", hashes[p->set[SET_HASH]]);
	if (p->set[SET_PASS_MIN])
		fprintf(out, "nova passphrase: at least %u bytes\n", p->set[SET_PASS_MIN]);
}

void
policy_summary(const struct policy *p, FILE *out)
{
	const struct caller *c;
	unsigned i, sh;

	fprintf(out, "callers: %s", p->ncallers ? "" : "any uid");
	for (i = 0; i < p->ncallers; i++) {
		c = &p->callers[i];
		fprintf(out, c->user[0] ? "%s%s(%u)" : "%s%suid %u", i ? ", " : "", c->user,
			(unsigned)c->uid);
	}
	fprintf(out, "\nvolume groups: %s", p->nvgs ? "" : "none (this policy allows nothing)");
	for (i = 0; i < p->nvgs; i++) {
		for (sh = 0; sh < 60 && p->vgs[i].max >> sh >= 1024; sh += 10)
			;
		fprintf(out, "%s%s (LVs up to %.1f %s)", i ? ", " : "", p->vgs[i].name,
			(double)p->vgs[i].max / (double)(1ULL << sh),
			(const char *[]){ "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" }[sh / 10]);
	}
	fputc('\n', out);
	sumpatterns("LV names", p->lvs, p->nlvs, out);
	sumpatterns("mappings", p->maps, p->nmaps, out);
	sumcrypto(p, out);
	if (p->nfwd) /* only a policy in front of a whole context has [forward] */
		sumpatterns("forwarded to privsep-helper", p->fwd, p->nfwd, out);
}
