package io.vmguard.virtio;

import static io.vmguard.testing.DriverRings.Buffer.readable;
import static io.vmguard.testing.DriverRings.Buffer.writable;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.dma.DmaFault;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.GuestRam;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VirtqueueTest {
    private static final long ALL = VirtioFeatures.TRANSPORT;
    private final GuestRam ram = new GuestRam(1 << 20);
    private final DriverRings driver = new DriverRings(ram, 8);
    private final long table = driver.layout().descriptorTable();

    private Virtqueue queue(long features) throws QueueException {
        return driver.deviceQueue(ram.dma(), features);
    }

    /** Writes entry {@code index} of the descriptor table at {@code base}. */
    private void descriptor(long base, int index, long address, long length, int flags, int next) {
        driver.writeDescriptor(base + 16L * index, address, length, flags, next);
    }

    private static MemorySegment bytes(int length) {
        return MemorySegment.ofArray(new byte[length]);
    }

    @Test
    void aChainReadsAcrossItsBuffersAndWritesIntoTheWritableOnes() throws Exception {
        long first = ram.put(new byte[] {1, 2, 3});
        long second = ram.put(new byte[] {4, 5});
        long out = ram.alloc(4);
        int head = driver.offer(readable(first, 3), readable(second, 2), writable(out, 4));
        Virtqueue queue = queue(ALL);

        DescriptorChain chain = queue.pop();
        assertEquals(head, chain.head());
        assertEquals(5, chain.readableBytes());
        assertEquals(4, chain.writableBytes());
        MemorySegment middle = bytes(3);
        chain.read(ram.dma(), 1, middle);
        assertArrayEquals(new byte[] {2, 3, 4}, middle.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
        chain.write(ram.dma(), 1, MemorySegment.ofArray(new byte[] {9, 8}));
        assertArrayEquals(new byte[] {0, 9, 8, 0}, ram.read(out, 4));
        assertNull(queue.pop());
    }

    @Test
    void usedChainsAreReturnedInOrderWithTheirLengths() throws Exception {
        int a = driver.offer(writable(ram.alloc(16), 16));
        int b = driver.offer(writable(ram.alloc(16), 16));
        Virtqueue queue = queue(ALL);
        queue.addUsed(queue.pop().head(), 7);
        queue.addUsed(queue.pop().head(), 9);
        assertEquals(2, driver.usedIndex());
        assertEquals(java.util.List.of(new DriverRings.Used(a, 7), new DriverRings.Used(b, 9)), driver.takeUsed());
    }

    @Test
    void indirectTablesAreFollowedWhenNegotiated() throws Exception {
        long in = ram.put(new byte[] {42});
        long out = ram.alloc(2);
        driver.offerIndirect(ram.alloc(32), readable(in, 1), writable(out, 2));
        DescriptorChain chain = queue(ALL).pop();
        assertEquals(1, chain.readableBytes());
        assertEquals(2, chain.writableBytes());
    }

    @Test
    void anIndirectDescriptorWithoutTheFeatureIsABrokenQueue() throws Exception {
        driver.offerIndirect(ram.alloc(16), readable(ram.alloc(1), 1));
        QueueException e = assertThrows(QueueException.class, () -> queue(VirtioFeatures.VERSION_1).pop());
        assertTrue(e.getMessage().contains("RING_INDIRECT_DESC"), e.getMessage());
    }

    @Test
    void aChainThatLoopsIsRejectedNotFollowedForever() throws Exception {
        descriptor(table, 0, ram.alloc(4), 4, DriverRings.F_NEXT, 1);
        descriptor(table, 1, ram.alloc(4), 4, DriverRings.F_NEXT, 0);
        driver.publish(0);
        QueueException e = assertThrows(QueueException.class, () -> queue(ALL).pop());
        assertTrue(e.getMessage().contains("loops"), e.getMessage());
    }

    @Test
    void aLoopInsideAnIndirectTableIsRejected() throws Exception {
        long indirect = ram.alloc(32);
        descriptor(indirect, 0, ram.alloc(4), 4, DriverRings.F_NEXT, 1);
        descriptor(indirect, 1, ram.alloc(4), 4, DriverRings.F_NEXT, 0);
        descriptor(table, 0, indirect, 32, DriverRings.F_INDIRECT, 0);
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
        descriptor(table, 0, ram.alloc(4), 4, DriverRings.F_NEXT, 200);
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
        driver.offer(writable(ram.alloc(4), 4), readable(ram.alloc(4), 4));
        assertThrows(QueueException.class, () -> queue(ALL).pop());
    }

    @Test
    void nestedIndirectAndIndirectWithNextAreRejected() throws Exception {
        long inner = ram.alloc(16);
        descriptor(inner, 0, ram.alloc(4), 4, 0, 0);
        long outer = ram.alloc(16);
        descriptor(outer, 0, inner, 16, DriverRings.F_INDIRECT, 0);
        descriptor(table, 0, outer, 16, DriverRings.F_INDIRECT, 0);
        descriptor(table, 1, inner, 16, DriverRings.F_INDIRECT | DriverRings.F_NEXT, 0);
        driver.publish(0);
        driver.publish(1);
        Virtqueue queue = queue(ALL);
        assertTrue(assertThrows(QueueException.class, queue::pop).getMessage().contains("inside an indirect table"));
        assertTrue(assertThrows(QueueException.class, queue::pop).getMessage().contains("also has NEXT"));
    }

    @Test
    void indirectTablesOfBadLengthAreRejected() throws Exception {
        descriptor(table, 0, ram.alloc(32), 20, DriverRings.F_INDIRECT, 0);
        driver.publish(0);
        assertThrows(QueueException.class, () -> queue(ALL).pop());
    }

    @Test
    void lengthsThatAddUpToMoreThanFourGigabytesAreRejected() throws Exception {
        descriptor(table, 0, 0, -1, DriverRings.F_NEXT | DriverRings.F_WRITE, 1);
        descriptor(table, 1, 0, -1, DriverRings.F_WRITE, 0);
        driver.publish(0);
        assertThrows(QueueException.class, () -> queue(ALL).pop());
    }

    @Test
    void aBufferOutsideGuestMemoryFaultsWhenTouchedAndTouchesNothing() throws Exception {
        long good = ram.alloc(4);
        driver.offer(writable(good, 4), writable(ram.memory().end() - 2, 4));
        DescriptorChain chain = queue(ALL).pop();
        DmaFault fault = assertThrows(DmaFault.class,
                () -> chain.write(ram.dma(), 4, MemorySegment.ofArray(new byte[] {1, 2, 3, 4})));
        assertEquals(DmaFault.Access.WRITE, fault.access());
    }

    @Test
    void ringsOutsideMemoryOrMisalignedOrOddSizedAreRefusedAtCreation() {
        assertThrows(QueueException.class, () -> Virtqueue.create(ram.dma(),
                new Virtqueue.Layout(8, ram.outside(), 0x2000, 0x3000), ALL));
        assertThrows(QueueException.class, () -> Virtqueue.create(ram.dma(), new Virtqueue.Layout(8, 0x1008, 0x2000, 0x3000), ALL));
        assertThrows(QueueException.class, () -> Virtqueue.create(ram.dma(), new Virtqueue.Layout(6, 0x1000, 0x2000, 0x3000), ALL));
        assertThrows(QueueException.class, () -> Virtqueue.create(ram.dma(), new Virtqueue.Layout(65536, 0x1000, 0x2000, 0x3000), ALL));
    }

    @Test
    void withEventIdxTheDeviceInterruptsOnlyWhenUsedEventIsCrossed() throws Exception {
        for (int i = 0; i < 3; i++) {
            driver.offer(writable(ram.alloc(4), 4));
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
        driver.offer(writable(ram.alloc(4), 4));
        Virtqueue queue = queue(ALL);
        queue.pop();
        assertNull(queue.pop());
        assertEquals(1, driver.availEvent());
    }

    @Test
    void withEventIdxABusyDeviceGetsNoKicksUntilItFindsTheRingEmpty() throws Exception {
        driver.offer(writable(ram.alloc(4), 4));
        driver.offer(writable(ram.alloc(4), 4));
        Virtqueue queue = queue(ALL);
        assertNotNull(queue.pop());
        driver.offer(writable(ram.alloc(4), 4)); // available index 2 -> 3 while the device is busy
        assertFalse(driver.kickWanted(2, 3), "the device is busy and will look again: no kick");
        assertNotNull(queue.pop());
        assertNotNull(queue.pop());
        assertNull(queue.pop());
        assertEquals(3, driver.availEvent(), "found empty: it asks for a kick at the next buffer");
        driver.offer(writable(ram.alloc(4), 4));
        assertTrue(driver.kickWanted(3, 4));
    }

    @Test
    void withoutEventIdxABusyDeviceSetsNoNotifyAndClearsItWhenTheRingIsEmpty() throws Exception {
        driver.offer(writable(ram.alloc(4), 4));
        Virtqueue queue = queue(VirtioFeatures.VERSION_1);
        assertNotNull(queue.pop());
        assertEquals(1, driver.usedFlags(), "busy: VRING_USED_F_NO_NOTIFY");
        assertNull(queue.pop());
        assertEquals(0, driver.usedFlags(), "idle: kicks wanted again");
    }

    @Test
    void withoutEventIdxAQueueOverARingLeftWithNoNotifyClearsItAtItsFirstEmptyPop() throws Exception {
        driver.setUsedFlags(1); // as a snapshot taken while the device was busy may hold
        Virtqueue queue = queue(VirtioFeatures.VERSION_1);
        assertNull(queue.pop());
        assertEquals(0, driver.usedFlags(), "a device waiting for a kick must not forbid it");
    }

    @Test
    void withoutEventIdxNoInterruptSuppressesInterrupts() throws Exception {
        driver.offer(writable(ram.alloc(4), 4));
        driver.offer(writable(ram.alloc(4), 4));
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
            {
                GuestRam memory = new GuestRam(1 << 16);
                DriverRings rings = new DriverRings(memory, 8);
                long base = rings.layout().descriptorTable();
                for (int i = 0; i < 8; i++) {
                    long address = random.nextBoolean() ? memory.alloc(64) : random.nextLong();
                    int length = random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(128);
                    rings.writeDescriptor(base + 16L * i, address, length, random.nextInt(8), random.nextInt(10));
                }
                rings.setAvailIndex(random.nextInt(10));
                for (int i = 0; i < 8; i++) {
                    memory.memory().writeShort(rings.layout().driverArea() + 4 + 2 * i, (short) random.nextInt(10));
                }
                Virtqueue queue = rings.deviceQueue(memory.dma(), ALL);
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
