/*
 * test-mmio.c -- MMIO of every width and alignment, from a guest program, checked against what the device
 * holds. The device is PCI configuration space through ECAM (/dev/mem at 0xE0000000): side-effect-free to
 * read, byte-addressable, and partly absent (functions that do not exist read as all ones), so the same
 * bytes read one at a time are the reference for every wider, unaligned, page-crossing or SSE read.
 * These are the accesses that once froze vmguard's interpreter (an instruction needing two device reads).
 */
#include "vgtest.h"
#include <emmintrin.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>

#define ECAM_BASE 0xE0000000UL
#define ECAM_SPAN 0x10000UL /* bus 0, devices 0 and 1: 8 functions' pages each */
#define DEV1 0x8000UL        /* bus 0, device 1, function 0: the first virtio device */

static volatile uint8_t *ecam;

static int map_ecam(void) {
	int fd = open("/dev/mem", O_RDWR | O_SYNC);
	if (fd < 0)
		return -1;
	void *p = mmap(NULL, ECAM_SPAN, PROT_READ | PROT_WRITE, MAP_SHARED, fd, ECAM_BASE);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	ecam = p;
	return 0;
}

/* The reference: n bytes read one at a time, little-endian. */
static uint64_t bytewise(unsigned long off, int n) {
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = (v << 8) | ecam[off + i];
	return v;
}

#define NEED_ECAM() do { if (!ecam && map_ecam()) return fail(c, "cannot map ECAM through /dev/mem: %s", strerror(errno)); } while (0)

static int check_vendor_id_of_a_virtio_function(struct ctx *c) {
	NEED_ECAM();
	EXPECT_U64("vendor id", *(volatile uint16_t *)(ecam + DEV1), 0x1af4);
	return 0;
}

static int check_loads_across_the_end_of_a_page(struct ctx *c) {
	NEED_ECAM();
	/* Function 0's last bytes, then function 1's page, which is absent (all ones). */
	EXPECT_U64("8 bytes at 0xffd", *(volatile uint64_t *)(ecam + DEV1 + 0xffd), bytewise(DEV1 + 0xffd, 8));
	EXPECT_U64("4 bytes at 0xffe", *(volatile uint32_t *)(ecam + DEV1 + 0xffe), bytewise(DEV1 + 0xffe, 4));
	EXPECT_U64("2 bytes at 0xfff", *(volatile uint16_t *)(ecam + DEV1 + 0xfff), bytewise(DEV1 + 0xfff, 2));
	/* Device 0 (the host bridge) into device 0 function 1. */
	EXPECT_U64("8 bytes at 0xffc", *(volatile uint64_t *)(ecam + 0xffc), bytewise(0xffc, 8));
	return 0;
}

static int check_unaligned_loads_inside_a_page(struct ctx *c) {
	NEED_ECAM();
	for (unsigned long off = 1; off < 8; off++) {
		EXPECT_U64("8 bytes unaligned", *(volatile uint64_t *)(ecam + DEV1 + off), bytewise(DEV1 + off, 8));
		EXPECT_U64("4 bytes unaligned", *(volatile uint32_t *)(ecam + DEV1 + off), bytewise(DEV1 + off, 4));
	}
	return 0;
}

static int check_sixteen_byte_sse_loads(struct ctx *c) {
	NEED_ECAM();
	unsigned long offs[] = { DEV1, DEV1 + 0x8, DEV1 + 0xff8, DEV1 + 0xffd };
	for (unsigned i = 0; i < sizeof offs / sizeof offs[0]; i++) {
		__m128i v = _mm_loadu_si128((const __m128i *)(ecam + offs[i]));
		uint64_t lo = (uint64_t)_mm_cvtsi128_si64(v);
		uint64_t hi = (uint64_t)_mm_cvtsi128_si64(_mm_srli_si128(v, 8));
		EXPECT_U64("movdqu low", lo, bytewise(offs[i], 8));
		EXPECT_U64("movdqu high", hi, bytewise(offs[i] + 8, 8));
	}
	return 0;
}

static int check_memcpy_across_a_page(struct ctx *c) {
	NEED_ECAM();
	uint8_t copy[64];
	/* rep movsb, as a guest's own memcpy from a mapped BAR does it */
	void *dst = copy;
	const volatile void *src = ecam + DEV1 + 0xfe0;
	unsigned long n = sizeof copy;
	__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
	for (unsigned i = 0; i < sizeof copy; i++)
		EXPECT_U64("copied byte", copy[i], ecam[DEV1 + 0xfe0 + i]);
	return 0;
}

static int check_split_writes_reach_the_register_they_cover(struct ctx *c) {
	NEED_ECAM();
	/* A 2-byte store at 0x3b covers a reserved byte and the interrupt line register (0x3c, read/write). */
	uint8_t saved = ecam[DEV1 + 0x3c];
	*(volatile uint16_t *)(ecam + DEV1 + 0x3b) = 0x5a00;
	EXPECT_U64("interrupt line after an unaligned store", ecam[DEV1 + 0x3c], 0x5a);
	ecam[DEV1 + 0x3c] = saved;
	/* An 8-byte store across the end of function 0's page into the absent function 1: dropped there. */
	uint64_t before = bytewise(DEV1 + 0xffc, 8);
	*(volatile uint64_t *)(ecam + DEV1 + 0xffc) = 0;
	EXPECT_U64("read-only bytes unchanged by a page-crossing store", bytewise(DEV1 + 0xffc, 8), before);
	return 0;
}

static const struct check checks[] = {
	{ "vendor-id-of-a-virtio-function", check_vendor_id_of_a_virtio_function },
	{ "loads-across-the-end-of-a-page", check_loads_across_the_end_of_a_page },
	{ "unaligned-loads-inside-a-page", check_unaligned_loads_inside_a_page },
	{ "sixteen-byte-sse-loads", check_sixteen_byte_sse_loads },
	{ "memcpy-across-a-page", check_memcpy_across_a_page },
	{ "split-writes-reach-the-register-they-cover", check_split_writes_reach_the_register_they_cover },
};
VGTEST_MAIN("test-mmio", checks)
