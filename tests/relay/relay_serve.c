/* SPDX-License-Identifier: Apache-2.0 */
/*
 * relay_serve: a test-only privsep "helper" that answers PING itself and
 * relays every CALL whose name matches --forward to privsep-helper through
 * helper/relay.c, in one single-threaded poll() loop.  It is the reference
 * for wiring the relay into ephcrypt-helper's serve loop (doc/relay.rst)
 * and lets oslo.privsep's real client and Nova's own functions drive the
 * relay (tests/relay/test_relay_oslo.py).  No policy, no sandbox: never
 * install it.
 *
 *   relay_serve [--forward ERE] [--record-log FILE] [--config-file F]...
 *               --privsep_context CTX --privsep_sock_path PATH
 */
#include <err.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../helper/relay.h"
#include "../../protocol/privsep.h"

#define MAX_ARGS  16
#define LINGER_MS 1000

struct loop {
	int fd;
	struct mp_reader rd;
	struct relay *relay;
	regex_t forward;
	struct mp_frame *held; /* a CALL the relay could not take yet */
	bool caller_eof;
	/* Our own replies, whole frames; written before switching to the relay's. */
	uint8_t *own;
	size_t own_len, own_off;
	bool relay_frame_started;
	FILE *records;
};

static void
on_record(const struct relay_record *rec, void *arg)
{
	static const char *const names[] = { "RET", "ERR", "LIMIT", "LOST" };
	FILE *f = arg;

	if (f) {
		fprintf(f,
			"{\"entrypoint\": \"%s\", \"outcome\": \"%s\", \"class\": \"%s\", "
			"\"duration_us\": %llu}\n",
			rec->entrypoint, names[rec->outcome], rec->exc_class,
			(unsigned long long)rec->duration_us);
		fflush(f);
	}
}

static void
own_reply(struct loop *l, const struct mp_buf *b)
{
	uint8_t *n = realloc(l->own, l->own_len + b->len);

	if (!n)
		errx(1, "out of memory");
	memcpy(n + l->own_len, b->data, b->len);
	l->own = n;
	l->own_len += b->len;
}

static void
reply_error(struct loop *l, const struct ps_msg *m, const char *cls, const char *msg)
{
	struct mp_buf b;

	mp_buf_init(&b, 1u << 16);
	if (!ps_put_id(&b, m->msgid) && !mp_put_array(&b, 3) && !mp_put_uint(&b, PS_ERR) &&
	    !mp_put_str(&b, cls) && !mp_put_array(&b, 1) && !mp_put_str(&b, msg) && !b.overflow)
		own_reply(l, &b);
	mp_buf_free(&b);
}

/* true: done with the frame; false: hold it (the relay is full). */
static bool
on_call(struct loop *l, struct mp_frame *f, const struct ps_msg *m)
{
	char name[RELAY_NAME_MAX], msg[RELAY_NAME_MAX + 64];
	enum relay_status st;

	snprintf(name, sizeof(name), "%.*s", (int)m->name->len, (const char *)m->name->v.bytes);
	if (regexec(&l->forward, name, 0, NULL, 0) != 0) {
		snprintf(msg, sizeof(msg), "Invalid privsep function: %s not exported", name);
		reply_error(l, m, "builtins.NameError", msg);
		return true;
	}
	st = relay_forward_call(l->relay, f->bytes, f->len, m->msgid, name, strlen(name));
	if (st == RELAY_E_FULL || st == RELAY_E_BUSY)
		return false;
	if (st != RELAY_OK)
		reply_error(l, m, "builtins.OSError", relay_status_str(st));
	return true;
}

static bool
on_frame(struct loop *l, struct mp_frame *f)
{
	struct ps_msg m;
	struct mp_buf b;

	if (ps_parse(f->root, &m) != PS_OK || m.oob)
		return true; /* a real helper closes here; the test does not need it */
	if (m.kind == PS_CALL)
		return on_call(l, f, &m);
	mp_buf_init(&b, 512);
	if (m.kind == PS_PING && !ps_pong(&b, m.msgid) && !b.overflow)
		own_reply(l, &b);
	mp_buf_free(&b);
	return true;
}

