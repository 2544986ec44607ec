package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The SSE2 forms compiled blocks run natively (JitSse) leave what the interpreter leaves, bit for bit, while MXCSR
 * changes under the same compiled block (rounding, PE clear or set, DAZ, FTZ, other flags) and the operands are
 * the ones the guard must send to the interpreter (NaNs, infinities, denormals, zeros, overflow, underflow):
 * src/test/payloads/jit-sse.S. Every block compiles at its first execution.
 */
class JitSseTest {
    @Test
    void nativeSseFormsMatchTheInterpreterUnderEveryMxcsrAndOperandClass() throws Exception {
        List<Long> interpreter = run(JitOptions.off());
        List<Long> jit = run(JitOptions.compileAtOnce());
        assertEquals(10 * 17 * 19, interpreter.size(), "every round reported");
        for (int i = 0; i < interpreter.size(); i++) {
            assertEquals(interpreter.get(i), jit.get(i), "value " + (i % 19) + " of round " + (i / 19)
                    + " (MXCSR pass " + (i / (17 * 19)) + ", pair " + (i / 19 % 17) + ")");
        }
        assertTrue(interpreter.stream().anyMatch(v -> v == 0x1fa0 || v == 0x1fa1), "a pass left MXCSR with PE set");
    }

    private static List<Long> run(JitOptions options) throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(options), "jit-sse", Ring.KERNEL, false)) {
            PayloadHarness harness = new PayloadHarness();
            assertEquals(0, harness.runToExit(machine.vcpu, Duration.ofSeconds(30)));
            if (machine.vm instanceof InterpVm vm && vm.jitCompiler() != null) {
                assertNull(vm.jitCompiler().lastFailure());
                assertTrue(vm.jitCompiler().compiledBlocks() > 0);
            }
            return harness.results.writtenValues();
        }
    }
}
