/*
 * test-int -- integer instructions and their flags, division edge cases,
 * shifts and rotates, condition codes, partial registers.
 *
 * Flags are captured with pushfq right after the instruction, and set before
 * it with popfq (for adc/sbb/rcl/rcr and to prove that flags an instruction
 * must leave alone stay as they were). The asm moves %rsp below the 128-byte
 * red zone first (with lea, which changes no flags).
 *
 * Expected flags are written as a string of the flags the instruction
 * defines: upper case = set, lower case = clear, absent = architecturally
 * undefined for that case (not checked). C=CF P=PF A=AF Z=ZF S=SF O=OF.
 * Values follow the Intel SDM vol. 2 pseudocode.
 */
#include "vgtest.h"

#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_OF 0x800u
#define F_ALL (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)
#define F_BASE 0x202u /* reserved bit 1, IF */

#define RZ_IN "lea -128(%%rsp), %%rsp\n\t"
#define RZ_OUT "lea 128(%%rsp), %%rsp\n\t"
#define SETF "pushq %[fi]\n\tpopfq\n\t"
#define GETF "pushfq\n\tpopq %[fo]\n\t"

typedef uint64_t (*op2_fn)(uint64_t a, uint64_t b, uint64_t fin, uint64_t *fout);

/* Two-operand "insn src, dst" with dst = a, src = b, at width T. */
#define DEF2(name, insn, T) \
	__attribute__((unused)) static uint64_t name(uint64_t a, uint64_t b, uint64_t fin, uint64_t *fout) \
	{ \
		T x = (T)a, y = (T)b; \
		uint64_t f; \
		__asm__ volatile(RZ_IN SETF insn " %[y], %[x]\n\t" GETF RZ_OUT \
				 : [x] "+r"(x), [fo] "=&r"(f) : [y] "r"(y), [fi] "r"(fin | F_BASE) : "cc", "memory"); \
		*fout = f; \
		return (uint64_t)x; \
	}
/* One-operand "insn dst". */
#define DEF1(name, insn, T) \
	__attribute__((unused)) static uint64_t name(uint64_t a, uint64_t b, uint64_t fin, uint64_t *fout) \
	{ \
		T x = (T)a; \
		uint64_t f; \
		(void)b; \
		__asm__ volatile(RZ_IN SETF insn " %[x]\n\t" GETF RZ_OUT \
				 : [x] "+r"(x), [fo] "=&r"(f) : [fi] "r"(fin | F_BASE) : "cc", "memory"); \
		*fout = f; \
		return (uint64_t)x; \
	}
/* Shift/rotate "insn %cl, dst" with count b. */
#define DEFSH(name, insn, T) \
	__attribute__((unused)) static uint64_t name(uint64_t a, uint64_t b, uint64_t fin, uint64_t *fout) \
	{ \
		T x = (T)a; \
		uint8_t n = (uint8_t)b; \
		uint64_t f; \
		__asm__ volatile(RZ_IN SETF insn " %%cl, %[x]\n\t" GETF RZ_OUT \
				 : [x] "+r"(x), [fo] "=&r"(f) : "c"(n), [fi] "r"(fin | F_BASE) : "cc", "memory"); \
		*fout = f; \
		return (uint64_t)x; \
	}
#define DEF2_ALL(op) DEF2(op##8, #op, uint8_t) DEF2(op##16, #op, uint16_t) DEF2(op##32, #op, uint32_t) DEF2(op##64, #op, uint64_t)
#define DEF1_ALL(op) DEF1(op##8, #op, uint8_t) DEF1(op##16, #op, uint16_t) DEF1(op##32, #op, uint32_t) DEF1(op##64, #op, uint64_t)
#define DEFSH_ALL(op) DEFSH(op##8, #op, uint8_t) DEFSH(op##16, #op, uint16_t) DEFSH(op##32, #op, uint32_t) DEFSH(op##64, #op, uint64_t)

DEF2_ALL(add) DEF2_ALL(sub) DEF2_ALL(adc) DEF2_ALL(sbb) DEF2_ALL(cmp)
DEF2_ALL(and) DEF2_ALL(or) DEF2_ALL(xor) DEF2_ALL(test)
DEF1_ALL(inc) DEF1_ALL(dec) DEF1_ALL(neg) DEF1_ALL(not)
DEFSH_ALL(shl) DEFSH_ALL(shr) DEFSH_ALL(sar) DEFSH_ALL(rol) DEFSH_ALL(ror) DEFSH_ALL(rcl) DEFSH_ALL(rcr)
/* bt* take no 8-bit form; register bit offsets are taken modulo the width. */
DEF2(bt16, "bt", uint16_t) DEF2(bt32, "bt", uint32_t) DEF2(bt64, "bt", uint64_t)
DEF2(bts16, "bts", uint16_t) DEF2(bts32, "bts", uint32_t) DEF2(bts64, "bts", uint64_t)
DEF2(btr16, "btr", uint16_t) DEF2(btr32, "btr", uint32_t) DEF2(btr64, "btr", uint64_t)
DEF2(btc16, "btc", uint16_t) DEF2(btc32, "btc", uint32_t) DEF2(btc64, "btc", uint64_t)
DEF2(bsf16, "bsf", uint16_t) DEF2(bsf32, "bsf", uint32_t) DEF2(bsf64, "bsf", uint64_t)
DEF2(bsr16, "bsr", uint16_t) DEF2(bsr32, "bsr", uint32_t) DEF2(bsr64, "bsr", uint64_t)
DEF2(imul16, "imul", uint16_t) DEF2(imul32, "imul", uint32_t) DEF2(imul64, "imul", uint64_t)

/* imul $-3, src, dst (three-operand form, 64-bit). */
static uint64_t imul3_64(uint64_t a, uint64_t b, uint64_t fin, uint64_t *fout)
{
	uint64_t x = a, f;

	__asm__ volatile(RZ_IN SETF "imul $-3, %[y], %[x]\n\t" GETF RZ_OUT
			 : [x] "+r"(x), [fo] "=&r"(f) : [y] "r"(b), [fi] "r"(fin | F_BASE) : "cc", "memory");
	*fout = f;
	return x;
}

struct fcase {
	const char *op;
	op2_fn fn;
	int bits;
	uint64_t a, b, fin, want;
	const char *flags;
	int nores; /* result undefined: check flags only */
};

#define C(op, bits, a, b, fin, want, flags) { #op #bits, op##bits, bits, a, b, fin, want, flags, 0 }
#define CN(op, bits, a, b, fin, flags) { #op #bits, op##bits, bits, a, b, fin, 0, flags, 1 }

static uint64_t flag_bit(char ch)
{
	switch (ch | 0x20) {
	case 'c': return F_CF;
	case 'p': return F_PF;
	case 'a': return F_AF;
	case 'z': return F_ZF;
	case 's': return F_SF;
	case 'o': return F_OF;
	}
	return 0;
}

static void flag_str(uint64_t f, char *out)
{
	static const char names[] = "cpazso";
	int i;

	for (i = 0; i < 6; i++) {
		char ch = names[i];
		out[i] = (f & flag_bit(ch)) ? (char)(ch - 0x20) : ch;
	}
	out[6] = '\0';
}

