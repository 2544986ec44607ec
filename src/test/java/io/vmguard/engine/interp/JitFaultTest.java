package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.engine.Registers;
import io.vmguard.engine.interp.jit.JitOptions;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A fault inside a compiled block reports the faulting instruction's RIP with the state as of that instruction,
 * as the interpreter does: #GP from a load the JIT emits itself, #DE from a DIV it hands to the interpreter, #UD.
 * Every block is compiled at its first execution (threshold 0); the run without the JIT is the reference.
 */
class JitFaultTest {
    @ParameterizedTest(name = "{0}")
    @CsvSource({"jit-fault-gp, 13, 12, 11", "jit-fault-de, 0, 10, 228", "jit-fault-ud, 6, 12, 3"})
    void aFaultInACompiledBlockReportsTheExactRipAndState(String payload, int vector, int register, long value)
            throws Exception {
        Registers interpreter = run(payload, vector, JitOptions.off());
        Registers jit = run(payload, vector, JitOptions.compileAtOnce());
        assertEquals(interpreter, jit);
        assertEquals(value, jit.gpr(register), "the register the loop counts in, as of the fault");
    }

    private static Registers run(String payload, int vector, JitOptions options) throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(options), payload, Ring.KERNEL, false)) {
            LongModeSandbox.setInterruptGate(machine.memory, vector, machine.payload().symbol("handler"));
            new PayloadHarness().runUntilPort(machine.vcpu, PayloadHarness.EXIT_PORT, Duration.ofSeconds(20));
            Registers registers = machine.vcpu.registers();
            assertEquals(machine.payload().symbol("faulting"), registers.r9(), "the RIP the fault reported");
            return registers;
        }
    }
}
