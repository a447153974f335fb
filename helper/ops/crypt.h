/* SPDX-License-Identifier: Apache-2.0 */
/*
 * dm-crypt plain mappings through libcryptsetup, in-process: the key goes
 * from the decoded request straight to the kernel. Each returns 0 or -errno
 * with e->why set.
 */
#ifndef EPHCRYPT_OPS_CRYPT_H
#define EPHCRYPT_OPS_CRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"

#define DMCRYPT_SECTOR_DEFAULT 512  /* bytes; cryptsetup's plain default */
#define DMCRYPT_KEY_MAX	       1024 /* bytes of a Nova passphrase key that are hexlified */
#define DMCRYPT_PATH_MAX       4096

struct dmcrypt_req {
	const char *name, *device, *cipher; /* cipher as "aes-xts-plain64" */
	const uint8_t *key;
	size_t key_len;
	unsigned key_bits, sector_size;
	uint32_t flags;		     /* CRYPT_ACTIVATE_* */
	const char *passphrase_hash; /* Nova compatibility: key is a passphrase; else NULL */
};

/* Everything about an active mapping except its key. */
struct dmcrypt_status {
	char cipher[96], device[DMCRYPT_PATH_MAX];
	unsigned key_bits, sector_size;
	uint32_t flags; /* CRYPT_ACTIVATE_* */
	uint64_t size;	/* bytes */
};

int dmcrypt_open(const struct dmcrypt_req *r, struct op_error *e);
/* -ENOENT when no such mapping is active; -EPERM when it is not a dm-crypt one. */
int dmcrypt_close(const char *name, struct op_error *e);
int dmcrypt_status(const char *name, struct dmcrypt_status *st, struct op_error *e);

#endif
