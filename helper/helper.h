/* SPDX-License-Identifier: Apache-2.0 */
/* Internal interfaces of ephcrypt-helper. */
#ifndef EPHCRYPT_HELPER_H
#define EPHCRYPT_HELPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "../protocol/mp.h"
#include "../protocol/privsep.h"
#include "../protocol/version.h"

#define MAX_PARAMS 8
#define ERR_MSG_MAX 1024

/* Python exception classes the oslo.privsep client re-raises by name. */
#define EXC_TYPE "builtins.TypeError"
#define EXC_VALUE "builtins.ValueError"
#define EXC_NAME "builtins.NameError"
#define EXC_OS "builtins.OSError"
#define EXC_NOENT "builtins.FileNotFoundError"
#define EXC_EXIST "builtins.FileExistsError"
#define EXC_PERM "builtins.PermissionError"
#define EXC_PROTOCOL "oslo_privsep.daemon.ProtocolError"
#define EXC_PROCESS "oslo_concurrency.processutils.ProcessExecutionError"

struct options {
	int fd;		       /* --fd: serve an inherited socket */
	const char *sock_path; /* --privsep_sock_path: connect back (ROOTWRAP start) */
	const char *context;   /* --privsep_context: logged, not imported */
	const char *lvm_path;
	const char *policy_path;
	const char *audit_path;
	const char *check_policy;
	size_t max_message;
	unsigned lvm_timeout;
	unsigned workers;
	struct policy *policy; /* loaded at start-up, read-only while serving */
};

/* What a call named: copied here so the audit record outlives the handler. */
struct target {
	char vg[128], lv[128], mapping[128], device[272];
	/* The checked device's own node, /dev/mapper/<dm name>, in a root-only
	 * directory: what operations open, never the caller's path again. */
	char node[288];
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
	char request_id[128]; /* caller's correlation id, for the audit log */
	char key_id[128];     /* caller's key reference (e.g. Barbican UUID), never the key */
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
	EP_STORAGE = 1 << 0,  /* touches LVM or device-mapper: serialised */
	EP_MUTATES = 1 << 1,  /* changes the kernel or disk */
	EP_TAKES_KEY = 1 << 2, /* carries key material: frame wiped after */
	EP_NO_AUDIT = 1 << 3   /* harmless no-op (version): not worth an fdatasync */
};

struct entrypoint {
	const char *name;
	unsigned flags;
	const struct param *params;
	unsigned nparams;
	handler_fn fn;
};

/* dispatch.c */
const struct entrypoint *dispatch_lookup(const char *name, size_t len);
void dispatch_call(const struct ps_msg *m, struct mp_buf *out, const struct options *opt,
		   const struct ucred *peer);
int call_fail(struct call *c, const char *cls, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void call_error_clear(struct call_error *e);

/* args.c: argument binding and typed access */
int args_bind(struct call *c, const struct entrypoint *ep);
int arg_cstr(struct call *c, unsigned i, char *dst, size_t cap);
int arg_u64(struct call *c, unsigned i, uint64_t min, uint64_t max, uint64_t *out);
bool arg_bool(const struct call *c, unsigned i, bool dflt);
const struct mp_value *arg_get(const struct call *c, unsigned i);

/* serve.c */
int serve(int fd, const struct options *opt);
int peer_of(int fd, struct ucred *cred);

/* sandbox.c: capabilities, no_new_privs, seccomp; fatal on failure. */
void sandbox_apply(const struct options *opt);

/* entrypoints: native.c */
extern const struct entrypoint native_entrypoints[];
extern const size_t native_entrypoints_len;
/* nova.c: Nova 26's own storage entrypoints */
extern const struct entrypoint nova_entrypoints[];
extern const size_t nova_entrypoints_len;

#endif
