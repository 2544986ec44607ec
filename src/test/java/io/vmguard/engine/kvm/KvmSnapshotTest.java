package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.vmguard.engine.Registers;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import io.vmguard.testing.RecordingDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * A KVM VM paused mid-run, saved, written out as JSON and read back, and restored on a fresh VM over a
 * copy of its memory, finishes exactly as the original does (src/test/payloads/snapshot.S: general
 * registers, an SSE sum under a non-default MXCSR, a counter in memory).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class KvmSnapshotTest {
    private static final long ROUNDS = 200_000_000L;
    private static final int ANSWER = 0x12345678;
    private static final long EXPECTED_RBX = ROUNDS * (ROUNDS + 1) / 2 + ANSWER;
    /** Round toward zero, all exceptions masked: what the payload loads. */
    private static final int PAYLOAD_MXCSR = 0x7f80;
    /** MXCSR's sticky exception flags (the sum sets PE). */
    private static final int MXCSR_FLAGS = 0x3f;
    /** MXCSR's offset in the legacy FXSAVE region at the start of the XSAVE area. */
    private static final int XSAVE_MXCSR = 24;
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aVcpuKickedMidLoopAndRestoredOnAFreshVmFinishesLikeTheOriginal() throws Exception {
        try (PayloadMachine original = KvmTestMachine.start("snapshot", Ring.USER, false)) {
            CountDownLatch answered = new CountDownLatch(1);
            CompletableFuture<VcpuExit> first = new CompletableFuture<>();
            Thread vcpuThread = Thread.ofPlatform().name("vcpu-0").start(() -> {
                try {
                    first.complete(drive(original.vcpu, new ArrayList<>(), answered));
                } catch (Throwable t) {
                    first.completeExceptionally(t);
                }
            });
            assertTrue(answered.await(20, TimeUnit.SECONDS), "the payload reached its half-way IN");
            Thread.sleep(30);
            original.vcpu.requestExit();
            VcpuExit exit = first.get(10, TimeUnit.SECONDS);
            vcpuThread.join();
            assertInstanceOf(VcpuExit.Interrupted.class, exit, "kicked while in the loop's second half");
            long counterAtPause = original.memory.readLong(original.payload().symbol("counter"));
            assertTrue(counterAtPause > ROUNDS / 2 && counterAtPause < ROUNDS, "paused mid-loop: " + counterAtPause);

            JsonNode saved = saveThroughJson(original);
            assertEquals(PAYLOAD_MXCSR, mxcsr(saved) & ~MXCSR_FLAGS, "MXCSR is in the saved XSAVE area");
            byte[] memory = original.memory.readBytes(0, (int) LongModeSandbox.MIN_MEMORY);

            Finish expected = finish(original);
            try (PayloadMachine restored = KvmTestMachine.create()) {
                restored.memory.write(0, memory);
                restore(restored, saved);
                Finish actual = finish(restored);
                long counter = original.payload().symbol("counter");
                assertEquals(expected, actual);
                assertEquals(EXPECTED_RBX, actual.rbx());
                assertEquals(ROUNDS, restored.memory.readLong(counter));
                assertEquals(ROUNDS, original.memory.readLong(counter));
            }
        }
    }

    /**
     * The run loop stopped right after handling an IN (it never re-entered KVM_RUN): saveState completes
     * the instruction first, so the saved RAX holds the answer and RIP is past the IN; and the original,
     * run on, does not execute the IN again.
     */
    @Test
    void aSnapshotTakenRightAfterAPortReadCompletesTheReadFirst() throws Exception {
        try (PayloadMachine original = KvmTestMachine.start("snapshot", Ring.USER, false)) {
            VcpuExit.IoIn in = runToIn(original.vcpu);
            RecordingDevice.store(in.data(), ANSWER);

            JsonNode saved = saveThroughJson(original);
            assertEquals(ANSWER, saved.get("vcpu").get("regs").get("rax").asLong());
            assertEquals(original.payload().symbol("after_in"), saved.get("vcpu").get("regs").get("rip").asLong());
            byte[] memory = original.memory.readBytes(0, (int) LongModeSandbox.MIN_MEMORY);

            Finish expected = finish(original);
            assertEquals(EXPECTED_RBX, expected.rbx(), "the IN ran once");
            try (PayloadMachine restored = KvmTestMachine.create()) {
                restored.memory.write(0, memory);
                restore(restored, saved);
                assertEquals(expected, finish(restored));
            }
        }
    }

    /** KVM finishes a pending IN on the KVM_RUN that immediate_exit stops, before it returns EINTR. */
    @Test
    void requestExitWhileAPortReadIsHandledCompletesItBeforeInterrupted() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("snapshot", Ring.USER, false)) {
            VcpuExit.IoIn in = runToIn(machine.vcpu);
            RecordingDevice.store(in.data(), ANSWER);
            machine.vcpu.requestExit();

            assertInstanceOf(VcpuExit.Interrupted.class, machine.vcpu.run());

            Registers registers = machine.vcpu.registers();
            assertEquals(ANSWER, registers.rax());
            assertEquals(machine.payload().symbol("after_in"), registers.rip());
        }
    }

    /** The platform: a PIC interrupt request and kvmclock survive the round trip. */
    @Test
    void theInterruptControllersAndKvmclockAreRestored() throws Exception {
        try (PayloadMachine original = KvmTestMachine.start("snapshot", Ring.USER, false)) {
            ((KvmVm) original.vm).setIrqLine(3, true); // IRQ 3 requested at the master PIC and the I/O APIC
            JsonNode saved = saveThroughJson(original);
            int masterIrr = saved.get("vm").get("picMaster").binaryValue()[1]; // kvm_pic_state.irr
            assertEquals(1 << 3, masterIrr & (1 << 3));

            try (PayloadMachine restored = KvmTestMachine.create()) {
                restore(restored, saved);
                StateWriter again = StateWriter.root();
                restored.vm.saveState(again);
                for (String chip : List.of("picMaster", "picSlave", "ioapic")) {
                    assertArrayEquals(saved.get("vm").get(chip).binaryValue(), again.tree().get(chip).binaryValue(), chip);
                }
                long before = saved.get("vm").get("clockNanos").asLong();
                long after = again.tree().get("clockNanos").asLong();
                assertTrue(after >= before && after - before < 5_000_000_000L,
                        "kvmclock continues from the saved value: " + before + " -> " + after);
            }
        }
    }

    private record Finish(long rbx, List<Long> results) {}

    /** Runs the machine to the payload's exit, answering its IN; returns what it reported. */
    private static Finish finish(PayloadMachine machine) throws Exception {
        List<Long> results = new ArrayList<>();
        VcpuExit exit = drive(machine.vcpu, results, new CountDownLatch(1));
        assertInstanceOf(VcpuExit.IoOut.class, exit, "the payload reached its exit");
        return new Finish(machine.vcpu.registers().rbx(), results);
    }

    /** Runs until the payload's exit port (returned) or an Interrupted; answers NOTE_PORT reads. */
    private static VcpuExit drive(Vcpu vcpu, List<Long> results, CountDownLatch answered) {
        while (true) {
            VcpuExit exit = vcpu.run();
            switch (exit) {
                case VcpuExit.IoIn in when in.port() == PayloadHarness.NOTE_PORT -> {
                    RecordingDevice.store(in.data(), ANSWER);
                    answered.countDown();
                }
                case VcpuExit.IoOut out when out.port() == PayloadHarness.RESULT_PORT -> results.add(RecordingDevice.load(out.data()));
                case VcpuExit.IoOut out when out.port() == PayloadHarness.EXIT_PORT -> {
                    return out;
                }
                case VcpuExit.Interrupted interrupted -> {
                    return interrupted;
                }
                default -> fail("unexpected exit " + exit);
            }
        }
    }

    private static VcpuExit.IoIn runToIn(Vcpu vcpu) {
        VcpuExit exit = vcpu.run();
        return assertInstanceOf(VcpuExit.IoIn.class, exit);
    }

    /** Saves vCPU and VM as {"vcpu": ..., "vm": ...} and returns the tree as parsed back from JSON text. */
    static JsonNode saveThroughJson(PayloadMachine machine) throws Exception {
        StateWriter root = StateWriter.root();
        machine.vcpu.saveState(root.child("vcpu"));
        machine.vm.saveState(root.child("vm"));
        String text = JSON.writeValueAsString(root.tree());
        JsonNode parsed = JSON.readTree(text);
        assertNotEquals(0, text.length());
        return parsed;
    }

    static void restore(PayloadMachine machine, JsonNode saved) throws Exception {
        StateReader root = StateReader.of(saved);
        machine.vm.restoreState(root.child("vm"));
        machine.vcpu.restoreState(root.child("vcpu"));
    }

    private static int mxcsr(JsonNode saved) throws Exception {
        JsonNode vcpu = saved.get("vcpu");
        if (!vcpu.has("xsave")) {
            return PAYLOAD_MXCSR; // kvm_fpu host: MXCSR is not in the saved area (see KvmFpuLayout)
        }
        byte[] xsave = vcpu.get("xsave").binaryValue();
        return (xsave[XSAVE_MXCSR] & 0xff) | (xsave[XSAVE_MXCSR + 1] & 0xff) << 8
                | (xsave[XSAVE_MXCSR + 2] & 0xff) << 16 | (xsave[XSAVE_MXCSR + 3] & 0xff) << 24;
    }
}
