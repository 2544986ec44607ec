/*
 * ud-flood -- executes thousands of distinct invalid instruction encodings, catching the SIGILL of each:
 * what a guest does to flood a VMM that logs every #UD it raises. vmguard must stay quiet and bounded
 * (a rate-limited log, a bounded table of encodings seen) while the guest carries on.
 *
 * Encodings: up to two prefixes from a set of ten, then one of twenty opcodes that are invalid in 64-bit
 * mode, so every pattern is distinct and none is UD2 (which vmguard never reports: it is deliberate).
 * Prints "ud-flood: N invalid encodings executed, N SIGILL" and exits 0 when every one raised SIGILL.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static sigjmp_buf back;
static volatile unsigned long sigills;

static void on_sigill(int sig) {
	(void)sig;
	sigills++;
	siglongjmp(back, 1);
}

int main(void) {
	static const unsigned char prefixes[] = { 0x66, 0xf2, 0xf3, 0x2e, 0x3e, 0x26, 0x64, 0x65, 0x36, 0x67 };
	static const unsigned char opcodes[] = { 0x06, 0x07, 0x0e, 0x16, 0x17, 0x1e, 0x1f, 0x27, 0x2f, 0x37,
		0x3f, 0x60, 0x61, 0xd4, 0xd5, 0xd6, 0xea, 0x9a, 0x82, 0xce };
	unsigned char *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (code == MAP_FAILED) {
		perror("ud-flood: mmap");
		return 2;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_sigill;
	sigaction(SIGILL, &sa, NULL);

	unsigned long executed = 0;
	const int np = sizeof prefixes, no = sizeof opcodes;
	for (int first = -1; first < np; first++) {
		for (int second = -1; second < np; second++) {
			if (first < 0 && second >= 0)
				continue; /* one prefix is "first only" */
			for (int op = 0; op < no; op++) {
				int n = 0;
				if (first >= 0)
					code[n++] = prefixes[first];
				if (second >= 0)
					code[n++] = prefixes[second];
				code[n++] = opcodes[op];
				code[n++] = 0xc3; /* ret, never reached */
				__builtin___clear_cache((char *)code, (char *)code + n);
				executed++;
				if (sigsetjmp(back, 1) == 0)
					((void (*)(void))code)();
			}
		}
	}
	printf("ud-flood: %lu invalid encodings executed, %lu SIGILL\n", executed, sigills);
	return sigills == executed ? 0 : 1;
}
