package io.vmguard.pci;

import io.vmguard.bus.InterruptLine;
import java.util.ArrayList;
import java.util.List;

/** An interrupt line that remembers every level it was driven to. */
final class RecordingLine implements InterruptLine {
    private final List<Boolean> calls = new ArrayList<>();

    @Override
    public synchronized void set(boolean asserted) {
        calls.add(asserted);
    }

    synchronized List<Boolean> calls() {
        return List.copyOf(calls);
    }

    synchronized boolean asserted() {
        return !calls.isEmpty() && calls.getLast();
    }
}
