/* SPDX-License-Identifier: Apache-2.0 */
/*
 * bench/floor: the least a privsep helper can do, to measure the floor of a
 * cold start through oslo.privsep's client (make bench; never installed).
 * It connects back to --privsep_sock_path, forks (the parent exits 0, as the
 * ROOTWRAP start wants), then answers PING with PONG and any CALL with the
 * string "0.1.0", until the client hangs up.  No policy, no sandbox, no
 * msgpack library: each request arrives whole in one recv (the client sends
 * one message and waits for its reply), and only the shapes the client sends,
 * [msgid, [1]] and [msgid, [3, name, args, kwargs]], are understood.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int
connect_back(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	return fd;
}

/* The msgid's encoded length at buf[1]: fixstr, str8 (uuid4 is str8), or nil. */
static size_t
msgid_len(const unsigned char *buf, size_t n)
{
	if (n < 2)
		return 0;
	if ((buf[1] & 0xe0) == 0xa0)
		return 1 + (buf[1] & 0x1f);
	if (buf[1] == 0xd9 && n >= 3)
		return 2 + buf[2];
	return buf[1] == 0xc0 ? 1 : 0;
}

/* One request in buf: write the reply; -1 on anything not understood. */
static int
answer(int fd, const unsigned char *buf, size_t n)
{
	static const unsigned char pong[] = { 0x91, 0x02 };
	static const unsigned char ret[] = { 0x92, 0x04, 0xa5, '0', '.', '1', '.', '0' };
	unsigned char out[512];
	size_t id = msgid_len(buf, n), at = 1 + id;
	const unsigned char *body;
	size_t body_len;

	if (buf[0] != 0x92 || id == 0 || at + 2 > n || id + 1 + sizeof(ret) > sizeof(out))
		return -1;
	if (buf[at] == 0x91 && buf[at + 1] == 0x01)
		body = pong, body_len = sizeof(pong);
	else if (buf[at] == 0x94 && buf[at + 1] == 0x03)
		body = ret, body_len = sizeof(ret);
	else
		return -1;
	memcpy(out, buf, 1 + id);
	memcpy(out + 1 + id, body, body_len);
	return write(fd, out, 1 + id + body_len) == (ssize_t)(1 + id + body_len) ? 0 : -1;
}

int
main(int argc, char **argv)
{
	unsigned char buf[65536];
	const char *sock = NULL;
	ssize_t n;
	int fd;

	for (int k = 1; k + 1 < argc; k++)
		if (strcmp(argv[k], "--privsep_sock_path") == 0)
			sock = argv[k + 1];
	if (!sock || (fd = connect_back(sock)) < 0) {
		fprintf(stderr, "floor: needs a reachable --privsep_sock_path\n");
		return 1;
	}
	switch (fork()) {
	case -1: return 1;
	case 0: break;
	default: _exit(0);
	}
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if (answer(fd, buf, (size_t)n) < 0)
			return 1;
	return 0;
}
