/*
 * smp-stress -- what guests rely on when several CPUs share memory, exercised by several threads at once
 * (issue 12: run with 1 vCPU today, with 2 and 4 once vmguard has them). Each part checks its own result:
 *
 *   atomics    every thread adds with LOCK XADD, CMPXCHG loops and XCHG; the totals must be exact
 *   spinlock   a test-and-set lock (XCHG) guards a plain counter; no increment may be lost
 *   ring       single-producer/single-consumer ring with acquire/release ordering; every message arrives,
 *              in order, with its payload written before its index
 *   seqlock    a writer updates two words under a sequence count; readers never see them torn
 *   futex      two threads hand a token back and forth with FUTEX_WAIT/FUTEX_WAKE
 *   fork       the process forks children while the other threads keep working; each child's status comes back
 *
 * Prints "smp-stress: PASS <part>" or "smp-stress: FAIL <part> (...)" per part, then
 * "smp-stress: N passed, M failed" (exit 1 if any failed). `smp-stress THREADS ROUNDS` sizes the run
 * (default 4 threads, 20000 rounds).
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* From <linux/futex.h>, which musl's toolchain does not carry. */
#define FUTEX_WAIT_PRIVATE (0 | 128)
#define FUTEX_WAKE_PRIVATE (1 | 128)

#define MAX_THREADS 64
#define RING_SIZE 64

static int threads = 4;
static long rounds = 20000;
static int passed, failed;

static void report(const char *part, int ok, const char *detail)
{
	if (ok) {
		printf("smp-stress: PASS %s\n", part);
		passed++;
	} else {
		printf("smp-stress: FAIL %s (%s)\n", part, detail);
		failed++;
	}
	fflush(stdout);
}

static void run_threads(void *(*body)(void *), int count)
{
	pthread_t ids[MAX_THREADS];
	for (long i = 0; i < count; i++)
		if (pthread_create(&ids[i], NULL, body, (void *)i) != 0) {
			perror("smp-stress: pthread_create");
			exit(2);
		}
	for (int i = 0; i < count; i++)
		pthread_join(ids[i], NULL);
}

/* ---- atomics ---- */
static uint64_t xadd_total, cas_total, xchg_sum;

static void *atomics_body(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		__atomic_fetch_add(&xadd_total, 1, __ATOMIC_SEQ_CST);
		uint64_t seen = __atomic_load_n(&cas_total, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(&cas_total, &seen, seen + 3, 0, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			;
		/* XCHG takes a value out and puts the next one in: what each thread takes out, summed, plus what is
		   left at the end, is the sum of everything put in. */
		uint64_t out = __atomic_exchange_n(&xchg_sum, 0, __ATOMIC_SEQ_CST);
		__atomic_fetch_add(&xchg_sum, out + 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/* ---- spinlock ---- */
static int lock_word;
static volatile long guarded;

static void *spinlock_body(void *arg)
{
	(void)arg;
	for (long i = 0; i < rounds; i++) {
		while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE))
			while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED))
				__builtin_ia32_pause();
		guarded = guarded + 1;
		__atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
	}
	return NULL;
}

/* ---- ring ---- */
static struct { uint64_t sequence, check; } ring[RING_SIZE];
static uint64_t ring_head, ring_tail; /* head: next to write (producer); tail: next to read (consumer) */
static long ring_errors;

static void *ring_body(void *arg)
{
	long producer = (long)arg == 0;
	for (uint64_t n = 0; n < (uint64_t)rounds; n++) {
		if (producer) {
			while (n - __atomic_load_n(&ring_tail, __ATOMIC_ACQUIRE) >= RING_SIZE)
				sched_yield();
			ring[n % RING_SIZE].sequence = n;
			ring[n % RING_SIZE].check = n * 2654435761u;
			__atomic_store_n(&ring_head, n + 1, __ATOMIC_RELEASE);
		} else {
			while (__atomic_load_n(&ring_head, __ATOMIC_ACQUIRE) <= n)
				sched_yield();
			if (ring[n % RING_SIZE].sequence != n || ring[n % RING_SIZE].check != n * 2654435761u)
				ring_errors++;
			__atomic_store_n(&ring_tail, n + 1, __ATOMIC_RELEASE);
		}
	}
	return NULL;
}

/* ---- seqlock ---- */
static unsigned seq;
static volatile uint64_t word_a, word_b;
static int writer_done;
static long torn;

