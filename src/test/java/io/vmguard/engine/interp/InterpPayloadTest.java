package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.engine.EngineException;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.EnginePayloadContract;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The interpreter held to the same payload contract as KVM, plus the state a fresh interpreted vCPU
 * starts in (its own CPUID signature instead of KVM's).
 */
class InterpPayloadTest extends EnginePayloadContract {
    @Override
    protected PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled) throws EngineException, NativeException {
        return PayloadMachine.start(new InterpEngine(), payload, ring, interruptsEnabled);
    }

    @Test
    void freshVcpuHasResetFpuApicIdZeroAndTheInterpreterSignature() throws Exception {
        try (PayloadMachine machine = start("cpu-state", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));

            List<Long> values = harness.results.writtenValues();
            assertEquals(0x1f80L, values.get(0), "MXCSR");
            assertEquals(0x37fL, values.get(1), "x87 control word");
            assertEquals(0L, values.get(2), "initial APIC id of vCPU 0");
            String signature = ascii(values.get(3)) + ascii(values.get(4)) + ascii(values.get(5));
            assertEquals("vmguardintrp", signature);
        }
    }

    private static String ascii(long register) {
        StringBuilder text = new StringBuilder();
        for (int i = 0; i < 4; i++) {
            text.append((char) ((register >>> (8 * i)) & 0xff));
        }
        return text.toString();
    }
}
