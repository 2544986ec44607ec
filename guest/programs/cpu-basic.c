/*
 * cpu-basic -- small, honest self-check of the guest CPU and kernel basics.
 *
 * Prints "PASS name" or "FAIL name (details)" for every check and exits 1 if
 * any check failed (0 otherwise). `cpu-basic NAME...` runs only the named
 * checks; `cpu-basic --list` lists them.
 *
 * Inputs go through volatile variables (V64/VU64/VD) so the compiler cannot
 * constant-fold the operations away: the instructions really run on the
 * (virtual) CPU under test.
 *
 * To add a check: write `static int check_foo(struct ctx *c)` using the
 * EXPECT_* macros and add it to the `checks` table at the bottom.
 */
#define _GNU_SOURCE
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct ctx {
	char why[256];
};

static int fail(struct ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return 1;
}

/* Launder values through memory so the compiler must emit the real operation. */
static int64_t V64(int64_t x) { volatile int64_t t = x; return t; }
static uint64_t VU64(uint64_t x) { volatile uint64_t t = x; return t; }
static int32_t V32(int32_t x) { volatile int32_t t = x; return t; }
static uint32_t VU32(uint32_t x) { volatile uint32_t t = x; return t; }
static double VD(double x) { volatile double t = x; return t; }

#define EXPECT_U64(what, got, want) do { \
	uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want); \
	if (g_ != w_) \
		return fail(c, "%s: got 0x%016" PRIx64 ", want 0x%016" PRIx64, (what), g_, w_); \
} while (0)

#define EXPECT_I64(what, got, want) do { \
	int64_t g_ = (int64_t)(got), w_ = (int64_t)(want); \
	if (g_ != w_) \
		return fail(c, "%s: got %" PRId64 ", want %" PRId64, (what), g_, w_); \
} while (0)

#define EXPECT_TRUE(what, cond) do { \
	if (!(cond)) \
		return fail(c, "%s", (what)); \
} while (0)

/* ---------------------------------------------------------------- checks */

static int check_int_arith(struct ctx *c)
{
	EXPECT_I64("2+3", V64(2) + V64(3), 5);
	EXPECT_I64("3-5", V64(3) - V64(5), -2);
	EXPECT_U64("u64 wrap add", VU64(UINT64_MAX) + VU64(1), 0);
	EXPECT_U64("u64 wrap sub", VU64(0) - VU64(1), UINT64_MAX);
	EXPECT_U64("u32 wrap add", (uint32_t)(VU32(0xffffffffu) + VU32(2)), 1);
	EXPECT_I64("neg", -V64(42), -42);
	EXPECT_U64("and", VU64(0xf0f0f0f0f0f0f0f0ull) & VU64(0xff00ff00ff00ff00ull),
		   0xf000f000f000f000ull);
	EXPECT_U64("or", VU64(0x0f0f) | VU64(0xf000), 0xff0f);
	EXPECT_U64("xor", VU64(0xdeadbeefcafebabeull) ^ VU64(0xffffffffffffffffull),
		   0x2152411035014541ull);
	EXPECT_U64("not", ~VU64(0), UINT64_MAX);
	EXPECT_TRUE("signed compare -1 < 1", V64(-1) < V64(1));
	EXPECT_TRUE("unsigned compare (u64)-1 > 1", VU64((uint64_t)-1) > VU64(1));
	EXPECT_I64("i32 sign extension", (int64_t)V32(-5), -5);
	EXPECT_U64("u32 zero extension", (uint64_t)VU32(0xfffffffbu), 0xfffffffbull);
	return 0;
}

