/* SPDX-License-Identifier: Apache-2.0 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "hint.h"

#define HINT_WORD_MAX 64 /* longer words are never slips of a known one */
#define HINT_DIST_MAX 3

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/*
 * Optimal string alignment distance (Damerau-Levenshtein without re-edits),
 * or (size_t)-1 once it must exceed `limit`. Three rows suffice: a
 * transposition looks two rows back.
 */
static size_t
distance(const char *a, const char *b, size_t limit)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t rows[3][HINT_WORD_MAX + 1];
	size_t *back2 = rows[0], *prev = rows[1], *cur = rows[2], prev_min = 0;

	if (la > HINT_WORD_MAX || lb > HINT_WORD_MAX)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t row_min, *spare;

		cur[0] = row_min = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1];

			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    back2[j - 2] + 1 < cur[j])
				cur[j] = back2[j - 2] + 1;
			if (cur[j] < row_min)
				row_min = cur[j];
		}
		/* Later cells come from this row, or from the last by a transposition (+1). */
		if (row_min > limit && prev_min + 1 > limit)
			return (size_t)-1;
		prev_min = row_min;
		spare = back2;
		back2 = prev;
		prev = cur;
		cur = spare;
	}
	return prev[lb] <= limit ? prev[lb] : (size_t)-1;
}

const char *
hint_closest(const char *word, const char *const *choices, size_t n)
{
	size_t best = (size_t)-1, len = strlen(word), limit = len / 3;
	const char *pick = NULL;

	if (limit > HINT_DIST_MAX)
		limit = HINT_DIST_MAX;
	if (limit == 0)
		limit = 1;
	for (size_t k = 0; k < n; k++) {
		size_t clen = choices[k] ? strlen(choices[k]) : 0, dist;

		/* The distance is at least the length difference: skip the table. */
		if (clen == 0 || (clen > len ? clen - len : len - clen) > limit)
			continue;
		dist = distance(word, choices[k], limit);
		if (dist < best) {
			best = dist;
			pick = choices[k];
		}
	}
	return best <= limit ? pick : NULL;
}

static bool
repeats_nothing(const char *p, const char *s)
{
	return (*s == '*' || *s == '?') &&
	       (s == p || (s[-1] != '.' && s[-1] != ')' && s[-1] != ']' && s[-1] != '}'));
}

/*
 * A '*' or '?' that repeats nothing a regular expression writer would repeat:
 * the start of the pattern, or a plain letter, digit, '-' or '_' (in a
 * regular expression "nova-*" is "nova" and any number of '-').
 */
static const char *
glob_star(const char *p)
{
	for (const char *s = p; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			continue;
		}
		if (*s == '[' || *s == '{' || *s == '(')
			return NULL; /* written as a regular expression */
		if (repeats_nothing(p, s))
			return s;
	}
	return NULL;
}

/* The pattern with each glob '*' as ".*" and each glob '?' as ".". */
static void
as_regex(const char *p, char *out, size_t cap)
{
	size_t n = 0;

	for (const char *s = p; *s && n + 3 < cap; s++) {
		if (*s == '\\' && s[1]) {
			out[n++] = *s++;
			out[n++] = *s;
			continue;
		}
		if (repeats_nothing(p, s))
			out[n++] = '.';
		if (!(repeats_nothing(p, s) && *s == '?'))
			out[n++] = *s;
	}
	out[n] = '\0';
}

const char *
hint_glob(const char *pattern, char *buf, size_t cap)
{
	const char *s = glob_star(pattern);
	char fixed[HINT_WORD_MAX * 2 + 1];

	if (!s)
		return NULL;
	as_regex(pattern, fixed, sizeof(fixed));
	if (s == pattern)
		snprintf(buf, cap,
			 "patterns are regular expressions, not globs: a leading '%c' repeats "
			 "nothing; did you mean '%s'?",
			 *s, fixed);
	else
		snprintf(buf, cap,
			 "patterns are regular expressions, not globs: '%c' makes the '%c' "
			 "before it %s; did you mean '%s'?",
			 *s, s[-1], *s == '*' ? "repeat (zero or more times)" : "optional", fixed);
	return buf;
}
