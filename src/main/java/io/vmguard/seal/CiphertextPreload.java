package io.vmguard.seal;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryBackend;
import io.vmguard.snapshot.Phases;
import io.vmguard.sys.Libc;
import io.vmguard.sys.NativeException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;

/**
 * The key-independent half of an up-front restore of a sealed memory file, started before its key is unsealed
 * so that it runs while the owner's TPM answers: fresh guest RAM for the layout the file's header names, and
 * the ciphertext of every chunk the file has on disk read straight into its place in that RAM (its tag into a
 * table beside it), faulting the pages in as it goes. Nothing here is trusted: which chunks are present comes
 * from the file's data ranges, not from its sealed chunk table, and the header is not authenticated yet; once the
 * key is there {@link SealedMemoryImage#read(Path, List, java.util.UUID, byte[], CiphertextPreload)} checks the
 * header and the table, decrypts each chunk in place against its tag, reads what the walk missed and zeroes
 * what they claimed wrongly. Once the key is there the preload stops where it is, and the decryption on every
 * core reads what it had not reached. Any trouble here only means the restore does that work itself after the unseal.
 */
public final class CiphertextPreload implements AutoCloseable {
    /**
     * Stop walking the file's data ranges beyond this many (a guest whose present chunks alternate with holes has
     * one per chunk): what the walk did not reach is read after the unseal.
     */
    private static final int MAX_DATA_RANGES = 1 << 16;

    /**
     * The most guest RAM a preload maps on the word of a header nobody has authenticated yet (its chunk list and
     * tag table grow with it: 4 MiB of tags here); a larger file is read after the unseal, as before.
     */
    static final long MAX_PRELOAD_BYTES = 16L << 30;

    private final FutureTask<Loaded> task;
    /**
     * Set when the key is there (the restore's decryption on every core reads whatever is left: the preload
     * runs on fewer threads) or the restore failed before it: the preload's threads read no further chunk.
     */
    private volatile boolean stop;
    private boolean taken;

    /** What the preload read: the memory (the caller's once taken), and what it assumed about the file. */
    record Loaded(GuestMemory memory, byte[] headerDigest, List<GuestMemory.Range> layout, BitSet read, MemorySegment tags,
                  Arena tagsArena) {
        void closeTags() {
            tags.fill((byte) 0);
            tagsArena.close();
        }
    }

    private CiphertextPreload(Path file, MemoryBackend backend, Phases phases) {
        this.task = new FutureTask<>(() -> load(file, backend, phases, () -> stop));
        Thread.ofPlatform().name("vmguard-seal-preload").daemon().start(task);
    }

    /** Starts reading {@code file}'s ciphertext into fresh {@code backend} memory on a thread of its own (and helpers). */
    public static CiphertextPreload start(Path file, MemoryBackend backend) {
        return new CiphertextPreload(file, backend, Phases.current());
    }

    /** Whether the preload has ended (tests). */
    boolean isDone() {
        return task.isDone();
    }

    /**
     * Stops the preload at the chunk it is reading and returns what it read so far; null when it failed (the
     * restore then reads the file itself). The memory is the caller's.
     */
    Loaded take() {
        taken = true;
        stop = true;
        try {
            return awaitTask();
        } catch (ExecutionException e) {
            return null;
        }
    }

