/*
 * test-signal -- synchronous faults (SIGSEGV with si_addr/si_code, SIGILL on
 * ud2, #GP on a non-canonical address), handlers that edit the interrupted
 * context, FPU/SSE state across a handler, SIGALRM via alarm and setitimer
 * (ITIMER_REAL and ITIMER_VIRTUAL), sigprocmask and pending signals, raise
 * and sigqueue siginfo, queued real-time signals, kill/stop/continue of a
 * child, EINTR vs SA_RESTART, sigaltstack with a stack overflow.
 */
#include "vgtest.h"

#include <sys/resource.h>
#include <sys/time.h>
#include <ucontext.h>

/* Faulting instructions with global labels, so si_addr can be compared. */
__asm__(".text\n"
	/* void vg_ud2(void): raises #UD at vg_ud2_at */
	".globl vg_ud2\n.type vg_ud2,@function\nvg_ud2:\n"
	".globl vg_ud2_at\nvg_ud2_at:\n"
	"  ud2\n  ret\n"
	/* uint64_t vg_ud2_rax(void): rax = 1; ud2; return rax (a handler may change it) */
	".globl vg_ud2_rax\n.type vg_ud2_rax,@function\nvg_ud2_rax:\n"
	"  mov $1, %eax\n"
	".globl vg_ud2_rax_at\nvg_ud2_rax_at:\n"
	"  ud2\n  ret\n"
	/* uint64_t vg_load(uint64_t addr): reads 8 bytes at addr, at vg_load_at */
	".globl vg_load\n.type vg_load,@function\nvg_load:\n"
	".globl vg_load_at\nvg_load_at:\n"
	"  mov (%rdi), %rax\n  ret\n"
	".previous\n");
void vg_ud2(void);
uint64_t vg_ud2_rax(void);
uint64_t vg_load(uint64_t addr);
extern const char vg_ud2_at[], vg_ud2_rax_at[], vg_load_at[];

static const char rodata_byte[1] = { 'r' };

static int check_sigsegv_si_addr(struct ctx *c)
{
	volatile uint64_t r = 0;

	if (TRAP_BEGIN(SIGSEGV) == 0) {
		r = vg_load(0x1234);
		trap_end();
		return fail(c, "read of 0x1234: no SIGSEGV (got 0x%" PRIx64 ")", (uint64_t)r);
	}
	trap_end();
	EXPECT_I64("unmapped: si_signo", trap_info.si_signo, SIGSEGV);
	EXPECT_I64("unmapped: si_code SEGV_MAPERR", trap_info.si_code, SEGV_MAPERR);
	EXPECT_U64("unmapped: si_addr", (uint64_t)trap_info.si_addr, 0x1234);

	if (TRAP_BEGIN(SIGSEGV) == 0) {
		*(volatile char *)rodata_byte = 'w';
		trap_end();
		return fail(c, "write to .rodata: no SIGSEGV");
	}
	trap_end();
	EXPECT_I64("read-only: si_code SEGV_ACCERR", trap_info.si_code, SEGV_ACCERR);
	EXPECT_U64("read-only: si_addr", (uint64_t)trap_info.si_addr, (uint64_t)rodata_byte);
	EXPECT_I64("read-only: byte unchanged", rodata_byte[0], 'r');

	/* A non-canonical address raises #GP, not #PF: the kernel reports
	 * SIGSEGV with SI_KERNEL and no address. */
	if (TRAP_BEGIN(SIGSEGV) == 0) {
		r = vg_load(0x8000000000001000ull);
		trap_end();
		return fail(c, "read of a non-canonical address: no SIGSEGV");
	}
	trap_end();
	EXPECT_I64("non-canonical: si_code SI_KERNEL", trap_info.si_code, SI_KERNEL);
	EXPECT_U64("non-canonical: si_addr", (uint64_t)trap_info.si_addr, 0);
	return 0;
}

static int check_sigill_ud2(struct ctx *c)
{
	if (TRAP_BEGIN(SIGILL) == 0) {
		vg_ud2();
		trap_end();
		return fail(c, "ud2: no SIGILL");
	}
	trap_end();
	EXPECT_I64("si_signo", trap_info.si_signo, SIGILL);
	EXPECT_I64("si_code ILL_ILLOPN", trap_info.si_code, ILL_ILLOPN);
	EXPECT_U64("si_addr = the ud2", (uint64_t)trap_info.si_addr, (uint64_t)vg_ud2_at);
	return 0;
}

