/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dm-crypt plain mappings through libcryptsetup, in-process: the key goes
 * from the decoded request straight to the kernel, never through argv, the
 * environment, a pipe or a log. Cipher, mode, key size and sector size are
 * always explicit (cryptsetup 2.7 changed the compiled-in plain defaults).
 * Callers hold the storage lock, so the static log buffer is not shared.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include <libcryptsetup.h>
#include <libdevmapper.h>

#include "../storage.h"

static char last_error[400];

/* libcryptsetup's own reason for a failure; it never logs keys at ERROR level. */
static void
log_cb(int level, const char *msg, void *usrptr)
{
	size_t n;

	(void)usrptr;
	if (level != CRYPT_LOG_ERROR || !msg)
		return;
	snprintf(last_error, sizeof(last_error), "%s", msg);
	n = strlen(last_error);
	while (n > 0 && (last_error[n - 1] == '\n' || last_error[n - 1] == '.'))
		last_error[--n] = '\0';
}

static const char *
lib_reason(int r)
{
	return last_error[0] ? last_error : strerror(-r);
}

static int
crypt_fail(struct call *c, const char *what, const char *name, int r)
{
	int e = r < 0 ? -r : EIO;
	const char *cls = e == ENOENT || e == ENODEV ? EXC_NOENT : e == EEXIST ? EXC_EXIST : EXC_OS;

	if (e == ENODEV)
		e = ENOENT;
	return call_fail(c, cls, e, "%s '%s': %s", what, name, lib_reason(r));
}

static void
hexlify(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t k = 0; k < n; k++) {
		out[2 * k] = digits[in[k] >> 4];
		out[2 * k + 1] = digits[in[k] & 15];
	}
}

/*
 * Nova feeds hexlify(key) to `cryptsetup create --key-file=-`, which hashes
 * that text as a passphrase; reproducing it keeps Nova's disks readable.
 */
static int
activate(struct crypt_device *cd, const struct crypt_req *r)
{
	char hex[2 * 1024];
	int rc;

	if (!r->passphrase_hash)
		return crypt_activate_by_volume_key(cd, r->name, (const char *)r->key, r->key_len,
						    r->flags);
	if (r->key_len > sizeof(hex) / 2)
		return -EINVAL;
	hexlify(r->key, r->key_len, hex);
	rc = crypt_activate_by_passphrase(cd, r->name, CRYPT_ANY_SLOT, hex, 2 * r->key_len,
					  r->flags);
	explicit_bzero(hex, sizeof(hex));
	return rc;
}

/* The node callers will open: a block device with the mapping's own number. */
static bool
node_ready(const char *name)
{
	char path[200];
	struct stat st;
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info info;
	bool ok = false;

	snprintf(path, sizeof(path), "/dev/mapper/%s", name);
	if (dmt && dm_task_set_name(dmt, name) && dm_task_run(dmt) && dm_task_get_info(dmt, &info) &&
	    info.exists && stat(path, &st) == 0 && S_ISBLK(st.st_mode))
		ok = major(st.st_rdev) == (unsigned)info.major && minor(st.st_rdev) == (unsigned)info.minor;
	if (dmt)
		dm_task_destroy(dmt);
	return ok;
}

int
crypt_plain_open(struct call *c, const struct crypt_req *r)
{
	const char *dash = strchr(r->cipher, '-');
	char cipher[32];
	struct crypt_params_plain params = {
		.hash = r->passphrase_hash, /* NULL: the key is the volume key itself */
		.sector_size = r->sector_size,
	};
	struct crypt_device *cd = NULL;
	int rc;

	if (!dash || (size_t)(dash - r->cipher) >= sizeof(cipher))
		return call_fail(c, EXC_VALUE, EINVAL, "cipher '%s' is not CIPHER-MODE", r->cipher);
	snprintf(cipher, sizeof(cipher), "%.*s", (int)(dash - r->cipher), r->cipher);
	last_error[0] = '\0';
	crypt_set_log_callback(NULL, log_cb, NULL);
	rc = crypt_init(&cd, r->device);
	if (rc == 0)
		crypt_set_log_callback(cd, log_cb, NULL);
	if (rc == 0)
		rc = crypt_format(cd, CRYPT_PLAIN, cipher, dash + 1, NULL, NULL, r->key_bits / 8,
				  &params);
	if (rc == 0)
		rc = activate(cd, r);
	if (rc == 0 && !node_ready(r->name)) {
		/* A mapping nobody can open is no success: take it down again. */
		crypt_deactivate(cd, r->name);
		crypt_free(cd);
		return call_fail(c, EXC_OS, EIO, "crypt_open '%s': /dev/mapper/%s was not created",
				 r->name, r->name);
	}
	crypt_free(cd);
	/* The device was verified before: ENOENT/ENODEV here mean the kernel lacks the cipher. */
	if (rc == -ENOENT || rc == -ENODEV)
		return call_fail(c, EXC_OS, EINVAL, "crypt_open '%s': cipher '%s' unavailable: %s",
				 r->name, r->cipher, lib_reason(rc));
	return rc < 0 ? crypt_fail(c, "crypt_open", r->name, rc) : 0;
}

/*
 * A name the policy allows may still be another kind of dm device (an LV
 * "vg-x--dmcrypt", a multipath map): close and status act only on devices
 * whose dm uuid says libcryptsetup made them.
 */
static int
not_crypt(struct call *c, const char *name)
{
	return call_fail(c, EXC_PERM, EPERM, "mapping '%s' is not a dm-crypt mapping", name);
}