static int run_cases(struct ctx *c, const struct fcase *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		uint64_t fout = 0, res, mask = 0, want = 0;
		uint64_t wmask = t[i].bits == 64 ? ~0ull : (1ull << t[i].bits) - 1;
		const char *p;
		char got[8], inp[8];

		res = t[i].fn(t[i].a, t[i].b, t[i].fin, &fout) ^ VG_MUT;
		for (p = t[i].flags; *p; p++) {
			mask |= flag_bit(*p);
			if (*p >= 'A' && *p <= 'Z')
				want |= flag_bit(*p);
		}
		flag_str(fout, got);
		flag_str(t[i].fin, inp);
		if (!t[i].nores && (res & wmask) != (t[i].want & wmask))
			return fail(c, "#%zu %s a=0x%" PRIx64 " b=0x%" PRIx64 " flags-in=%s: result 0x%" PRIx64
				    ", want 0x%" PRIx64, i, t[i].op, t[i].a, t[i].b, inp, res & wmask, t[i].want & wmask);
		if ((fout & mask) != want)
			return fail(c, "#%zu %s a=0x%" PRIx64 " b=0x%" PRIx64 " flags-in=%s: flags %s, want %s",
				    i, t[i].op, t[i].a, t[i].b, inp, got, t[i].flags);
	}
	return 0;
}
#define RUN(t) run_cases(c, t, sizeof(t) / sizeof(t[0]))

#define M64 0xffffffffffffffffull
#define MIN64 0x8000000000000000ull

static int check_flags_add_sub(struct ctx *c)
{
	static const struct fcase t[] = {
		C(add, 8, 0x7f, 0x01, 0, 0x80, "cpAzSO"),
		C(add, 8, 0xff, 0x01, 0, 0x00, "CPAZso"),
		C(add, 8, 0x80, 0x80, 0, 0x00, "CPaZsO"),
		C(add, 8, 0x12, 0x34, F_ALL, 0x46, "cpazso"),
		C(add, 16, 0x7fff, 0x0001, 0, 0x8000, "cPAzSO"),
		C(add, 16, 0xffff, 0xffff, 0, 0xfffe, "CpAzSo"),
		C(add, 32, 0xffffffff, 0x1, 0, 0x0, "CPAZso"),
		C(add, 32, 0x7fffffff, 0x7fffffff, 0, 0xfffffffe, "cpAzSO"),
		C(add, 64, MIN64, M64, 0, 0x7fffffffffffffffull, "CPazsO"),
		C(add, 64, 1, 2, F_ALL, 3, "cPazso"),
		C(sub, 8, 0x00, 0x01, 0, 0xff, "CPAzSo"),
		C(sub, 8, 0x80, 0x01, 0, 0x7f, "cpAzsO"),
		C(sub, 8, 0x05, 0x05, 0, 0x00, "cPaZso"),
		C(sub, 16, 0x8000, 0x0001, 0, 0x7fff, "cPAzsO"),
		C(sub, 32, 0x00000001, 0x80000000, 0, 0x80000001, "CpazSO"),
		C(sub, 64, 0, MIN64, 0, MIN64, "CPazSO"),
		C(sub, 64, 0x10, 0x01, F_ALL, 0x0f, "cPAzso"),
		C(cmp, 64, 5, 7, 0, 5, "CpAzSo"),
		C(cmp, 32, 7, 7, 0, 7, "cPaZso"),
		C(cmp, 8, 0x80, 0x7f, 0, 0x80, "cpAzsO"),
		C(cmp, 16, 0x7fff, 0xffff, 0, 0x7fff, "CPazSO"),
	};
	return RUN(t);
}

static int check_flags_adc_sbb(struct ctx *c)
{
	static const struct fcase t[] = {
		C(adc, 8, 0xff, 0x00, F_CF, 0x00, "CPAZso"),
		C(adc, 8, 0x7f, 0x00, F_CF, 0x80, "cpAzSO"),
		C(adc, 8, 0x7f, 0x00, 0, 0x7f, "cpazso"),
		C(adc, 16, 0xffff, 0xffff, F_CF, 0xffff, "CPAzSo"),
		C(adc, 32, 1, 1, 0, 2, "cpazso"),
		C(adc, 32, 0xffffffff, 0xffffffff, F_CF, 0xffffffff, "CPAzSo"),
		C(adc, 64, M64, 0, F_CF, 0, "CPAZso"),
		C(adc, 64, 0x7fffffffffffffffull, 0, F_CF, MIN64, "cPAzSO"),
		C(sbb, 8, 0x00, 0x00, F_CF, 0xff, "CPAzSo"),
		C(sbb, 8, 0x80, 0x00, F_CF, 0x7f, "cpAzsO"),
		C(sbb, 16, 0x0005, 0x0004, F_CF, 0x0000, "cPaZso"),
		C(sbb, 32, 0x5, 0x4, 0, 0x1, "cpazso"),
		C(sbb, 64, 0, M64, F_CF, 0, "CPAZso"),
		C(sbb, 64, 0, 0, 0, 0, "cPaZso"),
	};
	return RUN(t);
}

static int check_flags_inc_dec_neg_not(struct ctx *c)
{
	static const struct fcase t[] = {
		/* inc/dec leave CF alone */
		C(inc, 8, 0x7f, 0, F_CF, 0x80, "CpAzSO"),
		C(inc, 8, 0xff, 0, 0, 0x00, "cPAZso"),
		C(inc, 16, 0xffff, 0, F_CF, 0x0000, "CPAZso"),
		C(inc, 32, 0x7fffffff, 0, 0, 0x80000000, "cPAzSO"),
		C(inc, 64, M64, 0, F_CF, 0, "CPAZso"),
		C(dec, 8, 0x80, 0, 0, 0x7f, "cpAzsO"),
		C(dec, 8, 0x01, 0, F_CF, 0x00, "CPaZso"),
		C(dec, 16, 0x0000, 0, 0, 0xffff, "cPAzSo"),
		C(dec, 32, 0x80000000, 0, F_CF, 0x7fffffff, "CPAzsO"),
		C(dec, 64, 0, 0, F_CF, M64, "CPAzSo"),
		C(neg, 8, 0x80, 0, 0, 0x80, "CpazSO"),
		C(neg, 8, 0x00, 0, F_ALL, 0x00, "cPaZso"),
		C(neg, 16, 0x0001, 0, 0, 0xffff, "CPAzSo"),
		C(neg, 32, 0x80000000, 0, 0, 0x80000000, "CPazSO"),
		C(neg, 64, 5, 0, 0, 0xfffffffffffffffbull, "CpAzSo"),
		/* not changes no flag */
		C(not, 8, 0x0f, 0, F_ALL, 0xf0, "CPAZSO"),
		C(not, 16, 0x1234, 0, 0, 0xedcb, "cpazso"),
		C(not, 32, 0, 0, F_ZF | F_CF, 0xffffffff, "CpaZso"),
		C(not, 64, M64, 0, F_SF | F_OF, 0, "cpazSO"),
	};
	return RUN(t);
}

