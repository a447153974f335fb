/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The serve loop: one thread, poll(2) over the descriptors it serves (the
 * caller's channel, and privsep-helper's when the helper stands in front of
 * a whole context), each native call run to its reply before the next
 * message is read, as OpenSSH's monitor does. A relayed call is only in
 * flight here: it runs in privsep-helper's threads, and its reply is passed
 * on when it comes (doc/relay.rst). A framing error closes the channel; EOF
 * ends it cleanly.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../audit/audit.h"

#include "helper.h"
#include "relay.h"

#define SIMPLE_REPLY_MAX (64u << 10) /* an ERR the loop itself sends */
#define LIMIT_REPLY_MAX	 4096	     /* the over-limit ValueError, before its msgid */
/*
 * After privsep-helper died, the channel closes once the caller has been
 * idle this long: oslo.privsep's client turns a reply it has just read into
 * "Premature eof" if the end of the stream follows before the waiting thread
 * took it. The close makes it restart the helper, and so privsep-helper.
 */
#define RELAY_LINGER_MS 1000
/* At the caller's EOF, how long to wait for privsep-helper to leave its loop. */
#define RELAY_FINISH_MS 10000

/* The descriptors poll() watches, by role; a second source gets its own slot. */
enum source { SRC_CHANNEL, SRC_RELAY, SRC_COUNT };

struct channel {
	int fd;
	const struct options *opt;
	struct ucred peer;
	struct mp_reader r;
	bool write_failed;     /* peer gone: later replies are dropped */
	struct relay *relay;   /* NULL unless in front of a whole context */
	struct mp_frame *held; /* a CALL the relay could not take yet */
};

static int send_relay_output(struct channel *ch, int flags);

static int
send_all(struct channel *ch, const struct mp_buf *b)
{
	size_t off = 0;

	/* Two producers share the stream: switch only between whole frames. */
	if (ch->relay && relay_output_midframe(ch->relay))
		send_relay_output(ch, 0);
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

/* The relay's reply to a CALL it cannot take, as the call's ERR. */
static void
forward_failed(struct channel *ch, const struct ps_msg *m, enum relay_status st)
{
	char msg[RELAY_NAME_MAX + 160];

	if (st == RELAY_E_DUPLICATE) {
		reply_simple(ch, m, EXC_PROTOCOL, "a call with this msgid is already in flight");
		return;
	}
	snprintf(msg, sizeof(msg), "%.*s: not relayed to privsep-helper: %s",
		 (int)(m->name->len < RELAY_NAME_MAX ? m->name->len : RELAY_NAME_MAX),
		 (const char *)m->name->v.bytes, relay_status_str(st));
	reply_simple(ch, m, st == RELAY_E_INVALID ? EXC_VALUE : EXC_OS, msg);
}

/* A CALL for privsep-helper: false if the relay is full and the frame is held. */
static bool
forward_call(struct channel *ch, const struct ps_msg *m, struct mp_frame *f)
{
	enum relay_status st;
	char why[256], msg[512];

	/* An operation that cannot be recorded is not performed. */
	if (audit_is_broken()) {
		audit_broken_reason(why, sizeof(why));
		snprintf(msg, sizeof(msg), "refused: the audit log cannot be written (%s)", why);
		reply_simple(ch, m, EXC_OS, msg);
		return true;
	}
	st = relay_forward_call(ch->relay, f->bytes, f->len, m->msgid,
				(const char *)m->name->v.bytes, m->name->len);
	if (st == RELAY_E_FULL || st == RELAY_E_BUSY)
		return false;
	if (st != RELAY_OK)
		forward_failed(ch, m, st);
	return true;
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
	if (st == PS_OK && !m.oob && m.kind == PS_CALL && dispatch_forwards(&m, ch->opt)) {
		if (forward_call(ch, &m, f))
			mp_frame_free(f);
		else
			ch->held = f;
		return 0;
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
	while (!ch->held) {
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
	return 0;
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

/* The relay's frames for the caller: without flags, the rest of the current one. */
static int
send_relay_output(struct channel *ch, int flags)
{
	const uint8_t *p;
	size_t len;

	while (!ch->write_failed && (p = relay_output(ch->relay, &len)) != NULL) {
		ssize_t n = send(ch->fd, p, len, MSG_NOSIGNAL | flags);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n <= 0) {
			ch->write_failed = true;
			return -1;
		}
		relay_output_consume(ch->relay, (size_t)n);
		if (!flags && !relay_output_midframe(ch->relay))
			break;
	}
	return ch->write_failed ? -1 : 0;
}

static void
on_relay_record(const struct relay_record *rec, void *arg)
{
	const struct channel *ch = arg;

	dispatch_forwarded_record(rec, ch->opt, &ch->peer);
}

/* A held CALL, once the relay has room: it is the next message in order. */
static int
retry_held(struct channel *ch)
{
	struct ps_msg m;
	struct mp_frame *f = ch->held;

	if (!f || ps_parse(f->root, &m) != PS_OK || !forward_call(ch, &m, f))
		return 0;
	ch->held = NULL;
	mp_frame_free(f);
	return drain(ch);
}

/* What poll() waits for now; returns its timeout. */
static int
watch(struct channel *ch, struct pollfd pfd[SRC_COUNT])
{
	size_t len;
	bool output = ch->relay && relay_output(ch->relay, &len) != NULL;

	pfd[SRC_CHANNEL].events = (ch->held ? 0 : POLLIN) | (output ? POLLOUT : 0);
	pfd[SRC_CHANNEL].fd = pfd[SRC_CHANNEL].events ? ch->fd : -1;
	pfd[SRC_RELAY].fd = -1;
	if (!ch->relay)
		return -1;
	relay_pollfd(ch->relay, &pfd[SRC_RELAY]);
	return relay_closed(ch->relay) && !output && !ch->held ? RELAY_LINGER_MS : -1;
}

/* privsep-helper's side: 0 to go on, -1 to close the channel now. */
static int
relay_turn(struct channel *ch, short revents)
{
	struct relay_info info;

	relay_on_events(ch->relay, revents);
	if (retry_held(ch) < 0 || send_relay_output(ch, MSG_DONTWAIT) < 0)
		return -1;
	relay_info(ch->relay, &info);
	if (info.unanswered) {
		fprintf(stderr,
			"ephcrypt-helper: closing channel: %u relayed call(s) lost their reply\n",
			info.unanswered);
		return -1;
	}
	return 0;
}

static long
ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - t0->tv_sec) * 1000 + (now.tv_nsec - t0->tv_nsec) / 1000000;
}

/*
 * The caller closed its end (oslo.privsep's stop()): privsep-helper gets EOF
 * too, and we stay until it has closed its end (bounded), passing on the
 * replies it still sends, so that stop() returns once both are done, as it
 * does with privsep-helper alone.
 */
static void
finish_relay(struct channel *ch)
{
	struct pollfd pfd[SRC_COUNT];
	struct timespec t0;
	long left;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	relay_shutdown(ch->relay);
	while (!relay_closed(ch->relay) && (left = RELAY_FINISH_MS - ms_since(&t0)) > 0) {
		(void)watch(ch, pfd);
		pfd[SRC_CHANNEL].events &= POLLOUT; /* nothing more is read from the caller */
		pfd[SRC_CHANNEL].fd = pfd[SRC_CHANNEL].events ? ch->fd : -1;
		if (poll(pfd, SRC_COUNT, (int)left) < 0 && errno != EINTR)
			break;
		relay_on_events(ch->relay, pfd[SRC_RELAY].revents);
		(void)send_relay_output(ch, MSG_DONTWAIT);
	}
}

int
peer_of(int fd, struct ucred *cred)
{
	socklen_t len = sizeof(*cred);

	return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, cred, &len);
}