static int check_mul64(struct ctx *c)
{
	unsigned __int128 p;
	__int128 sp;

	EXPECT_I64("7*6", V64(7) * V64(6), 42);
	EXPECT_I64("-7*6", V64(-7) * V64(6), -42);
	EXPECT_I64("-7*-6", V64(-7) * V64(-6), 42);
	EXPECT_U64("u64 low product wraps", VU64(0x100000001ull) * VU64(0x100000001ull),
		   0x0000000200000001ull);
	p = (unsigned __int128)VU64(UINT64_MAX) * VU64(UINT64_MAX);
	EXPECT_U64("mul hi(max*max)", (uint64_t)(p >> 64), 0xfffffffffffffffeull);
	EXPECT_U64("mul lo(max*max)", (uint64_t)p, 1);
	sp = (__int128)V64(INT64_MIN) * V64(-1);
	EXPECT_U64("imul hi(INT64_MIN*-1)", (uint64_t)((unsigned __int128)sp >> 64), 0);
	EXPECT_U64("imul lo(INT64_MIN*-1)", (uint64_t)sp, 0x8000000000000000ull);
	sp = (__int128)V64(-3) * V64(INT64_MAX);
	EXPECT_U64("imul hi(-3*INT64_MAX)", (uint64_t)((unsigned __int128)sp >> 64),
		   0xfffffffffffffffeull);
	EXPECT_U64("imul lo(-3*INT64_MAX)", (uint64_t)sp, 0x8000000000000003ull);
	EXPECT_I64("i32 mul", (int64_t)(V32(-40000) * V32(50000)), -2000000000);
	return 0;
}

static int check_div64(struct ctx *c)
{
	int64_t a, b;

	/* C (and x86 idiv) truncate toward zero; remainder has the dividend's sign. */
	EXPECT_I64("7/2", V64(7) / V64(2), 3);
	EXPECT_I64("7%2", V64(7) % V64(2), 1);
	EXPECT_I64("-7/2", V64(-7) / V64(2), -3);
	EXPECT_I64("-7%2", V64(-7) % V64(2), -1);
	EXPECT_I64("7/-2", V64(7) / V64(-2), -3);
	EXPECT_I64("7%-2", V64(7) % V64(-2), 1);
	EXPECT_I64("-7/-2", V64(-7) / V64(-2), 3);
	EXPECT_I64("INT64_MIN/1", V64(INT64_MIN) / V64(1), INT64_MIN);
	EXPECT_I64("INT64_MIN/2", V64(INT64_MIN) / V64(2), INT64_MIN / 2);
	EXPECT_I64("INT64_MAX/-1", V64(INT64_MAX) / V64(-1), -INT64_MAX);
	EXPECT_I64("INT64_MIN%7", V64(INT64_MIN) % V64(7), -1);
	/* INT64_MIN / -1 overflows (#DE on x86): must be guarded, never executed. */
	a = V64(INT64_MIN);
	b = V64(-1);
	if (!(a == INT64_MIN && b == -1))
		EXPECT_I64("guarded INT64_MIN/-1 (unreachable)", a / b, 0);
	EXPECT_U64("UINT64_MAX/3", VU64(UINT64_MAX) / VU64(3), 0x5555555555555555ull);
	EXPECT_U64("UINT64_MAX%10", VU64(UINT64_MAX) % VU64(10), 5);
	EXPECT_U64("u64 big/big", VU64(0xfedcba9876543210ull) / VU64(0x123456789ull),
		   0xfedcba9876543210ull / 0x123456789ull);
	EXPECT_U64("u32 div", VU32(0xffffffffu) / VU32(7), 0x24924924u);
	EXPECT_I64("i32 div", V32(-100) / V32(7), -14);
	EXPECT_I64("i32 mod", V32(-100) % V32(7), -2);
	return 0;
}

static int check_shifts(struct ctx *c)
{
	unsigned n;

	EXPECT_U64("shl 1<<63", VU64(1) << VU32(63), 0x8000000000000000ull);
	EXPECT_U64("shr >>63", VU64(0x8000000000000000ull) >> VU32(63), 1);
	EXPECT_I64("sar -8>>1", V64(-8) >> VU32(1), -4);
	EXPECT_I64("sar INT64_MIN>>63", V64(INT64_MIN) >> VU32(63), -1);
	EXPECT_I64("sar -1>>40", V64(-1) >> VU32(40), -1);
	EXPECT_U64("shr 32-bit", (uint64_t)(VU32(0x80000000u) >> VU32(31)), 1);
	n = VU32(65);
	EXPECT_U64("masked count (n&63)", VU64(3) << (n & 63), 6);
	n = VU32(8);
	EXPECT_U64("rol 8", (VU64(0x0123456789abcdefull) << n) | (VU64(0x0123456789abcdefull) >> (64 - n)),
		   0x23456789abcdef01ull);
	EXPECT_U64("ror 8", (VU64(0x0123456789abcdefull) >> n) | (VU64(0x0123456789abcdefull) << (64 - n)),
		   0xef0123456789abcdull);
	EXPECT_I64("clz", __builtin_clzll(VU64(1ull << 40)), 23);
	EXPECT_I64("ctz", __builtin_ctzll(VU64(1ull << 40)), 40);
	EXPECT_I64("popcount", __builtin_popcountll(VU64(0xf0f0f0f0f0f0f0f1ull)), 33);
	EXPECT_U64("bswap64", __builtin_bswap64(VU64(0x0102030405060708ull)), 0x0807060504030201ull);
	return 0;
}

