package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.EngineException;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.InterruptLineContract;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadMachine;
import org.junit.jupiter.api.Test;

/**
 * A legacy IRQ raised on an interrupt line reaches the guest through KVM's in-kernel PIC and LAPIC, and the
 * LAPIC timer wakes a halted guest (the scenarios both engines share, {@link InterruptLineContract}); plus
 * KVM's own line checks.
 */
class KvmInterruptLineTest extends InterruptLineContract {
    private static final int IRQ = 5;

    @Override
    protected PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled) throws EngineException, NativeException {
        return KvmTestMachine.start(payload, ring, interruptsEnabled);
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
