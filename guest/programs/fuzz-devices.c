/*
 * fuzz-devices -- drive every PCI function (and the legacy ports) with random
 * accesses while the kernel's own drivers stay bound. Run as root in the guest
 * by /vmguard/scripts/fuzz-devices; the VMM must survive whatever this does
 * (the guest may not: a panic is an outcome, not a bug of this program).
 *
 *   fuzz-devices [--seed N] [--ops N] [--progress N] [--mix KIND=W,...]
 *                [--repair N] [--trace-from K] [--iommu 0|1] [--list-kinds]
 *
 * --iommu 1 fuzzes the virtio-iommu function too. By default it is left alone
 * (FUZZ-SKIP): it is the guest's own DMA protection, and resetting it under the
 * kernel leaves the kernel's next MAP spinning forever with interrupts off,
 * which stalls the guest, not the VMM. Its request parser is fuzzed on the host
 * (src/test/java/io/vmguard/iommu/RandomRequestStreamTest).
 *
 * --repair N (default 250; 0: never) puts every function's BARs and command
 * register back as the kernel set them up every N ops, so that the BARs stay
 * mapped where the ops go after some config writes moved them or turned
 * decoding off.
 *
 * Output (one line each, flushed before the next op, so a host reading the
 * serial log knows how far a run got):
 *   FUZZ-START seed=S ops=M mix=...
 *   FUZZ-DEVICE 0000:00:01.0 1af4:1044 class=0x00ff00 bar0=mem:0x8000 ...
 *   FUZZ-PROGRESS seed=S ops=K               every --progress ops
 *   FUZZ-OP K kind ...                       each op from --trace-from on
 *   FUZZ-DONE seed=S ops=K                   the run finished
 *   FUZZ-COUNTS kind=n ...                   ops done per kind, faults seen
 *
 * Everything is chosen by one xorshift64* generator seeded from --seed, over a
 * device list sorted by address, so a seed replays the same op sequence on the
 * same VM configuration (values read back never feed the generator; only what
 * the kernel does at the same time differs).
 *
 * Op kinds (--mix sets their weights; 0 turns one off):
 *   mmio     aligned 1/2/4/8-byte load or store somewhere in a memory BAR
 *            (offsets biased to the start of each 4 KiB page: where the
 *            registers are)
 *   unalign  misaligned 2/4/8-byte access inside one page, and accesses ending
 *            at the last bytes of a page
 *   cross    2/4/8-byte access straddling two adjacent pages of a BAR
 *   sse      16-byte movdqu load/store (and movdqa where aligned), any
 *            alignment, page-crossing included
 *   rep      rep movsb / rep stosb copies from and to a BAR, 1..300 bytes,
 *            crossing pages when they fall that way
 *   locked   lock xadd / lock cmpxchg / xchg / lock or on a BAR, 1/2/4/8
 *            bytes, sometimes across a page
 *   cfg      read or write of 1/2/4 bytes of config space (sysfs config file:
 *            the kernel goes through ECAM), biased to the header and the
 *            capabilities; a write is mostly undone right after
 *   cfgbar   the command register and the BAR registers: sizing (all ones),
 *            random values, decoding off, then (mostly) restored
 *   io       in/out of 1/2/4 bytes, and rep ins/outs, on I/O BARs (falls back
 *            to port when no function has one)
 *   port     in/out on legacy ports, biased to the PC platform's ones
 *   virtio   the virtio-pci common configuration (found through the vendor
 *            capabilities): feature and queue selects, garbage queue sizes and
 *            ring addresses, enabling queues whose rings hold random
 *            descriptors, device status resets, notifications of any queue
 *   dmawild  like virtio, but descriptors point anywhere in guest RAM, so the
 *            device writes over the kernel: the guest dies quickly, so 0 by
 *            default
 *
 * Never touched (so that the run can report and the log stays readable):
 *   port 0xf4          vmguard's exit port (isa-debug-exit): would power off
 *   port 0xcf9         reset control register (only the dword at 0xcf8, the
 *                      config address register, is used)
 *   port 0x64          i8042 command: 0xfe pulses the CPU reset line
 *   port 0x92          system control port A: bit 0 is a fast reset
 *   ports 0x3f8-0x3ff  COM1, the serial console carrying this log
 * No access touches any byte of these, whatever its width.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <emmintrin.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define PAGE 4096UL
#define MAX_DEVS 64
#define MAX_BARS 6

/* ------------------------------------------------------------------ PRNG */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1DULL;
}

static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }
static int chance(unsigned pct) { return below(100) < pct; }

/* A value for a store: sometimes a boundary value, mostly random. */
static uint64_t value(void)
{
	static const uint64_t special[] = { 0, 1, ~0ULL, 0x80, 0x8000, 0x80000000ULL, 0xffff,
		0xffffffffULL, 0x7fffffffffffffffULL, 0x10000, 0x100 };
	if (chance(30))
		return special[below(sizeof special / sizeof special[0])];
	if (chance(30))
		return below(0x400);
	return rnd();
}

/* --------------------------------------------------------------- op kinds */

enum kind { K_MMIO, K_UNALIGN, K_CROSS, K_SSE, K_REP, K_LOCKED, K_CFG, K_CFGBAR, K_IO, K_PORT,
	K_VIRTIO, K_DMAWILD, NKINDS };
static const char *kind_name[NKINDS] = { "mmio", "unalign", "cross", "sse", "rep", "locked", "cfg",
	"cfgbar", "io", "port", "virtio", "dmawild" };
static unsigned weight[NKINDS] = { 6, 3, 2, 2, 2, 2, 4, 2, 1, 2, 4, 0 };
static unsigned long kind_count[NKINDS];

/* --------------------------------------------------------------- devices */

