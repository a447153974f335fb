/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The audit log: one JSON object per line, a CADF event that pycadf's Event
 * model accepts (tests/audit/check-cadf.py) plus ours, hash-chained (each
 * record carries the SHA-256 of the previous line).
 * Never key material, nor a hash of it.
 */
#ifndef EPHCRYPT_AUDIT_H
#define EPHCRYPT_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum audit_outcome { AUDIT_SUCCESS, AUDIT_FAILURE, AUDIT_DENIED };

struct audit_event {
	const char *action; /* the entrypoint's wire name */
	enum audit_outcome outcome;
	/* initiator (SO_PEERCRED) */
	uid_t uid;
	gid_t gid;
	pid_t pid;
	const char *request_id; /* NULL or "" when the caller gave none */
	/* target, as given (NULL when not part of the call) */
	const char *vg, *lv, *mapping, *device;
	const char *policy_rule;
	/* failure */
	int err_no; /* 0 when none */
	const char *message;
	uint64_t duration_us;
	/* crypt operations (cipher NULL when not one) */
	const char *cipher;
	unsigned key_size, sector_size;
	const char *flags;  /* e.g. "allow_discards,no_read_workqueue" */
	const char *key_id; /* the caller's key reference, never the key */
	/* Which way the call went: "native" (served or refused by the helper)
	 * or "privsep-helper" (relayed, policy [forward]); NULL: not written.
	 * context: --privsep_context. reply, exception: a relayed call's reply
	 * kind (RET, ERR, LIMIT, LOST) and exception class, never its values. */
	const char *route, *context, *reply, *exception;
	/* The CADF taxonomy action (create, read, read/list, update, delete...);
	 * NULL: derived from the entrypoint's name (audit_cadf_action). */
	const char *cadf_action;
};

/*
 * Open (create 0600, O_APPEND) before the sandbox; a log readable or writable
 * by others, or writable by its group, is refused (0640 is fine); reads the last line to
 * continue the hash chain. The directory (created 0700 if it alone is
 * missing) must be owned by root, not writable by group or others, and not
 * a symbolic link. Returns 0 or -errno with why filled in.
 */
int audit_open(const char *path, char *why, size_t whylen);
/*
 * Write one record with a single write(2) and fdatasync before returning.
 * Returns 0, or -errno: the caller must then refuse further requests.
 * Also sends a one-line summary to syslog (LOG_AUTHPRIV).
 */
int audit_record(const struct audit_event *ev);
bool audit_is_broken(void);
/*
 * Before acting: follow a rotation (reopen the path when it no longer names
 * the open file, carrying the chain) and check that the file has not shrunk.
 * Returns 0, or -errno with the broken reason in why (as audit_broken_reason).
 */
int audit_ready(char *why, size_t whylen);
/* The log's directory (absolute), which must stay writable for the reopen. */
int audit_log_dir(char *dir, size_t dirlen);
/* Why: the file, and the first failure (e.g. the sizes of a shrunk file); "" if not broken. */
void audit_broken_reason(char *why, size_t whylen);
void audit_close(void);
/* The CADF action for an entrypoint name: by its last word, "unknown" if none fits. */
const char *audit_cadf_action(const char *entrypoint);

#endif
