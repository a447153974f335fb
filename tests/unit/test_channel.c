/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The helper's channel, end to end over `--fd`: a test client on the shared
 * codec starts build/ephcrypt-helper (or $EPHCRYPT_HELPER, e.g. the ASan
 * build) on a socketpair and checks every flow the Python client depends
 * on: the LOG record first, PING/PONG, RET and each ERR class, an over-limit
 * CALL answered and survived, garbage closing the channel with one line on
 * stderr, EOF exiting 0, and pipelined calls.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/*
 * The shared client, compiled into this test: the unit-test rule links the
 * protocol library and the helper objects but no client object.
 */
#include "../../client/client.c"

#define TIMEOUT_MS 10000

/* --- starting a helper -------------------------------------------------------- */

/*
 * The one place that says how a test helper is started:
 *   EPHCRYPT_HELPER       the helper (default build/ephcrypt-helper)
 *   EPHCRYPT_HELPER_ARGS  arguments put before the test's own, split on
 *                         spaces. Unset: a private temp dir with a minimal
 *                         policy ([callers] uid 0: ephcrypt.* only, no
 *                         storage) and an audit log, as tests/interop does.
 */
static const char *
helper_path(void)
{
	const char *p = getenv("EPHCRYPT_HELPER");

	return p && *p ? p : "build/ephcrypt-helper";
}

#define TEST_POLICY "# ephcrypt channel tests: any call from root, no storage\n[callers]\nuid 0\n"

static char tmpdir[64];
static char policy_path[96], audit_path[96];
static char args_env[1024];

static void
make_tmpdir(void)
{
	FILE *f;
	int fd;

	if (tmpdir[0])
		return;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/ephcrypt-channel-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir), "mkdtemp: %s", strerror(errno));
	snprintf(policy_path, sizeof(policy_path), "%s/policy.conf", tmpdir);
	snprintf(audit_path, sizeof(audit_path), "%s/audit.log", tmpdir);
	fd = open(policy_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0, "create %s: %s", policy_path, strerror(errno));
	f = fdopen(fd, "w");
	fputs(TEST_POLICY, f);
	fclose(f);
}

static void
remove_tmpdir(void)
{
	if (!tmpdir[0])
		return;
	unlink(policy_path);
	unlink(audit_path);
	rmdir(tmpdir);
	tmpdir[0] = '\0';
}

/* Appends the base arguments to argv[*n]; they point into static storage. */
static void
helper_base_args(const char **argv, size_t *n, size_t cap)
{
	const char *env = getenv("EPHCRYPT_HELPER_ARGS");
	char *save = NULL, *tok;

	if (env) {
		snprintf(args_env, sizeof(args_env), "%s", env);
		for (tok = strtok_r(args_env, " \t", &save); tok && *n < cap;
		     tok = strtok_r(NULL, " \t", &save))
			argv[(*n)++] = tok;
		return;
	}
	make_tmpdir();
	argv[(*n)++] = "--policy";
	argv[(*n)++] = policy_path;
	argv[(*n)++] = "--audit-log";
	argv[(*n)++] = audit_path;
}

TestSuite(channel, .timeout = 60, .fini = remove_tmpdir);

struct helper {
	pid_t pid;
	int fd;	    /* our end of the channel */
	int err_fd; /* read end of the helper's stderr, or -1 when not captured */
	struct mp_reader rd;
	bool exited;
	int status;
};

/* Move fd above the range dup2 targets use, so the child's dup2s cannot clobber it. */
static int
high_fd(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 10);
}

static void
helper_start(struct helper *h, const char *const extra[], bool capture_stderr)
{
	const char *argv[32];
	size_t n = 0;
	int sv[2], ep[2] = { -1, -1 };

	memset(h, 0, sizeof(*h));
	h->err_fd = -1;
	argv[n++] = helper_path();
	helper_base_args(argv, &n, 20);
	for (size_t k = 0; extra && extra[k] && n < 28; k++)
		argv[n++] = extra[k];
	argv[n++] = "--fd";
	argv[n++] = "3";
	argv[n] = NULL;
	cr_assert_eq(access(argv[0], X_OK), 0, "helper %s is not executable (build it first): %s",
		     argv[0], strerror(errno));
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0, "socketpair");
	if (capture_stderr)
		cr_assert_eq(pipe2(ep, O_CLOEXEC), 0, "pipe2");
	h->pid = fork();
	cr_assert_geq(h->pid, 0, "fork");
	if (h->pid == 0) {
		int chan = high_fd(sv[1]), err = high_fd(ep[1]);

		/* dup2 clears CLOEXEC on the copies the helper keeps */
		if (chan < 0 || dup2(chan, 3) < 0 || (err >= 0 && dup2(err, 2) < 0))
			_exit(127);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	close(sv[1]);
	if (ep[1] >= 0)
		close(ep[1]);
	h->fd = sv[0];
	h->err_fd = ep[0];
	cr_assert_eq(mp_reader_init(&h->rd, NULL), 0);
}

static void
send_bytes(struct helper *h, const void *p, size_t n)
{
	size_t off = 0;

	while (off < n) {
		ssize_t k = send(h->fd, (const uint8_t *)p + off, n - off, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		cr_assert_gt(k, 0, "send to the helper: %s", strerror(errno));
		off += (size_t)k;
	}
}

static void
tx_buf(struct helper *h, struct mp_buf *b)
{
	cr_assert(!b->overflow, "test message too large for its buffer");
	send_bytes(h, b->data, b->len);
	mp_buf_free(b);
}

enum rx { RX_FRAME, RX_EOF, RX_TIMEOUT, RX_ERROR };

/* Next frame (LOG records included), or EOF/timeout. */
static enum rx
recv_frame(struct helper *h, int timeout_ms, struct mp_frame **out)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		enum mp_status st = mp_reader_next(&h->rd, out);
		struct pollfd p = { .fd = h->fd, .events = POLLIN };
		struct timespec t1;
		long left;
		size_t room;
		uint8_t *dst;
		ssize_t n;

		if (st == MP_OK)
			return RX_FRAME;
		if (st != MP_NEED_MORE) {
			fprintf(stderr, "test client: reply stream: %s\n", mp_status_str(st));
			return RX_ERROR;
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		left = timeout_ms -
		       ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&p, 1, (int)left) == 0)
			return RX_TIMEOUT;
		dst = mp_reader_space(&h->rd, &room);
		n = recv(h->fd, dst, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0)
			return mp_reader_eof(&h->rd) == MP_EOF ? RX_EOF : RX_ERROR;
		if (n < 0)
			return errno == ECONNRESET ? RX_EOF : RX_ERROR;
		mp_reader_commit(&h->rd, (size_t)n);
	}
}

