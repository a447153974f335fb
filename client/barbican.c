/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Barbican the way castellan drives it for Nova: a Keystone v3 token
 * (password, application credential or a given token), cached until it
 * expires and renewed once on a 401, the key-manager endpoint from the
 * token's catalog; or python-barbicanclient's no-auth mode (X-Project-Id).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "http.h"

#define TOKEN_MARGIN_S 60 /* renew a token this close to its expiry */
#define ORDER_POLL_MS  250u

struct ephcrypt_barbican {
	struct ephcrypt_os_config cfg; /* own copies */
	struct ec_http http;
	char *endpoint; /* Barbican's base URL, no trailing "/" or "/v1" */
	char token[1024];
	time_t token_expires;
	unsigned token_issues;
};

static char *
strip_base(const char *url)
{
	char *s = strdup(url);
	size_t n = s ? strlen(s) : 0;

	while (n && s[n - 1] == '/')
		s[--n] = '\0';
	if (n >= 3 && strcmp(s + n - 3, "/v1") == 0)
		s[n - 3] = '\0';
	return s;
}

/* ---- errors from a reply ---------------------------------------------- */

/* Barbican: {"code","title","description"}; Keystone: {"error": {"code","title","message"}}. */
static void
reply_text(const struct ec_http_resp *r, char *buf, size_t cap)
{
	json_object *root = r->body.s ? json_tokener_parse(r->body.s) : NULL, *e = root, *v, *t;

	buf[0] = '\0';
	if (root && json_object_object_get_ex(root, "error", &v))
		e = v;
	if (!e || !json_object_is_type(e, json_type_object)) {
		json_object_put(root);
		return;
	}
	if (!json_object_object_get_ex(e, "title", &t))
		t = NULL;
	if (json_object_object_get_ex(e, "description", &v) ||
	    json_object_object_get_ex(e, "message", &v))
		snprintf(buf, cap, "%s%s: %s", t ? " " : "", t ? json_object_get_string(t) : "",
			 json_object_get_string(v));
	else if (t)
		snprintf(buf, cap, " %s", json_object_get_string(t));
	json_object_put(root);
}

static int
http_error(const struct ec_http_resp *r, const char *what, struct ephcrypt_error *err)
{
	char text[400];

	reply_text(r, text, sizeof(text));
	ec_fail(err, ec_status_for_http(r->status), 0, "%s: HTTP %ld%s", what, r->status, text);
	if (err)
		err->http_status = r->status;
	return -1;
}

/* ---- Keystone ----------------------------------------------------------- */

static json_object *
named(const char *id, const char *name, const char *dom_id, const char *dom_name)
{
	json_object *o = json_object_new_object(), *d;

	if (id) {
		json_object_object_add(o, "id", json_object_new_string(id));
		return o;
	}
	json_object_object_add(o, "name", json_object_new_string(name ? name : ""));
	d = json_object_new_object();
	if (dom_id)
		json_object_object_add(d, "id", json_object_new_string(dom_id));
	else
		json_object_object_add(d, "name",
				       json_object_new_string(dom_name ? dom_name : "Default"));
	json_object_object_add(o, "domain", d);
	return o;
}

static json_object *
identity(const struct ephcrypt_os_config *c, bool *scoped)
{
	json_object *id = json_object_new_object(), *m = json_object_new_array(), *x;
	const char *method;

	*scoped = true;
	if (c->application_credential_secret) {
		method = "application_credential";
		x = c->application_credential_id
			    ? named(c->application_credential_id, NULL, NULL, NULL)
			    : named(NULL, c->application_credential_name, NULL, NULL);
		json_object_object_add(x, "secret",
				       json_object_new_string(c->application_credential_secret));
		if (!c->application_credential_id)
			json_object_object_add(x, "user",
					       named(c->user_id, c->username, c->user_domain_id,
						     c->user_domain_name));
		*scoped = false; /* an application credential carries its own scope */
	} else if (c->token && !c->password) {
		method = "token";
		x = json_object_new_object();
		json_object_object_add(x, "id", json_object_new_string(c->token));
	} else {
		method = "password";
		x = json_object_new_object();
		json_object *u =
			named(c->user_id, c->username, c->user_domain_id, c->user_domain_name);
		json_object_object_add(u, "password",
				       json_object_new_string(c->password ? c->password : ""));
		json_object_object_add(x, "user", u);
	}
	json_object_array_add(m, json_object_new_string(method));
	json_object_object_add(id, "methods", m);
	json_object_object_add(id, method, x);
	return id;
}

