package io.vmguard.cli;

import io.vmguard.events.EventHub;
import io.vmguard.events.EventSink;
import io.vmguard.events.GuestLog;
import io.vmguard.events.JsonLinesEventSink;
import io.vmguard.events.VmEvents;
import java.io.IOException;
import java.nio.file.Path;

/**
 * The event plumbing {@code run} and {@code serve} share: the {@code --events} file (or nowhere) behind a
 * hub the API's streams subscribe to, the VM's door into it, and the guest log reporting through it.
 */
record VmEventsSetup(EventHub hub, VmEvents events) implements AutoCloseable {
    static VmEventsSetup open(String id, Path eventsFile) throws CliException {
        EventSink file = EventSink.NONE;
        if (eventsFile != null) {
            try {
                file = JsonLinesEventSink.append(eventsFile);
            } catch (IOException e) {
                throw new CliException("cannot open events file " + eventsFile + ": " + e.getMessage());
            }
        }
        EventHub hub = new EventHub(file);
        VmEvents events = new VmEvents(id, hub);
        GuestLog.install(new GuestLog(System.err::println, events, System::nanoTime));
        return new VmEventsSetup(hub, events);
    }

    @Override
    public void close() {
        hub.close();
    }
}