static int check_flags_logic(struct ctx *c)
{
	static const struct fcase t[] = {
		/* CF = OF = 0, SF/ZF/PF from the result, AF undefined */
		C(and, 8, 0xf0, 0x0f, F_ALL, 0x00, "cPZso"),
		C(and, 16, 0x8000, 0xffff, F_ALL, 0x8000, "cPzSo"),
		C(and, 32, 0xffff00ff, 0x0000ffff, 0, 0x000000ff, "cPzso"),
		C(and, 64, M64, MIN64 | 1, F_ALL, MIN64 | 1, "cpzSo"),
		C(or, 8, 0x00, 0x00, F_ALL, 0x00, "cPZso"),
		C(or, 32, 0x80000000, 0x1, 0, 0x80000001, "cpzSo"),
		C(or, 64, 0x0100000000000000ull, 0x3, F_CF | F_OF, 0x0100000000000003ull, "cPzso"),
		C(xor, 64, 0x123456789abcdef0ull, 0x123456789abcdef0ull, F_ALL, 0, "cPZso"),
		C(xor, 64, 0xff00, 0x0ff0, 0, 0xf0f0, "cPzso"),
		C(xor, 16, 0x8001, 0x0003, 0, 0x8002, "cpzSo"),
		C(test, 64, MIN64, MIN64, F_ALL, MIN64, "cPzSo"),
		C(test, 8, 0x0f, 0xf0, 0, 0x0f, "cPZso"),
	};
	return RUN(t);
}

/* Counts 0, 1, size-1, size, > size. The count is masked to 5 bits (6 for
 * 64-bit); a masked count of 0 changes nothing, not even the flags. */
static int check_shifts(struct ctx *c)
{
	static const struct fcase t[] = {
		C(shl, 8, 0x81, 0, F_ALL, 0x81, "CPAZSO"),
		C(shl, 8, 0x81, 1, 0, 0x02, "CpzsO"),
		C(shl, 8, 0x81, 7, 0, 0x80, "cpzS"),
		C(shl, 8, 0x81, 8, 0, 0x00, "PZs"),
		C(shl, 8, 0x81, 9, 0, 0x00, "PZs"),
		C(shl, 8, 0x81, 32, 0, 0x81, "cpazso"),
		C(shl, 16, 0x4001, 15, 0, 0x8000, "cPzS"),
		C(shl, 16, 0x8001, 16, 0, 0x0000, "PZs"),
		C(shl, 16, 0x0003, 33, 0, 0x0006, "cPzso"),
		C(shl, 32, 0xc0000001, 1, 0, 0x80000002, "CpzSo"),
		C(shl, 32, 0x00000001, 31, 0, 0x80000000, "cPzS"),
		C(shl, 32, 0x00000003, 32, F_CF | F_ZF, 0x00000003, "CpaZso"),
		C(shl, 32, 0x00000003, 33, 0, 0x00000006, "cPzso"),
		C(shl, 64, MIN64 | 1, 1, 0, 2, "CpzsO"),
		C(shl, 64, 3, 63, 0, MIN64, "CPzS"),
		C(shl, 64, 3, 64, F_ALL, 3, "CPAZSO"),
		C(shl, 64, 3, 65, 0, 6, "cPzso"),
		C(shr, 8, 0x81, 1, 0, 0x40, "CpzsO"),
		C(shr, 8, 0x81, 7, 0, 0x01, "cpzs"),
		C(shr, 8, 0x81, 8, 0, 0x00, "PZs"),
		C(shr, 8, 0x80, 9, 0, 0x00, "PZs"),
		C(shr, 16, 0x8001, 15, 0, 0x0001, "cpzs"),
		C(shr, 16, 0x8001, 16, 0, 0x0000, "PZs"),
		C(shr, 32, 0x80000001, 31, 0, 0x00000001, "cpzs"),
		C(shr, 32, 0x80000001, 32, 0, 0x80000001, "cpazso"),
		C(shr, 32, 0x80000001, 33, 0, 0x40000000, "CPzsO"),
		C(shr, 64, MIN64 | 1, 0, F_SF, MIN64 | 1, "cpazSo"),
		C(shr, 64, MIN64 | 1, 63, 0, 1, "cpzs"),
		C(shr, 64, 0x4000000000000000ull, 63, 0, 0, "CPZs"),
		C(shr, 64, MIN64 | 1, 64, F_ALL, MIN64 | 1, "CPAZSO"),
		C(shr, 64, MIN64 | 1, 65, 0, 0x4000000000000000ull, "CPzsO"),
		C(sar, 8, 0x81, 1, 0, 0xc0, "CPzSo"),
		C(sar, 8, 0x81, 7, 0, 0xff, "cPzS"),
		C(sar, 8, 0x81, 8, 0, 0xff, "PzS"),
		C(sar, 8, 0x7f, 9, 0, 0x00, "PZs"),
		C(sar, 16, 0x8000, 15, 0, 0xffff, "cPzS"),
		C(sar, 16, 0x8000, 17, 0, 0xffff, "PzS"),
		C(sar, 32, 0x80000000, 31, 0, 0xffffffff, "cPzS"),
		C(sar, 32, 0x80000000, 32, F_ZF, 0x80000000, "cpaZso"),
		C(sar, 32, 0x80000000, 33, 0, 0xc0000000, "cPzSo"),
		C(sar, 64, MIN64, 63, 0, M64, "cPzS"),
		C(sar, 64, MIN64, 64, 0, MIN64, "cpazso"),
		C(sar, 64, 0xfffffffffffffffeull, 65, 0, M64, "cPzSo"),
	};
	return RUN(t);
}

