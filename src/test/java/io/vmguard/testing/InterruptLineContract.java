package io.vmguard.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.EngineException;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.LongModeSandbox.Ring;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * What every engine's interrupt controllers and timers must do: a legacy IRQ raised from the VMM goes
 * through the 8259A and the local APIC's LINT0 (ExtINT, virtual wire) to the guest's handler, also
 * waking a guest halted in HLT; a message-signalled interrupt goes to the local APIC directly; and each
 * local APIC timer mode wakes a halted guest. KVM does it with its
 * in-kernel irqchip, the interpreter with its own; each engine's test extends this.
 */
@Timeout(value = 40, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
public abstract class InterruptLineContract {
    protected static final Duration RUN_LIMIT = Duration.ofSeconds(20);
    private static final int IRQ = 5;
    private static final int VECTOR = 0x20 + IRQ;
    private static final long IRQ5 = VECTOR, TIMER = 0x40;
    private static final int MSI_VECTOR = 0x41;
    /** How long the vCPU is left to halt before the line is raised. */
    private static final long SETTLE_MILLIS = 200;

    /** A machine of the engine under test, about to run {@code payload}. */
    protected abstract PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled)
            throws EngineException, NativeException;

    @Test
    void pulsedIrqFiveIsDeliveredToTheGuestHandlerThroughThePic() throws Exception {
        try (PayloadMachine machine = start("irq", Ring.USER, true)) {
            LongModeSandbox.setInterruptGate(machine.memory, VECTOR, machine.payload().symbol("irq5_handler"));
            PayloadHarness harness = new PayloadHarness();
            harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
            assertEquals(List.of(), harness.irq.writtenValues(), "no interrupt before the line is raised");

            InterruptLine line = machine.vm.interruptLine(IRQ);
            line.pulse();

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));
            assertEquals(List.of((long) VECTOR), harness.irq.writtenValues(), "the handler ran once, for vector 0x25");
        }
    }

    /**
     * src/test/payloads/msi.S: a message-signalled interrupt from the VMM (what a PCI device's MSI-X
     * vector becomes) reaches the guest's handler through the local APIC alone. Messages to an APIC that
     * does not exist, or outside the interrupt window, are dropped on the way, without an error.
     */
    @Test
    void aMessageSignalledInterruptReachesTheGuestHandlerThroughTheLocalApic() throws Exception {
        try (PayloadMachine machine = start("msi", Ring.USER, true)) {
            long stray = machine.payload().symbol("stray_handler");
            LongModeSandbox.setInterruptGate(machine.memory, MSI_VECTOR, machine.payload().symbol("msi_handler"));
            LongModeSandbox.setInterruptGate(machine.memory, MSI_VECTOR + 1, stray);
            LongModeSandbox.setInterruptGate(machine.memory, MSI_VECTOR + 2, stray);
            PayloadHarness harness = new PayloadHarness();
            harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);

            // Higher vectors than the real one: were they delivered, their handler would run first.
            machine.vm.signalMsi(0xfee0_0000L | (7 << 12), MSI_VECTOR + 1); // APIC id 7: absent
            machine.vm.signalMsi(0xfed0_0000L, MSI_VECTOR + 2); // not an interrupt address
            machine.vm.signalMsi(0xfee0_0000L, MSI_VECTOR); // fixed, edge, physical destination APIC 0

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));
            assertEquals(List.of((long) MSI_VECTOR), harness.irq.writtenValues(), "vector 0x41 only, once");
        }
    }

    /**
     * src/test/payloads/platform.S in ring 0: programs the PIC and the local APIC, sleeps in HLT until
     * this test raises IRQ 5 from its own thread, then sleeps until each local APIC timer mode (one-shot,
     * periodic, TSC deadline) wakes it.
     */
    @Test
    void aLineRaisedWhileHaltedAndEveryApicTimerModeWakeTheGuest() throws Exception {
        try (PayloadMachine machine = start("platform", Ring.KERNEL, true)) {
            LongModeSandbox.setInterruptGate(machine.memory, (int) IRQ5, machine.payload().symbol("irq5_handler"));
            LongModeSandbox.setInterruptGate(machine.memory, (int) TIMER, machine.payload().symbol("timer_handler"));
            PayloadHarness harness = new PayloadHarness();
            harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);

            CompletableFuture<Integer> status = new CompletableFuture<>();
            Thread vcpuThread = Thread.ofPlatform().name("vcpu-0").start(() -> {
                try {
                    status.complete(harness.runToExit(machine.vcpu, RUN_LIMIT));
                } catch (Throwable t) {
                    status.completeExceptionally(t);
                }
            });
            Thread.sleep(SETTLE_MILLIS);
            assertNull(status.getNow(null), "the guest sleeps in HLT");
            assertEquals(List.of(), harness.irq.writtenValues(), "no interrupt yet");

            machine.vm.interruptLine(IRQ).pulse(); // from this thread, while the vCPU is halted

            assertEquals(0, status.get(RUN_LIMIT.toSeconds(), TimeUnit.SECONDS));
            vcpuThread.join();
            List<Long> vectors = harness.irq.writtenValues();
            assertEquals(IRQ5, vectors.getFirst(), "IRQ 5 first: " + vectors);
            assertEquals(List.of(TIMER), vectors.subList(1, vectors.size()).stream().distinct().toList(), "then timers only");
            // One-shot, three periodic, one deadline; a starved vCPU may see one more period end before its stop.
            assertTrue(vectors.size() - 1 >= 5 && vectors.size() - 1 <= 6, vectors.size() - 1 + " timer interrupts");
            List<Long> results = harness.results.writtenValues();
            assertEquals(5, results.size());
            assertTrue(results.get(0) >= 1 && results.get(0) <= 2,
                    "the guest halted once (twice at most) and the line woke it: " + results.get(0) + " HLTs");
            assertTookAtLeast(2_000_000, results.get(1), "one-shot: 1,000,000 ticks divided by 2 at 1 GHz");
            assertTookAtLeast(3_000_000, results.get(2), "periodic: three 1 ms periods");
            assertTookAtLeast(3_000_000, results.get(3), "TSC deadline 3 ms ahead");
            assertEquals(0L, results.get(4), "the stopped timer's current count");
        }
    }

    /**
     * A wait the guest measured with RDTSC. The interpreter's TSC counts nanoseconds and KVM's runs at the
     * host's rate (above 1 GHz on any machine we use), so the wait's length in nanoseconds is a lower bound.
     */
    private static void assertTookAtLeast(long minimumTscTicks, long measured, String what) {
        assertTrue(measured >= minimumTscTicks && measured < 4_000_000_000L,
                what + ": took " + measured + " TSC ticks, expected at least " + minimumTscTicks);
    }
}
