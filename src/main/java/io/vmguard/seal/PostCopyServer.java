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
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The helper process of a lazy sealed restore ({@link PostCopyHelper} starts it): descriptor 3 is its
 * socket to the VMM, 4 the VMM's userfaultfd, 5 the sealed memory file as the VMM opened it (for a helper
 * started on standby, /dev/null: it opens the file by the name its work gives, and goes on only if that is
 * the device and inode the VMM authenticated). It waits for
 * its work (the file's authenticated header digest and chunk table, the data key, where each region lives
 * in the VMM), then answers faults on one thread while another decrypts every chunk in order. Each chunk
 * is filled exactly once, whole, by whichever thread claims it first, and is authenticated before any of
 * it is filled. It reports "resident ..." when guest memory is complete and ends when the VMM closes the
 * socket; a chunk that fails authentication is reported ("failed ...") and the helper ends at once,
 * filling nothing more.
 */
public final class PostCopyServer {
    private static final int SOCKET = 3;
    private static final int UFFD = 4;
    private static final Path INHERITED_FILE = Path.of("/proc/self/fd/5");
    private static final int MAX_PLAN = 1 << 20; // the chunk table of 64 GiB of RAM is 128 KiB
    private static final int MAX_REGIONS = 8;
    private static final int PENDING = 0, CLAIMED = 1, FILLED = 2;

    private final Plan plan;
    private final AtomicIntegerArray states;
    private final AtomicLong faulted = new AtomicLong();
    private final AtomicLong holes = new AtomicLong();
    private final Userfaultfd uffd = Userfaultfd.adopt(UFFD);

    /**
     * The work: the file's name, where to read it (the inherited descriptor, or the file opened by name and
     * checked), its authenticated layout, the key, and where its chunks go.
     */
    private record Plan(String name, Path file, SealedMemoryImage.Opened sealed, byte[] key, List<Region> regions) {
        String what() {
            return "sealed memory file " + name;
        }
    }

    /** One region of guest RAM: its first chunk's number, its size, and its address in the VMM. */
    private record Region(long firstChunk, long size, long host) {
        long chunks() {
            return (size + SealedMemoryImage.CHUNK - 1) / SealedMemoryImage.CHUNK;
        }
    }

    private PostCopyServer(Plan plan) {
        this.plan = plan;
        this.states = new AtomicIntegerArray((int) plan.sealed().chunks());
    }

    public static void main(String[] args) {
        try {
            Libc.prctl(Libc.PR_SET_PDEATHSIG, Libc.SIGKILL); // the VMM gone: nothing left to fill
            Libc.prctl(Libc.PR_SET_DUMPABLE, 0); // plaintext chunks and the key pass through here
        } catch (NativeException e) {
            exit("failed the decrypting helper cannot protect itself: " + e.getMessage());
        }
        Plan plan;
        try {
            plan = readPlan();
        } catch (IOException | RuntimeException e) {
            exit("failed the decrypting helper got no usable work: " + e.getMessage());
            return;
        }
        new PostCopyServer(plan).run();
    }

