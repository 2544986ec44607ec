package io.vmguard.net;

import java.lang.foreign.MemorySegment;
import java.time.Duration;

/**
 * A backend whose frames move through a {@link FramePort} (a descriptor with poll, counters and a prompt
 * close): everything but how it is opened and described is the port's.
 */
abstract sealed class PortBackend implements NetBackend permits UnixDatagramBackend, TapBackend {
    private final FramePort port;

    PortBackend(FramePort port) {
        this.port = port;
    }

    @Override
    public final boolean send(MemorySegment frame) throws NetException {
        return port.send(frame);
    }

    @Override
    public final int receive(MemorySegment buffer, Duration timeout) throws NetException {
        return port.receive(buffer, timeout);
    }

    @Override
    public final NetCounters counters() {
        return port.counters();
    }

    @Override
    public final void close() {
        port.close();
    }

    @Override
    public final String toString() {
        return description();
    }
}
