/* SPDX-License-Identifier: Apache-2.0 */
/* The ephcrypt subcommands: each parses its words, calls the library, prints. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "cli.h"

#define DEFAULT_BITS 512u

static const char *
human_size(uint64_t v, char *buf, size_t cap)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
	unsigned u = 0;
	double d = (double)v;

	while (d >= 1024 && u + 1 < sizeof(units) / sizeof(units[0]))
		d /= 1024, u++;
	snprintf(buf, cap, u ? "%.4g %s" : "%.0f %s", d, units[u]);
	return buf;
}

static int
check_ref(const char *cmd, const char *ref)
{
	char uuid[37];

	if (ephcrypt_secret_uuid(ref, uuid) < 0)
		return cli_usage_error(
			cmd, "'%s' is not a secret reference (a secret href or its uuid)", ref);
	return 0;
}

/* ---- create ----------------------------------------------------------- */

struct create_state {
	struct ephcrypt_helper *h;
	struct ephcrypt_barbican *b;
	char ref[1024], path[256];
	bool made_key;
};

/* The key for create/open: made by an order (--new-key) or named (--key), then fetched. */
static int
obtain_key(struct cli *c, struct create_state *s, const char *what, struct ephcrypt_key **key)
{
	struct ephcrypt_error e;
	unsigned bits = c->key_size ? c->key_size : DEFAULT_BITS;
	char name[300];
	int rc;

	if ((rc = cli_open_barbican(c, &s->b)) != 0)
		return rc;
	if (c->new_key) {
		snprintf(name, sizeof(name), "%s", c->name ? c->name : what);
		cli_progress_start("ordering a key from Barbican");
		rc = ephcrypt_barbican_order_key(s->b, name, bits, s->ref, sizeof(s->ref), &e);
		cli_progress_stop();
		if (rc < 0)
			return cli_fail(c, &e, false);
		s->made_key = true;
		if (!c->quiet && !c->json)
			fprintf(stderr, "ephcrypt: new key %s\n", s->ref);
	} else {
		snprintf(s->ref, sizeof(s->ref), "%s", c->key_ref);
	}
	cli_progress_start("fetching the key");
	rc = ephcrypt_barbican_get_key(s->b, s->ref, bits, key, &e);
	cli_progress_stop();
	return rc < 0 ? cli_fail(c, &e, false) : 0;
}

/* A create that failed after --new-key made the key deletes it again. */
static void
undo_new_key(struct cli *c, struct create_state *s)
{
	struct ephcrypt_error e;

	if (!s->made_key)
		return;
	if (ephcrypt_barbican_delete(s->b, s->ref, &e) == 0)
		fprintf(stderr, "ephcrypt: deleted the new key %s again\n", s->ref);
	else
		fprintf(stderr, "ephcrypt: could not delete the new key %s: %s\n", s->ref,
			e.message);
	(void)c;
}

static void
print_created(const struct cli *c, const struct create_state *s, const char *vg, const char *lv,
	      uint64_t size)
{
	if (!c->json) {
		printf("%s\n", s->path);
		return;
	}
	printf("{\"path\": ");
	cli_json_str(stdout, s->path);
	printf(", \"vg\": ");
	cli_json_str(stdout, vg);
	printf(", \"lv\": ");
	cli_json_str(stdout, lv);
	printf(", \"size\": %" PRIu64 ", \"key_ref\": ", size);
	cli_json_str(stdout, s->ref);
	printf(", \"new_key\": %s}\n", s->made_key ? "true" : "false");
}

static int
cmd_create(struct cli *c, int argc, char **argv)
{
	struct create_state s = { .h = NULL };
	struct ephcrypt_crypt_params p = { .cipher = c->cipher, .key_bits = c->key_size };
	struct ephcrypt_key *key = NULL;
	struct ephcrypt_error e;
	char what[300];
	uint64_t size;
	int rc;

	(void)argc;
	if (ephcrypt_parse_size(argv[2], &size) < 0)
		return cli_usage_error("create",
				       "size '%s': use a number with K, M, G or T (64M, 10G, 1T)",
				       argv[2]);
	if (!c->key_ref == !c->new_key)
		return cli_usage_error("create", "give exactly one of --key REF and --new-key");
	if (c->key_ref && (rc = check_ref("create", c->key_ref)) != 0)
		return rc;
	/* The helper first: no key is made for a helper that cannot start. */
	if ((rc = cli_open_helper(c, &s.h)) != 0)
		return rc;
	snprintf(what, sizeof(what), "ephcrypt:%s/%s", argv[0], argv[1]);
	rc = obtain_key(c, &s, what, &key);
	if (rc == 0) {
		p.key = key;
		ephcrypt_helper_set_context(s.h, c->request_id, s.ref);
		cli_progress_start("creating the disk");
		rc = ephcrypt_disk_create(s.h, argv[0], argv[1], size, &p, s.path, sizeof(s.path),
					  &e);
		cli_progress_stop();
		ephcrypt_key_free(key); /* the helper has it now */
		rc = rc < 0 ? cli_fail(c, &e, true) : 0;
	}
	if (rc != 0)
		undo_new_key(c, &s);
	else
		print_created(c, &s, argv[0], argv[1], size);
	ephcrypt_barbican_close(s.b);
	return cli_close_helper(s.h, rc);
}

