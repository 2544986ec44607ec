/*
 * test-string -- libc string functions (musl's word-at-a-time and rep-based
 * code paths) over many sizes and alignments, and the string instructions
 * themselves in inline asm: rep movs/stos, repe cmps, repne scas, lods, with
 * DF=0 and DF=1, checking the final rsi/rdi/rcx and flags.
 *
 * Reference data comes from a formula (pat()), written byte by byte through a
 * volatile pointer so the compiler cannot turn the reference loops into
 * memcpy/memset calls themselves.
 */
#include "vgtest.h"

static unsigned char pat(size_t i) { return (unsigned char)(i * 7 + 3); }
/* the expected value of byte i in the checks (flipped by VGTEST_MUTATE) */
static unsigned char want_pat(size_t i) { return (unsigned char)(pat(i) ^ VG_MUT); }

static void fill_pat(unsigned char *p, size_t n, size_t base)
{
	volatile unsigned char *v = p;
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = pat(base + i);
}

static void fill(unsigned char *p, size_t n, unsigned char b)
{
	volatile unsigned char *v = p;
	size_t i;

	for (i = 0; i < n; i++)
		v[i] = b;
}

#define BUF 70000
static unsigned char src_buf[BUF + 64], dst_buf[BUF + 64];

static const size_t big_sizes[] = { 127, 128, 129, 255, 256, 257, 511, 1023, 1024, 1025, 4095, 4096, 4097, 65539 };

static int memcpy_one(struct ctx *c, size_t n, size_t sa, size_t da)
{
	size_t i;

	if (n > BUF || sa > 16 || da > 16)
		return fail(c, "memcpy_one: bad arguments");
	fill(dst_buf, n + da + 32, 0xee);
	memcpy(dst_buf + da, src_buf + sa, n);
	for (i = 0; i < da; i++)
		if (dst_buf[i] != 0xee)
			return fail(c, "memcpy n=%zu src+%zu dst+%zu: wrote before dst at -%zu", n, sa, da, da - i);
	for (i = 0; i < n; i++)
		if (dst_buf[da + i] != want_pat(sa + i))
			return fail(c, "memcpy n=%zu src+%zu dst+%zu: byte %zu is 0x%02x, want 0x%02x", n, sa, da, i,
				    dst_buf[da + i], pat(sa + i));
	for (i = 0; i < 32; i++)
		if (dst_buf[da + n + i] != 0xee)
			return fail(c, "memcpy n=%zu src+%zu dst+%zu: wrote past the end at +%zu", n, sa, da, i);
	return 0;
}

static int check_memcpy(struct ctx *c)
{
	size_t n, sa, da, i;

	fill_pat(src_buf, sizeof(src_buf), 0);
	for (n = 0; n <= 80; n++)
		for (sa = 0; sa < 16; sa += (n < 40 ? 1 : 5))
			for (da = 0; da < 16; da += (n < 40 ? 1 : 3))
				if (memcpy_one(c, n, sa, da))
					return 1;
	for (i = 0; i < sizeof(big_sizes) / sizeof(big_sizes[0]); i++)
		for (sa = 0; sa < 16; sa += 5)
			for (da = 0; da < 16; da += 3)
				if (memcpy_one(c, big_sizes[i], sa, da))
					return 1;
	return 0;
}

