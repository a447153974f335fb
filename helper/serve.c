/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The channel: one reader decodes messages, a few workers run calls, every
 * reply goes out whole under one lock, so replies may complete out of order
 * but never interleave. A framing error closes the channel; EOF ends it
 * cleanly once calls in flight have replied.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

#define QUEUE_LEN 64
#define MAX_WORKERS 16

struct channel {
	int fd;
	const struct options *opt;
	struct ucred peer;
	pthread_mutex_t write_lock;
	bool write_failed;
	/* Call queue: the reader blocks when it is full (back-pressure). */
	pthread_mutex_t qlock;
	pthread_cond_t qcond;
	struct mp_frame *queue[QUEUE_LEN];
	unsigned qhead, qcount;
	bool closing;
};

static int
send_all(struct channel *ch, const struct mp_buf *b)
{
	size_t off = 0;
	bool failed;

	pthread_mutex_lock(&ch->write_lock);
	while (!ch->write_failed && off < b->len) {
		ssize_t n = send(ch->fd, b->data + off, b->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ch->write_failed = true; /* peer gone: later replies are dropped */
		else
			off += (size_t)n;
	}
	failed = ch->write_failed; /* read under the lock: workers set it too */
	pthread_mutex_unlock(&ch->write_lock);
	return failed ? -1 : 0;
}

/* Room for an echoed msgid (any size up to --max-message) on top of a reply's own. */
static size_t
reply_cap(const struct mp_value *msgid, size_t body)
{
	bool sized = msgid && (msgid->type == MP_STR || msgid->type == MP_BIN);

	return body + 16 + (sized ? msgid->len : 0);
}

/*
 * A reply that did not fit is never sent in part: its header would announce
 * bytes that never come, and the client would read the next reply as them.
 */
static void
send_whole(struct channel *ch, const struct mp_buf *b)
{
	if (!b->overflow) {
		send_all(ch, b);
		return;
	}
	fprintf(stderr, "ephcrypt-helper: closing channel: a reply did not fit in %zu bytes\n",
		b->max);
	shutdown(ch->fd, SHUT_RDWR);
}

static void
handle_call(struct channel *ch, struct mp_frame *f)
{
	struct ps_msg m;
	struct mp_buf out;

	(void)ps_parse(f->root, &m); /* checked by the reader */
	mp_buf_init(&out, reply_cap(m.msgid, 16u << 20));
	dispatch_call(&m, &out, ch->opt, &ch->peer);
	mp_frame_free(f); /* wipes at once: a CALL may have carried a key */
	send_whole(ch, &out);
	mp_buf_free(&out);
}

static void *
worker(void *arg)
{
	struct channel *ch = arg;

	for (;;) {
		struct mp_frame *f;

		pthread_mutex_lock(&ch->qlock);
		while (ch->qcount == 0 && !ch->closing)
			pthread_cond_wait(&ch->qcond, &ch->qlock);
		if (ch->qcount == 0) {
			pthread_mutex_unlock(&ch->qlock);
			return NULL;
		}
		f = ch->queue[ch->qhead];
		ch->qhead = (ch->qhead + 1) % QUEUE_LEN;
		ch->qcount--;
		pthread_cond_broadcast(&ch->qcond);
		pthread_mutex_unlock(&ch->qlock);
		handle_call(ch, f);
	}
}

static void
enqueue(struct channel *ch, struct mp_frame *f)
{
	pthread_mutex_lock(&ch->qlock);
	while (ch->qcount == QUEUE_LEN)
		pthread_cond_wait(&ch->qcond, &ch->qlock);
	ch->queue[(ch->qhead + ch->qcount) % QUEUE_LEN] = f;
	ch->qcount++;
	pthread_cond_broadcast(&ch->qcond);
	pthread_mutex_unlock(&ch->qlock);
}

static void
reply_simple(struct channel *ch, const struct ps_msg *m, const char *cls, const char *msg)
{
	struct mp_buf out;

	mp_buf_init(&out, reply_cap(m->msgid, 64u << 10));
	(void)(ps_put_id(&out, m->msgid) || mp_put_array(&out, 3) || mp_put_uint(&out, PS_ERR) ||
	       mp_put_str(&out, cls) || mp_put_array(&out, 1) || mp_put_str(&out, msg));
	send_whole(ch, &out);
	mp_buf_free(&out);
}

/* Returns 0 to go on, -1 to close the channel (reason already printed). */
static int
on_message(struct channel *ch, struct mp_frame *f)
{
	struct ps_msg m;
	enum ps_status st = ps_parse(f->root, &m);
	char why[64];

	if (st == PS_E_ENVELOPE || st == PS_E_BODY || (st != PS_OK && m.oob)) {
		fprintf(stderr, "ephcrypt-helper: closing channel: %s\n", ps_status_str(st));
		mp_frame_free(f);
		return -1;
	}
	if (m.oob) { /* only LOG is out of band, and the helper has no use for it */
		mp_frame_free(f);
		return 0;
	}
	if (st == PS_OK && m.kind == PS_CALL) {
		const struct entrypoint *ep =
			dispatch_lookup((const char *)m.name->v.bytes, m.name->len);

		/* Calls that cannot block run here: no thread hand-off on the fast path. */
		if (ep && (ep->flags & EP_STORAGE))
			enqueue(ch, f);
		else
			handle_call(ch, f);
		return 0;
	}
	if (st == PS_OK && m.kind == PS_PING) {
		struct mp_buf out;

		mp_buf_init(&out, reply_cap(m.msgid, 64));
		(void)ps_pong(&out, m.msgid);
		send_whole(ch, &out);
		mp_buf_free(&out);
	} else {
		/* The real daemon's answer to anything but PING and CALL. */
		snprintf(why, sizeof(why), "Unknown privsep cmd: %llu", (unsigned long long)m.kind);
		reply_simple(ch, &m, EXC_PROTOCOL, st == PS_E_SHAPE ? ps_status_str(st) : why);
	}
	mp_frame_free(f);
	return 0;
}

/* Over a limit: answer the call if we know its msgid, else give up. */
static int
on_limit(struct channel *ch, struct mp_reader *r, enum mp_status st)
{
	char msg[160];
	struct mp_buf out;
	int rc = -1;

	if (!r->msgid_known || (r->msgid_len == 1 && r->msgid[0] == 0xc0)) {
		fprintf(stderr, "ephcrypt-helper: closing channel: %s\n", mp_status_str(st));
		return -1;
	}
	snprintf(msg, sizeof(msg), "privsep message refused: %s (limits: %zu bytes, %zu items)",
		 mp_status_str(st), r->lim.max_message, r->lim.max_items);
	mp_buf_init(&out, 4096 + r->msgid_len);
	if (ps_err_msg_rawid(&out, r->msgid, r->msgid_len, EXC_VALUE, msg) == 0)
		rc = send_all(ch, &out);
	mp_buf_free(&out);
	return rc;
}

/* Drain every complete message in the buffer. 0: go on; 1: stop cleanly; -1: error. */
static int
drain(struct channel *ch, struct mp_reader *r)
{
	for (;;) {
		struct mp_frame *f;
		enum mp_status st = mp_reader_next(r, &f);

		if (st == MP_NEED_MORE)
			return 0;
		if (st == MP_OK) {
			if (on_message(ch, f) < 0)
				return -1;
			continue;
		}
		if (st == MP_E_TOO_BIG || st == MP_E_TOO_MANY || st == MP_E_TOO_DEEP) {
			if (on_limit(ch, r, st) < 0)
				return -1;
			continue;
		}
		fprintf(stderr, "ephcrypt-helper: closing channel: %s\n", mp_status_str(st));
		return -1;
	}
}

static int
read_loop(struct channel *ch, struct mp_reader *r)
{
	for (;;) {
		size_t room;
		uint8_t *dst = mp_reader_space(r, &room);
		ssize_t n;
		int rc;

		if (room == 0) {
			fprintf(stderr, "ephcrypt-helper: closing channel: out of memory\n");
			return -1;
		}
		n = recv(ch->fd, dst, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "ephcrypt-helper: read: %s\n", strerror(errno));
			return -1;
		}
		if (n == 0) {
			if (mp_reader_eof(r) == MP_EOF)
				return 0;
			fprintf(stderr, "ephcrypt-helper: closing channel: %s\n",
				mp_status_str(MP_E_TRUNCATED));
			return -1;
		}
		mp_reader_commit(r, (size_t)n);
		rc = drain(ch, r);
		if (rc != 0)
			return rc;
	}
}

