package io.vmguard.testing;

import io.vmguard.events.EventSink;
import io.vmguard.events.SecurityEvent;
import io.vmguard.events.VmEvents;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Keeps every security event emitted, for tests to look at. */
public final class RecordingEventSink implements EventSink {
    public final List<SecurityEvent> events = new CopyOnWriteArrayList<>();

    /** A VM's event door named {@code vm} that records into this sink. */
    public VmEvents forVm(String vm) {
        return new VmEvents(vm, this);
    }

    @Override
    public void emit(SecurityEvent event) {
        events.add(event);
    }

    @Override
    public void close() {
    }
}