/* Rotates change only CF (and OF for a count of 1); SF/ZF/PF/AF stay. */
#define PAZS (F_PF | F_AF | F_ZF | F_SF)
static int check_rotates(struct ctx *c)
{
	static const struct fcase t[] = {
		C(rol, 8, 0x81, 1, PAZS, 0x03, "CPAZSO"),
		C(rol, 8, 0x81, 1, 0, 0x03, "CpazsO"),
		C(rol, 8, 0x81, 0, F_CF | F_OF, 0x81, "CpazsO"),
		C(rol, 8, 0x81, 7, 0, 0xc0, "cpazs"),
		C(rol, 8, 0x81, 8, 0, 0x81, "Cpazs"),
		C(rol, 8, 0x81, 9, 0, 0x03, "Cpazs"),
		C(rol, 16, 0x8001, 1, 0, 0x0003, "CpazsO"),
		C(rol, 16, 0x8001, 16, 0, 0x8001, "Cpazs"),
		C(rol, 16, 0x8001, 17, 0, 0x0003, "Cpazs"),
		C(rol, 32, 0x80000001, 31, PAZS, 0xc0000000, "cPAZS"),
		C(rol, 32, 0x80000001, 32, F_CF, 0x80000001, "Cpazso"),
		C(rol, 32, 0x80000001, 33, 0, 0x00000003, "CpazsO"),
		C(rol, 64, MIN64 | 1, 1, 0, 3, "CpazsO"),
		C(rol, 64, MIN64 | 1, 63, 0, 0xc000000000000000ull, "cpazs"),
		C(rol, 64, MIN64 | 1, 64, F_ALL, MIN64 | 1, "CPAZSO"),
		C(rol, 64, 0x0123456789abcdefull, 8, 0, 0x23456789abcdef01ull, "Cpazs"),
		C(ror, 8, 0x81, 1, 0, 0xc0, "Cpazso"),
		C(ror, 8, 0x01, 1, PAZS, 0x80, "CPAZSO"),
		C(ror, 8, 0x81, 8, 0, 0x81, "Cpazs"),
		C(ror, 8, 0x02, 9, 0, 0x01, "cpazs"),
		C(ror, 16, 0x0001, 16, PAZS | F_CF, 0x0001, "cPAZS"),
		C(ror, 16, 0x0001, 17, 0, 0x8000, "Cpazs"),
		C(ror, 32, 0x00000001, 31, 0, 0x00000002, "cpazs"),
		C(ror, 32, 0x00000001, 32, F_OF, 0x00000001, "cpazsO"),
		C(ror, 32, 0x00000001, 33, 0, 0x80000000, "CpazsO"),
		C(ror, 64, 1, 1, 0, MIN64, "CpazsO"),
		C(ror, 64, 3, 63, 0, 6, "cpazs"),
		C(ror, 64, 3, 64, F_ZF, 3, "cpaZso"),
		C(ror, 64, 3, 65, 0, MIN64 | 1, "CpazsO"),
		C(rcl, 8, 0x81, 1, 0, 0x02, "CpazsO"),
		C(rcl, 8, 0x81, 1, F_CF, 0x03, "CpazsO"),
		C(rcl, 8, 0x81, 8, F_CF, 0xc0, "Cpazs"),
		C(rcl, 8, 0x81, 9, 0, 0x81, "cpazs"),
		C(rcl, 8, 0x81, 10, 0, 0x02, "Cpazs"),
		C(rcl, 16, 0x8000, 1, F_CF, 0x0001, "CpazsO"),
		C(rcl, 16, 0x8000, 16, 0, 0x4000, "cpazs"),
		C(rcl, 16, 0x8000, 17, F_CF, 0x8000, "Cpazs"),
		C(rcl, 16, 0x0001, 18, 0, 0x0002, "cpazs"),
		C(rcl, 32, 0x80000000, 1, F_ZF, 0x00000000, "CpaZsO"),
		C(rcl, 32, 0x80000000, 31, F_CF, 0x60000000, "cpazs"),
		C(rcl, 32, 0x80000000, 32, F_CF, 0x80000000, "Cpazso"),
		C(rcl, 64, MIN64, 1, F_CF, 1, "CpazsO"),
		C(rcl, 64, 1, 63, 0, MIN64, "cpazs"),
		C(rcl, 64, 1, 64, F_CF, 1, "Cpazso"),
		C(rcr, 8, 0x01, 1, 0, 0x00, "Cpazso"),
		C(rcr, 8, 0x01, 1, F_CF, 0x80, "CpazsO"),
		C(rcr, 8, 0x81, 8, 0, 0x02, "Cpazs"),
		C(rcr, 8, 0x81, 9, F_CF, 0x81, "Cpazs"),
		C(rcr, 16, 0x0001, 16, F_CF, 0x0003, "cpazs"),
		C(rcr, 16, 0x0001, 17, 0, 0x0001, "cpazs"),
		C(rcr, 32, 0x00000001, 1, 0, 0x00000000, "Cpazso"),
		C(rcr, 32, 0x00000001, 32, F_CF | F_SF, 0x00000001, "CpazSo"),
		C(rcr, 32, 0x00000001, 33, F_CF, 0x80000000, "CpazsO"),
		C(rcr, 64, MIN64, 63, F_CF, 3, "cpazs"),
		C(rcr, 64, 2, 64, 0, 2, "cpazso"),
		C(rcr, 64, 2, 65, F_CF, MIN64 | 1, "cpazsO"),
	};
	return RUN(t);
}

static int check_bit_ops(struct ctx *c)
{
	static const struct fcase t[] = {
		/* bt*: CF = the bit; ZF unchanged (SDM); the rest undefined */
		C(bt, 64, MIN64, 63, 0, MIN64, "C"),
		C(bt, 64, MIN64, 127, 0, MIN64, "C"),
		C(bt, 64, MIN64, 62, F_CF, MIN64, "c"),
		C(bt, 32, 0x10, 4, 0, 0x10, "C"),
		C(bt, 32, 0x10, 36, 0, 0x10, "C"),
		C(bt, 32, 0x10, 5, F_CF, 0x10, "c"),
		C(bt, 16, 0x8000, 15, 0, 0x8000, "C"),
		C(bt, 16, 0x8000, 14, F_CF, 0x8000, "c"),
		C(bt, 16, 0x8000, 31, 0, 0x8000, "C"),
		C(bts, 64, 0, 5, F_CF, 0x20, "c"),
		C(bts, 64, 0x20, 69, 0, 0x20, "C"),
		C(bts, 32, 0, 31, 0, 0x80000000, "c"),
		C(btr, 32, 0xffffffff, 31, 0, 0x7fffffff, "C"),
		C(btr, 64, 0xf, 4, F_CF, 0xf, "c"),
		C(btr, 16, 0xffff, 0, 0, 0xfffe, "C"),
		C(btc, 16, 0x00ff, 8, F_CF, 0x01ff, "c"),
		C(btc, 16, 0x01ff, 0, 0, 0x01fe, "C"),
		C(btc, 64, MIN64, 63, 0, 0, "C"),
		/* bsf/bsr: index of lowest/highest set bit; ZF = (source == 0) */
		C(bsf, 64, 0, MIN64, 0, 63, "z"),
		C(bsf, 64, 0, 0xf0, F_ZF, 4, "z"),
		C(bsr, 64, 0, 0xf0, 0, 7, "z"),
		C(bsr, 64, 0, 1, 0, 0, "z"),
		C(bsr, 64, 0, M64, 0, 63, "z"),
		C(bsf, 32, 0, 0x80000000, 0, 31, "z"),
		C(bsr, 32, 0, 0x00010001, 0, 16, "z"),
		C(bsf, 16, 0, 0x0100, 0, 8, "z"),
		C(bsr, 16, 0, 0x0100, 0, 8, "z"),
		CN(bsf, 64, 0, 0, 0, "Z"),
		CN(bsr, 32, 0, 0, 0, "Z"),
		CN(bsf, 16, 0, 0, 0, "Z"),
	};
	return RUN(t);
}

/* bt leaves ZF unchanged per the SDM. Kept separate so it reports on its own. */
static int check_bt_keeps_zf(struct ctx *c)
{
	static const struct fcase t[] = {
		C(bt, 64, MIN64, 63, F_ZF, MIN64, "CZ"),
		C(bt, 64, MIN64, 62, 0, MIN64, "cz"),
		C(bts, 32, 0, 3, F_ZF, 8, "cZ"),
		C(btr, 32, 8, 3, 0, 0, "Cz"),
	};
	return RUN(t);
}

