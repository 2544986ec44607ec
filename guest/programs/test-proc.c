/*
 * test-proc -- fork, exec, wait and pipes: exit statuses, exec of
 * /bin/busybox true/false/sh, posix_spawn (vfork-style clone), pipes between
 * processes (more data than a pipe buffer holds), pipelines of exec'd
 * programs, WNOHANG, many concurrent children.
 */
#include "vgtest.h"

#include <fcntl.h>
#include <spawn.h>

extern char **environ;

static int wait_status(pid_t pid, int *status)
{
	pid_t r;

	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r == pid ? 0 : -1;
}

/* Runs argv (execv) in a child; returns its wait status, or -1. */
static int run(char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return wait_status(pid, &status) == 0 ? status : -1;
}

static int check_fork_exit_status(struct ctx *c)
{
	static const int codes[] = { 0, 1, 42, 127, 128, 255 };
	size_t i;
	int status;
	pid_t pid, parent = getpid();

	for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		pid = fork();
		if (pid < 0)
			return fail(c, "fork: %s", strerror(errno));
		if (pid == 0)
			_exit(getppid() == parent ? codes[i] : 99);
		if (wait_status(pid, &status) != 0)
			return fail(c, "waitpid: %s", strerror(errno));
		if (!WIFEXITED(status) || WEXITSTATUS(status) != codes[i])
			return fail(c, "child exit(%d): wait status 0x%x", codes[i], status);
	}
	/* exit 256 wraps to 0 */
	pid = fork();
	if (pid == 0)
		_exit(256);
	if (wait_status(pid, &status) != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(c, "exit(256): wait status 0x%x, want exit 0", status);
	/* killed by a signal */
	pid = fork();
	if (pid == 0) {
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	if (wait_status(pid, &status) != 0 || !WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
		return fail(c, "self-SIGKILL: wait status 0x%x", status);
	/* nothing left to wait for */
	EXPECT_TRUE("waitpid(-1) with no children fails with ECHILD", waitpid(-1, &status, 0) < 0 && errno == ECHILD);
	return 0;
}

static int check_exec_true_false(struct ctx *c)
{
	char *t[] = { "/bin/busybox", "true", NULL };
	char *f[] = { "/bin/busybox", "false", NULL };
	char *sh[] = { "/bin/busybox", "sh", "-c", "exit 7", NULL };
	char *nx[] = { "/nonexistent/program", NULL };
	int st;

	st = run(t);
	EXPECT_TRUE("exec busybox true: exited", st >= 0 && WIFEXITED(st));
	EXPECT_I64("exec busybox true: status", WEXITSTATUS(st), 0);
	st = run(f);
	EXPECT_TRUE("exec busybox false: exited", st >= 0 && WIFEXITED(st));
	EXPECT_I64("exec busybox false: status", WEXITSTATUS(st), 1);
	st = run(sh);
	EXPECT_TRUE("exec sh -c 'exit 7': exited", st >= 0 && WIFEXITED(st));
	EXPECT_I64("exec sh -c 'exit 7': status", WEXITSTATUS(st), 7);
	st = run(nx);
	EXPECT_I64("exec of a missing file: child's fallback status", WEXITSTATUS(st), 127);
	errno = 0;
	EXPECT_TRUE("execv of a missing file returns ENOENT", execv(nx[0], nx) < 0 && errno == ENOENT);
	return 0;
}

/* exec keeps the pid, and passes argv and the environment. */
static int check_exec_pid_argv_env(struct ctx *c)
{
	int p[2], status;
	char buf[128], want[128];
	ssize_t n, len = 0;
	pid_t pid;

	EXPECT_OK("pipe", pipe(p));
	pid = fork();
	if (pid == 0) {
		char *argv[] = { "/bin/busybox", "sh", "-c", "echo \"$$ $0 $1 $VGTEST_VAR\"", "zero", "one", NULL };
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		setenv("VGTEST_VAR", "from-env", 1);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p[1]);
	while ((n = read(p[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	close(p[0]);
	buf[len] = '\0';
	if (wait_status(pid, &status) != 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(c, "child wait status 0x%x", status);
	snprintf(want, sizeof(want), "%d zero one from-env\n", (int)pid);
	EXPECT_STR("sh output (pid argv0 argv1 env)", buf, want);
	return 0;
}

static int check_posix_spawn(struct ctx *c)
{
	char *t[] = { "/bin/busybox", "true", NULL };
	char *f[] = { "/bin/busybox", "false", NULL };
	pid_t pid;
	int status, r;

	r = posix_spawn(&pid, t[0], NULL, NULL, t, environ);
	EXPECT_I64("posix_spawn true", r, 0);
	EXPECT_TRUE("wait true", wait_status(pid, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	r = posix_spawn(&pid, f[0], NULL, NULL, f, environ);
	EXPECT_I64("posix_spawn false", r, 0);
	EXPECT_TRUE("wait false", wait_status(pid, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
	r = posix_spawn(&pid, "/nonexistent", NULL, NULL, t, environ);
	EXPECT_I64("posix_spawn of a missing file reports ENOENT", r, ENOENT);
	/* vfork: the child runs first in the parent's memory until it execs/exits */
	{
		volatile int shared = 0;
		pid = vfork();
		if (pid == 0) {
			shared = 5;
			_exit(3);
		}
		EXPECT_TRUE("vfork wait", wait_status(pid, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 3);
		EXPECT_I64("vfork child wrote the parent's memory", shared, 5);
	}
	return 0;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

#define PIPE_BYTES (256 * 1024 + 77)

/* Parent -> child -> parent through two pipes, 256 KiB (4x a pipe buffer),
 * the child transforms every byte; checks every byte that comes back. */
static int check_pipe_roundtrip(struct ctx *c)
{
	int to_child[2], from_child[2], status;
	pid_t pid, writer;
	static unsigned char buf[PIPE_BYTES];
	size_t got = 0, i;

	EXPECT_OK("pipe", pipe(to_child));
	EXPECT_OK("pipe", pipe(from_child));
	pid = fork();
	if (pid == 0) {
		unsigned char b[4096];
		ssize_t n;

		close(to_child[1]);
		close(from_child[0]);
		while ((n = read(to_child[0], b, sizeof(b))) > 0) {
			for (i = 0; i < (size_t)n; i++)
				b[i] = (unsigned char)(b[i] ^ 0x5a);
			if (write_all(from_child[1], b, (size_t)n) != 0)
				_exit(2);
		}
		_exit(n == 0 ? 0 : 3);
	}
	close(to_child[0]);
	close(from_child[1]);
	/* A third process writes, so neither side deadlocks on full pipes. */
	writer = fork();
	if (writer == 0) {
		static unsigned char out[PIPE_BYTES];
		close(from_child[0]);
		for (i = 0; i < PIPE_BYTES; i++)
			out[i] = (unsigned char)(i * 31 + (i >> 9));
		_exit(write_all(to_child[1], out, PIPE_BYTES) == 0 ? 0 : 4);
	}
	close(to_child[1]);
	for (;;) {
		ssize_t n = read(from_child[0], buf + got, PIPE_BYTES - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		if (got == PIPE_BYTES)
			break;
	}
	{
		unsigned char extra;
		EXPECT_I64("EOF after the data", read(from_child[0], &extra, 1), 0);
	}
	close(from_child[0]);
	EXPECT_TRUE("writer exited 0", wait_status(writer, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_TRUE("echo child exited 0", wait_status(pid, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_I64("bytes back", got, PIPE_BYTES);
	for (i = 0; i < PIPE_BYTES; i++)
		if (buf[i] != (unsigned char)((i * 31 + (i >> 9)) ^ 0x5a))
			return fail(c, "byte %zu: 0x%02x, want 0x%02x", i, buf[i], (unsigned char)((i * 31 + (i >> 9)) ^ 0x5a));
	return 0;
}

/* A pipeline of exec'd programs: printf | tr | wc -c, like a shell would set it up. */
static int check_exec_pipeline(struct ctx *c)
{
	int p1[2], p2[2], p3[2], status;
	pid_t a, b, d;
	char buf[256];
	ssize_t n, len = 0;

	EXPECT_OK("pipe", pipe(p1));
	EXPECT_OK("pipe", pipe(p2));
	EXPECT_OK("pipe", pipe(p3));
	a = fork();
	if (a == 0) {
		char *argv[] = { "/bin/busybox", "sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo hello-world; i=$((i+1)); done", NULL };
		dup2(p1[1], 1);
		close(p1[0]); close(p1[1]); close(p2[0]); close(p2[1]); close(p3[0]); close(p3[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	b = fork();
	if (b == 0) {
		char *argv[] = { "/bin/busybox", "tr", "a-z", "A-Z", NULL };
		dup2(p1[0], 0);
		dup2(p2[1], 1);
		close(p1[0]); close(p1[1]); close(p2[0]); close(p2[1]); close(p3[0]); close(p3[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	d = fork();
	if (d == 0) {
		char *argv[] = { "/bin/busybox", "sh", "-c", "grep -c '^HELLO-WORLD$'", NULL };
		dup2(p2[0], 0);
		dup2(p3[1], 1);
		close(p1[0]); close(p1[1]); close(p2[0]); close(p2[1]); close(p3[0]); close(p3[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(p1[0]); close(p1[1]); close(p2[0]); close(p2[1]); close(p3[1]);
	while ((n = read(p3[0], buf + len, sizeof(buf) - 1 - (size_t)len)) > 0)
		len += n;
	close(p3[0]);
	buf[len] = '\0';
	EXPECT_TRUE("producer exited 0", wait_status(a, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_TRUE("tr exited 0", wait_status(b, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_TRUE("grep exited 0", wait_status(d, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_STR("pipeline output", buf, "2000\n");
	return 0;
}

static int check_wnohang_and_many_children(struct ctx *c)
{
	int p[2], status, i, seen = 0;
	pid_t pid, kids[16];
	char ch = 'x';
	long sum = 0;

	EXPECT_OK("pipe", pipe(p));
	pid = fork();
	if (pid == 0) {
		char b;
		close(p[1]);
		_exit(read(p[0], &b, 1) == 1 && b == 'x' ? 9 : 1);
	}
	close(p[0]);
	EXPECT_I64("WNOHANG while the child blocks", waitpid(pid, &status, WNOHANG), 0);
	EXPECT_I64("write to the child", write(p[1], &ch, 1), 1);
	close(p[1]);
	EXPECT_TRUE("child then exits 9", wait_status(pid, &status) == 0 && WIFEXITED(status) && WEXITSTATUS(status) == 9);

	for (i = 0; i < 16; i++) {
		kids[i] = fork();
		if (kids[i] < 0)
			return fail(c, "fork %d: %s", i, strerror(errno));
		if (kids[i] == 0) {
			/* a little work so they overlap */
			volatile unsigned x = (unsigned)i;
			int k;
			for (k = 0; k < 20000; k++)
				x = x * 1103515245u + 12345u;
			_exit(10 + i);
		}
	}
	for (i = 0; i < 16; i++) {
		int j;
		pid = waitpid(-1, &status, 0);
		if (pid < 0)
			return fail(c, "waitpid(-1) #%d: %s", i, strerror(errno));
		for (j = 0; j < 16; j++)
			if (kids[j] == pid)
				break;
		if (j == 16)
			return fail(c, "waitpid(-1) returned unknown pid %d", (int)pid);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 10 + j)
			return fail(c, "child %d: status 0x%x, want exit %d", j, status, 10 + j);
		seen |= 1 << j;
		sum += WEXITSTATUS(status);
	}
	EXPECT_U64("all 16 children reaped", (unsigned)seen, 0xffff);
	EXPECT_I64("sum of statuses", sum, 16 * 10 + 120);
	return 0;
}

/* Writing to a pipe whose reader is gone: SIGPIPE, or EPIPE if ignored. */
static int check_sigpipe_epipe(struct ctx *c)
{
	int p[2], status;
	pid_t pid;

	EXPECT_OK("pipe", pipe(p));
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		signal(SIGPIPE, SIG_DFL);
		for (;;)
			if (write(p[1], "x", 1) < 0)
				_exit(5);
	}
	close(p[1]);
	close(p[0]);
	EXPECT_TRUE("wait", wait_status(pid, &status) == 0);
	EXPECT_TRUE("writer killed by SIGPIPE", WIFSIGNALED(status) && WTERMSIG(status) == SIGPIPE);
	EXPECT_OK("pipe", pipe(p));
	close(p[0]);
	signal(SIGPIPE, SIG_IGN);
	errno = 0;
	EXPECT_TRUE("write with SIGPIPE ignored fails with EPIPE", write(p[1], "x", 1) < 0 && errno == EPIPE);
	close(p[1]);
	return 0;
}

static const struct check checks[] = {
	{ "fork-exit-status", check_fork_exit_status },
	{ "exec-true-false", check_exec_true_false },
	{ "exec-pid-argv-env", check_exec_pid_argv_env },
	{ "posix-spawn-vfork", check_posix_spawn },
	{ "pipe-roundtrip-256k", check_pipe_roundtrip },
	{ "exec-pipeline", check_exec_pipeline },
	{ "wnohang-16-children", check_wnohang_and_many_children },
	{ "sigpipe-epipe", check_sigpipe_epipe },
};

VGTEST_MAIN("test-proc", checks)
