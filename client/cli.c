/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ephcrypt: encrypted ephemeral disks through ephcrypt-helper, keys from Barbican.
 * Options may come anywhere after the command; `call` and `bench` take the rest raw.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

enum {
	O_HELPER = 256,
	O_HELPER_ARG,
	O_AS_USER,
	O_TIMEOUT,
	O_JSON,
	O_QUIET,
	O_KEY,
	O_NEW_KEY,
	O_CIPHER,
	O_KEY_SIZE,
	O_SECTOR,
	O_DELETE_KEY,
	O_NAME,
	O_BITS,
	O_REQUEST,
	O_VERSION,
	O_OS, /* --os-* and the other Barbican settings: stored by name */
};

#define OS_OPT(name)                                                                               \
	{                                                                                          \
		name, required_argument, NULL, O_OS                                                \
	}
static const struct option options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, O_VERSION },
	{ "helper", required_argument, NULL, O_HELPER },
	{ "helper-arg", required_argument, NULL, O_HELPER_ARG },
	{ "as-user", required_argument, NULL, O_AS_USER },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "json", no_argument, NULL, O_JSON },
	{ "quiet", no_argument, NULL, O_QUIET },
	{ "key", required_argument, NULL, O_KEY },
	{ "new-key", no_argument, NULL, O_NEW_KEY },
	{ "cipher", required_argument, NULL, O_CIPHER },
	{ "key-size", required_argument, NULL, O_KEY_SIZE },
	{ "sector-size", required_argument, NULL, O_SECTOR },
	{ "delete-key", required_argument, NULL, O_DELETE_KEY },
	{ "name", required_argument, NULL, O_NAME },
	{ "bit-length", required_argument, NULL, O_BITS },
	{ "request-id", required_argument, NULL, O_REQUEST },
	{ "insecure", no_argument, NULL, O_OS },
	{ "no-auth", no_argument, NULL, O_OS },
	OS_OPT("os-cloud"),
	OS_OPT("os-auth-url"),
	OS_OPT("os-auth-type"),
	OS_OPT("os-username"),
	OS_OPT("os-user-id"),
	OS_OPT("os-password"),
	OS_OPT("os-user-domain-name"),
	OS_OPT("os-user-domain-id"),
	OS_OPT("os-project-name"),
	OS_OPT("os-project-id"),
	OS_OPT("os-project-domain-name"),
	OS_OPT("os-project-domain-id"),
	OS_OPT("os-application-credential-id"),
	OS_OPT("os-application-credential-name"),
	OS_OPT("os-application-credential-secret"),
	OS_OPT("os-token"),
	OS_OPT("os-region-name"),
	OS_OPT("os-interface"),
	OS_OPT("endpoint"),
	OS_OPT("os-cacert"),
	OS_OPT("connect-timeout"),
	OS_OPT("http-timeout"),
	OS_OPT("retries"),
	{ NULL, 0, NULL, 0 },
};

static const char global_help[] =
	"Helper options:\n"
	"  --helper \"CMD ARGS\"   how to start the helper (default: $EPHCRYPT_HELPER or\n"
	"                        \"" EPHCRYPT_DEFAULT_HELPER "\"); \"--fd N\" is appended\n"
	"  --helper-arg ARG      one more word for that command line\n"
	"  --as-user USER        speak to the helper as USER (when started as root)\n"
	"  --timeout SECONDS     time limit for each helper call (default 120)\n"
	"Barbican options (also OS_* variables and clouds.yaml):\n"
	"  --os-cloud NAME, --os-auth-url URL, --os-username, --os-password,\n"
	"  --os-project-name, --os-project-id, --os-user-domain-name,\n"
	"  --os-project-domain-name, --os-application-credential-id/-name/-secret,\n"
	"  --os-token, --os-region-name, --os-interface, --os-cacert FILE,\n"
	"  --endpoint URL (Barbican, skips the catalog), --no-auth, --insecure,\n"
	"  --connect-timeout S, --http-timeout S, --retries N\n"
	"Output: --json for scripts, --quiet for no notes. See ephcrypt(1).\n";

static void
print_usage(FILE *f)
{
	fprintf(f, "usage: ephcrypt [OPTIONS] COMMAND [ARGS]\n\nCommands:\n");
	for (const struct command *c = cli_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->help);
	fprintf(f, "\n%s", global_help);
}

static void
print_command_help(const struct command *cmd, const char *prefix)
{
	printf("usage: ephcrypt %s%s%s\n\n%s\n\n%s", prefix, prefix[0] ? " " : "", cmd->usage,
	       cmd->help, global_help);
}

static int
parse_unsigned(const char *opt, const char *v, unsigned max, unsigned *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (!*v || *end || n == 0 || n > max)
		return cli_usage_error(NULL, "--%s: '%s' is not a number in 1..%u", opt, v, max);
	*out = (unsigned)n;
	return 0;
}

