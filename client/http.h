/* SPDX-License-Identifier: Apache-2.0 */
/* libcurl underneath the Keystone and Barbican clients (internal). */
#ifndef EPHCRYPT_HTTP_H
#define EPHCRYPT_HTTP_H

#include <curl/curl.h>

#include "lib.h"

struct ec_http {
	CURL *curl;
	unsigned connect_timeout_ms, timeout_ms, retries;
	void (*on_retry)(void *arg, unsigned attempt, unsigned delay_ms, const char *why);
	void *on_retry_arg;
};

struct ec_http_req {
	const char *method; /* GET, POST, DELETE */
	const char *url;
	const char *body; /* JSON, or NULL */
	const char *accept;
	struct curl_slist *headers;	  /* extra headers (auth) */
	struct ephcrypt_key *secret_sink; /* the body goes here (locked), not to body */
};

struct ec_http_resp {
	long status;
	struct ec_str body;
	char subject_token[1024]; /* X-Subject-Token */
	bool overflow;
};

int ec_http_init(struct ec_http *h, const struct ephcrypt_os_config *cfg,
		 struct ephcrypt_error *err);
void ec_http_free(struct ec_http *h);
/* One request, retried with backoff on connection errors and 5xx only. */
int ec_http_do(struct ec_http *h, const struct ec_http_req *req, struct ec_http_resp *resp,
	       struct ephcrypt_error *err);
void ec_http_resp_free(struct ec_http_resp *r);

#endif
