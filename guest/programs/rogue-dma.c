/*
 * rogue-dma -- a root process tries to overwrite kernel memory by DMA, with
 * vmguard's DMA test device (PCI 1234:11e9, src/main/java/io/vmguard/devices/
 * dmatest/DmaTestDevice.java). Without an IOMMU it succeeds: that is the
 * attack an IOMMU exists to stop. Run by /vmguard/scripts/rogue-dma.
 *
 * Exit status:
 *   0  the attack failed and the kernel is intact (the device's DMA was refused)
 *   1  the kernel was overwritten (the DMA reached kernel memory)
 *   2  the test could not run (no device, no symbols, an address it could not
 *      work out, ...): neither verdict can be given
 *
 * The target is linux_proc_banner, the format string /proc/version is printed
 * from (fs/proc/version.c: seq_printf(m, linux_proc_banner, sysname, release,
 * version)), so /proc/version shows at once whether the kernel's read-only
 * data changed. (linux_banner, the string printed at boot, is not read again
 * after boot.) The marker has no '%', so the overwritten format stays a valid
 * one. After a successful overwrite the original bytes are put back by DMA,
 * so the guest can go on.
 *
 * Finding the physical address of a kernel symbol, without trusting any
 * constant of this build:
 *   1. /proc/kallsyms gives the virtual addresses of linux_proc_banner and of
 *      _text (kptr_restrict is set to 0 while it is read, then put back).
 *   2. /proc/iomem names the physical range of the kernel image: "Kernel code"
 *      starts at __pa_symbol(_text) (arch/x86/kernel/setup.c: code_resource),
 *      "Kernel rodata" at __pa_symbol(__start_rodata).
 *   3. The kernel image is contiguous in both spaces (it is mapped linearly at
 *      __START_KERNEL_map + phys_base), so
 *          phys = start of "Kernel code" + (vaddr(symbol) - vaddr(_text)).
 *      This holds with or without KASLR or a relocated kernel, which a fixed
 *      "vaddr - 0xffffffff80000000" would not (phys_base is not visible to
 *      userland). The result must lie in "Kernel rodata" where iomem has it.
 *   4. Where /dev/mem is readable (vmguard's guest kernel has it without
 *      STRICT_DEVMEM), the bytes at that address must be the banner's format
 *      ("%s version %s ("): a wrong address is "could not run", never a blind
 *      write somewhere else.
 *
 * The device: found by vendor/device in /sys/bus/pci/devices, bus mastering
 * turned on through its sysfs config file (offset 4, bit 2), BAR 0 mapped from
 * resource0. Registers (see DmaTestDevice): ID 0x00, STATUS 0x04, SOURCE
 * 0x08, DESTINATION 0x10, LENGTH 0x18, COMMAND 0x1c (1 memory to buffer,
 * 2 buffer to memory; runs when written), FAULT_ADDRESS 0x20, buffer at 0x1000.
 *
 * Output: "rogue-dma: ..." lines, ending with one of
 *   rogue-dma: VERDICT attack-failed kernel-intact
 *   rogue-dma: VERDICT kernel-overwritten
 *   rogue-dma: VERDICT cannot-run (reason)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define VENDOR_ID 0x1234
#define DEVICE_ID 0x11e9
#define BAR_SIZE 0x2000

#define REG_ID 0x00
#define REG_STATUS 0x04
#define REG_SOURCE 0x08
#define REG_DESTINATION 0x10
#define REG_LENGTH 0x18
#define REG_COMMAND 0x1c
#define REG_FAULT_ADDRESS 0x20
#define BUFFER 0x1000
#define ID_VALUE 0x54414d44u /* "DMAT" */
#define CMD_TO_BUFFER 1
#define CMD_TO_MEMORY 2
#define STATUS_DONE 1

#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4

#define EXIT_INTACT 0
#define EXIT_OVERWRITTEN 1
#define EXIT_CANNOT_RUN 2

/* 16 bytes, no '%': written over the start of linux_proc_banner. */
static const char MARKER[] = "ROGUE-DMA-OWNED ";
#define MARKER_LEN (sizeof MARKER - 1)
/* How linux_proc_banner begins (init/version.c). */
static const char BANNER_START[] = "%s version %s (";
/* Where in the device's buffer the marker and the saved original bytes go. */
#define MARKER_AT 0
#define SAVED_AT 0x100

static void say(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("rogue-dma: ");
	vprintf(fmt, ap);
	printf("\n");
	fflush(stdout);
	va_end(ap);
}

