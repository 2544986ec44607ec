package io.vmguard.engine.kvm;

import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.VcpuExit;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.VcpuThread;
import io.vmguard.sys.Libc;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * {@code requestExit()} from another thread stops a vCPU wherever it is: blocked in KVM_RUN on a HLT
 * the in-kernel LAPIC handles, spinning in guest code, or not yet running. With the in-kernel irqchip a
 * HLT never exits to userspace, so payloads end with an OUT to the exit port instead.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class KvmRequestExitTest {
    private static final Duration RUN_LIMIT = Duration.ofSeconds(10);
    /** How long the vCPU is left blocked before the kick, to be sure it is really inside KVM_RUN. */
    private static final long SETTLE_MILLIS = 300;
    private static final long PROMPT_MILLIS = 2000;

    @Test
    void requestExitUnblocksAVcpuHaltedWithInterruptsEnabled() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("halt", Ring.KERNEL, true)) {
            VcpuExit exit = runAndKick(machine, new PayloadHarness());

            assertInstanceOf(VcpuExit.Interrupted.class, exit);
            assertEquals(machine.payload().symbol("after_hlt"), machine.vcpu.registers().rip(),
                    "the vCPU had executed the HLT and was waiting in KVM");
        }
    }

    @Test
    void requestExitInterruptsGuestCodeAndTheVcpuResumesWhereItWas() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("spin", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();

            assertInstanceOf(VcpuExit.Interrupted.class, runAndKick(machine, harness));

            machine.memory.writeByte(machine.payload().symbol("release"), (byte) 1);
            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT), "the spin loop ends once released");
        }
    }

    @Test
    void requestExitBeforeRunStopsTheNextRunOnlyOnce() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("spin", Ring.USER, false)) {
            machine.vcpu.requestExit();

            assertInstanceOf(VcpuExit.Interrupted.class, machine.vcpu.run());
            assertEquals(machine.payload().symbol("_start"), machine.vcpu.registers().rip(), "no guest code ran");
            VcpuExit.IoOut note = new PayloadHarness().runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
            assertEquals(PayloadHarness.NOTE_PORT, note.port(), "the request was consumed; the next run went on");
        }
    }

    @Test
    void aSignalNobodyRequestedDoesNotEndTheRun() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("halt", Ring.KERNEL, true)) {
            PayloadHarness harness = new PayloadHarness();
            AtomicLong vcpuPthread = new AtomicLong();
            CountDownLatch noted = new CountDownLatch(1);
            VcpuThread vcpuThread = VcpuThread.start(() -> {
                try {
                    vcpuPthread.set(Libc.pthreadSelf());
                    harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
                } finally {
                    noted.countDown();
                }
                return machine.vcpu.run();
            });
            CompletableFuture<VcpuExit> result = vcpuThread.exit();
            assertTrue(noted.await(RUN_LIMIT.toMillis(), TimeUnit.MILLISECONDS));
            Thread.sleep(SETTLE_MILLIS);

            // The kick signal without a request, as another component's signal would arrive.
            assertEquals(0, Libc.pthreadKill(vcpuPthread.get(), KickSignal.number()));
            Thread.sleep(SETTLE_MILLIS);
            assertNull(result.getNow(null), "KVM_RUN was re-entered, the vCPU is still halted");

            machine.vcpu.requestExit();
            assertInstanceOf(VcpuExit.Interrupted.class, result.get(PROMPT_MILLIS, TimeUnit.MILLISECONDS));
            vcpuThread.join();
        }
    }

    /**
     * A bounce (what arming a monitor does) takes a vCPU blocked in KVM_RUN out of it and waits until it
     * is out, and the run loop goes straight back in: the caller of run() sees nothing.
     */
    @Test
    void aBounceReturnsOnceTheVcpuLeftKvmRunAndTheRunLoopGoesBackIn() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("halt", Ring.KERNEL, true)) {
            KvmVcpu vcpu = (KvmVcpu) machine.vcpu;
            vcpu.bounce(); // not running: returns at once
            PayloadHarness harness = new PayloadHarness();
            CountDownLatch noted = new CountDownLatch(1);
            VcpuThread vcpuThread = VcpuThread.start(() -> {
                try {
                    harness.runUntilPort(vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
                } finally {
                    noted.countDown();
                }
                return vcpu.run();
            });
            CompletableFuture<VcpuExit> result = vcpuThread.exit();
            assertTrue(noted.await(RUN_LIMIT.toMillis(), TimeUnit.MILLISECONDS));
            Thread.sleep(SETTLE_MILLIS);

            CompletableFuture<Void> bounced = CompletableFuture.runAsync(vcpu::bounce);
            bounced.get(PROMPT_MILLIS, TimeUnit.MILLISECONDS);
            Thread.sleep(SETTLE_MILLIS);
            assertNull(result.getNow(null), "the halted vCPU went back into KVM_RUN");

            vcpu.requestExit();
            assertInstanceOf(VcpuExit.Interrupted.class, result.get(PROMPT_MILLIS, TimeUnit.MILLISECONDS),
                    "a request after the bounce still stops it");
            vcpuThread.join();
        }
    }

    @Test
    void requestExitOnAClosedVcpuIsHarmless() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create()) {
            machine.vcpu.close();
            machine.vcpu.requestExit();
            assertInstanceOf(VcpuExit.InternalError.class, machine.vcpu.run());
        }
    }

    /**
     * Runs the vCPU on its own platform thread up to the payload's NOTE, then once more (where it
     * blocks), kicks it from this thread, and returns what that run returned; fails unless it returned
     * within {@link #PROMPT_MILLIS} of the kick and not before it.
     */
    private static VcpuExit runAndKick(PayloadMachine machine, PayloadHarness harness) throws Exception {
        CountDownLatch noted = new CountDownLatch(1);
        VcpuThread vcpuThread = VcpuThread.start(() -> {
            try {
                harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
            } finally {
                noted.countDown();
            }
            return machine.vcpu.run();
        });
        CompletableFuture<VcpuExit> result = vcpuThread.exit();
        assertTrue(noted.await(RUN_LIMIT.toMillis(), TimeUnit.MILLISECONDS), "payload reached its NOTE");
        Thread.sleep(SETTLE_MILLIS);
        assertNull(result.getNow(null), "the vCPU stays inside KVM_RUN until kicked");

        long kicked = System.nanoTime();
        machine.vcpu.requestExit();
        VcpuExit exit = result.get(PROMPT_MILLIS, TimeUnit.MILLISECONDS);
        long elapsedMillis = (System.nanoTime() - kicked) / 1_000_000;
        vcpuThread.join();
        assertTrue(elapsedMillis < PROMPT_MILLIS, "returned " + elapsedMillis + " ms after the kick");
        return exit;
    }
}
