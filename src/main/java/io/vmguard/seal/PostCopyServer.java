package io.vmguard.seal;

import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import io.vmguard.sys.Userfaultfd;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The helper process of a lazy sealed restore ({@link PostCopyRestore} starts it): descriptor 3 is its
 * socket to the VMM, 4 the VMM's userfaultfd. It reads its work (the sealed file, the snapshot's id, the
 * data key, where each region lives in the VMM), checks the file's header and chunk table itself, then
 * answers faults on one thread while another decrypts every chunk in order. Each chunk is filled exactly
 * once, whole, by whichever thread claims it first. It reports "resident ..." when guest memory is complete
 * and ends when the VMM closes the socket; a chunk that fails authentication is reported ("failed ...")
 * and the helper ends at once, filling nothing more.
 */
public final class PostCopyServer {
    private static final int SOCKET = 3;
    private static final int UFFD = 4;
    private static final int MAX_PLAN = 64 * 1024;
    private static final int PENDING = 0, CLAIMED = 1, FILLED = 2;

    private final Opened plan;
    private final AtomicIntegerArray states;
    private final AtomicLong faulted = new AtomicLong();
    private final AtomicLong holes = new AtomicLong();
    private final Userfaultfd uffd = Userfaultfd.adopt(UFFD);

    /** The file, opened and authenticated, and where its chunks go in the VMM. */
    private record Opened(Path file, SealedMemoryImage.Opened sealed, byte[] key, byte[] headerDigestKeyed,
                          List<Region> regions) {}

    /** One region of guest RAM: its first chunk's number, its size, and its address in the VMM. */
    private record Region(long firstChunk, long size, long host) {
        long chunks() {
            return (size + SealedMemoryImage.CHUNK - 1) / SealedMemoryImage.CHUNK;
        }
    }

    private PostCopyServer(Opened plan) {
        this.plan = plan;
        this.states = new AtomicIntegerArray((int) plan.sealed().chunks());
    }

    public static void main(String[] args) {
        try {
            Libc.prctl(Libc.PR_SET_PDEATHSIG, Libc.SIGKILL); // the VMM gone: nothing left to fill
            Libc.prctl(Libc.PR_SET_DUMPABLE, 0); // plaintext chunks and the key pass through here
        } catch (NativeException e) {
            report("failed the decrypting helper cannot protect itself: " + e.getMessage());
            System.exit(1);
        }
        Opened plan;
        try {
            plan = readPlan();
        } catch (IOException | SealException | RuntimeException e) {
            report("failed " + e.getMessage());
            System.exit(1);
            return;
        }
        new PostCopyServer(plan).run();
    }

    private void run() {
        Thread faults = Thread.ofPlatform().name("faults").daemon().start(this::answerFaults);
        long background = fillInOrder();
        report("resident faulted=" + faulted.get() + " background=" + background + " holes=" + holes.get());
        waitForEnd(); // holes may still fault until the VMM unregisters and closes the socket
        System.exit(0);
    }

    /** Answers each missing-page fault with its whole chunk, decrypted, or zeros for a hole. */
    private void answerFaults() {
        try (Arena arena = Arena.ofConfined(); FileChannel channel = FileChannel.open(plan.file(), StandardOpenOption.READ)) {
            Userfaultfd.Answerer answerer = uffd.answerer(arena);
            Filler filler = new Filler(arena, channel);
            while (true) {
                long address = answerer.nextFault();
                if (address == -1) {
                    continue; // another kind of event
                }
                if (address < 0) {
                    exit("failed reading faults: " + Libc.strerror((int) -address));
                }
                long chunk = chunkAt(address);
                if (chunk < 0) {
                    exit("failed a fault at 0x" + Long.toHexString(address) + " outside guest memory");
                }
                if (!plan.sealed().present().get((int) chunk)) {
                    long start = hostAddress(chunk);
                    int result = answerer.zero(start, chunkLength(chunk));
                    if (result == -Userfaultfd.EEXIST) {
                        answerer.wake(start, chunkLength(chunk));
                    } else if (result < 0) {
                        exit("failed zero-filling chunk " + chunk + ": " + Libc.strerror(-result));
                    }
                    holes.incrementAndGet();
                } else if (states.compareAndSet((int) chunk, PENDING, CLAIMED)) {
                    filler.fill(answerer, chunk);
                    faulted.incrementAndGet();
                } else if (states.get((int) chunk) == FILLED) {
                    answerer.wake(hostAddress(chunk), chunkLength(chunk)); // filled while this fault was queued
                }
                // CLAIMED: the background thread is filling it; its UFFDIO_COPY wakes this fault.
            }
        } catch (IOException e) {
            exit("failed cannot read " + plan.file() + ": " + e.getMessage());
        }
    }

    /** Decrypts every present chunk not yet claimed, in order; returns how many it filled. */
    private long fillInOrder() {
        long filled = 0;
        try (Arena arena = Arena.ofConfined(); FileChannel channel = FileChannel.open(plan.file(), StandardOpenOption.READ)) {
            Userfaultfd.Answerer answerer = uffd.answerer(arena);
            Filler filler = new Filler(arena, channel);
            var present = plan.sealed().present();
            for (int chunk = present.nextSetBit(0); chunk >= 0; chunk = present.nextSetBit(chunk + 1)) {
                if (states.compareAndSet(chunk, PENDING, CLAIMED)) {
                    filler.fill(answerer, chunk);
                    filled++;
                }
            }
            // Wait for chunks the fault thread claimed to be filled too: only then is memory complete.
            for (int chunk = present.nextSetBit(0); chunk >= 0; chunk = present.nextSetBit(chunk + 1)) {
                while (states.get(chunk) != FILLED) {
                    Thread.onSpinWait();
                }
            }
        } catch (IOException e) {
            exit("failed cannot read " + plan.file() + ": " + e.getMessage());
        }
        return filled;
    }

