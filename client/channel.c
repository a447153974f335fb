/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The helper channel: one socket, one reader thread that hands each reply to
 * the call waiting for its msgid (as oslo.privsep's client does), so several
 * threads may have calls in flight. Every call has a time limit; a reply that
 * comes after its caller gave up is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib.h"

#define HELPER_FD	 3
#define MAX_HELPER_WORDS 64

static void *reader_main(void *arg);

static int
start(struct ephcrypt_helper **out, int fd, pid_t pid, struct ephcrypt_error *err)
{
	struct ephcrypt_helper *h = calloc(1, sizeof(*h));
	pthread_condattr_t ca;

	if (!h) {
		close(fd);
		return ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "out of memory");
	}
	h->fd = fd;
	h->pid = pid;
	h->timeout_ms = EPHCRYPT_DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&h->lock, NULL);
	pthread_mutex_init(&h->send_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&h->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&h->reader, NULL, reader_main, h) != 0) {
		ephcrypt_helper_close(h);
		return ec_fail(err, EPHCRYPT_E_SYSTEM, EAGAIN, "cannot start the reader thread");
	}
	h->reader_started = true;
	*out = h;
	return 0;
}

int
ephcrypt_helper_attach(struct ephcrypt_helper **out, int fd, struct ephcrypt_error *err)
{
	ec_error_clear(err);
	if (fd < 0)
		return ec_fail(err, EPHCRYPT_E_USAGE, EBADF, "not a socket: fd %d", fd);
	return start(out, fd, 0, err);
}

