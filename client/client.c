/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"

#define HELPER_FD 3

static int spawn_on(struct ec_client *c, char *const helper_argv[], int sv[2]);

int
ec_attach(struct ec_client *c, int fd)
{
	memset(c, 0, sizeof(*c));
	c->fd = fd;
	return mp_reader_init(&c->rd, NULL);
}

/*
 * The helper reads the caller's identity with SO_PEERCRED, which for a
 * socketpair is whoever created it: create it as the caller (uid/gid), then
 * spawn the helper with the launcher's own privileges.
 */
int
ec_spawn_for(struct ec_client *c, char *const helper_argv[], uid_t uid, gid_t gid)
{
	int sv[2], rc;

	if (uid == (uid_t)-1)
		return ec_spawn(c, helper_argv);
	if (setegid(gid) < 0 || seteuid(uid) < 0)
		return -1;
	rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
	if (seteuid(0) < 0 || setegid(0) < 0 || rc < 0)
		return -1;
	return spawn_on(c, helper_argv, sv);
}

int
ec_spawn(struct ec_client *c, char *const helper_argv[])
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	return spawn_on(c, helper_argv, sv);
}

static int
spawn_on(struct ec_client *c, char *const helper_argv[], int sv[2])
{
	pid_t pid;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *argv[64];
		size_t n = 0;

		while (helper_argv[n] && n < 60)
			argv[n] = helper_argv[n], n++;
		argv[n++] = "--fd";
		argv[n++] = "3";
		argv[n] = NULL;
		/* dup2 clears CLOEXEC on a copy, but is a no-op if the end already is fd 3. */
		if (sv[1] == HELPER_FD ? fcntl(HELPER_FD, F_SETFD, 0) < 0
				       : dup2(sv[1], HELPER_FD) < 0)
			_exit(127);
		execv(argv[0], argv);
		_exit(127);
	}
	close(sv[1]);
	if (ec_attach(c, sv[0]) < 0)
		return -1;
	c->pid = pid;
	return 0;
}

static int
send_buf(struct ec_client *c, const struct mp_buf *b)
{
	size_t off = 0;

	while (off < b->len) {
		ssize_t n = send(c->fd, b->data + off, b->len - off, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(c->err, sizeof(c->err), "send: %s", strerror(errno));
			return -1;
		}
		off += (size_t)n;
	}
	return 0;
}

/* Next in-band message; out-of-band LOG records are skipped. */
static int
recv_msg(struct ec_client *c, struct mp_frame **out, struct ps_msg *m)
{
	for (;;) {
		enum mp_status st = mp_reader_next(&c->rd, out);
		size_t room;
		uint8_t *dst;
		ssize_t n;

		if (st == MP_OK) {
			if (ps_parse((*out)->root, m) == PS_OK && !m->oob)
				return 0;
			mp_frame_free(*out);
			continue;
		}
		if (st != MP_NEED_MORE) {
			snprintf(c->err, sizeof(c->err), "reply: %s", mp_status_str(st));
			return -1;
		}
		dst = mp_reader_space(&c->rd, &room);
		n = recv(c->fd, dst, room, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			snprintf(c->err, sizeof(c->err), "helper closed the channel");
			return -1;
		}
		mp_reader_commit(&c->rd, (size_t)n);
	}
}

static void
next_id(struct ec_client *c, char id[40])
{
	/* Opaque to the helper; uuid-shaped like the Python client's. */
	snprintf(id, 40, "00000000-0000-4000-8000-%012lx", ++c->seq);
}

int
ec_ping(struct ec_client *c)
{
	struct mp_buf b;
	struct mp_frame *f;
	struct ps_msg m;
	char id[40];
	int rc;

	next_id(c, id);
	mp_buf_init(&b, 4096);
	rc = ps_ping(&b, id) || send_buf(c, &b) ? -1 : recv_msg(c, &f, &m);
	mp_buf_free(&b);
	if (rc == 0) {
		rc = m.kind == PS_PONG ? 0 : -1;
		mp_frame_free(f);
	}
	return rc;
}

int
ec_call_raw(struct ec_client *c, const char *name, const uint8_t *args, size_t alen,
	    const uint8_t *kwargs, size_t klen, struct ec_reply *out)
{
	struct mp_buf b;
	char id[40];
	int rc;

	memset(out, 0, sizeof(*out));
	next_id(c, id);
	mp_buf_init(&b, 64u << 20);
	rc = mp_put_array(&b, 2) || mp_put_str(&b, id) || mp_put_array(&b, 4) ||
	     mp_put_uint(&b, PS_CALL) || mp_put_str(&b, name) || mp_put_raw(&b, args, alen) ||
	     mp_put_raw(&b, kwargs, klen) || send_buf(c, &b);
	mp_buf_free(&b); /* wipes: the call may carry a key */
	if (rc || recv_msg(c, &out->frame, &out->msg) < 0)
		return -1;
	out->ok = out->msg.kind == PS_RET;
	out->value = out->msg.value;
	if (out->msg.kind == PS_ERR) {
		size_t n = out->msg.name->len < sizeof(out->exc_buf) - 1 ? out->msg.name->len
									 : sizeof(out->exc_buf) - 1;
		memcpy(out->exc_buf, out->msg.name->v.bytes, n);
		out->exc_buf[n] = '\0';
		out->exc = out->exc_buf;
		out->exc_args = out->msg.args;
	}
	return 0;
}

const char *
ec_reply_message(const struct ec_reply *r, char *buf, size_t cap)
{
	const struct mp_value *a = r->exc_args;

	buf[0] = '\0';
	for (uint32_t k = 0; a && k < a->len; k++)
		if (a->v.items[k].type == MP_STR) {
			size_t n = a->v.items[k].len < cap - 1 ? a->v.items[k].len : cap - 1;
			memcpy(buf, a->v.items[k].v.bytes, n);
			buf[n] = '\0';
			break;
		}
	return buf;
}

void
ec_reply_free(struct ec_reply *r)
{
	mp_frame_free(r->frame);
	r->frame = NULL;
}

int
ec_close(struct ec_client *c)
{
	int status = 0;
	char sink[256];

	shutdown(c->fd, SHUT_WR);
	while (recv(c->fd, sink, sizeof(sink), 0) > 0)
		;
	close(c->fd);
	mp_reader_free(&c->rd);
	if (c->pid > 0 && waitpid(c->pid, &status, 0) < 0)
		return -1;
	return status;
}
