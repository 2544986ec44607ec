package io.vmguard.seal;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.memory.MemoryRegion;
import io.vmguard.memory.TouchedPages;
import io.vmguard.snapshot.Phases;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Guest memory as a sealed snapshot memory file. Guest RAM is cut into {@link #CHUNK}-byte chunks,
 * numbered across the regions; a chunk with any non-zero byte is encrypted (AES-256-GCM, {@link ChunkCipher})
 * into its own fixed slot of {@code CHUNK + 16} bytes, and an all-zero chunk is left a hole, so the file stays
 * as sparse as the guest. Which chunks are present is itself a sealed piece: zeroing a slot, or moving one,
 * fails authentication rather than handing the guest zeros or another chunk's bytes.
 *
 * <pre>
 * u32 header length | header ({@link SealedHeader} "VMGSEAL1": id, sealed key, layout: u32 chunk size,
 * u32 region count, (u64 start, u64 size) per region) | u32 length | the present-chunk bitmap, sealed |
 * zero padding to a 4 KiB boundary | slot 0 | slot 1 | ...
 * </pre>
 *
 * A sealed snapshot cannot be mapped as it stands: a restore either decrypts every present chunk up front
 * into fresh guest RAM (anonymous or secret), or lets the guest run at once while a helper process fills
 * chunks on first touch and in the background ({@link RestoreMode}, {@link PostCopyRestore}).
 */
public final class SealedMemoryImage {
    static final String MAGIC = "VMGSEAL1";
    public static final int CHUNK = 64 * 1024;
    static final int SLOT = CHUNK + ChunkCipher.TAG_BYTES;
    private static final int PAGE = 4096;
    private static final int MAX_REGIONS = 8;
    private static final MemorySegment ZEROS = Arena.global().allocate(CHUNK);

    private SealedMemoryImage() {}

    /**
     * Links libcrypto's AES-GCM (its downcalls are bound on first use) and loads JCA's (the fallback, and the
     * state file's cipher), running each over a few chunks, so a server's first sealed snapshot or restore does
     * not pay for it. Never throws.
     */
    public static void warmUp() {
        try (Arena arena = Arena.ofConfined()) {
            byte[] key = new byte[SealingTpm.KEY_BYTES];
            ChunkCipher cipher = new ChunkCipher(key, new byte[32]);
            byte[] plain = new byte[CHUNK];
            byte[] sealed = new byte[SLOT];
            MemorySegment nativePlain = arena.allocate(CHUNK);
            MemorySegment nativeSealed = arena.allocate(SLOT);
            try (SegmentCipher segments = SegmentCipher.open(key, new byte[32])) {
                for (int i = 0; i < 16; i++) {
                    cipher.encrypt(i, plain, CHUNK, sealed);
                    cipher.decrypt(i, sealed, CHUNK, plain);
                    segments.encrypt(i, nativePlain, CHUNK, nativeSealed);
                    segments.decrypt(i, nativeSealed, CHUNK, nativePlain);
                }
            }
        } catch (RuntimeException e) {
            // Only time is lost.
        }
    }

    /** Whether {@code file} starts as a sealed memory file. */
    public static boolean isSealed(Path file) {
        try (var in = Files.newInputStream(file)) {
            byte[] start = in.readNBytes(4 + SealedHeader.MAGIC_BYTES);
            return start.length == 4 + SealedHeader.MAGIC_BYTES
                    && SealedHeader.startsWith(java.util.Arrays.copyOfRange(start, 4, start.length), MAGIC);
        } catch (IOException e) {
            return false;
        }
    }

    /** Writes {@code memory} sealed with {@code key} (sealed as {@code sealedKey}); returns the plain bytes encrypted. */
    public static long write(GuestMemory memory, Path file, UUID id, byte[] key, SealedKey sealedKey) throws IOException {
        return write(memory, file, id, key, sealedKey, ChunkPass.defaultThreads());
    }

    /**
     * As {@link #write(GuestMemory, Path, UUID, byte[], SealedKey)}, on {@code threads} threads: each encrypts the
     * chunks it claims ({@link SegmentCipher}: libcrypto straight from guest RAM where it loads) and writes them to
     * their slots itself, so on several cores one thread's write overlaps another's encryption.
     */
    public static long write(GuestMemory memory, Path file, UUID id, byte[] key, SealedKey sealedKey, int threads)
            throws IOException {
        List<GuestMemory.Range> layout = memory.regions().stream().map(r -> new GuestMemory.Range(r.start(), r.size())).toList();
        SealedHeader header = new SealedHeader(MAGIC, id, sealedKey, layoutBytes(layout));
        long chunks = chunkCount(layout);
        BitSet present = new BitSet();
        long dataStart = dataStart(header.bytes().length, chunks);
        AtomicLong written = new AtomicLong();
        Phases phases = Phases.current();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            try {
                ChunkPass.run(memory, threads, () -> new Encrypting(memory.anonymous(), key, header.digest(), channel, dataStart,
                        present, written, phases));
            } catch (SealException e) {
                throw new IllegalStateException("a save has nothing to authenticate", e);
            }
            long t0 = System.nanoTime();
            byte[] headerBytes = header.bytes();
            byte[] presentSealed = new ChunkCipher(key, header.digest()).encrypt(ChunkCipher.INDEX_PRESENT,
                    java.util.Arrays.copyOf(present.toByteArray(), (int) ((chunks + 7) / 8)));
            ByteBuffer front = ByteBuffer.allocate(4 + headerBytes.length + 4 + presentSealed.length)
                    .putInt(headerBytes.length).put(headerBytes).putInt(presentSealed.length).put(presentSealed).flip();
            writeFully(channel, front, 0);
            Phases.add(phases, "save.header", System.nanoTime() - t0);
        }
        try (var sized = new java.io.RandomAccessFile(file.toFile(), "rw")) {
            sized.setLength(dataStart + chunks * SLOT); // trailing holes, not written
        }
        long t1 = System.nanoTime();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
            channel.force(true);
        }
        Phases.add(phases, "save.fsync", System.nanoTime() - t1);
        return written.get();
    }

    /** One thread's share of a sealed save: skips untouched and all-zero chunks, encrypts and writes the others. */
    private static final class Encrypting implements ChunkPass.Worker {
        private final Arena arena = Arena.ofConfined();
        private final MemorySegment slot = arena.allocate(SLOT, PAGE);
        private final SegmentCipher cipher;
        private final TouchedPages touched;
        private final FileChannel channel;
        private final long dataStart;
        private final BitSet present;
        private final BitSet mine = new BitSet();
        private final AtomicLong written;
        private final Phases phases;
        private long bytes;
        private long scanNanos;
        private long encryptNanos;
        private long writeNanos;

        Encrypting(boolean anonymous, byte[] key, byte[] headerDigest, FileChannel channel, long dataStart, BitSet present,
                   AtomicLong written, Phases phases) {
            this.cipher = SegmentCipher.open(key, headerDigest);
            this.touched = anonymous ? TouchedPages.open(CHUNK / TouchedPages.PAGE) : null;
            this.channel = channel;
            this.dataStart = dataStart;
            this.present = present;
            this.written = written;
            this.phases = phases;
        }

        @Override
        public void chunk(int index, MemorySegment ram) throws IOException {
            long t0 = System.nanoTime();
            int length = (int) ram.byteSize();
            boolean skip = (touched != null && !touched.anyTouched(ram)) || MemorySegment.mismatch(ram, 0, length, ZEROS, 0, length) < 0;
            long t1 = System.nanoTime();
            scanNanos += t1 - t0;
            if (skip) {
                return;
            }
            cipher.encrypt(index, ram, length, slot);
            long t2 = System.nanoTime();
            writeFully(channel, slot.asSlice(0, length + ChunkCipher.TAG_BYTES).asByteBuffer(), dataStart + (long) index * SLOT);
            writeNanos += System.nanoTime() - t2;
            encryptNanos += t2 - t1;
            mine.set(index);
            bytes += length;
        }

        @Override
        public void close() {
            synchronized (present) {
                present.or(mine);
            }
            written.addAndGet(bytes);
            Phases.add(phases, "save.scan", scanNanos);
            Phases.add(phases, "save.encrypt", encryptNanos);
            Phases.add(phases, "save.write", writeNanos);
            slot.fill((byte) 0);
            cipher.close();
            if (touched != null) {
                touched.close();
            }
            arena.close();
        }
    }

    /**
     * Keeps a decrypting helper started ahead of the next lazy restore into {@code backend} memory (a server),
     * where restores here can be lazy ({@link PostCopyHelper#keepStandby}).
     */
    public static void keepHelperOnStandby(MemoryBackend backend) {
        if (RestoreMode.forced().orElse(RestoreMode.LAZY) == RestoreMode.LAZY && PostCopyHelper.unavailableFor(backend) == null) {
            PostCopyHelper.keepStandby();
        }
    }

    /**
     * Starts the decrypting helper of a lazy restore of {@code file} ahead of time, so its JVM starts while
     * the caller unseals the key and reads the state file; empty when this restore decrypts up front
     * ({@link #chooseMode}) or a lazy one cannot work (said once on stderr). Pass it to
     * {@link #read(Path, List, UUID, byte[], MemoryBackend, Optional)}, or close it.
     */
    public static Optional<PostCopyHelper> prestart(Path file, MemoryBackend backend) {
        if (chooseMode(file, backend) != RestoreMode.LAZY) {
            return Optional.empty();
        }
        String unavailable = PostCopyHelper.unavailableFor(backend);
        if (unavailable == null) {
            try {
                return Optional.of(PostCopyHelper.spawn(file));
            } catch (NativeException e) {
                unavailable = e.getMessage();
            }
        }
        RestoreMode.fellBack(unavailable);
        return Optional.empty();
    }

    /**
     * Decrypts a sealed memory file into fresh guest RAM from {@code backend}: the header must name snapshot
     * {@code id} and {@code layout}, and the header and chunk table must pass their authentication with
     * {@code key}; any failure leaves nothing allocated and says which in one line. With {@code helper} the
     * chunks arrive after this returns, on demand and in the background ({@link PostCopyRestore}); without,
     * all before it returns. The helper is used or closed.
     */
    public static GuestMemory read(Path file, List<GuestMemory.Range> layout, UUID id, byte[] key, MemoryBackend backend,
                                   Optional<PostCopyHelper> helper) throws SealException {
        String what = "sealed memory file " + file;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long t0 = System.nanoTime();
            Opened opened = open(channel, layout, id, key, what);
            long t1 = System.nanoTime();
            Phases.since("restore.authenticate_table", t0);
            GuestMemory memory = GuestMemory.allocate(layout, backend);
            Phases.since("restore.allocate", t1);
            if (helper.isPresent()) {
                try {
                    long t2 = System.nanoTime();
                    memory.fillLazily(PostCopyRestore.start(helper.get(), opened, key, memory));
                    Phases.since("restore.uffd_register_and_hand_over", t2);
                    return memory;
                } catch (NativeException | IOException e) {
                    RestoreMode.fellBack(e.getMessage()); // the memory is untouched still: decrypt it here
                }
            }
            try {
                decryptChunks(channel, memory, opened, key, what);
            } catch (SealException | IOException | RuntimeException e) {
                memory.close();
                throw e;
            }
            return memory;
        } catch (IOException e) {
            throw new SealException("cannot read " + what + ": " + e.getMessage(), e);
        } catch (NativeException e) {
            throw new SealException("cannot allocate guest memory for " + what + ": " + e.getMessage(), e);
        } finally {
            helper.ifPresent(PostCopyHelper::close); // a no-op once handed over
        }
    }

    /** As {@link #read(Path, List, UUID, byte[], MemoryBackend, Optional)}, lazily or up front as {@code mode} says. */
    public static GuestMemory read(Path file, List<GuestMemory.Range> layout, UUID id, byte[] key, MemoryBackend backend,
                                   RestoreMode mode) throws SealException {
        Optional<PostCopyHelper> helper = Optional.empty();
        if (mode == RestoreMode.LAZY) {
            String unavailable = PostCopyHelper.unavailableFor(backend);
            if (unavailable == null) {
                try {
                    helper = Optional.of(PostCopyHelper.spawn(file));
                } catch (NativeException e) {
                    unavailable = e.getMessage();
                }
            }
            if (unavailable != null) {
                RestoreMode.fellBack(unavailable);
            }
        }
        return read(file, layout, id, key, backend, helper);
    }

    /** As {@link #read(Path, List, UUID, byte[], MemoryBackend, RestoreMode)} in the mode {@link #chooseMode} picks. */
    public static GuestMemory read(Path file, List<GuestMemory.Range> layout, UUID id, byte[] key, MemoryBackend backend)
            throws SealException {
        return read(file, layout, id, key, backend, chooseMode(file, backend));
    }

    /**
     * How a restore of {@code file} into {@code backend} memory goes: as the operator forced it
     * ({@link RestoreMode#forced}), else up front where a lazy restore cannot fill that memory (secret memory) or
     * the file holds few chunks ({@link RestoreMode#forPresentBytes}), lazy otherwise. Counted from the file's
     * blocks on disk before its key is unsealed, so the helper of a lazy restore can start at once; a file that lies about
     * its holes changes only how quickly it restores (every chunk is authenticated either way).
     */
    public static RestoreMode chooseMode(Path file, MemoryBackend backend) {
        Optional<RestoreMode> forced = RestoreMode.forced();
        if (forced.isPresent()) {
            return forced.get();
        }
        if (PostCopyHelper.unavailableFor(backend) != null) {
            return RestoreMode.UP_FRONT;
        }
        long t0 = System.nanoTime();
        int threads = ChunkPass.defaultThreads();
        RestoreMode mode = RestoreMode.forPresentBytes(dataBytesUpTo(file, RestoreMode.lazyFrom(threads)), threads);
        Phases.since("restore.choose_mode", t0);
        return mode;
    }

    /**
     * The bytes of {@code file} on disk rather than in holes (its present chunks and its few KiB of front), at
     * most {@code limit}; {@code limit} when the file cannot be opened (it is then taken as dense: a lazy
     * restore's cost does not grow with the file). One fstat: the choice walking the holes instead
     * (SEEK_DATA/SEEK_HOLE) took 14-85 ms on this loaded host. A scattered slot (64 KiB + 16) spans 17 blocks,
     * so a file of scattered chunks counts at most 1/16 over.
     */
    static long dataBytesUpTo(Path file, long limit) {
        int fd;
        try {
            fd = Libc.open(file.toString(), Libc.O_CLOEXEC | Libc.O_NONBLOCK); // O_RDONLY is 0; a FIFO does not block
        } catch (NativeException e) {
            return limit;
        }
        try {
            return Math.min(Libc.allocatedBytes(fd), limit);
        } catch (NativeException e) {
            return limit;
        } finally {
            Libc.close(fd);
        }
    }

    /** A sealed memory file whose header and chunk table passed: how to find and open each chunk. */
    record Opened(ChunkCipher cipher, byte[] headerDigest, BitSet present, long dataStart, long chunks) {
        long slotPosition(long index) {
            return dataStart + index * SLOT;
        }
    }

    /** Reads and authenticates the header and chunk table of {@code channel}'s file; one line if anything is off. */
    static Opened open(FileChannel channel, List<GuestMemory.Range> layout, UUID id, byte[] key, String what)
            throws IOException, SealException {
        ByteBuffer lengthField = ByteBuffer.allocate(4);
        SealedFileReads.readFully(channel, lengthField, 0, what);
        int headerLength = lengthField.getInt(0);
        if (headerLength < 0 || headerLength > 8192) {
            throw new SealException(what + " has a header of " + Integer.toUnsignedString(headerLength) + " bytes");
        }
        ByteBuffer headerBuffer = ByteBuffer.allocate(headerLength + 4);
        SealedFileReads.readFully(channel, headerBuffer, 4, what);
        SealedHeader header = SealedHeader.read(new DataInputStream(new ByteArrayInputStream(headerBuffer.array(), 0, headerLength)),
                MAGIC, what);
        if (!header.id().equals(id)) {
            throw new SealException(what + " belongs to another snapshot (its id differs)");
        }
        if (!java.util.Arrays.equals(header.layout(), layoutBytes(layout))) {
            throw new SealException(what + " describes another memory layout than its state file");
        }
        ChunkCipher cipher = new ChunkCipher(key, header.digest());
        long chunks = chunkCount(layout);
        int presentLength = headerBuffer.getInt(headerLength);
        if (presentLength != (chunks + 7) / 8 + ChunkCipher.TAG_BYTES) {
            throw new SealException(what + " has a chunk table of " + presentLength + " bytes; its layout needs "
                    + ((chunks + 7) / 8 + ChunkCipher.TAG_BYTES));
        }
        ByteBuffer presentSealed = ByteBuffer.allocate(presentLength);
        SealedFileReads.readFully(channel, presentSealed, 4 + headerLength + 4, what);
        byte[] presentBytes = cipher.decrypt(ChunkCipher.INDEX_PRESENT, presentSealed.array());
        if (presentBytes == null) {
            throw new SealException(what + " fails authentication (modified, or sealed with another key)");
        }
        long dataStart = dataStart(headerLength, chunks);
        if (channel.size() != dataStart + chunks * SLOT) {
            throw new SealException(what + " is " + channel.size() + " bytes; its layout needs " + (dataStart + chunks * SLOT));
        }
        return new Opened(cipher, header.digest(), BitSet.valueOf(presentBytes), dataStart, chunks);
    }

    /**
     * Reads and decrypts chunk {@code index} ({@code length} plain bytes) into {@code plain}, using {@code slot}
     * for the sealed bytes; throws naming the chunk when it fails its authentication.
     */
    static void decryptChunk(FileChannel channel, Opened opened, ChunkCipher cipher, long index, int length, byte[] slot,
                             byte[] plain, String what) throws IOException, SealException {
        SealedFileReads.readFully(channel, ByteBuffer.wrap(slot, 0, length + ChunkCipher.TAG_BYTES), opened.slotPosition(index), what);
        if (!cipher.decrypt(index, slot, length, plain)) {
            throw new SealException(what + " was modified: chunk " + index + " fails its authentication");
        }
    }

    /**
     * Decrypts every present chunk into {@code memory} before the guest runs, on several threads (each reads the
     * slots it claims into a buffer of its own and decrypts straight into guest RAM); any chunk that fails its
     * tag fails the whole restore.
     */
    private static void decryptChunks(FileChannel channel, GuestMemory memory, Opened opened, byte[] key, String what)
            throws IOException, SealException {
        Phases phases = Phases.current();
        long t0 = System.nanoTime();
        ChunkPass.run(memory, ChunkPass.defaultThreads(), () -> new ChunkPass.Worker() {
            private final Arena arena = Arena.ofConfined();
            private final MemorySegment slot = arena.allocate(SLOT, PAGE);
            private final SegmentCipher cipher = SegmentCipher.open(key, opened.headerDigest());

            @Override
            public void chunk(int index, MemorySegment ram) throws IOException, SealException {
                if (!opened.present().get(index)) {
                    return; // a hole: the fresh memory is already zero
                }
                int length = (int) ram.byteSize();
                SealedFileReads.readFully(channel, slot.asSlice(0, length + ChunkCipher.TAG_BYTES).asByteBuffer(),
                        opened.slotPosition(index), what);
                if (!cipher.decrypt(index, slot, length, ram)) {
                    throw new SealException(what + " was modified: chunk " + index + " fails its authentication");
                }
            }

            @Override
            public void close() {
                slot.fill((byte) 0);
                cipher.close();
                arena.close();
            }
        });
        Phases.add(phases, "restore.decrypt_up_front", System.nanoTime() - t0);
    }

    private static byte[] layoutBytes(List<GuestMemory.Range> layout) {
        if (layout.size() > MAX_REGIONS) {
            throw new IllegalArgumentException(layout.size() + " memory regions");
        }
        ByteBuffer out = ByteBuffer.allocate(8 + 16 * layout.size()).putInt(CHUNK).putInt(layout.size());
        for (GuestMemory.Range range : layout) {
            out.putLong(range.start()).putLong(range.size());
        }
        return out.array();
    }

    private static long chunkCount(List<GuestMemory.Range> layout) {
        long chunks = 0;
        for (GuestMemory.Range range : layout) {
            chunks += (range.size() + CHUNK - 1) / CHUNK;
        }
        if (chunks > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("guest memory too large to seal");
        }
        return chunks;
    }

    private static long dataStart(int headerLength, long chunks) {
        long front = 4 + headerLength + 4 + (chunks + 7) / 8 + ChunkCipher.TAG_BYTES;
        return (front + PAGE - 1) / PAGE * PAGE;
    }

    private static void writeFully(FileChannel channel, ByteBuffer buffer, long position) throws IOException {
        long at = position;
        while (buffer.hasRemaining()) {
            at += channel.write(buffer, at);
        }
    }
}