/* Next in-band reply; out-of-band LOG records are skipped, as the Python client does. */
static struct mp_frame *
recv_reply(struct helper *h, struct ps_msg *m)
{
	for (;;) {
		struct mp_frame *f;
		enum rx rx = recv_frame(h, TIMEOUT_MS, &f);
		enum ps_status st;

		cr_assert_eq(rx, RX_FRAME, "expected a reply from the helper, got %s",
			     rx == RX_EOF	? "EOF"
			     : rx == RX_TIMEOUT ? "a timeout"
						: "a framing error");
		st = ps_parse(f->root, m);
		cr_assert_eq(st, PS_OK, "the helper sent a malformed message (%s)",
			     ps_status_str(st));
		if (m->oob) {
			cr_assert_eq(m->kind, PS_LOG, "the only out-of-band message is LOG");
			mp_frame_free(f);
			continue;
		}
		return f;
	}
}

/* Read until the helper closes the channel; returns the in-band replies dropped on the way. */
static unsigned
drain_to_eof(struct helper *h, int timeout_ms)
{
	unsigned n = 0;

	for (;;) {
		struct mp_frame *f;
		struct ps_msg m;
		enum rx rx = recv_frame(h, timeout_ms, &f);

		if (rx != RX_FRAME) {
			cr_assert_eq(rx, RX_EOF, "the helper must close the channel (got %s)",
				     rx == RX_TIMEOUT ? "a timeout" : "a framing error");
			return n;
		}
		if (ps_parse(f->root, &m) != PS_OK || !m.oob)
			n++;
		mp_frame_free(f);
	}
}

/* Wait for the helper to exit (bounded), return its waitpid status. */
static int
helper_wait(struct helper *h)
{
	for (int k = 0; k < TIMEOUT_MS / 10 && !h->exited; k++) {
		pid_t p = waitpid(h->pid, &h->status, WNOHANG);

		if (p == h->pid)
			h->exited = true;
		else
			usleep(10000);
	}
	cr_assert(h->exited, "the helper (pid %d) did not exit", (int)h->pid);
	return h->status;
}

/* Everything the helper wrote to stderr (captured helpers only, after it exited). */
static char *
helper_stderr(struct helper *h)
{
	size_t len = 0, cap = 4096;
	char *s = malloc(cap);
	ssize_t n;

	cr_assert(h->err_fd >= 0, "stderr was not captured");
	while ((n = read(h->err_fd, s + len, cap - 1 - len)) > 0) {
		len += (size_t)n;
		if (len == cap - 1)
			s = realloc(s, cap *= 2);
	}
	s[len] = '\0';
	return s;
}

static void
helper_stop(struct helper *h)
{
	if (!h->exited) {
		kill(h->pid, SIGKILL);
		waitpid(h->pid, &h->status, 0);
		h->exited = true;
	}
	if (h->fd >= 0)
		close(h->fd);
	if (h->err_fd >= 0)
		close(h->err_fd);
	h->fd = h->err_fd = -1;
	mp_reader_free(&h->rd);
}

/* SHUT_WR, the way PrivContext.stop() ends a channel: the helper must exit 0. */
static void
helper_close_ok(struct helper *h)
{
	int st;

	shutdown(h->fd, SHUT_WR);
	drain_to_eof(h, TIMEOUT_MS);
	st = helper_wait(h);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "on EOF the helper must exit 0 (status 0x%x: %s %d)", st,
		  WIFEXITED(st) ? "exit" : "signal",
		  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	helper_stop(h);
}

/* A shared-client handle on a helper we started (for ec_ping, ec_call_raw). */
static void
client_on(struct ec_client *c, struct helper *h)
{
	cr_assert_eq(ec_attach(c, h->fd), 0);
	c->pid = 0; /* we wait for it ourselves */
}

/* --- building messages --------------------------------------------------------- */

static void
put_call(struct mp_buf *b, const char *id, const char *name, const char *args_hex,
	 const char *kwargs_hex)
{
	uint8_t raw[512];
	size_t n;

	cr_assert_eq(mp_put_array(b, 2) || mp_put_str(b, id) || mp_put_array(b, 4) ||
			     mp_put_uint(b, PS_CALL) || mp_put_str(b, name),
		     0);
	for (int pass = 0; pass < 2; pass++) {
		const char *hex = pass ? kwargs_hex : args_hex;

		for (n = 0; *hex; hex++) {
			unsigned v;

			if (*hex == ' ')
				continue;
			cr_assert(sscanf(hex, "%2x", &v) == 1 && n < sizeof(raw), "bad hex");
			raw[n++] = (uint8_t)v;
			hex++;
		}
		cr_assert_eq(mp_put_raw(b, raw, n), 0);
	}
}

static void
send_call(struct helper *h, const char *id, const char *name, const char *args_hex,
	  const char *kwargs_hex)
{
	struct mp_buf b;

	mp_buf_init(&b, 1u << 20);
	put_call(&b, id, name, args_hex, kwargs_hex);
	tx_buf(h, &b);
}