static int cannot_run(const char *fmt, ...)
{
	char why[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof why, fmt, ap);
	va_end(ap);
	say("VERDICT cannot-run (%s)", why);
	return EXIT_CANNOT_RUN;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	if (fd < 0 || write(fd, text, strlen(text)) < 0)
		say("note: cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void read_small_file(const char *path, char *out, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, out, size - 1);
	if (fd >= 0)
		close(fd);
	out[n > 0 ? n : 0] = 0;
	out[strcspn(out, "\n")] = 0;
}

/* The address of kernel symbol `name` in /proc/kallsyms, or 0. */
static uint64_t kallsyms(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], sym[256];
	uint64_t address;
	char type;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%" SCNx64 " %c %255s", &address, &type, sym) == 3 && strcmp(sym, name) == 0) {
			fclose(f);
			return address;
		}
	}
	fclose(f);
	return 0;
}

/* The range of the /proc/iomem entry named `name` (any nesting level); 0 when found. */
static int iomem(const char *name, uint64_t *start, uint64_t *end)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f)) {
		char *colon = strstr(line, " : ");
		if (!colon)
			continue;
		char *label = colon + 3;
		label[strcspn(label, "\n")] = 0;
		if (strcmp(label, name) == 0 && sscanf(line, " %" SCNx64 "-%" SCNx64, start, end) == 2) {
			fclose(f);
			return 0;
		}
	}
	fclose(f);
	return -1;
}

static int read_proc_version(char *out, size_t size)
{
	int fd = open("/proc/version", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, out, size - 1);
	if (fd >= 0)
		close(fd);
	if (n < 0)
		return -1;
	out[n] = 0;
	out[strcspn(out, "\n")] = 0;
	return 0;
}

/* `length` bytes at physical `address` through /dev/mem; -1 where it cannot be read. */
static int devmem_read(uint64_t address, void *out, size_t length)
{
	int fd = open("/dev/mem", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : pread(fd, out, length, (off_t)address);
	if (fd >= 0)
		close(fd);
	return n == (ssize_t)length ? 0 : -1;
}

static int read_hex_file(const char *dir, const char *file, unsigned *value)
{
	char path[512], text[32];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int ok = fgets(text, sizeof text, f) != NULL;
	fclose(f);
	if (!ok)
		return -1;
	*value = (unsigned)strtoul(text, NULL, 16);
	return 0;
}

/* The sysfs directory of the first 1234:11e9 function, into `dir`; 0 when found. */
static int find_device(char *dir, size_t size)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		unsigned vendor, device;
		if (e->d_name[0] == '.')
			continue;
		snprintf(dir, size, "/sys/bus/pci/devices/%s", e->d_name);
		if (read_hex_file(dir, "vendor", &vendor) == 0 && read_hex_file(dir, "device", &device) == 0 &&
		    vendor == VENDOR_ID && device == DEVICE_ID) {
			closedir(d);
			return 0;
		}
	}
	closedir(d);
	return -1;
}

static volatile uint8_t *bar;

static uint32_t reg32(unsigned offset)
{
	return *(volatile uint32_t *)(bar + offset);
}

static uint64_t reg64(unsigned offset)
{
	return *(volatile uint64_t *)(bar + offset);
}

static void set32(unsigned offset, uint32_t value)
{
	*(volatile uint32_t *)(bar + offset) = value;
}

static void set64(unsigned offset, uint64_t value)
{
	*(volatile uint64_t *)(bar + offset) = value;
}

/* Runs one copy; returns STATUS. */
static uint32_t dma(uint32_t command, uint64_t source, uint64_t destination, uint32_t length)
{
	set64(REG_SOURCE, source);
	set64(REG_DESTINATION, destination);
	set32(REG_LENGTH, length);
	set32(REG_COMMAND, command);
	return reg32(REG_STATUS);
}

