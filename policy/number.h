/* SPDX-License-Identifier: Apache-2.0 */
/* The one bounded number parser (strtonum-style), for the policy and the command line. */
#ifndef EPHCRYPT_NUMBER_H
#define EPHCRYPT_NUMBER_H

#include <stdint.h>

/* Decimal digits only (no sign, no space), within [min, max]: 0, else -1. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* "512", "64M", "20G", "1T": binary units, as LVM reads them. */
int parse_size(const char *s, uint64_t *out);

#endif
