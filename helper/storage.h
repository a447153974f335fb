/* SPDX-License-Identifier: Apache-2.0 */
/* LVM (through the lvm binary) and dm-crypt (through libcryptsetup). */
#ifndef EPHCRYPT_STORAGE_H
#define EPHCRYPT_STORAGE_H

#include "helper.h"

#define NAME_MAX_LVM 128

struct vg_info {
	uint64_t size, free, extent_size;
};

struct lv_info {
	char path[264]; /* "/dev/" VG "/" LV, each name at most 127 bytes */
	uint64_t size;
	bool active, open;
};

/* Output of one lvm run; out/err NUL-terminated, capped. */
struct lvm_out {
	int status; /* exit code, or 128+signal, or -1 when it could not run */
	char *out, *err;
	size_t outlen, errlen;
	bool timed_out;
};

void lvm_out_free(struct lvm_out *o);
/* Each returns 0, or -1 with the call's error set (errno-style classes). */
int lvm_vg_info(struct call *c, const char *vg, struct vg_info *vi);
int lvm_lv_info(struct call *c, const char *vg, const char *lv, struct lv_info *li);
int lvm_lv_create(struct call *c, const char *vg, const char *lv, uint64_t size);
int lvm_lv_remove(struct call *c, const char *vg, const char *lv);
/* Encodes an array of LV names the policy lets the caller see. */
int lvm_lv_list(struct call *c, const char *vg);
/* Nova's reports: run argv (argv[0] "lvm"), retrying up to attempts times. */
int lvm_run_retry(const struct options *opt, const char *const argv[], int attempts,
		  struct lvm_out *o);
/* Device path -> the LVM LV behind it (after symlinks), through the kernel's own names. */
int lvm_resolve_device(struct call *c, const char *device, char vg[NAME_MAX_LVM],
		       char lv[NAME_MAX_LVM]);

struct crypt_req {
	const char *name, *device, *cipher; /* cipher as "aes-xts-plain64" */
	const uint8_t *key;
	size_t key_len;
	unsigned key_bits, sector_size;
	uint32_t flags;			/* CRYPT_ACTIVATE_* */
	const char *passphrase_hash;	/* Nova compatibility: key is a passphrase; else NULL */
};

int crypt_plain_open(struct call *c, const struct crypt_req *r);
/* *was_open is false (and 0 returned) when no such mapping exists and missing_ok. */
int crypt_plain_close(struct call *c, const char *name, bool missing_ok, bool *was_open);
int crypt_plain_status(struct call *c, const char *name);
int crypt_mapping_list(struct call *c);
bool crypt_mapping_exists(const char *name);
bool crypt_is_mapping(const char *name);
/* dm name of an LVM device (uuid "LVM-..."), by device number. */
int dm_lvm_name_of(unsigned maj, unsigned min, char *name, size_t cap);

/* guard.c: name grammar, then policy; each returns 0 or -1 with the error set. */
int guard_vg(struct call *c, const char *vg);
int guard_lv(struct call *c, const char *vg, const char *lv);
int guard_lv_size(struct call *c, const char *vg, uint64_t size);
int guard_mapping(struct call *c, const char *name);
int guard_crypt(struct call *c, const struct crypt_req *r);
/* Resolve a device to an LV and require both its VG and LV to be allowed. */
int guard_device(struct call *c, const char *device);
int guard_dev_path(struct call *c, const char *path);
bool guard_lv_visible(struct call *c, const char *vg, const char *lv);
bool guard_mapping_visible(struct call *c, const char *name);

#endif
