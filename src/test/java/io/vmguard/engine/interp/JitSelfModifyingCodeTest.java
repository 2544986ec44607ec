package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.Registers;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Code the JIT compiled and the guest then rewrites runs as rewritten (src/test/payloads/jit-smc.S): a block that
 * patches its own immediate every round while looping on itself, and a function whose branch is patched between calls. The
 * interpreter alone is the reference; with the JIT every block is compiled at its first execution.
 */
class JitSelfModifyingCodeTest {
    @ParameterizedTest(name = "jit {0}")
    @ValueSource(booleans = {false, true})
    void rewrittenCompiledCodeRunsAsRewritten(boolean jit) throws Exception {
        JitOptions options = jit ? JitOptions.compileAtOnce() : JitOptions.off();
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(options), "jit-smc", Ring.KERNEL, false)) {
            new PayloadHarness().runUntilPort(machine.vcpu, PayloadHarness.EXIT_PORT, Duration.ofSeconds(20));
            Registers r = machine.vcpu.registers();
            assertEquals(5050, r.rsi(), "the loop's ADD rewritten by itself every round");
            assertEquals(4, r.rbx(), "the branch patched between calls");
            if (jit) {
                InterpVm vm = (InterpVm) machine.vm;
                assertTrue(vm.jitCompiler().compiledBlocks() >= 4, "the rewritten blocks were compiled, and again");
                assertEquals(null, vm.jitCompiler().lastFailure());
            }
        }
    }
}