struct bar {
	int is_mem, is_io;
	uint64_t start, size; /* bus address / port base, bytes */
	volatile uint8_t *map; /* MEM: mmap of resourceN (size rounded up to pages) */
	size_t map_len;
};

struct dev {
	char name[32];
	unsigned vendor, device, class;
	int cfg_fd;
	size_t cfg_size;
	struct bar bar[MAX_BARS];
	/* virtio-pci: the common and notify structures, when found in a mapped BAR */
	volatile uint8_t *common, *notify;
	size_t notify_len;
	uint32_t notify_mult;
	uint8_t caps[16]; /* capability offsets in config space */
	int ncaps;
	uint32_t saved[16]; /* the header as the kernel set it up (dwords 0x00-0x3c), for --repair */
};

static struct dev devs[MAX_DEVS];
static int ndevs;

static int read_hex_file(const char *dir, const char *file, unsigned *out)
{
	char path[512], buf[64];
	FILE *f;
	snprintf(path, sizeof path, "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (!fgets(buf, sizeof buf, f)) {
		fclose(f);
		return -1;
	}
	fclose(f);
	*out = (unsigned)strtoul(buf, NULL, 16);
	return 0;
}

static int cfg_read(struct dev *d, unsigned off, unsigned width, uint32_t *v)
{
	uint32_t x = 0;
	if (pread(d->cfg_fd, &x, width, off) != (ssize_t)width)
		return -1;
	*v = x;
	return 0;
}

static int cfg_write(struct dev *d, unsigned off, unsigned width, uint32_t v)
{
	return pwrite(d->cfg_fd, &v, width, off) == (ssize_t)width ? 0 : -1;
}

/* Walks the capability list (at most 48 entries, against loops), records the
 * offsets and finds virtio-pci's common (cfg_type 1) and notify (2) structures. */
