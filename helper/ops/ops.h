/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What every mechanism (lvm.c, dm.c, crypt.c) shares: a failure is -errno
 * plus a reason that names the operation and the object. Mechanisms know
 * nothing of calls, msgpack, exceptions or policy; the request layer
 * (call.c) turns the errno into a Python exception class.
 */
#ifndef EPHCRYPT_OPS_H
#define EPHCRYPT_OPS_H

#include <stdarg.h>
#include <stdio.h>

#define OP_WHY_MAX    1024 /* a reason, as the caller will read it */
#define OP_NAME_CAP   128  /* a VG, LV or dm name and its NUL (lvm2's NAME_LEN) */
#define OP_REASON_MAX 400  /* a tool's or library's own reason, quoted in a why */

struct op_error {
	char why[OP_WHY_MAX];
};

/* Fill e and return -err: `return op_fail(e, ENOENT, "...", ...);`. */
static inline int __attribute__((format(printf, 3, 4)))
op_fail(struct op_error *e, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(e->why, sizeof(e->why), fmt, ap);
	va_end(ap);
	return -err;
}

#endif
