/* SPDX-License-Identifier: Apache-2.0 */
/* libephcrypt internals shared by its source files (never installed). */
#ifndef EPHCRYPT_LIB_H
#define EPHCRYPT_LIB_H

#include <pthread.h>

#include "../protocol/mp.h"
#include "../protocol/privsep.h"
#include "ephcrypt.h"

#define EC_FMT(a, b) __attribute__((format(printf, a, b)))

/* Fill err (if not NULL) and return -1. */
int ec_fail(struct ephcrypt_error *err, enum ephcrypt_status st, int errnum, const char *fmt, ...)
	EC_FMT(4, 5);
void ec_error_clear(struct ephcrypt_error *err);

/* One call in flight: the reader thread hands it its reply frame. */
struct ec_pending {
	struct ec_pending *next;
	char id[40];
	struct mp_frame *frame; /* set by the reader */
	struct ps_msg msg;
	bool done;
};

struct ephcrypt_helper {
	int fd;
	pid_t pid; /* the helper we spawned, or 0 */
	unsigned timeout_ms;
	pthread_t reader;
	bool reader_started;
	pthread_mutex_t lock;	   /* pending, seq, dead */
	pthread_mutex_t send_lock; /* one message on the socket at a time */
	pthread_cond_t cond;
	struct ec_pending *pending;
	unsigned long seq;
	bool dead;
	char why_dead[160];
	char request_id[128], key_id[256];
};

/* A call's reply, decoded: RET value or ERR already mapped into err. */
struct ec_reply {
	struct mp_frame *frame;
	const struct mp_value *value;
};

/* Send [id, [3, name, args, kwargs]]; args is an encoded array, the context kwargs are added. */
int ec_call(struct ephcrypt_helper *h, const char *name, const struct mp_buf *args,
	    struct ec_reply *out, struct ephcrypt_error *err);
void ec_reply_free(struct ec_reply *r);

/* The whole reply of a raw call (the CLI's `call`): a value, or an exception's class and args. */
struct ec_raw_reply {
	struct mp_frame *frame; /* free with mp_frame_free */
	bool ok;
	const struct mp_value *value;
	char exc[96];
	const struct mp_value *exc_args;
};
int ec_call_raw(struct ephcrypt_helper *h, const char *name, const uint8_t *args, size_t alen,
		const uint8_t *kwargs, size_t klen, struct ec_raw_reply *out,
		struct ephcrypt_error *err);

/* Deep copy of a configuration (ephcrypt_os_config_clear frees it). */
int ec_config_copy(struct ephcrypt_os_config *dst, const struct ephcrypt_os_config *src);

/* A msgpack value as JSON text (bin shown as "<N bytes>"); appended to a growing string. */
struct ec_str {
	char *s;
	size_t len, cap;
};
int ec_str_add(struct ec_str *s, const char *fmt, ...) EC_FMT(2, 3);
int ec_value_json(struct ec_str *s, const struct mp_value *v);

/* Copy a msgpack string into a C buffer (cut to fit); "" if v is not a string. */
void ec_copy_str(char *dst, size_t cap, const struct mp_value *v);

/* Map a helper exception class to a status (PermissionError -> REFUSED ...). */
enum ephcrypt_status ec_status_for_exception(const char *cls);
/* Map an HTTP status to a status (401 -> AUTH, 403, 404, 5xx -> SERVER ...). */
enum ephcrypt_status ec_status_for_http(long code);

#endif