static void scan_caps(struct dev *d)
{
	uint32_t status = 0, ptr = 0, id = 0, v = 0;
	int guard = 48;
	if (cfg_read(d, 0x06, 2, &status) || !(status & 0x10))
		return;
	if (cfg_read(d, 0x34, 1, &ptr))
		return;
	ptr &= 0xfc;
	while (ptr >= 0x40 && guard-- > 0) {
		if (cfg_read(d, ptr, 1, &id))
			return;
		if (d->ncaps < 16)
			d->caps[d->ncaps++] = (uint8_t)ptr;
		if (id == 0x09 && d->vendor == 0x1af4) {
			uint32_t type = 0, bar = ~0u, off = 0, len = 0;
			cfg_read(d, ptr + 3, 1, &type);
			cfg_read(d, ptr + 4, 1, &bar);
			cfg_read(d, ptr + 8, 4, &off);
			cfg_read(d, ptr + 12, 4, &len);
			if (bar < MAX_BARS && d->bar[bar].map && (uint64_t)off + len <= d->bar[bar].size && len > 0) {
				if (type == 1 && len >= 0x38)
					d->common = d->bar[bar].map + off;
				if (type == 2) {
					d->notify = d->bar[bar].map + off;
					d->notify_len = len;
					cfg_read(d, ptr + 16, 4, &v);
					d->notify_mult = v;
				}
			}
		}
		if (cfg_read(d, ptr + 1, 1, &ptr))
			return;
		ptr &= 0xfc;
	}
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Whether to fuzz the virtio-iommu (1af4:1057) as well (--iommu 1). */
static int fuzz_iommu;

static void discover(void)
{
	struct dirent **list;
	int n = scandir("/sys/bus/pci/devices", &list, NULL, by_name);
	if (n < 0) {
		perror("fuzz-devices: /sys/bus/pci/devices");
		return;
	}
	for (int i = 0; i < n; i++) {
		char dir[300], path[400], line[256];
		struct dev *d;
		FILE *f;
		if (list[i]->d_name[0] == '.' || ndevs == MAX_DEVS) {
			free(list[i]);
			continue;
		}
		d = &devs[ndevs];
		memset(d, 0, sizeof *d);
		snprintf(d->name, sizeof d->name, "%.31s", list[i]->d_name);
		free(list[i]);
		snprintf(dir, sizeof dir, "/sys/bus/pci/devices/%s", d->name);
		read_hex_file(dir, "vendor", &d->vendor);
		read_hex_file(dir, "device", &d->device);
		read_hex_file(dir, "class", &d->class);
		if (d->vendor == 0x1af4 && d->device == 0x1057 && !fuzz_iommu) {
			printf("FUZZ-SKIP %s 1af4:1057 virtio-iommu (the guest's own DMA protection; --iommu 1 includes it)\n",
			       d->name);
			continue;
		}
		snprintf(path, sizeof path, "%s/config", dir);
		d->cfg_fd = open(path, O_RDWR);
		if (d->cfg_fd < 0) {
			printf("fuzz-devices: %s: %s\n", path, strerror(errno));
			continue;
		}
		struct stat st;
		d->cfg_size = fstat(d->cfg_fd, &st) == 0 && st.st_size > 0 ? (size_t)st.st_size : 256;
		snprintf(path, sizeof path, "%s/resource", dir);
		f = fopen(path, "r");
		for (int b = 0; f && b < MAX_BARS && fgets(line, sizeof line, f); b++) {
			unsigned long long start, end, flags;
			struct bar *bar = &d->bar[b];
			if (sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3 || end <= start)
				continue;
			bar->start = start;
			bar->size = end - start + 1;
			if (flags & 0x100) { /* IORESOURCE_IO */
				bar->is_io = 1;
			} else if (flags & 0x200) { /* IORESOURCE_MEM */
				char rpath[420];
				int fd;
				snprintf(rpath, sizeof rpath, "%s/resource%d", dir, b);
				fd = open(rpath, O_RDWR | O_SYNC);
				if (fd < 0) {
					printf("fuzz-devices: %s: %s\n", rpath, strerror(errno));
					continue;
				}
				bar->map_len = (bar->size + PAGE - 1) & ~(PAGE - 1);
				void *m = mmap(NULL, bar->map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
				close(fd);
				if (m == MAP_FAILED) {
					printf("fuzz-devices: mmap %s: %s\n", rpath, strerror(errno));
					continue;
				}
				bar->map = m;
				bar->is_mem = 1;
			}
		}
		if (f)
			fclose(f);
		scan_caps(d);
		for (int r = 0; r < 16; r++)
			cfg_read(d, r * 4, 4, &d->saved[r]);
		printf("FUZZ-DEVICE %s %04x:%04x class=0x%06x cfg=%zu", d->name, d->vendor, d->device,
		       d->class, d->cfg_size);
		for (int b = 0; b < MAX_BARS; b++) {
			if (d->bar[b].is_mem)
				printf(" bar%d=mem:0x%" PRIx64, b, d->bar[b].size);
			else if (d->bar[b].is_io)
				printf(" bar%d=io:0x%" PRIx64 "+0x%" PRIx64, b, d->bar[b].start, d->bar[b].size);
		}
		if (d->common)
			printf(" virtio-common notify-mult=%u", d->notify_mult);
		printf("\n");
		ndevs++;
	}
	free(list);
}

/* ------------------------------------------------------------ op helpers */

static unsigned long op_index;
static unsigned long trace_from = ~0UL;
static unsigned long faults;
static sigjmp_buf fault_jmp;
static volatile sig_atomic_t in_op;

#define TRACE(...)                                                                \
	do {                                                                      \
		if (op_index >= trace_from) {                                     \
			printf("FUZZ-OP %lu ", op_index);                         \
			printf(__VA_ARGS__);                                      \
			printf("\n");                                             \
			fflush(stdout);                                           \
		}                                                                 \
	} while (0)

static void on_fault(int sig)
{
	if (in_op)
		siglongjmp(fault_jmp, sig);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* A BAR with memory, chosen at random; NULL when there is none. */
static struct bar *pick_mem_bar(struct dev **out)
{
	int tries = 16;
	while (tries-- > 0 && ndevs > 0) {
		struct dev *d = &devs[below(ndevs)];
		int b = (int)below(MAX_BARS);
		for (int i = 0; i < MAX_BARS; i++) {
			struct bar *bar = &d->bar[(b + i) % MAX_BARS];
			if (bar->is_mem) {
				*out = d;
				return bar;
			}
		}
	}
	return NULL;
}

/* An offset for an access of `width` bytes: biased to the first bytes of a page. */
static size_t pick_offset(struct bar *bar, size_t width)
{
	size_t pages = bar->map_len / PAGE, off;
	if (chance(60))
		off = below(pages) * PAGE + below(chance(70) ? 0x40 : PAGE);
	else
		off = below(bar->map_len);
	if (off + width > bar->map_len)
		off = bar->map_len - width;
	return off;
}

static void mem_load(volatile uint8_t *p, unsigned width)
{
	switch (width) {
	case 1: (void)*(volatile uint8_t *)p; break;
	case 2: (void)*(volatile uint16_t *)p; break;
	case 4: (void)*(volatile uint32_t *)p; break;
	default: (void)*(volatile uint64_t *)p; break;
	}
}

static void mem_store(volatile uint8_t *p, unsigned width, uint64_t v)
{
	switch (width) {
	case 1: *(volatile uint8_t *)p = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)p = (uint16_t)v; break;
	case 4: *(volatile uint32_t *)p = (uint32_t)v; break;
	default: *(volatile uint64_t *)p = v; break;
	}
}

static void mem_access(struct dev *d, int b, size_t off, unsigned width, const char *kind)
{
	volatile uint8_t *p = d->bar[b].map + off;
	if (chance(50)) {
		TRACE("%s %s bar%d+0x%zx load%u", kind, d->name, b, off, width * 8);
		mem_load(p, width);
	} else {
		uint64_t v = value();
		TRACE("%s %s bar%d+0x%zx store%u 0x%" PRIx64, kind, d->name, b, off, width * 8, v);
		mem_store(p, width, v);
	}
}

static int bar_index(struct dev *d, struct bar *bar) { return (int)(bar - d->bar); }

/* ---------------------------------------------------------------- the ops */

static int op_mmio(void)
{
	struct dev *d;
	struct bar *bar = pick_mem_bar(&d);
	if (!bar)
		return -1;
	unsigned width = 1u << below(4);
	size_t off = pick_offset(bar, width) & ~(size_t)(width - 1);
	mem_access(d, bar_index(d, bar), off, width, "mmio");
	return 0;
}

static int op_unalign(void)
{
	struct dev *d;
	struct bar *bar = pick_mem_bar(&d);
	if (!bar)
		return -1;
	unsigned width = 2u << below(3);
	size_t off;
	if (chance(40)) { /* the last bytes of a page, ending exactly at its end */
		off = below(bar->map_len / PAGE) * PAGE + PAGE - width;
	} else {
		off = pick_offset(bar, width);
		if ((off & (width - 1)) == 0)
			off += 1 + below(width - 1);
		if ((off & (PAGE - 1)) + width > PAGE) /* keep it inside one page */
			off = (off & ~(PAGE - 1)) + PAGE - width - 1;
	}
	mem_access(d, bar_index(d, bar), off, width, "unalign");
	return 0;
}

static int op_cross(void)
{
	struct dev *d;
	struct bar *bar = pick_mem_bar(&d);
	if (!bar || bar->map_len < 2 * PAGE)
		return -1;
	unsigned width = 2u << below(3);
	size_t page = 1 + below(bar->map_len / PAGE - 1);
	size_t off = page * PAGE - 1 - below(width - 1); /* 1..width-1 bytes in the first page */
	mem_access(d, bar_index(d, bar), off, width, "cross");
	return 0;
}

static int op_sse(void)
{
	struct dev *d;
	struct bar *bar = pick_mem_bar(&d);
	if (!bar || bar->map_len < 16)
		return -1;
	size_t off;
	if (bar->map_len >= 2 * PAGE && chance(35))
		off = (1 + below(bar->map_len / PAGE - 1)) * PAGE - 1 - below(15);
	else
		off = pick_offset(bar, 16);
	volatile uint8_t *p = bar->map + off;
	int b = bar_index(d, bar);
	if (chance(50)) {
		__m128i x;
		if ((off & 15) == 0 && chance(50)) {
			TRACE("sse %s bar%d+0x%zx movdqa-load", d->name, b, off);
			__asm__ volatile("movdqa %1, %0" : "=x"(x) : "m"(*(volatile __m128i *)p));
		} else {
			TRACE("sse %s bar%d+0x%zx movdqu-load", d->name, b, off);
			x = _mm_loadu_si128((const __m128i *)p);
			__asm__ volatile("" : : "x"(x));
		}
	} else {
		__m128i x = _mm_set_epi64x((long long)value(), (long long)value());
		if ((off & 15) == 0 && chance(50)) {
			TRACE("sse %s bar%d+0x%zx movdqa-store", d->name, b, off);
			__asm__ volatile("movdqa %1, %0" : "=m"(*(volatile __m128i *)p) : "x"(x));
		} else {
			TRACE("sse %s bar%d+0x%zx movdqu-store", d->name, b, off);
			_mm_storeu_si128((__m128i *)p, x);
		}
	}
	return 0;
}

static uint8_t scratch[8192];

static int op_rep(void)
{
	struct dev *d;
	struct bar *bar = pick_mem_bar(&d);
	if (!bar)
		return -1;
	size_t len = 1 + below(chance(70) ? 64 : 300);
	if (len > bar->map_len)
		len = bar->map_len;
	size_t off = chance(30) && bar->map_len >= 2 * PAGE ? (1 + below(bar->map_len / PAGE - 1)) * PAGE - below(len)
							    : pick_offset(bar, len);
	if (off + len > bar->map_len)
		off = bar->map_len - len;
	volatile uint8_t *p = bar->map + off;
	void *dst, *src;
	size_t n = len;
	int b = bar_index(d, bar);
	switch (below(3)) {
	case 0: /* from the BAR */
		TRACE("rep %s bar%d+0x%zx movsb-from %zu", d->name, b, off, len);
		dst = scratch, src = (void *)p;
		__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
		break;
	case 1: /* to the BAR */
		for (size_t i = 0; i < len; i++)
			scratch[i] = (uint8_t)rnd();
		TRACE("rep %s bar%d+0x%zx movsb-to %zu", d->name, b, off, len);
		dst = (void *)p, src = scratch;
		__asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
		break;
	default: { /* fill the BAR */
		uint8_t v = (uint8_t)value();
		TRACE("rep %s bar%d+0x%zx stosb %zu 0x%02x", d->name, b, off, len, v);
		dst = (void *)p;
		__asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(v) : "memory");
		break;
	}
	}
	return 0;
}

static int op_locked(void)
{
	struct dev *d;
	struct bar *bar = pick_mem_bar(&d);
	if (!bar)
		return -1;
	unsigned width = 1u << below(4);
	size_t off;
	if (width > 1 && bar->map_len >= 2 * PAGE && chance(30))
		off = (1 + below(bar->map_len / PAGE - 1)) * PAGE - 1 - below(width - 1);
	else
		off = pick_offset(bar, width) & ~(size_t)(width - 1);
	volatile uint8_t *p = bar->map + off;
	uint64_t v = value(), expect = value();
	int b = bar_index(d, bar);
	static const char *ops[] = { "xadd", "cmpxchg", "xchg", "or" };
	int which = (int)below(4);
	TRACE("locked %s bar%d+0x%zx lock-%s%u 0x%" PRIx64, d->name, b, off, ops[which], width * 8, v);
#define LOCKED(SUFFIX, TYPE, REG)                                                                       \
	do {                                                                                           \
		TYPE x = (TYPE)v, e = (TYPE)expect;                                                    \
		volatile TYPE *q = (volatile TYPE *)p;                                                 \
		switch (which) {                                                                       \
		case 0: __asm__ volatile("lock xadd" SUFFIX " %0, %1" : "+" REG(x), "+m"(*q) : : "memory"); break; \
		case 1: __asm__ volatile("lock cmpxchg" SUFFIX " %2, %1" : "+a"(e), "+m"(*q) : REG(x) : "memory"); break; \
		case 2: __asm__ volatile("xchg" SUFFIX " %0, %1" : "+" REG(x), "+m"(*q) : : "memory"); break; \
		default: __asm__ volatile("lock or" SUFFIX " %1, %0" : "+m"(*q) : REG(x) : "memory"); break; \
		}                                                                                      \
	} while (0)
	switch (width) {
	case 1: LOCKED("b", uint8_t, "q"); break;
	case 2: LOCKED("w", uint16_t, "r"); break;
	case 4: LOCKED("l", uint32_t, "r"); break;
	default: LOCKED("q", uint64_t, "r"); break;
	}
#undef LOCKED
	return 0;
}

static struct dev *pick_dev(void) { return ndevs ? &devs[below(ndevs)] : NULL; }

static int op_cfg(void)
{
	struct dev *d = pick_dev();
	if (!d)
		return -1;
	unsigned width = 1u << below(3);
	unsigned off;
	switch (below(4)) {
	case 0: off = (unsigned)below(0x40); break; /* the header */
	case 1:
		off = d->ncaps ? d->caps[below(d->ncaps)] + (unsigned)below(20) : (unsigned)below(0x100);
		break;
	case 2: off = (unsigned)below(0x100); break;
	default: off = (unsigned)below(d->cfg_size); break;
	}
	if (chance(60))
		off &= ~(width - 1);
	if (off + width > d->cfg_size)
		off = (unsigned)d->cfg_size - width;
	uint32_t old = 0;
	if (chance(50)) {
		TRACE("cfg %s read%u 0x%x", d->name, width * 8, off);
		cfg_read(d, off, width, &old);
		return 0;
	}
	uint32_t v = (uint32_t)value();
	int restore = chance(75);
	if (width < 4)
		v &= (1u << (width * 8)) - 1;
	TRACE("cfg %s write%u 0x%x 0x%x%s", d->name, width * 8, off, v, restore ? " (restored)" : "");
	cfg_read(d, off, width, &old);
	cfg_write(d, off, width, v);
	if (restore)
		cfg_write(d, off, width, old);
	return 0;
}

static int op_cfgbar(void)
{
	struct dev *d = pick_dev();
	if (!d)
		return -1;
	uint32_t old = 0, v, back = 0;
	unsigned off;
	if (chance(35)) {
		off = 0x04; /* command */
		static const uint32_t cmds[] = { 0, 1, 2, 3, 4, 6, 7, 0x400, 0x407, 0xffff };
		v = chance(70) ? cmds[below(10)] : (uint32_t)rnd() & 0xffff;
		cfg_read(d, off, 2, &old);
		int restore = chance(85);
		TRACE("cfgbar %s command 0x%x%s", d->name, v, restore ? " (restored)" : "");
		cfg_write(d, off, 2, v);
		if (chance(50)) { /* touch the BAR while decoding may be off */
			struct bar *bar = NULL;
			for (int i = 0; i < MAX_BARS && !bar; i++)
				if (d->bar[i].is_mem)
					bar = &d->bar[i];
			if (bar)
				mem_load(bar->map + (below(bar->map_len / PAGE) * PAGE), 4);
		}
		if (restore)
			cfg_write(d, off, 2, old);
		return 0;
	}
	off = chance(90) ? 0x10 + 4 * (unsigned)below(6) : 0x30; /* a BAR, or the ROM BAR */
	cfg_read(d, off, 4, &old);
	switch (below(3)) {
	case 0: v = 0xffffffff; break; /* sizing */
	case 1: v = (uint32_t)rnd(); break;
	default: v = (uint32_t)below(0x100000) << 12; break; /* low memory: overlaps RAM */
	}
	int restore = chance(85);
	TRACE("cfgbar %s bar-reg 0x%x 0x%x%s", d->name, off, v, restore ? " (restored)" : "");
	cfg_write(d, off, 4, v);
	cfg_read(d, off, 4, &back);
	if (chance(50)) { /* access the old mapping while the BAR is elsewhere */
		int b = (int)((off - 0x10) / 4);
		if (off != 0x30 && d->bar[b].is_mem)
			mem_load(d->bar[b].map + below(d->bar[b].map_len / PAGE) * PAGE, 4);
	}
	if (restore)
		cfg_write(d, off, 4, old);
	return 0;
}

/* Ports never touched (see the comment at the top). */
static int port_excluded(unsigned port, unsigned width)
{
	unsigned end = port + width; /* exclusive */
	if (port <= 0xf4 && end > 0xf4)
		return 1;
	if (port <= 0xcf9 && end > 0xcf9 && !(port == 0xcf8 && width == 4))
		return 1;
	if (port <= 0x64 && end > 0x64)
		return 1;
	if (port <= 0x92 && end > 0x92)
		return 1;
	if (port < 0x400 && end > 0x3f8)
		return 1;
	return end > 0x10000;
}

static void port_access(unsigned port, unsigned width, const char *kind)
{
	if (chance(10)) { /* string I/O */
		unsigned count = 1 + (unsigned)below(16);
		void *buf = scratch;
		unsigned long n = count;
		if (chance(50)) {
			TRACE("%s rep-ins%u 0x%x x%u", kind, width * 8, port, count);
			switch (width) {
			case 1: __asm__ volatile("rep insb" : "+D"(buf), "+c"(n) : "d"((uint16_t)port) : "memory"); break;
			case 2: __asm__ volatile("rep insw" : "+D"(buf), "+c"(n) : "d"((uint16_t)port) : "memory"); break;
			default: __asm__ volatile("rep insl" : "+D"(buf), "+c"(n) : "d"((uint16_t)port) : "memory"); break;
			}
		} else {
			for (unsigned i = 0; i < count * width; i++)
				scratch[i] = (uint8_t)rnd();
			TRACE("%s rep-outs%u 0x%x x%u", kind, width * 8, port, count);
			switch (width) {
			case 1: __asm__ volatile("rep outsb" : "+S"(buf), "+c"(n) : "d"((uint16_t)port) : "memory"); break;
			case 2: __asm__ volatile("rep outsw" : "+S"(buf), "+c"(n) : "d"((uint16_t)port) : "memory"); break;
			default: __asm__ volatile("rep outsl" : "+S"(buf), "+c"(n) : "d"((uint16_t)port) : "memory"); break;
			}
		}
		return;
	}
	if (chance(50)) {
		TRACE("%s in%u 0x%x", kind, width * 8, port);
		switch (width) {
		case 1: (void)inb((uint16_t)port); break;
		case 2: (void)inw((uint16_t)port); break;
		default: (void)inl((uint16_t)port); break;
		}
	} else {
		uint32_t v = (uint32_t)value();
		TRACE("%s out%u 0x%x 0x%x", kind, width * 8, port, v);
		switch (width) {
		case 1: outb((uint8_t)v, (uint16_t)port); break;
		case 2: outw((uint16_t)v, (uint16_t)port); break;
		default: outl(v, (uint16_t)port); break;
		}
	}
}

static int have_iopl;

static int op_port(void)
{
	/* The PC platform's ports (PIC, PIT, i8042 data, RTC, POST, PCI config
	 * mechanism 1, PIIX-style ELCR, the area around the exit port), and
	 * anywhere at all. */
	static const unsigned known[] = { 0x20, 0x21, 0x40, 0x41, 0x42, 0x43, 0x60, 0x61, 0x70, 0x71,
		0x80, 0xa0, 0xa1, 0xcf8, 0xcfc, 0xcfd, 0xcfe, 0xcff, 0x4d0, 0x4d1, 0xf0, 0xf1, 0xf5,
		0x2f8, 0x3f0, 0x510, 0x511, 0x600, 0xb000, 0xc000, 0xe000 };
	if (!have_iopl)
		return -1;
	for (int tries = 0; tries < 16; tries++) {
		unsigned width = 1u << below(3);
		unsigned port = chance(60) ? known[below(sizeof known / sizeof known[0])] + (unsigned)below(2)
					   : (unsigned)below(0x10000);
		if (port_excluded(port, width))
			continue;
		port_access(port, width, "port");
		return 0;
	}
	return -1;
}

static int op_io(void)
{
	struct bar *bars[MAX_DEVS * MAX_BARS];
	int n = 0;
	if (!have_iopl)
		return -1;
	for (int i = 0; i < ndevs; i++)
		for (int b = 0; b < MAX_BARS; b++)
			if (devs[i].bar[b].is_io)
				bars[n++] = &devs[i].bar[b];
	if (n == 0)
		return op_port();
	struct bar *bar = bars[below(n)];
	for (int tries = 0; tries < 16; tries++) {
		unsigned width = 1u << below(3);
		unsigned port = (unsigned)(bar->start + below(bar->size));
		if (chance(60))
			port &= ~(width - 1);
		if (port_excluded(port, width))
			continue;
		port_access(port, width, "io");
		return 0;
	}
	return -1;
}

/* ---------------------------------------------------------------- virtio */

/* Ring memory of our own: locked pages whose physical addresses we know
 * (from /proc/self/pagemap), so garbage rings are at least our garbage. */
#define RING_PAGES 16
static uint8_t *ring_mem;
static uint64_t ring_phys[RING_PAGES];
static uint64_t ram_top = 256ULL << 20;

static void ring_setup(void)
{
	int fd;
	ring_mem = mmap(NULL, RING_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE,
			-1, 0);
	if (ring_mem == MAP_FAILED) {
		ring_mem = NULL;
		return;
	}
	memset(ring_mem, 0, RING_PAGES * PAGE);
	mlock(ring_mem, RING_PAGES * PAGE);
	fd = open("/proc/self/pagemap", O_RDONLY);
	for (int i = 0; i < RING_PAGES; i++) {
		uint64_t e = 0;
		if (fd >= 0)
			pread(fd, &e, 8, (off_t)(((uintptr_t)ring_mem / PAGE + i) * 8));
		ring_phys[i] = (e >> 63) ? (e & ((1ULL << 55) - 1)) * PAGE : 0;
	}
	if (fd >= 0)
		close(fd);
	long pages = sysconf(_SC_PHYS_PAGES);
	if (pages > 0)
		ram_top = (uint64_t)pages * PAGE;
}

/* A DMA address for a descriptor or a ring: mostly inside our pages. */
static uint64_t dma_addr(int wild)
{
	if (wild && chance(60))
		return below(ram_top) & ~7ULL;
	switch (below(8)) {
	case 0: return rnd(); /* anywhere in 64 bits */
	case 1: return ram_top - below(64); /* straddling the end of RAM */
	case 2: return 0xfffffffffffff000ULL + below(PAGE); /* wrapping */
	default: {
		int page = (int)below(RING_PAGES);
		if (!ring_phys[page])
			return rnd();
		return ring_phys[page] + below(PAGE);
	}
	}
}

/* Random descriptors, avail and used rings over our pages. */
static void ring_garbage(int wild)
{
	for (size_t i = 0; i < RING_PAGES * PAGE / 16; i++) {
		uint8_t *e = ring_mem + i * 16;
		uint64_t addr = dma_addr(wild);
		uint32_t len = chance(80) ? (uint32_t)below(PAGE * 2) : (uint32_t)rnd();
		uint16_t flags = (uint16_t)(chance(80) ? below(8) : rnd()); /* NEXT, WRITE, INDIRECT */
		uint16_t next = (uint16_t)(chance(80) ? below(32) : rnd());
		memcpy(e, &addr, 8);
		memcpy(e + 8, &len, 4);
		memcpy(e + 12, &flags, 2);
		memcpy(e + 14, &next, 2);
	}
	if (chance(80)) { /* a plausible avail ring (page 1): flags, a small idx, small heads */
		uint16_t *avail = (uint16_t *)(ring_mem + PAGE);
		avail[0] = (uint16_t)below(2);
		avail[1] = (uint16_t)(1 + below(8));
		for (int i = 0; i < 64; i++)
			avail[2 + i] = (uint16_t)below(16);
	}
}

static struct dev *pick_virtio(void)
{
	int idx[MAX_DEVS], n = 0;
	for (int i = 0; i < ndevs; i++)
		if (devs[i].common)
			idx[n++] = i;
	return n ? &devs[idx[below(n)]] : NULL;
}

#define C8(off) (*(volatile uint8_t *)(d->common + (off)))
#define C16(off) (*(volatile uint16_t *)(d->common + (off)))
#define C32(off) (*(volatile uint32_t *)(d->common + (off)))
#define C64(off) (*(volatile uint64_t *)(d->common + (off)))

/* A 64-bit field of the common configuration: as the spec has drivers write it (two aligned 32-bit
 * stores, low half first), sometimes high half first, sometimes one 64-bit store (which a device may drop). */
static void common64(struct dev *d, size_t off, uint64_t v)
{
	unsigned how = (unsigned)below(10);
	if (how < 7) {
		C32(off) = (uint32_t)v;
		C32(off + 4) = (uint32_t)(v >> 32);
	} else if (how < 9) {
		C32(off + 4) = (uint32_t)(v >> 32);
		C32(off) = (uint32_t)v;
	} else {
		C64(off) = v;
	}
}

static void notify(struct dev *d, uint16_t queue)
{
	if (!d->notify || d->notify_len < 2)
		return;
	size_t off = (size_t)queue * d->notify_mult;
	if (chance(20))
		off = below(d->notify_len);
	if (off + 2 > d->notify_len)
		off = (d->notify_len - 2) & ~1UL;
	TRACE("virtio %s notify +0x%zx queue %u", d->name, off, queue);
	if (chance(80))
		*(volatile uint16_t *)(d->notify + off) = queue;
	else if (off + 4 <= d->notify_len)
		*(volatile uint32_t *)(d->notify + off) = queue | ((uint32_t)rnd() << 16);
	else
		*(volatile uint8_t *)(d->notify + off) = (uint8_t)queue;
}

static uint64_t ring_page_addr(int page, int wild)
{
	if (chance(85) && ring_phys[page])
		return ring_phys[page] + (chance(80) ? 0 : below(64));
	return dma_addr(wild);
}

static int op_virtio(int wild)
{
	struct dev *d = pick_virtio();
	if (!d || !ring_mem)
		return -1;
	/* Queue numbers from the generator alone (reading num_queues would let the device steer it):
	 * mostly the few queues devices have, sometimes any. */
	uint16_t q = (uint16_t)(chance(85) ? below(4) : rnd());
	switch (below(wild ? 3 : 8)) {
	case 0:
	case 1: { /* a whole queue set up over garbage, enabled and kicked */
		static const uint16_t sizes[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 3, 0, 0xffff, 0x8000 };
		uint16_t size = sizes[below(sizeof sizes / sizeof sizes[0])];
		ring_garbage(wild);
		TRACE("virtio %s queue %u setup size %u", d->name, q, size);
		C16(0x16) = q;
		if (chance(30)) {
			TRACE("virtio %s queue %u reset-first", d->name, q);
			C8(0x14) = 0; /* device reset first: the queue is then the only one */
			C8(0x14) = 1 | 2 | 8; /* ACKNOWLEDGE | DRIVER | FEATURES_OK */
		}
		C16(0x18) = size;
		if (chance(50))
			C16(0x1a) = (uint16_t)(chance(50) ? below(4) : 0xffff);
		common64(d, 0x20, ring_page_addr(0, wild));
		common64(d, 0x28, ring_page_addr(1, wild));
		common64(d, 0x30, ring_page_addr(2, wild));
		C16(0x1c) = chance(90) ? 1 : (uint16_t)rnd();
		if (chance(40))
			C8(0x14) = (uint8_t)(C8(0x14) | 4); /* DRIVER_OK */
		for (int i = (int)below(4); i >= 0; i--)
			notify(d, q);
		break;
	}
	case 2: /* new garbage in the rings a queue may already point at, and a kick */
		ring_garbage(wild);
		TRACE("virtio %s garbage-rings", d->name);
		notify(d, q);
		break;
	case 3: { /* device status */
		static const uint8_t st[] = { 0, 1, 3, 0xb, 0xf, 0x40, 0x80, 0xff, 4 };
		uint8_t v = chance(80) ? st[below(sizeof st)] : (uint8_t)rnd();
		TRACE("virtio %s status 0x%x", d->name, v);
		C8(0x14) = v;
		break;
	}
	case 4: { /* feature words */
		uint32_t sel = (uint32_t)(chance(80) ? below(4) : rnd());
		TRACE("virtio %s features sel %u", d->name, sel);
		C32(0x00) = sel;
		(void)C32(0x04);
		C32(0x08) = sel;
		C32(0x0c) = (uint32_t)value();
		break;
	}
	case 5: { /* any field, any width, any value */
		unsigned width = 1u << below(4);
		size_t off = below(0x40);
		if (chance(70))
			off &= ~(size_t)(width - 1);
		if (off + width > 0x40)
			off = 0x40 - width;
		if (chance(50)) {
			TRACE("virtio %s common+0x%zx load%u", d->name, off, width * 8);
			mem_load(d->common + off, width);
		} else {
			uint64_t v = value();
			TRACE("virtio %s common+0x%zx store%u 0x%" PRIx64, d->name, off, width * 8, v);
			mem_store(d->common + off, width, v);
		}
		break;
	}
	case 6: /* select a queue and read its state */
		TRACE("virtio %s queue %u read", d->name, q);
		C16(0x16) = q;
		(void)C16(0x18), (void)C16(0x1c), (void)C16(0x1e), (void)C32(0x20), (void)C32(0x24), (void)C64(0x28);
		break;
	default:
		notify(d, q);
		break;
	}
	return 0;
}

/* ---------------------------------------------------------------- main */

static int parse_mix(const char *spec)
{
	char buf[512], *save = NULL;
	snprintf(buf, sizeof buf, "%s", spec);
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		if (!eq)
			eq = strchr(tok, ':');
		if (!eq) {
			fprintf(stderr, "fuzz-devices: bad mix entry '%s' (KIND=WEIGHT)\n", tok);
			return -1;
		}
		*eq = '\0';
		int k;
		if (strcmp(tok, "all") == 0) {
			for (k = 0; k < NKINDS; k++)
				weight[k] = (unsigned)atoi(eq + 1);
			continue;
		}
		for (k = 0; k < NKINDS && strcmp(kind_name[k], tok) != 0; k++)
			;
		if (k == NKINDS) {
			fprintf(stderr, "fuzz-devices: unknown op kind '%s' (try --list-kinds)\n", tok);
			return -1;
		}
		weight[k] = (unsigned)atoi(eq + 1);
	}
	return 0;
}

