package io.vmguard.events;

import java.time.Clock;
import java.util.Map;

/** One VM's door to the event sink: stamps each event with the time and the VM's id. */
public final class VmEvents {
    private final String vm;
    private final EventSink sink;
    private final Clock clock;

    public VmEvents(String vm, EventSink sink, Clock clock) {
        this.vm = vm;
        this.sink = sink;
        this.clock = clock;
    }

    public VmEvents(String vm, EventSink sink) {
        this(vm, sink, Clock.systemUTC());
    }

    /** Events go nowhere (tests, a VM without {@code --events}). */
    public static VmEvents none() {
        return new VmEvents("vm", EventSink.NONE);
    }

    public String vm() {
        return vm;
    }

    public void emit(Source source, String kind, Severity severity, Map<String, Object> details) {
        sink.emit(new SecurityEvent(clock.instant(), vm, source, kind, severity, details));
    }
}
