package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.BusRange;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.VcpuExit;
import io.vmguard.sys.NativeException;
import io.vmguard.testing.EnginePayloadContract;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.MemoryLikeDevice;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import org.junit.jupiter.api.Test;

/** Ring-3 payloads under KVM: the shared {@link EnginePayloadContract}. */
class KvmRing3PayloadTest extends EnginePayloadContract {
    @Override
    protected PayloadMachine start(String payload, Ring ring, boolean interruptsEnabled) throws EngineException, NativeException {
        return KvmTestMachine.start(payload, ring, interruptsEnabled);
    }

    /**
     * KVM's in-kernel emulator does not take CMPXCHG16B (nor x87 loads) on MMIO: the vCPU stops with a
     * one-line reason naming the instruction bytes, which ends the VM; it neither hangs nor loops.
     */
    @Test
    void anMmioInstructionKvmCannotEmulateStopsTheVcpuWithAReason() throws Exception {
        try (PayloadMachine machine = start("mmio-wide", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();
            MemoryLikeDevice device = new MemoryLikeDevice(0x5000);
            harness.mmio.register(new BusRange(PayloadHarness.MMIO_BASE, device.size()), device);
            VcpuExit exit = machine.vcpu.run();
            while (exit instanceof VcpuExit.MmioRead read) {
                harness.mmio.read(read.address(), read.data());
                exit = machine.vcpu.run();
            }
            VcpuExit.InternalError error = assertInstanceOf(VcpuExit.InternalError.class, exit);
            assertTrue(error.reason().contains("emulation failed") && !error.reason().contains("\n"), error.reason());
        }
    }
}
