package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.VcpuExit;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import io.vmguard.testing.VcpuThread;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * HLT on the interpreter: with interrupts enabled the vCPU thread blocks inside {@code run()} (as KVM's
 * in-kernel LAPIC keeps it in KVM_RUN) until something wakes it; {@code requestExit()} must do so
 * promptly. With interrupts disabled nothing can wake it and run() says Halt.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpHaltTest {
    private static final Duration RUN_LIMIT = Duration.ofSeconds(10);
    private static final long SETTLE_MILLIS = 300;
    private static final long PROMPT_MILLIS = 1000;

    @Test
    void requestExitWakesAVcpuHaltedWithInterruptsEnabledWithinASecond() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "halt", Ring.KERNEL, true)) {
            new PayloadHarness().runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
            VcpuThread vcpuThread = VcpuThread.start(machine.vcpu::run);
            CompletableFuture<VcpuExit> result = vcpuThread.exit();
            Thread.sleep(SETTLE_MILLIS);
            assertNull(result.getNow(null), "the halted vCPU waits inside run()");

            long kicked = System.nanoTime();
            machine.vcpu.requestExit();
            VcpuExit exit = result.get(PROMPT_MILLIS, TimeUnit.MILLISECONDS);
            long elapsedMillis = (System.nanoTime() - kicked) / 1_000_000;
            vcpuThread.join();

            assertInstanceOf(VcpuExit.Interrupted.class, exit);
            assertTrue(elapsedMillis < PROMPT_MILLIS, "returned " + elapsedMillis + " ms after the request");
            assertEquals(machine.payload().symbol("after_hlt"), machine.vcpu.registers().rip(), "RIP past the HLT");
        }
    }

    @Test
    void aHaltWithInterruptsDisabledEndsTheRunWithHalt() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "halt", Ring.KERNEL, false)) {
            new PayloadHarness().runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);

            assertInstanceOf(VcpuExit.Halt.class, machine.vcpu.run());
            assertEquals(machine.payload().symbol("after_hlt"), machine.vcpu.registers().rip());
        }
    }
}
