package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * The interpreter's instruction count is exact: blocks, hot forms and a CMP or TEST fused with its Jcc
 * must count every guest instruction once, as single-stepping would.
 */
class InterpInstructionCountTest {
    @Test
    void countsEveryInstructionOfAKnownLoop() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "count", Ring.KERNEL, false)) {
            new PayloadHarness().runUntilPort(machine.vcpu, PayloadHarness.EXIT_PORT, Duration.ofSeconds(20));
            assertEquals(6505, machine.vcpu.instructionsExecuted().orElseThrow());
        }
    }
}