__attribute__((noinline)) static int run_op(enum kind k)
{
	switch (k) {
	case K_MMIO: return op_mmio();
	case K_UNALIGN: return op_unalign();
	case K_CROSS: return op_cross();
	case K_SSE: return op_sse();
	case K_REP: return op_rep();
	case K_LOCKED: return op_locked();
	case K_CFG: return op_cfg();
	case K_CFGBAR: return op_cfgbar();
	case K_IO: return op_io();
	case K_PORT: return op_port();
	case K_VIRTIO: return op_virtio(0);
	case K_DMAWILD: return op_virtio(1);
	default: return -1;
	}
}

/* Puts back what the kernel set up in every header: the BARs (where the mappings point), the ROM
 * BAR, then the command register (decoding, bus mastering), so later ops reach live devices again. */
static void repair(void)
{
	for (int i = 0; i < ndevs; i++) {
		struct dev *d = &devs[i];
		if ((d->saved[3] >> 16 & 0x7f) != 0) /* not a type 0 header: leave it */
			continue;
		for (int r = 4; r <= 9; r++)
			cfg_write(d, r * 4, 4, d->saved[r]);
		cfg_write(d, 0x30, 4, d->saved[12]);
		cfg_write(d, 0x04, 2, d->saved[1] & 0xffff);
	}
}