static int
take_option(struct cli *c, int ch, const char *name, const char *arg)
{
	switch (ch) {
	case O_HELPER: c->helper_cmd = arg; return 0;
	case O_HELPER_ARG:
		if (c->nhelper_args == MAX_HELPER_ARGS)
			return cli_usage_error(NULL, "too many --helper-arg");
		c->helper_args[c->nhelper_args++] = arg;
		return 0;
	case O_AS_USER: c->as_user = arg; return 0;
	case O_TIMEOUT:
		if (parse_unsigned("timeout", arg, 86400, &c->timeout_ms))
			return EXIT_USAGE;
		c->timeout_ms *= 1000;
		return 0;
	case O_JSON: c->json = true; return 0;
	case O_QUIET: c->quiet = true; return 0;
	case O_KEY: c->key_ref = arg; return 0;
	case O_NEW_KEY: c->new_key = true; return 0;
	case O_CIPHER: c->cipher = arg; return 0;
	case O_KEY_SIZE: return parse_unsigned("key-size", arg, 4096, &c->key_size);
	case O_SECTOR: return parse_unsigned("sector-size", arg, 4096, &c->sector_size);
	case O_DELETE_KEY: c->delete_key = arg; return 0;
	case O_NAME: c->name = arg; return 0;
	case O_BITS: return parse_unsigned("bit-length", arg, 4096, &c->bit_length);
	case O_REQUEST: c->request_id = arg; return 0;
	case O_OS:
		if (c->nos == (int)(sizeof(c->os_keys) / sizeof(c->os_keys[0])))
			return cli_usage_error(NULL, "too many options");
		if (strcmp(name, "http-timeout") == 0)
			name = "timeout";
		c->os_keys[c->nos] = name;
		c->os_values[c->nos++] = arg ? arg : "true";
		return 0;
	default: return EXIT_USAGE;
	}
}

/* Options up to the first word (stop == true) or all of them (the words are permuted to the end).
 */
static int
parse_options(struct cli *c, int argc, char **argv, bool stop, bool *help)
{
	int ch, idx, rc;

	optind = 0; /* glibc: start over, and re-read the optstring's ordering */
	opterr = 0;
	while ((ch = getopt_long(argc, argv, stop ? "+h" : "h", options, &idx)) != -1) {
		if (ch == 'h') {
			*help = true;
			continue;
		}
		if (ch == O_VERSION) {
			printf("ephcrypt %s\n", EPHCRYPT_LIB_VERSION);
			exit(0);
		}
		if (ch == '?' || ch == ':')
			return cli_usage_error(NULL, "unknown or incomplete option '%s'",
					       argv[optind - 1]);
		if ((rc = take_option(c, ch, options[idx].name, optarg)) != 0)
			return rc;
	}
	return 0;
}

static const struct command *
find_command(const struct command *table, const char *name)
{
	for (const struct command *c = table; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

static int
run_command(struct cli *c, const struct command *table, const char *prefix, int argc, char **argv)
{
	const struct command *cmd = argc > 0 ? find_command(table, argv[0]) : NULL;
	bool help = false;
	int rc;

	if (!cmd && argc > 0 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		printf("usage: ephcrypt %s COMMAND\n\nCommands:\n", prefix);
		for (const struct command *k = table; k->name; k++)
			printf("  %-38s %s\n", k->usage, k->help);
		return 0;
	}
	if (!cmd)
		return argc > 0 ? cli_usage_error(prefix[0] ? prefix : NULL, "unknown command '%s'",
						  argv[0])
				: cli_usage_error(prefix[0] ? prefix : NULL, "missing command");
	if (cmd->min_args < 0) /* a group: the next word is the command */
		return run_command(c, cli_key_commands, cmd->name, argc - 1, argv + 1);
	if (cmd->run != cli_call && cmd->run != cli_bench) {
		if ((rc = parse_options(c, argc, argv, false, &help)) != 0)
			return rc;
		argc -= optind, argv += optind;
	} else {
		argc--, argv++;
	}
	if (help) {
		print_command_help(cmd, prefix);
		return 0;
	}
	if (argc < cmd->min_args || argc > cmd->max_args)
		return cli_usage_error(cmd->name, "expected: %s", cmd->usage);
	return cmd->run(c, argc, argv);
}

int
main(int argc, char **argv)
{
	struct cli c;
	bool help = false;
	int rc;

	memset(&c, 0, sizeof(c));
	c.key_size = 0;
	cli_harden();
	if ((rc = parse_options(&c, argc, argv, true, &help)) != 0)
		return rc;
	argc -= optind, argv += optind;
	if (help || argc == 0) {
		print_usage(help ? stdout : stderr);
		return help ? 0 : EXIT_USAGE;
	}
	if (strcmp(argv[0], "help") == 0) {
		print_usage(stdout);
		return 0;
	}
	/* argv[0] is now the command: run_command parses the rest with it as argv[0]. */
	return run_command(&c, cli_commands, "", argc, argv);
}
