package io.vmguard.engine.interp;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.engine.monitor.MonitorPlan;
import io.vmguard.engine.monitor.Monitoring;
import io.vmguard.engine.monitor.TrapKind;
import io.vmguard.testing.LongModeSandbox.Ring;
import io.vmguard.testing.PayloadHarness;
import io.vmguard.testing.PayloadMachine;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.Timeout.ThreadMode;

/**
 * The interpreter reports exactly what an armed plan watches (src/test/payloads/monitor.S does one of each
 * action, and the same again on things nobody watches), with the acting instruction's address, and only after
 * the effect: the guest's state seen from the listener already holds the new value.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS, threadMode = ThreadMode.SEPARATE_THREAD)
class InterpMonitoringTest {
    private static final Duration LIMIT = Duration.ofSeconds(30);
    private static final long WATCHED_FRAME = 0x180000 >>> 12;

    private static MonitorPlan plan() {
        BitSet frames = new BitSet();
        frames.set((int) WATCHED_FRAME);
        BitSet calls = new BitSet();
        calls.set(39);
        return new MonitorPlan(frames, Set.of(0, 4), Set.of(0xc000_0082), true, calls, false);
    }

    @Test
    void armedPlanReportsEachWatchedActionWithItsInstructionAndNothingElse() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "monitor", Ring.KERNEL, false)) {
            Monitoring monitoring = machine.vm.monitoring().orElseThrow();
            assertEquals(EnumSet.allOf(TrapKind.class), monitoring.traps());
            List<MonitorEvent> events = new ArrayList<>();
            List<Long> memoryAtEvent = new ArrayList<>();
            monitoring.arm(plan(), event -> {
                events.add(event);
                memoryAtEvent.add(machine.memory.readLong(0x180008));
            });

            assertEquals(0, new PayloadHarness().runToExit(machine.vcpu, LIMIT));

            var payload = machine.payload();
            assertEquals(5, events.size(), events::toString);
            var write = (MonitorEvent.PhysicalWrite) events.get(0);
            assertEquals(payload.symbol("watched_store"), write.rip());
            assertEquals(0x180008, write.address());
            assertEquals(8, write.size());
            assertEquals(0, write.oldValue());
            assertEquals(0x1122334455667788L, write.newValue());
            assertEquals(0x1122334455667788L, memoryAtEvent.get(0), "the listener runs after the write");

            var cr0 = (MonitorEvent.ControlRegisterWrite) events.get(1);
            assertEquals(payload.symbol("cr0_write"), cr0.rip());
            assertEquals(0, cr0.register());
            assertTrue((cr0.oldValue() & 0x10000) != 0 && (cr0.newValue() & 0x10000) == 0, cr0::toString);

            var lstar = (MonitorEvent.MsrWrite) events.get(2);
            assertEquals(payload.symbol("lstar_write"), lstar.rip());
            assertEquals(0xc000_0082, lstar.msr());
            assertEquals(payload.symbol("after_syscall"), lstar.newValue());

            var lidt = (MonitorEvent.DescriptorTableLoad) events.get(3);
            assertEquals(payload.symbol("lidt_load"), lidt.rip());
            assertEquals(MonitorEvent.Table.IDT, lidt.table());
            assertEquals(lidt.oldBase(), lidt.base());

            var syscall = (MonitorEvent.SystemCall) events.get(4);
            assertEquals(payload.symbol("watched_syscall"), syscall.rip());
            assertEquals(39, syscall.number());
            assertEquals(7, syscall.arg0());

            BitSet written = monitoring.takeWrittenFrames();
            assertEquals(List.of((int) WATCHED_FRAME), written.stream().boxed().toList());
            assertTrue(monitoring.takeWrittenFrames().isEmpty(), "taking forgets");
        }
    }

    @Test
    void nothingIsReportedWhenNothingIsArmed() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "monitor", Ring.KERNEL, false)) {
            Monitoring monitoring = machine.vm.monitoring().orElseThrow();
            List<MonitorEvent> events = new ArrayList<>();
            monitoring.arm(plan(), events::add);
            monitoring.disarm();

            assertEquals(0, new PayloadHarness().runToExit(machine.vcpu, LIMIT));

            assertEquals(List.of(), events);
            assertTrue(monitoring.takeWrittenFrames().isEmpty());
        }
    }

    @Test
    void aFrameWatchedAfterItsTranslationWasCachedIsStillSeen() throws Exception {
        try (PayloadMachine machine = PayloadMachine.start(new InterpEngine(), "monitor", Ring.KERNEL, false)) {
            Monitoring monitoring = machine.vm.monitoring().orElseThrow();
            // Run a first pass unarmed up to the exit, so the watched page's write translation is cached...
            assertEquals(0, new PayloadHarness().runToExit(machine.vcpu, LIMIT));
            // ... then arm and run the whole payload again from its start.
            List<MonitorEvent> events = new ArrayList<>();
            monitoring.arm(plan(), events::add);
            machine.load(machine.payload(), Ring.KERNEL, false);
            assertEquals(0, new PayloadHarness().runToExit(machine.vcpu, LIMIT));

            assertTrue(events.stream().anyMatch(e -> e instanceof MonitorEvent.PhysicalWrite w && w.address() == 0x180008),
                    events::toString);
        }
    }
}
