package io.vmguard.engine.kvm;

import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.bus.InterruptLine;
import io.vmguard.testing.LongModeSandbox.Ring;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/** A legacy IRQ raised on an interrupt line reaches the guest through KVM's in-kernel PIC and LAPIC. */
@Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class KvmInterruptLineTest {
    private static final Duration RUN_LIMIT = Duration.ofSeconds(10);
    private static final int IRQ = 5;
    private static final int VECTOR = 0x20 + IRQ;

    @Test
    void pulsedIrqFiveIsDeliveredToTheGuestHandlerThroughThePic() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("irq", Ring.USER, true)) {
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

    @Test
    void interruptLinesOutsideTheIoApicPinsAreRejected() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.create()) {
            assertThrows(IllegalArgumentException.class, () -> machine.vm.interruptLine(-1));
            assertThrows(IllegalArgumentException.class, () -> machine.vm.interruptLine(KvmVm.GSI_COUNT));
        }
    }

    @Test
    void raisingALineOfAClosedVmThrowsInsteadOfUsingAStaleDescriptor() throws Exception {
        InterruptLine line;
        try (PayloadMachine machine = KvmTestMachine.create()) {
            line = machine.vm.interruptLine(IRQ);
        }
        assertThrows(IllegalStateException.class, () -> line.set(true));
    }
}
