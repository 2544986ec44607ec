/*
 * test-sse -- SSE/SSE2 arithmetic, NaN rules, conversions, integer shuffles
 * and packs, MXCSR rounding modes, exception flags and FTZ, printf/strtod
 * round trips, and x87 long double arithmetic.
 *
 * Where the operand order matters (min/max, NaN propagation) the instruction
 * is written in inline asm: "op src, dst" computes dst = dst OP src.
 * Expected values are bit patterns (IEEE 754 binary32/64, x87 80-bit) from
 * the Intel SDM rules and known correctly rounded results.
 */
#include "vgtest.h"

#include <emmintrin.h>
#include <float.h>
#include <math.h>

#define EXPECT_DBITS(what, got, want) EXPECT_U64(what, dbits(got), want)
#define EXPECT_FBITS(what, got, want) EXPECT_U64(what, fbits(got), want)

static __m128d pd(uint64_t lo, uint64_t hi)
{
	volatile uint64_t v[2] = { lo, hi };
	return _mm_loadu_pd((const double *)v);
}

static __m128 ps4(uint32_t a, uint32_t b, uint32_t c2, uint32_t d)
{
	volatile uint32_t v[4] = { a, b, c2, d };
	return _mm_loadu_ps((const float *)v);
}

static __m128i vi(const void *p)
{
	return _mm_loadu_si128((const __m128i *)p);
}

static uint64_t lo64(__m128d v) { return dbits(_mm_cvtsd_f64(v)); }
static uint64_t hi64(__m128d v) { return dbits(_mm_cvtsd_f64(_mm_unpackhi_pd(v, v))); }

static int expect_ps(struct ctx *c, const char *what, __m128 v, uint32_t a, uint32_t b, uint32_t c2, uint32_t d)
{
	uint32_t g[4];

	_mm_storeu_ps((float *)g, v);
	if (g[0] != a || g[1] != b || g[2] != c2 || g[3] != d)
		return fail(c, "%s: got {%08x %08x %08x %08x}, want {%08x %08x %08x %08x}", what,
			    g[0], g[1], g[2], g[3], a, b, c2, d);
	return 0;
}

static int expect_bytes(struct ctx *c, const char *what, __m128i v, const uint8_t want[16])
{
	uint8_t g[16];
	int i;

	_mm_storeu_si128((__m128i *)g, v);
	for (i = 0; i < 16; i++)
		if (g[i] != want[i])
			return fail(c, "%s: byte %d is 0x%02x, want 0x%02x", what, i, g[i], want[i]);
	return 0;
}
#define EXPECT_PS(what, v, a, b, c2, d) do { if (expect_ps(c, what, v, a, b, c2, d)) return 1; } while (0)
#define EXPECT_BYTES(what, v, ...) do { \
	static const uint8_t w_[16] = { __VA_ARGS__ }; \
	if (expect_bytes(c, what, v, w_)) return 1; \
} while (0)
#define EXPECT_WORDS(what, v, ...) do { \
	static const uint16_t w_[8] = { __VA_ARGS__ }; \
	if (expect_bytes(c, what, v, (const uint8_t *)w_)) return 1; \
} while (0)
#define EXPECT_DWORDS(what, v, ...) do { \
	static const uint32_t w_[4] = { __VA_ARGS__ }; \
	if (expect_bytes(c, what, v, (const uint8_t *)w_)) return 1; \
} while (0)
#define EXPECT_QWORDS(what, v, ...) do { \
	static const uint64_t w_[2] = { __VA_ARGS__ }; \
	if (expect_bytes(c, what, v, (const uint8_t *)w_)) return 1; \
} while (0)

#define ONE 0x3ff0000000000000ull
#define TWO 0x4000000000000000ull
#define QNAN_DEFAULT 0xfff8000000000000ull /* "real indefinite" */
#define PZERO 0x0000000000000000ull
#define NZERO 0x8000000000000000ull
#define PINF 0x7ff0000000000000ull

/* ----------------------------------------------------------- arithmetic */

static int check_sse_arith(struct ctx *c)
{
	__m128d r;
	__m128 f;

	/* addpd {1.5, -2.25} + {0.25, 8.0} = {1.75, 5.75} */
	r = _mm_add_pd(pd(0x3ff8000000000000ull, 0xc002000000000000ull), pd(0x3fd0000000000000ull, 0x4020000000000000ull));
	EXPECT_U64("addpd lane0", lo64(r), 0x3ffc000000000000ull);
	EXPECT_U64("addpd lane1", hi64(r), 0x4017000000000000ull);
	/* 0.1 + 0.2 and 1e16 + 1 (a tie, rounds to even) */
	r = _mm_add_pd(pd(0x3fb999999999999aull, 0x4341c37937e08000ull), pd(0x3fc999999999999aull, ONE));
	EXPECT_U64("addpd 0.1+0.2", lo64(r), 0x3fd3333333333334ull);
	EXPECT_U64("addpd 1e16+1", hi64(r), 0x4341c37937e08000ull);
	/* subpd */
	r = _mm_sub_pd(pd(ONE, 0x4059000000000000ull), pd(0x3ff0000000000001ull, 0x4059000000000000ull));
	EXPECT_U64("subpd 1-(1+ulp)", lo64(r), 0xbcb0000000000000ull);
	EXPECT_U64("subpd 100-100", hi64(r), PZERO);
	/* mulps {1.5, -2, 3, 0.1f} * {2, 0.5, -0, 3} */
	f = _mm_mul_ps(ps4(0x3fc00000, 0xc0000000, 0x40400000, 0x3dcccccd), ps4(0x40000000, 0x3f000000, 0x80000000, 0x40400000));
	EXPECT_PS("mulps", f, 0x40400000, 0xbf800000, 0x80000000, 0x3e99999a);
	/* divsd: low lane 1/3, high lane passes the first operand through */
	r = _mm_div_sd(pd(ONE, 0x401c000000000000ull), pd(0x4008000000000000ull, 0x4058c00000000000ull));
	EXPECT_U64("divsd 1/3", lo64(r), 0x3fd5555555555555ull);
	EXPECT_U64("divsd upper lane", hi64(r), 0x401c000000000000ull);
	r = _mm_div_pd(pd(ONE, 0xbff0000000000000ull), pd(PZERO, PZERO));
	EXPECT_U64("divpd 1/0", lo64(r), PINF);
	EXPECT_U64("divpd -1/0", hi64(r), 0xfff0000000000000ull);
	/* divps */
	f = _mm_div_ps(ps4(0x3f800000, 0x41200000, 0x00000000, 0x3f800000), ps4(0x40400000, 0x40000000, 0x00000000, 0x7f800000));
	EXPECT_PS("divps {1/3, 10/2, 0/0, 1/inf}", f, 0x3eaaaaab, 0x40a00000, 0xffc00000, 0x00000000);
	/* sqrt */
	r = _mm_sqrt_sd(pd(0x4014000000000000ull, 0x4014000000000000ull), pd(TWO, 0));
	EXPECT_U64("sqrtsd 2", lo64(r), 0x3ff6a09e667f3bcdull);
	EXPECT_U64("sqrtsd upper from first operand", hi64(r), 0x4014000000000000ull);
	r = _mm_sqrt_pd(pd(0xbff0000000000000ull, NZERO));
	EXPECT_U64("sqrtpd -1 -> default NaN", lo64(r), QNAN_DEFAULT);
	EXPECT_U64("sqrtpd -0 -> -0", hi64(r), NZERO);
	f = _mm_sqrt_ps(ps4(0x40800000, 0x40000000, 0x3e800000, 0xbf800000));
	EXPECT_PS("sqrtps {4, 2, 0.25, -1}", f, 0x40000000, 0x3fb504f3, 0x3f000000, 0xffc00000);
	return 0;
}

