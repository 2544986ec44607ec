package io.vmguard.virtio;

import static io.vmguard.testing.DriverRings.Buffer.readable;
import static io.vmguard.testing.DriverRings.Buffer.writable;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.dma.DmaFault;
import io.vmguard.testing.DriverRings;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class VirtqueueTest {
    private static final long ALL = VirtioFeatures.TRANSPORT;
    private final DriverRings driver = new DriverRings(8);

    @AfterEach
    void close() {
        driver.close();
    }

    private Virtqueue queue(long features) throws QueueException {
        return Virtqueue.create(driver.dma(), driver.layout(), features);
    }

    private static MemorySegment bytes(int length) {
        return MemorySegment.ofArray(new byte[length]);
    }

    @Test
    void aChainReadsAcrossItsBuffersAndWritesIntoTheWritableOnes() throws Exception {
        long first = driver.put(new byte[] {1, 2, 3});
        long second = driver.put(new byte[] {4, 5});
        long out = driver.allocate(4);
        int head = driver.offer(readable(first, 3), readable(second, 2), writable(out, 4));
        Virtqueue queue = queue(ALL);

        DescriptorChain chain = queue.pop();
        assertEquals(head, chain.head());
        assertEquals(5, chain.readableBytes());
        assertEquals(4, chain.writableBytes());
        MemorySegment middle = bytes(3);
        chain.read(driver.dma(), 1, middle);
        assertArrayEquals(new byte[] {2, 3, 4}, middle.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        chain.write(driver.dma(), 1, MemorySegment.ofArray(new byte[] {9, 8}));
        assertArrayEquals(new byte[] {0, 9, 8, 0}, driver.read(out, 4));
        assertNull(queue.pop());
    }

    @Test
    void usedChainsAreReturnedInOrderWithTheirLengths() throws Exception {
        int a = driver.offer(writable(driver.allocate(16), 16));
        int b = driver.offer(writable(driver.allocate(16), 16));
        Virtqueue queue = queue(ALL);
        queue.addUsed(queue.pop().head(), 7);
        queue.addUsed(queue.pop().head(), 9);
        assertEquals(2, driver.usedIndex());
        assertEquals(new DriverRings.Used(a, 7), driver.usedElement(0));
        assertEquals(new DriverRings.Used(b, 9), driver.usedElement(1));
    }

    @Test
    void indirectTablesAreFollowedWhenNegotiated() throws Exception {
        long in = driver.put(new byte[] {42});
        long out = driver.allocate(2);
        driver.offerIndirect(readable(in, 1), writable(out, 2));
        DescriptorChain chain = queue(ALL).pop();
        assertEquals(1, chain.readableBytes());
        assertEquals(2, chain.writableBytes());
    }

    @Test
    void anIndirectDescriptorWithoutTheFeatureIsABrokenQueue() throws Exception {
        driver.offerIndirect(readable(driver.allocate(1), 1));
        QueueException e = assertThrows(QueueException.class, () -> queue(VirtioFeatures.VERSION_1).pop());
        assertTrue(e.getMessage().contains("RING_INDIRECT_DESC"), e.getMessage());
    }

    @Test
    void aChainThatLoopsIsRejectedNotFollowedForever() throws Exception {
        driver.writeDescriptor(DriverRings.DESCRIPTORS, 0, driver.allocate(4), 4, DriverRings.NEXT, 1);
        driver.writeDescriptor(DriverRings.DESCRIPTORS, 1, driver.allocate(4), 4, DriverRings.NEXT, 0);
        driver.publish(0);
        QueueException e = assertThrows(QueueException.class, () -> queue(ALL).pop());
        assertTrue(e.getMessage().contains("loops"), e.getMessage());
    }

    @Test
    void aLoopInsideAnIndirectTableIsRejected() throws Exception {
        long table = driver.allocate(32);
        driver.writeDescriptor(table, 0, driver.allocate(4), 4, DriverRings.NEXT, 1);
        driver.writeDescriptor(table, 1, driver.allocate(4), 4, DriverRings.NEXT, 0);
        driver.writeDescriptor(DriverRings.DESCRIPTORS, 0, table, 32, DriverRings.INDIRECT, 0);
        driver.publish(0);
        assertThrows(QueueException.class, () -> queue(ALL).pop());
    }

    @Test
    void indexesOutsideTheTableAreRejected() throws Exception {
        driver.publish(8); // head == queue size
        assertTrue(assertThrows(QueueException.class, () -> queue(ALL).pop()).getMessage().contains("head 8"));
    }

    @Test
    void aNextIndexOutsideTheTableIsRejected() throws Exception {
        driver.writeDescriptor(DriverRings.DESCRIPTORS, 0, driver.allocate(4), 4, DriverRings.NEXT, 200);
        driver.publish(0);
        assertTrue(assertThrows(QueueException.class, () -> queue(ALL).pop()).getMessage().contains("descriptor 200"));
    }

    @Test
    void aDriverClaimingMoreBuffersThanTheQueueHoldsIsRejected() throws Exception {
        driver.setAvailIndex(9);
        assertTrue(assertThrows(QueueException.class, () -> queue(ALL).pop()).getMessage().contains("9 new buffers"));
    }

    @Test
    void readableAfterWritableIsRejected() throws Exception {
        driver.offer(writable(driver.allocate(4), 4), readable(driver.allocate(4), 4));
        assertThrows(QueueException.class, () -> queue(ALL).pop());
    }

    @Test
    void nestedIndirectAndIndirectWithNextAreRejected() throws Exception {
        long inner = driver.allocate(16);
        driver.writeDescriptor(inner, 0, driver.allocate(4), 4, 0, 0);
        long outer = driver.allocate(16);
        driver.writeDescriptor(outer, 0, inner, 16, DriverRings.INDIRECT, 0);
        driver.writeDescriptor(DriverRings.DESCRIPTORS, 0, outer, 16, DriverRings.INDIRECT, 0);
        driver.writeDescriptor(DriverRings.DESCRIPTORS, 1, inner, 16, DriverRings.INDIRECT | DriverRings.NEXT, 0);
        driver.publish(0);
        driver.publish(1);
        Virtqueue queue = queue(ALL);
        assertTrue(assertThrows(QueueException.class, queue::pop).getMessage().contains("inside an indirect table"));
        assertTrue(assertThrows(QueueException.class, queue::pop).getMessage().contains("also has NEXT"));
    }

    @Test
    void indirectTablesOfBadLengthAreRejected() throws Exception {
        driver.writeDescriptor(DriverRings.DESCRIPTORS, 0, driver.allocate(32), 20, DriverRings.INDIRECT, 0);
        driver.publish(0);
        assertThrows(QueueException.class, () -> queue(ALL).pop());
    }

    @Test
    void lengthsThatAddUpToMoreThanFourGigabytesAreRejected() throws Exception {
        driver.writeDescriptor(DriverRings.DESCRIPTORS, 0, 0, -1, DriverRings.NEXT | DriverRings.WRITE, 1);
        driver.writeDescriptor(DriverRings.DESCRIPTORS, 1, 0, -1, DriverRings.WRITE, 0);
        driver.publish(0);
        assertThrows(QueueException.class, () -> queue(ALL).pop());
    }

    @Test
    void aBufferOutsideGuestMemoryFaultsWhenTouchedAndTouchesNothing() throws Exception {
        long good = driver.allocate(4);
        driver.offer(writable(good, 4), writable(DriverRings.MEMORY_BYTES - 2, 4));
        DescriptorChain chain = queue(ALL).pop();
        DmaFault fault = assertThrows(DmaFault.class,
                () -> chain.write(driver.dma(), 4, MemorySegment.ofArray(new byte[] {1, 2, 3, 4})));
        assertEquals(DmaFault.Access.WRITE, fault.access());
    }

    @Test
    void ringsOutsideMemoryOrMisalignedOrOddSizedAreRefusedAtCreation() {
        assertThrows(QueueException.class, () -> Virtqueue.create(driver.dma(),
                new Virtqueue.Layout(8, DriverRings.MEMORY_BYTES, 0x2000, 0x3000), ALL));
        assertThrows(QueueException.class, () -> Virtqueue.create(driver.dma(), new Virtqueue.Layout(8, 0x1008, 0x2000, 0x3000), ALL));
        assertThrows(QueueException.class, () -> Virtqueue.create(driver.dma(), new Virtqueue.Layout(6, 0x1000, 0x2000, 0x3000), ALL));
        assertThrows(QueueException.class, () -> Virtqueue.create(driver.dma(), new Virtqueue.Layout(65536, 0x1000, 0x2000, 0x3000), ALL));
    }

    @Test
    void withEventIdxTheDeviceInterruptsOnlyWhenUsedEventIsCrossed() throws Exception {
        for (int i = 0; i < 3; i++) {
            driver.offer(writable(driver.allocate(4), 4));
        }
        Virtqueue queue = queue(ALL);
        driver.setUsedEvent(1); // "interrupt me when used idx goes past 1"
        queue.addUsed(queue.pop().head(), 0);
        assertFalse(queue.needsInterrupt());
        queue.addUsed(queue.pop().head(), 0);
        assertTrue(queue.needsInterrupt());
        queue.addUsed(queue.pop().head(), 0);
        assertFalse(queue.needsInterrupt());
        assertFalse(queue.needsInterrupt(), "nothing new used");
    }

    @Test
    void withEventIdxTheDeviceAsksForAKickAtTheNextBuffer() throws Exception {
        driver.offer(writable(driver.allocate(4), 4));
        Virtqueue queue = queue(ALL);
        queue.pop();
        assertNull(queue.pop());
        assertEquals(1, driver.availEvent());
    }

    @Test
    void withoutEventIdxNoInterruptSuppressesInterrupts() throws Exception {
        driver.offer(writable(driver.allocate(4), 4));
        driver.offer(writable(driver.allocate(4), 4));
        Virtqueue queue = queue(VirtioFeatures.VERSION_1);
        queue.addUsed(queue.pop().head(), 0);
        assertTrue(queue.needsInterrupt());
        driver.setAvailFlags(1);
        queue.addUsed(queue.pop().head(), 0);
        assertFalse(queue.needsInterrupt());
    }

    /** Random descriptor tables: every outcome is a chain or a QueueException, and pop always returns. */
    @Test
    void randomDescriptorTablesNeverEscapeAsAnythingButQueueExceptions() throws Exception {
        Random random = new Random(20261122);
        for (int round = 0; round < 2000; round++) {
            try (DriverRings rings = new DriverRings(8)) {
                for (int i = 0; i < 8; i++) {
                    long address = random.nextBoolean() ? rings.allocate(64) : random.nextLong();
                    int length = random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(128);
                    rings.writeDescriptor(DriverRings.DESCRIPTORS, i, address, length, random.nextInt(8), random.nextInt(10));
                }
                rings.setAvailIndex(random.nextInt(10));
                for (int i = 0; i < 8; i++) {
                    rings.memory().writeShort(rings.layout().driverArea() + 4 + 2 * i, (short) random.nextInt(10));
                }
                Virtqueue queue = Virtqueue.create(rings.dma(), rings.layout(), ALL);
                try {
                    for (int i = 0; i < 10 && queue.pop() != null; i++) {
                        // keep taking until empty or broken
                    }
                } catch (QueueException expected) {
                    // a malformed queue, reported as such
                }
            }
        }
    }
}