/* Serves until EOF; frees opt->relay. */
int
serve(int fd, const struct options *opt)
{
	struct channel ch = { .fd = fd, .opt = opt, .relay = opt->relay };
	struct pollfd pfd[SRC_COUNT] = { [SRC_CHANNEL] = { .fd = fd, .events = POLLIN } };
	struct mp_limits lim;
	int rc = 0, n, timeout;

	mp_limits_default(&lim);
	lim.max_message = opt->max_message;
	if (mp_reader_init(&ch.r, &lim) < 0)
		return -1;
	if (peer_of(fd, &ch.peer) < 0) {
		ch.peer.uid = (uid_t)-1;
		ch.peer.gid = (gid_t)-1;
		ch.peer.pid = 0;
	}
	if (ch.relay)
		relay_set_record_fn(ch.relay, on_relay_record, &ch);
	while (rc == 0) {
		timeout = watch(&ch, pfd);
		if ((n = poll(pfd, SRC_COUNT, timeout)) < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "ephcrypt-helper: poll: %s\n", strerror(errno));
			rc = -1;
			break;
		}
		if (n == 0 && timeout >= 0) {
			fprintf(stderr,
				"ephcrypt-helper: closing channel: privsep-helper is gone\n");
			break;
		}
		/* POLLHUP and POLLERR are read too: recv() tells EOF from an error. */
		if (pfd[SRC_CHANNEL].revents & ~POLLOUT)
			rc = channel_readable(&ch);
		if (rc == 0 && ch.relay)
			rc = relay_turn(&ch, pfd[SRC_RELAY].revents);
	}
	if (ch.relay && rc > 0)
		finish_relay(&ch);
	if (ch.relay) {
		(void)send_relay_output(&ch, MSG_DONTWAIT); /* replies that came in time */
		relay_free(ch.relay); /* calls still in flight end LOST, and are recorded */
	}
	if (ch.held)
		mp_frame_free(ch.held);
	mp_reader_free(&ch.r);
	return rc > 0 ? 0 : rc;
}