static uint64_t asm_minsd(uint64_t dst, uint64_t src)
{
	__m128d d = pd(dst, 0), s = pd(src, 0);
	__asm__ volatile("minsd %1, %0" : "+x"(d) : "x"(s));
	return lo64(d);
}
static uint64_t asm_maxsd(uint64_t dst, uint64_t src)
{
	__m128d d = pd(dst, 0), s = pd(src, 0);
	__asm__ volatile("maxsd %1, %0" : "+x"(d) : "x"(s));
	return lo64(d);
}
static uint64_t asm_addsd(uint64_t dst, uint64_t src)
{
	__m128d d = pd(dst, 0), s = pd(src, 0);
	__asm__ volatile("addsd %1, %0" : "+x"(d) : "x"(s));
	return lo64(d);
}
static uint64_t asm_mulsd(uint64_t dst, uint64_t src)
{
	__m128d d = pd(dst, 0), s = pd(src, 0);
	__asm__ volatile("mulsd %1, %0" : "+x"(d) : "x"(s));
	return lo64(d);
}
static uint64_t asm_divsd(uint64_t dst, uint64_t src)
{
	__m128d d = pd(dst, 0), s = pd(src, 0);
	__asm__ volatile("divsd %1, %0" : "+x"(d) : "x"(s));
	return lo64(d);
}
static uint64_t asm_sqrtsd(uint64_t src)
{
	__m128d d = pd(0, 0), s = pd(src, 0);
	__asm__ volatile("sqrtsd %1, %0" : "+x"(d) : "x"(s));
	return lo64(d);
}
/* ucomisd: ZF, PF, CF = 1,1,1 unordered; 0,0,1 below; 0,0,0 above; 1,0,0 equal.
 * Returns EFLAGS & (ZF|PF|CF); OF, SF, AF are cleared. */
static uint64_t asm_ucomisd(uint64_t a, uint64_t b)
{
	__m128d x = pd(a, 0), y = pd(b, 0);
	uint64_t f;
	__asm__ volatile("lea -128(%%rsp), %%rsp\n\tucomisd %2, %1\n\tpushfq\n\tpopq %0\n\tlea 128(%%rsp), %%rsp"
			 : "=r"(f) : "x"(x), "x"(y) : "cc", "memory");
	return f & 0x8d5; /* OF SF ZF AF PF CF */
}
static int64_t asm_cvtsd2si(uint64_t src)
{
	__m128d s = pd(src, 0);
	int64_t r;
	__asm__ volatile("cvtsd2si %1, %0" : "=r"(r) : "x"(s));
	return r;
}
static int64_t asm_cvttsd2si(uint64_t src)
{
	__m128d s = pd(src, 0);
	int64_t r;
	__asm__ volatile("cvttsd2si %1, %0" : "=r"(r) : "x"(s));
	return r;
}
static uint32_t asm_addss(uint32_t dst, uint32_t src)
{
	__m128 d = ps4(dst, 0, 0, 0), s = ps4(src, 0, 0, 0);
	__asm__ volatile("addss %1, %0" : "+x"(d) : "x"(s));
	return fbits(_mm_cvtss_f32(d));
}