static int check_string(struct ctx *c)
{
	static char src[4096 + 64], dst[4096 + 64];
	size_t i, len;

	for (i = 0; i < sizeof(src); i++)
		src[i] = (char)(i * 131 + 7);
	/* Several sizes and misalignments. */
	for (len = 0; len < 4096; len = len * 2 + 1) {
		for (i = 0; i < 8; i++) {
			memset(dst, 0x5a, sizeof(dst));
			memcpy(dst + i, src + (7 - i), len);
			if (memcmp(dst + i, src + (7 - i), len) != 0)
				return fail(c, "memcpy len=%zu off=%zu: data mismatch", len, i);
			if ((unsigned char)dst[i + len] != 0x5a)
				return fail(c, "memcpy len=%zu off=%zu: wrote past end", len, i);
			if (i > 0 && (unsigned char)dst[i - 1] != 0x5a)
				return fail(c, "memcpy len=%zu off=%zu: wrote before start", len, i);
		}
	}
	memset(dst, 0, sizeof(dst));
	memset(dst + 3, 0xa5, 1000);
	for (i = 0; i < 1010; i++) {
		unsigned char want = (i >= 3 && i < 1003) ? 0xa5 : 0;
		if ((unsigned char)dst[i] != want)
			return fail(c, "memset: byte %zu is 0x%02x, want 0x%02x", i,
				    (unsigned char)dst[i], want);
	}
	memset(dst, 'x', 777);
	dst[777] = '\0';
	EXPECT_I64("strlen 777", strlen(dst), 777);
	EXPECT_I64("strlen empty", strlen(dst + 777), 0);
	EXPECT_I64("strlen unaligned", strlen(dst + 5), 772);
	/* Overlapping move. */
	for (i = 0; i < 100; i++)
		dst[i] = (char)i;
	memmove(dst + 10, dst, 50);
	for (i = 0; i < 50; i++)
		if (dst[10 + i] != (char)i)
			return fail(c, "memmove overlap: dst[%zu]=%d, want %zu", 10 + i, dst[10 + i], i);
	EXPECT_TRUE("memcmp order", memcmp("abc", "abd", 3) < 0);
	EXPECT_TRUE("strcmp equal", strcmp(dst + 700, dst + 700) == 0);
	return 0;
}

static int check_double(struct ctx *c)
{
	double a = VD(0.1), b = VD(0.2), s;
	uint64_t bits;

	s = a + b;
	memcpy(&bits, &s, sizeof(bits));
	EXPECT_U64("0.1+0.2 bits", bits, 0x3fd3333333333334ull); /* != 0.3 */
	EXPECT_TRUE("0.1+0.2 != 0.3", s != VD(0.3));
	EXPECT_TRUE("1.5*2.25 == 3.375", VD(1.5) * VD(2.25) == 3.375);
	EXPECT_TRUE("1/3*3 == 1", VD(1.0) / VD(3.0) * VD(3.0) == 1.0);
	EXPECT_TRUE("10-0.5 == 9.5", VD(10.0) - VD(0.5) == 9.5);
	EXPECT_TRUE("sqrt(2)^2 ~ 2", __builtin_fabs(__builtin_sqrt(VD(2.0)) * __builtin_sqrt(VD(2.0)) - 2.0) < 1e-15);
	EXPECT_I64("(int64)-2.9 truncates", (int64_t)VD(-2.9), -2);
	EXPECT_I64("(int64)1e18", (int64_t)VD(1e18), 1000000000000000000ll);
	EXPECT_TRUE("(double)INT64_MIN", (double)V64(INT64_MIN) == -9223372036854775808.0);
	EXPECT_TRUE("(double)u64 max", (double)VU64(UINT64_MAX) == 18446744073709551616.0);
	EXPECT_TRUE("overflow -> inf", VD(1e308) * VD(10.0) == __builtin_inf());
	EXPECT_TRUE("1/-inf is -0", __builtin_signbit(VD(1.0) / VD(-__builtin_inf())));
	s = VD(0.0) / VD(0.0);
	EXPECT_TRUE("NaN != NaN", s != s);
	EXPECT_TRUE("denormal nonzero", VD(2.2250738585072014e-308) / VD(4.0) > 0.0);
	return 0;
}

