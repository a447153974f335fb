/* SPDX-License-Identifier: Apache-2.0 */
/*
 * helper/relay.c against the real thing: Debian's privsep-helper for
 * nova.privsep.sys_admin_pctxt (python3-nova), started by the relay as root,
 * driven with Nova's own wire names.  Needs root, privsep-helper and
 * python3-nova; exits 77 (skipped) without them.  No device-mapper needed:
 * only non-storage entrypoints are called.
 *
 * What it shows: the start-up (config file passed on, socket directory
 * gone, the daemon's own start-up LOG records passed to the caller);
 * last_bytes and readpty relayed unchanged; a call that blocks (last_bytes
 * on a FIFO blocks in open() until a writer comes) holds up neither other
 * calls nor the relay; both directions stay within their byte cap while the
 * other side stalls; killing the daemon fails the call in flight with a
 * clear error, a LOST record and a closed relay; a context privsep-helper
 * cannot load fails relay_start() cleanly.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../helper/relay.h"
#include "../../protocol/privsep.h"

#define CONTEXT	    "nova.privsep.sys_admin_pctxt"
#define MAX_RECORDS 64
#define MAX_REPLIES 64

static struct relay_info
info(const struct relay *r)
{
	struct relay_info i;

	relay_info(r, &i);
	return i;
}

static int failures;
static char workdir[64] = "/tmp/ephcrypt-relay-test.XXXXXX";
static char conf_path[128], file_path[128], fifo_path[128], fifo2_path[128];

#define CHECK(cond, ...)                                                                           \
	do {                                                                                       \
		if (cond) {                                                                        \
			printf("ok - ");                                                           \
		} else {                                                                           \
			printf("not ok - ");                                                       \
			failures++;                                                                \
		}                                                                                  \
		printf(__VA_ARGS__);                                                               \
		printf("\n");                                                                      \
	} while (0)

struct records {
	struct relay_record rec[MAX_RECORDS];
	char id[MAX_RECORDS][64];
	unsigned n;
};

static void
on_record(const struct relay_record *rec, void *arg)
{
	struct records *rs = arg;
	struct mp_frame *f = NULL;

	if (rs->n == MAX_RECORDS)
		return;
	rs->rec[rs->n] = *rec;
	rs->rec[rs->n].msgid = NULL; /* only valid during the call */
	if (mp_decode(rec->msgid, rec->msgid_len, NULL, &f) == MP_OK && f->root->type == MP_STR)
		snprintf(rs->id[rs->n], sizeof(rs->id[0]), "%.*s", (int)f->root->len,
			 (const char *)f->root->v.bytes);
	mp_frame_free(f);
	rs->n++;
}

static const struct relay_record *
record_of(const struct records *rs, const char *id)
{
	for (unsigned i = 0; i < rs->n; i++)
		if (strcmp(rs->id[i], id) == 0)
			return &rs->rec[i];
	return NULL;
}

/* Frames the caller received, decoded, in order. */
struct inbox {
	struct mp_frame *f[MAX_REPLIES * 4];
	unsigned n;
};

static void
inbox_clear(struct inbox *in)
{
	for (unsigned i = 0; i < in->n; i++)
		mp_frame_free(in->f[i]);
	in->n = 0;
}

/* Take every whole frame the relay has for the caller. */
static void
take_output(struct relay *r, struct inbox *in)
{
	const uint8_t *p;
	size_t len;
	struct mp_limits lim;

	mp_limits_default(&lim);
	lim.max_message = 8u << 20;
	while ((p = relay_output(r, &len))) {
		struct mp_frame *f = NULL;

		if (mp_decode(p, len, &lim, &f) == MP_OK &&
		    in->n < sizeof(in->f) / sizeof(in->f[0]))
			in->f[in->n++] = f;
		else
			mp_frame_free(f);
		relay_output_consume(r, len);
	}
}

static const struct mp_frame *
reply_for(const struct inbox *in, const char *id, struct ps_msg *m)
{
	for (unsigned i = 0; i < in->n; i++)
		if (ps_parse(in->f[i]->root, m) == PS_OK && !m->oob && mp_str_eq(m->msgid, id))
			return in->f[i];
	return NULL;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run the relay's side of a poll loop until the reply to id arrives (or,
 * with id NULL, for ms).  take: hand the output to the caller or not. */