static int check_memmove(struct ctx *c)
{
	static const size_t sizes[] = { 0, 1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 255, 256, 300, 4096, 10000 };
	static const size_t shifts[] = { 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 31, 33, 64, 100 };
	size_t si, hi, i;

	for (si = 0; si < sizeof(sizes) / sizeof(sizes[0]); si++) {
		size_t n = sizes[si];

		for (hi = 0; hi < sizeof(shifts) / sizeof(shifts[0]); hi++) {
			size_t k = shifts[hi];

			/* forward overlap: dst above src (must copy backwards) */
			fill_pat(dst_buf, n + k + 16, 0);
			memmove(dst_buf + k, dst_buf, n);
			for (i = 0; i < n; i++)
				if (dst_buf[k + i] != want_pat(i))
					return fail(c, "memmove up n=%zu by %zu: byte %zu is 0x%02x, want 0x%02x", n, k, i,
						    dst_buf[k + i], pat(i));
			for (i = 0; i < k && i < n; i++)
				if (dst_buf[i] != pat(i))
					return fail(c, "memmove up n=%zu by %zu: head byte %zu changed", n, k, i);
			if (dst_buf[k + n] != pat(k + n))
				return fail(c, "memmove up n=%zu by %zu: wrote past the end", n, k);
			/* backward overlap: dst below src */
			fill_pat(dst_buf, n + k + 16, 0);
			memmove(dst_buf, dst_buf + k, n);
			for (i = 0; i < n; i++)
				if (dst_buf[i] != want_pat(k + i))
					return fail(c, "memmove down n=%zu by %zu: byte %zu is 0x%02x, want 0x%02x", n, k, i,
						    dst_buf[i], pat(k + i));
			if (dst_buf[n + k] != pat(n + k))
				return fail(c, "memmove down n=%zu by %zu: wrote past the source end", n, k);
		}
	}
	return 0;
}

static int check_memset(struct ctx *c)
{
	static const int vals[] = { 0, 0x5a, 0xff, 0x1234 /* -> 0x34 */, -1 };
	size_t n, a, v, i;

	for (v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
		unsigned char want = (unsigned char)(vals[v] ^ VG_MUT);

		for (n = 0; n <= 300; n += (n < 70 ? 1 : 23)) {
			for (a = 0; a < 16; a++) {
				fill(dst_buf, n + a + 32, (unsigned char)~vals[v]);
				memset(dst_buf + a, vals[v], n);
				for (i = 0; i < a; i++)
					if (dst_buf[i] != (unsigned char)~vals[v])
						return fail(c, "memset n=%zu +%zu: wrote before the start", n, a);
				for (i = 0; i < n; i++)
					if (dst_buf[a + i] != want)
						return fail(c, "memset(0x%x) n=%zu +%zu: byte %zu is 0x%02x", vals[v], n, a, i,
							    dst_buf[a + i]);
				for (i = 0; i < 32; i++)
					if (dst_buf[a + n + i] != (unsigned char)~vals[v])
						return fail(c, "memset n=%zu +%zu: wrote past the end at +%zu", n, a, i);
			}
		}
	}
	fill(dst_buf, BUF, 1);
	memset(dst_buf + 3, 0, BUF - 6);
	for (i = 0; i < BUF; i++)
		if (dst_buf[i] != (i < 3 || i >= BUF - 3 ? 1 : 0))
			return fail(c, "memset %d bytes: byte %zu is %d", BUF - 6, i, dst_buf[i]);
	return 0;
}