/* The handler edits the saved context: skips the 2-byte ud2 and sets rax. */
static volatile uint64_t seen_rip;

static void skip_ud2_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig;
	(void)si;
	seen_rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	uc->uc_mcontext.gregs[REG_RIP] += 2;
	uc->uc_mcontext.gregs[REG_RAX] = 0x1234567887654321ll;
}

static int check_handler_edits_context(struct ctx *c)
{
	struct sigaction sa;
	uint64_t r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = skip_ud2_handler;
	sa.sa_flags = SA_SIGINFO;
	EXPECT_OK("sigaction", sigaction(SIGILL, &sa, NULL));
	r = vg_ud2_rax();
	EXPECT_U64("saved rip = the ud2", seen_rip, (uint64_t)vg_ud2_rax_at);
	EXPECT_U64("rax set by the handler survives sigreturn", r, 0x1234567887654321ull);
	r = vg_ud2_rax();
	EXPECT_U64("and again", r, 0x1234567887654321ull);
	return 0;
}

/* The kernel saves and restores the FPU/SSE state around a handler that
 * clobbers it. */
static void clobber_fpu_handler(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;
	volatile double d = 3.0;

	(void)sig;
	(void)si;
	__asm__ volatile("pxor %%xmm0, %%xmm0\n\tpcmpeqb %%xmm1, %%xmm1\n\tpxor %%xmm2, %%xmm2\n\t"
			 "pxor %%xmm15, %%xmm15\n\tfldpi\n\tfstp %%st(0)"
			 : : : "xmm0", "xmm1", "xmm2", "xmm15", "memory");
	d = d * d;
	(void)d;
	__asm__ volatile("ldmxcsr %0" : : "m"((uint32_t){ 0x7f80 })); /* round toward zero */
	uc->uc_mcontext.gregs[REG_RIP] += 2;
}

static int check_fpu_state_across_handler(struct ctx *c)
{
	struct sigaction sa;
	static const uint64_t in[8] = { 0x0123456789abcdefull, 0xfedcba9876543210ull, 0x1111111122222222ull,
					0x3333333344444444ull, 0x5555555566666666ull, 0x7777777788888888ull,
					0x99999999aaaaaaaaull, 0xbbbbbbbbccccccccull };
	uint64_t out[8];
	uint32_t mx_before, mx_after;
	int i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = clobber_fpu_handler;
	sa.sa_flags = SA_SIGINFO;
	EXPECT_OK("sigaction", sigaction(SIGILL, &sa, NULL));
	__asm__ volatile("stmxcsr %0" : "=m"(mx_before));
	__asm__ volatile("movdqu 0(%1), %%xmm0\n\tmovdqu 16(%1), %%xmm1\n\tmovdqu 32(%1), %%xmm2\n\t"
			 "movdqu 48(%1), %%xmm15\n\t"
			 "ud2\n\t"
			 "movdqu %%xmm0, 0(%0)\n\tmovdqu %%xmm1, 16(%0)\n\tmovdqu %%xmm2, 32(%0)\n\t"
			 "movdqu %%xmm15, 48(%0)"
			 : : "r"(out), "r"(in) : "xmm0", "xmm1", "xmm2", "xmm15", "memory");
	__asm__ volatile("stmxcsr %0" : "=m"(mx_after));
	for (i = 0; i < 8; i++)
		if (out[i] != in[i])
			return fail(c, "xmm state qword %d: 0x%016" PRIx64 ", want 0x%016" PRIx64, i, out[i], in[i]);
	EXPECT_U64("MXCSR restored after the handler", mx_after & ~0x3fu, mx_before & ~0x3fu);
	return 0;
}

static volatile sig_atomic_t hits;
static volatile int last_sig;
static siginfo_t last_info;
static sigset_t mask_in_handler;

static void counting_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	hits++;
	last_sig = sig;
	last_info = *si;
	sigprocmask(SIG_BLOCK, NULL, &mask_in_handler);
}