/* ---- destroy ---------------------------------------------------------- */

static int
delete_secret(struct cli *c, const char *ref)
{
	struct ephcrypt_barbican *b;
	struct ephcrypt_error e;
	int rc;

	if ((rc = cli_open_barbican(c, &b)) != 0)
		return rc;
	rc = ephcrypt_barbican_delete(b, ref, &e) < 0 ? cli_fail(c, &e, false) : 0;
	ephcrypt_barbican_close(b);
	return rc;
}

static int
cmd_destroy(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_helper *h;
	struct ephcrypt_error e;
	bool closed = false, removed = false;
	int rc;

	(void)argc;
	if (c->delete_key && (rc = check_ref("destroy", c->delete_key)) != 0)
		return rc;
	if ((rc = cli_open_helper(c, &h)) != 0)
		return rc;
	ephcrypt_helper_set_context(h, c->request_id, c->delete_key);
	cli_progress_start("destroying the disk");
	rc = ephcrypt_disk_destroy(h, argv[0], argv[1], &closed, &removed, &e);
	cli_progress_stop();
	rc = cli_close_helper(h, rc < 0 ? cli_fail(c, &e, true) : 0);
	/* The key goes last: a disk that could not be erased keeps its key. */
	if (rc == 0 && c->delete_key && (rc = delete_secret(c, c->delete_key)) != 0)
		fprintf(stderr,
			"ephcrypt: the disk is destroyed, but its secret %s is not deleted\n",
			c->delete_key);
	if (rc != 0)
		return rc;
	if (c->json) {
		printf("{\"closed\": %s, \"removed\": %s, \"key_deleted\": ",
		       closed ? "true" : "false", removed ? "true" : "false");
		c->delete_key ? cli_json_str(stdout, c->delete_key) : (void)printf("null");
		printf("}\n");
	} else if (!c->quiet) {
		printf("%s/%s: mapping %s, LV %s%s%s\n", argv[0], argv[1],
		       closed ? "closed" : "was not open", removed ? "removed" : "was already gone",
		       c->delete_key ? ", secret deleted: " : "",
		       c->delete_key ? c->delete_key : "");
	}
	return 0;
}

/* ---- open / close / status / list / vg / ping / version ---------------- */

static int
cmd_open(struct cli *c, int argc, char **argv)
{
	struct create_state s = { .h = NULL };
	struct ephcrypt_crypt_params p = { .cipher = c->cipher,
					   .key_bits = c->key_size,
					   .sector_size = c->sector_size };
	struct ephcrypt_key *key = NULL;
	struct ephcrypt_error e;
	int rc;

	(void)argc;
	if (!c->key_ref || c->new_key)
		return cli_usage_error("open", "give --key REF (the disk's existing key)");
	if ((rc = check_ref("open", c->key_ref)) != 0 || (rc = cli_open_helper(c, &s.h)) != 0)
		return rc;
	if ((rc = obtain_key(c, &s, argv[0], &key)) == 0) {
		p.key = key;
		ephcrypt_helper_set_context(s.h, c->request_id, s.ref);
		rc = ephcrypt_crypt_open(s.h, argv[0], argv[1], &p, s.path, sizeof(s.path), &e);
		ephcrypt_key_free(key);
		rc = rc < 0 ? cli_fail(c, &e, true) : 0;
	}
	if (rc == 0)
		c->json ? (printf("{\"path\": "), cli_json_str(stdout, s.path), (void)printf("}\n"))
			: (void)printf("%s\n", s.path);
	ephcrypt_barbican_close(s.b);
	return cli_close_helper(s.h, rc);
}

static int
cmd_close(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_helper *h;
	struct ephcrypt_error e;
	int rc;

	(void)argc;
	if ((rc = cli_open_helper(c, &h)) != 0)
		return rc;
	rc = ephcrypt_crypt_close(h, argv[0], &e) < 0 ? cli_fail(c, &e, true) : 0;
	if (rc == 0 && c->json)
		printf("{\"closed\": true}\n");
	return cli_close_helper(h, rc);
}

