/*
 * vgtest.h -- the small harness shared by guest/programs/test-*.c.
 *
 * A test program is a table of named checks:
 *
 *     static int check_foo(struct ctx *c) { EXPECT_U64("what", got, want); return 0; }
 *     static const struct check checks[] = { { "foo", check_foo }, ... };
 *     VGTEST_MAIN("test-bar", checks)
 *
 * The program prints "PASS name" or "FAIL name (details)" per check and a
 * summary line "<prog>: N passed, M failed", and exits 1 if any check failed.
 * `prog NAME...` runs only the named checks, `prog --list` lists them.
 *
 * Every check runs in its own forked child, so a check that crashes, hangs or
 * leaves signal handlers, mappings or threads behind cannot disturb the next
 * one: a crash becomes "FAIL name (killed by signal N)". The child is its
 * own process group, and whatever is left of that group when the check ends
 * is killed (a failing check may leave a paused grandchild). A check that runs
 * longer than $VGTEST_TIMEOUT seconds (default 600) is killed (SIGKILL) and
 * reported as timed out. VGTEST_NOFORK=1 runs the checks in-process instead
 * (for debugging).
 *
 * A check marked hw_only tests behaviour that real CPUs have but QEMU 7.2's
 * TCG gets wrong (the reference this suite is validated against). It runs
 * only when named on the command line or with VGTEST_HW=1.
 *
 * Expected values are constants written down from the architecture manuals /
 * known results, never values computed by running the same code again.
 * Inputs go through volatile variables (V64/VU64/VD...) so the compiler cannot
 * fold the operation away: the instruction really runs on the CPU under test.
 */
#ifndef VGTEST_H
#define VGTEST_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

struct ctx {
	char why[480];
};

/* Tables list { name, fn } and only sometimes hw_only. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

struct check {
	const char *name;
	int (*fn)(struct ctx *);
	int hw_only; /* see below */
};

__attribute__((format(printf, 2, 3), unused))
static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return 1;
}

/* Launder values through memory so the compiler must emit the real operation. */
__attribute__((unused)) static int64_t V64(int64_t x) { volatile int64_t t = x; return t; }
__attribute__((unused)) static uint64_t VU64(uint64_t x) { volatile uint64_t t = x; return t; }
__attribute__((unused)) static int32_t V32(int32_t x) { volatile int32_t t = x; return t; }
__attribute__((unused)) static uint32_t VU32(uint32_t x) { volatile uint32_t t = x; return t; }
__attribute__((unused)) static double VD(double x) { volatile double t = x; return t; }
__attribute__((unused)) static float VF(float x) { volatile float t = x; return t; }
__attribute__((unused)) static long double VLD(long double x) { volatile long double t = x; return t; }

__attribute__((unused)) static uint64_t dbits(double d) { uint64_t u; memcpy(&u, &d, 8); return u; }
__attribute__((unused)) static double bitsd(uint64_t u) { double d; memcpy(&d, &u, 8); return d; }
__attribute__((unused)) static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
__attribute__((unused)) static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

/*
 * Compiled with -DVGTEST_MUTATE, every EXPECT_* inverts its test (and the
 * table-driven checks flip their expected values): then every check must
 * FAIL. That proves each check really compares something (a check that
 * cannot fail is not a check). Not used in the image.
 */
#ifdef VGTEST_MUTATE
#define VG_MUT 1
#else
#define VG_MUT 0
#endif

#define EXPECT_U64(what, got, want) do { \
	uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want) ^ VG_MUT; \
	if (g_ != w_) \
		return fail(c, "%s: got 0x%" PRIx64 ", want 0x%" PRIx64, (what), g_, w_); \
} while (0)

#define EXPECT_I64(what, got, want) do { \
	int64_t g_ = (int64_t)(got), w_ = (int64_t)(want) ^ VG_MUT; \
	if (g_ != w_) \
		return fail(c, "%s: got %" PRId64 ", want %" PRId64, (what), g_, w_); \
} while (0)

#define EXPECT_STR(what, got, want) do { \
	const char *g_ = (got), *w_ = (want); \
	if ((strcmp(g_, w_) != 0) != VG_MUT) \
		return fail(c, "%s: got \"%s\", want \"%s\"", (what), g_, w_); \
} while (0)

#define EXPECT_TRUE(what, cond) do { \
	if ((!(cond)) ^ VG_MUT) \
		return fail(c, "%s", (what)); \
} while (0)

/* A syscall-style call that must return >= 0 (or a pointer not MAP_FAILED/NULL). */
#define EXPECT_OK(what, expr) do { \
	errno = 0; \
	if ((long)(expr) < 0) \
		return fail(c, "%s: %s", (what), strerror(errno)); \
} while (0)

/*
 * Catching an expected synchronous signal: trap_begin() installs a one-shot
 * SA_SIGINFO handler for SIG and returns 0; when the signal arrives, the
 * handler records its siginfo and jumps back, and TRAP_BEGIN "returns" 1.
 *
 *     if (TRAP_BEGIN(SIGSEGV) == 0) { *(volatile int *)p = 1; trap_end(); return fail(...); }
 *     trap_end();  ... check trap_info.si_addr ...
 */
static sigjmp_buf trap_env;
static volatile sig_atomic_t trap_hits;
static siginfo_t trap_info;
static struct sigaction trap_old;
static int trap_sig;

__attribute__((unused)) static void trap_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	trap_info = *si;
	trap_hits++;
	siglongjmp(trap_env, 1);
}

