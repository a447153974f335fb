/* SPDX-License-Identifier: Apache-2.0 */
/* The ephcrypt CLI's shared state and helpers (not part of the library). */
#ifndef EPHCRYPT_CLI_H
#define EPHCRYPT_CLI_H

#include <stdio.h>
#include <sys/types.h>

#include "ephcrypt.h"

/* Documented exit codes (man/ephcrypt.1, EXIT STATUS). */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	   /* anything not below */
	EXIT_USAGE = 2,	   /* bad command line */
	EXIT_AUTH = 3,	   /* Keystone refused us, or Barbican said 401/403 */
	EXIT_NOTFOUND = 4, /* no such secret, LV or mapping */
	EXIT_REFUSED = 5,  /* the helper's policy refused */
	EXIT_HELPER = 6,   /* the helper failed, could not start, or did not answer */
	EXIT_KEYMGR = 7,   /* Barbican or Keystone unreachable, or a server error */
};

#define MAX_HELPER_ARGS 32

struct cli {
	/* helper */
	const char *helper_cmd;
	const char *helper_args[MAX_HELPER_ARGS];
	int nhelper_args;
	const char *as_user;
	unsigned timeout_ms;
	/* output */
	bool json, quiet;
	/* Barbican */
	const char *os_keys[48], *os_values[48]; /* --os-* options, applied last */
	int nos;
	/* subcommand options */
	const char *key_ref, *delete_key, *name, *cipher, *request_id;
	bool new_key;
	unsigned key_size, bit_length, sector_size;
};

struct command {
	const char *name;
	int min_args, max_args;
	int (*run)(struct cli *c, int argc, char **argv);
	const char *usage;
	const char *help;
};
extern const struct command cli_commands[];
extern const struct command cli_key_commands[];

/* cli_util.c */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cli_fail(const struct cli *c, const struct ephcrypt_error *e, bool from_helper);
int cli_exit_code(const struct ephcrypt_error *e, bool from_helper);
int cli_open_helper(struct cli *c, struct ephcrypt_helper **h);
int cli_close_helper(struct ephcrypt_helper *h, int rc);
int cli_open_barbican(struct cli *c, struct ephcrypt_barbican **b);
void cli_progress_start(const char *what);
void cli_progress_stop(void);
void cli_json_str(FILE *f, const char *s);
void cli_harden(void);

/* cli_raw.c: `call NAME ARG...` and `bench N`, the old ephcrypt-client's syntax. */
int cli_call(struct cli *c, int argc, char **argv);
int cli_bench(struct cli *c, int argc, char **argv);

#endif
