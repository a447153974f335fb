/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libephcrypt: the unprivileged caller's side of ephcrypt.
 *
 * Two halves that meet only in the caller's hands: a channel to the
 * privileged ephcrypt-helper (oslo.privsep wire protocol), and a Barbican
 * key manager client (Keystone v3 or no-auth). Keys fetched from Barbican
 * live in locked memory and are wiped by ephcrypt_key_free().
 *
 * Every function returns 0 on success and -1 on failure, filling the
 * caller's struct ephcrypt_error (which may be NULL). Error messages never
 * contain key material.
 */
#ifndef EPHCRYPT_H
#define EPHCRYPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define EPHCRYPT_LIB_VERSION "0.1.0"

enum ephcrypt_status {
	EPHCRYPT_OK = 0,
	EPHCRYPT_E_USAGE,     /* a bad argument from the caller */
	EPHCRYPT_E_AUTH,      /* Keystone refused the credentials, or a 401 */
	EPHCRYPT_E_FORBIDDEN, /* 403: the secret belongs to another project */
	EPHCRYPT_E_NOT_FOUND, /* 404, or the helper's FileNotFoundError */
	EPHCRYPT_E_REFUSED,   /* the helper's policy refused (PermissionError) */
	EPHCRYPT_E_HELPER,    /* the helper raised another exception */
	EPHCRYPT_E_CHANNEL,   /* the helper could not be started, or the channel broke */
	EPHCRYPT_E_TIMEOUT,   /* no reply within the call's time limit */
	EPHCRYPT_E_NETWORK,   /* Keystone or Barbican unreachable (after retries) */
	EPHCRYPT_E_SERVER,    /* an HTTP status or body we cannot use */
	EPHCRYPT_E_KEY,	      /* a payload whose length is not the requested key size */
	EPHCRYPT_E_SYSTEM,    /* a local failure: memory, mlock, fork */
};

struct ephcrypt_error {
	enum ephcrypt_status status;
	int errnum;	    /* the helper's errno, or a local errno; 0 if none */
	long http_status;   /* Keystone's or Barbican's HTTP status; 0 if none */
	char exc_class[96]; /* the helper's exception class; "" if none */
	char message[768];
};

const char *ephcrypt_status_name(enum ephcrypt_status st);

/* ---- keys in locked memory ------------------------------------------- */
struct ephcrypt_key {
	unsigned char *data; /* mlock'ed, excluded from core dumps */
	size_t len;
};

int ephcrypt_key_alloc(size_t len, struct ephcrypt_key **out, struct ephcrypt_error *err);
void ephcrypt_key_free(struct ephcrypt_key *key); /* wipes, unlocks, frees; NULL is fine */

/* ---- the helper channel ---------------------------------------------- */
struct ephcrypt_helper;

#define EPHCRYPT_DEFAULT_HELPER	    "sudo -n ephcrypt-helper"
#define EPHCRYPT_DEFAULT_TIMEOUT_MS 120000u

/* command: words split on blanks, "--fd N" appended; NULL means $EPHCRYPT_HELPER or the default. */
int ephcrypt_helper_spawn(struct ephcrypt_helper **out, const char *command,
			  struct ephcrypt_error *err);
/* argv as given; the socketpair is created as uid/gid ((uid_t)-1: as this process). */
int ephcrypt_helper_spawn_argv(struct ephcrypt_helper **out, char *const argv[], uid_t uid,
			       gid_t gid, struct ephcrypt_error *err);
/* A connected socket whose other end is a helper; the library owns fd afterwards. */
int ephcrypt_helper_attach(struct ephcrypt_helper **out, int fd, struct ephcrypt_error *err);
void ephcrypt_helper_set_timeout(struct ephcrypt_helper *h, unsigned ms); /* per call */
/* Ends the channel, waits for a helper we spawned: its wait status, or -1. */
int ephcrypt_helper_close(struct ephcrypt_helper *h);

/* Optional audit context sent with every call (request_id, key_id kwargs). */
void ephcrypt_helper_set_context(struct ephcrypt_helper *h, const char *request_id,
				 const char *key_id);

int ephcrypt_ping(struct ephcrypt_helper *h, struct ephcrypt_error *err);
int ephcrypt_version(struct ephcrypt_helper *h, char *buf, size_t cap, struct ephcrypt_error *err);

struct ephcrypt_vg_info {
	char name[128];
	uint64_t size, free, extent_size;
};
struct ephcrypt_lv_info {
	char name[128], vg[128], path[256];
	uint64_t size;
	bool active, open;
};
struct ephcrypt_crypt_status {
	char name[128], device[256], cipher[64], flags[128];
	unsigned key_size, sector_size;
	uint64_t size;
};
struct ephcrypt_crypt_params {
	const char *cipher; /* NULL: aes-xts-plain64 */
	unsigned key_bits;  /* 0: key_len * 8 */
	const struct ephcrypt_key *key;
	unsigned sector_size; /* 0: the helper's default (512) */
};
/* A list of names; free with ephcrypt_names_free. */
struct ephcrypt_names {
	char **names;
	size_t count;
};
void ephcrypt_names_free(struct ephcrypt_names *n);

int ephcrypt_vg_info(struct ephcrypt_helper *h, const char *vg, struct ephcrypt_vg_info *out,
		     struct ephcrypt_error *err);
int ephcrypt_lv_create(struct ephcrypt_helper *h, const char *vg, const char *lv, uint64_t size,
		       struct ephcrypt_lv_info *out, struct ephcrypt_error *err);
int ephcrypt_lv_remove(struct ephcrypt_helper *h, const char *vg, const char *lv,
		       struct ephcrypt_error *err);
