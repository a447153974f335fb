/* SPDX-License-Identifier: Apache-2.0 */
/* What a policy pattern costs glibc's regcomp, checked before it is asked. */
#ifndef EPHCRYPT_PATTERN_H
#define EPHCRYPT_PATTERN_H

#include <stddef.h>

/*
 * Elements a pattern may expand to: glibc compiles a repetition by copying
 * what it repeats. A name has at most 127 bytes, so no useful pattern comes
 * close.
 */
#define PATTERN_COST_MAX 4096

/*
 * 0 when glibc can compile the extended regular expression core quickly;
 * else -1 and why (a phrase, "too complex ...") in why[cap].
 */
int pattern_check(const char *core, char *why, size_t cap);

#endif
