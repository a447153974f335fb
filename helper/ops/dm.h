/* SPDX-License-Identifier: Apache-2.0 */
/*
 * device-mapper through libdevmapper (whose namespace is dm_, hence mapper_):
 * what a dm device is, by name or by device number, and which device an
 * untrusted path really is.
 */
#ifndef EPHCRYPT_OPS_DM_H
#define EPHCRYPT_OPS_DM_H

#include <stdbool.h>
#include <stddef.h>

#include "ops.h"

#define DM_NODE_CAP (OP_NAME_CAP * 2 + 32) /* "/dev/mapper/" and a dm name */

bool mapper_exists(const char *name);
/* dm-crypt mappings are the ones libcryptsetup tagged with a CRYPT- uuid. */
bool mapper_is_crypt(const char *name);
/* /dev/mapper/<name> is a block device with the mapping's own number. */
bool mapper_node_ready(const char *name);
/* Call each(name, arg) for every dm-crypt mapping until it returns false. */
int mapper_crypt_each(bool (*each)(const char *name, void *arg), void *arg, struct op_error *e);

/* "vg-lv" with '-' doubled inside names (an LVM dm name) into its parts; 0 or -1. */
int mapper_split_lvm_name(const char *dm, char vg[OP_NAME_CAP], char lv[OP_NAME_CAP]);
/*
 * The LVM LV behind a device path (symlinks followed, then the kernel asked),
 * and its own /dev/mapper node, confirmed to be the same device: what an
 * operation opens, never the caller's path again. 0, or -ENOENT/-EPERM.
 */
int mapper_resolve_lv(const char *device, char vg[OP_NAME_CAP], char lv[OP_NAME_CAP],
		      char node[DM_NODE_CAP], struct op_error *e);

/* The LV a mapping sits on (its one dependency, asked of the kernel); 0, -ENOENT or -EPERM. */
int mapper_backing_lv(const char *name, char vg[OP_NAME_CAP], char lv[OP_NAME_CAP],
		      struct op_error *e);

#endif
