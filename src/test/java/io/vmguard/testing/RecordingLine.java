package io.vmguard.testing;

import io.vmguard.bus.InterruptLine;
import java.util.ArrayList;
import java.util.List;

/** An interrupt line that remembers every level it was driven to. */
public final class RecordingLine implements InterruptLine {
    private final List<Boolean> calls = new ArrayList<>();

    @Override
    public synchronized void set(boolean asserted) {
        calls.add(asserted);
    }

    public synchronized List<Boolean> calls() {
        return List.copyOf(calls);
    }

    public synchronized boolean asserted() {
        return !calls.isEmpty() && calls.getLast();
    }
}
