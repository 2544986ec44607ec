package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.vmguard.bus.BusRange;
import io.vmguard.engine.EngineException;
import io.vmguard.engine.Vcpu;
import io.vmguard.engine.VcpuExit;
import io.vmguard.engine.interp.platform.SnapshotFields;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.MemoryLikeDevice;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import io.vmguard.testing.VcpuThread;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * Pausing, saving and restoring the interpreter: a VM saved mid-run (registers, x87 and SSE state, the
 * interrupt controllers, an armed local APIC timer and the PIT), carried through JSON text and restored
 * into a fresh VM over a copy of its memory runs to exactly the end the original reaches; a restored
 * VM's clock continues from the saved time; and a pause never splits an instruction.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpSnapshotTest {
    private static final Duration RUN_LIMIT = Duration.ofSeconds(30);
    private static final long PROMPT_MILLIS = 1000;
    private static final int MSR_TSC = 0x10;

    @Test
    void aVmSavedHalfwayAndRestoredFromJsonIntoAFreshVmRunsToTheSameEndAsTheOriginal() throws Exception {
        try (SnapshotRig original = SnapshotRig.started()) {
            assertEquals(PayloadHarness.NOTE_PORT, port(original.runUntil(PayloadHarness.NOTE_PORT, PayloadHarness.EXIT_PORT)));
            original.vcpu.requestExit();
            assertInstanceOf(VcpuExit.Interrupted.class, original.vcpu.run(), "a pause request ends the next run before any instruction");

            JsonNode snapshot = original.snapshot();
            byte[] image = original.memoryImage();
            assertSnapshotCatchesTheMachineMidFlight(snapshot);
            try (SnapshotRig restored = SnapshotRig.restored(image, snapshot, true)) {
                assertSameEnd(original, restored, image);
            }
        }
    }

    @Test
    void aVcpuPausedFromAnotherThreadMidRunRestoresToTheSameEndAsTheOriginal() throws Exception {
        try (SnapshotRig original = SnapshotRig.started()) {
            VcpuThread vcpuThread = VcpuThread.start(() -> original.runUntil(PayloadHarness.EXIT_PORT));
            CompletableFuture<VcpuExit> paused = vcpuThread.exit();
            // Pause a good way into the run, wherever the vCPU is then: after the guest counted 50 ticks.
            long timerCount = SnapshotRig.payload().symbol("timer_count");
            while (original.memory.readInt(timerCount) < 50 && !paused.isDone()) {
                Thread.onSpinWait();
            }
            original.vcpu.requestExit();
            VcpuExit exit = paused.get(PROMPT_MILLIS, TimeUnit.MILLISECONDS);
            vcpuThread.join();
            assertInstanceOf(VcpuExit.Interrupted.class, exit, "paused before the payload's end (if it got there, make ROUNDS larger)");

            // The future's completion orders the vCPU thread's writes before these reads (the VMM's handshake).
            JsonNode snapshot = original.snapshot();
            byte[] image = original.memoryImage();
            try (SnapshotRig restored = SnapshotRig.restored(image, snapshot, false)) {
                assertSameEnd(original, restored, image);
            }
        }
    }

    /** What the round trip must carry: FPU and SSE values, a TOP that is not 0, both timers armed. */
    private static void assertSnapshotCatchesTheMachineMidFlight(JsonNode snapshot) {
        JsonNode x87 = snapshot.at("/vcpu/x87");
        assertEquals(6, (x87.get("status").asInt() >>> 11) & 7, "FLD1 and FLDPI left TOP at 6");
        assertNotEquals(0, snapshot.at("/vcpu/sse/xmm/0").asLong(), "XMM0 holds the running sum");
        JsonNode platform = snapshot.at("/vm/platform");
        assertNotEquals(SnapshotFields.NEVER, platform.at("/local_apic/timer/expires_in_nanos").asLong(), "the APIC timer is armed");
        assertNotEquals(SnapshotFields.NEVER, platform.at("/pit/next_irq_in_nanos").asLong(), "the PIT counts");
        assertEquals(0xfe, platform.at("/pic/master/imr").asInt(), "only IRQ 0 unmasked");
    }

    /**
     * Runs both machines to the payload's end and compares everything: the results the guest reported,
     * the registers, all of memory (FXSAVE put the FPU and SSE state there) and the final saved states.
     * Both timers must have fired after the snapshot, so the restored machine's timers did run.
     */
    private static void assertSameEnd(SnapshotRig original, SnapshotRig restored, byte[] atSnapshot) throws Exception {
        // Exactly what was saved, before anything runs: the restored clock reads the saved time, so even
        // timer instants off by a nanosecond would show (the runs below only see the interrupts' effects).
        assertEquals(original.snapshot(), restored.snapshot(), "the restored state, saved again");
        assertEquals(PayloadHarness.EXIT_PORT, port(original.runUntil(PayloadHarness.EXIT_PORT)));
        assertEquals(PayloadHarness.EXIT_PORT, port(restored.runUntil(PayloadHarness.EXIT_PORT)));

        List<Long> results = restored.harness.results.writtenValues();
        assertEquals(original.harness.results.writtenValues(), results, "timer count, PIT count, hash");
        assertTrue(results.get(0) > counter(atSnapshot, "timer_count"), "the APIC timer fired after the restore: " + results);
        assertTrue(results.get(1) > counter(atSnapshot, "pit_count"), "the PIT fired after the restore: " + results);
        assertEquals(original.vcpu.registers(), restored.vcpu.registers());
        assertEquals(original.vcpu.specialRegisters(), restored.vcpu.specialRegisters());
        assertArrayEquals(original.memoryImage(), restored.memoryImage(), "guest memory");
        assertEquals(original.snapshot(), restored.snapshot(), "the vCPU's and the VM's whole state");
    }

    private static long counter(byte[] image, String symbol) {
        int address = (int) SnapshotRig.payload().symbol(symbol);
        return ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN).getInt(address);
    }

    private static int port(VcpuExit exit) {
        return assertInstanceOf(VcpuExit.IoOut.class, exit, "stopped at " + exit).port();
    }

    @Test
    void aRestoredVmsClockAndTscContinueFromTheSavedValuesInAFreshVm() throws Exception {
        try (PayloadMachine original = PayloadMachine.start(new InterpEngine(), "halt", Ring.KERNEL, true)) {
            original.vcpu.writeMsr(MSR_TSC, 1L << 40); // the guest moved its TSC: an offset to carry
            Thread.sleep(50);
            long tscAtSave = original.vcpu.readMsr(MSR_TSC);
            StateWriter state = StateWriter.root();
            original.vcpu.saveState(state.child("vcpu"));
            original.vm.saveState(state.child("vm"));
            long savedTime = state.tree().at("/vm/vm_time_nanos").asLong();
            assertTrue(savedTime >= 50_000_000L, "50 ms of VM time passed: " + savedTime);

            try (PayloadMachine restored = PayloadMachine.create(new InterpEngine())) {
                long freshTime = ((InterpVcpu) restored.vcpu).platform().clock().nanos();
                assertTrue(freshTime < savedTime, "a fresh VM's clock starts near zero: " + freshTime);
                StateReader saved = StateReader.of(state.tree());
                restored.vm.restoreState(saved.child("vm"));
                restored.vcpu.restoreState(saved.child("vcpu"));

                assertTrue(((InterpVcpu) restored.vcpu).platform().clock().nanos() >= savedTime, "VM time continues");
                long tscAfter = restored.vcpu.readMsr(MSR_TSC);
                assertTrue(tscAfter >= tscAtSave, "TSC " + tscAfter + " continues from " + tscAtSave);
                assertTrue(tscAfter - tscAtSave < 5_000_000_000L, "and does not leap ahead: " + (tscAfter - tscAtSave));
            }
        }
    }

    @Test
    void aHaltedVcpuPausesPromptlyAndIsStillHaltedWhenRestored() throws Exception {
        try (PayloadMachine original = PayloadMachine.start(new InterpEngine(), "halt", Ring.KERNEL, true)) {
            new PayloadHarness().runUntilPort(original.vcpu, PayloadHarness.NOTE_PORT, RUN_LIMIT);
            assertInstanceOf(VcpuExit.Interrupted.class, runThenPause(original.vcpu));
            StateWriter state = StateWriter.root();
            original.vcpu.saveState(state.child("vcpu"));
            original.vm.saveState(state.child("vm"));
            assertTrue(state.tree().at("/vcpu/halted").asBoolean());

            try (PayloadMachine restored = PayloadMachine.create(new InterpEngine())) {
                restored.memory.write(0, original.memory.readBytes(0, (int) LongModeSandbox.MIN_MEMORY));
                StateReader saved = StateReader.of(state.tree());
                restored.vcpu.restoreState(saved.child("vcpu"));
                restored.vm.restoreState(saved.child("vm"));
                // Not halted, it would run on to the payload's exit port at once.
                assertInstanceOf(VcpuExit.Interrupted.class, runThenPause(restored.vcpu), "still waiting in HLT");
                assertEquals(original.payload().symbol("after_hlt"), restored.vcpu.registers().rip());
            }
        }
    }

    /** Runs {@code vcpu} on its own thread; after a while asks it to stop, and returns its exit, which must come promptly. */
    private static VcpuExit runThenPause(Vcpu vcpu) throws Exception {
        VcpuThread thread = VcpuThread.start(vcpu::run);
        CompletableFuture<VcpuExit> result = thread.exit();
        Thread.sleep(200);
        assertNull(result.getNow(null), "the vCPU waits inside run()");
        vcpu.requestExit();
        VcpuExit exit = result.get(PROMPT_MILLIS, TimeUnit.MILLISECONDS);
        thread.join();
        return exit;
    }

    /**
     * A load across a page boundary of device memory needs two reads, and the instruction runs again
     * after each answer. A pause requested between them waits for the instruction to complete: stopping
     * there would leave half an instruction, whose device reads (maybe with side effects) a snapshot
     * could not hold. Saving is refused while an answer is outstanding.
     */
    @Test
    void aPauseRequestedWhileAnInstructionAwaitsItsMmioReadsComesOnlyOnceTheInstructionCompleted() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "mmio-split", Ring.USER, false)) {
            PayloadHarness harness = new PayloadHarness();
            MemoryLikeDevice device = new MemoryLikeDevice(0x5000);
            harness.mmio.register(new BusRange(PayloadHarness.MMIO_BASE, device.size()), device);

            VcpuExit.MmioRead read = assertInstanceOf(VcpuExit.MmioRead.class, machine.vcpu.run());
            assertThrows(EngineException.class, () -> machine.vcpu.saveState(StateWriter.root()),
                    "an instruction waiting for the VMM's answer is not at a boundary");
            machine.vcpu.requestExit(); // the VMM asks for a pause while it answers
            int answered = 0;
            VcpuExit exit;
            do {
                harness.mmio.read(read.address(), read.data());
                answered++;
                exit = machine.vcpu.run();
                read = exit instanceof VcpuExit.MmioRead next ? next : null;
            } while (read != null);

            assertInstanceOf(VcpuExit.Interrupted.class, exit);
            assertTrue(answered >= 2, "the load needed " + answered + " reads");
            assertEquals(device.value(0xffd, 8), machine.vcpu.registers().rax(), "the load completed before the pause");
            machine.vcpu.saveState(StateWriter.root());
        }
    }
}