static bool
pump(struct relay *r, struct inbox *in, const char *id, long ms, bool take)
{
	long end = now_ms() + ms;
	struct ps_msg m;

	for (;;) {
		struct pollfd pfd;
		long left = end - now_ms();

		if (take)
			take_output(r, in);
		if (id && reply_for(in, id, &m))
			return true;
		if (left <= 0 || relay_closed(r))
			return false;
		relay_pollfd(r, &pfd);
		if (poll(&pfd, 1, left > 100 ? 100 : (int)left) > 0)
			relay_on_events(r, pfd.revents);
	}
}

/* Until every forwarded call has been answered (replies come in any order). */
static bool
pump_all(struct relay *r, struct inbox *in, long ms)
{
	long end = now_ms() + ms;

	while (info(r).in_flight > 0 && now_ms() < end)
		pump(r, in, NULL, 100, true);
	take_output(r, in);
	return info(r).in_flight == 0;
}

/* A CALL frame: [id, [3, name, [path, num], {}]] (num < 0: [path] only). */
static enum relay_status
call(struct relay *r, const char *id, const char *name, const char *path, long num)
{
	struct mp_buf b;
	struct mp_frame *f = NULL;
	struct ps_msg m;
	enum relay_status st = RELAY_E_INVALID;

	mp_buf_init(&b, 1u << 20);
	if (!ps_call_begin(&b, id, name, num < 0 ? 1 : 2) && !mp_put_str(&b, path) &&
	    (num < 0 || !mp_put_uint(&b, (uint64_t)num)) && !mp_put_map(&b, 0) && !b.overflow &&
	    mp_decode(b.data, b.len, NULL, &f) == MP_OK && ps_parse(f->root, &m) == PS_OK)
		st = relay_forward_call(r, b.data, b.len, m.msgid, name, strlen(name));
	mp_frame_free(f);
	mp_buf_free(&b);
	return st;
}

static bool
is_ret_bin(const struct ps_msg *m, const char *want, uint64_t remaining)
{
	const struct mp_value *v = m->value;

	return m->kind == PS_RET && v->type == MP_ARRAY && v->len == 2 &&
	       v->v.items[0].type == MP_BIN && v->v.items[0].len == strlen(want) &&
	       memcmp(v->v.items[0].v.bytes, want, strlen(want)) == 0 &&
	       v->v.items[1].type == MP_UINT && v->v.items[1].v.u == remaining;
}

static bool
err_class_is(const struct ps_msg *m, const char *cls)
{
	return m->kind == PS_ERR && mp_str_eq(m->name, cls);
}

static void
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static bool
no_relay_dirs_left(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	bool clean = true;

	while (d && (e = readdir(d)))
		if (strncmp(e->d_name, "ephcrypt-relay.", 15) == 0)
			clean = false;
	if (d)
		closedir(d);
	return clean;
}

static struct relay *
start(struct records *rs, size_t max_buffered, const char *context, char *err, size_t errlen)
{
	static const char *args[3] = { "--config-file", conf_path, NULL };
	struct relay_config cfg = {
		.context = context,
		.config_args = args,
		.sock_parent = workdir,
		.stderr_fd = -1,
		.start_timeout_ms = 120000, /* a loaded machine: Python's start-up takes seconds */
		.max_buffered = max_buffered,
		.pass_start_logs = true,
		.on_record = on_record,
		.record_arg = rs,
	};
	struct relay *r = NULL;

	if (relay_start(&cfg, &r, err, errlen) < 0)
		return NULL;
	return r;
}

static bool
start_log_has(const struct inbox *in, const char *needle, const char *absent)
{
	for (unsigned i = 0; i < in->n; i++) {
		struct ps_msg m;
		const struct mp_value *msg;

		if (ps_parse(in->f[i]->root, &m) != PS_OK || !m.oob || m.kind != PS_LOG ||
		    !(msg = mp_map_get(m.value, "msg")) || msg->type != MP_STR ||
		    !memmem(msg->v.bytes, msg->len, needle, strlen(needle)))
			continue;
		return !absent || !memmem(msg->v.bytes, msg->len, absent, strlen(absent));
	}
	return false;
}

