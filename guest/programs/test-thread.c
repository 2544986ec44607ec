/*
 * test-thread -- pthreads and futexes: 4 threads incrementing a counter with
 * atomics (lock xadd, lock cmpxchg loops) and under a mutex, condition
 * variables (a bounded producer/consumer queue), pthread_join results,
 * thread-local storage (FS base per thread), raw futex wait/wake via
 * syscall(SYS_futex), semaphores and a barrier.
 */
#include "vgtest.h"

#include <pthread.h>
#include <semaphore.h>
#include <sys/syscall.h>

#define NTHREADS 4
#define ITERS 20000

static uint64_t atomic_counter;
static uint64_t cas_counter;
static uint64_t mutex_counter;
static pthread_mutex_t mtx = PTHREAD_MUTEX_INITIALIZER;

static void *atomic_worker(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ITERS; i++) {
		uint64_t old;

		__atomic_fetch_add(&atomic_counter, 1, __ATOMIC_SEQ_CST);
		/* a cmpxchg loop, as lock-free code does it */
		old = __atomic_load_n(&cas_counter, __ATOMIC_RELAXED);
		while (!__atomic_compare_exchange_n(&cas_counter, &old, old + 3, 1, __ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			;
	}
	return NULL;
}

static void *mutex_worker(void *arg)
{
	int i;

	(void)arg;
	for (i = 0; i < ITERS; i++) {
		pthread_mutex_lock(&mtx);
		/* a non-atomic read-modify-write that only the mutex protects */
		{
			volatile uint64_t *p = &mutex_counter;
			uint64_t v = *p;
			if ((i & 255) == 0)
				sched_yield(); /* invite a preemption inside the critical section */
			*p = v + 1;
		}
		pthread_mutex_unlock(&mtx);
	}
	return NULL;
}

static int check_atomic_counter(struct ctx *c)
{
	pthread_t t[NTHREADS];
	int i, r;

	for (i = 0; i < NTHREADS; i++)
		if ((r = pthread_create(&t[i], NULL, atomic_worker, NULL)) != 0)
			return fail(c, "pthread_create: %s", strerror(r));
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	EXPECT_U64("lock xadd counter", atomic_counter, (uint64_t)NTHREADS * ITERS);
	EXPECT_U64("lock cmpxchg counter", cas_counter, (uint64_t)NTHREADS * ITERS * 3);
	return 0;
}

static int check_mutex_counter(struct ctx *c)
{
	pthread_t t[NTHREADS];
	int i, r;

	for (i = 0; i < NTHREADS; i++)
		if ((r = pthread_create(&t[i], NULL, mutex_worker, NULL)) != 0)
			return fail(c, "pthread_create: %s", strerror(r));
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	EXPECT_U64("mutex-protected counter", mutex_counter, (uint64_t)NTHREADS * ITERS);
	EXPECT_I64("trylock on a free mutex", pthread_mutex_trylock(&mtx), 0);
	EXPECT_I64("trylock on a held mutex", pthread_mutex_trylock(&mtx), EBUSY);
	pthread_mutex_unlock(&mtx);
	return 0;
}

/* Bounded queue with two condition variables: 2 producers, 2 consumers. */
#define QCAP 8
#define ITEMS 2000
static struct {
	pthread_mutex_t m;
	pthread_cond_t not_empty, not_full;
	int buf[QCAP], head, count, produced_done;
	long sum;
	int consumed;
} q = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, PTHREAD_COND_INITIALIZER, { 0 }, 0, 0, 0, 0, 0 };

static void *producer(void *arg)
{
	int base = (int)(intptr_t)arg, i;

	for (i = 0; i < ITEMS / 2; i++) {
		pthread_mutex_lock(&q.m);
		while (q.count == QCAP)
			pthread_cond_wait(&q.not_full, &q.m);
		q.buf[(q.head + q.count) % QCAP] = base + i;
		q.count++;
		pthread_cond_signal(&q.not_empty);
		pthread_mutex_unlock(&q.m);
	}
	pthread_mutex_lock(&q.m);
	q.produced_done++;
	pthread_cond_broadcast(&q.not_empty);
	pthread_mutex_unlock(&q.m);
	return NULL;
}