static int check_imul_2op(struct ctx *c)
{
	static const struct fcase t[] = {
		/* CF = OF = (the full product does not fit the destination) */
		C(imul, 16, 0x0100, 0x0100, 0, 0x0000, "CO"),
		C(imul, 16, 0xffff, 0x7fff, F_CF | F_OF, 0x8001, "co"),
		C(imul, 32, 0x10000, 0x8000, 0, 0x80000000, "CO"),
		C(imul, 32, 0xffffffff, 0x80000000, 0, 0x80000000, "CO"),
		C(imul, 32, 0xfffffffe, 0xc0000000, 0, 0x80000000, "CO"),
		C(imul, 32, 0xfffffffe, 0x40000000, 0, 0x80000000, "co"),
		C(imul, 64, 0x100000000ull, 0x100000000ull, 0, 0, "CO"),
		C(imul, 64, 0xfffffffffffffffcull, 0x2000000000000000ull, 0, MIN64, "co"),
		C(imul, 64, 7, 6, 0, 42, "co"),
		{ "imul3-64", imul3_64, 64, 0, 7, 0, 0xffffffffffffffebull, "co", 0 },
		{ "imul3-64", imul3_64, 64, 0, 0x5555555555555556ull, 0, 0xfffffffffffffffeull, "CO", 0 },
	};
	return RUN(t);
}

/* One-operand mul/imul: rDX:rAX (AH:AL for 8-bit) = rAX * src. */
struct mres {
	uint64_t lo, hi, fl;
};

#define DEFMUL(name, insn, T) \
	static struct mres name(uint64_t a, uint64_t b) \
	{ \
		uint64_t ax = a, dx = 0x5a5a5a5a5a5a5a5aull, f; \
		T y = (T)b; \
		struct mres r; \
		__asm__ volatile(RZ_IN insn " %[y]\n\t" GETF RZ_OUT \
				 : "+a"(ax), "+d"(dx), [fo] "=&r"(f) : [y] "r"(y) : "cc", "memory"); \
		if (sizeof(T) == 1) { \
			r.lo = ax & 0xff; \
			r.hi = (ax >> 8) & 0xff; \
		} else { \
			uint64_t m = sizeof(T) == 8 ? ~0ull : (1ull << (8 * sizeof(T))) - 1; \
			r.lo = ax & m; \
			r.hi = dx & m; \
		} \
		r.fl = f; \
		return r; \
	}
DEFMUL(mul1_8, "mulb", uint8_t) DEFMUL(mul1_16, "mulw", uint16_t) DEFMUL(mul1_32, "mull", uint32_t) DEFMUL(mul1_64, "mulq", uint64_t)
DEFMUL(imul1_8, "imulb", uint8_t) DEFMUL(imul1_16, "imulw", uint16_t) DEFMUL(imul1_32, "imull", uint32_t) DEFMUL(imul1_64, "imulq", uint64_t)

