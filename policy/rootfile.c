/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rootfile.h"

#define ROOTFILE_MSG_MAX 512

static void __attribute__((format(printf, 4, 5)))
report_one(rootfile_report_fn report, void *ctx, int *problems, const char *fmt, ...)
{
	char msg[ROOTFILE_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	report(ctx, msg);
	(*problems)++;
}

/* As visudo does: the mode it should have, and the command that gives it. */
static void
check_owner_mode(const char *path, const struct stat *st, rootfile_report_fn report, void *ctx,
		 int *problems)
{
	unsigned mode = (unsigned)st->st_mode & 07777;

	if (st->st_uid != 0)
		report_one(report, ctx, problems,
			   "owned by uid %u, not root: whoever owns it decides what root does "
			   "(chown root:root %s)",
			   (unsigned)st->st_uid, path);
	if (mode & (S_IWGRP | S_IWOTH))
		report_one(report, ctx, problems,
			   "writable by group or others (mode %04o): it should be mode %04o "
			   "(chmod %04o %s)",
			   mode, mode & ~(unsigned)(S_IWGRP | S_IWOTH),
			   mode & ~(unsigned)(S_IWGRP | S_IWOTH), path);
}

int
rootfile_open(const char *path, bool check_owner, rootfile_report_fn report, void *ctx,
	      int *problems)
{
	struct stat st;
	/* O_NONBLOCK: a FIFO planted at the path must not hang start-up. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);

	*problems = 0;
	if (fd < 0) {
		int e = errno;

		if (e == ELOOP)
			report_one(report, ctx, problems,
				   "is a symbolic link: name the file itself, not a link to it");
		else
			report_one(report, ctx, problems, "%s", strerror(e));
		errno = e;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		report_one(report, ctx, problems, "fstat: %s", strerror(errno));
	} else if (!S_ISREG(st.st_mode)) {
		report_one(report, ctx, problems, "not a regular file");
	} else {
		if (check_owner)
			check_owner_mode(path, &st, report, ctx, problems);
		return fd;
	}
	close(fd);
	errno = EINVAL;
	return -1;
}
