/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log's hash chain, shared by the helper (which writes it) and
 * tools/ephcrypt-audit (which verifies it): each record's "prev" is the
 * lowercase hex SHA-256 of the line before it, without its newline; the
 * first record's is the hash of AUDIT_START_MARKER.
 */
#ifndef EPHCRYPT_AUDIT_CHAIN_H
#define EPHCRYPT_AUDIT_CHAIN_H

#include <stddef.h>

#define AUDIT_START_MARKER "ephcrypt-audit-v1"
#define AUDIT_HASH_HEX	   65 /* 64 hex digits and a NUL */

/* Returns 0, or -EIO when SHA-256 is not available. */
int audit_chain_hash(const void *line, size_t len, char out[AUDIT_HASH_HEX]);
/* The "prev" of a file's first record. */
int audit_chain_start(char out[AUDIT_HASH_HEX]);

#endif
