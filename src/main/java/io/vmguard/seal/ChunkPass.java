package io.vmguard.seal;

import io.vmguard.memory.GuestMemory;
import io.vmguard.memory.MemoryRegion;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One pass over guest RAM's {@link SealedMemoryImage#CHUNK}-byte chunks (numbered across the regions) on
 * several threads: a sealed save encrypts and writes them, an up-front restore reads and decrypts them. Each
 * thread claims the next unclaimed chunk, so a thread the host's scheduler slows down does less of the work
 * rather than holding up the end, and one thread's write overlaps another's encryption. Each thread has its
 * own {@link Worker}, made on that thread (its buffers and its cipher are confined to it). The first failure
 * stops every thread and is rethrown to the caller.
 */
final class ChunkPass {
    /** The most threads a pass uses: beyond that AES-GCM outruns the page cache's writes and reads. */
    static final int MAX_THREADS = 4;

    /** One thread's share of a pass. */
    interface Worker extends AutoCloseable {
        /** Handles chunk {@code index}, whose plain bytes are {@code ram} (a slice of guest RAM). */
        void chunk(int index, MemorySegment ram) throws IOException, SealException;

        /** Called on the worker's thread once its share is done (or the pass failed). */
        @Override
        void close();
    }

    /** Makes one thread's worker, on that thread. */
    @FunctionalInterface
    interface Workers {
        Worker open() throws IOException;
    }

    private ChunkPass() {}

    /** The threads a pass uses by default: one per core, at most {@link #MAX_THREADS}. */
    static int defaultThreads() {
        return Math.clamp(Runtime.getRuntime().availableProcessors(), 1, MAX_THREADS);
    }

    /** The slices of guest RAM, one per chunk, in index order. */
    static List<MemorySegment> chunks(GuestMemory memory) {
        List<MemorySegment> chunks = new ArrayList<>();
        for (MemoryRegion region : memory.regions()) {
            MemorySegment backing = region.backing();
            for (long offset = 0; offset < backing.byteSize(); offset += SealedMemoryImage.CHUNK) {
                chunks.add(backing.asSlice(offset, Math.min(SealedMemoryImage.CHUNK, backing.byteSize() - offset)));
            }
        }
        return chunks;
    }

    /** Runs {@code workers} over every chunk of {@code memory} on {@code threads} threads (the caller's one of them). */
    static void run(GuestMemory memory, int threads, Workers workers) throws IOException, SealException {
        List<MemorySegment> chunks = chunks(memory);
        AtomicInteger next = new AtomicInteger();
        Failure failure = new Failure();
        Runnable share = () -> {
            try (Worker worker = workers.open()) {
                for (int index = next.getAndIncrement(); index < chunks.size() && !failure.happened();
                     index = next.getAndIncrement()) {
                    worker.chunk(index, chunks.get(index));
                }
            } catch (IOException | SealException | RuntimeException e) {
                failure.set(e);
            }
        };
        List<Thread> helpers = new ArrayList<>();
        for (int i = 1; i < Math.clamp(threads, 1, MAX_THREADS); i++) {
            helpers.add(Thread.ofPlatform().name("vmguard-seal-" + i).daemon().start(share));
        }
        share.run();
        boolean interrupted = false;
        for (Thread helper : helpers) {
            while (true) {
                try {
                    helper.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // the helpers touch guest RAM and the file: never leave them running
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        failure.rethrow();
    }

    /** The first thing that went wrong on any thread. */
    private static final class Failure {
        private Exception first;

        synchronized boolean happened() {
            return first != null;
        }

        synchronized void set(Exception e) {
            if (first == null) {
                first = e;
            }
        }

        synchronized void rethrow() throws IOException, SealException {
            switch (first) {
                case null -> {}
                case IOException e -> throw e;
                case SealException e -> throw e;
                case RuntimeException e -> throw e;
                default -> throw new IllegalStateException(first);
            }
        }
    }
}