static int check_sse_min_max_nan(struct ctx *c)
{
	const uint64_t qnan1 = 0x7ff8000000000001ull, snan5 = 0x7ff0000000000005ull;
	__m128d r;

	/* minsd: dst = dst < src ? dst : src. So a NaN in either operand and
	 * equal operands (+0/-0) give the second (source) operand, unchanged. */
	EXPECT_U64("min(1,2)", asm_minsd(ONE, TWO), ONE);
	EXPECT_U64("min(2,1)", asm_minsd(TWO, ONE), ONE);
	EXPECT_U64("min(NaN,1)", asm_minsd(qnan1, ONE), ONE);
	EXPECT_U64("min(1,NaN)", asm_minsd(ONE, qnan1), qnan1);
	EXPECT_U64("min(1,SNaN) passes SNaN", asm_minsd(ONE, snan5), snan5);
	EXPECT_U64("min(+0,-0)", asm_minsd(PZERO, NZERO), NZERO);
	EXPECT_U64("min(-0,+0)", asm_minsd(NZERO, PZERO), PZERO);
	EXPECT_U64("max(1,2)", asm_maxsd(ONE, TWO), TWO);
	EXPECT_U64("max(NaN,1)", asm_maxsd(qnan1, ONE), ONE);
	EXPECT_U64("max(1,NaN)", asm_maxsd(ONE, qnan1), qnan1);
	EXPECT_U64("max(+0,-0)", asm_maxsd(PZERO, NZERO), NZERO);
	EXPECT_U64("max(-0,+0)", asm_maxsd(NZERO, PZERO), PZERO);
	/* minpd/maxpd per lane, through the intrinsics (same operand order) */
	r = _mm_min_pd(pd(qnan1, 0xc000000000000000ull), pd(ONE, 0xbff0000000000000ull));
	EXPECT_U64("minpd lane0 NaN,1", lo64(r), ONE);
	EXPECT_U64("minpd lane1 -2,-1", hi64(r), 0xc000000000000000ull);
	r = _mm_max_pd(pd(ONE, PINF), pd(qnan1, 0x7fefffffffffffffull));
	EXPECT_U64("maxpd lane0 1,NaN", lo64(r), qnan1);
	EXPECT_U64("maxpd lane1 inf,max", hi64(r), PINF);

	/* Arithmetic NaN rules: an SNaN is quieted (bit 51 set); with one NaN
	 * operand the result is that NaN; invalid operations give the default NaN. */
	EXPECT_U64("1 + SNaN", asm_addsd(ONE, snan5), 0x7ff8000000000005ull);
	EXPECT_U64("SNaN + 1", asm_addsd(snan5, ONE), 0x7ff8000000000005ull);
	EXPECT_U64("QNaN + 1", asm_addsd(0xfff8000000000abcull, ONE), 0xfff8000000000abcull);
	EXPECT_U64("1 * QNaN", asm_mulsd(ONE, 0x7ff80000deadbeefull), 0x7ff80000deadbeefull);
	/* Both NaN: the SDM says the first (destination) operand wins. The
	 * cases keep the destination's payload the larger one, so x87's rule
	 * (larger significand) would give the same answer: both QEMU 7.2 (which
	 * uses the x87 rule for SSE too) and hardware agree on them. */
	EXPECT_U64("QNaN(9) + QNaN(2)", asm_addsd(0x7ff8000000000009ull, 0x7ff8000000000002ull), 0x7ff8000000000009ull);
	EXPECT_U64("QNaN(9) + SNaN(2)", asm_addsd(0x7ff8000000000009ull, 0x7ff0000000000002ull), 0x7ff8000000000009ull);
	EXPECT_U64("inf - inf", asm_addsd(PINF, 0xfff0000000000000ull), QNAN_DEFAULT);
	EXPECT_U64("0 * inf", asm_mulsd(PZERO, PINF), QNAN_DEFAULT);
	EXPECT_U64("addss 1 + SNaN", asm_addss(0x3f800000, 0x7f800001), 0x7fc00001);
	EXPECT_U64("addss inf - inf", asm_addss(0x7f800000, 0xff800000), 0xffc00000);
	/* comparisons: ucomisd with a NaN is unordered (ZF=PF=CF=1) */
	EXPECT_U64("ucomisd NaN,1: unordered", asm_ucomisd(qnan1, ONE), 0x45);
	EXPECT_U64("ucomisd 1,2: below", asm_ucomisd(ONE, TWO), 0x01);
	EXPECT_U64("ucomisd 2,1: above", asm_ucomisd(TWO, ONE), 0x00);
	EXPECT_U64("ucomisd -0,+0: equal", asm_ucomisd(NZERO, PZERO), 0x40);
	{
		__m128d m = _mm_cmpunord_pd(pd(qnan1, ONE), pd(ONE, ONE));
		EXPECT_U64("cmpunordpd lane0", lo64(m), 0xffffffffffffffffull);
		EXPECT_U64("cmpunordpd lane1", hi64(m), 0);
		m = _mm_cmple_pd(pd(ONE, TWO), pd(ONE, ONE));
		EXPECT_U64("cmplepd lane0", lo64(m), 0xffffffffffffffffull);
		EXPECT_U64("cmplepd lane1", hi64(m), 0);
	}
	return 0;
}

static int check_sse_convert(struct ctx *c)
{
	__m128i i;

	/* cvttsd2si: truncation; out of range or NaN -> "integer indefinite" */
	EXPECT_U64("cvttsd2si 1e19", _mm_cvttsd_si64(pd(dbits(1e19), 0)), 0x8000000000000000ull);
	EXPECT_U64("cvttsd2si -1e19", _mm_cvttsd_si64(pd(dbits(-1e19), 0)), 0x8000000000000000ull);
	EXPECT_U64("cvttsd2si NaN", _mm_cvttsd_si64(pd(0x7ff8000000000000ull, 0)), 0x8000000000000000ull);
	EXPECT_U64("cvttsd2si 2^63", _mm_cvttsd_si64(pd(0x43e0000000000000ull, 0)), 0x8000000000000000ull);
	EXPECT_U64("cvttsd2si -2^63", _mm_cvttsd_si64(pd(0xc3e0000000000000ull, 0)), 0x8000000000000000ull);
	EXPECT_U64("cvttsd2si 2^63-1024", _mm_cvttsd_si64(pd(0x43dfffffffffffffull, 0)), 0x7ffffffffffffc00ull);
	EXPECT_I64("cvttsd2si -2.9", _mm_cvttsd_si64(pd(dbits(-2.9), 0)), -2);
	EXPECT_I64("cvttsd2si 2.9", _mm_cvttsd_si64(pd(dbits(2.9), 0)), 2);
	EXPECT_U64("cvttsd2si32 3e9", (uint32_t)_mm_cvttsd_si32(pd(dbits(3e9), 0)), 0x80000000u);
	EXPECT_U64("cvttsd2si32 2147483647.9", (uint32_t)_mm_cvttsd_si32(pd(dbits(2147483647.9), 0)), 0x7fffffffu);
	EXPECT_U64("cvttsd2si32 -2147483648.9", (uint32_t)_mm_cvttsd_si32(pd(dbits(-2147483648.9), 0)), 0x80000000u);
	i = _mm_cvttps_epi32(ps4(0x501502f9 /* 1e10f */, 0xbfc00000 /* -1.5 */, 0x7fc00000, 0x40200000 /* 2.5 */));
	EXPECT_DWORDS("cvttps2dq", i, 0x80000000u, 0xffffffffu, 0x80000000u, 2);
	/* cvtpd2dq / cvtps2dq round to nearest even (default MXCSR) */
	i = _mm_cvtpd_epi32(pd(dbits(2.5), dbits(-3.5)));
	EXPECT_DWORDS("cvtpd2dq {2.5,-3.5}", i, 2, 0xfffffffcu, 0, 0);
	i = _mm_cvtps_epi32(ps4(0x3f000000 /* .5 */, 0x3fc00000 /* 1.5 */, 0xc0200000 /* -2.5 */, 0x4f000000 /* 2^31 */));
	EXPECT_DWORDS("cvtps2dq", i, 0, 2, 0xfffffffeu, 0x80000000u);
	/* int -> double */
	EXPECT_U64("cvtsi2sd 2^53+1 (tie to even)", dbits(_mm_cvtsd_f64(_mm_cvtsi64_sd(_mm_setzero_pd(), V64(9007199254740993ll)))),
		   0x4340000000000000ull);
	EXPECT_U64("cvtsi2sd 2^53+3", dbits(_mm_cvtsd_f64(_mm_cvtsi64_sd(_mm_setzero_pd(), V64(9007199254740995ll)))),
		   0x4340000000000002ull);
	EXPECT_U64("cvtsi2sd INT64_MAX", dbits(_mm_cvtsd_f64(_mm_cvtsi64_sd(_mm_setzero_pd(), V64(INT64_MAX)))),
		   0x43e0000000000000ull);
	EXPECT_U64("cvtsi2sd -1", dbits(_mm_cvtsd_f64(_mm_cvtsi64_sd(_mm_setzero_pd(), V64(-1)))), 0xbff0000000000000ull);
	{
		volatile int32_t v[4] = { -7, 2147483647, 0, 0 };
		__m128d d = _mm_cvtepi32_pd(_mm_loadu_si128((const __m128i *)v));
		EXPECT_U64("cvtdq2pd lane0", lo64(d), 0xc01c000000000000ull);
		EXPECT_U64("cvtdq2pd lane1", hi64(d), 0x41dfffffffc00000ull);
	}
	/* double <-> float */
	EXPECT_U64("cvtsd2ss 0.1", fbits(_mm_cvtss_f32(_mm_cvtsd_ss(_mm_setzero_ps(), pd(0x3fb999999999999aull, 0)))), 0x3dcccccd);
	EXPECT_U64("cvtsd2ss 1e40 -> inf", fbits(_mm_cvtss_f32(_mm_cvtsd_ss(_mm_setzero_ps(), pd(dbits(1e40), 0)))), 0x7f800000);
	EXPECT_U64("cvtsd2ss 1e-50 -> 0", fbits(_mm_cvtss_f32(_mm_cvtsd_ss(_mm_setzero_ps(), pd(dbits(1e-50), 0)))), 0);
	EXPECT_U64("cvtss2sd 0.1f", lo64(_mm_cvtss_sd(_mm_setzero_pd(), ps4(0x3dcccccd, 0, 0, 0))), 0x3fb99999a0000000ull);
	EXPECT_U64("cvtss2sd SNaN quiets", lo64(_mm_cvtss_sd(_mm_setzero_pd(), ps4(0x7f800001, 0, 0, 0))), 0x7ff8000020000000ull);
	return 0;
}

