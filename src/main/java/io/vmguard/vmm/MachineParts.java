package io.vmguard.vmm;

import io.vmguard.bus.Bus;
import io.vmguard.devices.PowerControl;
import io.vmguard.engine.Engine;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VirtualMachine;
import io.vmguard.memory.GuestMemory;
import io.vmguard.net.MacAddress;
import io.vmguard.net.NetModel;
import io.vmguard.devices.dmatest.DmaTestDevice;
import io.vmguard.events.VmEvents;
import io.vmguard.pci.PciAddress;
import io.vmguard.pci.PciRoot;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * The machine's parts, built the same way for a boot and for a restore, and saved and restored together:
 * the engine's VM and vCPUs over guest memory, the buses, the PCI root, the virtio and the legacy devices.
 */
record MachineParts(VmConfig config, String engineName, GuestMemory memory, VirtualMachine machine, List<Vcpu> vcpus,
                     LegacyDevices devices, VirtioDevices virtio, EmulatedNics nics, PciRoot pci, Bus io, Bus mmio,
                     CompletableFuture<RunOutcome> outcome) {

    /**
     * Builds everything around {@code memory} (which it owns from here on, and closes on failure); the
     * IOMMU's faults go to {@code events}.
     */
    static MachineParts assemble(VmConfig config, Engine engine, GuestMemory memory, VmEvents events,
                                 Consumer<PciRoot> pciDevices) throws VmException {
        VirtualMachine machine = null;
        VirtioDevices virtio = null;
        EmulatedNics nics = new EmulatedNics();
        List<Vcpu> vcpus = new java.util.ArrayList<>();
        try {
            machine = engine.createVm(memory);
            Bus io = new Bus("port I/O");
            Bus mmio = new Bus("MMIO");
            PciRoot pci = new PciRoot(machine::interruptLine, machine::signalMsi);
            pci.registerOn(io, mmio);
            pciDevices.accept(pci);
            DmaDoors doors = DmaDoors.create(memory, events, config.iommu(), DmaDoors.toEngine(machine));
            virtio = new VirtioDevices(mmio, pci, config.virtioTransport(), machine, memory, doors);
            virtio.attach(config);
            nics.attach(config.nets(), pci, doors);
            if (config.dmaTestDevice()) {
                PciAddress at = pci.nextAddress().orElseThrow(() -> new VmException("no PCI slot left for the DMA test device"));
                pci.add(new DmaTestDevice(doors.forPci(at, "dma-test")));
            }
            for (int index = 0; index < config.vcpus(); index++) {
                vcpus.add(machine.createVcpu(index)); // the BSP first; the others wait for its start-up IPIs
            }
            CompletableFuture<RunOutcome> outcome = new CompletableFuture<>();
            LegacyDevices devices = LegacyDevices.attach(io, machine, config.serial(), powerControl(outcome),
                    config.memoryBytes(), config.vcpus());
            return new MachineParts(config, engine.name(), memory, machine, List.copyOf(vcpus), devices, virtio, nics, pci,
                    io, mmio, outcome);
        } catch (EngineException e) {
            nics.close();
            closeQuietly(vcpus, virtio, machine, memory);
            throw new VmException(e.getMessage(), e);
        } catch (IllegalArgumentException | IllegalStateException | VmException e) {
            // Bad sizes, a full PCI bus or MMIO window: one line, and nothing left open.
            nics.close();
            closeQuietly(vcpus, virtio, machine, memory);
            throw e instanceof VmException vm ? vm : new VmException(e.getMessage(), e);
        }
    }

    /** vCPU 0, the bootstrap processor: it runs from the boot state, the others from its start-up IPIs. */
    Vcpu bsp() {
        return vcpus.getFirst();
    }

    void close() {
        devices.close();
        nics.close();
        closeQuietly(vcpus, virtio, machine, memory);
    }

    private static void closeQuietly(List<Vcpu> vcpus, VirtioDevices virtio, VirtualMachine machine, GuestMemory memory) {
        if (virtio != null) {
            virtio.close();
        }
        vcpus.forEach(Vcpu::close);
        if (machine != null) {
            machine.close();
        }
        if (memory != null) {
            memory.close();
        }
    }

    /** Writes every part's state into the snapshot tree, in the order {@link #restoreState} reads it. */
    void saveState(StateWriter root) throws EngineException {
        for (Vcpu vcpu : vcpus) {
            vcpu.saveState(root.append("vcpus"));
        }
        machine.saveState(root.child("machine"));
        StateWriter saved = root.child("devices");
        pci.saveState(saved.child("pci"));
        virtio.saveState(saved.child("virtio"));
        if (!nics.isEmpty()) {
            nics.saveState(saved.child("nics"));
        }
        devices.saveState(saved.child("legacy"));
    }

    /**
     * Restores every part from the snapshot tree. The order matters: the engine's interrupt controllers
     * before the devices that drive their lines, and PCI (bus mastering, MSI-X) before the virtio devices
     * that come back running through it.
     */
    void restoreState(StateReader root, Map<Integer, MacAddress> macs) throws SnapshotException, EngineException {
        List<StateReader> savedVcpus = root.list("vcpus", VmConfig.MAX_VCPUS);
        if (savedVcpus.size() != vcpus.size()) {
            throw new SnapshotException("snapshot field vcpus has " + savedVcpus.size() + " entries; its configuration has "
                    + vcpus.size());
        }
        for (int i = 0; i < savedVcpus.size(); i++) {
            vcpus.get(i).restoreState(savedVcpus.get(i));
        }
        machine.restoreState(root.child("machine"));
        StateReader saved = root.child("devices");
        pci.restoreState(saved.child("pci"));
        // Card indices count every card; virtio-net and e1000 cards each count their own.
        Map<Integer, MacAddress> virtioMacs = new java.util.HashMap<>();
        Map<Integer, MacAddress> e1000Macs = new java.util.HashMap<>();
        int virtioCards = 0;
        int e1000Cards = 0;
        for (int card = 0; card < config.nets().size(); card++) {
            boolean e1000 = config.nets().get(card).model() == NetModel.E1000;
            int index = e1000 ? e1000Cards++ : virtioCards++;
            if (macs.get(card) instanceof MacAddress mac) {
                (e1000 ? e1000Macs : virtioMacs).put(index, mac);
            }
        }
        virtio.restoreState(saved.child("virtio"), virtioMacs);
        if (!nics.isEmpty()) {
            nics.restoreState(saved.child("nics"), e1000Macs);
        }
        devices.restoreState(saved.child("legacy"));
    }

    private static PowerControl powerControl(CompletableFuture<RunOutcome> stop) {
        return new PowerControl() {
            @Override
            public void powerOff(int status) {
                stop.complete(new RunOutcome.PoweredOff(status));
            }

            @Override
            public void reset() {
                stop.complete(new RunOutcome.Reset("guest requested a reset"));
            }
        };
    }
}
