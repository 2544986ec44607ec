package io.vmguard.events;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.RecordingEventSink;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class GuestLogTest {
    private final List<String> lines = new ArrayList<>();
    private final RecordingEventSink sink = new RecordingEventSink();
    private final List<SecurityEvent> events = sink.events;
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final GuestLog log = new GuestLog(lines::add, sink.forVm("vm-a"), now::get);

    @Test
    void aKeyGetsABurstThenIsCountedAndTheNextLineSaysHowManyWereSuppressed() {
        for (int i = 0; i < 1000; i++) {
            log.log("virtio.needs-reset", "virtio-net0 needs reset: " + i);
        }
        assertEquals(GuestLog.BURST, lines.size());
        assertEquals(1000 - GuestLog.BURST, log.suppressed());
        now.addAndGet(GuestLog.REFILL_NANOS);
        log.log("virtio.needs-reset", "again");
        assertEquals("vmguard: again (" + (1000 - GuestLog.BURST) + " similar lines suppressed)", lines.getLast());
    }

    @Test
    void theFirstOccurrenceOfEachKeyIsAnEvent() {
        log.log("interp.ud", "#UD one");
        log.log("interp.ud", "#UD two");
        log.log("virtio-blk.host-error", "disk error");
        assertEquals(2, events.size());
        SecurityEvent first = events.getFirst();
        assertEquals("vm-a", first.vm());
        assertEquals("guest-log", first.kind());
        assertEquals(Source.VMM, first.source());
        assertEquals(Severity.WARNING, first.severity());
        assertEquals("interp.ud", first.details().get("key"));
    }

    @Test
    void manyDistinctKeysShareOneBoundedTableAndOneGlobalRate() {
        for (int i = 0; i < 10_000; i++) {
            log.log("key-" + i, "line " + i);
        }
        assertEquals(GuestLog.MAX_KEYS + 1, log.keys(), "the table stops growing; the rest share the overflow key");
        assertEquals(GuestLog.GLOBAL_BURST, lines.size(), "no more than the global rate");
        assertEquals(10_000 - GuestLog.GLOBAL_BURST, log.suppressed());
        assertTrue(events.size() <= GuestLog.MAX_KEYS + 1);
    }
}
