/* SPDX-License-Identifier: Apache-2.0 */
/*
 * ephcrypt-selinux-probe: run in the helper's domain (ephcrypt_t) by
 * tests/guest/selinux.sh, it tries three things the module forbids and
 * expects SELinux to refuse each with EACCES: a TCP socket, /etc/shadow,
 * ptrace of a process of its own. Exit 0 only if all three were refused.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* Reports one attempt: rc is its result, err its errno. */
static int
expect_eacces(const char *what, int rc, int err)
{
	if (rc >= 0) {
		printf("%s: ALLOWED\n", what);
		return 1;
	}
	printf("%s: %s\n", what, err == EACCES ? "EACCES" : strerror(err));
	return err == EACCES ? 0 : 1;
}

/* A child that waits for its parent to close the pipe: a same-domain target. */
static int
ptrace_own_child(void)
{
	int pipefd[2], rc, err;
	char c;
	pid_t pid;

	if (pipe(pipefd) < 0)
		return expect_eacces("pipe", -1, errno);
	pid = fork();
	if (pid < 0)
		return expect_eacces("fork", -1, errno);
	if (pid == 0) {
		close(pipefd[1]);
		(void)!read(pipefd[0], &c, 1);
		_exit(0);
	}
	close(pipefd[0]);
	rc = (int)ptrace(PTRACE_ATTACH, pid, NULL, NULL);
	err = errno;
	if (rc == 0)
		kill(pid, SIGKILL); /* attached: the test has failed; do not leave it stopped */
	close(pipefd[1]);
	waitpid(pid, NULL, 0);
	return expect_eacces("ptrace(PTRACE_ATTACH, own child)", rc, err);
}

int
main(void)
{
	int failed = 0, fd;

	fd = socket(AF_INET, SOCK_STREAM, 0);
	failed += expect_eacces("socket(AF_INET, SOCK_STREAM)", fd, errno);
	fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
	failed += expect_eacces("open(/etc/shadow)", fd, errno);
	failed += ptrace_own_child();
	return failed ? 1 : 0;
}
