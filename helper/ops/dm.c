/* SPDX-License-Identifier: Apache-2.0 */
/* device-mapper through libdevmapper (dm.h). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <libdevmapper.h>

#include "dm.h"

#define DM_LIST_MAX 1024 /* mappings one listing reports */

/* Run a DM_DEVICE_INFO for a name or a device number; NULL if it does not exist. */
static struct dm_task *
info(const char *name, int maj, int min)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info di;

	if (!dmt)
		return NULL;
	if ((name ? dm_task_set_name(dmt, name) : dm_task_set_major_minor(dmt, maj, min, 0)) &&
	    dm_task_run(dmt) && dm_task_get_info(dmt, &di) && di.exists)
		return dmt;
	dm_task_destroy(dmt);
	return NULL;
}

bool
mapper_exists(const char *name)
{
	struct dm_task *dmt = info(name, 0, 0);

	if (dmt)
		dm_task_destroy(dmt);
	return dmt != NULL;
}

bool
mapper_is_crypt(const char *name)
{
	struct dm_task *dmt = info(name, 0, 0);
	const char *uuid = dmt ? dm_task_get_uuid(dmt) : NULL;
	bool yes = uuid && strncmp(uuid, "CRYPT-", 6) == 0;

	if (dmt)
		dm_task_destroy(dmt);
	return yes;
}

bool
mapper_node_ready(const char *name)
{
	char path[DM_NODE_CAP];
	struct stat st;
	struct dm_task *dmt = info(name, 0, 0);
	struct dm_info di;
	bool ok = false;

	snprintf(path, sizeof(path), "/dev/mapper/%s", name);
	if (dmt && dm_task_get_info(dmt, &di) && stat(path, &st) == 0 && S_ISBLK(st.st_mode))
		ok = major(st.st_rdev) == (unsigned)di.major &&
		     minor(st.st_rdev) == (unsigned)di.minor;
	if (dmt)
		dm_task_destroy(dmt);
	return ok;
}

int
mapper_crypt_each(bool (*each)(const char *name, void *arg), void *arg, struct op_error *e)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	struct dm_names *n;

	if (!dmt || !dm_task_run(dmt) || !(n = dm_task_get_names(dmt))) {
		if (dmt)
			dm_task_destroy(dmt);
		return op_fail(e, EIO, "crypt_list: cannot list device-mapper devices");
	}
	for (; n->dev; n = (struct dm_names *)((char *)n + n->next)) {
		if (mapper_is_crypt(n->name) && !each(n->name, arg))
			break;
		if (!n->next)
			break;
	}
	dm_task_destroy(dmt);
	return 0;
}

/* The dm name of an LVM device (uuid "LVM-..."), by device number. */
static int
lvm_name_of(dev_t dev, char *name, size_t cap)
{
	struct dm_task *dmt = info(NULL, (int)major(dev), (int)minor(dev));
	const char *uuid = dmt ? dm_task_get_uuid(dmt) : NULL;
	int rc = -1;

	if (uuid && strncmp(uuid, "LVM-", 4) == 0 && strlen(dm_task_get_name(dmt)) < cap) {
		snprintf(name, cap, "%s", dm_task_get_name(dmt));
		rc = 0;
	}
	if (dmt)
		dm_task_destroy(dmt);
	return rc;
}

/* A third part is a hidden layer (vg-lv-real, vg-lv-cow): not an LV a caller names. */
int
mapper_split_lvm_name(const char *dm, char vg[OP_NAME_CAP], char lv[OP_NAME_CAP])
{
	char *dst = vg;
	size_t n = 0;
	int part = 0;

	for (const char *p = dm; *p; p++) {
		if (*p == '-' && p[1] == '-') {
			p++;
		} else if (*p == '-') {
			if (++part > 1)
				return -1;
			dst[n] = '\0';
			dst = lv;
			n = 0;
			continue;
		}
		if (n + 1 >= OP_NAME_CAP)
			return -1;
		dst[n++] = *p;
	}
	dst[n] = '\0';
	return part == 1 && vg[0] && lv[0] ? 0 : -1;
}

int
mapper_resolve_lv(const char *device, char vg[OP_NAME_CAP], char lv[OP_NAME_CAP],
		  char node[DM_NODE_CAP], struct op_error *e)
{
	char real[PATH_MAX], dmname[2 * OP_NAME_CAP + 8];
	struct stat st, ns;

	if (!realpath(device, real) || stat(real, &st) < 0)
		return op_fail(e, ENOENT, "device '%s' does not exist", device);
	if (!S_ISBLK(st.st_mode))
		return op_fail(e, EPERM, "device '%s' is not a block device", device);
	/* Ask the kernel what this block device is: only LVM's dm devices qualify. */
	if (lvm_name_of(st.st_rdev, dmname, sizeof(dmname)) < 0 ||
	    mapper_split_lvm_name(dmname, vg, lv) < 0)
		return op_fail(e, EPERM, "device '%s' (%s) is not an LVM logical volume", device,
			       real);
	/*
	 * The caller's path may be a link it can swap once checked: operations
	 * use the device's own /dev/mapper node, which only root can change,
	 * after confirming it is the device that was checked.
	 */
	snprintf(node, DM_NODE_CAP, "/dev/mapper/%s", dmname);
	if (stat(node, &ns) < 0 || !S_ISBLK(ns.st_mode) || ns.st_rdev != st.st_rdev)
		return op_fail(e, EPERM, "device '%s' changed while it was checked", device);
	return 0;
}

int
mapper_backing_lv(const char *name, char vg[OP_NAME_CAP], char lv[OP_NAME_CAP], struct op_error *e)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_DEPS);
	struct dm_deps *deps = NULL;
	char dmname[2 * OP_NAME_CAP + 8];
	int rc = 0;

	if (!dmt || !dm_task_set_name(dmt, name) || !dm_task_run(dmt) ||
	    !(deps = dm_task_get_deps(dmt)))
		rc = op_fail(e, ENOENT, "mapping '%s' does not exist", name);
	else if (deps->count != 1 ||
		 lvm_name_of((dev_t)deps->device[0], dmname, sizeof(dmname)) < 0 ||
		 mapper_split_lvm_name(dmname, vg, lv) < 0)
		rc = op_fail(e, EPERM, "mapping '%s' does not sit on an LVM logical volume", name);
	if (dmt)
		dm_task_destroy(dmt);
	return rc;
}
