/* SPDX-License-Identifier: Apache-2.0 */
/*
 * OpenStack settings as users already keep them: clouds.yaml (parsed with
 * libyaml), OS_* variables, and --os-* options, each layer over the last.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <yaml.h>

#include "lib.h"

#define STR(f) offsetof(struct ephcrypt_os_config, f)

/* String settings: clouds.yaml key (under auth: or at the cloud's top), variable. */
static const struct setting {
	const char *key;
	size_t off;
	const char *env;
	bool in_auth;
	bool secret;
} settings[] = {
	{ "auth_url", STR(auth_url), "OS_AUTH_URL", true, false },
	{ "auth_type", STR(auth_type), "OS_AUTH_TYPE", false, false },
	{ "username", STR(username), "OS_USERNAME", true, false },
	{ "user_id", STR(user_id), "OS_USER_ID", true, false },
	{ "password", STR(password), "OS_PASSWORD", true, true },
	{ "user_domain_name", STR(user_domain_name), "OS_USER_DOMAIN_NAME", true, false },
	{ "user_domain_id", STR(user_domain_id), "OS_USER_DOMAIN_ID", true, false },
	{ "project_name", STR(project_name), "OS_PROJECT_NAME", true, false },
	{ "project_id", STR(project_id), "OS_PROJECT_ID", true, false },
	{ "project_domain_name", STR(project_domain_name), "OS_PROJECT_DOMAIN_NAME", true, false },
	{ "project_domain_id", STR(project_domain_id), "OS_PROJECT_DOMAIN_ID", true, false },
	{ "application_credential_id", STR(application_credential_id),
	  "OS_APPLICATION_CREDENTIAL_ID", true, false },
	{ "application_credential_name", STR(application_credential_name),
	  "OS_APPLICATION_CREDENTIAL_NAME", true, false },
	{ "application_credential_secret", STR(application_credential_secret),
	  "OS_APPLICATION_CREDENTIAL_SECRET", true, true },
	{ "token", STR(token), "OS_TOKEN", true, true },
	{ "region_name", STR(region_name), "OS_REGION_NAME", false, false },
	{ "interface", STR(interface), "OS_INTERFACE", false, false },
	{ "endpoint", STR(endpoint), "BARBICAN_ENDPOINT", false, false },
	{ "key_manager_endpoint_override", STR(endpoint), "OS_KEY_MANAGER_ENDPOINT_OVERRIDE", false,
	  false },
	{ "cacert", STR(cacert), "OS_CACERT", false, false },
	{ "cloud", STR(cloud), "OS_CLOUD", false, false },
};
#define NSETTINGS (sizeof(settings) / sizeof(settings[0]))

static char **
field(struct ephcrypt_os_config *cfg, const struct setting *s)
{
	return (char **)(void *)((char *)cfg + s->off);
}

static void
free_str(char **p, bool secret)
{
	if (*p && secret)
		explicit_bzero(*p, strlen(*p));
	free(*p);
	*p = NULL;
}

/* "os-user-domain-name", "user-domain-name" and "user_domain_name" all name one setting. */
static void
normalise(char *dst, size_t cap, const char *key)
{
	size_t n = 0;

	if (strncmp(key, "os-", 3) == 0 || strncmp(key, "os_", 3) == 0)
		key += 3;
	for (; *key && n + 1 < cap; key++)
		dst[n++] = *key == '-' ? '_' : *key;
	dst[n] = '\0';
}

static bool
truthy(const char *v)
{
	return strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcmp(v, "1") == 0;
}

static int
set_number(unsigned *dst, const char *value, double scale)
{
	char *end;
	double v = strtod(value, &end);

	if (end == value || *end || v < 0 || v * scale > 4e9)
		return -1;
	*dst = (unsigned)(v * scale);
	return 0;
}

/* Non-string settings: booleans and numbers. 1 if key is one of them. */
static int
set_other(struct ephcrypt_os_config *cfg, const char *key, const char *value)
{
	if (strcmp(key, "insecure") == 0)
		return cfg->insecure = truthy(value), 0;
	if (strcmp(key, "verify") == 0) /* clouds.yaml: verify: false */
		return cfg->insecure = !truthy(value), 0;
	if (strcmp(key, "no_auth") == 0)
		return cfg->no_auth = truthy(value), 0;
	if (strcmp(key, "connect_timeout") == 0)
		return set_number(&cfg->connect_timeout_ms, value, 1000);
	if (strcmp(key, "timeout") == 0 || strcmp(key, "api_timeout") == 0)
		return set_number(&cfg->timeout_ms, value, 1000);
	if (strcmp(key, "retries") == 0 || strcmp(key, "connect_retries") == 0)
		return set_number(&cfg->retries, value, 1);
	return 1;
}

int
ephcrypt_os_config_set(struct ephcrypt_os_config *cfg, const char *key, const char *value)
{
	char name[64];
	int rc;

	normalise(name, sizeof(name), key);
	for (size_t k = 0; k < NSETTINGS; k++) {
		if (strcmp(name, settings[k].key) != 0)
			continue;
		char **p = field(cfg, &settings[k]), *copy = strdup(value);
		if (!copy)
			return -1;
		free_str(p, settings[k].secret);
		*p = copy;
		if (settings[k].off == STR(auth_type))
			cfg->no_auth = strcmp(value, "none") == 0 || strcmp(value, "noauth") == 0;
		return 0;
	}
	rc = set_other(cfg, name, value);
	return rc == 1 ? -1 : rc;
}

