/*
 * netfeatures IFNAME -- what `ethtool -k IFNAME` shows of the offloads vmguard's
 * e1000 offers, without ethtool (busybox has none): the legacy SIOCETHTOOL
 * get commands, one per feature, and the device counters Linux keeps.
 * Run by /vmguard/scripts/e1000-send and e1000-serve.
 *
 * Prints one line per feature, as ethtool -k does:
 *   rx-checksumming: on
 *   tx-checksumming: on
 *   scatter-gather: on
 *   tcp-segmentation-offload: on
 * Exit status: 0 when every query answered, 1 otherwise.
 */
#include <net/if.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

/*
 * From the kernel's uapi <linux/sockios.h> and <linux/ethtool.h>, which musl's
 * static toolchain does not ship.
 */
#define SIOCETHTOOL 0x8946
#define ETHTOOL_GRXCSUM 0x14
#define ETHTOOL_GTXCSUM 0x16
#define ETHTOOL_GSG 0x18
#define ETHTOOL_GTSO 0x1e

struct ethtool_value {
	uint32_t cmd;
	uint32_t data;
};

static int query(int fd, const char *ifname, unsigned cmd, const char *label)
{
	struct ethtool_value value = { .cmd = cmd };
	struct ifreq ifr;
	memset(&ifr, 0, sizeof(ifr));
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ifr.ifr_data = (char *)&value;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0) {
		printf("%s: error\n", label);
		return 1;
	}
	printf("%s: %s\n", label, value.data ? "on" : "off");
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: netfeatures IFNAME\n");
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0) {
		perror("socket");
		return 1;
	}
	int failed = 0;
	failed |= query(fd, argv[1], ETHTOOL_GRXCSUM, "rx-checksumming");
	failed |= query(fd, argv[1], ETHTOOL_GTXCSUM, "tx-checksumming");
	failed |= query(fd, argv[1], ETHTOOL_GSG, "scatter-gather");
	failed |= query(fd, argv[1], ETHTOOL_GTSO, "tcp-segmentation-offload");
	close(fd);
	return failed;
}
