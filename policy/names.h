/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The name grammar for volume groups, logical volumes and device-mapper
 * names. It is enforced whatever the policy says: a policy can only narrow
 * it. Each check returns 0, or -1 with why set to
 *   "<kind> '<value>': <rule broken>"
 * where the value is printable-escaped and cut to NAME_SHOW_MAX bytes.
 */
#ifndef EPHCRYPT_NAMES_H
#define EPHCRYPT_NAMES_H

#include <stddef.h>

#define NAME_MAX_LEN  127 /* bytes, as lvm2's NAME_LEN - 1 and DM_NAME_LEN - 1 */
#define NAME_SHOW_MAX 64  /* bytes of a value shown in a message */
#define NAME_SHOW_CAP (NAME_SHOW_MAX * 4 + 4) /* room for name_show's output */
#define NAME_WHY_MAX  384 /* room for a check's message (value shown, rule named) */

int name_check_vg(const char *vg, char *why, size_t whylen);
int name_check_lv(const char *lv, char *why, size_t whylen);
int name_check_dm(const char *name, char *why, size_t whylen);

/*
 * Copy S into dst (cap >= NAME_SHOW_CAP is never truncated) for quoting in a
 * message: printable ASCII as is, \n \t \\ \' escaped, any other byte as \xNN;
 * at most NAME_SHOW_MAX bytes of S, then "...".
 */
void name_show(const char *s, char *dst, size_t cap);

#endif
