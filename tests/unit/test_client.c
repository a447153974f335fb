/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libephcrypt's pure parts (sizes, secret references, clouds.yaml lookup,
 * error mapping, locked keys) and its helper channel under concurrent calls
 * against the real helper (build/ephcrypt-helper or $EPHCRYPT_HELPER).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../../client/lib.h"

Test(size, units)
{
	uint64_t v;

	cr_assert_eq(ephcrypt_parse_size("64M", &v), 0);
	cr_assert_eq(v, UINT64_C(64) << 20);
	cr_assert_eq(ephcrypt_parse_size("10G", &v), 0);
	cr_assert_eq(v, UINT64_C(10) << 30);
	cr_assert_eq(ephcrypt_parse_size("1T", &v), 0);
	cr_assert_eq(v, UINT64_C(1) << 40);
	cr_assert_eq(ephcrypt_parse_size("512k", &v), 0);
	cr_assert_eq(v, UINT64_C(512) << 10);
	cr_assert_eq(ephcrypt_parse_size("2GiB", &v), 0);
	cr_assert_eq(v, UINT64_C(2) << 30);
	cr_assert_eq(ephcrypt_parse_size("4096", &v), 0);
	cr_assert_eq(v, 4096);
}

Test(size, refused)
{
	static const char *const bad[] = { "",
					   "0",
					   "0G",
					   "-1G",
					   "G",
					   "1X",
					   "1GG",
					   "1.5G",
					   " 1G",
					   "1G ",
					   "99999999999999999999",
					   "16777216T",
					   "1Gx" };
	uint64_t v = 7;

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		cr_assert_eq(ephcrypt_parse_size(bad[k], &v), -1, "'%s' accepted", bad[k]);
	cr_assert_eq(ephcrypt_parse_size(NULL, &v), -1);
	cr_assert_eq(v, 7, "a refused size wrote its output");
}

Test(ref, href_and_uuid)
{
	char u[37];

	cr_assert_eq(ephcrypt_secret_uuid("77ad51d5-5c09-40e6-b3a9-e31c4c426ff0", u), 0);
	cr_assert_str_eq(u, "77ad51d5-5c09-40e6-b3a9-e31c4c426ff0");
	cr_assert_eq(ephcrypt_secret_uuid("http://127.0.0.1:9311/v1/secrets/"
					  "77AD51D5-5c09-40e6-b3a9-e31c4c426ff0",
					  u),
		     0);
	cr_assert_str_eq(u, "77AD51D5-5c09-40e6-b3a9-e31c4c426ff0");
	cr_assert_eq(ephcrypt_secret_uuid("https://kms.example/key-manager/v1/secrets/"
					  "77ad51d5-5c09-40e6-b3a9-e31c4c426ff0/",
					  u),
		     0);
}

Test(ref, refused)
{
	static const char *const bad[] = {
		"",
		"77ad51d5-5c09-40e6-b3a9-e31c4c426ff",			   /* short */
		"77ad51d5-5c09-40e6-b3a9-e31c4c426ff0x",		   /* long */
		"77ad51d55c0940e6b3a9e31c4c426ff0aaaa",			   /* no dashes */
		"77ad51d5-5c09-40e6-b3a9-e31c4c426fg0",			   /* not hex */
		"http://h/v1/orders/77ad51d5-5c09-40e6-b3a9-e31c4c426ff0", /* an order */
		"file:///v1/secrets/77ad51d5-5c09-40e6-b3a9-e31c4c426ff0", /* not http */
		"../secrets/77ad51d5-5c09-40e6-b3a9-e31c4c426ff0",
	};
	char u[37];

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		cr_assert_eq(ephcrypt_secret_uuid(bad[k], u), -1, "'%s' accepted", bad[k]);
	cr_assert_eq(ephcrypt_secret_uuid(NULL, u), -1);
}

static char dir[64];

static void
make_dir(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_client.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void
remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}

