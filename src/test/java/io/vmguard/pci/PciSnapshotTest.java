package io.vmguard.pci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vmguard.bus.InterruptLine;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** The root complex's snapshot: every function's config space as the guest left it, MSI-X table and pending bits included. */
class PciSnapshotTest {
    private static final int MSIX_POSITION = 0x40;

    private final RecordingMsiSink msi = new RecordingMsiSink();

    /** A root with one function: a 4 KiB BAR holding an MSI-X table of 4 vectors, and INTA. */
    private record Machine(PciRoot root, TestPciDevice device, MsixCapability msix) {}

    private Machine machine() {
        PciRoot root = new PciRoot(gsi -> InterruptLine.NONE, msi);
        MsixCapability msix = new MsixCapability(4, 0, 0, 0, 0x800, msi);
        PciConfigSpace config = PciConfigSpace.builder(0x1af4, 0x1041).bar(0, PciBar.memory32(0x1000))
                .interruptPin(InterruptPin.INTA).capability(msix).build();
        TestPciDevice device = new TestPciDevice(config, msix);
        root.add(device);
        return new Machine(root, device, msix);
    }

    private static ObjectNode saved(PciRoot root) throws Exception {
        StateWriter out = StateWriter.root();
        root.saveState(out);
        ObjectMapper mapper = new ObjectMapper();
        return (ObjectNode) mapper.readTree(mapper.writeValueAsString(out.tree()));
    }

    private static void tableWrite(TestPciDevice device, long offset, int value) {
        MemorySegment data = MemorySegment.ofArray(new byte[4]);
        Bytes.store(data, value);
        device.writeBar(0, offset, data);
    }

    @Test
    void theGuestsProgrammingComesBack() throws Exception {
        Machine before = machine();
        PciConfigSpace config = before.device().config();
        config.write(PciConfigSpace.BAR0, 4, 0xc000_0000);
        config.write(PciConfigSpace.COMMAND, 2, PciConfigSpace.COMMAND_MEMORY | PciConfigSpace.COMMAND_BUS_MASTER);
        config.write(PciConfigSpace.INTERRUPT_LINE, 1, 11);
        config.write(MSIX_POSITION + 2, 2, MsixCapability.CONTROL_ENABLE | MsixCapability.CONTROL_FUNCTION_MASK);
        tableWrite(before.device(), 0, 0xfee0_0000);
        tableWrite(before.device(), 8, 0x41);
        tableWrite(before.device(), 12, 0); // vector 0 unmasked; the function mask holds it
        before.msix().signal(0); // pending while the function is masked
        ObjectNode tree = saved(before.root());

        Machine after = machine();
        after.root().restoreState(StateReader.of(tree));

        PciConfigSpace restored = after.device().config();
        assertEquals(0xc000_0000L, restored.barAddress(0));
        assertTrue(restored.busMasterEnabled());
        assertEquals(11, restored.read(PciConfigSpace.INTERRUPT_LINE, 1));
        assertTrue(after.msix().enabled() && after.msix().functionMasked());
        assertTrue(after.msix().pending(0), "the pending bit came back");
        assertEquals(0, msi.messages().size(), "restoring sends nothing");
        restored.write(MSIX_POSITION + 2, 2, MsixCapability.CONTROL_ENABLE); // the guest unmasks the function
        assertEquals(1, msi.messages().size(), "the pending vector goes out at the unmask, to the saved address");
    }

    @Test
    void aBarValueTheRegisterCannotHoldIsRefused() throws Exception {
        ObjectNode tree = saved(machine().root());
        ArrayNode bars = (ArrayNode) tree.at("/functions/1/config/bars");
        bars.set(0, 0x1234);
        SnapshotException e = assertThrows(SnapshotException.class, () -> machine().root().restoreState(StateReader.of(tree)));
        assertTrue(e.getMessage().startsWith("snapshot field functions.1.config.bars.0 0x1234 is not an address"), e.getMessage());
    }

    @Test
    void aFunctionOfAnotherKindIsRefused() throws Exception {
        ObjectNode tree = saved(machine().root());
        ((ObjectNode) tree.at("/functions/1/config")).put("deviceId", 0x1042);
        SnapshotException e = assertThrows(SnapshotException.class, () -> machine().root().restoreState(StateReader.of(tree)));
        assertEquals("snapshot field functions.1.config.deviceId is 0x1042, but this function has 0x1041", e.getMessage());
    }

    @Test
    void msixReservedBitsAreRefused() throws Exception {
        ObjectNode tree = saved(machine().root());
        ArrayNode table = (ArrayNode) tree.at("/functions/1/config/capabilities/0/state/table");
        table.set(3, 0xff);
        SnapshotException e = assertThrows(SnapshotException.class, () -> machine().root().restoreState(StateReader.of(tree)));
        assertTrue(e.getMessage().startsWith("snapshot field functions.1.config.capabilities.0.state.table.3 "), e.getMessage());
    }
}
