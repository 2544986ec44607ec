package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vmguard.engine.Registers;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadMachine;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * A snapshot file is untrusted: a wrong size, a missing field, a value out of range, another engine's
 * state, or bytes KVM refuses each fail the restore with a SnapshotException naming the field, before
 * anything reaches KVM where the file can be checked, and never as a native crash.
 */
@Timeout(value = 20, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class KvmSnapshotCorruptionTest {
    /** Where a freshly created vCPU starts: the reset vector. */
    private static final long RESET_RIP = 0xfff0;
    private static JsonNode saved;

    @BeforeAll
    static void saveOne() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("snapshot", Ring.USER, false)) {
            saved = KvmSnapshotTest.saveThroughJson(machine);
        }
    }

    @Test
    void aLapicPageOfTheWrongSizeIsRefusedByName() throws Exception {
        assertRefused(tree -> vcpu(tree).put("lapic", new byte[1000]), "snapshot field vcpu.lapic has 1000 bytes, expected 1024");
    }

    @Test
    void anXsaveAreaOfTheWrongSizeIsRefusedByName() throws Exception {
        JsonNode vcpu = saved.get("vcpu");
        String field = vcpu.has("xsave") ? "xsave" : "fpu";
        int expected = vcpu.get(field).binaryValue().length;
        assertRefused(tree -> vcpu(tree).put(field, new byte[expected - 8]),
                "snapshot field vcpu." + field + " has " + (expected - 8) + " bytes, expected " + expected);
    }

    @Test
    void aMissingRegisterIsRefusedByName() throws Exception {
        assertRefused(tree -> ((ObjectNode) vcpu(tree).get("regs")).remove("rip"), "snapshot field vcpu.regs.rip is missing");
    }

    @Test
    void stateTheInterpreterWroteIsRefused() throws Exception {
        assertRefused(tree -> vcpu(tree).put("engine", "interp"), "snapshot field vcpu.engine says the vCPU was saved by the"
                + " interp engine; a KVM vCPU restores only state the KVM engine saved");
    }

    @Test
    void aPlatformWithoutItsEngineMarkerIsRefused() throws Exception {
        assertRefused(tree -> ((ObjectNode) tree.get("vm")).remove("engine"), "snapshot field vm.engine is missing");
    }

    @Test
    void anMpStateX86DoesNotHaveIsRefused() throws Exception {
        assertRefused(tree -> vcpu(tree).put("mpState", 7), "snapshot field vcpu.mpState is 7, outside 0..4");
    }

    @Test
    void anMsrOutsideTheSnapshotListIsRefused() throws Exception {
        assertRefused(tree -> ((ObjectNode) vcpu(tree).withArray("msrs").get(0)).put("index", 0xc0010015),
                "snapshot field vcpu.msrs.0.index is 0xc0010015, an MSR a KVM snapshot does not restore");
    }

    @Test
    void aRepeatedMsrIsRefused() throws Exception {
        assertRefused(tree -> vcpu(tree).withArray("msrs").add(vcpu(tree).withArray("msrs").get(0).deepCopy()),
                "snapshot field vcpu.msrs." + saved.get("vcpu").get("msrs").size() + ".index repeats IA32_TSC (0x10)");
    }

    @Test
    void bytesThatAreNotBase64AreRefused() throws Exception {
        assertRefused(tree -> vcpu(tree).put("sregs", "not base64!"), "snapshot field vcpu.sregs is not valid base64");
    }

    @Test
    void aPitStateOfTheWrongSizeIsRefused() throws Exception {
        assertRefused(tree -> ((ObjectNode) tree.get("vm")).put("pit", new byte[8]), "snapshot field vm.pit has 8 bytes, expected 112");
    }

    /** Well-formed bytes KVM itself rejects (undefined flags in kvm_vcpu_events) still name the field. */
    @Test
    void eventsKvmRejectsAreRefusedByName() throws Exception {
        byte[] events = saved.get("vcpu").get("vcpuEvents").binaryValue();
        events[20] = (byte) 0xff; // flags
        events[21] = (byte) 0xff;
        SnapshotException e = restoreExpectingFailure(tree -> vcpu(tree).put("vcpuEvents", events));
        assertEquals("snapshot field vcpu.vcpuEvents was refused: KVM_SET_VCPU_EVENTS on vCPU 0: Invalid argument", e.getMessage());
    }

    private static ObjectNode vcpu(ObjectNode tree) {
        return (ObjectNode) tree.get("vcpu");
    }

    /** Restores a corrupted copy on a fresh machine: refused with {@code message}, the vCPU untouched. */
    private static void assertRefused(Consumer<ObjectNode> corrupt, String message) throws Exception {
        try (PayloadMachine fresh = KvmTestMachine.create()) {
            Registers before = fresh.vcpu.registers();
            ObjectNode tree = saved.deepCopy();
            corrupt.accept(tree);
            SnapshotException e = assertThrows(SnapshotException.class, () -> KvmSnapshotTest.restore(fresh, tree));
            assertEquals(message, e.getMessage());
            assertEquals(before, fresh.vcpu.registers(), "nothing was written before the check failed");
            assertEquals(RESET_RIP, fresh.vcpu.registers().rip());
        }
    }

    private static SnapshotException restoreExpectingFailure(Consumer<ObjectNode> corrupt) throws Exception {
        try (PayloadMachine fresh = KvmTestMachine.create()) {
            ObjectNode tree = saved.deepCopy();
            corrupt.accept(tree);
            return assertThrows(SnapshotException.class, () -> KvmSnapshotTest.restore(fresh, tree));
        }
    }
}
