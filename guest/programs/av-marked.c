/*
 * av-marked -- a harmless program whose machine code carries a known byte signature, for vmguard's
 * antivirus tests. marked_code() below is 23 bytes that appear nowhere else in the guest image:
 *
 *     48 b8 56 4d 47 41 56 54 53 54    movabs $"VMGAVTST", %rax
 *     48 b9 4d 41 52 4b 45 44 30 31    movabs $"MARKED01", %rcx
 *     48 31 c8                         xor    %rcx, %rax
 *     c3                               ret
 *
 * It runs that code first and only then prints "AV-MARKED-RAN value=<hex>", so a scanner that stops the
 * code before it runs leaves no line behind. The same bytes, XOR-encoded, are av-packed's payload.
 * `av-marked linger` then stays alive for 3 s (for scanners that look periodically, not before execution).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

unsigned long marked_code(void);

__asm__(".text\n"
        ".globl marked_code\n"
        ".type marked_code, @function\n"
        "marked_code:\n"
        "  movabs $0x5453545641474d56, %rax\n"
        "  movabs $0x313044454b52414d, %rcx\n"
        "  xor %rcx, %rax\n"
        "  ret\n"
        ".size marked_code, . - marked_code\n");

int main(int argc, char **argv)
{
	unsigned long value = marked_code();
	printf("AV-MARKED-RAN value=%lx\n", value);
	if (argc > 1 && strcmp(argv[1], "linger") == 0) {
		fflush(stdout);
		sleep(3);
	}
	return 0;
}