static int check_mul_1op(struct ctx *c)
{
	static const struct {
		const char *name;
		struct mres (*fn)(uint64_t, uint64_t);
		uint64_t a, b, lo, hi;
		int co;
	} t[] = {
		{ "mul8", mul1_8, 0x80, 0x02, 0x00, 0x01, 1 },
		{ "mul8", mul1_8, 0x0f, 0x0f, 0xe1, 0x00, 0 },
		{ "mul16", mul1_16, 0xffff, 0xffff, 0x0001, 0xfffe, 1 },
		{ "mul32", mul1_32, 0x10000, 0x10000, 0, 1, 1 },
		{ "mul32", mul1_32, 0xffff, 0x10001, 0xffffffff, 0, 0 },
		{ "mul64", mul1_64, M64, M64, 1, 0xfffffffffffffffeull, 1 },
		{ "mul64", mul1_64, 0x100000000ull, 0xffffffff, 0xffffffff00000000ull, 0, 0 },
		{ "imul8", imul1_8, 0x80, 0xff, 0x80, 0x00, 1 },
		{ "imul8", imul1_8, 0xff, 0x02, 0xfe, 0xff, 0 },
		{ "imul16", imul1_16, 0x8000, 0x8000, 0x0000, 0x4000, 1 },
		{ "imul32", imul1_32, 0xfffffffe, 0x40000000, 0x80000000, 0xffffffff, 0 },
		{ "imul32", imul1_32, 0x2, 0x40000000, 0x80000000, 0x00000000, 1 },
		{ "imul64", imul1_64, MIN64, M64, MIN64, 0, 1 },
		{ "imul64", imul1_64, 0xfffffffffffffffdull, 0x7fffffffffffffffull, 0x8000000000000003ull,
		  0xfffffffffffffffeull, 1 },
		{ "imul64", imul1_64, M64, M64, 1, 0, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct mres r = t[i].fn(t[i].a, t[i].b);

		r.lo ^= VG_MUT;
		uint64_t want = t[i].co ? (F_CF | F_OF) : 0;

		if (r.lo != t[i].lo || r.hi != t[i].hi)
			return fail(c, "#%zu %s 0x%" PRIx64 "*0x%" PRIx64 ": hi:lo 0x%" PRIx64 ":0x%" PRIx64
				    ", want 0x%" PRIx64 ":0x%" PRIx64, i, t[i].name, t[i].a, t[i].b, r.hi, r.lo,
				    t[i].hi, t[i].lo);
		if ((r.fl & (F_CF | F_OF)) != want)
			return fail(c, "#%zu %s 0x%" PRIx64 "*0x%" PRIx64 ": CF/OF = 0x%" PRIx64 ", want 0x%" PRIx64,
				    i, t[i].name, t[i].a, t[i].b, r.fl & (F_CF | F_OF), want);
	}
	return 0;
}

/* ------------------------------------------------------------- division */

/* Division routines in plain asm, with a global label on the dividing
 * instruction so a check can compare the fault address with it. SysV ABI. */
__asm__(".text\n"
	/* int64_t vg_idiv64(int64_t a, int64_t b) */
	".globl vg_idiv64\n.type vg_idiv64,@function\nvg_idiv64:\n"
	"  mov %rdi, %rax\n  cqo\n"
	".globl vg_idiv64_at\nvg_idiv64_at:\n"
	"  idivq %rsi\n  ret\n"
	/* uint64_t vg_div64(uint64_t a, uint64_t b) */
	".globl vg_div64\n.type vg_div64,@function\nvg_div64:\n"
	"  mov %rdi, %rax\n  xor %edx, %edx\n"
	".globl vg_div64_at\nvg_div64_at:\n"
	"  divq %rsi\n  ret\n"
	/* int32_t vg_idiv32(int32_t a, int32_t b) */
	".globl vg_idiv32\n.type vg_idiv32,@function\nvg_idiv32:\n"
	"  mov %edi, %eax\n  cltd\n"
	".globl vg_idiv32_at\nvg_idiv32_at:\n"
	"  idivl %esi\n  ret\n"
	/* uint64_t vg_div128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem): divq */
	".globl vg_div128\n.type vg_div128,@function\nvg_div128:\n"
	"  mov %rdx, %r8\n  mov %rsi, %rax\n  mov %rdi, %rdx\n"
	".globl vg_div128_at\nvg_div128_at:\n"
	"  divq %r8\n  mov %rdx, (%rcx)\n  ret\n"
	/* int64_t vg_idiv128(uint64_t hi, uint64_t lo, int64_t d, int64_t *rem): idivq */
	".globl vg_idiv128\n.type vg_idiv128,@function\nvg_idiv128:\n"
	"  mov %rdx, %r8\n  mov %rsi, %rax\n  mov %rdi, %rdx\n"
	".globl vg_idiv128_at\nvg_idiv128_at:\n"
	"  idivq %r8\n  mov %rdx, (%rcx)\n  ret\n"
	/* uint32_t vg_div8(uint32_t ax, uint32_t d): divb; returns AX (AH=rem, AL=quot) */
	".globl vg_div8\n.type vg_div8,@function\nvg_div8:\n"
	"  mov %edi, %eax\n"
	".globl vg_div8_at\nvg_div8_at:\n"
	"  divb %sil\n  movzwl %ax, %eax\n  ret\n"
	/* uint32_t vg_idiv8(uint32_t ax, uint32_t d): idivb */
	".globl vg_idiv8\n.type vg_idiv8,@function\nvg_idiv8:\n"
	"  mov %edi, %eax\n"
	"  idivb %sil\n  movzwl %ax, %eax\n  ret\n"
	/* uint32_t vg_div16(uint32_t dxax, uint32_t d): divw; returns DX<<16|AX */
	".globl vg_div16\n.type vg_div16,@function\nvg_div16:\n"
	"  mov %edi, %eax\n  mov %edi, %edx\n  shr $16, %edx\n"
	"  divw %si\n  movzwl %ax, %eax\n  shl $16, %edx\n  or %edx, %eax\n  ret\n"
	/* uint64_t vg_div32(uint64_t edxeax, uint32_t d): divl; returns EDX<<32|EAX */
	".globl vg_div32\n.type vg_div32,@function\nvg_div32:\n"
	"  mov %edi, %eax\n  mov %rdi, %rdx\n  shr $32, %rdx\n"
	"  divl %esi\n  shl $32, %rdx\n  or %rdx, %rax\n  ret\n"
	".previous\n");

int64_t vg_idiv64(int64_t a, int64_t b);
uint64_t vg_div64(uint64_t a, uint64_t b);
int32_t vg_idiv32(int32_t a, int32_t b);
uint64_t vg_div128(uint64_t hi, uint64_t lo, uint64_t d, uint64_t *rem);
int64_t vg_idiv128(uint64_t hi, uint64_t lo, int64_t d, int64_t *rem);
uint32_t vg_div8(uint32_t ax, uint32_t d);
uint32_t vg_idiv8(uint32_t ax, uint32_t d);
uint32_t vg_div16(uint32_t dxax, uint32_t d);
uint64_t vg_div32(uint64_t edxeax, uint32_t d);
extern const char vg_idiv64_at[], vg_div64_at[], vg_idiv32_at[], vg_div128_at[], vg_idiv128_at[], vg_div8_at[];

/* Runs the division in a trap; returns 1 if SIGFPE/FPE_INTDIV arrived at `at`. */
#define EXPECT_DE(what, call, at) do { \
	volatile uint64_t sink_; \
	if (TRAP_BEGIN(SIGFPE) == 0) { \
		sink_ = (uint64_t)(call); \
		trap_end(); \
		return fail(c, "%s: no SIGFPE (result 0x%" PRIx64 ")", (what), (uint64_t)sink_); \
	} \
	trap_end(); \
	if (trap_info.si_signo != SIGFPE || trap_info.si_code != FPE_INTDIV) \
		return fail(c, "%s: signal %d code %d, want SIGFPE/FPE_INTDIV (%d)", (what), \
			    trap_info.si_signo, trap_info.si_code, FPE_INTDIV); \
	if ((const char *)trap_info.si_addr != (at)) \
		return fail(c, "%s: si_addr %p, want %p (the div instruction)", (what), \
			    trap_info.si_addr, (const void *)(at)); \
} while (0)

static int check_div_overflow_sigfpe(struct ctx *c)
{
	/* Sanity: the same routines work for ordinary operands. */
	EXPECT_I64("idiv64 -7/2", vg_idiv64(-7, 2), -3);
	EXPECT_I64("idiv64 INT64_MIN/1", vg_idiv64(INT64_MIN, 1), INT64_MIN);
	EXPECT_I64("idiv64 INT64_MIN/2", vg_idiv64(INT64_MIN, 2), -4611686018427387904ll);
	EXPECT_I64("idiv32 INT32_MIN/1", vg_idiv32(INT32_MIN, 1), INT32_MIN);
	/* The quotient 2^63 does not fit: #DE -> SIGFPE. */
	EXPECT_DE("idiv64 INT64_MIN/-1", vg_idiv64(INT64_MIN, -1), vg_idiv64_at);
	EXPECT_DE("idiv32 INT32_MIN/-1", vg_idiv32(INT32_MIN, -1), vg_idiv32_at);
	EXPECT_DE("div8 0x1234/0x10 (quotient 0x123)", vg_div8(0x1234, 0x10), vg_div8_at);
	/* It can be caught again: the handler returns through siglongjmp. */
	EXPECT_DE("idiv64 INT64_MIN/-1 again", vg_idiv64(INT64_MIN, -1), vg_idiv64_at);
	return 0;
}

static int check_div_by_zero_sigfpe(struct ctx *c)
{
	EXPECT_DE("div64 5/0", vg_div64(5, 0), vg_div64_at);
	EXPECT_DE("idiv64 -5/0", vg_idiv64(-5, 0), vg_idiv64_at);
	EXPECT_DE("idiv32 0/0", vg_idiv32(0, 0), vg_idiv32_at);
	EXPECT_DE("div8 1/0", vg_div8(1, 0), vg_div8_at);
	/* Plain C division by a zero that the compiler cannot see. */
	if (TRAP_BEGIN(SIGFPE) == 0) {
		volatile int64_t r = V64(1234) / V64(0);
		trap_end();
		return fail(c, "C 1234/0: no SIGFPE (result %" PRId64 ")", (int64_t)r);
	}
	trap_end();
	EXPECT_I64("C 1234/0 si_code", trap_info.si_code, FPE_INTDIV);
	return 0;
}