static int check_strlen_strchr(struct ctx *c)
{
	size_t n, a, i;
	unsigned char *page;
	long pg = sysconf(_SC_PAGESIZE);

	for (n = 0; n <= 300; n += (n < 100 ? 1 : 7)) {
		for (a = 0; a < 16; a++) {
			char *s = (char *)dst_buf + a;

			fill(dst_buf, n + a + 40, 'x');
			dst_buf[a + n] = '\0';
			if (strlen(s) != (n ^ VG_MUT))
				return fail(c, "strlen len=%zu +%zu: got %zu", n, a, strlen(s));
			if (n > 0) {
				dst_buf[a + n / 2] = 'Q';
				dst_buf[a + n - 1] = (n - 1 == n / 2) ? 'Q' : 'R';
				if (strchr(s, 'Q') != s + n / 2)
					return fail(c, "strchr Q len=%zu +%zu: offset %td, want %zu", n, a,
						    strchr(s, 'Q') ? strchr(s, 'Q') - s : (ptrdiff_t)-1, n / 2);
				if (strrchr(s, 'Q') != s + n / 2)
					return fail(c, "strrchr Q len=%zu +%zu", n, a);
				if (memchr(s, 'Q', n) != s + n / 2)
					return fail(c, "memchr Q len=%zu +%zu", n, a);
				if (n - 1 != n / 2 && strrchr(s, 'R') != s + n - 1)
					return fail(c, "strrchr R len=%zu +%zu", n, a);
			}
			if (strchr(s, 'Z') != NULL)
				return fail(c, "strchr absent char len=%zu +%zu: found one", n, a);
			if (strchr(s, '\0') != s + n)
				return fail(c, "strchr '\\0' len=%zu +%zu: not the terminator", n, a);
			if (memchr(s, 'Z', n) != NULL)
				return fail(c, "memchr absent char len=%zu +%zu", n, a);
		}
	}
	/* Strings that end on the last byte of a page followed by an inaccessible
	 * page: word-at-a-time scans must not fault. */
	page = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED)
		return fail(c, "mmap: %s", strerror(errno));
	if (mprotect(page + pg, (size_t)pg, PROT_NONE) != 0)
		return fail(c, "mprotect: %s", strerror(errno));
	fill(page, (size_t)pg, 'y');
	page[pg - 1] = '\0';
	for (i = 0; i < 80; i++) {
		char *s = (char *)page + pg - 1 - i;
		if (strlen(s) != i)
			return fail(c, "strlen at page end, len %zu: got %zu", i, strlen(s));
		if (strchr(s, 'q') != NULL || strchr(s, '\0') != s + i)
			return fail(c, "strchr at page end, len %zu", i);
		if (i > 0 && memchr(s, 'y', i) != s)
			return fail(c, "memchr at page end, len %zu", i);
	}
	munmap(page, 2 * (size_t)pg);
	return 0;
}

static int check_strcmp(struct ctx *c)
{
	static char a[300], b[300];
	size_t n, k;

	for (n = 1; n < 200; n += (n < 40 ? 1 : 13)) {
		for (k = 0; k < n; k++) {
			fill((unsigned char *)a, n, 'm');
			fill((unsigned char *)b, n, 'm');
			a[n] = b[n] = '\0';
			if (strcmp(a, b) != 0 || memcmp(a, b, n) != 0 || strncmp(a, b, n) != 0)
				return fail(c, "equal strings of %zu compare unequal", n);
			b[k] = 'n';
			if (!(strcmp(a, b) < 0 && strcmp(b, a) > 0))
				return fail(c, "strcmp difference at %zu/%zu: wrong sign", k, n);
			if (!(memcmp(a, b, n) < 0 && memcmp(b, a, n) > 0))
				return fail(c, "memcmp difference at %zu/%zu: wrong sign", k, n);
			if (strncmp(a, b, k) != 0 || memcmp(a, b, k) != 0)
				return fail(c, "strncmp/memcmp of the %zu equal bytes before the difference != 0", k);
			if (strncmp(a, b, k + 1) >= 0)
				return fail(c, "strncmp(%zu) including the difference at %zu: not < 0", k + 1, k);
			/* bytes compare as unsigned char: 0x80 > 0x7f */
			a[k] = (char)0x80;
			b[k] = 0x7f;
			if (!(strcmp(a, b) > 0 && memcmp(a, b, n) > 0))
				return fail(c, "0x80 vs 0x7f at %zu/%zu: not > 0 (signed compare?)", k, n);
		}
	}
	EXPECT_TRUE("strcmp prefix shorter < longer", strcmp("abc", "abcd") < 0);
	EXPECT_TRUE("strcmp empty", strcmp("", "") == 0 && strcmp("", "a") < 0);
	EXPECT_TRUE("strncmp stops at NUL", strncmp("ab\0x", "ab\0y", 4) == 0);
	return 0;
}

/* ------------------------------------------------ string instructions */

struct regs {
	uint64_t rsi, rdi, rcx, rax, fl;
};

#define GETFL "lea -128(%%rsp), %%rsp\n\tpushfq\n\tpopq %[fl]\n\tlea 128(%%rsp), %%rsp\n\t"

