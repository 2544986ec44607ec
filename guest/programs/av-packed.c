/*
 * av-packed -- the toy packer vmguard's antivirus tests use in place of UPX (not in Debian 12): what a
 * packed program does at run time, in miniature. The payload is av-marked's signed code (see av-marked.c),
 * stored XOR-encoded, so the file on disk does not carry the signature; at run time it is decoded into a
 * fresh anonymous read-write mapping, switched to read-execute (never writable and executable at once, as
 * UPX does it) and called.
 *
 * Prints "AV-PACKED-DECODED" once the payload is in memory and "AV-PACKED-RAN value=<hex>" after it ran:
 * a scanner that catches the unpacked code leaves only the first line.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#define KEY 0xa5
#define E(b) ((unsigned char)((b) ^ KEY))

/* movabs $"VMGAVTST", %rax; movabs $"MARKED01", %rcx; xor %rcx, %rax; ret -- encoded at compile time. */
static const unsigned char encoded[] = {
	E(0x48), E(0xb8), E(0x56), E(0x4d), E(0x47), E(0x41), E(0x56), E(0x54), E(0x53), E(0x54),
	E(0x48), E(0xb9), E(0x4d), E(0x41), E(0x52), E(0x4b), E(0x45), E(0x44), E(0x30), E(0x31),
	E(0x48), E(0x31), E(0xc8), E(0xc3),
};

int main(void)
{
	unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		perror("av-packed: mmap");
		return 2;
	}
	for (size_t i = 0; i < sizeof encoded; i++)
		code[i] = encoded[i] ^ KEY;
	if (mprotect(code, 4096, PROT_READ | PROT_EXEC) != 0) {
		perror("av-packed: mprotect");
		return 2;
	}
	printf("AV-PACKED-DECODED\n");
	fflush(stdout);
	unsigned long (*payload)(void) = (unsigned long (*)(void))code;
	unsigned long value = payload();
	printf("AV-PACKED-RAN value=%lx\n", value);
	return 0;
}