static char *
auth_body(const struct ephcrypt_os_config *c)
{
	json_object *root = json_object_new_object(), *auth = json_object_new_object(), *scope;
	bool scoped;
	char *text;

	json_object_object_add(auth, "identity", identity(c, &scoped));
	if (scoped && (c->project_id || c->project_name)) {
		scope = json_object_new_object();
		json_object_object_add(scope, "project",
				       named(c->project_id, c->project_name, c->project_domain_id,
					     c->project_domain_name));
		json_object_object_add(auth, "scope", scope);
	}
	json_object_object_add(root, "auth", auth);
	text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	/* json-c's own copy holds the password: wipe it before it goes back. */
	const char *own = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	explicit_bzero((char *)own, strlen(own));
	json_object_put(root);
	return text;
}

static time_t
parse_expiry(const char *iso)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

/* The catalog's key-manager endpoint for the configured interface and region. */
static char *
catalog_endpoint(json_object *token, const struct ephcrypt_os_config *c)
{
	const char *want = c->interface ? c->interface : "public";
	json_object *cat, *eps, *v;
	size_t want_len = strlen(want);

	/* "publicURL" and "public" name one interface (keystoneauth accepts both). */
	if (want_len > 3 && strcmp(want + want_len - 3, "URL") == 0)
		want_len -= 3;
	if (!json_object_object_get_ex(token, "catalog", &cat))
		return NULL;
	for (size_t k = 0; k < json_object_array_length(cat); k++) {
		json_object *svc = json_object_array_get_idx(cat, k);
		if (!json_object_object_get_ex(svc, "type", &v) ||
		    strcmp(json_object_get_string(v), "key-manager") != 0 ||
		    !json_object_object_get_ex(svc, "endpoints", &eps))
			continue;
		for (size_t e = 0; e < json_object_array_length(eps); e++) {
			json_object *ep = json_object_array_get_idx(eps, e), *i, *r, *u;
			if (!json_object_object_get_ex(ep, "interface", &i) ||
			    strncmp(json_object_get_string(i), want, want_len) != 0 ||
			    json_object_get_string_len(i) != (int)want_len ||
			    !json_object_object_get_ex(ep, "url", &u))
				continue;
			if (c->region_name &&
			    (!json_object_object_get_ex(ep, "region_id", &r) ||
			     strcmp(json_object_get_string(r), c->region_name) != 0))
				continue;
			return strip_base(json_object_get_string(u));
		}
	}
	return NULL;
}

static int
use_token_reply(struct ephcrypt_barbican *b, struct ec_http_resp *r, struct ephcrypt_error *err)
{
	json_object *root = json_tokener_parse(r->body.s ? r->body.s : ""), *tok = NULL, *v;
	int rc = 0;

	if (!r->subject_token[0] || !root || !json_object_object_get_ex(root, "token", &tok)) {
		json_object_put(root);
		return ec_fail(err, EPHCRYPT_E_SERVER, EPROTO,
			       "Keystone: a token reply without a token");
	}
	snprintf(b->token, sizeof(b->token), "%s", r->subject_token);
	b->token_expires = json_object_object_get_ex(tok, "expires_at", &v)
				   ? parse_expiry(json_object_get_string(v))
				   : 0;
	b->token_issues++;
	if (!b->endpoint) {
		b->endpoint = catalog_endpoint(tok, &b->cfg);
		if (!b->endpoint)
			rc = ec_fail(err, EPHCRYPT_E_USAGE, ENOENT,
				     "Keystone's catalog has no key-manager endpoint for interface "
				     "%s%s%s",
				     b->cfg.interface ? b->cfg.interface : "public",
				     b->cfg.region_name ? " in region " : "",
				     b->cfg.region_name ? b->cfg.region_name : "");
	}
	json_object_put(root);
	return rc;
}

