package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertThrows;

import io.vmguard.engine.EngineException;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.InterruptLineContract;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadMachine;
import org.junit.jupiter.api.Test;

/** The interrupt and timer scenarios KVM's in-kernel irqchip passes, on the interpreter's own platform. */
class InterpInterruptLineTest extends InterruptLineContract {
    @Override
    protected PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled) throws EngineException, NativeException {
        return PayloadMachine.start(new InterpEngine(), payload, ring, interruptsEnabled);
    }

    @Test
    void interruptLinesOutsideTheTwentyFourGsisAreRejected() throws Exception {
        try (PayloadMachine machine = PayloadMachine.create(new InterpEngine())) {
            assertThrows(IllegalArgumentException.class, () -> machine.vm.interruptLine(-1));
            assertThrows(IllegalArgumentException.class, () -> machine.vm.interruptLine(24));
        }
    }
}
