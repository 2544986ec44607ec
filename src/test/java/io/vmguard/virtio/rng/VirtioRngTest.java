package io.vmguard.virtio.rng;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.RecordingInterrupt;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.VirtioFeatures;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class VirtioRngTest {
    private final GuestRam ram = new GuestRam(1 << 20);
    private final RecordingInterrupt interrupt = new RecordingInterrupt();
    private final DriverRings rings = new DriverRings(ram, 16);

    /** A source that counts 0, 1, 2 ... and hands out at most {@code perRead} bytes a read, as a pipe might. */
    private static final class CountingSource extends InputStream {
        private final int perRead;
        private int next;

        CountingSource(int perRead) {
            this.perRead = perRead;
        }

        @Override
        public int read(byte[] target, int offset, int length) {
            int count = Math.min(perRead, length);
            for (int i = 0; i < count; i++) {
                target[offset + i] = (byte) next++;
            }
            return count;
        }

        @Override
        public int read() {
            return next++ & 0xff;
        }
    }

    private VirtioRng activated(InputStream source) throws QueueException {
        VirtioRng rng = new VirtioRng(source);
        long features = VirtioFeatures.VERSION_1;
        rng.activate(interrupt.context(features, ram.dma(), rings.deviceQueue(ram.dma(), features)));
        return rng;
    }

    private static byte[] counting(int from, int length) {
        byte[] bytes = new byte[length];
        for (int i = 0; i < length; i++) {
            bytes[i] = (byte) (from + i);
        }
        return bytes;
    }

    @Test
    void eachRequestTakesExactlyTheBytesItAsksForInOrderEvenFromShortReads() throws Exception {
        VirtioRng rng = activated(new CountingSource(10));
        long first = ram.alloc(64);
        long second = ram.alloc(5000);
        rings.offer(Buffer.writable(first, 64));
        rng.queueNotified(0);
        rings.offer(Buffer.writable(second, 5000));
        rng.queueNotified(0);

        List<DriverRings.Used> used = rings.takeUsed();
        assertEquals(List.of(64, 5000), used.stream().map(DriverRings.Used::length).toList());
        assertArrayEquals(counting(0, 64), ram.read(first, 64));
        assertArrayEquals(counting(64, 5000), ram.read(second, 5000), "no bytes drawn beyond what the first request took");
        assertTrue(interrupt.failures().isEmpty());
    }

    @Test
    void aFailingHostSourceEndsTheRequestShortAndFailsTheDeviceWithoutThrowing() throws Exception {
        VirtioRng rng = activated(new InputStream() {
            @Override
            public int read() throws IOException {
                throw new IOException("broken source");
            }
        });
        rings.offer(Buffer.writable(ram.alloc(64), 64));
        rng.queueNotified(0);

        assertEquals(List.of(0), rings.takeUsed().stream().map(DriverRings.Used::length).toList());
        assertEquals(1, interrupt.failures().size(), interrupt.failures().toString());
        assertTrue(interrupt.failures().getFirst().contains("broken source"));
    }

    @Test
    void theDefaultDeviceFillsFromTheHostsRandomBytes() throws Exception {
        VirtioRng rng = new VirtioRng();
        long features = VirtioFeatures.VERSION_1;
        rng.activate(interrupt.context(features, ram.dma(), rings.deviceQueue(ram.dma(), features)));
        long buffer = ram.alloc(256);
        rings.offer(Buffer.writable(buffer, 256));
        rng.queueNotified(0);

        assertEquals(256, rings.takeUsed().getFirst().length());
        assertFalse(Arrays.equals(new byte[256], ram.read(buffer, 256)), "256 random bytes are not all zero");
    }

    @Test
    void anInterruptedCallerDoesNotCloseTheHostSourceForEveryDevice() throws Exception {
        VirtioRng rng = new VirtioRng();
        long features = VirtioFeatures.VERSION_1;
        rng.activate(interrupt.context(features, ram.dma(), rings.deviceQueue(ram.dma(), features)));
        rings.offer(Buffer.writable(ram.alloc(64), 64));
        Thread.currentThread().interrupt(); // a vCPU thread may carry an interrupt into a kick
        try {
            rng.queueNotified(0);
        } finally {
            Thread.interrupted();
        }
        rings.offer(Buffer.writable(ram.alloc(64), 64));
        rng.queueNotified(0);

        assertEquals(List.of(64, 64), rings.takeUsed().stream().map(DriverRings.Used::length).toList());
        assertTrue(interrupt.failures().isEmpty(), interrupt.failures().toString());
    }
}
