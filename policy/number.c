/* SPDX-License-Identifier: Apache-2.0 */
/* The one bounded number parser (strtonum-style) and its size variant. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "number.h"

int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || *s < '0' || *s > '9') /* no sign, no space, no empty string */
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* "512", "64M", "20G", "1T": binary units, as LVM reads them. */
int
parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGTP";
	char num[32];
	size_t n = strlen(s);
	const char *u;
	uint64_t v;
	unsigned shift = 0;

	if (n == 0 || n >= sizeof(num))
		return -1;
	memcpy(num, s, n + 1);
	u = strchr(units, num[n - 1] & ~0x20);
	if (num[n - 1] != '\0' && u && (num[n - 1] & ~0x20) != 0) {
		shift = 10 * (unsigned)(u - units + 1);
		num[n - 1] = '\0';
	}
	if (parse_u64(num, 0, UINT64_MAX, &v) < 0 || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}
