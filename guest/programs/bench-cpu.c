/*
 * bench-cpu -- a small deterministic CPU-bound workload for benchmarks
 * (about 0.2 s natively; meant to run under slow engines too).
 *
 *   1. integer hashing: splitmix64 + a multiply/rotate mixer, FNV-1a over a buffer;
 *   2. a small sort: 20000 xorshift numbers through an in-place heapsort and
 *      an insertion-sorted quicksort, then a position-weighted sum;
 *   3. double math: a Mandelbrot grid (escape counts) and a Newton sqrt sum,
 *      using only + - * / (exactly rounded in IEEE 754, so deterministic).
 *
 * Prints "bench-cpu: <checksum>" (16 hex digits) and exits 0. If the checksum
 * differs from BENCH_EXPECTED (the value on a correct x86-64 CPU), it says so
 * and exits 1: a wrong answer is not a benchmark result. Change the workload
 * and you must update BENCH_EXPECTED.
 */
/* No fused multiply-add: the result must not depend on -march. */
#pragma GCC optimize("fp-contract=off")

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define BENCH_EXPECTED 0x2a373153249086d7ull

static uint64_t splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t bench_hash(void)
{
	static unsigned char buf[1 << 16];
	uint64_t s = 12345, h = 0, fnv = 0xcbf29ce484222325ull;
	size_t i;
	int round;

	for (i = 0; i < 6000000; i++) {
		uint64_t v = splitmix64(&s);
		h = rotl(h ^ v, 23) * 0x2127599bf4325c37ull + (v >> 7);
		h ^= h >> 47;
	}
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(splitmix64(&s) >> 56);
	for (round = 0; round < 100; round++)
		for (i = 0; i < sizeof(buf); i++) {
			fnv ^= buf[i] ^ (unsigned char)round;
			fnv *= 0x100000001b3ull;
		}
	return h ^ rotl(fnv, 17);
}

#define N 20000
static uint32_t a[N], b[N];

static void heapsort_u32(uint32_t *v, size_t n)
{
	size_t start = n / 2, end = n;

	for (;;) {
		size_t root, child;
		uint32_t t;

		if (start > 0) {
			start--;
		} else {
			if (--end == 0)
				return;
			t = v[end];
			v[end] = v[0];
			v[0] = t;
		}
		root = start;
		while ((child = 2 * root + 1) < end) {
			if (child + 1 < end && v[child] < v[child + 1])
				child++;
			if (v[root] >= v[child])
				break;
			t = v[root];
			v[root] = v[child];
			v[child] = t;
			root = child;
		}
	}
}

static void quicksort_u32(uint32_t *v, long lo, long hi)
{
	while (hi - lo > 16) {
		uint32_t p = v[lo + (hi - lo) / 2], t;
		long i = lo, j = hi;

		while (i <= j) {
			while (v[i] < p)
				i++;
			while (v[j] > p)
				j--;
			if (i <= j) {
				t = v[i];
				v[i] = v[j];
				v[j] = t;
				i++;
				j--;
			}
		}
		if (j - lo < hi - i) {
			quicksort_u32(v, lo, j);
			lo = i;
		} else {
			quicksort_u32(v, i, hi);
			hi = j;
		}
	}
	for (long i = lo + 1; i <= hi; i++) {
		uint32_t x = v[i];
		long j = i - 1;
		while (j >= lo && v[j] > x) {
			v[j + 1] = v[j];
			j--;
		}
		v[j + 1] = x;
	}
}

static uint64_t bench_sort(void)
{
	uint32_t x = 2463534242u;
	uint64_t sum = 0;
	size_t i;
	int rep;

	for (rep = 0; rep < 30; rep++) {
		for (i = 0; i < N; i++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			a[i] = b[i] = x % 1000003u;
		}
		heapsort_u32(a, N);
		quicksort_u32(b, 0, N - 1);
		for (i = 0; i < N; i++) {
			if (a[i] != b[i] || (i > 0 && a[i - 1] > a[i]))
				return 0; /* wrong order: poisons the checksum */
			sum += (uint64_t)a[i] * (i + 1);
		}
	}
	return sum;
}

static uint64_t bench_double(void)
{
	uint64_t iters = 0, bits;
	double acc = 0.0;
	int px, py, k;

	for (py = 0; py < 120; py++) {
		for (px = 0; px < 160; px++) {
			double cr = -2.2 + px * (3.2 / 160), ci = -1.2 + py * (2.4 / 120);
			double zr = 0, zi = 0;
			for (k = 0; k < 1000; k++) {
				double zr2 = zr * zr, zi2 = zi * zi;
				if (zr2 + zi2 > 4.0)
					break;
				zi = 2 * zr * zi + ci;
				zr = zr2 - zi2 + cr;
			}
			iters += (uint64_t)k;
		}
	}
	for (k = 1; k <= 250000; k++) {
		double x = (double)k, g = x / 2 + 1;
		int it;
		for (it = 0; it < 8; it++)
			g = 0.5 * (g + x / g);
		acc += g / (1.0 + k);
	}
	memcpy(&bits, &acc, sizeof(bits));
	return iters * 0x9e3779b97f4a7c15ull ^ bits;
}

int main(void)
{
	uint64_t h = bench_hash(), s = bench_sort(), d = bench_double();
	uint64_t sum = h ^ rotl(s, 21) ^ rotl(d, 42);

	printf("bench-cpu: %016" PRIx64 "\n", sum);
	if (sum != BENCH_EXPECTED) {
		printf("bench-cpu: WRONG RESULT, want %016" PRIx64 " (hash %016" PRIx64 " sort %016" PRIx64
		       " double %016" PRIx64 ")\n", (uint64_t)BENCH_EXPECTED, h, s, d);
		return 1;
	}
	return 0;
}
