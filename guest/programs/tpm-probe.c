/*
 * tpm-probe [DEVICE] -- talks to the guest's TPM 2.0 through its character device (default /dev/tpm0)
 * with raw commands, as a program without TSS libraries does, and prints what the host's test checks:
 *
 *   TPM-RANDOM <hex>               TPM2_GetRandom(16): the bytes returned (16 expected)
 *   TPM-RANDOM2 <hex>              a second TPM2_GetRandom(16): must differ from the first
 *   TPM-PCR <n> <hex>              TPM2_PCR_Read, SHA-256 bank, PCRs 0, 7, 8, 9 and 10 (one command)
 *   TPM-ERROR <what> <details>     anything that failed; the exit status is then 1
 *
 * Responses are checked for their header (tag, size, response code) before they are printed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int fd;

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void hex(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		printf("%02x", p[i]);
}

/* Sends one command and reads its response; returns the response's length or -1 (reported). */
static int transact(const char *what, const unsigned char *cmd, size_t len, unsigned char *rsp, size_t cap)
{
	ssize_t n = write(fd, cmd, len);
	if (n != (ssize_t)len) {
		printf("TPM-ERROR %s write: %s\n", what, n < 0 ? strerror(errno) : "short");
		return -1;
	}
	n = read(fd, rsp, cap);
	if (n < 10) {
		printf("TPM-ERROR %s read: %s\n", what, n < 0 ? strerror(errno) : "short");
		return -1;
	}
	if (be32(rsp + 2) != (uint32_t)n || be32(rsp + 6) != 0) {
		printf("TPM-ERROR %s response size %u (read %zd) code 0x%x\n", what, be32(rsp + 2), n, be32(rsp + 6));
		return -1;
	}
	return (int)n;
}

static int get_random(const char *label)
{
	static const unsigned char cmd[] = {0x80, 0x01, 0, 0, 0, 0x0c, 0, 0, 0x01, 0x7b, 0, 16};
	unsigned char rsp[64];
	int n = transact(label, cmd, sizeof cmd, rsp, sizeof rsp);
	if (n < 0)
		return 1;
	uint16_t size = be16(rsp + 10);
	if (size != 16 || n != 12 + size) {
		printf("TPM-ERROR %s returned %u bytes\n", label, size);
		return 1;
	}
	printf("%s ", label);
	hex(rsp + 12, size);
	printf("\n");
	return 0;
}

static int pcr_read(void)
{
	/* PCRs 0, 7 (bitmap byte 0: 0x81), 8, 9, 10 (byte 1: 0x07) of the SHA-256 bank. */
	static const unsigned char cmd[] = {0x80, 0x01, 0, 0, 0, 0x14, 0, 0, 0x01, 0x7e,
					    0, 0, 0, 1, 0, 0x0b, 3, 0x81, 0x07, 0x00};
	static const int order[] = {0, 7, 8, 9, 10};
	unsigned char rsp[512];
	int n = transact("TPM-PCR", cmd, sizeof cmd, rsp, sizeof rsp);
	if (n < 0)
		return 1;
	/* header, update counter, one selection (4 + 2 + 1 + 3 bytes), then the digest list */
	size_t at = 10 + 4 + 4 + 2 + 1 + 3;
	uint32_t count = be32(rsp + at);
	at += 4;
	if (count != 5) {
		printf("TPM-ERROR TPM-PCR returned %u digests\n", count);
		return 1;
	}
	for (uint32_t i = 0; i < count; i++) {
		uint16_t size = be16(rsp + at);
		if (size != 32 || at + 2 + size > (size_t)n) {
			printf("TPM-ERROR TPM-PCR digest %u has %u bytes\n", i, size);
			return 1;
		}
		printf("TPM-PCR %d ", order[i]);
		hex(rsp + at + 2, size);
		printf("\n");
		at += 2 + size;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/dev/tpm0";
	fd = open(path, O_RDWR);
	if (fd < 0) {
		printf("TPM-ERROR open %s: %s\n", path, strerror(errno));
		return 1;
	}
	int failed = get_random("TPM-RANDOM") | get_random("TPM-RANDOM2") | pcr_read();
	close(fd);
	return failed;
}