    private void run() {
        long start = System.nanoTime();
        Thread.ofPlatform().name("faults").daemon().start(this::answerFaults);
        long background = fillInOrder();
        report("resident faulted=" + faulted.get() + " background=" + background + " holes=" + holes.get()
                + " fill_ms=" + (System.nanoTime() - start) / 1_000_000);
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
            exit("failed cannot read " + plan.what() + ": " + e.getMessage());
        }
    }

    /** Fills every present chunk not yet claimed, in order; returns how many it filled. */
    private long fillInOrder() {
        long filled = 0;
        try (Arena arena = Arena.ofConfined(); FileChannel channel = FileChannel.open(plan.file(), StandardOpenOption.READ)) {
            Userfaultfd.Answerer answerer = uffd.answerer(arena);
            Filler filler = new Filler(arena, channel);
            BitSet present = plan.sealed().present();
            for (int chunk = present.nextSetBit(0); chunk >= 0; chunk = present.nextSetBit(chunk + 1)) {
                if (states.compareAndSet(chunk, PENDING, CLAIMED)) {
                    filler.fill(answerer, chunk);
                    filled++;
                }
            }
            // Chunks the fault thread claimed must be filled too before memory is complete.
            for (int chunk = present.nextSetBit(0); chunk >= 0; chunk = present.nextSetBit(chunk + 1)) {
                while (states.get(chunk) != FILLED) {
                    Thread.onSpinWait();
                }
            }
        } catch (IOException e) {
            exit("failed cannot read " + plan.what() + ": " + e.getMessage());
        }
        return filled;
    }

    /** One thread's buffers (the sealed slot, the plain chunk UFFDIO_COPY reads) and its AES-GCM. */
    private final class Filler {
        private final FileChannel channel;
        private final Optional<OpenSslGcm> openssl;
        private final ChunkCipher jca;
        private final MemorySegment sealed;
        private final MemorySegment source;
        private final byte[] slot;
        private final byte[] plain;

        Filler(Arena arena, FileChannel channel) {
            this.channel = channel;
            this.openssl = OpenSslGcm.open(plan.key(), plan.sealed().headerDigest());
            this.jca = openssl.isPresent() ? null : new ChunkCipher(plan.key(), plan.sealed().headerDigest());
            this.sealed = arena.allocate(SealedMemoryImage.SLOT, 4096);
            this.source = arena.allocate(SealedMemoryImage.CHUNK, 4096);
            this.slot = openssl.isPresent() ? null : new byte[SealedMemoryImage.SLOT];
            this.plain = openssl.isPresent() ? null : new byte[SealedMemoryImage.CHUNK];
        }

        void fill(Userfaultfd.Answerer answerer, long chunk) {
            int length = chunkLength(chunk);
            try {
                if (openssl.isPresent()) {
                    SealedFileReads.readFully(channel, sealed.asSlice(0, length + ChunkCipher.TAG_BYTES).asByteBuffer(),
                            plan.sealed().slotPosition(chunk), plan.what());
                    if (!openssl.get().decrypt(chunk, sealed, length, source)) {
                        throw new SealException(plan.what() + " was modified: chunk " + chunk + " fails its authentication");
                    }
                } else {
                    SealedMemoryImage.decryptChunk(channel, plan.sealed(), jca, chunk, length, slot, plain, plan.what());
                    MemorySegment.copy(plain, 0, source, ValueLayout.JAVA_BYTE, 0, length);
                    java.util.Arrays.fill(plain, (byte) 0);
                }
            } catch (IOException e) {
                exit("failed cannot read " + plan.what() + ": " + e.getMessage());
            } catch (SealException e) {
                exit("failed " + e.getMessage());
            }
            int result = answerer.copy(hostAddress(chunk), source.asSlice(0, length));
            source.fill((byte) 0);
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
        throw new IllegalArgumentException("chunk " + chunk + " is in no region");
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

    /** The VMM's plan, as {@link PostCopyRestore} writes it; checked for shape (the VMM is trusted, its bugs are not). */
    private static Plan readPlan() throws IOException {
        int size = java.nio.ByteBuffer.wrap(readExactly(4)).getInt();
        if (size <= 0 || size > MAX_PLAN) {
            throw new IOException("a plan of " + size + " bytes");
        }
        byte[] bytes = readExactly(size);
        try {
            DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes));
            String name = in.readUTF();
            Path file = in.readBoolean() ? openedByName(name, in.readLong(), in.readLong()) : INHERITED_FILE;
            byte[] headerDigest = in.readNBytes(in.readInt());
            long dataStart = in.readLong();
            long chunks = in.readLong();
            int presentLength = in.readInt();
            if (presentLength < 0 || presentLength > (chunks + 7) / 8) {
                throw new IOException("a chunk table of " + presentLength + " bytes for " + chunks + " chunks");
            }
            BitSet present = BitSet.valueOf(in.readNBytes(presentLength));
            byte[] key = in.readNBytes(SealingTpm.KEY_BYTES);
            int count = in.readInt();
            if (count <= 0 || count > MAX_REGIONS) {
                throw new IOException(count + " regions");
            }
            List<Region> regions = new ArrayList<>();
            long chunk = 0;
            for (int i = 0; i < count; i++) {
                Region region = new Region(chunk, in.readLong(), in.readLong());
                regions.add(region);
                chunk += region.chunks();
            }
            if (chunk != chunks || key.length != SealingTpm.KEY_BYTES) {
                throw new IOException("regions of " + chunk + " chunks for a file of " + chunks);
            }
            return new Plan(name, file, new SealedMemoryImage.Opened(null, headerDigest, present, dataStart, chunks), key, List.copyOf(regions));
        } finally {
            java.util.Arrays.fill(bytes, (byte) 0);
        }
    }

    /**
     * Opens {@code name} (a standby helper inherited no file) and returns a path to that open descriptor, if it
     * is the file the VMM authenticated: device {@code dev}, inode {@code ino}.
     */
    private static Path openedByName(String name, long dev, long ino) throws IOException {
        int fd;
        try {
            fd = Libc.open(name, 0); // O_RDONLY; kept open for the helper's life
        } catch (NativeException e) {
            throw new IOException("cannot open " + name + ": " + e.getMessage(), e);
        }
        Path opened = Path.of("/proc/self/fd/" + fd);
        long openedDev = ((Number) java.nio.file.Files.getAttribute(opened, "unix:dev")).longValue();
        long openedIno = ((Number) java.nio.file.Files.getAttribute(opened, "unix:ino")).longValue();
        if (openedDev != dev || openedIno != ino) {
            throw new IOException(name + " is no longer the file the VMM authenticated (it was replaced)");
        }
        return opened;
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
            byte[] bytes = buffer.toArray(ValueLayout.JAVA_BYTE);
            buffer.fill((byte) 0);
            return bytes;
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
