/*
 * vmguard-exit STATUS -- power the guest off, reporting STATUS (0..255) to the VMM.
 *
 * Clean power-off path used by /init:
 *   1. sync() so nothing written inside the guest is lost;
 *   2. ioperm(0xf4, 1, 1) and outb(STATUS, 0xf4): vmguard's exit device.
 *      QEMU's `-device isa-debug-exit,iobase=0xf4,iosize=1` sits on the same
 *      port (QEMU then exits with (STATUS << 1) | 1), so the same guest image
 *      runs under both;
 *   3. if the write returns (the VMM has no exit device), fall back to
 *      reboot(RB_POWER_OFF). The status is lost in that case.
 *
 * Needs root (CAP_SYS_RAWIO for ioperm, CAP_SYS_BOOT for reboot) and a kernel
 * with CONFIG_X86_IOPL_IOPERM=y.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/reboot.h>
#include <unistd.h>

#define VMGUARD_EXIT_PORT 0xf4

static int parse_status(const char *s, unsigned char *out)
{
	char *end;
	long v;

	if (s == NULL || *s == '\0')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || v > 255)
		return -1;
	*out = (unsigned char)v;
	return 0;
}

int main(int argc, char **argv)
{
	unsigned char status;

	if (argc != 2) {
		fprintf(stderr, "vmguard-exit: usage: vmguard-exit STATUS (integer 0..255)\n");
		return 2;
	}
	if (parse_status(argv[1], &status) != 0) {
		fprintf(stderr, "vmguard-exit: invalid status '%s': expected an integer 0..255\n",
			argv[1]);
		return 2;
	}

	sync();

	if (ioperm(VMGUARD_EXIT_PORT, 1, 1) == 0) {
		outb(status, VMGUARD_EXIT_PORT);
		/* Still running: nobody listens on the port. */
		fprintf(stderr, "vmguard-exit: no exit device on port 0x%x; "
			"powering off via reboot(RB_POWER_OFF) (status %u is lost)\n",
			VMGUARD_EXIT_PORT, status);
	} else {
		fprintf(stderr, "vmguard-exit: ioperm(0x%x): %s; "
			"powering off via reboot(RB_POWER_OFF) (status %u is lost)\n",
			VMGUARD_EXIT_PORT, strerror(errno), status);
	}

	sync();
	reboot(RB_POWER_OFF);
	fprintf(stderr, "vmguard-exit: reboot(RB_POWER_OFF): %s\n", strerror(errno));
	return 1;
}