static int on(int sig, int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = counting_handler;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

static int check_sigalrm_alarm(struct ctx *c)
{
	sigset_t block, empty;
	int64_t t0, dt;

	hits = 0;
	EXPECT_OK("sigaction", on(SIGALRM, 0));
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);
	t0 = now_ns();
	EXPECT_I64("alarm(1) returns 0 (no previous alarm)", alarm(1), 0);
	while (hits == 0)
		sigsuspend(&empty);
	dt = now_ns() - t0;
	EXPECT_I64("SIGALRM count", hits, 1);
	EXPECT_I64("signal number", last_sig, SIGALRM);
	EXPECT_TRUE("alarm(1) fired after >= 0.9 s", dt >= 900000000);
	if (dt > 30000000000ll)
		return fail(c, "alarm(1) took %" PRId64 " ms", dt / 1000000);
	/* alarm(0) cancels and returns the seconds left */
	alarm(100);
	{
		unsigned left = alarm(0);
		EXPECT_TRUE("alarm(0) after alarm(100) returns 99..100", left >= 99 && left <= 100);
	}
	return 0;
}

static int check_setitimer(struct ctx *c)
{
	struct itimerval it, got;
	sigset_t block, empty;
	int64_t t0, dt;
	volatile uint64_t spin = 0;

	hits = 0;
	EXPECT_OK("sigaction", on(SIGALRM, 0));
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	sigprocmask(SIG_BLOCK, &block, NULL);
	sigemptyset(&empty);
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 20000;
	it.it_interval.tv_usec = 20000;
	t0 = now_ns();
	EXPECT_OK("setitimer ITIMER_REAL 20 ms", setitimer(ITIMER_REAL, &it, NULL));
	while (hits < 5)
		sigsuspend(&empty);
	dt = now_ns() - t0;
	memset(&it, 0, sizeof(it));
	EXPECT_OK("disarm", setitimer(ITIMER_REAL, &it, NULL));
	EXPECT_OK("getitimer", getitimer(ITIMER_REAL, &got));
	EXPECT_TRUE("disarmed timer reads 0", got.it_value.tv_sec == 0 && got.it_value.tv_usec == 0);
	EXPECT_TRUE("5 periods of 20 ms took >= 95 ms", dt >= 95000000);
	if (dt > 20000000000ll)
		return fail(c, "5 periods of 20 ms took %" PRId64 " ms", dt / 1000000);

	/* ITIMER_VIRTUAL counts user CPU time: a busy loop gets SIGVTALRM. */
	hits = 0;
	EXPECT_OK("sigaction", on(SIGVTALRM, 0));
	it.it_value.tv_usec = 30000;
	EXPECT_OK("setitimer ITIMER_VIRTUAL 30 ms", setitimer(ITIMER_VIRTUAL, &it, NULL));
	t0 = now_ns();
	while (hits == 0 && now_ns() - t0 < 60000000000ll)
		spin++;
	EXPECT_I64("SIGVTALRM after 30 ms of user CPU", hits, 1);
	EXPECT_I64("signal number", last_sig, SIGVTALRM);
	return 0;
}

static int check_sigprocmask_pending(struct ctx *c)
{
	sigset_t s, pend, old;
	struct sigaction sa;

	hits = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = counting_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaddset(&sa.sa_mask, SIGUSR2); /* also blocked while the handler runs */
	EXPECT_OK("sigaction", sigaction(SIGUSR1, &sa, NULL));
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	EXPECT_OK("block SIGUSR1", sigprocmask(SIG_BLOCK, &s, &old));
	EXPECT_TRUE("SIGUSR1 was not blocked before", !sigismember(&old, SIGUSR1));
	raise(SIGUSR1);
	raise(SIGUSR1); /* standard signals do not queue */
	EXPECT_I64("blocked: handler did not run", hits, 0);
	EXPECT_OK("sigpending", sigpending(&pend));
	EXPECT_TRUE("SIGUSR1 pending", sigismember(&pend, SIGUSR1));
	EXPECT_TRUE("SIGUSR2 not pending", !sigismember(&pend, SIGUSR2));
	EXPECT_OK("unblock", sigprocmask(SIG_UNBLOCK, &s, NULL));
	/* delivered before sigprocmask returns, once */
	EXPECT_I64("delivered once on unblock", hits, 1);
	EXPECT_TRUE("in the handler: SIGUSR1 blocked", sigismember(&mask_in_handler, SIGUSR1));
	EXPECT_TRUE("in the handler: sa_mask's SIGUSR2 blocked", sigismember(&mask_in_handler, SIGUSR2));
	EXPECT_OK("sigprocmask", sigprocmask(SIG_BLOCK, NULL, &old));
	EXPECT_TRUE("after the handler: mask restored", !sigismember(&old, SIGUSR1) && !sigismember(&old, SIGUSR2));
	EXPECT_OK("sigpending", sigpending(&pend));
	EXPECT_TRUE("nothing pending", !sigismember(&pend, SIGUSR1));
	/* SIGKILL cannot be blocked: the kernel silently drops it from the mask */
	sigemptyset(&s);
	sigaddset(&s, SIGKILL);
	sigprocmask(SIG_BLOCK, &s, NULL);
	sigprocmask(SIG_BLOCK, NULL, &old);
	EXPECT_TRUE("SIGKILL not blockable", !sigismember(&old, SIGKILL));
	return 0;
}