    /** One thread's buffers: the sealed slot, the plain chunk, and the native copy UFFDIO_COPY reads. */
    private final class Filler {
        private final FileChannel channel;
        private final ChunkCipher cipher;
        private final byte[] slot = new byte[SealedMemoryImage.SLOT];
        private final byte[] plain = new byte[SealedMemoryImage.CHUNK];
        private final MemorySegment source;

        Filler(Arena arena, FileChannel channel) {
            this.channel = channel;
            this.cipher = new ChunkCipher(plan.key(), plan.headerDigestKeyed());
            this.source = arena.allocate(SealedMemoryImage.CHUNK, 4096);
        }

        void fill(Userfaultfd.Answerer answerer, long chunk) {
            int length = chunkLength(chunk);
            try {
                SealedMemoryImage.decryptChunk(channel, plan.sealed(), cipher, chunk, length, slot, plain,
                        "sealed memory file " + plan.file());
            } catch (IOException e) {
                exit("failed cannot read " + plan.file() + ": " + e.getMessage());
            } catch (SealException e) {
                exit("failed " + e.getMessage());
            }
            MemorySegment.copy(plain, 0, source, ValueLayout.JAVA_BYTE, 0, length);
            int result = answerer.copy(hostAddress(chunk), source.asSlice(0, length));
            source.fill((byte) 0);
            java.util.Arrays.fill(plain, (byte) 0);
            if (result < 0 && result != -Userfaultfd.EEXIST) {
                exit("failed filling chunk " + chunk + ": " + Libc.strerror(-result));
            }
            states.set((int) chunk, FILLED);
        }
    }

    private long chunkAt(long address) {
        for (Region region : plan.regions()) {
            if (address >= region.host() && address - region.host() < region.size()) {
                return region.firstChunk() + (address - region.host()) / SealedMemoryImage.CHUNK;
            }
        }
        return -1;
    }

    private Region regionOf(long chunk) {
        for (Region region : plan.regions()) {
            if (chunk >= region.firstChunk() && chunk < region.firstChunk() + region.chunks()) {
                return region;
            }
        }
        throw new IllegalArgumentException("chunk " + chunk);
    }

    private long hostAddress(long chunk) {
        Region region = regionOf(chunk);
        return region.host() + (chunk - region.firstChunk()) * SealedMemoryImage.CHUNK;
    }

    private int chunkLength(long chunk) {
        Region region = regionOf(chunk);
        long offset = (chunk - region.firstChunk()) * SealedMemoryImage.CHUNK;
        return (int) Math.min(SealedMemoryImage.CHUNK, region.size() - offset);
    }

    private static Opened readPlan() throws IOException, SealException {
        byte[] length = readExactly(4);
        int size = java.nio.ByteBuffer.wrap(length).getInt();
        if (size <= 0 || size > MAX_PLAN) {
            throw new IOException("a plan of " + size + " bytes");
        }
        DataInputStream in = new DataInputStream(new ByteArrayInputStream(readExactly(size)));
        Path file = Path.of(in.readUTF());
        UUID id = new UUID(in.readLong(), in.readLong());
        byte[] key = in.readNBytes(SealingTpm.KEY_BYTES);
        int count = in.readInt();
        if (count <= 0 || count > 8) {
            throw new IOException(count + " regions");
        }
        List<io.vmguard.memory.GuestMemory.Range> layout = new ArrayList<>();
        List<Region> regions = new ArrayList<>();
        long chunk = 0;
        for (int i = 0; i < count; i++) {
            long start = in.readLong();
            long size2 = in.readLong();
            long host = in.readLong();
            layout.add(new io.vmguard.memory.GuestMemory.Range(start, size2));
            regions.add(new Region(chunk, size2, host));
            chunk += (size2 + SealedMemoryImage.CHUNK - 1) / SealedMemoryImage.CHUNK;
        }
        String what = "sealed memory file " + file;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            SealedMemoryImage.Opened sealed = SealedMemoryImage.open(channel, layout, id, key, what);
            return new Opened(file, sealed, key, sealed.headerDigest(), List.copyOf(regions));
        }
    }

    private static byte[] readExactly(int count) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(count);
            Libc.CallState state = new Libc.CallState(arena);
            long at = 0;
            while (at < count) {
                long n = Libc.read(SOCKET, buffer.asSlice(at), state);
                if (n == -Libc.EINTR) {
                    continue;
                }
                if (n <= 0) {
                    throw new IOException("the VMM closed the socket before the plan was complete");
                }
                at += n;
            }
            return buffer.toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** Blocks until the VMM closes the socket. */
    private static void waitForEnd() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(64);
            Libc.CallState state = new Libc.CallState(arena);
            long n;
            do {
                n = Libc.read(SOCKET, buffer, state);
            } while (n > 0 || n == -Libc.EINTR);
        }
    }

    /** One line to the VMM; the socket is the only channel it reads. */
    private static synchronized void report(String line) {
        byte[] bytes = (line.replace('\n', ' ') + "\n").getBytes(StandardCharsets.UTF_8);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocateFrom(ValueLayout.JAVA_BYTE, bytes);
            Libc.CallState state = new Libc.CallState(arena);
            long at = 0;
            while (at < bytes.length) {
                long n = Libc.write(SOCKET, buffer.asSlice(at), state);
                if (n <= 0 && n != -Libc.EINTR) {
                    return; // the VMM is gone
                }
                at += Math.max(n, 0);
            }
        }
    }

    /** Reports {@code line} and ends the helper at once: no fault is answered after a failure. */
    private static void exit(String line) {
        report(line);
        Runtime.getRuntime().halt(1);
    }
}
