/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Opening a file a deployer writes and root trusts (the policy, helper.conf):
 * a regular file, not a symbolic link, owned by root and not writable by group
 * or others, checked with fstat on the descriptor that is then read.
 */
#ifndef EPHCRYPT_ROOTFILE_H
#define EPHCRYPT_ROOTFILE_H

#include <stdbool.h>
#include <stddef.h>

/* Called once per problem, with a message that says what to do about it. */
typedef void (*rootfile_report_fn)(void *ctx, const char *msg);

/*
 * Open path read-only. Every problem is reported, not just the first: a file
 * that is open but wrongly owned or writable still returns its descriptor
 * (with *problems > 0), so that its contents can be checked as well.
 * Returns the descriptor, or -1 (with errno) when it cannot be read at all.
 * With check_owner false, ownership and mode are not checked.
 */
int rootfile_open(const char *path, bool check_owner, rootfile_report_fn report, void *ctx,
		  int *problems);

#endif
