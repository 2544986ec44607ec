package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.bus.Bus;
import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.pci.PciRoot;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.rng.VirtioRng;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Where the VM's virtio devices go on each transport. */
class VirtioDevicesTest {
    private static final ValueLayout.OfInt INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Bus io = new Bus("port I/O");
    private final Bus mmio = new Bus("MMIO");
    private final PciRoot pci = new PciRoot(gsi -> InterruptLine.NONE, (address, data) -> { });

    /** Interrupt inputs only: nothing here runs a vCPU. */
    private static final class NoCpuMachine implements VirtualMachine {
        @Override
        public Vcpu createVcpu(int index) {
            throw new UnsupportedOperationException();
        }

        @Override
        public InterruptLine interruptLine(int gsi) {
            return InterruptLine.NONE;
        }

        @Override
        public void signalMsi(long address, int data) {}

        @Override
        public void close() {}
    }

    private VirtioDevices devices(VirtioTransport transport) {
        pci.registerOn(io, mmio);
        return new VirtioDevices(mmio, pci, transport, new NoCpuMachine(), new GuestRam(1 << 16).memory());
    }

    /** Vendor and device ID of 00:slot.0 through configuration mechanism 1. */
    private int pciIds(int slot) {
        MemorySegment data = MemorySegment.ofArray(new byte[4]);
        data.set(INT, 0, 0x8000_0000 | slot << 11);
        io.write(0xcf8, data);
        io.read(0xcfc, data);
        return data.get(INT, 0);
    }

    private int mmioMagic(long address) {
        MemorySegment data = MemorySegment.ofArray(new byte[4]);
        mmio.read(address, data);
        return data.get(INT, 0);
    }

    @Test
    void onPciEachDeviceIsAFunctionInTheNextSlot() throws VmException {
        try (VirtioDevices virtio = devices(VirtioTransport.PCI)) {
            virtio.add(new VirtioRng(), "virtio-rng 0");
            virtio.add(new VirtioRng(), "virtio-rng 1");
            assertEquals(0x1044 << 16 | 0x1af4, pciIds(1));
            assertEquals(0x1044 << 16 | 0x1af4, pciIds(2));
            assertEquals(-1, pciIds(3), "nothing in slot 3");
            assertTrue(virtio.slots().isEmpty(), "no virtio-mmio slot to declare");
            assertFalse(mmio.read(0xd000_0000L, MemorySegment.ofArray(new byte[4])), "no virtio-mmio window");
        }
    }

    @Test
    void onMmioEachDeviceIsAWindowInTheNextSlot() throws VmException {
        try (VirtioDevices virtio = devices(VirtioTransport.MMIO)) {
            virtio.add(new VirtioRng(), "virtio-rng 0");
            virtio.add(new VirtioRng(), "virtio-rng 1");
            assertEquals(List.of(0xd000_0000L, 0xd000_1000L), virtio.slots().stream().map(slot -> slot.base()).toList());
            assertEquals(0x74726976, mmioMagic(0xd000_1000L), "\"virt\"");
            assertEquals(-1, pciIds(1), "no PCI function");
        }
    }

    @Test
    void theTransportIsNamedAsTheCommandLineOptionTakesIt() {
        assertEquals(VirtioTransport.PCI, VirtioTransport.parse("pci"));
        assertEquals(VirtioTransport.MMIO, VirtioTransport.parse("mmio"));
        assertThrows(IllegalArgumentException.class, () -> VirtioTransport.parse("ccw"));
    }
}