static void
send_ping(struct helper *h, const char *id)
{
	struct mp_buf b;

	mp_buf_init(&b, 1024);
	cr_assert_eq(ps_ping(&b, id), 0);
	tx_buf(h, &b);
}

static void
copy_str(const struct mp_value *v, char *dst, size_t cap)
{
	size_t n = v && v->type == MP_STR ? (v->len < cap - 1 ? v->len : cap - 1) : 0;

	if (n)
		memcpy(dst, v->v.bytes, n);
	dst[n] = '\0';
}

/* An ERR for `id` of class `cls` whose args are [msg] (msg NULL: any one str). */
static void
expect_err(const struct mp_frame *f, const struct ps_msg *m, const char *id, const char *cls,
	   const char *msg)
{
	char got_cls[160], got_msg[1100];

	(void)f;
	copy_str(m->name, got_cls, sizeof(got_cls));
	cr_assert(mp_str_eq(m->msgid, id), "reply for msgid '%s'", id);
	cr_assert_eq(m->kind, PS_ERR, "reply to '%s' must be ERR, got kind %llu", id,
		     (unsigned long long)m->kind);
	cr_assert_str_eq(got_cls, cls, "exception class for '%s'", id);
	cr_assert(m->args->type == MP_ARRAY && m->args->len == 1 &&
			  m->args->v.items[0].type == MP_STR,
		  "%s args must be [str] (the client splats them)", cls);
	copy_str(&m->args->v.items[0], got_msg, sizeof(got_msg));
	if (msg)
		cr_assert_str_eq(got_msg, msg, "%s message", cls);
}

static void
expect_version_ret(const struct ps_msg *m, const char *id)
{
	char v[64];
	unsigned a, b, c;
	char tail;

	cr_assert(mp_str_eq(m->msgid, id), "reply for msgid '%s'", id);
	cr_assert_eq(m->kind, PS_RET, "ephcrypt.version must return, got kind %llu",
		     (unsigned long long)m->kind);
	cr_assert_eq(m->value->type, MP_STR, "the version is a str");
	copy_str(m->value, v, sizeof(v));
	cr_assert(sscanf(v, "%u.%u.%u%c", &a, &b, &c, &tail) == 3,
		  "ephcrypt.version returns 'X.Y.Z', got '%s'", v);
}

/* --- flows ------------------------------------------------------------------------ */

Test(channel, log_record_comes_first)
{
	struct helper h;
	struct mp_frame *f;
	struct ps_msg m;
	const struct mp_value *lv;

	helper_start(&h, NULL, false);
	/* Raw read before sending anything: the Python client reads LOGs before the PONG. */
	cr_assert_eq(recv_frame(&h, TIMEOUT_MS, &f), RX_FRAME, "a LOG record arrives unasked");
	cr_assert_eq(ps_parse(f->root, &m), PS_OK, "the LOG record is a [nil, [6, {...}]] message");
	cr_assert(m.oob, "its msgid is nil");
	cr_assert_eq(m.kind, PS_LOG);
	lv = mp_map_get(m.value, "levelno");
	cr_assert(lv && (lv->type == MP_UINT || lv->type == MP_INT),
		  "levelno must be an integer, or the client's reader thread dies");
	cr_assert(mp_map_get(m.value, "name") && mp_map_get(m.value, "msg") &&
			  mp_map_get(m.value, "levelname") && mp_map_get(m.value, "args"),
		  "name, msg, levelname, args: the minimum makeLogRecord needs");
	cr_assert_eq(mp_map_get(m.value, "args")->type, MP_ARRAY);
	mp_frame_free(f);
	helper_close_ok(&h);
}

Test(channel, ping_pong)
{
	/* The real client's PING (docs 5.1) gets the real daemon's PONG, byte for byte. */
	static const uint8_t ping[] = {
		0x92, 0xd9, 0x24, '9', '4', '2', 'd', '5', '0', '9', 'c', '-',	'5',  '6',
		'6',  'b',  '-',  '4', 'e', 'a', '5', '-', 'a', 'd', 'c', 'f',	'-',  '1',
		'f',  '8',  '4',  'c', '0', '4', '2', '0', 'd', 'e', 'a', 0x91, 0x01,
	};
	uint8_t pong[sizeof(ping)];
	struct helper h;
	struct ec_client c;
	struct mp_frame *f;
	struct ps_msg m;

	memcpy(pong, ping, sizeof(ping));
	pong[sizeof(pong) - 1] = 0x02;
	helper_start(&h, NULL, false);
	client_on(&c, &h);
	cr_assert_eq(ec_ping(&c), 0, "ec_ping: %s", c.err);
	send_bytes(&h, ping, sizeof(ping));
	f = recv_reply(&h, &m);
	cr_assert(f->len == sizeof(pong) && memcmp(f->bytes, pong, sizeof(pong)) == 0,
		  "the PONG must echo the captured msgid exactly");
	mp_frame_free(f);
	mp_reader_free(&c.rd);
	helper_close_ok(&h);
}

Test(channel, version)
{
	struct helper h;
	struct ec_client c;
	struct ec_reply r;
	static const uint8_t args[] = { 0x90 }, kwargs[] = { 0x80 };
	char v[64];

	helper_start(&h, NULL, false);
	client_on(&c, &h);
	cr_assert_eq(ec_call_raw(&c, "ephcrypt.version", args, 1, kwargs, 1, &r), 0, "%s", c.err);
	cr_assert(r.ok, "ephcrypt.version must return, got %s", r.exc ? r.exc : "?");
	cr_assert_eq(r.value->type, MP_STR);
	copy_str(r.value, v, sizeof(v));
	cr_assert(strlen(v) >= 5 && strchr(v, '.') && v[0] >= '0' && v[0] <= '9',
		  "a version like 0.1.0, got '%s'", v);
	ec_reply_free(&r);
	mp_reader_free(&c.rd);
	helper_close_ok(&h);
}