static void
test_start(struct relay *r, struct inbox *in)
{
	take_output(r, in);
	CHECK(start_log_has(in, "privsep daemon starting", NULL),
	      "the daemon's start-up LOG records reach the caller");
	/* nova's context asks for CAP_NET_ADMIN too; the test config leaves it out */
	CHECK(start_log_has(in, "CAP_SYS_ADMIN", "CAP_NET_ADMIN"),
	      "--config-file reached privsep-helper ([nova_sys_admin] capabilities applied)");
	CHECK(info(r).daemon_pid > 1 && kill(info(r).daemon_pid, 0) == 0,
	      "the daemon's pid is known (%d) and it runs", (int)info(r).daemon_pid);
	CHECK(no_relay_dirs_left(workdir), "the socket and its private directory are gone");
	inbox_clear(in);
}

static void
test_last_bytes(struct relay *r, struct inbox *in, struct records *rs)
{
	const struct relay_record *rec;
	struct ps_msg m;

	CHECK(call(r, "lb-1", "nova.privsep.path.last_bytes", file_path, 4) == RELAY_OK,
	      "last_bytes forwarded");
	CHECK(pump(r, in, "lb-1", 30000, true) && reply_for(in, "lb-1", &m) &&
		      is_ret_bin(&m, "cdef", 12),
	      "last_bytes(file, 4) -> RET [b'cdef', 12], as privsep-helper sent it");
	rec = record_of(rs, "lb-1");
	CHECK(rec && rec->outcome == RELAY_OUT_RET &&
		      strcmp(rec->entrypoint, "nova.privsep.path.last_bytes") == 0 &&
		      rec->exc_class[0] == '\0' && rec->started.tv_sec > 0,
	      "one record: entrypoint, RET, start time (took %llu us)",
	      rec ? (unsigned long long)rec->duration_us : 0ULL);
	CHECK(call(r, "lb-1b", "nova.privsep.path.last_bytes", file_path, 4) == RELAY_OK &&
		      call(r, "lb-1b", "nova.privsep.path.last_bytes", file_path, 4) ==
			      RELAY_E_DUPLICATE,
	      "a msgid already in flight is refused");
	pump(r, in, "lb-1b", 30000, true);
	inbox_clear(in);
}

static void
test_slow_call(struct relay *r, struct inbox *in, struct records *rs)
{
	const struct relay_record *rec;
	struct ps_msg m;
	int wfd;

	CHECK(call(r, "slow", "nova.privsep.path.last_bytes", fifo_path, 10) == RELAY_OK,
	      "last_bytes(FIFO) forwarded: it blocks in open() until a writer comes");
	CHECK(call(r, "pty", "nova.privsep.libvirt.readpty", file_path, -1) == RELAY_OK &&
		      call(r, "lb-2", "nova.privsep.path.last_bytes", file_path, 100) == RELAY_OK,
	      "readpty and last_bytes forwarded behind it");
	CHECK(pump(r, in, "pty", 30000, true) && reply_for(in, "pty", &m) && m.kind == PS_RET &&
		      mp_str_eq(m.value, "0123456789abcdef"),
	      "readpty(file) -> RET '0123456789abcdef' while the slow call is in flight");
	CHECK(pump(r, in, "lb-2", 30000, true) && reply_for(in, "lb-2", &m) &&
		      is_ret_bin(&m, "0123456789abcdef", 0),
	      "last_bytes(file, 100) -> RET [whole file, 0] while the slow call is in flight");
	pump(r, in, NULL, 300, true);
	CHECK(!reply_for(in, "slow", &m) && info(r).in_flight == 1,
	      "the slow call is still in flight (1 call)");
	wfd = open(fifo_path, O_WRONLY | O_NONBLOCK);
	if (wfd >= 0)
		close(wfd);
	CHECK(wfd >= 0 && pump(r, in, "slow", 30000, true) && reply_for(in, "slow", &m) &&
		      err_class_is(&m, "io.UnsupportedOperation"),
	      "once a writer came: ERR io.UnsupportedOperation (a FIFO cannot seek), relayed");
	rec = record_of(rs, "slow");
	CHECK(rec && rec->outcome == RELAY_OUT_ERR &&
		      strcmp(rec->exc_class, "io.UnsupportedOperation") == 0 &&
		      rec->duration_us >= 300000,
	      "its record: ERR, io.UnsupportedOperation, %llu us",
	      rec ? (unsigned long long)rec->duration_us : 0ULL);
	inbox_clear(in);
}

