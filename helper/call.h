/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The request layer: one call, its arguments and its error. A failure is
 * either a bad argument (TypeError, ValueError, NameError: call_fail) or a
 * failed operation given as an errno (call_oserror): call.c's one table
 * turns the errno into the OSError subclass the caller re-raises.
 */
#ifndef EPHCRYPT_CALL_H
#define EPHCRYPT_CALL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../protocol/mp.h"
#include "../protocol/privsep.h"
#include "../protocol/version.h"
#include "ops/dm.h"
#include "ops/lvm.h"
#include "ops/ops.h"

#define MAX_PARAMS   8
#define ERR_MSG_MAX  OP_WHY_MAX
#define META_ARG_MAX 128 /* request_id, key_id: bytes kept, NUL included */

/* Python exception classes the oslo.privsep client re-raises by name. */
#define EXC_TYPE     "builtins.TypeError"
#define EXC_VALUE    "builtins.ValueError"
#define EXC_NAME     "builtins.NameError"
#define EXC_OS	     "builtins.OSError"
#define EXC_NOENT    "builtins.FileNotFoundError"
#define EXC_EXIST    "builtins.FileExistsError"
#define EXC_PERM     "builtins.PermissionError"
#define EXC_PROTOCOL "oslo_privsep.daemon.ProtocolError"
#define EXC_PROCESS  "oslo_concurrency.processutils.ProcessExecutionError"

struct relay;

struct options {
	int fd;		       /* --fd: serve an inherited socket */
	const char *sock_path; /* --privsep_sock_path: connect back (ROOTWRAP start) */
	const char *context;   /* --privsep_context: logged, not imported */
	struct lvm_config lvm;
	const char *policy_path;
	const char *audit_path;
	const char *check_policy;
	size_t max_message;
	struct policy *policy; /* loaded at start-up, read-only while serving */
	/* In front of a whole context: privsep-helper for it (policy [forward]),
	 * started before the sandbox; NULL on the patch route. */
	struct relay *relay;
	const char *const *config_args; /* --config-file/--config-dir pairs, for it */
};

/* What a call named: copied here so the audit record outlives the handler. */
struct target {
	char vg[OP_NAME_CAP], lv[OP_NAME_CAP], mapping[OP_NAME_CAP], device[2 * OP_NAME_CAP + 16];
	/* The checked device's own node, /dev/mapper/<dm name>, in a root-only
	 * directory: what operations open, never the caller's path again. */
	char node[DM_NODE_CAP];
	char cipher[64], flags[96];
	unsigned key_size, sector_size;
};

/* What a failed call replies: a Python exception class and its args. */
struct call_error {
	const char *cls;
	int errnum; /* > 0: args are [errno, msg], as OSError(errno, strerror) */
	char msg[ERR_MSG_MAX];
	/* ProcessExecutionError: [stdout, stderr, exit_code, cmd, nil] */
	bool process;
	int exit_code;
	char *out, *err; /* owned */
	char cmd[512];
};

struct entrypoint;

struct call {
	const char *name;
	const struct entrypoint *ep;
	const struct mp_value *args, *kwargs;
	const struct mp_value *arg[MAX_PARAMS]; /* bound by name; NULL when omitted */
	struct mp_buf *ret;			/* the handler encodes its return value here */
	struct call_error err;
	const struct options *opt;
	const struct ucred *peer;
	char request_id[META_ARG_MAX]; /* caller's correlation id, for the audit log */
	char key_id[META_ARG_MAX]; /* caller's key reference (e.g. Barbican UUID), never the key */
	struct target t;
	char rule[160]; /* policy rule that allowed or refused the call */
	bool denied;
};

typedef int (*handler_fn)(struct call *c);

enum param_type { P_STR, P_INT, P_BIN, P_BOOL, P_MAP, P_ANY };

struct param {
	const char *name;
	enum param_type type;
	bool optional;
	bool nullable;
};

enum {
	EP_NO_AUDIT = 1 << 0 /* harmless no-op (version): not worth an fdatasync */
};

struct entrypoint {
	const char *name;
	unsigned flags;
	const struct param *params;
	unsigned nparams;
	handler_fn fn;
	/* Undoes a successful fn whose caller hung up before the reply (NULL: nothing to undo). */
	handler_fn undo;
};

/* call.c */
int call_fail(struct call *c, const char *cls, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int call_oserror(struct call *c, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A mechanism's -errno and reason as the call's error; returns -1. */
int call_op_fail(struct call *c, int rc, const struct op_error *e);
/* ProcessExecutionError(stdout, stderr, exit_code, cmd, None): what Nova catches. */
int call_process_error(struct call *c, const char *out, const char *err, int code,
		       const char *const argv[]);
/* The one errno -> exception class table: FileNotFoundError, ..., else OSError. */
const char *call_errno_class(int errnum);
bool call_is_oserror(const char *cls);
void call_error_clear(struct call_error *e);
/*
 * The error as the caller may see it: valid UTF-8 (msgpack str, which a
 * Python peer decodes strictly) without controls that would drive a terminal
 * or reorder a log line. Caller-supplied names end up in error text.
 */
void call_error_printable(struct call_error *e);

/* args.c: argument binding and typed access */
int args_bind(struct call *c, const struct entrypoint *ep);
int arg_cstr(struct call *c, unsigned i, char *dst, size_t cap);
int arg_u64(struct call *c, unsigned i, uint64_t min, uint64_t max, uint64_t *out);
bool arg_bool(const struct call *c, unsigned i, bool dflt);
const struct mp_value *arg_get(const struct call *c, unsigned i);

#endif
