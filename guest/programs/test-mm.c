/*
 * test-mm -- mmap and page faults: anonymous mappings touched page by page,
 * munmap then access (SIGSEGV/SEGV_MAPERR at the address), mprotect
 * read-only (SEGV_ACCERR on write, reads still work) and PROT_NONE,
 * MAP_SHARED vs MAP_PRIVATE (copy-on-write) across fork, file-backed
 * mappings of a tmpfs file (both directions of coherence with read/write),
 * brk growth and shrink, mremap, madvise(DONTNEED), stack growth.
 */
#include "vgtest.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/syscall.h>

static long pagesz(void) { return sysconf(_SC_PAGESIZE); }

/* Expect a SIGSEGV with si_code/si_addr when reading (write=0) or writing addr. */
static int expect_segv(struct ctx *c, const char *what, volatile unsigned char *addr, int write, int code)
{
	volatile unsigned char sink = 0;

	if (TRAP_BEGIN(SIGSEGV) == 0) {
		if (write)
			*addr = 1;
		else
			sink = *addr;
		trap_end();
		return fail(c, "%s: no SIGSEGV (read 0x%02x)", what, sink);
	}
	trap_end();
	if (trap_info.si_code != code)
		return fail(c, "%s: si_code %d, want %d", what, trap_info.si_code, code);
	if (trap_info.si_addr != (void *)addr)
		return fail(c, "%s: si_addr %p, want %p", what, trap_info.si_addr, (void *)addr);
	return 0;
}
#define EXPECT_SEGV(what, addr, write, code) do { if (expect_segv(c, what, addr, write, code)) return 1; } while (0)

static int check_anon_touch_pages(struct ctx *c)
{
	size_t len = 16u << 20, i, pg = (size_t)pagesz();
	unsigned char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t sum = 0, want = 0;

	if (p == MAP_FAILED)
		return fail(c, "mmap 16 MiB: %s", strerror(errno));
	EXPECT_U64("page aligned", (uint64_t)p % pg, 0);
	/* fresh anonymous memory reads as zero */
	for (i = 0; i < len; i += pg)
		if (p[i] != 0 || p[i + pg - 1] != 0)
			return fail(c, "fresh page at +0x%zx is not zero", i);
	for (i = 0; i < len; i += pg) {
		*(uint64_t *)(p + i) = i / pg * 2654435761u;
		p[i + pg - 1] = (unsigned char)(i / pg);
	}
	for (i = 0; i < len; i += pg) {
		sum += *(uint64_t *)(p + i) + p[i + pg - 1];
		want += i / pg * 2654435761u + (unsigned char)(i / pg);
	}
	EXPECT_U64("checksum over 4096 pages", sum, want);
	EXPECT_OK("munmap", munmap(p, len));
	return 0;
}

static int check_munmap_then_access(struct ctx *c)
{
	size_t pg = (size_t)pagesz();
	unsigned char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return fail(c, "mmap: %s", strerror(errno));
	memset(p, 0x77, 4 * pg);
	/* unmap the middle two pages: a hole */
	EXPECT_OK("munmap middle", munmap(p + pg, 2 * pg));
	EXPECT_I64("page before the hole still there", p[pg - 1], 0x77);
	EXPECT_I64("page after the hole still there", p[3 * pg], 0x77);
	EXPECT_SEGV("read in the hole", p + pg + 5, 0, SEGV_MAPERR);
	EXPECT_SEGV("write in the hole", p + 2 * pg + pg - 1, 1, SEGV_MAPERR);
	EXPECT_OK("munmap rest", munmap(p, 4 * pg));
	EXPECT_SEGV("read after unmapping all", p, 0, SEGV_MAPERR);
	return 0;
}

static int check_mprotect(struct ctx *c)
{
	size_t pg = (size_t)pagesz();
	unsigned char *p = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return fail(c, "mmap: %s", strerror(errno));
	p[10] = 0x42;
	p[pg + 10] = 0x43;
	EXPECT_OK("mprotect read-only", mprotect(p, pg, PROT_READ));
	EXPECT_I64("read of a read-only page", p[10], 0x42);
	EXPECT_SEGV("write to a read-only page", p + 10, 1, SEGV_ACCERR);
	EXPECT_I64("value unchanged", p[10], 0x42);
	p[pg + 11] = 0x44; /* the other page is still writable */
	EXPECT_I64("second page writable", p[pg + 11], 0x44);
	EXPECT_OK("mprotect PROT_NONE", mprotect(p + pg, pg, PROT_NONE));
	EXPECT_SEGV("read of a PROT_NONE page", p + pg + 10, 0, SEGV_ACCERR);
	EXPECT_OK("mprotect back to RW", mprotect(p, 2 * pg, PROT_READ | PROT_WRITE));
	p[10] = 0x45;
	EXPECT_I64("writable again", p[10], 0x45);
	EXPECT_I64("contents kept across PROT_NONE", p[pg + 10], 0x43);
	/* a write fault from the kernel side: read() into a read-only buffer */
	EXPECT_OK("mprotect read-only", mprotect(p, pg, PROT_READ));
	{
		int fd = open("/proc/self/stat", O_RDONLY);
		ssize_t r;
		errno = 0;
		r = read(fd, p, 16);
		close(fd);
		EXPECT_TRUE("read() into a read-only page fails with EFAULT", r < 0 && errno == EFAULT);
	}
	munmap(p, 2 * pg);
	return 0;
}

