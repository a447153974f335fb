/* SPDX-License-Identifier: Apache-2.0 */
/* The unprivileged side, raw and synchronous: compiled into tests/unit/test_channel.c only,
 * which drives the wire flows by hand. Callers use libephcrypt (ephcrypt.h, channel.c). */
#ifndef EPHCRYPT_CLIENT_H
#define EPHCRYPT_CLIENT_H

#include <sys/types.h>

#include "../protocol/mp.h"
#include "../protocol/privsep.h"

struct ec_client {
	int fd;
	pid_t pid; /* helper we spawned, or 0 */
	struct mp_reader rd;
	unsigned long seq;
	char err[512]; /* last transport error, for the caller */
};

/* A call's outcome: ok with a value, or a remote exception (class, args). */
struct ec_reply {
	struct mp_frame *frame;
	struct ps_msg msg;
	bool ok;
	const struct mp_value *value; /* RET value */
	const char *exc;	      /* ERR class name (points into frame, NUL-copied below) */
	char exc_buf[128];
	const struct mp_value *exc_args;
};

/* Spawn argv[0..] with "--fd N" appended; the helper end is fd N in the child. */
int ec_spawn(struct ec_client *c, char *const helper_argv[]);
/* The same, with the socketpair created as uid/gid (the identity the helper sees). */
int ec_spawn_for(struct ec_client *c, char *const helper_argv[], uid_t uid, gid_t gid);
int ec_attach(struct ec_client *c, int fd);
int ec_close(struct ec_client *c); /* SHUT_WR, drain, wait: returns helper exit status */
/* Send a CALL whose args/kwargs the caller already encoded (array + map). */
int ec_call_raw(struct ec_client *c, const char *name, const uint8_t *args, size_t alen,
		const uint8_t *kwargs, size_t klen, struct ec_reply *out);
int ec_ping(struct ec_client *c);
void ec_reply_free(struct ec_reply *r);
/* First string of an ERR's args, for messages. */
const char *ec_reply_message(const struct ec_reply *r, char *buf, size_t cap);

#endif
