package io.vmguard.net;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.vmguard.sys.Libc;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UnixDatagramBackendTest {
    private static final Duration SHORT = Duration.ofMillis(200);
    private static final Duration LONG = Duration.ofSeconds(5);

    @TempDir
    Path dir;

    private final Arena arena = Arena.ofShared();

    @AfterEach
    void freeBuffers() {
        arena.close();
    }

    @Test
    void framesCrossBothWaysByteExactly() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b); UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            MemorySegment buffer = arena.allocate(65536);
            long bytes = 0;
            for (int size : new int[] {14, 60, 1514, 9018, 65535}) {
                byte[] there = frame(size, 1);
                assertTrue(vmA.send(copy(there)), "A sends " + size);
                assertEquals(size, vmB.receive(buffer, LONG));
                assertArrayEquals(there, buffer.asSlice(0, size).toArray(JAVA_BYTE), "A to B, " + size + " bytes");

                byte[] back = frame(size, 2);
                assertTrue(vmB.send(copy(back)), "B sends " + size);
                assertEquals(size, vmA.receive(buffer, LONG));
                assertArrayEquals(back, buffer.asSlice(0, size).toArray(JAVA_BYTE), "B to A, " + size + " bytes");
                bytes += size;
            }
            assertEquals(new NetCounters(5, bytes, 0, 5, bytes, 0, 0, 0), vmA.counters());
            assertEquals(new NetCounters(5, bytes, 0, 5, bytes, 0, 0, 0), vmB.counters());
            assertEquals("socket " + a + " -> " + b, vmA.description());
        }
    }

    @Test
    void sendsASliceOfLargerMemoryWithoutItsNeighbours() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b); UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            MemorySegment guestMemory = copy(frame(4096, 3));
            assertTrue(vmA.send(guestMemory.asSlice(1000, 60)));
            MemorySegment buffer = arena.allocate(2048);
            assertEquals(60, vmB.receive(buffer.asSlice(100), LONG));
            assertArrayEquals(guestMemory.asSlice(1000, 60).toArray(JAVA_BYTE), buffer.asSlice(100, 60).toArray(JAVA_BYTE));
            assertEquals(0, buffer.get(JAVA_BYTE, 99), "nothing before the buffer slice is written");
            assertEquals(0, buffer.get(JAVA_BYTE, 160), "nothing after the frame is written");
        }
    }

    @Test
    void sendingAndReceivingAllocateNothingOnceCompiled() throws Exception {
        var threads = (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b); UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            MemorySegment frame = copy(frame(1514, 1));
            MemorySegment buffer = arena.allocate(2048);
            // Until the JIT has compiled the path, the interpreter allocates; give it rounds to get there.
            long allocated = -1;
            for (int round = 0; round < 30 && allocated != 0; round++) {
                long before = threads.getCurrentThreadAllocatedBytes();
                for (int i = 0; i < 10_000; i++) {
                    vmA.send(frame);
                    vmB.receive(buffer, LONG);
                }
                allocated = threads.getCurrentThreadAllocatedBytes() - before;
            }
            assertEquals(0, allocated, "bytes allocated by 10,000 frames sent and received");
            assertEquals(0, vmA.counters().txDropped());
        }
    }

    @Test
    void receiveReturnsZeroWhenTheTimeoutRunsOut() throws Exception {
        try (UnixDatagramBackend vm = UnixDatagramBackend.open(dir.resolve("a.sock"), dir.resolve("b.sock"))) {
            MemorySegment buffer = arena.allocate(1514);
            long start = System.nanoTime();
            assertEquals(0, vm.receive(buffer, Duration.ofMillis(300)));
            long elapsedMillis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(elapsedMillis >= 300, "returned after " + elapsedMillis + " ms, before the timeout");
            assertTrue(elapsedMillis < 1300, "returned after " + elapsedMillis + " ms for a 300 ms timeout");

            start = System.nanoTime();
            assertEquals(0, vm.receive(buffer, Duration.ZERO));
            assertTrue(System.nanoTime() - start < 200_000_000L, "a zero timeout only looks");
            assertThrows(IllegalArgumentException.class, () -> vm.receive(buffer, Duration.ofMillis(-1)));
        }
    }

    @Test
    void closeWakesABlockedReceiverPromptly() throws Exception {
        Path a = dir.resolve("a.sock");
        UnixDatagramBackend vm = UnixDatagramBackend.open(a, dir.resolve("b.sock"));
        MemorySegment buffer = arena.allocate(1514);
        CompletableFuture<Integer> received = CompletableFuture.supplyAsync(() -> {
            try {
                return vm.receive(buffer, Duration.ofMinutes(10));
            } catch (NetException e) {
                throw new IllegalStateException(e);
            }
        });
        Thread.sleep(300);
        assertFalse(received.isDone(), "the receiver should be waiting");

        long start = System.nanoTime();
        vm.close();
        assertEquals(NetBackend.CLOSED, received.get(2, TimeUnit.SECONDS));
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertTrue(millis < 1000, "close took " + millis + " ms to wake the receiver");

        assertEquals(NetBackend.CLOSED, vm.receive(buffer, LONG), "a closed backend answers at once");
        assertFalse(vm.send(copy(frame(60, 1))), "a closed backend drops");
        assertEquals(1, vm.counters().txDropped());
        assertFalse(Files.exists(a, LinkOption.NOFOLLOW_LINKS), "close removes the socket file");
        vm.close();
    }

    @Test
    void framesToAnAbsentPeerAreDroppedAndCounted() throws Exception {
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend vm = UnixDatagramBackend.open(dir.resolve("a.sock"), b)) {
            assertFalse(vm.send(copy(frame(60, 1))), "no file at the peer path (ENOENT)");

            // A peer that bound and died leaves its file: the kernel refuses the datagram (ECONNREFUSED).
            UnixDatagramBackend.open(b, dir.resolve("a.sock")).close();
            leaveStaleSocketFile(b);
            assertFalse(vm.send(copy(frame(60, 1))), "a socket file nobody is bound to");

            assertEquals(new NetCounters(0, 0, 2, 0, 0, 0, 0, 0), vm.counters());
        }
    }

    @Test
    void aPeerThatAppearsLaterReceivesFromThenOn() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b)) {
            assertFalse(vmA.send(copy(frame(60, 1))));
            try (UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
                assertTrue(vmA.send(copy(frame(60, 2))));
                MemorySegment buffer = arena.allocate(1514);
                assertEquals(60, vmB.receive(buffer, LONG));
                assertArrayEquals(frame(60, 2), buffer.asSlice(0, 60).toArray(JAVA_BYTE));
            }
        }
    }

    @Test
    void aFullPeerQueueDropsAndCountsLikeAWire() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b); UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            MemorySegment frame = copy(frame(1514, 1));
            int sends = fillUntilADrop(vmA, frame) + 3;
            for (int i = 0; i < 3; i++) {
                vmA.send(frame);
            }
            NetCounters counters = vmA.counters();
            assertEquals(sends, counters.txFrames() + counters.txDropped(), "every frame is sent or dropped");
            assertEquals(4, counters.txDropped(), "B never reads, so its queue stays full: " + counters);

            MemorySegment buffer = arena.allocate(1514);
            for (long i = 0; i < counters.txFrames(); i++) {
                assertEquals(1514, vmB.receive(buffer, LONG), "queued frame " + i);
            }
            assertEquals(0, vmB.receive(buffer, SHORT), "only the frames counted as sent arrived");
        }
    }

    @Test
    void aSenderWaitsBrieflyForAPeerThatDrainsItsQueue() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        // The patience is stretched (the fill's one drop waits it out once) so that a loaded host cannot starve the
        // reader past it; the reader drains only 200 ms after the send began, so a sender that dropped at once would
        // fail this.
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b, Duration.ofSeconds(2));
             UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            MemorySegment frame = copy(frame(1514, 1));
            fillUntilADrop(vmA, frame);
            MemorySegment buffer = arena.allocate(1514);
            assertEquals(1514, vmB.receive(buffer, LONG));
            assertTrue(vmA.send(frame), "B read one, so one more fits: the queue is full again, and B is no longer stalled");
            AtomicLong readAt = new AtomicLong();
            Thread reader = Thread.ofPlatform().daemon().unstarted(() -> {
                try {
                    Thread.sleep(200);
                    readAt.set(System.nanoTime());
                    vmB.receive(buffer, LONG);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            reader.start();
            assertTrue(vmA.send(frame), "the frame waits for the room the reader makes");
            long sentAt = System.nanoTime();
            reader.join();
            assertTrue(sentAt > readAt.get(), "the frame went after the read, not before it");
            NetCounters counters = vmA.counters();
            assertEquals(1, counters.txDropped());
            assertEquals(2, counters.txWaits(), "the dropped frame and the delivered one each found the queue full");
            assertTrue(counters.txWaitNanos() >= 1_500_000_000L, "the dropped frame waited out its patience: " + counters);
        }
    }

    @Test
    void aPeerAwayForTensOfMillisecondsLosesNoFrame() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        // A VM on a loaded host is often off its core for longer than 20 ms; the frames its peer sends meanwhile
        // must wait for room, not be lost (each loss costs TCP a retransmit and half its window).
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b); UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            int frames = 40; // beyond net.unix.max_dgram_qlen (10 by default)
            MemorySegment buffer = arena.allocate(1514);
            Thread reader = Thread.ofPlatform().daemon().start(() -> {
                try {
                    Thread.sleep(40);
                    for (int i = 0; i < frames; i++) {
                        vmB.receive(buffer, LONG);
                    }
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            MemorySegment frame = copy(frame(1514, 1));
            for (int i = 0; i < frames; i++) {
                vmA.send(frame);
            }
            reader.join();
            assertEquals(0, vmA.counters().txDropped(), "frames lost while the peer was away: " + vmA.counters());
            assertEquals(frames, vmB.counters().rxFrames());
        }
    }

    @Test
    void aStalledPeerCostsOnePatienceThenOneSliceAFrame() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b, Duration.ofSeconds(1));
             UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            MemorySegment frame = copy(frame(1514, 1));
            fillUntilADrop(vmA, frame); // B never reads: the last of these waited 1 s in vain
            long start = System.nanoTime();
            for (int i = 0; i < 5; i++) {
                assertFalse(vmA.send(frame), "B is stalled: frame " + i + " is dropped");
            }
            long millis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(millis < 600, "5 frames to a stalled peer took " + millis + " ms; each waited the whole patience");
            assertTrue(millis >= 5 * UnixDatagramBackend.STALLED_PATIENCE.toMillis() / 2,
                    "5 frames to a stalled peer took " + millis + " ms: each waits one slice (the kernel counts in ticks)");

            MemorySegment buffer = arena.allocate(1514);
            assertEquals(1514, vmB.receive(buffer, LONG)); // B reads one: room for one more
            assertTrue(vmA.send(frame), "a frame goes once there is room");
            CompletableFuture<Integer> read = CompletableFuture.supplyAsync(() -> {
                try {
                    Thread.sleep(100);
                    return vmB.receive(buffer, LONG);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(vmA.send(frame), "after a frame went, a full queue is waited for again");
            assertEquals(1514, read.get(5, TimeUnit.SECONDS));
        }
    }

    /** Sends until the peer's queue is full and one frame is dropped; returns how many sends that took. */
    private static int fillUntilADrop(UnixDatagramBackend sender, MemorySegment frame) throws Exception {
        for (int sends = 1; sends <= 5000; sends++) {
            if (!sender.send(frame)) {
                return sends;
            }
        }
        throw new AssertionError("the peer's queue never filled");
    }

    @Test
    void framesLongerThanTheBufferAreDroppedAndCountedNotTruncated() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b); UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            MemorySegment buffer = arena.allocate(1000);
            assertTrue(vmA.send(copy(frame(1001, 1))));
            assertTrue(vmA.send(copy(frame(1000, 2))));
            assertEquals(1000, vmB.receive(buffer, LONG), "the oversized frame is skipped, the next one fits exactly");
            assertArrayEquals(frame(1000, 2), buffer.toArray(JAVA_BYTE));

            assertTrue(vmA.send(copy(frame(65535, 3))));
            assertEquals(0, vmB.receive(buffer, SHORT), "an oversized frame alone is no frame");
            assertEquals(new NetCounters(0, 0, 0, 1, 1000, 2, 0, 0), vmB.counters());
        }
    }

    @Test
    void datagramsShorterThanAnEthernetHeaderAreDroppedBothWays() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b); UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            assertFalse(vmA.send(copy(frame(13, 1))), "a runt is not sent");
            assertEquals(new NetCounters(0, 0, 1, 0, 0, 0, 0, 0), vmA.counters());

            // Another program may send anything, even an empty datagram, which must not look like a timeout.
            sendRaw(b, new byte[0]);
            sendRaw(b, frame(13, 2));
            sendRaw(b, frame(14, 3));
            MemorySegment buffer = arena.allocate(1514);
            assertEquals(14, vmB.receive(buffer, LONG));
            assertEquals(new NetCounters(0, 0, 0, 1, 14, 2, 0, 0), vmB.counters());
        }
    }

    @Test
    void aStaleSocketFileLeftByADeadVmIsReplaced() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        leaveStaleSocketFile(a);
        try (UnixDatagramBackend vmA = UnixDatagramBackend.open(a, b); UnixDatagramBackend vmB = UnixDatagramBackend.open(b, a)) {
            assertTrue(vmB.send(copy(frame(60, 1))), "the new socket is bound: a stale file would refuse the datagram");
            assertEquals(60, vmA.receive(arena.allocate(1514), LONG));
        }
    }

    @Test
    void aSocketInUseIsNotTakenOver() throws Exception {
        Path a = dir.resolve("a.sock");
        Path b = dir.resolve("b.sock");
        try (UnixDatagramBackend first = UnixDatagramBackend.open(a, b)) {
            assertEquals(a + " is in use by a running program (another VM?)",
                    assertThrows(NetException.class, () -> UnixDatagramBackend.open(a, b)).getMessage());
            try (UnixDatagramBackend peer = UnixDatagramBackend.open(b, a)) {
                assertTrue(peer.send(copy(frame(60, 1))));
                assertEquals(60, first.receive(arena.allocate(1514), LONG), "the first VM still has its socket");
            }
        }
        try (ServerSocketChannel stream = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            stream.bind(UnixDomainSocketAddress.of(a));
            assertEquals(a + " is in use by a running program (another VM?)",
                    assertThrows(NetException.class, () -> UnixDatagramBackend.open(a, b)).getMessage(),
                    "a stream socket bound there is taken too");
        }
    }

    @Test
    void aFileThatIsNotASocketIsRefusedAndKept() throws Exception {
        Path a = dir.resolve("a.sock");
        Files.writeString(a, "precious");
        assertEquals(a + " exists and is not a socket; refusing to replace it",
                assertThrows(NetException.class, () -> UnixDatagramBackend.open(a, dir.resolve("b.sock"))).getMessage());
        assertEquals("precious", Files.readString(a));

        Path directory = Files.createDirectory(dir.resolve("d.sock"));
        assertEquals(directory + " exists and is not a socket; refusing to replace it",
                assertThrows(NetException.class, () -> UnixDatagramBackend.open(directory, dir.resolve("b.sock"))).getMessage());

        Path link = Files.createSymbolicLink(dir.resolve("l.sock"), a);
        assertEquals(link + " exists and is not a socket; refusing to replace it",
                assertThrows(NetException.class, () -> UnixDatagramBackend.open(link, dir.resolve("b.sock"))).getMessage());
    }

    @Test
    void badPathsFailWithOneLine() {
        Path missing = dir.resolve("no/such/dir/a.sock");
        assertEquals("cannot bind " + missing + ": its directory does not exist",
                assertThrows(NetException.class, () -> UnixDatagramBackend.open(missing, dir.resolve("b.sock"))).getMessage());
        Path tooLong = Path.of("/tmp/" + "x".repeat(103));
        assertEquals("socket path '" + tooLong + "' is 108 bytes; the limit is 107",
                assertThrows(NetException.class, () -> UnixDatagramBackend.open(dir.resolve("a.sock"), tooLong)).getMessage());
        assertFalse(Files.exists(dir.resolve("a.sock")), "nothing left behind by a failed open");
    }

    @Test
    void closeRemovesOnlyItsOwnSocketFile() throws Exception {
        Path a = dir.resolve("a.sock");
        UnixDatagramBackend vm = UnixDatagramBackend.open(a, dir.resolve("b.sock"));
        assertTrue(isSocket(a), "bound at exactly the path given");
        // Someone removes our file and another program binds the path: on close it is theirs, not ours. The
        // new file may get the old inode number; its time tells them apart, once the file system's coarse
        // clock has ticked.
        Files.delete(a);
        Thread.sleep(50);
        try (UnixDatagramBackend successor = UnixDatagramBackend.open(a, dir.resolve("c.sock"))) {
            vm.close();
            assertTrue(isSocket(a), "the successor's socket file survives our close");
        }
        assertFalse(Files.exists(a, LinkOption.NOFOLLOW_LINKS));
    }

    /** Leaves a socket file at {@code path} with nobody bound to it, as a VM that was killed does. */
    private static void leaveStaleSocketFile(Path path) throws IOException {
        Files.deleteIfExists(path);
        try (ServerSocketChannel channel = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            channel.bind(UnixDomainSocketAddress.of(path));
        }
        assertTrue(isSocket(path), "the JDK leaves the socket file of a closed channel behind");
    }

    private static boolean isSocket(Path path) throws IOException {
        int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return (mode & SocketFile.S_IFMT) == SocketFile.S_IFSOCK;
    }

    /** Sends one datagram to {@code path} from an unbound socket of our own, as any host program could. */
    private static void sendRaw(Path path, byte[] bytes) throws Exception {
        int fd = Libc.socket(Libc.AF_UNIX, Libc.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0);
        try (Arena scratch = Arena.ofConfined()) {
            MemorySegment data = scratch.allocate(Math.max(1, bytes.length)).asSlice(0, bytes.length);
            MemorySegment.copy(bytes, 0, data, JAVA_BYTE, 0, bytes.length);
            long sent = Libc.sendto(fd, data, 0, SockaddrUnLayout.allocate(scratch, path), new Libc.CallState(scratch));
            assertEquals(bytes.length, sent, "raw send");
        } finally {
            Libc.close(fd);
        }
    }

    private MemorySegment copy(byte[] bytes) {
        return arena.allocateFrom(JAVA_BYTE, bytes);
    }

    /** A recognisable frame: every byte depends on its position and on {@code seed}. */
    static byte[] frame(int size, int seed) {
        byte[] frame = new byte[size];
        for (int i = 0; i < size; i++) {
            frame[i] = (byte) (i * 31 + seed * 7 + (i >> 8));
        }
        return frame;
    }
}