Test(channel, unknown_name_is_name_error)
{
	struct helper h;
	struct mp_frame *f;
	struct ps_msg m;

	helper_start(&h, NULL, false);
	send_call(&h, "u-1", "nova.privsep.fs.nope", "90", "80");
	f = recv_reply(&h, &m);
	expect_err(f, &m, "u-1", "builtins.NameError",
		   "Invalid privsep function: nova.privsep.fs.nope not exported");
	mp_frame_free(f);
	/* Not a prefix match, not case-insensitive. */
	send_call(&h, "u-2", "ephcrypt.versio", "90", "80");
	f = recv_reply(&h, &m);
	expect_err(f, &m, "u-2", "builtins.NameError",
		   "Invalid privsep function: ephcrypt.versio not exported");
	mp_frame_free(f);
	send_call(&h, "u-3", "EPHCRYPT.VERSION", "90", "80");
	f = recv_reply(&h, &m);
	expect_err(f, &m, "u-3", "builtins.NameError",
		   "Invalid privsep function: EPHCRYPT.VERSION not exported");
	mp_frame_free(f);
	helper_close_ok(&h);
}

Test(channel, wrong_arg_count_is_type_error)
{
	struct helper h;
	struct mp_frame *f;
	struct ps_msg m;
	char msg[512];

	helper_start(&h, NULL, false);
	send_call(&h, "a-1", "ephcrypt.version", "91 01", "80");
	f = recv_reply(&h, &m);
	expect_err(f, &m, "a-1", "builtins.TypeError", NULL);
	copy_str(&m.args->v.items[0], msg, sizeof(msg));
	cr_assert(strstr(msg, "ephcrypt.version()") != NULL,
		  "the TypeError names the function: '%s'", msg);
	cr_assert(strstr(msg, "positional") != NULL, "and says what is wrong: '%s'", msg);
	mp_frame_free(f);
	helper_close_ok(&h);
}

Test(channel, unknown_kwarg_is_type_error)
{
	struct helper h;
	struct mp_frame *f;
	struct ps_msg m;

	helper_start(&h, NULL, false);
	send_call(&h, "k-1", "ephcrypt.version", "90", "81 a5 626f677573 01");
	f = recv_reply(&h, &m);
	expect_err(f, &m, "k-1", "builtins.TypeError",
		   "ephcrypt.version() got an unexpected keyword argument 'bogus'");
	mp_frame_free(f);
	/* request_id is accepted on every call (audit correlation) */
	send_call(&h, "k-2", "ephcrypt.version", "90", "81 aa 726571756573745f6964 a3 616263");
	f = recv_reply(&h, &m);
	expect_version_ret(&m, "k-2");
	mp_frame_free(f);
	helper_close_ok(&h);
}

Test(channel, protocol_errors_keep_the_channel)
{
	struct helper h;
	struct mp_frame *f;
	struct mp_buf b;
	struct ps_msg m;
	static const uint8_t kind9[] = { 0x92, 0xa2, 'p', '1', 0x91, 0x09 },
			     call3[] = { 0x92, 0xa2, 'p', '2', 0x93, 0x03, 0xa1, 'x', 0x90 },
			     ret[] = { 0x92, 0xa2, 'p', '3', 0x92, 0x04, 0xc0 };

	helper_start(&h, NULL, false);
	send_bytes(&h, kind9, sizeof(kind9));
	f = recv_reply(&h, &m);
	expect_err(f, &m, "p1", "oslo_privsep.daemon.ProtocolError", "Unknown privsep cmd: 9");
	mp_frame_free(f);
	send_bytes(&h, call3, sizeof(call3));
	f = recv_reply(&h, &m);
	expect_err(f, &m, "p2", "oslo_privsep.daemon.ProtocolError", NULL);
	mp_frame_free(f);
	send_bytes(&h, ret, sizeof(ret));
	f = recv_reply(&h, &m);
	expect_err(f, &m, "p3", "oslo_privsep.daemon.ProtocolError", "Unknown privsep cmd: 4");
	mp_frame_free(f);
	/* An out-of-band LOG from the client is ignored. */
	mp_buf_init(&b, 1024);
	cr_assert_eq(ps_log(&b, "client", 20, "hello"), 0);
	tx_buf(&h, &b);
	send_ping(&h, "p4");
	f = recv_reply(&h, &m);
	cr_assert(mp_str_eq(m.msgid, "p4") && m.kind == PS_PONG, "the channel still works");
	mp_frame_free(f);
	helper_close_ok(&h);
}

Test(channel, msgids_echoed_verbatim)
{
	/* Any value may be a msgid; the reply carries the same encoding. */
	static const char *const ids[] = {
		"01",
		"cd1234",
		"d0df",
		"c3",
		"cb3ff8000000000000",
		"93 01 a178 c0",
		"81 a16b 90",
		"c403 00ff10",
		"a4 ff c080 00",
	};

	for (size_t k = 0; k < sizeof(ids) / sizeof(ids[0]); k++) {
		struct helper h;
		struct mp_frame *f;
		struct ps_msg m;
		uint8_t msg[64], want[64];
		size_t n = 0, idn = 0;
		struct mp_buf b;

		for (const char *p = ids[k]; *p; p++) {
			unsigned v;

			if (*p == ' ')
				continue;
			cr_assert_eq(sscanf(p, "%2x", &v), 1);
			want[idn++] = (uint8_t)v;
			p++;
		}
		msg[n++] = 0x92;
		memcpy(msg + n, want, idn);
		n += idn;
		msg[n++] = 0x91;
		msg[n++] = 0x01;
		helper_start(&h, NULL, false);
		send_bytes(&h, msg, n);
		f = recv_reply(&h, &m);
		cr_assert_eq(m.kind, PS_PONG);
		mp_buf_init(&b, 64);
		cr_assert_eq(mp_put_value(&b, m.msgid), 0);
		cr_assert(b.len == idn && memcmp(b.data, want, idn) == 0,
			  "msgid %s echoed verbatim", ids[k]);
		mp_buf_free(&b);
		mp_frame_free(f);
		helper_close_ok(&h);
	}
}