__attribute__((unused)) static void trap_install(int sig)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = trap_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	trap_sig = sig;
	memset(&trap_info, 0, sizeof(trap_info));
	sigaction(sig, &sa, &trap_old);
}

#define TRAP_BEGIN(sig) (trap_install(sig), sigsetjmp(trap_env, 1))

__attribute__((unused)) static void trap_end(void)
{
	sigaction(trap_sig, &trap_old, NULL);
}

/* Monotonic nanoseconds. */
#include <time.h>
__attribute__((unused)) static int64_t now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* ----------------------------------------------------------------- runner */

static int vgtest_run_one(const struct check *k)
{
	struct ctx *shared;
	int status, rc;
	pid_t pid;
	const char *nofork = getenv("VGTEST_NOFORK");
	const char *tmo = getenv("VGTEST_TIMEOUT");

	if (nofork != NULL && strcmp(nofork, "1") == 0) {
		struct ctx c;

		memset(&c, 0, sizeof(c));
		rc = k->fn(&c);
		if (rc != 0)
			printf("FAIL %s (%s)\n", k->name, c.why[0] ? c.why : "no details");
		else
			printf("PASS %s\n", k->name);
		fflush(stdout);
		return rc != 0;
	}

	shared = mmap(NULL, sizeof(*shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shared == MAP_FAILED) {
		printf("FAIL %s (harness: mmap: %s)\n", k->name, strerror(errno));
		fflush(stdout);
		return 1;
	}
	memset(shared, 0, sizeof(*shared));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		printf("FAIL %s (harness: fork: %s)\n", k->name, strerror(errno));
		fflush(stdout);
		munmap(shared, sizeof(*shared));
		return 1;
	}
	if (pid == 0) {
		struct ctx c;

		setpgid(0, 0);
		memset(&c, 0, sizeof(c));
		rc = k->fn(&c);
		memcpy(shared, &c, sizeof(c));
		fflush(stdout);
		_exit(rc != 0 ? 1 : 0);
	}
	setpgid(pid, pid); /* (both sides: no race with the kill below) */
	/* Poll for the child (1 ms, growing to 50 ms), kill it at the timeout. */
	{
		int64_t limit = (int64_t)(tmo != NULL ? atoi(tmo) : 600) * 1000000000;
		int64_t start = now_ns(), nap = 1000000;
		int timed_out = 0;
		pid_t r;

		for (;;) {
			r = waitpid(pid, &status, WNOHANG);
			if (r == pid)
				break;
			if (r < 0 && errno != EINTR) {
				printf("FAIL %s (harness: waitpid: %s)\n", k->name, strerror(errno));
				fflush(stdout);
				return 1;
			}
			if (!timed_out && now_ns() - start > limit) {
				kill(-pid, SIGKILL);
				timed_out = 1;
			}
			{
				struct timespec ts = { 0, (long)nap };
				nanosleep(&ts, NULL);
			}
			if (nap < 50000000)
				nap *= 2;
		}
		/* Processes the check left behind (a failed check may not reach
		 * its cleanup) go too: they may hold our stdout open. */
		kill(-pid, SIGKILL);
		if (timed_out) {
			printf("FAIL %s (timed out after %" PRId64 " s)\n", k->name, limit / 1000000000);
			fflush(stdout);
			munmap(shared, sizeof(*shared));
			return 1;
		}
	}
	shared->why[sizeof(shared->why) - 1] = '\0';
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		printf("PASS %s\n", k->name);
		rc = 0;
	} else if (WIFEXITED(status)) {
		printf("FAIL %s (%s)\n", k->name, shared->why[0] ? shared->why : "no details");
		rc = 1;
	} else if (WIFSIGNALED(status)) {
		printf("FAIL %s (killed by signal %d%s%s)\n", k->name, WTERMSIG(status),
		       shared->why[0] ? "; " : "", shared->why);
		rc = 1;
	} else {
		printf("FAIL %s (unexpected wait status 0x%x)\n", k->name, status);
		rc = 1;
	}
	fflush(stdout);
	munmap(shared, sizeof(*shared));
	return rc;
}

__attribute__((unused))
static int vgtest_main(const char *prog, const struct check *checks, size_t n, int argc, char **argv)
{
	size_t i;
	int a, failed = 0, ran = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	const char *hw = getenv("VGTEST_HW");
	int all_hw = hw != NULL && strcmp(hw, "1") == 0;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (i = 0; i < n; i++)
			printf("%s%s\n", checks[i].name, checks[i].hw_only ? " (hw-only)" : "");
		return 0;
	}
	for (a = 1; a < argc; a++) {
		for (i = 0; i < n; i++)
			if (strcmp(argv[a], checks[i].name) == 0)
				break;
		if (i == n) {
			fprintf(stderr, "%s: unknown check '%s' (try --list)\n", prog, argv[a]);
			return 2;
		}
	}
	for (i = 0; i < n; i++) {
		if (argc > 1) {
			for (a = 1; a < argc; a++)
				if (strcmp(argv[a], checks[i].name) == 0)
					break;
			if (a == argc)
				continue;
		} else if (checks[i].hw_only && !all_hw) {
			continue;
		}
		failed += vgtest_run_one(&checks[i]);
		ran++;
	}
	printf("%s: %d passed, %d failed\n", prog, ran - failed, failed);
	return failed ? 1 : 0;
}

#define VGTEST_MAIN(prog, table) \
	int main(int argc, char **argv) \
	{ \
		return vgtest_main((prog), (table), sizeof(table) / sizeof((table)[0]), argc, argv); \
	}

#endif
