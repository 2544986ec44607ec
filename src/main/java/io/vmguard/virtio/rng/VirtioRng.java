package io.vmguard.virtio.rng;

import io.vmguard.dma.DmaFault;
import io.vmguard.sys.HostUrandom;
import io.vmguard.virtio.DescriptorChain;
import io.vmguard.virtio.DeviceContext;
import io.vmguard.virtio.DeviceCounters;
import io.vmguard.virtio.DeviceMeter;
import io.vmguard.virtio.DeviceType;
import io.vmguard.virtio.PauseGate;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.Signal;
import io.vmguard.virtio.VirtioDevice;
import io.vmguard.virtio.Virtqueue;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;

/**
 * virtio-rng (entropy device, virtio 1.2 section 5.4): fills each request's writable buffers with bytes
 * from the host kernel's random number generator (/dev/urandom), as QEMU's backends do (getrandom, or
 * rng-random on /dev/urandom). The guest sees it as /dev/hwrng. Not {@code SecureRandom} ({@link HostUrandom}
 * says why): on a loaded host that cost 20-62 ms at start-up and 7-29 ms of the vCPU's thread in the middle of
 * the boot (the first request), against under 2 ms each here (docs/benchmarks.md#session12-boot2).
 *
 * <p>It has no state beyond its queue: each request is filled inside the kick that brought it, and
 * {@link #pause} waits for the one under way.
 */
public final class VirtioRng implements VirtioDevice {
    /** The most bytes one request gets; a driver asking for more simply asks again. */
    static final int MAX_BYTES_PER_REQUEST = 64 * 1024;
    private static final int CHUNK = 4096;

    private final InputStream entropy;
    private final byte[] chunk = new byte[CHUNK];
    private final PauseGate gate = new PauseGate();
    private final DeviceMeter meter = new DeviceMeter();
    private DeviceContext context;

    public VirtioRng() {
        this(HostUrandom.stream());
    }

    /** A device whose bytes come from {@code entropy} (tests: known bytes, a failing source). */
    VirtioRng(InputStream entropy) {
        this.entropy = entropy;
    }

    @Override
    public DeviceType type() {
        return DeviceType.ENTROPY;
    }

    @Override
    public long features() {
        return 0;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public void readConfig(long offset, MemorySegment data) {
        data.fill((byte) 0); // no configuration space
    }

    @Override
    public synchronized void activate(DeviceContext context) {
        this.context = context;
    }

    /** Serves the queue under this object's lock, then interrupts or fails ({@link VirtioDevice}'s lock rule). */
    @Override
    public void queueNotified(int queueIndex) throws QueueException {
        if (!gate.enter()) {
            return;
        }
        try {
            Signal.decideThenSend(this, this::serve);
        } finally {
            gate.exit();
        }
    }

    private Signal serve() throws QueueException {
        Virtqueue queue = context == null ? null : context.queue(0);
        if (queue == null) {
            return Signal.NONE;
        }
        Signal failure = Signal.NONE;
        DescriptorChain chain;
        while ((chain = queue.pop()) != null) {
            Filled filled = fill(chain);
            queue.addUsed(chain.head(), filled.bytes());
            if (filled.failure() != null) {
                meter.failed();
                failure = Signal.failure(context, filled.failure());
            } else {
                meter.completed(filled.bytes());
            }
        }
        return (queue.needsInterrupt() ? Signal.usedBuffers(context, 0) : Signal.NONE).then(failure);
    }

    /** How many bytes a request got, and why it ended short if it did (a bad buffer address, the host's source). */
    private record Filled(int bytes, String failure) {}

    /** Fills the chain's writable part (up to the per-request cap), with exactly the bytes it asks for. */
    private Filled fill(DescriptorChain chain) {
        long wanted = Math.min(chain.writableBytes(), MAX_BYTES_PER_REQUEST);
        int written = 0;
        try {
            while (written < wanted) {
                int length = (int) Math.min(CHUNK, wanted - written);
                if (entropy.readNBytes(chunk, 0, length) < length) {
                    throw new EOFException("the host's entropy source ended");
                }
                chain.write(context.dma(), written, MemorySegment.ofArray(chunk).asSlice(0, length));
                written += length;
            }
        } catch (DmaFault fault) {
            return new Filled(written, fault.getMessage());
        } catch (IOException e) {
            return new Filled(written, "virtio-rng: reading the host's entropy: " + e.getMessage());
        }
        return new Filled(written, null);
    }

    @Override
    public synchronized void reset() {
        context = null;
    }

    @Override
    public void pause() {
        gate.pause();
    }

    @Override
    public void resume() {
        gate.resume();
    }

    @Override
    public DeviceCounters counters() {
        return meter.counters();
    }
}