static unsigned
count_replies(const struct inbox *in, const char *prefix, uint64_t kind)
{
	unsigned n = 0;

	for (unsigned i = 0; i < in->n; i++) {
		struct ps_msg m;

		if (ps_parse(in->f[i]->root, &m) == PS_OK && !m.oob && m.msgid->type == MP_STR &&
		    m.msgid->len > strlen(prefix) &&
		    memcmp(m.msgid->v.bytes, prefix, strlen(prefix)) == 0 && m.kind == kind)
			n++;
	}
	return n;
}

/* The daemon stopped: the queue to it fills up to the cap, then FULL. */
static void
test_cap_to_daemon(struct relay *r, struct inbox *in, size_t cap)
{
	static char path[60001];
	pid_t pid = info(r).daemon_pid;
	unsigned sent = 0, full = 0;
	char id[32];
	struct pollfd pfd;

	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	kill(pid, SIGSTOP);
	for (unsigned i = 0; i < 40 && !full; i++) {
		enum relay_status st;

		snprintf(id, sizeof(id), "big-%u", i);
		st = call(r, id, "nova.privsep.path.last_bytes", path, 1);
		if (st == RELAY_OK)
			sent++;
		full = st == RELAY_E_FULL;
		relay_pollfd(r, &pfd);
		if (poll(&pfd, 1, 10) > 0)
			relay_on_events(r, pfd.revents);
	}
	relay_pollfd(r, &pfd);
	CHECK(full && (pfd.events & POLLOUT),
	      "daemon stopped: FULL after %u calls of 60 KB (cap %zu)", sent, cap);
	kill(pid, SIGCONT);
	CHECK(pump_all(r, in, 60000) && count_replies(in, "big-", PS_ERR) == sent,
	      "daemon resumed: every queued call was answered (ERR: file name too long)");
	inbox_clear(in);
}

/* The caller does not read: the relay stops reading the daemon near the cap. */
static void
test_cap_to_caller(struct relay *r, struct inbox *in, size_t cap)
{
	static char big[200001];
	unsigned i, n = 12;
	size_t most = 0;
	char id[32];

	memset(big, 'x', sizeof(big) - 1);
	write_file(file_path, big);
	for (i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "fat-%u", i);
		call(r, id, "nova.privsep.path.last_bytes", file_path, 200000);
	}
	for (long end = now_ms() + 5000; now_ms() < end;) {
		struct pollfd pfd;

		relay_pollfd(r, &pfd);
		if (poll(&pfd, 1, 100) > 0)
			relay_on_events(r, pfd.revents);
		if (info(r).output_bytes > most)
			most = info(r).output_bytes;
	}
	CHECK(most >= cap / 2 && most <= cap + MP_DEFAULT_MAX_MESSAGE && info(r).in_flight > 0,
	      "caller not reading: at most %zu bytes held for it (cap %zu), %u calls wait", most,
	      cap, info(r).in_flight);
	CHECK(pump_all(r, in, 60000) && count_replies(in, "fat-", PS_RET) == n,
	      "caller reads again: all %u replies of 200 KB arrive", n);
	inbox_clear(in);
	write_file(file_path, "0123456789abcdef");
}

static void
test_daemon_death(struct relay *r, struct inbox *in, struct records *rs)
{
	const struct relay_record *rec;
	struct ps_msg m;
	pid_t pid = info(r).daemon_pid;

	CHECK(call(r, "doomed", "nova.privsep.path.last_bytes", fifo2_path, 10) == RELAY_OK,
	      "a call that blocks is in flight");
	pump(r, in, NULL, 300, true);
	kill(pid, SIGKILL);
	CHECK(pump(r, in, "doomed", 30000, true) && reply_for(in, "doomed", &m) &&
		      err_class_is(&m, RELAY_LOST_CLASS),
	      "daemon killed: the call in flight gets ERR %s", RELAY_LOST_CLASS);
	rec = record_of(rs, "doomed");
	CHECK(rec && rec->outcome == RELAY_OUT_LOST, "its record says LOST");
	CHECK(relay_closed(r) && info(r).closed_reason[0] && info(r).in_flight == 0,
	      "the relay is closed: %s", info(r).closed_reason);
	CHECK(call(r, "late", "nova.privsep.path.last_bytes", file_path, 4) == RELAY_E_CLOSED,
	      "a later call is refused at once (RELAY_E_CLOSED)");
	inbox_clear(in);
}

