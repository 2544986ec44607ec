/*
 * netrr -- TCP request/response transactions, for the interference benchmark (issue 17)
 *
 *   netrr -s PORT                  serve: answer each 1-byte request with 1 byte, any number of clients
 *                                  one after another, forever
 *   netrr -c ADDR PORT SECONDS     measure: send a byte, wait for the answer, again, for SECONDS; prints
 *       "netrr: N transactions in S s = T tps, latency us min M median D p99 P max X"
 *
 * Like netperf's TCP_RR with 1-byte messages: each transaction is one round trip through both guests'
 * network stacks and both VMMs. The times are the guest's own clock (CLOCK_MONOTONIC).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 200000

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int serve(int port)
{
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_ANY)};
	if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    bind(s, (struct sockaddr *)&at, sizeof at) < 0 || listen(s, 4) < 0) {
		perror("netrr: listen");
		return 1;
	}
	for (;;) {
		int c = accept(s, NULL, NULL);
		char byte;
		if (c < 0)
			continue;
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		while (read(c, &byte, 1) == 1 && write(c, &byte, 1) == 1)
			;
		close(c);
	}
}

static int measure(const char *addr, int port, double seconds)
{
	static double samples[MAX_SAMPLES];
	int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
	long n = 0;
	struct sockaddr_in at = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, addr, &at.sin_addr) != 1) {
		fprintf(stderr, "netrr: bad address %s\n", addr);
		return 2;
	}
	if (s < 0 || connect(s, (struct sockaddr *)&at, sizeof at) < 0) {
		perror("netrr: connect");
		return 1;
	}
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	double start = now_s(), end = start + seconds, t = start;
	while (t < end) {
		char byte = (char)n, back;
		if (write(s, &byte, 1) != 1 || read(s, &back, 1) != 1 || back != byte) {
			fprintf(stderr, "netrr: transaction %ld failed\n", n);
			return 1;
		}
		double after = now_s();
		if (n < MAX_SAMPLES)
			samples[n] = (after - t) * 1e6;
		n++;
		t = after;
	}
	close(s);
	long kept = n < MAX_SAMPLES ? n : MAX_SAMPLES;
	if (kept == 0) {
		fprintf(stderr, "netrr: no transaction completed\n");
		return 1;
	}
	qsort(samples, kept, sizeof samples[0], cmp_double);
	printf("netrr: %ld transactions in %.3f s = %.1f tps, latency us min %.0f median %.0f p99 %.0f max %.0f\n", n,
	       t - start, n / (t - start), samples[0], samples[kept / 2], samples[(long)(kept * 0.99)], samples[kept - 1]);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "-s") == 0)
		return serve(atoi(argv[2]));
	if (argc == 5 && strcmp(argv[1], "-c") == 0) {
		double seconds = atof(argv[4]);
		if (seconds <= 0 || seconds > 3600) {
			fprintf(stderr, "netrr: SECONDS must be in (0, 3600]\n");
			return 2;
		}
		return measure(argv[2], atoi(argv[3]), seconds);
	}
	fprintf(stderr, "usage: netrr -s PORT | netrr -c ADDR PORT SECONDS\n");
	return 2;
}
