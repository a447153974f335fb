/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The relay to privsep-helper (relay.h says what and why).  Depends on the
 * protocol layer and libc only, so it can be tested on its own.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../protocol/privsep.h"
#include "relay.h"

#define START_MSGID	"ephcrypt-relay-start"
#define PID_LOG_PREFIX	"privsep daemon running as pid "
#define MAX_CONFIG_ARGS 32
#define REASON_MAX	256

/* A queued message: whole frames only, sent or taken in order. */
struct chunk {
	struct chunk *next;
	size_t len, off;
	uint8_t data[];
};

struct queue {
	struct chunk *head, *tail;
	size_t bytes; /* unsent bytes */
};

struct pending {
	bool used;
	uint8_t id[MP_MAX_MSGID];
	size_t idlen;
	char name[RELAY_NAME_MAX];
	struct timespec started, started_mono;
};

struct relay {
	int fd;
	char context[RELAY_NAME_MAX];
	size_t max_buffered;
	struct mp_reader rd;
	struct queue to_daemon, to_caller;
	struct pending *calls;
	unsigned max_calls, in_flight;
	relay_record_fn on_record;
	void *record_arg;
	pid_t daemon_pid;
	uint64_t dropped;
	unsigned unanswered;
	char closed_reason[REASON_MAX];
};

/* --- queues ------------------------------------------------------------- */

static int
queue_push(struct queue *q, const uint8_t *p, size_t n)
{
	struct chunk *c = malloc(sizeof(*c) + n);

	if (!c)
		return -1;
	c->next = NULL;
	c->len = n;
	c->off = 0;
	memcpy(c->data, p, n);
	if (q->tail)
		q->tail->next = c;
	else
		q->head = c;
	q->tail = c;
	q->bytes += n;
	return 0;
}

static void
queue_drop_head(struct queue *q)
{
	struct chunk *c = q->head;

	q->bytes -= c->len - c->off;
	q->head = c->next;
	if (!q->head)
		q->tail = NULL;
	explicit_bzero(c->data, c->len); /* a CALL's arguments may be secret */
	free(c);
}

static void
queue_clear(struct queue *q)
{
	while (q->head)
		queue_drop_head(q);
}

/* --- calls in flight ------------------------------------------------------ */

/* The canonical encoding of a msgid: how both sides' ids are compared. */
static int
encode_id(const struct mp_value *msgid, uint8_t *out, size_t *len)
{
	struct mp_buf b;
	int rc = -1;

	mp_buf_init(&b, MP_MAX_MSGID);
	if (msgid->type != MP_NIL && mp_put_value(&b, msgid) == 0 && !b.overflow) {
		memcpy(out, b.data, b.len);
		*len = b.len;
		rc = 0;
	}
	mp_buf_free(&b);
	return rc;
}

static struct pending *
find_call(struct relay *r, const uint8_t *id, size_t idlen)
{
	for (unsigned i = 0; i < r->max_calls; i++) {
		struct pending *p = &r->calls[i];

		if (p->used && p->idlen == idlen && memcmp(p->id, id, idlen) == 0)
			return p;
	}
	return NULL;
}

static struct pending *
free_slot(struct relay *r)
{
	for (unsigned i = 0; i < r->max_calls; i++)
		if (!r->calls[i].used)
			return &r->calls[i];
	return NULL;
}