static int check_rep_movs_stos(struct ctx *c)
{
	static const size_t counts[] = { 0, 1, 7, 8, 9, 63, 64, 4096, 4097 };
	size_t i, j;

	fill_pat(src_buf, 8 * 4200, 0);
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		size_t n = counts[i];
		unsigned char *s = src_buf + 3, *d = dst_buf + 5;
		uint64_t rsi = (uint64_t)s, rdi = (uint64_t)d, rcx = n;

		fill(dst_buf, n + 64, 0xee);
		__asm__ volatile("cld\n\trep movsb" : "+S"(rsi), "+D"(rdi), "+c"(rcx) : : "memory");
		EXPECT_U64("rep movsb rcx", rcx, 0);
		EXPECT_U64("rep movsb rsi", rsi, (uint64_t)(s + n));
		EXPECT_U64("rep movsb rdi", rdi, (uint64_t)(d + n));
		for (j = 0; j < n; j++)
			if (d[j] != pat(3 + j))
				return fail(c, "rep movsb n=%zu: byte %zu wrong", n, j);
		if (d[n] != 0xee || d[-1] != 0xee)
			return fail(c, "rep movsb n=%zu: wrote outside", n);

		/* movsq */
		rsi = (uint64_t)src_buf;
		rdi = (uint64_t)(dst_buf + 8);
		rcx = n;
		fill(dst_buf, 8 * n + 32, 0xee);
		__asm__ volatile("cld\n\trep movsq" : "+S"(rsi), "+D"(rdi), "+c"(rcx) : : "memory");
		EXPECT_U64("rep movsq rdi", rdi, (uint64_t)(dst_buf + 8 + 8 * n));
		for (j = 0; j < 8 * n; j++)
			if (dst_buf[8 + j] != pat(j))
				return fail(c, "rep movsq n=%zu: byte %zu wrong", n, j);
		if (dst_buf[8 + 8 * n] != 0xee || dst_buf[7] != 0xee)
			return fail(c, "rep movsq n=%zu: wrote outside", n);

		/* stosb / stosq */
		rdi = (uint64_t)(dst_buf + 1);
		rcx = n;
		fill(dst_buf, 8 * n + 32, 0xee);
		__asm__ volatile("cld\n\trep stosb" : "+D"(rdi), "+c"(rcx) : "a"(0x1234567890abcd42ull) : "memory");
		EXPECT_U64("rep stosb rdi", rdi, (uint64_t)(dst_buf + 1 + n));
		for (j = 0; j < n; j++)
			if (dst_buf[1 + j] != 0x42)
				return fail(c, "rep stosb n=%zu: byte %zu is 0x%02x", n, j, dst_buf[1 + j]);
		if (dst_buf[1 + n] != 0xee || dst_buf[0] != 0xee)
			return fail(c, "rep stosb n=%zu: wrote outside", n);
		rdi = (uint64_t)(dst_buf + 8);
		rcx = n;
		fill(dst_buf, 8 * n + 32, 0xee);
		__asm__ volatile("cld\n\trep stosq" : "+D"(rdi), "+c"(rcx) : "a"(0x0807060504030201ull) : "memory");
		EXPECT_U64("rep stosq rcx", rcx, 0);
		for (j = 0; j < 8 * n; j++)
			if (dst_buf[8 + j] != (j % 8) + 1)
				return fail(c, "rep stosq n=%zu: byte %zu is 0x%02x", n, j, dst_buf[8 + j]);
		if (dst_buf[8 + 8 * n] != 0xee || dst_buf[7] != 0xee)
			return fail(c, "rep stosq n=%zu: wrote outside", n);
	}
	return 0;
}

