/*
 * test-time -- clocks and sleeps: CLOCK_MONOTONIC advances across
 * nanosleep(10 ms) by >= 10 ms and < 5 s and never goes backwards,
 * CLOCK_REALTIME is after 2020, gettimeofday/time agree with it, the vDSO
 * path (libc) agrees with the raw syscall, BOOTTIME >= MONOTONIC, absolute
 * clock_nanosleep, CPU-time clocks advance with work (and not with sleep),
 * times() ticks.
 */
#include "vgtest.h"

#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/times.h>

#define NS 1000000000ll
#define JAN_1_2020 1577836800ll /* 2020-01-01T00:00:00Z */

static int64_t ts_ns(const struct timespec *t) { return (int64_t)t->tv_sec * NS + t->tv_nsec; }

static int64_t clock_ns(clockid_t id)
{
	struct timespec t;

	if (clock_gettime(id, &t) != 0)
		return -1;
	return ts_ns(&t);
}

static int check_monotonic_nanosleep(struct ctx *c)
{
	struct timespec req = { 0, 10000000 }, rem;
	int64_t t0, t1, dt;
	int i;

	t0 = clock_ns(CLOCK_MONOTONIC);
	EXPECT_TRUE("clock_gettime(CLOCK_MONOTONIC)", t0 >= 0);
	EXPECT_OK("nanosleep 10 ms", nanosleep(&req, &rem));
	t1 = clock_ns(CLOCK_MONOTONIC);
	dt = t1 - t0;
	if (dt < 10000000)
		return fail(c, "nanosleep(10 ms) took only %" PRId64 " ns by CLOCK_MONOTONIC", dt);
	if (dt >= 5 * NS)
		return fail(c, "nanosleep(10 ms) took %" PRId64 " ms", dt / 1000000);
	/* never backwards, nsec in range, over many reads */
	t0 = clock_ns(CLOCK_MONOTONIC);
	for (i = 0; i < 20000; i++) {
		struct timespec t;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_nsec < 0 || t.tv_nsec >= NS)
			return fail(c, "tv_nsec out of range: %ld", (long)t.tv_nsec);
		t1 = ts_ns(&t);
		if (t1 < t0)
			return fail(c, "CLOCK_MONOTONIC went backwards by %" PRId64 " ns at read %d", t0 - t1, i);
		t0 = t1;
	}
	/* zero and invalid sleeps */
	req.tv_nsec = 0;
	EXPECT_OK("nanosleep 0", nanosleep(&req, NULL));
	req.tv_nsec = NS;
	errno = 0;
	EXPECT_TRUE("nanosleep tv_nsec = 1e9: EINVAL", nanosleep(&req, NULL) < 0 && errno == EINVAL);
	return 0;
}

static int check_realtime(struct ctx *c)
{
	struct timespec rt;
	struct timeval tv;
	time_t t;
	int64_t rt_ns, tv_ns;

	EXPECT_OK("clock_gettime(CLOCK_REALTIME)", clock_gettime(CLOCK_REALTIME, &rt));
	if (rt.tv_sec < JAN_1_2020)
		return fail(c, "CLOCK_REALTIME is %lld s, before 2020-01-01 (%lld)", (long long)rt.tv_sec, JAN_1_2020);
	EXPECT_TRUE("CLOCK_REALTIME before 2100", rt.tv_sec < 4102444800ll);
	EXPECT_OK("gettimeofday", gettimeofday(&tv, NULL));
	EXPECT_TRUE("tv_usec in range", tv.tv_usec >= 0 && tv.tv_usec < 1000000);
	rt_ns = ts_ns(&rt);
	tv_ns = (int64_t)tv.tv_sec * NS + tv.tv_usec * 1000;
	if (tv_ns < rt_ns - 1000 || tv_ns - rt_ns > NS)
		return fail(c, "gettimeofday %" PRId64 " vs CLOCK_REALTIME %" PRId64 " (ns): off by %" PRId64 " ns", tv_ns,
			    rt_ns, tv_ns - rt_ns);
	t = time(NULL);
	EXPECT_TRUE("time() within a second of CLOCK_REALTIME", t >= rt.tv_sec && t <= rt.tv_sec + 1);
	return 0;
}

/* libc's clock_gettime may use the vDSO (no syscall); compare with the
 * syscall itself, interleaved. */
static int check_vdso_vs_syscall(struct ctx *c)
{
	static const clockid_t ids[] = { CLOCK_MONOTONIC, CLOCK_REALTIME };
	size_t k;
	int i;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < 100; i++) {
			struct timespec a, b, s;
			clock_gettime(ids[k], &a);
			if (syscall(SYS_clock_gettime, ids[k], &s) != 0)
				return fail(c, "syscall clock_gettime: %s", strerror(errno));
			clock_gettime(ids[k], &b);
			if ((ts_ns(&s) < ts_ns(&a) || ts_ns(&s) > ts_ns(&b)) ^ VG_MUT)
				return fail(c, "clock %d: syscall %" PRId64 " not between libc reads %" PRId64 " and %" PRId64,
					    (int)ids[k], ts_ns(&s), ts_ns(&a), ts_ns(&b));
		}
	}
	return 0;
}