static int check_div_128_64(struct ctx *c)
{
	uint64_t r;
	int64_t sr;

	EXPECT_U64("divq 2^64/2", vg_div128(1, 0, 2, &r), MIN64);
	EXPECT_U64("divq 2^64/2 rem", r, 0);
	/* 0x123456789abcdef0_fedcba9876543210 / 0xfedcba9876543211 */
	EXPECT_U64("divq big", vg_div128(0x123456789abcdef0ull, 0xfedcba9876543210ull, 0xfedcba9876543211ull, &r),
		   0x1249249249249238ull);
	EXPECT_U64("divq big rem", r, 0xd9125df2abf78c58ull);
	EXPECT_U64("divq max", vg_div128(0xfffffffffffffffeull, M64, M64, &r), M64);
	EXPECT_U64("divq max rem", r, 0xfffffffffffffffeull);
	/* signed: -2^64 / 2 = -2^63 fits; -2^64 / -2 = 2^63 does not */
	EXPECT_I64("idivq -2^64/2", vg_idiv128(M64, 0, 2, &sr), INT64_MIN);
	EXPECT_I64("idivq -2^64/2 rem", sr, 0);
	EXPECT_I64("idivq -1000/7", vg_idiv128(M64, (uint64_t)-1000, 7, &sr), -142);
	EXPECT_I64("idivq -1000/7 rem", sr, -6);
	EXPECT_I64("idivq 2^64+5 / 2^32", vg_idiv128(1, 5, 0x100000000ll, &sr), 0x100000000ll);
	EXPECT_I64("idivq 2^64+5 / 2^32 rem", sr, 5);
	EXPECT_DE("divq overflow (hi >= divisor)", vg_div128(7, 0, 7, &r), vg_div128_at);
	EXPECT_DE("idivq -2^64/-2 overflow", vg_idiv128(M64, 0, -2, &sr), vg_idiv128_at);
	EXPECT_DE("divq by 0", vg_div128(0, 1, 0, &r), vg_div128_at);
	return 0;
}

static int check_div_small(struct ctx *c)
{
	/* divb: AL = AX / src, AH = AX % src */
	EXPECT_U64("divb 0x1234/0x56", vg_div8(0x1234, 0x56), 0x1036);
	EXPECT_U64("divb 0x00ff/0xff", vg_div8(0x00ff, 0xff), 0x0001);
	/* idivb: -100 / 7 = -14 rem -2 -> AL 0xf2, AH 0xfe */
	EXPECT_U64("idivb -100/7", vg_idiv8(0xff9c, 7), 0xfef2);
	EXPECT_U64("idivb 100/-7", vg_idiv8(0x0064, 0xf9), 0x02f2);
	/* divw: DX:AX / src -> AX quot, DX rem */
	EXPECT_U64("divw 0x12345678/0x9abc", vg_div16(0x12345678u, 0x9abc), 0x2c701e1eu);
	/* divl: EDX:EAX / src */
	EXPECT_U64("divl 0x0000000500000003/0x10", vg_div32(0x0000000500000003ull, 0x10), 0x0000000350000000ull);
	EXPECT_U64("divl 0xffffffff/0x10000", vg_div32(0xffffffffull, 0x10000), 0x0000ffff0000ffffull);
	EXPECT_I64("idivl -7/2", vg_idiv32(-7, 2), -3);
	EXPECT_I64("idivl 7/-2", vg_idiv32(7, -2), -3);
	EXPECT_U64("divq UINT64_MAX/3", vg_div64(M64, 3), 0x5555555555555555ull);
	EXPECT_I64("idivq INT64_MAX/-1", vg_idiv64(INT64_MAX, -1), -INT64_MAX);
	return 0;
}

/* --------------------------------------------------------- condition codes */

/* set<cc>, cmov<cc> and j<cc> for all 16 conditions, for every combination of
 * CF/PF/ZF/SF/OF, against the SDM's definitions of the conditions. */
#define SETCC(cc) \
	static int set_##cc(uint64_t fl) \
	{ \
		uint8_t r; \
		__asm__ volatile(RZ_IN "pushq %[fi]\n\tpopfq\n\tset" #cc " %[r]\n\t" RZ_OUT \
				 : [r] "=q"(r) : [fi] "r"(fl | F_BASE) : "cc", "memory"); \
		return r; \
	} \
	static int cmov_##cc(uint64_t fl) \
	{ \
		uint64_t r = 0, one = 1; \
		__asm__ volatile(RZ_IN "pushq %[fi]\n\tpopfq\n\tcmov" #cc " %[one], %[r]\n\t" RZ_OUT \
				 : [r] "+r"(r) : [one] "r"(one), [fi] "r"(fl | F_BASE) : "cc", "memory"); \
		return (int)r; \
	} \
	static int j_##cc(uint64_t fl) \
	{ \
		uint32_t r; \
		__asm__ volatile(RZ_IN "pushq %[fi]\n\tpopfq\n\tmovl $1, %[r]\n\tj" #cc " 1f\n\tmovl $0, %[r]\n1:\n\t" RZ_OUT \
				 : [r] "=&r"(r) : [fi] "r"(fl | F_BASE) : "cc", "memory"); \
		return (int)r; \
	}
SETCC(o) SETCC(no) SETCC(b) SETCC(ae) SETCC(e) SETCC(ne) SETCC(be) SETCC(a)
SETCC(s) SETCC(ns) SETCC(p) SETCC(np) SETCC(l) SETCC(ge) SETCC(le) SETCC(g)

static int check_condition_codes(struct ctx *c)
{
	static const struct {
		const char *cc;
		int (*set)(uint64_t), (*cmov)(uint64_t), (*j)(uint64_t);
	} t[] = {
#define E(cc) { #cc, set_##cc, cmov_##cc, j_##cc }
		E(o), E(no), E(b), E(ae), E(e), E(ne), E(be), E(a),
		E(s), E(ns), E(p), E(np), E(l), E(ge), E(le), E(g),
#undef E
	};
	unsigned m, i;

	for (m = 0; m < 32; m++) {
		uint64_t fl = ((m & 1) ? F_CF : 0) | ((m & 2) ? F_PF : 0) | ((m & 4) ? F_ZF : 0) |
			      ((m & 8) ? F_SF : 0) | ((m & 16) ? F_OF : 0);
		int cf = !!(m & 1), pf = !!(m & 2), zf = !!(m & 4), sf = !!(m & 8), of = !!(m & 16);
		int want[16] = {
			of, !of, cf, !cf, zf, !zf, cf || zf, !cf && !zf,
			sf, !sf, pf, !pf, sf != of, sf == of, zf || sf != of, !zf && sf == of,
		};
		char fs[8];

		flag_str(fl, fs);
		for (i = 0; i < 16; i++)
			want[i] ^= VG_MUT;
		for (i = 0; i < 16; i++) {
			if (t[i].set(fl) != want[i])
				return fail(c, "set%s with flags %s: %d, want %d", t[i].cc, fs, t[i].set(fl), want[i]);
			if (t[i].cmov(fl) != want[i])
				return fail(c, "cmov%s with flags %s: moved=%d, want %d", t[i].cc, fs, t[i].cmov(fl), want[i]);
			if (t[i].j(fl) != want[i])
				return fail(c, "j%s with flags %s: taken=%d, want %d", t[i].cc, fs, t[i].j(fl), want[i]);
		}
	}
	return 0;
}

/* ---------------------------------------------------- partial registers etc */

