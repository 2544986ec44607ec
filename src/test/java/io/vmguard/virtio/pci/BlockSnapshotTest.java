package io.vmguard.virtio.pci;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.vmguard.snapshot.SnapshotException;
import io.vmguard.snapshot.StateReader;
import io.vmguard.snapshot.StateWriter;
import io.vmguard.testing.DriverRings;
import io.vmguard.testing.DriverRings.Buffer;
import io.vmguard.testing.GuestRam;
import io.vmguard.virtio.DeviceCounters;
import io.vmguard.virtio.DeviceStatus;
import io.vmguard.virtio.VirtioFeatures;
import io.vmguard.virtio.block.DiskConfig;
import io.vmguard.virtio.block.VirtioBlock;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * virtio-blk through a snapshot: a driver sets the disk up through the transport and completes a request;
 * the device is paused, saved, carried through JSON and restored into a fresh transport and device over
 * the same guest memory; the driver, doing nothing again, completes its next request where it left off.
 */
class BlockSnapshotTest {
    private static final long FEATURES = VirtioFeatures.VERSION_1 | VirtioFeatures.RING_EVENT_IDX | VirtioBlock.F_FLUSH;
    private static final int T_IN = 0;
    private static final int T_OUT = 1;
    private static final int SECTOR = 512;

    @TempDir
    Path dir;

    private final GuestRam ram = new GuestRam(4 << 20);
    private final DriverRings rings = new DriverRings(ram, 16);
    private Path image;
    private VirtioBlock device;

    @AfterEach
    void close() {
        if (device != null) {
            device.close();
        }
    }

    /** A disk of 64 KiB set up by the driver on {@code kind}, running. */
    private TransportRig running(TransportRig.Kind kind) throws Exception {
        image = dir.resolve("disk.img");
        Files.write(image, new byte[64 * 1024]);
        device = VirtioBlock.open(new DiskConfig(image, false));
        TransportRig rig = kind.build(device, ram, true);
        RegisterDriver driver = rig.driver();
        assertTrue(driver.negotiate(FEATURES));
        driver.enableQueue(0, rings.layout());
        driver.status(driver.status() | DeviceStatus.DRIVER_OK);
        return rig;
    }

    /** Header, optional data, status byte; kicks; returns the status byte after checking one chain came back. */
    private int request(TransportRig rig, int type, long sector, Buffer data) {
        long status = ram.alloc(1);
        ram.memory().writeByte(status, (byte) 0x7f);
        byte[] header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array();
        int head = rings.offer(Buffer.readable(ram.put(header), 16), data, Buffer.writable(status, 1));
        rig.driver().kick(0);
        List<DriverRings.Used> used = rings.takeUsed();
        assertEquals(1, used.size(), "one request completes");
        assertEquals(head, used.getFirst().head());
        return ram.memory().readByte(status);
    }