static void
read_caller(struct loop *l)
{
	struct mp_frame *f;
	size_t room;
	uint8_t *p = mp_reader_space(&l->rd, &room);
	ssize_t n = recv(l->fd, p, room, MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		l->caller_eof = true;
	if (n <= 0)
		return;
	mp_reader_commit(&l->rd, (size_t)n);
	while (!l->held && mp_reader_next(&l->rd, &f) == MP_OK) {
		if (on_frame(l, f))
			mp_frame_free(f);
		else
			l->held = f;
	}
}

static void
retry_held(struct loop *l)
{
	struct ps_msg m;

	if (l->held && ps_parse(l->held->root, &m) == PS_OK && on_call(l, l->held, &m)) {
		mp_frame_free(l->held);
		l->held = NULL;
	}
}

/* One source at a time, switching only between whole frames. */
static void
write_caller(struct loop *l)
{
	for (;;) {
		const uint8_t *p;
		size_t len;
		ssize_t n;

		if (!l->relay_frame_started && l->own_off < l->own_len) {
			p = l->own + l->own_off;
			len = l->own_len - l->own_off;
		} else if (!(p = relay_output(l->relay, &len))) {
			return;
		}
		n = send(l->fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n <= 0)
			return;
		if (!l->relay_frame_started && l->own_off < l->own_len) {
			l->own_off += (size_t)n;
			if (l->own_off == l->own_len)
				l->own_off = l->own_len = 0;
		} else {
			relay_output_consume(l->relay, (size_t)n);
			l->relay_frame_started = relay_output_midframe(l->relay);
		}
	}
}

static bool
has_output(const struct loop *l)
{
	size_t len;

	return l->own_off < l->own_len || relay_output(l->relay, &len);
}

static unsigned
in_flight(const struct loop *l)
{
	struct relay_info i;

	relay_info(l->relay, &i);
	return i.in_flight;
}

/*
 * After privsep-helper died, stay until the caller has been idle for
 * LINGER_MS: oslo.privsep's client turns a reply it has just received into
 * "Premature eof" if the end of the stream follows before the waiting thread
 * has taken it (comm.py: set_exception after set_result wins).  Forwarded
 * calls meanwhile get the relay's ERR at once; the close that follows makes
 * oslo.privsep restart the helper, and so privsep-helper, on its next call.
 */
static int
serve(struct loop *l)
{
	for (;;) {
		struct pollfd pfd[2] = { { .fd = l->fd } };
		bool lingering = relay_closed(l->relay) && !has_output(l);
		int n;

		if (!l->caller_eof && !l->held)
			pfd[0].events |= POLLIN;
		if (has_output(l))
			pfd[0].events |= POLLOUT;
		relay_pollfd(l->relay, &pfd[1]);
		if (l->caller_eof && in_flight(l) == 0 && !has_output(l))
			return 0;
		n = poll(pfd, 2, lingering ? LINGER_MS : -1);
		if (n < 0 && errno != EINTR)
			err(1, "poll");
		if (n == 0 && lingering)
			return 0;
		if (pfd[0].revents & (POLLIN | POLLHUP | POLLERR))
			read_caller(l);
		relay_on_events(l->relay, pfd[1].revents);
		retry_held(l);
		write_caller(l);
	}
}

static int
connect_back(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof(sa.sun_path))
		errx(1, "socket path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		err(1, "connect %s", path);
	return fd;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "forward", required_argument, NULL, 'f' },
		{ "record-log", required_argument, NULL, 'r' },
		{ "config-file", required_argument, NULL, 'c' },
		{ "privsep_context", required_argument, NULL, 'x' },
		{ "privsep_sock_path", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *forward = ".*", *records = NULL, *sock = NULL, *cfgargs[MAX_ARGS + 1] = { 0 };
	struct relay_config cfg = { .stderr_fd = -1, .pass_start_logs = true };
	struct loop l = { .fd = -1 };
	char why[256], pattern[512];
	size_t ncfg = 0;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			forward = optarg;
		else if (c == 'r')
			records = optarg;
		else if (c == 'c' && ncfg + 2 <= MAX_ARGS) {
			cfgargs[ncfg++] = "--config-file";
			cfgargs[ncfg++] = optarg;
		} else if (c == 'x')
			cfg.context = optarg;
		else if (c == 's')
			sock = optarg;
		else
			errx(2, "usage: see tests/relay/relay_serve.c");
	}
	if (!cfg.context || !sock)
		errx(2, "--privsep_context and --privsep_sock_path are required");
	snprintf(pattern, sizeof(pattern), "^(%s)$", forward);
	if (regcomp(&l.forward, pattern, REG_EXTENDED | REG_NOSUB) != 0)
		errx(2, "bad --forward pattern");
	if (records && !(l.records = fopen(records, "a")))
		err(1, "%s", records);
	cfg.config_args = cfgargs;
	cfg.on_record = on_record;
	cfg.record_arg = l.records;
	l.fd = connect_back(sock);
	if (relay_start(&cfg, &l.relay, why, sizeof(why)) < 0)
		errx(1, "relay: %s", why);
	if (l.records) {
		struct relay_info i;

		relay_info(l.relay, &i);
		fprintf(l.records, "{\"daemon_pid\": %d}\n", (int)i.daemon_pid);
		fflush(l.records);
	}
	if (fork() > 0)
		_exit(0);
	signal(SIGPIPE, SIG_IGN);
	if (mp_reader_init(&l.rd, NULL) < 0 || fcntl(l.fd, F_SETFL, O_NONBLOCK) < 0)
		err(1, "set-up");
	c = serve(&l);
	relay_free(l.relay);
	return c;
}
