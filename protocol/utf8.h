/* SPDX-License-Identifier: Apache-2.0 */
/* Strict UTF-8: what the audit log may write as text and what the reviewer's tool may print. */
#ifndef EPHCRYPT_UTF8_H
#define EPHCRYPT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Length of the valid UTF-8 sequence at s (n bytes left) and its code point, or 0. */
size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp);

/*
 * Valid text that would fool a terminal or a line-based reader: C0 and C1
 * controls, DEL, the line and paragraph separators and the bidirectional
 * overrides and isolates that reorder a line.
 */
bool utf8_cp_misleads(unsigned cp);

#endif