int main(void)
{
	char dir[512], path[600], before[512], after[512];
	uint8_t original[MARKER_LEN], now[MARKER_LEN];
	uint64_t code_start, code_end, ro_start, ro_end;

	/* The device first: where there is none (not vmguard's guest), nothing is touched. */
	if (find_device(dir, sizeof dir) != 0)
		return cannot_run("no PCI function %04x:%04x in /sys/bus/pci/devices", VENDOR_ID, DEVICE_ID);
	say("device %s", strrchr(dir, '/') + 1);

	/* The target's physical address (the method is in the comment at the top). */
	char restrict_was[16] = "";
	read_small_file("/proc/sys/kernel/kptr_restrict", restrict_was, sizeof restrict_was);
	write_file("/proc/sys/kernel/kptr_restrict", "0");
	uint64_t banner = kallsyms("linux_proc_banner"), text = kallsyms("_text");
	if (restrict_was[0])
		write_file("/proc/sys/kernel/kptr_restrict", restrict_was);
	if (!banner || !text)
		return cannot_run("no linux_proc_banner or _text in /proc/kallsyms (addresses hidden?)");
	if (iomem("Kernel code", &code_start, &code_end) != 0 || code_start == 0)
		return cannot_run("no \"Kernel code\" range in /proc/iomem (not root?)");
	if (banner < text)
		return cannot_run("linux_proc_banner 0x%" PRIx64 " lies before _text 0x%" PRIx64, banner, text);
	uint64_t target = code_start + (banner - text);
	say("linux_proc_banner: virtual 0x%" PRIx64 ", _text 0x%" PRIx64 ", Kernel code at 0x%" PRIx64
	    " -> physical 0x%" PRIx64, banner, text, code_start, target);
	if (iomem("Kernel rodata", &ro_start, &ro_end) == 0 && (target < ro_start || target + MARKER_LEN - 1 > ro_end))
		return cannot_run("0x%" PRIx64 " is not in Kernel rodata 0x%" PRIx64 "-0x%" PRIx64, target, ro_start, ro_end);
	if (devmem_read(target, original, MARKER_LEN) == 0) {
		if (memcmp(original, BANNER_START, sizeof BANNER_START - 1) != 0)
			return cannot_run("/dev/mem at 0x%" PRIx64 " does not hold the banner's format", target);
		say("/dev/mem confirms the banner's format at 0x%" PRIx64, target);
	} else {
		say("note: /dev/mem not readable, the address is not cross-checked");
	}
	if (read_proc_version(before, sizeof before) != 0)
		return cannot_run("cannot read /proc/version");
	say("before: %s", before);
	if (strstr(before, MARKER))
		return cannot_run("/proc/version already holds the marker");

	/* The device: bus mastering on, BAR 0 mapped. */
	snprintf(path, sizeof path, "%s/config", dir);
	int config = open(path, O_RDWR);
	uint16_t command;
	if (config < 0 || pread(config, &command, 2, PCI_COMMAND) != 2)
		return cannot_run("cannot read %s: %s", path, strerror(errno));
	command |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	if (pwrite(config, &command, 2, PCI_COMMAND) != 2)
		return cannot_run("cannot enable bus mastering: %s", strerror(errno));
	close(config);
	snprintf(path, sizeof path, "%s/resource0", dir);
	int fd = open(path, O_RDWR | O_SYNC);
	if (fd < 0)
		return cannot_run("cannot open %s: %s", path, strerror(errno));
	bar = mmap(NULL, BAR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (bar == MAP_FAILED)
		return cannot_run("cannot map %s: %s", path, strerror(errno));
	if (reg32(REG_ID) != ID_VALUE)
		return cannot_run("BAR 0 ID register reads 0x%08x, not 0x%08x", reg32(REG_ID), ID_VALUE);

	/* First a read: can the device see kernel memory? (It saves the original bytes too.) */
	uint32_t read_status = dma(CMD_TO_BUFFER, target, SAVED_AT, MARKER_LEN);
	if (read_status == STATUS_DONE)
		say("DMA read of the banner: done (the device reads kernel memory)");
	else
		say("DMA read of the banner: refused, status %u, fault address 0x%" PRIx64, read_status, reg64(REG_FAULT_ADDRESS));

	/* The attack. */
	for (size_t i = 0; i < MARKER_LEN; i++)
		bar[BUFFER + MARKER_AT + i] = (uint8_t)MARKER[i];
	uint32_t write_status = dma(CMD_TO_MEMORY, MARKER_AT, target, MARKER_LEN);
	if (write_status == STATUS_DONE)
		say("DMA write over the banner: done");
	else
		say("DMA write over the banner: refused, status %u, fault address 0x%" PRIx64, write_status, reg64(REG_FAULT_ADDRESS));

	if (read_proc_version(after, sizeof after) != 0)
		return cannot_run("cannot read /proc/version after the attack");
	say("after: %s", after);
	int overwritten = strstr(after, MARKER) != NULL || strcmp(before, after) != 0;
	if (!overwritten && devmem_read(target, now, MARKER_LEN) == 0)
		overwritten = memcmp(now, BANNER_START, sizeof BANNER_START - 1) != 0;
	if (overwritten) {
		if (read_status == STATUS_DONE && dma(CMD_TO_MEMORY, SAVED_AT, target, MARKER_LEN) == STATUS_DONE &&
		    read_proc_version(after, sizeof after) == 0)
			say("original bytes put back: %s", after);
		say("VERDICT kernel-overwritten");
		return EXIT_OVERWRITTEN;
	}
	if (write_status == STATUS_DONE)
		return cannot_run("the device reports the write done, but the banner did not change");
	say("VERDICT attack-failed kernel-intact");
	return EXIT_INTACT;
}