static int
authenticate(struct ephcrypt_barbican *b, struct ephcrypt_error *err)
{
	char url[1024], *body;
	struct ec_http_req req = { .method = "POST", .url = url };
	struct ec_http_resp r;
	size_t n = strlen(b->cfg.auth_url);
	int rc;

	while (n && b->cfg.auth_url[n - 1] == '/')
		n--;
	snprintf(url, sizeof(url), "%.*s%s/auth/tokens", (int)n, b->cfg.auth_url,
		 n >= 3 && strncmp(b->cfg.auth_url + n - 3, "/v3", 3) == 0 ? "" : "/v3");
	body = auth_body(&b->cfg);
	if (!body)
		return ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "out of memory");
	req.body = body;
	rc = ec_http_do(&b->http, &req, &r, err);
	explicit_bzero(body, strlen(body));
	free(body);
	if (rc == 0 && r.status != 201 && r.status != 200) {
		rc = http_error(&r, "Keystone refused the credentials", err);
		if (err && err->status != EPHCRYPT_E_SERVER)
			err->status = EPHCRYPT_E_AUTH;
	} else if (rc == 0) {
		rc = use_token_reply(b, &r, err);
	}
	ec_http_resp_free(&r);
	return rc;
}

static int
ensure_token(struct ephcrypt_barbican *b, struct ephcrypt_error *err)
{
	if (b->cfg.no_auth)
		return 0;
	if (b->token[0] &&
	    (b->token_expires == 0 || time(NULL) + TOKEN_MARGIN_S < b->token_expires))
		return 0;
	b->token[0] = '\0';
	return authenticate(b, err);
}

/* ---- Barbican ----------------------------------------------------------- */

int
ephcrypt_barbican_open(const struct ephcrypt_os_config *cfg, struct ephcrypt_barbican **out,
		       struct ephcrypt_error *err)
{
	struct ephcrypt_barbican *b = calloc(1, sizeof(*b));

	ec_error_clear(err);
	*out = NULL;
	if (!b || ec_config_copy(&b->cfg, cfg) < 0) {
		ephcrypt_barbican_close(b);
		return ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "out of memory");
	}
	if (cfg->no_auth && (!cfg->endpoint || !cfg->project_id)) {
		ephcrypt_barbican_close(b);
		return ec_fail(err, EPHCRYPT_E_USAGE, EINVAL,
			       "no-auth mode needs an endpoint and a project id (--endpoint, "
			       "--os-project-id)");
	}
	if (!cfg->no_auth && !cfg->auth_url && !(cfg->token && cfg->endpoint)) {
		ephcrypt_barbican_close(b);
		return ec_fail(err, EPHCRYPT_E_USAGE, EINVAL,
			       "no Keystone URL: set OS_AUTH_URL, --os-auth-url or --os-cloud "
			       "(or --no-auth --endpoint URL --os-project-id ID)");
	}
	if (ec_http_init(&b->http, cfg, err) < 0) {
		ephcrypt_barbican_close(b);
		return -1;
	}
	if (cfg->endpoint)
		b->endpoint = strip_base(cfg->endpoint);
	if (!cfg->no_auth && cfg->token && !cfg->auth_url) /* a given token used as it is */
		snprintf(b->token, sizeof(b->token), "%s", cfg->token);
	*out = b;
	return 0;
}

void
ephcrypt_barbican_close(struct ephcrypt_barbican *b)
{
	if (!b)
		return;
	ec_http_free(&b->http);
	ephcrypt_os_config_clear(&b->cfg);
	explicit_bzero(b->token, sizeof(b->token));
	free(b->endpoint);
	free(b);
}

void
ephcrypt_barbican_on_retry(struct ephcrypt_barbican *b,
			   void (*fn)(void *, unsigned, unsigned, const char *), void *arg)
{
	b->http.on_retry = fn;
	b->http.on_retry_arg = arg;
}

unsigned
ephcrypt_barbican_token_issues(const struct ephcrypt_barbican *b)
{
	return b->token_issues;
}

/* One Barbican request with the right credentials; a 401 renews the token once. */
static int
barbican_do(struct ephcrypt_barbican *b, struct ec_http_req *req, struct ec_http_resp *r,
	    struct ephcrypt_error *err)
{
	char hdr[1100];
	int rc;

	for (int round = 0;; round++) {
		struct curl_slist one = { hdr, NULL };

		if (ensure_token(b, err) < 0)
			return -1;
		if (b->cfg.no_auth)
			snprintf(hdr, sizeof(hdr), "X-Project-Id: %s", b->cfg.project_id);
		else
			snprintf(hdr, sizeof(hdr), "X-Auth-Token: %s", b->token);
		req->headers = &one;
		rc = ec_http_do(&b->http, req, r, err);
		req->headers = NULL;
		explicit_bzero(hdr, sizeof(hdr));
		if (rc < 0 || r->status != 401 || b->cfg.no_auth || round > 0 || !b->cfg.auth_url)
			return rc;
		ec_http_resp_free(r);
		b->token[0] = '\0'; /* expired or revoked early: one fresh token, then give up */
	}
}