static int check_partial_registers(struct ctx *c)
{
	uint64_t x;

	/* 32-bit writes zero bits 63:32; 8/16-bit writes keep the rest. */
	x = VU64(0xffffffffffffffffull);
	__asm__ volatile("addl $0, %k0" : "+r"(x) : : "cc");
	EXPECT_U64("addl zero-extends", x, 0x00000000ffffffffull);
	x = VU64(0x1234567890abcdffull);
	__asm__ volatile("addb $1, %b0" : "+r"(x) : : "cc");
	EXPECT_U64("addb keeps upper bits", x, 0x1234567890abcd00ull);
	x = VU64(0x1234567890abffffull);
	__asm__ volatile("addw $1, %w0" : "+r"(x) : : "cc");
	EXPECT_U64("addw keeps upper bits", x, 0x1234567890ab0000ull);
	x = VU64(0x1122334455667788ull);
	__asm__ volatile("movl %k0, %k0" : "+r"(x));
	EXPECT_U64("movl r32,r32 zero-extends", x, 0x0000000055667788ull);
	x = VU64(0x1122334455667788ull);
	__asm__ volatile("movb $0xab, %%ah" : "+a"(x));
	EXPECT_U64("movb to %ah", x, 0x112233445566ab88ull);
	x = VU64(0x1122334455667788ull);
	__asm__ volatile("incb %%ah" : "+a"(x) : : "cc");
	EXPECT_U64("incb %ah", x, 0x1122334455667888ull);
	x = VU64(0x1122334455667788ull);
	__asm__ volatile("xchgb %%al, %%ah" : "+a"(x));
	EXPECT_U64("xchg %al,%ah", x, 0x1122334455668877ull);
	x = VU64(0x00000000000000f0ull);
	__asm__ volatile("movsbq %b0, %0" : "+r"(x));
	EXPECT_U64("movsbq", x, 0xfffffffffffffff0ull);
	x = VU64(0xffffffffffff8001ull);
	__asm__ volatile("movzwl %w0, %k0" : "+r"(x));
	EXPECT_U64("movzwl", x, 0x8001);
	x = VU64(0x0000000080000000ull);
	__asm__ volatile("movslq %k0, %0" : "+r"(x));
	EXPECT_U64("movslq", x, 0xffffffff80000000ull);
	x = VU64(0x0000000080000000ull);
	__asm__ volatile("cltq" : "+a"(x));
	EXPECT_U64("cltq", x, 0xffffffff80000000ull);
	x = VU64(0x12345678000000f0ull);
	__asm__ volatile("cbtw" : "+a"(x));
	EXPECT_U64("cbtw", x, 0x123456780000fff0ull);
	{
		uint64_t a = VU64(0x8000000000000000ull), d = 0;
		__asm__ volatile("cqto" : "+a"(a), "=d"(d));
		EXPECT_U64("cqto rdx", d, M64);
	}
	x = VU64(0x0102030405060708ull);
	__asm__ volatile("bswap %0" : "+r"(x));
	EXPECT_U64("bswap64", x, 0x0807060504030201ull);
	x = VU64(0xffffffff01020304ull);
	__asm__ volatile("bswap %k0" : "+r"(x));
	EXPECT_U64("bswap32 zero-extends", x, 0x0000000004030201ull);
	{
		uint64_t b = VU64(0x100), i = VU64(0x10);
		__asm__ volatile("lea -8(%1,%2,8), %0" : "=r"(x) : "r"(b), "r"(i));
		EXPECT_U64("lea -8(b,i,8)", x, 0x178);
		__asm__ volatile("leal 1(%1,%2,4), %k0" : "=r"(x) : "r"(VU64(0xffffffff00000000ull)), "r"(VU64(2)));
		EXPECT_U64("leal truncates", x, 9);
	}
	return 0;
}

static int check_xadd_cmpxchg(struct ctx *c)
{
	uint64_t mem = VU64(100), r = 5, a, f;
	uint32_t m32;

	__asm__ volatile("lock xaddq %0, %1" : "+r"(r), "+m"(mem) : : "cc");
	EXPECT_U64("xadd old", r, 100);
	EXPECT_U64("xadd new", mem, 105);
	/* cmpxchg success: ZF=1, mem = new */
	a = 105;
	/* (memory through a register: %rsp moves below the red zone) */
	__asm__ volatile(RZ_IN "lock cmpxchgq %[n], (%[m])\n\t" GETF RZ_OUT
			 : "+a"(a), [fo] "=&r"(f) : [m] "r"(&mem), [n] "r"(VU64(7)) : "cc", "memory");
	EXPECT_U64("cmpxchg ok mem", mem, 7);
	EXPECT_U64("cmpxchg ok rax", a, 105);
	EXPECT_U64("cmpxchg ok ZF", f & F_ZF, F_ZF);
	/* failure: ZF=0, rax = mem */
	a = 8;
	__asm__ volatile(RZ_IN "lock cmpxchgq %[n], (%[m])\n\t" GETF RZ_OUT
			 : "+a"(a), [fo] "=&r"(f) : [m] "r"(&mem), [n] "r"(VU64(9)) : "cc", "memory");
	EXPECT_U64("cmpxchg fail mem", mem, 7);
	EXPECT_U64("cmpxchg fail rax", a, 7);
	EXPECT_U64("cmpxchg fail ZF", f & F_ZF, 0);
	/* 32-bit failure zero-extends into rax */
	m32 = 0x89abcdef;
	a = 0xffffffff00000001ull;
	__asm__ volatile("lock cmpxchgl %[n], %[m]" : "+a"(a), [m] "+m"(m32) : [n] "r"(VU32(3)) : "cc");
	EXPECT_U64("cmpxchgl fail rax", a, 0x0000000089abcdefull);
	r = 0x1111;
	mem = 0x2222;
	__asm__ volatile("xchgq %0, %1" : "+r"(r), "+m"(mem));
	EXPECT_U64("xchg reg", r, 0x2222);
	EXPECT_U64("xchg mem", mem, 0x1111);
	return 0;
}

static const struct check checks[] = {
	{ "flags-add-sub-cmp", check_flags_add_sub },
	{ "flags-adc-sbb", check_flags_adc_sbb },
	{ "flags-inc-dec-neg-not", check_flags_inc_dec_neg_not },
	{ "flags-and-or-xor-test", check_flags_logic },
	{ "shl-shr-sar", check_shifts },
	{ "rol-ror-rcl-rcr", check_rotates },
	{ "bt-bts-btr-btc-bsf-bsr", check_bit_ops },
	{ "bt-keeps-zf", check_bt_keeps_zf },
	{ "imul-2op-3op", check_imul_2op },
	{ "mul-imul-1op", check_mul_1op },
	{ "div-overflow-sigfpe", check_div_overflow_sigfpe },
	{ "div-by-zero-sigfpe", check_div_by_zero_sigfpe },
	{ "div-128-by-64", check_div_128_64 },
	{ "div-8-16-32", check_div_small },
	{ "condition-codes", check_condition_codes },
	{ "partial-registers", check_partial_registers },
	{ "xadd-cmpxchg-xchg", check_xadd_cmpxchg },
};

VGTEST_MAIN("test-int", checks)
