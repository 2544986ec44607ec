/*
 * host-oracle32: runs a block of 32-bit code on the host CPU, in a 32-bit process (gcc -m32), for
 * LegacyModeDifferentialTest: its results are what the interpreter's must be, on any x86-64 host with no
 * KVM. Usage: host-oracle32 CODE DATA OUT. The code's data area is mapped at the fixed addresses it uses
 * (0x1c0000 to 0x200000: its stack, result slots and data), DATA copied to 0x1f0000; the code is called
 * with every register saved (it keeps its own stack and returns through the stack pointer it stored at
 * 0x1dfff0). OUT gets the result slots (0x1e0000, 4000 bytes) and the data area (0x1f0000, 512 bytes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define AREA 0x1c0000u
#define AREA_SIZE 0x40000u
#define RESULTS 0x1e0000u
#define RESULTS_SIZE 4000u
#define DATA 0x1f0000u
#define DATA_SIZE 512u

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

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: host-oracle32 CODE DATA OUT\n");
		return 2;
	}
	void *area = mmap((void *) AREA, AREA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	void *code = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED || code == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	read_file(argv[1], code, 1 << 20);
	if (read_file(argv[2], (void *) DATA, DATA_SIZE) != DATA_SIZE) {
		fprintf(stderr, "host-oracle32: %s must hold %u bytes\n", argv[2], DATA_SIZE);
		return 2;
	}
	__asm__ volatile("pushal\n\tcall *%0\n\tpopal" : : "r"(code) : "memory", "cc");
	FILE *out = fopen(argv[3], "wb");
	if (!out || fwrite((void *) RESULTS, 1, RESULTS_SIZE, out) != RESULTS_SIZE
	    || fwrite((void *) DATA, 1, DATA_SIZE, out) != DATA_SIZE || fclose(out) != 0) {
		perror(argv[3]);
		return 2;
	}
	return 0;
}