static int
secret_url(struct ephcrypt_barbican *b, const char *ref, const char *suffix, char *url, size_t cap,
	   struct ephcrypt_error *err)
{
	char uuid[37];

	if (ephcrypt_secret_uuid(ref, uuid) < 0)
		return ec_fail(err, EPHCRYPT_E_USAGE, EINVAL,
			       "'%s' is not a secret reference (a secret href or its uuid)", ref);
	if (ensure_token(b, err) < 0) /* the catalog names the endpoint */
		return -1;
	snprintf(url, cap, "%s/v1/secrets/%s%s", b->endpoint, uuid, suffix);
	return 0;
}

int
ephcrypt_barbican_get_key(struct ephcrypt_barbican *b, const char *ref, unsigned key_bits,
			  struct ephcrypt_key **out, struct ephcrypt_error *err)
{
	char url[1024], what[1100];
	struct ec_http_req req = { .method = "GET",
				   .url = url,
				   .accept = "application/octet-stream" };
	struct ec_http_resp r;
	struct ephcrypt_key *key;
	int rc;

	ec_error_clear(err);
	*out = NULL;
	if (secret_url(b, ref, "/payload", url, sizeof(url), err) < 0 ||
	    ephcrypt_key_alloc(4096, &key, err) < 0)
		return -1;
	req.secret_sink = key;
	snprintf(what, sizeof(what), "secret %s", ref);
	rc = barbican_do(b, &req, &r, err);
	if (rc == 0 && r.status != 200)
		rc = http_error(&r, what, err);
	else if (rc == 0 && (key->len == 0 || (key_bits && key->len * 8 != key_bits)))
		rc = ec_fail(err, EPHCRYPT_E_KEY, EINVAL, "%s: the payload is %zu bits, not %u",
			     what, key->len * 8, key_bits);
	ec_http_resp_free(&r);
	if (rc < 0) {
		ephcrypt_key_free(key);
		return -1;
	}
	*out = key;
	return 0;
}

int
ephcrypt_barbican_delete(struct ephcrypt_barbican *b, const char *ref, struct ephcrypt_error *err)
{
	char url[1024], what[1100];
	struct ec_http_req req = { .method = "DELETE", .url = url };
	struct ec_http_resp r;
	int rc;

	ec_error_clear(err);
	if (secret_url(b, ref, "", url, sizeof(url), err) < 0)
		return -1;
	snprintf(what, sizeof(what), "deleting secret %s", ref);
	rc = barbican_do(b, &req, &r, err);
	if (rc == 0 && r.status != 204 && r.status != 200)
		rc = http_error(&r, what, err);
	ec_http_resp_free(&r);
	return rc;
}

int
ephcrypt_barbican_show(struct ephcrypt_barbican *b, const char *ref, char **json,
		       struct ephcrypt_error *err)
{
	char url[1024], what[1100];
	struct ec_http_req req = { .method = "GET", .url = url };
	struct ec_http_resp r;
	int rc;

	ec_error_clear(err);
	*json = NULL;
	if (secret_url(b, ref, "", url, sizeof(url), err) < 0)
		return -1;
	snprintf(what, sizeof(what), "secret %s", ref);
	rc = barbican_do(b, &req, &r, err);
	if (rc == 0 && r.status != 200)
		rc = http_error(&r, what, err);
	else if (rc == 0 && !(*json = strdup(r.body.s ? r.body.s : "{}")))
		rc = ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "out of memory");
	ec_http_resp_free(&r);
	return rc;
}

/* ---- orders ------------------------------------------------------------- */

static char *
order_body(const char *name, unsigned bits)
{
	json_object *root = json_object_new_object(), *meta = json_object_new_object();
	char *text;

	json_object_object_add(meta, "name", json_object_new_string(name));
	json_object_object_add(meta, "algorithm", json_object_new_string("aes"));
	json_object_object_add(meta, "bit_length", json_object_new_int((int)bits));
	json_object_object_add(meta, "mode", json_object_new_string("xts"));
	json_object_object_add(meta, "payload_content_type",
			       json_object_new_string("application/octet-stream"));
	json_object_object_add(root, "type", json_object_new_string("key"));
	json_object_object_add(root, "meta", meta);
	text = strdup(json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN));
	json_object_put(root);
	return text;
}