    private Loaded awaitTask() throws ExecutionException {
        boolean interrupted = false;
        try {
            while (true) {
                try {
                    return task.get(); // the preload touches guest RAM: never leave it running
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Waits for the preload and frees what it read, unless {@link #take} handed it over. */
    @Override
    public void close() {
        if (taken) {
            return;
        }
        taken = true;
        stop = true;
        try {
            Loaded loaded = awaitTask();
            loaded.memory().close();
            loaded.closeTags();
        } catch (ExecutionException e) {
            // Nothing was left allocated.
        }
    }

    private static Loaded load(Path file, MemoryBackend backend, Phases phases, java.util.function.BooleanSupplier stop)
            throws IOException, SealException, NativeException {
        long t0 = System.nanoTime();
        String what = "sealed memory file " + file;
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            SealedMemoryImage.Front front = SealedMemoryImage.readFront(channel, what);
            List<GuestMemory.Range> layout = front.layout(what);
            if (layout.stream().mapToLong(GuestMemory.Range::size).sum() > MAX_PRELOAD_BYTES) {
                throw new SealException(what + " names more memory than a preload takes on trust");
            }
            long chunks = SealedMemoryImage.chunkCount(layout);
            long dataStart = SealedMemoryImage.dataStart(front.headerLength(), chunks);
            if (channel.size() != dataStart + chunks * SealedMemoryImage.SLOT) {
                throw new SealException(what + " does not match its layout");
            }
            BitSet onDisk = chunksOnDisk(file, dataStart, chunks);
            Phases.add(phases, "restore.preload_data_ranges", System.nanoTime() - t0);
            GuestMemory memory = GuestMemory.allocate(layout, backend);
            Arena tagsArena = Arena.ofShared();
            BitSet read = new BitSet();
            try {
                MemorySegment tags = tagsArena.allocate(chunks * ChunkCipher.TAG_BYTES);
                ChunkPass.run(memory, threads(), () -> new ChunkPass.Worker() {
                    private final BitSet mine = new BitSet();

                    @Override
                    public void chunk(int index, MemorySegment ram) throws IOException, SealException {
                        if (!onDisk.get(index) || stop.getAsBoolean()) {
                            return;
                        }
                        long slot = dataStart + (long) index * SealedMemoryImage.SLOT;
                        SealedFileReads.readFully(channel, ram.asByteBuffer(), slot, what);
                        SealedFileReads.readFully(channel, tags.asSlice((long) index * ChunkCipher.TAG_BYTES, ChunkCipher.TAG_BYTES)
                                .asByteBuffer(), slot + ram.byteSize(), what);
                        mine.set(index);
                    }

                    @Override
                    public void close() {
                        synchronized (read) {
                            read.or(mine);
                        }
                    }
                });
                Phases.add(phases, "restore.preload_ciphertext", System.nanoTime() - t0);
                return new Loaded(memory, front.header().digest(), layout, read, tags, tagsArena);
            } catch (IOException | SealException | RuntimeException e) {
                memory.close();
                tagsArena.close();
                throw e;
            }
        }
    }

    /**
     * One thread fewer than a pass's default, at least one: the owner's swtpm works on the key meanwhile (its
     * session's ECDH, the unseal), and a preload on every core of a 2-core host slowed the unseal 2-4x under load
     * (bench-snapshot, 2026-12-05 12:08 UTC) for less than it gained.
     */
    static int threads() {
        return Math.max(1, ChunkPass.defaultThreads() - 1);
    }

    /**
     * The chunks whose slot's middle byte lies in one of {@code file}'s data ranges (lseek's SEEK_DATA and
     * SEEK_HOLE): a present chunk's slot is written whole, an absent one's middle is inside a hole (a slot spans 17
     * blocks; only its ends can share a block with a neighbour's). A file system that reports no holes makes every
     * chunk look present: the restore then checks each against the table and zeroes the absent ones.
     */
    static BitSet chunksOnDisk(Path file, long dataStart, long chunks) throws NativeException {
        BitSet onDisk = new BitSet();
        long end = dataStart + chunks * SealedMemoryImage.SLOT;
        int fd = Libc.open(file.toString(), Libc.O_CLOEXEC | Libc.O_NONBLOCK);
        try {
            long from = dataStart;
            for (int range = 0; range < MAX_DATA_RANGES && from < end; range++) {
                long data = Libc.lseek(fd, from, Libc.SEEK_DATA);
                if (data < 0 || data >= end) {
                    break;
                }
                long hole = Math.min(end, Libc.lseek(fd, data, Libc.SEEK_HOLE));
                markMiddles(onDisk, dataStart, chunks, data, hole);
                from = hole;
            }
        } finally {
            Libc.close(fd);
        }
        return onDisk;
    }

    /** Sets the chunks whose slot's middle byte lies in {@code [start, end)}. */
    static void markMiddles(BitSet onDisk, long dataStart, long chunks, long start, long end) {
        long middle = dataStart + SealedMemoryImage.CHUNK / 2;
        long first = Math.max(0, Math.ceilDiv(start - middle, (long) SealedMemoryImage.SLOT));
        long last = Math.min(chunks - 1, Math.floorDiv(end - 1 - middle, (long) SealedMemoryImage.SLOT));
        if (first <= last) {
            onDisk.set((int) first, (int) last + 1);
        }
    }
}
