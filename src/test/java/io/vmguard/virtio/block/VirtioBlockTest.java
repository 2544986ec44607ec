package io.vmguard.virtio.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.RecordingInterrupt;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.VirtioFeatures;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VirtioBlockTest {
    private static final int OK = 0;
    private static final int IOERR = 1;
    private static final int UNSUPP = 2;
    private static final int T_IN = 0;
    private static final int T_OUT = 1;
    private static final int T_FLUSH = 4;
    private static final int T_GET_ID = 8;
    private static final int T_DISCARD = 11;
    private static final int T_WRITE_ZEROES = 13;
    private static final long DRIVER_FEATURES = VirtioFeatures.VERSION_1 | VirtioFeatures.RING_INDIRECT_DESC
            | VirtioFeatures.RING_EVENT_IDX | VirtioBlock.F_SEG_MAX | VirtioBlock.F_BLK_SIZE | VirtioBlock.F_RO
            | VirtioBlock.F_FLUSH | VirtioBlock.F_WRITE_ZEROES;

    @TempDir
    Path dir;

    private final GuestRam ram = new GuestRam(8 << 20);
    private final DriverRings rings = new DriverRings(ram, 256);
    private final RecordingInterrupt interrupt = new RecordingInterrupt();
    private Path image;
    private byte[] original;
    private WatchedChannel channel;
    private VirtioBlock device;

    /** What the driver gets back for one request. */
    private record Result(int status, int usedLength) {}

    @AfterEach
    void close() {
        if (device != null) {
            device.close();
        }
    }

    /** An image of {@code bytes} random bytes, a device over it, and a driver that accepts {@code wanted} features. */
    private void start(int bytes, boolean readOnly, long wanted) throws IOException, QueueException {
        original = new byte[bytes];
        new Random(bytes).nextBytes(original);
        image = dir.resolve("disk.img");
        Files.write(image, original);
        FileChannel file = readOnly ? FileChannel.open(image, StandardOpenOption.READ)
                : FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE);
        channel = new WatchedChannel(file);
        device = new VirtioBlock(new DiskImage(image, channel, readOnly), "test-serial");
        long features = (device.features() | VirtioFeatures.TRANSPORT) & wanted;
        device.activate(interrupt.context(features, ram.dma(), rings.deviceQueue(ram.dma(), features)));
    }

    private void start(int bytes) throws IOException, QueueException {
        start(bytes, false, DRIVER_FEATURES);
    }

    private static byte[] header(int type, long sector) {
        ByteBuffer header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN);
        return header.putInt(type).putInt(0).putLong(sector).array();
    }

    /** Submits header + {@code data} + a status byte as one chain, kicks, and returns what was used. */
    private Result submit(int type, long sector, Buffer... data) throws QueueException {
        long status = ram.alloc(1);
        ram.memory().writeByte(status, (byte) 0x7f);
        Buffer[] chain = new Buffer[data.length + 2];
        chain[0] = Buffer.readable(ram.put(header(type, sector)), 16);
        System.arraycopy(data, 0, chain, 1, data.length);
        chain[chain.length - 1] = Buffer.writable(status, 1);
        int head = rings.offer(chain);
        return kick(head, status);
    }

    private Result kick(int head, long status) throws QueueException {
        device.queueNotified(0);
        List<DriverRings.Used> used = rings.takeUsed();
        assertEquals(1, used.size(), "one request completes");
        assertEquals(head, used.getFirst().head());
        return new Result(ram.memory().readByte(status), used.getFirst().length());
    }

    private byte[] fileBytes() throws IOException {
        return Files.readAllBytes(image);
    }

    private static byte[] random(int length, long seed) {
        byte[] bytes = new byte[length];
        new Random(seed).nextBytes(bytes);
        return bytes;
    }

    @Test
    void writesReachTheFileAndReadsReturnThem() throws Exception {
        start(1 << 20);
        byte[] data = random(4096, 1);
        long guest = ram.put(data);
        // Split where no sector boundary is, as a driver's scatter-gather list may.
        Result written = submit(T_OUT, 8, Buffer.readable(guest, 1000), Buffer.readable(guest + 1000, 3096));
        assertEquals(new Result(OK, 1), written);
        byte[] file = fileBytes();
        assertArrayEquals(data, Arrays.copyOfRange(file, 8 * 512, 8 * 512 + 4096));
        assertArrayEquals(Arrays.copyOfRange(original, 0, 8 * 512), Arrays.copyOfRange(file, 0, 8 * 512), "sectors before untouched");
        assertArrayEquals(Arrays.copyOfRange(original, 16 * 512, original.length), Arrays.copyOfRange(file, 16 * 512, file.length),
                "sectors after untouched");

        long into = ram.alloc(4608);
        Result read = submit(T_IN, 7, Buffer.writable(into, 100), Buffer.writable(into + 100, 4508));
        assertEquals(new Result(OK, 4608 + 1), read);
        assertArrayEquals(Arrays.copyOfRange(file, 7 * 512, 7 * 512 + 4608), ram.read(into, 4608));
        assertTrue(interrupt.usedInterrupts(0) > 0, "the driver is told");
    }

    @Test
    void requestsLargerThanTheBounceBufferMoveInChunks() throws Exception {
        start(1 << 20);
        int length = 2 * BlockRequestHandler.CHUNK_BYTES + 3 * 512;
        byte[] data = random(length, 2);
        assertEquals(new Result(OK, 1), submit(T_OUT, 3, Buffer.readable(ram.put(data), length)));
        assertArrayEquals(data, Arrays.copyOfRange(fileBytes(), 3 * 512, 3 * 512 + length));
        long into = ram.alloc(length);
        assertEquals(new Result(OK, length + 1), submit(T_IN, 3, Buffer.writable(into, length)));
        assertArrayEquals(data, ram.read(into, length));
    }

    @Test
    void chainsThroughAnIndirectTableWork() throws Exception {
        start(64 * 1024);
        long table = ram.alloc(16 * 3);
        long status = ram.alloc(1);
        long into = ram.alloc(1024);
        int head = rings.offerIndirect(table, Buffer.readable(ram.put(header(T_IN, 2)), 16), Buffer.writable(into, 1024),
                Buffer.writable(status, 1));
        assertEquals(new Result(OK, 1025), kick(head, status));
        assertArrayEquals(Arrays.copyOfRange(original, 1024, 2048), ram.read(into, 1024));
    }

    @Test
    void flushForcesTheFileToDiskBeforeItCompletes() throws Exception {
        start(64 * 1024);
        byte[] data = random(512, 3);
        assertEquals(OK, submit(T_OUT, 5, Buffer.readable(ram.put(data), 512)).status());
        assertEquals(0, channel.forces.get(), "with FLUSH negotiated, a write alone is not forced");
        assertEquals(new Result(OK, 1), submit(T_FLUSH, 0));
        assertEquals(1, channel.forces.get(), "FLUSH called force(true)");
        try (FileChannel other = FileChannel.open(image, StandardOpenOption.READ)) {
            ByteBuffer sector = ByteBuffer.allocate(512);
            other.read(sector, 5 * 512);
            assertArrayEquals(data, sector.array(), "the data is in the file, seen through another descriptor");
        }
    }

    @Test
    void withoutFlushNegotiatedEveryWriteIsDurableOnCompletion() throws Exception {
        start(64 * 1024, false, DRIVER_FEATURES & ~VirtioBlock.F_FLUSH);
        assertEquals(OK, submit(T_OUT, 0, Buffer.readable(ram.put(random(512, 4)), 512)).status());
        assertEquals(1, channel.forces.get());
        assertEquals(OK, submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(segment(1, 1, 0)), 16)).status());
        assertEquals(2, channel.forces.get());
    }

    @Test
    void requestsOutsideTheDiskFailAndLeaveTheFileAlone() throws Exception {
        start(64 * 1024); // 128 sectors
        long data = ram.put(random(1024, 5));
        assertEquals(IOERR, submit(T_OUT, 127, Buffer.readable(data, 1024)).status(), "runs one sector past the end");
        assertEquals(IOERR, submit(T_OUT, 128, Buffer.readable(data, 512)).status(), "starts at the end");
        assertEquals(IOERR, submit(T_OUT, -1L, Buffer.readable(data, 512)).status(), "sector 2^64-1");
        assertEquals(IOERR, submit(T_OUT, Long.MAX_VALUE / 256, Buffer.readable(data, 1024)).status(), "offset overflows");
        assertEquals(IOERR, submit(T_IN, 128, Buffer.writable(data, 512)).status());
        assertArrayEquals(original, fileBytes());
        assertEquals(OK, submit(T_OUT, 126, Buffer.readable(data, 1024)).status(), "the last two sectors are fine");
    }

    @Test
    void lengthsThatAreNotWholeSectorsFail() throws Exception {
        start(64 * 1024);
        long data = ram.put(random(1024, 6));
        assertEquals(IOERR, submit(T_OUT, 0, Buffer.readable(data, 513)).status());
        assertEquals(IOERR, submit(T_IN, 0, Buffer.writable(data, 100)).status());
        assertArrayEquals(original, fileBytes());
    }

    @Test
    void aTruncatedHeaderIsAnIoError() throws Exception {
        start(64 * 1024);
        long status = ram.alloc(1);
        int head = rings.offer(Buffer.readable(ram.put(Arrays.copyOf(header(T_IN, 0), 8)), 8), Buffer.writable(ram.alloc(512), 512),
                Buffer.writable(status, 1));
        assertEquals(IOERR, kick(head, status).status());
    }

    @Test
    void unknownAndUnofferedRequestTypesAreUnsupported() throws Exception {
        start(64 * 1024);
        assertEquals(UNSUPP, submit(T_DISCARD, 0, Buffer.readable(ram.put(segment(0, 8, 0)), 16)).status(), "discard is not offered");
        assertEquals(UNSUPP, submit(99, 0).status());
        assertArrayEquals(original, fileBytes());
    }

    @Test
    void aReadOnlyDiskSaysSoAndRefusesWrites() throws Exception {
        start(64 * 1024, true, DRIVER_FEATURES);
        assertTrue((device.features() & VirtioBlock.F_RO) != 0);
        assertEquals(0, device.features() & VirtioBlock.F_WRITE_ZEROES, "nothing that writes is offered");
        assertEquals(IOERR, submit(T_OUT, 0, Buffer.readable(ram.put(random(512, 7)), 512)).status());
        assertEquals(UNSUPP, submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(segment(0, 1, 0)), 16)).status());
        assertEquals(OK, submit(T_FLUSH, 0).status());
        long into = ram.alloc(512);
        assertEquals(OK, submit(T_IN, 0, Buffer.writable(into, 512)).status());
        assertArrayEquals(Arrays.copyOf(original, 512), ram.read(into, 512));
        assertArrayEquals(original, fileBytes());
    }

    @Test
    void getIdReturnsTheSerialNulPadded() throws Exception {
        start(64 * 1024);
        long id = ram.alloc(20);
        ram.memory().fill(id, 20, (byte) 0x55);
        assertEquals(new Result(OK, 21), submit(T_GET_ID, 0, Buffer.writable(id, 20)));
        assertArrayEquals(Arrays.copyOf("test-serial".getBytes(), 20), ram.read(id, 20));
        assertEquals(IOERR, submit(T_GET_ID, 0, Buffer.writable(ram.alloc(19), 19)).status(), "no room for the ID");
    }

    @Test
    void writeZeroesZeroesTheRangeOnly() throws Exception {
        start(64 * 1024);
        assertEquals(new Result(OK, 1), submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(segment(3, 5, 0)), 16)));
        assertEquals(OK, submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(segment(20, 2, 1)), 16)).status(), "unmap allowed");
        byte[] expected = original.clone();
        Arrays.fill(expected, 3 * 512, 8 * 512, (byte) 0);
        Arrays.fill(expected, 20 * 512, 22 * 512, (byte) 0);
        assertArrayEquals(expected, fileBytes());
    }

    @Test
    void badWriteZeroesRequestsChangeNothing() throws Exception {
        start(64 * 1024);
        assertEquals(UNSUPP, submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(segment(0, 1, 2)), 16)).status(), "unknown flag");
        assertEquals(IOERR, submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(segment(127, 2, 0)), 16)).status(), "past the end");
        assertEquals(IOERR, submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(new byte[32]), 32)).status(), "two segments");
        assertEquals(IOERR, submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(new byte[12]), 12)).status(), "a partial segment");
        assertEquals(IOERR, submit(T_WRITE_ZEROES, 0,
                Buffer.readable(ram.put(segment(0, VirtioBlock.MAX_WRITE_ZEROES_SECTORS + 1, 0)), 16)).status(), "above the maximum");
        assertArrayEquals(original, fileBytes());
    }

    @Test
    void writeZeroesIsUnsupportedWhenNotNegotiated() throws Exception {
        start(64 * 1024, false, DRIVER_FEATURES & ~VirtioBlock.F_WRITE_ZEROES);
        assertEquals(UNSUPP, submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(segment(0, 1, 0)), 16)).status());
        assertArrayEquals(original, fileBytes());
    }

    @Test
    void dataBuffersOutsideGuestMemoryFailTheRequestOnly() throws Exception {
        start(64 * 1024);
        assertEquals(IOERR, submit(T_OUT, 0, Buffer.readable(ram.outside(), 512)).status());
        assertArrayEquals(original, fileBytes(), "nothing reached the file");
        long into = ram.alloc(512);
        Result partial = submit(T_IN, 0, Buffer.writable(into, 512), Buffer.writable(ram.outside(), 512));
        assertEquals(IOERR, partial.status(), "the bad second buffer ends the request");
        assertTrue(partial.usedLength() <= 512, "the used length claims no more than the good buffer: " + partial.usedLength());
        assertEquals(IOERR, submit(T_GET_ID, 0, Buffer.writable(ram.outside(), 20)).status());
        assertEquals(OK, submit(T_IN, 0, Buffer.writable(into, 512)).status(), "the queue still works");
        assertTrue(interrupt.failures().isEmpty());
    }

    @Test
    void aChainWithoutAStatusByteBreaksTheQueue() throws Exception {
        start(64 * 1024);
        rings.offer(Buffer.readable(ram.put(header(T_FLUSH, 0)), 16));
        assertThrows(QueueException.class, () -> device.queueNotified(0));
    }

    @Test
    void aStatusByteOutsideGuestMemoryBreaksTheQueue() throws Exception {
        start(64 * 1024);
        rings.offer(Buffer.readable(ram.put(header(T_FLUSH, 0)), 16), Buffer.writable(ram.outside(), 1));
        assertThrows(QueueException.class, () -> device.queueNotified(0));
    }

    @Test
    void hostWriteErrorsBecomeIoErrors() throws Exception {
        start(64 * 1024);
        channel.failWrites = true;
        assertEquals(IOERR, submit(T_OUT, 0, Buffer.readable(ram.put(random(512, 8)), 512)).status());
        assertEquals(IOERR, submit(T_WRITE_ZEROES, 0, Buffer.readable(ram.put(segment(0, 1, 0)), 16)).status());
        channel.failWrites = false;
        assertEquals(OK, submit(T_OUT, 0, Buffer.readable(ram.put(random(512, 8)), 512)).status(), "and the device goes on");
    }

    @Test
    void aTrailingPartialSectorIsNotPartOfTheDisk() throws Exception {
        start(1000);
        MemorySegment config = MemorySegment.ofArray(new byte[8]);
        device.readConfig(VirtioBlock.CONFIG_CAPACITY, config);
        assertEquals(1, config.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0));
        assertEquals(IOERR, submit(T_IN, 1, Buffer.writable(ram.alloc(512), 512)).status());
        byte[] data = random(512, 9);
        assertEquals(OK, submit(T_OUT, 0, Buffer.readable(ram.put(data), 512)).status());
        byte[] file = fileBytes();
        assertEquals(1000, file.length, "the file does not grow");
        assertArrayEquals(data, Arrays.copyOf(file, 512));
        assertArrayEquals(Arrays.copyOfRange(original, 512, 1000), Arrays.copyOfRange(file, 512, 1000));
    }

    @Test
    void configSpaceDescribesTheDisk() throws Exception {
        start(3 << 20);
        ByteBuffer config = ByteBuffer.allocate(VirtioBlock.CONFIG_BYTES + 8).order(ByteOrder.LITTLE_ENDIAN);
        for (int offset = 0; offset < config.capacity(); offset += 4) {
            MemorySegment word = MemorySegment.ofArray(new byte[4]);
            device.readConfig(offset, word);
            config.put(offset, word.toArray(ValueLayout.JAVA_BYTE));
        }
        assertEquals(3L << 20 >> 9, config.getLong(VirtioBlock.CONFIG_CAPACITY));
        assertEquals(254, config.getInt(VirtioBlock.CONFIG_SEG_MAX));
        assertEquals(512, config.getInt(VirtioBlock.CONFIG_BLK_SIZE));
        assertEquals(VirtioBlock.MAX_WRITE_ZEROES_SECTORS, config.getInt(VirtioBlock.CONFIG_MAX_WRITE_ZEROES_SECTORS));
        assertEquals(1, config.getInt(VirtioBlock.CONFIG_MAX_WRITE_ZEROES_SEG));
        assertEquals(0, config.get(VirtioBlock.CONFIG_WRITE_ZEROES_MAY_UNMAP));
        assertEquals(0, config.getLong(VirtioBlock.CONFIG_BYTES), "beyond the structure reads as zero");
        MemorySegment oneByte = MemorySegment.ofArray(new byte[1]);
        device.readConfig(VirtioBlock.CONFIG_CAPACITY + 1, oneByte);
        assertEquals((byte) ((3L << 20 >> 9) >>> 8), oneByte.get(ValueLayout.JAVA_BYTE, 0), "narrow reads at any offset");
    }

    @Test
    void resetStopsUseOfTheQueue() throws Exception {
        start(64 * 1024);
        device.reset();
        rings.offer(Buffer.readable(ram.put(header(T_FLUSH, 0)), 16), Buffer.writable(ram.alloc(1), 1));
        device.queueNotified(0);
        assertTrue(rings.takeUsed().isEmpty());
    }

    private static byte[] segment(long sector, int sectors, int flags) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(sector).putInt(sectors).putInt(flags).array();
    }
}
