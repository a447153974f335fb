/* SPDX-License-Identifier: Apache-2.0 */
/* The top of the helper: the entrypoint tables, dispatch, the serve loop. */
#ifndef EPHCRYPT_HELPER_H
#define EPHCRYPT_HELPER_H

#include "call.h"

#define REPLY_MAX (8u << 20) /* a reply's own bytes; the msgid echoed comes on top */

/* A table row: the wire name, EP_* flags, the parameters and the handler. */
#define EP(name, flags, params, fn) EP_UNDO(name, flags, params, fn, NULL)

/* A row whose work is undone when its caller is gone before the reply. */
#define EP_UNDO(name, flags, params, fn, undo)                                                     \
	{                                                                                          \
		name, flags, params, sizeof(params) / sizeof(params[0]), fn, undo                  \
	}

/* native.c: ephcrypt.*; nova.c: Nova 26's own storage entrypoints */
extern const struct entrypoint native_entrypoints[];
extern const size_t native_entrypoints_len;
extern const struct entrypoint nova_entrypoints[];
extern const size_t nova_entrypoints_len;

/* dispatch.c: true when the caller on caller_fd hung up and the call was undone */
bool dispatch_call(const struct ps_msg *m, struct mp_buf *out, const struct options *opt,
		   const struct ucred *peer, int caller_fd);

/* In front of a whole context (policy [forward], doc/relay.rst): does this
 * CALL go to privsep-helper? Never for a name served here or a storage name. */
bool dispatch_forwards(const struct ps_msg *m, const struct options *opt);
/* The names served here, for the policy's start-up check; returns the count. */
size_t dispatch_names(const char **names, size_t cap);
struct relay_record;
/* The audit record of a relayed call: never its arguments or reply values. */
void dispatch_forwarded_record(const struct relay_record *rec, const struct options *opt,
			       const struct ucred *peer);

/* serve.c */
int serve(int fd, const struct options *opt);
int peer_of(int fd, struct ucred *cred);

#endif
