package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.BooleanNode;
import com.fasterxml.jackson.databind.node.ContainerNode;
import com.fasterxml.jackson.databind.node.IntNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.LongNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import io.vmguard.engine.VcpuExit;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.testing.PayloadHarness;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * A snapshot file is untrusted input. Every field of a real snapshot (the snapshot payload paused
 * halfway, timers armed) missing, of the wrong type, or out of range must make the restore fail with a
 * {@link SnapshotException} that names the field, and nothing else; extreme values that are accepted
 * must give a guest that runs (or faults, as the guest's own doing), never an interpreter error.
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpSnapshotCorruptionTest {
    /** How long a restored mutant runs: enough to take timer interrupts and reach device code. */
    private static final long INSTRUCTION_BUDGET = 30_000;
    private static final long[] EXTREMES = {Long.MIN_VALUE, -1, 0, 1L << 32, Long.MAX_VALUE};

    private static JsonNode snapshot;
    private static byte[] image;
    private static ScheduledExecutorService watchdog;

    @BeforeAll
    static void saveThePayloadHalfway() throws Exception {
        try (SnapshotRig rig = SnapshotRig.started()) {
            rig.runUntil(PayloadHarness.NOTE_PORT);
            snapshot = rig.snapshot();
            image = rig.memoryImage();
        }
        watchdog = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon().factory());
    }

    @AfterAll
    static void stopWatchdog() {
        watchdog.shutdownNow();
    }

    @Test
    void theUnchangedSnapshotRestores() throws Exception {
        try (SnapshotRig rig = SnapshotRig.fresh(image, INSTRUCTION_BUDGET)) {
            rig.restore(snapshot, true);
        }
    }

    /** Snapshots from before the interpreter ran other modes have no PDPTEs: they restore (and run) all the same. */
    @Test
    void aSnapshotWithoutPdptesRestores() throws Exception {
        JsonNode older = snapshot.deepCopy();
        ((ObjectNode) older.at("/vcpu")).remove("pdpte");
        try (SnapshotRig rig = SnapshotRig.fresh(image, INSTRUCTION_BUDGET)) {
            rig.restore(older, true);
        }
    }

    /**
     * Each of the two restores (the VM's, the vCPU's) takes all of its state or none of it: a refusal at a
     * field read late, after other devices were checked, leaves the machine as it was.
     */
    @Test
    void aRefusedRestoreChangesNothing() throws Exception {
        for (String late : List.of("vm.interrupt_inputs.levels", "vm.platform.kvmclock.wall_version", "vcpu.halted")) {
            Field field = field(late);
            StateReader broken = StateReader.of(mutate(field, parent -> field.set(parent, TextNode.valueOf("seven"))));
            try (SnapshotRig rig = SnapshotRig.fresh(image, INSTRUCTION_BUDGET)) {
                JsonNode before = rig.snapshot();
                assertThrows(SnapshotException.class, () -> {
                    if (late.startsWith("vm.")) {
                        rig.vm.restoreState(broken.child("vm"));
                    } else {
                        rig.vcpu.restoreState(broken.child("vcpu"));
                    }
                }, late);
                assertEquals(before, rig.snapshot(), "after a refusal at " + late);
            }
        }
    }

    @Test
    void everyMissingFieldIsNamed() throws Exception {
        int checked = 0;
        for (Field field : fields(snapshot)) {
            if (field.path().matches(".*\\.(application_processors|waiting_for_startup|nmi_pending|nmi_blocked)")) {
                // Snapshots from before SMP have none of these: without the list a VM has no application processors,
                // which is right for this one-vCPU VM (a VM with more refuses it: InterpSmpTest), and the BSP neither
                // waits for a start-up IPI nor has an NMI pending or blocked.
                continue;
            }
            if (field.path().equals("vcpu.pdpte")) {
                continue; // optional: snapshots from before the interpreter ran PAE outside long mode have none
            }
            JsonNode broken = mutate(field, parent -> {
                if (parent instanceof ObjectNode object) {
                    object.remove(field.key());
                } else {
                    ((ArrayNode) parent).remove(Integer.parseInt(field.key()));
                }
            });
            // A missing array element makes the array the wrong length: the array is named.
            String named = field.inArray() ? field.parentPath() : field.path();
            assertRefused(broken, named, "without " + field.path());
            checked++;
        }
        assertTrue(checked > 300, checked + " fields");
    }

    @Test
    void everyFieldOfTheWrongTypeIsNamed() throws Exception {
        for (Field field : fields(snapshot)) {
            JsonNode wrong = field.value().isTextual() ? IntNode.valueOf(7) : TextNode.valueOf("seven");
            assertRefused(mutate(field, parent -> field.set(parent, wrong)), field.path(), field.path() + " = " + wrong);
        }
    }

    @Test
    void valuesTheHardwareCannotHoldAreNamed() throws Exception {
        Map<String, JsonNode> cases = new TreeMap<>();
        cases.put("vcpu.engine", TextNode.valueOf("kvm"));
        cases.put("vcpu.cpl", IntNode.valueOf(4));
        cases.put("vcpu.rip", LongNode.valueOf(0x0000_8000_0000_0000L));
        cases.put("vcpu.rflags", LongNode.valueOf(0x2 | 0x8));
        cases.put("vcpu.segments.0.name", TextNode.valueOf("cs"));
        cases.put("vcpu.segments.1.dpl", IntNode.valueOf(4));
        cases.put("vcpu.segments.1.db", BooleanNode.TRUE); // a 64-bit CS with D set
        cases.put("vcpu.segments.2.selector", IntNode.valueOf(0x10000));
        cases.put("vcpu.segments.3.limit", LongNode.valueOf(1L << 32));
        cases.put("vcpu.tr.type", IntNode.valueOf(16));
        cases.put("vcpu.gdt.limit", IntNode.valueOf(0x10000));
        cases.put("vcpu.fs_base", LongNode.valueOf(0x0000_8000_0000_0000L));
        cases.put("vcpu.cr0", LongNode.valueOf(0x8000_0010L)); // PG without PE
        cases.put("vcpu.cr3", LongNode.valueOf(1L << 60));
        cases.put("vcpu.cr4", LongNode.valueOf(1L << 20)); // SMEP: not offered
        cases.put("vcpu.efer", LongNode.valueOf(0x400)); // LMA without LME
        cases.put("vcpu.sse.mxcsr", IntNode.valueOf(0x10000));
        cases.put("vcpu.x87.tag", IntNode.valueOf(-1));
        cases.put("vcpu.x87.sign_exponent.0", IntNode.valueOf(0x10000));
        cases.put("vm.engine", TextNode.valueOf("kvm"));
        cases.put("vm.vm_time_nanos", IntNode.valueOf(-1));
        cases.put("vm.platform.local_apic.apic_base", LongNode.valueOf(0xfee0_0000L | 0x900 | 0x400)); // x2APIC
        cases.put("vm.platform.local_apic.tpr", IntNode.valueOf(0x100));
        cases.put("vm.platform.local_apic.irr.0", IntNode.valueOf(1)); // vector 0
        cases.put("vm.platform.local_apic.lvt.timer", LongNode.valueOf(1L << 20));
        cases.put("vm.platform.local_apic.timer.divide_configuration", IntNode.valueOf(4));
        cases.put("vm.platform.local_apic.timer.initial_count", LongNode.valueOf(1L << 32));
        cases.put("vm.platform.local_apic.timer.started_ago_nanos", IntNode.valueOf(-5));
        cases.put("vm.platform.local_apic.timer.tsc_deadline", IntNode.valueOf(5)); // periodic mode
        cases.put("vm.platform.io_apic.redirection.0", LongNode.valueOf(0x1_0000 | 1 << 12)); // delivery status
        cases.put("vm.platform.io_apic.redirection.1", LongNode.valueOf(1 << 14)); // remote IRR, edge
        cases.put("vm.platform.pic.master.priority_add", IntNode.valueOf(8));
        cases.put("vm.platform.pic.master.elcr", IntNode.valueOf(1)); // IRQ 0 is edge only
        cases.put("vm.platform.pic.slave.vector_base", IntNode.valueOf(0x29));
        cases.put("vm.platform.pic.slave.init_step", IntNode.valueOf(4));
        cases.put("vm.platform.pit.channels.0.count", IntNode.valueOf(0));
        cases.put("vm.platform.pit.channels.0.mode", IntNode.valueOf(6));
        cases.put("vm.platform.pit.channels.2.count_latch", IntNode.valueOf(4));
        cases.put("vm.platform.pit.next_irq_in_nanos", LongNode.valueOf(Long.MIN_VALUE));
        cases.put("vm.interrupt_inputs.levels", LongNode.valueOf(1L << 24));
        for (var entry : cases.entrySet()) {
            Field field = field(entry.getKey());
            assertRefused(mutate(field, parent -> field.set(parent, entry.getValue())), field.path(),
                    field.path() + " = " + entry.getValue());
        }
        ObjectNode message = JsonNodeFactory.instance.objectNode().put("address", 0xfed0_0000L).put("data", 0x41);
        JsonNode withMessage = snapshot.deepCopy();
        ((ArrayNode) withMessage.at("/vm/interrupt_inputs/messages")).add(message);
        assertRefused(withMessage, "vm.interrupt_inputs.messages.0.address", "a message outside the interrupt window");
    }

    /**
     * The fuzz: every number set to each of {@link #EXTREMES}, every flag flipped. A refusal must name a
     * field of the same part (vcpu or vm: a check across fields may name the other one of a pair); an
     * accepted state must run without an interpreter error.
     */
    @Test
    void extremeValuesAreRefusedByNameOrRunWithoutAnInterpreterError() throws Exception {
        Map<String, Integer> outcomes = new TreeMap<>();
        for (Field field : fields(snapshot)) {
            List<JsonNode> values = new ArrayList<>();
            if (field.value().isBoolean()) {
                values.add(BooleanNode.valueOf(!field.value().booleanValue()));
            } else if (field.value().isIntegralNumber()) {
                for (long extreme : EXTREMES) {
                    values.add(LongNode.valueOf(extreme));
                }
            }
            for (JsonNode value : values) {
                String outcome = restoreAndRun(mutate(field, parent -> field.set(parent, value)), field, value);
                outcomes.merge(outcome, 1, Integer::sum);
            }
        }
        System.out.println("snapshot fuzz: " + outcomes);
    }

    private static String restoreAndRun(JsonNode mutant, Field field, JsonNode value) throws Exception {
        try (SnapshotRig rig = SnapshotRig.fresh(image, INSTRUCTION_BUDGET)) {
            try {
                rig.restore(mutant, true);
            } catch (SnapshotException e) {
                String part = field.path().substring(0, field.path().indexOf('.'));
                assertTrue(e.getMessage().startsWith("snapshot field " + part + "."),
                        field.path() + " = " + value + " refused naming another part: " + e.getMessage());
                return "refused";
            }
            // A guest halted with no timer armed waits for ever: the watchdog ends that run.
            ScheduledFuture<?> stop = watchdog.schedule(rig.vcpu::requestExit, 2, TimeUnit.SECONDS);
            try {
                VcpuExit exit = rig.runUntil(PayloadHarness.EXIT_PORT);
                if (exit instanceof VcpuExit.InternalError error) {
                    fail(field.path() + " = " + value + " was restored, then the interpreter failed: " + error);
                }
                return "ran: " + exit.getClass().getSimpleName();
            } finally {
                stop.cancel(false);
            }
        }
    }

    private static void assertRefused(JsonNode broken, String named, String what) throws Exception {
        try (SnapshotRig rig = SnapshotRig.fresh(image, INSTRUCTION_BUDGET)) {
            SnapshotException e = assertThrows(SnapshotException.class, () -> rig.restore(broken, true), what);
            assertTrue(e.getMessage().startsWith("snapshot field " + named + " "), what + ": " + e.getMessage());
        }
    }

    // ---- the tree's fields ----

    /**
     * A node of the snapshot tree below the root: its JSON pointer, its key in its parent (an index for
     * array elements), and its value.
     */
    private record Field(String pointer, String key, boolean inArray, JsonNode value) {
        /** The name StateReader gives it: keys and indices joined by dots. */
        String path() {
            return pointer.substring(1).replace('/', '.');
        }

        String parentPath() {
            return pointer.substring(1, pointer.lastIndexOf('/')).replace('/', '.');
        }

        JsonNode parentIn(JsonNode root) {
            return root.at(pointer.substring(0, pointer.lastIndexOf('/')));
        }

        void set(JsonNode parent, JsonNode newValue) {
            if (parent instanceof ObjectNode object) {
                object.set(key, newValue);
            } else {
                ((ArrayNode) parent).set(Integer.parseInt(key), newValue);
            }
        }
    }

    private static Field field(String path) {
        String pointer = "/" + path.replace('.', '/');
        JsonNode value = snapshot.at(pointer);
        assertTrue(!value.isMissingNode(), "no field " + path);
        String key = pointer.substring(pointer.lastIndexOf('/') + 1);
        return new Field(pointer, key, snapshot.at(pointer.substring(0, pointer.lastIndexOf('/'))).isArray(), value);
    }

    /** Every node below the root, containers included, in document order. */
    private static List<Field> fields(JsonNode root) {
        List<Field> fields = new ArrayList<>();
        collect(root, "", fields);
        return fields;
    }

    private static void collect(JsonNode node, String pointer, List<Field> fields) {
        if (node.isObject()) {
            for (var entry : node.properties()) {
                String child = pointer + "/" + entry.getKey();
                fields.add(new Field(child, entry.getKey(), false, entry.getValue()));
                collect(entry.getValue(), child, fields);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                String child = pointer + "/" + i;
                fields.add(new Field(child, Integer.toString(i), true, node.get(i)));
                collect(node.get(i), child, fields);
            }
        }
    }

    /** A copy of the snapshot with {@code change} applied to the field's parent. */
    private static JsonNode mutate(Field field, Consumer<ContainerNode<?>> change) {
        JsonNode copy = snapshot.deepCopy();
        change.accept((ContainerNode<?>) field.parentIn(copy));
        return copy;
    }
}