/* [msgid, body] with a bin msgid of idlen bytes of 'i'; body is raw msgpack. */
static void
send_with_long_id(struct helper *h, size_t idlen, const uint8_t *body, size_t blen)
{
	struct mp_buf b;
	uint8_t *id = malloc(idlen);

	cr_assert_not_null(id);
	memset(id, 'i', idlen);
	mp_buf_init(&b, idlen + blen + 64);
	cr_assert_eq(mp_put_array(&b, 2) || mp_put_bin(&b, id, idlen) || mp_put_raw(&b, body, blen),
		     0);
	tx_buf(h, &b);
	free(id);
}

static void
expect_long_id(const struct ps_msg *m, size_t idlen)
{
	cr_assert(m->msgid->type == MP_BIN && m->msgid->len == idlen,
		  "the reply echoes the whole %zu-byte msgid (got %zu bytes)", idlen,
		  m->msgid->len);
}

Test(channel, long_msgids_get_whole_replies)
{
	/* Every reply has room for the msgid it echoes: none is dropped or sent in part. */
	static const uint8_t ping[] = { 0x91, 0x01 }, kind9[] = { 0x91, 0x09 },
			     version[] = { 0x94, 0x03, 0xb0, 'e', 'p', 'h',  'c',
					   'r',	 'y',  'p',  't', '.', 'v',  'e',
					   'r',	 's',  'i',  'o', 'n', 0x90, 0x80 };
	const char *const big[] = { "--max-message", "33554432", NULL };
	struct mp_limits lim;
	struct helper h;
	struct mp_frame *f;
	struct ps_msg m;

	helper_start(&h, big, false);
	mp_reader_free(&h.rd); /* this test client must read replies bigger than 1 MiB */
	mp_limits_default(&lim);
	lim.max_message = 64u << 20;
	cr_assert_eq(mp_reader_init(&h.rd, &lim), 0);
	send_with_long_id(&h, 1500, ping, sizeof(ping));
	f = recv_reply(&h, &m);
	cr_assert_eq(m.kind, PS_PONG, "PING with a 1,500-byte msgid gets its PONG");
	expect_long_id(&m, 1500);
	mp_frame_free(f);
	send_with_long_id(&h, 100000, kind9, sizeof(kind9));
	f = recv_reply(&h, &m);
	expect_long_id(&m, 100000);
	cr_assert(m.kind == PS_ERR && mp_str_eq(m.name, "oslo_privsep.daemon.ProtocolError"),
		  "an unknown command with a 100 kB msgid gets its ProtocolError");
	mp_frame_free(f);
	send_with_long_id(&h, 17u << 20, version, sizeof(version));
	f = recv_reply(&h, &m);
	expect_long_id(&m, 17u << 20);
	cr_assert_eq(m.kind, PS_RET,
		     "a call with a 17 MiB msgid (over the 16 MiB reply room) returns");
	mp_frame_free(f);
	send_ping(&h, "after");
	f = recv_reply(&h, &m);
	cr_assert(mp_str_eq(m.msgid, "after") && m.kind == PS_PONG, "the stream is still in step");
	mp_frame_free(f);
	helper_close_ok(&h);
}

/* --- limits ------------------------------------------------------------------------ */

static const char *const small_limit[] = { "--max-message", "4096", NULL };

/* [id, [3, name, [str of n], {}]] */
static void
send_big_call(struct helper *h, const char *id, const char *name, size_t n)
{
	struct mp_buf b;
	char *s = malloc(n);

	memset(s, 'b', n);
	mp_buf_init(&b, 1u << 24);
	cr_assert_eq(ps_call_begin(&b, id, name, 1) || mp_put_strn(&b, s, n) || mp_put_map(&b, 0),
		     0);
	free(s);
	tx_buf(h, &b);
}

Test(channel, over_limit_call_gets_value_error_and_channel_survives)
{
	struct helper h;
	struct ec_client c;
	struct ec_reply r;
	struct mp_frame *f;
	struct ps_msg m;
	char msg[512];
	static const uint8_t args[] = { 0x90 }, kwargs[] = { 0x80 };

	helper_start(&h, small_limit, false);
	send_big_call(&h, "big-1", "ephcrypt.version", 10 * 1024);
	f = recv_reply(&h, &m);
	expect_err(f, &m, "big-1", "builtins.ValueError", NULL);
	copy_str(&m.args->v.items[0], msg, sizeof(msg));
	cr_assert(strstr(msg, "4096") != NULL, "the ValueError states the limit: '%s'", msg);
	mp_frame_free(f);
	/* Then the next call works. */
	client_on(&c, &h);
	cr_assert_eq(ec_call_raw(&c, "ephcrypt.version", args, 1, kwargs, 1, &r), 0, "%s", c.err);
	cr_assert(r.ok, "the call after an over-limit one must succeed");
	ec_reply_free(&r);
	cr_assert_eq(ec_ping(&c), 0, "and PING: %s", c.err);
	mp_reader_free(&c.rd);
	/* A second over-limit call, then a good one, pipelined. */
	send_big_call(&h, "big-2", "nova.privsep.fs.lvlist", 50 * 1024);
	send_call(&h, "after", "ephcrypt.version", "90", "80");
	f = recv_reply(&h, &m);
	expect_err(f, &m, "big-2", "builtins.ValueError", NULL);
	mp_frame_free(f);
	f = recv_reply(&h, &m);
	expect_version_ret(&m, "after");
	mp_frame_free(f);
	helper_close_ok(&h);
}

/*
 * The over-limit str is the last item of the CALL (a kwargs value) and its
 * payload holds CALL messages: they must be dropped with it, never run.
 * (The reader once took the message as complete as soon as the str's
 * header was read, and ran 286 CALLs from inside the str.) The header goes
 * first, alone, so that the helper has certainly read it before the payload
 * arrives.
 */
