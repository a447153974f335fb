/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Start-up support for main.c: who started the helper (and so whether its
 * command line may change the deployer's settings), the start-up error log
 * (standard error and syslog), and the host's cryptsetup default for
 * --check-policy.
 */
#ifndef EPHCRYPT_STARTUP_H
#define EPHCRYPT_STARTUP_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Whether the helper was started on someone else's behalf: by sudo, doas or
 * pkexec (they set SUDO_USER and friends for every command they run, and the
 * caller cannot remove them), or as a set-id program, or with a real uid other
 * than root's. Then who names it for a message ("sudo (SUDO_USER=nova)").
 */
bool startup_on_behalf(char *who, size_t cap);

/*
 * Started on someone else's behalf, the channel's peer must be that someone:
 * the uid sudo (SUDO_UID), doas (DOAS_USER) or pkexec (PKEXEC_UID) ran the
 * helper for, or the real uid. Otherwise a caller could point
 * --privsep_sock_path at another user's (or root's) socket and have root
 * connect to it. Returns 0, or -1 with why set; 0 when not on behalf.
 */
int startup_check_peer(uid_t peer, char *why, size_t cap);

/*
 * From here until startup_log_end, every line written to standard error
 * starts with "ephcrypt-helper: " and is also sent to syslog (facility
 * authpriv, priority err), so a start-up failure can be found both in the
 * caller's log (Nova's) and in the host's.
 */
void startup_log_begin(void);
void startup_log_end(void);

/*
 * The passphrase hash the host's cryptsetup uses for plain mode by default,
 * read from `cryptsetup --help` (the library does not export it). 0, or -1
 * with why set.
 */
int startup_plain_hash(char *hash, size_t cap, char *why, size_t whylen);

#endif