static void
test_bad_context(void)
{
	struct records rs = { .n = 0 };
	char err[256] = "";
	struct relay *r = start(&rs, 0, "nova.privsep.no_such_pctxt", err, sizeof(err));

	CHECK(!r && strstr(err, "privsep-helper"), "an unknown context fails relay_start: %s", err);
	CHECK(no_relay_dirs_left(workdir), "... and leaves no socket directory behind");
	relay_free(r);
}

/* A helper that never connects, and one that fails: clear errors, in time. */
static void
test_bad_helpers(void)
{
	struct relay_config cfg = {
		.context = CONTEXT,
		.sock_parent = workdir,
		.stderr_fd = -1,
		.start_timeout_ms = 500,
	};
	static const char *const bad_args[] = { "--log-file", "/tmp/x", NULL };
	struct relay *r = NULL;
	char err[256] = "";
	long t0 = now_ms();

	cfg.helper_path = "/bin/true";
	CHECK(relay_start(&cfg, &r, err, sizeof(err)) < 0 && !r &&
		      strstr(err, "did not connect within 500 ms") && now_ms() - t0 < 5000,
	      "a helper that exits 0 without connecting: %s", err);
	cfg.helper_path = "/bin/false";
	CHECK(relay_start(&cfg, &r, err, sizeof(err)) < 0 && strstr(err, "exited with status 1"),
	      "a helper that fails: %s", err);
	cfg.helper_path = NULL;
	cfg.config_args = bad_args;
	CHECK(relay_start(&cfg, &r, err, sizeof(err)) < 0 && strstr(err, "--log-file"),
	      "only --config-file and --config-dir are passed on: %s", err);
	CHECK(no_relay_dirs_left(workdir), "... none leaves a socket directory behind");
}

static void
cleanup(void)
{
	unlink(conf_path);
	unlink(file_path);
	unlink(fifo_path);
	unlink(fifo2_path);
	rmdir(workdir);
}

static int
setup(void)
{
	if (geteuid() != 0 || access(RELAY_HELPER_PATH, X_OK) != 0 ||
	    system("/usr/bin/python3 -c 'import nova.privsep.path' 2>/dev/null") != 0) {
		printf("SKIP: needs root, %s and python3-nova\n", RELAY_HELPER_PATH);
		return 77;
	}
	if (!mkdtemp(workdir))
		return perror("mkdtemp"), 1;
	atexit(cleanup);
	snprintf(conf_path, sizeof(conf_path), "%s/nova.conf", workdir);
	snprintf(file_path, sizeof(file_path), "%s/console.log", workdir);
	snprintf(fifo_path, sizeof(fifo_path), "%s/slow.fifo", workdir);
	snprintf(fifo2_path, sizeof(fifo2_path), "%s/doomed.fifo", workdir);
	/* Enough threads that one blocked call leaves others free, whatever
	 * the CPU count; no CAP_NET_ADMIN, to see that the file was read. */
	write_file(conf_path, "[nova_sys_admin]\nthread_pool_size = 4\n"
			      "capabilities = CAP_CHOWN,CAP_DAC_OVERRIDE,CAP_DAC_READ_SEARCH,"
			      "CAP_FOWNER,CAP_SYS_ADMIN\n");
	write_file(file_path, "0123456789abcdef");
	if (mkfifo(fifo_path, 0600) < 0 || mkfifo(fifo2_path, 0600) < 0)
		return perror("mkfifo"), 1;
	return 0;
}

int
main(void)
{
	const size_t cap = 256u << 10;
	struct records rs = { .n = 0 };
	struct inbox in = { .n = 0 };
	char err[256] = "";
	struct relay *r;
	int rc = setup();

	if (rc)
		return rc;
	setvbuf(stdout, NULL, _IOLBF, 0);
	r = start(&rs, cap, CONTEXT, err, sizeof(err));
	CHECK(r != NULL, "relay_start: privsep-helper for %s is up%s%s", CONTEXT, r ? "" : ": ",
	      err);
	if (!r)
		return 1;
	test_start(r, &in);
	test_last_bytes(r, &in, &rs);
	test_slow_call(r, &in, &rs);
	test_cap_to_daemon(r, &in, cap);
	test_cap_to_caller(r, &in, cap);
	test_daemon_death(r, &in, &rs);
	CHECK(info(r).dropped == 0, "nothing from the daemon was dropped");
	relay_free(r);
	test_bad_context();
	test_bad_helpers();
	printf("%s: %d failed\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
