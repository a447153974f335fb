/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"

#define DEFAULT_CONNECT_MS 10000u
#define DEFAULT_TOTAL_MS   60000u
#define DEFAULT_RETRIES	   3u
#define FIRST_DELAY_MS	   500u
#define MAX_DELAY_MS	   8000u

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void
global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int
ec_http_init(struct ec_http *h, const struct ephcrypt_os_config *cfg, struct ephcrypt_error *err)
{
	memset(h, 0, sizeof(*h));
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK || !(h->curl = curl_easy_init()))
		return ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "libcurl could not start");
	h->connect_timeout_ms =
		cfg->connect_timeout_ms ? cfg->connect_timeout_ms : DEFAULT_CONNECT_MS;
	h->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : DEFAULT_TOTAL_MS;
	h->retries = cfg->retries ? cfg->retries : DEFAULT_RETRIES;
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h->curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h->curl, CURLOPT_USERAGENT, "ephcrypt/" EPHCRYPT_LIB_VERSION);
	curl_easy_setopt(h->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)h->connect_timeout_ms);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT_MS, (long)h->timeout_ms);
	/* Verification stays on unless the user asked for --insecure. */
	curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYPEER, cfg->insecure ? 0L : 1L);
	curl_easy_setopt(h->curl, CURLOPT_SSL_VERIFYHOST, cfg->insecure ? 0L : 2L);
	if (cfg->cacert && curl_easy_setopt(h->curl, CURLOPT_CAINFO, cfg->cacert) != CURLE_OK)
		return ec_fail(err, EPHCRYPT_E_USAGE, EINVAL, "cacert %s not usable", cfg->cacert);
	return 0;
}

void
ec_http_free(struct ec_http *h)
{
	if (h->curl)
		curl_easy_cleanup(h->curl);
	h->curl = NULL;
}

void
ec_http_resp_free(struct ec_http_resp *r)
{
	if (r->body.s)
		explicit_bzero(r->body.s, r->body.cap);
	free(r->body.s);
	explicit_bzero(r, sizeof(*r)); /* the token may be in subject_token */
}

struct sink {
	struct ec_http_resp *resp;
	struct ephcrypt_key *secret; /* len is the capacity until the end */
	size_t got;
};

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;

	if (s->secret) {
		if (len > s->secret->len - s->got) {
			s->resp->overflow = true;
			return 0;
		}
		memcpy(s->secret->data + s->got, p, len);
		s->got += len;
		return len;
	}
	if (s->resp->body.len + len > (4u << 20) ||
	    ec_str_add(&s->resp->body, "%.*s", (int)len, p) < 0) {
		s->resp->overflow = true;
		return 0;
	}
	return len;
}

static size_t
on_header(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	static const char name[] = "x-subject-token:";

	if (len > sizeof(name) && strncasecmp(p, name, sizeof(name) - 1) == 0) {
		const char *v = p + sizeof(name) - 1;
		size_t vl = len - (sizeof(name) - 1);
		while (vl && (*v == ' ' || *v == '\t'))
			v++, vl--;
		while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
			vl--;
		if (vl < sizeof(s->resp->subject_token)) {
			memcpy(s->resp->subject_token, v, vl);
			s->resp->subject_token[vl] = '\0';
		}
	}
	return len;
}

static bool
connection_error(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST ||
	       rc == CURLE_COULDNT_RESOLVE_PROXY || rc == CURLE_SEND_ERROR ||
	       rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING;
}

static CURLcode
perform(struct ec_http *h, const struct ec_http_req *req, struct ec_http_resp *resp, struct sink *s)
{
	struct curl_slist *hdr = NULL;
	char accept[128];
	CURLcode rc;

	snprintf(accept, sizeof(accept), "Accept: %s",
		 req->accept ? req->accept : "application/json");
	hdr = curl_slist_append(hdr, accept);
	if (req->body)
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
	for (struct curl_slist *e = req->headers; e; e = e->next)
		hdr = curl_slist_append(hdr, e->data);
	curl_easy_setopt(h->curl, CURLOPT_URL, req->url);
	curl_easy_setopt(h->curl, CURLOPT_HTTPGET, req->body ? 0L : 1L);
	curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body) {
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(req->body));
	}
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(h->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, s);
	rc = curl_easy_perform(h->curl);
	curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &resp->status);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, NULL);
	curl_slist_free_all(hdr); /* may hold the token: libcurl does not wipe it */
	return rc;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Retry or not: a delay for this attempt, or 0 to stop. */
static unsigned
backoff(struct ec_http *h, unsigned attempt, const char *why)
{
	unsigned delay = FIRST_DELAY_MS << (attempt - 1);

	if (attempt > h->retries)
		return 0;
	if (delay > MAX_DELAY_MS)
		delay = MAX_DELAY_MS;
	if (h->on_retry)
		h->on_retry(h->on_retry_arg, attempt, delay, why);
	sleep_ms(delay);
	return delay;
}

static void
reset_resp(struct ec_http_resp *resp, struct sink *s, const struct ec_http_req *req)
{
	ec_http_resp_free(resp);
	memset(s, 0, sizeof(*s));
	s->resp = resp;
	s->secret = req->secret_sink;
	if (s->secret)
		explicit_bzero(s->secret->data, s->secret->len);
}

int
ec_http_do(struct ec_http *h, const struct ec_http_req *req, struct ec_http_resp *resp,
	   struct ephcrypt_error *err)
{
	struct sink s;
	char why[200];
	CURLcode rc;

	memset(resp, 0, sizeof(*resp));
	for (unsigned attempt = 1;; attempt++) {
		reset_resp(resp, &s, req);
		rc = perform(h, req, resp, &s);
		/* A POST that got a 5xx may have been done: never repeated. */
		if (rc == CURLE_OK && (resp->status < 500 || strcmp(req->method, "POST") == 0))
			break;
		if (rc == CURLE_OK)
			snprintf(why, sizeof(why), "HTTP %ld from %s %s", resp->status, req->method,
				 req->url);
		else
			snprintf(why, sizeof(why), "%s %s: %s", req->method, req->url,
				 curl_easy_strerror(rc));
		/* A POST is repeated only if it never reached the server. */
		if ((rc != CURLE_OK && !connection_error(rc)) ||
		    (strcmp(req->method, "POST") == 0 && rc != CURLE_COULDNT_CONNECT &&
		     rc != CURLE_COULDNT_RESOLVE_HOST) ||
		    !backoff(h, attempt, why)) {
			if (rc == CURLE_OK)
				break; /* the caller reports the 5xx with its body */
			return ec_fail(err,
				       rc == CURLE_OPERATION_TIMEDOUT ? EPHCRYPT_E_TIMEOUT
								      : EPHCRYPT_E_NETWORK,
				       0, "%s (after %u attempt%s)", why, attempt,
				       attempt > 1 ? "s" : "");
		}
	}
	if (resp->overflow)
		return ec_fail(err, EPHCRYPT_E_SERVER, EMSGSIZE, "%s %s: reply too large",
			       req->method, req->url);
	if (req->secret_sink)
		req->secret_sink->len = s.got;
	return 0;
}
