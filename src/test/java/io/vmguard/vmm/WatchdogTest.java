package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.Bus;
import io.vmguard.bus.BusDevice;
import io.vmguard.bus.BusRange;
import io.vmguard.engine.Registers;
import io.vmguard.engine.SpecialRegisters;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import io.vmguard.events.SecurityEvent;
import io.vmguard.events.VmEvents;
import io.vmguard.testing.RecordingEventSink;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import org.junit.jupiter.api.Test;

class WatchdogTest {
    private final RecordingEventSink sink = new RecordingEventSink();
    private final List<SecurityEvent> events = sink.events;
    private final VmEvents vmEvents = sink.forVm("test");

    /** A vCPU that asks for one MMIO read at 0x1000 on every run. */
    private static class MmioReadingVcpu implements Vcpu {
        private final MemorySegment data = Arena.ofAuto().allocate(4);

        @Override
        public int index() {
            return 0;
        }

        @Override
        public VcpuExit run() {
            return new VcpuExit.MmioRead(0x1000, data);
        }

        @Override
        public Registers registers() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void setRegisters(Registers registers) {
        }

        @Override
        public void startRunning() {
        }

        @Override
        public SpecialRegisters specialRegisters() {
            throw new UnsupportedOperationException();
        }

        @Override
        public void setSpecialRegisters(SpecialRegisters registers) {
        }

        @Override
        public long readMsr(int index) {
            return 0;
        }

        @Override
        public void writeMsr(int index, long value) {
        }

        @Override
        public void requestExit() {
        }

        @Override
        public void close() {
        }
    }

    @Test
    void aVcpuStuckInsideADeviceStopsTheRunWithAnEventAndAReason() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Bus mmio = new Bus("mmio");
        mmio.register(new BusRange(0x1000, 0x1000), new BusDevice() {
            @Override
            public void read(long offset, MemorySegment data) {
                try {
                    release.await(); // a device waiting for something that never comes
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }

            @Override
            public void write(long offset, MemorySegment data) {
            }
        });
        CompletableFuture<RunOutcome> outcome = new CompletableFuture<>();
        VcpuRunner runner = new VcpuRunner(new MmioReadingVcpu(), new Bus("io"), mmio, outcome);
        Thread vcpu = Thread.ofPlatform().daemon().start(runner);
        Runnable lastResort = () -> { };
        try (Watchdog watchdog = new Watchdog(vmEvents, List.of(runner), reason -> outcome.complete(new RunOutcome.Failed(reason)),
                Duration.ofMillis(50), Duration.ofMillis(300), lastResort)) {
            watchdog.start();
            RunOutcome result = outcome.get(10, TimeUnit.SECONDS);
            String reason = ((RunOutcome.Failed) result).reason();
            assertTrue(reason.contains("vCPU 0 has been inside one device access") && reason.contains("MMIO read of 4 bytes at 0x1000"),
                    reason);
            assertEquals("vmm-wedged", events.getFirst().kind());
            assertEquals("alarm", events.getFirst().severity().label());
        } finally {
            release.countDown();
            runner.stop();
            vcpu.join(2000);
        }
    }

    @Test
    void aVcpuThatSpinsWithoutExecutingGuestInstructionsIsFound() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Vcpu spinning = new MmioReadingVcpu() {
            @Override
            public VcpuExit run() {
                while (release.getCount() > 0) {
                    Thread.onSpinWait(); // an engine looping in Java, not in the guest
                }
                return new VcpuExit.Interrupted();
            }

            @Override
            public java.util.OptionalLong instructionsExecuted() {
                return java.util.OptionalLong.of(1234);
            }
        };
        CompletableFuture<RunOutcome> outcome = new CompletableFuture<>();
        VcpuRunner runner = new VcpuRunner(spinning, new Bus("io"), new Bus("mmio"), outcome);
        Thread vcpu = Thread.ofPlatform().daemon().start(runner);
        try (Watchdog watchdog = new Watchdog(vmEvents, List.of(runner), reason -> outcome.complete(new RunOutcome.Failed(reason)),
                Duration.ofMillis(50), Duration.ofMillis(300), () -> { })) {
            watchdog.start();
            String reason = ((RunOutcome.Failed) outcome.get(10, TimeUnit.SECONDS)).reason();
            assertTrue(reason.contains("vCPU 0 has run for over 0.3 s without executing a guest instruction"), reason);
        } finally {
            release.countDown();
            runner.stop();
            vcpu.join(2000);
        }
    }

    @Test
    void aHaltedVcpuIsNotMistakenForAStuckOne() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        Vcpu halted = new MmioReadingVcpu() {
            @Override
            public VcpuExit run() {
                try {
                    release.await(); // parked, as the interpreter is in HLT
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return new VcpuExit.Interrupted();
            }

            @Override
            public java.util.OptionalLong instructionsExecuted() {
                return java.util.OptionalLong.of(1234);
            }
        };
        VcpuRunner runner = new VcpuRunner(halted, new Bus("io"), new Bus("mmio"), new CompletableFuture<>());
        Thread vcpu = Thread.ofPlatform().daemon().start(runner);
        Watchdog watchdog = new Watchdog(vmEvents, List.of(runner), reason -> { }, Duration.ofMillis(50), Duration.ofMillis(100),
                () -> { });
        try {
            for (int i = 0; i < 10; i++) {
                Thread.sleep(50);
                assertNull(watchdog.findWedged());
            }
        } finally {
            release.countDown();
            runner.stop();
            vcpu.join(2000);
        }
    }

    @Test
    void aDeadlockIsFoundAndNamesItsThreads() throws Exception {
        ReentrantLock a = new ReentrantLock();
        ReentrantLock b = new ReentrantLock();
        CountDownLatch bothHold = new CountDownLatch(2);
        Thread first = lockBoth("first", a, b, bothHold);
        Thread second = lockBoth("second", b, a, bothHold);
        Watchdog watchdog = new Watchdog(vmEvents, List.of(), reason -> { }, Duration.ofSeconds(1), Duration.ofSeconds(1), () -> { });
        try {
            String wedged = null;
            for (int i = 0; i < 100 && wedged == null; i++) {
                Thread.sleep(20);
                wedged = watchdog.findWedged();
            }
            assertNotNull(wedged, "the deadlock was not found");
            assertTrue(wedged.contains("'first'") && wedged.contains("'second'"), wedged);
        } finally {
            // Interruptible locks: the deadlock is broken here, so no later test's watchdog sees it.
            first.interrupt();
            second.interrupt();
            first.join(2000);
            second.join(2000);
        }
        assertNull(watchdog.findWedged());
    }

    private static Thread lockBoth(String name, ReentrantLock one, ReentrantLock other, CountDownLatch bothHold) {
        return Thread.ofPlatform().daemon().name(name).start(() -> {
            try {
                one.lockInterruptibly();
                try {
                    bothHold.countDown();
                    bothHold.await();
                    other.lockInterruptibly();
                    other.unlock();
                } finally {
                    one.unlock();
                }
            } catch (InterruptedException e) {
                // broken up by the test
            }
        });
    }
}