Test(channel, over_limit_payload_is_never_executed)
{
	struct helper h;
	struct mp_buf b, inner;
	struct ps_msg m;
	unsigned smuggled = 0, value_errors = 0, early = 0;
	bool pong = false;
	struct mp_frame *f;

	helper_start(&h, small_limit, false);
	mp_buf_init(&inner, 1u << 20);
	while (inner.len < 10000)
		put_call(&inner, "evil", "nova.privsep.fs.smuggled", "90", "80");
	mp_buf_init(&b, 1u << 20);
	cr_assert_eq(mp_put_array(&b, 2) || mp_put_str(&b, "big-3") || mp_put_array(&b, 4) ||
			     mp_put_uint(&b, PS_CALL) || mp_put_str(&b, "ephcrypt.version") ||
			     mp_put_array(&b, 0) || mp_put_map(&b, 1) || mp_put_str(&b, "k") ||
			     msgpack_pack_str(&b.pk, inner.len),
		     0);
	tx_buf(&h, &b);
	/* A correct helper cannot answer yet: the str is still arriving. */
	while (recv_frame(&h, 500, &f) == RX_FRAME) {
		if (ps_parse(f->root, &m) == PS_OK && !m.oob)
			early++;
		mp_frame_free(f);
	}
	send_bytes(&h, inner.data, inner.len);
	mp_buf_free(&inner);
	send_ping(&h, "after");
	while (!pong) {
		f = recv_reply(&h, &m);
		if (mp_str_eq(m.msgid, "evil"))
			smuggled++;
		else if (mp_str_eq(m.msgid, "big-3") && m.kind == PS_ERR)
			value_errors++;
		else if (mp_str_eq(m.msgid, "after") && m.kind == PS_PONG)
			pong = true;
		mp_frame_free(f);
	}
	cr_expect_eq(early, 0,
		     "the helper answered the over-limit CALL before its str had arrived");
	cr_expect_eq(value_errors + early, 1, "one ValueError for the over-limit CALL");
	cr_expect_eq(smuggled, 0,
		     "the helper ran %u CALLs taken from inside the dropped message's str payload",
		     smuggled);
	helper_close_ok(&h);
}

/* An over-deep CALL gets a ValueError for its msgid, and the channel goes on. */
Test(channel, over_deep_call_gets_value_error)
{
	struct helper h;
	struct mp_frame *f;
	struct ps_msg m;
	uint8_t msg[128];
	size_t n = 0;
	static const uint8_t head[] = {
		0x92, 0xa4, 'd', 'e', 'e', 'p', 0x94, 0x03, 0xa1, 'x', 0x91
	};

	memcpy(msg, head, sizeof(head));
	n = sizeof(head);
	memset(msg + n, 0x91, 40);
	n += 40;
	msg[n++] = 0x01;
	msg[n++] = 0x80;
	helper_start(&h, NULL, false);
	send_bytes(&h, msg, n);
	send_call(&h, "after", "ephcrypt.version", "90", "80");
	f = recv_reply(&h, &m);
	expect_err(f, &m, "deep", "builtins.ValueError", NULL);
	mp_frame_free(f);
	f = recv_reply(&h, &m);
	expect_version_ret(&m, "after");
	mp_frame_free(f);
	helper_close_ok(&h);
}

/*
 * A map32 declaring 2^31 pairs: 2^32 items, more than any limit. (The
 * reader once reported MP_E_TOO_MANY for it without dropping it, and the
 * helper answered with one ValueError per loop, forever.) At most one reply
 * for the msgid, and the channel closed or still working.
 */
Test(channel, too_many_pairs_answered_once)
{
	static const uint8_t msg[] = { 0x92, 0xa4, 'm',	 'a',  'n',  'y',  0x94, 0x03,
				       0xa1, 'x',  0x90, 0xdf, 0x80, 0x00, 0x00, 0x00 };
	struct helper h;
	unsigned replies = 0;
	enum rx rx = RX_FRAME;

	helper_start(&h, NULL, false);
	send_bytes(&h, msg, sizeof(msg));
	shutdown(h.fd, SHUT_WR);
	while (replies < 1000) {
		struct mp_frame *f;
		struct ps_msg m;

		rx = recv_frame(&h, 3000, &f);
		if (rx != RX_FRAME)
			break;
		if (ps_parse(f->root, &m) == PS_OK && mp_str_eq(m.msgid, "many"))
			replies++;
		mp_frame_free(f);
	}
	cr_expect_leq(replies, 1, "the helper sent %s%u replies for one over-limit message",
		      replies >= 1000 ? "at least " : "", replies);
	cr_expect_eq(rx, RX_EOF, "the helper must close the channel once the stream is unusable");
	helper_stop(&h);
}

/* An over-limit message whose msgid cannot be answered: the channel is closed. */
Test(channel, over_limit_with_huge_msgid_closes)
{
	struct helper h;
	struct mp_buf b;
	char *id = malloc(6000), *err;
	int st;

	memset(id, 'i', 5999);
	id[5999] = '\0';
	helper_start(&h, small_limit, true);
	mp_buf_init(&b, 1u << 20);
	cr_assert_eq(ps_ping(&b, id), 0);
	free(id);
	tx_buf(&h, &b);
	cr_assert_eq(drain_to_eof(&h, TIMEOUT_MS), 0, "no reply can be addressed");
	st = helper_wait(&h);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0, "the helper exits non-zero (0x%x)", st);
	err = helper_stderr(&h);
	cr_assert(strstr(err, "size limit") != NULL, "stderr says why: '%s'", err);
	free(err);
	helper_stop(&h);
}

/* --- garbage and EOF -------------------------------------------------------------- */

