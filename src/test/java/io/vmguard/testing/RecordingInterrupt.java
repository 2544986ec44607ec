package io.vmguard.testing;

import io.vmguard.dma.DmaSpace;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.VirtioInterrupt;
import io.vmguard.virtio.Virtqueue;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Stands in for a transport in device tests: counts the interrupts a device raises and records the
 * failures it reports, from any thread, and builds the {@link DeviceContext} a device gets at DRIVER_OK.
 */
public final class RecordingInterrupt implements VirtioInterrupt, DeviceContext.DeviceFailure {
    private final ConcurrentHashMap<Integer, AtomicInteger> used = new ConcurrentHashMap<>();
    private final AtomicInteger configChanges = new AtomicInteger();
    private final List<String> failures = new ArrayList<>();

    /** The context for {@code queues} (null for a queue the driver left disabled). */
    public DeviceContext context(long features, DmaSpace dma, Virtqueue... queues) {
        return new DeviceContext(features, Arrays.asList(queues), dma, this, this);
    }

    @Override
    public void usedBuffers(int queueIndex) {
        used.computeIfAbsent(queueIndex, q -> new AtomicInteger()).incrementAndGet();
    }

    @Override
    public void configurationChanged() {
        configChanges.incrementAndGet();
    }

    @Override
    public synchronized void failed(String reason) {
        failures.add(reason);
    }

    public int usedInterrupts(int queueIndex) {
        AtomicInteger count = used.get(queueIndex);
        return count == null ? 0 : count.get();
    }

    public int configurationChanges() {
        return configChanges.get();
    }

    public synchronized List<String> failures() {
        return List.copyOf(failures);
    }
}
