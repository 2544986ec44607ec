/*
 * host-oracle32: runs a block of 32-bit or 16-bit code on the host CPU, in a 32-bit process (gcc -m32), for
 * LegacyModeDifferentialTest: its results are what the interpreter's must be, on any x86-64 host with no
 * KVM.
 *
 *   host-oracle32 CODE DATA OUT                 32-bit code, flat segments
 *   host-oracle32 CODE DATA OUT 16 STACK_BITS   16-bit code in LDT segments (STACK_BITS 16 or 32)
 *
 * 32-bit: the code's data area is mapped at the fixed addresses it uses (0x1c0000 to 0x200000: its stack,
 * result slots and data), DATA copied to 0x1f0000; the code is called with every register saved (it keeps
 * its own stack and returns through the stack pointer it stored at 0x1dfff0). OUT gets the result slots
 * (0x1e0000, 4000 bytes) and the data area (0x1f0000, 512 bytes).
 *
 * 16-bit: as Wine and dosemu run 16-bit protected-mode code. modify_ldt(2) installs two LDT descriptors:
 * a 16-bit code segment (D clear, limit 0xffff) based at the code, and a data segment (limit 0xffff) based at
 * a fresh 64 KiB area, with B set or clear as STACK_BITS says (the stack-address size: 32 as the flat ring-3
 * data segment of compatibility mode has it, 16 as in real mode). DATA is copied to offset 0xf000 of the area.
 * The code is far-called (CS:IP = code segment:0) with DS and ES already the data segment and the host's
 * SS:ESP on the stack; it keeps ESP at 0xdff0 and SS at 0xdff4 of the data segment, loads SS with the data
 * segment, and at its end reloads the host's SS:ESP from there and returns with a 32-bit far return (o32 retf).
 * OUT gets the result slots (offset 0xe000, 4000 bytes) and the data area (offset 0xf000, 512 bytes).
 *
 * Exceptions are signals. The handler (on its own stack: the code's stack may be a 16-bit segment the kernel
 * cannot deliver onto) reads the CPU's vector, error code and CR2 from the signal context, prints
 * "fault VECTOR OFFSET ERROR CR2" (OFFSET: of the faulting instruction in the code) and ends the process;
 * a run without one prints "exit". Both end with status 0; status 2 is an error of the helper itself.
 */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define AREA 0x1c0000u
#define AREA_SIZE 0x40000u
#define RESULTS 0x1e0000u
#define RESULTS_SIZE 4000u
#define DATA 0x1f0000u
#define DATA_SIZE 512u
#define CODE_SIZE (1u << 20)

#define SEGMENT16_SIZE 0x10000u
#define RESULTS16 0xe000u
#define DATA16 0xf000u
/* LDT entries 0 (code) and 1 (data); selectors with TI set and RPL 3. */
#define CODE16_SELECTOR ((0 << 3) | 4 | 3)
#define DATA16_SELECTOR ((1 << 3) | 4 | 3)

static uintptr_t code_base; /* what EIP is relative to: the mapping for 32-bit code, 0 (the segment's) for 16-bit */

static long read_file(const char *path, void *into, long max)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		perror(path);
		exit(2);
	}
	long n = (long) fread(into, 1, (size_t) max, f);
	fclose(f);
	return n;
}

static void on_signal(int sig, siginfo_t *info, void *context)
{
	(void) sig;
	(void) info;
	ucontext_t *uc = context;
	greg_t *g = uc->uc_mcontext.gregs;
	char line[96];
	int n = snprintf(line, sizeof line, "fault %u %x %x %lx\n", (unsigned) g[REG_TRAPNO], (unsigned) ((uintptr_t) g[REG_EIP] - code_base),
			 (unsigned) g[REG_ERR], (unsigned long) uc->uc_mcontext.cr2);
	if (write(1, line, (size_t) n) != n) {
		_exit(2);
	}
	_exit(0);
}

static void catch_faults(void)
{
	static char alternate[1 << 16];
	stack_t ss = {.ss_sp = alternate, .ss_size = sizeof alternate};
	if (sigaltstack(&ss, NULL) != 0) {
		perror("host-oracle32: sigaltstack");
		exit(2);
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	int signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP};
	for (unsigned i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		if (sigaction(signals[i], &sa, NULL) != 0) {
			perror("host-oracle32: sigaction");
			exit(2);
		}
	}
}

