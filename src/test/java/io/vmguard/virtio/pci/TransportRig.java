package io.vmguard.virtio.pci;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vmguard.bus.InterruptLine;
import io.vmguard.pci.PciRoot;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.VirtioControl;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.mmio.VirtioMmioTransport;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One virtio device on one transport, as a VMM wires it, for snapshot tests: the driver's register
 * accesses, the interrupts that reach the guest, and the transport's snapshot (with the PCI root's on PCI,
 * which holds the function's configuration space and MSI-X table).
 */
sealed interface TransportRig {
    RegisterDriver driver();

    VirtioControl control();

    /** Interrupts that reached the guest (MSI messages, or raises of the INTx/virtio-mmio line). */
    int interrupts();

    void save(StateWriter out);

    void restore(StateReader in) throws SnapshotException;

    /** Which transport; a fresh rig of the same kind builds its own over {@code device}. */
    Kind kind();

    enum Kind {
        PCI, MMIO;

        /**
         * A rig over {@code device}. {@code initialise}: the driver enables bus mastering and programs MSI-X
         * as a fresh guest would; a rig to restore into is left as built, for the snapshot to fill.
         */
        TransportRig build(VirtioDevice device, GuestRam ram, boolean initialise) {
            return switch (this) {
                case PCI -> Pci.build(device, ram, initialise);
                case MMIO -> Mmio.build(device, ram);
            };
        }
    }

    /** The state through JSON text and back, as a snapshot file carries it. */
    static StateReader throughJson(StateWriter out) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        return StateReader.of(mapper.readTree(mapper.writeValueAsString(out.tree())));
    }

    /** The saved tree as a mutable JSON copy, for corruption tests. */
    static ObjectNode jsonCopy(StateWriter out) throws Exception {
        ObjectMapper mapper = new ObjectMapper();
        JsonNode tree = mapper.readTree(mapper.writeValueAsString(out.tree()));
        return (ObjectNode) tree;
    }

    record Pci(PciRoot root, VirtioPciTransport transport, RegisterDriver driver, AtomicInteger messages) implements TransportRig {
        static Pci build(VirtioDevice device, GuestRam ram, boolean initialise) {
            AtomicInteger messages = new AtomicInteger();
            PciRoot root = new PciRoot(gsi -> InterruptLine.NONE, (address, data) -> messages.incrementAndGet());
            VirtioPciTransport transport = new VirtioPciTransport(device, "snapshot-test", ram.dma(), root.msiSink());
            root.add(transport);
            RegisterDriver driver = initialise
                    ? new RegisterDriver.Pci(transport, true, device.queueCount())
                    : new RegisterDriver.Pci(new ModernDriver(transport), true);
            return new Pci(root, transport, driver, messages);
        }

        @Override
        public VirtioControl control() {
            return transport.control();
        }

        @Override
        public int interrupts() {
            return messages.get();
        }

        @Override
        public void save(StateWriter out) {
            out.save("pci", root).save("transport", transport);
        }

        /** The root first: the function's bus mastering and MSI-X must be back before its device runs. */
        @Override
        public void restore(StateReader in) throws SnapshotException {
            in.restore("pci", root);
            in.restore("transport", transport);
        }

        @Override
        public Kind kind() {
            return Kind.PCI;
        }
    }

    record Mmio(VirtioMmioTransport transport, RegisterDriver driver, AtomicInteger raises) implements TransportRig {
        static Mmio build(VirtioDevice device, GuestRam ram) {
            AtomicInteger raises = new AtomicInteger();
            InterruptLine line = level -> {
                if (level) {
                    raises.incrementAndGet();
                }
            };
            VirtioMmioTransport transport = new VirtioMmioTransport(device, "snapshot-test", ram.dma(), line);
            return new Mmio(transport, new RegisterDriver.Mmio(transport), raises);
        }

        @Override
        public VirtioControl control() {
            return transport.control();
        }

        @Override
        public int interrupts() {
            return raises.get();
        }

        @Override
        public void save(StateWriter out) {
            out.save("transport", transport);
        }

        @Override
        public void restore(StateReader in) throws SnapshotException {
            in.restore("transport", transport);
        }

        @Override
        public Kind kind() {
            return Kind.MMIO;
        }
    }
}
