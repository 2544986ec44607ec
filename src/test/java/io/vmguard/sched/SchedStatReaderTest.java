package io.vmguard.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.sys.Libc;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SchedStatReaderTest {
    private static final long PID = ProcessHandle.current().pid();

    /** Spins until this thread has had {@code nanos} of CPU by the JVM's own clock (CLOCK_THREAD_CPUTIME_ID). */
    private static void spinFor(long nanos) {
        ThreadMXBean clock = ManagementFactory.getThreadMXBean();
        long start = clock.getCurrentThreadCpuTime();
        long giveUp = System.nanoTime() + 60_000_000_000L; // however loaded the host, not forever
        while (clock.getCurrentThreadCpuTime() - start < nanos && System.nanoTime() < giveUp) {
            Thread.onSpinWait();
        }
    }

    @Test
    void aSpinningThreadShowsItsRunTimeAndASleepingOneItsVoluntarySwitches() throws Exception {
        long[] figures = OnThread.call("vcpu5", () -> {
            HostThread me = new HostThread(Libc.gettid(), "vcpu5", ThreadRole.VCPU);
            ThreadSchedStat before = SchedStatReader.read(PID, me);
            spinFor(50_000_000L);
            for (int i = 0; i < 5; i++) {
                Thread.sleep(2);
            }
            ThreadSchedStat delta = SchedStatReader.read(PID, me).minus(before);
            return new long[] {delta.runNanos(), delta.voluntarySwitches(), delta.timeslices()};
        });
        // 50 ms of CPU by the thread's CPU clock: schedstat counts the same time, whatever the host's load.
        assertTrue(figures[0] >= 45_000_000L, "run ns " + figures[0]);
        assertTrue(figures[0] <= 5_000_000_000L, "run ns " + figures[0]);
        assertTrue(figures[1] >= 5, "voluntary switches " + figures[1]);
        assertTrue(figures[2] >= 5, "time slices " + figures[2]);
    }

    @Test
    void aSampleGroupsThreadsByTheRoleTheirNamesGive() throws Exception {
        CountDownLatch go = new CountDownLatch(1);
        CountDownLatch done = new CountDownLatch(1);
        CountDownLatch spun = new CountDownLatch(1);
        AtomicInteger tid = new AtomicInteger();
        CountDownLatch started = new CountDownLatch(1);
        List<ThreadSchedStat> before;
        List<ThreadSchedStat> after;
        Thread spinner = Thread.ofPlatform().name("vcpu9").start(() -> {
            tid.set(Libc.gettid());
            started.countDown();
            try {
                go.await(); // the first reading is taken
                spinFor(30_000_000L);
                spun.countDown();
                done.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        started.await();
        long start = System.nanoTime();
        try {
            before = SchedStatReader.read(PID);
            go.countDown();
            spun.await();
            after = SchedStatReader.read(PID);
        } finally {
            go.countDown();
            done.countDown();
            spinner.join();
        }
        SchedSample sample = SchedSample.between(PID, Duration.ofNanos(System.nanoTime() - start), before, after);
        ThreadSchedStat vcpu = sample.threads().stream().filter(s -> s.thread().tid() == tid.get()).findFirst().orElseThrow();
        assertEquals("vcpu9", vcpu.thread().name(), "the kernel's comm carries the Java name");
        assertTrue(vcpu.runNanos() >= 27_000_000L, "run ns " + vcpu.runNanos());
        ThreadSchedStat role = sample.byRole().get(ThreadRole.VCPU);
        assertEquals(vcpu.runNanos(), role.runNanos(), "the only vCPU-named thread is the vCPU group");
        assertTrue(sample.byRole().get(ThreadRole.OTHER).timeslices() > 0, "the test's own threads are 'other'");
    }

    @Test
    void statusFieldsAreFoundByName() throws Exception {
        String status = "Name:\tjava\nvoluntary_ctxt_switches:\t12\nnonvoluntary_ctxt_switches:\t3\n";
        assertEquals(12, SchedStatReader.statusField(status, "voluntary_ctxt_switches"));
        assertEquals(3, SchedStatReader.statusField(status, "nonvoluntary_ctxt_switches"));
    }

    @Test
    void aThreadThatEndedIsLeftOutNotAnError() throws Exception {
        AtomicInteger tid = new AtomicInteger();
        Thread gone = Thread.ofPlatform().name("short-lived").start(() -> tid.set(Libc.gettid()));
        gone.join();
        // join returns when the Java thread is done; the kernel thread may linger a moment longer.
        Path task = Path.of("/proc/self/task/" + tid.get());
        for (int i = 0; i < 1000 && Files.exists(task); i++) {
            Thread.sleep(10);
        }
        assertFalse(Files.exists(task), "the thread never left /proc");
        assertEquals(null, SchedStatReader.read(PID, new HostThread(tid.get(), "short-lived", ThreadRole.OTHER)));
        List<ThreadSchedStat> all = SchedStatReader.read(PID);
        assertTrue(all.stream().noneMatch(s -> s.thread().tid() == tid.get()));
    }
}