static void write_out(const char *path, const void *results, const void *data)
{
	FILE *out = fopen(path, "wb");
	if (!out || fwrite(results, 1, RESULTS_SIZE, out) != RESULTS_SIZE || fwrite(data, 1, DATA_SIZE, out) != DATA_SIZE
	    || fclose(out) != 0) {
		perror(path);
		exit(2);
	}
}

static void ldt_entry(unsigned entry, uintptr_t base, int contents, int big)
{
	struct user_desc d;
	memset(&d, 0, sizeof d);
	d.entry_number = entry;
	d.base_addr = (unsigned) base;
	d.limit = 0xffff; /* bytes: 16-bit offsets never leave it */
	d.seg_32bit = big;
	d.contents = contents;
	d.read_exec_only = 0;
	d.limit_in_pages = 0;
	d.seg_not_present = 0;
	d.useable = 1;
	if (syscall(SYS_modify_ldt, 1, &d, sizeof d) != 0) {
		perror("host-oracle32: modify_ldt");
		exit(2);
	}
}

static int run32(const char *code_path, const char *data_path, const char *out_path)
{
	void *area = mmap((void *) AREA, AREA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	void *code = mmap(NULL, CODE_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || code == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	code_base = (uintptr_t) code;
	read_file(code_path, code, CODE_SIZE);
	if (read_file(data_path, (void *) DATA, DATA_SIZE) != DATA_SIZE) {
		fprintf(stderr, "host-oracle32: %s must hold %u bytes\n", data_path, DATA_SIZE);
		return 2;
	}
	__asm__ volatile("pushal\n\tcall *%0\n\tpopal" : : "r"(code) : "memory", "cc");
	write_out(out_path, (void *) RESULTS, (void *) DATA);
	return 0;
}

static int run16(const char *code_path, const char *data_path, const char *out_path, int stack_bits)
{
	uint8_t *segment = mmap(NULL, SEGMENT16_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *code = mmap(NULL, SEGMENT16_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (segment == MAP_FAILED || code == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	long size = read_file(code_path, code, SEGMENT16_SIZE + 1);
	if (size > (long) SEGMENT16_SIZE) {
		fprintf(stderr, "host-oracle32: 16-bit code must fit in 64 KiB\n");
		return 2;
	}
	if (read_file(data_path, segment + DATA16, DATA_SIZE) != DATA_SIZE) {
		fprintf(stderr, "host-oracle32: %s must hold %u bytes\n", data_path, DATA_SIZE);
		return 2;
	}
	ldt_entry(0, (uintptr_t) code, MODIFY_LDT_CONTENTS_CODE, 0);
	ldt_entry(1, (uintptr_t) segment, MODIFY_LDT_CONTENTS_DATA, stack_bits == 32);
	code_base = 0;
	uint32_t code_selector = CODE16_SELECTOR, data_selector = DATA16_SELECTOR;
	/* The far pointer (offset 0, then the selector) on the host stack: read through SS, which is still flat. */
	__asm__ volatile("pushal\n\t"
			 "push %%ds\n\t"
			 "push %%es\n\t"
			 "push %0\n\t"
			 "push $0\n\t"
			 "mov %1, %%ds\n\t"
			 "mov %1, %%es\n\t"
			 "lcall *(%%esp)\n\t"
			 "add $8, %%esp\n\t"
			 "pop %%es\n\t"
			 "pop %%ds\n\t"
			 "popal"
			 :
			 : "r"(code_selector), "r"(data_selector)
			 : "memory", "cc");
	write_out(out_path, segment + RESULTS16, segment + DATA16);
	return 0;
}

int main(int argc, char **argv)
{
	int sixteen = argc == 6 && strcmp(argv[4], "16") == 0 && (strcmp(argv[5], "16") == 0 || strcmp(argv[5], "32") == 0);
	if (argc != 4 && !sixteen) {
		fprintf(stderr, "usage: host-oracle32 CODE DATA OUT [16 STACK_BITS]\n");
		return 2;
	}
	catch_faults();
	int status = sixteen ? run16(argv[1], argv[2], argv[3], atoi(argv[5])) : run32(argv[1], argv[2], argv[3]);
	if (status == 0) {
		puts("exit");
	}
	return status;
}
