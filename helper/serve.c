/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The serve loop: one thread, poll(2) over the descriptors it serves (today
 * the caller's channel alone), each call run to its reply before the next
 * message is read, as OpenSSH's monitor does. A framing error closes the
 * channel; EOF ends it cleanly.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "helper.h"

#define SIMPLE_REPLY_MAX (64u << 10) /* an ERR the loop itself sends */
#define LIMIT_REPLY_MAX	 4096	     /* the over-limit ValueError, before its msgid */

/* The descriptors poll() watches, by role; a second source gets its own slot. */
enum source { SRC_CHANNEL, SRC_COUNT };

struct channel {
	int fd;
	const struct options *opt;
	struct ucred peer;
	struct mp_reader r;
	bool write_failed; /* peer gone: later replies are dropped */
};

static int
send_all(struct channel *ch, const struct mp_buf *b)
{
	size_t off = 0;

	while (!ch->write_failed && off < b->len) {
		ssize_t n = send(ch->fd, b->data + off, b->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			ch->write_failed = true;
		else
			off += (size_t)n;
	}
	return ch->write_failed ? -1 : 0;
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

/* 0, or -1 when the caller hung up during the call (its work undone): close. */
static int
handle_call(struct channel *ch, const struct ps_msg *m, struct mp_frame *f)
{
	struct mp_buf out;
	bool gone;

	mp_buf_init(&out, reply_cap(m->msgid, REPLY_MAX));
	gone = dispatch_call(m, &out, ch->opt, &ch->peer, ch->fd);
	mp_frame_free(f); /* wipes at once: a CALL may have carried a key */
	if (gone)
		fprintf(stderr, "ephcrypt-helper: closing channel: the caller hung up before "
				"the reply; the call was rolled back\n");
	else
		send_whole(ch, &out);
	mp_buf_free(&out);
	return gone ? -1 : 0;
}

static void
reply_simple(struct channel *ch, const struct ps_msg *m, const char *cls, const char *msg)
{
	struct mp_buf out;

	mp_buf_init(&out, reply_cap(m->msgid, SIMPLE_REPLY_MAX));
	if (ps_put_id(&out, m->msgid) == 0 && mp_put_array(&out, 3) == 0 &&
	    mp_put_uint(&out, PS_ERR) == 0 && mp_put_str(&out, cls) == 0 &&
	    mp_put_array(&out, 1) == 0)
		mp_put_str(&out, msg);
	send_whole(ch, &out);
	mp_buf_free(&out);
}

static void
reply_pong(struct channel *ch, const struct ps_msg *m)
{
	struct mp_buf out;

	mp_buf_init(&out, reply_cap(m->msgid, 64));
	(void)ps_pong(&out, m->msgid);
	send_whole(ch, &out);
	mp_buf_free(&out);
}

/* One decoded message, freed here. Returns 0 to go on, -1 to close (reason printed). */
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
	if (st == PS_OK && !m.oob && m.kind == PS_CALL)
		return handle_call(ch, &m, f);
	/* Only LOG is out of band, and the helper has no use for it. */
	if (!m.oob && st == PS_OK && m.kind == PS_PING) {
		reply_pong(ch, &m);
	} else if (!m.oob) {
		/* The real daemon's answer to anything but PING and CALL. */
		snprintf(why, sizeof(why), "Unknown privsep cmd: %llu", (unsigned long long)m.kind);
		reply_simple(ch, &m, EXC_PROTOCOL, st == PS_E_SHAPE ? ps_status_str(st) : why);
	}
	mp_frame_free(f);
	return 0;
}

/* Over a limit: answer the call if we know its msgid, else give up. */
static int
on_limit(struct channel *ch, enum mp_status st)
{
	const struct mp_reader *r = &ch->r;
	char msg[160];
	struct mp_buf out;
	int rc = -1;

	if (!r->msgid_known || (r->msgid_len == 1 && r->msgid[0] == 0xc0)) {
		fprintf(stderr, "ephcrypt-helper: closing channel: %s\n", mp_status_str(st));
		return -1;
	}
	snprintf(msg, sizeof(msg), "privsep message refused: %s (limits: %zu bytes, %zu items)",
		 mp_status_str(st), r->lim.max_message, r->lim.max_items);
	mp_buf_init(&out, LIMIT_REPLY_MAX + r->msgid_len);
	if (ps_err_msg_rawid(&out, r->msgid, r->msgid_len, EXC_VALUE, msg) == 0)
		rc = send_all(ch, &out);
	mp_buf_free(&out);
	return rc;
}

static int
closing(enum mp_status st)
{
	fprintf(stderr, "ephcrypt-helper: closing channel: %s\n", mp_status_str(st));
	return -1;
}

/* Every complete message in the buffer, each answered in turn. 0: go on; -1: close. */
static int
drain(struct channel *ch)
{
	for (;;) {
		struct mp_frame *f;
		enum mp_status st = mp_reader_next(&ch->r, &f);
		int rc;

		if (st == MP_NEED_MORE)
			return 0;
		if (st == MP_OK)
			rc = on_message(ch, f);
		else if (st == MP_E_TOO_BIG || st == MP_E_TOO_MANY || st == MP_E_TOO_DEEP)
			rc = on_limit(ch, st);
		else
			rc = closing(st);
		if (rc < 0)
			return -1;
	}
}

/* The channel is readable: 0 to go on, 1 at a clean EOF, -1 to close. */
static int
channel_readable(struct channel *ch)
{
	size_t room;
	uint8_t *dst = mp_reader_space(&ch->r, &room);
	ssize_t n;

	if (room == 0) {
		fprintf(stderr, "ephcrypt-helper: closing channel: out of memory\n");
		return -1;
	}
	n = recv(ch->fd, dst, room, 0);
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return 0;
	if (n < 0) {
		fprintf(stderr, "ephcrypt-helper: read: %s\n", strerror(errno));
		return -1;
	}
	if (n == 0) {
		if (mp_reader_eof(&ch->r) == MP_EOF)
			return 1;
		fprintf(stderr, "ephcrypt-helper: closing channel: %s\n",
			mp_status_str(MP_E_TRUNCATED));
		return -1;
	}
	mp_reader_commit(&ch->r, (size_t)n);
	return drain(ch);
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
	struct pollfd pfd[SRC_COUNT] = { [SRC_CHANNEL] = { .fd = fd, .events = POLLIN } };
	struct mp_limits lim;
	int rc = 0;

	mp_limits_default(&lim);
	lim.max_message = opt->max_message;
	if (mp_reader_init(&ch.r, &lim) < 0)
		return -1;
	if (peer_of(fd, &ch.peer) < 0) {
		ch.peer.uid = (uid_t)-1;
		ch.peer.gid = (gid_t)-1;
		ch.peer.pid = 0;
	}
	while (rc == 0) {
		if (poll(pfd, SRC_COUNT, -1) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ephcrypt-helper: poll: %s\n", strerror(errno));
			rc = -1;
			break;
		}
		/* POLLHUP and POLLERR are read too: recv() tells EOF from an error. */
		if (pfd[SRC_CHANNEL].revents)
			rc = channel_readable(&ch);
	}
	mp_reader_free(&ch.r);
	return rc > 0 ? 0 : rc;
}