static int check_clock_monotonic(struct ctx *c)
{
	struct timespec t0, t1, rt;
	uint64_t spins = 0;
	int64_t d;

	if (clock_gettime(CLOCK_MONOTONIC, &t0) != 0)
		return fail(c, "clock_gettime(CLOCK_MONOTONIC) failed");
	if (clock_gettime(CLOCK_REALTIME, &rt) != 0)
		return fail(c, "clock_gettime(CLOCK_REALTIME) failed");
	do {
		if (clock_gettime(CLOCK_MONOTONIC, &t1) != 0)
			return fail(c, "clock_gettime(CLOCK_MONOTONIC) failed");
		d = (int64_t)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
		if (d < 0)
			return fail(c, "went backwards by %" PRId64 " ns", -d);
	} while (d < 1000000 && ++spins < 100000000ull); /* wait for >= 1 ms */
	if (d < 1000000)
		return fail(c, "did not advance 1 ms in %" PRIu64 " reads (delta %" PRId64 " ns)",
			    spins, d);
	if (t1.tv_nsec < 0 || t1.tv_nsec >= 1000000000)
		return fail(c, "tv_nsec out of range: %ld", (long)t1.tv_nsec);
	return 0;
}

static int check_fork_wait(struct ctx *c)
{
	int status = 0;
	pid_t pid, got;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return fail(c, "fork failed");
	if (pid == 0)
		_exit(42);
	got = waitpid(pid, &status, 0);
	if (got != pid)
		return fail(c, "waitpid returned %d, want %d", (int)got, (int)pid);
	if (!WIFEXITED(status))
		return fail(c, "child did not exit normally (status 0x%x)", status);
	EXPECT_I64("child exit status", WEXITSTATUS(status), 42);
	return 0;
}

/* ----------------------------------------------------------------- table */

static const struct check {
	const char *name;
	int (*fn)(struct ctx *);
} checks[] = {
	{ "int-arith", check_int_arith },
	{ "mul64", check_mul64 },
	{ "div64", check_div64 },
	{ "shifts", check_shifts },
	{ "string", check_string },
	{ "double", check_double },
	{ "clock-monotonic", check_clock_monotonic },
	{ "fork-wait", check_fork_wait },
};

#define NCHECKS (sizeof(checks) / sizeof(checks[0]))

static int run(const struct check *k)
{
	struct ctx c;

	memset(&c, 0, sizeof(c));
	if (k->fn(&c) != 0) {
		printf("FAIL %s (%s)\n", k->name, c.why[0] ? c.why : "no details");
		fflush(stdout);
		return 1;
	}
	printf("PASS %s\n", k->name);
	fflush(stdout);
	return 0;
}

static const struct check *find(const char *name)
{
	size_t i;

	for (i = 0; i < NCHECKS; i++)
		if (strcmp(name, checks[i].name) == 0)
			return &checks[i];
	return NULL;
}

int main(int argc, char **argv)
{
	size_t i;
	int a, failed = 0, ran = 0;

	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (i = 0; i < NCHECKS; i++)
			printf("%s\n", checks[i].name);
		return 0;
	}
	if (argc == 1) {
		for (i = 0; i < NCHECKS; i++, ran++)
			failed += run(&checks[i]);
	} else {
		for (a = 1; a < argc; a++) {
			if (find(argv[a]) == NULL) {
				fprintf(stderr, "cpu-basic: unknown check '%s' (try --list)\n", argv[a]);
				return 2;
			}
		}
		for (a = 1; a < argc; a++, ran++)
			failed += run(find(argv[a]));
	}
	printf("cpu-basic: %d passed, %d failed\n", ran - failed, failed);
	return failed ? 1 : 0;
}