/* A string member of a JSON reply body, copied; NULL if absent. */
static char *
body_member(const struct ec_http_resp *r, const char *key)
{
	json_object *root = json_tokener_parse(r->body.s ? r->body.s : ""), *v;
	char *s = NULL;

	if (root && json_object_object_get_ex(root, key, &v) &&
	    json_object_is_type(v, json_type_string))
		s = strdup(json_object_get_string(v));
	json_object_put(root);
	return s;
}

/* The order's URL under our own endpoint: a reply never sends our token elsewhere. */
static int
order_url(struct ephcrypt_barbican *b, const char *order_ref, char *url, size_t cap,
	  struct ephcrypt_error *err)
{
	const char *slash = strrchr(order_ref, '/');
	const char *id = slash ? slash + 1 : order_ref;
	char uuid[37];
	char probe[64];

	snprintf(probe, sizeof(probe), "%s", id);
	if (ephcrypt_secret_uuid(probe, uuid) < 0)
		return ec_fail(err, EPHCRYPT_E_SERVER, EPROTO, "Barbican: odd order reference '%s'",
			       order_ref);
	snprintf(url, cap, "%s/v1/orders/%s", b->endpoint, uuid);
	return 0;
}

static int
poll_order(struct ephcrypt_barbican *b, const char *url, char *ref, size_t cap,
	   struct ephcrypt_error *err)
{
	struct ec_http_req req = { .method = "GET", .url = url };
	struct timespec t0, now;
	unsigned limit = b->http.timeout_ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct ec_http_resp r;
		char *status, *secret;
		int rc = barbican_do(b, &req, &r, err);

		if (rc == 0 && r.status != 200)
			rc = http_error(&r, "order", err);
		status = rc == 0 ? body_member(&r, "status") : NULL;
		secret = rc == 0 ? body_member(&r, "secret_ref") : NULL;
		if (rc == 0 && status && strcmp(status, "ACTIVE") == 0 && secret)
			snprintf(ref, cap, "%s", secret);
		else if (rc == 0 && status && strcmp(status, "ERROR") == 0) {
			char *why = body_member(&r, "error_reason");
			rc = ec_fail(err, EPHCRYPT_E_SERVER, 0, "Barbican: order %s failed: %s",
				     url, why ? why : "no reason given");
			free(why);
		}
		bool done = rc < 0 || ref[0];
		free(status), free(secret);
		ec_http_resp_free(&r);
		if (done)
			return rc;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((unsigned long)((now.tv_sec - t0.tv_sec) * 1000 +
				    (now.tv_nsec - t0.tv_nsec) / 1000000) > limit)
			return ec_fail(err, EPHCRYPT_E_TIMEOUT, ETIMEDOUT,
				       "Barbican: order %s not ACTIVE after %u ms", url, limit);
		struct timespec ts = { 0, (long)ORDER_POLL_MS * 1000000L };
		nanosleep(&ts, NULL);
	}
}

int
ephcrypt_barbican_order_key(struct ephcrypt_barbican *b, const char *name, unsigned bits, char *ref,
			    size_t cap, struct ephcrypt_error *err)
{
	char url[1024], *body, *order_ref = NULL;
	struct ec_http_req req = { .method = "POST", .url = url };
	struct ec_http_resp r;
	int rc;

	ec_error_clear(err);
	ref[0] = '\0';
	if (bits == 0 || bits % 8 || bits > 4096)
		return ec_fail(err, EPHCRYPT_E_USAGE, EINVAL,
			       "bit length %u: must be a multiple of 8 up to 4096", bits);
	if (ensure_token(b, err) < 0)
		return -1;
	snprintf(url, sizeof(url), "%s/v1/orders", b->endpoint);
	if (!(body = order_body(name ? name : "ephcrypt", bits)))
		return ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "out of memory");
	req.body = body;
	rc = barbican_do(b, &req, &r, err);
	free(body);
	if (rc == 0 && r.status != 202 && r.status != 201)
		rc = http_error(&r, "Barbican order", err);
	else if (rc == 0 && !(order_ref = body_member(&r, "order_ref")))
		rc = ec_fail(err, EPHCRYPT_E_SERVER, EPROTO,
			     "Barbican: an order reply without order_ref");
	ec_http_resp_free(&r);
	if (rc == 0)
		rc = order_url(b, order_ref, url, sizeof(url), err);
	free(order_ref);
	return rc < 0 ? -1 : poll_order(b, url, ref, cap, err);
}