static void *consumer(void *arg)
{
	long mine = 0;

	(void)arg;
	for (;;) {
		int v;

		pthread_mutex_lock(&q.m);
		while (q.count == 0 && q.produced_done < 2)
			pthread_cond_wait(&q.not_empty, &q.m);
		if (q.count == 0) {
			pthread_mutex_unlock(&q.m);
			break;
		}
		v = q.buf[q.head];
		q.head = (q.head + 1) % QCAP;
		q.count--;
		q.sum += v;
		q.consumed++;
		mine++;
		pthread_cond_signal(&q.not_full);
		pthread_mutex_unlock(&q.m);
	}
	return (void *)mine;
}

static int check_condvar_queue(struct ctx *c)
{
	pthread_t p[2], k[2];
	void *r0, *r1;

	pthread_create(&p[0], NULL, producer, (void *)(intptr_t)0);
	pthread_create(&p[1], NULL, producer, (void *)(intptr_t)100000);
	pthread_create(&k[0], NULL, consumer, NULL);
	pthread_create(&k[1], NULL, consumer, NULL);
	pthread_join(p[0], NULL);
	pthread_join(p[1], NULL);
	pthread_join(k[0], &r0);
	pthread_join(k[1], &r1);
	EXPECT_I64("items consumed", q.consumed, ITEMS);
	/* 2 * (0 + 1 + ... + 999) + 1000 * 100000 */
	EXPECT_I64("sum of items", q.sum, 2 * 499500 + 100000000);
	EXPECT_I64("consumers' own counts add up", (long)(intptr_t)r0 + (long)(intptr_t)r1, ITEMS);
	/* timed wait that times out */
	{
		struct timespec ts;
		int r;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 20000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_mutex_lock(&q.m);
		r = pthread_cond_timedwait(&q.not_empty, &q.m, &ts);
		pthread_mutex_unlock(&q.m);
		EXPECT_I64("pthread_cond_timedwait times out", r, ETIMEDOUT);
	}
	return 0;
}

static __thread uint64_t tls_value = 7;
static __thread char tls_buf[64];

static void *join_worker(void *arg)
{
	intptr_t i = (intptr_t)arg;
	uint64_t fs;

	/* each thread has its own TLS block (its own FS base) */
	if (tls_value != 7)
		return (void *)(intptr_t)-1;
	tls_value = 1000 + (uint64_t)i;
	snprintf(tls_buf, sizeof(tls_buf), "thread-%d", (int)i);
	__asm__ volatile("mov %%fs:0, %0" : "=r"(fs)); /* the TCB's self pointer */
	if (fs != (uint64_t)pthread_self())
		return (void *)(intptr_t)-2;
	sched_yield();
	if (tls_value != 1000 + (uint64_t)i || strcmp(tls_buf, "") == 0 || tls_buf[7] != (char)('0' + i))
		return (void *)(intptr_t)-3;
	return (void *)(i * i + 1);
}

static int check_join_results_tls(struct ctx *c)
{
	pthread_t t[NTHREADS];
	intptr_t i;
	void *r;

	tls_value = 99;
	for (i = 0; i < NTHREADS; i++)
		if (pthread_create(&t[i], NULL, join_worker, (void *)i) != 0)
			return fail(c, "pthread_create failed");
	for (i = 0; i < NTHREADS; i++) {
		if (pthread_join(t[i], &r) != 0)
			return fail(c, "pthread_join failed");
		if ((intptr_t)r != i * i + 1)
			return fail(c, "thread %d returned %ld, want %ld (negative: TLS/FS check failed)", (int)i,
				    (long)(intptr_t)r, (long)(i * i + 1));
	}
	EXPECT_I64("main thread's TLS untouched", tls_value, 99);
	return 0;
}

/* ------------------------------------------------------------ raw futex */

/* From <linux/futex.h> (musl-gcc does not see the kernel headers). */
#define FUTEX_WAIT_PRIVATE (0 | 128)
#define FUTEX_WAKE_PRIVATE (1 | 128)

static long futex(uint32_t *uaddr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, uaddr, op, val, ts, NULL, 0);
}

static uint32_t fword;
static volatile int waiter_state;

static void *futex_waiter(void *arg)
{
	long r;

	(void)arg;
	waiter_state = 1;
	while (__atomic_load_n(&fword, __ATOMIC_SEQ_CST) == 0) {
		r = futex(&fword, FUTEX_WAIT_PRIVATE, 0, NULL);
		if (r < 0 && errno != EAGAIN && errno != EINTR)
			return (void *)(intptr_t)-errno;
	}
	waiter_state = 2;
	return (void *)(intptr_t)__atomic_load_n(&fword, __ATOMIC_SEQ_CST);
}

