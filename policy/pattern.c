/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Two shapes make glibc's regcomp take minutes or gigabytes, both found by
 * fuzzing the policy parser:
 *  - many copies: "a++++..." or "(a{99}){99}" (x+ is compiled as two copies
 *    of x, x{m,n} as n + 1);
 *  - a repetition of what can match nothing: "(a*)+", "(x?){0,60}",
 *    "a*+++++" (its epsilon closures grow exponentially: 18 s for five
 *    levels). Such a repetition adds nothing ("(a*)+" is "a*"), so it is
 *    refused outright.
 * The scan follows the grammar only as far as these need: groups,
 * alternatives, brackets, escapes and repetitions; regcomp judges the rest.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pattern.h"

#define GROUP_DEPTH_MAX 1024 /* a policy line is shorter */

/* Per open group: its finished alternatives, the one being read, that one's last atom. */
struct group_scan {
	uint64_t done, seq, last;
	bool done_empty, seq_empty, before_last_empty, last_empty, has_last;
};

static const char *
skip_bracket(const char *s)
{
	s += s[1] == '^' ? 2 : 1;
	s += *s == ']';
	for (; *s && *s != ']'; s++)
		if (s[0] == '[' && (s[1] == ':' || s[1] == '.' || s[1] == '=')) {
			const char *end = strchr(s + 2, s[1]);

			while (end && end[1] != ']')
				end = strchr(end + 1, s[1]);
			if (!end)
				return s + strlen(s) - 1;
			s = end + 1;
		}
	return *s ? s : s - 1;
}

/* x{m}, x{m,} or x{m,n} at s: the copies it makes, or 0 if s is no such brace. */
static uint64_t
brace_copies(const char *s, const char **end, uint64_t *min)
{
	char *e;
	uint64_t m = strtoull(s + 1, &e, 10), n = m + 1;

	if (e == s + 1 || !(*e == '}' || *e == ','))
		return 0;
	if (*e == ',' && e[1] != '}') {
		n = strtoull(e + 1, &e, 10);
		if (*e != '}')
			return 0;
	} else if (*e == ',')
		e++;
	*end = e;
	*min = m;
	return (m > n ? m : n) + 1;
}

static uint64_t
capped(uint64_t v)
{
	return v > PATTERN_COST_MAX ? PATTERN_COST_MAX + 1 : v;
}

static void
group_open(struct group_scan *g)
{
	memset(g, 0, sizeof(*g));
	g->seq_empty = true; /* nothing read yet matches nothing */
}

/* An atom of cost `atom` that can match nothing if `empty`, appended to g. */
static void
append_atom(struct group_scan *g, uint64_t atom, bool empty)
{
	g->before_last_empty = g->seq_empty;
	g->seq = capped(g->seq + atom);
	g->last = atom;
	g->last_empty = empty;
	g->seq_empty = g->seq_empty && empty;
	g->has_last = true;
}

/* The repetition op at *s (copies of g's last atom; it may then match nothing if `opt`). */
static void
repeat_last(struct group_scan *g, uint64_t copies, bool opt)
{
	g->seq = capped(g->seq - g->last + capped(g->last * capped(copies)));
	g->last = capped(g->last * capped(copies));
	if (!g->has_last)
		return;
	g->last_empty = g->last_empty || opt;
	g->seq_empty = g->before_last_empty && g->last_empty;
}

/* Elements core expands to (capped); *empty_rep: the first op repeating an empty match. */
static uint64_t
scan(const char *s, const char **empty_rep)
{
	struct group_scan g[GROUP_DEPTH_MAX + 1]; /* 32 KiB of stack, at start-up */
	unsigned d = 0;

	*empty_rep = NULL;
	group_open(&g[0]);
	for (; *s; s++) {
		uint64_t atom = 1, k = 0, min = 1;
		const char *end = s;
		bool empty = false;

		if (*s == '(' && d < GROUP_DEPTH_MAX) {
			group_open(&g[++d]);
			continue;
		}
		if (*s == ')' && d > 0) {
			atom = capped(g[d].done + g[d].seq);
			empty = g[d].done_empty || g[d].seq_empty;
			d--;
		} else if (*s == '|') {
			g[d].done = capped(g[d].done + g[d].seq);
			g[d].done_empty = g[d].done_empty || g[d].seq_empty;
			g[d].seq = g[d].last = 0;
			g[d].seq_empty = true;
			g[d].has_last = false;
			continue;
		} else if (*s == '*' || *s == '+' || *s == '?' ||
			   (*s == '{' && (k = brace_copies(s, &end, &min)) != 0)) {
			if (g[d].has_last && g[d].last_empty && !*empty_rep)
				*empty_rep = s;
			repeat_last(&g[d], *s == '{' ? k : 2, *s == '*' || *s == '?' || min == 0);
			s = end;
			continue;
		} else if (*s == '^' || *s == '$') {
			empty = true; /* an anchor matches a position, not a character */
		} else if (*s == '\\' && s[1]) {
			s++;
		} else if (*s == '[') {
			s = skip_bracket(s);
		}
		append_atom(&g[d], atom, empty);
	}
	for (; d > 0; d--)
		g[d - 1].seq = capped(g[d - 1].seq + g[d].done + g[d].seq);
	return capped(g[0].done + g[0].seq);
}

int
pattern_check(const char *core, char *why, size_t cap)
{
	const char *empty_rep;

	if (scan(core, &empty_rep) > PATTERN_COST_MAX) {
		snprintf(why, cap, "too complex (its repetitions expand to over %d elements)",
			 PATTERN_COST_MAX);
		return -1;
	}
	if (empty_rep) {
		snprintf(why, cap,
			 "'%.*s' at offset %zu repeats something that can match nothing, which "
			 "adds nothing and makes the regular expression compiler take minutes; "
			 "repeat only what matches at least one character",
			 *empty_rep == '{' ? (int)strcspn(empty_rep, "}") + 1 : 1, empty_rep,
			 (size_t)(empty_rep - core));
		return -1;
	}
	return 0;
}