static int check_rep_df1(struct ctx *c)
{
	uint64_t rsi, rdi, rcx, rax, fl;
	size_t j;
	static const char hay[] = "hello, world";

	/* std; rep movsb from the last byte down: an overlapping move up by 3 */
	fill_pat(dst_buf, 200, 0);
	rsi = (uint64_t)(dst_buf + 99);
	rdi = (uint64_t)(dst_buf + 102);
	rcx = 100;
	__asm__ volatile("std\n\trep movsb\n\tcld" : "+S"(rsi), "+D"(rdi), "+c"(rcx) : : "memory");
	EXPECT_U64("std rep movsb rsi (+1)", rsi + 1, (uint64_t)dst_buf);
	EXPECT_U64("std rep movsb rdi", rdi, (uint64_t)(dst_buf + 2));
	for (j = 0; j < 100; j++)
		if (dst_buf[3 + j] != pat(j))
			return fail(c, "std rep movsb overlap: byte %zu is 0x%02x, want 0x%02x", 3 + j, dst_buf[3 + j], pat(j));
	EXPECT_U64("std rep movsb: byte 103 untouched", dst_buf[103], pat(103));

	/* std; rep stosq fills downward */
	fill(dst_buf, 100, 0);
	rdi = (uint64_t)(dst_buf + 64);
	rcx = 4;
	__asm__ volatile("std\n\trep stosq\n\tcld" : "+D"(rdi), "+c"(rcx) : "a"(0xa5a5a5a5a5a5a5a5ull) : "memory");
	EXPECT_U64("std rep stosq rdi", rdi, (uint64_t)(dst_buf + 32));
	for (j = 0; j < 100; j++)
		if (dst_buf[j] != (j >= 40 && j < 72 ? 0xa5 : 0))
			return fail(c, "std rep stosq: byte %zu is 0x%02x", j, dst_buf[j]);

	/* std; lodsb walks backwards */
	rsi = (uint64_t)(hay + 4);
	rax = 0;
	__asm__ volatile("std\n\tlodsb\n\tlodsb\n\tcld" : "+S"(rsi), "+a"(rax) : : "memory");
	EXPECT_U64("std lodsb x2 al", rax & 0xff, 'l');
	EXPECT_U64("std lodsb x2 rsi", rsi, (uint64_t)(hay + 2));

	/* std; repne scasb searching backwards for 'o' from the end */
	rdi = (uint64_t)(hay + 11);
	rcx = 12;
	__asm__ volatile("std\n\trepne scasb\n\tcld\n\t" GETFL
			 : "+D"(rdi), "+c"(rcx), [fl] "=r"(fl) : "a"('o') : "memory", "cc");
	EXPECT_U64("std repne scasb rdi (one below the match)", rdi, (uint64_t)(hay + 7));
	EXPECT_U64("std repne scasb rcx", rcx, 8);
	EXPECT_U64("std repne scasb ZF", fl & 0x40, 0x40);

	/* std; repe cmpsb backwards: "abcXef" vs "abcYef" from the end */
	rsi = (uint64_t)("abcXef" + 5);
	rdi = (uint64_t)("abcYef" + 5);
	rcx = 6;
	__asm__ volatile("std\n\trepe cmpsb\n\tcld\n\t" GETFL
			 : "+S"(rsi), "+D"(rdi), "+c"(rcx), [fl] "=r"(fl) : : "memory", "cc");
	EXPECT_U64("std repe cmpsb rcx", rcx, 3);
	EXPECT_U64("std repe cmpsb ZF=0 CF=1 ('X' < 'Y')", fl & 0x41, 0x01);

	/* DF is clear again (the ABI requires it), and pushfq shows it */
	__asm__ volatile(GETFL : [fl] "=r"(fl) : : "memory");
	EXPECT_U64("DF clear after cld", fl & 0x400, 0);
	__asm__ volatile("std\n\t" GETFL "cld" : [fl] "=r"(fl) : : "memory");
	EXPECT_U64("DF visible in EFLAGS after std", fl & 0x400, 0x400);
	return 0;
}