/* One op with SIGBUS/SIGSEGV caught: 0 done, -1 not applicable, 1 faulted. */
static int run_guarded(enum kind k)
{
	int sig = sigsetjmp(fault_jmp, 1);
	if (sig) {
		in_op = 0;
		faults++;
		TRACE("fault signal %d", sig);
		return 1;
	}
	in_op = 1;
	int rc = run_op(k);
	in_op = 0;
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: fuzz-devices [--seed N] [--ops N] [--progress N] [--mix KIND=W,...] "
			"[--repair N] [--trace-from K] [--iommu 0|1] [--list-kinds]\n");
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;
	unsigned long ops = 10000, progress = 1000, repair_every = 250;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--list-kinds") == 0) {
			for (int k = 0; k < NKINDS; k++)
				printf("%s=%u\n", kind_name[k], weight[k]);
			return 0;
		}
		if (!v) {
			usage();
			return 2;
		}
		i++;
		if (strcmp(a, "--seed") == 0)
			seed = strtoull(v, NULL, 0);
		else if (strcmp(a, "--ops") == 0)
			ops = strtoul(v, NULL, 0);
		else if (strcmp(a, "--progress") == 0)
			progress = strtoul(v, NULL, 0);
		else if (strcmp(a, "--repair") == 0)
			repair_every = strtoul(v, NULL, 0);
		else if (strcmp(a, "--trace-from") == 0)
			trace_from = strtoul(v, NULL, 0);
		else if (strcmp(a, "--iommu") == 0)
			fuzz_iommu = strtoul(v, NULL, 0) != 0;
		else if (strcmp(a, "--mix") == 0) {
			if (parse_mix(v))
				return 2;
		} else {
			usage();
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	rng_state = seed * 0x9E3779B97F4A7C15ULL ^ 0xD1B54A32D192ED03ULL;
	if (!rng_state)
		rng_state = 1;

	printf("FUZZ-START seed=%" PRIu64 " ops=%lu mix=", seed, ops);
	unsigned total = 0;
	for (int k = 0; k < NKINDS; k++) {
		printf("%s%s=%u", k ? "," : "", kind_name[k], weight[k]);
		total += weight[k];
	}
	printf("\n");
	if (total == 0) {
		fprintf(stderr, "fuzz-devices: every op kind has weight 0\n");
		return 2;
	}

	have_iopl = iopl(3) == 0;
	if (!have_iopl)
		printf("fuzz-devices: iopl(3): %s; no port I/O\n", strerror(errno));
	discover();
	ring_setup();
	printf("fuzz-devices: %d functions; ring pages at phys 0x%" PRIx64 "; RAM 0x%" PRIx64 "\n", ndevs,
	       ring_phys[0], ram_top);

	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_fault;
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);

	unsigned long skipped = 0;
	for (op_index = 0; op_index < ops; op_index++) {
		if (progress && op_index && op_index % progress == 0)
			printf("FUZZ-PROGRESS seed=%" PRIu64 " ops=%lu\n", seed, op_index);
		if (repair_every && op_index && op_index % repair_every == 0) {
			TRACE("repair");
			repair();
		}
		uint64_t r = below(total);
		int k = 0;
		while (r >= weight[k])
			r -= weight[k++];
		int rc = run_guarded((enum kind)k);
		if (rc == 0)
			kind_count[k]++;
		else if (rc < 0)
			skipped++;
	}
	in_op = 0;
	printf("FUZZ-DONE seed=%" PRIu64 " ops=%lu\n", seed, op_index);
	printf("FUZZ-COUNTS");
	for (int k = 0; k < NKINDS; k++)
		printf(" %s=%lu", kind_name[k], kind_count[k]);
	printf(" skipped=%lu faults=%lu\n", skipped, faults);
	return 0;
}
