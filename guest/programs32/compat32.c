/*
 * compat32 -- a static 32-bit (i386) program, run by a 64-bit kernel's IA32 emulation: on vmguard's
 * interpreter that is compatibility mode (32-bit code under the 64-bit kernel's IDT, GDT and page
 * tables), entered and left through INT 0x80, the vDSO's SYSENTER (Intel) or SYSCALL (AMD) and IRET.
 * Built with gcc -m32 -static (Debian: gcc-multilib). Expected values are written down, not recomputed.
 */
#include "../programs/vgtest.h"
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>

/* i386 system call numbers (not the x86-64 ones this would get from a 64-bit build). */
#define NR32_GETPID 20
#define NR32_WRITE 4
#define NR32_GETPPID 64
#define NR32_UNAME 122

static int check_is_32bit(struct ctx *c)
{
	EXPECT_U64("sizeof(void *)", sizeof(void *), 4);
	EXPECT_U64("sizeof(long)", sizeof(long), 4);
	unsigned short cs;
	__asm__ volatile("mov %%cs, %0" : "=r"(cs));
	EXPECT_U64("CS RPL (user mode)", cs & 3, 3);
	return 0;
}

static int check_arithmetic(struct ctx *c)
{
	/* 64-bit arithmetic in 32-bit code: libgcc's __udivdi3/__divdi3 and ADC/SBB/MUL pairs. */
	EXPECT_U64("u64 mul", VU64(0x123456789ULL) * VU64(0x1000), 0x123456789000ULL);
	EXPECT_U64("u64 div", VU64(0xfedcba9876543210ULL) / VU64(0x12345), 0xe0004fa01c4dULL);
	EXPECT_U64("u64 mod", VU64(0xfedcba9876543210ULL) % VU64(0x12345), 0x10a4fULL);
	EXPECT_I64("s64 div", V64(-1000000000000LL) / V64(7), -142857142857LL);
	EXPECT_U64("u64 shift", VU64(1) << (unsigned) V64(40), 0x10000000000ULL);
	volatile uint32_t a = 0xffffffffu, b = 2;
	EXPECT_U64("u32 wrap", (uint32_t) (a + b), 1);
	volatile double d = 2.0;
	char buf[64];
	snprintf(buf, sizeof buf, "%.6f %d %s", d / 3.0, -42, "ok");
	EXPECT_STR("printf of a double", buf, "0.666667 -42 ok");
	return 0;
}

static int check_int80(struct ctx *c)
{
	long pid, ppid, written;
	static const char msg[] = "compat32: hello through int $0x80\n";
	__asm__ volatile("int $0x80" : "=a"(pid) : "a"(NR32_GETPID) : "memory");
	__asm__ volatile("int $0x80" : "=a"(ppid) : "a"(NR32_GETPPID) : "memory");
	__asm__ volatile("int $0x80" : "=a"(written) : "a"(NR32_WRITE), "b"(1), "c"(msg), "d"(sizeof msg - 1) : "memory");
	EXPECT_I64("int $0x80 getpid = getpid()", pid, getpid());
	EXPECT_I64("int $0x80 getppid = getppid()", ppid, getppid());
	EXPECT_I64("int $0x80 write", written, (long) sizeof msg - 1);
	return 0;
}

/* __kernel_vsyscall from the vDSO (AT_SYSINFO): SYSENTER on Intel, SYSCALL on AMD, INT 0x80 otherwise. */
static int check_vsyscall(struct ctx *c)
{
	unsigned long entry = getauxval(AT_SYSINFO);
	EXPECT_TRUE("AT_SYSINFO present", entry != 0);
	long pid;
	__asm__ volatile("call *%[entry]" : "=a"(pid) : "a"(NR32_GETPID), [entry] "r"(entry) : "memory", "cc");
	EXPECT_I64("vsyscall getpid = getpid()", pid, getpid());
	struct utsname_raw { char f[6][65]; } u;
	long r;
	__asm__ volatile("push %%ebx\n\tmov %[buf], %%ebx\n\tcall *%[entry]\n\tpop %%ebx"
			 : "=a"(r) : "a"(NR32_UNAME), [buf] "D"(&u), [entry] "S"(entry) : "memory", "cc");
	EXPECT_I64("vsyscall uname", r, 0);
	EXPECT_STR("uname machine (IA32 emulation reports x86_64)", u.f[4], "x86_64");
	return 0;
}

static int check_vdso_time(struct ctx *c)
{
	struct timespec a, b;
	EXPECT_OK("clock_gettime", clock_gettime(CLOCK_MONOTONIC, &a));
	for (volatile int i = 0; i < 100000; i++) {
	}
	EXPECT_OK("clock_gettime", clock_gettime(CLOCK_MONOTONIC, &b));
	EXPECT_TRUE("monotonic clock moves forward",
		    b.tv_sec > a.tv_sec || (b.tv_sec == a.tv_sec && b.tv_nsec > a.tv_nsec));
	struct timeval tv;
	EXPECT_OK("gettimeofday", gettimeofday(&tv, NULL));
	EXPECT_TRUE("gettimeofday after 2020", tv.tv_sec > 1577836800);
	return 0;
}

static volatile sig_atomic_t got_signal;
static void on_usr1(int sig) { got_signal = sig; }

/* A 32-bit signal frame, the handler in compatibility mode, and sigreturn back through the kernel. */
static int check_signal(struct ctx *c)
{
	EXPECT_TRUE("signal()", signal(SIGUSR1, on_usr1) != SIG_ERR);
	EXPECT_OK("raise", raise(SIGUSR1));
	EXPECT_I64("handler ran", got_signal, SIGUSR1);
	return 0;
}

static int check_fork(struct ctx *c)
{
	pid_t child = fork();
	if (child == 0) {
		_exit(37);
	}
	EXPECT_TRUE("fork", child > 0);
	int status;
	EXPECT_I64("waitpid", waitpid(child, &status, 0), child);
	EXPECT_TRUE("exited", WIFEXITED(status));
	EXPECT_I64("exit status", WEXITSTATUS(status), 37);
	return 0;
}

static const struct check checks[] = {
	{ "is-32bit", check_is_32bit },
	{ "arithmetic", check_arithmetic },
	{ "int80", check_int80 },
	{ "vsyscall", check_vsyscall },
	{ "vdso-time", check_vdso_time },
	{ "signal", check_signal },
	{ "fork", check_fork },
};

VGTEST_MAIN("compat32", checks)
