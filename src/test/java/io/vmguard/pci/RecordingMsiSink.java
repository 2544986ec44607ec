package io.vmguard.pci;

import io.vmguard.bus.MsiSink;
import java.util.ArrayList;
import java.util.List;

/** Remembers every message sent. */
final class RecordingMsiSink implements MsiSink {
    record Message(long address, int data) {}

    private final List<Message> messages = new ArrayList<>();

    @Override
    public synchronized void signal(long address, int data) {
        messages.add(new Message(address, data));
    }

    synchronized List<Message> messages() {
        return List.copyOf(messages);
    }
}
