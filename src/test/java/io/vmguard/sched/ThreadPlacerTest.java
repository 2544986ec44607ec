package io.vmguard.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.util.BitSet;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ThreadPlacerTest {
    private static final ThreadPolicy NICE_7 = ThreadPolicy.UNCHANGED.withNice(7);

    @Test
    void aNiceValueIsAppliedToTheCallingThreadAndTheKernelShowsIt() throws Exception {
        int[] seen = OnThread.call("nice-check", () -> {
            int tid = Libc.gettid();
            int before = ProcStat.nice(tid);
            ThreadPlacer.place(tid, NICE_7);
            return new int[] {before, ProcStat.nice(tid), Libc.getNice(tid)};
        });
        assertNotEquals(7, seen[0], "the thread started at nice 7 already: the check would prove nothing");
        assertEquals(7, seen[1], "/proc/self/task/TID/stat's nice field");
        assertEquals(7, seen[2], "getpriority");
    }

    @Test
    void batchAndIdleClassesAreAppliedWithTheirNice() throws Exception {
        for (SchedClass wanted : new SchedClass[] {SchedClass.BATCH, SchedClass.IDLE}) {
            int[] seen = OnThread.call("class-check", () -> {
                int tid = Libc.gettid();
                ThreadPlacer.place(tid, ThreadPolicy.UNCHANGED.withSchedClass(wanted).withNice(3));
                return new int[] {ProcStat.policy(tid), Libc.schedGetPolicy(tid), ProcStat.nice(tid)};
            });
            assertEquals(wanted.policy(), seen[0], wanted + ": /proc stat's policy field");
            assertEquals(wanted, SchedClass.ofPolicy(seen[1]), wanted + ": sched_getattr");
            if (wanted == SchedClass.BATCH) {
                assertEquals(3, seen[2], wanted + ": nice kept with the class"); // SCHED_IDLE has no nice levels
            }
        }
    }

    @Test
    void anAffinityIsAppliedAndReadBackBothWays() throws Exception {
        BitSet allowed = Libc.schedGetaffinity(Libc.gettid());
        int last = allowed.length() - 1;
        CpuList one = CpuList.parse(Integer.toString(last));
        String[] seen = OnThread.call("affinity-check", () -> {
            int tid = Libc.gettid();
            ThreadPlacer.place(tid, ThreadPolicy.UNCHANGED.withAffinity(one));
            return new String[] {ProcStat.cpusAllowed(tid), new CpuList(Libc.schedGetaffinity(tid)).toString()};
        });
        assertEquals(Integer.toString(last), seen[0], "Cpus_allowed_list");
        assertEquals(Integer.toString(last), seen[1], "sched_getaffinity");
    }

    @Test
    void aCpuTheHostDoesNotHaveIsRefusedWithTheReason() throws Exception {
        NativeException refused = OnThread.call("affinity-refused", () -> assertThrows(NativeException.class,
                () -> ThreadPlacer.place(Libc.gettid(), ThreadPolicy.UNCHANGED.withAffinity(CpuList.parse("1000")))));
        assertTrue(refused.getMessage().startsWith("sched_setaffinity of thread "), refused.getMessage());
        assertTrue(refused.getMessage().contains("Invalid argument"), refused.getMessage());
    }

    @Test
    void thePlacerFindsThreadsByTheirNamesIncludingThoseStartedLater() throws Exception {
        CountDownLatch done = new CountDownLatch(1);
        AtomicInteger vcpuTid = new AtomicInteger();
        AtomicInteger otherTid = new AtomicInteger();
        AtomicInteger ioTid = new AtomicInteger();
        CountDownLatch started = new CountDownLatch(2);
        Thread vcpu = park("vcpu7", vcpuTid, started, done);
        Thread other = park("unrelated-work", otherTid, started, done);
        started.await();
        SchedulingPolicy policy = new SchedulingPolicy(Map.of(ThreadRole.VCPU, ThreadPolicy.UNCHANGED.withNice(11),
                ThreadRole.IO, ThreadPolicy.UNCHANGED.withNice(4)));
        int otherNiceBefore = ProcStat.nice(otherTid.get());
        try (ThreadPlacer placer = new ThreadPlacer(policy)) {
            placer.start();
            assertEquals(11, ProcStat.nice(vcpuTid.get()), "vcpu7 took the vCPU policy");
            assertEquals(otherNiceBefore, ProcStat.nice(otherTid.get()), "a thread of no named role is left alone");
            CountDownLatch ioStarted = new CountDownLatch(1);
            Thread io = park("net9-rx", ioTid, ioStarted, done);
            ioStarted.await();
            long deadline = System.nanoTime() + 10 * ThreadPlacer.RESCAN.toNanos();
            while (ProcStat.nice(ioTid.get()) != 4 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(4, ProcStat.nice(ioTid.get()), "a receive thread started later was found by its name");
            done.countDown();
            io.join();
        } finally {
            done.countDown();
            vcpu.join();
            other.join();
        }
    }

    private static Thread park(String name, AtomicInteger tid, CountDownLatch started, CountDownLatch done) {
        return Thread.ofPlatform().name(name).start(() -> {
            tid.set(Libc.gettid());
            started.countDown();
            try {
                done.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
    }

    @Test
    void anEmptyPolicyTouchesNothing() throws Exception {
        assertEquals(Optional.empty(), SchedulingPolicy.NONE.forRole(ThreadRole.VCPU).nice());
        try (ThreadPlacer placer = new ThreadPlacer(SchedulingPolicy.NONE)) {
            placer.start(); // no thread of its own, no pass
        }
        assertTrue(Thread.getAllStackTraces().keySet().stream().noneMatch(t -> t.getName().equals("sched-placer")));
    }
}