/* Send bytes, expect the channel closed, a non-zero exit, and one line on stderr naming `why`. */
static void
expect_closed_by(const uint8_t *p, size_t n, bool eof_after, const char *why)
{
	struct helper h;
	char *err, *nl;
	int st;

	helper_start(&h, NULL, true);
	send_bytes(&h, p, n);
	if (eof_after)
		shutdown(h.fd, SHUT_WR);
	cr_assert_eq(drain_to_eof(&h, TIMEOUT_MS), 0, "no reply to garbage (%s)", why);
	st = helper_wait(&h);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) != 0,
		  "after %s the helper must exit non-zero (status 0x%x)", why, st);
	err = helper_stderr(&h);
	nl = strchr(err, '\n');
	cr_assert(nl != NULL && nl[1] == '\0', "exactly one line on stderr, got '%s'", err);
	cr_assert(strstr(err, why) != NULL, "stderr names the reason '%s': '%s'", why, err);
	free(err);
	helper_stop(&h);
}

Test(channel, garbage_c1_closes)
{
	static const uint8_t c1[] = { 0xc1 };

	expect_closed_by(c1, sizeof(c1), false, "invalid or unsupported msgpack type byte");
}

Test(channel, garbage_ext_closes)
{
	static const uint8_t ext[] = { 0x92, 0xa1, '1', 0xd4, 0x01, 0x00 };

	expect_closed_by(ext, sizeof(ext), false, "invalid or unsupported msgpack type byte");
}

Test(channel, garbage_not_a_pair_closes)
{
	static const uint8_t three[] = { 0x93, 0x01, 0x02, 0x03 };

	expect_closed_by(three, sizeof(three), false, "not a [msgid, body] pair");
}

Test(channel, garbage_body_closes)
{
	static const uint8_t body[] = { 0x92, 0xa1, '1', 0x05 };

	expect_closed_by(body, sizeof(body), false, "message body is not an array");
}

Test(channel, garbage_too_deep_closes)
{
	uint8_t deep[64];

	memset(deep, 0x91, 40);
	deep[40] = 0x01;
	expect_closed_by(deep, 41, false, "nested too deeply");
}

Test(channel, eof_inside_a_message_closes)
{
	static const uint8_t part[] = { 0x92, 0xa1, '1', 0x94, 0x03 };

	expect_closed_by(part, sizeof(part), true, "stream ended inside a message");
}

Test(channel, eof_exits_zero)
{
	struct helper h;
	char *err;

	helper_start(&h, NULL, true);
	send_ping(&h, "last");
	shutdown(h.fd, SHUT_WR);
	cr_assert_eq(drain_to_eof(&h, TIMEOUT_MS), 1, "the PONG, then EOF");
	cr_assert(WIFEXITED(helper_wait(&h)) && WEXITSTATUS(h.status) == 0,
		  "EOF between messages: exit 0 (status 0x%x)", h.status);
	err = helper_stderr(&h);
	cr_assert_str_empty(err, "a clean exit writes nothing to stderr");
	free(err);
	helper_stop(&h);
}

Test(channel, eof_at_once_exits_zero)
{
	struct helper h;

	helper_start(&h, NULL, false);
	helper_close_ok(&h);
}

/* --- pipelining ----------------------------------------------------------------------- */

Test(channel, hundred_calls_pipelined)
{
	enum { N = 100 };
	struct helper h;
	struct mp_buf b;
	bool seen[N] = { false };

	helper_start(&h, NULL, false);
	mp_buf_init(&b, 1u << 20);
	for (int k = 0; k < N; k++) {
		char id[16];

		snprintf(id, sizeof(id), "c-%03d", k);
		if (k % 10 == 3)
			put_call(&b, id, "nova.privsep.fs.nope", "90", "80");
		else if (k % 10 == 7)
			cr_assert_eq(ps_ping(&b, id), 0);
		else
			put_call(&b, id, "ephcrypt.version", "90", "80");
	}
	tx_buf(&h, &b); /* all 100 before reading any reply */
	for (int n = 0; n < N; n++) {
		struct ps_msg m;
		struct mp_frame *f = recv_reply(&h, &m);
		char id[16];
		int k;

		copy_str(m.msgid, id, sizeof(id));
		cr_assert(sscanf(id, "c-%d", &k) == 1 && k >= 0 && k < N, "unexpected msgid '%s'",
			  id);
		cr_assert(!seen[k], "msgid '%s' answered twice", id);
		seen[k] = true;
		if (k % 10 == 3)
			expect_err(f, &m, id, "builtins.NameError", NULL);
		else if (k % 10 == 7)
			cr_assert_eq(m.kind, PS_PONG, "'%s' is a PING", id);
		else
			expect_version_ret(&m, id);
		mp_frame_free(f);
	}
	helper_close_ok(&h);
}

/* --- the shared client --------------------------------------------------------- */

/* argv for ec_spawn: the helper and its base arguments. */
static void
spawn_argv(char **argv, size_t cap)
{
	size_t n = 0;

	argv[n++] = (char *)helper_path();
	helper_base_args((const char **)argv, &n, cap - 1);
	argv[n] = NULL;
}

Test(channel, ec_spawn_and_close)
{
	struct ec_client c;
	char *argv[24];
	int st;

	spawn_argv(argv, 24);
	cr_assert_eq(ec_spawn(&c, argv), 0, "ec_spawn(%s)", argv[0]);
	cr_assert_eq(ec_ping(&c), 0, "ec_ping: %s", c.err);
	st = ec_close(&c);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "ec_close: helper status 0x%x", st);
}

/*
 * ec_spawn() when the socketpair's second fd is 3 (stdin closed, so the pair
 * is {0, 3}): dup2(3, 3) is a no-op that would leave FD_CLOEXEC set, and the
 * helper would start without its channel.
 */
