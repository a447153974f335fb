/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The relay: ephcrypt-helper in front of a whole oslo.privsep context.
 *
 * At start-up (before the sandbox) relay_start() runs Debian's
 * privsep-helper for the same context, the way oslo.privsep's ROOTWRAP start
 * does: a listening socket in a fresh root-only directory, the helper
 * started with --privsep_context and --privsep_sock_path (plus the
 * deployer's --config-file/--config-dir), which connects, forks and exits 0;
 * then one PING/PONG of the relay's own.  From then on the relay is a
 * non-blocking state machine for a single-threaded poll() loop:
 *
 *   relay_pollfd()        the daemon's socket and the events wanted now
 *   relay_on_events()     read and write what can be, never blocking
 *   relay_forward_call()  queue a caller's CALL frame, unchanged
 *   relay_output()        the next frame for the caller (RET, ERR, LOG),
 *   relay_output_consume()  unchanged, to be written whole and in order
 *
 * Both directions are bounded (max_buffered bytes each, plus one message
 * being read): when the caller is not reading, the relay stops reading the
 * daemon; when the daemon is not reading, relay_forward_call() says FULL and
 * the serve loop stops reading the caller.  Only replies to calls the relay
 * forwarded, and well-formed LOG records, ever reach the caller.
 *
 * Once relay_forward_call() has returned RELAY_OK, exactly one reply frame
 * for that msgid comes out of relay_output(): the daemon's RET or ERR, or,
 * if the daemon dies or its reply breaks the limits, an ERR the relay makes.
 * Each forwarded call ends in one relay_record (never its arguments).
 */
#ifndef EPHCRYPT_RELAY_H
#define EPHCRYPT_RELAY_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "../protocol/mp.h"

#define RELAY_HELPER_PATH	       "/usr/bin/privsep-helper"
#define RELAY_SOCK_PARENT	       "/run"
#define RELAY_DEFAULT_MAX_BUFFERED     (4u << 20)
#define RELAY_DEFAULT_MAX_CALLS	       256
#define RELAY_DEFAULT_START_TIMEOUT_MS 60000
#define RELAY_NAME_MAX		       160
#define RELAY_CLASS_MAX		       128
/* The ERR class and text a call gets when privsep-helper dies under it. */
#define RELAY_LOST_CLASS  "builtins.OSError"
#define RELAY_LIMIT_CLASS "builtins.ValueError"

enum relay_outcome {
	RELAY_OUT_RET,	 /* the daemon replied RET */
	RELAY_OUT_ERR,	 /* the daemon replied ERR: exc_class says which */
	RELAY_OUT_LIMIT, /* the reply broke the frame limits: the relay replied ERR */
	RELAY_OUT_LOST,	 /* the daemon died first: the relay replied ERR (or the channel closed) */
};

struct relay_record {
	char entrypoint[RELAY_NAME_MAX];
	const uint8_t *msgid; /* the caller's msgid, msgpack-encoded */
	size_t msgid_len;
	struct timespec started; /* CLOCK_REALTIME when it was queued for the daemon */
	uint64_t duration_us;	 /* until the reply was queued for the caller */
	enum relay_outcome outcome;
	char exc_class[RELAY_CLASS_MAX]; /* ERR, LIMIT, LOST: the class the caller sees */
};

/* Called once per forwarded call; must not call back into the relay. */
typedef void (*relay_record_fn)(const struct relay_record *rec, void *arg);

struct relay_config {
	const char *helper_path; /* NULL: RELAY_HELPER_PATH */
	const char *context;	 /* --privsep_context, e.g. nova.privsep.sys_admin_pctxt */
	/* "--config-file" FILE and "--config-dir" DIR pairs (absolute paths),
	 * NULL-terminated, passed on in order; NULL for none. */
	const char *const *config_args;
	/* The daemon's whole environment, NULL-terminated; NULL: PATH and LANG
	 * only.  Nothing of ours is passed on unless named here. */
	const char *const *env;
	const char *sock_parent;   /* where the private directory goes; NULL: /run */
	int stderr_fd;		   /* the daemon's stderr; -1: ours */
	unsigned start_timeout_ms; /* 0: RELAY_DEFAULT_START_TIMEOUT_MS */
	size_t max_buffered;	   /* per direction; 0: RELAY_DEFAULT_MAX_BUFFERED */
	unsigned max_calls;	   /* forwarded calls in flight; 0: RELAY_DEFAULT_MAX_CALLS */
	struct mp_limits limits;   /* on the daemon's messages; max_message 0: defaults */
	bool pass_start_logs;	   /* queue the daemon's start-up LOG records for the caller */
	relay_record_fn on_record; /* may be NULL */
	void *record_arg;
};

enum relay_status {
	RELAY_OK = 0,
	RELAY_E_FULL,	   /* the queue to the daemon is full: retry after relay_on_events() */
	RELAY_E_BUSY,	   /* max_calls calls are in flight */
	RELAY_E_CLOSED,	   /* the daemon is gone */
	RELAY_E_DUPLICATE, /* a call with this msgid is already in flight */
	RELAY_E_INVALID,   /* msgid or name unusable (too long, wrong type) */
	RELAY_E_NOMEM,
};

struct relay;

/*
 * Start privsep-helper and complete the handshake.  Blocks for at most the
 * start timeout; on failure returns -1 with the reason in err, and leaves
 * no process, socket or directory behind.  SIGCHLD must not be ignored.
 */
int relay_start(const struct relay_config *cfg, struct relay **out, char *err, size_t errlen);
/* The caller has gone: end the stream to the daemon (it leaves its loop on
 * EOF and then closes its end, which relay_closed() will show). */
void relay_shutdown(struct relay *r);
/* Close the daemon's socket (it exits on EOF); calls in flight end LOST. */
void relay_free(struct relay *r);

/* fd -1 once closed, and while there is nothing to wait for (the caller's
 * queue is full and nothing waits to go to the daemon). */
void relay_pollfd(const struct relay *r, struct pollfd *pfd);
void relay_on_events(struct relay *r, short revents);
void relay_on_readable(struct relay *r);
void relay_on_writable(struct relay *r);

/*
 * Queue one caller CALL frame (its bytes, unchanged) for the daemon.  msgid
 * is the frame's decoded msgid, name its entrypoint (for the record).  The
 * bytes are copied (and wiped when sent).
 */
enum relay_status relay_forward_call(struct relay *r, const uint8_t *frame, size_t len,
				     const struct mp_value *msgid, const char *name,
				     size_t namelen);
const char *relay_status_str(enum relay_status st);

/* The unsent rest of the next frame for the caller, or NULL. */
const uint8_t *relay_output(const struct relay *r, size_t *len);
void relay_output_consume(struct relay *r, size_t n);
/* A frame has been partly consumed: nothing else may go to the caller first. */
bool relay_output_midframe(const struct relay *r);

bool relay_closed(const struct relay *r);
/* Replace the record hook given at start (the serve loop owns the caller's
 * credentials the records name). */
void relay_set_record_fn(struct relay *r, relay_record_fn fn, void *arg);

struct relay_info {
	bool closed;
	const char *closed_reason; /* "" while up */
	unsigned in_flight;	   /* forwarded calls not yet answered */
	pid_t daemon_pid;	   /* from "privsep daemon running as pid N"; 0 if unknown */
	uint64_t dropped;	   /* daemon messages not passed on: replies to nothing,
				      malformed LOG records, other kinds */
	/* Calls that ended without a reply (no memory for the relay's ERR):
	 * if not 0, close the caller's channel, or those callers wait forever. */
	unsigned unanswered;
	size_t output_bytes; /* waiting for the caller: at most max_buffered + one read */
};

void relay_info(const struct relay *r, struct relay_info *out);

#endif