static void
print_status(const struct cli *c, const struct ephcrypt_crypt_status *st)
{
	char sz[32];

	if (!c->json) {
		printf("name:        %s\ndevice:      %s\ncipher:      %s\nkey size:    %u bits\n"
		       "sector size: %u\nsize:        %s\nflags:       %s\n",
		       st->name, st->device, st->cipher, st->key_size, st->sector_size,
		       human_size(st->size, sz, sizeof(sz)), st->flags);
		return;
	}
	printf("{\"name\": ");
	cli_json_str(stdout, st->name);
	printf(", \"device\": ");
	cli_json_str(stdout, st->device);
	printf(", \"cipher\": ");
	cli_json_str(stdout, st->cipher);
	printf(", \"key_size\": %u, \"sector_size\": %u, \"size\": %" PRIu64 ", \"flags\": ",
	       st->key_size, st->sector_size, st->size);
	cli_json_str(stdout, st->flags);
	printf("}\n");
}

static int
cmd_status(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_helper *h;
	struct ephcrypt_crypt_status st;
	struct ephcrypt_error e;
	int rc;

	(void)argc;
	if ((rc = cli_open_helper(c, &h)) != 0)
		return rc;
	rc = ephcrypt_crypt_status(h, argv[0], &st, &e) < 0 ? cli_fail(c, &e, true) : 0;
	if (rc == 0)
		print_status(c, &st);
	return cli_close_helper(h, rc);
}

static int
cmd_list(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_helper *h;
	struct ephcrypt_names n;
	struct ephcrypt_error e;
	int rc;

	if ((rc = cli_open_helper(c, &h)) != 0)
		return rc;
	rc = argc ? ephcrypt_lv_list(h, argv[0], &n, &e) : ephcrypt_crypt_list(h, &n, &e);
	rc = rc < 0 ? cli_fail(c, &e, true) : 0;
	for (size_t k = 0; rc == 0 && k < n.count; k++) {
		if (c->json)
			printf("%s", k ? ", " : "["), cli_json_str(stdout, n.names[k]);
		else
			printf("%s\n", n.names[k]);
	}
	if (rc == 0 && c->json)
		printf("%s]\n", n.count ? "" : "[");
	if (rc == 0)
		ephcrypt_names_free(&n);
	return cli_close_helper(h, rc);
}

static int
cmd_vg(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_helper *h;
	struct ephcrypt_vg_info vi;
	struct ephcrypt_error e;
	char a[32], b[32];
	int rc;

	(void)argc;
	if ((rc = cli_open_helper(c, &h)) != 0)
		return rc;
	rc = ephcrypt_vg_info(h, argv[0], &vi, &e) < 0 ? cli_fail(c, &e, true) : 0;
	if (rc == 0 && c->json)
		printf("{\"name\": \"%s\", \"size\": %" PRIu64 ", \"free\": %" PRIu64
		       ", \"extent_size\": %" PRIu64 "}\n",
		       vi.name, vi.size, vi.free, vi.extent_size);
	else if (rc == 0)
		printf("%s: %s, %s free\n", vi.name, human_size(vi.size, a, sizeof(a)),
		       human_size(vi.free, b, sizeof(b)));
	return cli_close_helper(h, rc);
}

static int
cmd_ping(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_helper *h;
	struct ephcrypt_error e;
	int rc;

	(void)argc, (void)argv;
	if ((rc = cli_open_helper(c, &h)) != 0)
		return rc;
	rc = ephcrypt_ping(h, &e) < 0 ? cli_fail(c, &e, true) : 0;
	if (rc == 0)
		puts(c->json ? "{\"pong\": true}" : "pong");
	return cli_close_helper(h, rc);
}

static int
cmd_version(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_helper *h;
	struct ephcrypt_error e;
	char v[64];
	int rc;

	(void)argc, (void)argv;
	if ((rc = cli_open_helper(c, &h)) != 0)
		return rc;
	rc = ephcrypt_version(h, v, sizeof(v), &e) < 0 ? cli_fail(c, &e, true) : 0;
	if (rc == 0 && c->json)
		printf("{\"ephcrypt\": \"%s\", \"helper\": \"%s\"}\n", EPHCRYPT_LIB_VERSION, v);
	else if (rc == 0)
		printf("ephcrypt %s\nhelper %s\n", EPHCRYPT_LIB_VERSION, v);
	return cli_close_helper(h, rc);
}

/* ---- key new / show / delete (metadata only, never the payload) -------- */