Test(channel, ec_spawn_with_stdin_closed)
{
	struct ec_client c;
	char *argv[24];
	int saved0 = fcntl(0, F_DUPFD_CLOEXEC, 10), saved3 = -1, st, ping;

	spawn_argv(argv, 24);
	if (fcntl(3, F_GETFD) >= 0) {
		saved3 = fcntl(3, F_DUPFD_CLOEXEC, 10);
		close(3);
	}
	close(0);
	memset(&c, 0, sizeof(c));
	st = ec_spawn(&c, argv);
	/* restore the test process's fds before asserting */
	if (st != 0) {
		/* nothing to move */
	} else if (c.fd != 0) {
		int moved = fcntl(c.fd, F_DUPFD_CLOEXEC, 10);

		close(c.fd);
		c.fd = moved;
	} else {
		c.fd = fcntl(0, F_DUPFD_CLOEXEC, 10);
		close(0);
	}
	dup2(saved0, 0);
	close(saved0);
	if (saved3 >= 0) {
		dup2(saved3, 3);
		close(saved3);
	}
	cr_assert_eq(st, 0, "ec_spawn");
	ping = ec_ping(&c);
	st = ec_close(&c);
	cr_expect_eq(ping, 0,
		     "the helper spawned with stdin closed must get its channel on fd 3 (%s)",
		     c.err);
	cr_expect(WIFEXITED(st) && WEXITSTATUS(st) == 0, "helper status 0x%x", st);
}

/*
 * An operation that cannot be recorded is not acknowledged: once the audit
 * log fails (here /dev/full: ENOSPC), every further request is refused.
 */
Test(channel, broken_audit_log_refuses_requests)
{
	static const char *const full_log[] = { "--audit-log", "/dev/full", NULL };
	struct helper h;
	struct mp_frame *f;
	struct ps_msg m;
	char got[600];

	helper_start(&h, full_log, false);
	send_call(&h, "a-1", "nova.privsep.fs.nope", "90", "80");
	f = recv_reply(&h, &m);
	expect_err(f, &m, "a-1", "builtins.NameError", NULL);
	mp_frame_free(f);
	/* vg_info("ephcrypt-test"): refused before anything runs */
	send_call(&h, "a-2", "ephcrypt.vg_info", "91 ad 657068637279 70742d74657374", "80");
	f = recv_reply(&h, &m);
	cr_assert(mp_str_eq(m.msgid, "a-2") && m.kind == PS_ERR, "a-2 must be refused");
	copy_str(m.name, got, sizeof(got));
	cr_assert_str_eq(got, "builtins.OSError");
	cr_assert(m.args->len == 2 && m.args->v.items[1].type == MP_STR, "OSError(errno, msg)");
	copy_str(&m.args->v.items[1], got, sizeof(got));
	cr_assert(strncmp(got, "ephcrypt.vg_info refused: the audit log cannot be written (", 59) ==
				  0 &&
			  strstr(got, "/dev/full") && strstr(got, "No space left on device"),
		  "the refusal names the log and why it failed: '%s'", got);
	mp_frame_free(f);
	helper_close_ok(&h);
}

/*
 * A log cut under the helper (logrotate's copytruncate) is found before the
 * next request is acted on: that request is refused, not carried out and only
 * then found unrecordable, and nothing more is written.
 */
Test(channel, request_after_a_truncated_log_is_refused_before_acting)
{
	struct helper h;
	struct mp_frame *f;
	struct ps_msg m;
	struct stat st;
	char got[600];

	helper_start(&h, NULL, false);
	send_call(&h, "t-1", "nova.privsep.fs.nope", "90", "80");
	f = recv_reply(&h, &m);
	expect_err(f, &m, "t-1", "builtins.NameError", NULL);
	mp_frame_free(f);
	cr_assert_eq(stat(audit_path, &st), 0);
	cr_assert_gt(st.st_size, 0, "the first call was recorded");
	cr_assert_eq(truncate(audit_path, 0), 0);
	/* lv_remove("ephcrypt-test", "x"): would be denied by the policy, if it ran */
	send_call(&h, "t-2", "ephcrypt.lv_remove", "92 ad 657068637279 70742d74657374 a1 78", "80");
	f = recv_reply(&h, &m);
	cr_assert(mp_str_eq(m.msgid, "t-2") && m.kind == PS_ERR, "t-2 must be refused");
	copy_str(m.name, got, sizeof(got));
	cr_assert_str_eq(got, "builtins.OSError", "refused for the log, not by the policy");
	copy_str(&m.args->v.items[1], got, sizeof(got));
	cr_assert(strstr(got, "ephcrypt.lv_remove refused: the audit log cannot be written (") &&
			  strstr(got, audit_path) && strstr(got, "shrank from"),
		  "the refusal names the log and why: '%s'", got);
	mp_frame_free(f);
	cr_assert_eq(stat(audit_path, &st), 0);
	cr_assert_eq(st.st_size, 0, "nothing was written after the cut");
	helper_close_ok(&h);
}

/*
 * Rotation by rename (the shipped logrotate file): the sandboxed helper, whose
 * mounts are read-only but for the log's folder, makes the log again, 0600,
 * and records there.
 */
Test(channel, renamed_log_is_made_again_by_the_sandboxed_helper)
{
	char rotated[128];
	struct helper h;
	struct mp_frame *f;
	struct ps_msg m;
	struct stat st;

	helper_start(&h, NULL, false);
	snprintf(rotated, sizeof(rotated), "%s.1", audit_path);
	for (int i = 0; i < 2; i++) {
		send_call(&h, i ? "r-2" : "r-1", "nova.privsep.fs.nope", "90", "80");
		f = recv_reply(&h, &m);
		expect_err(f, &m, i ? "r-2" : "r-1", "builtins.NameError", NULL);
		mp_frame_free(f);
		if (i == 0)
			cr_assert_eq(rename(audit_path, rotated), 0);
	}
	cr_assert_eq(stat(audit_path, &st), 0, "the helper made the log again: %s",
		     strerror(errno));
	cr_assert_eq(st.st_mode & 07777, 0600);
	cr_assert_gt(st.st_size, 0, "the second call was recorded in the new file");
	helper_close_ok(&h);
	unlink(rotated);
}