static int check_raise_sigqueue_rt(struct ctx *c)
{
	union sigval v;
	sigset_t s;
	int i;

	hits = 0;
	EXPECT_OK("sigaction", on(SIGUSR2, 0));
	EXPECT_I64("raise", raise(SIGUSR2), 0);
	EXPECT_I64("handler ran synchronously", hits, 1);
	EXPECT_I64("signal number", last_sig, SIGUSR2);
	EXPECT_I64("si_code SI_TKILL", last_info.si_code, SI_TKILL);
	EXPECT_I64("si_pid", last_info.si_pid, getpid());
	v.sival_int = 4242;
	EXPECT_OK("sigqueue", sigqueue(getpid(), SIGUSR2, v));
	EXPECT_I64("sigqueue delivered", hits, 2);
	EXPECT_I64("si_code SI_QUEUE", last_info.si_code, SI_QUEUE);
	EXPECT_I64("si_value", last_info.si_value.sival_int, 4242);
	/* real-time signals queue: three sent while blocked, three delivered,
	 * in order of sending */
	hits = 0;
	EXPECT_OK("sigaction", on(SIGRTMIN + 1, 0));
	sigemptyset(&s);
	sigaddset(&s, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &s, NULL);
	for (i = 0; i < 3; i++) {
		v.sival_int = 100 + i;
		EXPECT_OK("sigqueue rt", sigqueue(getpid(), SIGRTMIN + 1, v));
	}
	EXPECT_I64("blocked rt: none yet", hits, 0);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	EXPECT_I64("rt signals queued and all delivered", hits, 3);
	EXPECT_I64("last rt value", last_info.si_value.sival_int, 102);
	return 0;
}

static void exit42(int sig)
{
	(void)sig;
	_exit(42);
}