static void *seqlock_body(void *arg)
{
	if ((long)arg == 0) {
		for (uint64_t i = 1; i <= (uint64_t)rounds; i++) {
			__atomic_fetch_add(&seq, 1, __ATOMIC_ACQ_REL); /* odd: writing */
			word_a = i;
			word_b = ~i;
			__atomic_fetch_add(&seq, 1, __ATOMIC_ACQ_REL); /* even: done */
			if (i % 64 == 0)
				sched_yield();
		}
		__atomic_store_n(&writer_done, 1, __ATOMIC_RELEASE);
		return NULL;
	}
	while (!__atomic_load_n(&writer_done, __ATOMIC_ACQUIRE)) {
		unsigned before, after;
		uint64_t a, b;
		do {
			before = __atomic_load_n(&seq, __ATOMIC_ACQUIRE);
			a = word_a;
			b = word_b;
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			after = __atomic_load_n(&seq, __ATOMIC_RELAXED);
		} while ((before & 1) || before != after);
		if (a != ~b && !(a == 0 && b == 0))
			__atomic_fetch_add(&torn, 1, __ATOMIC_RELAXED);
		sched_yield();
	}
	return NULL;
}

/* ---- futex ---- */
static int token; /* whose turn: 0 or 1 */
static long handoffs;

static long futex(int *address, int op, int value)
{
	return syscall(SYS_futex, address, op, value, NULL, NULL, 0);
}

static void *futex_body(void *arg)
{
	int me = (int)(long)arg;
	long turns = rounds / 100 + 10;
	for (long i = 0; i < turns; i++) {
		int now;
		while ((now = __atomic_load_n(&token, __ATOMIC_ACQUIRE)) != me)
			futex(&token, FUTEX_WAIT_PRIVATE, now);
		__atomic_fetch_add(&handoffs, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&token, 1 - me, __ATOMIC_RELEASE);
		futex(&token, FUTEX_WAKE_PRIVATE, 1);
	}
	return NULL;
}

/* ---- fork under load ---- */
static int load_stop;
static uint64_t load_work;

static void *load_body(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&load_stop, __ATOMIC_ACQUIRE))
		__atomic_fetch_add(&load_work, 1, __ATOMIC_RELAXED);
	return NULL;
}

int main(int argc, char **argv)
{
	char detail[160];
	if (argc > 1)
		threads = atoi(argv[1]);
	if (argc > 2)
		rounds = atol(argv[2]);
	if (threads < 2 || threads > MAX_THREADS || rounds < 100) {
		fprintf(stderr, "usage: smp-stress [THREADS 2-%d] [ROUNDS >= 100]\n", MAX_THREADS);
		return 2;
	}
	printf("smp-stress: %d threads, %ld rounds, %ld CPUs online\n", threads, rounds, sysconf(_SC_NPROCESSORS_ONLN));

	run_threads(atomics_body, threads);
	uint64_t expected = (uint64_t)threads * rounds;
	snprintf(detail, sizeof detail, "xadd %llu cas %llu xchg %llu, expected %llu/%llu/%llu",
		 (unsigned long long)xadd_total, (unsigned long long)cas_total, (unsigned long long)xchg_sum,
		 (unsigned long long)expected, (unsigned long long)(3 * expected), (unsigned long long)expected);
	report("atomics", xadd_total == expected && cas_total == 3 * expected && xchg_sum == expected, detail);

	run_threads(spinlock_body, threads);
	snprintf(detail, sizeof detail, "%ld, expected %llu", guarded, (unsigned long long)expected);
	report("spinlock", (uint64_t)guarded == expected, detail);

	run_threads(ring_body, 2);
	snprintf(detail, sizeof detail, "%ld bad messages of %ld", ring_errors, rounds);
	report("ring", ring_errors == 0 && ring_tail == (uint64_t)rounds, detail);

	run_threads(seqlock_body, threads);
	snprintf(detail, sizeof detail, "%ld torn reads", torn);
	report("seqlock", torn == 0 && word_a == (uint64_t)rounds, detail);

	run_threads(futex_body, 2);
	snprintf(detail, sizeof detail, "%ld hand-offs, expected %ld", handoffs, 2 * (rounds / 100 + 10));
	report("futex", handoffs == 2 * (rounds / 100 + 10), detail);

	pthread_t loaders[MAX_THREADS];
	for (long i = 0; i < threads - 1; i++)
		pthread_create(&loaders[i], NULL, load_body, (void *)i);
	int bad_children = 0, children = 20;
	for (int i = 0; i < children; i++) {
		pid_t child = fork();
		if (child == 0)
			_exit(i + 1);
		int status;
		if (child < 0 || waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != i + 1)
			bad_children++;
	}
	__atomic_store_n(&load_stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < threads - 1; i++)
		pthread_join(loaders[i], NULL);
	snprintf(detail, sizeof detail, "%d of %d children came back wrong", bad_children, children);
	report("fork", bad_children == 0 && load_work > 0, detail);

	printf("smp-stress: %d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