static int
cmd_key_new(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_barbican *b;
	struct ephcrypt_error e;
	char ref[1024];
	int rc;

	(void)argc, (void)argv;
	if ((rc = cli_open_barbican(c, &b)) != 0)
		return rc;
	cli_progress_start("ordering a key from Barbican");
	rc = ephcrypt_barbican_order_key(b, c->name ? c->name : "ephcrypt",
					 c->bit_length ? c->bit_length : DEFAULT_BITS, ref,
					 sizeof(ref), &e);
	cli_progress_stop();
	rc = rc < 0 ? cli_fail(c, &e, false) : 0;
	if (rc == 0 && c->json)
		printf("{\"secret_ref\": "), cli_json_str(stdout, ref), printf("}\n");
	else if (rc == 0)
		printf("%s\n", ref);
	ephcrypt_barbican_close(b);
	return rc;
}

static void
print_metadata(const char *json)
{
	static const char *const keys[] = { "secret_ref",  "name",	"status",
					    "secret_type", "algorithm", "bit_length",
					    "mode",	   "created",	"expiration" };
	json_object *root = json_tokener_parse(json), *v;

	for (size_t k = 0; root && k < sizeof(keys) / sizeof(keys[0]); k++)
		if (json_object_object_get_ex(root, keys[k], &v))
			printf("%-12s %s\n", keys[k], v ? json_object_get_string(v) : "-");
	json_object_put(root);
}

static int
cmd_key_show(struct cli *c, int argc, char **argv)
{
	struct ephcrypt_barbican *b;
	struct ephcrypt_error e;
	char *json;
	int rc;

	(void)argc;
	if ((rc = check_ref("key show", argv[0])) != 0 || (rc = cli_open_barbican(c, &b)) != 0)
		return rc;
	rc = ephcrypt_barbican_show(b, argv[0], &json, &e) < 0 ? cli_fail(c, &e, false) : 0;
	if (rc == 0) {
		c->json ? (void)printf("%s\n", json) : print_metadata(json);
		free(json);
	}
	ephcrypt_barbican_close(b);
	return rc;
}

static int
cmd_key_delete(struct cli *c, int argc, char **argv)
{
	int rc;

	(void)argc;
	if ((rc = check_ref("key delete", argv[0])) != 0 || (rc = delete_secret(c, argv[0])) != 0)
		return rc;
	if (c->json)
		printf("{\"deleted\": "), cli_json_str(stdout, argv[0]), printf("}\n");
	else if (!c->quiet)
		printf("deleted %s\n", argv[0]);
	return 0;
}

const struct command cli_commands[] = {
	{ "create", 3, 3, cmd_create,
	  "create VG LV SIZE (--key REF | --new-key) [--cipher C] [--key-size BITS] [--name N]",
	  "make an LV with a dm-crypt mapping keyed from Barbican; prints the mapping path" },
	{ "destroy", 2, 2, cmd_destroy, "destroy VG LV [--delete-key REF]",
	  "crypto-erase: close the mapping, remove the LV, then delete the Barbican secret" },
	{ "open", 2, 2, cmd_open, "open NAME DEVICE --key REF [--cipher C] [--key-size BITS]",
	  "open a dm-crypt mapping on DEVICE with a key from Barbican" },
	{ "close", 1, 1, cmd_close, "close NAME", "close a dm-crypt mapping" },
	{ "status", 1, 1, cmd_status, "status NAME", "show a mapping (never its key)" },
	{ "list", 0, 1, cmd_list, "list [VG]", "the LVs of VG, or the dm-crypt mappings" },
	{ "vg", 1, 1, cmd_vg, "vg VG", "size and free space of a volume group" },
	{ "ping", 0, 0, cmd_ping, "ping", "check that the helper answers" },
	{ "version", 0, 0, cmd_version, "version", "versions of ephcrypt and the helper" },
	{ "key", -1, -1, NULL, "key (new|show|delete) ...",
	  "Barbican secrets: new [--name N] [--bit-length 512], show REF, delete REF" },
	{ "call", 1, 4096, cli_call, "call NAME [ARG...]",
	  "raw call: ARG is s:TEXT, i:N, key:FILE, true, false, nil, map:K=ARG,... or NAME=ARG" },
	{ "bench", 1, 1, cli_bench, "bench N", "N round trips of ephcrypt.version (p50, p99)" },
	{ NULL, 0, 0, NULL, NULL, NULL },
};

const struct command cli_key_commands[] = {
	{ "new", 0, 0, cmd_key_new, "new [--name N] [--bit-length BITS]",
	  "order a new AES-XTS key from Barbican; prints its secret href" },
	{ "show", 1, 1, cmd_key_show, "show REF", "a secret's metadata (never its payload)" },
	{ "delete", 1, 1, cmd_key_delete, "delete REF", "delete a secret from Barbican" },
	{ NULL, 0, 0, NULL, NULL, NULL },
};