static void
write_file(const char *name, const char *text)
{
	char path[128];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

static const char clouds[] = "clouds:\n"
			     "  other:\n"
			     "    auth: {auth_url: 'http://other/v3', username: nobody}\n"
			     "  mine:\n"
			     "    auth:\n"
			     "      auth_url: https://keystone.example/v3\n"
			     "      username: alice\n"
			     "      password: s3cret\n"
			     "      project_name: proj-a\n"
			     "      user_domain_name: Default\n"
			     "    region_name: RegionTwo\n"
			     "    interface: internal\n"
			     "    cacert: /etc/ssl/ca.pem\n"
			     "    verify: false\n"
			     "    some_future_key: ignored\n";

Test(clouds_yaml, entry_by_name, .init = make_dir, .fini = remove_dir)
{
	struct ephcrypt_os_config cfg = { .cloud = NULL };
	struct ephcrypt_error e;
	char path[128];

	write_file("clouds.yaml", clouds);
	snprintf(path, sizeof(path), "%s/clouds.yaml", dir);
	cr_assert_eq(ephcrypt_os_config_load_cloud_file(&cfg, path, "mine", &e), 0, "%s",
		     e.message);
	cr_assert_str_eq(cfg.auth_url, "https://keystone.example/v3");
	cr_assert_str_eq(cfg.username, "alice");
	cr_assert_str_eq(cfg.password, "s3cret");
	cr_assert_str_eq(cfg.project_name, "proj-a");
	cr_assert_str_eq(cfg.region_name, "RegionTwo");
	cr_assert_str_eq(cfg.interface, "internal");
	cr_assert_str_eq(cfg.cacert, "/etc/ssl/ca.pem");
	cr_assert(cfg.insecure);
	cr_assert_str_eq(cfg.cloud, "mine");
	ephcrypt_os_config_clear(&cfg);
}

Test(clouds_yaml, search_path_and_layers, .init = make_dir, .fini = remove_dir)
{
	struct ephcrypt_os_config cfg = { .cloud = NULL };
	struct ephcrypt_error e;
	char xdg[96];

	/* $XDG_CONFIG_HOME/openstack/clouds.yaml, then OS_* over it, then an option over both. */
	snprintf(xdg, sizeof(xdg), "%s/openstack", dir);
	cr_assert_eq(mkdir(xdg, 0700), 0);
	write_file("openstack/clouds.yaml", clouds);
	unsetenv("OS_CLIENT_CONFIG_FILE");
	setenv("XDG_CONFIG_HOME", dir, 1);
	cr_assert_eq(chdir(dir), 0); /* no ./clouds.yaml here */
	cr_assert_eq(ephcrypt_os_config_load_cloud(&cfg, "mine", &e), 0, "%s", e.message);
	setenv("OS_USERNAME", "bob", 1);
	ephcrypt_os_config_from_env(&cfg);
	cr_assert_eq(ephcrypt_os_config_set(&cfg, "os-project-name", "proj-b"), 0);
	cr_assert_str_eq(cfg.username, "bob");
	cr_assert_str_eq(cfg.project_name, "proj-b");
	cr_assert_str_eq(cfg.auth_url, "https://keystone.example/v3");
	cr_assert_eq(ephcrypt_os_config_set(&cfg, "no-such-setting", "x"), -1);
	cr_assert_eq(ephcrypt_os_config_set(&cfg, "connect-timeout", "2.5"), 0);
	cr_assert_eq(cfg.connect_timeout_ms, 2500);
	ephcrypt_os_config_clear(&cfg);
	unsetenv("OS_USERNAME");
}

Test(clouds_yaml, errors_name_the_problem, .init = make_dir, .fini = remove_dir)
{
	struct ephcrypt_os_config cfg = { .cloud = NULL };
	struct ephcrypt_error e;
	char path[128];

	write_file("clouds.yaml", clouds);
	snprintf(path, sizeof(path), "%s/clouds.yaml", dir);
	cr_assert_eq(ephcrypt_os_config_load_cloud_file(&cfg, path, "nope", &e), -1);
	cr_assert(strstr(e.message, "no cloud named 'nope'"), "%s", e.message);
	write_file("bad.yaml", "clouds:\n  x: [1, 2\n");
	snprintf(path, sizeof(path), "%s/bad.yaml", dir);
	cr_assert_eq(ephcrypt_os_config_load_cloud_file(&cfg, path, "x", &e), -1);
	cr_assert(strstr(e.message, "bad.yaml: line"), "%s", e.message);
	cr_assert_eq(e.status, EPHCRYPT_E_USAGE);
	ephcrypt_os_config_clear(&cfg);
}

Test(errors, mapping)
{
	cr_assert_eq(ec_status_for_http(401), EPHCRYPT_E_AUTH);
	cr_assert_eq(ec_status_for_http(403), EPHCRYPT_E_FORBIDDEN);
	cr_assert_eq(ec_status_for_http(404), EPHCRYPT_E_NOT_FOUND);
	cr_assert_eq(ec_status_for_http(500), EPHCRYPT_E_SERVER);
	cr_assert_eq(ec_status_for_http(503), EPHCRYPT_E_SERVER);
	cr_assert_eq(ec_status_for_exception("builtins.PermissionError"), EPHCRYPT_E_REFUSED);
	cr_assert_eq(ec_status_for_exception("builtins.FileNotFoundError"), EPHCRYPT_E_NOT_FOUND);
	cr_assert_eq(ec_status_for_exception("builtins.OSError"), EPHCRYPT_E_HELPER);
	cr_assert_str_eq(ephcrypt_status_name(EPHCRYPT_E_REFUSED), "refused by policy");
	cr_assert_str_eq(ephcrypt_status_name((enum ephcrypt_status)999), "unknown");
}

Test(key, locked_and_wiped)
{
	struct ephcrypt_key *k;
	struct ephcrypt_error e;
	unsigned char vec;

	cr_assert_eq(ephcrypt_key_alloc(64, &k, &e), 0, "%s", e.message);
	cr_assert_eq(k->len, 64);
	cr_assert_eq(mincore(k->data, 1, &vec), 0);
	cr_assert(vec & 1, "key page not resident (mlock)");
	ephcrypt_key_free(k);
	cr_assert_eq(ephcrypt_key_alloc(0, &k, &e), -1);
	cr_assert_eq(e.status, EPHCRYPT_E_USAGE);
	ephcrypt_key_free(NULL);
}

/* ---- the channel, against the real helper ------------------------------ */

static char hdir[64], policy[128], audit[128];

static void
helper_setup(void)
{
	FILE *f;

	snprintf(hdir, sizeof(hdir), "/tmp/test_client_h.XXXXXX");
	cr_assert_not_null(mkdtemp(hdir));
	snprintf(policy, sizeof(policy), "%s/policy.conf", hdir);
	snprintf(audit, sizeof(audit), "%s/audit.log", hdir);
	f = fopen(policy, "w");
	cr_assert_not_null(f);
	fprintf(f, "[callers]\nuid %u\n", (unsigned)getuid());
	fclose(f);
	chmod(policy, 0644);
}

static void
helper_teardown(void)
{
	unlink(policy);
	unlink(audit);
	rmdir(hdir);
}

static struct ephcrypt_helper *
spawn(void)
{
	const char *bin = getenv("EPHCRYPT_HELPER");
	char *argv[] = { (char *)(bin && *bin ? bin : "build/ephcrypt-helper"),
			 "--policy",
			 policy,
			 "--audit-log",
			 audit,
			 NULL };
	struct ephcrypt_helper *h;
	struct ephcrypt_error e;

	cr_assert_eq(ephcrypt_helper_spawn_argv(&h, argv, (uid_t)-1, (gid_t)-1, &e), 0, "%s",
		     e.message);
	return h;
}

static void *
many_versions(void *arg)
{
	struct ephcrypt_helper *h = arg;
	struct ephcrypt_error e;
	char v[32];

	for (int k = 0; k < 200; k++)
		if (ephcrypt_version(h, v, sizeof(v), &e) < 0 || !v[0])
			return (void *)1;
	return NULL;
}

Test(channel, calls_in_flight_from_threads, .init = helper_setup, .fini = helper_teardown)
{
	struct ephcrypt_helper *h = spawn();
	pthread_t t[4];
	void *r;

	for (int k = 0; k < 4; k++)
		cr_assert_eq(pthread_create(&t[k], NULL, many_versions, h), 0);
	for (int k = 0; k < 4; k++) {
		cr_assert_eq(pthread_join(t[k], &r), 0);
		cr_assert_null(r, "a thread's call failed or got another's reply");
	}
	cr_assert_eq(ephcrypt_helper_close(h), 0);
}

Test(channel, typed_errors, .init = helper_setup, .fini = helper_teardown)
{
	struct ephcrypt_helper *h = spawn();
	struct ephcrypt_vg_info vi;
	struct ephcrypt_error e;

	cr_assert_eq(ephcrypt_ping(h, &e), 0, "%s", e.message);
	/* This test policy has no [volume-groups]: a refusal, with the helper's words. */
	cr_assert_eq(ephcrypt_vg_info(h, "vg0", &vi, &e), -1);
	cr_assert_eq(e.status, EPHCRYPT_E_REFUSED, "%d %s", e.status, e.message);
	cr_assert_str_eq(e.exc_class, "builtins.PermissionError");
	cr_assert_eq(e.errnum, EACCES);
	cr_assert(strstr(e.message, "ephcrypt.vg_info: ") == e.message, "%s", e.message);
	cr_assert_eq(ephcrypt_helper_close(h), 0);
}

Test(channel, dead_helper_and_bad_command, .init = helper_setup, .fini = helper_teardown)
{
	char *argv[] = { "/nonexistent/ephcrypt-helper", NULL };
	struct ephcrypt_helper *h;
	struct ephcrypt_error e;

	cr_assert_eq(ephcrypt_helper_spawn_argv(&h, argv, (uid_t)-1, (gid_t)-1, &e), 0);
	cr_assert_eq(ephcrypt_ping(h, &e), -1);
	cr_assert_eq(e.status, EPHCRYPT_E_CHANNEL, "%s", e.message);
	cr_assert(strstr(e.message, "closed the channel"), "%s", e.message);
	cr_assert_neq(ephcrypt_helper_close(h), 0);
}

Test(channel, timeout, .init = helper_setup, .fini = helper_teardown)
{
	/* A peer that never answers: "sleep" ignores the socket it is given. */
	char *argv[] = { "/bin/sh", "-c", "sleep 1", "sh", NULL };
	struct ephcrypt_helper *h;
	struct ephcrypt_error e;

	cr_assert_eq(ephcrypt_helper_spawn_argv(&h, argv, (uid_t)-1, (gid_t)-1, &e), 0);
	ephcrypt_helper_set_timeout(h, 200);
	cr_assert_eq(ephcrypt_ping(h, &e), -1);
	cr_assert_eq(e.status, EPHCRYPT_E_TIMEOUT, "%s", e.message);
	cr_assert(strstr(e.message, "no reply from the helper in 200 ms"), "%s", e.message);
	ephcrypt_helper_close(h);
}

Test(channel, attach_to_a_connected_socket, .init = helper_setup, .fini = helper_teardown)
{
	const char *bin = getenv("EPHCRYPT_HELPER");
	struct ephcrypt_helper *h;
	struct ephcrypt_error e;
	int sv[2], status;
	pid_t pid;

	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		dup2(sv[1], 3);
		execl(bin && *bin ? bin : "build/ephcrypt-helper", "ephcrypt-helper", "--policy",
		      policy, "--audit-log", audit, "--fd", "3", (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	cr_assert_eq(ephcrypt_helper_attach(&h, sv[0], &e), 0, "%s", e.message);
	cr_assert_eq(ephcrypt_ping(h, &e), 0, "%s", e.message);
	cr_assert_eq(ephcrypt_helper_close(h), 0); /* not ours to wait for */
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "helper status %d", status);
}
