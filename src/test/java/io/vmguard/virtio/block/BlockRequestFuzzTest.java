package io.vmguard.virtio.block;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.FuzzSeeds;
import io.vmguard.testing.GuestRam;
import io.vmguard.testing.RecordingInterrupt;
import io.vmguard.virtio.QueueException;
import io.vmguard.virtio.VirtioFeatures;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Random virtio-blk requests into a real temp disk: random types (known and not), sectors (in range, at
 * the end, past it, huge), header and data lengths, buffers in the wrong direction, outside RAM, a status
 * byte missing or read-only. The chain-level cases (loops, bad indirect tables) are VirtqueueTest's. The
 * device either completes a request with OK, IOERR or UNSUPP or declares the queue broken
 * (QueueException: the transport sets DEVICE_NEEDS_RESET); no other exception escapes, the image never
 * changes size, and a read-only image never changes.
 */
class BlockRequestFuzzTest {
    private static final int REQUESTS_PER_SEED = FuzzSeeds.scaled(400);
    private static final int DISK = 64 * 1024;
    private static final int[] TYPES = {0, 1, 4, 8, 11, 13};
    private static final long FEATURES = VirtioFeatures.VERSION_1 | VirtioFeatures.RING_INDIRECT_DESC
            | VirtioFeatures.RING_EVENT_IDX | VirtioBlock.F_SEG_MAX | VirtioBlock.F_BLK_SIZE | VirtioBlock.F_RO
            | VirtioBlock.F_FLUSH | VirtioBlock.F_WRITE_ZEROES;

    @TempDir
    Path dir;

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomRequestsOnAWritableDiskCompleteWithAStatusAndStayInsideTheImage(long seed) throws Exception {
        run(seed, false);
    }

    @ParameterizedTest(name = FuzzSeeds.NAME)
    @MethodSource(FuzzSeeds.SOURCE)
    void randomRequestsOnAReadOnlyDiskNeverChangeIt(long seed) throws Exception {
        run(seed, true);
    }

    private void run(long seed, boolean readOnly) throws Exception {
        Random random = new Random(seed);
        byte[] original = new byte[DISK];
        random.nextBytes(original);
        Path image = dir.resolve("disk.img");
        Files.write(image, original);
        int completed = 0;
        for (int n = 0; n < REQUESTS_PER_SEED; n++) {
            String where = "seed " + seed + " request " + n + (readOnly ? " read-only " : " ") + FuzzSeeds.reproduce(seed);
            FileChannel file = readOnly ? FileChannel.open(image, StandardOpenOption.READ)
                    : FileChannel.open(image, StandardOpenOption.READ, StandardOpenOption.WRITE);
            VirtioBlock device = new VirtioBlock(new DiskImage(image, file, readOnly), "fuzz");
            try {
                GuestRam ram = new GuestRam(1 << 20);
                DriverRings rings = new DriverRings(ram, 16);
                RecordingInterrupt interrupt = new RecordingInterrupt();
                long features = (device.features() | VirtioFeatures.TRANSPORT) & FEATURES;
                device.activate(interrupt.context(features, ram.dma(), rings.deviceQueue(ram.dma(), features)));
                long status = ram.alloc(1);
                ram.memory().writeByte(status, (byte) 0x7f);
                List<Buffer> chain = randomChain(random, ram, status);
                int head = random.nextInt(8) == 0 && chain.size() <= 8
                        ? rings.offerIndirect(ram.alloc(16L * chain.size()), chain.toArray(Buffer[]::new))
                        : rings.offer(chain.toArray(Buffer[]::new));
                try {
                    device.queueNotified(0);
                } catch (QueueException broken) {
                    continue; // the queue is broken for the driver: DEVICE_NEEDS_RESET, a fresh device next time
                }
                List<DriverRings.Used> used = rings.takeUsed();
                assertEquals(1, used.size(), where);
                assertEquals(head, used.getFirst().head(), where);
                Buffer last = chain.getLast();
                if (last.writable() && last.address() == status) {
                    int code = ram.memory().readByte(status);
                    assertTrue(code == 0 || code == 1 || code == 2, "status " + code + ", " + where);
                    completed++;
                }
            } catch (RuntimeException e) {
                throw new AssertionError(where, e);
            } finally {
                device.close();
            }
            assertEquals(DISK, Files.size(image), "image size, " + where);
        }
        if (readOnly) {
            assertArrayEquals(original, Files.readAllBytes(image), "the read-only image changed, seed " + seed);
        }
        assertTrue(completed > REQUESTS_PER_SEED / 4, "only " + completed + " requests completed with a status");
    }

    /** Header, data buffers and status, each of them sometimes wrong. */
    private static List<Buffer> randomChain(Random random, GuestRam ram, long status) {
        List<Buffer> chain = new ArrayList<>();
        int type = random.nextInt(8) == 0 ? random.nextInt() : TYPES[random.nextInt(TYPES.length)];
        long sector = switch (random.nextInt(5)) {
            case 0 -> DISK / 512 - 1 - random.nextInt(4);
            case 1 -> DISK / 512 + random.nextInt(4);
            case 2 -> random.nextLong();
            default -> random.nextInt(DISK / 512);
        };
        byte[] header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(random.nextInt(4) == 0 ? random.nextInt() : 0)
                .putLong(sector).array();
        long headerAt = ram.put(header);
        switch (random.nextInt(10)) {
            case 0 -> chain.add(Buffer.readable(headerAt, random.nextInt(16))); // short header
            case 1 -> { // header split in two
                int split = 1 + random.nextInt(15);
                chain.add(Buffer.readable(headerAt, split));
                chain.add(Buffer.readable(headerAt + split, 16 - split));
            }
            case 2 -> chain.add(Buffer.writable(headerAt, 16)); // header in the wrong direction
            default -> chain.add(Buffer.readable(headerAt, 16));
        }
        int buffers = random.nextInt(4);
        for (int i = 0; i < buffers; i++) {
            long length = switch (random.nextInt(6)) {
                case 0 -> 0;
                case 1 -> 1 + random.nextInt(511);
                case 2 -> 512L * (1 + random.nextInt(8));
                case 3 -> random.nextInt(3) == 0 ? 0xffff_ffffL : 16 + random.nextInt(64); // discard segments, or huge
                default -> 512L * (1 + random.nextInt(2)) + (random.nextBoolean() ? 0 : random.nextInt(512));
            };
            long address = random.nextInt(10) == 0 ? ram.outside() : ram.alloc(Math.min(length, 8192));
            if (length > 8192 && address != ram.outside()) {
                length = 8192;
            }
            if (random.nextInt(3) == 0 && address != ram.outside()) { // random discard/write-zeroes segments in the data
                byte[] segment = new byte[(int) Math.min(length, 64)];
                random.nextBytes(segment);
                ram.memory().write(address, segment);
            }
            chain.add(random.nextBoolean() ? Buffer.writable(address, length) : Buffer.readable(address, length));
        }
        switch (random.nextInt(10)) {
            case 0 -> { } // no status byte
            case 1 -> chain.add(Buffer.readable(status, 1)); // read-only status
            case 2 -> chain.add(Buffer.writable(ram.outside(), 1)); // status outside RAM
            default -> chain.add(Buffer.writable(status, 1));
        }
        return chain;
    }
}
