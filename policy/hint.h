/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Hints for a deployer's typing, as visudo gives them: the closest known word
 * to a misspelt one, and what a glob means when a regular expression was
 * expected.
 */
#ifndef EPHCRYPT_HINT_H
#define EPHCRYPT_HINT_H

#include <stddef.h>

/*
 * The choice closest to word by edit distance (insert, delete, replace or swap
 * two neighbours), if it is close enough to be a slip (at most a third of its
 * length, and at most 3); NULL when none is. NULL entries are skipped.
 */
const char *hint_closest(const char *word, const char *const *choices, size_t n);

/*
 * When pattern looks like a shell glob ("nova-*", "*_disk", "disk?"), a
 * sentence saying what it means as a regular expression and what to write
 * instead; NULL otherwise. Points into buf.
 */
const char *hint_glob(const char *pattern, char *buf, size_t cap);

#endif