static uint64_t
elapsed_us(const struct timespec *from)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - from->tv_sec) * 1000000 + (now.tv_nsec - from->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

static void
finish_call(struct relay *r, struct pending *p, enum relay_outcome outcome, const char *cls,
	    size_t clslen)
{
	struct relay_record rec = {
		.msgid = p->id,
		.msgid_len = p->idlen,
		.started = p->started,
		.duration_us = elapsed_us(&p->started_mono),
		.outcome = outcome,
	};

	snprintf(rec.entrypoint, sizeof(rec.entrypoint), "%s", p->name);
	if (cls)
		snprintf(rec.exc_class, sizeof(rec.exc_class), "%.*s", (int)clslen, cls);
	if (r->on_record)
		r->on_record(&rec, r->record_arg);
	p->used = false;
	r->in_flight--;
}

/* An ERR of the relay's own for a call: [id, [5, cls, [msg]]]. */
static void
reply_error(struct relay *r, struct pending *p, enum relay_outcome outcome, const char *cls,
	    const char *msg)
{
	struct mp_buf b;

	mp_buf_init(&b, p->idlen + strlen(cls) + strlen(msg) + 32);
	if (ps_err_msg_rawid(&b, p->id, p->idlen, cls, msg) == 0 && !b.overflow &&
	    queue_push(&r->to_caller, b.data, b.len) == 0)
		finish_call(r, p, outcome, cls, strlen(cls));
	else {
		r->unanswered++; /* no memory: only closing the channel tells that caller */
		finish_call(r, p, RELAY_OUT_LOST, NULL, 0);
	}
	mp_buf_free(&b);
}

/* --- the daemon's side ------------------------------------------------------ */

static void daemon_gone(struct relay *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
daemon_gone(struct relay *r, const char *fmt, ...)
{
	char msg[REASON_MAX + RELAY_NAME_MAX + 64];
	va_list ap;

	if (r->fd < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(r->closed_reason, sizeof(r->closed_reason), fmt, ap);
	va_end(ap);
	close(r->fd);
	r->fd = -1;
	queue_clear(&r->to_daemon);
	snprintf(msg, sizeof(msg),
		 "privsep-helper for %s is gone (%s): the call's outcome is unknown", r->context,
		 r->closed_reason);
	for (unsigned i = 0; i < r->max_calls; i++)
		if (r->calls[i].used)
			reply_error(r, &r->calls[i], RELAY_OUT_LOST, RELAY_LOST_CLASS, msg);
}

/* A LOG the client can digest: string keys and an integer levelno (the
 * client's reader thread dies on anything else, hanging every caller). */
static bool
log_record_ok(const struct mp_value *rec)
{
	const struct mp_value *levelno = mp_map_get(rec, "levelno");

	if (!levelno || (levelno->type != MP_UINT && levelno->type != MP_INT))
		return false;
	for (uint32_t i = 0; i < rec->len; i++)
		if (rec->v.items[2 * i].type != MP_STR)
			return false;
	return true;
}

static void
note_daemon_pid(struct relay *r, const struct mp_value *rec)
{
	const struct mp_value *msg = mp_map_get(rec, "msg");
	size_t n = strlen(PID_LOG_PREFIX);
	char digits[16];
	uint64_t pid;

	if (!msg || msg->type != MP_STR || msg->len <= n || msg->len - n >= sizeof(digits) ||
	    memcmp(msg->v.bytes, PID_LOG_PREFIX, n) != 0)
		return;
	memcpy(digits, msg->v.bytes + n, msg->len - n);
	digits[msg->len - n] = '\0';
	if (digits[strspn(digits, "0123456789")] == '\0' &&
	    (pid = strtoull(digits, NULL, 10)) > 1 && pid < (1u << 22))
		r->daemon_pid = (pid_t)pid;
}

static void
on_reply(struct relay *r, const struct mp_frame *f, const struct ps_msg *m)
{
	uint8_t id[MP_MAX_MSGID];
	size_t idlen;
	struct pending *p;

	if (encode_id(m->msgid, id, &idlen) < 0 || !(p = find_call(r, id, idlen))) {
		r->dropped++; /* a reply to nothing the relay forwarded */
		return;
	}
	if (queue_push(&r->to_caller, f->bytes, f->len) < 0) {
		daemon_gone(r, "out of memory");
		return;
	}
	if (m->kind == PS_RET)
		finish_call(r, p, RELAY_OUT_RET, NULL, 0);
	else
		finish_call(r, p, RELAY_OUT_ERR, (const char *)m->name->v.bytes, m->name->len);
}

/* One message from the daemon: pass it on, or not. */
static void
on_daemon_frame(struct relay *r, const struct mp_frame *f)
{
	struct ps_msg m;
	enum ps_status st = ps_parse(f->root, &m);

	if (st == PS_E_ENVELOPE || st == PS_E_BODY) {
		daemon_gone(r, "privsep-helper sent garbage: %s", ps_status_str(st));
		return;
	}
	if (st != PS_OK) {
		r->dropped++;
	} else if (m.oob && m.kind == PS_LOG && log_record_ok(m.value)) {
		note_daemon_pid(r, m.value);
		if (queue_push(&r->to_caller, f->bytes, f->len) < 0)
			daemon_gone(r, "out of memory");
	} else if (!m.oob && (m.kind == PS_RET || m.kind == PS_ERR)) {
		on_reply(r, f, &m);
	} else {
		r->dropped++;
	}
}

/* A reply over the limits was dropped by the reader: answer for it. */
static void
on_daemon_limit(struct relay *r, enum mp_status st)
{
	struct mp_frame *idf = NULL;
	uint8_t id[MP_MAX_MSGID];
	size_t idlen;
	struct pending *p = NULL;
	char msg[192];

	if (r->rd.msgid_known && mp_decode(r->rd.msgid, r->rd.msgid_len, NULL, &idf) == MP_OK &&
	    encode_id(idf->root, id, &idlen) == 0)
		p = find_call(r, id, idlen);
	mp_frame_free(idf);
	if (!p) {
		r->dropped++;
		return;
	}
	snprintf(msg, sizeof(msg), "privsep reply refused: %s (limits: %zu bytes, %zu items)",
		 mp_status_str(st), r->rd.lim.max_message, r->rd.lim.max_items);
	reply_error(r, p, RELAY_OUT_LIMIT, RELAY_LIMIT_CLASS, msg);
}

/* Every complete message buffered so far; -1 once the daemon is gone. */
static int
drain_frames(struct relay *r)
{
	for (;;) {
		struct mp_frame *f;
		enum mp_status st = mp_reader_next(&r->rd, &f);

		if (st == MP_NEED_MORE)
			return 0;
		if (st == MP_OK) {
			on_daemon_frame(r, f);
			mp_frame_free(f);
		} else if (st == MP_E_TOO_BIG || st == MP_E_TOO_MANY || st == MP_E_TOO_DEEP) {
			on_daemon_limit(r, st);
		} else {
			daemon_gone(r, "privsep-helper's stream broke: %s", mp_status_str(st));
		}
		if (r->fd < 0)
			return -1;
	}
}

void
relay_on_readable(struct relay *r)
{
	while (r->fd >= 0 && r->to_caller.bytes < r->max_buffered) {
		size_t room;
		uint8_t *p = mp_reader_space(&r->rd, &room);
		ssize_t n;

		if (room == 0) {
			daemon_gone(r, "out of memory");
			return;
		}
		n = recv(r->fd, p, room, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			if (n == 0)
				daemon_gone(r, "privsep-helper closed the connection");
			else
				daemon_gone(r, "reading from privsep-helper: %s", strerror(errno));
			return;
		}
		mp_reader_commit(&r->rd, (size_t)n);
		if (drain_frames(r) < 0)
			return;
	}
}

void
relay_on_writable(struct relay *r)
{
	while (r->fd >= 0 && r->to_daemon.head) {
		struct chunk *c = r->to_daemon.head;
		ssize_t n =
			send(r->fd, c->data + c->off, c->len - c->off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n < 0) {
			daemon_gone(r, "writing to privsep-helper: %s", strerror(errno));
			return;
		}
		c->off += (size_t)n;
		r->to_daemon.bytes -= (size_t)n;
		if (c->off == c->len)
			queue_drop_head(&r->to_daemon);
	}
}

void
relay_on_events(struct relay *r, short revents)
{
	if (revents & POLLOUT)
		relay_on_writable(r);
	/* Read first on a hang-up too: replies sent before it still count. */
	if (revents & (POLLIN | POLLHUP | POLLERR))
		relay_on_readable(r);
	if (r->fd >= 0 && (revents & (POLLHUP | POLLERR | POLLNVAL)) &&
	    r->to_caller.bytes < r->max_buffered)
		daemon_gone(r, "privsep-helper hung up");
}

void
relay_pollfd(const struct relay *r, struct pollfd *pfd)
{
	pfd->fd = r->fd;
	pfd->events = 0;
	pfd->revents = 0;
	if (r->to_caller.bytes < r->max_buffered)
		pfd->events |= POLLIN;
	if (r->to_daemon.head)
		pfd->events |= POLLOUT;
	/* Nothing wanted: a hang-up would be reported at once, again and again;
	 * it is seen when the caller has taken the replies that came before it. */
	if (pfd->events == 0)
		pfd->fd = -1;
}

/* --- the caller's side -------------------------------------------------------- */

enum relay_status
relay_forward_call(struct relay *r, const uint8_t *frame, size_t len, const struct mp_value *msgid,
		   const char *name, size_t namelen)
{
	struct pending *p;
	uint8_t id[MP_MAX_MSGID];
	size_t idlen;

	if (r->fd < 0)
		return RELAY_E_CLOSED;
	if (encode_id(msgid, id, &idlen) < 0 || namelen == 0 || namelen >= RELAY_NAME_MAX)
		return RELAY_E_INVALID;
	if (find_call(r, id, idlen))
		return RELAY_E_DUPLICATE;
	if (!(p = free_slot(r)))
		return RELAY_E_BUSY;
	if (r->to_daemon.head && r->to_daemon.bytes + len > r->max_buffered)
		return RELAY_E_FULL;
	if (queue_push(&r->to_daemon, frame, len) < 0)
		return RELAY_E_NOMEM;
	*p = (struct pending){ .used = true, .idlen = idlen };
	memcpy(p->id, id, idlen);
	memcpy(p->name, name, namelen);
	p->name[namelen] = '\0';
	clock_gettime(CLOCK_REALTIME, &p->started);
	clock_gettime(CLOCK_MONOTONIC, &p->started_mono);
	r->in_flight++;
	relay_on_writable(r); /* most calls leave at once: no poll round trip */
	return RELAY_OK;
}

const char *
relay_status_str(enum relay_status st)
{
	switch (st) {
	case RELAY_OK: return "ok";
	case RELAY_E_FULL: return "the queue to privsep-helper is full";
	case RELAY_E_BUSY: return "too many forwarded calls in flight";
	case RELAY_E_CLOSED: return "privsep-helper is gone";
	case RELAY_E_DUPLICATE: return "a call with this msgid is already in flight";
	case RELAY_E_INVALID: return "msgid or entrypoint name unusable";
	case RELAY_E_NOMEM: return "out of memory";
	default: break;
	}
	return "unknown relay status";
}

const uint8_t *
relay_output(const struct relay *r, size_t *len)
{
	const struct chunk *c = r->to_caller.head;

	if (!c) {
		*len = 0;
		return NULL;
	}
	*len = c->len - c->off;
	return c->data + c->off;
}

void
relay_output_consume(struct relay *r, size_t n)
{
	while (n > 0 && r->to_caller.head) {
		struct chunk *c = r->to_caller.head;
		size_t take = n < c->len - c->off ? n : c->len - c->off;

		c->off += take;
		r->to_caller.bytes -= take;
		n -= take;
		if (c->off == c->len)
			queue_drop_head(&r->to_caller);
	}
}

bool
relay_output_midframe(const struct relay *r)
{
	return r->to_caller.head && r->to_caller.head->off > 0;
}

bool
relay_closed(const struct relay *r)
{
	return r->fd < 0;
}

void
relay_set_record_fn(struct relay *r, relay_record_fn fn, void *arg)
{
	r->on_record = fn;
	r->record_arg = arg;
}

void
relay_info(const struct relay *r, struct relay_info *out)
{
	*out = (struct relay_info){
		.closed = r->fd < 0,
		.closed_reason = r->closed_reason,
		.in_flight = r->in_flight,
		.daemon_pid = r->daemon_pid,
		.dropped = r->dropped,
		.unanswered = r->unanswered,
		.output_bytes = r->to_caller.bytes,
	};
}

void
relay_shutdown(struct relay *r)
{
	if (r->fd >= 0)
		shutdown(r->fd, SHUT_WR);
}

void
relay_free(struct relay *r)
{
	if (!r)
		return;
	if (r->fd >= 0)
		close(r->fd); /* privsep-helper leaves its loop on EOF and exits */
	for (unsigned i = 0; r->calls && i < r->max_calls; i++)
		if (r->calls[i].used)
			finish_call(r, &r->calls[i], RELAY_OUT_LOST, NULL, 0);
	queue_clear(&r->to_daemon);
	queue_clear(&r->to_caller);
	mp_reader_free(&r->rd);
	free(r->calls);
	free(r);
}

/* --- start-up --------------------------------------------------------------- */

struct start {
	const struct relay_config *cfg;
	char dir[80], sock[108]; /* sock: sizeof(sun_path) */
	int lfd;
	pid_t pid;
	char *err;
	size_t errlen;
	struct timespec deadline;
	unsigned timeout_ms;
};

static int fail(struct start *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(struct start *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(s->err, s->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
check_config_args(struct start *s, const char *const *a)
{
	size_t n = 0;

	for (; a && a[n]; n += 2) {
		if (strcmp(a[n], "--config-file") != 0 && strcmp(a[n], "--config-dir") != 0)
			return fail(
				s,
				"privsep-helper option '%s' is not --config-file or --config-dir",
				a[n]);
		if (!a[n + 1] || a[n + 1][0] != '/')
			return fail(s, "%s needs an absolute path", a[n]);
		if (n + 2 > MAX_CONFIG_ARGS)
			return fail(s, "more than %d config options for privsep-helper",
				    MAX_CONFIG_ARGS / 2);
	}
	return 0;
}

static long
ms_left(const struct start *s)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (s->deadline.tv_sec - now.tv_sec) * 1000 +
	       (s->deadline.tv_nsec - now.tv_nsec) / 1000000;
}

/* A listening socket at <parent>/ephcrypt-relay.XXXXXX/privsep.sock, 0700 dir. */
static int
make_listener(struct start *s)
{
	const char *parent = s->cfg->sock_parent ? s->cfg->sock_parent : RELAY_SOCK_PARENT;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if ((size_t)snprintf(s->dir, sizeof(s->dir), "%s/ephcrypt-relay.XXXXXX", parent) >=
		    sizeof(s->dir) - sizeof("/privsep.sock") ||
	    !mkdtemp(s->dir)) {
		s->dir[0] = '\0';
		return fail(s, "cannot make a private directory under %s: %s", parent,
			    strerror(errno));
	}
	snprintf(s->sock, sizeof(s->sock), "%s/privsep.sock", s->dir);
	memcpy(sa.sun_path, s->sock, strlen(s->sock) + 1);
	s->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s->lfd < 0 || bind(s->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(s->lfd, 1) < 0)
		return fail(s, "cannot listen on %s: %s", s->sock, strerror(errno));
	return 0;
}

static void
exec_helper(const struct start *s)
{
	static const char *const default_env[] = {
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8",
		NULL
	};
	const char *argv[MAX_CONFIG_ARGS + 8];
	const char *const *a = s->cfg->config_args;
	size_t n = 0;
	sigset_t none;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);

	argv[n++] = s->cfg->helper_path ? s->cfg->helper_path : RELAY_HELPER_PATH;
	for (; a && *a; a++)
		argv[n++] = *a;
	argv[n++] = "--privsep_context";
	argv[n++] = s->cfg->context;
	argv[n++] = "--privsep_sock_path";
	argv[n++] = s->sock;
	argv[n] = NULL;
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0 ||
	    (s->cfg->stderr_fd >= 0 && dup2(s->cfg->stderr_fd, 2) < 0))
		_exit(126);
	closefrom(3);
	signal(SIGPIPE, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL); /* a serve loop may block signals */
	execve(argv[0], (char *const *)argv,
	       (char *const *)(s->cfg->env ? s->cfg->env : default_env));
	_exit(127);
}

/* privsep-helper connects, forks, and its first process exits 0. */
static int
await_connection(struct start *s, int *fd)
{
	bool exited = false;
	int status = 0;

	while (!exited || *fd < 0) {
		long left = ms_left(s);
		struct pollfd pfd = { .fd = s->lfd, .events = POLLIN };
		pid_t w = exited ? 0 : waitpid(s->pid, &status, WNOHANG);

		if (left <= 0)
			return fail(s, "privsep-helper did not connect within %u ms",
				    s->timeout_ms);
		if (w < 0 && errno == ECHILD) { /* reaped elsewhere: its status is lost */
			exited = true, s->pid = 0;
		} else if (w == s->pid) {
			exited = true, s->pid = 0;
			if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
				return fail(s, "privsep-helper exited with status %d",
					    WIFEXITED(status) ? WEXITSTATUS(status)
							      : 128 + WTERMSIG(status));
		}
		if (*fd < 0 && poll(&pfd, 1, left < 50 ? (int)left : 50) > 0)
			*fd = accept4(s->lfd, NULL, NULL, SOCK_CLOEXEC);
		else if (*fd >= 0 && !exited)
			poll(NULL, 0, 10);
	}
	return 0;
}

static int
check_peer(struct start *s, int fd)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return fail(s, "SO_PEERCRED on privsep-helper's connection: %s", strerror(errno));
	if (cred.uid != 0)
		return fail(s, "privsep-helper's connection comes from uid %u, not root",
			    (unsigned)cred.uid);
	return 0;
}

static void
start_cleanup(struct start *s)
{
	if (s->pid > 0) {
		kill(s->pid, SIGKILL);
		waitpid(s->pid, NULL, 0);
	}
	if (s->lfd >= 0)
		close(s->lfd);
	if (s->sock[0])
		unlink(s->sock);
	if (s->dir[0])
		rmdir(s->dir);
}

static int
spawn_and_accept(struct start *s, int *fd)
{
	if (make_listener(s) < 0)
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return fail(s, "fork: %s", strerror(errno));
	if (s->pid == 0)
		exec_helper(s);
	if (await_connection(s, fd) < 0 || check_peer(s, *fd) < 0)
		return -1;
	return 0;
}

static int
handshake_read(struct start *s, struct relay *r)
{
	size_t room;
	uint8_t *p = mp_reader_space(&r->rd, &room);
	ssize_t n = room ? recv(r->fd, p, room, MSG_DONTWAIT) : -1;

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n == 0)
		return fail(s, "privsep-helper closed the connection during start-up");
	if (n < 0)
		return fail(s, "reading from privsep-helper: %s",
			    room ? strerror(errno) : "no memory");
	mp_reader_commit(&r->rd, (size_t)n);
	return 0;
}

/* 1: our PONG came; 0: go on; -1: failed. */
static int
handshake_frame(struct start *s, struct relay *r, const struct mp_frame *f)
{
	struct ps_msg m;

	if (ps_parse(f->root, &m) != PS_OK)
		return fail(s, "privsep-helper sent a malformed message during start-up");
	if (m.oob && m.kind == PS_LOG && log_record_ok(m.value)) {
		note_daemon_pid(r, m.value);
		if (s->cfg->pass_start_logs && queue_push(&r->to_caller, f->bytes, f->len) < 0)
			return fail(s, "out of memory");
		return 0;
	}
	if (!m.oob && m.kind == PS_PONG && mp_str_eq(m.msgid, START_MSGID))
		return 1;
	return fail(s, "privsep-helper sent message type %llu before its PONG",
		    (unsigned long long)m.kind);
}

/* Our own PING; the daemon's start-up LOG records come before its PONG. */
static int
handshake(struct start *s, struct relay *r)
{
	struct mp_buf b;
	int rc;

	mp_buf_init(&b, 64);
	rc = ps_ping(&b, START_MSGID) || b.overflow ||
	     send(r->fd, b.data, b.len, MSG_NOSIGNAL) != (ssize_t)b.len;
	mp_buf_free(&b);
	if (rc)
		return fail(s, "sending PING to privsep-helper: %s", strerror(errno));
	for (;;) {
		struct pollfd pfd = { .fd = r->fd, .events = POLLIN };
		struct mp_frame *f;
		enum mp_status st;
		long left = ms_left(s);

		if (left <= 0 || poll(&pfd, 1, (int)left) <= 0)
			return fail(s,
				    "privsep-helper did not answer PING within the start timeout");
		if (handshake_read(s, r) < 0)
			return -1;
		while ((st = mp_reader_next(&r->rd, &f)) == MP_OK) {
			rc = handshake_frame(s, r, f);
			mp_frame_free(f);
			if (rc != 0)
				return rc < 0 ? -1 : 0;
		}
		if (st != MP_NEED_MORE)
			return fail(s, "privsep-helper's start-up: %s", mp_status_str(st));
	}
}

static struct relay *
relay_new(const struct relay_config *cfg)
{
	struct relay *r = calloc(1, sizeof(*r));
	struct mp_limits lim = cfg->limits;

	if (!r)
		return NULL;
	r->fd = -1;
	snprintf(r->context, sizeof(r->context), "%s", cfg->context);
	r->max_buffered = cfg->max_buffered ? cfg->max_buffered : RELAY_DEFAULT_MAX_BUFFERED;
	r->max_calls = cfg->max_calls ? cfg->max_calls : RELAY_DEFAULT_MAX_CALLS;
	r->on_record = cfg->on_record;
	r->record_arg = cfg->record_arg;
	r->calls = calloc(r->max_calls, sizeof(*r->calls));
	if (lim.max_message == 0)
		mp_limits_default(&lim);
	if (!r->calls || mp_reader_init(&r->rd, &lim) < 0) {
		relay_free(r);
		return NULL;
	}
	return r;
}

int
relay_start(const struct relay_config *cfg, struct relay **out, char *err, size_t errlen)
{
	struct start s = { .cfg = cfg, .lfd = -1, .err = err, .errlen = errlen };
	unsigned timeout =
		cfg->start_timeout_ms ? cfg->start_timeout_ms : RELAY_DEFAULT_START_TIMEOUT_MS;
	struct relay *r;
	int fd = -1, rc;

	*out = NULL;
	if (!cfg->context || !cfg->context[0] || strlen(cfg->context) >= RELAY_NAME_MAX)
		return fail(&s, "no usable privsep context name");
	if (check_config_args(&s, cfg->config_args) < 0)
		return -1;
	if (!(r = relay_new(cfg)))
		return fail(&s, "out of memory");
	s.timeout_ms = timeout;
	clock_gettime(CLOCK_MONOTONIC, &s.deadline);
	s.deadline.tv_sec += timeout / 1000;
	s.deadline.tv_nsec += (long)(timeout % 1000) * 1000000;
	rc = spawn_and_accept(&s, &fd);
	start_cleanup(&s); /* the socket and its directory go at once, as oslo does */
	r->fd = fd;
	if (rc < 0 || handshake(&s, r) < 0 || fcntl(fd, F_SETFL, O_NONBLOCK) < 0) {
		relay_free(r); /* closing the socket ends a daemon that did start */
		return -1;
	}
	drain_frames(r); /* anything read with the PONG: poll would not say so again */
	*out = r;
	return 0;
}