void
ephcrypt_os_config_from_env(struct ephcrypt_os_config *cfg)
{
	static const char *const others[][2] = {
		{ "OS_INSECURE", "insecure" },
		{ "OS_CONNECT_TIMEOUT", "connect_timeout" },
		{ "OS_TIMEOUT", "timeout" },
		{ "OS_CONNECT_RETRIES", "retries" },
	};

	for (size_t k = 0; k < NSETTINGS; k++) {
		const char *v = getenv(settings[k].env);
		if (v && *v)
			ephcrypt_os_config_set(cfg, settings[k].key, v);
	}
	for (size_t k = 0; k < sizeof(others) / sizeof(others[0]); k++) {
		const char *v = getenv(others[k][0]);
		if (v && *v)
			ephcrypt_os_config_set(cfg, others[k][1], v);
	}
}

int
ec_config_copy(struct ephcrypt_os_config *dst, const struct ephcrypt_os_config *src)
{
	*dst = *src;
	for (size_t k = 0; k < NSETTINGS; k++) {
		char **to = field(dst, &settings[k]);
		char *from = *field((struct ephcrypt_os_config *)(uintptr_t)src, &settings[k]);
		if (from && *to == from && !(*to = strdup(from))) { /* two keys may share a field */
			/* Nothing of src may be left for ephcrypt_os_config_clear(dst) to free. */
			for (size_t j = 0; j < NSETTINGS; j++)
				if (*field(dst, &settings[j]) ==
				    *field((struct ephcrypt_os_config *)(uintptr_t)src,
					   &settings[j]))
					*field(dst, &settings[j]) = NULL;
			return -1;
		}
	}
	return 0;
}

void
ephcrypt_os_config_clear(struct ephcrypt_os_config *cfg)
{
	for (size_t k = 0; k < NSETTINGS; k++)
		free_str(field(cfg, &settings[k]), settings[k].secret);
	memset(cfg, 0, sizeof(*cfg));
}

/* ---- clouds.yaml ------------------------------------------------------ */

static const char *
scalar(yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *
map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/* Every scalar of a mapping as a setting; unknown keys are left alone, as openstacksdk does. */
static void
apply_map(struct ephcrypt_os_config *cfg, yaml_document_t *doc, yaml_node_t *map)
{
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = scalar(yaml_document_get_node(doc, p->key));
		const char *v = scalar(yaml_document_get_node(doc, p->value));
		if (k && v)
			ephcrypt_os_config_set(cfg, k, v);
	}
}

static int
load_doc(yaml_document_t *doc, const char *path, struct ephcrypt_error *err)
{
	yaml_parser_t parser;
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return ec_fail(err, EPHCRYPT_E_USAGE, errno, "%s: %s", path, strerror(errno));
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, f);
	ok = yaml_parser_load(&parser, doc);
	if (!ok)
		ec_fail(err, EPHCRYPT_E_USAGE, EINVAL, "%s: line %zu: %s", path,
			parser.problem_mark.line + 1, parser.problem ? parser.problem : "bad YAML");
	yaml_parser_delete(&parser);
	fclose(f);
	return ok ? 0 : -1;
}

int
ephcrypt_os_config_load_cloud_file(struct ephcrypt_os_config *cfg, const char *path,
				   const char *name, struct ephcrypt_error *err)
{
	yaml_document_t doc;
	yaml_node_t *cloud, *auth;

	ec_error_clear(err);
	if (load_doc(&doc, path, err) < 0)
		return -1;
	cloud = map_get(&doc, map_get(&doc, yaml_document_get_root_node(&doc), "clouds"), name);
	if (!cloud || cloud->type != YAML_MAPPING_NODE) {
		yaml_document_delete(&doc);
		return ec_fail(err, EPHCRYPT_E_USAGE, ENOENT, "%s: no cloud named '%s'", path,
			       name);
	}
	apply_map(cfg, &doc, cloud);
	auth = map_get(&doc, cloud, "auth");
	if (auth && auth->type == YAML_MAPPING_NODE)
		apply_map(cfg, &doc, auth);
	yaml_document_delete(&doc);
	return ephcrypt_os_config_set(cfg, "cloud", name) < 0
		       ? ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "out of memory")
		       : 0;
}

/* openstacksdk's search path: $OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack, /etc/openstack. */
int
ephcrypt_os_config_load_cloud(struct ephcrypt_os_config *cfg, const char *name,
			      struct ephcrypt_error *err)
{
	const char *env = getenv("OS_CLIENT_CONFIG_FILE"), *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	char user[512] = "";

	if (env && *env)
		return ephcrypt_os_config_load_cloud_file(cfg, env, name, err);
	if (xdg && *xdg)
		snprintf(user, sizeof(user), "%s/openstack/clouds.yaml", xdg);
	else if (home && *home)
		snprintf(user, sizeof(user), "%s/.config/openstack/clouds.yaml", home);
	const char *paths[] = { "clouds.yaml", user, "/etc/openstack/clouds.yaml" };
	for (size_t k = 0; k < sizeof(paths) / sizeof(paths[0]); k++)
		if (paths[k][0] && access(paths[k], R_OK) == 0)
			return ephcrypt_os_config_load_cloud_file(cfg, paths[k], name, err);
	return ec_fail(err, EPHCRYPT_E_USAGE, ENOENT,
		       "--os-cloud %s: no clouds.yaml in ./, %s or /etc/openstack", name,
		       user[0] ? user : "~/.config/openstack");
}
