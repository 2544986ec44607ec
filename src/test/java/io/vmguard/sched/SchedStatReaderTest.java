package io.vmguard.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.sys.Libc;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SchedStatReaderTest {
    private static final long PID = ProcessHandle.current().pid();

    @Test
    void aSpinningThreadShowsItsRunTimeAndASleepingOneItsVoluntarySwitches() throws Exception {
        long[] figures = OnThread.call("vcpu5", () -> {
            HostThread me = new HostThread(Libc.gettid(), "vcpu5", ThreadRole.VCPU);
            ThreadSchedStat before = SchedStatReader.read(PID, me);
            long end = System.nanoTime() + 200_000_000L;
            while (System.nanoTime() < end) {
                Thread.onSpinWait();
            }
            for (int i = 0; i < 5; i++) {
                Thread.sleep(2);
            }
            ThreadSchedStat delta = SchedStatReader.read(PID, me).minus(before);
            return new long[] {delta.runNanos(), delta.voluntarySwitches(), delta.timeslices()};
        });
        // 200 ms of spinning: the kernel counts at least a good part of it as run time, even on a loaded host.
        assertTrue(figures[0] >= 20_000_000L, "run ns " + figures[0]);
        assertTrue(figures[0] <= 5_000_000_000L, "run ns " + figures[0]);
        assertTrue(figures[1] >= 5, "voluntary switches " + figures[1]);
        assertTrue(figures[2] >= 5, "time slices " + figures[2]);
    }

    @Test
    void aSampleGroupsThreadsByTheRoleTheirNamesGive() throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger tid = new AtomicInteger();
        CountDownLatch started = new CountDownLatch(1);
        Thread spinner = Thread.ofPlatform().name("vcpu9").start(() -> {
            tid.set(Libc.gettid());
            started.countDown();
            while (done.getCount() > 0) {
                Thread.onSpinWait();
            }
        });
        started.await();
        SchedSample sample;
        try {
            sample = SchedSample.over(PID, Duration.ofMillis(300));
        } finally {
            done.countDown();
            spinner.join();
        }
        ThreadSchedStat vcpu = sample.threads().stream().filter(s -> s.thread().tid() == tid.get()).findFirst().orElseThrow();
        assertEquals("vcpu9", vcpu.thread().name(), "the kernel's comm carries the Java name");
        // On a loaded host the spinner may get only a share of a core, but far more than a parked thread.
        assertTrue(vcpu.runNanos() >= 3_000_000L, "run ns " + vcpu.runNanos());
        ThreadSchedStat role = sample.byRole().get(ThreadRole.VCPU);
        assertEquals(vcpu.runNanos(), role.runNanos(), "the only vCPU-named thread is the vCPU group");
        assertTrue(sample.byRole().get(ThreadRole.OTHER).timeslices() > 0, "the test's own threads are 'other'");
        assertTrue(sample.interval().toMillis() >= 300, sample.interval().toString());
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
        assertEquals(null, SchedStatReader.read(PID, new HostThread(tid.get(), "short-lived", ThreadRole.OTHER)));
        List<ThreadSchedStat> all = SchedStatReader.read(PID);
        assertTrue(all.stream().noneMatch(s -> s.thread().tid() == tid.get()));
    }
}