static pid_t
fork_helper(char *const helper_argv[], int child_end)
{
	pid_t pid = fork();

	if (pid == 0) {
		char *argv[MAX_HELPER_WORDS + 3];
		size_t n = 0;

		while (helper_argv[n] && n < MAX_HELPER_WORDS)
			argv[n] = helper_argv[n], n++;
		argv[n++] = "--fd";
		argv[n++] = "3";
		argv[n] = NULL;
		/* dup2 clears CLOEXEC on a copy, but is a no-op if the end already is fd 3. */
		if (child_end == HELPER_FD ? fcntl(HELPER_FD, F_SETFD, 0) < 0
					   : dup2(child_end, HELPER_FD) < 0)
			_exit(127);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

/*
 * The helper reads the caller's identity with SO_PEERCRED, which for a
 * socketpair is whoever created it: create it as uid/gid, then spawn the
 * helper with this process's own privileges.
 */
static int
make_pair(int sv[2], uid_t uid, gid_t gid)
{
	int rc, saved;
	uid_t euid = geteuid();
	gid_t egid = getegid();

	if (uid == (uid_t)-1)
		return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	if (setegid(gid) < 0 || seteuid(uid) < 0)
		return -1;
	rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	saved = errno;
	if (seteuid(euid) < 0 || setegid(egid) < 0)
		return -1;
	errno = saved;
	return rc;
}

int
ephcrypt_helper_spawn_argv(struct ephcrypt_helper **out, char *const argv[], uid_t uid, gid_t gid,
			   struct ephcrypt_error *err)
{
	int sv[2];
	pid_t pid;

	ec_error_clear(err);
	if (!argv || !argv[0] || !argv[0][0])
		return ec_fail(err, EPHCRYPT_E_USAGE, EINVAL, "empty helper command");
	if (make_pair(sv, uid, gid) < 0)
		return ec_fail(err, EPHCRYPT_E_CHANNEL, errno, "socketpair: %s", strerror(errno));
	pid = fork_helper(argv, sv[1]);
	close(sv[1]);
	if (pid < 0) {
		close(sv[0]);
		return ec_fail(err, EPHCRYPT_E_CHANNEL, errno, "starting %s: %s", argv[0],
			       strerror(errno));
	}
	return start(out, sv[0], pid, err);
}

int
ephcrypt_helper_spawn(struct ephcrypt_helper **out, const char *command, struct ephcrypt_error *err)
{
	char copy[1024], *words[MAX_HELPER_WORDS + 1], *save = NULL;
	size_t n = 0;

	if (!command)
		command = getenv("EPHCRYPT_HELPER");
	if (!command || !*command)
		command = EPHCRYPT_DEFAULT_HELPER;
	if (strlen(command) >= sizeof(copy))
		return ec_fail(err, EPHCRYPT_E_USAGE, E2BIG, "helper command too long");
	strcpy(copy, command);
	for (char *w = strtok_r(copy, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (n == MAX_HELPER_WORDS)
			return ec_fail(err, EPHCRYPT_E_USAGE, E2BIG,
				       "helper command has too many words");
		words[n++] = w;
	}
	words[n] = NULL;
	return ephcrypt_helper_spawn_argv(out, words, (uid_t)-1, (gid_t)-1, err);
}

void
ephcrypt_helper_set_timeout(struct ephcrypt_helper *h, unsigned ms)
{
	h->timeout_ms = ms ? ms : EPHCRYPT_DEFAULT_TIMEOUT_MS;
}

void
ephcrypt_helper_set_context(struct ephcrypt_helper *h, const char *request_id, const char *key_id)
{
	snprintf(h->request_id, sizeof(h->request_id), "%s", request_id ? request_id : "");
	snprintf(h->key_id, sizeof(h->key_id), "%s", key_id ? key_id : "");
}

/* Under h->lock: the waiting call with this msgid, if any. */
static struct ec_pending *
find_pending(struct ephcrypt_helper *h, const struct mp_value *id)
{
	for (struct ec_pending *p = h->pending; p; p = p->next)
		if (!p->done && mp_str_eq(id, p->id))
			return p;
	return NULL;
}

static void
mark_dead(struct ephcrypt_helper *h, const char *why)
{
	pthread_mutex_lock(&h->lock);
	h->dead = true;
	snprintf(h->why_dead, sizeof(h->why_dead), "%s", why);
	pthread_cond_broadcast(&h->cond);
	pthread_mutex_unlock(&h->lock);
}

/* Hand one decoded message to its caller; out-of-band LOG records and late replies are dropped. */
static void
deliver(struct ephcrypt_helper *h, struct mp_frame *f)
{
	struct ps_msg m;
	struct ec_pending *p = NULL;

	if (ps_parse(f->root, &m) == PS_OK && !m.oob) {
		pthread_mutex_lock(&h->lock);
		p = find_pending(h, m.msgid);
		if (p) {
			p->frame = f;
			p->msg = m;
			p->done = true;
			pthread_cond_broadcast(&h->cond);
		}
		pthread_mutex_unlock(&h->lock);
	}
	if (!p)
		mp_frame_free(f);
}

static void *
reader_main(void *arg)
{
	struct ephcrypt_helper *h = arg;
	struct mp_reader rd;
	char why[120] = "the helper closed the channel";

	if (mp_reader_init(&rd, NULL) < 0) {
		mark_dead(h, "out of memory");
		return NULL;
	}
	for (;;) {
		struct mp_frame *f;
		enum mp_status st = mp_reader_next(&rd, &f);
		size_t room;
		uint8_t *dst;
		ssize_t n;

		if (st == MP_OK) {
			deliver(h, f);
			continue;
		}
		if (st != MP_NEED_MORE) {
			snprintf(why, sizeof(why), "bad reply from the helper: %s",
				 mp_status_str(st));
			break;
		}
		dst = mp_reader_space(&rd, &room);
		n = recv(h->fd, dst, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		mp_reader_commit(&rd, (size_t)n);
	}
	mp_reader_free(&rd);
	mark_dead(h, why);
	return NULL;
}

static int
send_all(struct ephcrypt_helper *h, const struct mp_buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = send(h->fd, b->data + off, b->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

static void
deadline_in(struct timespec *ts, unsigned ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L)
		ts->tv_sec++, ts->tv_nsec -= 1000000000L;
}

static void
unlink_pending(struct ephcrypt_helper *h, struct ec_pending *p)
{
	for (struct ec_pending **pp = &h->pending; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			return;
		}
}

/* Under h->lock: wait for p's reply, the channel's end, or the deadline. */
static int
wait_reply(struct ephcrypt_helper *h, struct ec_pending *p, const char *name,
	   struct ephcrypt_error *err)
{
	struct timespec deadline;
	int rc = 0;

	deadline_in(&deadline, h->timeout_ms);
	while (!p->done && !h->dead && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&h->cond, &h->lock, &deadline);
	if (p->done)
		return 0;
	if (h->dead)
		return ec_fail(err, EPHCRYPT_E_CHANNEL, EPIPE, "%s: %s", name, h->why_dead);
	return ec_fail(err, EPHCRYPT_E_TIMEOUT, ETIMEDOUT, "%s: no reply from the helper in %u ms",
		       name, h->timeout_ms);
}

/* Send one message built by the caller and wait for the reply with its id. */
static int
transact(struct ephcrypt_helper *h, struct ec_pending *p, struct mp_buf *msg, const char *name,
	 struct ephcrypt_error *err)
{
	int rc = 0, sent, send_errno;

	pthread_mutex_lock(&h->lock);
	if (h->dead) {
		rc = ec_fail(err, EPHCRYPT_E_CHANNEL, EPIPE, "%s: %s", name, h->why_dead);
	} else {
		p->next = h->pending;
		h->pending = p;
	}
	pthread_mutex_unlock(&h->lock);
	if (rc < 0)
		return rc;
	/* One message at a time on the socket, each sent whole; the reader never waits for this. */
	pthread_mutex_lock(&h->send_lock);
	errno = 0;
	sent = msg->overflow ? -1 : send_all(h, msg);
	send_errno = errno ? errno : EIO; /* send() of 0 bytes sets none */
	pthread_mutex_unlock(&h->send_lock);
	pthread_mutex_lock(&h->lock);
	if (sent < 0 && msg->overflow)
		rc = ec_fail(err, EPHCRYPT_E_CHANNEL, EMSGSIZE, "%s: the request is too large",
			     name);
	else if (sent < 0 && (send_errno == EPIPE || send_errno == ECONNRESET))
		/* Gone before the request went out: what the reader says when it sees the end. */
		rc = ec_fail(err, EPHCRYPT_E_CHANNEL, EPIPE, "%s: the helper closed the channel",
			     name);
	else if (sent < 0)
		rc = ec_fail(err, EPHCRYPT_E_CHANNEL, send_errno,
			     "%s: sending to the helper failed: %s", name, strerror(send_errno));
	else
		rc = wait_reply(h, p, name, err);
	unlink_pending(h, p);
	pthread_mutex_unlock(&h->lock);
	if (rc < 0 && p->frame) {
		mp_frame_free(p->frame);
		p->frame = NULL;
	}
	return rc;
}

static void
next_id(struct ephcrypt_helper *h, char id[40])
{
	unsigned long n;

	pthread_mutex_lock(&h->lock);
	n = ++h->seq;
	pthread_mutex_unlock(&h->lock);
	/* Opaque to the helper; uuid-shaped like the Python client's. */
	snprintf(id, 40, "00000000-0000-4000-8000-%012lx", n);
}

int
ephcrypt_ping(struct ephcrypt_helper *h, struct ephcrypt_error *err)
{
	struct ec_pending p = { .done = false };
	struct mp_buf b;
	int rc;

	ec_error_clear(err);
	next_id(h, p.id);
	mp_buf_init(&b, 4096);
	ps_ping(&b, p.id);
	rc = transact(h, &p, &b, "ping", err);
	mp_buf_free(&b);
	if (rc == 0 && p.msg.kind != PS_PONG)
		rc = ec_fail(err, EPHCRYPT_E_CHANNEL, EPROTO,
			     "ping: the helper did not answer PONG");
	mp_frame_free(p.frame);
	return rc;
}

static int
put_context(struct ephcrypt_helper *h, struct mp_buf *b)
{
	uint32_t n = (h->request_id[0] != 0) + (h->key_id[0] != 0);

	mp_put_map(b, n);
	if (h->request_id[0])
		mp_put_str(b, "request_id"), mp_put_str(b, h->request_id);
	if (h->key_id[0])
		mp_put_str(b, "key_id"), mp_put_str(b, h->key_id);
	return b->overflow ? -1 : 0;
}

/* ERR: class name and the first string of its args become the typed error. */
static int
map_exception(const struct ps_msg *m, const char *name, struct ephcrypt_error *err)
{
	char cls[96], text[600] = "";
	int errnum = 0;
	const struct mp_value *a = m->args;

	ec_copy_str(cls, sizeof(cls), m->name);
	for (uint32_t k = 0; a && k < a->len; k++) {
		const struct mp_value *v = &a->v.items[k];
		if (v->type == MP_STR && !text[0])
			ec_copy_str(text, sizeof(text), v);
		else if (v->type == MP_UINT && k == 0 && v->v.u < 4096)
			errnum = (int)v->v.u; /* OSError(errno, strerror) */
	}
	ec_fail(err, ec_status_for_exception(cls), errnum, "%s: %s", name, text);
	if (err)
		snprintf(err->exc_class, sizeof(err->exc_class), "%s", cls);
	return -1;
}

static int
finish(struct ec_pending *p, const char *name, struct ec_reply *out, struct ephcrypt_error *err)
{
	if (p->msg.kind == PS_RET) {
		out->frame = p->frame;
		out->value = p->msg.value;
		return 0;
	}
	if (p->msg.kind == PS_ERR)
		map_exception(&p->msg, name, err);
	else
		ec_fail(err, EPHCRYPT_E_CHANNEL, EPROTO, "%s: unexpected reply kind %llu", name,
			(unsigned long long)p->msg.kind);
	mp_frame_free(p->frame);
	return -1;
}

/* [id, [CALL, name, args, kwargs]]; kwargs NULL: the audit context. Waits for the reply. */
static int
send_call(struct ephcrypt_helper *h, struct ec_pending *p, const char *name, const uint8_t *args,
	  size_t alen, const uint8_t *kwargs, size_t klen, struct ephcrypt_error *err)
{
	struct mp_buf b;
	int rc;

	ec_error_clear(err);
	next_id(h, p->id);
	mp_buf_init(&b, 64u << 20);
	mp_put_array(&b, 2), mp_put_str(&b, p->id), mp_put_array(&b, 4);
	mp_put_uint(&b, PS_CALL), mp_put_str(&b, name), mp_put_raw(&b, args, alen);
	if (kwargs)
		mp_put_raw(&b, kwargs, klen);
	else
		put_context(h, &b);
	rc = transact(h, p, &b, name, err);
	mp_buf_free(&b); /* wipes: the call may carry a key */
	return rc;
}

static int
call_bytes(struct ephcrypt_helper *h, const char *name, const uint8_t *args, size_t alen,
	   const uint8_t *kwargs, size_t klen, struct ec_reply *out, struct ephcrypt_error *err)
{
	struct ec_pending p = { .done = false };

	memset(out, 0, sizeof(*out));
	if (send_call(h, &p, name, args, alen, kwargs, klen, err) < 0)
		return -1;
	return finish(&p, name, out, err);
}

int
ec_call_raw(struct ephcrypt_helper *h, const char *name, const uint8_t *args, size_t alen,
	    const uint8_t *kwargs, size_t klen, struct ec_raw_reply *out,
	    struct ephcrypt_error *err)
{
	struct ec_pending p = { .done = false };

	memset(out, 0, sizeof(*out));
	if (send_call(h, &p, name, args, alen, kwargs, klen, err) < 0)
		return -1;
	out->frame = p.frame;
	out->ok = p.msg.kind == PS_RET;
	out->value = p.msg.value;
	if (p.msg.kind == PS_ERR) {
		ec_copy_str(out->exc, sizeof(out->exc), p.msg.name);
		out->exc_args = p.msg.args;
	} else if (!out->ok) {
		mp_frame_free(p.frame);
		out->frame = NULL;
		return ec_fail(err, EPHCRYPT_E_CHANNEL, EPROTO, "%s: unexpected reply", name);
	}
	return 0;
}

int
ec_call(struct ephcrypt_helper *h, const char *name, const struct mp_buf *args,
	struct ec_reply *out, struct ephcrypt_error *err)
{
	if (args->overflow)
		return ec_fail(err, EPHCRYPT_E_USAGE, E2BIG, "%s: arguments too large", name);
	return call_bytes(h, name, args->data, args->len, NULL, 0, out, err);
}

int
ephcrypt_call_raw(struct ephcrypt_helper *h, const char *name, const uint8_t *args, size_t alen,
		  const uint8_t *kwargs, size_t klen, char **json, struct ephcrypt_error *err)
{
	struct ec_reply r;
	struct ec_str s = { NULL, 0, 0 };

	*json = NULL;
	if (call_bytes(h, name, args, alen, kwargs, klen, &r, err) < 0)
		return -1;
	if (ec_value_json(&s, r.value) < 0) {
		free(s.s);
		ec_reply_free(&r);
		return ec_fail(err, EPHCRYPT_E_SYSTEM, ENOMEM, "out of memory");
	}
	ec_reply_free(&r);
	*json = s.s;
	return 0;
}

void
ec_reply_free(struct ec_reply *r)
{
	mp_frame_free(r->frame);
	r->frame = NULL;
	r->value = NULL;
}

int
ephcrypt_helper_close(struct ephcrypt_helper *h)
{
	int status = 0;

	if (!h)
		return 0;
	/* The helper sees EOF, finishes, and closes its end: the reader then ends. */
	shutdown(h->fd, SHUT_WR);
	if (h->reader_started)
		pthread_join(h->reader, NULL);
	close(h->fd);
	if (h->pid > 0 && waitpid(h->pid, &status, 0) < 0)
		status = -1;
	pthread_cond_destroy(&h->cond);
	pthread_mutex_destroy(&h->lock);
	pthread_mutex_destroy(&h->send_lock);
	free(h);
	return status;
}
