package io.vmguard.engine.kvm;

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
 * Ring-3 payloads under KVM (the shared {@link EnginePayloadContract}: native execution, port I/O both
 * ways, string I/O, MMIO at every width) and the state a fresh KVM vCPU starts in.
 */
class KvmRing3PayloadTest extends EnginePayloadContract {
    @Override
    protected PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled) throws EngineException, NativeException {
        return KvmTestMachine.start(payload, ring, interruptsEnabled);
    }

    @Test
    void freshVcpuHasResetFpuItsApicIdAndKvmParavirtCpuid() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("cpu-state", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();

            assertEquals(0, harness.runToExit(machine.vcpu, RUN_LIMIT));

            List<Long> values = harness.results.writtenValues();
            assertEquals(0x1f80L, values.get(0), "MXCSR");
            assertEquals(0x37fL, values.get(1), "x87 control word");
            assertEquals(0L, values.get(2), "initial APIC id of vCPU 0");
            String signature = ascii(values.get(3)) + ascii(values.get(4)) + ascii(values.get(5));
            assertEquals("KVMKVMKVM\0\0\0", signature, "KVM's paravirtual CPUID leaf kept");
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