/* ------------------------------------------------------- integer SSE2 */

static int check_sse_int_shuffles(struct ctx *c)
{
	static const uint8_t seq[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };
	static const uint8_t seq2[16] = { 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31 };
	static const uint32_t d4[4] = { 0x11111111, 0x22222222, 0x33333333, 0x44444444 };
	__m128i a = vi(seq), b = vi(seq2), d = vi(d4);

	EXPECT_DWORDS("pshufd 0x1b", _mm_shuffle_epi32(d, 0x1b), 0x44444444, 0x33333333, 0x22222222, 0x11111111);
	EXPECT_DWORDS("pshufd 0x00", _mm_shuffle_epi32(d, 0x00), 0x11111111, 0x11111111, 0x11111111, 0x11111111);
	EXPECT_DWORDS("pshufd 0x9c", _mm_shuffle_epi32(d, 0x9c), 0x11111111, 0x44444444, 0x22222222, 0x33333333);
	EXPECT_WORDS("pshuflw 0x1b", _mm_shufflelo_epi16(a, 0x1b), 0x0706, 0x0504, 0x0302, 0x0100, 0x0908, 0x0b0a, 0x0d0c, 0x0f0e);
	EXPECT_WORDS("pshufhw 0x1b", _mm_shufflehi_epi16(a, 0x1b), 0x0100, 0x0302, 0x0504, 0x0706, 0x0f0e, 0x0d0c, 0x0b0a, 0x0908);
	EXPECT_BYTES("punpcklbw", _mm_unpacklo_epi8(a, b), 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
	EXPECT_BYTES("punpckhbw", _mm_unpackhi_epi8(a, b), 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
	EXPECT_BYTES("punpcklwd", _mm_unpacklo_epi16(a, b), 0, 1, 16, 17, 2, 3, 18, 19, 4, 5, 20, 21, 6, 7, 22, 23);
	EXPECT_BYTES("punpckhdq", _mm_unpackhi_epi32(a, b), 8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
	EXPECT_BYTES("punpcklqdq", _mm_unpacklo_epi64(a, b), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
	EXPECT_BYTES("punpckhqdq", _mm_unpackhi_epi64(a, b), 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
	EXPECT_BYTES("pslldq 3", _mm_slli_si128(a, 3), 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
	EXPECT_BYTES("psrldq 5", _mm_srli_si128(a, 5), 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0, 0);
	EXPECT_BYTES("psrldq 16", _mm_srli_si128(a, 16), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
	{
		__m128 s = _mm_shuffle_ps(ps4(1, 2, 3, 4), ps4(5, 6, 7, 8), _MM_SHUFFLE(0, 1, 2, 3));
		EXPECT_PS("shufps", s, 4, 3, 6, 5);
		__m128d t = _mm_shuffle_pd(pd(1, 2), pd(3, 4), 1);
		EXPECT_U64("shufpd lane0", lo64(t), 2);
		EXPECT_U64("shufpd lane1", hi64(t), 3);
		EXPECT_PS("unpcklps", _mm_unpacklo_ps(ps4(1, 2, 3, 4), ps4(5, 6, 7, 8)), 1, 5, 2, 6);
		EXPECT_PS("movhlps", _mm_movehl_ps(ps4(1, 2, 3, 4), ps4(5, 6, 7, 8)), 7, 8, 3, 4);
	}
	EXPECT_QWORDS("movq zeroes the upper half", _mm_move_epi64(vi(seq)), 0x0706050403020100ull, 0);
	EXPECT_I64("pextrw 5", _mm_extract_epi16(a, 5), 0x0b0a);
	EXPECT_WORDS("pinsrw 2", _mm_insert_epi16(a, 0xbeef, 2), 0x0100, 0x0302, 0xbeef, 0x0706, 0x0908, 0x0b0a, 0x0d0c, 0x0f0e);
	return 0;
}

static int check_sse_int_arith(struct ctx *c)
{
	static const int16_t w1[8] = { -5, 0, 255, 256, 300, 127, -32768, 32767 };
	static const int16_t w2[8] = { 1, -1, 128, -129, 1000, -1000, 77, 0 };
	static const int32_t dw[4] = { 70000, -70000, 32767, -32769 };
	static const uint8_t ub1[16] = { 250, 10, 0, 255, 128, 1, 2, 3, 200, 100, 0x80, 0x7f, 0, 0, 0xff, 0x01 };
	static const uint8_t ub2[16] = { 10, 20, 1, 1, 128, 1, 3, 2, 100, 200, 0x7f, 0x80, 0, 1, 0x01, 0xff };
	static const char s1[16] = "abcdefghijklmnop", s2[16] = "abcXefgXijklmnoX";
	__m128i a = vi(w1), b = vi(w2), u1 = vi(ub1), u2 = vi(ub2);

	/* packs: signed words -> unsigned/signed bytes with saturation */
	EXPECT_BYTES("packuswb", _mm_packus_epi16(a, b), 0, 0, 255, 255, 255, 127, 0, 255, 1, 0, 128, 0, 255, 0, 77, 0);
	EXPECT_BYTES("packsswb", _mm_packs_epi16(a, b), 0xfb, 0, 127, 127, 127, 127, 0x80, 127, 1, 0xff, 127, 0x80, 127,
		     0x80, 77, 0);
	EXPECT_WORDS("packssdw", _mm_packs_epi32(vi(dw), vi(dw)), 32767, 0x8000, 32767, 0x8000, 32767, 0x8000, 32767, 0x8000);
	/* compares and masks */
	EXPECT_I64("pcmpeqb+pmovmskb", _mm_movemask_epi8(_mm_cmpeq_epi8(vi(s1), vi(s2))), 0x7f77);
	EXPECT_I64("pmovmskb", _mm_movemask_epi8(u1), 0x4519);
	EXPECT_BYTES("pcmpgtb (signed)", _mm_cmpgt_epi8(u1, u2), 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0xff, 0, 0xff, 0, 0, 0, 0xff);
	EXPECT_I64("movmskpd", _mm_movemask_pd(pd(NZERO, ONE)), 1);
	EXPECT_I64("movmskps", _mm_movemask_ps(ps4(0x80000000, 1, 0xffffffff, 0x80000001)), 0xd);
	/* saturating and plain adds */
	EXPECT_BYTES("paddusb", _mm_adds_epu8(u1, u2), 255, 30, 1, 255, 255, 2, 5, 5, 255, 255, 255, 255, 0, 1, 255, 255);
	EXPECT_BYTES("psubusb", _mm_subs_epu8(u1, u2), 240, 0, 0, 254, 0, 0, 0, 1, 100, 0, 1, 0, 0, 0, 254, 0);
	EXPECT_BYTES("paddb (wraps)", _mm_add_epi8(u1, u2), 4, 30, 1, 0, 0, 2, 5, 5, 44, 44, 0xff, 0xff, 0, 1, 0, 0);
	EXPECT_WORDS("paddsw", _mm_adds_epi16(a, b), (uint16_t)-4, (uint16_t)-1, 383, 127, 1300, (uint16_t)-873, (uint16_t)-32691,
		     32767);
	EXPECT_WORDS("psubsw", _mm_subs_epi16(a, b), (uint16_t)-6, 1, 127, 385, (uint16_t)-700, 1127, 0x8000, 32767);
	/* multiplies */
	EXPECT_WORDS("pmullw", _mm_mullo_epi16(a, b), (uint16_t)-5, 0, 0x7f80, 0x7f00, 0x93e0, 0x0fe8, 0x8000, 0);
	EXPECT_WORDS("pmulhw", _mm_mulhi_epi16(a, b), 0xffff, 0, 0, 0xffff, 4, 0xfffe, 0xffd9, 0);
	EXPECT_WORDS("pmulhuw", _mm_mulhi_epu16(a, b), 0, 0, 0, 0x00ff, 4, 0x7d, 0x26, 0);
	EXPECT_DWORDS("pmaddwd", _mm_madd_epi16(a, b), (uint32_t)-5, 32640 - 33024, 300000 - 127000, (uint32_t)(-32768 * 77));
	EXPECT_QWORDS("pmuludq", _mm_mul_epu32(vi(dw), vi(dw)), 4900000000ull, 0x3fff0001ull);
	/* min/max/avg/sad */
	EXPECT_BYTES("pminub", _mm_min_epu8(u1, u2), 10, 10, 0, 1, 128, 1, 2, 2, 100, 100, 0x7f, 0x7f, 0, 0, 1, 1);
	EXPECT_WORDS("pmaxsw", _mm_max_epi16(a, b), 1, 0, 255, 256, 1000, 127, 77, 32767);
	EXPECT_BYTES("pavgb", _mm_avg_epu8(u1, u2), 130, 15, 1, 128, 128, 1, 3, 3, 150, 150, 128, 128, 0, 1, 128, 128);
	EXPECT_QWORDS("psadbw", _mm_sad_epu8(u1, u2), 240 + 10 + 1 + 254 + 0 + 0 + 1 + 1, 100 + 100 + 1 + 1 + 0 + 1 + 254 + 254);
	/* shifts by immediate and by register count; counts > 15 */
	EXPECT_WORDS("psllw 4", _mm_slli_epi16(a, 4), 0xffb0, 0, 0x0ff0, 0x1000, 0x12c0, 0x07f0, 0, 0xfff0);
	EXPECT_WORDS("psraw 15", _mm_srai_epi16(a, 15), 0xffff, 0, 0, 0, 0, 0, 0xffff, 0);
	EXPECT_WORDS("psraw 40 (>15: sign fill)", _mm_sra_epi16(a, _mm_cvtsi32_si128(40)), 0xffff, 0, 0, 0, 0, 0, 0xffff, 0);
	EXPECT_WORDS("psrlw 16 (zero)", _mm_srl_epi16(a, _mm_cvtsi32_si128(16)), 0, 0, 0, 0, 0, 0, 0, 0);
	EXPECT_WORDS("psrlw 3", _mm_srl_epi16(a, _mm_cvtsi32_si128(3)), 0x1fff, 0, 31, 32, 37, 15, 0x1000, 0x0fff);
	EXPECT_QWORDS("psllq 63", _mm_slli_epi64(_mm_set_epi64x(3, 1), 63), 0x8000000000000000ull, 0x8000000000000000ull);
	EXPECT_QWORDS("psrlq 64 (zero)", _mm_srli_epi64(_mm_set_epi64x(-1, -1), 64), 0, 0);
	EXPECT_DWORDS("psrad 31", _mm_srai_epi32(vi(dw), 31), 0, 0xffffffff, 0, 0xffffffff);
	/* logic */
	EXPECT_BYTES("pandn", _mm_andnot_si128(u1, u2), 0, 20, 1, 0, 0, 0, 1, 0, 36, 136, 0x7f, 0x80, 0, 1, 0, 0xfe);
	EXPECT_BYTES("pxor", _mm_xor_si128(u1, u2), 240, 30, 1, 254, 0, 0, 1, 1, 172, 172, 0xff, 0xff, 0, 1, 0xfe, 0xfe);
	return 0;
}

/* ----------------------------------------------------------------- MXCSR */

#define MX_IE 0x01
#define MX_ZE 0x04
#define MX_OE 0x08
#define MX_UE 0x10
#define MX_PE 0x20
#define MX_FLAGS 0x3f
#define MX_DEFAULT 0x1f80
#define MX_FTZ 0x8000

static int check_mxcsr_rounding(struct ctx *c)
{
	static const struct {
		unsigned mode;
		const char *name;
		int64_t want[6]; /* 2.5 -2.5 1.5 -1.5 0.5 -0.5 */
		uint64_t third; /* 1/3 */
		uint64_t one_plus; /* 1 + 2^-60 */
		uint64_t neg_third; /* -1/3 */
	} t[] = {
		{ _MM_ROUND_NEAREST, "nearest", { 2, -2, 2, -2, 0, 0 }, 0x3fd5555555555555ull, ONE, 0xbfd5555555555555ull },
		{ _MM_ROUND_DOWN, "down", { 2, -3, 1, -2, 0, -1 }, 0x3fd5555555555555ull, ONE, 0xbfd5555555555556ull },
		{ _MM_ROUND_UP, "up", { 3, -2, 2, -1, 1, 0 }, 0x3fd5555555555556ull, 0x3ff0000000000001ull, 0xbfd5555555555555ull },
		{ _MM_ROUND_TOWARD_ZERO, "toward-zero", { 2, -2, 1, -1, 0, 0 }, 0x3fd5555555555555ull, ONE, 0xbfd5555555555555ull },
	};
	static const double in[6] = { 2.5, -2.5, 1.5, -1.5, 0.5, -0.5 };
	unsigned i, j;
	char what[96];

	EXPECT_U64("MXCSR control bits at start", _mm_getcsr() & ~MX_FLAGS, MX_DEFAULT);
	for (i = 0; i < 4; i++) {
		_MM_SET_ROUNDING_MODE(t[i].mode);
		if (_MM_GET_ROUNDING_MODE() != t[i].mode) {
			_MM_SET_ROUNDING_MODE(_MM_ROUND_NEAREST);
			return fail(c, "rounding mode %s did not stick (MXCSR 0x%x)", t[i].name, _mm_getcsr());
		}
		for (j = 0; j < 6; j++) {
			int64_t got = asm_cvtsd2si(dbits(in[j]));
			int64_t gott = asm_cvttsd2si(dbits(in[j]));
			if (got != t[i].want[j] || gott != (int64_t)in[j]) {
				_MM_SET_ROUNDING_MODE(_MM_ROUND_NEAREST);
				return fail(c, "%s: cvtsd2si(%g) = %" PRId64 " (want %" PRId64 "), cvttsd2si = %" PRId64,
					    t[i].name, in[j], got, t[i].want[j], gott);
			}
		}
		{
			uint64_t third = asm_divsd(ONE, 0x4008000000000000ull);
			uint64_t nthird = asm_divsd(0xbff0000000000000ull, 0x4008000000000000ull);
			uint64_t onep = asm_addsd(ONE, 0x3c30000000000000ull);
			_MM_SET_ROUNDING_MODE(_MM_ROUND_NEAREST);
			snprintf(what, sizeof(what), "%s: 1/3", t[i].name);
			EXPECT_U64(what, third, t[i].third);
			snprintf(what, sizeof(what), "%s: -1/3", t[i].name);
			EXPECT_U64(what, nthird, t[i].neg_third);
			snprintf(what, sizeof(what), "%s: 1+2^-60", t[i].name);
			EXPECT_U64(what, onep, t[i].one_plus);
		}
	}
	EXPECT_U64("MXCSR restored", _mm_getcsr() & ~MX_FLAGS, MX_DEFAULT);
	return 0;
}

static int check_mxcsr_flags_ftz(struct ctx *c)
{
	uint64_t r;

	_mm_setcsr(MX_DEFAULT);
	r = asm_addsd(ONE, TWO);
	EXPECT_U64("1+2 exact: no flags", _mm_getcsr(), MX_DEFAULT);
	EXPECT_U64("1+2", r, 0x4008000000000000ull);
	r = asm_divsd(ONE, PZERO);
	EXPECT_U64("1/0", r, PINF);
	EXPECT_U64("1/0 sets ZE", _mm_getcsr(), MX_DEFAULT | MX_ZE);
	_mm_setcsr(MX_DEFAULT);
	r = asm_divsd(ONE, 0x4008000000000000ull);
	EXPECT_U64("1/3 sets PE", _mm_getcsr(), MX_DEFAULT | MX_PE);
	_mm_setcsr(MX_DEFAULT);
	r = asm_sqrtsd(0xbff0000000000000ull);
	EXPECT_U64("sqrt(-1)", r, QNAN_DEFAULT);
	EXPECT_U64("sqrt(-1) sets IE", _mm_getcsr(), MX_DEFAULT | MX_IE);
	_mm_setcsr(MX_DEFAULT);
	r = asm_mulsd(0x7fefffffffffffffull, 0x4024000000000000ull);
	EXPECT_U64("DBL_MAX*10 sets OE|PE", _mm_getcsr(), MX_DEFAULT | MX_OE | MX_PE);
	EXPECT_U64("DBL_MAX*10 = inf", r, PINF);
	_mm_setcsr(MX_DEFAULT);
	r = asm_divsd(0x0010000000000000ull, 0x4008000000000000ull);
	EXPECT_U64("DBL_MIN/3 sets UE|PE", _mm_getcsr(), MX_DEFAULT | MX_UE | MX_PE);
	EXPECT_U64("DBL_MIN/3 denormal", r, 0x0005555555555555ull);
	/* flush to zero */
	_mm_setcsr(MX_DEFAULT | MX_FTZ);
	r = asm_mulsd(0x0010000000000000ull, 0x3fe0000000000000ull);
	_mm_setcsr(MX_DEFAULT);
	EXPECT_U64("FTZ: DBL_MIN*0.5 -> +0", r, PZERO);
	r = asm_mulsd(0x0010000000000000ull, 0x3fe0000000000000ull);
	EXPECT_U64("no FTZ: DBL_MIN*0.5 denormal", r, 0x0008000000000000ull);
	_mm_setcsr(MX_DEFAULT);
	return 0;
}

/* Both operands NaN, the destination's payload the smaller one: the SDM's
 * SSE rule (first operand wins) and x87's (larger significand) disagree.
 * QEMU 7.2 applies the x87 rule to SSE, hence hw-only. */
static int check_hw_sse_nan_first_operand(struct ctx *c)
{
	EXPECT_U64("QNaN(1) + QNaN(2)", asm_addsd(0x7ff8000000000001ull, 0x7ff8000000000002ull), 0x7ff8000000000001ull);
	EXPECT_U64("SNaN(1) + QNaN(2)", asm_addsd(0x7ff0000000000001ull, 0x7ff8000000000002ull), 0x7ff8000000000001ull);
	EXPECT_U64("addss QNaN(1) + QNaN(2)", asm_addss(0x7fc00001, 0x7fc00002), 0x7fc00001);
	return 0;
}

/* An unmasked SSE exception raises #XM: SIGFPE with the matching si_code.
 * QEMU 7.2 does not raise SSE exceptions, hence hw-only. */
static int check_mxcsr_unmasked_sigfpe(struct ctx *c)
{
	volatile uint64_t r = 0;

	if (TRAP_BEGIN(SIGFPE) == 0) {
		_mm_setcsr(MX_DEFAULT & ~0x200u); /* unmask divide-by-zero (ZM, bit 9) */
		r = asm_divsd(ONE, PZERO);
		_mm_setcsr(MX_DEFAULT);
		trap_end();
		return fail(c, "1/0 with ZM clear: no SIGFPE (result 0x%" PRIx64 ")", (uint64_t)r);
	}
	trap_end();
	_mm_setcsr(MX_DEFAULT);
	EXPECT_I64("si_code", trap_info.si_code, FPE_FLTDIV);
	return 0;
}

/* --------------------------------------------------------- printf/strtod */

static int check_printf_strtod(struct ctx *c)
{
	static const struct {
		const char *fmt;
		uint64_t bits;
		const char *want;
	} pf[] = {
		{ "%.17g", 0x3fb999999999999aull, "0.10000000000000001" },
		{ "%.17g", 0x3fd5555555555555ull, "0.33333333333333331" },
		{ "%.17g", 0x44b52d02c7e14af6ull, "9.9999999999999992e+22" },
		{ "%.17g", 0x0000000000000001ull, "4.9406564584124654e-324" },
		{ "%.17g", 0x7fefffffffffffffull, "1.7976931348623157e+308" },
		{ "%g", NZERO, "-0" },
		{ "%g", PINF, "inf" },
		{ "%g", 0xfff8000000000000ull, "-nan" },
		{ "%.3f", 0x4000010624dd2f1bull, "2.001" }, /* 2.000500000000000166... */
		{ "%.3f", 0x3ff0020c49ba5e35ull, "1.000" }, /* 1.000499999999999944... */
		{ "%.2f", 0x3fc0000000000000ull, "0.12" },  /* exact tie: to even */
		{ "%.2f", 0x3fd8000000000000ull, "0.38" },
		{ "%.20f", 0x3fb999999999999aull, "0.10000000000000000555" },
		{ "%.0f", 0x4004000000000000ull, "2" },
		{ "%.0f", 0x400c000000000000ull, "4" },
		{ "%e", 0x40c81cd6c8b43958ull, "1.234568e+04" },
		{ "%g", 0x3ee4f8b588e368f1ull, "1e-05" },
		{ "%a", ONE, "0x1p+0" },
		{ "%a", 0x3fb999999999999aull, "0x1.999999999999ap-4" },
		{ "%f", 0x430c6bf526340000ull, "1000000000000000.000000" },
		{ "%.15g", 0x400921fb54442d18ull, "3.14159265358979" },
	};
	static const struct {
		const char *in;
		uint64_t bits;
	} sd[] = {
		{ "0.1", 0x3fb999999999999aull },
		{ "2.2250738585072011e-308", 0x000fffffffffffffull },
		{ "4.9e-324", 0x0000000000000001ull },
		{ "9007199254740993", 0x4340000000000000ull },
		{ "1.7976931348623157e308", 0x7fefffffffffffffull },
		{ "0x1.8p1", 0x4008000000000000ull },
		{ "-0", NZERO },
		{ "3.141592653589793238462643383279", 0x400921fb54442d18ull },
		{ "1e23", 0x44b52d02c7e14af6ull },
		{ "123456789012345678901234567890", 0x45f8ee90ff6c373eull },
	};
	char buf[128];
	size_t i;
	uint64_t x = 0x9e3779b97f4a7c15ull;
	double d;

	for (i = 0; i < sizeof(pf) / sizeof(pf[0]); i++) {
		snprintf(buf, sizeof(buf), pf[i].fmt, bitsd(pf[i].bits));
		if (strcmp(buf, pf[i].want) != 0)
			return fail(c, "printf(\"%s\", 0x%016" PRIx64 ") = \"%s\", want \"%s\"", pf[i].fmt, pf[i].bits, buf,
				    pf[i].want);
	}
	for (i = 0; i < sizeof(sd) / sizeof(sd[0]); i++) {
		d = strtod(sd[i].in, NULL);
		if (dbits(d) != sd[i].bits)
			return fail(c, "strtod(\"%s\") = 0x%016" PRIx64 ", want 0x%016" PRIx64, sd[i].in, dbits(d), sd[i].bits);
	}
	errno = 0;
	d = strtod("1e400", NULL);
	EXPECT_U64("strtod 1e400 = inf", dbits(d), PINF);
	EXPECT_I64("strtod 1e400 errno", errno, ERANGE);
	EXPECT_U64("strtof 3.4028235e38", fbits(strtof("3.4028235e38", NULL)), 0x7f7fffff);
	EXPECT_U64("strtof 0.1", fbits(strtof("0.1", NULL)), 0x3dcccccd);
	EXPECT_U64("strtof 1e-45", fbits(strtof("1e-45", NULL)), 0x00000001);
	snprintf(buf, sizeof(buf), "%.9g", (double)bitsf(0x3dcccccd));
	EXPECT_STR("printf %.9g 0.1f", buf, "0.100000001");
	/* Round trips of pseudo-random finite doubles and floats. */
	for (i = 0; i < 300; i++) {
		uint64_t bits;
		uint32_t fb;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		bits = x;
		if (((bits >> 52) & 0x7ff) == 0x7ff)
			bits &= ~(1ull << 62); /* keep it finite */
		snprintf(buf, sizeof(buf), "%.17g", bitsd(bits));
		d = strtod(buf, NULL);
		if (dbits(d) != bits)
			return fail(c, "round trip %%.17g 0x%016" PRIx64 " -> \"%s\" -> 0x%016" PRIx64, bits, buf, dbits(d));
		snprintf(buf, sizeof(buf), "%a", bitsd(bits));
		d = strtod(buf, NULL);
		if (dbits(d) != bits)
			return fail(c, "round trip %%a 0x%016" PRIx64 " -> \"%s\" -> 0x%016" PRIx64, bits, buf, dbits(d));
		fb = (uint32_t)(x >> 32);
		if (((fb >> 23) & 0xff) == 0xff)
			fb &= ~(1u << 30);
		snprintf(buf, sizeof(buf), "%.9g", (double)bitsf(fb));
		if (fbits(strtof(buf, NULL)) != fb)
			return fail(c, "round trip %%.9g float 0x%08x -> \"%s\" -> 0x%08x", fb, buf, fbits(strtof(buf, NULL)));
	}
	return 0;
}

/* ------------------------------------------------------------- x87 */

struct x80 {
	uint64_t mant;
	uint16_t se;
};

static struct x80 x80_of(long double v)
{
	unsigned char b[16];
	struct x80 r;

	memset(b, 0, sizeof(b));
	memcpy(b, &v, 10);
	memcpy(&r.mant, b, 8);
	memcpy(&r.se, b + 8, 2);
	return r;
}

#define EXPECT_X80(what, v, m, e) do { \
	struct x80 x_ = x80_of(v); \
	if (x_.mant != (m) || x_.se != (e)) \
		return fail(c, "%s: got %04x:%016" PRIx64 ", want %04x:%016" PRIx64, (what), x_.se, x_.mant, \
			    (unsigned)(e), (uint64_t)(m)); \
} while (0)

static int check_x87_long_double(struct ctx *c)
{
	long double third = VLD(1.0L) / VLD(3.0L), big = VLD(1e18L);
	char buf[64];

	EXPECT_X80("1/3", third, 0xaaaaaaaaaaaaaaabull, 0x3ffd);
	EXPECT_X80("-1/3", -third, 0xaaaaaaaaaaaaaaabull, 0xbffd);
	EXPECT_X80("1/3 * 3", third * VLD(3.0L), 0x8000000000000000ull, 0x3fff);
	EXPECT_X80("sqrtl 2", sqrtl(VLD(2.0L)), 0xb504f333f9de6484ull, 0x3fff);
	EXPECT_X80("1e18+1-1e18 (64-bit mantissa)", big + VLD(1.0L) - big, 0x8000000000000000ull, 0x3fff);
	EXPECT_X80("fmodl 10.5,3 (fprem)", fmodl(VLD(10.5L), VLD(3.0L)), 0xc000000000000000ull, 0x3fff);
	EXPECT_X80("(long double)INT64_MAX", (long double)V64(INT64_MAX), 0xfffffffffffffffeull, 0x403d);
	EXPECT_I64("(int64)(long double)INT64_MAX (fistp)", (int64_t)(long double)V64(INT64_MAX), INT64_MAX);
	EXPECT_I64("(int64)-2.75L truncates", (int64_t)VLD(-2.75L), -2);
	EXPECT_U64("(double)(1/3L)", dbits((double)third), 0x3fd5555555555555ull);
	EXPECT_U64("(float)(1/3L)", fbits((float)third), 0x3eaaaaab);
	EXPECT_X80("strtold 0.1", strtold("0.1", NULL), 0xcccccccccccccccdull, 0x3ffb);
	EXPECT_X80("LDBL_MAX", VLD(LDBL_MAX), 0xffffffffffffffffull, 0x7ffe);
	EXPECT_X80("LDBL_MAX*2 = inf", VLD(LDBL_MAX) * VLD(2.0L), 0x8000000000000000ull, 0x7fff);
	EXPECT_TRUE("NaN < 1 is false (fucomi)", !(VLD(NAN) < VLD(1.0L)));
	EXPECT_TRUE("NaN != NaN", VLD(NAN) != VLD(NAN));
	EXPECT_TRUE("2 > 1", VLD(2.0L) > VLD(1.0L));
	EXPECT_TRUE("sinl(1) ~ 0.84147098480789650665", fabsl(sinl(VLD(1.0L)) - 0.84147098480789650665L) < 1e-18L);
	EXPECT_TRUE("expl(1) ~ e", fabsl(expl(VLD(1.0L)) - 2.71828182845904523536L) < 1e-18L);
	snprintf(buf, sizeof(buf), "%.20Lg", third);
	EXPECT_STR("printf %.20Lg 1/3L", buf, "0.33333333333333333334");
	snprintf(buf, sizeof(buf), "%.21Lg", VLD(1e18L) + VLD(1.0L));
	EXPECT_STR("printf 1e18L+1", buf, "1000000000000000001");
	return 0;
}

static const struct check checks[] = {
	{ "sse-arith-sqrt", check_sse_arith },
	{ "sse-min-max-nan", check_sse_min_max_nan },
	{ "sse-convert", check_sse_convert },
	{ "sse2-shuffle-unpack", check_sse_int_shuffles },
	{ "sse2-int-pack-cmp-arith", check_sse_int_arith },
	{ "mxcsr-rounding-modes", check_mxcsr_rounding },
	{ "mxcsr-flags-ftz", check_mxcsr_flags_ftz },
	{ "hw-sse-nan-first-operand", check_hw_sse_nan_first_operand, 1 },
	{ "hw-mxcsr-unmasked-sigfpe", check_mxcsr_unmasked_sigfpe, 1 },
	{ "printf-strtod", check_printf_strtod },
	{ "x87-long-double", check_x87_long_double },
};

VGTEST_MAIN("test-sse", checks)
