package io.vmguard.testing;

import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.Virtqueue;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtio device for transport tests: answers every kick by returning all available chains (as a real
 * device would), remembers kicks, activations and resets, and reads its configuration byte {@code n} as
 * {@code configBase + n}.
 */
public final class EchoDevice implements VirtioDevice {
    private final DeviceType type;
    private final long features;
    private final int queues;
    private final int maxQueueSize;
    private final int configBase;

    public DeviceContext context;
    public final List<Integer> notified = new ArrayList<>();
    public int resets;
    /** Thrown from the next kick, to play a device with a bug. */
    public RuntimeException failWith;

    public EchoDevice(DeviceType type, long features, int queues, int maxQueueSize, int configBase) {
        this.type = type;
        this.features = features;
        this.queues = queues;
        this.maxQueueSize = maxQueueSize;
        this.configBase = configBase;
    }

    @Override
    public DeviceType type() {
        return type;
    }

    @Override
    public long features() {
        return features;
    }

    @Override
    public int queueCount() {
        return queues;
    }

    @Override
    public int maxQueueSize() {
        return maxQueueSize;
    }

    @Override
    public void readConfig(long offset, MemorySegment data) {
        for (int i = 0; i < data.byteSize(); i++) {
            data.set(ValueLayout.JAVA_BYTE, i, (byte) (configBase + offset + i));
        }
    }

    @Override
    public void activate(DeviceContext context) {
        this.context = context;
    }

    @Override
    public void queueNotified(int queueIndex) throws QueueException {
        notified.add(queueIndex);
        if (failWith != null) {
            throw failWith;
        }
        Virtqueue queue = context.queue(queueIndex);
        for (var chain = queue.pop(); chain != null; chain = queue.pop()) {
            queue.addUsed(chain.head(), 0);
        }
        if (queue.needsInterrupt()) {
            context.interrupt().usedBuffers(queueIndex);
        }
    }

    @Override
    public void reset() {
        resets++;
        context = null;
    }
}