int
peer_of(int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len);
}

int
serve(int fd, const struct options *opt)
{
	struct channel ch = { .fd = fd, .opt = opt };
	pthread_t tids[MAX_WORKERS];
	unsigned nworkers = opt->workers ? opt->workers : 4;
	struct mp_limits lim;
	struct mp_reader r;
	int rc;

	if (nworkers > MAX_WORKERS)
		nworkers = MAX_WORKERS;
	mp_limits_default(&lim);
	lim.max_message = opt->max_message;
	if (mp_reader_init(&r, &lim) < 0)
		return -1;
	if (peer_of(fd, &ch.peer) < 0)
		ch.peer.uid = (uid_t)-1, ch.peer.gid = (gid_t)-1, ch.peer.pid = 0;
	pthread_mutex_init(&ch.write_lock, NULL);
	pthread_mutex_init(&ch.qlock, NULL);
	pthread_cond_init(&ch.qcond, NULL);
	for (unsigned k = 0; k < nworkers; k++)
		if (pthread_create(&tids[k], NULL, worker, &ch) != 0)
			nworkers = k;
	/* Without a worker, storage calls would queue for ever: refuse to serve. */
	rc = nworkers ? read_loop(&ch, &r) : -1;
	if (!nworkers)
		fprintf(stderr, "ephcrypt-helper: cannot start a worker thread\n");
	/* Let calls in flight finish and reply; then close. */
	pthread_mutex_lock(&ch.qlock);
	ch.closing = true;
	pthread_cond_broadcast(&ch.qcond);
	pthread_mutex_unlock(&ch.qlock);
	for (unsigned k = 0; k < nworkers; k++)
		pthread_join(tids[k], NULL);
	mp_reader_free(&r);
	return rc;
}
