/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dm-crypt plain mappings through libcryptsetup, in-process: the key goes
 * from the decoded request straight to the kernel, never through argv, the
 * environment, a pipe or a log. Cipher, mode, key size and sector size are
 * always explicit (cryptsetup 2.7 changed the compiled-in plain defaults).
 * One call at a time (the helper serves with one thread), so the static log
 * buffer is not shared.
 *
 * libcryptsetup is opened on the first call that needs it, not at exec: it
 * and what only it brings (libblkid, libargon2, libuuid) are a large part of
 * the helper's start-up, which every short-lived helper pays. It is then
 * mapped under the sandbox (the filter allows mmap, as lvm's loader needs)
 * and locked like the rest of the helper's memory (mlockall MCL_FUTURE).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libcryptsetup.h>

#include "crypt.h"
#include "dm.h"

#define CRYPTSETUP_SONAME "libcryptsetup.so.12" /* since cryptsetup 2.0 */

/* Every libcryptsetup function used here, typed by libcryptsetup.h itself. */
#define CRYPTSETUP_FUNCTIONS(X)                                                                    \
	X(crypt_activate_by_volume_key)                                                            \
	X(crypt_activate_by_passphrase)                                                            \
	X(crypt_set_log_callback)                                                                  \
	X(crypt_init)                                                                              \
	X(crypt_init_by_name)                                                                      \
	X(crypt_format)                                                                            \
	X(crypt_deactivate)                                                                        \
	X(crypt_free)                                                                              \
	X(crypt_get_active_device)                                                                 \
	X(crypt_get_cipher)                                                                        \
	X(crypt_get_cipher_mode)                                                                   \
	X(crypt_get_device_name)                                                                   \
	X(crypt_get_volume_key_size)                                                               \
	X(crypt_get_sector_size)

#define DECLARE_POINTER(name) __typeof__(name) *name;
static struct {
	void *handle;
	CRYPTSETUP_FUNCTIONS(DECLARE_POINTER)
} lib;

static char last_error[OP_REASON_MAX];

/* Open libcryptsetup once; -EIO with dlerror()'s reason when it or a symbol is missing. */
static int
lib_load(const char *what, struct op_error *e)
{
	if (lib.handle)
		return 0;
	lib.handle = dlopen(CRYPTSETUP_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (!lib.handle)
		return op_fail(e, EIO, "%s: cannot load %s: %s", what, CRYPTSETUP_SONAME,
			       dlerror());
#define LOAD_POINTER(name)                                                                         \
	if (!(*(void **)&lib.name = dlsym(lib.handle, #name))) {                                   \
		op_fail(e, EIO, "%s: %s lacks %s", what, CRYPTSETUP_SONAME, #name);                \
		dlclose(lib.handle);                                                               \
		lib.handle = NULL;                                                                 \
		return -EIO;                                                                       \
	}
	CRYPTSETUP_FUNCTIONS(LOAD_POINTER)
#undef LOAD_POINTER
	return 0;
}

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

/* libcryptsetup's result as -errno and a reason; ENODEV (no such device) reads as ENOENT. */
static int
lib_fail(struct op_error *e, const char *what, const char *name, int r)
{
	int err = r < 0 ? -r : EIO;

	return op_fail(e, err == ENODEV ? ENOENT : err, "%s '%s': %s", what, name, lib_reason(r));
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
activate(struct crypt_device *cd, const struct dmcrypt_req *r)
{
	char hex[2 * DMCRYPT_KEY_MAX];
	int rc;

	if (!r->passphrase_hash)
		return lib.crypt_activate_by_volume_key(cd, r->name, (const char *)r->key,
							r->key_len, r->flags);
	if (r->key_len > sizeof(hex) / 2)
		return -EINVAL;
	hexlify(r->key, r->key_len, hex);
	rc = lib.crypt_activate_by_passphrase(cd, r->name, CRYPT_ANY_SLOT, hex, 2 * r->key_len,
					      r->flags);
	explicit_bzero(hex, sizeof(hex));
	return rc;
}

/* Start a libcryptsetup call (the library loaded): its reason, if any, is this call's. */
static int
log_reset(const char *what, struct op_error *e)
{
	int rc = lib_load(what, e);

	last_error[0] = '\0';
	if (rc == 0)
		lib.crypt_set_log_callback(NULL, log_cb, NULL);
	return rc;
}

int
dmcrypt_open(const struct dmcrypt_req *r, struct op_error *e)
{
	const char *dash = strchr(r->cipher, '-');
	char cipher[32];
	struct crypt_params_plain params = {
		.hash = r->passphrase_hash, /* NULL: the key is the volume key itself */
		.sector_size = r->sector_size,
	};
	struct crypt_device *cd = NULL;
	int rc;

	/* The policy admits only CIPHER-MODE names; this keeps the split honest. */
	if (!dash || (size_t)(dash - r->cipher) >= sizeof(cipher))
		return op_fail(e, EINVAL, "cipher '%s' is not CIPHER-MODE", r->cipher);
	snprintf(cipher, sizeof(cipher), "%.*s", (int)(dash - r->cipher), r->cipher);
	if ((rc = log_reset("crypt_open", e)) < 0)
		return rc;
	rc = lib.crypt_init(&cd, r->device);
	if (rc == 0)
		lib.crypt_set_log_callback(cd, log_cb, NULL);
	if (rc == 0)
		rc = lib.crypt_format(cd, CRYPT_PLAIN, cipher, dash + 1, NULL, NULL,
				      r->key_bits / 8, &params);
	if (rc == 0)
		rc = activate(cd, r);
	if (rc == 0 && !mapper_node_ready(r->name)) {
		/* A mapping nobody can open is no success: take it down again. */
		lib.crypt_deactivate(cd, r->name);
		lib.crypt_free(cd);
		return op_fail(e, EIO, "crypt_open '%s': /dev/mapper/%s was not created", r->name,
			       r->name);
	}
	lib.crypt_free(cd);
	/* The device was verified before: ENOENT/ENODEV here mean the kernel lacks the cipher. */
	if (rc == -ENOENT || rc == -ENODEV)
		return op_fail(e, EINVAL, "crypt_open '%s': cipher '%s' unavailable: %s", r->name,
			       r->cipher, lib_reason(rc));
	return rc < 0 ? lib_fail(e, "crypt_open", r->name, rc) : 0;
}

/*
 * A name the policy allows may still be another kind of dm device (an LV
 * "vg-x--dmcrypt", a multipath map): close and status act only on devices
 * whose dm uuid says libcryptsetup made them.
 */
static int
active_crypt(const char *name, struct op_error *e)
{
	if (!mapper_exists(name))
		return op_fail(e, ENOENT, "mapping '%s' is not active", name);
	if (!mapper_is_crypt(name))
		return op_fail(e, EPERM, "mapping '%s' is not a dm-crypt mapping", name);
	return 0;
}

int
dmcrypt_close(const char *name, struct op_error *e)
{
	struct crypt_device *cd = NULL;
	int rc;

	if ((rc = log_reset("crypt_close", e)) < 0)
		return rc;
	if ((rc = active_crypt(name, e)) < 0)
		return rc;
	rc = lib.crypt_init_by_name(&cd, name);
	if (rc == 0)
		rc = lib.crypt_deactivate(cd, name);
	lib.crypt_free(cd);
	return rc < 0 ? lib_fail(e, "crypt_close", name, rc) : 0;
}

int
dmcrypt_status(const char *name, struct dmcrypt_status *st, struct op_error *e)
{
	struct crypt_device *cd = NULL;
	struct crypt_active_device cad;
	int rc;

	if ((rc = log_reset("crypt_status", e)) < 0)
		return rc;
	if ((rc = active_crypt(name, e)) < 0)
		return rc;
	rc = lib.crypt_init_by_name(&cd, name);
	if (rc == 0)
		rc = lib.crypt_get_active_device(cd, name, &cad);
	if (rc < 0) {
		lib.crypt_free(cd);
		return lib_fail(e, "crypt_status", name, rc);
	}
	snprintf(st->cipher, sizeof(st->cipher), "%s-%s", lib.crypt_get_cipher(cd),
		 lib.crypt_get_cipher_mode(cd));
	snprintf(st->device, sizeof(st->device), "%s", lib.crypt_get_device_name(cd));
	st->key_bits = 8u * (unsigned)lib.crypt_get_volume_key_size(cd);
	st->sector_size = (unsigned)lib.crypt_get_sector_size(cd);
	st->flags = cad.flags;
	st->size = cad.size * 512u;
	lib.crypt_free(cd);
	return 0;
}
