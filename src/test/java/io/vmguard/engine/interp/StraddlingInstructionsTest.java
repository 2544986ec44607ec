package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.engine.Registers;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * An instruction that straddles two pages is decoded once and kept (StraddlingInstructions), and still runs as the
 * guest last wrote it, whichever page the write lands on (src/test/payloads/straddle.S); with the JIT compiling every
 * other block at its first execution as well.
 */
class StraddlingInstructionsTest {
    @ParameterizedTest(name = "jit {0}")
    @ValueSource(booleans = {false, true})
    void aKeptStraddlingInstructionRunsAsLastWrittenOnEitherPage(boolean jit) throws Exception {
        JitOptions options = jit ? JitOptions.compileAtOnce() : JitOptions.off();
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(options), "straddle", Ring.KERNEL, false)) {
            new PayloadHarness().runUntilPort(machine.vcpu, PayloadHarness.EXIT_PORT, Duration.ofSeconds(20));
            Registers r = machine.vcpu.registers();
            assertEquals(1_292_544, r.rsi(), "the immediate's byte on the second page, rewritten every round");
            assertEquals(5049, r.rdi(), "the immediate's byte on the first page, rewritten every round");
            assertEquals(1000L * 0x01020304 & 0xffff_ffffL, r.rbp(), "an unchanged straddling ADD, run 1000 times");
        }
    }
}