static int check_raw_futex(struct ctx *c)
{
	uint32_t w = 5;
	struct timespec ts = { 0, 30000000 };
	int64_t t0, dt;
	pthread_t t;
	void *r;
	long woken = 0;
	int tries;

	errno = 0;
	EXPECT_TRUE("FUTEX_WAIT with a different value: EAGAIN", futex(&w, FUTEX_WAIT_PRIVATE, 6, NULL) < 0 && errno == EAGAIN);
	t0 = now_ns();
	errno = 0;
	EXPECT_TRUE("FUTEX_WAIT 30 ms: ETIMEDOUT", futex(&w, FUTEX_WAIT_PRIVATE, 5, &ts) < 0 && errno == ETIMEDOUT);
	dt = now_ns() - t0;
	EXPECT_TRUE("FUTEX_WAIT timeout took >= 29 ms", dt >= 29000000);
	EXPECT_I64("FUTEX_WAKE with no waiters wakes 0", futex(&w, FUTEX_WAKE_PRIVATE, 1, NULL), 0);

	fword = 0;
	if (pthread_create(&t, NULL, futex_waiter, NULL) != 0)
		return fail(c, "pthread_create failed");
	/* Wake until the waiter is really woken by us: FUTEX_WAKE returns 1
	 * once it sleeps in the kernel. */
	for (tries = 0; tries < 5000 && woken == 0; tries++) {
		struct timespec nap = { 0, 1000000 };
		nanosleep(&nap, NULL);
		if (waiter_state != 1)
			continue;
		__atomic_store_n(&fword, 0, __ATOMIC_SEQ_CST);
		woken = futex(&fword, FUTEX_WAKE_PRIVATE, 1, NULL);
		if (woken == 0)
			continue;
		/* it woke, saw 0 and sleeps again; now set the word and wake for real */
	}
	EXPECT_I64("FUTEX_WAKE woke the sleeping waiter", woken, 1);
	__atomic_store_n(&fword, 42, __ATOMIC_SEQ_CST);
	futex(&fword, FUTEX_WAKE_PRIVATE, 1, NULL);
	pthread_join(t, &r);
	EXPECT_I64("waiter saw the new value", (intptr_t)r, 42);
	EXPECT_I64("waiter finished", waiter_state, 2);
	return 0;
}

static sem_t sem;
static pthread_barrier_t barrier;
static volatile int after_barrier;

static void *sem_barrier_worker(void *arg)
{
	(void)arg;
	sem_post(&sem);
	pthread_barrier_wait(&barrier);
	__atomic_fetch_add(&after_barrier, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static int check_semaphore_barrier(struct ctx *c)
{
	pthread_t t[NTHREADS];
	int i, v;

	EXPECT_OK("sem_init", sem_init(&sem, 0, 0));
	EXPECT_I64("pthread_barrier_init", pthread_barrier_init(&barrier, NULL, NTHREADS + 1), 0);
	for (i = 0; i < NTHREADS; i++)
		pthread_create(&t[i], NULL, sem_barrier_worker, NULL);
	for (i = 0; i < NTHREADS; i++)
		EXPECT_OK("sem_wait", sem_wait(&sem));
	sem_getvalue(&sem, &v);
	EXPECT_I64("semaphore drained", v, 0);
	EXPECT_I64("nobody passed the barrier yet", after_barrier, 0);
	pthread_barrier_wait(&barrier);
	for (i = 0; i < NTHREADS; i++)
		pthread_join(t[i], NULL);
	EXPECT_I64("all passed the barrier", after_barrier, NTHREADS);
	errno = 0;
	EXPECT_TRUE("sem_trywait on 0: EAGAIN", sem_trywait(&sem) < 0 && errno == EAGAIN);
	return 0;
}

static const struct check checks[] = {
	{ "atomic-counter-4-threads", check_atomic_counter },
	{ "mutex-counter-4-threads", check_mutex_counter },
	{ "condvar-queue", check_condvar_queue },
	{ "join-results-tls", check_join_results_tls },
	{ "raw-futex-wait-wake", check_raw_futex },
	{ "semaphore-barrier", check_semaphore_barrier },
};

VGTEST_MAIN("test-thread", checks)