    /** Pauses, saves, closes the old device (its VM is gone) and restores a fresh one from the JSON text. */
    private TransportRig snapshotAndRestore(TransportRig rig, Consumer<ObjectNode> corrupt) throws Exception {
        rig.control().pause();
        StateWriter out = StateWriter.root();
        rig.save(out);
        ObjectNode tree = TransportRig.jsonCopy(out);
        corrupt.accept(tree);
        device.close();
        device = VirtioBlock.open(new DiskConfig(image, false));
        TransportRig fresh = rig.kind().build(device, ram, false);
        fresh.restore(StateReader.of(tree));
        fresh.control().resume();
        return fresh;
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aRestoredDiskCompletesTheDriversNextRequestWithoutSetUp(TransportRig.Kind kind) throws Exception {
        TransportRig rig = running(kind);
        byte[] data = new byte[SECTOR];
        new Random(7).nextBytes(data);
        assertEquals(0, request(rig, T_OUT, 3, Buffer.readable(ram.put(data), SECTOR)));
        assertEquals(1, rig.interrupts());
        rig.driver().acknowledgeInterrupt();

        TransportRig restored = snapshotAndRestore(rig, tree -> { });

        assertTrue((restored.driver().status() & DeviceStatus.DRIVER_OK) != 0, "running, as the guest left it");
        rings.setUsedEvent(1); // interrupt for the next chain (EVENT_IDX)
        long into = ram.alloc(SECTOR);
        assertEquals(0, request(restored, T_IN, 3, Buffer.writable(into, SECTOR)));
        assertArrayEquals(data, ram.read(into, SECTOR));
        assertEquals(2, rings.usedIndex(), "the used index goes on from the snapshot's");
        assertEquals(1, restored.interrupts(), "the driver hears of its request on the restored transport");
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void countersSeeRequestsBytesKicksAndInterrupts(TransportRig.Kind kind) throws Exception {
        TransportRig rig = running(kind);
        request(rig, T_OUT, 0, Buffer.readable(ram.put(new byte[SECTOR]), SECTOR));
        request(rig, T_IN, 1 << 20, Buffer.writable(ram.alloc(SECTOR), SECTOR)); // past the end: IOERR
        DeviceCounters counters = rig.control().counters();
        assertEquals(new DeviceCounters(2, SECTOR, 1, 2, 1, counters.serviceNanos()), counters);
        assertTrue(counters.serviceNanos() > 0, "serving two requests took host time: " + counters);
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aKickWhilePausedIsServedAtResume(TransportRig.Kind kind) throws Exception {
        TransportRig rig = running(kind);
        rig.control().pause();
        long status = ram.alloc(1);
        byte[] header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(T_IN).putInt(0).putLong(0).array();
        rings.offer(Buffer.readable(ram.put(header), 16), Buffer.writable(ram.alloc(SECTOR), SECTOR), Buffer.writable(status, 1));
        rig.driver().kick(0);
        assertEquals(0, rings.usedIndex(), "nothing touched while paused");
        rig.control().resume();
        assertEquals(1, rings.usedIndex());
    }

    // ---- a snapshot is untrusted input: each bad field is named ----

    private static ObjectNode queue0(ObjectNode tree) {
        return (ObjectNode) ((ArrayNode) tree.at("/transport/control/queues")).get(0);
    }

    private String restoreFailure(TransportRig.Kind kind, Consumer<ObjectNode> corrupt) throws Exception {
        TransportRig rig = running(kind);
        request(rig, T_OUT, 0, Buffer.readable(ram.put(new byte[SECTOR]), SECTOR));
        return assertThrows(SnapshotException.class, () -> snapshotAndRestore(rig, corrupt)).getMessage();
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aMissingFieldIsNamed(TransportRig.Kind kind) throws Exception {
        String message = restoreFailure(kind, tree -> ((ObjectNode) tree.at("/transport/control")).remove("driverFeatures"));
        assertEquals("snapshot field transport.control.driverFeatures is missing", message);
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aFieldOfTheWrongTypeIsNamed(TransportRig.Kind kind) throws Exception {
        String message = restoreFailure(kind, tree -> ((ObjectNode) tree.at("/transport/control")).put("status", "running"));
        assertTrue(message.startsWith("snapshot field transport.control.status should be a "), message);
        assertTrue(message.endsWith("integer, found \"running\""), message);
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aRunningQueueWhoseSizeIsNotAPowerOfTwoIsRefused(TransportRig.Kind kind) throws Exception {
        String message = restoreFailure(kind, tree -> queue0(tree).put("size", 12));
        assertTrue(message.startsWith("snapshot field transport.control.queues.0.size is 12, not a power of two"), message);
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aRunningQueueOutsideGuestMemoryIsRefused(TransportRig.Kind kind) throws Exception {
        String message = restoreFailure(kind, tree -> queue0(tree).put("descriptorTable", ram.outside()));
        assertTrue(message.startsWith("snapshot queue transport.control.queues.0 cannot run: descriptor table"), message);
        assertTrue(message.contains("outside guest RAM"), message);
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void featuresTheDeviceDoesNotOfferAreRefused(TransportRig.Kind kind) throws Exception {
        String message = restoreFailure(kind, tree -> ((ObjectNode) tree.at("/transport/control")).put("driverFeatures", FEATURES | 1L << 50));
        assertTrue(message.startsWith("snapshot field transport.control.driverFeatures "), message);
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aRingPositionTooFarAheadIsRefused(TransportRig.Kind kind) throws Exception {
        String message = restoreFailure(kind, tree -> ((ObjectNode) queue0(tree).get("position")).put("nextAvail", 100));
        assertTrue(message.startsWith("snapshot field transport.control.queues.0.position.nextAvail is 100"), message);
    }

    @ParameterizedTest
    @EnumSource(TransportRig.Kind.class)
    void aSnapshotTakenWhileTheIoThreadIsMidRequestRestoresWithTheRequestWhole(TransportRig.Kind kind) throws Exception {
        image = dir.resolve("disk.img");
        Files.write(image, new byte[64 * 1024]);
        io.vmguard.virtio.block.WatchedChannel channel = io.vmguard.virtio.block.WatchedChannel.open(image);
        device = io.vmguard.virtio.block.WatchedChannel.device(image, channel, "io-blk-snapshot");
        TransportRig rig = kind.build(device, ram, true);
        assertTrue(rig.driver().negotiate(FEATURES));
        rig.driver().enableQueue(0, rings.layout());
        rig.driver().status(rig.driver().status() | DeviceStatus.DRIVER_OK);

        channel.holdWrites = new java.util.concurrent.CountDownLatch(1);
        byte[] data = new byte[SECTOR];
        new Random(11).nextBytes(data);
        long status = ram.alloc(1);
        byte[] header = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(T_OUT).putInt(0).putLong(5).array();
        rings.offer(Buffer.readable(ram.put(header), 16), Buffer.readable(ram.put(data), SECTOR), Buffer.writable(status, 1));
        rig.driver().kick(0); // returns at once: the I/O thread has the request
        assertTrue(channel.writeArrived.await(10, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(0, rings.usedIndex(), "mid-request");

        java.util.concurrent.CompletableFuture<Void> pause = java.util.concurrent.CompletableFuture.runAsync(() -> rig.control().pause());
        Thread.sleep(200);
        assertTrue(!pause.isDone(), "the snapshot's pause waits for the request under way");
        channel.holdWrites.countDown();
        pause.get(10, java.util.concurrent.TimeUnit.SECONDS);
        assertEquals(1, rings.usedIndex(), "complete before anything is saved");
        assertEquals(0, ram.memory().readByte(status));

        StateWriter out = StateWriter.root();
        rig.save(out);
        ObjectNode tree = TransportRig.jsonCopy(out);
        device.close();
        device = VirtioBlock.open(new DiskConfig(image, false), "io-blk-restored");
        TransportRig restored = kind.build(device, ram, false);
        restored.restore(StateReader.of(tree));
        restored.control().resume();

        assertArrayEquals(data, Arrays.copyOfRange(Files.readAllBytes(image), 5 * SECTOR, 6 * SECTOR), "the write is on disk");
        rings.takeUsed();
        long into = ram.alloc(SECTOR);
        long readStatus = ram.alloc(1);
        ram.memory().writeByte(readStatus, (byte) 0x7f);
        byte[] readHeader = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(T_IN).putInt(0).putLong(5).array();
        rings.offer(Buffer.readable(ram.put(readHeader), 16), Buffer.writable(into, SECTOR), Buffer.writable(readStatus, 1));
        restored.driver().kick(0);
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (rings.usedIndex() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(1);
        }
        assertEquals(2, rings.usedIndex(), "the restored disk goes on from the snapshot's used index");
        assertEquals(0, ram.memory().readByte(readStatus));
        assertArrayEquals(data, ram.read(into, SECTOR));
    }
}