static int check_repe_cmps_repne_scas(struct ctx *c)
{
	uint64_t rsi, rdi, rcx, fl;
	static const char s1[] = "abcdefghij", s2[] = "abcdeXghij";
	static char zeros[64];

	/* repe cmpsb stops one past the first difference */
	rsi = (uint64_t)s1;
	rdi = (uint64_t)s2;
	rcx = 10;
	__asm__ volatile("cld\n\trepe cmpsb\n\t" GETFL : "+S"(rsi), "+D"(rdi), "+c"(rcx), [fl] "=r"(fl) : : "memory", "cc");
	EXPECT_U64("repe cmpsb rcx", rcx, 4);
	EXPECT_U64("repe cmpsb rsi", rsi, (uint64_t)(s1 + 6));
	EXPECT_U64("repe cmpsb rdi", rdi, (uint64_t)(s2 + 6));
	EXPECT_U64("repe cmpsb ZF=0 CF=0 ('f' > 'X')", fl & 0x41, 0);
	/* all equal: runs to rcx = 0 with ZF = 1 */
	rsi = (uint64_t)s1;
	rdi = (uint64_t)s1;
	rcx = 10;
	__asm__ volatile("cld\n\trepe cmpsb\n\t" GETFL : "+S"(rsi), "+D"(rdi), "+c"(rcx), [fl] "=r"(fl) : : "memory", "cc");
	EXPECT_U64("repe cmpsb equal rcx", rcx, 0);
	EXPECT_U64("repe cmpsb equal ZF", fl & 0x40, 0x40);
	/* rcx = 0: nothing happens, flags untouched (set ZF=0 first via a compare) */
	rsi = (uint64_t)s1;
	rdi = (uint64_t)s2;
	rcx = 0;
	__asm__ volatile("cld\n\tcmp $1, %%ecx\n\trepe cmpsb\n\t" GETFL
			 : "+S"(rsi), "+D"(rdi), "+c"(rcx), [fl] "=r"(fl) : : "memory", "cc");
	EXPECT_U64("repe cmpsb rcx=0: rsi unchanged", rsi, (uint64_t)s1);
	EXPECT_U64("repe cmpsb rcx=0: flags from the cmp (CF=1, ZF=0)", fl & 0x41, 0x01);
	/* repne scasb finds 'g' */
	rdi = (uint64_t)s1;
	rcx = 10;
	__asm__ volatile("cld\n\trepne scasb\n\t" GETFL : "+D"(rdi), "+c"(rcx), [fl] "=r"(fl) : "a"('g') : "memory", "cc");
	EXPECT_U64("repne scasb rdi", rdi, (uint64_t)(s1 + 7));
	EXPECT_U64("repne scasb rcx", rcx, 3);
	EXPECT_U64("repne scasb ZF", fl & 0x40, 0x40);
	/* not found: rcx = 0, ZF = 0 */
	rdi = (uint64_t)s1;
	rcx = 10;
	__asm__ volatile("cld\n\trepne scasb\n\t" GETFL : "+D"(rdi), "+c"(rcx), [fl] "=r"(fl) : "a"('z') : "memory", "cc");
	EXPECT_U64("repne scasb absent rcx", rcx, 0);
	EXPECT_U64("repne scasb absent rdi", rdi, (uint64_t)(s1 + 10));
	EXPECT_U64("repne scasb absent ZF", fl & 0x40, 0);
	/* the classic strlen: repne scasb with rcx = -1 */
	rdi = (uint64_t)s1;
	rcx = ~0ull;
	__asm__ volatile("cld\n\trepne scasb" : "+D"(rdi), "+c"(rcx) : "a"(0) : "memory", "cc");
	EXPECT_U64("repne scasb strlen", ~rcx - 1, 10);
	/* repe scasq over zeros stops at the first nonzero qword */
	zeros[40] = 1;
	rdi = (uint64_t)zeros;
	rcx = 8;
	__asm__ volatile("cld\n\trepe scasq\n\t" GETFL : "+D"(rdi), "+c"(rcx), [fl] "=r"(fl) : "a"(0ull) : "memory", "cc");
	EXPECT_U64("repe scasq rcx", rcx, 2);
	EXPECT_U64("repe scasq rdi", rdi, (uint64_t)(zeros + 48));
	EXPECT_U64("repe scasq ZF", fl & 0x40, 0);
	return 0;
}

static const struct check checks[] = {
	{ "memcpy-sizes-alignments", check_memcpy },
	{ "memmove-overlap", check_memmove },
	{ "memset", check_memset },
	{ "strlen-strchr-memchr", check_strlen_strchr },
	{ "strcmp-strncmp-memcmp", check_strcmp },
	{ "rep-movs-stos", check_rep_movs_stos },
	{ "rep-df1", check_rep_df1 },
	{ "repe-cmps-repne-scas", check_repe_cmps_repne_scas },
};

VGTEST_MAIN("test-string", checks)
