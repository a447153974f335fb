/* SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "../protocol/privsep.h"
#include "forward.h"

#define NOT_EXPORTED_FMT "Invalid privsep function: %.*s not exported"

static bool
storage_word(const char *w, size_t n)
{
	static const char *const prefixes[] = { "lv", "vg", "pv", "dm" };

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (n >= 2 && memcmp(w, prefixes[i], 2) == 0)
			return true;
	return memmem(w, n, "crypt", 5) != NULL;
}

bool
forward_is_storage_name(const char *name, size_t len)
{
	const char *dot = memrchr(name, '.', len);
	const char *fn = dot ? dot + 1 : name, *end = name + len;

	if (len >= 9 && memcmp(name, "ephcrypt.", 9) == 0)
		return true;
	if (memmem(fn, (size_t)(end - fn), "device_maps", 11))
		return true;
	while (fn < end) {
		const char *us = memchr(fn, '_', (size_t)(end - fn));
		const char *wend = us ? us : end;

		if (storage_word(fn, (size_t)(wend - fn)))
			return true;
		fn = wend + 1;
	}
	return false;
}

int
forward_refusal(struct mp_buf *b, const struct mp_value *msgid, const char *name, size_t len)
{
	char msg[sizeof(NOT_EXPORTED_FMT) + 256];
	int n = len > 255 ? 255 : (int)len;

	snprintf(msg, sizeof(msg), NOT_EXPORTED_FMT, n, name);
	return ps_put_id(b, msgid) || mp_put_array(b, 3) || mp_put_uint(b, PS_ERR) ||
	       mp_put_str(b, "builtins.NameError") || mp_put_array(b, 1) || mp_put_str(b, msg);
}