static int check_kill_child(struct ctx *c)
{
	int p[2], status;
	pid_t pid;
	char b;

	/* a child with a handler that exits 42 */
	EXPECT_OK("pipe", pipe(p));
	pid = fork();
	if (pid == 0) {
		signal(SIGUSR1, exit42);
		close(p[0]);
		if (write(p[1], "r", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	EXPECT_I64("child ready", read(p[0], &b, 1), 1);
	close(p[0]);
	EXPECT_I64("kill(child, 0): exists", kill(pid, 0), 0);
	EXPECT_I64("kill SIGUSR1", kill(pid, SIGUSR1), 0);
	EXPECT_TRUE("waitpid", waitpid(pid, &status, 0) == pid);
	EXPECT_TRUE("child's handler exited 42", WIFEXITED(status) && WEXITSTATUS(status) == 42);
	errno = 0;
	EXPECT_TRUE("kill of a reaped child: ESRCH", kill(pid, 0) < 0 && errno == ESRCH);

	/* default action: terminate; stop and continue */
	pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	EXPECT_I64("kill SIGSTOP", kill(pid, SIGSTOP), 0);
	EXPECT_TRUE("waitpid WUNTRACED", waitpid(pid, &status, WUNTRACED) == pid);
	EXPECT_TRUE("child stopped by SIGSTOP", WIFSTOPPED(status) && WSTOPSIG(status) == SIGSTOP);
	EXPECT_I64("kill SIGCONT", kill(pid, SIGCONT), 0);
	EXPECT_TRUE("waitpid WCONTINUED", waitpid(pid, &status, WCONTINUED) == pid);
	EXPECT_TRUE("child continued", WIFCONTINUED(status));
	EXPECT_I64("kill SIGTERM", kill(pid, SIGTERM), 0);
	EXPECT_TRUE("waitpid", waitpid(pid, &status, 0) == pid);
	EXPECT_TRUE("child terminated by SIGTERM", WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	return 0;
}

static int restart_pipe[2];

static void alarm_writes(int sig)
{
	(void)sig;
	hits++;
	if (write(restart_pipe[1], "w", 1) != 1)
		_exit(9);
}

static int check_eintr_sa_restart(struct ctx *c)
{
	struct sigaction sa;
	struct itimerval it;
	char b;
	ssize_t r;
	int p[2];

	/* without SA_RESTART, a blocking read is interrupted: EINTR */
	EXPECT_OK("pipe", pipe(p));
	hits = 0;
	EXPECT_OK("sigaction", on(SIGALRM, 0));
	memset(&it, 0, sizeof(it));
	it.it_value.tv_usec = 50000;
	/* periodic, so a slow engine that only reaches read() after the first
	 * expiry still gets interrupted by the next one */
	it.it_interval.tv_usec = 50000;
	EXPECT_OK("setitimer", setitimer(ITIMER_REAL, &it, NULL));
	errno = 0;
	r = read(p[0], &b, 1);
	EXPECT_TRUE("read without SA_RESTART: -1/EINTR", r < 0 && errno == EINTR);
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);
	EXPECT_TRUE("handler ran", hits >= 1);
	it.it_value.tv_usec = 50000;

	/* with SA_RESTART the read continues; the handler then feeds the pipe */
	EXPECT_OK("pipe", pipe(restart_pipe));
	hits = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = alarm_writes;
	sa.sa_flags = SA_RESTART;
	EXPECT_OK("sigaction", sigaction(SIGALRM, &sa, NULL));
	EXPECT_OK("setitimer", setitimer(ITIMER_REAL, &it, NULL));
	r = read(restart_pipe[0], &b, 1);
	EXPECT_I64("read with SA_RESTART returns the byte the handler wrote", r, 1);
	EXPECT_I64("byte", b, 'w');
	EXPECT_I64("handler ran", hits, 1);
	return 0;
}

static char *alt_lo, *alt_hi;
static volatile int overflow_on_alt;

static void overflow_handler(int sig, siginfo_t *si, void *uc)
{
	char here;

	(void)sig;
	(void)si;
	(void)uc;
	overflow_on_alt = (&here >= alt_lo && &here < alt_hi);
	siglongjmp(trap_env, 1);
}

static int recurse(volatile char *prev, int depth)
{
	volatile char frame[1024];

	frame[0] = (char)depth;
	frame[1023] = prev ? prev[0] : 0;
	if (depth > 1000000) /* never: the stack limit is hit long before */
		return 0;
	return recurse(frame, depth + 1) + frame[1023];
}

static int check_sigaltstack_overflow(struct ctx *c)
{
	stack_t ss;
	struct sigaction sa;
	struct rlimit rl;
	size_t sz = 64 * 1024;

	alt_lo = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (alt_lo == MAP_FAILED)
		return fail(c, "mmap: %s", strerror(errno));
	alt_hi = alt_lo + sz;
	ss.ss_sp = alt_lo;
	ss.ss_size = sz;
	ss.ss_flags = 0;
	EXPECT_OK("sigaltstack", sigaltstack(&ss, NULL));
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = overflow_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	EXPECT_OK("sigaction", sigaction(SIGSEGV, &sa, NULL));
	/* a small stack limit keeps the overflow quick */
	rl.rlim_cur = 512 * 1024;
	rl.rlim_max = RLIM_INFINITY;
	getrlimit(RLIMIT_STACK, &rl);
	rl.rlim_cur = 512 * 1024;
	EXPECT_OK("setrlimit RLIMIT_STACK", setrlimit(RLIMIT_STACK, &rl));
	overflow_on_alt = -1;
	if (sigsetjmp(trap_env, 1) == 0) {
		recurse(NULL, 0);
		return fail(c, "unbounded recursion returned");
	}
	EXPECT_I64("SIGSEGV handler ran on the alternate stack", overflow_on_alt, 1);
	return 0;
}

static const struct check checks[] = {
	{ "sigsegv-si-addr", check_sigsegv_si_addr },
	{ "sigill-ud2", check_sigill_ud2 },
	{ "handler-edits-context", check_handler_edits_context },
	{ "fpu-state-across-handler", check_fpu_state_across_handler },
	{ "sigalrm-alarm", check_sigalrm_alarm },
	{ "setitimer-real-virtual", check_setitimer },
	{ "sigprocmask-pending", check_sigprocmask_pending },
	{ "raise-sigqueue-rt", check_raise_sigqueue_rt },
	{ "kill-stop-cont-child", check_kill_child },
	{ "eintr-sa-restart", check_eintr_sa_restart },
	{ "sigaltstack-overflow", check_sigaltstack_overflow },
};

VGTEST_MAIN("test-signal", checks)