static int check_boottime_abs_sleep_res(struct ctx *c)
{
	struct timespec res, target;
	int64_t mono, boot, t0, t1;

	mono = clock_ns(CLOCK_MONOTONIC);
	boot = clock_ns(CLOCK_BOOTTIME);
	EXPECT_TRUE("CLOCK_BOOTTIME >= CLOCK_MONOTONIC", boot >= mono);
	EXPECT_OK("clock_getres(CLOCK_MONOTONIC)", clock_getres(CLOCK_MONOTONIC, &res));
	EXPECT_TRUE("MONOTONIC resolution <= 1 ms (high-resolution timers)", res.tv_sec == 0 && res.tv_nsec > 0 &&
		    res.tv_nsec <= 1000000);
	EXPECT_TRUE("CLOCK_MONOTONIC_COARSE readable", clock_ns(CLOCK_MONOTONIC_COARSE) > 0);
	/* absolute sleep to now + 15 ms */
	t0 = clock_ns(CLOCK_MONOTONIC);
	target.tv_sec = (t0 + 15000000) / NS;
	target.tv_nsec = (t0 + 15000000) % NS;
	EXPECT_I64("clock_nanosleep TIMER_ABSTIME", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, NULL), 0);
	t1 = clock_ns(CLOCK_MONOTONIC);
	EXPECT_TRUE("woke at or after the absolute target", t1 >= ts_ns(&target));
	if (t1 - t0 > 5 * NS)
		return fail(c, "absolute 15 ms sleep took %" PRId64 " ms", (t1 - t0) / 1000000);
	/* a target in the past returns at once */
	target.tv_sec = 0;
	target.tv_nsec = 1;
	EXPECT_I64("clock_nanosleep to a past time", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &target, NULL), 0);
	return 0;
}

static int check_cpu_clocks_times(struct ctx *c)
{
	struct timespec req = { 0, 50000000 };
	struct tms tm0, tm1;
	clock_t r0, r1;
	int64_t p0, p1, th0, th1, w0;
	long hz = sysconf(_SC_CLK_TCK);
	volatile uint64_t x = 1;

	EXPECT_TRUE("_SC_CLK_TCK > 0", hz > 0);
	r0 = times(&tm0);
	p0 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	th0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	EXPECT_TRUE("CPU-time clocks readable", p0 >= 0 && th0 >= 0);
	/* sleeping uses (almost) no CPU time */
	EXPECT_OK("nanosleep 50 ms", nanosleep(&req, NULL));
	r1 = times(&tm1);
	p1 = clock_ns(CLOCK_PROCESS_CPUTIME_ID);
	if (r1 - r0 < hz * 45 / 1000 || r1 - r0 > hz * 5)
		return fail(c, "times() advanced %ld ticks over a 50 ms sleep (%ld ticks/s)", (long)(r1 - r0), hz);
	if (p1 - p0 > 40000000)
		return fail(c, "process CPU time grew %" PRId64 " ms during a 50 ms sleep", (p1 - p0) / 1000000);
	/* busy work until 200 ms of CPU time: CPU clocks and times() follow */
	w0 = now_ns();
	while (clock_ns(CLOCK_PROCESS_CPUTIME_ID) - p1 < 200000000) {
		int i;
		for (i = 0; i < 10000; i++)
			x = x * 6364136223846793005ull + 1442695040888963407ull;
		if (now_ns() - w0 > 120 * NS)
			return fail(c, "CLOCK_PROCESS_CPUTIME_ID did not reach +200 ms in 120 s of busy loop");
	}
	th1 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
	EXPECT_TRUE("thread CPU time grew >= 190 ms", th1 - th0 >= 190000000);
	times(&tm1);
	if ((tm1.tms_utime + tm1.tms_stime) - (tm0.tms_utime + tm0.tms_stime) < hz / 20)
		return fail(c, "times(): user+sys grew %ld ticks over 200 ms of CPU (want >= %ld)",
			    (long)((tm1.tms_utime + tm1.tms_stime) - (tm0.tms_utime + tm0.tms_stime)), hz / 20);
	return 0;
}

static const struct check checks[] = {
	{ "monotonic-nanosleep-10ms", check_monotonic_nanosleep },
	{ "realtime-after-2020-gettimeofday", check_realtime },
	{ "vdso-vs-syscall", check_vdso_vs_syscall },
	{ "boottime-abs-sleep-res", check_boottime_abs_sleep_res },
	{ "cpu-clocks-times", check_cpu_clocks_times },
};

VGTEST_MAIN("test-time", checks)
