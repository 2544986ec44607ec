package io.vmguard.vmi.integrity;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.vmguard.engine.monitor.MonitorEvent;
import io.vmguard.testing.FakeMonitoring;
import io.vmguard.testing.RecordingEventSink;
import io.vmguard.vmi.GuestInspector;
import io.vmguard.vmi.GuestView;
import io.vmguard.vmi.Msr;
import io.vmguard.vmi.PhysicalMemory;
import io.vmguard.vmi.VcpuState;
import io.vmguard.vmi.VmiException;
import java.time.Duration;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The monitor's bookkeeping between trapped reports and periodic passes, over a fake guest (one vCPU's LSTAR). */
class IntegrityMonitorTest {
    private static final long KERNEL_ENTRY = 0xffff_ffff_8100_0000L;
    private static final long ATTACKER_ENTRY = 0xffff_ffff_c000_0000L;

    private static final GuestView NO_VIEW = new GuestView() {
        @Override
        public PhysicalMemory memory() {
            throw new UnsupportedOperationException("the fake source reads no guest memory");
        }

        @Override
        public List<VcpuState> vcpus() {
            return List.of();
        }
    };

    private volatile long lstar = KERNEL_ENTRY;
    /** Runs right after an inspection's view is taken and the vCPUs are let go: where a trapped write can land. */
    private volatile Runnable afterView = () -> {};
    private final FakeMonitoring monitoring = new FakeMonitoring();

    @Test
    void aWriteTrappedWhileAPassIsUnderWayIsReportedAndPausesOnce() throws VmiException {
        RecordingEventSink sink = new RecordingEventSink();
        AtomicInteger pauses = new AtomicInteger();
        IntegrityMonitor monitor = new IntegrityMonitor(inspector(), Optional.of(monitoring), source(), sink.forVm("test"),
                pauses::incrementAndGet, new IntegrityMonitor.Settings(Duration.ofSeconds(1), IntegrityMonitor.Action.PAUSE,
                IntegrityMonitor.BaselinePoint.MANUAL, 60));
        try (monitor) {
            monitor.takeBaseline();
            // The pass's view still has the kernel's entry; the guest's WRMSR traps after the view and before the pass
            // has compared it with the baseline.
            afterView = () -> {
                lstar = ATTACKER_ENTRY;
                monitoring.listener.onEvent(new MonitorEvent.MsrWrite(0, 0xffff_ffff_c000_1000L, 0x1000, Msr.LSTAR, KERNEL_ENTRY,
                        ATTACKER_ENTRY));
            };
            monitor.check();
            afterView = () -> {};
            monitor.check(); // sees the attacker's entry: the finding the trap reported, still standing
            monitor.check();
        }
        long alarms = sink.events.stream().filter(e -> e.kind().equals("msr")).count();
        assertEquals(1, alarms, "one alarm for one write: " + sink.events);
        assertEquals(1, pauses.get(), "one pause for one write");
    }

    @Test
    void aViolationThatWentAwayIsReportedAgainWhenItComesBack() throws VmiException {
        RecordingEventSink sink = new RecordingEventSink();
        IntegrityMonitor monitor = new IntegrityMonitor(inspector(), Optional.of(monitoring), source(), sink.forVm("test"),
                () -> {}, new IntegrityMonitor.Settings(Duration.ofSeconds(1), IntegrityMonitor.Action.ALERT,
                IntegrityMonitor.BaselinePoint.MANUAL, 60));
        try (monitor) {
            monitor.takeBaseline();
            lstar = ATTACKER_ENTRY;
            monitor.check();
            lstar = KERNEL_ENTRY;
            monitor.check();
            lstar = ATTACKER_ENTRY;
            monitor.check();
        }
        assertEquals(2, sink.events.stream().filter(e -> e.kind().equals("msr")).count(), sink.events.toString());
    }

    private GuestInspector inspector() {
        return new GuestInspector() {
            @Override
            public <T> T inspect(Inspection<T> inspection) throws VmiException {
                T result = inspection.apply(NO_VIEW); // the fake source reads its own fields, not the view
                afterView.run();
                return result;
            }
        };
    }

    private FactsSource source() {
        return new FactsSource() {
            @Override
            public boolean initStarted(GuestView view) {
                return true;
            }

            @Override
            public KernelFacts read(GuestView view, BitSet rehash, KernelFacts previous) {
                KernelFacts.VcpuFacts vcpu = new KernelFacts.VcpuFacts(0, 0, 0, 0, Map.of(Msr.LSTAR, lstar), 0, 0,
                        new byte[0], 0, 0, List.of());
                return new KernelFacts(List.of(vcpu), new long[0], new byte[0], Map.of(), Map.of(), Map.of(), Set.of(),
                        Map.of(), Set.of(), Map.of());
            }

            @Override
            public WatchedRegions regions(GuestView view) {
                return new WatchedRegions(Map.of());
            }

            @Override
            public AddressNames names() {
                return AddressNames.BARE;
            }

            @Override
            public Optional<String> processOf(GuestView view, int vcpu) {
                return Optional.empty();
            }

            @Override
            public Optional<String> processByRootNow(long cr3) {
                return Optional.empty();
            }

            @Override
            public Map<Long, String> processesByRoot(GuestView view) {
                return Map.of();
            }
        };
    }
}
