package io.vmguard.engine.kvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.engine.monitor.TrapKind;
import io.vmguard.testing.LongModeSandbox;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * MSR-write traps under KVM (src/test/payloads/msr-trap.S, ring 0): a watched WRMSR is reported with its
 * instruction and both values, after its effect, and the guest goes on without the run loop seeing an
 * exit; an unwatched one is not reported; a value KVM refuses gives the guest its #GP.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class KvmMonitoringTest {
    private static final Duration LIMIT = Duration.ofSeconds(30);
    private static final int LSTAR = 0xc000_0082;
    private static final int FS_BASE = 0xc000_0100;
    private static final long NEW_LSTAR = 0xffff_ffff_8123_4560L;
    private static final int GP_VECTOR = 13;

    /** LSTAR, and every kind KVM cannot trap, which must simply never be reported. */
    private static MonitorPlan plan() {
        BitSet frames = new BitSet();
        frames.set((int) (LongModeSandbox.PAYLOAD >>> 12));
        BitSet calls = new BitSet();
        calls.set(39);
        return new MonitorPlan(frames, Set.of(0, 4), Set.of(LSTAR), true, calls, false);
    }

    private static PayloadMachine start() throws Exception {
        PayloadMachine machine = KvmTestMachine.start("msr-trap", Ring.KERNEL, false);
        LongModeSandbox.setInterruptGate(machine.memory, GP_VECTOR, machine.payload().symbol("gp_handler"));
        return machine;
    }

    @Test
    void kvmOffersMsrWriteTrapsOnly() throws Exception {
        try (PayloadMachine machine = start()) {
            assertEquals(EnumSet.of(TrapKind.MSR_WRITE), machine.vm.monitoring().orElseThrow().traps());
        }
    }

    /**
     * The interpreter's monitor payload (a watched store, MOV CR0, WRMSR LSTAR and FS_BASE, LIDT, SYSCALL)
     * under KVM with the interpreter test's full plan: of all that, KVM reports the LSTAR write alone.
     */
    @Test
    void theInterpretersMonitorPayloadYieldsItsLstarWriteAndNothingElse() throws Exception {
        try (PayloadMachine machine = KvmTestMachine.start("monitor", Ring.KERNEL, false)) {
            List<MonitorEvent> events = new CopyOnWriteArrayList<>();
            BitSet frames = new BitSet();
            frames.set(0x180000 >>> 12);
            BitSet calls = new BitSet();
            calls.set(39);
            machine.vm.monitoring().orElseThrow().arm(new MonitorPlan(frames, Set.of(0, 4), Set.of(LSTAR), true, calls, false),
                    events::add);

            assertEquals(0, new PayloadHarness().runToExit(machine.vcpu, LIMIT));

            var payload = machine.payload();
            assertEquals(List.of(new MonitorEvent.MsrWrite(0, payload.symbol("lstar_write"), LongModeSandbox.PML4, LSTAR,
                    0, payload.symbol("after_syscall"))), events);
        }
    }

    @Test
    void anArmedWriteIsReportedWithItsInstructionAfterItsEffectAndTheGuestReadsTheNewValue() throws Exception {
        try (PayloadMachine machine = start()) {
            Monitoring monitoring = machine.vm.monitoring().orElseThrow();
            List<MonitorEvent> events = new CopyOnWriteArrayList<>();
            List<Long> lstarAtEvent = new CopyOnWriteArrayList<>();
            monitoring.arm(plan(), event -> {
                events.add(event);
                try {
                    lstarAtEvent.add(machine.vcpu.readMsr(LSTAR));
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            PayloadHarness harness = new PayloadHarness();

            assertEquals(0, harness.runToExit(machine.vcpu, LIMIT));

            var payload = machine.payload();
            assertEquals(List.of(new MonitorEvent.MsrWrite(0, payload.symbol("lstar_write"), LongModeSandbox.PML4, LSTAR,
                    0, NEW_LSTAR)), events, "one event, for LSTAR; FS_BASE and the refused write are not reported");
            assertEquals(List.of(NEW_LSTAR), lstarAtEvent, "the listener runs after the write took effect");
            List<Long> results = harness.results.writtenValues();
            assertEquals(NEW_LSTAR, results.get(0) | results.get(1) << 32, "the guest's RDMSR reads the new value");
            assertEquals(0x1234_5000L, machine.vcpu.readMsr(FS_BASE), "the unwatched write went through");
        }
    }

    @Test
    void aWriteKvmRefusesFaultsInTheGuestAndChangesNothing() throws Exception {
        try (PayloadMachine machine = start()) {
            List<MonitorEvent> events = new CopyOnWriteArrayList<>();
            machine.vm.monitoring().orElseThrow().arm(plan(), events::add);
            PayloadHarness harness = new PayloadHarness();

            assertEquals(0, harness.runToExit(machine.vcpu, LIMIT), "the #GP handler ended the payload");

            long faultingRip = harness.results.writtenValues().get(2);
            assertEquals(machine.payload().symbol("bad_lstar_write") & 0xffff_ffffL, faultingRip,
                    "#GP on the WRMSR itself, as hardware raises it");
            assertEquals(NEW_LSTAR, machine.vcpu.readMsr(LSTAR), "the refused value was not written");
            assertEquals(1, events.size(), events::toString);
        }
    }

    @Test
    void nothingIsReportedOnceDisarmed() throws Exception {
        try (PayloadMachine machine = start()) {
            Monitoring monitoring = machine.vm.monitoring().orElseThrow();
            List<MonitorEvent> events = new CopyOnWriteArrayList<>();
            monitoring.arm(plan(), events::add);
            monitoring.disarm();
            PayloadHarness harness = new PayloadHarness();

            assertEquals(0, harness.runToExit(machine.vcpu, LIMIT));

            assertEquals(List.of(), events);
            List<Long> results = harness.results.writtenValues();
            assertEquals(NEW_LSTAR, results.get(0) | results.get(1) << 32);
            assertTrue(monitoring.takeWrittenFrames().isEmpty(), "KVM has no frame write traps");
        }
    }

    @Test
    void armingWhileTheVcpuRunsGuestCodeTakesEffectWithoutAnExitTheRunLoopSees() throws Exception {
        try (PayloadMachine machine = start()) {
            machine.memory.writeByte(machine.payload().symbol("release"), (byte) 0);
            PayloadHarness harness = new PayloadHarness();
            List<MonitorEvent> events = new CopyOnWriteArrayList<>();
            CompletableFuture<Integer> status = new CompletableFuture<>();
            harness.runUntilPort(machine.vcpu, PayloadHarness.NOTE_PORT, LIMIT);
            Thread vcpuThread = Thread.ofPlatform().name("vcpu-0").start(() -> {
                try {
                    status.complete(harness.runToExit(machine.vcpu, LIMIT));
                } catch (Throwable t) {
                    status.completeExceptionally(t);
                }
            });
            Thread.sleep(200); // inside KVM_RUN, spinning on `release`

            machine.vm.monitoring().orElseThrow().arm(plan(), events::add);
            machine.memory.writeByte(machine.payload().symbol("release"), (byte) 1);

            assertEquals(0, status.get(LIMIT.toSeconds(), TimeUnit.SECONDS), "no Interrupted reached the run loop");
            vcpuThread.join();
            assertEquals(1, events.size(), events::toString);
            assertEquals(machine.payload().symbol("lstar_write"), events.get(0).rip());
        }
    }
}
