/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A call's error: the Python exception the oslo.privsep client re-raises.
 * The errno of a failed operation picks the class here, and only here.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "../protocol/utf8.h"

/* OSError(errno, msg) is what Python itself would build for these errnos. */
static const struct {
	int errnum;
	const char *cls;
} errno_classes[] = {
	{ ENOENT, EXC_NOENT },
	{ EEXIST, EXC_EXIST },
	{ EACCES, EXC_PERM },
	{ EPERM, EXC_PERM },
};

const char *
call_errno_class(int errnum)
{
	for (size_t k = 0; k < sizeof(errno_classes) / sizeof(errno_classes[0]); k++)
		if (errno_classes[k].errnum == errnum)
			return errno_classes[k].cls;
	return EXC_OS;
}

/* The classes whose args are [errno, msg], as OSError(errno, strerror) sets .errno. */
bool
call_is_oserror(const char *cls)
{
	if (!cls)
		return false;
	if (strcmp(cls, EXC_OS) == 0)
		return true;
	for (size_t k = 0; k < sizeof(errno_classes) / sizeof(errno_classes[0]); k++)
		if (strcmp(cls, errno_classes[k].cls) == 0)
			return true;
	return false;
}

static int
set_error(struct call *c, const char *cls, int errnum, const char *fmt, va_list ap)
{
	c->err.cls = cls;
	c->err.errnum = errnum;
	vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
	return -1;
}

int
call_fail(struct call *c, const char *cls, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(c, cls, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int
call_oserror(struct call *c, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(c, call_errno_class(errnum), errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int
call_op_fail(struct call *c, int rc, const struct op_error *e)
{
	return call_oserror(c, rc < 0 ? -rc : EIO, "%s", e->why);
}

int
call_process_error(struct call *c, const char *out, const char *err, int code,
		   const char *const argv[])
{
	size_t n = 0;

	call_error_clear(&c->err);
	c->err.cls = EXC_PROCESS;
	c->err.process = true;
	c->err.exit_code = code;
	c->err.out = strdup(out ? out : "");
	c->err.err = strdup(err ? err : "");
	/* cmd is Nova's own argv, as its log would show it: Nova has no --yes. */
	for (const char *const *a = argv; *a && n < sizeof(c->err.cmd); a++)
		if (strcmp(*a, "--yes") != 0)
			n += (size_t)snprintf(c->err.cmd + n, sizeof(c->err.cmd) - n, "%s%s",
					      n ? " " : "", *a);
	snprintf(c->err.msg, sizeof(c->err.msg), "%s: exit %d", argv[0], code);
	return -1;
}

/*
 * In place: each character utf8_cp_misleads names (but newlines and tabs in
 * `lines`), and each byte that is not UTF-8, becomes '?'.
 */
static void
printable(char *s, bool lines)
{
	unsigned char *in = (unsigned char *)s, *out = in;
	size_t n = s ? strlen(s) : 0, len;
	unsigned cp;
	bool layout;

	for (size_t i = 0; i < n; i += len) {
		len = utf8_seq(in + i, n - i, &cp);
		layout = lines && (cp == '\n' || cp == '\t');
		if (len == 0 || (utf8_cp_misleads(cp) && !layout)) {
			*out++ = '?';
			len = len ? len : 1;
			continue;
		}
		memmove(out, in + i, len);
		out += len;
	}
	if (s)
		*out = '\0';
}

void
call_error_printable(struct call_error *e)
{
	printable(e->msg, false);
	printable(e->cmd, false);
	printable(e->out, true);
	printable(e->err, true);
}

void
call_error_clear(struct call_error *e)
{
	free(e->out);
	free(e->err);
	memset(e, 0, sizeof(*e));
}