int ephcrypt_lv_list(struct ephcrypt_helper *h, const char *vg, struct ephcrypt_names *out,
		     struct ephcrypt_error *err);
int ephcrypt_lv_info(struct ephcrypt_helper *h, const char *vg, const char *lv,
		     struct ephcrypt_lv_info *out, struct ephcrypt_error *err);
int ephcrypt_crypt_open(struct ephcrypt_helper *h, const char *name, const char *device,
			const struct ephcrypt_crypt_params *p, char *path, size_t cap,
			struct ephcrypt_error *err);
int ephcrypt_crypt_close(struct ephcrypt_helper *h, const char *name, struct ephcrypt_error *err);
int ephcrypt_crypt_status(struct ephcrypt_helper *h, const char *name,
			  struct ephcrypt_crypt_status *out, struct ephcrypt_error *err);
int ephcrypt_crypt_list(struct ephcrypt_helper *h, struct ephcrypt_names *out,
			struct ephcrypt_error *err);
/* LV + "<lv>-dmcrypt" mapping as one operation; path gets /dev/mapper/NAME. */
int ephcrypt_disk_create(struct ephcrypt_helper *h, const char *vg, const char *lv, uint64_t size,
			 const struct ephcrypt_crypt_params *p, char *path, size_t cap,
			 struct ephcrypt_error *err);
int ephcrypt_disk_destroy(struct ephcrypt_helper *h, const char *vg, const char *lv, bool *closed,
			  bool *removed, struct ephcrypt_error *err);

/* Any entrypoint, with msgpack-encoded args (array) and kwargs (map); the
 * reply comes back as JSON text (bin values shown as "<N bytes>"), malloc'ed. */
int ephcrypt_call_raw(struct ephcrypt_helper *h, const char *name, const uint8_t *args, size_t alen,
		      const uint8_t *kwargs, size_t klen, char **json, struct ephcrypt_error *err);

/* ---- Barbican -------------------------------------------------------- */
/* The OpenStack settings castellan and the openstack CLI use; NULL = unset. */
struct ephcrypt_os_config {
	char *cloud;
	char *auth_url, *auth_type; /* password | v3applicationcredential | token | none */
	char *username, *user_id, *password;
	char *user_domain_name, *user_domain_id;
	char *project_name, *project_id, *project_domain_name, *project_domain_id;
	char *application_credential_id, *application_credential_name,
		*application_credential_secret;
	char *token;
	char *region_name, *interface; /* catalog lookup; interface defaults to public */
	char *endpoint;		       /* key-manager endpoint; skips the catalog */
	char *cacert;
	bool insecure, no_auth;
	unsigned connect_timeout_ms, timeout_ms, retries;
};

/* clouds.yaml entry NAME into cfg; the file from the standard search path. */
int ephcrypt_os_config_load_cloud(struct ephcrypt_os_config *cfg, const char *name,
				  struct ephcrypt_error *err);
/* clouds.yaml entry NAME from a given file. */
int ephcrypt_os_config_load_cloud_file(struct ephcrypt_os_config *cfg, const char *path,
				       const char *name, struct ephcrypt_error *err);
/* OS_* environment variables over cfg. */
void ephcrypt_os_config_from_env(struct ephcrypt_os_config *cfg);
/* Set one setting by its clouds.yaml / --os-* name (dashes or underscores). */
int ephcrypt_os_config_set(struct ephcrypt_os_config *cfg, const char *key, const char *value);
void ephcrypt_os_config_clear(struct ephcrypt_os_config *cfg); /* frees, wipes secrets */

struct ephcrypt_barbican;
int ephcrypt_barbican_open(const struct ephcrypt_os_config *cfg, struct ephcrypt_barbican **out,
			   struct ephcrypt_error *err);
void ephcrypt_barbican_close(struct ephcrypt_barbican *b);
/* Called before each retry (attempt from 1) with a short reason; may be NULL. */
void ephcrypt_barbican_on_retry(struct ephcrypt_barbican *b,
				void (*fn)(void *arg, unsigned attempt, unsigned delay_ms,
					   const char *why),
				void *arg);
/* Token issues so far (Keystone mode): a cached token is reused across calls. */
unsigned ephcrypt_barbican_token_issues(const struct ephcrypt_barbican *b);

/* ref: a secret href or a bare uuid. key_bits 0: any length. */
int ephcrypt_barbican_get_key(struct ephcrypt_barbican *b, const char *ref, unsigned key_bits,
			      struct ephcrypt_key **out, struct ephcrypt_error *err);
/* A new AES-XTS key by order, polled until ACTIVE; href written to ref. */
int ephcrypt_barbican_order_key(struct ephcrypt_barbican *b, const char *name, unsigned bits,
				char *ref, size_t cap, struct ephcrypt_error *err);
int ephcrypt_barbican_delete(struct ephcrypt_barbican *b, const char *ref,
			     struct ephcrypt_error *err);
/* Metadata only (never the payload), as JSON text, malloc'ed. */
int ephcrypt_barbican_show(struct ephcrypt_barbican *b, const char *ref, char **json,
			   struct ephcrypt_error *err);

/* ---- small parsers (pure) -------------------------------------------- */
/* "64M", "10G", "1T", "4096", "512K" (binary units); refuses 0, overflow, junk. */
int ephcrypt_parse_size(const char *text, uint64_t *bytes);
/* The uuid of a secret href (".../v1/secrets/UUID") or of a bare uuid. */
int ephcrypt_secret_uuid(const char *ref, char uuid[37]);

#ifdef __cplusplus
}
#endif
#endif