static int check_shared_private_fork(struct ctx *c)
{
	size_t pg = (size_t)pagesz();
	volatile uint64_t *sh = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	volatile uint64_t *pv = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int status;
	pid_t pid;

	if (sh == MAP_FAILED || pv == MAP_FAILED)
		return fail(c, "mmap: %s", strerror(errno));
	sh[0] = 1;
	pv[0] = 1;
	pid = fork();
	if (pid == 0) {
		/* child: sees the parent's values, writes both */
		int ok = sh[0] == 1 && pv[0] == 1;
		sh[0] = 0xc0ffee;
		pv[0] = 0xbad;
		sh[1] = pv[0]; /* the child sees its own private write */
		_exit(ok ? 0 : 1);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(c, "child: status 0x%x", status);
	EXPECT_U64("MAP_SHARED: parent sees the child's write", sh[0], 0xc0ffee);
	EXPECT_U64("MAP_PRIVATE: child saw its own write", sh[1], 0xbad);
	EXPECT_U64("MAP_PRIVATE: parent's copy unchanged (COW)", pv[0], 1);
	/* COW the other way: the parent writes after fork, the child must not see it */
	pid = fork();
	if (pid == 0) {
		uint64_t before = pv[0];
		while (sh[2] == 0) /* wait for the parent's write */
			sched_yield();
		_exit(pv[0] == before && before == 1 ? 0 : 1);
	}
	pv[0] = 2;
	sh[2] = 1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return fail(c, "child saw the parent's write after fork (status 0x%x)", status);
	return 0;
}

static int check_file_mmap_tmpfs(struct ctx *c)
{
	size_t pg = (size_t)pagesz(), len = 3 * pg, i;
	char path[] = "/tmp/vgtest-mm-XXXXXX";
	unsigned char *m, *pm, buf[64];
	int fd = mkstemp(path);

	if (fd < 0)
		return fail(c, "mkstemp in /tmp: %s", strerror(errno));
	unlink(path);
	for (i = 0; i < len; i++) {
		unsigned char b = (unsigned char)(i % 251);
		if (write(fd, &b, 1) != 1)
			return fail(c, "write: %s", strerror(errno));
	}
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return fail(c, "mmap MAP_SHARED: %s", strerror(errno));
	for (i = 0; i < len; i++)
		if (m[i] != (unsigned char)(i % 251))
			return fail(c, "mapped byte %zu: 0x%02x, want 0x%02x", i, m[i], (unsigned char)(i % 251));
	/* store through the mapping -> visible to read() */
	memcpy(m + pg + 100, "through-the-mapping", 19);
	EXPECT_OK("msync", msync(m, len, MS_SYNC));
	EXPECT_I64("pread", pread(fd, buf, 19, (off_t)pg + 100), 19);
	EXPECT_TRUE("read() sees the mapped store", memcmp(buf, "through-the-mapping", 19) == 0);
	/* write() -> visible in the mapping */
	EXPECT_I64("pwrite", pwrite(fd, "via-write", 9, (off_t)(2 * pg + 7)), 9);
	EXPECT_TRUE("mapping sees write()", memcmp(m + 2 * pg + 7, "via-write", 9) == 0);
	/* MAP_PRIVATE of the same file: its stores stay private */
	pm = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	if (pm == MAP_FAILED)
		return fail(c, "mmap MAP_PRIVATE: %s", strerror(errno));
	EXPECT_TRUE("private mapping shows the file", memcmp(pm + pg + 100, "through-the-mapping", 19) == 0);
	pm[5] = 0xee;
	EXPECT_I64("shared mapping unaffected by the private store", m[5], 5);
	EXPECT_I64("pread", pread(fd, buf, 1, 5), 1);
	EXPECT_I64("file unaffected by the private store", buf[0], 5);
	/* beyond EOF (last page is whole here, so map 4 pages: page 4 -> SIGBUS) */
	munmap(m, len);
	m = mmap(NULL, len + pg, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return fail(c, "mmap past EOF: %s", strerror(errno));
	if (TRAP_BEGIN(SIGBUS) == 0) {
		volatile unsigned char x = m[len + 1];
		(void)x;
		trap_end();
		return fail(c, "read of a mapped page wholly past EOF: no SIGBUS");
	}
	trap_end();
	EXPECT_U64("SIGBUS si_addr", (uint64_t)trap_info.si_addr, (uint64_t)(m + len + 1));
	munmap(m, len + pg);
	munmap(pm, len);
	close(fd);
	return 0;
}

static int check_brk(struct ctx *c)
{
	uintptr_t cur = (uintptr_t)syscall(SYS_brk, 0), want, got;
	size_t grow = 1u << 20, i;
	volatile unsigned char *p = (unsigned char *)cur;

	EXPECT_TRUE("brk(0) returns the current break", cur != 0);
	want = cur + grow;
	got = (uintptr_t)syscall(SYS_brk, want);
	EXPECT_U64("brk grows by 1 MiB", got, want);
	for (i = 0; i < grow; i += 4096)
		p[i] = (unsigned char)(i >> 12);
	for (i = 0; i < grow; i += 4096)
		if (p[i] != (unsigned char)(i >> 12))
			return fail(c, "brk memory at +0x%zx lost its value", i);
	got = (uintptr_t)syscall(SYS_brk, cur + 4096);
	EXPECT_U64("brk shrinks", got, cur + 4096);
	{
		/* the released range faults again (align to pages) */
		uintptr_t gone = (cur + 4096 + 4095) & ~(uintptr_t)4095;
		EXPECT_SEGV("access above the shrunk break", (volatile unsigned char *)gone + 8192, 0, SEGV_MAPERR);
	}
	EXPECT_U64("brk back to the start", (uintptr_t)syscall(SYS_brk, cur), cur);
	return 0;
}

static int check_mremap_madvise(struct ctx *c)
{
	size_t pg = (size_t)pagesz(), i;
	unsigned char *p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), *q;

	if (p == MAP_FAILED)
		return fail(c, "mmap: %s", strerror(errno));
	for (i = 0; i < 4 * pg; i++)
		p[i] = (unsigned char)(i * 13);
	q = mremap(p, 4 * pg, 64 * pg, MREMAP_MAYMOVE);
	if (q == MAP_FAILED)
		return fail(c, "mremap: %s", strerror(errno));
	for (i = 0; i < 4 * pg; i++)
		if (q[i] != (unsigned char)(i * 13))
			return fail(c, "mremap lost byte %zu", i);
	for (i = 4 * pg; i < 64 * pg; i += pg)
		if (q[i] != 0)
			return fail(c, "mremap grown part not zero at page %zu", i / pg);
	q[63 * pg] = 1;
	/* MADV_DONTNEED on private anonymous memory: reads back as zero */
	EXPECT_OK("madvise DONTNEED", madvise(q, 2 * pg, MADV_DONTNEED));
	EXPECT_I64("after DONTNEED page 0 reads zero", q[pg / 2], 0);
	EXPECT_I64("after DONTNEED page 2 kept", q[2 * pg + 1], (unsigned char)((2 * pg + 1) * 13));
	EXPECT_OK("munmap", munmap(q, 64 * pg));
	/* MAP_FIXED over part of a mapping replaces it */
	p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return fail(c, "mmap: %s", strerror(errno));
	memset(p, 0x11, 3 * pg);
	q = mmap(p + pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	EXPECT_U64("MAP_FIXED address", (uint64_t)q, (uint64_t)(p + pg));
	EXPECT_I64("MAP_FIXED page is fresh", q[0], 0);
	EXPECT_I64("neighbour kept", p[0], 0x11);
	EXPECT_SEGV("MAP_FIXED page is read-only", q + 3, 1, SEGV_ACCERR);
	munmap(p, 3 * pg);
	return 0;
}

static uint64_t deep(int n, volatile unsigned char *prev)
{
	volatile unsigned char frame[2048];

	frame[0] = (unsigned char)n;
	frame[2047] = prev ? prev[0] : 0;
	if (n == 0)
		return frame[0] + frame[2047];
	return deep(n - 1, frame) + frame[2047];
}

static int check_stack_growth(struct ctx *c)
{
	/* 1000 frames of 2 KiB: the stack grows by ~2 MiB through page faults
	 * below the initial stack. The result is sum of (k & 255), k = 1..1000. */
	EXPECT_U64("deep recursion result", deep(1000, NULL), 124948);
	return 0;
}

static const struct check checks[] = {
	{ "anon-mmap-touch-16mib", check_anon_touch_pages },
	{ "munmap-then-access", check_munmap_then_access },
	{ "mprotect-ro-none", check_mprotect },
	{ "shared-private-fork", check_shared_private_fork },
	{ "file-mmap-tmpfs", check_file_mmap_tmpfs },
	{ "brk-grow-shrink", check_brk },
	{ "mremap-madvise-fixed", check_mremap_madvise },
	{ "stack-growth", check_stack_growth },
};

VGTEST_MAIN("test-mm", checks)
