package io.vmguard.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.bus.Bus;
import io.vmguard.bus.InterruptLine;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.net.MacAddress;
import io.vmguard.pci.PciRoot;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceCounters;
import io.vmguard.virtio.block.DiskConfig;
import io.vmguard.virtio.block.VirtioBlock;
import io.vmguard.virtio.console.VirtioConsole;
import io.vmguard.virtio.rng.VirtioRng;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** The VM's virtio devices as one snapshot unit: names, counters, the disk checks, pause before save. */
class VirtioDevicesSnapshotTest {
    @TempDir
    Path dir;

    private final GuestRam ram = new GuestRam(1 << 20);
    /** The root of the devices built last; the VM saves it beside them and restores it first. */
    private PciRoot pci;

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

    /** A fresh set of buses and root, as a VM being built has, over the one guest memory. */
    private VirtioDevices devices(VirtioTransport transport) {
        Bus io = new Bus("port I/O");
        Bus mmio = new Bus("MMIO");
        pci = new PciRoot(gsi -> InterruptLine.NONE, (address, data) -> { });
        pci.registerOn(io, mmio);
        return new VirtioDevices(mmio, pci, transport, new NoCpuMachine(), ram.memory());
    }

    private Path disk(String name, int bytes) throws Exception {
        Path path = dir.resolve(name);
        Files.write(path, new byte[bytes]);
        return path;
    }

    /** Disks, a console and an rng, as attach adds them. */
    private VirtioDevices withDevices(VirtioTransport transport, Path... disks) throws Exception {
        VirtioDevices virtio = devices(transport);
        for (int i = 0; i < disks.length; i++) {
            virtio.add(VirtioBlock.open(new DiskConfig(disks[i], false)), "virtio-blk " + i);
        }
        virtio.add(VirtioConsole.start(InputStream.nullInputStream(), OutputStream.nullOutputStream()), "virtio-console");
        virtio.add(new VirtioRng(), "virtio-rng");
        return virtio;
    }

    /** As the VM saves them: the PCI root and the devices side by side, through JSON. */
    private StateReader saved(VirtioDevices virtio) throws Exception {
        virtio.pause();
        StateWriter out = StateWriter.root();
        out.save("pci", pci);
        virtio.saveState(out.child("virtio"));
        ObjectMapper mapper = new ObjectMapper();
        return StateReader.of(mapper.readTree(mapper.writeValueAsString(out.tree())));
    }

    /** As the VM restores them: the root first. */
    private void restore(VirtioDevices fresh, StateReader saved) throws SnapshotException {
        saved.restore("pci", pci);
        fresh.restoreState(saved.child("virtio"));
    }

    @Test
    void countersAreNamedByKindAndOrder() throws Exception {
        try (VirtioDevices virtio = withDevices(VirtioTransport.PCI, disk("a.img", 4096), disk("b.img", 4096))) {
            virtio.add(new VirtioRng(), "virtio-rng 1");
            Map<String, DeviceCounters> counters = virtio.counters();
            assertEquals(List.of("block0", "block1", "console", "rng", "rng1"), List.copyOf(counters.keySet()));
            assertTrue(counters.values().stream().allMatch(DeviceCounters.ZERO::equals));
        }
    }

    @ParameterizedTest
    @EnumSource(VirtioTransport.class)
    void idleDevicesComeBackFromTheirSnapshot(VirtioTransport transport) throws Exception {
        Path disk = disk("a.img", 8192);
        StateReader saved;
        try (VirtioDevices virtio = withDevices(transport, disk)) {
            saved = saved(virtio);
        }
        try (VirtioDevices fresh = withDevices(transport, disk)) {
            restore(fresh, saved);
            fresh.resume();
            assertEquals(transport.name().toLowerCase(), saved.child("virtio").getString("transport"));
            assertEquals(3, saved.child("virtio").list("devices", 8).size());
        }
    }

    @Test
    void aDiskThatChangedSizeIsRefusedByName() throws Exception {
        Path disk = disk("a.img", 65536);
        StateReader saved;
        try (VirtioDevices virtio = withDevices(VirtioTransport.PCI, disk)) {
            saved = saved(virtio);
        }
        Files.write(disk, new byte[512], StandardOpenOption.APPEND);
        try (VirtioDevices fresh = withDevices(VirtioTransport.PCI, disk)) {
            SnapshotException e = assertThrows(SnapshotException.class, () -> restore(fresh, saved));
            assertEquals("disk 0 (" + disk + ") changed size: was 65536 bytes, now 66048", e.getMessage());
        }
    }

    @Test
    void aSnapshotFromTheOtherTransportIsRefused() throws Exception {
        StateReader saved;
        try (VirtioDevices virtio = withDevices(VirtioTransport.MMIO)) {
            saved = saved(virtio);
        }
        try (VirtioDevices fresh = withDevices(VirtioTransport.PCI)) {
            SnapshotException e = assertThrows(SnapshotException.class, () -> fresh.restoreState(saved.child("virtio")));
            assertTrue(e.getMessage().startsWith("snapshot field virtio.transport is mmio"), e.getMessage());
        }
    }

    @Test
    void aSnapshotWithOtherDevicesIsRefused() throws Exception {
        StateReader saved;
        try (VirtioDevices virtio = withDevices(VirtioTransport.MMIO, disk("a.img", 4096))) {
            saved = saved(virtio);
        }
        try (VirtioDevices fresh = withDevices(VirtioTransport.MMIO)) {
            SnapshotException e = assertThrows(SnapshotException.class, () -> fresh.restoreState(saved.child("virtio")));
            assertTrue(e.getMessage().startsWith("snapshot field virtio.devices has 3 entries"), e.getMessage());
        }
    }

    @Test
    void devicesMustBePausedToBeSaved() throws Exception {
        try (VirtioDevices virtio = withDevices(VirtioTransport.PCI)) {
            assertThrows(IllegalStateException.class, () -> virtio.saveState(StateWriter.root()));
        }
    }

    @Test
    void aMacOverrideMustNameANetworkCardOfTheVm() throws Exception {
        StateReader saved;
        try (VirtioDevices virtio = withDevices(VirtioTransport.PCI)) {
            saved = saved(virtio);
        }
        try (VirtioDevices fresh = withDevices(VirtioTransport.PCI)) {
            assertThrows(IllegalArgumentException.class,
                    () -> fresh.restoreState(saved.child("virtio"), Map.of(0, MacAddress.parse("52:54:00:00:00:01"))));
        }
    }
}