int
crypt_plain_close(struct call *c, const char *name, bool missing_ok, bool *was_open)
{
	struct crypt_device *cd = NULL;
	int rc;

	*was_open = false;
	last_error[0] = '\0';
	crypt_set_log_callback(NULL, log_cb, NULL);
	if (!crypt_mapping_exists(name)) {
		if (missing_ok)
			return 0;
		return call_fail(c, EXC_NOENT, ENOENT, "mapping '%s' is not active", name);
	}
	if (!crypt_is_mapping(name))
		return not_crypt(c, name);
	rc = crypt_init_by_name(&cd, name);
	if (rc == 0)
		rc = crypt_deactivate(cd, name);
	crypt_free(cd);
	if (rc == 0)
		*was_open = true;
	return rc < 0 ? crypt_fail(c, "crypt_close", name, rc) : 0;
}

static void
flags_text(uint32_t flags, char *out, size_t cap)
{
	snprintf(out, cap, "%s%s%s", flags & CRYPT_ACTIVATE_ALLOW_DISCARDS ? "allow_discards," : "",
		 flags & CRYPT_ACTIVATE_NO_READ_WORKQUEUE ? "no_read_workqueue," : "",
		 flags & CRYPT_ACTIVATE_NO_WRITE_WORKQUEUE ? "no_write_workqueue," : "");
	if (out[0])
		out[strlen(out) - 1] = '\0';
}

/* Everything about an active mapping except its key. */
int
crypt_plain_status(struct call *c, const char *name)
{
	struct crypt_device *cd = NULL;
	struct crypt_active_device cad;
	char cipher[96], flags[96];
	int rc;

	last_error[0] = '\0';
	crypt_set_log_callback(NULL, log_cb, NULL);
	if (!crypt_mapping_exists(name))
		return call_fail(c, EXC_NOENT, ENOENT, "mapping '%s' is not active", name);
	if (!crypt_is_mapping(name))
		return not_crypt(c, name);
	rc = crypt_init_by_name(&cd, name);
	if (rc == 0)
		rc = crypt_get_active_device(cd, name, &cad);
	if (rc < 0) {
		crypt_free(cd);
		return crypt_fail(c, "crypt_status", name, rc);
	}
	snprintf(cipher, sizeof(cipher), "%s-%s", crypt_get_cipher(cd), crypt_get_cipher_mode(cd));
	flags_text(cad.flags, flags, sizeof(flags));
	mp_put_map(c->ret, 7);
	mp_put_str(c->ret, "name"), mp_put_str(c->ret, name);
	mp_put_str(c->ret, "device"), mp_put_str(c->ret, crypt_get_device_name(cd));
	mp_put_str(c->ret, "cipher"), mp_put_str(c->ret, cipher);
	mp_put_str(c->ret, "key_size"), mp_put_uint(c->ret, 8u * (unsigned)crypt_get_volume_key_size(cd));
	mp_put_str(c->ret, "sector_size"), mp_put_uint(c->ret, (unsigned)crypt_get_sector_size(cd));
	mp_put_str(c->ret, "flags"), mp_put_str(c->ret, flags);
	mp_put_str(c->ret, "size"), mp_put_uint(c->ret, cad.size * 512u);
	crypt_free(cd);
	return 0;
}

/* Run a DM_DEVICE_INFO for a name or a device number; NULL if it does not exist. */
static struct dm_task *
dm_info(const char *name, int maj, int min)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_INFO);
	struct dm_info info;

	if (!dmt)
		return NULL;
	if ((name ? dm_task_set_name(dmt, name) : dm_task_set_major_minor(dmt, maj, min, 0)) &&
	    dm_task_run(dmt) && dm_task_get_info(dmt, &info) && info.exists)
		return dmt;
	dm_task_destroy(dmt);
	return NULL;
}

bool
crypt_mapping_exists(const char *name)
{
	struct dm_task *dmt = dm_info(name, 0, 0);

	if (dmt)
		dm_task_destroy(dmt);
	return dmt != NULL;
}

int
dm_lvm_name_of(unsigned maj, unsigned min, char *name, size_t cap)
{
	struct dm_task *dmt = dm_info(NULL, (int)maj, (int)min);
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

/* dm-crypt mappings are the ones libcryptsetup tagged with a CRYPT- uuid. */
bool
crypt_is_mapping(const char *name)
{
	struct dm_task *dmt = dm_info(name, 0, 0);
	const char *uuid = dmt ? dm_task_get_uuid(dmt) : NULL;
	bool yes = uuid && strncmp(uuid, "CRYPT-", 6) == 0;

	if (dmt)
		dm_task_destroy(dmt);
	return yes;
}

int
crypt_mapping_list(struct call *c)
{
	struct dm_task *dmt = dm_task_create(DM_DEVICE_LIST);
	struct dm_names *n;
	const char *shown[1024];
	uint32_t count = 0;

	if (!dmt || !dm_task_run(dmt) || !(n = dm_task_get_names(dmt))) {
		if (dmt)
			dm_task_destroy(dmt);
		return call_fail(c, EXC_OS, EIO, "crypt_list: cannot list device-mapper devices");
	}
	for (; n->dev && count < 1024; n = (struct dm_names *)((char *)n + n->next)) {
		if (crypt_is_mapping(n->name) && guard_mapping_visible(c, n->name))
			shown[count++] = n->name;
		if (!n->next)
			break;
	}
	mp_put_array(c->ret, count);
	for (uint32_t k = 0; k < count; k++)
		mp_put_str(c->ret, shown[k]);
	dm_task_destroy(dmt);
	return 0;
}
